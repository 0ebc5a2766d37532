"""What the loop leaves over: joined to the nearest good cluster when close enough."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def centroids(X: np.ndarray, clusters: Sequence[Sequence[int]]) -> np.ndarray:
    C = np.stack([X[list(c)].mean(axis=0) for c in clusters])
    return C / np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)


def assign_leftovers(X: np.ndarray, clusters: Sequence[Sequence[int]], leftovers: Sequence[int],
                     min_similarity: float = 0.5, groups: Sequence[str] | None = None,
                     cluster_groups: Sequence[str] | None = None,
                     chunk: int = 4096) -> tuple[dict[int, int], list[int]]:
    """Map each leftover to the cluster whose centroid is most similar (cosine >= min_similarity).

    With ``groups`` (a role per sentence) and ``cluster_groups`` (a role per cluster), a
    leftover only joins a cluster of its own role. Returns ({leftover: cluster position},
    still unassigned); nothing is dropped.
    """
    if not clusters or not leftovers:
        return {}, list(leftovers)
    C = centroids(X, clusters)
    left = np.asarray(leftovers, dtype=np.int64)
    if groups is not None and cluster_groups is not None:
        codes = {g: i for i, g in enumerate(dict.fromkeys(cluster_groups))}
        cluster_code = np.array([codes[g] for g in cluster_groups])
        left_code = np.array([codes.get(groups[i], -1) for i in leftovers])
    assigned: dict[int, int] = {}
    rest: list[int] = []
    for a in range(0, len(left), chunk):  # chunks of leftovers x clusters, never all of them at once
        sims = X[left[a:a + chunk]] @ C.T
        if groups is not None and cluster_groups is not None:
            sims = np.where(left_code[a:a + chunk, None] == cluster_code[None, :], sims, -np.inf)
        best = np.argmax(sims, axis=1)
        best_sim = sims[np.arange(len(best)), best]
        for i, j, s in zip(left[a:a + chunk].tolist(), best.tolist(), best_sim.tolist()):
            if s >= min_similarity:
                assigned[i] = j
            else:
                rest.append(i)
    return assigned, rest
