"""Ward inside kNN-graph communities (``method.hierarchy: graph``): one binary tree both loops cut.

The top ``top`` nodes are the Louvain communities of the kNN graph (``method.clustering: graph``,
dialin/tools/graph_clusters.py, resolution searched to about ``top`` communities). Below each
community is its own exact Ward tree (points as leaves); above them, Ward on the communities'
centroids weighted by their sizes. So a cut at ``top`` clusters is the graph partition, a finer cut
splits communities the way Ward does, and the tree-cut loop starts from the communities and
descends by Ward where the judge calls one bad.

The result is a scipy-format linkage over the points (``dialin.tools.hierarchy.Hierarchy``): the
communities' internal merges first, in order of height across all of them (so cutting past ``top``
splits the loosest community merges first), then the merges above them. Memory: the kNN graph
(``NEIGHBOURS`` edges a point) and one community's distances at a time, never ``n x n`` for the
whole set (a community is at most a few percent of it).

Measured in BENCHMARKS 16 (session 11).
"""

from __future__ import annotations

import numpy as np

from dialin.tools.graph_clusters import graph_cluster
from dialin.tools.hierarchy import Hierarchy, weighted_ward
from dialin.tools.vectors import l2_normalise


def graph_ward(Xn: np.ndarray, top: int, seed: int = 0) -> Hierarchy:
    """The tree of the L2-normalised rows ``Xn`` whose cut at ``top`` is about ``top`` graph communities."""
    from scipy.cluster.hierarchy import linkage

    Xn = l2_normalise(np.asarray(Xn))
    n = len(Xn)
    if n == 1:
        return Hierarchy(path="graph", Z=np.zeros((0, 4)), leaf_of=np.zeros(1, dtype=np.int64), m=1)
    com = graph_cluster(Xn, max(1, min(top, n)), seed=seed)
    rows = [np.flatnonzero(com == c) for c in range(int(com.max()) + 1)]
    rows = [r for r in rows if len(r)]
    local = [linkage(Xn[r], method="ward") if len(r) > 1 else np.zeros((0, 4)) for r in rows]
    order = sorted((float(Z[s, 2]), c, s) for c, Z in enumerate(local) for s in range(len(Z)))
    Z = np.zeros((max(0, n - 1), 4))
    node_of: dict[tuple[int, int], int] = {(c, i): int(p) for c, r in enumerate(rows) for i, p in enumerate(r)}
    head = [int(r[0]) for r in rows]  # each community's top node (a point while it has one member)
    step = 0
    for height, c, s in order:  # a parent is higher than its children, so this order keeps them first
        m = len(rows[c])
        a, b = (node_of[(c, int(v))] for v in local[c][s, :2])
        Z[step] = (min(a, b), max(a, b), height, local[c][s, 3])
        node_of[(c, m + s)] = head[c] = n + step
        step += 1
    C = np.stack([Xn[r].mean(0) for r in rows])
    above = weighted_ward(C, np.array([len(r) for r in rows], dtype=np.float64))
    ids = dict(enumerate(head))
    base = float(Z[:step, 2].max()) if step else 0.0
    for s, (a, b, height, size) in enumerate(above):
        x, y = ids[int(a)], ids[int(b)]
        Z[step] = (min(x, y), max(x, y), base + height, size)
        ids[len(rows) + s] = n + step
        step += 1
    return Hierarchy(path="graph", Z=Z, leaf_of=np.arange(n, dtype=np.int64), m=n)
