"""Tests for dialin.tools.sampling."""

from __future__ import annotations

import numpy as np
import pytest

from dialin.tools.sampling import SAMPLE_STRATEGIES, farthest_point, sample


def _disc(n: int = 200, d: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.array([3.0, 2.0] + [0.05] * (d - 2))
    return X


@pytest.mark.parametrize("strategy", SAMPLE_STRATEGIES)
def test_returns_all_when_small(strategy: str) -> None:
    X = _disc(10)
    idx = [9, 3, 5]
    assert sample(X, idx, n=5, strategy=strategy) == idx
    assert sample(X, [], n=5, strategy=strategy) == []


@pytest.mark.parametrize("strategy", SAMPLE_STRATEGIES)
def test_size_distinct_subset_and_deterministic(strategy: str) -> None:
    X = _disc()
    idx = list(range(0, 200, 2))
    a = sample(X, idx, n=20, strategy=strategy, seed=7)
    b = sample(X, idx, n=20, strategy=strategy, seed=7)
    assert a == b
    assert len(a) == 20 == len(set(a))
    assert set(a) <= set(idx)


def test_random_depends_on_seed() -> None:
    X = _disc()
    idx = list(range(200))
    assert sample(X, idx, 20, "random", seed=0) != sample(X, idx, 20, "random", seed=1)


def test_convex_starts_from_medoid_and_covers_hull() -> None:
    X = _disc()
    idx = list(range(200))
    out = sample(X, idx, n=20, strategy="convex")
    P = X[idx]
    assert out[0] == int(np.argmin(np.linalg.norm(P - P.mean(0), axis=1)))
    # The extremes along the main axes are hull vertices and must be shown.
    for axis in (0, 1):
        assert int(np.argmax(X[:, axis])) in out
        assert int(np.argmin(X[:, axis])) in out


def test_convex_spreads_more_than_random() -> None:
    X = _disc()
    idx = list(range(200))

    def spread(sel: list[int]) -> float:
        return float(np.linalg.norm(X[sel] - X[sel].mean(0), axis=1).mean())

    assert spread(sample(X, idx, 20, "convex")) > spread(sample(X, idx, 20, "random"))


def test_convex_few_hull_vertices_filled_up() -> None:
    # A square's corners plus interior points: 4 hull vertices, n = 10.
    rng = np.random.default_rng(1)
    inner = rng.uniform(-0.5, 0.5, size=(30, 2))
    X = np.vstack([[[-1, -1], [-1, 1], [1, -1], [1, 1]], inner])
    out = sample(X, list(range(len(X))), n=10, strategy="convex")
    assert len(out) == 10 == len(set(out))
    assert {0, 1, 2, 3} <= set(out[:5])


@pytest.mark.parametrize(
    "X",
    [
        np.tile([[1.0, 2.0, 3.0]], (30, 1)),  # zero variance
        np.outer(np.arange(30.0), [1.0, 2.0, 0.5]),  # collinear
        np.random.default_rng(0).standard_normal((30, 1)),  # 1-D embeddings
    ],
)
def test_degenerate_clusters_fall_back(X: np.ndarray) -> None:
    out = sample(X, list(range(30)), n=8, strategy="convex", seed=3)
    assert len(out) == 8 == len(set(out))
    assert out == sample(X, list(range(30)), n=8, strategy="convex", seed=3)


def test_collinear_fallback_takes_both_ends() -> None:
    X = np.outer(np.arange(30.0), [1.0, 2.0, 0.5])
    out = sample(X, list(range(30)), n=3, strategy="convex")
    assert out[0] in (14, 15)
    assert set(out[1:]) == {0, 29}


def test_fewer_points_than_dim_plus_two() -> None:
    X = _disc(50)
    out = sample(X, [4, 8, 15, 16, 23], n=2, strategy="convex", dim=4)
    assert len(out) == 2 and set(out) <= {4, 8, 15, 16, 23}


def test_dim_one_and_three() -> None:
    X = _disc()
    for dim in (1, 3):
        out = sample(X, list(range(200)), n=12, strategy="convex", dim=dim)
        assert len(out) == 12 == len(set(out))


def test_farthest_point_random_fill_on_duplicates() -> None:
    P = np.zeros((6, 2))
    out = farthest_point(P, [0], range(6), 4, np.random.default_rng(0))
    assert out[0] == 0 and len(out) == 4 == len(set(out))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n": -1}, "n must be"), ({"dim": 0}, "dim must be"), ({"strategy": "hull"}, "Unknown")],
)
def test_invalid_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sample(_disc(10), list(range(10)), **kwargs)
