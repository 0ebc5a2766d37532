"""``dialin review RUN``: keep reviewing a finished run in the terminal, most rows at stake first.

Each cluster a machine kept (its verdict's source is not ``human``) is an item, in the order of
``dialin.tools.review_priority``. ``good`` confirms it (source ``human``); ``bad`` dissolves it (its
sentences become unassigned). Every answer is saved as a new revision (note ``review: ...``), so
``dialin report`` / ``chat`` see it and a revision can be deleted like any chat edit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dialin.inspect.edits import Result, _copy, refresh, set_verdict
from dialin.store import Store
from dialin.tools.review_priority import by_priority


def review_items(result: Result) -> list[dict[str, Any]]:
    """Clusters no person has decided yet, most worth a person's time first."""
    items = []
    for c in result["clusters"]:
        v = c.get("verdict") or {}
        if v.get("source") != "human":
            items.append({"id": c["id"], "name": c["name"], "rows": c["size"], "p_good": v.get("p_good"),
                          "agreement": v.get("agreement"), "label": v.get("label"), "source": v.get("source")})
    return by_priority(items)


def apply_answer(result: Result, cid: int, label: str) -> Result:
    """good: the verdict becomes a person's; bad: the cluster is dissolved into unassigned."""
    if label == "good":
        old = next(c for c in result["clusters"] if c["id"] == cid).get("verdict") or {}
        return set_verdict(result, cid, {**old, "label": "good", "source": "human"})
    out = _copy(result)
    out["clusters"] = [c for c in out["clusters"] if c["id"] != cid]
    return refresh(out)


def review_run(store: Store, run_id: str, ask: Callable[[dict[str, Any], list[str]], str],
               say: Callable[[str], None], budget: int | None = None) -> int:
    """Ask about up to ``budget`` clusters (all when None); returns how many answers were saved."""
    result = store.load_result(run_id)
    items = review_items(result)[:budget] if budget is not None else review_items(result)
    if not items:
        say(f"run {run_id}: every cluster is already decided by a person")
        return 0
    saved = 0
    for n, it in enumerate(items, 1):
        c = next(c for c in result["clusters"] if c["id"] == it["id"])
        say(f"\n[{n}/{len(items)}] cluster {c['id']} '{c['name']}': {c['size']} rows "
            f"(machine: {it['label']} by {it['source']}, p_good {it['p_good']})")
        for i in c["members"][:10]:
            say(f"  - {result['unique_texts'][i]}")
        answer = ask(it, ["good", "bad", "skip", "quit"])
        if answer == "quit":
            break
        if answer not in ("good", "bad"):
            continue
        result = apply_answer(result, c["id"], answer)
        rev = store.save_revision(run_id, result, f"review: cluster {c['id']} {answer}")
        saved += 1
        say(f"saved as revision {rev}")
    return saved
