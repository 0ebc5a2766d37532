"""The tree-cut loop (``method.loop: treecut``): the judge cuts one hierarchy, then verifies merges.

    tree_start -> tree_cluster -> tree_judge (x N, Send) -> tree_step --(a bad node splits)--> tree_cluster
                                                                   \\-> pair_cluster -> pair_judge (x N) -> pair_step
                                                                              ^-----(merges made, rounds left)--/
                                                                   pair_step -> reassign -> name (the common tail)

1. One Ward tree of all sentences (``dialin.tools.hierarchy``: exact, or Ward on K-means
   micro-clusters for large n; the path is chosen by size and reported). The cut starts at
   ``tree_start`` x sqrt(n/2) clusters; each node is judged (the cascade first, then the LLM): good nodes are
   kept, bad nodes are replaced by their two children, nodes below ``min_cluster_size`` are
   set aside. K emerges.
2. ``merge_rounds`` rounds of merges: each kept cluster's nearest kept cluster (centroid
   cosine), the closest pairs first, one merge per cluster per round; the judge sees a mixed
   sample, half from each, and all ``merge_checks`` samples must be good.
   A pair whose union is a node the judge already called bad is not asked again.
3. Kept clusters under ``dissolve_below`` x the median size are dissolved; what was set aside joins the
   nearest kept cluster (``reassign_similarity``; -1: all do).

``judge_budget_total`` caps the LLM judge calls of the whole run (nodes, the biggest first, and merge
checks); beyond it nodes are decided by the cascade's score and no more merges are asked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from langgraph.runtime import Runtime
from langgraph.types import Send

from dialin.graphs.discovery.shared import _emit, _ws, cluster_key, pending
from dialin.graphs.discovery.state import Context, DiscoveryState, JudgeTask
from dialin.graphs.discovery.steps import judge_pair
from dialin.graphs.discovery.trees import start_k, tree_of
from dialin.tools.cascade import fallback_verdict, triage
from dialin.tools.leftovers import assign_leftovers, centroids
from dialin.workspace import Workspace


def budget_left(ws: Workspace, state: DiscoveryState) -> int | None:
    """LLM judge calls the run may still ask (method.judge_budget_total), None = no cap."""
    total = ws.config.method.judge_budget_total
    return None if total is None else max(0, total - state.get("tree_spent", 0))


def within_budget(ws: Workspace, state: DiscoveryState, to_judge: dict[str, list[int]],
                  cost: int) -> tuple[dict[str, list[int]], list[str]]:
    """The part of ``to_judge`` the run-wide budget pays for (``cost`` calls each, in the given order) and the
    keys left over."""
    left = budget_left(ws, state)
    if left is None:
        return to_judge, []
    keys = list(to_judge)
    n = min(len(keys), left // max(1, cost))
    return {k: to_judge[k] for k in keys[:n]}, keys[n:]


def tree_start(state: DiscoveryState, runtime: Runtime[Context]) -> dict[str, Any]:
    ws = _ws(runtime)
    U = state["unassigned"]
    h = tree_of(ws, U)
    k0 = start_k(len(U), ws.config.method.tree_start)
    _emit(runtime, stage="hierarchy", path=h.path, leaves=h.m, n=len(U), start_k=k0)
    return {"frontier": h.cut_nodes(k0), "tree_round": 1, "tree_accepted": [], "tree_rest": [], "tree_spent": 0,
            "tree_split": [],
            "history": [{"iteration": 0, "stage": "hierarchy", "path": h.path, "leaves": h.m, "n": len(U),
                         "start_k": k0}]}


def tree_cluster(state: DiscoveryState, runtime: Runtime[Context]) -> dict[str, Any]:
    ws = _ws(runtime)
    U = state["unassigned"]
    h = tree_of(ws, U)
    r = state["tree_round"]
    small, nodes, unique = [], {}, {}
    for node in state["frontier"]:
        members = [U[i] for i in h.members(node)]
        if len(members) < ws.config.method.min_cluster_size:
            small.extend(members)
            continue
        key = cluster_key(r, members)
        nodes[key], unique[key] = node, members
    decided, to_judge = triage(ws, unique)
    to_judge = dict(sorted(to_judge.items(), key=lambda kv: (-len(kv[1]), kv[0])))  # the budget goes to big nodes
    to_judge, over = within_budget(ws, state, to_judge, len(ws.config.judges()))
    for key in over:
        decided[key] = fallback_verdict(ws, unique[key], "the run-wide judge budget is spent")
    _emit(runtime, stage="cluster", iteration=r, total=len(to_judge), cascade=len(decided))
    return {"tree_nodes": nodes, "to_judge": to_judge, "tree_rest": state.get("tree_rest", []) + small,
            "tree_spent": state.get("tree_spent", 0) + len(to_judge) * len(ws.config.judges()),
            "verdicts": {k: v.model_dump() for k, v in decided.items()}}


def tree_fan_out(state: DiscoveryState) -> list[Send] | str:
    todo = pending(state)
    return [Send("tree_judge", JudgeTask(key=k, members=v)) for k, v in todo.items()] if todo else "tree_step"


def tree_step(state: DiscoveryState, runtime: Runtime[Context]) -> dict[str, Any]:
    ws = _ws(runtime)
    U = state["unassigned"]
    h = tree_of(ws, U)
    r = state["tree_round"]
    verdicts = state.get("verdicts", {})
    kept, split, rest, pairs = [], [], [], []
    for key, node in state.get("tree_nodes", {}).items():
        v = verdicts[key]
        members = [U[i] for i in h.members(node)]
        if v["label"] == "good":
            kept.append({"members": members, "verdict": v, "iteration": r, "k": None, "node": node})
        elif h.children(node) is None:
            rest.extend(members)
        else:
            split.extend(h.children(node) or ())
            pairs.append(sorted(h.children(node) or ()))
    _emit(runtime, stage="select_k", iteration=r, k=len(kept), ratio=None, kept=len(kept), left=len(split), stop="")
    return {"tree_accepted": state.get("tree_accepted", []) + kept, "tree_rest": state.get("tree_rest", []) + rest,
            "frontier": split, "tree_round": r + 1, "tree_split": state.get("tree_split", []) + pairs,
            "history": [{"iteration": r, "stage": "tree", "judged": len(state.get("tree_nodes", {})),
                         "good": len(kept), "bad": len(split) // 2, "good_sentences": sum(len(c["members"])
                                                                                          for c in kept)}]}


def after_tree(state: DiscoveryState) -> str:
    return "tree_cluster" if state.get("frontier") else "pair_cluster"


def merge_candidates(X: np.ndarray, clusters: list[list[int]],
                     refused: set[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """Each cluster's nearest cluster (centroid cosine) but those of the ``refused`` pairs (positions), closest
    pairs first, each cluster in one pair at most."""
    if len(clusters) < 2:
        return []
    C = centroids(X, clusters)
    S = C @ C.T
    np.fill_diagonal(S, -np.inf)
    for i, j in refused or ():
        S[i, j] = S[j, i] = -np.inf
    if not np.isfinite(S).any():
        return []
    nn = S.argmax(1)
    pairs = sorted({(min(i, int(j)), max(i, int(j))) for i, j in enumerate(nn) if np.isfinite(S[i, j])},
                   key=lambda p: (-S[p], p))  # a cluster refused with every other has no candidate
    used: set[int] = set()
    out = []
    for i, j in pairs:
        if i not in used and j not in used:
            used.update((i, j))
            out.append((i, j))
    return out


def digest(members: list[int]) -> str:
    """A cluster's identity across merge rounds."""
    return cluster_key(0, members).split(":")[1]


