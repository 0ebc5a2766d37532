import numpy as np
import pytest

from dialin.config import EmbedderConfig
from dialin.embed import CachedEmbedder, ToyEmbedder, make_embedder
from dialin.errors import RunNotFound
from dialin.store import MIGRATIONS, Store


def test_migrations_apply_once(tmp_path):
    path = tmp_path / "s.db"
    Store(path).close()
    store = Store(path)
    assert store.execute("SELECT version FROM schema_version")[0][0] == len(MIGRATIONS)


def test_runs_revisions_and_missing_run(tmp_path):
    store = Store(tmp_path / "s.db")
    rid = store.new_run("d.csv", {"a": 1}, {"p": 2})
    assert store.run(rid)["config"] == {"a": 1}
    with pytest.raises(RunNotFound, match="did not finish"):
        store.load_result(rid)
    def result(stop: str) -> dict:
        return {"run_id": rid, "clusters": [], "unique_texts": [], "row_to_unique": [], "row_labels": [],
                "stop_reason": stop}

    assert store.save_revision(rid, result("one"), "discovery") == 1
    assert store.save_revision(rid, result("two"), "rename") == 2
    assert store.load_result(rid)["stop_reason"] == "two" and store.load_result(rid, 1)["stop_reason"] == "one"
    with pytest.raises(RunNotFound, match="dialin runs"):
        store.run("nope")


def test_toy_embedder_is_deterministic_and_normalised():
    e = ToyEmbedder()
    X = e.encode(["lost card", "lost card", "balance please"])
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0)
    assert np.allclose(X[0], X[1]) and X[0] @ X[2] < 0.9


class Counting(ToyEmbedder):
    def __init__(self):
        super().__init__()
        self.seen = 0

    def encode(self, texts):
        self.seen += len(texts)
        return super().encode(texts)


def test_embedding_cache_encodes_each_text_once(tmp_path):
    store = Store(tmp_path / "s.db")
    inner = Counting()
    cached = CachedEmbedder(inner, store)
    a = cached.encode(["x y", "z", "x y"])
    b = cached.encode(["z", "x y", "new one"])
    assert inner.seen == 3
    assert np.allclose(a[0], b[1]) and a.shape == (3, 256)


def test_make_embedder_kinds(tmp_path):
    assert make_embedder(EmbedderConfig(kind="toy"), None).name == "toy-256"
    assert isinstance(make_embedder(EmbedderConfig(kind="toy"), Store(tmp_path / "s.db")), CachedEmbedder)
