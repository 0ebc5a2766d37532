"""Measurement: goodness and threshold metrics, evaluator checks, judge-eval sets, bench, eval and cost."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dialin.cli import main
from dialin.config import load_config
from dialin.agents.namer import is_valid_name
from dialin.data import corpus_from_texts, load_corpus
from dialin.errors import ConfigError, DataError
from dialin.measure.evaluate import align_gold, check_evaluator, goodness_for_run, run_metrics
from dialin.measure.judge_eval import judge_eval
from dialin.measure.judge_sets import DIFFICULTIES, build_test_set, fold_of
from dialin.measure.metrics import acc, best_threshold, clustering_metrics, goodness, heldout_accuracy, nmi, roc_auc
from dialin.runner import run_discovery
from dialin.store import Store
from fakes import FakeChat, factory, oracle_responder

INTENTS = {
    "lost card": ["lost card", "card lost", "missing card", "lost my card", "card gone"],
    "account balance": ["balance", "account balance", "my balance", "balance check", "current balance"],
    "refund request": ["refund", "money back", "refund please", "want refund", "refund purchase"],
    "password reset": ["password reset", "forgot password", "reset password", "new password", "password locked"],
    "transfer status": ["transfer status", "where is my transfer", "transfer pending", "transfer late",
                        "transfer missing"],
    "exchange rate": ["exchange rate", "rate of exchange", "currency rate", "fx rate", "exchange fee"],
}
TAILS = ("now", "today", "please", "asap")


def toy_rows() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for label, stems in INTENTS.items():
        for stem in stems:
            for tail in TAILS:
                texts.append(f"{stem} {tail} {label}")
                labels.append(label)
    return texts, labels


def write_jsonl(path: Path, texts: list[str], labels: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in zip(texts, labels)))
    return path


def toy_config(tmp_path: Path, **extra):  # noqa: ANN201
    over = {"store": str(tmp_path / "store.db"), "embedder": {"kind": "toy"},
            "endpoints": {"local": {"base_url": "http://fake.invalid/v1", "backend": "llamacpp",
                                    "server_args": {"logits_all": True}}},
            "method": {"k_candidates": [4, 6, 8], "max_iterations": 2, "min_unassigned": 2,
                       "naming": "llm"}}  # the fake namer names every cluster
    over.update(extra)
    return load_config(overrides=over)


def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"store: {tmp_path / 'store.db'}\nembedder:\n  kind: toy\n")
    return path


# -- metrics ----------------------------------------------------------------------------
def test_goodness_counts_good_verdicts() -> None:
    assert goodness(["good", "bad", "good", "good"]) == 75.0
    assert goodness(["good", None, "bad"]) == 33.33  # a failed call is not good
    with pytest.raises(ValueError, match="at least one"):
        goodness([])


def test_k_mismatch_with_string_labels_hand_computed() -> None:
    y = ["a", "a", "b", "b"]
    p = ["x", "y", "z", "z"]  # 3 predicted clusters for 2 classes
    assert acc(y, p) == pytest.approx(0.75)  # a->x (1) + b->z (2); y unmatched
    # H(y) = ln 2, H(p) = 1.5 ln 2, I = H(y) (p determines y): NMI = 1 / 1.25
    assert nmi(y, p) == pytest.approx(0.8)
    m = clustering_metrics(y, p)
    assert (m["n_clusters_pred"], m["n_clusters_true"]) == (3, 2)


def test_roc_auc_hand_computed() -> None:
    # good: 0.9, 0.4; bad: 0.1, 0.6 -> 3 of 4 pairs ordered right.
    assert roc_auc([True, False, True, False], [0.9, 0.1, 0.4, 0.6]) == pytest.approx(0.75)
    assert roc_auc([True, True], [0.2, 0.3]) is None


def test_thresholds_are_chosen_on_the_other_fold() -> None:
    y = [True, True, False, False]
    s = [0.8, 0.7, 0.2, 0.3]
    t = best_threshold(y, s)
    assert 0.3 < t <= 0.7
    # fold 0 separates at (0.3, 0.8); fold 1 at (0.2, 0.7): each scores the other perfectly.
    accuracy, thresholds, pred = heldout_accuracy(y, s, [0, 1, 1, 0])
    assert accuracy == 1.0 and pred.tolist() == y and len(thresholds) == 2
    # A score that only works in-sample does not carry over.
    accuracy, _, _ = heldout_accuracy([True, False, False, True], [0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])
    assert accuracy == 0.5


# -- evaluator --------------------------------------------------------------------------
def _roles(**evaluator):  # noqa: ANN202
    roles = {"judge": {"endpoint": "a", "model": "m1", "prompt": "judge"},
             "namer": {"endpoint": "a", "model": "m1", "prompt": "namer"}}
    if evaluator:
        roles["evaluator"] = evaluator
    return roles


def test_evaluator_must_exist_and_differ_from_the_loop_judge(tmp_path: Path) -> None:
    eps = {"a": {"base_url": "http://h:1/v1", "backend": "vllm"}, "b": {"base_url": "http://h:2/v1", "backend": "vllm"}}
    loop = load_config(overrides={"endpoints": eps, "roles": _roles()})
    with pytest.raises(ConfigError, match="needs an 'evaluator' role"):
        check_evaluator(loop, loop)
    same = load_config(overrides={"endpoints": eps, "roles": _roles(endpoint="a", model="m1", prompt="judge")})
    with pytest.raises(ConfigError, match="same judge as the loop's 'judge'"):
        check_evaluator(same, loop)
    for ok in ({"endpoint": "b", "model": "m1", "prompt": "judge"},   # another server
               {"endpoint": "a", "model": "m2", "prompt": "judge"}):  # another model (a vLLM adapter)
        check_evaluator(load_config(overrides={"endpoints": eps, "roles": _roles(**ok)}), loop)
    other_prompt = tmp_path / "strict.md"
    other_prompt.write_text("## user\nAre these one intent?\n$sentences\n")
    check_evaluator(load_config(overrides={"endpoints": eps, "roles": _roles(endpoint="a", model="m1",
                                                                              prompt=str(other_prompt))}), loop)


def test_llamacpp_ignores_the_model_name_so_the_evaluator_is_the_same_judge() -> None:
    eps = {"a": {"base_url": "auto", "model_path": "bundled:smollm2-135m"},
           "b": {"base_url": "auto", "model_path": "bundled:smollm2-135m"}}
    loop = load_config(overrides={"endpoints": eps, "roles": _roles()})
    alias = load_config(overrides={"endpoints": eps, "roles": _roles(endpoint="b", model="other", prompt="judge")})
    with pytest.raises(ConfigError, match="same judge"):
        check_evaluator(alias, loop)


# -- eval, goodness and cost of a stored run ----------------------------------------------
@pytest.fixture
def fake_run(tmp_path: Path):  # noqa: ANN201
    texts, labels = toy_rows()
    fake = FakeChat(oracle_responder(dict(zip(texts, labels))))
    config = toy_config(tmp_path)
    store = Store(config.store_path())
    data = write_jsonl(tmp_path / "toy.jsonl", texts, labels)
    result = run_discovery(load_corpus(data), config, base_urls={}, client_factory=factory(fake), store=store)
    return result, store, data, labels, fake


def test_align_gold_checks_rows_and_texts(fake_run, tmp_path: Path) -> None:
    result, _, data, labels, _ = fake_run
    assert align_gold(result, load_corpus(data, label_col="label")) == labels
    with pytest.raises(DataError, match="has 10 rows but run"):
        align_gold(result, load_corpus(data, label_col="label", limit=10))
    texts, labs = toy_rows()
    texts[3] = "something else entirely"
    other = write_jsonl(tmp_path / "other.jsonl", texts, labs)
    with pytest.raises(DataError, match="1 row.s. differ.*row 4"):
        align_gold(result, load_corpus(other, label_col="label"))


def test_eval_and_cost_commands(fake_run, tmp_path: Path) -> None:
    result, store, data, labels, fake = fake_run
    cfg = config_file(tmp_path)
    out = CliRunner().invoke(main, ["eval", result["run_id"], "--gold", str(data), "--json", "--config", str(cfg)])
    assert out.exit_code == 0, out.output
    rep = json.loads(out.stdout)
    expected = clustering_metrics(labels, result["row_labels"])
    assert rep["metrics"]["nmi"] == expected["nmi"] and rep["metrics"]["rows_scored"] == len(labels)
    bad = CliRunner().invoke(main, ["eval", result["run_id"], "--gold", str(data), "--limit", "5",
                                    "--config", str(cfg)])
    assert bad.exit_code == 2 and "has 5 rows but run" in bad.output

    out = CliRunner().invoke(main, ["cost", result["run_id"], "--json", "--config", str(cfg)])
    assert out.exit_code == 0, out.output
    cost = json.loads(out.stdout)
    assert cost["total"]["calls"] == len(fake.history) and cost["total"]["cached"] == 0
    assert {r["stage"] for r in cost["stages"]} >= {"judge", "name"}
    assert sum(r["calls"] for r in cost["stages"]) == len(fake.history)
    text = CliRunner().invoke(main, ["cost", result["run_id"], "--config", str(cfg)])
    assert "total" in text.output and "judge" in text.output


def test_goodness_with_an_independent_evaluator(fake_run, tmp_path: Path) -> None:
    from dialin.measure.cost import cost_report

    result, store, _, _, loop_fake = fake_run
    config = toy_config(tmp_path, roles={
        "judge": {"endpoint": "local", "model": "m", "prompt": "judge"},
        "namer": {"endpoint": "local", "model": "m", "prompt": "namer"},
        "evaluator": {"endpoint": "ev", "model": "big", "prompt": "judge"}},
        endpoints={"local": {"base_url": "http://fake.invalid/v1"}, "ev": {"base_url": "http://other.invalid/v1"}})
    fake = FakeChat(lambda req: "bad" if "refund" in req["messages"][-1]["content"] else "good")
    g = goodness_for_run(result, config, store, base_urls={}, client_factory=factory(fake))
    refunds = sum("refund" in c["name"] for c in result["clusters"])
    assert g["clusters"] == len(result["clusters"]) and len(fake.history) == g["clusters"]
    assert g["good"] == g["clusters"] - refunds
    assert g["goodness"] == goodness([c["label"] for c in g["per_cluster"]])
    assert {c["stage"] for c in store.calls(result["run_id"]) if c["role"] == "evaluator"} == {"evaluate"}
    # listed under the run, but not part of the run's own cost
    cost = cost_report(store, result["run_id"])
    assert cost["total"]["calls"] == len(loop_fake.history) and cost["evaluation"]["calls"] == g["clusters"]
    assert any(r["stage"] == "evaluate" for r in cost["stages"])
    # the loop's own judge is refused
    with pytest.raises(ConfigError, match="evaluator"):
        goodness_for_run(result, toy_config(tmp_path), store, base_urls={}, client_factory=factory(fake))


def test_run_metrics_skip_blank_rows() -> None:
    result = {"row_to_unique": [0, -1, 1], "row_labels": [0, -1, 1]}
    m = run_metrics(result, ["a", "", "b"])
    assert m["rows_scored"] == 2 and m["rows_blank"] == 1 and m["acc"] == 100.0


# -- judge-eval test sets -------------------------------------------------------------------
def toy_embeddings(seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """6 intents x 12 points; intents come in close pairs (a0/a1, b0/b1, c0/c1)."""
    rng = np.random.default_rng(seed)
    base = np.eye(3, 16) * 10
    X, labels = [], []
    for p, name in enumerate("abc"):
        for j in range(2):
            centre = base[p] + (np.eye(16)[3 + 2 * p + j] * 3)
            for _ in range(12):
                X.append(centre + rng.normal(0, 0.3, 16))
                labels.append(f"{name}{j}")
    X = np.array(X)
    return X / np.linalg.norm(X, axis=1, keepdims=True), labels


def test_test_set_sizes_difficulties_and_purity() -> None:
    X, labels = toy_embeddings()
    tests, skipped = build_test_set(labels, X, n=8, per_difficulty=5, seed=1)
    assert skipped == {}
    by = {d: [t for t in tests if t.difficulty == d] for d in DIFFICULTIES}
    for d in DIFFICULTIES:
        assert len(by[d]) == 5, d
    for t in tests:
        intents = {labels[i] for i in t.members}
        assert set(t.intents) == intents and len(set(t.members)) == len(t.members)
        if t.difficulty != "real":
            assert len(t.members) == 8
    assert all(t.gold == "good" and t.purity == 1.0 for t in by["pure"])
    assert all(t.gold == "bad" and t.purity == 0.5 and len(t.intents) == 2 for t in by["mix2"])
    assert all(t.gold == "bad" and len(t.intents) == 4 and t.purity == 0.25 for t in by["mix4"])
    assert all(t.gold == "bad" and t.purity == 7 / 8 and len(t.intents) == 2 for t in by["intruder"])
    partner = {"a0": "a1", "a1": "a0", "b0": "b1", "b1": "b0", "c0": "c1", "c1": "c0"}
    for t in by["hard_mix2"] + by["hard_intruder"]:
        assert t.gold == "bad" and partner[t.intents[0]] == t.intents[1], t  # the NEAREST other intent
    for t in by["real"]:
        assert len(t.members) >= 3
        assert t.gold == ("good" if t.purity >= 0.9 else "bad")
    assert {t.gold for t in by["real"]} == {"good", "bad"}  # halves where the data allows
    # pure clusters use each intent once before any repeat
    assert len({t.intents[0] for t in by["pure"]}) == 5
    # deterministic for a seed
    again, _ = build_test_set(labels, X, n=8, per_difficulty=5, seed=1)
    assert [t.members for t in again] == [t.members for t in tests]


def test_test_set_skips_what_the_data_cannot_supply() -> None:
    X, labels = toy_embeddings()
    keep = [i for i, lab in enumerate(labels) if lab in ("a0", "a1", "b0")]
    tests, skipped = build_test_set([labels[i] for i in keep], X[keep], n=8, per_difficulty=3)
    assert "mix4" in skipped and "fewer than 4 intents" in skipped["mix4"]
    assert not any(t.difficulty == "mix4" for t in tests)
    _, skipped = build_test_set(labels, X, n=20, per_difficulty=2, difficulties=["pure"])
    assert "no intent has 20 sentences" in skipped["pure"]
    with pytest.raises(ValueError, match="at least 4"):
        build_test_set(labels, X, n=3)


def test_folds_split_each_difficulty_in_halves() -> None:
    X, labels = toy_embeddings()
    tests, _ = build_test_set(labels, X, n=8, per_difficulty=6, seed=2)
    fold = fold_of(tests, seed=2)
    for d in DIFFICULTIES:
        f = [fold[i] for i, t in enumerate(tests) if t.difficulty == d]
        assert sum(f) == len(f) // 2


# -- judge-eval end to end with scripted judges ------------------------------------------------
def test_judge_eval_with_an_oracle_crowd_and_namer(tmp_path: Path) -> None:
    texts, labels = toy_rows()
    gold = dict(zip(texts, labels))
    config = toy_config(tmp_path, roles={
        "judge": {"endpoint": "local", "model": "m", "prompt": "judge", "logprobs": True},
        "judge2": {"endpoint": "local", "model": "m2", "prompt": "judge", "logprobs": True},
        "namer": {"endpoint": "local", "model": "m", "prompt": "namer", "logprobs": False}},
        crowd={"members": ["judge", "judge2"]})
    fake = FakeChat(oracle_responder(gold))
    corpus = corpus_from_texts(texts, labels=labels)
    rep = judge_eval(corpus, config, Store(config.store_path()), n=8, per_difficulty=4, seed=0,
                     base_urls={}, client_factory=factory(fake))
    rows = {r["name"]: r for r in rep["judges"]}
    assert set(rows) == {"judge", "judge2", "crowd", "cohesion"}
    n_tests = sum(v["clusters"] for v in rep["set"].values())
    assert rows["judge"]["calls"] == n_tests and rows["crowd"]["calls"] == 2 * n_tests
    assert rows["cohesion"]["calls"] == 0 and rows["cohesion"]["accuracy"] is None
    for name in ("judge", "crowd"):
        per = rows[name]["per_difficulty"]
        assert all(per[d]["accuracy"] == 1.0 for d in per if d != "real"), per  # the oracle is right
        assert rows[name]["auc_by_group"]["random"] == 1.0
    assert 0.0 <= rows["cohesion"]["auc"] <= 1.0
    nm = rep["namer"]
    assert nm["n"] == sum(v["good"] for v in rep["set"].values()) > 0  # every good test cluster is named
    assert nm["top1"] == 1.0  # the oracle names a cluster by its gold label
    assert nm["calls"] == nm["n"]
    # the calls are in the log, under the judge-eval id
    assert Store(config.store_path()).cost(rep["run_id"])


def test_judge_eval_namer_only_asks_no_judge(tmp_path: Path) -> None:
    texts, labels = toy_rows()
    corpus = corpus_from_texts(texts, labels=labels)
    for naming, calls in (("llm", "all"), ("keywords", 0)):
        config = toy_config(tmp_path / naming, method={"naming": naming})
        fake = FakeChat(oracle_responder(dict(zip(texts, labels))))
        rep = judge_eval(corpus, config, Store(config.store_path()), n=8, per_difficulty=4, seed=0, judges=False,
                         base_urls=None if naming == "keywords" else {}, client_factory=factory(fake))
        assert [r["name"] for r in rep["judges"]] == ["cohesion"]  # the embedding row only: no judge asked
        nm = rep["namer"]
        assert nm["n"] == sum(v["good"] for v in rep["set"].values()) > 0 and nm["naming"] == naming
        assert nm["calls"] == len(fake.history) == (nm["n"] if calls == "all" else 0)
        assert all(is_valid_name(e["name"]) for e in nm["examples"])
        if naming == "llm":
            assert nm["top1"] == 1.0  # the oracle namer answers with the gold label


def test_judge_eval_cli_refuses_to_measure_nothing(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "toy.jsonl", *toy_rows())
    out = CliRunner().invoke(main, ["judge-eval", str(data), "--no-namer", "--namer-only",
                                    "--config", str(config_file(tmp_path))])
    assert out.exit_code == 2 and "nothing to measure" in out.output


# -- bench --------------------------------------------------------------------------------
def test_bench_baselines_via_cli(tmp_path: Path) -> None:
    texts, labels = toy_rows()
    data = write_jsonl(tmp_path / "toy.jsonl", texts, labels)
    out = CliRunner().invoke(main, ["bench", str(data), "--methods", "kmeans,agglomerative", "--json",
                                    "--config", str(config_file(tmp_path))])
    assert out.exit_code == 0, out.output
    rep = json.loads(out.stdout)
    assert [r["method"] for r in rep["table"]] == ["kmeans", "agglomerative"]
    assert rep["intents"] == 6 and rep["rows_scored"] == len(texts)
    for r in rep["table"]:
        assert r["clusters"] == 6 and 0 <= r["nmi"] <= 100 and r["llm_calls"] == 0
    limited = CliRunner().invoke(main, ["bench", str(data), "--methods", "kmeans", "--limit", "40", "--json",
                                        "--config", str(config_file(tmp_path))])
    assert json.loads(limited.stdout)["rows_scored"] == 40
    bad = CliRunner().invoke(main, ["bench", str(data), "--methods", "kmeans,nope", "--config",
                                    str(config_file(tmp_path))])
    assert bad.exit_code == 2 and "unknown bench method" in bad.output


def test_bench_k_unknown_baselines_and_a_dialin_variant(tmp_path: Path) -> None:
    from dialin.measure.bench import parse_methods, run_bench

    texts, labels = toy_rows()
    config = toy_config(tmp_path)
    assert "dialin-crowd" not in parse_methods(None, config)
    with pytest.raises(Exception, match="crowd"):
        parse_methods("dialin-crowd", config)
    fake = FakeChat(oracle_responder(dict(zip(texts, labels))))
    store = Store(config.store_path())
    rep = run_bench(corpus_from_texts(texts, labels=labels), config, ["silhouette", "hdbscan", "dialin",
                                                                      "dialin-nomerge"],
                    store=store, base_urls={}, client_factory=factory(fake))
    rows = {r["method"]: r for r in rep["table"]}
    assert rows["silhouette"]["k"] >= 2 and rows["silhouette"]["silhouette"]
    assert rows["dialin"]["llm_calls"] == len(store.calls(rows["dialin"]["run_id"])) > 0
    # the second variant asks the same judge questions: answered by the cache
    assert rows["dialin-nomerge"]["cached"] > 0
    assert rows["dialin"]["nmi"] > 80
