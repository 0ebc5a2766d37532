"""The onnxruntime path of the sentence-transformers embedder, on a tiny random BERT: same vectors as torch,
in the input order, any batch size; the export is cached; ``auto`` falls back to torch, ``onnx`` says why not.

The real model (the bundled MiniLM, BANKING77 rows) is tests/integration/test_embedders_real.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

from test_finetune_embedder import tiny_sentence_transformer, toy_labelled  # noqa: E402

from dialin.config import EmbedderConfig  # noqa: E402
from dialin.embed import SentenceTransformerEmbedder, make_embedder  # noqa: E402
from dialin.errors import ConfigError  # noqa: E402

# lengths from 1 to 12 words, so batches differ in padding, and the order is not the length order
TEXTS = [" ".join(t.split()[: 1 + i % 12] * (1 + i % 3)) for i, t in enumerate(toy_labelled(per=9)[0])]


@pytest.fixture()
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DIALIN_HOME", str(tmp_path / "home"))
    return tiny_sentence_transformer(tmp_path)


def test_onnx_gives_the_torch_vectors_in_the_input_order(tiny: Path) -> None:
    pytest.importorskip("onnxruntime")
    ref = SentenceTransformerEmbedder(str(tiny), batch_size=7, progress=False, backend="torch")
    X = ref.encode(TEXTS)
    assert ref.used_backend == "torch"
    for bs in (1, 5, 64):
        emb = SentenceTransformerEmbedder(str(tiny), batch_size=bs, progress=False, backend="onnx")
        Y = emb.encode(TEXTS)
        assert emb.used_backend == "onnx" and Y.dtype == np.float32 and Y.shape == X.shape
        assert np.abs(X - Y).max() < 1e-5
        assert np.allclose(np.linalg.norm(Y, axis=1), 1, atol=1e-5)
    assert emb.name == ref.name  # the same vectors: the store's cache serves both paths
    assert emb.encode(TEXTS[3:4])[0] == pytest.approx(Y[3], abs=1e-6)  # alone = within a batch


def test_the_export_is_written_once_per_weights(tiny: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    SentenceTransformerEmbedder(str(tiny), progress=False).encode(["card arrive"])
    files = list((tmp_path / "home" / "models" / "onnx").glob("*.onnx"))
    assert len(files) == 1 and files[0].name.startswith("st-")
    stamp = files[0].stat().st_mtime_ns
    emb = make_embedder(EmbedderConfig(model=str(tiny), progress=False, cache=False))
    emb.encode(["pin code change"])
    assert emb.used_backend == "onnx"  # the default backend is auto: onnx where it can
    assert [f.stat().st_mtime_ns for f in (tmp_path / "home" / "models" / "onnx").glob("*.onnx")] == [stamp]


def test_auto_falls_back_to_torch_without_onnxruntime(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime raises ImportError
    emb = SentenceTransformerEmbedder(str(tiny), progress=False)
    assert emb.encode(["card arrive"]).shape == (1, 32) and emb.used_backend == "torch"
    with pytest.raises(ConfigError, match="onnxruntime is not installed"):
        SentenceTransformerEmbedder(str(tiny), progress=False, backend="onnx").encode(["card arrive"])


def test_onnx_refuses_other_pooling_and_auto_uses_torch(tiny: Path, tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(tiny), device="cpu")
    st[1].pooling_mode = "cls"
    cls_folder = tmp_path / "cls"
    st.save(str(cls_folder))
    assert SentenceTransformer(str(cls_folder))[1].get_config_dict()["pooling_mode"] == "cls"
    auto = SentenceTransformerEmbedder(str(cls_folder), progress=False)
    auto.encode(["card arrive"])
    assert auto.used_backend == "torch"
    with pytest.raises(ConfigError, match="pooling 'cls'"):
        SentenceTransformerEmbedder(str(cls_folder), progress=False, backend="onnx").encode(["card arrive"])
    with pytest.raises(ConfigError, match="unknown embedder backend"):
        SentenceTransformerEmbedder(str(tiny), backend="fast")


def test_without_the_onnx_package_the_export_fails_and_auto_uses_torch(tiny: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnxruntime")
    monkeypatch.setitem(sys.modules, "onnx", None)  # torch.onnx.export cannot import it
    with pytest.warns(UserWarning, match="using torch"):
        auto = SentenceTransformerEmbedder(str(tiny), progress=False)
        assert auto.encode(["card arrive"]).shape == (1, 32)
    assert auto.used_backend == "torch"
    with pytest.raises(ConfigError, match="needs the onnx package"):
        SentenceTransformerEmbedder(str(tiny), progress=False, backend="onnx").encode(["card arrive"])
