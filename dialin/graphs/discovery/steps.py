"""The discovery graph's steps: the pure tools (``dialin.tools``) and the LLM roles
(``dialin.agents``) applied to one run's workspace.

Each function takes the ``Workspace`` and JSON-like arguments (sentence indices into the
workspace's unique sentences, K values, names) and fills unset ones from the config. The
graph's nodes call these plain functions; they are not LangChain tools (the inspection
agent's tools are ``dialin.inspect.tools``).
"""

from __future__ import annotations

import numpy as np

from dialin.agents.judge import judge_sample
from dialin.agents.k_predictor import k_grid, predict_k
from dialin.agents.verdicts import Verdict
from dialin.errors import ParseError
from dialin.graphs.discovery.trees import tree_of
from dialin.tools.cascade import fallback_verdict
from dialin.tools.clustering import _renumber as renumber
from dialin.tools.clustering import cluster as cluster_fn
from dialin.tools.clustering import groups as label_groups
from dialin.tools.merging import equivalent_cosine_theta, merge_labels
from dialin.tools.naming import name_cluster
from dialin.tools.sampling import sample as sample_fn
from dialin.tools.speakers import allocate_k, cluster_role, split_by_role
from dialin.workspace import Workspace


def cluster_indices(ws: Workspace, indices: list[int], k: int, method: str | None = None, seed: int | None = None,
                    by_role: bool = True) -> list[list[int]]:
    """Clusters (lists of indices) of ``indices``; role groups apart when roles are known."""
    m = ws.config.method
    method = method or m.clustering
    seed = m.seed if seed is None else seed
    roles = ws.speakers if by_role else None
    groups = split_by_role(indices, roles) if roles else {"": list(indices)}
    ks = allocate_k({g: len(v) for g, v in groups.items()}, k)
    out: list[list[int]] = []
    for g, members in groups.items():
        if method == "agglomerative" and len(members) > 2:  # one tree per set of sentences, cut at every K
            labels = renumber(tree_of(ws, members).cut(min(ks[g], len(members))))
        else:
            labels = cluster_fn(ws.X[members], ks[g], method=method, seed=seed)
        pos = np.asarray(members)
        out.extend(pos[part].tolist() for part in label_groups(labels))
    return [c for c in out if c]


def sample_indices(ws: Workspace, indices: list[int], n: int | None = None, strategy: str | None = None) -> list[int]:
    m = ws.config.method
    return sample_fn(ws.X, indices, n=n or m.n_sentences, strategy=strategy or m.sampling, seed=m.seed)


async def judge_indices(ws: Workspace, indices: list[int], roles: list[str] | None = None,
                        stage: str = "judge") -> Verdict:
    """The judge's (or the crowd's) verdict on one cluster, from a sample of its sentences."""
    coh = ws.cohesion(indices)
    picked = sample_indices(ws, indices)
    try:
        verdict = await judge_sample(ws.router, roles or ws.config.judges(), ws.texts(picked),
                                     aggregation=ws.config.crowd.aggregation, stage=stage)
    except ParseError as exc:
        answer = (exc.last_output or "")[:40]
        verdict = fallback_verdict(ws, indices, f"the judge gave no usable answer ({answer!r}, {exc.attempts} calls)")
    verdict.cohesion = coh
    verdict.sample = picked
    return verdict


async def judge_pair(ws: Workspace, a: list[int], b: list[int], checks: int = 1, stage: str = "merge") -> Verdict:
    """May clusters ``a`` and ``b`` merge? The judge sees a mixed sample (half from each); every one of
    ``checks`` independently drawn samples must be judged good."""
    m = ws.config.method
    half = max(1, m.n_sentences // 2)
    verdict = None
    for c in range(checks):
        picked = (sample_fn(ws.X, a, n=half, strategy=m.sampling, seed=m.seed + c)
                  + sample_fn(ws.X, b, n=half, strategy=m.sampling, seed=m.seed + c))
        if c:  # small clusters give the same sentences again: shown in another order, the check is a new question
            picked = [picked[i] for i in np.random.default_rng(m.seed + c).permutation(len(picked))]
        verdict = await judge_sample(ws.router, ws.config.judges(), ws.texts(picked),
                                     aggregation=ws.config.crowd.aggregation, stage=stage)
        verdict.sample = picked
        if verdict.label != "good":
            break
    assert verdict is not None
    verdict.cohesion = ws.cohesion(list(a) + list(b))
    return verdict


async def name_indices(ws: Workspace, indices: list[int], stage: str = "name") -> str:
    m = ws.config.method
    shown = [] if m.naming == "keywords" else ws.texts(sample_indices(ws, indices))  # only a namer reads a sample
    role = cluster_role(indices, ws.speakers, None) if ws.speakers else None
    return await name_cluster(ws.router, ws.embedder, shown, ws.keywords(indices, 8), ws.X[indices], mode=m.naming,
                              grounded=m.grounded_names, stage=stage, texts=ws.texts(indices),
                              facts=ws.word_facts(), role=role)


async def propose_ks(ws: Workspace, n_unassigned: int, history: list[dict], center: int | None = None) -> list[int]:
    """LLM-predicted K values (when a k_predictor role is configured), topped up from the grid."""
    m = ws.config.method
    grid = k_grid(n_unassigned, m.k_grid_size, center)
    predicted: list[int] = []
    if history and m.use_k_predictor and ws.router.has_role("k_predictor"):
        predicted = await predict_k(ws.router, history, n_unassigned, top=m.k_grid_size)
    # predictions join the grid when plausible (within 2x of its span): a weak predictor cannot derail K
    lo, hi = max(2, min(grid) // 2), max(grid) * 2
    extra = [k for k in predicted if lo <= k <= hi and k not in grid][:2]
    return sorted(grid + extra)


def merge_names(ws: Workspace, names: list[str], theta: float | None = None, tau: float | None = None,
                distance: str | None = None, gate: str | None = None) -> dict:
    m = ws.config.method
    distance = distance or m.merge_distance
    theta = m.merge_theta if theta is None else theta
    if distance == "cosine":
        theta = equivalent_cosine_theta(theta)
    E = ws.embedder.encode([n.replace("-", " ").replace("_", " ") for n in names])
    plan = merge_labels(E, theta=theta, tau=m.merge_tau if tau is None else tau, distance=distance,
                        gate=gate or m.merge_gate)
    return {"groups": plan.groups, "edges": [list(e) for e in plan.edges],
            "cut_edges": [list(e) for e in plan.cut_edges], "kappa": plan.kappa}


def separate(ws: Workspace, clusters: list[list[int]], names: list[str | None] | None = None) -> list[dict]:
    """Role-pure clusters: split any cluster whose members' roles differ; tag each with its role."""
    roles = ws.speakers
    names = names or [None] * len(clusters)
    out = []
    for members, name in zip(clusters, names):
        parts = split_by_role(members, roles) if roles else {cluster_role(members, None, name): list(members)}
        for role, part in parts.items():
            out.append({"members": part, "role": role, "name": name if len(parts) == 1 else None})
    return out
