"""Verdict models shared by the judge, the crowd, the graph and the report."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Label = Literal["good", "bad"]


class Vote(BaseModel):
    """One judge's answer on one cluster."""

    role: str
    model: str
    label: Label
    p_good: float | None = None
    """P(good) from logprobs, renormalised over good/bad; None when the endpoint gives none."""
    cached: bool = False


class Verdict(BaseModel):
    """The decision on one cluster, with its evidence."""

    label: Label
    p_good: float | None = None
    """Aggregate confidence that the cluster is coherent."""
    source: Literal["llm", "crowd", "cascade", "human"] = "llm"
    votes: list[Vote] = Field(default_factory=list)
    agreement: float | None = None
    """Share of votes that agree with the label (crowd only)."""
    cohesion: float | None = None
    """Mean pairwise cosine of the members' embeddings."""
    sample: list[int] = Field(default_factory=list)
    """Indices (unique sentences) the judges saw."""
    note: str | None = None
    """Why the cascade decided a cluster the LLM was asked about (its answer could not be used)."""
