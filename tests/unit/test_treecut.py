"""The tree-cut loop (method.loop: treecut) and the hierarchy it cuts: fakes for the judge, real Ward trees."""

from __future__ import annotations

import numpy as np
import pytest

from dialin.measure.metrics import clustering_metrics
from dialin.tools.hierarchy import Hierarchy, build_hierarchy, weighted_ward
from dialin.graphs.discovery.treecut import merge_candidates, start_k
from test_graph import run


def test_weighted_ward_equals_scipy_on_unit_weights() -> None:
    from scipy.cluster.hierarchy import linkage

    X = np.random.default_rng(0).normal(size=(300, 8))
    Z = weighted_ward(X, np.ones(300))
    assert np.allclose(Z[:, 2], linkage(X, "ward")[:, 2])
    a, b = Hierarchy("x", Z, np.arange(300), 300), Hierarchy("x", linkage(X, "ward"), np.arange(300), 300)
    for k in (2, 7, 40):
        assert clustering_metrics(list(a.cut(k)), list(b.cut(k)))["ari"] == 100.0
        assert len(set(a.cut(k).tolist())) == k


def test_micro_path_is_chosen_by_size_and_cuts_any_k() -> None:
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(6, 16))
    X = np.repeat(centers, 100, axis=0) + 0.05 * rng.normal(size=(600, 16))
    gold = np.repeat(np.arange(6), 100)
    h = build_hierarchy(X, exact_limit=500, micro=60)
    assert h.path == "micro" and h.m <= 60 and len(h.leaf_of) == 600
    assert clustering_metrics(gold.tolist(), h.cut(6).tolist())["nmi"] == 100.0
    assert sorted(i for n in h.cut_nodes(6) for i in h.members(n)) == list(range(600))
    assert build_hierarchy(X[:100], exact_limit=500).path == "exact"
    assert h.members(h.root) == list(range(600))


def test_merge_candidates_pair_each_cluster_once() -> None:
    X = np.array([[1, 0], [0.99, 0.1], [0, 1], [0.1, 0.99], [-1, 0]], dtype=float)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    pairs = merge_candidates(X, [[0], [1], [2], [3], [4]])
    assert set(pairs) == {(0, 1), (2, 3)}
    assert (0, 1) not in merge_candidates(X, [[0], [1], [2], [3], [4]], refused={(0, 1)})  # refused: not again
    assert start_k(3079) == 39 and start_k(3079, 2.0) == 78 and start_k(1) == 1


def test_a_cluster_refused_with_every_other_has_no_merge_candidate() -> None:
    X = np.array([[1, 0], [0.99, 0.1], [0, 1], [0.1, 0.99], [-1, 0]], dtype=float)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    clusters = [[0], [2], [3], [4]]
    assert merge_candidates(X, clusters, refused={(3, 0), (3, 1), (3, 2)}) == [(1, 2)]  # not the refused (0, 3)
    assert merge_candidates(X, clusters[:3], refused={(0, 1), (0, 2)}) == [(1, 2)]  # not (0, 0): itself
    assert merge_candidates(X, [[0], [4]], refused={(0, 1)}) == []


@pytest.mark.parametrize("checks", [1, 2])
def test_treecut_loop_finds_the_intents(tmp_path, checks) -> None:
    result, fake, store, labels = run(tmp_path, loop="treecut", min_cluster_size=2, merge_checks=checks)
    m = clustering_metrics(labels, result["row_labels"])
    assert m["nmi"] > 90 and m["n_clusters_pred"] == 4, m
    stages = [h.get("stage") for h in result["history"]]
    assert stages[0] == "hierarchy" and "tree" in stages
    assert "hierarchy: exact" in result["stop_reason"]
    stages = {c["stage"] for c in store.calls(result["run_id"])}
    assert {"judge", "merge"} <= stages  # node verdicts and merge checks both asked the (fake) LLM


@pytest.mark.parametrize("budget", [0, 7])
def test_the_run_wide_judge_budget_bounds_the_llm_judge_calls(tmp_path, budget) -> None:
    result, fake, store, labels = run(tmp_path, loop="treecut", min_cluster_size=2, merge_checks=2,
                                      judge_budget_total=budget)
    judged = [c for c in store.calls(result["run_id"]) if c["role"] == "judge"]
    assert len(judged) <= budget  # node verdicts and merge checks together
    assert len(result["row_labels"]) == len(labels)  # beyond the budget the cascade's score decides: a result anyway
    (tmp_path / "free").mkdir()
    unbounded, _, free_store, _ = run(tmp_path / "free", loop="treecut", min_cluster_size=2, merge_checks=2)
    assert len([c for c in free_store.calls(unbounded["run_id"]) if c["role"] == "judge"]) > 7  # the cap bit


def test_dissolve_small_keeps_clusters_of_a_share_of_the_median_size() -> None:
    from dialin.graphs.discovery.treecut import dissolve_small

    accepted = [{"members": list(range(k * 100, k * 100 + size))} for k, size in enumerate([20, 18, 22, 4, 9])]
    keep, gone = dissolve_small(accepted, 0.25)  # median 18: under 4.5 goes
    assert [len(a["members"]) for a in keep] == [20, 18, 22, 9] and gone == [300, 301, 302, 303]
    assert dissolve_small(accepted, 0.0) == (accepted, [])


def test_the_progress_line_of_a_tree_round_has_no_ratio(capsys) -> None:
    from dialin.progress import Progress

    Progress()({"stage": "select_k", "iteration": 3, "k": 40, "ratio": None, "kept": 40, "left": 12, "stop": ""})
    assert "iteration 3: best K 40, kept 40 clusters, 12 sentences left" in capsys.readouterr().err


def test_graph_tree_cut_at_top_is_the_graph_partition_and_descends_by_ward() -> None:
    from scipy.cluster.hierarchy import is_valid_linkage

    from dialin.tools.graph_clusters import graph_cluster
    from dialin.tools.graph_tree import graph_ward
    from dialin.tools.vectors import l2_normalise

    # two long, close, parallel chains (Ward's top cut splits them across; the graph keeps each whole)
    t = np.linspace(0, 12, 120)
    X = l2_normalise(np.vstack([np.c_[t, np.zeros_like(t), np.ones_like(t)],
                                np.c_[t, np.full_like(t, 0.6), np.ones_like(t)]]))
    y = np.repeat([0, 1], 120)
    h = graph_ward(X, top=2)
    assert h.path == "graph" and is_valid_linkage(h.Z) and h.m == 240
    assert clustering_metrics(y.tolist(), h.cut(2).tolist())["ari"] == 100.0
    assert clustering_metrics(graph_cluster(X, 2).tolist(), h.cut(2).tolist())["ari"] == 100.0
    assert clustering_metrics(y.tolist(), build_hierarchy(X, path="exact").cut(2).tolist())["ari"] < 100.0
    # below the communities: each splits by its own Ward tree, never across the two
    for k in (3, 9, 40):
        nodes = h.cut_nodes(k)
        assert len(nodes) == k and sorted(i for v in nodes for i in h.members(v)) == list(range(240))
        assert all(len(set(y[h.members(v)].tolist())) == 1 for v in nodes)
    assert graph_ward(X[:1], top=2).m == 1


def test_treecut_loop_on_the_graph_tree_finds_the_intents(tmp_path) -> None:
    result, fake, store, labels = run(tmp_path, loop="treecut", min_cluster_size=2, hierarchy="graph")
    m = clustering_metrics(labels, result["row_labels"])
    assert m["nmi"] > 90 and m["n_clusters_pred"] == 4, m
    assert "hierarchy: graph" in result["stop_reason"]
