"""The method's steps as LangChain tools with pydantic arguments.

``make_tools(workspace)`` binds them to one run's workspace, so the same tools serve
the discovery graph's nodes and a tool-calling agent. Arguments and results are JSON:
sentence indices (into the workspace's unique sentences), K values, names.
"""

from __future__ import annotations

from typing import Literal

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from dialin.agents.judge import judge_sample
from dialin.agents.k_predictor import k_grid, predict_k
from dialin.agents.verdicts import Verdict
from dialin.tools.clustering import cluster as cluster_fn
from dialin.tools.leftovers import assign_leftovers
from dialin.tools.merging import equivalent_cosine_theta, merge_labels
from dialin.tools.naming import name_cluster
from dialin.tools.roles import allocate_k, cluster_role, split_by_role
from dialin.tools.sampling import sample as sample_fn
from dialin.workspace import Workspace


class ClusterArgs(BaseModel):
    indices: list[int] = Field(description="sentence indices to cluster")
    k: int = Field(ge=1, description="number of clusters")
    method: Literal["kmeans", "agglomerative", "gmm"] | None = Field(None, description="default: the config's")
    seed: int | None = None
    by_role: bool = Field(True, description="cluster each role group apart when roles are known")


class SampleArgs(BaseModel):
    indices: list[int]
    n: int | None = Field(None, ge=1, description="sample size; default: the config's n_sentences")
    strategy: Literal["random", "convex"] | None = None


class JudgeArgs(BaseModel):
    indices: list[int] = Field(description="members of one cluster")
    roles: list[str] | None = Field(None, description="judge roles; default: the crowd or the judge")


class NameArgs(BaseModel):
    indices: list[int] = Field(description="members of one cluster")


class ProposeKArgs(BaseModel):
    n_unassigned: int = Field(ge=1)
    history: list[dict] = Field(default_factory=list, description="rows: iteration, k, good, bad, ratio")
    center: int | None = Field(None, description="grid center when no predictor answers")


class MergeArgs(BaseModel):
    names: list[str] = Field(description="cluster names, one per cluster")
    theta: float | None = None
    tau: float | None = None
    distance: Literal["geodesic", "cosine"] | None = None
    gate: Literal["probabilistic", "deterministic"] | None = None


class SeparateArgs(BaseModel):
    clusters: list[list[int]]
    names: list[str | None] | None = None


class LeftoverArgs(BaseModel):
    clusters: list[list[int]]
    leftovers: list[int]
    min_similarity: float | None = None


def cluster_indices(ws: Workspace, indices: list[int], k: int, method: str | None = None, seed: int | None = None,
                    by_role: bool = True) -> list[list[int]]:
    """Clusters (lists of indices) of ``indices``; role groups apart when roles are known."""
    m = ws.config.method
    method = method or m.clustering
    seed = m.seed if seed is None else seed
    roles = ws.roles if by_role else None
    groups = split_by_role(indices, roles) if roles else {"": list(indices)}
    ks = allocate_k({g: len(v) for g, v in groups.items()}, k)
    out: list[list[int]] = []
    for g, members in groups.items():
        labels = cluster_fn(ws.X[members], ks[g], method=method, seed=seed)
        for c in range(int(labels.max()) + 1):
            out.append([members[i] for i in range(len(members)) if labels[i] == c])
    return [c for c in out if c]


def sample_indices(ws: Workspace, indices: list[int], n: int | None = None, strategy: str | None = None) -> list[int]:
    m = ws.config.method
    return sample_fn(ws.X, indices, n=n or m.n_sentences, strategy=strategy or m.sampling, seed=m.seed)


async def judge_indices(ws: Workspace, indices: list[int], roles: list[str] | None = None,
                        stage: str = "judge") -> Verdict:
    """The judge's (or the crowd's) verdict on one cluster, from a sample of its sentences."""
    coh = ws.cohesion(indices)
    picked = sample_indices(ws, indices)
    verdict = await judge_sample(ws.router, roles or ws.config.judges(), ws.texts(picked),
                                 aggregation=ws.config.crowd.aggregation, stage=stage)
    verdict.cohesion = coh
    verdict.sample = picked
    return verdict


async def name_indices(ws: Workspace, indices: list[int], stage: str = "name") -> str:
    m = ws.config.method
    shown = [] if m.naming == "keywords" else ws.texts(sample_indices(ws, indices))  # only a namer reads a sample
    return await name_cluster(ws.router, ws.embedder, shown, ws.keywords(indices, 8), ws.X[indices], mode=m.naming,
                              grounded=m.grounded_names, stage=stage)


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
    roles = ws.roles
    names = names or [None] * len(clusters)
    out = []
    for members, name in zip(clusters, names):
        parts = split_by_role(members, roles) if roles else {cluster_role(members, None, name): list(members)}
        for role, part in parts.items():
            out.append({"members": part, "role": role, "name": name if len(parts) == 1 else None})
    return out


def make_tools(ws: Workspace) -> list[BaseTool]:
    async def _judge(indices: list[int], roles: list[str] | None = None) -> dict:
        return (await judge_indices(ws, indices, roles)).model_dump()

    async def _name(indices: list[int]) -> str:
        return await name_indices(ws, indices)

    async def _propose(n_unassigned: int, history: list[dict] | None = None, center: int | None = None) -> list[int]:
        return await propose_ks(ws, n_unassigned, history or [], center)

    def _leftovers(clusters: list[list[int]], leftovers: list[int], min_similarity: float | None = None) -> dict:
        sim = ws.config.method.leftover_similarity if min_similarity is None else min_similarity
        assigned, rest = assign_leftovers(ws.X, clusters, leftovers, sim)
        return {"assigned": {str(k): v for k, v in assigned.items()}, "unassigned": rest}

    return [
        StructuredTool.from_function(lambda **kw: cluster_indices(ws, **kw), name="cluster", args_schema=ClusterArgs,
                                     description="Cluster sentences into k groups (K-means, agglomerative or GMM)."),
        StructuredTool.from_function(lambda **kw: sample_indices(ws, **kw), name="sample", args_schema=SampleArgs,
                                     description="Pick the sentences a judge sees (random or convex-hull)."),
        StructuredTool.from_function(coroutine=_judge, name="judge", args_schema=JudgeArgs,
                                     description="Is this cluster coherent (one intent)? good/bad with evidence."),
        StructuredTool.from_function(coroutine=_name, name="name", args_schema=NameArgs,
                                     description="An action-objective name for a cluster."),
        StructuredTool.from_function(coroutine=_propose, name="propose_k", args_schema=ProposeKArgs,
                                     description="K values to try next (LLM predictor, else a grid)."),
        StructuredTool.from_function(lambda **kw: merge_names(ws, **kw), name="merge", args_schema=MergeArgs,
                                     description="Groups of clusters whose names mean the same (geodesic + vMF)."),
        StructuredTool.from_function(lambda **kw: separate(ws, **kw), name="separate_roles", args_schema=SeparateArgs,
                                     description="Split clusters by speaker role (customer / agent)."),
        StructuredTool.from_function(_leftovers, name="assign_leftovers", args_schema=LeftoverArgs,
                                     description="Join leftovers to the nearest good cluster when close enough."),
    ]
