"""The cascade: an embedding score decides the clear clusters, the LLM judges the rest.

The score is ``method.cascade_scorer``: ``model`` (default), the shipped P(good) model of
``dialin.tools.coherence`` measured within the run's corpus, ``cohesion``, the mean
pairwise cosine of the members, or ``pairs``, a pair judge's mean P(same intent) over the
members' pairs (``method.pair_model``, trained by ``dialin finetune pairs``; the thresholds
its manifest prints were chosen on intents it never saw). A cluster scoring at most ``cascade_low`` is bad and at
least ``cascade_high`` is good without an LLM call; a singleton is good (one sentence has
one intent). ``judge_budget`` caps the LLM judgments per iteration: the clusters nearest
the middle of the band go to the LLM and the rest are decided against that middle.

The model was fitted on one embedder's vectors; under another it is not used: the
cascade falls back to cohesion with ``COHESION_THRESHOLDS`` and logs a warning.
``method.coherence_model`` names another model file, e.g. the one ``dialin finetune
embedder`` fits for its tuned embedder. Nothing
is hidden: every cascade verdict says ``source: cascade`` and carries its cohesion, and
its model P(good) as ``p_good`` when the model scored it (under ``pairs``, the mean P(same intent)).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from dialin.agents.verdicts import Verdict
from dialin.config import MethodConfig
from dialin.measure.stages import measured
from dialin.tools.coherence import CoherenceModel, CorpusFrame, load_model
from dialin.workspace import Workspace

log = logging.getLogger(__name__)
COHESION_THRESHOLDS = (0.25, 0.7)
"""(low, high) on cohesion when the model scorer cannot be used: the cohesion defaults before the model."""
_frames: dict[int, tuple[np.ndarray, CorpusFrame]] = {}
_warned: set[tuple[str, str]] = set()


def cascade_verdict(score: float, size: int, low: float | None, high: float | None, cohesion: float,
                    p_good: float | None = None) -> Verdict | None:
    """The cascade's decision for one cluster, or None when the LLM must judge it."""
    if low is None and high is None:
        return None
    if size == 1:
        return Verdict(label="good", source="cascade", cohesion=cohesion, p_good=p_good)
    if high is not None and score >= high:
        return Verdict(label="good", source="cascade", cohesion=cohesion, p_good=p_good)
    if low is not None and score <= low:
        return Verdict(label="bad", source="cascade", cohesion=cohesion, p_good=p_good)
    return None


def _frame(model: CoherenceModel, X: np.ndarray) -> CorpusFrame:
    """The corpus frame of the run's embeddings, fitted once per embedding matrix."""
    hit = _frames.get(id(X))
    if hit is None or hit[0] is not X:
        _frames.clear()
        hit = _frames[id(X)] = (X, model.frame(X))
    return hit[1]


def scorer(ws: Workspace) -> tuple[Callable[[list[int]], float] | None, float | None, float | None]:
    """(P(good) of members or None for cohesion, low, high) as the config and the embedder allow."""
    m: MethodConfig = ws.config.method
    if m.cascade_scorer == "cohesion":
        return None, m.cascade_low, m.cascade_high
    if m.cascade_scorer == "pairs":
        from dialin.tools.pair_judge import load_pair_judge

        judge = load_pair_judge(str(m.pair_model))
        return (lambda members: judge.cluster_score(ws.texts(members), seed=m.seed)), m.cascade_low, m.cascade_high
    model = load_model(m.coherence_model)
    if model.embedder == ws.embedder.name and len(ws.X) >= 2:
        frame = _frame(model, ws.X)
        return (lambda members: model.score(frame, members)), m.cascade_low, m.cascade_high
    if (model.embedder, ws.embedder.name) not in _warned:
        _warned.add((model.embedder, ws.embedder.name))
        log.warning("cascade: the coherence model was fitted on %s vectors, this run embeds with %s: scoring "
                    "by cohesion with thresholds %s/%s instead (set method.cascade_scorer: cohesion to choose them, "
                    "or method.coherence_model to a model fitted on these vectors)",
                    model.embedder, ws.embedder.name, *COHESION_THRESHOLDS)
    low = None if m.cascade_low is None else COHESION_THRESHOLDS[0]
    high = None if m.cascade_high is None else COHESION_THRESHOLDS[1]
    return None, low, high


def fallback_verdict(ws: Workspace, members: list[int], reason: str) -> Verdict:
    """The cascade's verdict for a cluster the LLM could not judge: its score against the band's middle."""
    p_of, low, high = scorer(ws)
    coh = ws.cohesion(members)
    p = p_of(members) if p_of is not None and len(members) > 1 else None
    score = coh if p is None else p
    mid = ((low if low is not None else 0.0) + (high if high is not None else 1.0)) / 2
    label = "good" if score >= mid else "bad"
    return Verdict(label=label, source="cascade", cohesion=coh, p_good=p,
                   note=f"{reason}; decided by the cascade: score {score:.3f} {'>=' if label == 'good' else '<'} "
                        f"{mid:.3f}")


@measured("cascade")
def triage(ws: Workspace, clusters: dict[str, list[int]]) -> tuple[dict[str, Verdict], dict[str, list[int]]]:
    """Split clusters (key -> members) into cascade verdicts and those the LLM judges."""
    m = ws.config.method
    p_of, low, high = scorer(ws)
    if low is None and high is None and m.judge_budget is None:
        p_of = None  # the cascade is off: nothing to score
    decided: dict[str, Verdict] = {}
    uncertain: list[tuple[float, str, float, float | None]] = []
    for key, members in clusters.items():
        coh = ws.cohesion(members)
        p = p_of(members) if p_of is not None and len(members) > 1 else None
        score = coh if p_of is None else (1.0 if p is None else p)
        v = cascade_verdict(score, len(members), low, high, coh, p)
        if v is None:
            uncertain.append((score, key, coh, p))
        else:
            decided[key] = v
    if m.judge_budget is not None and len(uncertain) > m.judge_budget:
        mid = ((low if low is not None else 0.0) + (high if high is not None else 1.0)) / 2
        uncertain.sort(key=lambda u: (abs(u[0] - mid), u[1]))
        for score, key, coh, p in uncertain[m.judge_budget:]:
            decided[key] = Verdict(label="good" if score >= mid else "bad", source="cascade", cohesion=coh, p_good=p)
        uncertain = uncertain[:m.judge_budget]
    return decided, {key: clusters[key] for _, key, _, _ in uncertain}
