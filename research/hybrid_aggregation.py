"""Crowd aggregation measured with SIMULATED judges that read gold labels (issue 23).

Judge-eval style test clusters (10 sentences, purity 1.0 / 0.9 / 0.7 / 0.5 of one gold intent)
are drawn from a labelled JSONL file; three simulated judges (the loop branch's
``dialin/measure/simulate.py: judge``, imported read-only from ``--simulate``; default
/work/wt-loop) answer at 70, 80 and 90 % accuracy; the votes are aggregated by majority,
weighted (by P(answer)), Dawid-Skene and GLAD (``dialin.agents.crowd_fit``). Prints verdict
accuracy against the simulator's truth per method, mean and spread over seeds, and the
members' accuracy estimated by Dawid-Skene.

    PYTHONPATH=$PWD python research/hybrid_aggregation.py ../shared/data/banking77/banking77_small.jsonl
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import statistics
import sys

from dialin.agents.crowd import aggregate
from dialin.agents.crowd_fit import fit_crowd
from dialin.agents.verdicts import Vote

PURITIES = (1.0, 1.0, 0.9, 0.7, 0.5)


def load_sim(path: str):
    spec = importlib.util.spec_from_file_location("loop_simulate", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["loop_simulate"] = mod
    spec.loader.exec_module(mod)
    return mod


def clusters(by_label: dict[str, list[str]], n: int, rng: random.Random) -> list[list[str]]:
    labels = sorted(by_label)
    out = []
    for _ in range(n):
        purity = rng.choice(PURITIES)
        main, *others = rng.sample(labels, 4)
        k = round(10 * purity)
        out.append([main] * k + [rng.choice(others) for _ in range(10 - k)])
    return out


def run(sim, tasks: list[list[str]], accs: list[float], hard: bool, seed: int) -> dict[str, float]:
    verdicts, truth = {}, {}
    member_right = {a: 0 for a in accs}
    for i, labels in enumerate(tasks):
        votes = []
        for a in accs:
            spec = sim.SimSpec(accuracy=a, hard=hard)
            ans = sim.judge(labels, spec, f"sim-{a}|{seed}|{i}")
            truth[str(i)] = ans.truth
            member_right[a] += ans.label == ans.truth
            p_good = ans.p_answer if ans.label == "good" else 1 - ans.p_answer
            votes.append(Vote(role=f"sim-{a}", model=f"sim-{a}", label=ans.label, p_good=p_good))
        verdicts[str(i)] = aggregate(votes, "majority").model_dump() | {
            "weighted": aggregate(votes, "weighted").label}
    n = len(tasks)
    out = {f"member sim-{a}": member_right[a] / n for a in accs}
    out["best member"] = max(member_right.values()) / n
    out["majority"] = sum(v["label"] == truth[k] for k, v in verdicts.items()) / n
    out["weighted"] = sum(v["weighted"] == truth[k] for k, v in verdicts.items()) / n
    for method in ("dawid_skene", "glad"):
        changed, members = fit_crowd(verdicts, method)
        out[method] = sum({**verdicts, **changed}[k]["label"] == truth[k] for k in verdicts) / n
        if method == "dawid_skene":
            for role, s in members.items():
                out[f"DS estimate {role}"] = s["accuracy"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--split", default=None)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--accs", default="0.7,0.8,0.9")
    ap.add_argument("--simulate", default="/work/wt-loop/dialin/measure/simulate.py")
    args = ap.parse_args()
    sim = load_sim(args.simulate)
    by_label: dict[str, list[str]] = {}
    for line in open(args.data, encoding="utf-8"):
        row = json.loads(line)
        if args.split is None or row.get("split") == args.split:
            by_label.setdefault(row["label"], []).append(row["text"])
    accs = [float(a) for a in args.accs.split(",")]
    for hard in (False, True):
        runs = [run(sim, clusters(by_label, args.n, random.Random(s)), accs, hard, s) for s in range(args.seeds)]
        print(f"\n{args.data} split={args.split} n={args.n} clusters x {args.seeds} seeds, judges {accs}, "
              f"{'hard' if hard else 'uniform'} errors")
        for key in runs[0]:
            vals = [r[key] for r in runs]
            print(f"  {key:<22} {statistics.mean(vals):.3f} +- {statistics.pstdev(vals):.3f}  "
                  f"(min {min(vals):.3f}, max {max(vals):.3f})")


if __name__ == "__main__":
    main()
