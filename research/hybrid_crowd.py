"""The loop's NMI with a crowd of three SIMULATED judges (they read the gold labels; issue 23, session 10).

Per data set, seed S and variant, ``dialin bench --methods dialin-crowd`` in process against one
in-process simulated server: roles ``judge`` = ``sim-0.9-sS``, ``judge_7`` = ``sim-0.7-sS``, ``judge_8`` =
``sim-0.8-sS`` (balanced errors; the judges' coins follow the seed), cascade off so every verdict is the
crowd's, K predictor off. Variants: ``majority``; ``ds0`` (Dawid-Skene, crowd-kit's plain fit,
``crowd.smoothing: 0``); ``ds10`` (the smoothed fit, the default); ``ds10-ctl`` (smoothed, with
``crowd.control_rate: 0.2`` control tasks from the gold labels anchoring it), ``majority-ctl``, and
``best-member`` (the ``sim-0.9-sS`` judge alone, no crowd).
Appends one JSON line per run to OUT; ``--summary`` prints mean +- sd per data set and variant.

    PYTHONPATH=$PWD python research/hybrid_crowd.py OUT.jsonl --data b77 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict

DATA = {"b77": ("../shared/data/banking77/banking77_small.jsonl", None, 600),
        "hwu64": ("../shared/data/hwu64/hwu64.jsonl", "test", None)}
VARIANTS = {"majority": ("majority", 10.0, 0.0), "ds0": ("dawid_skene", 0.0, 0.0), "ds10": ("dawid_skene", 10.0, 0.0),
            "ds10-ctl": ("dawid_skene", 10.0, 0.2), "majority-ctl": ("majority", 10.0, 0.2),
            "best-member": ("majority", 10.0, 0.0)}  # the sim-0.9 judge alone, no crowd


def crowd_config(base_url: str, seed: int, variant: str):  # noqa: ANN201
    from dialin.config import Config, load_config

    agg, smoothing, rate = VARIANTS[variant]
    data = load_config(None).model_dump()
    data["endpoints"]["simulated"] = {"base_url": base_url, "backend": "vllm", "max_concurrency": 16,
                                      "timeout_s": 30.0, "max_retries": 2}
    role = {"endpoint": "simulated", "prompt": "judge", "max_tokens": 4, "logprobs": True, "extra_body": {}}
    for name, acc in (("judge", 0.9), ("judge_7", 0.7), ("judge_8", 0.8)):
        data["roles"][name] = {**data["roles"].get(name, {}), **role, "model": f"sim-{acc}-s{seed}"}
    data["roles"]["namer"] = {**data["roles"]["namer"], "endpoint": "simulated", "model": f"sim-0.9-s{seed}",
                              "logprobs": False, "extra_body": {}}
    members = [] if variant == "best-member" else ["judge", "judge_7", "judge_8"]
    data["crowd"] = {"members": members, "aggregation": agg, "smoothing": smoothing,
                     "control_rate": rate}
    data["method"].update(use_k_predictor=False, cascade_low=None, cascade_high=None)
    return Config.model_validate(data)


def run(out: str, data: str, seeds: list[int], variants: list[str]) -> None:
    from dialin.data import load_corpus
    from dialin.measure.bench import run_bench
    from dialin.measure.simulate import SimSpec, SimulatedServer

    path, split, limit = DATA[data]
    corpus = load_corpus(path, text_col="text", label_col="label", split=split, limit=limit, skip_blank=True)
    sim = SimulatedServer(corpus, SimSpec()).start_background()
    try:
        for seed in seeds:
            for variant in variants:
                t0 = time.time()
                rep = run_bench(corpus, crowd_config(sim.base_url, seed, variant), ["dialin-crowd"], seed=seed,
                                base_urls={"simulated": sim.base_url})
                row = rep["table"][0]
                rec = {"data": data, "seed": seed, "variant": variant, "nmi": row["nmi"], "acc": row["acc"],
                       "clusters": row["clusters"], "llm_calls": row["llm_calls"], "run_id": row.get("run_id"),
                       "wall_s": round(time.time() - t0, 1), "note": "SIMULATED judges: they read the gold labels"}
                with open(out, "a", encoding="utf-8") as f:
                    f.write(json.dumps(rec) + "\n")
                print(data, seed, variant, f"NMI {row['nmi']:.2f} ACC {row['acc']:.2f}", rec["wall_s"], "s", flush=True)
    finally:
        sim.stop()


def summary(out: str) -> None:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for line in open(out, encoding="utf-8"):
        r = json.loads(line)
        groups[(r["data"], r["variant"])].append(r)
    fmt = lambda xs: f"{statistics.mean(xs):.2f} +- {statistics.pstdev(xs):.2f}"  # noqa: E731
    for (data, variant), rs in sorted(groups.items()):
        print(f"{data:6} {variant:13} seeds={[r['seed'] for r in rs]} NMI {fmt([r['nmi'] for r in rs])}"
              f"  ACC {fmt([r['acc'] for r in rs])}  clusters {fmt([r['clusters'] for r in rs])}"
              f"  calls {fmt([r['llm_calls'] for r in rs])}  per seed NMI {[r['nmi'] for r in rs]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--data", default="b77", choices=sorted(DATA))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--variants", default="majority,ds0,ds10,ds10-ctl")
    ap.add_argument("--summary", action="store_true")
    a = ap.parse_args()
    if a.summary:
        summary(a.out)
    else:
        run(a.out, a.data, [int(s) for s in a.seeds.split(",")], a.variants.split(","))


if __name__ == "__main__":
    main()
