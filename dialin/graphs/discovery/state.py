"""State of the discovery graph. Only indices travel in state; the workspace holds the rest."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from dialin.workspace import Workspace


def merge_dicts(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer: union of two dicts (right wins)."""
    return {**(left or {}), **(right or {})}


@dataclass
class Context:
    """Run context handed to every node (``graph.ainvoke(..., context=Context(ws))``)."""

    workspace: Workspace


class DiscoveryInput(TypedDict):
    run_id: str
    """The run this thread belongs to."""


class DiscoveryState(TypedDict, total=False):
    run_id: str
    iteration: int
    """Current iteration t (1-based)."""
    unassigned: list[int]
    """U_t: sentences not yet in a kept cluster."""
    candidates: list[int]
    """K values tried at this iteration."""
    clusterings: dict[str, list[list[int]]]
    """str(K) -> clusters of U_t for this iteration."""
    to_judge: dict[str, list[int]]
    """Clusters of this iteration the LLM judges (key -> members); the cascade decided the rest."""
    verdicts: Annotated[dict[str, dict], merge_dicts]
    """"t:K:c" -> verdict (a ``Verdict`` dump), written by the fanned-out judge."""
    controls: Annotated[dict[str, str], merge_dicts]
    """Control task key ("ctl:t:j") -> its known answer (config crowd.control_rate)."""
    queue: Annotated[list[str], operator.add]
    """Keys in the order they entered the judges' queue, controls mixed in, over all iterations."""
    history: Annotated[list[dict], operator.add]
    """One row per (iteration, K): good/bad clusters and sentences, ratio, score, chosen."""
    accepted: Annotated[list[dict], operator.add]
    """Kept good clusters: members, verdict, iteration, k."""
    stop_reason: str
    leftovers: list[int]
    """Sentences still unassigned after leftover assignment."""
    clusters: list[dict]
    """Final clusters (after naming, role separation, merging)."""
    merges: list[dict]
    """Merges made (or refused by a reviewer)."""
    result_revision: int
    loop: str
    """method.loop of the run: ratio (the paper's K search) or treecut."""
    frontier: list[int]
    """treecut: the hierarchy's nodes judged this round."""
    tree_nodes: dict[str, int]
    """treecut: verdict key -> node, for this round's frontier."""
    tree_round: int
    tree_accepted: list[dict]
    """treecut: the clusters kept so far (members, verdict, iteration)."""
    tree_rest: list[int]
    """treecut: sentences of nodes too small to judge, reassigned at the end."""
    pairs: dict[str, list[int]]
    """treecut: verdict key -> the two accepted clusters' positions a merge check is about."""
    tree_spent: int
    """treecut: LLM judge calls asked so far (nodes and merge checks), against method.judge_budget_total."""
    tree_refused: list[list[str]]
    """treecut: merges the judge refused (two cluster digests): the next round asks each cluster's next nearest."""
    tree_split: list[list[int]]
    """treecut: the two children of each node judged bad: a merge of exactly these two is not asked again."""


class JudgeTask(TypedDict, total=False):
    key: str
    members: list[int]
    pair: list[list[int]]
    """A merge check: the two clusters whose mixed sample the judge sees."""
