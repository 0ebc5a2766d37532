"""The simulated judge: its rules, its model names, its HTTP answers (it reads gold labels)."""

from __future__ import annotations

import json
import urllib.request

import pytest

from dialin.config import load_config
from dialin.data import corpus_from_texts
from dialin.errors import DialinError
from dialin.measure.simulate import (SimSpec, SimulatedServer, gold_name, judge, parse_judge_option, parse_model,
                             shown_sentences, simulated_config)


def _corpus():
    texts = [f"lost card {i}" for i in range(10)] + [f"balance please {i}" for i in range(10)]
    labels = ["lost_card"] * 10 + ["balance"] * 10
    return corpus_from_texts(texts, labels=labels)


def test_judge_truth_and_flips() -> None:
    pure, mixed = ["a"] * 20, ["a"] * 17 + ["b"] * 3
    assert judge(pure, SimSpec(accuracy=1.0), "x").label == "good"
    assert judge(mixed, SimSpec(accuracy=1.0), "x").label == "bad"      # 85% < 90%
    assert judge(mixed, SimSpec(accuracy=1.0, purity=0.8), "x").label == "good"
    assert judge(pure, SimSpec(accuracy=0.0), "x").label == "bad"        # always flipped
    rate = sum(judge(pure, SimSpec(accuracy=0.9), str(i)).label == "bad" for i in range(4000)) / 4000
    assert 0.08 < rate < 0.12
    assert [judge(pure, SimSpec(accuracy=0.5), str(i)).label for i in range(50)] == \
        [judge(pure, SimSpec(accuracy=0.5), str(i)).label for i in range(50)]  # seeded: reruns repeat


def test_hard_errors_fall_on_near_mixtures() -> None:
    spec = SimSpec(accuracy=0.9, hard=True)
    near = ["top_up_failed"] * 10 + ["top_up_reverted"] * 10
    far = ["balance"] * 10 + ["lost_card"] * 10
    err = lambda labels: sum(judge(labels, spec, str(i)).label == "good" for i in range(3000)) / 3000  # noqa: E731
    assert err(near) > 0.25 and err(far) < 0.06


def test_model_names_choose_the_judge() -> None:
    d = SimSpec()
    assert d.model_name == "sim-0.96"
    assert SimSpec(accuracy=0.9, purity=1.0, hard=True).model_name == "sim-0.9-p1-hard"
    assert parse_model("sim-0.8", d) == SimSpec(accuracy=0.8)
    assert parse_model("sim-0.9-p1-hard", d) == SimSpec(accuracy=0.9, purity=1.0, hard=True)
    assert parse_model("judge", d) is d
    assert parse_judge_option("simulated:0.9,purity=0.8,hard=1") == SimSpec(accuracy=0.9, purity=0.8, hard=True)
    for bad in ("simulated", "oracle:0.9", "simulated:1.5", "simulated:0.9,foo=1"):
        with pytest.raises(DialinError, match="simulated:ACCURACY"):
            parse_judge_option(bad)


def test_namer_and_sentences() -> None:
    assert gold_name(["card arrival", "card arrival", "x"]) == "inquire-card_arrival"
    assert shown_sentences([{"role": "system", "content": "- no"}, {"role": "user", "content": "- a\n- b\nc"}]) \
        == ["a", "b"]


def test_server_answers_over_http() -> None:
    server = SimulatedServer(_corpus(), SimSpec(accuracy=1.0)).start_background()
    try:
        def post(body: dict) -> tuple[int, dict]:
            req = urllib.request.Request(server.base_url + "/chat/completions", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())
        user = {"role": "user", "content": "\n".join(f"- lost card {i}" for i in range(5))}
        status, out = post({"model": "sim-1", "messages": [user], "logprobs": True,
                            "structured_outputs": {"choice": ["good", "bad"]}})
        assert status == 200 and out["choices"][0]["message"]["content"] == "good"
        assert out["choices"][0]["logprobs"]["content"][0]["top_logprobs"][0]["token"] == "good"
        mixed = {"role": "user", "content": "- lost card 1\n- balance please 2"}
        _, out = post({"model": "sim-1", "messages": [mixed], "structured_outputs": {"choice": ["good", "bad"]}})
        assert out["choices"][0]["message"]["content"] == "bad"
        _, out = post({"model": "sim-1", "messages": [user]})
        assert out["choices"][0]["message"]["content"] == "inquire-lost_card"
        status, out = post({"model": "sim-1", "messages": [{"role": "user", "content": "- unknown"}]})
        assert status == 400 and "gold corpus" in out["error"]["message"]
    finally:
        server.stop()


