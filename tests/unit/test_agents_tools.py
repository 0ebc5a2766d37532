import numpy as np
import pytest

from dialin.agents.crowd import aggregate, fleiss_kappa
from dialin.agents.k_predictor import k_grid, predict_k
from dialin.agents.namer import disambiguate, is_valid_name, normalise_name
from dialin.agents.verdicts import Vote
from dialin.config import load_config
from dialin.llm.router import LLMRouter, run_sync
from dialin.store import Store
from dialin.tools.vectors import cohesion
from dialin.tools.leftovers import assign_leftovers
from dialin.tools.speakers import allocate_k, infer_role, split_by_role
from fakes import FakeChat, factory


def vote(label, p=None, role="j"):
    return Vote(role=role, model="m", label=label, p_good=p)


def test_majority_weighted_and_ties():
    v = aggregate([vote("good", 0.9, "a"), vote("good", 0.6, "b"), vote("bad", 0.2, "c")])
    assert v.label == "good" and v.source == "crowd" and v.agreement == pytest.approx(2 / 3)
    assert aggregate([vote("good", 0.9, "a"), vote("bad", 0.4, "b")]).label == "good"  # tie -> mean P
    assert aggregate([vote("good"), vote("bad")]).label == "bad"  # tie at 0.5 -> bad
    w = aggregate([vote("good", 0.55, "a"), vote("good", 0.55, "b"), vote("bad", 0.0, "c")], "weighted")
    assert w.label == "bad"  # mean P(good) = 0.37
    assert aggregate([vote("bad", 0.3)]).source == "llm"


def test_fleiss_kappa_known_values():
    assert fleiss_kappa([["good", "good"], ["bad", "bad"]]) == pytest.approx(1.0)
    # Two raters who always disagree: kappa = -1
    assert fleiss_kappa([["good", "bad"], ["bad", "good"]]) == pytest.approx(-1.0)
    # Wikipedia-style small case, computed by hand: P_bar = 1/3, P_e = 0.5 -> -1/3
    assert fleiss_kappa([["good", "good", "bad"], ["good", "bad", "bad"]]) == pytest.approx(-1 / 3)
    assert fleiss_kappa([["good"]]) is None


@pytest.mark.parametrize("raw, name", [
    ("Report Lost Card", "report-lost_card"), ("inquire_balance", "inquire-balance"),
    ("request-refund", "request-refund"), ('"Cancel-Card."', "cancel-card"), ("", "other-unspecified"),
    ("check - exchange rate", "check-exchange_rate"),
])
def test_names_normalised(raw, name):
    assert normalise_name(raw) == name and is_valid_name(name)


def test_disambiguate():
    assert disambiguate(["a-b", "c-d", "a-b", "a-b"]) == ["a-b", "c-d", "a-b_2", "a-b_3"]


def test_k_grid():
    assert k_grid(800, 5) == [21, 32, 42, 52, 63]  # center 1.5 sqrt(n) = 42
    assert k_grid(800, 3, center=40) == [20, 40, 60]
    assert k_grid(2) == [1]
    assert all(2 <= k <= 9 for k in k_grid(10, 5, center=20))


def test_predict_k_validates_and_dedupes():
    config = load_config(overrides={"endpoints": {"local": {"base_url": "http://x/v1"}}})
    fake = FakeChat().enqueue('{"k": [40, 40, 1, 999, 12, 30]}')
    router = LLMRouter(config, Store(":memory:"), client_factory=factory(fake))
    history = [{"iteration": 1, "k": 20, "good": 10, "bad": 10, "ratio": 1.0}]
    assert run_sync(predict_k(router, history, 100, top=5)) == [40, 12, 30]
    assert "1, 20, 10, 10, 1.00" in fake.history[0]["messages"][1]["content"]
    fake.enqueue("garbage", "garbage", "garbage")  # asked 3 times: an unusable answer is never cached
    router2 = LLMRouter(config, Store(":memory:"), client_factory=factory(fake))
    assert run_sync(predict_k(router2, history, 100)) == []


def test_roles():
    assert infer_role("inquire-balance") == "customer" and infer_role("provide-balance") == "agent"
    assert split_by_role([0, 1, 2], ["customer", "agent", "customer"]) == {"customer": [0, 2], "agent": [1]}
    assert allocate_k({"customer": 60, "agent": 40}, 10) == {"customer": 6, "agent": 4}
    assert allocate_k({"customer": 99, "agent": 1}, 10) == {"customer": 10, "agent": 1}


def test_leftovers_join_nearest_when_close_enough():
    X = np.array([[1, 0], [0.99, 0.14], [0, 1], [0.1, 0.99], [0.7, 0.7], [-1, 0]], dtype=float)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    assigned, rest = assign_leftovers(X, [[0, 1], [2, 3]], [4, 5], min_similarity=0.6)
    assert 4 in assigned and rest == [5]
    assigned, rest = assign_leftovers(X, [[0, 1], [2, 3]], [4], 0.6, groups=["a", "a", "b", "b", "b", "a"],
                                      cluster_groups=["a", "b"])
    assert assigned == {4: 1}
    assert cohesion(X, [0]) == 1.0 and cohesion(X, [0, 1]) == pytest.approx(float(X[0] @ X[1]))


def test_keywords_rank_distinctive_words():
    from dialin.tools.keywords import KeywordIndex

    corpus = ["my card is lost", "lost my card today", "what is my balance", "balance please", "card fees"]
    idx = KeywordIndex(corpus)
    assert idx.keywords(corpus[:2], 2) == ["lost", "card"]
    assert idx.keywords(["balance please"], 1) == ["balance"]
