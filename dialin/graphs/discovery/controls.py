"""Control tasks in the discovery loop (config ``crowd.control_rate``; see ``dialin.agents.control``).

``add_controls`` runs after the cascade: it makes control clusters (from ``--label-col`` when the
data has labels, else from earlier iterations' clusters the crowd agreed on) and returns the
judges' queue with them mixed in. ``control_summary`` scores every judge on them in queue order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dialin.agents.control import (controls_from_crowd, controls_from_labels, interleave, monitor_queue, n_controls,
                                   unique_labels)
from dialin.workspace import Workspace


def add_controls(ws: Workspace, t: int, to_judge: dict[str, list[int]],
                 verdicts: Mapping[str, dict]) -> tuple[dict[str, list[int]], dict[str, str], list[str]]:
    """(to_judge with controls added, control key -> known answer, queue order of this iteration)."""
    rate = ws.config.crowd.control_rate
    want = n_controls(len(to_judge), rate)
    if not want:
        return to_judge, {}, list(to_judge)
    corpus = ws.corpus
    labels = unique_labels(corpus.labels, corpus.row_to_unique, len(corpus.unique_texts))
    size = ws.config.method.n_sentences
    if any(lab is not None for lab in labels):
        made = controls_from_labels(labels, want, size, seed=ws.config.method.seed + t)
    else:  # earlier iterations' unanimous, confident crowd verdicts, on the sample the judges saw
        samples = {k: v["sample"] for k, v in verdicts.items() if v.get("sample") and not k.startswith("ctl:")}
        made = controls_from_crowd(verdicts, samples)[:want]
    controls = {f"ctl:{t}:{j}": members for j, (members, _) in enumerate(made)}
    answers = {f"ctl:{t}:{j}": answer for j, (_, answer) in enumerate(made)}
    queue = interleave(list(to_judge), list(controls), rate)
    everything = {**to_judge, **controls}
    return {k: everything[k] for k in queue}, answers, queue


def control_summary(queue: list[str], verdicts: Mapping[str, dict], answers: Mapping[str, str]) -> dict[str, Any] | None:
    """Per judge role: verdicts, controls, accuracy on them, flags (None when no control was asked)."""
    if not answers:
        return None
    return monitor_queue(queue, verdicts, answers).summary()
