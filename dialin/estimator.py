"""The scikit-learn-style front door: ``IntentDiscovery(...).fit(texts).labels_``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from pydantic import BaseModel

from dialin.config import Config, load_config


class Intent(BaseModel):
    """One discovered intent."""

    id: int
    name: str
    role: str | None
    size: int
    """Input rows assigned to it."""
    verdict: str | None
    p_good: float | None
    examples: list[str]


class IntentDiscovery:
    """Discover named intent clusters in unlabelled utterances.

    Parameters are stored as given; everything is validated in ``fit``. ``config`` is a
    ``Config``, a path to a YAML file, or None for the embedded local default;
    ``overrides`` is a nested dict applied on top (e.g. ``{"method": {"max_iterations": 2}}``).

    After ``fit``: ``labels_`` (one int per input text, -1 = unassigned), ``intents_``
    (list of ``Intent``), ``run_id_`` (the run in the store), ``result_`` (the full record).
    """

    def __init__(self, config: Config | str | Path | None = None, *, overrides: dict[str, Any] | None = None,
                 verbose: bool = False) -> None:
        self.config = config
        self.overrides = overrides
        self.verbose = verbose

    def _config(self) -> Config:
        if isinstance(self.config, Config):
            if not self.overrides:
                return self.config
            from dialin.config import _deep_merge

            return Config.model_validate(_deep_merge(self.config.model_dump(), self.overrides))
        return load_config(self.config, overrides=self.overrides)

    def fit(self, texts: Sequence[str], y: Any = None, *, roles: Sequence[str] | None = None,
            resume: str | None = None, **run_kwargs: Any) -> "IntentDiscovery":
        from dialin.data import corpus_from_texts
        from dialin.progress import Progress
        from dialin.runner import run_discovery

        corpus = corpus_from_texts(list(texts), list(roles) if roles is not None else None)
        result = run_discovery(corpus, self._config(), run_id=resume, resume=bool(resume),
                               on_event=Progress() if self.verbose else None, **run_kwargs)
        self.result_ = result
        self.run_id_ = result["run_id"]
        self.labels_ = np.asarray(result["row_labels"], dtype=int)
        texts_u = result["unique_texts"]
        self.intents_ = [Intent(id=c["id"], name=c["name"], role=c.get("role"), size=c["size"],
                                verdict=(c.get("verdict") or {}).get("label"),
                                p_good=(c.get("verdict") or {}).get("p_good"),
                                examples=[texts_u[i] for i in c["members"][:5]]) for c in result["clusters"]]
        return self

    def fit_predict(self, texts: Sequence[str], y: Any = None, **kwargs: Any) -> np.ndarray:
        return self.fit(texts, y, **kwargs).labels_
