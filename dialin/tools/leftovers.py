"""What the loop leaves over: joined to the nearest good cluster when close enough."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def centroids(X: np.ndarray, clusters: Sequence[Sequence[int]]) -> np.ndarray:
    C = np.stack([X[list(c)].mean(axis=0) for c in clusters])
    return C / np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)


def assign_leftovers(X: np.ndarray, clusters: Sequence[Sequence[int]], leftovers: Sequence[int],
                     min_similarity: float = 0.5, groups: Sequence[str] | None = None,
                     cluster_groups: Sequence[str] | None = None) -> tuple[dict[int, int], list[int]]:
    """Map each leftover to the cluster whose centroid is most similar (cosine >= min_similarity).

    With ``groups`` (a role per sentence) and ``cluster_groups`` (a role per cluster), a
    leftover only joins a cluster of its own role. Returns ({leftover: cluster position},
    still unassigned); nothing is dropped.
    """
    if not clusters or not leftovers:
        return {}, list(leftovers)
    C = centroids(X, clusters)
    sims = X[list(leftovers)] @ C.T
    if groups is not None and cluster_groups is not None:
        same = np.array([[groups[i] == g for g in cluster_groups] for i in leftovers])
        sims = np.where(same, sims, -np.inf)
    assigned: dict[int, int] = {}
    rest: list[int] = []
    for row, i in enumerate(leftovers):
        j = int(np.argmax(sims[row]))
        if sims[row, j] >= min_similarity:
            assigned[int(i)] = j
        else:
            rest.append(int(i))
    return assigned, rest
