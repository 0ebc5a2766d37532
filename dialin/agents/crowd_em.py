"""Dawid-Skene for good/bad verdicts, smoothed and anchored (config ``crowd.smoothing``, control tasks).

The plain two-class Dawid-Skene (crowd-kit's) fits, per member, P(says good | good) and P(says bad | bad)
plus the class prior, from the run's own verdicts. With a hundred or so clusters, mostly bad, each
member's rate on the rarer class rests on a few dozen items and the fit wobbles; measured with three
simulated judges at 70/80/90 % (docs/BENCHMARKS.md section 17, session 10) it then lands at or
below the majority vote, although the Bayes rule with a skewed prior beats the vote by 1-2 points
(the strong judge alone outweighs the two weak ones once the prior leans its way).

``fit_binary`` is the same EM with two changes:

- smoothing: each member's two class-conditional rates get ``smoothing`` pseudo-counts of that
  member's overall accuracy (a MAP estimate under a Beta prior centred on its one-coin accuracy):
  with few items a member looks symmetric, with many its bias shows. 0 = the plain fit.
- anchoring: clusters whose answer is known (control tasks) keep that answer in every E-step,
  so the members' rates and the prior are learned partly from items with known truth.

The class prior is re-estimated every step (the share of good among the posteriors).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

EPS = 1e-3


def fit_binary(tasks: Mapping[str, list[dict]], known: Mapping[str, str] | None = None, smoothing: float = 10.0,
               n_iter: int = 200, tol: float = 1e-7) -> tuple[dict[str, float], dict[str, dict[str, float]], float]:
    """EM over ``tasks`` (key -> votes ``{"role", "label"}``): (P(good) per key, rates per role, prior of good).

    Rates per role: ``p_bad_given_good``, ``p_good_given_bad`` and ``accuracy`` (prior-weighted).
    ``known``: key -> "good" / "bad" for items whose answer is known (they stay clamped).
    """
    keys = list(tasks)
    roles = sorted({v["role"] for vs in tasks.values() for v in vs})
    col = {r: j for j, r in enumerate(roles)}
    V = -np.ones((len(keys), len(roles)))
    for i, k in enumerate(keys):
        for v in tasks[k]:
            V[i, col[v["role"]]] = 1.0 if v["label"] == "good" else 0.0
    obs = V >= 0
    said_good, said_bad = obs & (V == 1), obs & (V == 0)
    n_obs = np.maximum(obs.sum(1), 1)
    share = said_good.sum(1) / n_obs
    q = np.where(share == 0.5, 0.5, (share > 0.5).astype(float))  # majority start, ties undecided
    clamp = np.array([(known or {}).get(k) in ("good", "bad") for k in keys])
    fixed = np.array([1.0 if (known or {}).get(k) == "good" else 0.0 for k in keys])
    q = np.where(clamp, fixed, q)
    for _ in range(n_iter):
        pi, a, b = _m_step(q, obs, said_good, said_bad, smoothing)
        log_g = np.log(pi) + np.where(said_good, np.log(a), 0).sum(1) + np.where(said_bad, np.log(1 - a), 0).sum(1)
        log_b = np.log(1 - pi) + np.where(said_bad, np.log(b), 0).sum(1) + np.where(said_good, np.log(1 - b), 0).sum(1)
        new = np.where(clamp, fixed, 1.0 / (1.0 + np.exp(np.clip(log_b - log_g, -700, 700))))
        done = float(np.abs(new - q).max()) < tol
        q = new
        if done:
            break
    pi, a, b = _m_step(q, obs, said_good, said_bad, smoothing)
    rates = {r: {"p_bad_given_good": round(float(1 - a[j]), 4), "p_good_given_bad": round(float(1 - b[j]), 4),
                 "accuracy": round(float(pi * a[j] + (1 - pi) * b[j]), 4)} for r, j in col.items()}
    return {k: float(q[i]) for i, k in enumerate(keys)}, rates, float(pi)


def _m_step(q: np.ndarray, obs: np.ndarray, said_good: np.ndarray, said_bad: np.ndarray,
            smoothing: float) -> tuple[float, np.ndarray, np.ndarray]:
    """Prior of good, P(says good | good) and P(says bad | bad) per member, smoothed to its accuracy."""
    pi = float(np.clip(q.mean(), EPS, 1 - EPS))
    g, bw = q[:, None] * obs, (1 - q[:, None]) * obs
    right_g, right_b = (g * said_good).sum(0), (bw * said_bad).sum(0)
    n_g, n_b = g.sum(0), bw.sum(0)
    acc = (right_g + right_b + 1.0) / (n_g + n_b + 2.0)  # one-coin accuracy (Laplace)
    a = (right_g + smoothing * acc) / np.maximum(n_g + smoothing, 1e-9)
    b = (right_b + smoothing * acc) / np.maximum(n_b + smoothing, 1e-9)
    return pi, np.clip(a, EPS, 1 - EPS), np.clip(b, EPS, 1 - EPS)
