"""The cost curve: `dialin run --json` on each scale corpus, one stage table (seconds / peak RSS MB) per size.

    python scripts/make_scale_corpus.py --out /tmp/scale
    python scripts/bench_scale.py /tmp/scale/scale-5000.jsonl /tmp/scale/scale-10000.jsonl \\
        [--config CFG] [--set method.clustering=kmeans ...] [--ray [ADDRESS]] --out /tmp/scale/bench.json

Each size runs in its own `dialin run` process (so peak memory is that run's), with the config and
overrides given (``--set KEY=VALUE`` becomes ``DIALIN__KEY__...=VALUE``). It prints a markdown table
per measure and writes every run's JSON (stages, stats, metrics against the gold labels) to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

STAGES = ("servers", "embedding", "clustering", "cascade", "judging", "k_proposal", "k_selection", "leftovers",
          "naming", "roles", "merging", "store", "total")


def run_one(path: str, config: str | None, env: dict[str, str], ray: str | None) -> dict:
    cmd = [sys.executable, "-m", "dialin.cli", "run", path, "--label-col", "label", "--json"]
    if config:
        cmd += ["--config", config]
    if ray is not None:
        cmd += ["--ray"] + ([ray] if ray != "local" else [])
    started, load_before = time.perf_counter(), os.getloadavg()
    before = os.times()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    after = os.times()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"error: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout)
    out["wall_s"] = round(wall, 1)
    # CPU of the run and its children (the llama.cpp servers it started): user + system seconds
    out["cpu_s"] = round((after.children_user - before.children_user) + (after.children_system - before.children_system), 1)
    out["load_avg"] = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]}
    out["file"] = path
    return out


def table(results: list[dict], key: str, fmt: str) -> str:
    sizes = [r["stats"]["rows"] for r in results]
    head = "| stage | " + " | ".join(f"{n:,}" for n in sizes) + " |"
    lines = [head, "|---" * (len(sizes) + 1) + "|"]
    for stage in STAGES:
        cells = []
        for r in results:
            row = next((s for s in r["stats"]["stages"] if s["stage"] == stage), None)
            cells.append(format(row[key], fmt) if row and key in row else "-")
        if any(c != "-" for c in cells):
            lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--config", default=None)
    ap.add_argument("--set", dest="sets", action="append", default=[], help="KEY=VALUE, e.g. method.clustering=kmeans")
    ap.add_argument("--ray", nargs="?", const="local", default=None)
    ap.add_argument("--out", required=True, help="JSON file for all runs.")
    ap.add_argument("--store-dir", default=None, help="A fresh store (cold caches) per run in this folder.")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    for item in args.sets:
        key, _, value = item.partition("=")
        env["DIALIN__" + key.upper().replace(".", "__")] = value
    results = []
    for path in args.files:
        if args.store_dir:  # a fresh store per run: cold embedding and LLM caches
            Path(args.store_dir).mkdir(parents=True, exist_ok=True)
            env["DIALIN__STORE"] = str(Path(args.store_dir) / f"{Path(path).stem}-{int(time.time())}.db")
        r = run_one(path, args.config, env, args.ray)
        results.append(r)
        m = r.get("metrics") or {}
        print(f"{path}: {r['stats']['rows']} rows, {r['stats']['clusters']} intents, wall {r['wall_s']} s, "
              f"CPU {r['cpu_s']} s (run + its servers), load average before {r['load_avg']['before']} after "
              f"{r['load_avg']['after']}, NMI {m.get('nmi')}, ACC {m.get('acc')}", flush=True)
        Path(args.out).write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    print("\nseconds per stage\n" + table(results, "seconds", ".1f"))
    print("\nCPU seconds per stage (the run's process; servers not counted)\n" + table(results, "cpu_seconds", ".1f"))
    print("\npeak RSS (MB) per stage\n" + table(results, "peak_rss_mb", ".0f"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
