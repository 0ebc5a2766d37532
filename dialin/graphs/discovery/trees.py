"""The run's Ward hierarchies: one per set of sentences, built once and cut at any K.

Both loops use it: the ratio loop cuts the tree of an iteration's unassigned sentences at every
candidate K (``steps.cluster_indices``, ``method.clustering: agglomerative``) instead of building
one Ward tree per K; the tree-cut loop walks it top-down (``treecut``). The path (exact Ward up to
``method.exact_limit`` sentences, else Ward on ``method.micro_clusters`` K-means micro-clusters) is
chosen by size (``dialin.tools.hierarchy``); ``method.hierarchy: graph`` is Ward inside the kNN graph's
communities instead (``dialin.tools.graph_tree``).
"""

from __future__ import annotations

import math
from collections import OrderedDict

from dialin.graphs.discovery.shared import cluster_key
from dialin.tools.graph_tree import graph_ward
from dialin.tools.hierarchy import Hierarchy, build_hierarchy
from dialin.workspace import Workspace

_TREES: OrderedDict[tuple[int, int, str], Hierarchy] = OrderedDict()
KEEP = 4
"""Trees kept (role groups each have their own; an iteration's groups stay in memory)."""


def start_k(n: int, factor: float = 1.0) -> int:
    """Clusters of the first cut: ``factor`` x sqrt(n/2) (the tree-cut loop's start, the graph tree's communities)."""
    return min(n, max(2, round(factor * math.sqrt(n / 2))))


def tree_of(ws: Workspace, U: list[int]) -> Hierarchy:
    """The hierarchy of ``U`` (positions in U), built once per workspace and set (deterministic: a resumed
    run rebuilds the same tree)."""
    m = ws.config.method
    key = (id(ws), len(U), cluster_key(0, U))
    if key in _TREES:
        _TREES.move_to_end(key)
        return _TREES[key]
    if m.hierarchy == "graph":  # Ward inside the kNN graph's communities; the cut at top = the communities
        _TREES[key] = graph_ward(ws.X[U], top=start_k(len(U), m.tree_start), seed=m.seed)
    else:
        _TREES[key] = build_hierarchy(ws.X[U], path=m.hierarchy, micro=m.micro_clusters,
                                      exact_limit=m.exact_limit, seed=m.seed)
    while len(_TREES) > KEEP:
        _TREES.popitem(last=False)
    return _TREES[key]
