"""Rebuild dialin/tools/coherence_model.json: the cascade's P(good) scorer (no LLM anywhere).

Training clusters come from BANKING77 train and HWU64 train only, built like ``dialin
judge-eval`` builds its test clusters (``dialin.measure.judge_sets.build_test_set``): pure clusters,
random and nearest-intent 2-way mixtures, 4-way mixtures, one-intruder clusters (n = 10 and
20), and the real K-means / Ward clusters at 0.5, 1, 2 and 3 times the number of intents
(good when 90% share one intent). Each corpus is used whole and cut to at most 40 and 15
sentences per intent (clusters then cover most of an intent, as on a small corpus), and cut
to Zipf-like intent sizes (80, 40, 26, ... at least 10 per intent: a few big intents dominate,
as greetings, thanks and verification do in a support log). Every
cluster is measured in the frame of the corpus it was drawn from (``CorpusFrame``). A
logistic regression (sklearn lbfgs; each difficulty and class weighs the same, half the
weight on real clusters) over ``--features`` gives the coefficients; ``--lodo`` prints the
leave-one-dataset-out comparison of feature sets that chose them. Then the model and raw
cohesion are scored on BANKING77 test and HWU64 test per difficulty (the markdown tables of
docs/BENCHMARKS.md). Embeddings are cached in ``--store``; everything is seeded.

    .venv/bin/python research/train_coherence.py --store /tmp/coh-emb.db --lodo     # train, write the JSON
    .venv/bin/python research/train_coherence.py --store /tmp/coh-emb.db --evaluate-only
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from harness import default_store  # noqa: E402  (beside this script)
from dialin.config import EmbedderConfig, MethodConfig
from dialin.data import load_corpus
from dialin.embed import make_embedder
from dialin.measure.judge_eval import unique_labels
from dialin.measure.judge_sets import DIFFICULTIES, GROUPS, build_test_set, fold_of
from dialin.measure.metrics import heldout_accuracy, roc_auc
from dialin.store import Store
from dialin.tools.coherence import (CANDIDATES, FRAME_DIRECTIONS, KNN_MAX, MODEL_PATH, CoherenceModel,
                                    CorpusFrame, load_model, save_model)
from dialin.tools.cascade import COHESION_THRESHOLDS
from dialin.finetune.coherence_fit import cap, feature_rows, fit_model, training_clusters
from dialin.tools.vectors import cohesion

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CORPORA = {"banking77": (DATA / "banking77/banking77.jsonl", "label"), "hwu64": (DATA / "hwu64/hwu64.jsonl", "label"),
           "customer_service": (ROOT / "examples/customer_service.jsonl", "intent")}
"""name -> (file, gold label column)."""
SETS = ("banking77", "hwu64")
"""Training corpora (their train splits)."""
TESTS = {"banking77": "test", "hwu64": "test", "customer_service": None}
"""Test sets -> split: the two test splits and a corpus no model was fitted on (a support log, both roles)."""
FEATURES = ("cohesion",)
"""The shipped choice: the best mean leave-one-dataset-out AUC of the sets ``--lodo`` compares."""
ABLATION = (("cohesion_raw",), ("cohesion",), ("cohesion", "cohesion_raw"), ("cohesion", "gap_max"),
            ("cohesion", "cohesion_raw", "log_size", "gap_max"), ("cohesion", "log_size", "gap_mean", "gap_max"),
            CANDIDATES)
EVAL_N = {"banking77": 20, "hwu64": 10, "customer_service": 10}
"""Sentences per synthetic test cluster: HWU64 test has no intent with 20 sentences, so 10 there."""


def load(name: str, split: str | None, store: str) -> tuple[list[str], np.ndarray]:
    path, label_col = CORPORA[name]
    corpus = load_corpus(path, label_col=label_col, split=split, skip_blank=True)
    X = make_embedder(EmbedderConfig(progress=False), Store(store)).encode(corpus.unique_texts)
    return unique_labels(corpus), np.asarray(X, dtype=np.float64)


def build_training(store: str, n_components: int, seed: int, per_difficulty: int) -> dict[str, Any]:
    rows: list[dict[str, float]] = []
    y: list[bool] = []
    diff: list[str] = []
    source: list[str] = []
    for name in SETS:
        labels, X = load(name, "train", store)
        for per_intent in (None, 40, 15, "zipf"):
            idx = cap(labels, per_intent, seed)
            sub_labels, sub_X = [labels[i] for i in idx], X[idx]
            t0 = time.perf_counter()
            tests = training_clusters(sub_labels, sub_X, seed, per_difficulty)
            rows += feature_rows(CorpusFrame.fit(sub_X, n_components, KNN_MAX), tests)
            y += [t.gold == "good" for t in tests]
            diff += [t.difficulty for t in tests]
            source += [name] * len(tests)
            print(f"{name} train, at most {per_intent or 'all'} per intent: {len(tests)} clusters "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return {"rows": rows, "y": np.array(y), "difficulty": np.array(diff), "source": np.array(source)}


def subset(data: dict[str, Any], keep: np.ndarray) -> dict[str, Any]:
    return {k: ([r for r, s in zip(v, keep) if s] if k == "rows" else v[keep]) for k, v in data.items()}


def lodo(data: dict[str, Any], n_components: int, real_share: float) -> list[str]:
    """Leave one training dataset out: fit on the other, AUC per group on the held-out one, per feature set."""
    lines = ["| features | " + " | ".join(f"{s} {g}" for s in SETS for g in GROUPS) + " | mean |",
             "|---|" + "---|" * (len(SETS) * len(GROUPS) + 1)]
    for features in ABLATION:
        aucs: list[float] = []
        for held in SETS:
            model = fit(subset(data, data["source"] != held), features, n_components, real_share, {})
            test = subset(data, data["source"] == held)
            p = np.array([model.p_of(r) for r in test["rows"]])
            for members in GROUPS.values():
                sel = np.isin(test["difficulty"], members)
                aucs.append(roc_auc(test["y"][sel], p[sel]) or float("nan"))
        lines.append(f"| {' + '.join(features) if features != CANDIDATES else 'all candidates'} | "
                     + " | ".join(f"{a:.3f}" for a in aucs) + f" | {np.mean(aucs):.3f} |")
    return lines


def fit(data: dict[str, Any], features: tuple[str, ...], n_components: int, real_share: float,
        info: dict[str, Any]) -> CoherenceModel:
    return fit_model(data["rows"], data["y"], data["difficulty"], features, n_components, real_share,
                     make_embedder(EmbedderConfig(progress=False)).name, info)


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def evaluate(model: CoherenceModel, store: str, seed: int, per_difficulty: int) -> dict[str, Any]:
    """Per test set and difficulty: clusters, AUC and accuracy of raw cohesion and of the model."""
    out: dict[str, Any] = {}
    for name, split in TESTS.items():
        labels, X = load(name, split, store)
        tests, _ = build_test_set(labels, X, n=EVAL_N[name], per_difficulty=per_difficulty, seed=seed)
        frame = model.frame(X)
        y = np.array([t.gold == "good" for t in tests])
        d = np.array([t.difficulty for t in tests])
        coh = np.array([cohesion(X, list(t.members)) for t in tests])
        p = np.array([model.score(frame, t.members) for t in tests])
        coh_pred = heldout_accuracy(y, coh, fold_of(tests, seed))[2]
        rows: dict[str, Any] = {}
        for key, sel in [(g, np.isin(d, m)) for g, m in GROUPS.items()] + \
                        [(x, np.isin(d, ["pure", x]) if x not in ("pure", "real") else d == x) for x in DIFFICULTIES]:
            own = sel if key in GROUPS else d == key
            rows[key] = {"clusters": int(own.sum()), "good": int(y[own].sum()),
                         "cohesion_auc": _r(roc_auc(y[sel], coh[sel])), "model_auc": _r(roc_auc(y[sel], p[sel])),
                         "cohesion_acc": _r(float((coh_pred[own] == y[own]).mean())),
                         "model_acc": _r(float(((p[own] >= 0.5) == y[own]).mean()))}
        m, real = MethodConfig(), d == "real"
        out[name] = {"n": EVAL_N[name], "unique": len(labels), "rows": rows,
                     "cascade": {"model": _auto(p[real], y[real], m.cascade_low, m.cascade_high),
                                 "cohesion": _auto(coh[real], y[real], *COHESION_THRESHOLDS)}}
    return out


def _auto(score: np.ndarray, y: np.ndarray, low: float | None, high: float | None) -> dict[str, Any]:
    """What the cascade decides alone on real clusters: share decided, and how often right."""
    good = score >= (high if high is not None else np.inf)
    bad = score <= (low if low is not None else -np.inf)
    return {"low": low, "high": high, "decided": _r(float((good | bad).mean())), "good": int(good.sum()),
            "bad": int(bad.sum()),
            "good_right": _r(float(y[good].mean())) if good.any() else None,
            "bad_right": _r(float((~y[bad]).mean())) if bad.any() else None}


def table(ev: dict[str, Any]) -> str:
    lines = ["| test set | clusters (good) | cohesion AUC | model AUC | cohesion acc (held-out t) "
             "| model acc (P >= 0.5) |", "|---|---|---|---|---|---|"]
    for name, e in ev.items():
        for key, r in e["rows"].items():
            label = f"{name} n={e['n']} {key}" + (" (group)" if key in GROUPS else "")
            lines.append(f"| {label} | {r['clusters']} ({r['good']}) | {_f(r['cohesion_auc'])} | {_f(r['model_auc'])} "
                         f"| {_f(r['cohesion_acc'])} | {_f(r['model_acc'])} |")
    lines += ["", "| real clusters of | scorer (low / high) | decided without the LLM | said good: right | "
              "said bad: right |", "|---|---|---|---|---|"]
    for name, e in ev.items():
        for scorer, c in e["cascade"].items():
            lines.append(f"| {name} | {scorer} ({c['low']} / {c['high']}) | {_f(c['decided'])} | "
                         f"{c['good']}: {_f(c['good_right'])} | {c['bad']}: {_f(c['bad_right'])} |")
    return "\n".join(lines)


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", default=None, help="SQLite file caching the embeddings.")
    ap.add_argument("--out", default=str(MODEL_PATH))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-components", type=int, default=FRAME_DIRECTIONS,
                    help="Principal directions the corpus frame removes.")
    ap.add_argument("--real-share", type=float, default=0.5, help="Share of the training weight on real clusters.")
    ap.add_argument("--per-difficulty", type=int, default=100, help="Synthetic training clusters per difficulty.")
    ap.add_argument("--features", default=",".join(FEATURES), help=f"Comma-separated, from: {', '.join(CANDIDATES)}.")
    ap.add_argument("--lodo", action="store_true", help="Also print the leave-one-dataset-out feature comparison.")
    ap.add_argument("--evaluate-only", action="store_true", help="Only score the model at --out on the test sets.")
    ap.add_argument("--json", default=None, help="Also write the evaluation as JSON here.")
    args = ap.parse_args()
    args.store = args.store or default_store("coh-emb.db")
    with threadpool_limits(1):  # a shared CPU: one BLAS thread is faster than several fighting
        if not args.evaluate_only:
            data = build_training(args.store, args.n_components, args.seed, args.per_difficulty)
            if args.lodo:
                print("\n".join(lodo(data, args.n_components, args.real_share)), flush=True)
            features = tuple(f.strip() for f in args.features.split(",") if f.strip())
            counts = {d: int((data["difficulty"] == d).sum()) for d in DIFFICULTIES}
            info = {"command": "python research/train_coherence.py " + (f"--seed {args.seed} " if args.seed else "")
                    + f"--n-components {args.n_components} --real-share {args.real_share} "
                      f"--per-difficulty {args.per_difficulty} --features {','.join(features)}",
                    "data": "banking77 train + hwu64 train (whole; at most 40, 15 per intent; Zipf-cut)",
                    "clusters": counts, "seed": args.seed}
            save_model(fit(data, features, args.n_components, args.real_share, info), args.out)
            print(f"wrote {args.out}")
        load_model.cache_clear()
        ev = evaluate(load_model(args.out), args.store, args.seed, per_difficulty=200)
    if args.json:
        Path(args.json).write_text(json.dumps(ev, indent=1))
    print(table(ev))


if __name__ == "__main__":
    main()
