"""The human with a budget: which verdicts and merges to ask a person about, in what order.

``method.review_budget`` is the number of decisions a person will make over the run. The items
go by priority: the rows a flip would change times the chance the machine is wrong (the least
confident first among equally large ones), so the budget goes where a wrong answer costs most; a
``good`` verdict counts ``GOOD_WEIGHT`` of a ``bad`` one (overturning a kept cluster sends its rows back
to be clustered again, which moved NMI little; keeping a rejected one moved it most: BENCHMARKS 17).
``simulated_reviewer`` answers review pauses from gold labels: it measures the method (it reads
the answers) and is for ``dialin bench --reviewer simulated`` only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

GOOD_PURITY = 0.8
"""The simulated reviewer calls a cluster good when its most common gold intent holds this share of it."""


GOOD_WEIGHT = 0.25
"""What a ``good`` verdict's expected flip counts against a ``bad`` one's in the priority order."""


def doubt(p_good: float | None, agreement: float | None = None) -> float:
    """P(the machine's verdict is wrong), 0..0.5: from P(good), else the crowd's agreement, else 0.5."""
    if p_good is not None:
        return min(p_good, 1.0 - p_good)
    if agreement is not None:
        return 1.0 - agreement
    return 0.5


def priority(rows: int, p_good: float | None, agreement: float | None = None,
             label: str | None = None) -> tuple[float, float]:
    """Sort key (descending): expected rows a flip changes (x GOOD_WEIGHT for a good verdict), then the doubt."""
    d = doubt(p_good, agreement)
    return rows * d * (GOOD_WEIGHT if label == "good" else 1.0), d


def by_priority(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items (with ``rows``, ``p_good``, optional ``agreement``, ``label``) most worth a person's time first."""
    return sorted(items, key=lambda it: priority(it["rows"], it.get("p_good"), it.get("agreement"), it.get("label")),
                  reverse=True)


def ordered(items: Sequence[dict[str, Any]], how: str = "priority", seed: int = 0) -> list[dict[str, Any]]:
    """``priority`` (``by_priority``) or ``random`` (a seeded shuffle: the baseline the priority order must beat)."""
    if how == "random":
        import random

        out = list(items)
        random.Random(seed).shuffle(out)
        return out
    return by_priority(items)


def spent(verdicts: Mapping[str, dict]) -> int:
    """Decisions a person has made so far in the run (verdicts whose source is human)."""
    return sum(1 for v in verdicts.values() if v.get("source") == "human")


def left(budget: int | None, verdicts: Mapping[str, dict]) -> int | None:
    """Decisions left in the budget (None: no budget, ask about every uncertain item)."""
    return None if budget is None else max(0, budget - spent(verdicts))


def _purity(members: Sequence[int], gold: Sequence[str | None]) -> tuple[str | None, float]:
    labels = [gold[i] for i in members if gold[i] is not None]
    if not labels:
        return None, 0.0
    top, n = Counter(labels).most_common(1)[0]
    return top, n / len(labels)


def simulated_reviewer(gold: Sequence[str | None], purity: float = GOOD_PURITY) -> Callable[[dict[str, Any]], Any]:
    """A review handler that answers from gold labels per unique sentence (measurement only)."""

    def review(request: dict[str, Any]) -> Any:
        if request["kind"] == "verdicts":
            return {it["key"]: "good" if _purity(it["members"], gold)[1] >= purity else "bad"
                    for it in request["items"]}
        accept = []
        for it in request["items"]:
            tops = {_purity(m, gold)[0] for m in it["members"]}
            if len(tops) == 1 and None not in tops:
                accept.append(it["group"])
        return {"accept": accept}

    return review
