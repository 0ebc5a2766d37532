"""Export a trained LoRA adapter for both serving targets.

- vLLM: the peft folder (``adapter_config.json`` + ``adapter_model.safetensors``), whose
  ``base_model_name_or_path`` names the upstream Hugging Face model the bundled GGUF was
  converted from: ``vllm serve BASE --enable-lora --lora-modules judge=OUT/peft``.
- llama.cpp: a GGUF LoRA file (``general.type = adapter``), loaded with ``--lora_path``
  (``server_args: {lora_path: ...}`` on a ``backend: llamacpp`` endpoint). Tensor names
  follow llama.cpp (``blk.N.attn_q.weight.lora_a`` / ``.lora_b``); A is (rank, in), B is
  (out, rank), and for llama-architecture models the q/k rows of B are permuted the way
  llama.cpp's converter permutes q/k weights (transformers reverses that permutation when
  it loads a GGUF, so the adapter was learnt in the unpermuted order).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from dialin.errors import ConfigError

GGUF_NAMES = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
              "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}
PERMUTED_ARCHS = ("llama", "mistral")
_KEY = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])\.(?:default\.)?weight$")


def permute_rows(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's q/k permutation (convert_hf_to_gguf ``LlamaModel.permute``) applied to the rows of `w`."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def lora_tensors(state: dict[str, Any], arch: str, n_head: int, n_head_kv: int) -> dict[str, np.ndarray]:
    """llama.cpp tensor name -> float32 array, from a peft state dict (``get_peft_model_state_dict``)."""
    out: dict[str, np.ndarray] = {}
    for key, value in state.items():
        m = _KEY.search(key)
        if m is None:
            continue
        layer, module, ab = m.groups()
        if module not in GGUF_NAMES:
            raise ConfigError(f"cannot export a LoRA on '{module}' to GGUF; train on {sorted(GGUF_NAMES)}")
        w = value.detach().float().cpu().numpy()
        if ab == "B" and arch in PERMUTED_ARCHS and module in ("q_proj", "k_proj"):
            w = permute_rows(w, n_head if module == "q_proj" else n_head_kv)
        out[f"blk.{layer}.{GGUF_NAMES[module]}.weight.lora_{ab.lower()}"] = np.ascontiguousarray(w, dtype=np.float32)
    if not out:
        raise ConfigError("no LoRA tensors found in the adapter state: nothing to export")
    return out


def write_gguf_lora(path: Path, tensors: dict[str, np.ndarray], arch: str, alpha: float, name: str) -> None:
    import gguf

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_string(gguf.Keys.General.TYPE, gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    writer.add_name(name)
    for tname in sorted(tensors):
        writer.add_tensor(tname, tensors[tname])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def export_adapter(model: Any, out: Path, *, arch: str, hf_id: str, alpha: float, name: str) -> dict[str, str]:
    """Write ``out/peft/`` (vLLM) and ``out/NAME-lora.gguf`` (llama.cpp); returns their paths."""
    from peft import get_peft_model_state_dict

    peft_dir = out / "peft"
    model.save_pretrained(str(peft_dir))
    cfg_path = peft_dir / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    if hf_id:
        cfg["base_model_name_or_path"] = hf_id
    cfg_path.write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    mc = model.base_model.model.config
    n_head = int(mc.num_attention_heads)
    n_head_kv = int(getattr(mc, "num_key_value_heads", None) or n_head)
    tensors = lora_tensors(get_peft_model_state_dict(model), arch, n_head, n_head_kv)
    gguf_path = out / f"{name}-lora.gguf"
    write_gguf_lora(gguf_path, tensors, arch, alpha, name)
    return {"peft": str(peft_dir), "gguf": str(gguf_path)}
