"""Slash commands: parsed, run by the inspector graph's command node with no model at all."""

from __future__ import annotations

import json

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from dialin.inspect.chat import run_turn
from dialin.inspect.commands import Parsed, parse_command
from dialin.errors import DialinError
from dialin.graphs.inspector.graph import build_graph
from dialin.graphs.inspector.state import InspectorContext
from fake_chat_model import ScriptedChatModel
from inspect_runs import NASTY, base_run, view  # noqa: F401  (fixtures)


@pytest.mark.parametrize("line, expected", [
    ("what is cluster 3?", None),
    ("/help", Parsed("help")),
    ("/quit", Parsed("quit")),
    ("/undo", Parsed("undo")),
    ("/summary", Parsed("run_summary")),
    ("/clusters", Parsed("list_clusters")),
    ("/clusters bad confidence", Parsed("list_clusters", {"verdict": "bad", "sort": "confidence"})),
    ("/show 12", Parsed("show_cluster", {"cluster_id": 12})),
    ("/show 12 5", Parsed("show_cluster", {"cluster_id": 12, "max_members": 5})),
    ("/search lost my card", Parsed("search_utterances", {"query": "lost my card", "mode": "semantic"})),
    ("/search -k refund", Parsed("search_utterances", {"query": "refund", "mode": "keyword"})),
    ("/where I've lost my card", Parsed("find_utterance", {"utterance": "I've lost my card"})),
    ("/where #12", Parsed("find_utterance", {"utterance": "#12"})),
    ("/compare 3 7", Parsed("compare_clusters", {"a": 3, "b": 7})),
    ("/rename 3 report-lost_card", Parsed("rename_cluster", {"cluster_id": 3, "name": "report-lost_card"})),
    ("/rename 3 lost card stuff", Parsed("rename_cluster", {"cluster_id": 3, "name": "lost card stuff"})),
    ("/merge 3 7", Parsed("merge_clusters", {"a": 3, "b": 7, "name": None})),
    ("/merge 3 7 card issues", Parsed("merge_clusters", {"a": 3, "b": 7, "name": "card issues"})),
    ("/split 3 2", Parsed("split_cluster", {"cluster_id": 3, "k": 2})),
    ("/split 3", Parsed("split_cluster", {"cluster_id": 3, "k": 2})),
    ('/move "I paid twice 2" 5', Parsed("move_utterance", {"utterance": "I paid twice 2", "to_cluster": 5})),
    ("/move I've lost my card -1", Parsed("move_utterance", {"utterance": "I've lost my card", "to_cluster": -1})),
    ("/move #4 5", Parsed("move_utterance", {"utterance": "#4", "to_cluster": 5})),
    ("/rejudge 3", Parsed("rejudge_cluster", {"cluster_id": 3})),
    ("/export out/dir", Parsed("export_run", {"out_dir": "out/dir"})),
])
def test_parse_command(line, expected):
    assert parse_command(line) == expected


@pytest.mark.parametrize("line, message", [
    ("/show", "usage: /show"), ("/show x", "ID must be a number"), ("/compare 3", "usage: /compare"),
    ("/move 5", "usage: /move"), ("/frobnicate", "unknown command /frobnicate"),
])
def test_parse_errors_say_how_to_fix(line, message):
    with pytest.raises(DialinError, match=message):
        parse_command(line)


class Session:
    """The inspector graph with an in-memory checkpointer and a model that must never be called."""

    def __init__(self, view):  # noqa: F811
        self.view = view
        self.model = ScriptedChatModel(messages=iter([]))
        self.graph = build_graph().compile(checkpointer=InMemorySaver())
        self.context = InspectorContext(run_id=view.run_id, view=view, model=self.model)
        self.config = {"configurable": {"thread_id": "t1"}}

    def say(self, line: str, *answers: str) -> str:
        out: list[str] = []
        queue = list(answers)
        run_turn(self.graph, line, self.config, self.context, ask=lambda prompt: queue.pop(0), say=out.append)
        assert not queue, "an answer was not asked for"
        assert self.model.received == [], "a slash command called the model"
        return "\n".join(out)

    def revisions(self) -> list[int]:
        return [r["revision"] for r in self.view.store.revisions(self.view.run_id)]


def ids(chat: Session) -> dict[str, int]:
    return {c["name"]: c["id"] for c in chat.view.result()["clusters"]}


