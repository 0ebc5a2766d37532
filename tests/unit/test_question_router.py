"""Plain-language questions answered from the run: routing, answers, confirmation, undo, no tool-call text."""

from __future__ import annotations

import re

import httpx
import openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from dialin.agents.run_led import (CHOICE_TIMEOUT_S, ROUTED, answer_turn, choice_config, clean_model_answer,
                                   looks_like_tool_call, make_chooser, model_leads)
from dialin.config import load_config
from dialin.graphs.inspector.graph import build_graph
from dialin.graphs.inspector.state import InspectorContext
from dialin.inspect import question_router as R
from fake_chat_model import ScriptedChatModel
from fakes import FakeChat, factory
from inspect_runs import base_run, copy_run, open_view, view  # noqa: F401  (fixtures)


def ids_of(view):  # noqa: F811
    return {c["name"]: c["id"] for c in view.result()["clusters"]}


@pytest.mark.parametrize("question, tool, args", [
    ("merge 3 and 7", "merge_clusters", {"a": 3, "b": 7, "name": None}),
    ("please merge cluster 3 with cluster 7 as report-card", "merge_clusters", {"a": 3, "b": 7, "name": "report-card"}),
    ("merge 3 into 7", "merge_clusters", {"a": 7, "b": 3, "name": None}),
    ("rename 12 to report-lost_card", "rename_cluster", {"cluster_id": 12, "name": "report-lost_card"}),
    ("Rename cluster 12 as 'inquire-balance'", "rename_cluster", {"cluster_id": 12, "name": "inquire-balance"}),
    ("split 5 in two", "split_cluster", {"cluster_id": 5, "k": 2}),
    ("split cluster 5 into 3", "split_cluster", {"cluster_id": 5, "k": 3}),
    ('move "balance now balance" to 4', "move_utterance", {"utterance": "balance now balance", "to_cluster": 4}),
    ("move #17 to cluster 2", "move_utterance", {"utterance": "#17", "to_cluster": 2}),
    ("move utterance #17 to unassigned", "move_utterance", {"utterance": "#17", "to_cluster": -1}),
    ("rejudge 4", "rejudge_cluster", {"cluster_id": 4}),
    ("undo that", "undo", {}),
])
def test_edits_in_plain_language(view, question, tool, args):  # noqa: F811
    call = R.match(question, view)
    assert call is not None and (call.tool, call.args) == (tool, args)


def test_questions_are_answered_from_the_run_without_the_model(view):  # noqa: F811
    r = view.result()
    ids = ids_of(view)
    card = ids["report-lost_card"]
    cases = {
        "how many clusters are there?": f"{len(r['clusters'])} clusters",
        "How many utterances are unassigned?": f"{len(r['unassigned'])} unique utterances",
        f"how big is cluster {card}?": f"cluster {card} 'report-lost_card' has",
        "which clusters are about lost cards?": f"cluster {card} 'report-lost_card'",
        f"what is in cluster {card}?": "members (",
        'where did "refund now refund" go?': f"cluster {ids['request-refund']} 'request-refund'",
        "which clusters look alike?": "most alike clusters",
        f"what did the judge see for cluster {card}?": "verdict",
        "what is the largest cluster?": "The largest is cluster",
    }
    for question, expected in cases.items():
        out = answer_turn([HumanMessage(question)], view)
        assert expected in out.content, (question, out.content)
        assert not out.tool_calls and not looks_like_tool_call(out.content)
        assert out.additional_kwargs[ROUTED]["via"] == "pattern"


def test_about_ranks_the_cluster_whose_members_say_it_first(view):  # noqa: F811
    ids = ids_of(view)
    for topic, name in [("password", "reset-password"), ("refunds", "request-refund"), ("balance", "inquire-balance")]:
        out = answer_turn([HumanMessage(f"which clusters are about {topic}?")], view).content
        first = int(re.search(r"cluster (\d+)", out).group(1))
        assert first == ids[name], out


def test_a_question_nothing_fits_gets_a_plain_sentence(view):  # noqa: F811
    out = answer_turn([HumanMessage("zzz qqq")], view, choose=lambda q, options: None)
    assert out.content == R.NOT_UNDERSTOOD and not out.tool_calls


def test_the_model_chooses_among_candidates_when_unsure(view, monkeypatch):  # noqa: F811
    monkeypatch.setattr(R, "SURE", 2.0)  # never sure: always ask
    seen = []

    def choose(question, options):
        seen.append(options)
        return options.index(R.KINDS["count_unassigned"][0]) if R.KINDS["count_unassigned"][0] in options else 0

    assert R.match("what fell through the cracks", view) is None
    call = R.route("what fell through the cracks", view, choose)
    assert seen and len(seen[0]) == 3 and call.via == "model"
    assert call.tool in {"count", "extreme_clusters", "clusters_about", "run_summary", "list_clusters",
                         "similar_clusters", "search_utterances", "show_cluster", "judge_view"}


