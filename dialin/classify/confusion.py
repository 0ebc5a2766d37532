"""Which intents a classifier trained on a run mixes up: a hint for merges, in the report and in chat.

The classifier of ``dialin.classify.classifier`` is fitted on the run's unique utterances (latest
revision), and its held-out part (20% of each intent) says which intents it confuses.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dialin.errors import DialinError


def run_confusion(result: dict[str, Any], X: np.ndarray, top: int = 10, seed: int = 0) -> dict[str, Any] | None:
    """Held-out accuracy and the ``top`` most frequent mix-ups; None when there is nothing to learn."""
    from dialin.classify.classifier import IntentClassifier
    from dialin.classify.data import labelled_members

    try:
        idx, labels = labelled_members(result)
    except DialinError:
        return None
    if len(set(labels)) < 2:
        return None
    ids = {c["name"]: c["id"] for c in result["clusters"]}
    clf = IntentClassifier(seed=seed).fit_vectors(np.asarray(X)[idx], labels)
    pairs = [{**p, "true_id": ids[p["true"]], "predicted_id": ids[p["predicted"]]}
             for p in clf.holdout_.get("confusion", [])[:top]]
    return {"holdout_accuracy": clf.holdout_.get("accuracy"), "holdout_size": clf.holdout_.get("size"),
            "pairs": pairs}


def format_confusion(conf: dict[str, Any] | None) -> str:
    if not conf:
        return "no confusion to show: the run needs at least 2 intents with a few utterances each"
    acc = conf["holdout_accuracy"]
    lines = [f"a classifier trained on this revision's intents: held-out accuracy "
             f"{'n/a' if acc is None else f'{100 * acc:.1f}%'} on {conf['holdout_size']} utterances"]
    if not conf["pairs"]:
        lines.append("it mixes up no intents on the held-out utterances")
    for p in conf["pairs"]:
        lines.append(f"  [{p['true_id']}] {p['true']} -> [{p['predicted_id']}] {p['predicted']}: {p['count']} "
                     f"({100 * p['share']:.0f}% of its held-out utterances)")
    if conf["pairs"]:
        lines.append("pairs it confuses often may be one intent: /compare A B, then /merge A B")
    return "\n".join(lines)


def confusion(view: Any, limit: int = 10) -> str:
    """The chat tool: confusion between the current revision's intents."""
    return format_confusion(run_confusion(view.result(), view.vectors(), top=limit))
