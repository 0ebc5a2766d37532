"""The intent classifier: fitting, calibration, unknowns, saving, training from a run, the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dialin import IntentClassifier
from dialin.classify.classifier import UNKNOWN, confusion_pairs, fit_temperature
from dialin.cli import main
from dialin.config import EmbedderConfig, load_config
from dialin.errors import DialinError
from dialin.store import Store
from dialin.inspect import edits
from inspect_runs import TOPICS, base_run, copy_run, corpus_rows  # noqa: F401 - base_run is a fixture

TOY = EmbedderConfig(kind="toy", cache=False)


def toy_data() -> tuple[list[str], list[str]]:
    texts, labels = corpus_rows()
    return texts[:-2], labels[:-2]


def test_fit_predict_follow_sklearn_conventions() -> None:
    texts, labels = toy_data()
    clf = IntentClassifier(embedder=TOY).fit(texts, labels)
    assert clf.classes_.tolist() == sorted(TOPICS)
    P = clf.predict_proba(["lost my card today", "forgot password please"])
    assert P.shape == (2, 4) and np.allclose(P.sum(axis=1), 1.0)
    assert clf.predict(["lost my card today", "forgot password please"]).tolist() == [
        "report-lost_card", "reset-password"]
    assert (clf.predict(texts) == np.asarray(labels)).mean() == 1.0
    assert clf.holdout_["size"] > 0 and clf.holdout_["accuracy"] is not None
    assert 0.0 < clf.threshold_ < 1.0 and clf.temperature_ > 0


def test_unknown_below_threshold_and_best_kept() -> None:
    texts, labels = toy_data()
    clf = IntentClassifier(embedder=TOY).fit(texts, labels)
    preds = clf.classify(["lost card now lost card", "xylophone zebra quantum"], threshold=0.9)
    assert preds[0].intent == "report-lost_card" and preds[0].confidence >= 0.9
    assert preds[1].intent == UNKNOWN and preds[1].best in TOPICS and preds[1].confidence < preds[0].confidence
    assert clf.classify([]) == []


def test_save_load_round_trip(tmp_path: Path) -> None:
    texts, labels = toy_data()
    clf = IntentClassifier(embedder=TOY, threshold=0.3).fit(texts, labels)
    clf.save(tmp_path / "clf")
    back = IntentClassifier.load(tmp_path / "clf")
    assert back.classes_.tolist() == clf.classes_.tolist() and back.threshold_ == 0.3
    assert np.allclose(back.predict_proba(texts[:7]), clf.predict_proba(texts[:7]), atol=1e-6)
    assert back.embedder == TOY
    assert not list((tmp_path / "clf").glob("*.pkl"))
    with pytest.raises(DialinError, match="holds no classifier"):
        IntentClassifier.load(tmp_path / "nowhere")


def test_bad_input_is_a_clear_error() -> None:
    clf = IntentClassifier(embedder=TOY)
    with pytest.raises(DialinError, match="at least 2 intents"):
        clf.fit(["a b", "c d"], ["x", "x"])
    with pytest.raises(DialinError, match="one intent per text"):
        clf.fit(["a b"], ["x", "y"])
    with pytest.raises(DialinError, match="not fitted"):
        clf.predict(["a"])
    with pytest.raises(DialinError, match="rejection class"):
        IntentClassifier(embedder=TOY).fit(["a", "b", "c"], ["unknown", "y", "y"])
    fitted = IntentClassifier(embedder=TOY).fit(*toy_data())
    with pytest.raises(DialinError, match="do not fit this classifier"):
        fitted.predict_proba_vectors(np.zeros((2, 5)))


def test_two_intents_work() -> None:
    texts, labels = toy_data()
    keep = [i for i, lab in enumerate(labels) if lab in ("report-lost_card", "reset-password")]
    clf = IntentClassifier(embedder=TOY).fit([texts[i] for i in keep], [labels[i] for i in keep])
    assert clf.predict(["forgot password now", "lost card today"]).tolist() == ["reset-password", "report-lost_card"]


def test_temperature_recovers_overconfident_logits() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 5))
    y = np.array([rng.choice(5, p=np.exp(z) / np.exp(z).sum()) for z in true_logits])
    assert fit_temperature(true_logits * 3.0, y) == pytest.approx(3.0, rel=0.15)


def test_confusion_pairs_count_mixups() -> None:
    pairs = confusion_pairs(["a", "a", "a", "b", "b"], ["a", "b", "b", "b", "a"])
    assert (pairs[0].true, pairs[0].predicted, pairs[0].count) == ("a", "b", 2)
    assert pairs[0].share == pytest.approx(2 / 3, abs=1e-3) and len(pairs) == 2


def test_from_run_reads_the_latest_revision_and_leaves_unassigned_out(base_run, tmp_path: Path) -> None:
    run_id, cfg_src = base_run
    cfg = copy_run(cfg_src.parent, tmp_path / "run")
    store = Store(load_config(cfg).store_path())
    result = store.load_result(run_id)
    first = result["clusters"][0]
    renamed = edits.rename(result, first["id"], "chat-renamed_intent")
    moved_out = edits.move(renamed, first["members"][0], -1)
    store.save_revision(run_id, moved_out, "chat: rename and move")
    clf = IntentClassifier.from_run(run_id, config=str(cfg))
    assert "chat-renamed_intent" in clf.classes_.tolist() and first["name"] not in clf.classes_.tolist()
    assert clf.source_["revision"] == 2 and clf.source_["left_out_unassigned"] == len(moved_out["unassigned"])
    assert clf.n_train_ == sum(len(c["members"]) for c in moved_out["clusters"])
    old = IntentClassifier.from_run(run_id, config=str(cfg), revision=1)
    assert first["name"] in old.classes_.tolist()


def test_cli_train_and_classify(base_run, tmp_path: Path) -> None:
    run_id, cfg_src = base_run
    cfg = copy_run(cfg_src.parent, tmp_path / "run")
    runner = CliRunner()
    out = runner.invoke(main, ["classifier", "train", run_id, "--out", str(tmp_path / "clf"), "--config", str(cfg),
                               "--json"])
    assert out.exit_code == 0, out.output
    info = json.loads(out.stdout)
    assert info["intents"] >= 2 and Path(info["path"]).is_dir()
    texts, labels = toy_data()
    data = tmp_path / "new.jsonl"
    rows = [{"text": t, "label": lab} for t, lab in zip(texts, labels)] + [{"text": ""}, {"text": "zebra quantum"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = runner.invoke(main, ["classify", str(tmp_path / "clf"), str(data), "--out", str(tmp_path / "o.csv"),
                               "--json", "--label-col", "label", "--config", str(cfg)])
    assert out.exit_code == 0, out.output
    rep = json.loads(out.stdout)
    assert rep["rows"] == len(rows) and len(rep["predictions"]) == len(rows)
    assert all(p["intent"] and 0 <= p["confidence"] <= 1 for p in rep["predictions"])
    assert rep["predictions"][-2]["intent"] == UNKNOWN and rep["predictions"][-2]["confidence"] == 0.0
    with open(tmp_path / "o.csv", newline="") as f:
        written = list(csv.DictReader(f))
    assert len(written) == len(rows) and {"intent", "confidence", "gold"} <= set(written[0])
    # a run id works too (trained on the fly), and the text view says what it did
    out = runner.invoke(main, ["classify", run_id, str(data), "--config", str(cfg), "--label-col", "label"])
    assert out.exit_code == 0 and "rows classified" in out.output
    bad = runner.invoke(main, ["classify", "no-such-run", str(data), "--config", str(cfg)])
    assert bad.exit_code == 2 and "not in the store" in bad.output and "Traceback" not in bad.output


def test_python_front_door_is_exported() -> None:
    import dialin

    assert "IntentClassifier" in dialin.__all__ and dialin.IntentClassifier is IntentClassifier


def test_confusion_in_chat_and_report(base_run, tmp_path: Path) -> None:
    from dialin.inspect.commands import parse_command
    from dialin.classify.confusion import confusion, format_confusion
    from dialin.inspect.report import report_data
    from dialin.inspect.tools import tools_by_name
    from inspect_runs import open_view

    assert parse_command("/confusion 3").name == "intent_confusion"
    assert parse_command("/confusion").args == {}
    assert "intent_confusion" in tools_by_name()
    run_id, cfg_src = base_run
    view = open_view(run_id, copy_run(cfg_src.parent, tmp_path / "run"))
    text = confusion(view)
    assert "held-out accuracy" in text
    data = report_data(view.result(), view.vectors())
    assert data["confusion"]["holdout_size"] > 0 and isinstance(data["confusion"]["pairs"], list)
    assert report_data(view.result(), None)["confusion"] is None
    mixed = {"holdout_accuracy": 0.5, "holdout_size": 4,
             "pairs": [{"true": "a-b", "predicted": "c-d", "count": 2, "share": 0.5, "true_id": 1, "predicted_id": 2}]}
    assert "[1] a-b -> [2] c-d: 2 (50%" in format_confusion(mixed) and "/merge" in format_confusion(mixed)