def test_the_choice_goes_through_the_llm_layer_constrained(base_run, tmp_path):  # noqa: F811
    run_id, cfg = base_run
    fake = FakeChat().enqueue("2")
    v = open_view(run_id, copy_run(cfg.parent, tmp_path / "run"), client_factory=factory(fake))
    picked = make_chooser(v)("which is it?", ["count the clusters", "a summary of the run", "the largest clusters"])
    assert picked == 1
    sent = fake.history[0]
    assert sent["extra_body"]["grammar"] == 'root ::= "1" | "2" | "3"' and sent["max_tokens"] == 2
    assert "2. a summary of the run" in sent["messages"][-1]["content"]
    logged = [c for c in v.store.calls(run_id) if c["stage"] == "chat"]
    assert logged and logged[-1]["role"] == "inspector_choice" and logged[-1]["prompt_id"] == "inspector_choice"
    # a model that does not answer in time (no retry): no choice, and the best candidate answers instead
    ep = choice_config(v.config).endpoints["local"]
    assert (ep.timeout_s, ep.max_retries) == (CHOICE_TIMEOUT_S, 0)
    fake.enqueue(openai.APITimeoutError(request=httpx.Request("POST", "http://fake.invalid/v1")))
    assert make_chooser(v)("which one now?", ["count the clusters", "the largest clusters"]) is None


def test_without_an_answer_from_the_model_the_best_candidate_answers(view, monkeypatch):  # noqa: F811
    monkeypatch.setattr(R, "SURE", 2.0)
    monkeypatch.setattr(R, "FLOOR", -1.0)
    call = R.route("what fell through the cracks", view, lambda q, options: None)
    assert call is not None and call.via == "semantic"
    assert call.tool == R._call_for(R.ranked_kinds("what fell through the cracks", view)[0][1],
                                    "what fell through the cracks", view).tool


def session(view):  # noqa: F811
    model = ScriptedChatModel(messages=iter([]))
    graph = build_graph().compile(checkpointer=InMemorySaver())
    ctx = InspectorContext(run_id=view.run_id, view=view, model=model)
    return graph, ctx, model, {"configurable": {"thread_id": "t"}}


def revisions(view):  # noqa: F811
    return [r["revision"] for r in view.store.revisions(view.run_id)]


def test_plain_edits_confirm_and_undo_through_the_graph(view):  # noqa: F811
    ids = ids_of(view)
    a, b = ids["inquire-balance"], ids["request-refund"]
    graph, ctx, model, cfg = session(view)
    assert not model_leads(view.config, ctx.leader)  # the default llama.cpp inspector: the run leads

    out = graph.invoke({"messages": [HumanMessage("how many clusters are there?")]}, cfg, context=ctx)
    assert out["messages"][-1].content.startswith(f"{len(view.result()['clusters'])} clusters")

    out = graph.invoke({"messages": [HumanMessage(f"merge {a} and {b}")]}, cfg, context=ctx)
    (pause,) = out["__interrupt__"]
    assert pause.value["kind"] == "confirm" and "request-refund" in pause.value["preview"]
    assert revisions(view) == [1]  # nothing saved before the answer
    out = graph.invoke(Command(resume="yes"), cfg, context=ctx)
    done = [m for m in out["messages"] if isinstance(m, ToolMessage)][-1]
    assert done.content.startswith(f"done: merge {b}") and revisions(view) == [1, 2]
    assert out["messages"][-1].content == "Saved as a new revision; /undo reverts it."
    assert b not in [c["id"] for c in view.result()["clusters"]]

    out = graph.invoke({"messages": [HumanMessage(f"rename {a} to check-balance")]}, cfg, context=ctx)
    assert out["__interrupt__"][0].value["action"].startswith(f"rename {a}")
    out = graph.invoke(Command(resume="no"), cfg, context=ctx)
    assert out["messages"][-1].content == "Nothing was saved." and revisions(view) == [1, 2]

    out = graph.invoke({"messages": [HumanMessage("/undo")]}, cfg, context=ctx)
    assert out["messages"][-1].content.startswith(f"undone: merge {b}") and revisions(view) == [1]
    assert b in [c["id"] for c in view.result()["clusters"]]
    assert model.received == []  # the scripted model was never asked


def test_an_edit_with_a_bad_id_says_so_plainly(view):  # noqa: F811
    graph, ctx, _, cfg = session(view)
    out = graph.invoke({"messages": [HumanMessage("merge 9998 and 9999")]}, cfg, context=ctx)
    assert out["messages"][-1].content.startswith("That edit did not happen: there is no cluster 9998")
    assert revisions(view) == [1]


