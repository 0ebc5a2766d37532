"""Edits of a stored result: ids stay stable, derived fields follow, the input is never mutated."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from dialin.errors import DialinError
from dialin.inspect import edits
from inspect_runs import base_run, view  # noqa: F401  (fixtures)


@pytest.fixture
def result(view):  # noqa: F811
    return view.result()


def _ids(result):
    return [c["id"] for c in result["clusters"]]


def _consistent(result):
    """row_labels, unassigned, sizes and stats agree with the members."""
    owner = {i: c["id"] for c in result["clusters"] for i in c["members"]}
    assert result["row_labels"] == [owner.get(u, -1) for u in result["row_to_unique"]]
    assert result["unassigned"] == sorted(set(range(len(result["unique_texts"]))) - set(owner))
    for c in result["clusters"]:
        assert c["n_unique"] == len(c["members"])
        assert c["size"] == sum(1 for u in result["row_to_unique"] if u in set(c["members"]))
    assert result["stats"]["clusters"] == len(result["clusters"])


def test_merge_keeps_the_first_id_and_records_the_merge(view, result):  # noqa: F811
    before = copy.deepcopy(result)
    a, b = _ids(result)[:2]
    out = edits.merge(result, a, b, X=view.vectors())
    assert result == before, "the input result was changed"
    assert _ids(out) == [i for i in _ids(result) if i != b]
    merged = edits.find_cluster(out, a)
    assert merged["members"] == sorted(edits.find_cluster(result, a)["members"] +
                                       edits.find_cluster(result, b)["members"])
    assert [p.get("id") for p in merged["merged_from"][-2:]] == [a, b]
    assert merged["verdict"]["source"] == "human"
    assert out["merges"][-1]["clusters"] == [a, b]
    assert 0 < merged["cohesion"] < edits.find_cluster(result, a)["cohesion"]
    _consistent(out)


def test_split_gives_fresh_ids_in_place(view, result):  # noqa: F811
    cid = _ids(result)[0]
    out, new = edits.split(result, cid, 2, view.vectors())
    assert new == [max(_ids(result)) + 1, max(_ids(result)) + 2]
    assert _ids(out)[:2] == new and cid not in _ids(out)
    parts = [edits.find_cluster(out, i) for i in new]
    assert sorted(parts[0]["members"] + parts[1]["members"]) == edits.find_cluster(result, cid)["members"]
    assert all(p["verdict"] is None and p["split_from"]["id"] == cid for p in parts)
    assert [p["name"] for p in parts] == [f"{edits.find_cluster(result, cid)['name']}_{j}" for j in (1, 2)]
    _consistent(out)


def test_split_refuses_what_cannot_be_split(view, result):  # noqa: F811
    with pytest.raises(DialinError, match="k >= 2"):
        edits.split(result, _ids(result)[0], 1, view.vectors())
    X = np.ones_like(view.vectors())
    with pytest.raises(DialinError, match="same point"):
        edits.split(result, _ids(result)[0], 2, X)


def test_move_to_another_cluster_and_to_unassigned(view, result):  # noqa: F811
    a, b = _ids(result)[:2]
    u = edits.find_cluster(result, a)["members"][0]
    out = edits.move(result, u, b, view.vectors())
    assert u in edits.find_cluster(out, b)["members"] and u not in edits.find_cluster(out, a)["members"]
    _consistent(out)
    out2 = edits.move(out, u, -1)
    assert u in out2["unassigned"]
    _consistent(out2)
    with pytest.raises(DialinError, match="already in unassigned"):
        edits.move(out2, u, -1)


def test_moving_the_last_member_drops_the_cluster(result):
    lone = {**result, "clusters": copy.deepcopy(result["clusters"])}
    target = lone["clusters"][0]
    keep, rest = target["members"][:1], target["members"][1:]
    target["members"] = keep
    lone["unassigned"] = sorted(result["unassigned"] + rest)
    out = edits.move(lone, keep[0], lone["clusters"][1]["id"])
    assert target["id"] not in _ids(out)
    _consistent(out)


def test_rename_refuses_a_taken_name_and_unknown_ids(result):
    a, b = result["clusters"][:2]
    assert edits.find_cluster(edits.rename(result, a["id"], "  close   account "), a["id"])["name"] == "close account"
    with pytest.raises(DialinError, match="already named"):
        edits.rename(result, a["id"], b["name"])
    with pytest.raises(DialinError, match="there is no cluster 999; the ids are"):
        edits.rename(result, 999, "x")
