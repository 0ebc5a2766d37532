"""Edits made in chat: each previews its change, asks for confirmation, saves a new revision.

``confirm(action, preview) -> bool`` decides; inside a graph it is
``confirm_by_interrupt`` (a LangGraph ``interrupt()`` the person answers), in tests and
scripts any callable. Nothing is overwritten: an edit appends a revision of the run
(note ``chat: ...``), and ``undo_edit`` deletes the latest such revision.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dialin.errors import DialinError
from dialin.result import write_exports
from dialin.inspect import edits
from dialin.inspect.queries import clip, cluster_line, fmt_verdict
from dialin.inspect.run_view import RunView
from dialin.tools.name_audit import explain_clusters

Confirm = Callable[[str, str], bool]
YES = {"y", "yes", "ok", "okay", "confirm", "confirmed", "true", "1", "save", "approve", "accept"}


def is_yes(answer: Any) -> bool:
    """A resume value that means yes: True, "y"/"yes"/..., or {"confirm": true} / {"approved": true}."""
    if isinstance(answer, dict):
        answer = answer.get("confirm", answer.get("approved", answer.get("answer")))
    if isinstance(answer, bool):
        return answer
    return isinstance(answer, str) and answer.strip().lower() in YES


def confirm_by_interrupt(action: str, preview: str) -> bool:
    """Pause the graph and ask the person; the resume value is the answer (see ``is_yes``)."""
    from langgraph.types import interrupt

    answer = interrupt({"kind": "confirm", "action": action, "preview": preview,
                        "question": "Save this as a new revision? (yes/no)"})
    return is_yes(answer)


def _apply(view: RunView, new: dict[str, Any], action: str, preview: str, confirm: Confirm) -> str:
    if not confirm(action, preview):
        return f"cancelled: {action} (nothing saved)"
    rev = view.save(new, action)
    return f"done: {action}. Saved as revision {rev} (/undo reverts it)."


def rename_cluster(view: RunView, cluster_id: int, name: str, confirm: Confirm = confirm_by_interrupt) -> str:
    r = view.result()
    old = edits.find_cluster(r, cluster_id)["name"]
    new = edits.rename(r, cluster_id, name)
    now = edits.find_cluster(new, cluster_id)["name"]
    why = f"\nwhy '{old}': {explain_clusters(r)[cluster_id]}\nwhy '{now}': {explain_clusters(new)[cluster_id]}"
    return _apply(view, new, f"rename {cluster_id} '{old}' to '{now}'", f"{old} -> {now}{why}", confirm)


def merge_clusters(view: RunView, a: int, b: int, name: str | None = None,
                   confirm: Confirm = confirm_by_interrupt) -> str:
    r = view.result()
    ca, cb = edits.find_cluster(r, a), edits.find_cluster(r, b)
    new = edits.merge(r, a, b, name, view.vectors())
    merged = edits.find_cluster(new, a)
    preview = (f"{a} '{ca['name']}' ({ca['size']} rows) + {b} '{cb['name']}' ({cb['size']} rows)\n"
               f"-> {cluster_line(merged)}; cohesion {merged['cohesion']:.3f}")
    if ca.get("role") != cb.get("role"):
        preview += f"\nnote: the roles differ ({ca.get('role')} / {cb.get('role')}); the merged cluster has none"
    return _apply(view, new, f"merge {b} '{cb['name']}' into {a}", preview, confirm)


def split_cluster(view: RunView, cluster_id: int, k: int, confirm: Confirm = confirm_by_interrupt) -> str:
    r = view.result()
    c = edits.find_cluster(r, cluster_id)
    m = view.config.method
    new, ids = edits.split(r, cluster_id, k, view.vectors(), method=m.clustering, seed=m.seed)
    texts = new["unique_texts"]
    lines = [f"{cluster_id} '{c['name']}' ({c['size']} rows) -> {len(ids)} clusters "
             "(not judged yet: /rejudge them, /rename them):"]
    for cid in ids:
        part = edits.find_cluster(new, cid)
        lines.append(f"  {cluster_line(part)}; e.g. " + " | ".join(clip(texts[i], 50) for i in part["members"][:3]))
    return _apply(view, new, f"split {cluster_id} '{c['name']}' into {', '.join(map(str, ids))}", "\n".join(lines),
                  confirm)


def move_utterance(view: RunView, utterance: str, to_cluster: int, confirm: Confirm = confirm_by_interrupt) -> str:
    r = view.result()
    i = view.find_utterance(utterance)
    if i is None:
        n = len(r["unique_texts"])
        ref = re.fullmatch(r"#?(\d+)", utterance.strip())
        if ref:
            raise DialinError(f"there is no utterance #{ref.group(1)}: the run has {n} unique utterances "
                              f"(#0 to #{n - 1}); /search TEXT shows their numbers")
        raise DialinError(f"no utterance is exactly {utterance!r}: /search TEXT shows the closest ones with "
                          "their #numbers; move one by its #number")
    source = next((c for c in r["clusters"] if i in c["members"]), None)
    new = edits.move(r, i, to_cluster, view.vectors())
    src = f"cluster {source['id']} '{source['name']}'" if source else "unassigned"
    dst = "unassigned" if to_cluster < 0 else f"cluster {to_cluster} '{edits.find_cluster(new, to_cluster)['name']}'"
    preview = f"#{i} {clip(r['unique_texts'][i])!r}: {src} -> {dst}"
    if source and not any(c["id"] == source["id"] for c in new["clusters"]):
        preview += f"\nnote: cluster {source['id']} becomes empty and is removed"
    return _apply(view, new, f"move #{i} to {dst}", preview, confirm)


def rejudge_cluster(view: RunView, cluster_id: int, confirm: Confirm = confirm_by_interrupt) -> str:
    from dialin.agents.judge import judge_sample
    from dialin.llm.router import run_sync
    from dialin.tools.vectors import cohesion
    from dialin.tools.sampling import sample

    r = view.result()
    c = edits.find_cluster(r, cluster_id)
    X = view.vectors()
    m = view.config.method
    picked = sample(X, c["members"], n=m.n_sentences, strategy=m.sampling, seed=m.seed)
    verdict = run_sync(judge_sample(view.router(), view.config.judges(), [r["unique_texts"][i] for i in picked],
                                    aggregation=view.config.crowd.aggregation, stage="rejudge"))
    verdict.cohesion = round(cohesion(X, c["members"]), 4)
    verdict.sample = picked
    new_verdict = verdict.model_dump()
    lines = [f"{cluster_id} '{c['name']}': was {fmt_verdict(c.get('verdict'))}, now {fmt_verdict(new_verdict)}"]
    lines += [f"  vote: {v.role} ({v.model}): {v.label}" for v in verdict.votes]
    return _apply(view, edits.set_verdict(r, cluster_id, new_verdict), f"re-judge {cluster_id} '{c['name']}'",
                  "\n".join(lines), confirm)


def export_run(view: RunView, out_dir: str) -> str:
    files = write_exports(view.result(), Path(out_dir).expanduser())
    return "wrote " + ", ".join(files.values())


def undo_edit(view: RunView) -> str:
    rev, note = view.undo()
    return f"undone: {note} (revision {rev} deleted; now at revision {view.latest_revision()})"
