"""Edits of a stored result: rename, merge, split, move, set a verdict.

Every function takes a result dict (see ``dialin.result``) and returns a new one; the
input is never mutated. Cluster ids are stable: a merge keeps the first cluster's id,
a split gives its parts fresh ids (``max id + 1`` on), so ids a person has seen in a
chat keep meaning the same cluster. ``refresh`` recomputes what derives from the
members (sizes, ``row_labels``, ``unassigned``, stats, cohesion of touched clusters).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from dialin.errors import DialinError
from dialin.tools.clustering import cluster as cluster_fn
from dialin.tools.vectors import cohesion

Result = dict[str, Any]


def _copy(result: Result) -> Result:
    """A copy whose clusters, merges and unassigned list may be changed freely."""
    out = dict(result)
    out["clusters"] = copy.deepcopy(result["clusters"])
    out["merges"] = copy.deepcopy(result.get("merges", []))
    out["unassigned"] = list(result.get("unassigned", []))
    out["stats"] = dict(result.get("stats", {}))
    return out


def find_cluster(result: Result, cid: int) -> dict[str, Any]:
    for c in result["clusters"]:
        if c["id"] == cid:
            return c
    ids = sorted(c["id"] for c in result["clusters"])
    shown = ", ".join(map(str, ids[:30])) + (" ..." if len(ids) > 30 else "")
    raise DialinError(f"there is no cluster {cid}; the ids are: {shown}")


def next_id(result: Result) -> int:
    return max((c["id"] for c in result["clusters"]), default=-1) + 1


def refresh(result: Result, X: np.ndarray | None = None, touched: Iterable[int] = ()) -> Result:
    """Recompute sizes, row labels, unassigned and stats in place (and cohesion of ``touched`` ids)."""
    rows = Counter(u for u in result["row_to_unique"] if u >= 0)
    owner: dict[int, int] = {}
    touched = set(touched)
    for c in result["clusters"]:
        c["members"] = sorted(c["members"])
        for i in c["members"]:
            owner[i] = c["id"]
        c["n_unique"] = len(c["members"])
        c["size"] = sum(rows[i] for i in c["members"])
        if X is not None and c["id"] in touched:
            c["cohesion"] = round(cohesion(X, c["members"]), 4)
    result["row_labels"] = [owner.get(u, -1) if u >= 0 else -1 for u in result["row_to_unique"]]
    result["unassigned"] = sorted(i for i in range(len(result["unique_texts"])) if i not in owner)
    result["stats"].update(clusters=len(result["clusters"]), unassigned_unique=len(result["unassigned"]))
    return result


def rename(result: Result, cid: int, name: str) -> Result:
    name = " ".join(name.split())
    if not name:
        raise DialinError("a cluster name cannot be empty")
    for c in result["clusters"]:
        if c["name"] == name and c["id"] != cid:
            raise DialinError(f"cluster {c['id']} is already named '{name}': pick another name, "
                              f"or merge {cid} into {c['id']}")
    out = _copy(result)
    find_cluster(out, cid)["name"] = name
    return out


def merge(result: Result, a: int, b: int, name: str | None = None, X: np.ndarray | None = None) -> Result:
    """Cluster ``b`` joins cluster ``a`` (which keeps its id, and its name unless ``name`` is given)."""
    if a == b:
        raise DialinError(f"cannot merge cluster {a} with itself")
    out = _copy(result)
    ca, cb = find_cluster(out, a), find_cluster(out, b)
    parts = [{"id": c["id"], "name": c["name"], "size": c["size"], "verdict": c.get("verdict")} for c in (ca, cb)]
    ca["members"] = ca["members"] + cb["members"]
    ca["joined"] = sorted(set(ca.get("joined", [])) | set(cb.get("joined", [])))
    ca["merged_from"] = list(ca.get("merged_from") or []) + parts
    ca["role"] = ca.get("role") if ca.get("role") == cb.get("role") else None
    ca["name"] = " ".join(name.split()) if name else ca["name"]
    ca["k"] = None
    ca["verdict"] = {"label": "good", "p_good": None, "source": "human", "votes": [], "sample": []}
    out["clusters"] = [c for c in out["clusters"] if c["id"] != b]
    out["merges"].append({"clusters": [a, b], "names": [p["name"] for p in parts], "new_name": ca["name"],
                          "accepted": True, "source": "human"})
    refresh(out, X, touched=[a])
    if ca.get("verdict") is not None and X is not None:
        ca["verdict"]["cohesion"] = ca["cohesion"]
    return out


def split(result: Result, cid: int, k: int, X: np.ndarray, method: str = "agglomerative",
          seed: int = 0) -> tuple[Result, list[int]]:
    """Re-cluster one cluster into (at most) ``k`` parts with fresh ids; returns the result and the new ids."""
    if k < 2:
        raise DialinError(f"split needs k >= 2 (got {k})")
    out = _copy(result)
    c = find_cluster(out, cid)
    members = c["members"]
    if len(members) < 2:
        raise DialinError(f"cluster {cid} has {len(members)} unique utterance(s): nothing to split")
    if len(np.unique(np.round(X[members], 6), axis=0)) < 2:
        raise DialinError(f"cluster {cid} cannot be split: its utterances embed to the same point")
    labels = cluster_fn(X[members], k, method=method, seed=seed)  # type: ignore[arg-type]
    groups = [[members[i] for i in range(len(members)) if labels[i] == g] for g in range(int(labels.max()) + 1)]
    groups = [g for g in groups if g]
    first = next_id(out)
    new_ids = list(range(first, first + len(groups)))
    parts = []
    for j, (new, group) in enumerate(zip(new_ids, groups), start=1):
        parts.append({**copy.deepcopy(c), "id": new, "name": f"{c['name']}_{j}", "members": group,
                      "joined": sorted(set(c.get("joined", [])) & set(group)), "k": None, "verdict": None,
                      "merged_from": [], "split_from": {"id": cid, "name": c["name"]}})
    pos = next(i for i, x in enumerate(out["clusters"]) if x["id"] == cid)
    out["clusters"][pos:pos + 1] = parts
    refresh(out, X, touched=new_ids)
    return out, new_ids


def move(result: Result, utterance: int, to: int, X: np.ndarray | None = None) -> Result:
    """Move one unique utterance to cluster ``to`` (-1: unassigned); an emptied cluster is dropped."""
    n = len(result["unique_texts"])
    if not 0 <= utterance < n:
        raise DialinError(f"there is no utterance #{utterance} (the run has {n} unique utterances)")
    out = _copy(result)
    source = next((c for c in out["clusters"] if utterance in c["members"]), None)
    if (source["id"] if source else -1) == to:
        raise DialinError(f"utterance #{utterance} is already in {'cluster ' + str(to) if to >= 0 else 'unassigned'}")
    target = find_cluster(out, to) if to >= 0 else None
    touched = []
    if source is not None:
        source["members"] = [i for i in source["members"] if i != utterance]
        source["joined"] = [i for i in source.get("joined", []) if i != utterance]
        touched.append(source["id"])
        if not source["members"]:
            out["clusters"] = [c for c in out["clusters"] if c["id"] != source["id"]]
    if target is not None:
        target["members"] = target["members"] + [utterance]
        touched.append(to)
    return refresh(out, X, touched=touched)


def set_verdict(result: Result, cid: int, verdict: dict[str, Any]) -> Result:
    out = _copy(result)
    find_cluster(out, cid)["verdict"] = verdict
    return out
