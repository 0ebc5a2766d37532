"""``dialin classify --discover``: the loop on the utterances no known intent fits, offered to the run.

The unknown utterances are discovered as a run of their own (same embedder as the source run,
so vectors stay comparable); its intents are appended to the source run as a new revision
(nothing is overwritten: earlier revisions stay in the store). The new utterances become rows
of the run; gold labels stay only when the classified data brought its own (``--label-col``).
"""

from __future__ import annotations

from typing import Any

from dialin.config import Config
from dialin.errors import DialinError

MIN_UNKNOWN = 10
"""Fewer unknown utterances than this are not worth a discovery run."""


def _fresh_name(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name}_{n}" in taken:
        n += 1
    return f"{name}_{n}"


def add_intents(result: dict[str, Any], found: dict[str, Any], labels: list[str] | None,
                note_source: str) -> tuple[dict[str, Any], list[int]]:
    """``result`` with the clusters of ``found`` (a run over new utterances) appended; returns it and the new ids.

    ``labels``: gold labels of ``found``'s rows, or None (then the new revision keeps no gold labels).
    """
    from dialin.inspect.edits import _copy, next_id, refresh

    out = _copy(result)
    offset = len(result["unique_texts"])
    out["unique_texts"] = list(result["unique_texts"]) + list(found["unique_texts"])
    if result.get("unique_roles") is not None:
        out["unique_roles"] = list(result["unique_roles"]) + list(found.get("unique_roles")
                                                                 or [""] * len(found["unique_texts"]))
    out["row_to_unique"] = list(result["row_to_unique"]) + [u + offset if u >= 0 else -1
                                                            for u in found["row_to_unique"]]
    if result.get("gold_labels") and labels is not None:
        out["gold_labels"] = list(result["gold_labels"]) + list(labels)
    else:
        out["gold_labels"] = None
    taken = {c["name"] for c in out["clusters"]}
    first = next_id(out)
    new_ids = []
    for j, c in enumerate(found["clusters"]):
        name = _fresh_name(c["name"], taken)
        taken.add(name)
        new_ids.append(first + j)
        out["clusters"].append({**c, "id": first + j, "name": name, "members": [i + offset for i in c["members"]],
                                "joined": [i + offset for i in c.get("joined", [])], "merged_from": [],
                                "found_by": {"run_id": found["run_id"], "source": note_source}})
    out["stats"]["rows"] = len(out["row_to_unique"])
    out["stats"]["unique"] = len(out["unique_texts"])
    return refresh(out), new_ids


def discover_unknowns(run_id: str, texts: list[str], labels: list[str] | None, config: Config, store: Any,
                      source: str, **run_kwargs: Any) -> dict[str, Any]:
    """Discover intents in ``texts`` (the unknowns) and save them as a new revision of ``run_id``.

    ``run_kwargs`` go to ``run_discovery`` (``on_event``; ``base_urls`` and ``client_factory`` in tests).
    """
    from dialin.data import corpus_from_texts
    from dialin.runner import run_discovery

    if len(texts) < MIN_UNKNOWN:
        raise DialinError(f"only {len(texts)} utterance(s) are unknown: --discover needs at least {MIN_UNKNOWN}. "
                          "Classify more data, or raise --threshold.")
    row = store.run(run_id)
    run_config = Config.model_validate(row["config"])
    loop_config = Config.model_validate(config.model_copy(update={"embedder": run_config.embedder}).model_dump())
    corpus = corpus_from_texts(texts, labels=labels)
    corpus.source = f"unknowns of {source} (classified against run {run_id})"
    found = run_discovery(corpus, loop_config, store=store, **run_kwargs)
    result = store.load_result(run_id)
    new, new_ids = add_intents(result, found, labels, source)
    note = (f"classify --discover: {len(new_ids)} new intent(s) from {len(texts)} unknown utterance(s) of {source} "
            f"(run {found['run_id']})" + ("" if new.get("gold_labels") else "; gold labels dropped"))
    revision = store.save_revision(run_id, new, note)
    return {"run_id": run_id, "revision": revision, "discovery_run": found["run_id"], "unknown": len(texts),
            "new_intents": [{"id": c["id"], "name": c["name"], "size": c["size"]}
                            for c in new["clusters"] if c["id"] in set(new_ids)],
            "unassigned": len(found.get("unassigned") or []), "note": note}
