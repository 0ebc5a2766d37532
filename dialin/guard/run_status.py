"""A run's status: ``running``, ``done``, ``failed`` or ``interrupted``, with the reason and how to resume.

The runner writes the status as the run goes (``running`` with its process id, then
``done``, or ``failed`` / ``interrupted`` with the reason). A process killed outright
(kill -9, a power cut) cannot write anything, so a ``running`` run whose process is gone
from this machine is shown as ``interrupted``. Every run that did not finish carries the
``dialin run ... --resume RUN_ID`` command that continues it.
"""

from __future__ import annotations

import shlex
import socket
from typing import Any

STATUSES = ("running", "done", "failed", "interrupted")
CORPUS_FLAGS = {"text_col": "--text-col", "label_col": "--label-col", "role_col": "--role-col",
                "dialogue_col": "--dialogue-col", "fmt": "--format", "encoding": "--encoding", "split": "--split",
                "limit": "--limit", "skip_blank": "--skip-blank"}
"""load_corpus keyword -> the `dialin run` flag that sets it."""
CORPUS_DEFAULTS: dict[str, Any] = {"text_col": "text", "encoding": "utf-8", "skip_blank": False}


def host() -> str:
    return socket.gethostname()


def resume_command(data_path: str | None, run_id: str, corpus_options: dict[str, Any] | None = None,
                   config_path: str | None = None) -> str:
    """The command line that continues ``run_id`` (same data, same columns, same store)."""
    words = ["dialin", "run", data_path or "DATA"]
    for key, value in (corpus_options or {}).items():
        if key not in CORPUS_FLAGS or value is None or value == CORPUS_DEFAULTS.get(key):
            continue
        words += [CORPUS_FLAGS[key]] if value is True else [CORPUS_FLAGS[key], str(value)]
    if config_path:
        words += ["--config", str(config_path)]
    return shlex.join(words + ["--resume", run_id])


def effective(row: dict[str, Any]) -> dict[str, Any]:
    """The row with its real status: a ``running`` run whose process has gone is ``interrupted``."""
    out = dict(row)
    from dialin.llm.processes import _pid_alive  # one definition of "is this process alive" (zombies count as gone)

    if out.get("status") == "running" and out.get("pid") and out.get("host") == host() and not _pid_alive(out["pid"]):
        out["status"] = "interrupted"
        out["reason"] = f"its process (pid {out['pid']}) ended without finishing (killed, or the machine stopped)"
    if out.get("status") == "done":
        out["resume"] = None
    return out
