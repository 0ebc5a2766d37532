"""Probe: a cross-encoder "same intent?" pair judge, scored on the judge-eval test clusters.

A cross-encoder reads two sentences together and says whether they share an intent; a
cluster's score is built from its members' pairwise P(same). Trained on labelled corpora
(default: BANKING77 train + HWU64 train) from the bundled MiniLM's weights with a new head,
scored on test clusters built exactly as ``bench_embedder.py`` builds them.

    .venv/bin/python scripts/probe_pair_judge.py --out /tmp/pair-judge --train
    .venv/bin/python scripts/probe_pair_judge.py --out /tmp/pair-judge --eval banking77:test --eval hwu64:test
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_embedder import SETS, aucs, load  # noqa: E402

from dialin.config import EmbedderConfig  # noqa: E402
from dialin.embed import BUNDLED_MINILM, make_embedder, sentence_transformer_path  # noqa: E402
from dialin.judge_sets import build_test_set, centroid_similarity, intent_groups  # noqa: E402
from dialin.store import Store  # noqa: E402
from dialin.tools.leftovers import cohesion  # noqa: E402


def make_pairs(texts: list[str], labels: list[str], X: np.ndarray, rng: np.random.Generator, pos: int, hard: int,
               rand: int, near: int) -> list[tuple[str, str, float]]:
    groups = intent_groups(labels)
    names, sim = centroid_similarity(X, groups)
    out: list[tuple[str, str, float]] = []
    for i, g in enumerate(names):
        mem = groups[g]
        if len(mem) < 2:
            continue
        order = [names[j] for j in np.argsort(-sim[i]) if j != i][:near]
        for _ in range(pos):
            a, b = rng.choice(mem, 2, replace=False)
            out.append((texts[a], texts[b], 1.0))
        for _ in range(hard):
            a = rng.choice(mem)
            b = rng.choice(groups[order[int(rng.integers(len(order)))]])
            out.append((texts[a], texts[b], 0.0))
        for _ in range(rand):
            a = rng.choice(mem)
            h = names[int(rng.integers(len(names)))]
            if h == g:
                continue
            out.append((texts[a], texts[int(rng.choice(groups[h]))], 0.0))
    rng.shuffle(out)  # type: ignore[arg-type]
    return out


def train(args: argparse.Namespace, store: Store) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    pairs: list[tuple[str, str, float]] = []
    loaded = []
    for spec in args.train_on:
        name, texts, labels, _ = load(spec, None)
        X = np.asarray(make_embedder(EmbedderConfig(model=BUNDLED_MINILM, progress=False), store).encode(texts))
        loaded.append((texts, labels, X))
    for _ in range(args.epochs):  # fresh pairs each epoch
        epoch: list[tuple[str, str, float]] = []
        for texts, labels, X in loaded:
            epoch += make_pairs(texts, labels, X, rng, args.pos, args.hard, args.rand, args.near)
        rng.shuffle(epoch)  # type: ignore[arg-type]
        pairs += epoch
    base = args.base or sentence_transformer_path(BUNDLED_MINILM)
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
    steps = (len(pairs) + args.batch_size - 1) // args.batch_size
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, steps // 10))
                                              * max(0.0, 1 - s / steps))
    model.train()
    t0, seen = time.time(), 0.0
    for s in range(steps):
        batch = pairs[s * args.batch_size:(s + 1) * args.batch_size]
        enc = tok([a for a, _, _ in batch], [b for _, b, _ in batch], padding=True, truncation=True,
                  max_length=96, return_tensors="pt")
        y = torch.tensor([v for _, _, v in batch])
        logit = model(**enc).logits.squeeze(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, y)
        loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()
        seen = 0.98 * seen + 0.02 * loss.item() if s else loss.item()
        if s % 50 == 0:
            print(f"step {s}/{steps} loss {seen:.3f} {time.time() - t0:.0f}s", flush=True)
    out = Path(args.out) / "model"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    (Path(args.out) / "train.json").write_text(json.dumps({"pairs": len(pairs), "steps": steps,
                                                           "seconds": round(time.time() - t0, 1),
                                                           "args": vars(args)}, indent=1))
    print(f"trained on {len(pairs)} pairs in {time.time() - t0:.0f}s -> {out}")


class PairScorer:
    def __init__(self, folder: str, batch: int = 128) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.torch = torch
        self.tok = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
        self.batch = batch
        self.cache: dict[tuple[int, int], float] = {}

    def score(self, texts: list[str], pairs: list[tuple[int, int]]) -> None:
        todo = sorted({p for p in pairs if p not in self.cache})
        with self.torch.inference_mode():
            for s in range(0, len(todo), self.batch):
                chunk = todo[s:s + self.batch]
                enc = self.tok([texts[a] for a, _ in chunk], [texts[b] for _, b in chunk], padding=True,
                               truncation=True, max_length=96, return_tensors="pt")
                p = self.torch.sigmoid(self.model(**enc).logits.squeeze(-1)).tolist()
                self.cache.update(zip(chunk, p))

    def matrix(self, members: tuple[int, ...]) -> np.ndarray:
        n = len(members)
        P = np.eye(n)
        for i in range(n):
            for j in range(i + 1, n):
                a, b = sorted((members[i], members[j]))
                P[i, j] = P[j, i] = self.cache[(a, b)]
        return P


def cluster_scores(P: np.ndarray) -> dict[str, float]:
    n = len(P)
    off = P[~np.eye(n, dtype=bool)].reshape(n, n - 1)
    row = off.mean(axis=1)
    return {"mean": float(off.mean()), "min_row": float(row.min()),
            "share_same": float((off > 0.5).mean()), "q10_row": float(np.quantile(row, 0.1))}


def evaluate(spec: str, scorer: PairScorer, store: Store, per: int, seed: int) -> dict[str, Any]:
    _, texts, labels, n = load(spec, None)
    X = np.asarray(make_embedder(EmbedderConfig(model=BUNDLED_MINILM, progress=False), store).encode(texts),
                   dtype=np.float64)
    tests, _ = build_test_set(labels, X, n=n, per_difficulty=per, seed=seed)
    pairs = [tuple(sorted((t.members[i], t.members[j]))) for t in tests for i in range(len(t.members))
             for j in range(i + 1, len(t.members))]
    scorer.cache = {}
    t0 = time.time()
    scorer.score(texts, pairs)  # type: ignore[arg-type]
    secs = time.time() - t0
    y = np.array([t.gold == "good" for t in tests])
    d = np.array([t.difficulty for t in tests])
    rows = [cluster_scores(scorer.matrix(t.members)) for t in tests]
    out: dict[str, Any] = {"clusters": len(tests), "pairs": len(set(pairs)), "seconds": round(secs, 1),
                           "cohesion": aucs(y, d, np.array([cohesion(X, list(t.members)) for t in tests]))}
    for k in rows[0]:
        out[k] = aucs(y, d, np.array([r[k] for r in rows]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--train-on", action="append", default=None)
    ap.add_argument("--eval", action="append", default=[])
    ap.add_argument("--pos", type=int, default=60)
    ap.add_argument("--hard", type=int, default=45)
    ap.add_argument("--rand", type=int, default=15)
    ap.add_argument("--near", type=int, default=3)
    ap.add_argument("--base", default=None, help="A transformer folder to start from (default: bundled MiniLM).")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=4e-5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--per-difficulty", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--store", default="/tmp/bench-embedder.db")
    args = ap.parse_args()
    args.train_on = args.train_on or ["banking77:train", "hwu64:train"]
    for spec in args.eval:
        if spec.partition(":")[0] not in SETS:
            ap.error(f"--eval {spec}: unknown corpus")
    store = Store(args.store)
    if args.train:
        train(args, store)
    if args.eval:
        scorer = PairScorer(str(Path(args.out) / "model"))
        res = {spec: evaluate(spec, scorer, store, args.per_difficulty, args.seed) for spec in args.eval}
        Path(args.out, "eval.json").write_text(json.dumps(res, indent=1))
        for spec, r in res.items():
            print(f"## {spec}: {r['clusters']} clusters, {r['pairs']} pairs scored in {r['seconds']} s")
            for k, v in r.items():
                if isinstance(v, dict):
                    print(f"  {k:10s} " + " ".join(f"{g}={v[g]}" for g in v))


if __name__ == "__main__":
    main()
