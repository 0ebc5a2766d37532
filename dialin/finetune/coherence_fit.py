"""Fitting a coherence model (``dialin.tools.coherence.CoherenceModel``) from labelled sentences.

Training clusters are built like ``dialin judge-eval`` builds its test clusters: pure,
random and nearest-intent mixtures, one-intruder clusters (n = 10 and 20) and every real
K-means / Ward cluster at 0.5, 1, 2 and 3 times the number of intents (good when 90% share
one intent). Each is measured in the frame of the corpus it came from; a corpus is also cut
to Zipf-like intent sizes (``cap``), since real logs are imbalanced and the frame of an
imbalanced corpus differs. A logistic regression
(each difficulty and class weighs the same; ``real_share`` of the weight on real clusters)
gives P(good). ``research/train_coherence.py`` builds the shipped model with it;
``dialin finetune embedder`` fits one for the tuned embedder on the intents it held out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dialin.measure.judge_sets import DIFFICULTIES, TestCluster, build_test_set
from dialin.tools.coherence import (CANDIDATES, FRAME_DIRECTIONS, KNN_MAX, CoherenceModel, CorpusFrame,
                                    cluster_features)

SYNTHETIC = tuple(d for d in DIFFICULTIES if d != "real")


def cap(labels: Sequence[str], per_intent: int | str | None, seed: int) -> np.ndarray:
    """Row indices keeping at most `per_intent` sentences of each intent (all when None).

    ``"zipf"``: the intents in a seeded random order keep at most 80, 40, 26, 20, ... sentences
    (80 // rank), at least 10: an imbalanced corpus whose biggest intents dominate its variance.
    """
    if per_intent is None:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    names = sorted(set(labels))
    if per_intent == "zipf":
        sizes = {g: max(10, 80 // (rank + 1)) for rank, g in enumerate(rng.permutation(names))}
    elif isinstance(per_intent, int) and per_intent > 0:
        sizes = {g: per_intent for g in names}
    else:
        raise ValueError(f"per_intent must be a positive int, 'zipf' or None; got {per_intent!r}")
    keep = [rng.permutation([i for i, lab in enumerate(labels) if lab == g])[:sizes[g]] for g in names]
    return np.sort(np.concatenate(keep))


def training_clusters(labels: Sequence[str], X: np.ndarray, seed: int, per_difficulty: int) -> list[TestCluster]:
    k = len(set(labels))
    tests: list[TestCluster] = []
    for n in (10, 20):
        tests += build_test_set(labels, X, n=n, per_difficulty=per_difficulty, seed=seed, difficulties=SYNTHETIC)[0]
    ks = sorted({max(2, round(f * k)) for f in (0.5, 1.0, 2.0, 3.0)})
    ks = [x for x in ks if x < len(labels)]
    return tests + build_test_set(labels, X, per_difficulty=10**6, seed=seed, difficulties=["real"], real_ks=ks)[0]


def feature_rows(frame: CorpusFrame, tests: Sequence[TestCluster]) -> list[dict[str, float]]:
    return [cluster_features(*frame.members(t.members), names=CANDIDATES) for t in tests]


def class_weights(y: np.ndarray, diff: np.ndarray, real_share: float) -> np.ndarray:
    """Each (difficulty, class) cell weighs the same, classes balance within synthetic and within real."""
    w = np.ones(len(y))
    for d in np.unique(diff):
        for c in (False, True):
            cell = (diff == d) & (y == c)
            w[cell] = 1.0 / max(1, cell.sum())
    for part, share in ((diff == "real", real_share), (diff != "real", 1.0 - real_share)):
        for c in (False, True):
            cell = part & (y == c)
            if cell.any():
                w[cell] *= share / 2 / w[cell].sum()
    return w * len(y) / w.sum()


def fit_model(rows: Sequence[dict[str, float]], y: np.ndarray, diff: np.ndarray, features: tuple[str, ...],
              n_components: int, real_share: float, embedder: str, info: dict[str, Any]) -> CoherenceModel:
    from sklearn.linear_model import LogisticRegression

    M = np.array([[r.get(f, np.nan) for f in features] for r in rows])
    mean, scale = np.nanmean(M, axis=0), np.nanstd(M, axis=0) + 1e-9
    Z = np.nan_to_num((M - mean) / scale, nan=0.0)
    lr = LogisticRegression(C=1.0, max_iter=5000).fit(Z, y, sample_weight=class_weights(y, diff, real_share))
    return CoherenceModel(embedder=embedder, n_components=n_components, features=features,
                          mean=tuple(np.round(mean, 6)), scale=tuple(np.round(scale, 6)),
                          coef=tuple(np.round(lr.coef_[0], 6)), intercept=round(float(lr.intercept_[0]), 6), info=info)


def fit_on_corpus(labels: Sequence[str], X: np.ndarray, embedder: str, *, seed: int = 0, per_difficulty: int = 100,
                  n_components: int = FRAME_DIRECTIONS, features: tuple[str, ...] = ("cohesion",),
                  real_share: float = 0.5, info: dict[str, Any] | None = None) -> CoherenceModel:
    """A coherence model for ``embedder``'s vectors ``X`` of labelled sentences (one corpus, whole and Zipf-cut)."""
    tests: list[TestCluster] = []
    rows: list[dict[str, float]] = []
    for per_intent in (None, "zipf"):
        idx = cap(labels, per_intent, seed)
        sub = training_clusters([labels[i] for i in idx], X[idx], seed, per_difficulty)
        rows += feature_rows(CorpusFrame.fit(X[idx], n_components, KNN_MAX), sub)
        tests += sub
    y = np.array([t.gold == "good" for t in tests])
    if y.all() or not y.any():
        raise ValueError("coherence model: the training clusters are all of one class; more intents are needed")
    diff = np.array([t.difficulty for t in tests])
    counts = {d: int((diff == d).sum()) for d in DIFFICULTIES}
    return fit_model(rows, y, diff, features, n_components, real_share, embedder,
                     {**(info or {}), "clusters": counts, "seed": seed})
