"""Naming a cluster: the namer's answer and key-word candidates, the one nearest the cluster wins.

A small namer picks poor objectives (``request-transaction`` for pending cash withdrawals), but
the cluster's key words usually hold a good one. ``method.naming`` chooses:

- ``llm``: the namer role's answer as it is (grounded in the key words when
  ``method.grounded_names``).
- ``select``: candidates are the namer's answer plus objectives made of the key
  words (each word, each ordered pair, each triple in rank order); the objective whose
  embedding is nearest the cluster's centroid wins, then the action (a known verb, or the
  namer's) that brings the whole name nearest. One LLM call, as ``llm``.
- ``keywords`` (default): the same choice among key-word candidates only: no LLM call.

docs/BENCHMARKS.md section 11 measures the three (``dialin judge-eval --namer-only``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Protocol, get_args

import numpy as np

from dialin.agents.namer import ACTIONS, name_sample, normalise_name
from dialin.config import MethodConfig
from dialin.llm.router import LLMRouter
from dialin.tools.name_words import (WordFacts, act_objective, candidate_actions, local_objective, names_share,
                                     personal_data, role_actions, role_kind)
from dialin.tools.vectors import l2_normalise

NAMING_MODES: tuple[str, ...] = get_args(MethodConfig.model_fields["naming"].annotation)
CANDIDATE_WORDS = 6
"""Key words that candidate objectives are built from (6 words: 56 candidates)."""


class Encoder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...


def keyword_objectives(keywords: Sequence[str], top: int = CANDIDATE_WORDS) -> list[tuple[str, ...]]:
    """Each of the top key words, each ordered pair of them, each triple in rank order."""
    kws = [k for k in dict.fromkeys(keywords) if k.replace("_", "").isalpha() and not any(c.isupper() for c in k)][:top]
    out: list[tuple[str, ...]] = [(k,) for k in kws]
    out += list(itertools.permutations(kws, 2))
    out += list(itertools.combinations(kws, 3))
    return out


def choose_name(encoder: Encoder, members: np.ndarray, keywords: Sequence[str], llm_name: str | None = None) -> str:
    """The `action-objective` name nearest the cluster (rows of ``members``: its sentences' embeddings).

    Candidates: ``keyword_objectives(keywords)`` and the objective of ``llm_name``; actions: the
    known verbs and the action of ``llm_name``. Falls back to ``llm_name`` (or ``other-unspecified``)
    when there is nothing to choose from.
    """
    objectives = keyword_objectives(keywords)
    actions = list(ACTIONS)
    if llm_name:
        action, _, objective = normalise_name(llm_name).partition("-")
        if objective and objective != "unspecified":
            objectives.append(tuple(objective.split("_")))
        if action not in actions and action != "other":
            actions.append(action)
    objectives = list(dict.fromkeys(objectives))
    if not objectives or len(members) == 0:
        return normalise_name(llm_name) if llm_name else "other-unspecified"
    centre = l2_normalise(np.asarray(members, dtype=np.float64).mean(axis=0))
    V = np.asarray(encoder.encode([" ".join(o) for o in objectives]), dtype=np.float64)
    best = objectives[int(np.argmax(V @ centre))]
    W = np.asarray(encoder.encode([f"{a} {' '.join(best)}" for a in actions]), dtype=np.float64)
    action = actions[int(np.argmax(W @ centre))]
    objective = [w for w in best if w != action] or list(best)  # increase-volume, not increase-increase_volume
    return normalise_name(f"{action}-{'_'.join(objective)}")


def answer_ok(answer: str, texts: Sequence[str], facts: WordFacts, role: str | None = None) -> bool:
    """Does a namer model's answer keep the grounded rules (``dialin/tools/name_words.py``)? Its action is
    not another role's verb; each objective word is allowed (no filler, proper noun, date, number) and is
    held by enough members, or is no corpus word at all (an abstraction, not a rare word of a few)."""
    action, _, objective = normalise_name(answer).partition("-")
    if not objective or objective == "unspecified" or action == "other":
        return False
    if action in ACTIONS and action not in role_actions(role):
        return False
    cover = facts.coverage(texts)
    return all(facts.word_ok(w, cover) for w in objective.split("_"))


def grounded_name(encoder: Encoder, members: np.ndarray, texts: Sequence[str], facts: WordFacts,
                  role: str | None = None, llm_name: str | None = None) -> str:
    """The `action-objective` name nearest the cluster, built only from what most members say.

    Objectives: ``keyword_objectives`` of the words most members hold (``WordFacts.objective_words``),
    plus ``llm_name``'s when it keeps the rules (``answer_ok``); actions: the verbs the members' wording
    supports within the role's verbs (a common thank/greet/apologize/decline names the cluster outright).
    The objective nearest the centroid wins, then the action that brings the whole name nearest.
    """
    words = [w for w, _ in facts.objective_words(texts)]
    objectives = keyword_objectives(words)
    actions, outright = candidate_actions(texts, role, cued=facts.joined)
    if llm_name and answer_ok(llm_name, texts, facts, role):
        action, _, objective = normalise_name(llm_name).partition("-")
        objectives.append(tuple(objective.split("_")))
        if not outright and action not in actions:
            actions.append(action)
    if outright:  # thanks, greetings, apologies, "that's all": addressed to the other party; with no role
        # known, "you" says little, so the words most members share compete with it (BENCHMARKS 18, session 8)
        objectives = [local_objective((act_objective(outright, role),), facts)] + \
            (objectives if role_kind(role) is None else [])
    if role_kind(role) == "customer" and names_share(texts, facts) >= 0.5 and personal_data(texts, facts, 0.7):
        # customers stating their names, numbers, dates: their personal details, whatever else they say
        objectives, actions = [local_objective(("personal", "details"), facts)], ["provide"]
    objectives = list(dict.fromkeys(objectives))
    if not objectives:  # no word most members share: their personal data, or nothing to name it by
        objectives = [local_objective(("personal", "details") if personal_data(texts, facts) else ("unspecified",),
                                      facts)]
    if len(members) == 0:
        return normalise_name(f"{actions[0]}-{'_'.join(objectives[0])}")
    centre = l2_normalise(np.asarray(members, dtype=np.float64).mean(axis=0))
    V = np.asarray(encoder.encode([" ".join(o).replace("_", " ") for o in objectives]), dtype=np.float64)
    best = objectives[int(np.argmax(V @ centre))]
    best = facts.phrase_order(best, texts)  # exchange_rate, not rate_exchange (BENCHMARKS 18, session 10)
    actions = [a for a in actions if (a,) != best] or actions  # check-check says nothing
    W = np.asarray(encoder.encode([f"{a} {' '.join(best)}".replace("_", " ") for a in actions]), dtype=np.float64)
    action = actions[int(np.argmax(W @ centre))]
    objective = [w for w in best if w != action] or list(best)
    return normalise_name(f"{action}-{'_'.join(objective)}")


async def name_cluster(router: LLMRouter, encoder: Encoder, shown: list[str], keywords: list[str],
                       members: np.ndarray, *, mode: str = "keywords", grounded: bool = True,
                       stage: str = "name", texts: Sequence[str] | None = None, facts: WordFacts | None = None,
                       role: str | None = None) -> str:
    """A cluster's name the ``method.naming`` way (module doc); ``shown``: the sentences the namer reads
    (unused by ``keywords``). With ``texts`` (all members' sentences) and ``facts``, names follow the
    grounded rules of ``grounded_name``: a namer's answer that breaks them gives way to the grounded name."""
    if mode not in NAMING_MODES:
        raise ValueError(f"naming mode '{mode}' is unknown; use one of {', '.join(NAMING_MODES)}")
    if texts is not None and facts is not None:
        if mode == "keywords":
            return grounded_name(encoder, members, texts, facts, role)
        answer = await name_sample(router, shown, keywords, stage=stage, grounded=grounded)
        if mode == "llm" and answer_ok(answer, texts, facts, role):
            return answer
        return grounded_name(encoder, members, texts, facts, role, answer if mode == "select" else None)
    if mode == "keywords":
        return choose_name(encoder, members, keywords)
    answer = await name_sample(router, shown, keywords, stage=stage, grounded=grounded)
    return answer if mode == "llm" else choose_name(encoder, members, keywords, answer)
