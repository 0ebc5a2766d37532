"""The classifier with real parts: a small real run (llama.cpp SmolLM2-135M judge, MiniLM, SQLite) on
BANKING77 utterances, trained from the store and used on held-back utterances of the same intents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import shared_data
from test_discovery_real import pytestmark, smol_config  # noqa: F401 - pytestmark: the same marks and skip

ROOT = Path(__file__).resolve().parents[2]
INTENTS = ["card_arrival", "exchange_rate", "lost_or_stolen_card", "pin_blocked", "top_up_failed"]


def split_rows(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    rows = [json.loads(x) for x in shared_data("banking77/banking77.jsonl").read_text().splitlines() if x.strip()]
    train = [r for lab in INTENTS for r in [r for r in rows if r["label"] == lab and r["split"] == "train"][:16]]
    test = [r for lab in INTENTS for r in [r for r in rows if r["label"] == lab and r["split"] == "test"][:10]]
    a, b = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    a.write_text("".join(json.dumps(r) + "\n" for r in train))
    b.write_text("".join(json.dumps(r) + "\n" for r in test))
    return a, b, [r["label"] for r in test]


def dialin(args: list[str], home: Path, cfg: Path) -> dict:
    env = dict(os.environ, DIALIN_HOME=str(home), HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "dialin.cli", *args, "--config", str(cfg), "--json"], env=env,
                          capture_output=True, text=True, cwd=ROOT, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_train_and_classify_from_a_real_run(tmp_path: Path) -> None:
    from dialin.measure.metrics import acc

    train, test, gold = split_rows(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    cfg = smol_config(tmp_path, home)
    small = yaml.safe_load(cfg.read_text())  # one judged iteration, key-word names: a run of a few calls
    small["method"].update(max_iterations=1, judge_budget=6, naming="keywords")
    cfg.write_text(yaml.safe_dump(small))
    try:
        run = dialin(["run", str(train)], home, cfg)
        info = dialin(["classifier", "train", run["run_id"], "--out", str(tmp_path / "clf")], home, cfg)
        assert info["intents"] == len(run["clusters"]) >= 2
        assert info["embedder"] == "bundled:all-MiniLM-L6-v2"
        rep = dialin(["classify", str(tmp_path / "clf"), str(test), "--label-col", "label"], home, cfg)
    finally:
        subprocess.run([sys.executable, "-m", "dialin.cli", "serve", "--stop"], env=dict(
            os.environ, DIALIN_HOME=str(home)), cwd=ROOT, capture_output=True, timeout=60)
    preds = rep["predictions"]
    assert len(preds) == len(gold) and all(0.0 <= p["confidence"] <= 1.0 for p in preds)
    # MiniLM separates these five intents well: the classifier carries whatever the run found to new
    # utterances; scored one-to-one against gold it must beat a constant guess (0.2) clearly
    assert acc(gold, [p["best"] for p in preds]) > 0.4
    from dialin import IntentClassifier

    clf = IntentClassifier.load(tmp_path / "clf")
    assert list(clf.predict([p["text"] for p in preds[:3]])) == [p["best"] for p in preds[:3]]
