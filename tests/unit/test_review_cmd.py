"""``dialin review``: a finished run reviewed later, each answer a new revision (real SQLite store)."""

from __future__ import annotations

from dialin.inspect.review import review_items, review_run
from test_graph import run


def test_review_saves_each_answer_as_a_revision(tmp_path):
    result, _, store, _ = run(tmp_path)
    run_id = result["run_id"]
    items = review_items(result)
    assert [it["rows"] for it in items][:1] and len(items) == len(result["clusters"])
    first, second = items[0]["id"], items[1]["id"]
    answers = iter(["good", "bad", "skip", "quit"])
    said: list[str] = []
    before = len(store.revisions(run_id))
    saved = review_run(store, run_id, lambda _it, _c: next(answers), said.append, budget=None)
    assert saved == 2 and len(store.revisions(run_id)) == before + 2
    latest = store.load_result(run_id)
    kept = {c["id"]: c for c in latest["clusters"]}
    assert kept[first]["verdict"]["source"] == "human" and second not in kept
    gone = next(c for c in result["clusters"] if c["id"] == second)
    assert set(gone["members"]) <= set(latest["unassigned"])
    assert first not in [it["id"] for it in review_items(latest)]  # decided: not asked again


def test_review_with_a_budget_asks_at_most_that_many(tmp_path):
    result, _, store, _ = run(tmp_path)
    asked: list = []
    review_run(store, result["run_id"], lambda it, _c: asked.append(it) or "skip", lambda _s: None, budget=2)
    assert len(asked) == 2
