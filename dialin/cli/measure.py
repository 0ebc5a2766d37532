"""Measurement commands: ``dialin eval``, ``judge-eval``, ``bench`` and ``cost``.

``--json`` prints one JSON document on stdout; progress goes to stderr.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import click

from dialin.cli.options import config_opt, emit_json, json_opt
from dialin.config import Config, load_config
from dialin.measure.bench import methods_help


def _say(msg: str) -> None:
    click.echo(msg, err=True)


def _data_options(label_default: str | None) -> Callable[[Any], Any]:
    def deco(f: Any) -> Any:
        for opt in reversed([
            click.option("--text-col", default="text", show_default=True, help="Column holding the utterance."),
            click.option("--label-col", default=label_default, show_default=True, help="Gold intent column."),
            click.option("--split", default=None, help="Keep rows whose 'split' column equals this."),
            click.option("--limit", type=int, default=None, help="Use only the first N rows (after --split)."),
        ]):
            f = opt(f)
        return f
    return deco


def _corpus(data: str, text_col: str, label_col: str | None, split: str | None, limit: int | None,  # noqa: ANN202
            role_col: str | None = None):
    from dialin.data import load_corpus

    return load_corpus(data, text_col=text_col, label_col=label_col, role_col=role_col, split=split, limit=limit,
                       skip_blank=True)


def _store(config: Config):  # noqa: ANN202
    from dialin.store import Store

    return Store(config.store_path())


def _tqdm_ticks(enabled: bool) -> Callable[[int, str], Callable[[], None]] | None:
    if not enabled:
        return None
    from tqdm import tqdm

    def make(total: int, desc: str) -> Callable[[], None]:
        bar = tqdm(total=total, desc=desc, unit="call", file=sys.stderr, leave=True)

        def tick() -> None:
            bar.update(1)
            if bar.n >= bar.total:
                bar.close()
        return tick
    return make


@click.command("eval")
@click.argument("run_id")
@click.option("--gold", "gold_path", type=click.Path(dir_okay=False), default=None,
              help="The run's input file with gold labels (same rows, same order). Default: the gold labels "
                   "stored with the run (when it was made with --label-col).")
@_data_options("label")
@click.option("--goodness", is_flag=True, help="Also ask the 'evaluator' role (not the loop's judge) whether each "
                                                "final cluster is good.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the evaluator's samples.")
@config_opt
@json_opt
def eval_cmd(run_id: str, gold_path: str | None, text_col: str, label_col: str, split: str | None,
             limit: int | None, goodness: bool, seed: int, config_path: str | None, as_json: bool) -> None:
    """Score a stored run against gold labels: NMI, ACC, ARI (x100), and optionally goodness."""
    from dialin.errors import DataError
    from dialin.measure.evaluate import align_gold, goodness_for_run, run_metrics

    config = load_config(config_path)
    store = _store(config)
    result = store.load_result(run_id)
    if gold_path:
        gold = align_gold(result, _corpus(gold_path, text_col, label_col, split, limit))
        source = gold_path
    elif result.get("gold_labels"):
        gold, source = result["gold_labels"], "labels stored with the run"
    else:
        raise DataError(f"run {run_id} has no stored gold labels: pass --gold DATA (the run's input file with a "
                        "label column)")
    out: dict[str, Any] = {"run_id": run_id, "gold": source, "metrics": run_metrics(result, gold)}
    if goodness:
        out["goodness"] = goodness_for_run(result, config, store, seed=seed)
    if as_json:
        emit_json(out)
        return
    m = out["metrics"]
    click.echo(f"run {run_id} vs {source}: {m['rows_scored']} rows")
    click.echo(f"NMI {m['nmi']:.2f}  ACC {m['acc']:.2f}  ARI {m['ari']:.2f}  clusters {m['n_clusters_pred']} "
               f"(gold {m['n_clusters_true']})  unassigned rows {m['n_unassigned']}")
    if goodness:
        g = out["goodness"]
        e = g["evaluator"]
        click.echo(f"goodness {g['goodness']:.2f}% ({g['good']} of {g['clusters']} clusters good; "
                   f"{g['goodness_by_rows']}% of rows) by evaluator {e['model']} at {e['endpoint']} "
                   f"(prompt {e['prompt']})" + (f"; {g['errors']} calls failed" if g["errors"] else ""))


@click.command("judge-eval")
@click.argument("data", type=click.Path())
@click.option("--roles", "roles", multiple=True, metavar="ROLE",
              help="Judge role(s) to measure; repeat or comma-separate (default: judge, plus the crowd members).")
@_data_options("label")
@click.option("--n", "n", type=int, default=20, show_default=True, help="Sentences per test cluster.")
@click.option("--per-difficulty", type=int, default=20, show_default=True,
              help="Test clusters per difficulty (pure, mix2, mix4, intruder, hard_mix2, hard_intruder, real).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-namer", is_flag=True, help="Skip the namer check.")
@click.option("--namer-only", is_flag=True, help="Ask no judge: the namer check and the embedding rows only.")
@click.option("--language", default=None, metavar="LANG",
              help="The corpus's language (en, zh, es, mixed, ...; default: method.language, auto = detected).")
@click.option("--role-col", default=None, metavar="COL",
              help="Speaker-role column: the namer check names each cluster with its role's verbs, as a run does.")
@config_opt
@json_opt
def judge_eval_cmd(data: str, roles: tuple[str, ...], text_col: str, label_col: str, split: str | None,
                   limit: int | None, n: int, per_difficulty: int, seed: int, no_namer: bool, namer_only: bool,
                   language: str | None, role_col: str | None, config_path: str | None, as_json: bool) -> None:
    """Measure coherence judges on gold-labelled test clusters built from DATA.

    Reports, per judge role and for the crowd: accuracy, AUC of P(good) (where logprobs
    exist), accuracy at a P(good) threshold chosen on the other half, calls, tokens and
    latency, per difficulty; an embedding-only cohesion baseline; and whether the namer's
    names land nearest their gold label.
    """
    from dialin.measure.judge_eval import judge_eval
    from dialin.measure.judge_report import format_report

    if no_namer and namer_only:
        raise click.UsageError("--no-namer and --namer-only leave nothing to measure: drop one of them")
    from dialin.tools.language import resolve_language

    config = load_config(config_path)
    corpus = _corpus(data, text_col, label_col, split, limit, role_col)
    config, note = resolve_language(corpus.unique_texts, config, language)
    if note:
        _say(note)
    role_list = [r.strip() for spec in roles for r in spec.split(",") if r.strip()] or None
    rep = judge_eval(corpus, config, _store(config), roles=role_list, n=n, per_difficulty=per_difficulty,
                     seed=seed, namer=not no_namer, judges=not namer_only,
                     tick_factory=_tqdm_ticks(not as_json or sys.stderr.isatty()))
    if as_json:
        emit_json(rep)
    else:
        click.echo(format_report(rep))


@click.command("bench", epilog="Methods:\n\n\b\n" + methods_help())
@click.argument("data", type=click.Path())
@click.option("--methods", default=None, metavar="A,B,...",
              help="Comma-separated methods (default: all; see below).")
@_data_options("label")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--downstream", "downstream", default=None, metavar="SPLIT",
              help="Downstream measure: discover on --split, train a classifier on each method's clusters, "
                   "classify this split of DATA (methods default: dialin,kmeans,bertopic,gold).")
@click.option("--sample", "sample_n", type=int, default=None,
              help="With --downstream: discover on N random train rows (seeded by --seed).")
@click.option("--unknown-share", type=float, default=None,
              help="With --downstream: hold this share of intents out of discovery; AUROC of 'unknown'.")
@click.option("--judge", "judge_spec", default=None, metavar="simulated:ACC[,purity=P][,hard=1]",
              help="Point the judge and namer at a SIMULATED judge that reads the gold labels (a measuring tool): "
                   "right with probability ACC, good iff >= P (default 0.9) of the shown sentences share an intent.")
@click.option("--reviewer", type=click.Choice(["none", "simulated"]), default="none", show_default=True,
              help="simulated: review pauses are answered from the gold labels (measures the method; reads the answers).")
@click.option("--review-budget", type=click.IntRange(min=0), default=None,
              help="Human decisions per dialin run (method.review_budget), asked in priority order.")
@click.option("--review-order", type=click.Choice(["priority", "random"]), default="priority", show_default=True,
              help="Order of the budgeted review (random: the baseline).")
@config_opt
@json_opt
def bench_cmd(data: str, methods: str | None, text_col: str, label_col: str, split: str | None,
              limit: int | None, seed: int, downstream: str | None, sample_n: int | None,
              unknown_share: float | None, judge_spec: str | None, reviewer: str, review_budget: int | None,
              review_order: str, config_path: str | None, as_json: bool) -> None:
    """One table of NMI, ACC, ARI, #clusters, LLM calls, tokens and wall time per method on DATA."""
    from dialin.measure.bench import format_table, parse_methods, run_bench
    from dialin.progress import Progress
    from dialin.measure.simulate import parse_judge_option

    judge = parse_judge_option(judge_spec) if judge_spec else None
    config = load_config(config_path)
    if downstream:
        from dialin.classify.downstream import format_downstream, parse_downstream_methods, run_downstream, sample

        train = sample(_corpus(data, text_col, label_col, split, limit), sample_n, seed)
        progress = Progress(enabled=not as_json or sys.stderr.isatty())
        rep = run_downstream(train, _corpus(data, text_col, label_col, downstream, None), config,
                             parse_downstream_methods(methods), seed=seed, unknown_share=unknown_share,
                             store=_store(config), on_event=progress, say=_say)
        progress.close()
        if as_json:
            emit_json(rep)
        else:
            click.echo(format_downstream(rep))
        return
    names = parse_methods(methods, config)
    corpus = _corpus(data, text_col, label_col, split, limit)
    progress = Progress(enabled=not as_json or sys.stderr.isatty())
    if review_budget is not None and reviewer == "none":
        raise click.UsageError("--review-budget needs a reviewer: add --reviewer simulated")
    rep = run_bench(corpus, config, names, seed=seed, store=_store(config), on_event=progress, say=_say, judge=judge,
                    reviewer=reviewer, review_budget=review_budget, review_order=review_order)
    progress.close()
    if as_json:
        emit_json(rep)
    else:
        click.echo(format_table(rep))


