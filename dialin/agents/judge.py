"""The coherence judge: one role, or a crowd of roles, says good/bad for a sample."""

from __future__ import annotations

import asyncio

from dialin.agents.crowd import aggregate
from dialin.agents.verdicts import Verdict, Vote
from dialin.config import JUDGE_ANSWERS
from dialin.errors import ParseError
from dialin.llm.router import LLMRouter

CHOICES = list(JUDGE_ANSWERS)


def format_sentences(sentences: list[str], max_chars: int = 200) -> str:
    return "\n".join("- " + " ".join(s.split())[:max_chars] for s in sentences)


async def judge_one(router: LLMRouter, role: str, sentences: list[str], *, stage: str = "judge") -> Vote:
    result = await router.complete(role, {"sentences": format_sentences(sentences)}, choices=CHOICES, stage=stage)
    p_good = result.label_probs.get("good") if result.label_probs else None
    return Vote(role=role, model=result.model, label=result.parsed, p_good=p_good, cached=result.cached)


async def judge_sample(router: LLMRouter, roles: list[str], sentences: list[str], *, aggregation: str = "majority",
                       stage: str = "judge") -> Verdict:
    """Every role votes (concurrently); one role's vote is the verdict, several are aggregated."""
    answers = await asyncio.gather(*(judge_one(router, r, sentences, stage=stage) for r in roles),
                                   return_exceptions=True)
    votes = [a for a in answers if isinstance(a, Vote)]
    for a in answers:  # a member without a usable answer abstains; any other failure, or none usable, raises
        if isinstance(a, BaseException) and (not isinstance(a, ParseError) or not votes):
            raise a
    return aggregate(votes, aggregation)
