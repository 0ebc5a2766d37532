"""What a run works on: the corpus, its embeddings, the LLM router, config and store.

Graph state carries only indices into ``corpus.unique_texts``; the workspace holds the
heavy parts and is handed to nodes and tools as the run's context.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dialin.config import Config, load_config
from dialin.data import Corpus, load_corpus
from dialin.embed import Embedder, make_embedder
from dialin.errors import DialinError
from dialin.llm.router import LLMRouter
from dialin.store import Store
from dialin.tools.vectors import cohesion
from dialin.tools.keywords import KeywordIndex
from dialin.tools.language import joins_words, language_of, tokenizer_for
from dialin.tools.name_words import WordFacts
from dialin.tools.vectors import cohesion


@dataclass
class Workspace:
    config: Config
    store: Store
    router: LLMRouter
    corpus: Corpus
    X: np.ndarray
    """Embeddings of ``corpus.unique_texts`` (L2-normalised rows)."""
    embedder: Embedder
    run_id: str
    _keywords: KeywordIndex | None = field(default=None, repr=False)
    _facts: WordFacts | None = field(default=None, repr=False)
    _language: str | None = field(default=None, repr=False)

    def texts(self, indices: list[int]) -> list[str]:
        return [self.corpus.unique_texts[i] for i in indices]

    def cohesion(self, members: list[int]) -> float:
        return cohesion(self.X, members)

    def keywords(self, members: list[int], k: int = 5) -> list[str]:
        """Distinctive words of these sentences against the whole corpus."""
        if self._keywords is None:
            self._keywords = KeywordIndex(self.corpus.unique_texts, tokenizer_for(self.language))
        return self._keywords.keywords(self.texts(members), k)

    def word_facts(self) -> WordFacts:
        """What the corpus says about its words (for grounded names: coverage, proper nouns, filler)."""
        if self._facts is None:
            self._facts = WordFacts(self.corpus.unique_texts, tokenizer_for(self.language),
                                    joined=joins_words(self.language))
        return self._facts

    @property
    def language(self) -> str:
        """The corpus's language: ``method.language``, or detected when it is ``auto``."""
        if self._language is None:
            self._language = language_of(self.config, self.corpus.unique_texts)
        return self._language

    @property
    def speakers(self) -> list[str] | None:
        """A speaker role (customer/agent) per unique sentence when role separation uses the role column.

        Speaker roles (``method.roles``, ``dialin.tools.speakers``) are not the LLM roles of ``config.roles``."""
        use = self.config.method.roles
        if use in ("auto", "column") and self.corpus.unique_roles:
            return self.corpus.unique_roles
        return None


def corpus_fingerprint(corpus: Corpus) -> str:
    h = hashlib.sha256()
    for text, role in zip(corpus.unique_texts, corpus.unique_roles or [""] * len(corpus.unique_texts)):
        h.update(f"{role}\x1f{text}\x1e".encode())
    return h.hexdigest()[:16]


def open_workspace(corpus: Corpus, config: Config, store: Store, run_id: str,
                   base_urls: dict[str, str] | None = None, client_factory: Any = None,
                   embedder: Any = None) -> Workspace:
    router = LLMRouter(config, store, run_id=run_id, base_urls=base_urls, client_factory=client_factory)
    embedder = embedder or make_embedder(config.embedder, store)  # e.g. dialin.llm.ray_scale's
    X = embedder.encode(corpus.unique_texts)
    return Workspace(config=config, store=store, router=router, corpus=corpus, X=X, embedder=embedder, run_id=run_id)


_DEV_WORKSPACE: list[Workspace] = []


def workspace_for_dev() -> Workspace:
    """For `langgraph dev`, which cannot hand us a workspace: the corpus named by $DIALIN_DATA."""
    if _DEV_WORKSPACE:
        return _DEV_WORKSPACE[0]

    from dialin.llm.serve import local_base_urls

    path = os.environ.get("DIALIN_DATA")
    if not path:
        raise DialinError("under `langgraph dev` set DIALIN_DATA to a corpus file (and DIALIN_TEXT_COL / "
                          "DIALIN_ROLE_COL if needed); dialin run passes the workspace itself")
    config = load_config()
    corpus = load_corpus(path, text_col=os.environ.get("DIALIN_TEXT_COL", "text"),
                         role_col=os.environ.get("DIALIN_ROLE_COL") or None)
    store = Store(config.store_path())
    run_id = store.new_run(path, json.loads(config.model_dump_json()), {"fingerprint": corpus_fingerprint(corpus)})
    _DEV_WORKSPACE.append(open_workspace(corpus, config, store, run_id, local_base_urls(config)))
    return _DEV_WORKSPACE[0]
