"""llama.cpp vs vLLM CPU on the same model and prompts, side by side in one run (docs/BENCHMARKS.md, issue 15).

Both servers serve the bundled SmolLM2-135M (llama.cpp: the Q4_1 GGUF; vLLM: the same GGUF de-quantised to
bf16 by `dialin serve`). Measured:
1. judge calls per second at concurrency 1 and 8: the same good/bad judge prompts (10 example-corpus
   utterances each, constrained choice, top-20 logprobs, cache off), backends alternating;
2. the loop's wall time: `dialin run` on the example corpus with judge, namer and K predictor on that
   backend (same method settings, a fresh store each, so every call is paid).

    DIALIN_HOME=/tmp/home-bench python research/bench_backends.py --calls 24 --json-out /tmp/bench.json
Needs both runtimes: bash scripts/setup and bash scripts/setup --vllm. Stops the servers it started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from dialin.config import Config
from dialin.data import load_corpus
from dialin.llm.router import LLMRouter
from dialin.runner import run_discovery
from dialin.llm.serve import ensure_servers, running_servers, stop_servers
from dialin.store import Store

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = {"llama": {"backend": "llamacpp", "server_args": {"logits_all": True}},
            "vllm": {"backend": "vllm", "server_args": {"enforce_eager": True}}}  # as configs/vllm-local.yaml


def config(store: Path, backend: str, with_both: bool = False, llama_threads: int = 1) -> Any:
    # vLLM CPU binds its worker to one core (it reserves the other); llama.cpp gets the same one thread by
    # default, so both backends compute on one core (and llama.cpp's spin barriers do not stall on a busy core)
    endpoints = {name: {"base_url": "auto", "model_path": "bundled:smollm2-135m", "n_ctx": 2048,
                        "max_concurrency": 8, "timeout_s": 600, **extra,
                        **({"n_threads": llama_threads} if name == "llama" else {})}
                 for name, extra in BACKENDS.items() if with_both or name == backend}
    roles = {f"judge_{name}": {"endpoint": name, "model": "smollm2-135m", "prompt": "judge", "max_tokens": 4,
                               "logprobs": True} for name in endpoints}
    roles.update({"judge": {**roles[f"judge_{backend}"]},
                  "namer": {"endpoint": backend, "model": "smollm2-135m", "prompt": "namer", "max_tokens": 24,
                            "logprobs": False},
                  "k_predictor": {"endpoint": backend, "model": "smollm2-135m", "prompt": "k_predictor",
                                  "max_tokens": 64, "logprobs": False}})
    # validated directly, not merged over the defaults (whose `local` Qwen endpoint would be served too)
    return Config.model_validate({"store": str(store), "embedder": {"progress": False}, "endpoints": endpoints,
                                  "roles": roles, "method": {"naming": "select"}})


def prompts(corpus_path: Path, n: int, seed: int = 0) -> list[str]:
    rows = [json.loads(x) for x in corpus_path.read_text(encoding="utf-8").splitlines() if x.strip()]
    texts = [r["text"] for r in rows if r.get("role") == "customer"]
    rng = random.Random(seed)
    return ["\n".join(f"- {t}" for t in rng.sample(texts, 10)) for _ in range(n)]


async def throughput(router: LLMRouter, role: str, sets: list[str], concurrency: int) -> dict[str, float]:
    sem = asyncio.Semaphore(concurrency)

    async def one(s: str) -> float:
        async with sem:
            r = await router.complete(role, {"sentences": s}, choices=["good", "bad"], cache=False, stage="bench")
            return r.latency_ms

    await one(sets[0])  # warm: the prompt's fixed prefix in the server's cache, the client connected
    t0 = time.perf_counter()
    lat = await asyncio.gather(*(one(s) for s in sets))
    wall = time.perf_counter() - t0
    return {"calls": len(sets), "wall_s": round(wall, 2), "calls_per_s": round(len(sets) / wall, 2),
            "mean_latency_ms": round(sum(lat) / len(lat), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=str(ROOT / "examples" / "customer_service.jsonl"))
    ap.add_argument("--calls", type=int, default=24)
    ap.add_argument("--json-out", default=None)
    ap.add_argument("--llama-threads", type=int, default=1, help="llama.cpp threads (vLLM CPU uses one core)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-backends-"))
    out: dict[str, Any] = {"model": "bundled:smollm2-135m", "calls": args.calls, "llama_threads": args.llama_threads,
                           "load_average_start": os.getloadavg(), "throughput": {}, "loop": {}}
    try:
        both = config(work / "calls.db", "llama", with_both=True, llama_threads=args.llama_threads)
        t0 = time.perf_counter()
        urls = ensure_servers(both)
        out["servers_ready_s"] = round(time.perf_counter() - t0, 1)
        out["startup_s"] = {s.name: s.startup_s for s in running_servers()}
        router = LLMRouter(both, Store(work / "calls.db"), run_id="bench", base_urls=urls)
        sets = prompts(Path(args.corpus), args.calls)
        for conc in (1, 8):
            order = ["llama", "vllm"] if conc == 1 else ["vllm", "llama"]
            for name in order:
                res = asyncio.run(throughput(router, f"judge_{name}", sets, conc))
                out["throughput"][f"{name}@{conc}"] = res
                print(name, "concurrency", conc, res, flush=True)
        corpus = load_corpus(args.corpus, role_col="role", label_col="intent")
        for name in ("llama", "vllm"):
            cfg = config(work / f"loop-{name}.db", name, llama_threads=args.llama_threads)
            t0 = time.perf_counter()
            result = run_discovery(corpus, cfg, base_urls={name: urls[name]}, store=Store(work / f"loop-{name}.db"))
            wall = time.perf_counter() - t0
            calls = [c for c in Store(work / f"loop-{name}.db").calls() if not c["cached"]]
            out["loop"][name] = {"wall_s": round(wall, 1), "llm_calls": len(calls),
                                 "llm_s": round(sum(c["latency_ms"] or 0 for c in calls) / 1000, 1),
                                 "clusters": len(result.get("clusters", [])),
                                 "nmi": result.get("metrics", {}).get("nmi")}
            print(name, "loop", out["loop"][name], flush=True)
    finally:
        stop_servers()
    out["load_average_end"] = os.getloadavg()
    print(json.dumps(out, indent=1))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