@pytest.fixture
def chat(view):  # noqa: F811
    return Session(view)


def test_questions_without_a_model(chat):
    result = chat.view.result()
    names = [c["name"] for c in result["clusters"]]
    out = chat.say("/clusters")
    assert all(n in out for n in names) and "verdict good" in out
    assert "against gold labels: NMI" in chat.say("/summary")
    judged = next(c for c in result["clusters"] if (c["verdict"] or {}).get("votes"))
    shown = chat.say(f"/show {judged['id']}")
    assert "vote: judge" in shown and "members (" in shown and ("sample the judge saw" in shown or "saw all" in shown)
    hits = chat.say("/search lost my card")
    assert hits.splitlines()[1].endswith("'report-lost_card'")
    assert "20 utterances contain 'refund'" in chat.say("/search -k refund")
    refund = ids(chat)["request-refund"]
    assert chat.say("/where refund now refund").endswith(f"is in cluster {refund} 'request-refund'")
    assert "(1 row) is in cluster" in chat.say(f"/where #{result['unique_texts'].index(NASTY)}")
    assert "no utterance is exactly" in chat.say("/where something else entirely")
    assert "centroid cosine" in chat.say("/compare 1 2")
    assert "/undo" in chat.say("/help")
    assert chat.say("/show 99").startswith("error: there is no cluster 99")
    assert chat.say("/split 1 99").startswith("error: k: Input should be less than or equal to 20")
    assert chat.revisions() == [1]


def test_merge_asks_first_and_undo_reverts(chat):
    before = [c["id"] for c in chat.view.result()["clusters"]]
    a, b = ids(chat)["inquire-balance"], ids(chat)["request-refund"]
    out = chat.say(f"/merge {a} {b}", "n")
    assert "inquire-balance" in out and "request-refund" in out and "cancelled" in out
    assert chat.revisions() == [1]
    out = chat.say(f"/merge {a} {b}", "y")
    assert "Saved as revision 2" in out
    assert chat.revisions() == [1, 2]
    assert [c["id"] for c in chat.view.result()["clusters"]] == [i for i in before if i != b]
    assert chat.view.store.revisions(chat.view.run_id)[-1]["note"].startswith(f"chat: merge {b}")
    assert f"undone: merge {b}" in chat.say("/undo")
    assert chat.revisions() == [1]
    assert [c["id"] for c in chat.view.result()["clusters"]] == before
    assert chat.say("/undo").startswith("error: nothing to undo")
    assert chat.revisions() == [1], "the discovery revision must never be undone"


def test_every_edit_makes_one_revision(chat, tmp_path):
    lost, first = ids(chat)["report-lost_card"], chat.view.result()["clusters"][0]["id"]
    top = max(ids(chat).values())
    assert "Saved as revision 2" in chat.say(f"/rename {lost} <b>lost</b> card", "yes")
    assert ids(chat)["<b>lost</b> card"] == lost
    assert "Saved as revision 3" in chat.say(f"/split {first} 2", "y")
    assert [c["id"] for c in chat.view.result()["clusters"]][:2] == [top + 1, top + 2]
    assert "Saved as revision 4" in chat.say('/move "refund now refund" -1', "y")
    assert "is in unassigned" in chat.say("/where refund now refund")
    balance = ids(chat)["inquire-balance"]
    out = chat.say(f"/rejudge {balance}", "y")
    assert f"re-judge {balance}" in out and "Saved as revision 5" in out
    verdict = next(c for c in chat.view.result()["clusters"] if c["id"] == balance)["verdict"]
    assert verdict["label"] == "good" and verdict["votes"][0]["role"] == "judge" and verdict["sample"]
    assert chat.view.store.calls(chat.view.run_id)[-1]["stage"] == "rejudge"
    assert "wrote" in chat.say(f"/export {tmp_path / 'out'}")
    rows = [json.loads(line) for line in (tmp_path / "out" / "clusters.jsonl").read_text().split("\n") if line]
    assert rows[-1]["id"] == -1 and "refund now refund" in rows[-1]["members"]
    assert chat.revisions() == [1, 2, 3, 4, 5]
    for expected in ([1, 2, 3, 4], [1, 2, 3], [1, 2], [1]):
        chat.say("/undo")
        assert chat.revisions() == expected
