"""Aggregating a crowd of judges, and how much they agree (Fleiss' kappa)."""

from __future__ import annotations

from collections.abc import Sequence

from dialin.agents.verdicts import Verdict, Vote


def _p(v: Vote) -> float:
    """A vote's P(good): its logprob estimate, else 1/0 from its label."""
    if v.p_good is not None:
        return v.p_good
    return 1.0 if v.label == "good" else 0.0


def aggregate(votes: Sequence[Vote], method: str = "majority", weights: dict[str, float] | None = None) -> Verdict:
    """One verdict from votes.

    majority: the label most votes give; a tie goes to the higher mean P(good) and, if
    that is exactly 0.5, to bad (a mixed cluster costs more than a re-cluster).
    weighted: good when the weighted mean of P(good) exceeds 0.5 (weights per role, default 1).
    """
    if not votes:
        raise ValueError("aggregate() needs at least one vote")
    if len(votes) == 1:
        v = votes[0]
        return Verdict(label=v.label, p_good=v.p_good, source="llm", votes=list(votes))
    weights = weights or {}
    w = [weights.get(v.role, 1.0) for v in votes]
    mean_p = sum(wi * _p(v) for wi, v in zip(w, votes)) / sum(w)
    if method == "weighted":
        label = "good" if mean_p > 0.5 else "bad"
    elif method in ("majority", "dawid_skene", "glad"):  # the fitted ones re-decide later (crowd_fit)
        good = sum(1 for v in votes if v.label == "good")
        bad = len(votes) - good
        label = "good" if good > bad or (good == bad and mean_p > 0.5) else "bad"
    else:
        raise ValueError(f"unknown aggregation '{method}': use majority, weighted, dawid_skene or glad")
    agreement = sum(1 for v in votes if v.label == label) / len(votes)
    return Verdict(label=label, p_good=mean_p, source="crowd", votes=list(votes), agreement=agreement)


def fleiss_kappa(vote_table: Sequence[Sequence[str]]) -> float | None:
    """Fleiss' kappa over items (rows) each rated by the same number of raters into good/bad.

    None when there are fewer than 2 raters or 1 item; 1.0 when every rater always agrees
    and only one category is ever used (kappa is undefined there; agreement is perfect).
    """
    rows = [list(r) for r in vote_table if r]
    if len(rows) < 1 or min(len(r) for r in rows) < 2 or len({len(r) for r in rows}) != 1:
        return None
    n = len(rows[0])
    cats = sorted({c for r in rows for c in r})
    counts = [[r.count(c) for c in cats] for r in rows]
    p_i = [(sum(x * x for x in row) - n) / (n * (n - 1)) for row in counts]
    p_bar = sum(p_i) / len(rows)
    p_j = [sum(row[j] for row in counts) / (len(rows) * n) for j in range(len(cats))]
    p_e = sum(p * p for p in p_j)
    if p_e >= 1.0:
        return 1.0
    return (p_bar - p_e) / (1 - p_e)
