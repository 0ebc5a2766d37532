"""The typed, versioned run result: validated on save and load, older stored results migrated."""

from __future__ import annotations

import json

import pytest

from dialin.errors import DialinError
from dialin.result import SCHEMA_VERSION, RunResult, migrate, validate_result
from dialin.store import Store


def _old_result() -> dict:
    """A result as dialin stored it before schema_version existed (keys as build_result wrote them)."""
    return {
        "run_id": "r1", "source": "x.csv",
        "clusters": [{"id": 0, "name": "request-refund", "role": None, "size": 2, "n_unique": 2, "members": [0, 1],
                      "verdict": {"label": "good", "p_good": 0.9, "source": "llm"}, "iteration": 0, "k": 2,
                      "cohesion": 0.8}],
        "unassigned": [2], "unique_texts": ["refund me", "I want a refund", "hello"], "unique_roles": None,
        "row_to_unique": [0, 1, 2], "row_labels": [0, 0, -1], "gold_labels": None,
        "history": [{"iteration": 0, "k": 2}], "merges": [], "stop_reason": "converged",
        "stats": {"rows": 3, "unique": 3, "clusters": 1},
    }


def test_unversioned_result_migrates_to_the_current_schema() -> None:
    out = validate_result(_old_result())
    assert out["schema_version"] == SCHEMA_VERSION
    assert out["clusters"][0]["joined"] == [] and out["clusters"][0]["merged_from"] == []
    assert RunResult.model_validate(out).clusters[0].name == "request-refund"


def test_extra_keys_survive_and_bad_shapes_are_refused() -> None:
    old = _old_result()
    old["clusters"][0]["edited_by"] = "person"
    assert validate_result(old)["clusters"][0]["edited_by"] == "person"
    broken = _old_result()
    broken["clusters"][0]["members"] = "not a list"
    with pytest.raises(DialinError, match="result schema"):
        validate_result(broken)


def test_a_newer_schema_is_refused_with_the_fix() -> None:
    with pytest.raises(DialinError, match="upgrade dialin"):
        migrate(dict(_old_result(), schema_version=SCHEMA_VERSION + 1))


def test_store_migrates_an_old_stored_result_on_load(tmp_path) -> None:
    store = Store(tmp_path / "s.db")
    run_id = store.new_run("x.csv", {}, {})
    store.save_revision(run_id, _old_result(), "first")
    raw = json.loads(store.execute("SELECT result FROM run_revisions WHERE run_id = ?", (run_id,))[0]["result"])
    assert raw["schema_version"] == SCHEMA_VERSION  # validated when saved
    # a row written by an older dialin, without the version
    store.execute("UPDATE run_revisions SET result = ? WHERE run_id = ?", (json.dumps(_old_result()), run_id))
    loaded = store.load_result(run_id)
    assert loaded["schema_version"] == SCHEMA_VERSION and loaded["clusters"][0]["joined"] == []
