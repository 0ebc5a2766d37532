"""Vector helpers every step shares, one definition each: row normalisation and cohesion."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def l2_normalise(X: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """A copy of ``X`` (rows, or one vector) with unit-norm rows; zero rows stay zero."""
    X = np.asarray(X, dtype=dtype)
    norms = np.linalg.norm(X, axis=-1, keepdims=True)
    return X / np.where(norms > 0.0, norms, 1.0)


def rows_cohesion(V: np.ndarray) -> float:
    """Mean pairwise cosine of these L2-normalised rows (1.0 for fewer than two)."""
    n = len(V)
    if n < 2:
        return 1.0
    s = V.sum(axis=0, dtype=np.float64)
    return float((s @ s - n) / (n * (n - 1)))


def cohesion(X: np.ndarray, members: Sequence[int]) -> float:
    """Mean pairwise cosine of the ``members`` rows of ``X`` (1.0 for a singleton)."""
    return rows_cohesion(X[list(members)])
