"""Choose which sentences of a cluster the judge and the namer see.

``random`` draws uniformly. ``convex`` (paper §3.2) projects the cluster onto
its first `dim` principal axes, takes the convex-hull vertices there so the
sample covers the cluster's extremes, and fills up by farthest-point sampling.
The sample always starts from the medoid (the member closest to the centroid),
so the first sentence shown is a typical one. Distances for the medoid and for
farthest-point selection are Euclidean in the full embedding space.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy.spatial import ConvexHull

SampleStrategy = Literal["random", "convex"]

SAMPLE_STRATEGIES: tuple[SampleStrategy, ...] = ("random", "convex")
"""The sampling strategies `sample` accepts."""

_RANK_TOL = 1e-9


def medoid(P: np.ndarray) -> int:
    """Return the row index of `P` closest to the mean of its rows."""
    return int(np.argmin(np.linalg.norm(P - P.mean(axis=0), axis=1)))


def farthest_point(
    P: np.ndarray,
    selected: list[int],
    candidates: Sequence[int],
    n: int,
    rng: np.random.Generator,
) -> list[int]:
    """Grow `selected` (row indices of `P`) to `n` rows taken from `candidates`.

    Each step adds the candidate farthest from everything selected so far
    (ties: lowest position in `candidates`). When the remaining candidates
    all coincide with selected points, the rest is drawn at random.
    """
    chosen = list(selected)
    taken = set(chosen)
    pool = [c for c in candidates if c not in taken]
    if not pool or len(chosen) >= n:
        return chosen[:n]
    pool_arr = np.asarray(pool)
    Q = P[pool_arr]
    mind = np.full(len(pool_arr), np.inf)
    for c in chosen:
        mind = np.minimum(mind, np.linalg.norm(Q - P[c], axis=1))
    alive = np.ones(len(pool_arr), dtype=bool)
    while len(chosen) < n and alive.any():
        masked = np.where(alive, mind, -1.0)
        best = int(np.argmax(masked))
        if masked[best] <= 0.0:  # only duplicates left: no geometry to exploit
            rest = pool_arr[alive]
            extra = rng.choice(rest, size=min(n - len(chosen), len(rest)), replace=False)
            chosen.extend(int(i) for i in extra)
            break
        chosen.append(int(pool_arr[best]))
        alive[best] = False
        mind = np.minimum(mind, np.linalg.norm(Q - Q[best], axis=1))
    return chosen


def project(P: np.ndarray, dim: int) -> np.ndarray | None:
    """Project centred rows of `P` on their top `dim` principal axes.

    Returns None when the points span fewer than `dim` dimensions.
    """
    Z = P - P.mean(axis=0)
    if Z.shape[0] > 2 * Z.shape[1]:  # many rows: the d x d eigenproblem is far cheaper than the SVD of Z
        evals, V = np.linalg.eigh(Z.T @ Z)
        S = np.sqrt(np.clip(evals[::-1], 0.0, None))
        if len(S) < dim or S[0] <= 0.0 or S[dim - 1] <= _RANK_TOL * S[0]:
            return None
        return Z @ V[:, ::-1][:, :dim]
    U, S, _ = np.linalg.svd(Z, full_matrices=False)
    if len(S) < dim or S[0] <= 0.0 or S[dim - 1] <= _RANK_TOL * S[0]:
        return None
    return U[:, :dim] * S[:dim]


def hull_vertices(Y: np.ndarray) -> list[int] | None:
    """Return the convex-hull vertices of the rows of `Y`, or None if degenerate."""
    if Y.shape[1] == 1:
        return sorted({int(np.argmin(Y[:, 0])), int(np.argmax(Y[:, 0]))})
    if Y.shape[0] < Y.shape[1] + 2:
        return None
    try:
        return [int(v) for v in ConvexHull(Y).vertices]
    except Exception:  # scipy.spatial.QhullError: flat or coplanar input
        return None


def sample(
    X: np.ndarray,
    indices: Sequence[int],
    n: int = 20,
    strategy: SampleStrategy = "convex",
    dim: int = 2,
    seed: int = 0,
) -> list[int]:
    """Pick up to `n` of `indices` (rows of `X`) to show an LLM.

    Parameters
    ----------
    X : np.ndarray
        Embeddings of the whole corpus, shape (N, d).
    indices : Sequence[int]
        Rows of `X` that form the cluster.
    n : int
        Sample size; every index is returned, in the given order, when
        ``len(indices) <= n``.
    strategy : {"random", "convex"}
        Uniform draw, or medoid + convex-hull vertices + farthest-point fill.
    dim : int
        Dimension of the projection the hull is taken in (2 is best in the paper).
    seed : int
        Seed of the random draws; the result is deterministic for a seed.

    Returns
    -------
    list[int]
        Elements of `indices` (assumed distinct); for ``convex`` the medoid
        comes first.
    """
    if strategy not in SAMPLE_STRATEGIES:
        raise ValueError(
            f"Unknown sampling strategy {strategy!r}; choose one of {SAMPLE_STRATEGIES}."
        )
    if n < 0:
        raise ValueError(f"n must be >= 0; got {n}.")
    if dim < 1:
        raise ValueError(f"dim must be >= 1; got {dim}.")
    idx = [int(i) for i in indices]
    if len(idx) <= n:
        return idx
    rng = np.random.default_rng(seed)
    if strategy == "random":
        return [int(i) for i in rng.choice(idx, size=n, replace=False)]
    P = np.asarray(X, dtype=np.float64)[np.asarray(idx)]
    start = [medoid(P)] if n > 0 else []
    Y = project(P, dim) if len(idx) >= dim + 2 else None
    vertices = hull_vertices(Y) if Y is not None else None
    local = start
    if vertices:
        local = farthest_point(P, local, vertices, n, rng)
    local = farthest_point(P, local, range(len(idx)), n, rng)
    return [idx[i] for i in local]
