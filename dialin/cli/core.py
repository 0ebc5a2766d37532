"""The core commands: ``dialin run``, ``runs``, ``export``, ``config show``, ``serve``, ``doctor``."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import click

from dialin.agents.control import format_controls
from dialin.agents.crowd_fit import format_crowd
from dialin.config import Config, dump_config, load_config
from dialin.cli.options import config_opt, emit_json, json_opt


def _config(path: str | None) -> Config:
    return load_config(path)


def corpus_options(f: Any) -> Any:
    for opt in reversed([
        click.option("--text-col", default="text", show_default=True, help="Column holding the utterance."),
        click.option("--label-col", default=None, help="Gold intent column (kept in the exports)."),
        click.option("--role-col", default=None, help="Speaker role column (customer/agent)."),
        click.option("--dialogue-col", default=None, help="Dialogue id column."),
        click.option("--format", "fmt", type=click.Choice(["csv", "tsv", "jsonl", "txt"]), default=None,
                     help="Input format (default: from the extension)."),
        click.option("--encoding", default="utf-8", show_default=True),
        click.option("--split", default=None, help="Keep rows whose 'split' column equals this."),
        click.option("--limit", type=int, default=None, help="Use only the first N rows."),
        click.option("--skip-blank", is_flag=True, help="Keep going past blank rows (they stay unassigned)."),
    ]):
        f = opt(f)
    return f


def _load(data: str, text_col: str, label_col: str | None, role_col: str | None, dialogue_col: str | None,
          fmt: str | None, encoding: str, split: str | None, limit: int | None, skip_blank: bool):
    from dialin.data import load_corpus

    return load_corpus(data, text_col=text_col, label_col=label_col, role_col=role_col,
                       dialogue_col=dialogue_col, fmt=fmt, encoding=encoding, split=split, limit=limit,
                       skip_blank=skip_blank)


@click.command()
@click.argument("data", type=click.Path())
@config_opt
@corpus_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write clusters.jsonl and assignments.csv here.")
@click.option("--resume", "resume", default=None, metavar="RUN_ID", help="Continue a run that stopped.")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Embed with Ray Data over a Ray cluster: alone, a local Ray; 'auto' or ray://HEAD:10001 to join one "
                   "(needs: pip install 'dialin[ray]').")
@click.option("--language", default=None, metavar="LANG",
              help="The corpus's language (en, zh, es, mixed, ...; default: method.language, auto = detected).")
@json_opt
def run(data: str, config_path: str | None, out_dir: str | None, resume: str | None, as_json: bool,
        ray_address: str | None = None, language: str | None = None, **corpus_kw: Any) -> None:
    """Discover intents in DATA (CSV, TSV, JSONL or TXT)."""
    from dialin.progress import Progress, review_in_terminal
    from dialin.result import summary_rows, write_exports
    from dialin.runner import run_discovery
    from dialin.store import Store

    # when one LLM call fails for good, LangGraph drops the run's queued calls unawaited: not news to a user
    warnings.filterwarnings("ignore", message="coroutine .* was never awaited", category=RuntimeWarning)
    from dialin.tools.language import resolve_language

    config = _config(config_path)
    corpus = _load(data, **corpus_kw)
    config, note = resolve_language(corpus.unique_texts, config, language)
    if note:
        click.echo(note, err=True)
    progress = Progress(enabled=not as_json or sys.stderr.isatty())
    store = Store(config.store_path())
    embedder, ray_info = None, None
    if ray_address:
        from dialin.llm.ray_scale import ray_embedder

        embedder, ray_info = ray_embedder(config.embedder, None if ray_address == "local" else ray_address, store)
    result = run_discovery(corpus, config, run_id=resume, resume=bool(resume), on_event=progress,
                           on_review=review_in_terminal if sys.stdin.isatty() else None, store=store,
                           config_path=config_path, embedder=embedder)
    if ray_info:
        result["stats"]["ray"] = ray_info | {"servers": {n: ep.servers for n, ep in config.endpoints.items()}}
    progress.close()
    files = write_exports(result, out_dir, corpus.texts) if out_dir else {}
    cost = store.cost(result["run_id"])
    metrics = None
    if corpus.labels:
        from dialin.measure.evaluate import run_metrics

        metrics = run_metrics(result, corpus.labels)
    if as_json:
        emit_json({"run_id": result["run_id"], "stats": result["stats"], "stop_reason": result["stop_reason"],
                    "files": files, "cost": cost, "metrics": metrics,
                    "clusters": [{k: c[k] for k in ("id", "name", "role", "size", "n_unique")} |
                                 {"verdict": (c["verdict"] or {}).get("label")} for c in result["clusters"]]})
        return
    click.echo(f"run {result['run_id']}: {result['stats']['clusters']} intents, "
               f"{result['stats']['unassigned_unique']} unique sentences unassigned ({result['stop_reason']})")
    click.echo(f"{'id':>4}  {'intent':<36} {'role':<9} {'rows':>5}  verdict  p_good  source")
    for cid, name, role, size, label, p, source in summary_rows(result):
        click.echo(f"{cid:>4}  {name[:36]:<36} {role:<9} {size:>5}  {label:<7}  {p:>6}  {source}")
    if len(result["clusters"]) > 40:
        click.echo(f"... {len(result['clusters']) - 40} more (see clusters.jsonl)")
    calls = sum(r["calls"] - (r["cached"] or 0) for r in cost)
    cached = sum(r["cached"] or 0 for r in cost)
    click.echo(f"LLM calls: {calls} made, {cached} from cache")
    if ray_info:
        click.echo(f"ray: {ray_info['nodes']} node(s), {ray_info['cpus']} CPUs at {ray_info['address']}")
    if result["stats"].get("stages"):
        from dialin.measure.stages import format_stages

        click.echo(format_stages(result["stats"]["stages"]))
    judged = result["stats"].get("judge") or {}
    if judged.get("unusable"):
        click.echo(f"LLM judge: no usable answer for {judged['unusable']} clusters; the cascade decided them "
                   "(their verdicts say so in note)")
    if judged.get("asked"):
        click.echo(f"LLM judge: asked about {judged['asked']} clusters, said good to {judged['said_good']}"
                   + (" - one answer to nearly all, so it barely discriminates; measure a judge with "
                      "`dialin judge-eval` (docs/BENCHMARKS.md section 11)" if judged["lopsided"] else ""))
    for line in format_crowd(judged.get("crowd")) + format_controls(judged.get("controls")):
        click.echo(line)
    if metrics:
        click.echo(f"against --label-col: NMI {metrics['nmi']}, ACC {metrics['acc']}, ARI {metrics['ari']} "
                   f"({metrics['n_clusters_pred']} clusters for {metrics['n_clusters_true']} gold intents)"
                   + (f"; {metrics['rows_unlabelled']} rows with a blank label not scored"
                      if metrics["rows_unlabelled"] else ""))
    for kind, path in files.items():
        click.echo(f"wrote {path}")


@click.command()
@json_opt
@config_opt
@click.option("--limit", type=int, default=20, show_default=True)
def runs(as_json: bool, config_path: str | None, limit: int) -> None:
    """List stored runs."""
    from dialin.store import Store

    rows = Store(_config(config_path).store_path()).runs(limit)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        click.echo(f"{r['run_id']}  {r['status']:<11} {r['data_path']}")
        if r["status"] != "done" and r.get("reason"):
            click.echo(f"    why: {r['reason']}")
        if r["status"] in ("failed", "interrupted") and r.get("resume"):
            click.echo(f"    resume: {r['resume']}")


@click.command()
@click.argument("run_id")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True)
@config_opt
def export(run_id: str, out_dir: str, config_path: str | None) -> None:
    """Write a stored run's clusters.jsonl and assignments.csv."""
    from dialin.result import write_exports
    from dialin.store import Store

    result = Store(_config(config_path).store_path()).load_result(run_id)
    for path in write_exports(result, out_dir).values():
        click.echo(f"wrote {path}")


