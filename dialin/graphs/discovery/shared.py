"""What every discovery node uses: the run's workspace, progress events, verdict keys, pending judgments."""

from __future__ import annotations

import hashlib
from typing import Any

from langgraph.runtime import Runtime

from dialin.graphs.discovery.state import Context, DiscoveryState
from dialin.workspace import Workspace


def _ws(runtime: Runtime[Context]) -> Workspace:
    if runtime.context is None:
        from dialin.workspace import workspace_for_dev

        return workspace_for_dev()
    return runtime.context.workspace


def _emit(runtime: Runtime[Context], **event: Any) -> None:
    if runtime.stream_writer is not None:
        runtime.stream_writer(event)


def cluster_key(iteration: int, members: list[int]) -> str:
    digest = hashlib.sha1(",".join(map(str, sorted(members))).encode()).hexdigest()[:12]
    return f"{iteration}:{digest}"


def pending(state: DiscoveryState) -> dict[str, list[int]]:
    """The clusters left to the LLM that have no verdict yet (key -> members)."""
    done = state.get("verdicts", {})
    return {k: v for k, v in state.get("to_judge", {}).items() if k not in done}
