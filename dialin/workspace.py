"""What a run works on: the corpus, its embeddings, the LLM router, config and store.

Graph state carries only indices into ``corpus.unique_texts``; the workspace holds the
heavy parts and is handed to nodes and tools as the run's context.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dialin.config import Config
from dialin.data import Corpus
from dialin.embed import Embedder
from dialin.llm import LLMRouter
from dialin.store import Store
from dialin.tools.keywords import KeywordIndex
from dialin.tools.leftovers import cohesion


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

    def texts(self, indices: list[int]) -> list[str]:
        return [self.corpus.unique_texts[i] for i in indices]

    def cohesion(self, members: list[int]) -> float:
        return cohesion(self.X, members)

    def keywords(self, members: list[int], k: int = 5) -> list[str]:
        """Distinctive words of these sentences against the whole corpus."""
        if self._keywords is None:
            self._keywords = KeywordIndex(self.corpus.unique_texts)
        return self._keywords.keywords(self.texts(members), k)

    @property
    def roles(self) -> list[str] | None:
        """A role per unique sentence when role separation uses the role column."""
        use = self.config.method.roles
        if use in ("auto", "column") and self.corpus.unique_roles:
            return self.corpus.unique_roles
        return None
