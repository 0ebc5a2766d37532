"""``dialin chat``: the terminal loop over the inspector graph.

Lines are parsed by ``dialin.inspect.commands``; the graph runs commands and model turns.
Edits pause the graph with an ``interrupt``; the loop shows the preview and resumes it with
the person's answer.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

from dialin.errors import DialinError
from dialin.inspect.commands import Parsed, parse_command

# -- the terminal loop ---------------------------------------------------------------------
Ask = Callable[[str], str]
Say = Callable[[str], None]


def _clip_lines(text: str, n: int) -> str:
    lines = text.splitlines()
    return "\n".join(lines[:n] + ([f"... ({len(lines) - n} more lines)"] if len(lines) > n else []))


def _show(update: dict[str, Any], say: Say) -> None:
    from langchain_core.messages import AIMessage, ToolMessage

    from dialin.agents.run_led import ROUTED

    for node, value in update.items():
        for m in (value or {}).get("messages", []) if isinstance(value, dict) else []:
            if isinstance(m, AIMessage):
                # a call the question router made is not shown: the edit's preview says what it does
                for call in [] if m.additional_kwargs.get(ROUTED) else m.tool_calls:
                    args = ", ".join(f"{k}={v!r}" for k, v in call["args"].items())
                    say(f"  -> {call['name']}({args})")
                if m.content and not m.additional_kwargs.get("dialin_recovered_tool_calls"):
                    say(m.content if isinstance(m.content, str) else str(m.content))
            elif isinstance(m, ToolMessage):
                say("  " + _clip_lines(str(m.content), 12).replace("\n", "\n  "))


def run_turn(graph: Any, line: str, config: dict[str, Any], context: Any, ask: Ask, say: Say) -> None:
    """One line of the conversation: stream the graph, answer its confirmations, until it ends."""
    from langchain_core.messages import HumanMessage
    from langgraph.types import Command

    payload: Any = {"messages": [HumanMessage(line)]}
    while True:
        pending: list[Any] = []
        for update in graph.stream(payload, config, context=context, stream_mode="updates"):
            if "__interrupt__" in update:
                pending.extend(update["__interrupt__"])
            else:
                _show(update, say)
        if not pending:
            return
        answers = {}
        for item in pending:
            value = item.value if isinstance(item.value, dict) else {"preview": str(item.value)}
            say(value.get("preview", ""))
            answers[item.id] = ask(f"{value.get('action', 'this edit')}: save as a new revision? [y/N] ")
        payload = Command(resume=answers)


def run_chat(view: Any, *, thread_id: str | None = None, checkpoint_db: str | None = None, model: Any = None,
             ask: Ask = input, say: Say = print, leader: str = "auto") -> str:
    """The interactive loop (until /quit or end of input); returns the thread id."""
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.errors import GraphRecursionError

    from dialin.graphs.inspector.graph import build_graph
    from dialin.graphs.inspector.state import InspectorContext
    from dialin.runner import checkpoint_path

    thread_id = thread_id or f"chat-{view.run_id}-{uuid.uuid4().hex[:6]}"
    context = InspectorContext(run_id=view.run_id, view=view, model=model, leader=leader)  # type: ignore[arg-type]
    config = {"configurable": {"thread_id": thread_id}, "recursion_limit": 4 * context.max_tool_rounds + 8}
    db = checkpoint_db or str(checkpoint_path(view.config))
    with SqliteSaver.from_conn_string(db) as saver:
        graph = build_graph().compile(checkpointer=saver, name="dialin-inspector")
        from dialin.agents.run_led import model_leads, warm_up
        from dialin.inspect.queries import summary

        if not model_leads(view.config, leader):  # type: ignore[arg-type]
            threading.Thread(target=warm_up, args=(view,), daemon=True).start()
        say(summary(view))
        say(f"(conversation {thread_id}; /help lists the commands, /quit leaves)")
        while True:
            try:
                line = ask("dialin> ").strip()
            except (EOFError, KeyboardInterrupt):
                say("")
                break
            if not line:
                continue
            parsed = _parse_quietly(line, say)
            if parsed is not None and parsed.name == "quit":
                break
            try:
                run_turn(graph, line, config, context, ask, say)
            except GraphRecursionError:
                say("error: the model kept calling tools without answering; ask more precisely or use /commands")
            except DialinError as exc:
                say(f"error: {exc}")
            except KeyboardInterrupt:
                say("(interrupted)")
            except EOFError:  # input ended while an edit waited for its answer: nothing saved
                say("")
                break
    return thread_id


def _parse_quietly(line: str, say: Say) -> Parsed | None:
    try:
        return parse_command(line)
    except DialinError:
        return None  # the graph's command node reports it
