"""The local runtime: llama.cpp servers for endpoints whose ``base_url`` is ``auto``.

Each server is llama-cpp-python's OpenAI-compatible server (``llama_cpp.server``, run
through a small bootstrap, see ``_BOOTSTRAP``) in its own session, so it outlives the
command that started it and later runs reuse it. Running servers are recorded in ``$DIALIN_HOME/servers/servers.json``; their
output goes to ``$DIALIN_HOME/servers/NAME.log``.

- ``start_server(name, endpoint, alias)`` starts one and waits until ``/v1/models`` answers
  and a 1-token test completion works.
- ``running_servers()`` lists the recorded servers that are alive and answer.
- ``ensure_servers(config)`` gives every ``auto`` endpoint a base_url, reusing a running
  server that serves the same model file.
- ``stop_servers(names)`` stops them (SIGTERM, then SIGKILL).

``backend: vllm`` endpoints get a vLLM server (``dialin/llm/vllm_serve.py``): same record, same stop.
A llama.cpp server holds one model and serves it under any ``model`` name; requests are
served one at a time. Liveness checks use ``/openapi.json``, not ``/v1/models``: the latter
waits for the model lock, and a request queued on it interrupts another client's stream.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from dialin.config import Config, EndpointConfig
from dialin.errors import ConfigError, DialinError, EndpointUnreachable
from dialin.llm.gguf import model_path_for
from dialin.llm.processes import (  # noqa: F401 - vllm_serve reaches these through this module
    HOST,
    _children,
    _free_port,
    _log_tail,
    _pid_alive,
    _port_free,
    _terminate,
)
from dialin.llm.server_state import (  # noqa: F401 - ServerInfo, servers_dir and state_path are public here too
    ServerInfo,
    _file_lock,
    _load_state,
    _save_state,
    _state_lock,
    servers_dir,
    state_path,
)

STARTUP_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0
PROBE_TIMEOUT_S = 3.0
SLOW_PROBE_TIMEOUT_S = 15.0  # last chance before ensure_servers replaces a silent server
# Several prompt tokens on purpose: a one-token prompt takes another matmul path than a batch.
WARM_UP_PROMPT = "This is a short test of the local model server: it checks that a batch of prompt tokens can be read."
SERVER_MODULE = "llama_cpp.server"
VLLM_MODULE = "vllm.entrypoints.openai.api_server"  # dialin/llm/vllm_serve.py starts it
EXTRA_BUFTS_ENV = "DIALIN_LLAMA_EXTRA_BUFTS"

# The server runs through this bootstrap instead of a bare ``-m llama_cpp.server``: a
# llama.cpp built on a CPU that reports AMX (GGML_NATIVE) puts weights in ggml's AMX
# "extra buffer", and on VMs that do not really support AMX the first matmul dies with a
# general protection fault in ``ldtilecfg`` (the server answers /v1/models, then segfaults
# on the first completion). Turning extra buffer types off avoids the AMX path (and the
# CPU weight repacking, a modest speed loss). ``DIALIN_LLAMA_EXTRA_BUFTS``: ``auto``
# (default: off when the build has AMX kernels), ``0`` (always off), ``1`` (leave on).
_BOOTSTRAP = """\
import ctypes, os, pathlib, runpy, sys
import llama_cpp, llama_cpp.llama_cpp as _ll
mode = os.environ.get("DIALIN_LLAMA_EXTRA_BUFTS", "auto").strip().lower()
off = mode in ("0", "false", "off", "no")
if mode == "auto":
    try:
        libdir = pathlib.Path(llama_cpp.__file__).parent / "lib"
        lib = next(p for p in sorted(libdir.glob("*ggml-cpu*")) if ".so" in p.name or p.suffix in (".dylib", ".dll"))
        off = bool(ctypes.CDLL(str(lib)).ggml_cpu_has_amx_int8())
    except Exception:
        off = False
if off:
    _default = _ll.llama_model_default_params
    def _params():
        params = _default()
        params.use_extra_bufts = False
        return params
    _ll.llama_model_default_params = _params
    print("dialin: llama.cpp extra buffer types (AMX, repack) disabled", file=sys.stderr, flush=True)
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


