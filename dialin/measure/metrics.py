"""External clustering metrics: NMI, ACC (Hungarian matching) and ARI.

Labels may be any hashable values (ints, strings). A prediction of ``-1`` or
``"unassigned"`` (sentences the loop never placed) is scored as one extra
cluster of its own: it is neither dropped nor spread over the real clusters,
so leaving sentences unassigned costs what a junk cluster would cost.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

UNASSIGNED: tuple[Hashable, ...] = (-1, "unassigned")
"""Predicted labels that mean 'not placed in any cluster'."""

_UNASSIGNED_KEY = ("__dialin_unassigned__",)

Labels = Sequence[Hashable] | np.ndarray


def _key(value: Any) -> Hashable:
    if isinstance(value, np.generic):
        value = value.item()
    return value


def _is_unassigned(value: Hashable) -> bool:
    if isinstance(value, str):
        return value == "unassigned"
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float)) and value == -1


def encode(labels: Labels, unassigned: bool = False) -> np.ndarray:
    """Map labels to ints 0..k-1 in order of first appearance.

    With ``unassigned=True``, ``-1`` and ``"unassigned"`` share one code.
    """
    codes: dict[Hashable, int] = {}
    out = np.empty(len(labels), dtype=np.int64)
    for i, raw in enumerate(labels):
        value = _key(raw)
        if unassigned and _is_unassigned(value):
            value = _UNASSIGNED_KEY
        out[i] = codes.setdefault(value, len(codes))
    return out


def _pair(y_true: Labels, y_pred: Labels) -> tuple[np.ndarray, np.ndarray]:
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and y_pred differ in length: {len(y_true)} vs {len(y_pred)}.")
    if len(y_true) == 0:
        raise ValueError("y_true and y_pred are empty: there is nothing to score.")
    return encode(y_true), encode(y_pred, unassigned=True)


def contingency(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Counts of (true code, predicted code) pairs, shape (K_true, K_pred)."""
    C = np.zeros((int(t.max()) + 1, int(p.max()) + 1), dtype=np.int64)
    np.add.at(C, (t, p), 1)
    return C


def nmi(y_true: Labels, y_pred: Labels) -> float:
    """Normalised mutual information (arithmetic mean normalisation), in [0, 1]."""
    from sklearn.metrics import normalized_mutual_info_score

    t, p = _pair(y_true, y_pred)
    return float(normalized_mutual_info_score(t, p))


def acc(y_true: Labels, y_pred: Labels) -> float:
    """Clustering accuracy under the best one-to-one cluster-to-class matching, in [0, 1].

    The matching maximises matched counts (Hungarian algorithm); when the
    numbers of clusters differ, the unmatched clusters count as errors.
    """
    t, p = _pair(y_true, y_pred)
    C = contingency(t, p)
    rows, cols = linear_sum_assignment(C, maximize=True)
    return float(C[rows, cols].sum() / len(t))


def ari(y_true: Labels, y_pred: Labels) -> float:
    """Adjusted Rand index, in [-0.5, 1]."""
    from sklearn.metrics import adjusted_rand_score

    t, p = _pair(y_true, y_pred)
    return float(adjusted_rand_score(t, p))


def clustering_metrics(y_true: Labels, y_pred: Labels) -> dict[str, float | int]:
    """NMI, ACC and ARI (x100, rounded to 2 decimals) and cluster counts.

    Returns
    -------
    dict
        ``nmi``, ``acc``, ``ari``, ``n_clusters_pred`` (real clusters, the
        unassigned bucket excluded), ``n_clusters_true`` and ``n_unassigned``
        (number of unassigned predictions).
    """
    t, p = _pair(y_true, y_pred)
    n_unassigned = sum(1 for v in y_pred if _is_unassigned(_key(v)))
    n_pred = len(np.unique(p)) - (1 if n_unassigned else 0)
    return {
        "nmi": round(100.0 * nmi(y_true, y_pred), 2),
        "acc": round(100.0 * acc(y_true, y_pred), 2),
        "ari": round(100.0 * ari(y_true, y_pred), 2),
        "n_clusters_pred": int(n_pred),
        "n_clusters_true": int(len(np.unique(t))),
        "n_unassigned": int(n_unassigned),
    }


# -- verdict-based metrics ----------------------------------------------------------------
def goodness(verdicts: Sequence[str]) -> float:
    """Percentage (0-100, 2 decimals) of clusters whose evaluator verdict is ``"good"``.

    ``verdicts`` holds one label per final cluster (``"good"``/``"bad"``; anything else,
    e.g. ``None`` for a failed call, counts as not good). The evaluator must not be a judge
    used inside the loop: see ``dialin.measure.evaluate.check_evaluator``.
    """
    if len(verdicts) == 0:
        raise ValueError("goodness() needs at least one cluster verdict.")
    return round(100.0 * sum(1 for v in verdicts if v == "good") / len(verdicts), 2)


def roc_auc(y_good: Sequence[bool], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve of `scores` for the positive class ``good``.

    None when only one class is present (AUC is undefined there).
    """
    y = np.asarray(y_good, dtype=bool)
    if len(y) != len(scores):
        raise ValueError(f"y_good and scores differ in length: {len(y)} vs {len(scores)}.")
    if y.all() or not y.any():
        return None
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, np.asarray(scores, dtype=float)))


def best_threshold(y_good: Sequence[bool], scores: Sequence[float]) -> float:
    """The threshold t maximising accuracy of ``good = score >= t`` on these examples.

    Candidates are midpoints between consecutive distinct scores plus both extremes;
    ties go to the smallest such t.
    """
    y = np.asarray(y_good, dtype=bool)
    s = np.asarray(scores, dtype=float)
    if len(s) == 0:
        raise ValueError("best_threshold() needs at least one example.")
    u = np.unique(s)
    cands = np.concatenate([[u[0] - 1e-9], (u[:-1] + u[1:]) / 2, [u[-1] + 1e-9]])
    accs = [float(((s >= t) == y).mean()) for t in cands]
    return float(cands[int(np.argmax(accs))])


def heldout_accuracy(y_good: Sequence[bool], scores: Sequence[float],
                     fold: Sequence[int]) -> tuple[float, list[float], np.ndarray]:
    """Two-fold threshold accuracy: each example is scored with the threshold chosen on the other fold.

    Returns (accuracy, [threshold chosen on fold 0, on fold 1], predicted good per example).
    A fold with no examples leaves the other scored at its own best threshold (reported honestly
    as in-sample by the caller when that happens).
    """
    y = np.asarray(y_good, dtype=bool)
    s = np.asarray(scores, dtype=float)
    f = np.asarray(fold, dtype=int)
    pred = np.zeros(len(y), dtype=bool)
    thresholds: list[float] = []
    for k in (0, 1):
        train = f == k
        test = f != k
        t = best_threshold(y[train], s[train]) if train.any() else best_threshold(y, s)
        thresholds.append(t)
        pred[test] = s[test] >= t
    return float((pred == y).mean()), thresholds, pred
