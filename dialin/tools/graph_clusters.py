"""Communities of a k-nearest-neighbour graph (``method.clustering: graph``).

Each sentence is joined to its ``NEIGHBOURS`` most similar sentences (cosine, weights = the
similarity), and the graph is split into communities by Louvain modularity (networkx). The
resolution sets how fine the communities are; to serve the loop's candidate K it is searched
(bisection in log space) until the number of communities is about K. The kNN graph is built in
blocks of ``BLOCK`` rows, so memory is ``BLOCK x n``, never ``n x n``.

Measured on BANKING77 small and HWU64 test (same MiniLM vectors, BENCHMARKS 16, session 10):
at the same number of clusters these communities score above Ward's (the partitions follow
the dense regions of the embedding, not Ward's variance-balanced cuts).
"""

from __future__ import annotations

import math

import numpy as np

NEIGHBOURS = 10
"""Neighbours per sentence in the graph (the probe's setting; 5-15 measured alike)."""
BLOCK = 1024
"""Rows of the similarity matrix held at once while finding neighbours."""
SEARCH_STEPS = 12
"""Louvain runs at most, per K, while the resolution is searched."""


def knn_graph(Xn: np.ndarray, neighbours: int = NEIGHBOURS):  # noqa: ANN201 - networkx is imported lazily
    """The symmetric weighted kNN graph of the L2-normalised rows ``Xn`` (edge weight = cosine, floored at 0)."""
    import networkx as nx

    n = len(Xn)
    k = min(neighbours, n - 1)
    G = nx.Graph()
    G.add_nodes_from(range(n))
    for start in range(0, n, BLOCK):
        S = Xn[start:start + BLOCK] @ Xn.T
        rows = np.arange(len(S))
        S[rows, start + rows] = -np.inf  # not one's own neighbour
        nn = np.argpartition(-S, k - 1, axis=1)[:, :k]
        for i, js in enumerate(nn):
            a = start + i
            G.add_weighted_edges_from((a, int(j), max(float(S[i, j]), 0.0)) for j in js)
    return G


def _communities(G, resolution: float, seed: int) -> np.ndarray:  # noqa: ANN001 - a networkx Graph
    import networkx as nx

    labels = np.empty(G.number_of_nodes(), dtype=np.int64)
    for c, members in enumerate(nx.community.louvain_communities(G, weight="weight", resolution=resolution,
                                                                seed=seed)):
        labels[list(members)] = c
    return labels


def graph_cluster(Xn: np.ndarray, k: int, seed: int = 0, neighbours: int = NEIGHBOURS) -> np.ndarray:
    """About ``k`` Louvain communities of the kNN graph of ``Xn``: the resolution is bisected (log scale)
    until the count is within 2% of ``k`` (or ``SEARCH_STEPS`` runs); the closest partition is returned."""
    G = knn_graph(Xn, neighbours)
    lo, hi = math.log(0.05), math.log(500.0)
    best, best_gap = None, math.inf
    for _ in range(SEARCH_STEPS):
        mid = (lo + hi) / 2
        labels = _communities(G, math.exp(mid), seed)
        count = int(labels.max()) + 1
        gap = abs(count - k)
        if gap < best_gap:
            best, best_gap = labels, gap
        if gap <= max(1, int(0.02 * k)):
            break
        if count < k:
            lo = mid
        else:
            hi = mid
    assert best is not None
    return best
