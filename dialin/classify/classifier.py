"""An intent classifier trained on a run's intents: ``IntentClassifier.from_run(run_id).predict(texts)``.

Logistic regression (multinomial, L2) on the run's own sentence embeddings: it trains in
seconds and classifies thousands of utterances a second on two cores (the embedder is the
cost), and docs/BENCHMARKS.md (issue 19) measures it against what it would replace.

Confidence is calibrated by temperature scaling: a first model is fitted on 80% of each
intent's utterances, one temperature (>= 1: it only softens) is fitted on the held-out 20% (minimum log loss), and
the final model, refitted on everything, keeps that temperature. The same held-out part gives
the ``unknown`` threshold (the confidence that ``UNKNOWN_QUANTILE`` of held-out utterances of
known intents fall below) and the confusion between intents (which ones it mixes up).

Saved as two plain files (``classifier.json`` with the intent names, the embedder it needs,
the temperature and threshold; ``weights.npz`` with the coefficients): no pickle.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from dialin.config import Config, EmbedderConfig
from dialin.errors import DialinError

UNKNOWN = "unknown"
UNKNOWN_QUANTILE = 0.05
"""Share of held-out utterances of known intents that the default threshold calls ``unknown``."""
HOLDOUT = 0.2
META_FILE = "classifier.json"
WEIGHTS_FILE = "weights.npz"
FORMAT_VERSION = 1


class Prediction(BaseModel):
    """One classified utterance."""

    text: str
    intent: str
    """The intent, or ``unknown`` when the confidence is below the threshold."""
    confidence: float
    """Calibrated probability of the best intent."""
    best: str
    """The best intent even when ``intent`` is ``unknown``."""


class Confusion(BaseModel):
    """Held-out utterances of intent ``true`` that the classifier gave to ``predicted``."""

    true: str
    predicted: str
    count: int
    share: float
    """``count`` over the held-out utterances of ``true``."""


def _softmax(Z: np.ndarray) -> np.ndarray:
    Z = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    return E / E.sum(axis=1, keepdims=True)


def _two_class(Z: np.ndarray) -> np.ndarray:
    """sklearn's binary model gives one logit (the second class's): make it two columns."""
    Z = Z[:, None] if Z.ndim == 1 else Z
    return np.hstack([np.zeros_like(Z), Z]) if Z.shape[1] == 1 else Z


def _holdout_split(y: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per class, ``share`` of the members (at least 1) held out when the class has 3 or more."""
    rng = np.random.default_rng(seed)
    held: list[int] = []
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        if len(idx) >= 3:
            held.extend(rng.choice(idx, max(1, int(round(share * len(idx)))), replace=False).tolist())
    mask = np.zeros(len(y), dtype=bool)
    mask[held] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature T in [1, 20] minimising the log loss of ``softmax(logits / T)`` on codes ``y``.

    T never sharpens (T >= 1): on held-out utterances that happen to be all right (clusters are
    separable by construction) the loss would drive T to 0 and every confidence to 1.
    """
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        P = _softmax(logits / np.exp(log_t))
        return float(-np.log(np.clip(P[np.arange(len(y)), y], 1e-12, None)).mean())

    res = minimize_scalar(nll, bounds=(0.0, 3.0), method="bounded")
    return float(np.exp(res.x))


def confusion_pairs(y_true: Sequence[str], y_pred: Sequence[str], top: int = 10) -> list[Confusion]:
    """The most frequent (true, predicted) mix-ups, largest first."""
    totals = Counter(y_true)
    pairs = Counter((t, p) for t, p in zip(y_true, y_pred) if t != p)
    out = [Confusion(true=t, predicted=p, count=n, share=round(n / totals[t], 4))
           for (t, p), n in pairs.most_common()]
    return out[:top]


class IntentClassifier:
    """Logistic regression on sentence embeddings, with calibrated confidence and an ``unknown`` threshold.

    Parameters are stored as given and validated in ``fit``. ``embedder`` (an ``EmbedderConfig``)
    says how to embed texts; ``C`` is the inverse L2 strength; ``threshold`` fixes the ``unknown``
    threshold (None: chosen on the held-out part, see the module doc).

    After ``fit``: ``classes_`` (intent names), ``coef_``, ``intercept_``, ``temperature_``,
    ``threshold_``, ``holdout_`` (held-out accuracy, size, confusion pairs), ``train_s_`` (wall) and
    ``train_cpu_s_`` (CPU seconds, all threads).
    """

    def __init__(self, *, embedder: EmbedderConfig | None = None, C: float = 10.0, threshold: float | None = None,
                 seed: int = 0, max_iter: int = 300, tol: float = 1e-3) -> None:
        self.embedder = embedder
        self.C = C
        self.threshold = threshold
        self.seed = seed
        self.max_iter = max_iter
        self.tol = tol
        self._embed: Any = None
        self.source_: dict[str, Any] = {}

    # -- embedding -----------------------------------------------------------------------
    def _embedder(self) -> Any:
        if self._embed is None:
            from dialin.embed import make_embedder

            self._embed = make_embedder(self.embedder or EmbedderConfig())
        return self._embed

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.coef_.shape[1] if hasattr(self, "coef_") else 1), dtype=np.float32)
        return np.asarray(self._embedder().encode(texts), dtype=np.float32)

    # -- fitting -------------------------------------------------------------------------
    def _lr(self, X: np.ndarray, y: np.ndarray) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, max_iter=self.max_iter, tol=self.tol,
                                  random_state=self.seed).fit(X, y)

    def fit(self, texts: Sequence[str], y: Sequence[str]) -> "IntentClassifier":
        """Embed ``texts`` and fit on their intent names ``y``."""
        if len(texts) != len(y):
            raise DialinError(f"fit needs one intent per text: {len(texts)} texts, {len(y)} intents")
        return self.fit_vectors(self.embed(texts), y)

    def fit_vectors(self, X: np.ndarray, y: Sequence[str]) -> "IntentClassifier":
        """Fit on precomputed embeddings ``X`` (rows L2-normalised, from the same embedder)."""
        t0, cpu0 = time.perf_counter(), time.process_time()
        X = np.asarray(X, dtype=np.float32)
        labels = np.asarray([str(v) for v in y])
        if len(X) != len(labels):
            raise DialinError(f"fit needs one intent per vector: {len(X)} vectors, {len(labels)} intents")
        if self.C <= 0:
            raise DialinError(f"C must be positive (got {self.C})")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise DialinError(f"threshold must be within 0..1 (got {self.threshold})")
        classes = np.unique(labels)
        if len(classes) < 2:
            raise DialinError(f"a classifier needs at least 2 intents with utterances; got {len(classes)}. "
                              "Run discovery on more data, or merge less.")
        if UNKNOWN in classes:
            raise DialinError(f"an intent is named '{UNKNOWN}', the name of the rejection class: rename it first")
        codes = np.searchsorted(classes, labels)
        train, held = _holdout_split(codes, HOLDOUT, self.seed)
        temperature, threshold, holdout = 1.0, 0.0, {"size": 0, "accuracy": None, "confusion": []}
        if len(held) and len(np.unique(codes[train])) == len(classes):
            first = self._lr(X[train], codes[train])
            logits = _two_class(first.decision_function(X[held]))
            temperature = fit_temperature(logits, codes[held])
            P = _softmax(logits / temperature)
            pred = P.argmax(axis=1)
            conf = P.max(axis=1)
            threshold = float(np.quantile(conf, UNKNOWN_QUANTILE))
            holdout = {"size": int(len(held)), "accuracy": round(float((pred == codes[held]).mean()), 4),
                       "confusion": [c.model_dump() for c in confusion_pairs(
                           classes[codes[held]].tolist(), classes[pred].tolist(), top=20)]}
        model = self._lr(X, codes)
        self.classes_ = classes
        self.coef_ = np.asarray(model.coef_, dtype=np.float32)
        self.intercept_ = np.asarray(model.intercept_, dtype=np.float32)
        self.temperature_ = temperature
        self.threshold_ = float(self.threshold) if self.threshold is not None else threshold
        self.holdout_ = holdout
        self.n_train_ = int(len(X))
        self.train_s_ = round(time.perf_counter() - t0, 3)
        self.train_cpu_s_ = round(time.process_time() - cpu0, 3)  # what the fit costs on a shared machine
        return self

    # -- predicting ----------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise DialinError("this classifier is not fitted: call fit, from_run or load first")

    def predict_proba_vectors(self, X: np.ndarray) -> np.ndarray:
        self._check_fitted()
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.coef_.shape[1]:
            raise DialinError(f"vectors of width {X.shape[-1]} do not fit this classifier (trained on width "
                              f"{self.coef_.shape[1]}): embed with the classifier's own embedder")
        logits = _two_class(X @ self.coef_.T + self.intercept_)
        return _softmax(logits / self.temperature_)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, one column per ``classes_`` entry."""
        return self.predict_proba_vectors(self.embed(texts))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """The most probable intent of each text (never ``unknown``: see ``classify``)."""
        self._check_fitted()
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]

    def classify(self, texts: Sequence[str], threshold: float | None = None) -> list[Prediction]:
        """An intent and a confidence for every text; ``unknown`` below the threshold (default ``threshold_``)."""
        self._check_fitted()
        texts = list(texts)
        t = self.threshold_ if threshold is None else threshold
        P = self.predict_proba(texts)
        best = P.argmax(axis=1) if len(texts) else np.zeros(0, dtype=int)
        out = []
        for text, b, p in zip(texts, best, P[np.arange(len(texts)), best] if len(texts) else []):
            name = str(self.classes_[b])
            out.append(Prediction(text=text, intent=name if p >= t else UNKNOWN, confidence=round(float(p), 4),
                                  best=name))
        return out

    # -- saving --------------------------------------------------------------------------
    def save(self, out_dir: str | Path) -> Path:
        self._check_fitted()
        out = Path(out_dir).expanduser()
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DialinError(f"cannot write the classifier to {out}: {exc}. Pick another --out.") from exc
        np.savez(out / WEIGHTS_FILE, coef=self.coef_, intercept=self.intercept_)
        meta = {"format": FORMAT_VERSION, "kind": "logistic-regression", "classes": self.classes_.tolist(),
                "embedder": (self.embedder or EmbedderConfig()).model_dump(), "C": self.C, "seed": self.seed,
                "temperature": self.temperature_, "threshold": self.threshold_, "unknown_quantile": UNKNOWN_QUANTILE,
                "holdout": self.holdout_, "n_train": self.n_train_, "train_s": self.train_s_, "source": self.source_}
        (out / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
        return out

    @classmethod
    def load(cls, path: str | Path) -> "IntentClassifier":
        folder = Path(path).expanduser()
        meta_path = folder / META_FILE
        if not meta_path.is_file() or not (folder / WEIGHTS_FILE).is_file():
            raise DialinError(f"{folder} holds no classifier ({META_FILE} and {WEIGHTS_FILE}): make one with "
                              "`dialin classifier train RUN --out DIR`")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            weights = np.load(folder / WEIGHTS_FILE)
            coef, intercept = weights["coef"], weights["intercept"]
        except (OSError, ValueError, KeyError) as exc:
            raise DialinError(f"cannot read the classifier in {folder}: {exc}. Train it again.") from exc
        if meta.get("format") != FORMAT_VERSION:
            raise DialinError(f"the classifier in {folder} has format {meta.get('format')}, this dialin reads "
                              f"{FORMAT_VERSION}: train it again")
        clf = cls(embedder=EmbedderConfig.model_validate(meta["embedder"]), C=meta["C"], seed=meta["seed"])
        clf.classes_ = np.asarray(meta["classes"])
        clf.coef_, clf.intercept_ = np.asarray(coef, dtype=np.float32), np.asarray(intercept, dtype=np.float32)
        clf.temperature_, clf.threshold_ = float(meta["temperature"]), float(meta["threshold"])
        clf.holdout_, clf.n_train_, clf.train_s_ = meta["holdout"], meta["n_train"], meta["train_s"]
        clf.source_ = meta.get("source") or {}
        return clf

    # -- from a run ------------------------------------------------------------------------
    @classmethod
    def from_run(cls, run_id: str = "latest", *, config: Config | str | Path | None = None, store: Any = None,
                 revision: int | None = None, **params: Any) -> "IntentClassifier":
        """Train on a stored run's intents: its latest revision (chat edits count), unassigned left out."""
        from dialin.classify.data import run_training_set

        data = run_training_set(run_id, config=config, store=store, revision=revision)
        clf = cls(embedder=data.embedder_config, **params)
        clf._embed = data.embedder
        clf.fit_vectors(data.X, data.labels)
        clf.source_ = {"run_id": data.run_id, "revision": data.revision, "intents": len(clf.classes_),
                       "utterances": len(data.labels), "left_out_unassigned": data.unassigned}
        return clf
