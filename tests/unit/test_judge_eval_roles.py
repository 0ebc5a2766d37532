"""`dialin judge-eval --role-col`: the namer check names each cluster with its role's verbs, as a run does."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from dialin.cli import main
from test_measure import config_file, toy_rows


def _data(path: Path) -> Path:
    texts, labels = toy_rows()
    path.write_text("".join(json.dumps({"text": t, "label": lab, "who": "customer" if i % 2 else "agent"}) + "\n"
                            for i, (t, lab) in enumerate(zip(texts, labels))))
    return path


def test_role_col_reaches_the_namer_check(tmp_path: Path) -> None:
    data = _data(tmp_path / "toy.jsonl")
    cfg = str(config_file(tmp_path))
    out = CliRunner().invoke(main, ["judge-eval", str(data), "--namer-only", "--role-col", "who", "--n", "8",
                                    "--per-difficulty", "4", "--json", "--config", cfg])
    assert out.exit_code == 0, out.output
    nm = json.loads(out.stdout[out.stdout.index("{"):])["namer"]
    assert nm["n"] > 0 and nm["calls"] == 0  # key-word names: no LLM call
    bad = CliRunner().invoke(main, ["judge-eval", str(data), "--namer-only", "--role-col", "speaker", "--config", cfg])
    assert bad.exit_code != 0 and "speaker" in bad.output and "Traceback" not in bad.output
