"""The cascade: embedding cohesion decides the clear clusters, the LLM judges the rest.

With ``cascade_low``/``cascade_high`` set, a cluster whose cohesion (mean pairwise
cosine) is at most ``low`` is bad and at least ``high`` is good without an LLM call;
a singleton is good (one sentence has one intent). ``judge_budget`` caps the LLM
judgments per iteration: the clusters nearest the middle of the band go to the LLM
and the rest are decided by cohesion against that middle. Nothing is hidden: every
cascade verdict says ``source: cascade`` and carries its cohesion.
"""

from __future__ import annotations

from dialin.agents.verdicts import Verdict
from dialin.config import MethodConfig
from dialin.workspace import Workspace


def cascade_verdict(cohesion: float, size: int, m: MethodConfig) -> Verdict | None:
    """The cascade's decision for one cluster, or None when the LLM must judge it."""
    if m.cascade_low is None and m.cascade_high is None:
        return None
    if size == 1:
        return Verdict(label="good", source="cascade", cohesion=cohesion)
    if m.cascade_high is not None and cohesion >= m.cascade_high:
        return Verdict(label="good", source="cascade", cohesion=cohesion)
    if m.cascade_low is not None and cohesion <= m.cascade_low:
        return Verdict(label="bad", source="cascade", cohesion=cohesion)
    return None


def triage(ws: Workspace, clusters: dict[str, list[int]]) -> tuple[dict[str, Verdict], dict[str, list[int]]]:
    """Split clusters (key -> members) into cascade verdicts and those the LLM judges."""
    m = ws.config.method
    decided: dict[str, Verdict] = {}
    uncertain: list[tuple[float, str]] = []
    for key, members in clusters.items():
        coh = ws.cohesion(members)
        v = cascade_verdict(coh, len(members), m)
        if v is None:
            uncertain.append((coh, key))
        else:
            decided[key] = v
    if m.judge_budget is not None and len(uncertain) > m.judge_budget:
        lo = m.cascade_low if m.cascade_low is not None else 0.0
        hi = m.cascade_high if m.cascade_high is not None else 1.0
        mid = (lo + hi) / 2
        uncertain.sort(key=lambda ck: (abs(ck[0] - mid), ck[1]))
        for coh, key in uncertain[m.judge_budget:]:
            decided[key] = Verdict(label="good" if coh >= mid else "bad", source="cascade", cohesion=coh)
        uncertain = uncertain[:m.judge_budget]
    return decided, {key: clusters[key] for _, key in uncertain}
