"""The coherence judge: one role, or a crowd of roles, says good/bad for a sample."""

from __future__ import annotations

import asyncio

from dialin.agents.crowd import aggregate
from dialin.agents.verdicts import Verdict, Vote
from dialin.llm.router import LLMRouter

CHOICES = ["good", "bad"]


def format_sentences(sentences: list[str], max_chars: int = 200) -> str:
    return "\n".join("- " + " ".join(s.split())[:max_chars] for s in sentences)


async def judge_one(router: LLMRouter, role: str, sentences: list[str], *, stage: str = "judge") -> Vote:
    result = await router.complete(role, {"sentences": format_sentences(sentences)}, choices=CHOICES, stage=stage)
    p_good = result.label_probs.get("good") if result.label_probs else None
    return Vote(role=role, model=result.model, label=result.parsed, p_good=p_good, cached=result.cached)


async def judge_sample(router: LLMRouter, roles: list[str], sentences: list[str], *, aggregation: str = "majority",
                       stage: str = "judge") -> Verdict:
    """Every role votes (concurrently); one role's vote is the verdict, several are aggregated."""
    votes = list(await asyncio.gather(*(judge_one(router, r, sentences, stage=stage) for r in roles)))
    return aggregate(votes, aggregation)
