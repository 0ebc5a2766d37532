"""What an inspection works on: one stored run, its revisions, embeddings and LLM router.

``RunView.open(run_id, config_path)`` resolves the run (``latest`` = the newest run with
a result). The run's own config gives the embedder (vectors must match the run's); the
LLM roles (inspector, judge for re-judging) come from ``config_path`` when given, else
from the run's config. Embeddings, the router and local servers are made on first use,
so slash commands that only read the result never load a model or start a server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import ValidationError

from dialin.config import Config, EmbedderConfig, load_config
from dialin.errors import DialinError, RunNotFound
from dialin.store import Store

CHAT_NOTE = "chat: "
"""Prefix of the note of every revision made by an edit in chat (``/undo`` removes only these)."""


@dataclass
class RunView:
    store: Store
    run_id: str
    config: Config
    """LLM roles and method settings used for re-judging and the inspector model."""
    embedder_config: EmbedderConfig
    """The run's embedder: semantic search and cohesion use the run's own vectors."""
    base_urls: dict[str, str] | None = None
    """Endpoint name -> URL for ``auto`` endpoints; None = start local servers when first needed."""
    client_factory: Any = None
    """Test hook passed to ``LLMRouter`` (a fake OpenAI client)."""
    _result: tuple[int, dict[str, Any]] | None = field(default=None, repr=False)
    _X: np.ndarray | None = field(default=None, repr=False)
    _embedder: Any = field(default=None, repr=False)
    _router: Any = field(default=None, repr=False)

    @classmethod
    def open(cls, run_id: str = "latest", config_path: str | None = None, *, store: Store | None = None,
             **kwargs: Any) -> "RunView":
        base = load_config(config_path)
        store = store or Store(base.store_path())
        run_id = resolve_run_id(store, run_id)
        row = store.run(run_id)
        try:
            run_config = Config.model_validate(row["config"])
        except ValidationError:
            run_config = base
        config = base if config_path else run_config
        view = cls(store=store, run_id=run_id, config=config, embedder_config=run_config.embedder, **kwargs)
        view.result()
        return view

    # -- revisions ----------------------------------------------------------------------
    def latest_revision(self) -> int:
        revs = self.store.revisions(self.run_id)
        if not revs:
            raise RunNotFound(f"run '{self.run_id}' has no stored result: it did not finish")
        return int(revs[-1]["revision"])

    def result(self) -> dict[str, Any]:
        """The latest revision (re-read only when a newer one exists)."""
        rev = self.latest_revision()
        if self._result is None or self._result[0] != rev:
            self._result = (rev, self.store.load_result(self.run_id, rev))
        return self._result[1]

    def save(self, result: dict[str, Any], note: str) -> int:
        rev = self.store.save_revision(self.run_id, result, CHAT_NOTE + note)
        self._result = (rev, result)
        return rev

    def undo(self) -> tuple[int, str]:
        """Delete the latest revision when an edit in chat made it; returns (revision, note)."""
        revs = self.store.revisions(self.run_id)
        if not revs:
            raise DialinError(f"run '{self.run_id}' has no revisions")
        last = revs[-1]
        note = last["note"] or ""
        if last["revision"] <= 1 or not note.startswith(CHAT_NOTE):
            raise DialinError(f"nothing to undo: the latest revision ({last['revision']}, '{note}') was not "
                              "made by an edit in chat")
        self.store.delete_revision(self.run_id, int(last["revision"]))
        self._result = None
        return int(last["revision"]), note[len(CHAT_NOTE):]

    # -- embeddings and LLM ----------------------------------------------------------------
    def embedder(self) -> Any:
        if self._embedder is None:
            from dialin.embed import make_embedder

            self._embedder = make_embedder(self.embedder_config, self.store)
        return self._embedder

    def vectors(self) -> np.ndarray:
        """L2-normalised embeddings of the run's unique utterances (from the store's cache when there)."""
        if self._X is None:
            self._X = np.asarray(self.embedder().encode(self.result()["unique_texts"]), dtype=np.float32)
        return self._X

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.embedder().encode(texts), dtype=np.float32)

    def urls(self) -> dict[str, str]:
        if self.base_urls is None:
            from dialin.llm.serve import local_base_urls

            self.base_urls = local_base_urls(self.config)
        return self.base_urls

    def router(self) -> Any:
        if self._router is None:
            from dialin.llm.router import LLMRouter

            self._router = LLMRouter(self.config, self.store, run_id=self.run_id, base_urls=self.urls(),
                                     client_factory=self.client_factory)
        return self._router

    # -- lookups -----------------------------------------------------------------------------
    def find_utterance(self, text: str) -> int | None:
        """Index of a unique utterance: ``#12`` / ``12`` by index, else an exact (case/space-insensitive) match."""
        texts = self.result()["unique_texts"]
        ref = text.strip()
        m = re.fullmatch(r"#?(\d+)", ref)
        if m and int(m.group(1)) < len(texts):
            return int(m.group(1))
        key = _norm(ref)
        for i, t in enumerate(texts):
            if _norm(t) == key:
                return i
        return None


def _norm(text: str) -> str:
    return " ".join(text.lower().split()).strip(" \"'.?!")


def resolve_run_id(store: Store, run_id: str) -> str:
    if run_id != "latest":
        return run_id
    rows = store.execute("SELECT r.run_id FROM runs r WHERE EXISTS (SELECT 1 FROM run_revisions v "
                         "WHERE v.run_id = r.run_id) ORDER BY r.created_at DESC LIMIT 1")
    if not rows:
        raise RunNotFound(f"the store {store.path} has no finished run: run `dialin run DATA` first")
    return str(rows[0]["run_id"])
