"""Gold-labelled test clusters for measuring a coherence judge (``dialin judge-eval``).

Difficulties (``n`` sentences per synthetic cluster):

- ``pure``: n sentences of one intent: good.
- ``mix2``: two random intents, half and half: bad.
- ``mix4``: four random intents, a quarter each: bad.
- ``intruder``: n-1 of one intent and 1 of a random other intent: bad.
- ``hard_mix2``: an intent and its NEAREST other intent (cosine of the intent centroids),
  half and half: bad.
- ``hard_intruder``: n-1 of an intent and 1 of its nearest other intent: bad.
- ``real``: clusters that K-means and Ward agglomerative actually produce on the data at
  several K (default: 0.5x, 1x and 2x the number of gold intents), at least 3 members:
  good when at least ``purity`` (90%) of the members share one gold intent, bad otherwise.
  Half good, half bad where the data allows. The judge sees a sample of n of them.

Synthetic clusters are shuffled (an intruder is not always last). A difficulty that the
data cannot supply (too few intents, or intents smaller than needed) is skipped with
the reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from dialin.tools.clustering import cluster

Gold = Literal["good", "bad"]
DIFFICULTIES = ("pure", "mix2", "mix4", "intruder", "hard_mix2", "hard_intruder", "real")
GROUPS: dict[str, tuple[str, ...]] = {
    "random": ("pure", "mix2", "mix4", "intruder"),
    "hard": ("pure", "hard_mix2", "hard_intruder"),
    "real": ("real",),
}
"""Subsets on which AUC is reported: pure vs random mixtures, pure vs nearest-intent mixtures, real clusters."""
REAL_MIN_SIZE = 3


@dataclass(frozen=True)
class TestCluster:
    """One test cluster: members (indices of the unique sentences) and its gold verdict."""

    difficulty: str
    members: tuple[int, ...]
    gold: Gold
    intents: tuple[str, ...]
    """Gold intents present, the majority first."""
    purity: float
    """Share of the members that carry the majority intent."""
    note: str = ""


def intent_groups(labels: Sequence[str]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        groups.setdefault(lab, []).append(i)
    return groups


def centroid_similarity(X: np.ndarray, groups: dict[str, list[int]]) -> tuple[list[str], np.ndarray]:
    """Intent names and the cosine similarity matrix of their (normalised) centroids."""
    names = list(groups)
    C = np.stack([X[groups[g]].mean(axis=0) for g in names]).astype(np.float64)
    C /= np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)
    return names, C @ C.T


def _composition(members: Sequence[int], labels: Sequence[str]) -> tuple[tuple[str, ...], float]:
    counts: dict[str, int] = {}
    for i in members:
        counts[labels[i]] = counts.get(labels[i], 0) + 1
    order = sorted(counts, key=lambda k: (-counts[k], k))
    return tuple(order), counts[order[0]] / len(members)


def _split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


class _Builder:
    def __init__(self, labels: Sequence[str], X: np.ndarray, n: int, rng: np.random.Generator) -> None:
        self.labels = list(labels)
        self.groups = intent_groups(labels)
        self.names, self.sim = centroid_similarity(X, self.groups)
        self.n = n
        self.rng = rng

    def eligible(self, size: int) -> list[str]:
        return [g for g in self.names if len(self.groups[g]) >= size]

    def draw(self, intent: str, k: int) -> list[int]:
        return [int(i) for i in self.rng.choice(self.groups[intent], size=k, replace=False)]

    def nearest(self, intent: str, allowed: list[str]) -> str | None:
        i = self.names.index(intent)
        best, best_sim = None, -np.inf
        for other in allowed:
            j = self.names.index(other)
            if other != intent and self.sim[i, j] > best_sim:
                best, best_sim = other, self.sim[i, j]
        return best

    def make(self, difficulty: str, parts: list[tuple[str, int]], gold: Gold, note: str = "") -> TestCluster:
        members = [m for intent, k in parts for m in self.draw(intent, k)]
        self.rng.shuffle(members)
        intents, purity = _composition(members, self.labels)
        return TestCluster(difficulty, tuple(members), gold, intents, purity, note)

    def firsts(self, pool: list[str], count: int) -> list[str]:
        """`count` intents from `pool`, each used once before any repeats (shuffled rounds)."""
        out: list[str] = []
        while len(out) < count and pool:
            out.extend(str(x) for x in self.rng.permutation(pool))
        return out[:count]

    def others(self, intent: str, pool: list[str], k: int) -> list[str] | None:
        rest = [g for g in pool if g != intent]
        if len(rest) < k:
            return None
        return [str(x) for x in self.rng.choice(rest, size=k, replace=False)]


def _synthetic(b: _Builder, difficulty: str, count: int) -> tuple[list[TestCluster], str | None]:
    n = b.n
    half = math.ceil(n / 2)
    quarter = math.ceil(n / 4)
    if difficulty == "pure":
        pool = b.eligible(n)
        if not pool:
            return [], f"no intent has {n} sentences (lower --n)"
        return [b.make("pure", [(a, n)], "good") for a in b.firsts(pool, count)], None
    if difficulty in ("mix2", "mix4"):
        parts = 2 if difficulty == "mix2" else 4
        pool = b.eligible(half if parts == 2 else quarter)
        if len(pool) < parts:
            return [], f"fewer than {parts} intents with {half if parts == 2 else quarter} sentences"
        out = []
        for a in b.firsts(pool, count):
            chosen = [a] + (b.others(a, pool, parts - 1) or [])
            out.append(b.make(difficulty, list(zip(chosen, _split(n, parts))), "bad", " + ".join(chosen)))
        return out, None
    near = difficulty.startswith("hard_")
    if difficulty in ("intruder", "hard_intruder"):
        pool, sizes, other_pool = b.eligible(n - 1), (n - 1, 1), b.eligible(1)
    else:  # hard_mix2
        pool, sizes, other_pool = b.eligible(half), tuple(_split(n, 2)), b.eligible(n // 2)
    if not pool or len(other_pool) < 2:
        return [], f"too few intents with {sizes[0]} sentences"
    out = []
    for a in b.firsts(pool, count):
        other = b.nearest(a, other_pool) if near else (b.others(a, other_pool, 1) or [None])[0]
        if other is None:
            continue
        note = f"{a} + {other}" + (" (nearest)" if near else "")
        out.append(b.make(difficulty, [(a, sizes[0]), (other, sizes[1])], "bad", note))
    return out, None


def _real(b: _Builder, X: np.ndarray, count: int, ks: Sequence[int], methods: Sequence[str], purity: float,
          seed: int) -> tuple[list[TestCluster], str | None]:
    seen: set[tuple[int, ...]] = set()
    cands: dict[Gold, list[TestCluster]] = {"good": [], "bad": []}
    for method in methods:
        for k in ks:
            assign = cluster(X, k, method=method, seed=seed)  # type: ignore[arg-type]
            for c in range(int(assign.max()) + 1):
                members = tuple(int(i) for i in np.flatnonzero(assign == c))
                if len(members) < REAL_MIN_SIZE or members in seen:
                    continue
                seen.add(members)
                intents, pur = _composition(members, b.labels)
                gold: Gold = "good" if pur >= purity else "bad"
                cands[gold].append(TestCluster("real", members, gold, intents, pur, f"{method} K={k}"))
    if not cands["good"] and not cands["bad"]:
        return [], f"no clustering produced a cluster of {REAL_MIN_SIZE}+ sentences"
    picked: list[TestCluster] = []
    want = {"good": count // 2, "bad": count - count // 2}
    short = {g: max(0, want[g] - len(cands[g])) for g in want}  # type: ignore[index]
    for g, other in (("good", "bad"), ("bad", "good")):
        take = min(len(cands[g]), want[g] + short[other])  # type: ignore[index]
        order = b.rng.permutation(len(cands[g]))[:take]  # type: ignore[index]
        picked.extend(cands[g][int(i)] for i in order)  # type: ignore[index]
    return picked, None


def default_ks(n_intents: int, n_points: int) -> list[int]:
    """0.5x, 1x and 2x the number of gold intents, within [2, n_points - 1]."""
    return sorted({min(max(2, round(f * n_intents)), max(2, n_points - 1)) for f in (0.5, 1.0, 2.0)})


def build_test_set(labels: Sequence[str], X: np.ndarray, *, n: int = 20, per_difficulty: int = 20, seed: int = 0,
                   difficulties: Sequence[str] = DIFFICULTIES, real_ks: Sequence[int] | None = None,
                   real_methods: Sequence[str] = ("kmeans", "agglomerative"),
                   purity: float = 0.9) -> tuple[list[TestCluster], dict[str, str]]:
    """Test clusters (``per_difficulty`` of each difficulty where possible) and {difficulty: why skipped}.

    `labels` and the rows of `X` are aligned (one per unique sentence).
    """
    if n < 4:
        raise ValueError(f"n must be at least 4 (a 4-intent mixture needs 4 sentences); got {n}.")
    if per_difficulty < 1:
        raise ValueError(f"per_difficulty must be at least 1; got {per_difficulty}.")
    if len(labels) != len(X):
        raise ValueError(f"labels and X differ in length: {len(labels)} vs {len(X)}.")
    unknown = set(difficulties) - set(DIFFICULTIES)
    if unknown:
        raise ValueError(f"unknown difficulties {sorted(unknown)}; choose from {DIFFICULTIES}.")
    rng = np.random.default_rng(seed)
    b = _Builder(labels, X, n, rng)
    if len(b.groups) < 2:
        raise ValueError("the data has fewer than 2 gold intents: mixtures cannot be built.")
    out: list[TestCluster] = []
    skipped: dict[str, str] = {}
    for d in difficulties:
        if d == "real":
            ks = list(real_ks) if real_ks else default_ks(len(b.groups), len(labels))
            made, why = _real(b, X, per_difficulty, ks, real_methods, purity, seed)
        else:
            made, why = _synthetic(b, d, per_difficulty)
        if why:
            skipped[d] = why
        out.extend(made)
    return out, skipped


def fold_of(tests: Sequence[TestCluster], seed: int = 0) -> np.ndarray:
    """A 0/1 fold per test cluster, alternating within each difficulty after a seeded shuffle."""
    rng = np.random.default_rng(seed + 1)
    fold = np.zeros(len(tests), dtype=int)
    for d in dict.fromkeys(t.difficulty for t in tests):
        idx = [i for i, t in enumerate(tests) if t.difficulty == d]
        for pos, i in enumerate(rng.permutation(idx)):
            fold[int(i)] = pos % 2
    return fold
