"""What a classifier learns from a run: the unique utterances of its intents, embedded as the run was.

The latest revision is read (edits made in chat count); utterances left unassigned are left
out. Vectors come from the run's own embedder through the store's cache, so training on a run
that was just made embeds nothing again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from dialin.config import Config, EmbedderConfig, load_config
from dialin.errors import DialinError


@dataclass
class TrainingSet:
    run_id: str
    revision: int
    X: np.ndarray
    labels: list[str]
    embedder_config: EmbedderConfig
    embedder: Any
    unassigned: int
    """Unique utterances left out (unassigned in that revision)."""


def _config(config: Config | str | Path | None) -> Config:
    return config if isinstance(config, Config) else load_config(config)


def labelled_members(result: dict[str, Any]) -> tuple[list[int], list[str]]:
    """Unique-utterance indices of every intent and their intent names (unassigned left out)."""
    names = [c["name"] for c in result["clusters"]]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DialinError(f"intents share a name ({', '.join(dupes[:5])}): a classifier needs one name per "
                          "intent. Rename or merge them in `dialin chat` first.")
    idx, labels = [], []
    for c in result["clusters"]:
        for i in c["members"]:
            idx.append(int(i))
            labels.append(c["name"])
    return idx, labels


def run_training_set(run_id: str = "latest", *, config: Config | str | Path | None = None, store: Any = None,
                     revision: int | None = None) -> TrainingSet:
    """The run's intents (``revision``: None = the latest) as embeddings and names."""
    from dialin.embed import make_embedder
    from dialin.store import Store
    from dialin.inspect.run_view import resolve_run_id

    base = _config(config)
    store = store or Store(base.store_path())
    run_id = resolve_run_id(store, run_id)
    row = store.run(run_id)
    try:
        embedder_config = Config.model_validate(row["config"]).embedder
    except ValidationError:
        embedder_config = base.embedder
    revs = store.revisions(run_id)
    if not revs:
        store.load_result(run_id)  # raises the "did not finish" error
    rev = int(revs[-1]["revision"]) if revision is None else revision
    result = store.load_result(run_id, rev)
    idx, labels = labelled_members(result)
    if not idx:
        raise DialinError(f"run {run_id} (revision {rev}) has no intents to learn from: every utterance is "
                          "unassigned")
    embedder = make_embedder(embedder_config, store)
    texts = result["unique_texts"]
    X = np.asarray(embedder.encode([texts[i] for i in idx]), dtype=np.float32)
    return TrainingSet(run_id=run_id, revision=rev, X=X, labels=labels, embedder_config=embedder_config,
                       embedder=embedder, unassigned=len(result.get("unassigned") or []))
