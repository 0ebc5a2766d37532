"""The human with a budget: priority order, budget accounting, the simulated reviewer, the graph with both."""

from __future__ import annotations

from dialin.tools.review_priority import by_priority, doubt, left, ordered, simulated_reviewer, spent


def test_doubt_comes_from_p_good_then_agreement() -> None:
    assert abs(doubt(0.9) - 0.1) < 1e-9
    assert doubt(None, 2 / 3) == 1 - 2 / 3 and doubt(None) == 0.5


def test_most_rows_at_stake_first_least_confident_among_equals() -> None:
    items = [{"key": "small-unsure", "rows": 10, "p_good": 0.5}, {"key": "big-sure", "rows": 100, "p_good": 0.99},
             {"key": "big-unsure", "rows": 100, "p_good": 0.6}, {"key": "mid", "rows": 40, "p_good": 0.7}]
    assert [i["key"] for i in by_priority(items)] == ["big-unsure", "mid", "small-unsure", "big-sure"]
    shuffled = ordered(items, "random", seed=1)
    assert sorted(i["key"] for i in shuffled) == sorted(i["key"] for i in items)


def test_a_good_verdict_counts_a_quarter_of_a_bad_one() -> None:
    """Session 9 tried the reverse (a bad verdict at 0.25) and lost 2-3 NMI on HWU64; session 10 measured that
    overturning a good verdict moved NMI little and a bad one most, and kept good at 0.25 (BENCHMARKS 17)."""
    items = [{"key": "good-unsure", "rows": 100, "p_good": 0.55, "label": "good"},
             {"key": "bad-fair", "rows": 100, "p_good": 0.2, "label": "bad"}]
    assert [i["key"] for i in by_priority(items)] == ["bad-fair", "good-unsure"]
    assert [i["key"] for i in by_priority([dict(i, label=None) for i in items])] == ["good-unsure", "bad-fair"]


def test_budget_counts_human_decisions() -> None:
    verdicts = {"a": {"source": "human"}, "b": {"source": "llm"}, "c": {"source": "human"}}
    assert spent(verdicts) == 2 and left(5, verdicts) == 3 and left(1, verdicts) == 0 and left(None, verdicts) is None


def test_simulated_reviewer_answers_from_gold() -> None:
    gold = ["x", "x", "x", "x", "y", "y"]
    review = simulated_reviewer(gold)
    answers = review({"kind": "verdicts", "items": [{"key": "pure", "members": [0, 1, 2, 3]},
                                                    {"key": "mixed", "members": [0, 1, 4, 5]}]})
    assert answers == {"pure": "good", "mixed": "bad"}
    merges = review({"kind": "merges", "items": [{"group": 0, "members": [[0, 1], [2, 3]]},
                                                  {"group": 1, "members": [[0, 1], [4, 5]]}]})
    assert merges == {"accept": [0]}
