"""State and run context of the inspector graph.

The context names the run (and config) to inspect; under ``langgraph dev`` it comes from
the assistant's configuration or the environment (``DIALIN_RUN``, ``DIALIN_CONFIG``).
``dialin chat`` and tests hand over a ready ``RunView`` and, in tests, a scripted model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

from dialin.inspect.run_view import RunView

_VIEWS: dict[tuple[str, str | None], RunView] = {}
"""Views opened from context fields (``langgraph dev``), reused across graph runs."""


class InspectorState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    """The conversation: questions, the model's tool calls, tool results, answers."""


@dataclass
class InspectorContext:
    """Which run to inspect, and with what."""

    run_id: str = field(default_factory=lambda: os.environ.get("DIALIN_RUN", "latest"),
                        metadata={"description": "Run id to inspect ('latest': the newest finished run)."})
    config: str | None = field(default_factory=lambda: os.environ.get("DIALIN_CONFIG") or None,
                               metadata={"description": "Config file: the store, and the inspector/judge roles."})
    leader: Literal["auto", "model", "run"] = field(
        default="auto", metadata={"description": "Who answers questions: the model with tools, or the run first "
                                                 "('auto': the model when the inspector role is tool-calling)."})
    max_tool_rounds: int = field(default=8, metadata={"description": "Model turns with tool calls per question."})
    view: Any = field(default=None, metadata={"description": "A RunView (set by dialin chat; not JSON)."})
    model: Any = field(default=None, metadata={"description": "A chat model object overriding the config's."})

    def get_view(self) -> RunView:
        if self.view is None:
            key = (self.run_id, self.config)
            if key not in _VIEWS:
                _VIEWS[key] = RunView.open(self.run_id, self.config)
            self.view = _VIEWS[key]
        return self.view

    def get_model(self) -> Any:
        if self.model is None:
            from dialin.agents.inspector import make_model

            view = self.get_view()
            self.model = make_model(view.config, view.urls())
        return self.model
