"""``dialin classifier train`` and ``dialin classify``: route new utterances to a run's intents.

``--json`` prints one JSON document on stdout; progress goes to stderr.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click

from dialin.cli.options import config_opt, emit_json, json_opt


def _describe(clf: Any) -> dict[str, Any]:
    return {"intents": len(clf.classes_), "trained_on": clf.n_train_, "train_s": clf.train_s_,
            "temperature": round(clf.temperature_, 4), "threshold": round(clf.threshold_, 4),
            "holdout_accuracy": clf.holdout_.get("accuracy"), "holdout_size": clf.holdout_.get("size"),
            "embedder": (clf.embedder.model if clf.embedder else None), "source": clf.source_,
            "confusion": clf.holdout_.get("confusion", [])[:10]}


def _echo_confusion(confusion: list[dict[str, Any]], limit: int = 5) -> None:
    if not confusion:
        return
    click.echo("most confused intents on held-out utterances (true -> predicted; merge candidates):")
    for c in confusion[:limit]:
        click.echo(f"  {c['true']} -> {c['predicted']}: {c['count']} ({100 * c['share']:.0f}% of {c['true']})")


@click.group("classifier")
def classifier_group() -> None:
    """Train an intent classifier on a run's intents."""


@classifier_group.command("train")
@click.argument("run_id", default="latest")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder to save the classifier in (default: dialin-classifier-RUN_ID here).")
@click.option("--revision", type=int, default=None, help="Train on this revision (default: the latest).")
@click.option("--C", "C", type=float, default=10.0, show_default=True, help="Inverse L2 strength.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Confidence below which an utterance is 'unknown' (default: chosen on held-out utterances).")
@click.option("--seed", type=int, default=0, show_default=True)
@config_opt
@json_opt
def train_cmd(run_id: str, out_dir: str | None, revision: int | None, C: float, threshold: float | None, seed: int,
              config_path: str | None, as_json: bool) -> None:
    """Train a classifier on RUN_ID's intents (its latest revision; unassigned utterances left out)."""
    from dialin.classify.classifier import IntentClassifier

    clf = IntentClassifier.from_run(run_id, config=config_path, revision=revision, C=C, threshold=threshold,
                                    seed=seed)
    path = clf.save(out_dir or f"dialin-classifier-{clf.source_['run_id']}")
    info = {"path": str(path), **_describe(clf)}
    if as_json:
        emit_json(info)
        return
    src = clf.source_
    click.echo(f"classifier for run {src['run_id']} (revision {src['revision']}): {info['intents']} intents, "
               f"{info['trained_on']} utterances ({src['left_out_unassigned']} unassigned left out), "
               f"trained in {info['train_s']} s")
    acc = info["holdout_accuracy"]
    click.echo(f"held-out accuracy {'n/a' if acc is None else f'{100 * acc:.1f}%'} on {info['holdout_size']} "
               f"utterances; 'unknown' below confidence {info['threshold']}")
    _echo_confusion(info["confusion"])
    click.echo(f"saved to {path}")


def _load_classifier(target: str, config_path: str | None) -> Any:
    from dialin.classify.classifier import META_FILE, IntentClassifier

    if (Path(target).expanduser() / META_FILE).is_file() or Path(target).expanduser().is_dir():
        return IntentClassifier.load(target)
    click.echo(f"training a classifier on run {target} (save one with `dialin classifier train`)", err=True)
    return IntentClassifier.from_run(target, config=config_path)


def _write(rows: list[dict[str, Any]], out: str) -> str:
    path = Path(out).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix in (".jsonl", ".ndjson"):
        with path.open("w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    else:
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t" if path.suffix == ".tsv" else ",")
            w.writeheader()
            w.writerows(rows)
    return str(path)


@click.command("classify")
@click.argument("target", metavar="DIR_OR_RUN")
@click.argument("data", type=click.Path())
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="Write every row's intent and confidence here (.csv, .tsv or .jsonl).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Confidence below which a row is 'unknown' (default: the classifier's own).")
@click.option("--discover", is_flag=True,
              help="Run the loop on the unknown rows and add the intents it finds to the run as a new revision.")
