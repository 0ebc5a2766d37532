"""Smoothed, anchored Dawid-Skene for good/bad verdicts (dialin.agents.crowd_em; votes simulated from known truth)."""

from __future__ import annotations

import random

from dialin.agents.crowd import aggregate
from dialin.agents.crowd_em import fit_binary
from dialin.agents.crowd_fit import crowd_summary, fit_crowd, refit
from dialin.agents.verdicts import Vote
from dialin.config import Config, CrowdConfig

SYMMETRIC = {"weak": (0.3, 0.3), "mid": (0.2, 0.2), "strong": (0.1, 0.1)}  # P(bad|good), P(good|bad)


def _verdicts(n: int, seed: int, p_good: float, rates=SYMMETRIC) -> tuple[dict[str, dict], dict[str, str]]:
    rng = random.Random(seed)
    truth, verdicts = {}, {}
    for i in range(n):
        key = f"1:{i:04d}"
        truth[key] = "good" if rng.random() < p_good else "bad"
        votes = []
        for role, (bad_if_good, good_if_bad) in rates.items():
            flip = rng.random() < (bad_if_good if truth[key] == "good" else good_if_bad)
            label = truth[key] if not flip else ("bad" if truth[key] == "good" else "good")
            votes.append(Vote(role=role, model=role, label=label))
        verdicts[key] = aggregate(votes, "majority").model_dump()
    return verdicts, truth


def _acc(verdicts: dict[str, dict], truth: dict[str, str], keys=None) -> float:
    keys = list(keys or truth)
    return sum(verdicts[k]["label"] == truth[k] for k in keys) / len(keys)


def test_smoothing_is_the_default_and_configurable() -> None:
    assert CrowdConfig().smoothing == 10.0
    assert Config.model_validate({"crowd": {"aggregation": "dawid_skene", "smoothing": 0}}).crowd.smoothing == 0


def test_skewed_prior_beats_majority_with_symmetric_judges_at_70_80_90() -> None:
    """Mostly-bad sets (as judge-eval's): the Bayes rule follows the strong judge against the two weak ones."""
    gain = []
    for seed in range(8):
        verdicts, truth = _verdicts(120, seed, p_good=0.25)
        fitted = {**verdicts, **refit(verdicts, "dawid_skene", smoothing=10.0)}
        gain.append(_acc(fitted, truth) - _acc(verdicts, truth))
    assert sum(gain) / len(gain) > 0.005


def test_fit_recovers_prior_and_accuracies() -> None:
    verdicts, truth = _verdicts(2000, 1, p_good=0.3)
    tasks = {k: v["votes"] for k, v in verdicts.items()}
    post, rates, prior = fit_binary(tasks, smoothing=10.0)
    assert abs(prior - 0.3) < 0.03
    for role, (e, _) in SYMMETRIC.items():
        assert abs(rates[role]["accuracy"] - (1 - e)) < 0.03
    assert set(post) == set(verdicts)


def test_known_answers_are_clamped_and_anchor_the_fit() -> None:
    """Two of three members share a lenient bias: controls with known answers pull the rates to the truth."""
    biased = {"weak": (0.12, 0.48), "mid": (0.08, 0.32), "strong": (0.1, 0.1)}
    verdicts, truth = _verdicts(400, 3, p_good=0.3, rates=biased)
    keys = sorted(truth)
    known = {k: truth[k] for k in keys[:80]}
    k0 = keys[0]
    verdicts[k0]["votes"] = [{**v, "label": "good" if truth[k0] == "bad" else "bad"} for v in verdicts[k0]["votes"]]
    anchored = {**verdicts, **refit(verdicts, "dawid_skene", smoothing=10.0, known=known)}
    assert anchored[k0]["label"] == truth[k0]  # every vote against it, the known answer holds
    _, free, _ = fit_binary({k: v["votes"] for k, v in verdicts.items()}, smoothing=10.0)
    _, fixed, _ = fit_binary({k: v["votes"] for k, v in verdicts.items()}, known, smoothing=10.0)
    assert abs(fixed["weak"]["p_good_given_bad"] - 0.48) <= abs(free["weak"]["p_good_given_bad"] - 0.48) + 0.01
    rest = keys[80:]
    assert _acc(anchored, truth, rest) > _acc(verdicts, truth, rest)


def test_summary_reports_the_smoothed_rates() -> None:
    verdicts, _ = _verdicts(200, 2, p_good=0.4)
    summary = crowd_summary(verdicts, "dawid_skene", smoothing=10.0)
    assert summary and set(summary["members"]) == set(SYMMETRIC)
    strong = summary["members"]["strong"]
    assert {"accuracy", "p_bad_given_good", "p_good_given_bad", "votes"} <= set(strong)
    assert strong["accuracy"] > summary["members"]["weak"]["accuracy"]
    assert fit_crowd(verdicts, "dawid_skene", smoothing=10.0)[1]["strong"]["votes"] == 200
