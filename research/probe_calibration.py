"""Probe for per-corpus calibration of the cascade: cohesion on a corpus-relative scale.

Cohesion (mean pairwise cosine) means different things under different corpora and
embedders, so fixed cascade thresholds do not transfer. This probe rescales it with two
reference points every corpus can make for itself, without labels: 0 = the mean cohesion of
random samples of n sentences (surely mixed), 1 = the median cohesion of n-nearest-neighbour
balls (a sentence and its n - 1 nearest neighbours: as tight as a cluster gets there). It
prints the references, where the judge-eval real clusters (good and bad) and pure clusters
land on that scale, the AUC, and what a cascade with fixed thresholds on the scale would
decide on the real clusters (share decided, share right).

    .venv/bin/python research/probe_calibration.py --model tuned=/tmp/emb-both/model \\
        --eval banking77:test --eval hwu64:test --eval customer_service

``--directions 0,1,2,3,6,10`` instead prints, for MiniLM, the AUC of in-frame cohesion (the
coherence model's one feature, so the model's AUC) when the corpus frame removes that many
principal directions: how the shipped choice (6) fares as corpora get small.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from bench_embedder import SETS, load
from harness import default_store  # noqa: E402  (beside this script)
from dialin.config import EmbedderConfig
from dialin.embed import BUNDLED_MINILM, make_embedder
from dialin.measure.judge_sets import build_test_set
from dialin.measure.metrics import roc_auc
from dialin.store import Store
from dialin.tools.vectors import cohesion

BANDS = ((0.3, 0.9), (0.4, 0.8), (0.5, 0.9), (0.5, 1.0), (0.4, 1.2))


def references(X: np.ndarray, n: int, k: int, rng: np.random.Generator) -> tuple[float, float]:
    """(mean cohesion of k random n-samples, median cohesion of k n-nearest-neighbour balls)."""
    rand = [cohesion(X, list(rng.choice(len(X), n, replace=False))) for _ in range(k)]
    seeds = rng.choice(len(X), min(k, len(X)), replace=False)
    S = X[seeds] @ X.T
    balls = [cohesion(X, list(np.argsort(-S[i])[:n])) for i in range(len(seeds))]
    return float(np.mean(rand)), float(np.median(balls))


def directions_table(specs: list[str], ks: list[int], store: Store, per: int, seed: int) -> None:
    from dialin.tools.coherence import CorpusFrame, cluster_features

    emb = make_embedder(EmbedderConfig(model=BUNDLED_MINILM, progress=False), store)
    print("| test set | sentences | " + " | ".join(f"{k} removed: real / hard" for k in ks) + " |")
    print("|---" * (2 + len(ks)) + "|")
    for spec in specs:
        _, texts, labels, n = load(spec, None)
        X = np.asarray(emb.encode(texts), dtype=np.float64)
        tests, _ = build_test_set(labels, X, n=n, per_difficulty=per, seed=seed)
        y = np.array([t.gold == "good" for t in tests])
        d = np.array([t.difficulty for t in tests])
        real, hard = d == "real", np.isin(d, ["pure", "hard_mix2", "hard_intruder"])
        cells = []
        for k in ks:
            frame = CorpusFrame.fit(X, k, 0)
            c = np.array([cluster_features(*frame.members(t.members), names=("cohesion",))["cohesion"] for t in tests])
            cells.append(f"{roc_auc(y[real], c[real]):.3f} / {roc_auc(y[hard], c[hard]):.3f}")
        print(f"| {spec} | {len(texts)} | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", default=[], help="NAME=FOLDER of another embedder; repeat.")
    ap.add_argument("--eval", action="append", default=[], help=f"CORPUS[:SPLIT], CORPUS one of {sorted(SETS)}.")
    ap.add_argument("--per-difficulty", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--store", default=None)
    ap.add_argument("--directions", default=None, help="Comma-separated counts of removed principal directions.")
    args = ap.parse_args()
    args.store = args.store or default_store("bench-embedder.db")
    if args.directions:
        with threadpool_limits(1):
            directions_table(args.eval or ["banking77:test"], [int(k) for k in args.directions.split(",")],
                             Store(args.store), args.per_difficulty, args.seed)
        return
    models = {"minilm": BUNDLED_MINILM} | {s.partition("=")[0]: s.partition("=")[2] for s in args.model}
    for name, folder in models.items():
        if name != "minilm" and not Path(folder).is_dir():
            ap.error(f"--model {name}={folder}: no such folder")
    store = Store(args.store)
    print("| test set | embedder | random = 0 | 10-NN ball = 1 | real good (median) | real bad (median) | pure (median) "
          "| AUC real | " + " | ".join(f"decides (right) at {lo}/{hi}" for lo, hi in BANDS) + " |")
    print("|---" * (8 + len(BANDS)) + "|")
    with threadpool_limits(1):
        for spec in args.eval or ["banking77:test"]:
            _, texts, labels, n = load(spec, None)
            enc = {m: np.asarray(make_embedder(EmbedderConfig(model=p, progress=False), store).encode(texts),
                                 dtype=np.float64) for m, p in models.items()}
            tests, _ = build_test_set(labels, enc["minilm"], n=n, per_difficulty=args.per_difficulty, seed=args.seed,
                                      difficulties=["pure", "real"])
            real = [t for t in tests if t.difficulty == "real"]
            pure = [t for t in tests if t.difficulty == "pure"]
            y = np.array([t.gold == "good" for t in real])
            for name, X in enc.items():
                r0, r1 = references(X, n, 200, np.random.default_rng(args.seed))
                z = (np.array([cohesion(X, list(t.members)) for t in real]) - r0) / (r1 - r0)
                zp = (np.array([cohesion(X, list(t.members)) for t in pure]) - r0) / (r1 - r0)
                cells = []
                for lo, hi in BANDS:
                    g, b = z >= hi, z <= lo
                    right = ((g & y) | (b & ~y)).sum() / (g | b).sum() if (g | b).any() else float("nan")
                    cells.append(f"{(g | b).mean():.2f} ({right:.2f})")
                auc = roc_auc(y, z)
                print(f"| {spec} | {name} | {r0:.3f} | {r1:.3f} | {np.median(z[y]):.2f} | {np.median(z[~y]):.2f} "
                      f"| {np.median(zp):.2f} | {'-' if auc is None else f'{auc:.3f}'} | " + " | ".join(cells) + " |",
                      flush=True)


if __name__ == "__main__":
    main()
