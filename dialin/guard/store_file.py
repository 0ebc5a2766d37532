"""A damaged SQLite file becomes one clear ``StoreDamaged`` error, wherever SQLite notices it.

SQLite finds garbage in a file's header when it is opened ("file is not a database") but
garbage in a later page only when a statement reads that page ("database disk image is
malformed"), which can be any statement. ``GuardedConnection`` wraps the connection (and
the cursors it hands out) so that every such error names the file and the way out.
Operational errors (a locked or read-only database) pass through unchanged.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from dialin.errors import DialinError


class StoreDamaged(DialinError):
    """The store file is not a SQLite database or is corrupt."""


def damaged(path: str, exc: sqlite3.DatabaseError) -> StoreDamaged:
    return StoreDamaged(
        f"the store {path} is damaged or not a dialin database ({exc}). Move it aside to start a fresh one "
        f"(`mv {path} {path}.damaged`; the LLM cache and past runs in it are then not used), try "
        f"`sqlite3 {path} .recover | sqlite3 {path}.recovered` to save what is readable, or point store: in "
        "the config (or DIALIN_HOME) elsewhere.")


def is_damage(exc: BaseException) -> bool:
    """SQLite's corruption errors, not a lock or a read-only file (``OperationalError``)."""
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError)


class _Guard:
    def __init__(self, inner: Any, path: str) -> None:
        self._inner = inner
        self._path = path

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                raise damaged(self._path, exc) from None
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class GuardedCursor(_Guard):
    def fetchall(self) -> list[Any]:
        return self._call(self._inner.fetchall)

    def fetchone(self) -> Any:
        return self._call(self._inner.fetchone)


class GuardedConnection(_Guard):
    """``sqlite3.Connection`` whose statements raise ``StoreDamaged`` for a corrupt file."""

    def execute(self, *args: Any) -> GuardedCursor:
        return GuardedCursor(self._call(self._inner.execute, *args), self._path)

    def executemany(self, *args: Any) -> GuardedCursor:
        return GuardedCursor(self._call(self._inner.executemany, *args), self._path)

    def executescript(self, *args: Any) -> GuardedCursor:
        return GuardedCursor(self._call(self._inner.executescript, *args), self._path)

    @property
    def row_factory(self) -> Any:
        return self._inner.row_factory

    @row_factory.setter
    def row_factory(self, value: Any) -> None:
        self._inner.row_factory = value