@click.option("--text-col", default="text", show_default=True, help="Column holding the utterance.")
@click.option("--label-col", default=None, help="Gold intent column (kept in the output).")
@click.option("--split", default=None, help="Keep rows whose 'split' column equals this.")
@click.option("--limit", type=int, default=None, help="Use only the first N rows.")
@config_opt
@json_opt
def classify_cmd(target: str, data: str, out: str | None, threshold: float | None, discover: bool, text_col: str,
                 label_col: str | None, split: str | None, limit: int | None, config_path: str | None,
                 as_json: bool) -> None:
    """Give every row of DATA an intent and a confidence with a saved classifier (DIR) or a run's intents (RUN).

    Rows below the threshold are 'unknown': candidates for new intents (--discover looks for them).
    """
    from dialin.classify.classifier import UNKNOWN
    from dialin.config import load_config
    from dialin.data import load_corpus

    config = load_config(config_path)
    clf = _load_classifier(target, config_path)
    corpus = load_corpus(data, text_col=text_col, label_col=label_col, split=split, limit=limit, skip_blank=True)
    t0 = time.perf_counter()
    preds = clf.classify(corpus.unique_texts, threshold)
    seconds = time.perf_counter() - t0
    rows: list[dict[str, Any]] = []
    for i, (text, u) in enumerate(zip(corpus.texts, corpus.row_to_unique)):
        p = preds[u] if u >= 0 else None
        row = {"row": i, "text": text, "intent": p.intent if p else UNKNOWN,
               "confidence": p.confidence if p else 0.0, "best": p.best if p else ""}
        if corpus.labels is not None:
            row["gold"] = corpus.labels[i]
        rows.append(row)
    counts = Counter(r["intent"] for r in rows)
    t = clf.threshold_ if threshold is None else threshold
    report: dict[str, Any] = {"classifier": _describe(clf), "data": corpus.source, "rows": len(rows),
                              "unique": len(corpus.unique_texts), "threshold": round(t, 4),
                              "unknown": counts.get(UNKNOWN, 0), "classify_s": round(seconds, 3),
                              "counts": dict(counts.most_common())}
    if out:
        report["out"] = _write(rows, out)
    if discover:
        report["discover"] = _discover(clf, rows, corpus, config, data)
    if as_json:
        emit_json({**report, "predictions": rows})
        return
    click.echo(f"{report['rows']} rows classified into {len(counts) - (UNKNOWN in counts)} intents in "
               f"{report['classify_s']} s; {report['unknown']} unknown (confidence < {report['threshold']})")
    for name, n in counts.most_common(15):
        click.echo(f"  {n:>6}  {name}")
    if len(counts) > 15:
        click.echo(f"  ... {len(counts) - 15} more")
    if out:
        click.echo(f"wrote {report['out']}")
    elif not discover:
        click.echo("write every row's intent with --out FILE (or --json)")
    if discover:
        d = report["discover"]
        click.echo(f"discovered {len(d['new_intents'])} new intent(s) in {d['unknown']} unknown utterances: saved as "
                   f"revision {d['revision']} of run {d['run_id']} (earlier revisions stay; "
                   f"`dialin report {d['run_id']}` shows it)")
        for c in d["new_intents"][:20]:
            click.echo(f"  {c['id']:>4}  {c['name']}  ({c['size']} rows)")


def _discover(clf: Any, rows: list[dict[str, Any]], corpus: Any, config: Any, data: str) -> dict[str, Any]:
    from dialin.classify.classifier import UNKNOWN
    from dialin.classify.discover import discover_unknowns
    from dialin.errors import DialinError
    from dialin.progress import Progress
    from dialin.store import Store

    run_id = clf.source_.get("run_id")
    if not run_id:
        raise DialinError("--discover needs the run the classifier was trained on; this classifier names none: "
                          "train it with `dialin classifier train RUN`")
    unknown = [r for r in rows if r["intent"] == UNKNOWN and r["text"]]
    labels = [r["gold"] for r in unknown] if corpus.labels is not None else None
    progress = Progress(enabled=sys.stderr.isatty())
    try:
        return discover_unknowns(run_id, [r["text"] for r in unknown], labels, config, Store(config.store_path()),
                                 data, on_event=progress)
    finally:
        progress.close()


COMMANDS = [classifier_group, classify_cmd]
