"""``dialin chat`` and ``dialin report``: look into a stored run (added to the group by dialin.cli)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dialin.cli.options import config_option

config_opt = config_option("YAML config: the store, and the inspector/judge roles (default: the run's own).")


@click.command("chat")
@click.argument("run_id", default="latest")
@config_opt
@click.option("--thread", "thread_id", default=None, help="Continue an earlier conversation (its id is printed).")
def chat_cmd(run_id: str, config_path: str | None, thread_id: str | None) -> None:
    """Ask about a run and fix it: questions go to the inspector model, /commands run directly.

    RUN_ID defaults to the newest finished run. Edits (rename, merge, split, move,
    re-judge) ask before they save a new revision; /undo reverts the latest one.
    """
    from dialin.inspect.chat import run_chat
    from dialin.inspect.run_view import RunView

    view = RunView.open(run_id, config_path)
    run_chat(view, thread_id=thread_id, say=click.echo, ask=input)


@click.command("report")
@click.argument("run_id", default="latest")
@config_opt
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="HTML file to write (default: dialin-report-RUN_ID.html here).")
@click.option("--revision", type=int, default=None, help="Report this revision (default: the latest).")
@click.option("--projection", type=click.Choice(["auto", "pca", "tsne"]), default="auto", show_default=True,
              help="2-D map: t-SNE (auto: up to 3,500 points, ~20 s for 3,000) or PCA (instant).")
@click.option("--max-points", type=int, default=5000, show_default=True, help="At most this many points on the map.")
@click.option("--no-map", is_flag=True, help="Skip the map (no embedder is loaded).")
@click.option("--json", "as_json", is_flag=True, help="Print {run_id, revision, path} as JSON.")
def report_cmd(run_id: str, config_path: str | None, out: str | None, revision: int | None, projection: str,
               max_points: int, no_map: bool, as_json: bool) -> None:
    """Write one self-contained HTML report of a run (opens offline)."""
    from dialin.inspect.report import TSNE_AUTO_MAX, write_report
    from dialin.inspect.run_view import RunView

    view = RunView.open(run_id, config_path)
    revs = {r["revision"]: r for r in view.store.revisions(view.run_id)}
    rev = revision if revision is not None else max(revs)
    if rev not in revs:
        raise click.BadParameter(f"run {view.run_id} has revisions {sorted(revs)}", param_hint="--revision")
    result = view.store.load_result(view.run_id, rev)
    X = None
    if not no_map:
        X = view.embedder().encode(result["unique_texts"])
        n = min(len(X), max_points)
        if projection == "tsne" or (projection == "auto" and 1000 < n <= TSNE_AUTO_MAX):
            click.echo(f"map: t-SNE of {n} utterances (--projection pca is instant)", err=True)
    path = write_report(result, out or f"dialin-report-{view.run_id}.html", X,
                        projection=projection, max_points=max_points,  # type: ignore[arg-type]
                        revision={"revision": rev, "note": revs[rev]["note"]}, seed=view.config.method.seed)
    if as_json:
        click.echo(json.dumps({"run_id": view.run_id, "revision": rev, "path": str(Path(path).resolve())}))
    else:
        click.echo(f"wrote {path}")


@click.command("review")
@click.argument("run_id", default="latest")
@config_opt
@click.option("--budget", type=click.IntRange(min=0), default=None,
              help="Ask about at most this many clusters (default: method.review_budget, else all).")
def review_cmd(run_id: str, config_path: str | None, budget: int | None) -> None:
    """Keep reviewing a finished run: clusters with the most rows at stake first; each answer is a new revision."""
    from dialin.inspect.review import review_run
    from dialin.inspect.run_view import RunView

    view = RunView.open(run_id, config_path)
    if budget is None:
        budget = view.config.method.review_budget
    saved = review_run(view.store, view.run_id, lambda _it, choices: click.prompt(
        "good, bad, skip or quit", type=click.Choice(choices), default="skip"), click.echo, budget)
    click.echo(f"{saved} answers saved")


COMMANDS = [chat_cmd, report_cmd, review_cmd]
