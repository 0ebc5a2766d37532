"""Scale-out on Ray: ``dialin run DATA --ray [ADDRESS]`` embeds the corpus with Ray Data.

The sentences are split into blocks and each block is encoded by a pool of Ray actors, one
embedding model per actor, spread over the cluster's CPUs (``map_batches`` with a callable
class); vectors come back in order and go into the run's store cache like any others. Small
calls (naming candidates, merge names) stay in this process: shipping 56 words to a worker
costs more than encoding them here. Judge (and namer) calls fan out over the servers of their
endpoint: give it several base URLs (``base_url: [URL, URL]``, dialin/llm/server_pool.py), e.g. one
vLLM server per GPU node.

``ADDRESS``: none (``--ray`` alone) starts a local Ray on this machine (or joins the cluster
that ``RAY_ADDRESS`` names); ``auto`` joins the cluster this machine is part of (``ray start``);
``ray://HEAD:10001`` connects a client to a remote head. The workers must be able to import
dialin and load the embedder: install dialin (with the same extras) on every node, or run on a
cluster whose image has it. Ray is an optional extra: ``pip install 'dialin[ray]'``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from dialin.config import EmbedderConfig
from dialin.embed import Embedder, make_embedder, normalise
from dialin.errors import ConfigError

RAY_VERSION = "2.60.0"
INSTALL = f"pip install 'dialin[ray]'  (or: pip install 'ray[data]=={RAY_VERSION}')"
MIN_RAY_TEXTS = 2048
"""Calls with fewer texts are encoded in this process."""


def require_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ConfigError(f"--ray needs Ray, which is not installed: {INSTALL}") from None
    return ray


def connect(address: str | None) -> dict[str, Any]:
    """Start or join Ray; what the cluster offers (nodes, CPUs)."""
    ray = require_ray()
    if not ray.is_initialized():
        env = {"env_vars": {k: v for k, v in os.environ.items()
                            if k in ("HF_HUB_OFFLINE", "DIALIN_HOME", "PYTHONPATH", "TOKENIZERS_PARALLELISM")}}
        try:
            ray.init(address=address or None, runtime_env=env, log_to_driver=False, include_dashboard=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"cannot start or join Ray at {address or 'a local instance'}: {exc}. Start a head "
                              "with `ray start --head` and pass --ray auto, or --ray ray://HEAD:10001") from exc
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return {"address": address or "local", "nodes": len(nodes), "cpus": int(ray.cluster_resources().get("CPU", 0))}


class _EncodeBlock:
    """A Ray Data actor: loads the embedder once, then encodes the blocks it is given."""

    def __init__(self, config: dict[str, Any]) -> None:
        try:  # one CPU per actor (num_cpus=1): torch's own thread pool would oversubscribe the node
            import torch

            torch.set_num_threads(1)
        except ImportError:
            pass
        self.embedder = make_embedder(EmbedderConfig.model_validate(config), store=None)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        X = self.embedder.encode([str(t) for t in batch["text"]])
        return {"i": batch["i"], "vector": X}


class RayEmbedder:
    """Encodes big calls with Ray Data actors, small ones with a local copy of the same embedder."""

    def __init__(self, config: EmbedderConfig, workers: int | None = None, batch_size: int = 512) -> None:
        self.config = config.model_copy(update={"cache": False, "progress": False})
        self.local = make_embedder(self.config, store=None)
        self.name = self.local.name
        self.workers = workers
        self.batch_size = batch_size
        self.calls = 0
        """Calls that went to Ray."""

    def encode(self, texts: list[str]) -> np.ndarray:
        if len(texts) < MIN_RAY_TEXTS:
            return self.local.encode(texts)
        ray = require_ray()
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        ray.data.DataContext.get_current().enable_progress_bars = False
        workers = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        ds = ray.data.from_items([{"i": i, "text": t} for i, t in enumerate(texts)])
        out = ds.map_batches(_EncodeBlock, fn_constructor_kwargs={"config": self.config.model_dump()},
                             batch_size=self.batch_size, batch_format="numpy", concurrency=workers, num_cpus=1)
        X = np.zeros((len(texts), 0), dtype=np.float32)
        for batch in out.iter_batches(batch_size=4096, batch_format="numpy"):
            if X.shape[1] == 0:
                X = np.zeros((len(texts), batch["vector"].shape[1]), dtype=np.float32)
            X[batch["i"]] = batch["vector"]
        self.calls += 1
        return normalise(X)


def ray_embedder(config: EmbedderConfig, address: str | None, store: Any = None) -> tuple[Embedder, dict[str, Any]]:
    """The run's embedder on Ray (cached in the store like the local one) and the cluster it runs on."""
    info = connect(address)
    inner = RayEmbedder(config, workers=info["cpus"] or None)
    if store is not None and config.cache:
        from dialin.embed import CachedEmbedder

        return CachedEmbedder(inner, store), info
    return inner, info
