"""Terminal progress for `dialin run`: stream events -> progress bars on stderr; review prompts."""

from __future__ import annotations

import sys
from typing import Any

import click


class Progress:
    """Turns the graph's custom events into one tqdm bar per judging round, on stderr."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._bar: Any = None

    def __call__(self, event: dict[str, Any]) -> None:
        if not self.enabled:
            return
        stage = event.get("stage")
        if stage == "cluster":
            self.close()
            from tqdm import tqdm

            self._bar = tqdm(total=event["total"], desc=f"iteration {event['iteration']}: judging", unit="cluster",
                             file=sys.stderr, leave=True)
        elif stage == "judge" and self._bar is not None:
            self._bar.update(1)
        else:
            self.close()
            self._line(event)

    def _line(self, event: dict[str, Any]) -> None:
        stage = event.get("stage")
        text = {
            "embedded": lambda e: f"embedded {e['n']} unique sentences (run {e['run_id']})",
            "propose_k": lambda e: f"iteration {e['iteration']}: trying K = {e['candidates']}",
            "select_k": lambda e: (f"iteration {e['iteration']}: best K {e['k']}"
                                   + (f" (ratio {e['ratio']:.2f})" if e.get("ratio") is not None else "") + ", kept "
                                   f"{e['kept']} clusters, {e['left']} sentences left"
                                   + (f"; stop: {e['stop']}" if e.get("stop") else "")),
            "leftovers": lambda e: f"leftovers: {e['joined']} joined a cluster, {e['unassigned']} unassigned",
            "name": lambda e: f"named {e['named']} clusters",
            "roles": lambda e: f"role separation: {e['clusters']} clusters ({e['split']} split off)",
            "merge": lambda e: f"merging: {e['merged']} of {e['proposed']} proposed merges made",
            "done": lambda e: f"done: {e['clusters']} intents",
        }.get(stage)
        if text:
            click.echo(text(event), err=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def review_in_terminal(request: dict[str, Any]) -> Any:
    """Ask a person about uncertain verdicts or proposed merges (``method.review: true``)."""
    if request["kind"] == "verdicts":
        answers = {}
        for item in request["items"]:
            click.echo(f"\ncluster of {item['size']} (judge: {item['label']}, p_good {item['p_good']}):", err=True)
            for s in item["sample"][:10]:
                click.echo(f"  - {s}", err=True)
            answers[item["key"]] = click.prompt("good or bad", type=click.Choice(["good", "bad"]),
                                                default=item["label"], err=True)
        return answers
    accept = []
    for item in request["items"]:
        if click.confirm(f"merge {', '.join(item['names'])}?", default=True, err=True):
            accept.append(item["group"])
    return {"accept": accept}
