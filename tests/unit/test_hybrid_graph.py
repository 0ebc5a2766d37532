"""The discovery graph with a crowd fitted by Dawid-Skene and control tasks (fakes; real crowd-kit, SQLite)."""

from __future__ import annotations

import pytest

from dialin.config import load_config
from dialin.data import corpus_from_texts
from dialin.runner import run_discovery
from dialin.store import Store
from fakes import FakeChat, factory, oracle_responder
from test_graph import make_corpus


def _judge_role(model: str) -> dict:
    return {"endpoint": "local", "model": model, "prompt": "judge", "max_tokens": 4, "logprobs": True}


def _run(tmp_path, crowd: dict, labelled: bool):
    texts, labels = make_corpus()
    oracle = oracle_responder(dict(zip(texts, labels)))

    def respond(request):
        answer = oracle(request)
        if request.get("model") == "stamp" and answer in ("good", "bad"):
            return "good"
        return answer

    config = load_config(overrides={
        "store": str(tmp_path / "store.db"), "embedder": {"kind": "toy"},
        "endpoints": {"local": {"base_url": "http://fake.invalid/v1", "backend": "llamacpp",
                                "server_args": {"logits_all": True}}},
        "roles": {"a": _judge_role("honest-a"), "b": _judge_role("honest-b"), "s": _judge_role("stamp")},
        "crowd": {"members": ["a", "b", "s"], **crowd},
        "method": {"k_candidates": [2, 4, 6, 8], "max_iterations": 2, "min_unassigned": 2, "cascade_low": None,
                   "cascade_high": None, "judge_budget": None, "naming": "keywords"},
    })
    corpus = corpus_from_texts(texts, labels=labels if labelled else None)
    store = Store(config.store_path())
    return run_discovery(corpus, config, base_urls={}, client_factory=factory(FakeChat(respond)), store=store), store


def test_dawid_skene_crowd_reports_each_members_accuracy(tmp_path):
    pytest.importorskip("crowdkit", reason="crowd-kit not installed: pip install 'dialin[crowd]'")
    result, store = _run(tmp_path, {"aggregation": "dawid_skene"}, labelled=False)
    crowd = result["stats"]["judge"]["crowd"]
    assert crowd["aggregation"] == "dawid_skene" and set(crowd["members"]) == {"a", "b", "s"}
    assert crowd["members"]["a"]["accuracy"] >= crowd["members"]["s"]["accuracy"]
    assert store.load_result(result["run_id"])["stats"]["judge"]["crowd"] == crowd  # saved in SQLite


def test_controls_anchor_the_dawid_skene_fit(tmp_path, monkeypatch):
    """The loop hands the control tasks' known answers to the fit, and the run reports the smoothed rates."""
    import dialin.graphs.discovery.graph as graph

    seen = []
    real = graph.refit

    def spy(verdicts, method, smoothing=0.0, known=None):
        seen.append((method, smoothing, dict(known or {})))
        return real(verdicts, method, smoothing, known)

    monkeypatch.setattr(graph, "refit", spy)
    result, _ = _run(tmp_path, {"aggregation": "dawid_skene", "control_rate": 0.25}, labelled=True)
    assert seen and all(m == "dawid_skene" and s == 10.0 for m, s, _ in seen)
    known = seen[-1][2]
    assert known and all(k.startswith("ctl:") and a in ("good", "bad") for k, a in known.items())
    members = result["stats"]["judge"]["crowd"]["members"]
    assert "p_good_given_bad" in members["s"] and members["s"]["p_good_given_bad"] > members["a"]["p_good_given_bad"]


def test_label_controls_flag_the_rubber_stamp(tmp_path):
    result, _ = _run(tmp_path, {"aggregation": "majority", "control_rate": 0.25}, labelled=True)
    controls = result["stats"]["judge"]["controls"]
    assert controls["s"]["controls"] >= 3
    assert "rubber_stamp" in controls["s"]["flags"]
    assert controls["a"]["flags"] == {} and controls["a"]["control_accuracy"] == 1.0