def pair_cluster(state: DiscoveryState, runtime: Runtime[Context]) -> dict[str, Any]:
    ws = _ws(runtime)
    m = ws.config.method
    r = state["tree_round"]
    accepted = state.get("tree_accepted", [])
    clusters = [c["members"] for c in accepted]
    if m.merge_rounds <= 0 or sum(1 for h in state.get("history", []) if h.get("stage") == "merge") >= m.merge_rounds:
        return {"pairs": {}, "to_judge": {}}
    seen = {tuple(p) for p in state.get("tree_split", [])}  # unions the judge already called bad as a tree node
    ids = {digest(c): k for k, c in enumerate(clusters)}
    refused = {(ids[a], ids[b]) for a, b in state.get("tree_refused", []) if a in ids and b in ids}
    pairs, unique = {}, {}
    for i, j in merge_candidates(ws.X, clusters, refused):
        if tuple(sorted((accepted[i].get("node", -1), accepted[j].get("node", -2)))) in seen:
            continue
        key = "m" + cluster_key(r, clusters[i]) + ":" + cluster_key(r, clusters[j]).split(":")[1]
        pairs[key] = [i, j]
        unique[key] = clusters[i] + clusters[j]
    decided, to_judge = triage(ws, unique)
    cost = m.merge_checks * len(ws.config.judges())
    to_judge, over = within_budget(ws, state, to_judge, cost)
    for key in over:  # the run-wide budget is spent: these pairs are not asked and stay apart
        del pairs[key]
    _emit(runtime, stage="cluster", iteration=r, total=len(to_judge), cascade=len(decided))
    return {"pairs": pairs, "to_judge": to_judge, "tree_spent": state.get("tree_spent", 0) + len(to_judge) * cost,
            "verdicts": {k: v.model_dump() for k, v in decided.items()}}


def pair_fan_out(state: DiscoveryState) -> list[Send] | str:
    clusters = [c["members"] for c in state.get("tree_accepted", [])]
    todo = pending(state)
    if not todo:
        return "pair_step"
    return [Send("pair_judge", JudgeTask(key=k, members=todo[k], pair=[clusters[i] for i in state["pairs"][k]]))
            for k in todo]


