"""The inspector's tools: LangChain tools with pydantic arguments over one stored run.

Each tool finds its run through the graph's runtime context (``InspectorContext``), so
the same module-level tools serve ``dialin chat``, ``langgraph dev`` and the slash
commands (which invoke them directly, without the model). Answers are plain text; a
``DialinError`` (an unknown id, say) comes back as ``error: ...`` for the model to read.
Edits pause for confirmation (``interrupt``) and save a new revision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from dialin.classify.confusion import confusion
from dialin.errors import DialinError
from dialin.inspect import inspect_edits as E
from dialin.inspect import queries as Q
from dialin.inspect.run_view import RunView

ClusterId = Field(description="a cluster id, as list_clusters shows it")


def current_view() -> RunView:
    """The run of the graph run this tool is called in."""
    from langgraph.runtime import get_runtime

    from dialin.graphs.inspector.state import InspectorContext

    context = get_runtime(InspectorContext).context
    return (context if isinstance(context, InspectorContext) else InspectorContext()).get_view()


class NoArgs(BaseModel):
    pass


class ListArgs(BaseModel):
    sort: Literal["size", "confidence", "id", "name"] = Field("size", description="order of the list")
    verdict: Literal["any", "good", "bad", "unjudged"] = Field("any", description="keep only this verdict")
    limit: int = Field(50, ge=1, le=500)


class ShowArgs(BaseModel):
    cluster_id: int = ClusterId
    max_members: int = Field(25, ge=1, le=500, description="how many members to list")


class SearchArgs(BaseModel):
    query: str = Field(description="words or a sentence to look for")
    mode: Literal["semantic", "keyword"] = Field("semantic", description="meaning (embeddings) or exact words")
    limit: int = Field(10, ge=1, le=100)


class UtteranceArgs(BaseModel):
    utterance: str = Field(description="the utterance's exact text, or its index like #12")


class PairArgs(BaseModel):
    a: int = Field(description="first cluster id")
    b: int = Field(description="second cluster id")


class RenameArgs(BaseModel):
    cluster_id: int = ClusterId
    name: str = Field(description="the new name, e.g. report-lost_card")


class MergeArgs(PairArgs):
    name: str | None = Field(None, description="name of the merged cluster; default: keep a's name")


class SplitArgs(BaseModel):
    cluster_id: int = ClusterId
    k: int = Field(2, ge=2, le=20, description="number of parts")


class MoveArgs(BaseModel):
    utterance: str = Field(description="the utterance's exact text, or its index like #12")
    to_cluster: int = Field(description="target cluster id; -1 for unassigned")


class ClusterArgs(BaseModel):
    cluster_id: int = ClusterId


class ConfusionArgs(BaseModel):
    limit: int = Field(10, ge=1, le=50, description="how many mixed-up pairs to list")


class ExportArgs(BaseModel):
    out_dir: str = Field(description="folder to write clusters.jsonl and assignments.csv into")


def _bind(fn: Callable[..., str]) -> Callable[..., str]:
    def run(**kwargs: Any) -> str:
        try:
            return fn(current_view(), **kwargs)
        except DialinError as exc:
            return f"error: {exc}"

    return run


_SPECS: list[tuple[str, Callable[..., str], type[BaseModel], str]] = [
    ("run_summary", Q.summary, NoArgs,
     "Overview of the run: sizes, verdict counts, K chosen per iteration, metrics, largest clusters."),
    ("list_clusters", Q.list_clusters, ListArgs, "List clusters with id, name, size, verdict and confidence."),
    ("show_cluster", Q.show_cluster, ShowArgs,
     "One cluster in detail: members, the sample the judge saw, each judge's vote, what it was merged from."),
    ("search_utterances", Q.search, SearchArgs,
     "Find utterances by meaning (semantic) or by words (keyword), with the cluster each is in."),
    ("find_utterance", Q.where, UtteranceArgs, "Which cluster holds an utterance (exact text or #index)."),
    ("compare_clusters", Q.compare, PairArgs,
     "Compare two clusters: similarity of their centroids, closest pair, cohesion if merged, samples."),
    ("intent_confusion", confusion, ConfusionArgs,
     "Which intents a classifier trained on the run mixes up (held-out utterances): candidates for merges."),
    ("rename_cluster", E.rename_cluster, RenameArgs, "Rename a cluster (asks the person to confirm)."),
    ("merge_clusters", E.merge_clusters, MergeArgs, "Merge cluster b into cluster a (asks the person to confirm)."),
    ("split_cluster", E.split_cluster, SplitArgs, "Re-cluster one cluster into k parts (asks to confirm)."),
    ("move_utterance", E.move_utterance, MoveArgs,
     "Move one utterance to another cluster, or to unassigned with -1 (asks to confirm)."),
    ("rejudge_cluster", E.rejudge_cluster, ClusterArgs,
     "Ask the coherence judge again about one cluster (asks to confirm before saving)."),
    ("export_run", E.export_run, ExportArgs, "Write clusters.jsonl and assignments.csv of the current revision."),
]


def specs() -> list[tuple[str, Callable[..., str], type[BaseModel], str]]:
    """(name, function of a RunView, argument schema, description) of every tool."""
    from dialin.inspect.answer_tools import ANSWER_SPECS

    return _SPECS + ANSWER_SPECS


def make_tools() -> list[BaseTool]:
    """Every inspector tool, bound to the run in the graph's context."""
    return [StructuredTool.from_function(func=_bind(fn), name=name, description=desc, args_schema=schema)
            for name, fn, schema, desc in specs()]


def tools_by_name() -> dict[str, BaseTool]:
    return {t.name: t for t in make_tools()}