# ------------------------------------------------------------------------- process checks


def _is_our_server(info: ServerInfo) -> bool:
    """Whether ``info.pid`` is still a llama.cpp server on ``info.port`` (pids get reused)."""
    try:
        cmdline = Path(f"/proc/{info.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (macOS): trust the pid
    args = [a.decode(errors="replace") for a in cmdline]
    module = VLLM_MODULE if info.backend == "vllm" else SERVER_MODULE
    return any(module in a for a in args) and str(info.port) in args


def _alive(info: ServerInfo) -> bool:
    return _pid_alive(info.pid) and _is_our_server(info)


def _http_ok(url: str, timeout: float) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    try:
        with opener.open(url, timeout=timeout) as resp:
            return resp.status == 200
    except urllib.error.HTTPError as exc:
        exc.close()
        return False
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _warm_up(base_url: str, timeout: float, model: str | None = None) -> str | None:
    """One 1-token completion: None when it works, else why not (a build that only crashes
    on the first matmul still answers /v1/models)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    body = json.dumps({"prompt": WARM_UP_PROMPT, "max_tokens": 1, "temperature": 0.0, "model": model}).encode()
    req = urllib.request.Request(f"{base_url}/completions", data=body,
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with opener.open(req, timeout=timeout) as resp:
            json.load(resp)
        return None
    except urllib.error.HTTPError as exc:
        exc.close()
        return f"HTTP {exc.code}: {exc.reason}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"


def _answers(info: ServerInfo, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """The server's HTTP loop answers (without queueing on the model lock; vLLM: its cheap /health)."""
    return _http_ok(f"http://{HOST}:{info.port}/{'health' if info.backend == 'vllm' else 'openapi.json'}", timeout)


def _check_runtime() -> None:
    for module in ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context"):
        if importlib.util.find_spec(module) is None:
            raise ConfigError(
                f"the local runtime needs llama-cpp-python with its server extra ({module} is missing). "
                "Install it with:\n  pip install 'llama-cpp-python[server]==0.3.36'\n"
                "or point the endpoint's base_url at a running OpenAI-compatible server."
            )


# ------------------------------------------------------------------------------ public API

def _wait_until_healthy(proc: subprocess.Popen[bytes], name: str, base_url: str, model: Path,
                        log_path: Path, deadline: float, *, may_retry: bool) -> bool:
    """Poll ``/v1/models``, then make one test completion. False: the port was taken, retry."""
    while True:
        if proc.poll() is not None:
            _children.pop(proc.pid, None)
            tail = _log_tail(log_path)
            if may_retry and "address already in use" in tail.lower():
                return False
            raise EndpointUnreachable(
                f"llama.cpp server '{name}' exited with code {proc.returncode} while starting "
                f"(model {model}). Last lines of {log_path}:\n{tail}"
            )
        if _http_ok(f"{base_url}/models", timeout=1.0):
            problem = _warm_up(base_url, timeout=max(deadline - time.monotonic(), 5.0))
            if problem is None:
                return True
            time.sleep(0.5)  # let a crashing process finish writing its log
            code = proc.poll()
            status = f"exited with code {code}" if code is not None else "was stopped"
            raise EndpointUnreachable(
                f"llama.cpp server '{name}' answered /v1/models but a 1-token test completion failed "
                f"({problem}); it {status} (model {model}). A negative code is a crash signal (-11: "
                f"segfault; try {EXTRA_BUFTS_ENV}=0). Last lines of {log_path}:\n{_log_tail(log_path)}"
            )
        if time.monotonic() > deadline:
            raise EndpointUnreachable(
                f"llama.cpp server '{name}' did not answer {base_url}/models in time (model {model}); "
                f"stopped it. Last lines of {log_path}:\n{_log_tail(log_path)}"
            )
        time.sleep(0.2)


def start_server(
    name: str,
    endpoint: EndpointConfig,
    model_alias: str,
    port: int | None = None,
    log_dir: Path | None = None,
    *,
    startup_timeout_s: float = STARTUP_TIMEOUT_S,
) -> ServerInfo:
    """Start a llama.cpp server for ``endpoint``, wait until it answers, record it.

    ``port`` None picks a free one. Output goes to ``log_dir/NAME.log`` (default
    ``$DIALIN_HOME/servers``). Healthy means ``/v1/models`` answers 200 and a 1-token
    completion works. Raises ``EndpointUnreachable`` with the log's tail when the process
    dies or is not healthy within ``startup_timeout_s`` (it is stopped then).
    """
    _check_runtime()
    model = model_path_for(endpoint)
    with _state_lock():
        existing = _load_state().get(name)
    if existing is not None and _alive(existing):
        raise DialinError(
            f"a server named '{name}' is already running (pid {existing.pid}, {existing.base_url}, "
            f"{existing.model_path}). Stop it first (stop_servers(['{name}']) / dialin serve --stop)."
        )
    if port is not None and not _port_free(port):
        raise ConfigError(f"port {port} on {HOST} is in use: pick another or leave it unset for a free one")
    lora = endpoint.server_args.get("lora_path")
    if lora and not Path(str(lora)).expanduser().is_file():
        raise ConfigError(f"endpoint '{name}': server_args.lora_path {lora} is not a file. Train one with "
                          "`dialin finetune judge|namer --data LABELLED.jsonl --out DIR` (it writes DIR/TASK-lora.gguf) "
                          "or fix the path")
    n_threads = endpoint.n_threads or os.cpu_count() or 1
    log_path = Path(log_dir or servers_dir()) / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)

    attempts = 1 if port is not None else 3  # a picked free port can be taken before the bind
    for attempt in range(attempts):
        chosen = port if port is not None else _free_port()
        args = ["--model", str(model), "--model_alias", model_alias, "--host", HOST, "--port", str(chosen),
                "--n_ctx", str(endpoint.n_ctx), "--n_threads", str(n_threads)]
        for flag, value in endpoint.server_args.items():
            args += [f"--{flag}", str(value).lower() if isinstance(value, bool) else str(value)]
        t0 = time.monotonic()
        with log_path.open("wb") as log:
            log.write(f"$ python -c <dialin bootstrap of {SERVER_MODULE}> {' '.join(args)}\n".encode())
            log.flush()
            proc = subprocess.Popen([sys.executable, "-c", _BOOTSTRAP, *args], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        _children[proc.pid] = proc
        base_url = f"http://{HOST}:{chosen}/v1"
        try:
            healthy = _wait_until_healthy(proc, name, base_url, model, log_path, t0 + startup_timeout_s,
                                          may_retry=attempt + 1 < attempts)
        except BaseException:  # Ctrl-C included: never leave an unrecorded server behind
            if proc.poll() is None:
                _terminate(proc.pid, STOP_TIMEOUT_S)
            raise
        if not healthy:
            continue
        info = ServerInfo(
            name=name, pid=proc.pid, port=chosen, base_url=base_url, model_path=str(model), alias=model_alias,
            started_at=datetime.now(timezone.utc), n_ctx=endpoint.n_ctx, n_threads=n_threads,
            log_path=str(log_path), startup_s=round(time.monotonic() - t0, 2),
            server_args={k: v for k, v in endpoint.server_args.items()},
        )
        with _state_lock():
            state = _load_state()
            state[name] = info
            _save_state(state)
        return info
    raise EndpointUnreachable(f"llama.cpp server '{name}': no free port after {attempts} tries; see {log_path}")


def running_servers() -> list[ServerInfo]:
    """Recorded servers whose process is alive and answers HTTP.

    Entries whose process is gone (or whose pid now belongs to another program) are
    removed from the state file. A live server that does not answer is left recorded, so
    ``stop_servers`` can still stop it, but is not returned.
    """
    with _state_lock():
        state = _load_state()
        alive = {name: info for name, info in state.items() if _alive(info)}
        if len(alive) != len(state):
            _save_state(alive)
    return [info for info in alive.values() if _answers(info)]


def _same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return str(a) == str(b)


def _alias_for(config: Config, endpoint_name: str) -> str:
    for role in config.roles.values():
        if role.endpoint == endpoint_name:
            return role.model
    return endpoint_name


def _reusable(name: str, endpoint: EndpointConfig, running: list[ServerInfo]) -> ServerInfo | None:
    """A server already serving the endpoint's model with its settings: one that answers (same name
    first), else a recorded one that is only slow to answer. Silent recorded ones are stopped."""
    model = model_path_for(endpoint)
    running = [s for s in running if s.backend == "llamacpp"]
    same = [s for s in running if _same_file(s.model_path, model) and _same_settings(s, endpoint)]
    match = next((s for s in same if s.name == name), None) or (same[0] if same else None)
    if match is not None:
        return match
    with _state_lock():
        recorded = {name: s for name, s in _load_state().items() if s.backend == "llamacpp"}
    answering = {s.name for s in running}
    silent = [s for s in recorded.values()
              if s.name not in answering and _same_file(s.model_path, model) and _same_settings(s, endpoint)]
    patient = next((s for s in silent if _answers(s, timeout=SLOW_PROBE_TIMEOUT_S)), None)
    if patient is None and silent:
        stop_servers([s.name for s in silent])
    return patient


def _same_settings(info: ServerInfo, endpoint: EndpointConfig) -> bool:
    """Started with the same context size and extra flags (e.g. logits_all, which decides logprobs)."""
    return info.n_ctx == endpoint.n_ctx and info.server_args == dict(endpoint.server_args)


def _free_name(name: str) -> str:
    """``name``, or ``name-2``, ``name-3``... when a live server already holds it."""
    with _state_lock():
        taken = set(_load_state())
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}-{n}"
    return candidate


