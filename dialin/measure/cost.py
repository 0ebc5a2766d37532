"""Cost accounting from the LLM call log: calls and tokens per stage and role.

Two views of the same log:

- *paid*: calls that reached an endpoint (``cached = 0``), with their tokens and latency:
  what this run actually spent.
- *all*: every call the run asked for, cache hits included (a hit logs the tokens of the
  answer it reuses): what a cold run, with an empty cache, would pay.

Goodness calls (``dialin eval --goodness``) are logged under the run's id with stage
``evaluate``: they are listed, but counted apart from the run's own total.
"""

from __future__ import annotations

from typing import Any

from dialin.agents.crowd_fit import format_crowd
from dialin.errors import RunNotFound
from dialin.store import Store


EVALUATE = "evaluate"


def call_totals(store: Store, run_id: str, *, role: str | None = None, stage: str | None = None,
                exclude_stage: str | None = None) -> dict[str, Any]:
    """Totals over a run's calls (optionally one role and/or stage, or all but one stage)."""
    where, params = ["run_id = ?"], [run_id]
    if exclude_stage is not None:
        where.append("COALESCE(stage, '') != ?")
        params.append(exclude_stage)
    if role is not None:
        where.append("role = ?")
        params.append(role)
    if stage is not None:
        where.append("stage = ?")
        params.append(stage)
    row = store.execute(
        f"""SELECT COUNT(*) AS calls, COALESCE(SUM(cached), 0) AS cached,
                   COALESCE(SUM(CASE WHEN error IS NULL THEN 0 ELSE 1 END), 0) AS errors,
                   COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens,
                   COALESCE(SUM(completion_tokens), 0) AS completion_tokens,
                   COALESCE(SUM(CASE WHEN cached = 0 THEN prompt_tokens ELSE 0 END), 0) AS paid_prompt_tokens,
                   COALESCE(SUM(CASE WHEN cached = 0 THEN completion_tokens ELSE 0 END), 0)
                       AS paid_completion_tokens,
                   COALESCE(SUM(CASE WHEN cached = 0 THEN latency_ms ELSE 0 END), 0) AS latency_ms
            FROM llm_calls WHERE {' AND '.join(where)}""", tuple(params))[0]
    out = {k: row[k] for k in row.keys()}
    made = out["calls"] - out["cached"]
    out["made"] = made
    out["latency_ms_mean"] = round(out["latency_ms"] / made, 1) if made else None
    out["latency_ms"] = round(out["latency_ms"], 1)
    return out


def cost_report(store: Store, run_id: str) -> dict[str, Any]:
    """Per (stage, role) rows from ``Store.cost``, totals, and the run's wall time when it is a run.

    Works for discovery runs and for judge-eval sessions (their call log uses the same id).
    """
    stages = store.cost(run_id)
    run: dict[str, Any] | None
    try:
        run = store.run(run_id)
    except RunNotFound:
        if not stages:
            raise
        run = None
    for r in stages:
        r["cached"] = r["cached"] or 0
        r["made"] = r["calls"] - r["cached"]
        r["latency_ms"] = round(r["latency_ms"] or 0.0, 1)
    return {
        "run_id": run_id,
        "crowd": _crowd(store, run_id) if run else None,
        "status": run["status"] if run else None,
        "wall_s": round(run["updated_at"] - run["created_at"], 1) if run else None,
        "stages": stages,
        "total": call_totals(store, run_id, exclude_stage=EVALUATE),
        "evaluation": call_totals(store, run_id, stage=EVALUATE) if any(r["stage"] == EVALUATE for r in stages)
        else None,
    }


def _crowd(store: Store, run_id: str) -> dict[str, Any] | None:
    """The crowd's member accuracies from the run's latest result (None without a crowd or a result)."""
    try:
        result = store.load_result(run_id)
    except Exception:  # a run that failed before its first result
        return None
    return ((result.get("stats") or {}).get("judge") or {}).get("crowd")


def format_cost(report: dict[str, Any]) -> str:
    lines = [f"run {report['run_id']}" + (f" ({report['status']}, {report['wall_s']} s wall)"
                                          if report["status"] else " (LLM calls only, not a discovery run)")]
    head = f"{'stage':<14} {'role':<12} {'calls':>6} {'cached':>6} {'made':>6} {'errors':>6} " \
           f"{'prompt_tok':>10} {'compl_tok':>9} {'llm_s':>7}"
    lines.append(head)
    for r in report["stages"]:
        lines.append(f"{r['stage'] or '-':<14} {r['role']:<12} {r['calls']:>6} {r['cached']:>6} {r['made']:>6} "
                     f"{r['errors']:>6} {r['prompt_tokens'] or 0:>10} {r['completion_tokens'] or 0:>9} "
                     f"{r['latency_ms'] / 1000:>7.1f}")
    t = report["total"]
    lines.append(f"{'total':<14} {'':<12} {t['calls']:>6} {t['cached']:>6} {t['made']:>6} {t['errors']:>6} "
                 f"{t['paid_prompt_tokens']:>10} {t['paid_completion_tokens']:>9} {t['latency_ms'] / 1000:>7.1f}")
    lines.append("tokens and llm_s count calls made (cache hits are free); a cold run would pay "
                 f"{t['prompt_tokens']} prompt + {t['completion_tokens']} completion tokens.")
    if report.get("evaluation"):
        e = report["evaluation"]
        lines.append(f"the total leaves out evaluation (stage evaluate: {e['calls']} calls, "
                     f"{e['paid_prompt_tokens']} prompt tokens), which is not part of the run.")
    lines.extend(format_crowd(report.get("crowd")))
    return "\n".join(lines)
