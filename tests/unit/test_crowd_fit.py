"""Crowd aggregation fitted over the run's verdicts (real crowd-kit; votes simulated from known truth)."""

from __future__ import annotations

import random

import pytest

from dialin.agents import crowd_fit
from dialin.agents.crowd import aggregate
from dialin.agents.crowd_fit import crowd_summary, fit_crowd, format_crowd, refit
from dialin.agents.verdicts import Vote
from dialin.config import CrowdConfig
from dialin.errors import DialinError

pytest.importorskip("crowdkit", reason="crowd-kit not installed: pip install 'dialin[crowd]'")

ACCURACY = {"weak": 0.7, "mid": 0.8, "strong": 0.9}


def _crowd_verdicts(n: int, seed: int, accuracy: dict[str, float] = ACCURACY) -> tuple[dict[str, dict], dict[str, str]]:
    """n clusters with a known answer; each member answers right with its accuracy; majority-voted like a run."""
    rng = random.Random(seed)
    truth, verdicts = {}, {}
    for i in range(n):
        key = f"1:{i:04d}"
        truth[key] = "good" if rng.random() < 0.6 else "bad"
        votes = []
        for role, acc in accuracy.items():
            right = rng.random() < acc
            label = truth[key] if right else ("bad" if truth[key] == "good" else "good")
            votes.append(Vote(role=role, model=f"sim-{acc}", label=label))
        verdicts[key] = aggregate(votes, "dawid_skene").model_dump()
    return verdicts, truth


def _accuracy(verdicts: dict[str, dict], truth: dict[str, str]) -> float:
    return sum(verdicts[k]["label"] == t for k, t in truth.items()) / len(truth)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dawid_skene_is_no_worse_than_majority_and_ranks_members(seed: int) -> None:
    verdicts, truth = _crowd_verdicts(300, seed)
    majority = _accuracy(verdicts, truth)
    changed, members = fit_crowd(verdicts, "dawid_skene")
    ds = _accuracy({**verdicts, **changed}, truth)
    assert ds >= majority
    assert members["strong"]["accuracy"] > members["mid"]["accuracy"] > members["weak"]["accuracy"]
    assert abs(members["strong"]["accuracy"] - 0.9) < 0.1
    assert all(m["votes"] == 300 for m in members.values())
    assert all(v["aggregation"] == "dawid_skene" for v in changed.values())


def test_glad_fits_and_reports_alpha() -> None:
    verdicts, truth = _crowd_verdicts(200, 3)
    changed, members = fit_crowd(verdicts, "glad")
    assert _accuracy({**verdicts, **changed}, truth) >= _accuracy(verdicts, truth) - 0.02
    assert members["strong"]["alpha"] > members["weak"]["alpha"]


def test_only_crowd_verdicts_take_part() -> None:
    verdicts, _ = _crowd_verdicts(50, 4)
    verdicts["1:cascade"] = {"label": "bad", "source": "cascade", "votes": []}
    verdicts["1:human"] = {"label": "good", "source": "human", "votes": verdicts["1:0000"]["votes"]}
    changed, members = fit_crowd(verdicts, "dawid_skene")
    assert "1:cascade" not in changed and "1:human" not in changed
    assert members["weak"]["votes"] == 50


def test_votes_are_not_refitted() -> None:
    verdicts, _ = _crowd_verdicts(30, 5)
    assert refit(verdicts, "majority") == {} and refit(verdicts, "weighted") == {}
    assert fit_crowd({}, "dawid_skene") == ({}, {})


def test_summary_and_text_name_each_member() -> None:
    verdicts, _ = _crowd_verdicts(40, 6)
    summary = crowd_summary(verdicts, "majority")
    assert summary is not None and summary["clusters"] == 40 and set(summary["members"]) == set(ACCURACY)
    text = "\n".join(format_crowd(crowd_summary(verdicts, "dawid_skene")))
    assert "estimated accuracy" in text and "strong" in text and "weak" in text
    assert crowd_summary({"k": {"label": "good", "source": "llm", "votes": []}}, "majority") is None


def test_missing_crowdkit_names_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crowd_fit, "find_spec", lambda name: None)
    with pytest.raises(ValueError, match="crowd-kit==1.4.1"):
        CrowdConfig(members=["a", "b"], aggregation="dawid_skene")
    verdicts, _ = _crowd_verdicts(5, 7)
    with pytest.raises(DialinError, match="pip install"):
        fit_crowd(verdicts, "glad")
    assert CrowdConfig(aggregation="majority").aggregation == "majority"


def test_refit_all_redecides_a_list_of_verdicts() -> None:
    from dialin.agents.crowd_fit import refit_all
    from dialin.agents.verdicts import Verdict

    verdicts, truth = _crowd_verdicts(200, 8)
    as_list = [Verdict.model_validate(v) for v in verdicts.values()] + [None]
    out = refit_all(as_list, "dawid_skene")
    assert out[-1] is None and len(out) == len(as_list)
    ds = sum(v.label == t for v, t in zip(out, truth.values())) / len(truth)
    assert ds >= _accuracy(verdicts, truth)
    assert refit_all(as_list, "majority") == as_list
