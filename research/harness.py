"""Shared by the research probes (not packaged): where they cache embeddings.

The probes run as ``python research/<probe>.py`` from any directory: Python puts this
folder first on ``sys.path``, so ``import harness`` / ``import bench_embedder`` find the
files beside them, never the working directory's. Caches live under ``$DIALIN_HOME/research``,
not at a fixed temporary path.
"""

from __future__ import annotations

from pathlib import Path

from dialin.config import dialin_home


def default_store(name: str = "bench-embedder.db") -> str:
    """An SQLite file under ``$DIALIN_HOME/research`` (created on demand)."""
    folder = dialin_home() / "research"
    folder.mkdir(parents=True, exist_ok=True)
    return str(Path(folder) / name)
