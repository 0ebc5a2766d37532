"""Algorithm 1 as a LangGraph state machine, then naming, role separation and merging.

    start -> propose_k -> cluster -> judge_cluster (x N, Send) -> select_k --(loop)--> propose_k
                                                                        \\-> leftovers -> name -> roles -> merge -> finalize

Every step is a function of ``dialin.graphs.discovery.steps``; the graph only wires them and
keeps indices in its state. Progress goes out as custom stream events.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send, interrupt

from dialin.agents.crowd_fit import crowd_summary, refit
from dialin.agents.namer import disambiguate
from dialin.graphs.discovery.controls import add_controls, control_summary
from dialin.graphs.discovery.shared import _emit, _ws, cluster_key, pending
from dialin.graphs.discovery.state import Context, DiscoveryInput, DiscoveryState, JudgeTask
from dialin.graphs.discovery.steps import (cluster_indices, judge_indices, merge_names, name_indices, propose_ks,
                                           separate)
from dialin.graphs.discovery.treecut import add_treecut
from dialin.result import build_result, judge_summary
from dialin.tools.cascade import triage
from dialin.tools.leftovers import assign_leftovers
from dialin.tools.review_priority import left, ordered
from dialin.tools.speakers import cluster_role
from dialin.workspace import Workspace


def score(good_sizes: list[int], bad_sizes: list[int], kind: str) -> float:
    """ratio: the paper's sentences in good / (sentences in bad + 1).

    balanced: a good cluster of s sentences counts s - 1 (singletons count nothing), so
    splitting into tiny trivially-coherent clusters stops paying off.
    """
    bad = sum(bad_sizes) + 1
    if kind == "balanced":
        return sum(s - 1 for s in good_sizes) / bad
    return sum(good_sizes) / bad


# -- the loop -------------------------------------------------------------------------
async def start(state: DiscoveryInput, runtime: Runtime[Context]) -> dict[str, Any]:
    ws = _ws(runtime)
    everyone = list(range(len(ws.corpus.unique_texts)))
    _emit(runtime, stage="start", n=len(everyone))
    return {"run_id": state["run_id"], "iteration": 1, "unassigned": everyone, "stop_reason": "",
            "loop": ws.config.method.loop}


async def propose_k(state: DiscoveryState, runtime: Runtime[Context]) -> dict[str, Any]:
    ws = _ws(runtime)
    m = ws.config.method
    n = len(state["unassigned"])
    t = state["iteration"]
    history = state.get("history", [])
    if t == 1 and m.k_candidates:
        ks = sorted({min(k, n) for k in m.k_candidates if k >= 1})
    else:
        center = None
        chosen = [h for h in history if h.get("chosen")]
        if chosen:
            last = chosen[-1]
            center = max(2, round(last["k"] * n / max(1, last["n"])))
        ks = await propose_ks(ws, n, history, center)
    _emit(runtime, stage="propose_k", iteration=t, candidates=ks)
    return {"candidates": ks}


def cluster(state: DiscoveryState, runtime: Runtime[Context]) -> dict[str, Any]:
    ws = _ws(runtime)
    t = state["iteration"]
    U = state["unassigned"]
    clusterings = {str(k): cluster_indices(ws, U, k) for k in state["candidates"]}
    unique = {cluster_key(t, c): c for cs in clusterings.values() for c in cs}
    decided, to_judge = triage(ws, unique)
    to_judge, answers, queue = add_controls(ws, t, to_judge, state.get("verdicts", {}))
    _emit(runtime, stage="cluster", iteration=t, total=len(to_judge), cascade=len(decided), controls=len(answers))
    return {"clusterings": clusterings, "to_judge": to_judge, "controls": answers, "queue": queue,
            "verdicts": {k: v.model_dump() for k, v in decided.items()}}


def fan_out(state: DiscoveryState) -> list[Send] | str:
    """One judge task per cluster the cascade left to the LLM (identical clusters once)."""
    todo = pending(state)
    if not todo:
        return "select_k"
    return [Send("judge_cluster", JudgeTask(key=k, members=v)) for k, v in todo.items()]


async def judge_cluster(task: JudgeTask, runtime: Runtime[Context]) -> dict[str, Any]:
    ws = _ws(runtime)
    verdict = await judge_indices(ws, task["members"])
    _emit(runtime, stage="judge", key=task["key"], label=verdict.label, source=verdict.source)
    return {"verdicts": {task["key"]: verdict.model_dump()}}


def _review_verdicts(ws: Workspace, t: int, clusters: list[list[int]], verdicts: dict[str, dict]) -> dict[str, dict]:
    """Ask a person about uncertain verdicts of the chosen K (config: method.review); with
    method.review_budget, about any machine verdict, most rows at stake first, until the budget is spent."""
    lo, hi = ws.config.method.review_band
    budget = left(ws.config.method.review_budget, verdicts)
    rows = Counter(ws.corpus.row_to_unique)
    items = []
    for members in clusters:
        key = cluster_key(t, members)
        v = verdicts[key]
        p = v.get("p_good")
        split_vote = len({x["label"] for x in v.get("votes", [])}) > 1
        uncertain = v["source"] != "cascade" and ((p is not None and lo <= p <= hi) or split_vote)
        if uncertain or (budget is not None and v["source"] != "human"):
            items.append({"key": key, "label": v["label"], "p_good": p, "size": len(members),
                          "rows": sum(rows[i] for i in members), "agreement": v.get("agreement"),
                          "members": members, "sample": ws.texts(v.get("sample") or members[:10])})
    if budget is not None:
        items = ordered(items, ws.config.method.review_order, ws.config.method.seed + t)[:budget]
    if not items:
        return {}
    answers = interrupt({"kind": "verdicts", "iteration": t, "items": items})
    changed = {}
    for key, label in (answers or {}).items():
        if key in verdicts and label in ("good", "bad"):
            changed[key] = {**verdicts[key], "label": label, "source": "human"}
    return changed


def select_k(state: DiscoveryState, runtime: Runtime[Context]) -> dict[str, Any]:
    ws = _ws(runtime)
    m = ws.config.method
    t = state["iteration"]
    U = state["unassigned"]
    verdicts = dict(state.get("verdicts", {}))
    crowd = ws.config.crowd  # Dawid-Skene / GLAD need every cluster judged; controls anchor Dawid-Skene
    refitted = refit(verdicts, crowd.aggregation, crowd.smoothing, state.get("controls", {}))
    verdicts.update(refitted)
    rows = []
    for k_str, clusters in state["clusterings"].items():
        labels = [verdicts[cluster_key(t, c)]["label"] for c in clusters]
        good = [len(c) for c, lab in zip(clusters, labels) if lab == "good"]
        bad = [len(c) for c, lab in zip(clusters, labels) if lab == "bad"]
        rows.append({"iteration": t, "k": int(k_str), "n": len(U), "clusters": len(clusters), "good": len(good),
                     "bad": len(bad), "good_sentences": sum(good), "bad_sentences": sum(bad),
                     "ratio": score(good, bad, "ratio"), "score": score(good, bad, m.score), "chosen": False})
    best = max(rows, key=lambda r: (r["score"], -r["k"]))
    best["chosen"] = True
    chosen = state["clusterings"][str(best["k"])]
    update: dict[str, Any] = {"verdicts": refitted} if refitted else {}
    if m.review or m.review_budget:
        changed = _review_verdicts(ws, t, chosen, verdicts)
        verdicts.update(changed)
        update["verdicts"] = {**refitted, **changed}
    accepted, rest = [], []
    for members in chosen:
        v = verdicts[cluster_key(t, members)]
        if v["label"] == "good":
            accepted.append({"members": members, "verdict": v, "iteration": t, "k": best["k"]})
        else:
            rest.extend(members)
    stop = ""
    if not accepted:
        stop = "no good cluster at the best K"
    elif t >= m.max_iterations:
        stop = f"reached max_iterations ({m.max_iterations})"
    elif len(rest) < max(m.min_unassigned, 3):
        stop = f"fewer than {max(m.min_unassigned, 3)} sentences left"
    _emit(runtime, stage="select_k", iteration=t, k=best["k"], ratio=best["ratio"], kept=len(accepted),
          left=len(rest), stop=stop)
    checked = control_summary(state.get("queue", []), verdicts, state.get("controls", {}))
    if checked:
        _emit(runtime, stage="controls", iteration=t, judges=checked)
    return {**update, "history": rows, "accepted": accepted, "unassigned": sorted(rest), "iteration": t + 1,
            "stop_reason": stop}


def route_start(state: DiscoveryState) -> str:
    return "tree_start" if state.get("loop") == "treecut" else "propose_k"


def after_select(state: DiscoveryState) -> str:
    return "leftovers" if state.get("stop_reason") else "propose_k"


# -- post-processing ----------------------------------------------------------------------
def leftovers(state: DiscoveryState, runtime: Runtime[Context]) -> dict[str, Any]:
    ws = _ws(runtime)
    accepted = [dict(a, members=list(a["members"])) for a in state.get("accepted", [])]
    roles = ws.speakers
    clusters = [a["members"] for a in accepted]
    cluster_roles = [cluster_role(c, roles, None) for c in clusters] if roles else None
    assigned, rest = assign_leftovers(ws.X, clusters, state["unassigned"], ws.config.method.leftover_similarity,
                                      groups=roles, cluster_groups=cluster_roles)
    for i, j in assigned.items():
        accepted[j]["members"].append(i)
        accepted[j].setdefault("joined", []).append(i)
    _emit(runtime, stage="leftovers", joined=len(assigned), unassigned=len(rest))
    return {"clusters": accepted, "leftovers": rest}


async def name(state: DiscoveryState, runtime: Runtime[Context]) -> dict[str, Any]:
    ws = _ws(runtime)
    clusters = state["clusters"]
    names = await asyncio.gather(*(name_indices(ws, c["members"]) for c in clusters))
    _emit(runtime, stage="name", named=len(names))
    return {"clusters": [dict(c, name=n) for c, n in zip(clusters, names)]}


async def roles(state: DiscoveryState, runtime: Runtime[Context]) -> dict[str, Any]:
    ws = _ws(runtime)
    out = []
    for c in state["clusters"]:
        for part in separate(ws, [c["members"]], [c.get("name")]):
            out.append(dict(c, members=part["members"], role=part["role"], name=part["name"] or c.get("name"),
                            renamed=part["name"] is None))
    fresh = [i for i, c in enumerate(out) if c.pop("renamed")]
    names = await asyncio.gather(*(name_indices(ws, out[i]["members"]) for i in fresh))
    for i, n in zip(fresh, names):
        out[i]["name"] = n
    _emit(runtime, stage="roles", clusters=len(out), split=len(fresh))
    return {"clusters": out}


def _review_merges(proposals: list[dict], clusters: list[dict], budget: int | None, order: str) -> list[dict]:
    """Ask about proposed merges; with a budget, the ones moving the most rows first (the rest stay accepted)."""
    items = [{"group": p["group"], "names": p["names"], "members": [clusters[i]["members"] for i in p["clusters"]],
              "rows": sum(len(clusters[i]["members"]) for i in p["clusters"]), "p_good": None} for p in proposals]
    if budget is not None:
        items = ordered(items, order)[:budget]
    if not items:
        return proposals
    answers = interrupt({"kind": "merges", "items": items})
    accepted = set(int(g) for g in (answers or {}).get("accept", []))
    asked = {it["group"] for it in items}
    for p in proposals:
        if p["group"] in asked:
            p["accepted"] = p["group"] in accepted
    return proposals


async def merge(state: DiscoveryState, runtime: Runtime[Context]) -> dict[str, Any]:
    ws = _ws(runtime)
    clusters = state["clusters"]
    if not ws.config.method.merge or len(clusters) < 2:
        return {"merges": []}
    by_role: dict[str, list[int]] = {}
    for i, c in enumerate(clusters):
        by_role.setdefault(c["role"], []).append(i)
    proposals = []
    for role, idx in by_role.items():
        if len(idx) < 2:
            continue
        plan = merge_names(ws, [clusters[i]["name"] for i in idx])
        for group in plan["groups"]:
            if len(group) > 1:
                members = [idx[g] for g in group]
                edges = [e for e in plan["edges"] if e[0] in group and e[1] in group]
                proposals.append({"group": len(proposals), "role": role, "clusters": members,
                                  "names": [clusters[i]["name"] for i in members],
                                  "edges": [[idx[e[0]], idx[e[1]], e[2], e[3]] for e in edges],
                                  "kappa": plan["kappa"], "accepted": True})
    if (ws.config.method.review or ws.config.method.review_budget) and proposals:
        proposals = _review_merges(proposals, clusters, left(ws.config.method.review_budget, state.get("verdicts", {})),
                                   ws.config.method.review_order)
    taken = {i for p in proposals if p["accepted"] for i in p["clusters"]}
    merged = [c for i, c in enumerate(clusters) if i not in taken]
    todo = [p for p in proposals if p["accepted"]]
    unions = [[m for i in p["clusters"] for m in clusters[i]["members"]] for p in todo]
    names = await asyncio.gather(*(name_indices(ws, u, stage="rename") for u in unions))
    for p, members, new_name in zip(todo, unions, names):
        parts = [clusters[i] for i in p["clusters"]]
        merged.append({"members": members, "name": new_name, "role": p["role"],
                       "verdict": {"label": "good", "source": "merge",
                                   "p_good": _mean([x["verdict"].get("p_good") for x in parts])},
                       "iteration": min(x["iteration"] for x in parts), "k": None,
                       "merged_from": [{"name": x["name"], "size": len(x["members"]), "verdict": x["verdict"]}
                                       for x in parts]})
        p["new_name"] = new_name
    _emit(runtime, stage="merge", proposed=len(proposals), merged=len(todo))
    return {"clusters": merged, "merges": proposals}


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def finalize(state: DiscoveryState, runtime: Runtime[Context]) -> dict[str, Any]:
    ws = _ws(runtime)
    clusters = sorted(state["clusters"], key=lambda c: (-len(c["members"]), min(c["members"])))
    for c, n in zip(clusters, disambiguate([c["name"] for c in clusters])):
        c["name"] = n
    result = build_result(ws, clusters, state.get("leftovers", []), state.get("history", []),
                          state.get("merges", []), state.get("stop_reason", ""),
                          judge=judge_summary(state.get("verdicts", {}).values())
                          | {"crowd": crowd_summary(state.get("verdicts", {}), ws.config.crowd.aggregation,
                                                    ws.config.crowd.smoothing, state.get("controls", {})),
                             "controls": control_summary(state.get("queue", []), state.get("verdicts", {}),
                                                         state.get("controls", {}))})
    revision = ws.store.save_revision(ws.run_id, result, "discovery")
    _emit(runtime, stage="done", clusters=len(clusters), revision=revision)
    return {"clusters": clusters, "result_revision": revision}


def build_graph() -> StateGraph:
    builder = StateGraph(DiscoveryState, context_schema=Context, input_schema=DiscoveryInput)
    builder.add_node("start", start)
    builder.add_node("propose_k", propose_k)
    builder.add_node("cluster", cluster)
    builder.add_node("judge_cluster", judge_cluster)
    builder.add_node("select_k", select_k)
    builder.add_node("leftovers", leftovers)
    builder.add_node("name", name)
    builder.add_node("roles", roles)
    builder.add_node("merge", merge)
    builder.add_node("finalize", finalize)
    add_treecut(builder, judge_cluster)
    builder.add_edge(START, "start")
    builder.add_conditional_edges("start", route_start, ["propose_k", "tree_start"])
    builder.add_edge("propose_k", "cluster")
    builder.add_conditional_edges("cluster", fan_out, ["judge_cluster", "select_k"])
    builder.add_edge("judge_cluster", "select_k")
    builder.add_conditional_edges("select_k", after_select, ["propose_k", "leftovers"])
    builder.add_edge("leftovers", "name")
    builder.add_edge("name", "roles")
    builder.add_edge("roles", "merge")
    builder.add_edge("merge", "finalize")
    builder.add_edge("finalize", END)
    return builder


graph = build_graph().compile(name="dialin-discovery")
