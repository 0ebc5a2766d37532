"""A run's result: clusters with evidence, a label for every input row, and its exports.

The result is typed and versioned (``RunResult``, ``schema_version``): the store validates it
when it saves a revision and when it loads one, migrating stored results of an older shape
(``migrate``). Readers still get the plain dict (``RunResult.model_dump()``), so code that
reads ``result["clusters"]`` keeps working.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dialin.errors import DialinError

if TYPE_CHECKING:
    from dialin.workspace import Workspace

UNASSIGNED = "unassigned"
LLM_SOURCES = ("llm", "crowd")
"""Verdict sources that are an LLM's answer (not the cascade's score, a person or a merge)."""
LOPSIDED = 0.95
"""A judge that gives one answer to at least this share of (at least 20) clusters barely discriminates."""
SCHEMA_VERSION = 1
"""Version of ``RunResult``; results stored before it (no ``schema_version``) are version 0."""


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")
    """Keys a later step adds (edits, reviews) are kept, not rejected."""


class ClusterRecord(_Open):
    id: int
    name: str | None = None
    role: str | None = None
    size: int
    """Input rows in the cluster (duplicates counted)."""
    n_unique: int
    members: list[int]
    """Indices into ``unique_texts``."""
    verdict: dict[str, Any] | None = None
    iteration: int | None = None
    k: int | None = None
    joined: list[int] = Field(default_factory=list)
    merged_from: list[Any] = Field(default_factory=list)
    cohesion: float | None = None


class RunResult(_Open):
    """What a run produced: clusters, merges, history and stats, plus the corpus it labels."""

    schema_version: Literal[1] = SCHEMA_VERSION
    run_id: str
    source: str | None = None
    clusters: list[ClusterRecord]
    unassigned: list[int] = Field(default_factory=list)
    unique_texts: list[str]
    unique_roles: list[str] | None = None
    row_to_unique: list[int]
    row_labels: list[int]
    gold_labels: list[Any] | None = None
    history: list[dict[str, Any]] = Field(default_factory=list)
    merges: list[dict[str, Any]] = Field(default_factory=list)
    stop_reason: str | None = None
    stats: dict[str, Any] = Field(default_factory=dict)


def migrate(result: dict[str, Any]) -> dict[str, Any]:
    """A stored result in the current shape. Version 0 (no ``schema_version``) had the same keys
    unversioned, some of them optional (``joined``, ``merged_from``, ``unassigned``, ...)."""
    version = result.get("schema_version", 0)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise DialinError(f"this result has schema_version {version!r}, newer than this dialin understands "
                          f"({SCHEMA_VERSION}): upgrade dialin to read it")
    if version == 0:
        result = dict(result, schema_version=1)
    return result


def validate_result(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` checked against ``RunResult`` (after ``migrate``), as a plain dict."""
    try:
        return RunResult.model_validate(migrate(result)).model_dump(mode="json")
    except ValidationError as exc:
        raise DialinError(f"run result does not match the result schema (v{SCHEMA_VERSION}): {exc}") from exc


def judge_summary(verdicts: Iterable[dict]) -> dict[str, Any]:
    """How the LLM judge answered over the run (``verdicts``: every cluster verdict of the run, once each):
    clusters it was asked about, and how many it called good.

    ``lopsided`` is true when it gave one answer to at least ``LOPSIDED`` of 20 or more clusters: its
    verdicts then carry little information (docs/BENCHMARKS.md section 11: the default 0.5B judge says
    good to 71-72 of 72).
    """
    verdicts = list(verdicts)
    asked = [v["label"] for v in verdicts if v.get("source") in LLM_SOURCES]
    good = asked.count("good")
    share = round(good / len(asked), 4) if asked else None
    lopsided = bool(len(asked) >= 20 and share is not None and max(share, 1 - share) >= LOPSIDED)
    unusable = sum(1 for v in verdicts if v.get("note"))
    return {"asked": len(asked), "said_good": good, "good_share": share, "lopsided": lopsided,
            "unusable": unusable}


