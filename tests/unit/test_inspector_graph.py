"""The inspector graph driven by a scripted chat model: questions, a confirmed merge, undo."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from dialin.agents.inspector import make_model
from dialin.inspect.chat import run_chat
from dialin.config import Config, load_config
from dialin.errors import ConfigError, EndpointUnreachable
from dialin.graphs.inspector.graph import build_graph
from dialin.graphs.inspector.state import InspectorContext
from fake_chat_model import ScriptedChatModel, tool_call
from inspect_runs import base_run, view  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]


def session(view, *script, **context):  # noqa: F811
    model = ScriptedChatModel(messages=iter(script))
    graph = build_graph().compile(checkpointer=InMemorySaver())
    ctx = InspectorContext(run_id=view.run_id, view=view, model=model, **{"leader": "model", **context})
    return graph, ctx, model, {"configurable": {"thread_id": "t"}}


def revisions(view):  # noqa: F811
    return [r["revision"] for r in view.store.revisions(view.run_id)]


def test_a_session_questions_merge_confirm_undo(view):  # noqa: F811
    ids = {c["name"]: c["id"] for c in view.result()["clusters"]}
    a, b = ids["inquire-balance"], ids["request-refund"]
    graph, ctx, model, cfg = session(
        view,
        tool_call("list_clusters", "c1"),
        AIMessage("There are several clusters; inquire-balance and request-refund are two of them."),
        tool_call("merge_clusters", "c2", a=a, b=b),
        AIMessage("Merged request-refund into inquire-balance."),
    )
    # a question: the model calls a tool, reads its answer, replies
    out = graph.invoke({"messages": [HumanMessage("which clusters are there?")]}, cfg, context=ctx)
    tool_msg = next(m for m in out["messages"] if isinstance(m, ToolMessage))
    assert "inquire-balance" in tool_msg.content and "verdict" in tool_msg.content
    assert out["messages"][-1].content.startswith("There are several clusters")
    assert "list_clusters" in model.bound_tools and "merge_clusters" in model.bound_tools
    first = model.received[0]
    assert isinstance(first[0], SystemMessage) and "inspect the result" in first[0].content
    assert view.run_id in first[0].content
    assert any(isinstance(m, ToolMessage) and "inquire-balance" in m.content for m in model.received[1])

    # an edit: the graph pauses for confirmation before anything is saved
    out = graph.invoke({"messages": [HumanMessage(f"merge {b} into {a}")]}, cfg, context=ctx)
    (pause,) = out["__interrupt__"]
    assert pause.value["kind"] == "confirm" and "request-refund" in pause.value["preview"]
    assert graph.get_state(cfg).next == ("tools",)
    assert revisions(view) == [1]
    out = graph.invoke(Command(resume="yes"), cfg, context=ctx)
    done = [m for m in out["messages"] if isinstance(m, ToolMessage)][-1]
    assert done.content.startswith(f"done: merge {b}") and "revision 2" in done.content
    assert out["messages"][-1].content == "Merged request-refund into inquire-balance."
    assert revisions(view) == [1, 2]
    assert b not in [c["id"] for c in view.result()["clusters"]]

    # undo, a slash command: no model call
    calls = len(model.received)
    out = graph.invoke({"messages": [HumanMessage("/undo")]}, cfg, context=ctx)
    assert out["messages"][-1].content.startswith(f"undone: merge {b}")
    assert revisions(view) == [1] and len(model.received) == calls
    assert b in [c["id"] for c in view.result()["clusters"]]

    # every model call is in the store's log
    logged = [c for c in view.store.calls(view.run_id) if c["stage"] == "chat"]
    assert len(logged) == 4 and all(c["role"] == "inspector" and c["prompt_id"] == "inspector" for c in logged)
    assert json.loads(logged[2]["response"])["tool_calls"][0]["name"] == "merge_clusters"


def test_a_refused_edit_saves_nothing(view):  # noqa: F811
    cid = view.result()["clusters"][0]["id"]
    graph, ctx, model, cfg = session(view, tool_call("rename_cluster", cluster_id=cid, name="x-y"), AIMessage("OK."))
    out = graph.invoke({"messages": [HumanMessage("rename it")]}, cfg, context=ctx)
    assert out["__interrupt__"][0].value["action"].startswith(f"rename {cid}")
    out = graph.invoke(Command(resume={"confirm": False}), cfg, context=ctx)
    assert [m for m in out["messages"] if isinstance(m, ToolMessage)][-1].content.startswith("cancelled: rename")
    assert revisions(view) == [1]


def test_tool_errors_go_back_to_the_model(view):  # noqa: F811
    graph, ctx, model, cfg = session(view, tool_call("show_cluster", cluster_id=999),
                                     tool_call("show_cluster", "c2", cluster_id="nine"), AIMessage("No such cluster."))
    out = graph.invoke({"messages": [HumanMessage("show 999")]}, cfg, context=ctx)
    errors = [m.content for m in out["messages"] if isinstance(m, ToolMessage)]
    assert errors[0].startswith("error: there is no cluster 999")
    assert errors[1].startswith("error:") and "cluster_id" in errors[1]
    assert out["messages"][-1].content == "No such cluster."


def test_endless_tool_calls_are_cut_off(view):  # noqa: F811
    calls = [tool_call("search_utterances", f"c{i}", query=f"card {i}", mode="keyword") for i in range(5)]
    graph, ctx, model, cfg = session(view, *calls, max_tool_rounds=2)
    out = graph.invoke({"messages": [HumanMessage("find cards")]}, cfg, context=ctx)
    assert len(model.received) == 2 and "stopped after 2 rounds" in out["messages"][-1].content


def test_a_repeated_tool_call_is_answered_with_its_result(view):  # noqa: F811
    graph, ctx, model, cfg = session(view, tool_call("list_clusters", "c1", sort="size"),
                                     tool_call("list_clusters", "c2", sort="size"), AIMessage("never reached"))
    out = graph.invoke({"messages": [HumanMessage("clusters?")]}, cfg, context=ctx)
    assert len(model.received) == 2
    assert out["messages"][-1].content.startswith(f"{len(view.result()['clusters'])} clusters (id  name")


@pytest.mark.parametrize("text, expected", [
    ('{"name": "list_clusters", "arguments": {"sort": "size"}}', [("list_clusters", {"sort": "size"})]),
    ('<tool_call>\n{"name": "show_cluster", "arguments": "{\\"cluster_id\\": 3}"}\n</tool_call>',
     [("show_cluster", {"cluster_id": 3})]),
    ('```json\n[{"name": "run_summary", "parameters": {}}, {"name": "show_cluster", "args": {"cluster_id": 1}}]\n```',
     [("run_summary", {}), ("show_cluster", {"cluster_id": 1})]),
    ('{"name": "run_summary", "arguments": {}}\n{"name": "run_summary", "arguments": "{}"}', [("run_summary", {})]),
    ("There are 4 clusters.", None),
    ('{"name": "delete_everything", "arguments": {}}', None),
    ('Sure: {"name": "run_summary", "arguments": {}}', None),
    ('{"name": "run_summary", "arguments": 3}', None),
])
def test_tool_calls_written_as_text_are_recovered(text, expected):
    from dialin.agents.inspector import RECOVERED, recover_tool_calls

    out = recover_tool_calls(AIMessage(text), {"list_clusters", "show_cluster", "run_summary"})
    if expected is None:
        assert out.tool_calls == [] and out.content == text
    else:
        assert [(c["name"], c["args"]) for c in out.tool_calls] == expected
        assert out.additional_kwargs[RECOVERED] and out.content == text


needs_langchain_openai = pytest.mark.skipif(importlib.util.find_spec("langchain_openai") is None,
                                            reason="the inspector model needs langchain-openai: "
                                                   "pip install langchain-openai")


@needs_langchain_openai
def test_a_model_that_cannot_be_reached_leaves_slash_commands_working(view):  # noqa: F811
    config = load_config(overrides={"endpoints": {"local": {"base_url": "http://127.0.0.1:9/v1", "max_retries": 0,
                                                            "connect_timeout_s": 1}}})
    graph, ctx, _, cfg = session(view)
    ctx.model = make_model(config)
    out = graph.invoke({"messages": [HumanMessage("hello?")]}, cfg, context=ctx)
    assert out["messages"][-1].content.startswith("error: the inspector model failed")
    out = graph.invoke({"messages": [HumanMessage("/clusters")]}, cfg, context=ctx)
    assert "clusters (id  name" in out["messages"][-1].content


@needs_langchain_openai
def test_make_model_reads_the_inspector_role(monkeypatch):
    config = load_config(overrides={
        "endpoints": {"remote": {"base_url": "http://gpu:8000/v1", "backend": "vllm", "api_key_env": "MY_KEY"}},
        "roles": {"judge": {"endpoint": "remote", "model": "j", "prompt": "judge"},
                  "namer": {"endpoint": "remote", "model": "n", "prompt": "namer"},
                  "inspector": {"endpoint": "remote", "model": "Qwen/Qwen2.5-7B-Instruct", "prompt": "inspector",
                                "max_tokens": 300, "temperature": 0.1}}})
    with pytest.raises(ConfigError, match=r"\$MY_KEY"):
        make_model(config)
    monkeypatch.setenv("MY_KEY", "sk-test")
    model = make_model(config)
    assert (model.model_name, model.openai_api_base, model.max_tokens) == ("Qwen/Qwen2.5-7B-Instruct",
                                                                           "http://gpu:8000/v1", 300)
    assert model.openai_api_key.get_secret_value() == "sk-test"
    local = load_config()
    with pytest.raises(EndpointUnreachable, match="dialin serve"):
        make_model(local)
    assert make_model(local, {"local": "http://127.0.0.1:8123/v1"}).openai_api_base == "http://127.0.0.1:8123/v1"
    no_role = Config.model_validate({"roles": {"judge": local.roles["judge"].model_dump(),
                                               "namer": local.roles["namer"].model_dump()}})
    with pytest.raises(ConfigError, match="roles.inspector is not configured"):
        make_model(no_role)


def test_graph_shape_and_langgraph_json():
    from dialin.graphs.inspector.graph import graph

    assert graph.checkpointer is None and graph.name == "dialin-inspector"
    drawn = graph.get_graph()
    assert set(drawn.nodes) == {"__start__", "command", "agent", "tools", "__end__"}
    edges = {(e.source, e.target) for e in drawn.edges}
    assert edges == {("__start__", "command"), ("__start__", "agent"), ("command", "__end__"),
                     ("agent", "tools"), ("agent", "__end__"), ("tools", "agent")}
    spec = json.loads((ROOT / "langgraph.json").read_text())
    assert spec["dependencies"] == ["."]
    for name, ref in spec["graphs"].items():
        path, attr = ref.split(":")
        module_spec = importlib.util.spec_from_file_location(f"lg_{name}", ROOT / path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        compiled = getattr(module, attr)
        assert compiled.checkpointer is None, f"{name}: the platform supplies persistence"


def test_terminal_loop_with_a_sqlite_checkpointer(view, tmp_path):  # noqa: F811
    ids = {c["name"]: c["id"] for c in view.result()["clusters"]}
    model = ScriptedChatModel(messages=iter([tool_call("run_summary"), AIMessage("It has a few clusters.")]))
    lines = iter(["/clusters", "how big is the run?", f"/rename {ids['inquire-balance']} check-balance", "y", "",
                  "/quit"])
    said: list[str] = []
    thread = run_chat(view, model=model, checkpoint_db=str(tmp_path / "chat.db"), ask=lambda p: next(lines),
                      say=said.append, leader="model")
    text = "\n".join(said)
    assert "It has a few clusters." in text and "-> run_summary()" in text
    assert "save as a new revision?" not in text  # the question goes through ask(), not say()
    assert "done: rename" in text and revisions(view) == [1, 2]
    assert thread.startswith(f"chat-{view.run_id}-") and (tmp_path / "chat.db").exists()


def test_cli_chat_and_report(base_run, tmp_path):  # noqa: F811
    from dialin.cli import main

    run_id, cfg = base_run
    runner = CliRunner()
    res = runner.invoke(main, ["chat", run_id, "--config", str(cfg)], input="/clusters\n/show 0 3\n/quit\n")
    assert res.exit_code == 0, res.output
    assert "clusters (id  name" in res.output and "members (" in res.output
    out = tmp_path / "r.html"
    res = runner.invoke(main, ["report", "latest", "--config", str(cfg), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["run_id"] == run_id and out.stat().st_size > 5000
    res = runner.invoke(main, ["report", "no-such-run", "--config", str(cfg)])
    assert res.exit_code == 2 and "not in the store" in res.output