def test_simulated_config_points_judge_and_namer() -> None:
    cfg = simulated_config(load_config(None), SimSpec(accuracy=0.8), "http://127.0.0.1:1/v1")
    assert cfg.roles["judge"].endpoint == cfg.roles["namer"].endpoint == "simulated"
    assert cfg.roles["judge"].model == "sim-0.8" and cfg.roles["judge"].logprobs
    assert not cfg.method.use_k_predictor


def test_biased_judges_err_on_one_class_at_the_same_accuracy() -> None:
    from dialin.measure.simulate import flip_rates

    assert flip_rates(SimSpec(accuracy=0.8)) == pytest.approx((0.2, 0.2))
    assert flip_rates(SimSpec(accuracy=0.8, bias="lenient")) == pytest.approx((0.08, 0.32))  # (bad|good, good|bad)
    assert flip_rates(SimSpec(accuracy=0.8, bias="strict")) == pytest.approx((0.32, 0.08))
    assert flip_rates(SimSpec(accuracy=0.3, bias="lenient")) == pytest.approx((0.4, 1.0))     # capped at 1
    pure, mixed = ["a"] * 10, ["a"] * 5 + ["b"] * 5
    rate = lambda labels, spec, said: sum(judge(labels, spec, str(i)).label == said  # noqa: E731
                                          for i in range(4000)) / 4000
    lenient = SimSpec(accuracy=0.8, bias="lenient")
    assert 0.29 < rate(mixed, lenient, "good") < 0.35 and 0.06 < rate(pure, lenient, "bad") < 0.10
    strict = SimSpec(accuracy=0.8, bias="strict", lean=9)
    assert 0.33 < rate(pure, strict, "bad") < 0.39 and 0.02 < rate(mixed, strict, "good") < 0.06
    # calibrated at a 50/50 prior: a lenient judge's good is weaker evidence than its bad
    assert judge(pure, lenient, "0").p_answer == pytest.approx(0.92 / (0.92 + 0.32))
    said_bad = next(judge(mixed, lenient, str(i)) for i in range(100) if judge(mixed, lenient, str(i)).label == "bad")
    assert said_bad.p_answer == pytest.approx(0.68 / (0.68 + 0.08))
    # a balanced judge answers exactly as before the bias existed (same coin, same rate)
    assert [judge(pure, SimSpec(accuracy=0.7), str(i)).label for i in range(200)] == \
        [judge(pure, SimSpec(accuracy=0.7, lean=9), str(i)).label for i in range(200)]


def test_biased_and_always_model_names() -> None:
    d = SimSpec()
    for spec, name in ((SimSpec(accuracy=0.8, bias="lenient"), "sim-0.8-lenient"),
                       (SimSpec(accuracy=0.7, bias="strict", lean=9), "sim-0.7-strict9"),
                       (SimSpec(accuracy=0.9, hard=True, bias="lenient"), "sim-0.9-hard-lenient"),
                       (SimSpec(accuracy=0.5, always="good"), "sim-always-good")):
        assert spec.model_name == name and parse_model(name, d) == spec
    assert parse_model("sim-0.8-sloppy", d) is d
    stamp = parse_model("sim-always-good", d)
    assert {judge(["a", "b"] * 5, stamp, str(i)).label for i in range(50)} == {"good"}
    assert {judge(["a"] * 10, parse_model("sim-always-bad", d), str(i)).label for i in range(50)} == {"bad"}
    assert parse_judge_option("simulated:0.8,bias=strict,lean=2") == SimSpec(accuracy=0.8, bias="strict", lean=2)
    with pytest.raises(DialinError, match="simulated:ACCURACY"):
        parse_judge_option("simulated:0.8,bias=sloppy")


def test_a_seed_draws_other_coins_at_the_same_rate() -> None:
    pure = ["a"] * 10
    assert SimSpec(accuracy=0.8, seed=2).model_name == "sim-0.8-s2"
    assert parse_model("sim-0.8-lenient-s3", SimSpec()) == SimSpec(accuracy=0.8, bias="lenient", seed=3)
    assert parse_judge_option("simulated:0.8,seed=1") == SimSpec(accuracy=0.8, seed=1)
    runs = {s: [judge(pure, SimSpec(accuracy=0.8, seed=s), str(i)).label for i in range(2000)] for s in (0, 1)}
    assert runs[0] != runs[1]
    assert all(0.17 < r.count("bad") / 2000 < 0.23 for r in runs.values())
