"""The K predictor: promising K values for the next iteration, from the iteration log."""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

from dialin.errors import ParseError
from dialin.llm.router import LLMRouter


class KPrediction(BaseModel):
    k: list[int] = Field(description="K values to try next, most promising first")


def k_grid(n: int, size: int = 5, center: int | None = None) -> list[int]:
    """A deterministic grid of `size` distinct K values around `center` (default 1.5 sqrt(n)).

    Spread multiplicatively from 0.5x to 1.5x of the center, clipped to [2, n - 1].
    """
    if n < 3:
        return [1]
    c = center or max(2, round(1.5 * math.sqrt(n)))
    factors = [1.0] if size == 1 else [0.5 + i / (size - 1) for i in range(size)]
    ks = sorted({min(n - 1, max(2, round(c * f))) for f in factors})
    return ks


def history_table(history: list[dict]) -> str:
    return "\n".join(f"{h['iteration']}, {h['k']}, {h['good']}, {h['bad']}, {h['ratio']:.2f}" for h in history)


async def predict_k(router: LLMRouter, history: list[dict], n_unassigned: int, *, top: int = 5,
                    role: str = "k_predictor") -> list[int]:
    """Top `top` distinct valid K predictions; an empty list when the answer is unusable."""
    k_max = max(2, n_unassigned - 1)
    try:
        result = await router.complete(role, {"history": history_table(history), "n_unassigned": n_unassigned,
                                              "top": top, "k_min": 2, "k_max": k_max},
                                       schema=KPrediction, stage="propose_k")
    except ParseError:
        return []
    out: list[int] = []
    for k in result.parsed.k:
        if 2 <= k <= k_max and k not in out:
            out.append(k)
    return out[:top]
