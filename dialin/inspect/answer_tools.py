"""Tool specs for the short answers of ``run_answers``: the same tools for a strong model and the router."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field

from dialin.inspect import run_answers as A


class CountArgs(BaseModel):
    what: A.CountWhat = Field("clusters", description="what to count")


class TopicArgs(BaseModel):
    topic: str = Field(description="what the clusters should be about, e.g. 'lost cards'")
    limit: int = Field(6, ge=1, le=30)


class SimilarArgs(BaseModel):
    cluster_id: int | None = Field(None, description="a cluster id; none: the most alike pairs of the run")
    n: int = Field(5, ge=1, le=30)


class ExtremesArgs(BaseModel):
    largest: bool = Field(True, description="largest (true) or smallest (false)")
    n: int = Field(5, ge=1, le=30)


class OneCluster(BaseModel):
    cluster_id: int = Field(description="a cluster id, as list_clusters shows it")


ANSWER_SPECS: list[tuple[str, Callable[..., str], type[BaseModel], str]] = [
    ("count", A.count, CountArgs,
     "Count clusters, unassigned utterances, utterances, merges, or clusters judged good / bad / not judged."),
    ("cluster_size", A.cluster_size, OneCluster, "How many rows and unique utterances one cluster has."),
    ("extreme_clusters", A.extremes, ExtremesArgs, "The largest or the smallest clusters."),
    ("clusters_about", A.clusters_about, TopicArgs,
     "Which clusters are about a topic (semantic search over cluster names and members)."),
    ("similar_clusters", A.similar_clusters, SimilarArgs,
     "Which clusters look alike: closest to one cluster, or the closest pairs of the run."),
    ("judge_view", A.judge_view, OneCluster, "One cluster's verdict, the judges' votes, and what the judge read."),
    ("cluster_name", A.cluster_name, OneCluster, "The name of one cluster."),
]
