"""Tests for dialin.measure.metrics."""

from __future__ import annotations

import numpy as np
import pytest

from dialin.measure.metrics import acc, ari, clustering_metrics, encode, nmi


def test_perfect() -> None:
    y = [0, 0, 1, 1, 2, 2]
    assert nmi(y, y) == pytest.approx(1.0)
    assert acc(y, y) == 1.0
    assert ari(y, y) == pytest.approx(1.0)


def test_permuted_labels_are_perfect() -> None:
    y = [0, 0, 1, 1, 2, 2]
    p = [5, 5, 3, 3, 9, 9]
    assert acc(y, p) == 1.0
    assert nmi(y, p) == pytest.approx(1.0)
    assert ari(y, p) == pytest.approx(1.0)


def test_acc_hand_computed() -> None:
    # Contingency true x pred: [[2, 1], [0, 3]] -> best matching 2 + 3 = 5 of 6.
    y = [0, 0, 0, 1, 1, 1]
    p = [0, 0, 1, 1, 1, 1]
    assert acc(y, p) == pytest.approx(5 / 6)


def test_more_predicted_than_true_clusters() -> None:
    # Each true class split in two: only one half per class can be matched.
    y = [0, 0, 0, 0, 1, 1, 1, 1]
    p = [0, 0, 1, 1, 2, 2, 3, 3]
    assert acc(y, p) == pytest.approx(0.5)
    assert nmi(y, p) == pytest.approx(2 / 3)  # I = ln 2, H(y) = ln 2, H(p) = ln 4


def test_fewer_predicted_than_true_clusters() -> None:
    y = [0, 0, 1, 1, 2, 2]
    p = [0, 0, 0, 0, 1, 1]
    assert acc(y, p) == pytest.approx(4 / 6)


def test_string_labels_and_mixed_types() -> None:
    y = ["a", "a", "b", "b"]
    p = ["inquire-balance", "inquire-balance", "report-lost_card", "report-lost_card"]
    assert acc(y, p) == 1.0
    assert acc(np.array(y), np.array(p)) == 1.0
    assert clustering_metrics(y, p)["nmi"] == 100.0


def test_unassigned_is_one_cluster_of_its_own() -> None:
    y = [0, 0, 1, 1, 2, 2]
    # -1 and "unassigned" are the same bucket, matched like any cluster.
    p = ["x", "x", "y", "y", -1, "unassigned"]
    assert acc(y, p) == 1.0
    assert encode(p, unassigned=True).tolist() == [0, 0, 1, 1, 2, 2]
    m = clustering_metrics(y, p)
    assert m["n_clusters_pred"] == 2 and m["n_unassigned"] == 2
    # The bucket mixes two classes: it can match only one of them.
    q = [0, 0, -1, -1, -1, -1]
    assert acc(y, q) == pytest.approx(4 / 6)


def test_clustering_metrics_dict() -> None:
    y = [0, 0, 0, 1, 1, 1]
    p = [0, 0, 1, 1, 1, 1]
    m = clustering_metrics(y, p)
    assert set(m) == {"nmi", "acc", "ari", "n_clusters_pred", "n_clusters_true", "n_unassigned"}
    assert m["acc"] == 83.33
    assert m["nmi"] == round(100 * nmi(y, p), 2)
    assert m["ari"] == round(100 * ari(y, p), 2)
    assert (m["n_clusters_pred"], m["n_clusters_true"], m["n_unassigned"]) == (2, 2, 0)


def test_numpy_int_labels() -> None:
    y = np.array([1, 1, 2, 2], dtype=np.int32)
    p = np.array([-1, -1, 7, 7], dtype=np.int64)
    assert acc(y, p) == 1.0
    assert clustering_metrics(y, p)["n_unassigned"] == 2


@pytest.mark.parametrize("fn", [nmi, acc, ari, clustering_metrics])
def test_invalid_lengths(fn) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="differ in length"):
        fn([0, 1], [0])
    with pytest.raises(ValueError, match="empty"):
        fn([], [])