@click.group(name="config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@config_opt
@json_opt
def config_show(config_path: str | None, as_json: bool) -> None:
    """Print the effective config (file + DIALIN__ environment overrides)."""
    config = _config(config_path)
    if as_json:
        click.echo(config.model_dump_json(indent=2))
    else:
        click.echo(dump_config(config), nl=False)


@click.command()
@config_opt
@click.option("--stop", is_flag=True, help="Stop the local servers dialin started.")
@json_opt
def serve(config_path: str | None, stop: bool, as_json: bool) -> None:
    """Start a local llama.cpp (or vLLM, for backend: vllm) server for every `auto` endpoint (and leave it running)."""
    from dialin.llm.serve import ensure_servers, running_servers, stop_servers

    if stop:
        stopped = stop_servers()
        if as_json:
            emit_json([s.model_dump() for s in stopped])
        else:
            click.echo(f"stopped {len(stopped)} server(s)" + "".join(f"\n  {s.name} pid {s.pid}" for s in stopped))
        return
    urls = ensure_servers(_config(config_path))
    servers = [s for s in running_servers() if s.base_url in urls.values()]
    if as_json:
        emit_json({"endpoints": urls, "servers": [s.model_dump() for s in servers]})
        return
    if not urls:
        click.echo("no endpoint has base_url: auto; nothing to serve")
    for s in servers:
        adapters = f", {s.backend} adapters {', '.join(s.adapters)}" if s.adapters else ""
        click.echo(f"{s.name}: {s.base_url} (pid {s.pid}, model {Path(s.model_path).name}{adapters})")
    click.echo("stop them with: dialin serve --stop")


@click.command()
@config_opt
@json_opt
@click.option("--no-start", is_flag=True, help="Do not start local servers; only check what runs.")
def doctor(config_path: str | None, as_json: bool, no_start: bool) -> None:
    """Check endpoints, models, the embedder and the store."""
    from dialin.llm.doctor import run_checks

    checks = run_checks(_config(config_path), start=not no_start)
    ok = all(c["ok"] for c in checks)
    if as_json:
        emit_json({"ok": ok, "checks": checks})
    else:
        for c in checks:
            click.echo(f"[{'ok' if c['ok'] else 'FAIL'}] {c['name']}: {c['detail']}")
        click.echo("all checks passed" if ok else "some checks failed")
    sys.exit(0 if ok else 1)
COMMANDS = [run, runs, export, config_group, serve, doctor]
