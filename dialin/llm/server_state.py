"""The record of the local llama.cpp servers dialin started: ``$DIALIN_HOME/servers/servers.json``.

Reads and writes go through an inter-process file lock and an atomic replace, so two
runs starting servers at once never lose an entry.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Iterator

from pydantic import BaseModel, Field

from dialin.config import dialin_home


class ServerInfo(BaseModel):
    """A llama.cpp server dialin started (one line of ``servers.json``)."""

    name: str
    """Server name: the endpoint name it was started for."""
    pid: int
    port: int
    base_url: str
    """OpenAI-compatible URL, ``http://127.0.0.1:PORT/v1``."""
    model_path: str
    """The GGUF file it serves."""
    alias: str
    """The ``--model_alias`` it was started with (any ``model`` name is served anyway)."""
    started_at: datetime
    n_ctx: int
    n_threads: int
    server_args: dict[str, str | int | float | bool] = {}
    """Extra llama_cpp.server flags it was started with (a server is reused only when they match)."""
    log_path: str | None = None
    backend: str = "llamacpp"
    """llamacpp, or vllm (``model_path`` is then the HF folder it serves)."""
    adapters: dict[str, str] = {}
    """vLLM: LoRA adapter name -> peft folder it was started with."""
    adapters_sha256: dict[str, str] = {}
    """vLLM: adapter name -> sha256 of its files at start (a changed adapter means another server)."""
    startup_s: float | None = Field(None, description="Seconds from launch to the first healthy answer.")


# ------------------------------------------------------------------------------- state file

def servers_dir() -> Path:
    return dialin_home() / "servers"


def state_path() -> Path:
    """``$DIALIN_HOME/servers/servers.json``."""
    return servers_dir() / "servers.json"


@contextlib.contextmanager
def _file_lock(name: str) -> Iterator[None]:
    """An exclusive inter-process lock on ``servers/<name>`` (a no-op where fcntl is missing)."""
    path = servers_dir() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no locking
        yield
        return
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _state_lock() -> contextlib.AbstractContextManager[None]:
    return _file_lock("servers.json.lock")


def _load_state() -> dict[str, ServerInfo]:
    try:
        raw = json.loads(state_path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # unreadable: start afresh rather than refuse to serve
    servers = raw.get("servers", []) if isinstance(raw, dict) else []
    out: dict[str, ServerInfo] = {}
    for item in servers:
        try:
            info = ServerInfo.model_validate(item)
        except ValueError:
            continue
        out[info.name] = info
    return out


def _save_state(state: dict[str, ServerInfo]) -> None:
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"servers": [json.loads(s.model_dump_json()) for s in state.values()]}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".servers.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
