"""Control tasks: clusters whose answer is known, mixed into the judges' queue.

Known answers come from labelled data (``--label-col``: a sample of one gold intent is
``good``, a mix of several is ``bad``) or, without labels, from clusters the crowd agreed on
with high confidence in an earlier iteration. ``interleave`` puts them into the queue at
``crowd.control_rate``, bad ones first so a judge that says ``good`` to everything meets a
bad control early. ``ControlMonitor`` reads each judge's answers in queue order and keeps its
accuracy on the controls, flagging a judge that rubber-stamps (says ``good`` to every bad
control, after ``RUBBER_STAMP_BAD`` of them) or drifts (its accuracy on the latest
``DRIFT_WINDOW`` controls falls ``DRIFT_DROP`` below its first ones).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

RUBBER_STAMP_BAD = 3
DRIFT_WINDOW = 10
DRIFT_DROP = 0.3
AGREED_P = 0.9
"""A crowd verdict is a control when every vote agrees and P(label) is at least this."""


def unique_labels(row_labels: Sequence[str] | None, row_to_unique: Sequence[int], n_unique: int) -> list[str | None]:
    """One gold label per unique sentence (the first row's), None when the data has none."""
    out: list[str | None] = [None] * n_unique
    if row_labels is None:
        return out
    for label, u in zip(row_labels, row_to_unique):
        if u >= 0 and out[u] is None and label:
            out[u] = label
    return out


def controls_from_labels(labels: Sequence[str | None], n: int, size: int, seed: int) -> list[tuple[list[int], str]]:
    """``n`` control clusters of ``size`` sentences from gold labels, alternating bad, good, bad, ..."""
    by_label: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        if lab is not None:
            by_label.setdefault(lab, []).append(i)
    big = sorted(lab for lab, idx in by_label.items() if len(idx) >= size)
    if len(by_label) < 2 or not big:
        return []
    rng = random.Random(seed)
    out: list[tuple[list[int], str]] = []
    for j in range(n):
        if j % 2 == 0:
            a, b = rng.sample(sorted(by_label), 2)
            half = max(1, size // 2)
            members = rng.sample(by_label[a], min(half, len(by_label[a]))) + \
                rng.sample(by_label[b], min(size - half, len(by_label[b])))
            out.append((sorted(members), "bad"))
        else:
            out.append((sorted(rng.sample(by_label[rng.choice(big)], size)), "good"))
    return out


def controls_from_crowd(verdicts: Mapping[str, dict], members: Mapping[str, list[int]]) -> list[tuple[list[int], str]]:
    """Clusters the crowd agreed on with high confidence: every vote the same, P(label) >= ``AGREED_P``."""
    out = []
    for key, v in verdicts.items():
        votes = v.get("votes") or []
        p = v.get("p_good")
        if key not in members or len(votes) < 2 or len({x["label"] for x in votes}) != 1 or p is None:
            continue
        if (p if v["label"] == "good" else 1 - p) >= AGREED_P:
            out.append((list(members[key]), v["label"]))
    out.sort(key=lambda c: c[1] != "bad")  # bad ones first
    return out


def n_controls(n_tasks: int, rate: float) -> int:
    """How many controls make them ``rate`` of the queue (0 when rate is 0)."""
    if rate <= 0 or n_tasks <= 0:
        return 0
    return max(1, round(rate * n_tasks / (1 - rate)))


def interleave(tasks: Sequence[str], controls: Sequence[str], rate: float) -> list[str]:
    """The queue: every ``round(1/rate)``-th item a control, in the given order; leftovers at the end."""
    if not controls:
        return list(tasks)
    every = max(2, round(1 / rate)) if rate > 0 else len(tasks) + 1
    queue, ti, ci = [], 0, 0
    while ti < len(tasks) or ci < len(controls):
        if ci < len(controls) and ((len(queue) + 1) % every == 0 or ti >= len(tasks)):
            queue.append(controls[ci])
            ci += 1
        else:
            queue.append(tasks[ti])
            ti += 1
    return queue


class ControlMonitor:
    """Each judge's accuracy on control tasks, read online in queue order, with flags."""

    def __init__(self) -> None:
        self.verdicts: dict[str, int] = {}
        self.results: dict[str, list[tuple[str, bool]]] = {}
        self.flags: dict[str, dict[str, Any]] = {}

    def observe(self, role: str, label: str, answer: str | None = None) -> None:
        """One answer of ``role``; ``answer`` is the known answer when the task is a control."""
        self.verdicts[role] = self.verdicts.get(role, 0) + 1
        if answer is None:
            return
        res = self.results.setdefault(role, [])
        res.append((answer, label == answer))
        bad = [ok for ans, ok in res if ans == "bad"]
        if len(bad) >= RUBBER_STAMP_BAD and not any(bad) and "rubber_stamp" not in self.flags.get(role, {}):
            self.flags.setdefault(role, {})["rubber_stamp"] = self.verdicts[role]
        if len(res) >= 2 * DRIFT_WINDOW and "drift" not in self.flags.get(role, {}):
            first = sum(ok for _, ok in res[:DRIFT_WINDOW]) / DRIFT_WINDOW
            last = sum(ok for _, ok in res[-DRIFT_WINDOW:]) / DRIFT_WINDOW
            if first - last >= DRIFT_DROP:
                self.flags.setdefault(role, {})["drift"] = self.verdicts[role]

    def observe_verdict(self, verdict: Mapping[str, Any], answer: str | None = None) -> None:
        """Every vote of a verdict (a crowd's or a single judge's)."""
        for v in verdict.get("votes") or [{"role": "judge", "label": verdict["label"]}]:
            self.observe(v["role"], v["label"], answer)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per role: verdicts, controls, accuracy on them, and flags (the verdict count when raised)."""
        out = {}
        for role, n in self.verdicts.items():
            res = self.results.get(role, [])
            out[role] = {"verdicts": n, "controls": len(res),
                         "control_accuracy": round(sum(ok for _, ok in res) / len(res), 4) if res else None,
                         "flags": dict(self.flags.get(role, {}))}
        return out


def monitor_queue(queue: Sequence[str], verdicts: Mapping[str, dict], answers: Mapping[str, str]) -> ControlMonitor:
    """A monitor fed the judged verdicts in queue order (controls scored against ``answers``)."""
    mon = ControlMonitor()
    for key in queue:
        if key in verdicts and verdicts[key].get("source") in ("llm", "crowd"):
            mon.observe_verdict(verdicts[key], answers.get(key))
    return mon


def format_controls(summary: Mapping[str, Mapping[str, Any]] | None) -> list[str]:
    """Text lines for ``dialin run``: each judge's accuracy on control tasks and its flags."""
    if not summary:
        return []
    lines = ["control tasks (known answers), per judge:"]
    for role, s in sorted(summary.items()):
        flags = ", ".join(f"{f} after {n} verdicts" for f, n in s["flags"].items())
        lines.append(f"  {role:<12} {s['controls']} controls, accuracy {s['control_accuracy']}"
                     + (f"  FLAGGED: {flags}" if flags else ""))
    return lines