async def pair_judge(task: JudgeTask, runtime: Runtime[Context]) -> dict[str, Any]:
    ws = _ws(runtime)
    a, b = task["pair"]
    verdict = await judge_pair(ws, a, b, checks=ws.config.method.merge_checks)
    _emit(runtime, stage="judge", key=task["key"], label=verdict.label, source=verdict.source)
    return {"verdicts": {task["key"]: verdict.model_dump()}}


def pair_step(state: DiscoveryState, runtime: Runtime[Context]) -> dict[str, Any]:
    accepted = state.get("tree_accepted", [])
    pairs = state.get("pairs", {})
    if not pairs:
        return {"stop_reason": "tree cut and merges done"}
    verdicts = state.get("verdicts", {})
    merged, taken, refused = [], set(), []
    for key, (i, j) in pairs.items():
        a, b = accepted[i], accepted[j]
        if verdicts[key]["label"] == "good":
            merged.append({"members": a["members"] + b["members"], "verdict": {**verdicts[key], "source": "merge"},
                           "iteration": min(a["iteration"], b["iteration"]), "k": None})
            taken.update((i, j))
        else:
            refused.append([digest(a["members"]), digest(b["members"])])  # the next round asks the next nearest
    _emit(runtime, stage="merge", proposed=len(pairs), merged=len(merged))
    out: dict[str, Any] = {"history": [{"iteration": state["tree_round"], "stage": "merge", "pairs": len(pairs),
                                        "merged": len(merged)}], "tree_round": state["tree_round"] + 1,
                           "tree_accepted": merged + [c for k, c in enumerate(accepted) if k not in taken],
                           "tree_refused": state.get("tree_refused", []) + refused}
    if not merged:
        out["pairs"] = {}
        out["stop_reason"] = "tree cut and merges done"
    return out


def after_pairs(state: DiscoveryState) -> str:
    return "pair_cluster" if state.get("pairs") else "reassign"


def dissolve_small(accepted: list[dict], share: float) -> tuple[list[dict], list[int]]:
    """The clusters of at least ``share`` x the median size, and the members of the others."""
    if share <= 0 or len(accepted) < 2:
        return accepted, []
    floor = share * float(np.median([len(a["members"]) for a in accepted]))
    keep = [a for a in accepted if len(a["members"]) >= floor]
    return keep, [i for a in accepted if len(a["members"]) < floor for i in a["members"]]


def reassign(state: DiscoveryState, runtime: Runtime[Context]) -> dict[str, Any]:
    ws = _ws(runtime)
    accepted = [dict(a, members=list(a["members"])) for a in state.get("tree_accepted", [])]
    accepted, dissolved = dissolve_small(accepted, ws.config.method.dissolve_below)
    rest = sorted(set(state.get("tree_rest", [])) | set(dissolved))
    if not accepted:
        return {"clusters": [], "leftovers": rest, "stop_reason": "the judge kept no cluster"}
    assigned, left = assign_leftovers(ws.X, [a["members"] for a in accepted], rest,
                                      ws.config.method.reassign_similarity)
    for i, j in assigned.items():
        accepted[j]["members"].append(i)
        accepted[j].setdefault("joined", []).append(i)
    h = tree_of(ws, state["unassigned"])
    _emit(runtime, stage="leftovers", joined=len(assigned), unassigned=len(left))
    return {"clusters": accepted, "leftovers": left,
            "stop_reason": f"tree cut and merges done (hierarchy: {h.path}, {h.m} leaves)"}


def add_treecut(builder: Any, judge_node: Any) -> None:
    """The tree-cut nodes and edges (``judge_node`` judges one cluster); ``start`` routes here under
    ``method.loop: treecut``."""
    builder.add_node("tree_start", tree_start)
    builder.add_node("tree_cluster", tree_cluster)
    builder.add_node("tree_judge", judge_node)
    builder.add_node("tree_step", tree_step)
    builder.add_node("pair_cluster", pair_cluster)
    builder.add_node("pair_judge", pair_judge)
    builder.add_node("pair_step", pair_step)
    builder.add_node("reassign", reassign)
    builder.add_edge("tree_start", "tree_cluster")
    builder.add_conditional_edges("tree_cluster", tree_fan_out, ["tree_judge", "tree_step"])
    builder.add_edge("tree_judge", "tree_step")
    builder.add_conditional_edges("tree_step", after_tree, ["tree_cluster", "pair_cluster"])
    builder.add_conditional_edges("pair_cluster", pair_fan_out, ["pair_judge", "pair_step"])
    builder.add_edge("pair_judge", "pair_step")
    builder.add_conditional_edges("pair_step", after_pairs, ["pair_cluster", "reassign"])
    builder.add_edge("reassign", "name")
