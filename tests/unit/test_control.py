"""Control tasks: building them, queueing them, and catching a judge that rubber-stamps."""

from __future__ import annotations

import random

from dialin.agents.control import (ControlMonitor, controls_from_crowd, controls_from_labels, interleave,
                                   monitor_queue, n_controls, unique_labels)


def test_unique_labels_take_the_first_row() -> None:
    assert unique_labels(["a", "b", "a", "c"], [0, 1, 0, -1], 3) == ["a", "b", None]
    assert unique_labels(None, [0, 1], 2) == [None, None]


def test_controls_from_labels_alternate_bad_and_good() -> None:
    labels = ["x"] * 20 + ["y"] * 20 + ["z"] * 20
    ctl = controls_from_labels(labels, 6, 8, seed=0)
    assert [a for _, a in ctl] == ["bad", "good"] * 3
    for members, answer in ctl:
        assert len(members) == 8
        assert (len({labels[i] for i in members}) == 1) == (answer == "good")
    assert controls_from_labels(["x"] * 20, 4, 8, 0) == []  # one intent: no bad control possible


def test_controls_from_crowd_keep_confident_unanimous_verdicts() -> None:
    vote = lambda r, lab: {"role": r, "label": lab}  # noqa: E731
    verdicts = {"a": {"label": "good", "p_good": 0.97, "votes": [vote("x", "good"), vote("y", "good")]},
                "b": {"label": "bad", "p_good": 0.02, "votes": [vote("x", "bad"), vote("y", "bad")]},
                "c": {"label": "good", "p_good": 0.97, "votes": [vote("x", "good"), vote("y", "bad")]},
                "d": {"label": "good", "p_good": 0.6, "votes": [vote("x", "good"), vote("y", "good")]}}
    members = {k: [i] for i, k in enumerate("abcd")}
    assert controls_from_crowd(verdicts, members) == [([1], "bad"), ([0], "good")]


def test_interleave_puts_controls_at_the_rate() -> None:
    tasks = [f"t{i}" for i in range(20)]
    q = interleave(tasks, ["c0", "c1", "c2", "c3", "c4"], 0.2)
    assert len(q) == 25 and [q.index(f"c{i}") for i in range(5)] == [4, 9, 14, 19, 24]
    assert n_controls(20, 0.2) == 5 and n_controls(20, 0.0) == 0
    assert interleave(tasks, [], 0.2) == tasks


def _stream(judge, n: int, rate: float, seed: int) -> tuple[list[str], dict[str, dict], dict[str, str]]:
    rng = random.Random(seed)
    truth = {f"t{i}": rng.choice(["good", "bad"]) for i in range(n)}
    answers = {f"c{i}": ("bad" if i % 2 == 0 else "good") for i in range(n_controls(n, rate))}
    queue = interleave(list(truth), list(answers), rate)
    known = truth | answers
    verdicts = {k: {"label": judge(known[k], rng), "source": "llm", "votes": []} for k in queue}
    return queue, verdicts, answers


def test_rubber_stamp_is_caught_within_30_verdicts() -> None:
    queue, verdicts, answers = _stream(lambda truth, rng: "good", 100, 0.2, 0)
    mon = monitor_queue(queue, verdicts, answers)
    s = mon.summary()["judge"]
    assert s["flags"]["rubber_stamp"] <= 30
    assert s["control_accuracy"] == 12 / 25  # the 12 good controls of 25


def test_an_honest_judge_is_not_flagged() -> None:
    for seed in range(5):
        honest = lambda truth, rng: truth if rng.random() < 0.85 else ("bad" if truth == "good" else "good")  # noqa
        queue, verdicts, answers = _stream(honest, 100, 0.2, seed)
        s = monitor_queue(queue, verdicts, answers).summary()["judge"]
        assert "rubber_stamp" not in s["flags"] and s["control_accuracy"] >= 0.6


def test_drift_is_flagged() -> None:
    mon = ControlMonitor()
    for i in range(10):
        mon.observe("j", "good" if i % 2 else "bad", "good" if i % 2 else "bad")
    for i in range(10):
        mon.observe("j", "bad" if i % 2 else "good", "good" if i % 2 else "bad")
    assert "drift" in mon.summary()["j"]["flags"]


def test_crowd_votes_are_scored_per_member() -> None:
    mon = ControlMonitor()
    mon.observe_verdict({"label": "bad", "votes": [{"role": "a", "label": "good"}, {"role": "b", "label": "bad"}]},
                        "bad")
    s = mon.summary()
    assert s["a"]["control_accuracy"] == 0.0 and s["b"]["control_accuracy"] == 1.0


def test_format_names_the_flag() -> None:
    from dialin.agents.control import format_controls

    text = "\n".join(format_controls({"s": {"controls": 4, "control_accuracy": 0.5, "flags": {"rubber_stamp": 20}}}))
    assert "FLAGGED: rubber_stamp after 20 verdicts" in text
    assert format_controls(None) == []
