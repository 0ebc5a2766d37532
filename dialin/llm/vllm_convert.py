"""De-quantise a GGUF model into a Hugging Face folder vLLM can serve (run as a script).

    python dialin/llm/vllm_convert.py MODEL.gguf OUT_DIR

Runs in the vLLM venv (transformers + gguf + accelerate there); imports nothing of dialin,
so it works from any interpreter that has those. transformers de-quantises the GGUF when it
loads it; the model is then rebuilt from its config without ``quantization_config`` (so
vLLM does not look for a quantised checkpoint), given the loaded weights and saved as
bf16 safetensors with the tokenizer. ``OUT_DIR`` is written whole or not at all: the
caller passes a temporary folder and renames it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def convert(gguf: Path, out: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    d, f = str(gguf.parent), gguf.name
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    loaded = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.bfloat16
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if not k.endswith("lm_head.weight")]  # tied to the embeddings
    if missing or unexpected:
        raise SystemExit(f"conversion of {gguf}: weights do not fit the rebuilt model "
                         f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    model.tie_weights()
    model.to(torch.bfloat16).save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python vllm_convert.py MODEL.gguf OUT_DIR")
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