def ensure_servers(config: Config, *, startup_timeout_s: float = STARTUP_TIMEOUT_S) -> dict[str, str]:
    """A base_url for every ``auto`` endpoint: a running server with the same model, else a new one.

    Returns endpoint name -> base_url (only the ``auto`` endpoints). A server recorded under
    the endpoint's name but serving another model is left alone (another run may use it);
    the new one is named ``NAME-2``, ``NAME-3``... A recorded server of the same model that
    is alive but does not answer within 15 s is stopped and replaced.
    """
    auto = {name: ep for name, ep in config.endpoints.items() if ep.base_url == "auto"}
    if not auto:
        return {}
    urls: dict[str, str] = {}
    with _file_lock("ensure.lock"):  # two runs starting at once must not both start a server
        running = running_servers()
        for name, endpoint in auto.items():
            if endpoint.backend == "vllm":
                from dialin.llm.vllm_serve import ensure_vllm
                info = ensure_vllm(sys.modules[__name__], name, config, running, startup_timeout_s=startup_timeout_s)
            else:
                info = _reusable(name, endpoint, running)
            if info is None:
                info = start_server(_free_name(name), endpoint, _alias_for(config, name),
                                    startup_timeout_s=startup_timeout_s)
            if info not in running:
                running.append(info)
            urls[name] = info.base_url
    return urls


def stop_servers(names: list[str] | None = None, *, timeout_s: float = STOP_TIMEOUT_S) -> list[ServerInfo]:
    """Stop recorded servers (all when ``names`` is None): SIGTERM, then SIGKILL after ``timeout_s``.

    Returns the servers removed from the state file (names not recorded are ignored). A
    pid that now belongs to another program is never signalled, only forgotten.
    """
    with _state_lock():
        state = _load_state()
        targets = [info for name, info in state.items() if names is None or name in names]
        for info in targets:
            if _alive(info):
                _terminate(info.pid, timeout_s)
            else:
                _children.pop(info.pid, None)
            state.pop(info.name, None)
        _save_state(state)
    return targets


def local_base_urls(config: Config) -> dict[str, str]:
    """Base URLs of the `auto` endpoints, starting local llama.cpp servers when needed."""
    if not any(ep.base_url == "auto" for ep in config.endpoints.values()):
        return {}
    return ensure_servers(config)
