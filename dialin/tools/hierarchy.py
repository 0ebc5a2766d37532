"""One Ward hierarchy per iteration, cut at any K, that scales with n.

Two paths, chosen by size (``path="auto"``):

- ``exact``: scipy's Ward tree of the points themselves (O(n^2) memory: used up to ``exact_limit``).
- ``micro``: K-means (MiniBatch) into ``micro`` micro-clusters, then Ward on their centroids
  weighted by their sizes (a Lance-Williams update on an m x m matrix, m = ``micro``): cost grows
  about linearly in n; no n x n matrix is ever built.

Either way the result is one scipy-format linkage over leaves (points or micro-clusters), a leaf
per point, and nodes numbered as scipy does (leaves 0..m-1, merge i is node m+i, the root 2m-2).
``cut(k)`` gives the partition into k clusters; ``members(node)`` the points under a node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from dialin.tools.clustering import l2_normalise

HierarchyPath = Literal["auto", "exact", "micro"]


@dataclass
class Hierarchy:
    """A Ward tree over ``m`` leaves; ``leaf_of[i]`` is point i's leaf."""

    path: str
    Z: np.ndarray
    leaf_of: np.ndarray
    m: int
    _leaf_points: list[list[int]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if not self._leaf_points:
            pts: list[list[int]] = [[] for _ in range(self.m)]
            for i, leaf in enumerate(self.leaf_of.tolist()):
                pts[leaf].append(i)
            self._leaf_points = pts

    @property
    def root(self) -> int:
        return 2 * self.m - 2 if self.m > 1 else 0

    def children(self, node: int) -> tuple[int, int] | None:
        if node < self.m:
            return None
        a, b = self.Z[node - self.m, :2]
        return int(a), int(b)

    def leaves(self, node: int) -> list[int]:
        out, todo = [], [node]
        while todo:
            x = todo.pop()
            if x < self.m:
                out.append(x)
            else:
                todo.extend(self.children(x) or ())
        return out

    def members(self, node: int) -> list[int]:
        """The points under ``node``, sorted."""
        return sorted(i for leaf in self.leaves(node) for i in self._leaf_points[leaf])

    def size(self, node: int) -> int:
        return len(self.members(node)) if node >= self.m else len(self._leaf_points[node])

    def cut_nodes(self, k: int) -> list[int]:
        """The nodes of the cut into (at most) k clusters: undo the last k - 1 merges."""
        k = max(1, min(int(k), self.m))
        if self.m == 1:
            return [0]
        nodes = {self.root}
        for step in range(self.m - 2, self.m - 1 - k, -1):  # the last merges, latest first
            node = self.m + step
            nodes.discard(node)
            nodes.update(self.children(node) or ())
        return sorted(nodes)

    def cut(self, k: int) -> np.ndarray:
        """Point labels of the cut into k clusters (numbered by node order)."""
        leaf_label = np.empty(self.m, dtype=np.int64)
        for c, node in enumerate(self.cut_nodes(k)):  # O(m) in all: each leaf lies under one cut node
            leaf_label[self.leaves(node)] = c
        return leaf_label[self.leaf_of]


def weighted_ward(C: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Ward linkage (scipy format) of centroids ``C`` carrying ``w`` points each.

    The merge cost is the rise in the within-cluster sum of squares, w_i w_j / (w_i + w_j)
    ||c_i - c_j||^2, updated by Lance-Williams; each step merges the globally cheapest pair
    (nearest neighbours are cached per row). Memory m x m for m centroids.
    """
    m = len(C)
    if m == 1:
        return np.zeros((0, 4))
    C = np.asarray(C, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64).copy()
    sq = (C * C).sum(1)
    D = np.maximum(sq[:, None] + sq[None, :] - 2 * C @ C.T, 0.0)
    D *= (w[:, None] * w[None, :]) / (w[:, None] + w[None, :])
    np.fill_diagonal(D, np.inf)
    active = np.ones(m, dtype=bool)
    node = np.arange(m)
    nn = D.argmin(1)
    nd = D[np.arange(m), nn]
    Z = np.zeros((m - 1, 4))
    for step in range(m - 1):
        i = int(np.argmin(np.where(active, nd, np.inf)))
        j = int(nn[i])
        dij = D[i, j]
        wi, wj = w[i], w[j]
        a, b = sorted((int(node[i]), int(node[j])))
        Z[step] = (a, b, np.sqrt(2 * dij), wi + wj)
        # i becomes the union, j retires
        wk = w
        new = ((wi + wk) * D[i] + (wj + wk) * D[j] - wk * dij) / (wi + wj + wk)
        active[j] = False
        new[~active] = np.inf
        new[i] = np.inf
        D[i], D[:, i] = new, new
        D[j], D[:, j] = np.inf, np.inf
        w[i] = wi + wj
        node[i] = m + step
        # rows whose neighbour was i or j look again; others may now prefer i
        stale = active & ((nn == i) | (nn == j))
        stale[i] = True
        for r in np.flatnonzero(stale):
            nn[r] = int(D[r].argmin())
            nd[r] = D[r, nn[r]]
        closer = active & (new < nd)
        nn[closer] = i
        nd[closer] = new[closer]
        nd[j] = np.inf
    return Z


def choose_path(n: int, path: HierarchyPath, exact_limit: int) -> str:
    if path == "auto":
        return "exact" if n <= exact_limit else "micro"
    return path


def build_hierarchy(X: np.ndarray, *, path: HierarchyPath = "auto", micro: int = 3000, exact_limit: int = 5000,
                    seed: int = 0) -> Hierarchy:
    """The Ward hierarchy of the rows of ``X`` (L2-normalised first) by the path ``path`` (see module doc)."""
    X = l2_normalise(np.asarray(X))
    n = len(X)
    if n == 0:
        raise ValueError("nothing to cluster: X is empty")
    chosen = choose_path(n, path, exact_limit)
    if n == 1:
        return Hierarchy(path=chosen, Z=np.zeros((0, 4)), leaf_of=np.zeros(1, dtype=np.int64), m=1)
    if chosen == "exact" or n <= micro:
        from scipy.cluster.hierarchy import linkage

        Z = linkage(X, method="ward")
        return Hierarchy(path="exact", Z=Z, leaf_of=np.arange(n), m=n)
    from sklearn.cluster import MiniBatchKMeans

    km = MiniBatchKMeans(n_clusters=micro, random_state=seed, n_init=1, batch_size=max(4096, 3 * micro),
                         max_iter=10, reassignment_ratio=0.0, init="random")
    labels = km.fit_predict(X)
    used, leaf_of = np.unique(labels, return_inverse=True)
    w = np.bincount(leaf_of).astype(np.float64)
    C = np.zeros((len(used), X.shape[1]))
    np.add.at(C, leaf_of, X)
    C /= w[:, None]
    return Hierarchy(path="micro", Z=weighted_ward(C, w), leaf_of=leaf_of.astype(np.int64), m=len(used))
