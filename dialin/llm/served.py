"""What model answers behind an endpoint: the part of the answer-cache key that names the server's model.

The cache must not hand back another model's answers when an endpoint is pointed at
another server or an adapter is retrained under the same name. So the key holds:

- llama.cpp served by dialin (``base_url: auto``): the GGUF's sha256 (the pinned hash for a
  bundled model, else the file's, remembered by size and mtime) and the ``lora_path`` file's;
- vLLM: what its ``/v1/models`` says it serves for the role's model name (``root``, ``parent``
  and the parent's ``root``) and, when that root is a local folder (a LoRA adapter), the
  sha256 of its files; asked once per router and model;
- always the base URL; ``auto`` for the servers dialin starts, whose port changes from one
  start to the next while the model (keyed above) does not.

llama.cpp's ``/v1/models`` is not asked: it names only the alias, and it queues on the model lock.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any, Callable

from dialin.config import EndpointConfig
from dialin.llm.gguf import BUNDLED, BUNDLED_PREFIX, _CHUNK, _is_stamped, _read_stamps, _sha256, _stamp


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered by (path, size, mtime) in ``$DIALIN_HOME/models/verified.json``."""
    entry = _read_stamps().get(str(path))
    if isinstance(entry, list) and len(entry) == 3 and _is_stamped(path, str(entry[2])):
        return str(entry[2])
    digest = _sha256(path)
    _stamp(path, digest)
    return digest


def dir_sha256(folder: Path) -> str:
    """sha256 over a folder's files (relative names and contents, in name order)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def gguf_identity(model_path: str | None) -> str | None:
    """The sha256 of the GGUF a llama.cpp ``auto`` endpoint serves, without assembling a bundled model."""
    spec = (model_path or "").strip()
    if spec.startswith(BUNDLED_PREFIX):
        model = BUNDLED.get(spec[len(BUNDLED_PREFIX):].strip())
        return model.sha256 if model else spec
    path = Path(spec).expanduser()
    return file_sha256(path.resolve()) if path.is_file() else spec or None


def _local_llamacpp(ep: EndpointConfig) -> dict[str, Any]:
    lora = ep.server_args.get("lora_path")
    lora_path = Path(str(lora)).expanduser() if lora else None
    return {"gguf_sha256": gguf_identity(ep.model_path),
            "lora_sha256": file_sha256(lora_path.resolve()) if lora_path and lora_path.is_file() else lora}


async def _vllm(client: Any, model: str) -> dict[str, Any]:
    listed = {m.id: m for m in (await client.models.list()).data}
    entry = listed.get(model)
    if entry is None:
        return {"served": sorted(listed)}  # the call will be refused; the key still differs
    root, parent = getattr(entry, "root", None), getattr(entry, "parent", None)
    out: dict[str, Any] = {"root": root, "parent": parent}
    if parent is not None and parent in listed:
        out["parent_root"] = getattr(listed[parent], "root", None)
    folder = Path(str(root)) if root else None
    if parent is not None and folder is not None and folder.is_dir():
        out["adapter_sha256"] = await asyncio.to_thread(dir_sha256, folder)
    return out


class ServedModels:
    """Per router: (endpoint, model) -> what answers there, looked up once."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], dict[str, Any]] = {}
        self._locks: dict[tuple[str, str, int], asyncio.Lock] = {}

    async def identity(self, endpoint: str, ep: EndpointConfig, model: str, url: str | None,
                       client: Callable[[], Any]) -> dict[str, Any]:
        """``url`` None: an ``auto`` endpoint with no server yet (the call will say so)."""
        key = (endpoint, model)
        if key in self._known:
            return self._known[key]
        lock = self._locks.setdefault((endpoint, model, id(asyncio.get_running_loop())), asyncio.Lock())
        async with lock:
            if key not in self._known:
                self._known[key] = await self._look_up(ep, model, url, client)
        return self._known[key]

    async def _look_up(self, ep: EndpointConfig, model: str, url: str | None,
                       client: Callable[[], Any]) -> dict[str, Any]:
        ident: dict[str, Any] = {"base_url": "auto" if ep.base_url == "auto" else url}
        if ep.backend == "llamacpp" and ep.base_url == "auto":
            ident.update(_local_llamacpp(ep))
        elif ep.backend == "vllm":
            if url is None:
                return {**ident, "served": None}
            try:
                ident.update(await _vllm(client(), model))
            except Exception as exc:  # noqa: BLE001 - an unreachable server: the call itself reports it
                ident["served"] = f"unknown ({type(exc).__name__})"
        return ident


def describe_served(listed: list[Any]) -> str:
    """``/v1/models`` in words: vLLM's base models and the LoRA adapters on them (its ``root``/``parent``)."""
    parts = []
    for m in listed:
        root, parent = getattr(m, "root", None), getattr(m, "parent", None)
        if parent:
            parts.append(f"{m.id} (LoRA adapter on {parent}: {root})")
        elif root and root != m.id:
            parts.append(f"{m.id} (base model {root})")
        else:
            parts.append(m.id)
    return ", ".join(parts)