@click.command("simulate")
@click.argument("data", type=click.Path())
@_data_options("label")
@click.option("--accuracy", type=click.FloatRange(0, 1), default=0.96, show_default=True,
              help="Probability the judge is right (the default model; `sim-0.8` etc. pick others per request).")
@click.option("--purity", type=click.FloatRange(0, 1, min_open=True), default=0.9, show_default=True,
              help="'good' iff at least this share of the shown sentences has one gold intent.")
@click.option("--hard", is_flag=True, help="Concentrate the errors on mixtures of near intents.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8090, show_default=True)
def simulate_cmd(data: str, text_col: str, label_col: str, split: str | None, limit: int | None, accuracy: float,
                 purity: float, hard: bool, host: str, port: int) -> None:
    """Serve a SIMULATED judge and namer that read DATA's gold labels (OpenAI-compatible), to measure the method.

    Point a config's judge/namer endpoint at http://HOST:PORT/v1 (backend vllm). Model names choose the
    judge per call: sim-0.8 (80% right), sim-0.96-p1.0 (purity 1.0), sim-0.9-hard, sim-0.8-lenient / sim-0.8-strict
    (errors 4x likelier on bad / good clusters; sim-0.8-lenient9: 9x), sim-always-good (a rubber stamp).
    """
    import asyncio

    from dialin.measure.simulate import SimSpec, SimulatedServer

    server = SimulatedServer(_corpus(data, text_col, label_col, split, limit),
                             SimSpec(accuracy=accuracy, purity=purity, hard=hard), host=host, port=port)
    _say(server.warning)
    _say(f"serving {server.default.model_name} (and sim-ACC[-pP][-hard][-lenient|-strict], sim-always-good by "
         "model name) at "
         f"http://{host}:{port}/v1 ; Ctrl-C stops it")
    try:
        asyncio.run(server.serve())
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port} ({exc.strerror}): pick another --port") from None


@click.command("cost")
@click.argument("run_id")
@config_opt
@json_opt
def cost_cmd(run_id: str, config_path: str | None, as_json: bool) -> None:
    """LLM calls, tokens and latency per stage and role of a run (or of a judge-eval session)."""
    from dialin.measure.cost import cost_report, format_cost

    rep = cost_report(_store(load_config(config_path)), run_id)
    if as_json:
        emit_json(rep)
    else:
        click.echo(format_cost(rep))


COMMANDS = [eval_cmd, judge_eval_cmd, bench_cmd, simulate_cmd, cost_cmd]
