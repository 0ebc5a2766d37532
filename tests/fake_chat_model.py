"""A scripted LangChain chat model: plays back messages (tool calls included), records what it got."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult
from pydantic import Field


def tool_call(tool: str, call_id: str = "call-1", /, **args: Any) -> AIMessage:
    """An assistant message that asks for one tool."""
    return AIMessage("", tool_calls=[{"name": tool, "args": args, "id": call_id, "type": "tool_call"}])


class ScriptedChatModel(GenericFakeChatModel):
    """``ScriptedChatModel(messages=iter([...]))``: each call answers with the next message."""

    received: list[list[BaseMessage]] = Field(default_factory=list)
    """The messages of every call, in order."""
    bound_tools: list[str] = Field(default_factory=list)

    def bind_tools(self, tools: Any, **kwargs: Any) -> "ScriptedChatModel":
        self.bound_tools = [t.name for t in tools]
        return self

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.received.append(list(messages))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
