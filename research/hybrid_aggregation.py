"""Crowd aggregation measured with SIMULATED judges that read gold labels (issue 23).

Judge-eval style test clusters (10 sentences, purity 1.0 / 1.0 / 0.9 / 0.7 / 0.5 of one gold
intent; the simulator's truth: good iff purity >= 0.9) are drawn from a labelled JSONL file; a
crowd of simulated judges (``dialin.measure.simulate.judge``, chosen by model name, e.g.
``sim-0.7-lenient``: 70 % right on a balanced set, its errors 4x likelier on bad clusters)
answers each; the votes are aggregated by majority, weighted (by P(answer)), Dawid-Skene and GLAD
(``dialin.agents.crowd_fit``). Prints verdict accuracy against the simulator's truth per method,
mean and spread over seeds, the Bayes rule with the members' true error rates (the ceiling a
perfectly fitted Dawid-Skene reaches on independent errors), and each member's class-conditional
error rates as Dawid-Skene estimated them.

    PYTHONPATH=$PWD python research/hybrid_aggregation.py ../shared/data/banking77/banking77_small.jsonl \
        --crowd sim-0.7-lenient,sim-0.8-strict,sim-0.9
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics

from dialin.agents.crowd import aggregate
from dialin.agents.crowd_fit import fit_crowd
from dialin.agents.verdicts import Vote
from dialin.measure.simulate import SimSpec, flip_rates, judge, parse_model

PURITIES = (1.0, 1.0, 0.9, 0.7, 0.5)
PRIOR_GOOD = sum(p >= 0.9 for p in PURITIES) / len(PURITIES)


def clusters(by_label: dict[str, list[str]], n: int, rng: random.Random) -> list[list[str]]:
    labels = sorted(by_label)
    out = []
    for _ in range(n):
        purity = rng.choice(PURITIES)
        main, *others = rng.sample(labels, 4)
        k = round(10 * purity)
        out.append([main] * k + [rng.choice(others) for _ in range(10 - k)])
    return out


def bayes(votes: list[tuple[SimSpec, str]]) -> str:
    """The label with the higher posterior given each member's true (nominal) flip rates."""
    lg, lb = math.log(PRIOR_GOOD), math.log(1 - PRIOR_GOOD)
    for spec, said in votes:
        r_good, r_bad = (min(max(r, 1e-9), 1 - 1e-9) for r in flip_rates(spec))
        lg += math.log(1 - r_good if said == "good" else r_good)
        lb += math.log(r_bad if said == "good" else 1 - r_bad)
    return "good" if lg >= lb else "bad"


def ds_rates(verdicts: dict[str, dict]) -> dict[str, tuple[float, float]]:
    """Dawid-Skene's estimate of each member's (P(bad | good), P(good | bad))."""
    import pandas as pd
    from crowdkit.aggregation import DawidSkene

    df = pd.DataFrame([(k, v["role"], v["label"]) for k, x in verdicts.items() for v in x["votes"]],
                      columns=["task", "worker", "label"])
    err = DawidSkene(n_iter=100).fit(df).errors_
    return {w: (float(err.loc[(w, "bad"), "good"]), float(err.loc[(w, "good"), "bad"]))
            for w in err.index.get_level_values(0).unique()}


def run(tasks: list[list[str]], crowd: list[SimSpec], seed: int) -> dict[str, float]:
    verdicts, truth, oracle = {}, {}, {}
    right = {s.model_name: 0 for s in crowd}
    for i, labels in enumerate(tasks):
        votes, said = [], []
        for spec in crowd:
            ans = judge(labels, spec, f"{spec.model_name}|{seed}|{i}")
            truth[str(i)] = ans.truth
            right[spec.model_name] += ans.label == ans.truth
            p_good = ans.p_answer if ans.label == "good" else 1 - ans.p_answer
            votes.append(Vote(role=spec.model_name, model=spec.model_name, label=ans.label, p_good=p_good))
            said.append((spec, ans.label))
        verdicts[str(i)] = aggregate(votes, "majority").model_dump() | {"weighted": aggregate(votes, "weighted").label}
        oracle[str(i)] = bayes(said)
    n = len(tasks)
    out = {f"member {m}": r / n for m, r in right.items()}
    out["best member"] = max(right.values()) / n
    out["majority"] = sum(v["label"] == truth[k] for k, v in verdicts.items()) / n
    out["weighted"] = sum(v["weighted"] == truth[k] for k, v in verdicts.items()) / n
    for method in ("dawid_skene", "glad"):
        changed, _ = fit_crowd(verdicts, method)
        out[method] = sum({**verdicts, **changed}[k]["label"] == truth[k] for k in verdicts) / n
    out["Bayes, true rates"] = sum(oracle[k] == truth[k] for k in verdicts) / n
    for m, (bg, gb) in ds_rates(verdicts).items():
        out[f"DS P(bad|good) {m}"], out[f"DS P(good|bad) {m}"] = bg, gb
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--split", default=None)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--crowd", default="sim-0.7,sim-0.8,sim-0.9", help="simulated judges by model name")
    ap.add_argument("--errors", default="uniform,hard", help="uniform, hard or both")
    args = ap.parse_args()
    by_label: dict[str, list[str]] = {}
    for line in open(args.data, encoding="utf-8"):
        row = json.loads(line)
        if args.split is None or row.get("split") == args.split:
            by_label.setdefault(row["label"], []).append(row["text"])
    base = [parse_model(name, SimSpec()) for name in args.crowd.split(",")]
    for errors in args.errors.split(","):
        crowd = [s.model_copy(update={"hard": errors == "hard"}) for s in base]
        runs = [run(clusters(by_label, args.n, random.Random(s)), crowd, s) for s in range(args.seeds)]
        print(f"\n{args.data} split={args.split} n={args.n} clusters x {args.seeds} seeds, crowd "
              f"{[s.model_name for s in crowd]} ({[tuple(round(r, 3) for r in flip_rates(s)) for s in crowd]} "
              f"= nominal (P(bad|good), P(good|bad))), {errors} errors; SIMULATED judges read gold labels")
        for key in runs[0]:
            vals = [r[key] for r in runs]
            print(f"  {key:<34} {statistics.mean(vals):.3f} +- {statistics.pstdev(vals):.3f}  "
                  f"(min {min(vals):.3f}, max {max(vals):.3f})")


if __name__ == "__main__":
    main()
