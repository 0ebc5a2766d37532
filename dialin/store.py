"""The SQLite store: runs and their revisions, the LLM call log and cache, embeddings.

Schema changes are ordered migrations (``MIGRATIONS``); ``schema_version`` records
how many have been applied. One connection per store, guarded by a lock, so the
store can be shared by threads and async tasks.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from dialin.errors import DialinError, RunNotFound
from dialin.guard.run_status import effective, host
from dialin.guard.store_file import GuardedConnection, damaged, is_damage
from dialin.result import validate_result

MIGRATIONS: list[str] = [
    """
    CREATE TABLE llm_calls (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT, stage TEXT, role TEXT, endpoint TEXT, base_url TEXT, model TEXT,
        prompt_id TEXT, prompt_hash TEXT, cache_key TEXT,
        messages TEXT, params TEXT, response TEXT, label_probs TEXT,
        prompt_tokens INTEGER, completion_tokens INTEGER, latency_ms REAL,
        cached INTEGER NOT NULL DEFAULT 0, error TEXT, created_at REAL NOT NULL
    );
    CREATE INDEX llm_calls_run ON llm_calls(run_id);
    CREATE TABLE llm_cache (
        cache_key TEXT PRIMARY KEY, response TEXT NOT NULL, created_at REAL NOT NULL
    );
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY, created_at REAL NOT NULL, updated_at REAL NOT NULL,
        status TEXT NOT NULL, data_path TEXT, config TEXT, params TEXT
    );
    CREATE TABLE run_revisions (
        run_id TEXT NOT NULL, revision INTEGER NOT NULL, created_at REAL NOT NULL,
        note TEXT, result TEXT NOT NULL, PRIMARY KEY (run_id, revision)
    );
    CREATE TABLE embeddings (
        model TEXT NOT NULL, text_hash TEXT NOT NULL, vector BLOB NOT NULL,
        PRIMARY KEY (model, text_hash)
    );
    """,
    """
    ALTER TABLE runs ADD COLUMN reason TEXT;
    ALTER TABLE runs ADD COLUMN resume TEXT;
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    ALTER TABLE runs ADD COLUMN host TEXT;
    """,
]


class Store:
    """A dialin SQLite database (``Store(path)``; ``":memory:"`` for tests)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            p = Path(self.path).expanduser()
            try:
                p.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DialinError(f"cannot create the store folder {p.parent}: {exc}. "
                                  "Set store: in the config or DIALIN_HOME to a writable place.") from exc
            self.path = str(p)
        self._lock = threading.RLock()
        try:
            self._db = GuardedConnection(sqlite3.connect(self.path, check_same_thread=False, isolation_level=None),
                                         self.path)
            self._db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            if is_damage(exc):
                raise damaged(self.path, exc) from None
            raise DialinError(f"cannot open the store {self.path}: {exc}. "
                              "Set store: in the config or DIALIN_HOME to a writable place.") from exc
        self._db.row_factory = sqlite3.Row
        self._migrate()

    # -- plumbing ---------------------------------------------------------
    def _migrate(self) -> None:
        with self._lock:
            self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = self._db.execute("SELECT version FROM schema_version").fetchone()
            version = row[0] if row else 0
            if row is None:
                self._db.execute("INSERT INTO schema_version VALUES (0)")
            for i, script in enumerate(MIGRATIONS[version:], start=version + 1):
                self._db.executescript("BEGIN;" + script + f"UPDATE schema_version SET version = {i}; COMMIT;")

    def execute(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- LLM log and cache ------------------------------------------------
    def log_call(self, **fields: Any) -> None:
        fields.setdefault("created_at", time.time())
        for key in ("messages", "params", "label_probs"):
            if key in fields and not isinstance(fields[key], (str, type(None))):
                fields[key] = json.dumps(fields[key], ensure_ascii=False)
        cols = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        with self._lock:
            self._db.execute(f"INSERT INTO llm_calls ({cols}) VALUES ({marks})", tuple(fields.values()))

    def cache_get(self, key: str) -> dict[str, Any] | None:
        rows = self.execute("SELECT response FROM llm_cache WHERE cache_key = ?", (key,))
        return json.loads(rows[0]["response"]) if rows else None

    def cache_put(self, key: str, response: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO llm_cache VALUES (?, ?, ?)",
                             (key, json.dumps(response, ensure_ascii=False), time.time()))

    def calls(self, run_id: str | None = None) -> list[dict[str, Any]]:
        if run_id is None:
            rows = self.execute("SELECT * FROM llm_calls ORDER BY id")
        else:
            rows = self.execute("SELECT * FROM llm_calls WHERE run_id = ? ORDER BY id", (run_id,))
        return [dict(r) for r in rows]

    def cost(self, run_id: str) -> list[dict[str, Any]]:
        """LLM calls and tokens per stage and role (cache hits counted apart)."""
        rows = self.execute(
            """SELECT COALESCE(stage, '') AS stage, role, COUNT(*) AS calls,
                      SUM(cached) AS cached, SUM(CASE WHEN error IS NULL THEN 0 ELSE 1 END) AS errors,
                      SUM(CASE WHEN cached = 0 THEN prompt_tokens ELSE 0 END) AS prompt_tokens,
                      SUM(CASE WHEN cached = 0 THEN completion_tokens ELSE 0 END) AS completion_tokens,
                      SUM(CASE WHEN cached = 0 THEN latency_ms ELSE 0 END) AS latency_ms
               FROM llm_calls WHERE run_id = ? GROUP BY stage, role ORDER BY stage, role""", (run_id,))
        return [dict(r) for r in rows]

    # -- runs ---------------------------------------------------------------
    def new_run(self, data_path: str | None, config: dict[str, Any], params: dict[str, Any],
                run_id: str | None = None) -> str:
        run_id = run_id or time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        now = time.time()
        with self._lock:
            self._db.execute("INSERT INTO runs (run_id, created_at, updated_at, status, data_path, config, params, "
                             "pid, host) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (run_id, now, now, "running", data_path, json.dumps(config), json.dumps(params),
                              os.getpid(), host()))
        return run_id

    def set_status(self, run_id: str, status: str, reason: str | None = None, resume: str | None = None) -> None:
        """``running`` records this process (so a killed run shows as interrupted); others record the reason."""
        with self._lock:
            self._db.execute("UPDATE runs SET status = ?, updated_at = ?, reason = ?, resume = COALESCE(?, resume), "
                             "pid = ?, host = ? WHERE run_id = ?",
                             (status, time.time(), reason, resume, os.getpid() if status == "running" else None,
                              host() if status == "running" else None, run_id))

    def run(self, run_id: str) -> dict[str, Any]:
        rows = self.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            known = [r["run_id"] for r in self.execute("SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 5")]
            hint = f" Recent runs: {', '.join(known)}." if known else " The store has no runs yet."
            raise RunNotFound(f"run '{run_id}' is not in the store {self.path}.{hint} "
                              "Use `dialin runs` to list them, or --config to pick another store.")
        row = effective(dict(rows[0]))
        row["config"] = json.loads(row["config"] or "{}")
        row["params"] = json.loads(row["params"] or "{}")
        return row

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.execute("SELECT run_id, created_at, updated_at, status, data_path, reason, resume, pid, host "
                            "FROM runs ORDER BY created_at DESC LIMIT ?", (limit,))
        return [{k: v for k, v in effective(dict(r)).items() if k not in ("pid", "host")} for r in rows]

    def save_revision(self, run_id: str, result: dict[str, Any], note: str) -> int:
        stored = json.dumps(validate_result(result), ensure_ascii=False)
        with self._lock:
            row = self._db.execute("SELECT MAX(revision) FROM run_revisions WHERE run_id = ?", (run_id,)).fetchone()
            revision = (row[0] or 0) + 1
            self._db.execute("INSERT INTO run_revisions VALUES (?, ?, ?, ?, ?)",
                             (run_id, revision, time.time(), note, stored))
        return revision

    def revisions(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.execute("SELECT revision, created_at, note FROM run_revisions WHERE run_id = ? ORDER BY revision",
                            (run_id,))
        return [dict(r) for r in rows]

    def load_result(self, run_id: str, revision: int | None = None) -> dict[str, Any]:
        self.run(run_id)
        if revision is None:
            rows = self.execute("SELECT result FROM run_revisions WHERE run_id = ? ORDER BY revision DESC LIMIT 1",
                                (run_id,))
        else:
            rows = self.execute("SELECT result FROM run_revisions WHERE run_id = ? AND revision = ?",
                                (run_id, revision))
        if not rows:
            raise RunNotFound(f"run '{run_id}' has no stored result (revision {revision or 'latest'}): "
                              f"it did not finish. Resume it with `dialin run DATA --resume {run_id}`.")
        return validate_result(json.loads(rows[0]["result"]))

    def delete_revision(self, run_id: str, revision: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM run_revisions WHERE run_id = ? AND revision = ?", (run_id, revision))

    # -- embeddings ---------------------------------------------------------
    def get_vectors(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for chunk in _chunks(hashes, 500):
            marks = ", ".join("?" for _ in chunk)
            rows = self.execute(f"SELECT text_hash, vector FROM embeddings WHERE model = ? AND text_hash IN ({marks})",
                                (model, *chunk))
            for r in rows:
                out[r["text_hash"]] = np.frombuffer(r["vector"], dtype=np.float32)
        return out

    def put_vectors(self, model: str, items: dict[str, np.ndarray]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                                 [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items.items()])
            self._db.execute("COMMIT")


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