def build_result(ws: "Workspace", clusters: list[dict], leftovers: list[int], history: list[dict],
                 merges: list[dict], stop_reason: str, judge: dict[str, Any] | None = None) -> dict[str, Any]:
    corpus = ws.corpus
    unique_labels = [-1] * len(corpus.unique_texts)
    out_clusters = []
    row_counts = Counter(u for u in corpus.row_to_unique if u >= 0)
    for cid, c in enumerate(clusters):
        members = sorted(c["members"])
        for i in members:
            unique_labels[i] = cid
        out_clusters.append({
            "id": cid, "name": c["name"], "role": c.get("role"), "size": sum(row_counts[i] for i in members),
            "n_unique": len(members), "members": members, "verdict": c.get("verdict"),
            "iteration": c.get("iteration"), "k": c.get("k"), "joined": sorted(c.get("joined", [])),
            "merged_from": c.get("merged_from", []), "cohesion": round(ws.cohesion(members), 4),
        })
    row_labels = [unique_labels[u] if u >= 0 else -1 for u in corpus.row_to_unique]
    return validate_result({
        "schema_version": SCHEMA_VERSION,
        "run_id": ws.run_id, "source": corpus.source, "clusters": out_clusters, "unassigned": sorted(leftovers),
        "unique_texts": corpus.unique_texts, "unique_roles": corpus.unique_roles,
        "row_to_unique": corpus.row_to_unique, "row_labels": row_labels, "gold_labels": corpus.labels,
        "history": history, "merges": merges, "stop_reason": stop_reason,
        "stats": {"rows": len(corpus), "unique": len(corpus.unique_texts), "clusters": len(out_clusters),
                  "unassigned_unique": len(leftovers), "blank_rows": len(corpus.blank_rows),
                  "llm_calls": ws.router.calls_made, "judge": judge},
    })


def row_intents(result: dict[str, Any]) -> list[str]:
    names = {c["id"]: c["name"] for c in result["clusters"]}
    return [names.get(label, UNASSIGNED) for label in result["row_labels"]]


def write_exports(result: dict[str, Any], out_dir: str | Path, row_texts: list[str] | None = None) -> dict[str, str]:
    """clusters.jsonl (id, name, size, members, verdict evidence) and assignments.csv (every row)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    texts = result["unique_texts"]
    clusters_path = out / "clusters.jsonl"
    with clusters_path.open("w", encoding="utf-8") as f:
        for c in result["clusters"]:
            row = {k: c[k] for k in ("id", "name", "role", "size", "n_unique", "cohesion", "iteration", "k")}
            row["members"] = [texts[i] for i in c["members"]]
            row["verdict"] = c["verdict"]
            if c["verdict"] and c["verdict"].get("sample"):
                row["verdict"] = dict(c["verdict"], sample=[texts[i] for i in c["verdict"]["sample"]])
            row["merged_from"] = c["merged_from"]
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        if result["unassigned"]:
            f.write(json.dumps({"id": -1, "name": UNASSIGNED, "role": None, "size": None,
                                "n_unique": len(result["unassigned"]),
                                "members": [texts[i] for i in result["unassigned"]], "verdict": None},
                               ensure_ascii=False) + "\n")
    assign_path = out / "assignments.csv"
    names = row_intents(result)
    gold = result.get("gold_labels")
    with assign_path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["row", "text", "intent_id", "intent"] + (["gold"] if gold else []))
        for row, (u, label, name) in enumerate(zip(result["row_to_unique"], result["row_labels"], names)):
            text = row_texts[row] if row_texts else (texts[u] if u >= 0 else "")
            w.writerow([row, text, label, name] + ([gold[row]] if gold else []))
    return {"clusters": str(clusters_path), "assignments": str(assign_path)}


def summary_rows(result: dict[str, Any], limit: int = 40) -> list[tuple[Any, ...]]:
    rows = []
    for c in result["clusters"][:limit]:
        v = c.get("verdict") or {}
        p = v.get("p_good")
        rows.append((c["id"], c["name"], c.get("role") or "", c["size"], v.get("label", ""),
                     "" if p is None else f"{p:.2f}", v.get("source", "")))
    return rows
