"""A mean-pooled sentence-transformers model (the default all-MiniLM-L6-v2) run by onnxruntime: the same vectors, faster.

The graph is exported once, offline, from the loaded model's own weights (``torch.onnx.export``, ~5 s,
~90 MB for MiniLM) into a cache folder that the caller keys by a fingerprint of the weights; later loads
read the file. Mean pooling over the attention mask and L2 normalisation are inside the graph. Inputs come
from the model's own preprocessing (``SentenceTransformer.preprocess``: same tokenizer, same truncation at
``max_seq_length``), in batches sorted by length as sentence-transformers sorts them, so padding is the
same too. docs/BENCHMARKS.md (section 14, session 11) measures it against the torch path: largest
absolute difference ~1e-6, the same classifier predictions, x1.9 faster on 2 cores.

Only models of a Transformer and mean Pooling (and Normalize: the vectors are normalised anyway) are exported
(``onnx_unsupported`` says why not otherwise); the caller falls back to torch for the others.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def onnx_unsupported(st: Any) -> str | None:
    """Why ``st`` (a SentenceTransformer) cannot take this path, or None when it can."""
    names = [type(m).__name__ for m in st]
    if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return f"modules {names}, not Transformer + Pooling (+ Normalize)"
    mode = st[1].get_config_dict().get("pooling_mode")
    if mode != "mean":
        return f"pooling {mode!r}, not 'mean'"
    return None


def _features(st: Any, texts: list[str]) -> dict[str, np.ndarray]:
    prep = getattr(st, "preprocess", None) or st.tokenize  # sentence-transformers < 6 calls it tokenize
    feats = prep(texts)
    shape = feats["input_ids"].shape
    out = {k: np.asarray(feats[k].cpu().numpy() if k in feats else np.zeros(shape), dtype=np.int64) for k in INPUTS}
    return out


def export_onnx(st: Any, path: Path) -> Path:
    """Write ``st``'s transformer + mean pooling + normalisation as one ONNX graph at ``path`` (atomic)."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            h = self.model(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    feats = {k: torch.from_numpy(v) for k, v in _features(st, ["a short example", "and a longer example sentence"]).items()}
    axes = {k: {0: "batch", 1: "tokens"} for k in INPUTS} | {"embedding": {0: "batch"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    import warnings

    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape checks that are constant for self-attention
        torch.onnx.export(Pooled(st[0].auto_model.eval()), tuple(feats[k] for k in INPUTS), str(tmp),
                          input_names=list(INPUTS), output_names=["embedding"], dynamic_axes=axes,
                          opset_version=OPSET, dynamo=False)
    os.replace(tmp, path)
    return path


class OnnxEncoder:
    """Encodes like ``st.encode(texts, batch_size, normalize_embeddings=True)``, through onnxruntime."""

    def __init__(self, st: Any, onnx_path: Path, batch_size: int = 64, threads: int | None = None,
                 spinning: bool = True) -> None:
        import onnxruntime as ort

        if not onnx_path.is_file():
            export_onnx(st, onnx_path)
        opts = ort.SessionOptions()
        if threads is None:
            import torch

            threads = torch.get_num_threads()  # the same limit the torch path would use
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if not spinning:  # idle threads sleep instead of busy-waiting (measured: session 11)
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        self.st = st
        self.batch_size = batch_size
        dim = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
        self.dim = dim()

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        size = batch_size or self.batch_size
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")  # longest first, as sentence-transformers
        for start in range(0, len(texts), size):
            idx = order[start:start + size]
            feats = _features(self.st, [texts[i] for i in idx])
            out[idx] = self.session.run(["embedding"], feats)[0]
        return out
