"""The large path of dialin.tools.graph_clusters: float32 kNN edges, igraph or networkx Louvain, secant search."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dialin.tools import graph_clusters as gc
from dialin.tools.vectors import l2_normalise


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def _many_blobs(k: int = 12, per: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    centres = np.eye(16)[:k] * 5.0
    return np.vstack([c + 0.05 * rng.standard_normal((per, 16)) for c in centres]), np.repeat(np.arange(k), per)


def test_knn_edges_are_each_rows_nearest_by_brute_force() -> None:
    X = l2_normalise(np.random.default_rng(3).standard_normal((40, 6)))
    a, b, w = gc.knn_edges(X, 4)
    S = X @ X.T
    np.fill_diagonal(S, -np.inf)
    assert a.tolist() == np.repeat(np.arange(40), 4).tolist()  # row-major, 4 a row
    for i in range(40):
        assert set(b[a == i].tolist()) == set(np.argsort(-S[i])[:4].tolist())
    assert np.allclose(w, np.maximum(S[a, b], 0.0))


def test_knn_graph_is_built_from_the_edges() -> None:
    X = l2_normalise(np.random.default_rng(4).standard_normal((30, 5)))
    a, b, _ = gc.knn_edges(X, 3)
    G = gc.knn_graph(X, 3)
    assert {frozenset(e) for e in G.edges} == {frozenset((int(x), int(y))) for x, y in zip(a, b)}


def test_first_resolution_inverts_the_spread_law() -> None:
    r = gc.first_resolution(55000, 1500)
    assert math.isclose(gc.SPREAD * math.sqrt(r * 55000), 1500, rel_tol=1e-9)
    assert gc.first_resolution(10, 10_000) == 500.0 and gc.first_resolution(10**9, 2) == 0.05  # clamped


@pytest.mark.parametrize("power", [0.3, 0.5, 0.9])
def test_secant_reaches_k_in_few_runs_whatever_the_growth(power: float) -> None:
    calls: list[float] = []

    def fake(resolution: float) -> np.ndarray:  # count = 40 r^power, as a labelling of that many groups
        calls.append(resolution)
        return np.arange(max(1, round(40 * resolution ** power)))

    labels = gc._search(fake, 120, gc.first_resolution(20000, 120))  # reached at resolution 3 ** (1 / power): 3.4 to 39
    assert abs(gc._count(labels) - 120) <= 2
    assert len(calls) <= 6  # bisection from [0.05, 500] needs ~8-12 here


def test_secant_returns_the_closest_when_the_tolerance_is_never_met() -> None:
    def steps(resolution: float) -> np.ndarray:  # counts jump 50 -> 200: 120 cannot be hit
        return np.arange(50 if resolution < 3.0 else 200)

    labels = gc._search(steps, 120, gc.first_resolution(5000, 120))
    assert gc._count(labels) == 50  # 70 from 120; 200 is 80 away


def test_path_is_chosen_by_size(monkeypatch: pytest.MonkeyPatch) -> None:
    assert gc.path_for(gc.LARGE) == "networkx-bisect"
    monkeypatch.setattr(gc, "igraph_available", lambda: False)
    assert gc.path_for(gc.LARGE + 1) == "networkx-secant"
    monkeypatch.setattr(gc, "igraph_available", lambda: True)
    assert gc.path_for(gc.LARGE + 1) == "igraph-secant"


def test_large_path_with_networkx_finds_the_blobs(monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = _many_blobs()
    monkeypatch.setattr(gc, "LARGE", 10)
    monkeypatch.setattr(gc, "igraph_available", lambda: False)
    assert _same_partition(gc.graph_cluster(l2_normalise(X), 12, seed=0), y)


def test_large_path_with_igraph_finds_the_blobs_and_is_seeded(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("igraph")
    X, y = _many_blobs()
    monkeypatch.setattr(gc, "LARGE", 10)
    assert gc.path_for(len(X)) == "igraph-secant"
    Xn = l2_normalise(X)
    labels = gc.graph_cluster(Xn, 12, seed=3)
    assert _same_partition(labels, y)
    assert (gc.graph_cluster(Xn, 12, seed=3) == labels).all()


def test_small_path_is_the_bisection_of_session_10(monkeypatch: pytest.MonkeyPatch) -> None:
    X, _ = _many_blobs()
    Xn = l2_normalise(X)
    seen: list[float] = []
    real = gc._communities

    def spy(G, resolution, seed):  # noqa: ANN001
        seen.append(resolution)
        return real(G, resolution, seed)

    monkeypatch.setattr(gc, "_communities", spy)
    gc.graph_cluster(Xn, 12, seed=0)
    assert math.isclose(seen[0], math.sqrt(0.05 * 500.0))  # the bisection's first midpoint, not first_resolution



def test_knn_blocks_hold_at_most_cells_similarities_and_give_the_same_edges(monkeypatch: pytest.MonkeyPatch) -> None:
    assert gc.block_rows(1000) == gc.BLOCK and gc.block_rows(55000) == gc.CELLS // 55000 < gc.BLOCK
    X = l2_normalise(np.random.default_rng(5).standard_normal((300, 6)))
    whole = gc.knn_edges(X, 5)
    monkeypatch.setattr(gc, "CELLS", 64 * 300)  # 64 rows a block instead of BLOCK
    assert gc.block_rows(300) == 64
    for a, b in zip(whole, gc._knn_edges(X, 5)):  # not the memo
        assert np.array_equal(a, b)


def test_knn_edges_are_remembered_per_set_of_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = gc._knn_edges

    def counted(Xn, neighbours):  # noqa: ANN001, ANN202
        calls.append(len(Xn))
        return real(Xn, neighbours)

    monkeypatch.setattr(gc, "_knn_edges", counted)
    monkeypatch.setattr(gc, "_EDGES", type(gc._EDGES)())
    rng = np.random.default_rng(6)
    A, B, C = (l2_normalise(rng.standard_normal((30, 4))) for _ in range(3))
    first = gc.knn_edges(A, 3)
    assert gc.knn_edges(A.copy(), 3) is first and calls == [30]  # same vectors, other array: from memory
    gc.knn_edges(A, 4)
    gc.knn_edges(B, 3)
    gc.knn_edges(C, 3)  # MEMO = 2: A's go
    assert len(calls) == 4
    gc.knn_edges(A, 3)
    assert len(calls) == 5