def test_who_leads_is_decided_by_config():
    local = load_config()
    assert not model_leads(local)
    remote = load_config(overrides={"endpoints": {"gpu": {"base_url": "http://gpu:8000/v1", "backend": "vllm"}},
                                    "roles": {"inspector": {"endpoint": "gpu", "model": "m", "prompt": "inspector"}}})
    assert model_leads(remote) and not model_leads(remote, "run")
    forced = load_config(overrides={"roles": {"inspector": {"endpoint": "local", "model": "q", "prompt": "inspector",
                                                            "tool_calling": True}}})
    assert model_leads(forced) and model_leads(local, "model")


@pytest.mark.parametrize("text, is_call", [
    ('```json\n{"name": "list_clusters", "arguments": {"verdict": "any"}}\n```', True),
    ('{"name": "nope", "arguments": {}}', True),
    ("<tool_call>\n{\"name\": \"x\"}\n</tool_call>", True),
    ('Sure: {"name": "run_summary", "arguments": {}}', True),
    ("There are 4 clusters: 0 report-lost_card, 1 inquire-balance.", False),
    ("Cluster 3 'x' has 12 rows.", False),
])
def test_tool_call_text_is_recognised(text, is_call):
    assert looks_like_tool_call(text) is is_call


def test_a_strong_models_call_written_as_text_is_run_from_the_run_or_refused(view):  # noqa: F811
    question = [HumanMessage("how many clusters are there?")]
    raw = AIMessage('```json\n{"name": "count_everything", "arguments": {}}\n```')
    out = clean_model_answer(raw, question, view)
    assert out.content.startswith(f"{len(view.result()['clusters'])} clusters") and "{" not in out.content
    out = clean_model_answer(raw, [HumanMessage("zzz qqq")], view)
    assert "could not run" in out.content and "{" not in out.content
    fine = AIMessage("There are 4 clusters.")
    assert clean_model_answer(fine, question, view) is fine


def test_a_strong_model_leads_with_the_same_tools(view):  # noqa: F811
    from fake_chat_model import tool_call

    model = ScriptedChatModel(messages=iter([tool_call("clusters_about", topic="lost card"),
                                             AIMessage('{"name": "oops", "arguments": {}}')]))
    graph = build_graph().compile(checkpointer=InMemorySaver())
    ctx = InspectorContext(run_id=view.run_id, view=view, model=model, leader="model")
    out = graph.invoke({"messages": [HumanMessage("which clusters are about lost cards?")]},
                       {"configurable": {"thread_id": "s"}}, context=ctx)
    assert {"clusters_about", "count", "similar_clusters", "merge_clusters"} <= set(model.bound_tools)
    tool_msg = next(m for m in out["messages"] if isinstance(m, ToolMessage))
    assert "report-lost_card" in tool_msg.content
    assert not looks_like_tool_call(out["messages"][-1].content)
    assert "report-lost_card" in out["messages"][-1].content  # answered from the run instead of the JSON


def test_the_terminal_chat_answers_plain_questions_and_edits(view, tmp_path):  # noqa: F811
    from dialin.inspect.chat import run_chat

    ids = ids_of(view)
    a, b = ids["inquire-balance"], ids["request-refund"]
    lines = iter(["how many clusters are there?", f"merge {a} and {b}", "y", "/undo", "/quit"])
    said: list[str] = []
    run_chat(view, checkpoint_db=str(tmp_path / "chat.db"), ask=lambda p: next(lines), say=said.append)
    text = "\n".join(said)
    assert f"{len(view.result()['clusters'])} clusters (" in text
    assert "merge_clusters" not in text and f"done: merge {b}" in text and "request-refund" in text
    assert "Saved as a new revision; /undo reverts it." in text and f"undone: merge {b}" in text
    assert revisions(view) == [1] and not looks_like_tool_call(text)


def test_the_question_set_harness_on_a_small_run(view):  # noqa: F811
    """The harness of the integration question set: checks that can fail, edits confirmed and undone."""
    from chat_questions import EDITS, QUESTIONS, ask_all, table

    picked = QUESTIONS[:6] + EDITS[:2] + EDITS[-1:]
    outcomes = ask_all(view, picked)
    text = table(outcomes)
    assert all(o.right for o in outcomes), text
    assert not any(o.shows_call_text or o.unconfirmed_edit for o in outcomes)
    assert [o.undo_ok for o in outcomes[6:]] == [True, True, None] and revisions(view) == [1]
    wrong = ask_all(view, [QUESTIONS[0]], thread="wrong")  # a check that reads the answer, not a constant
    assert wrong[0].right
    from chat_questions import Question, has_number

    liar = Question(lambda v: ("How many clusters are there?",
                               lambda t, v2: has_number(t, len(v.result()["clusters"]) + 1)), "count")
    assert not ask_all(view, [liar], thread="liar")[0].right
