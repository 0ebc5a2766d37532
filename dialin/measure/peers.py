"""The peer people would pick instead of dialin: BERTopic, on the very vectors dialin clusters.

``bertopic_labels(X, texts, seed)`` runs BERTopic 0.17.4 with its defaults (UMAP 5-d cosine +
HDBSCAN ``min_cluster_size=10``) on precomputed embeddings, then
``reduce_outliers(strategy="embeddings")`` so every row gets a topic (K is never given). UMAP's
``random_state`` is the seed (BERTopic's default leaves it unseeded, so runs would not repeat).
An optional extra: ``pip install 'dialin[bertopic]'``.
"""

from __future__ import annotations

import numpy as np

from dialin.errors import DialinError

INSTALL = "pip install 'dialin[bertopic]'  (bertopic==0.17.4)"


class _Precomputed:
    """Stands in for BERTopic's embedding model: texts are embedded already; any other call is a bug."""

    def embed(self, documents, verbose=False):  # noqa: ANN001, ANN201
        raise DialinError("bertopic_labels: BERTopic asked to embed texts; pass their embeddings")


def bertopic_labels(X: np.ndarray, texts: list[str], seed: int = 0) -> np.ndarray:
    """BERTopic's topic per row of ``X`` (embeddings of ``texts``), outliers reduced by embeddings."""
    try:
        from bertopic import BERTopic
        from bertopic.backend import BaseEmbedder
        from umap import UMAP
    except ImportError:
        raise DialinError(f"the bertopic peer is not installed: {INSTALL}") from None
    if len(texts) != len(X):
        raise DialinError(f"bertopic_labels: {len(texts)} texts for {len(X)} embeddings")

    class Embedder(BaseEmbedder):
        def embed(self, documents, verbose=False):  # noqa: ANN001, ANN201
            return _Precomputed().embed(documents, verbose)

    umap = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", low_memory=False, random_state=seed)
    model = BERTopic(embedding_model=Embedder(), umap_model=umap)
    X = np.asarray(X, dtype=np.float32)
    topics, _ = model.fit_transform(texts, embeddings=X)
    if any(t == -1 for t in topics) and len(set(topics)) > 1:
        topics = model.reduce_outliers(texts, topics, strategy="embeddings", embeddings=X)
    return np.asarray(topics, dtype=np.int64)