def test_no_controls_without_a_rate(tmp_path):
    result, _ = _run(tmp_path, {"aggregation": "majority"}, labelled=True)
    assert result["stats"]["judge"]["controls"] is None


def _budget_run(tmp_path, budget: int, asked: list):
    from dialin.tools.review_priority import simulated_reviewer

    texts, labels = make_corpus()
    oracle = oracle_responder(dict(zip(texts, labels)))
    config = load_config(overrides={
        "store": str(tmp_path / "store.db"), "embedder": {"kind": "toy"},
        "endpoints": {"local": {"base_url": "http://fake.invalid/v1", "backend": "llamacpp",
                                "server_args": {"logits_all": True}}},
        "roles": {"judge": {"logprobs": True}},
        "method": {"k_candidates": [2, 4, 6], "max_iterations": 2, "min_unassigned": 2, "cascade_low": None,
                   "cascade_high": None, "judge_budget": None, "naming": "keywords", "merge": True,
                   "review_budget": budget},
    })
    gold = {t: lab for t, lab in zip(texts, labels)}
    corpus = corpus_from_texts(texts)
    reviewer = simulated_reviewer([gold[t] for t in corpus.unique_texts])

    def review(request):
        asked.append(request)
        return reviewer(request)

    store = Store(config.store_path())
    return run_discovery(corpus, config, base_urls={}, client_factory=factory(FakeChat(oracle)), store=store,
                         on_review=review)


def test_review_budget_bounds_the_questions_and_asks_big_clusters_first(tmp_path):
    from dialin.tools.review_priority import priority

    asked: list = []
    _budget_run(tmp_path, 3, asked)
    verdict_items = [it for r in asked if r["kind"] == "verdicts" for it in r["items"]]
    assert 0 < len(verdict_items) <= 3
    first = [r for r in asked if r["kind"] == "verdicts"][0]["items"]
    keys = [priority(it["rows"], it["p_good"], it.get("agreement"), it.get("label")) for it in first]
    assert keys == sorted(keys, reverse=True)


def test_review_budget_zero_asks_nothing(tmp_path):
    asked: list = []
    result = _budget_run(tmp_path, 0, asked)
    assert asked == [] and result["clusters"]


def test_simulated_server_stamp_is_flagged_within_30_verdicts(tmp_path):
    """A real HTTP run against the simulated judge server (it reads gold labels): sim-always-good is a stamp."""
    from dialin.measure.simulate import SimulatedServer

    texts, labels = make_corpus()
    corpus = corpus_from_texts(texts, labels=labels)
    sim = SimulatedServer(corpus).start_background()
    try:
        role = lambda model: {"endpoint": "sim", "model": model, "prompt": "judge", "max_tokens": 4,  # noqa: E731
                              "logprobs": True}
        config = load_config(overrides={
            "store": str(tmp_path / "store.db"), "embedder": {"kind": "toy"},
            "endpoints": {"sim": {"base_url": sim.base_url, "backend": "vllm", "max_concurrency": 4}},
            "roles": {"judge": role("sim-1"), "b": role("sim-1-strict"), "s": role("sim-always-good"),
                      "namer": {"endpoint": "sim", "model": "sim-1", "prompt": "namer", "max_tokens": 24}},
            "crowd": {"members": ["judge", "b", "s"], "control_rate": 0.25},
            "method": {"k_candidates": [2, 4, 6, 8], "max_iterations": 2, "min_unassigned": 2, "cascade_low": None,
                       "cascade_high": None, "judge_budget": None, "naming": "llm", "use_k_predictor": False},
        })
        result = run_discovery(corpus, config, base_urls={"sim": sim.base_url}, store=Store(config.store_path()))
    finally:
        sim.stop()
    controls = result["stats"]["judge"]["controls"]
    assert 0 < controls["s"]["flags"]["rubber_stamp"] <= 30
    assert controls["judge"]["flags"] == {} and controls["judge"]["control_accuracy"] == 1.0
    assert sim.calls["judge"] > 0
