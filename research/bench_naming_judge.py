"""Judging through naming (issue 5 lever): name two disjoint halves of a cluster, score their agreement.

A cluster with one intent should get the same name from either half of its sentences; a
mixture should not. For each judge-eval test cluster (``dialin.measure.judge_sets``, same
construction and seed as ``dialin judge-eval``), the shown sentences are split into two
halves, the config's ``namer`` role names each half (the same call the loop makes), and
P(good) is the cosine between the two names' embeddings (words of the names, MiniLM). The
script prints AUC per group next to the embedding-only cohesion score on the same clusters,
with the namer calls, tokens and latency from the call log.

    .venv/bin/python research/bench_naming_judge.py ../shared/data/banking77/banking77.jsonl --split test \\
        --per-difficulty 20 [--config CONFIG] [--difficulties pure,hard_mix2,hard_intruder,real]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

import numpy as np

from dialin.config import load_config
from dialin.data import load_corpus
from dialin.agents.namer import name_sample
from dialin.embed import make_embedder
from dialin.measure.cost import call_totals
from dialin.measure.judge_eval import unique_labels
from dialin.measure.judge_sets import DIFFICULTIES, GROUPS, build_test_set
from dialin.llm.router import LLMRouter, run_sync
from dialin.measure.metrics import roc_auc
from dialin.llm.serve import local_base_urls
from dialin.store import Store
from dialin.tools.vectors import cohesion
from dialin.tools.sampling import sample as sample_fn


def _words(name: str) -> str:
    return name.replace("-", " ").replace("_", " ")


async def name_halves(router: LLMRouter, halves: list[tuple[list[str], list[str]]]) -> list[tuple[str, str]]:
    sem = asyncio.Semaphore(2)

    async def one(sentences: list[str]) -> str:
        async with sem:
            return await name_sample(router, sentences, stage="naming_judge")

    names = await asyncio.gather(*(one(s) for pair in halves for s in pair))
    return [(names[2 * i], names[2 * i + 1]) for i in range(len(halves))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data")
    ap.add_argument("--split", default=None)
    ap.add_argument("--label-col", default="label")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--per-difficulty", type=int, default=20)
    ap.add_argument("--difficulties", default="pure,hard_mix2,hard_intruder,real")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", default=None)
    ap.add_argument("--json", default=None, help="Also write the results (and every name pair) here.")
    args = ap.parse_args()
    config = load_config(args.config)
    store = Store(config.store_path())
    corpus = load_corpus(args.data, label_col=args.label_col, split=args.split, skip_blank=True)
    labels = unique_labels(corpus)
    embedder = make_embedder(config.embedder.model_copy(update={"progress": False}), store)
    X = embedder.encode(corpus.unique_texts)
    diffs = [d for d in args.difficulties.split(",") if d]
    tests, skipped = build_test_set(labels, X, n=args.n, per_difficulty=args.per_difficulty, seed=args.seed,
                                    difficulties=[d for d in DIFFICULTIES if d in diffs])
    rng = np.random.default_rng(args.seed)
    halves = []
    for t in tests:
        shown = list(t.members) if len(t.members) <= args.n else \
            list(sample_fn(X, t.members, n=args.n, strategy=config.method.sampling, seed=args.seed))
        order = rng.permutation(shown)
        h = len(order) // 2
        halves.append(([corpus.unique_texts[i] for i in order[:h]], [corpus.unique_texts[i] for i in order[h:]]))
    run_id = time.strftime("naming-judge-%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    router = LLMRouter(config, store, run_id=run_id, base_urls=local_base_urls(config))
    t0 = time.perf_counter()
    pairs = run_sync(name_halves(router, halves))
    wall = time.perf_counter() - t0
    A = embedder.encode([_words(a) for a, _ in pairs])
    B = embedder.encode([_words(b) for _, b in pairs])
    agree = np.sum(A * B, axis=1)
    same = np.array([a == b for a, b in pairs])
    coh = np.array([cohesion(X, list(t.members)) for t in tests])
    y = np.array([t.gold == "good" for t in tests])
    d = np.array([t.difficulty for t in tests])
    groups = {g: [x for x in m if x in diffs] for g, m in GROUPS.items()}
    groups = {g: m for g, m in groups.items() if m and (g == "real" or "pure" in m)}
    groups.update({x: ["pure", x] for x in diffs if x not in ("pure", "real")})
    rows = {}
    for name, score in (("naming agreement (cosine)", agree), ("same name (0/1)", same.astype(float)),
                        ("cohesion", coh)):
        rows[name] = {g: roc_auc(y[np.isin(d, m)], score[np.isin(d, m)]) for g, m in groups.items()}
    cost = call_totals(store, run_id, role="namer")
    out = {"data": corpus.source, "split": args.split, "n": args.n, "clusters": len(tests), "skipped": skipped,
           "namer": config.roles["namer"].model, "wall_s": round(wall, 1), "cost": cost,
           "same_name_rate": {x: round(float(same[d == x].mean()), 3) for x in diffs if (d == x).any()},
           "auc": rows, "pairs": [{"difficulty": t.difficulty, "gold": t.gold, "names": p}
                                  for t, p in zip(tests, pairs)]}
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)
    cols = [g for g in groups if any(r[g] is not None for r in rows.values())]
    print(f"{corpus.source} ({args.split}): {len(tests)} clusters, namer {out['namer']}, {cost['calls']} calls "
          f"({cost['made']} made), {wall:.0f} s, mean latency {cost['latency_ms_mean']} ms")
    print("| score | " + " | ".join(cols) + " |\n|---" * 1 + "|---" * len(cols) + "|")
    for name, r in rows.items():
        print(f"| {name} | " + " | ".join("-" if r[c] is None else f"{r[c]:.3f}" for c in cols) + " |")
    print("same name from both halves:", out["same_name_rate"])


if __name__ == "__main__":
    main()
