"""The inspector: a ReAct loop over the inspection tools, with slash commands beside it.

    START --(line starts with "/")--> command --> END
          \\--(a question)----------> agent <--> tools
                                            \\--> END

``command`` runs one tool directly, no model (``dialin.inspect.commands.parse_command``); ``agent``
is the inspector model with the tools bound when it is a tool-calling one, else the
question router answering from the run (``dialin.agents.run_led``: read-only answers at
once, edits as tool calls); ``tools`` is a ``ToolNode``. Edits pause
with ``interrupt()`` in either path. No checkpointer is compiled in: ``langgraph dev``
supplies persistence, ``dialin chat`` compiles ``build_graph()`` with a SQLite one.
"""

from __future__ import annotations

import time
from typing import Any

import openai
from pydantic import ValidationError
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime

from dialin.errors import DialinError
from dialin.graphs.inspector.state import InspectorContext, InspectorState


def _context(runtime: Runtime[InspectorContext]) -> InspectorContext:
    ctx = runtime.context
    return ctx if isinstance(ctx, InspectorContext) else InspectorContext()


def route(state: InspectorState) -> str:
    last = state["messages"][-1] if state["messages"] else None
    if isinstance(last, HumanMessage) and isinstance(last.content, str) and last.content.lstrip().startswith("/"):
        return "command"
    return "agent"


def command(state: InspectorState, runtime: Runtime[InspectorContext]) -> dict[str, Any]:
    """Run the slash command in the last message with its tool; no model involved."""
    from dialin.inspect.commands import HELP, parse_command
    from dialin.inspect.tools import tools_by_name
    from dialin.inspect.inspect_edits import undo_edit

    line = str(state["messages"][-1].content)
    try:
        parsed = parse_command(line)
        assert parsed is not None
        if parsed.name == "help":
            out = HELP
        elif parsed.name == "quit":
            out = "/quit leaves the terminal chat; here, just stop asking."
        elif parsed.name == "undo":
            out = undo_edit(_context(runtime).get_view())
        else:
            out = str(tools_by_name()[parsed.name].invoke(parsed.args))
    except DialinError as exc:
        out = f"error: {exc}"
    except ValidationError as exc:  # an argument out of range
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        out = f"error: {problems} (/help lists the commands)"
    return {"messages": [AIMessage(out, name="dialin")]}


def _tool_rounds(state: InspectorState) -> int:
    rounds = 0
    for m in reversed(state["messages"]):
        if isinstance(m, HumanMessage):
            break
        if isinstance(m, AIMessage) and m.tool_calls:
            rounds += 1
    return rounds


def agent(state: InspectorState, runtime: Runtime[InspectorContext]) -> dict[str, Any]:
    """The inspector model answers, or asks for tools; with a small model, the run answers first."""
    from dialin.agents.inspector import load_inspector_prompt, log_call, model_messages, recover_tool_calls
    from dialin.inspect.tools import make_tools

    from dialin.agents.run_led import answer_turn, clean_model_answer, make_chooser, model_leads

    ctx = _context(runtime)
    if not model_leads(ctx.get_view().config, ctx.leader):  # a small model: the run answers, the model picks
        return {"messages": [answer_turn(state["messages"], ctx.get_view(), make_chooser(ctx.get_view()))]}
    if _tool_rounds(state) >= ctx.max_tool_rounds:
        return {"messages": [AIMessage(f"I stopped after {ctx.max_tool_rounds} rounds of tool calls without an "
                                       "answer. Ask more precisely, or use a /command (/help).")]}
    view = ctx.get_view()
    prompt = load_inspector_prompt(view.config)
    sent = model_messages(prompt, view, state["messages"])
    started = time.perf_counter()
    try:
        model = ctx.get_model()
        tools = make_tools()
        answer = model.bind_tools(tools).invoke(sent)
    except (DialinError, openai.OpenAIError) as exc:
        msg = f"error: the inspector model failed ({type(exc).__name__}: {exc}). Slash commands still work (/help)."
        return {"messages": [AIMessage(msg)]}
    log_call(view, prompt, model, sent, answer, started)
    answer = recover_tool_calls(answer, {t.name for t in tools})
    repeated = _repeated_result(state, answer)
    if repeated is not None:
        # a small model asking again for what it already has: answer with what the tool said
        return {"messages": [AIMessage(repeated)]}
    return {"messages": [clean_model_answer(answer, state["messages"], view)]}


def _repeated_result(state: InspectorState, answer: AIMessage) -> str | None:
    """The last result of this turn's tool calls when ``answer`` only repeats calls already made."""
    from dialin.agents.inspector import call_key

    if not answer.tool_calls:
        return None
    keys: dict[str, str] = {}
    results: dict[str, str] = {}
    for m in reversed(state["messages"]):
        if isinstance(m, HumanMessage):
            break
        if isinstance(m, AIMessage):
            keys.update({c["id"]: call_key(c["name"], c["args"]) for c in m.tool_calls if c.get("id")})
        elif isinstance(m, ToolMessage) and m.tool_call_id not in results:
            results[m.tool_call_id] = str(m.content)
    done = {keys[i]: text for i, text in results.items() if i in keys}
    wanted = [call_key(c["name"], c["args"]) for c in answer.tool_calls]
    if all(k in done for k in wanted):
        return done[wanted[-1]]
    return None


def after_agent(state: InspectorState) -> str:
    last = state["messages"][-1]
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else END


def build_graph() -> StateGraph:
    from dialin.inspect.tools import make_tools

    builder = StateGraph(InspectorState, context_schema=InspectorContext)
    builder.add_node("command", command)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode(make_tools(), handle_tool_errors=_tool_error))
    builder.add_conditional_edges(START, route, ["command", "agent"])
    builder.add_edge("command", END)
    builder.add_conditional_edges("agent", after_agent, ["tools", END])
    builder.add_edge("tools", "agent")
    return builder


def _tool_error(exc: Exception) -> str:
    """Bad arguments from the model come back to it as text it can correct."""
    return f"error: {type(exc).__name__}: {exc}"


graph = build_graph().compile(name="dialin-inspector")
