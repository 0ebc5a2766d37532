"""The pair judge (a cross-encoder for "same intent?"): training, scoring, thresholds, the cascade, the CLI.

A tiny random BERT with a word vocabulary stands in for MiniLM; the real path (the bundled
MiniLM on BANKING77) is tests/integration/test_pair_judge_real.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from click.testing import CliRunner  # noqa: E402

from dialin.cli import main  # noqa: E402
from dialin.config import Config, EmbedderConfig, MethodConfig  # noqa: E402
from dialin.errors import ConfigError  # noqa: E402
from dialin.finetune.pairs import PairSettings, make_pairs, thresholds, train_pairs  # noqa: E402
from dialin.finetune.run import finetune_pairs  # noqa: E402
from dialin.tools.pair_judge import PairJudge, check_pair_model, pair_score, sample_members  # noqa: E402

from test_finetune_embedder import labelled_file, tiny_sentence_transformer, toy_labelled  # noqa: E402

FAST = PairSettings(epochs=2, batch_size=16, lr=2e-3, pos=24, hard=12, rand=12)


def _base(tmp_path: Path) -> Path:
    tiny_sentence_transformer(tmp_path)
    return tmp_path / "hf"  # the BERT folder under the sentence-transformers one


def _one_hot(labels: list[str]) -> np.ndarray:
    names = sorted(set(labels))
    X = np.array([[float(lab == n) for n in names] for lab in labels]) + 0.01
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _toy_config(tmp_path: Path) -> Config:
    return Config(embedder=EmbedderConfig(kind="toy", progress=False), store=str(tmp_path / "s.db"))


def test_pairs_are_labelled_by_intent_and_hard_ones_come_from_near_intents() -> None:
    texts, labels = toy_labelled(per=8)
    by_text = dict(zip(texts, labels))
    X = _one_hot(labels)
    X[labels.index("card_arrival"):labels.index("card_arrival") + 8] += 0.5 * X[labels.index("pin_change")]
    s = PairSettings(pos=5, hard=5, rand=0, near=1)
    pairs = make_pairs(texts, labels, X, s, np.random.default_rng(0))
    assert len(pairs) == 6 * 10
    assert all((by_text[a] == by_text[b]) == (y == 1.0) for a, b, y in pairs)
    card_neg = {by_text[b] for a, b, y in pairs if y == 0.0 and by_text[a] == "card_arrival"}
    assert card_neg == {"pin_change"}  # its one nearest intent


def test_thresholds_keep_decided_clusters_right() -> None:
    score = np.array([0.1, 0.2, 0.3, 0.45, 0.5, 0.55, 0.7, 0.8, 0.9, 0.95])
    good = np.array([False, False, False, True, False, True, False, True, True, True])
    low, high = thresholds(score, good, precision=0.9)
    assert low == 0.3 and high == 0.8
    assert thresholds(score, np.ones(10, dtype=bool)) == (None, 0.1)
    # 1 good cluster among 10: unweighted, "bad" would be right 90% of the time at any score; weighted, only
    # below the good one
    many_bad = np.array([False] * 4 + [True] + [False] * 5)
    assert thresholds(score, many_bad) == (0.45, None)


def test_sample_members_is_deterministic_and_capped() -> None:
    assert sample_members(5, 10, 0) == [0, 1, 2, 3, 4]
    a = sample_members(40, 10, 0)
    assert len(a) == 10 == len(set(a)) and a == sample_members(40, 10, 0)
    calls: list[int] = []

    def p_same(pairs: list[tuple[str, str]]) -> np.ndarray:
        calls.append(len(pairs))
        return np.array([float(x[0] == y[0]) for x, y in pairs])
    assert pair_score(p_same, ["aa", "ab", "ba"], cap=10) == pytest.approx(1 / 3)
    assert pair_score(p_same, ["a"] * 30, cap=6) == 1.0 and calls[-1] == 15
    assert pair_score(p_same, ["x"]) == 1.0


def test_training_teaches_same_intent_and_resumes(tmp_path: Path) -> None:
    base = _base(tmp_path)
    texts, labels = toy_labelled()
    X = _one_hot(labels)
    tok, model, stats = train_pairs(str(base), texts, labels, X, FAST, tmp_path / "ck", "cpu")
    # a random tiny BERT does not learn "same intent?" in a few steps (the loss stays near log 2): that it
    # learns is checked on the real MiniLM in tests/integration/test_pair_judge_real.py
    assert stats["pairs_per_epoch"] == 6 * 48 and stats["steps"] == 2 * 18 and np.isfinite(stats["final_epoch_loss"])
    assert (tmp_path / "ck" / "epoch-2" / "optimizer.pt").is_file()
    model.save_pretrained(str(tmp_path / "m"))
    tok.save_pretrained(str(tmp_path / "m"))
    judge = PairJudge(tmp_path / "m")
    pairs = [(texts[i], texts[i + 1]) for i in range(0, 180, 32)]
    p = judge.p_same(pairs)
    assert p.shape == (6,) and ((p > 0) & (p < 1)).all()
    assert judge.p_same([(b, a) for a, b in pairs]) == pytest.approx(p)  # order-free, and served from the cache
    more = FAST.model_copy(update={"epochs": 3})
    _, _, resumed = train_pairs(str(base), texts, labels, X, more, tmp_path / "ck", "cpu", resume=True)
    assert resumed["resumed_from_epoch"] == 2 and resumed["steps"] == 3 * stats["steps"] // 2


def test_finetune_pairs_writes_a_judge_the_cascade_uses(tmp_path: Path) -> None:
    from dialin.tools import cascade

    data = labelled_file(tmp_path)
    m = finetune_pairs([str(data)], tmp_path / "out", config=_toy_config(tmp_path), base=str(_base(tmp_path)),
                       holdout=0.34, settings=FAST)
    assert len(m["holdout_intents"]) == 2
    v = m["validation"]
    assert v["clusters"] > 0 and {"random", "hard", "real"} <= set(v["auc"])
    use = m["use"]["method"]
    assert use["cascade_scorer"] == "pairs" and Path(use["pair_model"], "config.json").is_file()
    method = MethodConfig(**use)  # what the manifest prints validates as config
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["use"] == m["use"]
    train = [json.loads(x)["label"] for x in (tmp_path / "out" / "train.jsonl").read_text().splitlines()]
    assert not set(train) & set(m["holdout_intents"])

    class WS:
        config = Config(method=method.model_copy(update={"cascade_low": 0.2, "cascade_high": 0.8}))
        texts_ = toy_labelled()[0]

        def texts(self, idx: list[int]) -> list[str]:
            return [self.texts_[i] for i in idx]
    p_of, low, high = cascade.scorer(WS())  # type: ignore[arg-type]
    assert (low, high) == (0.2, 0.8) and p_of is not None
    assert 0.0 < p_of(list(range(0, 160, 32))) < 1.0 and p_of([3]) == 1.0


def test_pair_model_config_errors_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs method.pair_model"):
        MethodConfig(cascade_scorer="pairs")
    with pytest.raises(ValueError, match="dialin finetune pairs"):
        MethodConfig(cascade_scorer="pairs", pair_model=str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="dialin finetune pairs"):
        check_pair_model(tmp_path)


def test_finetune_pairs_cli(tmp_path: Path) -> None:
    data = labelled_file(tmp_path, "intent")
    env = {"DIALIN_HOME": str(tmp_path / "home")}
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"embedder: {{kind: toy}}\nstore: {tmp_path / 's.db'}\n")
    args = ["finetune", "pairs", "--data", str(data), "--label-col", "intent", "--config", str(cfg)]
    opts = ["--batch-size", "16", "--lr", "2e-3", "--epochs", "1", "--holdout", "0.34"]
    r = CliRunner().invoke(main, [*args, *opts, "--base", str(_base(tmp_path)), "--out", str(tmp_path / "o")],
                           env=env)
    assert r.exit_code == 0, r.output
    assert "intents it never saw" in r.output and "cascade_scorer: pairs" in r.output
    assert str((tmp_path / "o" / "model").resolve()) in r.output
    r = CliRunner().invoke(main, [*args, "--base", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o2")], env=env)
    assert r.exit_code != 0 and "not a transformer folder" in r.output and not (tmp_path / "o2").exists()
    r = CliRunner().invoke(main, [*args, "--rank", "4", "--out", str(tmp_path / "o3")], env=env)
    assert r.exit_code != 0 and "--rank only apply" in r.output and not (tmp_path / "o3").exists()


def test_judge_eval_reports_the_pair_judge_and_its_cascade(tmp_path: Path) -> None:
    from fakes import FakeChat, factory, oracle_responder
    from test_measure import toy_config, toy_rows

    from dialin.data import corpus_from_texts
    from dialin.measure.judge_eval import judge_eval
    from dialin.store import Store

    texts, labels = toy_labelled(per=8)
    tok, model, _ = train_pairs(str(_base(tmp_path)), texts, labels, _one_hot(labels),
                                FAST.model_copy(update={"epochs": 1}), tmp_path / "ck", "cpu")
    model.save_pretrained(str(tmp_path / "pj"))
    tok.save_pretrained(str(tmp_path / "pj"))
    rows, gold = toy_rows()
    config = toy_config(tmp_path, roles={"judge": {"endpoint": "local", "model": "m", "prompt": "judge",
                                                   "logprobs": True}},
                        method={"cascade_scorer": "pairs", "pair_model": str(tmp_path / "pj"),
                                "cascade_low": 0.0, "cascade_high": 1.0})
    fake = FakeChat(oracle_responder(dict(zip(rows, gold))))
    rep = judge_eval(corpus_from_texts(rows, labels=gold), config, Store(config.store_path()), n=8, per_difficulty=4,
                     seed=0, namer=False, base_urls={}, client_factory=factory(fake))
    by = {r["name"]: r for r in rep["judges"]}
    n_tests = sum(v["clusters"] for v in rep["set"].values())
    assert by["pair-judge"]["calls"] == 0 and 0.0 <= by["pair-judge"]["auc"] <= 1.0
    assert str((tmp_path / "pj").resolve()) in by["pair-judge"]["model"]
    casc = by["cascade(judge)"]
    assert casc["model"].startswith("pair-judge 0.0/1.0") and casc["calls"] + casc["saved"] == n_tests
    assert casc["calls"] == n_tests  # a band of [0, 1] decides nothing: mean P(same) is strictly inside it
