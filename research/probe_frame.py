"""Probe: how many principal directions should the corpus frame remove (docs/BENCHMARKS.md section 10)?

The coherence model's one feature is cohesion in a corpus frame: the corpus mean and its top
principal directions removed. This prints, per corpus and per number of removed directions,
the AUC of in-frame cohesion (the model's AUC: a monotone function of it) on the judge-eval
real clusters and on the hard group (pure vs nearest-intent mixtures), n = 10, seed 0.

Train splits are shown whole, cut to 15 sentences per intent and cut to Zipf-like intent
sizes (``dialin.finetune.coherence_fit.cap``); ``customer_service:A`` / ``:B`` are the halves of
examples/customer_service.jsonl by dialogue (alternate dialogue ids), so one half can choose
and the other confirm. ``--frame`` also tries two other ways to find the directions: the
principal directions of K-means centroids (each cluster counts once) and a PCA weighting each
sentence by 1 / its near-duplicates (cosine >= 0.6), both meant to stop big intents from
owning the top directions.

    cd scripts && ../.venv/bin/python probe_frame.py banking77:train hwu64:train customer_service:A
    cd scripts && ../.venv/bin/python probe_frame.py customer_service:B customer_service hwu64:test banking77:test
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from threadpoolctl import threadpool_limits

from bench_embedder import ROOT, SETS, load
from harness import default_store  # noqa: E402  (beside this script)
from dialin.config import EmbedderConfig
from dialin.embed import BUNDLED_MINILM, make_embedder
from dialin.measure.judge_sets import build_test_set
from dialin.measure.metrics import roc_auc
from dialin.store import Store
from dialin.tools.coherence import CorpusFrame, cluster_features
from dialin.finetune.coherence_fit import cap

DIRECTIONS = (0, 1, 2, 3, 4, 6, 8)


def cohesion_in(frame: CorpusFrame, members: list[int]) -> float:
    """In-frame cohesion: the coherence model's one feature."""
    return cluster_features(*frame.members(members), names=("cohesion",))["cohesion"]


def _unit(X: np.ndarray) -> np.ndarray:
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def _frame_from(X: np.ndarray, mean: np.ndarray, cov: np.ndarray, k: int) -> CorpusFrame:
    comps = np.linalg.eigh(cov)[1][:, ::-1][:, :k].T
    C = X - mean
    return CorpusFrame(mean, comps, _unit(C - (C @ comps.T) @ comps), _unit(X), np.zeros((len(X), 0), np.float32))


def frame(X: np.ndarray, k: int, how: str) -> CorpusFrame:
    if how == "plain":
        return CorpusFrame.fit(X, k, 0)
    if how == "centroids":
        from sklearn.cluster import KMeans

        cent = KMeans(max(2, round(1.5 * np.sqrt(len(X)))), n_init=1, random_state=0).fit(X).cluster_centers_
        mean = cent.mean(axis=0)
        return _frame_from(X, mean, (cent - mean).T @ (cent - mean), k)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    near = np.concatenate([(Xn[a:a + 1024] @ Xn.T >= 0.6).sum(axis=1) for a in range(0, len(X), 1024)])
    w = 1.0 / near  # a sentence with many near-duplicates (a big formulaic intent) weighs less
    mean = (w[:, None] * X).sum(axis=0) / w.sum()
    C = X - mean
    return _frame_from(X, mean, (C * w[:, None]).T @ C, k)


def row(tag: str, labels: list[str], X: np.ndarray, how: str) -> str:
    tests, _ = build_test_set(labels, X, n=10, per_difficulty=100, seed=0)
    y = np.array([t.gold == "good" for t in tests])
    d = np.array([t.difficulty for t in tests])
    real, hard = d == "real", np.isin(d, ["pure", "hard_mix2", "hard_intruder"])
    C = X - X.mean(axis=0)
    ev = np.linalg.eigvalsh(C.T @ C)[::-1]
    cells = []
    for k in DIRECTIONS:
        f = frame(X, k, how)
        c = np.array([cohesion_in(f, list(t.members)) for t in tests])
        cells.append(f"{roc_auc(y[real], c[real]):.3f} / {roc_auc(y[hard], c[hard]):.3f}")
    shares = " ".join(f"{s:.3f}" for s in ev[:6] / ev.sum())
    return f"| {tag} | {len(X)} | {len(set(labels))} | {shares} | " + " | ".join(cells) + " |"


def half(which: str) -> tuple[list[str], list[str]]:
    """Unique texts and intents of the dialogues of one half (A: ids 0, 2, 4, ...; B: 1, 3, 5, ...)."""
    rows = [json.loads(line) for line in (ROOT / "examples/customer_service.jsonl").open(encoding="utf-8")]
    ids = sorted({r["dialogue_id"] for r in rows})
    keep = set(ids["AB".index(which)::2])
    seen: dict[str, str] = {}
    for r in rows:
        if r["dialogue_id"] in keep and r["text"].strip():
            seen.setdefault(r["text"], r["intent"])
    return list(seen), list(seen.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("specs", nargs="+", help="CORPUS[:SPLIT], or customer_service:A / customer_service:B.")
    ap.add_argument("--frame", choices=("plain", "centroids", "weighted"), default="plain")
    ap.add_argument("--store", default=None)
    args = ap.parse_args()
    args.store = args.store or default_store("bench-embedder.db")
    for spec in args.specs:
        name, _, part = spec.partition(":")
        if name not in SETS or (name == "customer_service" and part not in ("", "A", "B")):
            ap.error(f"{spec}: unknown corpus; use CORPUS[:SPLIT] with CORPUS one of {sorted(SETS)}, "
                     "or customer_service:A / customer_service:B")
    emb = make_embedder(EmbedderConfig(model=BUNDLED_MINILM, progress=False), Store(args.store))
    print("| corpus | sentences | intents | top-6 variance shares | "
          + " | ".join(f"{k} removed: real / hard" for k in DIRECTIONS) + " |")
    print("|---" * (4 + len(DIRECTIONS)) + "|")
    with threadpool_limits(1):
        for spec in args.specs:
            if spec in ("customer_service:A", "customer_service:B"):
                texts, labels = half(spec[-1])
            else:
                _, texts, labels, _ = load(spec, None)
            X = np.asarray(emb.encode(texts), dtype=np.float64)
            cuts = (None, 15, "zipf") if spec.endswith(":train") else (None,)
            for per in cuts:
                idx = cap(labels, per, 0)
                tag = spec + ("" if per is None else f" ({per} per intent)" if per != "zipf" else " (Zipf-cut)")
                print(row(tag, [labels[i] for i in idx], X[idx], args.frame), flush=True)


if __name__ == "__main__":
    main()
