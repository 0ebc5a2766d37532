"""research/classifier_speed.py: its helpers (distinct texts, per-step wall/CPU/load records)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "research" / "classifier_speed.py"


def load_script():
    spec = importlib.util.spec_from_file_location("classifier_speed", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_distinct_texts_keeps_file_order_and_drops_duplicates(tmp_path: Path) -> None:
    mod = load_script()
    path = tmp_path / "d.jsonl"
    rows = [{"text": t, "split": s} for t, s in [("a", "train"), ("b", "test"), ("a", "valid"), ("c", "train")]]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    assert mod.distinct_texts(path, 3) == ["a", "b", "c"]
    assert mod.distinct_texts(path, 2) == ["a", "b"]
    with pytest.raises(SystemExit, match="only 3 distinct"):
        mod.distinct_texts(path, 4)


def test_step_records_wall_cpu_and_load(capsys) -> None:
    mod = load_script()
    log: list[dict] = []
    assert mod.step("sum", lambda: sum(range(1000)), log) == 499500
    rec = log[0]
    assert rec["step"] == "sum" and set(rec) == {"step", "wall_s", "cpu_s", "load_start", "load_end"}
    assert rec["wall_s"] >= 0 and rec["cpu_s"] >= 0
    assert json.loads(capsys.readouterr().out) == rec
