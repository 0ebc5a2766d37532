"""Issue 16: the ratio loop cuts one Ward tree per iteration at every K (same partitions as a Ward per K),
and labels are grouped by one argsort."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from dialin.config import Config
from dialin.graphs.discovery import trees
from dialin.graphs.discovery.steps import cluster_indices
from dialin.tools.clustering import _renumber, cluster, groups


def _ws(X: np.ndarray, **method) -> SimpleNamespace:
    cfg = Config.model_validate({"method": method})
    return SimpleNamespace(config=cfg, X=X, speakers=None)


def _slow(labels: np.ndarray) -> list[list[int]]:
    return [[i for i in range(len(labels)) if labels[i] == c] for c in range(int(labels.max()) + 1)]


def test_groups_equal_the_quadratic_grouping() -> None:
    labels = _renumber(np.random.default_rng(0).integers(0, 37, size=2000))
    assert [g.tolist() for g in groups(labels)] == _slow(labels)
    assert groups(np.array([], dtype=int)) == []


def test_one_tree_cut_at_each_k_equals_a_ward_per_k() -> None:
    rng = np.random.default_rng(3)
    X = np.repeat(rng.normal(size=(12, 24)), 40, axis=0) + 0.4 * rng.normal(size=(480, 24))
    ws = _ws(X)
    U = list(range(0, 480, 2)) + list(range(1, 480, 4))
    trees._TREES.clear()
    for k in (2, 9, 12, 30, 100):
        want = cluster(X[U], k, method="agglomerative")
        got = cluster_indices(ws, U, k)
        assert got == [[U[i] for i in g] for g in _slow(want)]
    assert len(trees._TREES) == 1  # one tree for the five K values


def test_large_sets_take_the_micro_path_and_still_give_k_clusters() -> None:
    rng = np.random.default_rng(4)
    X = np.repeat(rng.normal(size=(20, 16)), 60, axis=0) + 0.05 * rng.normal(size=(1200, 16))
    ws = _ws(X, exact_limit=500, micro_clusters=200)
    trees._TREES.clear()
    U = list(range(1200))
    out = cluster_indices(ws, U, 20)
    assert len(out) == 20 and sorted(i for c in out for i in c) == U
    assert next(iter(trees._TREES.values())).path == "micro"
    assert len(cluster_indices(ws, U, 150)) == 150


CPU_CHECK = """
import time
from dialin.measure.stages import StageMeter, format_stages
with StageMeter(interval_s=0.01) as meter:
    time.sleep(0.2)
    meter.mark("sleeping")
    t = time.process_time()
    while time.process_time() - t < 0.2:
        pass
    meter.mark("busy")
rows = {r["stage"]: r for r in meter.report()}
assert rows["sleeping"]["seconds"] >= 0.2 and rows["sleeping"]["cpu_seconds"] < 0.1, rows
assert rows["busy"]["cpu_seconds"] >= 0.2, rows
assert rows["total"]["cpu_seconds"] >= rows["busy"]["cpu_seconds"]
assert "CPU s" in format_stages(meter.report())
"""


def test_stage_rows_carry_cpu_seconds_beside_wall_seconds() -> None:
    """In a fresh interpreter: process CPU counts every thread, and the suite's process has busy ones."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", CPU_CHECK], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_neighbour_profiles_of_a_large_corpus_come_from_a_sample_and_stay_close(monkeypatch) -> None:
    from dialin.tools import coherence

    rng = np.random.default_rng(5)
    X = np.repeat(rng.normal(size=(8, 32)), 300, axis=0) + 0.6 * rng.normal(size=(2400, 32))
    exact = coherence.CorpusFrame.fit(X, kmax=32).knn
    monkeypatch.setattr(coherence, "KNN_EXACT_MAX", 800)
    approx = coherence.CorpusFrame.fit(X, kmax=32).knn
    assert approx.shape == exact.shape
    assert np.abs(approx - exact)[:, 8:].mean() < 0.03  # beyond the first few neighbours the estimate is close
    assert np.abs(approx - exact).mean() < 0.05
