"""Communities of a k-nearest-neighbour graph (``method.clustering: graph``).

Each sentence is joined to its ``NEIGHBOURS`` most similar sentences (cosine, weights = the
similarity), and the graph is split into communities by Louvain modularity. The resolution sets
how fine the communities are; to serve the loop's candidate K it is searched until the number of
communities is about K. The kNN graph is built in blocks of ``BLOCK`` rows, so memory is
``BLOCK x n``, never ``n x n``.

Two paths, chosen by size (``path_for``):

- up to ``LARGE`` sentences: networkx Louvain, the resolution bisected in log space (at most
  ``SEARCH_STEPS`` runs), the kNN in float64: the partitions measured in BENCHMARKS 16 (session 10).
- above ``LARGE``: the kNN in float32, Louvain by igraph (C, the optional extra ``dialin[graph]``)
  when it is installed, else networkx; the resolution starts where ``count ~ 0.58 sqrt(resolution n)``
  puts K and is refined by secant steps on log(count) vs log(resolution) (usually 2-4 runs instead
  of up to 12). Measured in BENCHMARKS 15 (session 11).

Measured on BANKING77 small and HWU64 test (same MiniLM vectors, BENCHMARKS 16, session 10):
at the same number of clusters these communities score above Ward's (the partitions follow
the dense regions of the embedding, not Ward's variance-balanced cuts).
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from typing import Any, Callable

import numpy as np

NEIGHBOURS = 10
"""Neighbours per sentence in the graph (the probe's setting; 5-15 measured alike)."""
BLOCK = 1024
"""Rows of the similarity matrix held at once while finding neighbours (at most; see ``CELLS``)."""
CELLS = 1 << 24
"""At most this many similarities held at once: above 16,384 rows the block shrinks below ``BLOCK`` (55k: 305
rows), so the block's similarities, their negation and argpartition's int64 indices stay ~0.3 GB, not ~0.9 GB."""
SEARCH_STEPS = 12
"""Louvain runs at most, per K, while the resolution is searched."""
LARGE = 5000
"""Above this many sentences the large path is taken (float32 kNN, igraph if installed, secant search)."""
SPREAD = 0.58
"""count ~ SPREAD x sqrt(resolution x n): the first resolution tried on the large path (read off BANKING77 small and
HWU64 test, session 10; on the scale corpus, 10k-55k, it gives 72-88% of K = 141 and 79-194% of K = 1,500: the
secant steps do the rest)."""


def block_rows(n: int) -> int:
    """Rows of similarities computed at once for ``n`` rows: ``BLOCK``, fewer when that is over ``CELLS``."""
    return min(BLOCK, max(64, CELLS // max(n, 1)))


FLOOR = 1e-6
"""The least edge weight: a negative cosine joins its rows barely, not by weight 0 (a graph of only 0 weights, e.g. a
few opposed sentences, has no modularity: Louvain would divide by zero)."""

MEMO = 2
"""kNN edge lists kept (keyed by the vectors' bytes): the loop asks several K of one set of sentences, and the
kNN (O(n^2 d) time) is by far the costliest part at scale."""
_EDGES: OrderedDict[tuple[Any, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = OrderedDict()


def knn_edges(Xn: np.ndarray, neighbours: int = NEIGHBOURS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kNN edges of ``Xn`` (``_knn_edges``), remembered for the last ``MEMO`` sets of vectors."""
    Xn = np.ascontiguousarray(Xn)
    key = (Xn.shape, Xn.dtype.str, neighbours, hashlib.blake2b(Xn.data, digest_size=16).hexdigest())
    if key not in _EDGES:
        _EDGES[key] = _knn_edges(Xn, neighbours)
        while len(_EDGES) > MEMO:
            _EDGES.popitem(last=False)
    _EDGES.move_to_end(key)
    return _EDGES[key]


def _knn_edges(Xn: np.ndarray, neighbours: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's ``neighbours`` nearest rows of the L2-normalised ``Xn``: (row, neighbour, cosine floored
    at ``FLOOR``), row-major; found ``BLOCK`` rows (fewer above ``CELLS`` similarities) at a time in ``Xn``'s dtype."""
    n = len(Xn)
    k = min(neighbours, n - 1)
    block = block_rows(n)
    src, dst, wgt = [], [], []
    for start in range(0, n, block):
        S = Xn[start:start + block] @ Xn.T
        rows = np.arange(len(S))
        S[rows, start + rows] = -np.inf  # not one's own neighbour
        nn = np.argpartition(-S, k - 1, axis=1)[:, :k]
        src.append(np.repeat(start + rows, k))
        dst.append(nn.ravel())
        wgt.append(np.maximum(S[rows[:, None], nn], FLOOR).ravel())
    return np.concatenate(src), np.concatenate(dst), np.concatenate(wgt).astype(np.float64)


def knn_graph(Xn: np.ndarray, neighbours: int = NEIGHBOURS):  # noqa: ANN201 - networkx is imported lazily
    """The symmetric weighted kNN graph of the L2-normalised rows ``Xn`` (networkx; weight = cosine, floored at ``FLOOR``)."""
    import networkx as nx

    a, b, w = knn_edges(Xn, neighbours)
    G = nx.Graph()
    G.add_nodes_from(range(len(Xn)))
    G.add_weighted_edges_from(zip(a.tolist(), b.tolist(), w.tolist()))
    return G


def _communities(G, resolution: float, seed: int) -> np.ndarray:  # noqa: ANN001 - a networkx Graph
    import networkx as nx

    labels = np.empty(G.number_of_nodes(), dtype=np.int64)
    for c, members in enumerate(nx.community.louvain_communities(G, weight="weight", resolution=resolution,
                                                                seed=seed)):
        labels[list(members)] = c
    return labels


def igraph_available() -> bool:
    try:
        import igraph  # noqa: F401
    except ImportError:
        return False
    return True


def _igraph_runner(Xn: np.ndarray, neighbours: int, seed: int) -> Callable[[float], np.ndarray]:
    import random

    import igraph as ig

    a, b, w = knn_edges(Xn, neighbours)
    g = ig.Graph(n=len(Xn), edges=np.column_stack([a, b]).tolist(), edge_attrs={"weight": w.tolist()})
    g.simplify(combine_edges="max")  # i->j and j->i are one edge, as in networkx

    def run(resolution: float) -> np.ndarray:
        ig.set_random_number_generator(random.Random(seed))
        try:
            return np.asarray(g.community_multilevel(weights="weight", resolution=resolution).membership,
                              dtype=np.int64)
        finally:
            ig.set_random_number_generator(random)

    return run


def path_for(n: int) -> str:
    """The path ``graph_cluster`` takes for ``n`` sentences: networkx-bisect, igraph-secant or networkx-secant."""
    if n <= LARGE:
        return "networkx-bisect"
    return "igraph-secant" if igraph_available() else "networkx-secant"


def graph_cluster(Xn: np.ndarray, k: int, seed: int = 0, neighbours: int = NEIGHBOURS) -> np.ndarray:
    """About ``k`` Louvain communities of the kNN graph of ``Xn``: the resolution is searched until the count
    is within 2% of ``k`` (or ``SEARCH_STEPS`` runs); the closest partition is returned. The path (module doc)
    is chosen by size."""
    path = path_for(len(Xn))
    if path == "networkx-bisect":
        G = knn_graph(Xn, neighbours)
        return _search(lambda r: _communities(G, r, seed), k)
    X32 = np.asarray(Xn, dtype=np.float32)
    if path == "igraph-secant":
        return _search(_igraph_runner(X32, neighbours, seed), k, first_resolution(len(Xn), k))
    G = knn_graph(X32, neighbours)
    return _search(lambda r: _communities(G, r, seed), k, first_resolution(len(Xn), k))


def _count(labels: np.ndarray) -> int:
    return len(np.unique(labels))


def first_resolution(n: int, k: int) -> float:
    """The resolution at which ``count ~ SPREAD sqrt(resolution n)`` gives ``k`` communities."""
    return min(500.0, max(0.05, (k / SPREAD) ** 2 / max(n, 1)))


def _search(run: Callable[[float], np.ndarray], k: int, start: float | None = None) -> np.ndarray:
    """Search log(resolution) in [0.05, 500] until the count is within 2% of ``k`` (at most ``SEARCH_STEPS`` runs);
    the closest partition seen is returned. ``start`` None: bisection (session 10's search). Else from ``start``
    by secant steps on log(count) (slope 0.5 until two points are known), kept inside the bracket the counts seen
    so far give; a step outside it bisects the bracket instead."""
    lo, hi = math.log(0.05), math.log(500.0)
    x = (lo + hi) / 2 if start is None else math.log(start)
    seen: list[tuple[float, float]] = []
    best: Any = None
    best_gap = math.inf
    for _ in range(SEARCH_STEPS):
        labels = run(math.exp(x))
        count = _count(labels)
        gap = abs(count - k)
        if gap < best_gap:
            best, best_gap = labels, gap
        if gap <= max(1, int(0.02 * k)):
            break
        if count < k:
            lo = max(lo, x)
        else:
            hi = min(hi, x)
        if start is None:
            x = (lo + hi) / 2
            continue
        seen.append((x, math.log(max(count, 1))))
        slope = 0.5
        if len(seen) >= 2 and abs(seen[-1][0] - seen[-2][0]) > 1e-9:
            slope = (seen[-1][1] - seen[-2][1]) / (seen[-1][0] - seen[-2][0])
            slope = min(2.0, max(0.1, slope))
        nxt = x + (math.log(k) - seen[-1][1]) / slope
        x = nxt if lo < nxt < hi else (lo + hi) / 2
    assert best is not None
    return best


