"""A cheap coherence scorer: P(good | a cluster's shape within its corpus), no LLM.

A cluster is measured inside a ``CorpusFrame`` of the corpus it comes from: the embeddings
centred on the corpus mean with its top ``FRAME_DIRECTIONS`` principal directions removed
(they carry what the whole corpus shares, its domain, which inflates every cosine),
re-normalised. Only two: in an imbalanced corpus (a support log, where greetings, thanks and
identity checks dominate) the next directions are the biggest intents themselves, and
removing them erases those intents' cohesion (docs/BENCHMARKS.md section 10). The mean
pairwise cosine of the members in that frame (``cohesion``) ranks clusters much better
than the raw one on real clusters (see docs/BENCHMARKS.md). ``cluster_features`` also
offers candidates that a logistic regression may combine: raw cohesion, size, the gap
between the members' similarity to each other and to their own nearest neighbours in the
corpus (mixtures and intruders), the least similar member, and the shape (first principal
direction's share, 2-way split gain). ``research/train_coherence.py`` fits the model on
gold-labelled clusters of BANKING77 train and HWU64 train and chooses the features by
leave-one-dataset-out validation; the shipped choice is in the JSON.

The coefficients ship in ``coherence_model.json`` beside this file with the name of the
embedder they were fitted on: under another embedder the scores mean nothing, and
``dialin.tools.cascade`` falls back to raw cohesion (and says so).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from dialin.errors import ConfigError
from dialin.tools.vectors import l2_normalise, rows_cohesion

MODEL_PATH = Path(__file__).with_name("coherence_model.json")
FRAME_DIRECTIONS = 2
"""Principal directions a corpus frame removes by default (the shipped model's choice, see the module text)."""
KNN_MAX = 64
"""Neighbour profiles go up to this many neighbours; bigger clusters compare with the top KNN_MAX."""
KNN_FEATURES = frozenset({"gap_mean", "gap_max", "ratio"})
SHAPE_FEATURES = frozenset({"sv1_share", "split_gain"})
CANDIDATES = ("cohesion", "cohesion_raw", "log_size", "avg_min", "gap_mean", "gap_max", "ratio", "sv1_share",
              "split_gain")
"""Every feature ``cluster_features`` can compute."""
MIN_SHAPE_SIZE = 4
"""Below this many members the shape features say nothing: they take the training mean (a standardised 0)."""
MAX_SHAPE_SIZE = 300
"""Shape features of bigger clusters come from a fixed random sample of this many members."""


KNN_EXACT_MAX = 20_000
"""Above this many corpus rows neighbour profiles are read from a fixed random sample of this many rows
(linear time, issue 16): the m-th nearest of n rows is taken as the (m * sample / n)-th nearest of the sample."""


def _knn_profile(Q: np.ndarray, V: np.ndarray, self_offset: int | None, kmax: int) -> np.ndarray:
    """Row i: mean similarity of Q[i] to its 1..kmax nearest rows of V (itself excluded), shape (len(Q), kmax).

    Exact up to ``KNN_EXACT_MAX`` rows of V (O(len(Q) len(V)) time, memory 1,024 x len(V)); above it an
    estimate from a fixed sample of V, so the cost stays linear in the corpus."""
    k = min(kmax, len(V) - 1)
    if k > 0 and len(V) > KNN_EXACT_MAX:
        sample = V[np.sort(np.random.default_rng(0).choice(len(V), size=KNN_EXACT_MAX, replace=False))]
        frac = KNN_EXACT_MAX / (len(V) - 1)
        ks = int(math.ceil(k * frac))
        prof = _knn_profile(Q, sample, None, ks)  # self (similarity 1) excluded by value in the sample
        cols = np.clip(np.round(np.arange(1, k + 1) * frac).astype(int), 1, ks) - 1
        return prof[:, cols]
    out = np.zeros((len(Q), max(k, 0)), dtype=np.float32)
    if k <= 0:
        return out
    for a in range(0, len(Q), 1024):
        S = Q[a:a + 1024] @ V.T
        if self_offset is not None:
            rows = np.arange(S.shape[0])
            S[rows, self_offset + a + rows] = -np.inf
        else:  # vectors that are corpus rows: their own row is the one at similarity 1
            S[S > 1.0 - 1e-5] = -np.inf
        out[a:a + 1024] = -np.sort(np.partition(-S, k - 1, axis=1)[:, :k], axis=1)  # top k, most similar first
    out[~np.isfinite(out)] = 0.0
    return np.cumsum(out, axis=1) / np.arange(1, k + 1)


@dataclass(frozen=True, eq=False)
class CorpusFrame:
    """A corpus seen from inside: its mean, the directions removed, its rows in the frame, their neighbour profiles."""

    mean: np.ndarray
    components: np.ndarray
    """(n_components, d): the corpus's top principal directions, projected out."""
    V: np.ndarray
    """The corpus rows in the frame (L2-normalised, float32)."""
    raw: np.ndarray
    """The corpus rows as given (L2-normalised, float32): closeness before the frame is a feature too."""
    knn: np.ndarray
    """(n, k): row i, column m-1 = mean similarity of row i to its m nearest other rows (k = 0: not computed)."""

    @classmethod
    def fit(cls, X: np.ndarray, n_components: int = FRAME_DIRECTIONS, kmax: int = KNN_MAX) -> "CorpusFrame":
        """The frame of corpus X; ``kmax=0`` skips the O(n^2) neighbour profiles."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(X) < 2:
            raise ValueError(f"a corpus frame needs at least 2 embeddings in a 2-D array; got shape {X.shape}")
        mean = X.mean(axis=0)
        C = X - mean
        r = min(n_components, len(X) - 1, X.shape[1])
        comps = np.linalg.eigh(C.T @ C)[1][:, ::-1][:, :r].T if r > 0 else np.zeros((0, X.shape[1]))
        V = l2_normalise(C - (C @ comps.T) @ comps).astype(np.float32)
        return cls(mean, comps, V, l2_normalise(X).astype(np.float32), _knn_profile(V, V, 0, kmax))

    def project(self, X: np.ndarray) -> np.ndarray:
        C = np.asarray(X, dtype=np.float64) - self.mean
        return l2_normalise(C - (C @ self.components.T) @ self.components).astype(np.float32)

    def members(self, indices: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frame vectors, neighbour profiles and raw vectors of corpus rows."""
        idx = np.asarray(indices, dtype=int)
        return self.V[idx], self.knn[idx], self.raw[idx]

    def vectors(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The same for embeddings given as vectors (a vector that is a corpus row skips itself as a neighbour)."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        Vm = self.project(X)
        return Vm, _knn_profile(Vm, self.V, None, self.knn.shape[1]), l2_normalise(X).astype(np.float32)


def _principal(C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) of the centred rows' scatter and the first principal direction, via the smaller Gram."""
    n, d = C.shape
    if n <= d:
        w, v = np.linalg.eigh(C @ C.T)
        top = C.T @ v[:, -1]
    else:
        w, v = np.linalg.eigh(C.T @ C)
        top = v[:, -1]
    return np.clip(w[::-1], 0.0, None), top / max(float(np.linalg.norm(top)), 1e-12)


def _two_means(V: np.ndarray, direction: np.ndarray, iters: int = 10) -> np.ndarray:
    """A deterministic 2-means split (True/False per row), started from the sign along `direction`."""
    side = (V - V.mean(axis=0)) @ direction >= 0
    for _ in range(iters):
        if side.all() or not side.any():
            break
        a, b = V[side].mean(axis=0), V[~side].mean(axis=0)
        new = ((V - a) ** 2).sum(axis=1) <= ((V - b) ** 2).sum(axis=1)
        if (new == side).all():
            break
        side = new
    return side


def _shape(V: np.ndarray) -> dict[str, float]:
    if len(V) > MAX_SHAPE_SIZE:
        V = V[np.random.default_rng(0).choice(len(V), size=MAX_SHAPE_SIZE, replace=False)]
    C = V - V.mean(axis=0)
    ev, top = _principal(C)
    total = max(float(ev.sum()), 1e-12)
    f = {"sv1_share": float(ev[0] / total), "split_gain": 0.0}
    side = _two_means(V, top)
    if side.any() and not side.all():
        A, B = V[side], V[~side]
        f["split_gain"] = 1.0 - float(((A - A.mean(axis=0)) ** 2).sum() + ((B - B.mean(axis=0)) ** 2).sum()) / total
    return f


def cluster_features(V: np.ndarray, knn: np.ndarray, raw: np.ndarray,
                     names: Sequence[str] = CANDIDATES) -> dict[str, float]:
    """Features of one cluster from its members' frame vectors, neighbour profiles and raw vectors.

    Computes the cheap ones always and the neighbour and shape ones when `names` asks for them
    (and the profiles exist, and the cluster has ``MIN_SHAPE_SIZE`` members for the shape).
    """
    V = np.asarray(V, dtype=np.float64)
    n = len(V)
    if n < 2:
        raise ValueError("cluster features need at least 2 members")
    s = V.sum(axis=0)
    avg = (V @ s - 1.0) / (n - 1)  # each member's mean cosine to the others
    f = {"cohesion": float(avg.mean()), "cohesion_raw": rows_cohesion(np.asarray(raw, dtype=np.float64)),
         "log_size": math.log(n), "avg_min": float(avg.min())}
    if KNN_FEATURES & set(names) and knn.shape[1]:
        near = knn[:, min(n - 1, knn.shape[1]) - 1].astype(np.float64)  # mean cosine to its n-1 nearest
        gap = near - avg
        f |= {"gap_mean": float(gap.mean()), "gap_max": float(gap.max()),
              "ratio": float(avg.mean() / max(float(near.mean()), 1e-6))}
    if SHAPE_FEATURES & set(names) and n >= MIN_SHAPE_SIZE:
        f |= _shape(V)
    return f


@dataclass(frozen=True)
class CoherenceModel:
    """Logistic regression over standardised features: P(good) = sigmoid(coef . z + intercept)."""

    embedder: str
    """Name of the embedder whose vectors the model was fitted on (``Embedder.name``)."""
    n_components: int
    """Principal directions the corpus frame removes."""
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    info: dict[str, Any] = field(default_factory=dict)
    """How it was trained (data, seed, command) and what it measured."""

    def frame(self, X_corpus: np.ndarray) -> CorpusFrame:
        """The corpus frame this model reads (neighbour profiles only when a feature needs them)."""
        return CorpusFrame.fit(X_corpus, self.n_components, KNN_MAX if KNN_FEATURES & set(self.features) else 0)

    def z(self, f: dict[str, float]) -> np.ndarray:
        """Standardised feature vector; a feature the cluster lacks (shape of a tiny one) is 0."""
        return np.array([(f[name] - m) / s if name in f else 0.0
                         for name, m, s in zip(self.features, self.mean, self.scale)])

    def p_of(self, features: dict[str, float]) -> float:
        """P(good) from a cluster's features (``cluster_features``)."""
        t = float(np.dot(self.coef, self.z(features)) + self.intercept)
        return 1.0 / (1.0 + math.exp(-t)) if t >= 0 else math.exp(t) / (1.0 + math.exp(t))

    def p_good(self, V: np.ndarray, knn: np.ndarray, raw: np.ndarray) -> float:
        """P(good) from the members' frame vectors, neighbour profiles and raw vectors (1.0 for one member)."""
        return 1.0 if len(V) < 2 else self.p_of(cluster_features(V, knn, raw, self.features))

    def score(self, frame: CorpusFrame, members: Sequence[int]) -> float:
        """P(good) of the cluster made of these corpus rows (1.0 for a singleton)."""
        return self.p_good(*frame.members(members))

    def to_dict(self) -> dict[str, Any]:
        return {"embedder": self.embedder, "n_components": self.n_components, "features": list(self.features),
                "mean": list(self.mean), "scale": list(self.scale), "coef": list(self.coef),
                "intercept": self.intercept, "info": self.info}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CoherenceModel":
        k = len(d["features"])
        if not (len(d["mean"]) == len(d["scale"]) == len(d["coef"]) == k):
            raise ValueError("coherence model: features, mean, scale and coef differ in length")
        return cls(embedder=str(d["embedder"]), n_components=int(d["n_components"]), features=tuple(d["features"]),
                   mean=tuple(map(float, d["mean"])), scale=tuple(map(float, d["scale"])),
                   coef=tuple(map(float, d["coef"])), intercept=float(d["intercept"]), info=dict(d.get("info", {})))


def save_model(model: CoherenceModel, path: str | Path = MODEL_PATH) -> None:
    Path(path).write_text(json.dumps(model.to_dict(), indent=1) + "\n", encoding="utf-8")


@lru_cache(maxsize=4)
def load_model(path: str | Path | None = MODEL_PATH) -> CoherenceModel:
    """The shipped model (or the one at `path`; None = the shipped one); read once per process."""
    p = Path(path).expanduser() if path else MODEL_PATH
    if not p.is_file():
        raise ConfigError(f"coherence model {p} not found: set method.coherence_model to the coherence_model.json "
                          "that `dialin finetune embedder` wrote, or remove it to use the shipped model")
    try:
        return CoherenceModel.from_dict(json.loads(p.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"coherence model {p} is not a dialin coherence model ({exc}); "
                          "rebuild it with `dialin finetune embedder`") from None


def coherence_score(X_members: np.ndarray, corpus: np.ndarray | CorpusFrame,
                    model: CoherenceModel | None = None) -> float:
    """P(good) of one cluster from its members' embeddings, within the corpus it was drawn from.

    `corpus`: the corpus's embeddings (a frame is fitted on them: O(n^2), so fit a ``CorpusFrame``
    once with ``model.frame(X)`` when scoring many clusters) or such a frame.
    """
    model = model or load_model()
    frame = corpus if isinstance(corpus, CorpusFrame) else model.frame(corpus)
    return model.p_good(*frame.vectors(np.asarray(X_members)))
