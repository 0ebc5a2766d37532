"""Crowd aggregation fitted over many clusters at once (crowd-kit: Dawid-Skene, GLAD).

A vote (``dialin.agents.crowd.aggregate``) sees one cluster; Dawid-Skene and GLAD learn how
good each member is from all the clusters the crowd judged in the run, then re-decide every
one. ``fit_crowd`` takes the run's verdicts (dicts keyed by cluster key), returns the verdicts
it re-decided and each member's estimated accuracy:

- dawid_skene: from the fitted confusion matrix, sum over labels of prior x P(says it | it is).
  With ``smoothing`` > 0 (config ``crowd.smoothing``, default 10) the fit is ``dialin.agents.crowd_em``'s
  smoothed two-class EM, else crowd-kit's plain one; either way the items in ``known`` (control tasks,
  key -> known answer) anchor the fit (their posterior is clamped to the answer).
- glad / majority / weighted: the share of the member's votes that agree with the aggregate
  (an agreement rate, not a calibrated accuracy; GLAD's ``alpha`` is reported beside it).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.util import find_spec
from typing import Any

from dialin.agents.verdicts import Verdict
from dialin.errors import DialinError

FITTED = ("dawid_skene", "glad")
INSTALL = "pip install 'dialin[crowd]'  (or: pip install crowd-kit==1.4.1)"


def crowdkit_missing(method: str) -> str | None:
    """The error text when ``method`` needs crowd-kit and it is not installed, else None."""
    if method in FITTED and find_spec("crowdkit") is None:
        return f"crowd.aggregation '{method}' needs crowd-kit, which is not installed: {INSTALL}"
    return None


def _crowd_votes(verdicts: Mapping[str, dict]) -> dict[str, list[dict]]:
    """The verdicts decided by two or more votes (the crowd's), keyed by cluster key."""
    return {k: v["votes"] for k, v in verdicts.items()
            if v.get("source") == "crowd" and len(v.get("votes") or []) >= 2}


def fit_crowd(verdicts: Mapping[str, dict], method: str, n_iter: int = 100, smoothing: float = 0.0,
              known: Mapping[str, str] | None = None) -> tuple[dict[str, dict], dict[str, Any]]:
    """Re-decide the crowd's verdicts with ``method`` fitted on all of them.

    Returns (changed verdicts by key, member stats ``{role: {"accuracy", "votes"}}``). Only
    verdicts whose source is ``crowd`` take part; others (cascade, human) are left alone.
    """
    tasks = _crowd_votes(verdicts)
    if not tasks:
        return {}, {}
    changed: dict[str, dict] = {}
    extra: dict[str, dict[str, float]] = {}
    known = {k: a for k, a in (known or {}).items() if k in tasks and a in ("good", "bad")}
    if method == "dawid_skene" and smoothing > 0:
        from dialin.agents.crowd_em import fit_binary

        post, rates, _ = fit_binary(tasks, known, smoothing)
        for key, p_good in post.items():
            old, label = verdicts[key], "good" if p_good >= 0.5 else "bad"
            if old["label"] != label or old.get("p_good") != round(p_good, 6):
                changed[key] = {**old, "label": label, "p_good": round(p_good, 6), "aggregation": method}
        decided = {k: changed.get(k, verdicts[k])["label"] for k in tasks}
        stats = _member_stats(tasks, decided)
        for w, r in rates.items():
            stats.setdefault(w, {}).update(r)
        return changed, stats
    if method in FITTED:
        missing = crowdkit_missing(method)
        if missing:
            raise DialinError(missing)
        import pandas as pd

        df = pd.DataFrame([(k, v["role"], v["label"]) for k, vs in tasks.items() for v in vs],
                          columns=["task", "worker", "label"])
        if method == "dawid_skene":
            from crowdkit.aggregation import DawidSkene

            model = DawidSkene(n_iter=n_iter).fit(df, true_labels=pd.Series(known, dtype=object) if known else None)
        else:
            from crowdkit.aggregation import GLAD

            model = GLAD(n_iter=n_iter).fit(df)
            extra = {str(w): {"alpha": round(float(a), 4)} for w, a in model.alphas_.items()}
        for key, label in model.labels_.items():
            p_good = float(model.probas_.loc[key].get("good", 0.0))
            old = verdicts[key]
            if old["label"] != label or old.get("p_good") != p_good:
                changed[key] = {**old, "label": str(label), "p_good": round(p_good, 6), "aggregation": method}
    decided = {k: changed.get(k, verdicts[k])["label"] for k in tasks}
    stats = _member_stats(tasks, decided)
    if method == "dawid_skene":
        for w, acc in _ds_accuracy(model).items():
            stats.setdefault(w, {})["accuracy"] = acc
    for w, e in extra.items():
        stats.setdefault(w, {}).update(e)
    return changed, stats


def _member_stats(tasks: Mapping[str, list[dict]], decided: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    agree: dict[str, list[int]] = {}
    for key, votes in tasks.items():
        for v in votes:
            agree.setdefault(v["role"], []).append(int(v["label"] == decided[key]))
    return {w: {"accuracy": round(sum(a) / len(a), 4), "votes": len(a),
                "said_good": sum(1 for vs in tasks.values() for v in vs if v["role"] == w and v["label"] == "good")}
            for w, a in agree.items()}


def _ds_accuracy(model: Any) -> dict[str, float]:
    """P(a member's label is right) = sum_c prior(c) * P(says c | true c), from the fitted model."""
    out: dict[str, float] = {}
    errors, priors = model.errors_, model.priors_
    for w in errors.index.get_level_values(0).unique():
        acc = 0.0
        for c, prior in priors.items():
            if (w, c) in errors.index and c in errors.columns:
                acc += float(prior) * float(errors.loc[(w, c), c])
        out[str(w)] = round(acc, 4)
    return out


def refit(verdicts: Mapping[str, dict], method: str, smoothing: float = 0.0,
          known: Mapping[str, str] | None = None) -> dict[str, dict]:
    """The verdicts a fitted aggregation re-decides (none for majority / weighted)."""
    return fit_crowd(verdicts, method, smoothing=smoothing, known=known)[0] if method in FITTED else {}


def refit_all(verdicts: list[Verdict | None], method: str, smoothing: float = 0.0) -> list[Verdict | None]:
    """A list of per-item crowd verdicts (None: not all voted) re-decided by a fitted ``method``."""
    dumped = {str(i): v.model_dump() for i, v in enumerate(verdicts) if v is not None}
    changed = refit(dumped, method, smoothing)
    return [Verdict.model_validate({k: x for k, x in changed[str(i)].items() if k != "aggregation"})
            if str(i) in changed else v for i, v in enumerate(verdicts)]


def crowd_summary(verdicts: Mapping[str, dict], method: str, smoothing: float = 0.0,
                  known: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """For the run's stats: the aggregation and each member's estimated accuracy (None without a crowd)."""
    tasks = _crowd_votes(verdicts)
    if not tasks:
        return None
    if method in FITTED:
        members = fit_crowd(verdicts, method, smoothing=smoothing, known=known)[1]
    else:
        members = _member_stats(tasks, {k: verdicts[k]["label"] for k in tasks})
    return {"aggregation": method, "clusters": len(tasks), "members": members}


def format_crowd(summary: Mapping[str, Any] | None) -> list[str]:
    """Text lines for ``dialin run`` and ``dialin cost``: each member's estimated accuracy."""
    if not summary:
        return []
    how = "estimated accuracy" if summary["aggregation"] == "dawid_skene" else "agreement with the crowd"
    lines = [f"crowd ({summary['aggregation']}, {summary['clusters']} clusters), {how} per member:"]
    for role, s in sorted(summary["members"].items()):
        lines.append(f"  {role:<12} {s.get('accuracy', float('nan')):.3f}  ({s.get('votes', 0)} votes, "
                     f"{s.get('said_good', 0)} good" + (f", GLAD alpha {s['alpha']}" if "alpha" in s else "") + ")")
    return lines
