"""Tests for dialin.tools.clustering."""

from __future__ import annotations

import numpy as np
import pytest

from dialin.tools.clustering import CLUSTER_METHODS, cluster


def _blobs(seed: int = 0, per: int = 15) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.eye(8)[:3] * 5.0
    X = np.vstack([c + 0.05 * rng.standard_normal((per, 8)) for c in centres])
    return X, np.repeat(np.arange(3), per)


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize("method", CLUSTER_METHODS)
def test_recovers_separated_blobs(method: str) -> None:
    X, y = _blobs()
    labels = cluster(X, 3, method=method, seed=0)
    assert labels.shape == (len(X),)
    assert labels.dtype.kind == "i"
    assert _same_partition(labels, y)


@pytest.mark.parametrize("method", CLUSTER_METHODS)
def test_labels_contiguous_and_in_order_of_first_appearance(method: str) -> None:
    X, _ = _blobs()
    labels = cluster(X[::-1], 3, method=method)
    assert labels[0] == 0
    _, first = np.unique(labels, return_index=True)
    assert sorted(set(labels.tolist())) == list(range(len(first)))
    assert list(np.argsort(first)) == list(range(len(first)))


@pytest.mark.parametrize("method", CLUSTER_METHODS)
def test_deterministic_for_a_seed(method: str) -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 5))
    assert np.array_equal(cluster(X, 6, method, seed=3), cluster(X, 6, method, seed=3))


@pytest.mark.parametrize("method", CLUSTER_METHODS)
def test_k_clipped_to_n(method: str) -> None:
    X = np.random.default_rng(2).standard_normal((4, 3))
    assert sorted(cluster(X, 10, method).tolist()) == [0, 1, 2, 3]


def test_k_one_and_single_point() -> None:
    X = np.random.default_rng(3).standard_normal((5, 3))
    assert cluster(X, 1).tolist() == [0] * 5
    assert cluster(X[:1], 3).tolist() == [0]


def test_duplicates_use_fewer_clusters_without_error() -> None:
    X = np.array([[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 4)
    for method in CLUSTER_METHODS:
        labels = cluster(X, 3, method)
        assert labels.max() <= 2
        assert len(set(labels[:4].tolist()) & set(labels[4:].tolist())) == 0


def test_agglomerative_uses_normalised_rows() -> None:
    # Same directions, very different norms: direction decides, not length.
    X = np.array([[1.0, 0.01], [100.0, 0.5], [0.01, 1.0], [0.3, 50.0]])
    labels = cluster(X, 2, "agglomerative")
    assert labels.tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize(
    ("X", "k", "message"),
    [
        (np.zeros((0, 3)), 2, "empty"),
        (np.ones((3, 2)), 0, "k must be"),
        (np.ones((3, 2)), -1, "k must be"),
        (np.ones(3), 2, "2-D"),
        (np.array([[np.nan, 1.0]]), 1, "NaN"),
    ],
)
def test_invalid_input(X: np.ndarray, k: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cluster(X, k)


def test_unknown_method() -> None:
    with pytest.raises(ValueError, match="Unknown clustering method"):
        cluster(np.ones((3, 2)), 2, method="dbscan")  # type: ignore[arg-type]


def test_graph_finds_about_k_communities_among_many_blobs() -> None:
    rng = np.random.default_rng(1)
    centres = np.eye(16)[:12] * 5.0
    X = np.vstack([c + 0.05 * rng.standard_normal((20, 16)) for c in centres])
    labels = cluster(X, 12, method="graph", seed=0)
    assert _same_partition(labels, np.repeat(np.arange(12), 20))


def test_graph_knn_in_blocks_equals_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    from dialin.tools import graph_clusters
    from dialin.tools.vectors import l2_normalise

    X = l2_normalise(np.random.default_rng(2).standard_normal((50, 8)))
    whole = graph_clusters.knn_graph(X, 5)
    monkeypatch.setattr(graph_clusters, "BLOCK", 7)  # 8 blocks: memory BLOCK x n, the same graph
    monkeypatch.setattr(graph_clusters, "_EDGES", type(graph_clusters._EDGES)())  # computed again, not remembered
    blocked = graph_clusters.knn_graph(X, 5)
    assert sorted(whole.edges) == sorted(blocked.edges)
    assert all(blocked.degree(i) >= 5 for i in range(50))  # each row joined to its 5 nearest


def test_graph_follows_density_where_ward_cuts_across() -> None:
    # two long, close, parallel chains: Ward's variance-balanced cut at k = 2 splits them across,
    # the kNN graph keeps each chain whole
    t = np.linspace(0, 12, 120)
    a = np.c_[t, np.zeros_like(t), np.ones_like(t)]
    b = np.c_[t, np.full_like(t, 0.6), np.ones_like(t)]
    X, y = np.vstack([a, b]), np.repeat([0, 1], 120)
    assert not _same_partition(cluster(X, 2, method="agglomerative"), y)
    assert _same_partition(cluster(X, 2, method="graph", seed=0), y)


def test_graph_of_opposed_sentences_still_has_communities() -> None:
    # a few sentences whose nearest neighbours all have negative cosine: before the weight floor the graph had
    # only 0-weight edges, and Louvain divided by zero
    X = np.array([[1.0, 0.0], [-1.0, 0.1], [0.0, 1.0]])
    labels = cluster(X, 2, method="graph", seed=0)
    assert len(labels) == 3 and 1 <= len(set(labels.tolist())) <= 3
    from dialin.tools.graph_tree import graph_ward

    assert sorted(graph_ward(np.random.default_rng(0).normal(size=(2, 8)), top=2).cut(2).tolist()) == [0, 1]
