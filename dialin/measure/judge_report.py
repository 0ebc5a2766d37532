"""The human-readable ``dialin judge-eval`` report (the JSON is ``dialin.measure.judge_eval``'s dict)."""

from __future__ import annotations

from typing import Any


def format_report(rep: dict[str, Any]) -> str:
    """The human-readable judge-eval report."""
    sizes = ", ".join(f"{d} {v['clusters']}" for d, v in rep["set"].items())
    lines = [f"judge-eval on {rep['data']}: {rep['unique']} unique sentences, {rep['intents']} intents; "
             f"{sum(v['clusters'] for v in rep['set'].values())} test clusters of n={rep['n']} ({sizes}); "
             f"sampling {rep['sampling']}, seed {rep['seed']}; calls logged as {rep['run_id']}"]
    n_good = sum(v["good"] for v in rep["set"].values())
    n_all = sum(v["clusters"] for v in rep["set"].values())
    lines.append(f"  {n_good} of {n_all} test clusters are good: always answering the majority label scores "
                 f"{_f(rep['majority_accuracy'])}")
    for d, why in rep["skipped"].items():
        lines.append(f"  skipped {d}: {why}")
    lines.append(f"{'judge':<20} {'acc':>5} {'AUC':>5} {'acc@t':>6} {'good%':>6} {'calls':>6} {'cached':>6} "
                 f"{'prompt_tok':>10} {'compl_tok':>9} {'s/call':>6}")
    for r in rep["judges"]:
        lat = r["latency_ms_mean"]
        lines.append(f"{r['name'][:20]:<20} {_f(r['accuracy']):>5} {_f(r['auc']):>5} {_f(r['acc_heldout']):>6} "
                     f"{_f(r['says_good']):>6} {r['calls']:>6} {r['cached']:>6} {r['prompt_tokens']:>10} "
                     f"{r['completion_tokens']:>9} {'-' if lat is None else f'{lat / 1000:.2f}':>6}")
    diffs = list(rep["set"])
    lines.append("accuracy per difficulty (cohesion: held-out threshold):")
    lines.append(f"{'judge':<20} " + " ".join(f"{d[:13]:>13}" for d in diffs))
    for r in rep["judges"]:
        cells = []
        for d in diffs:
            v = r["per_difficulty"].get(d, {})
            cells.append(_f(v.get("accuracy") if v.get("accuracy") is not None else v.get("acc_heldout")))
        lines.append(f"{r['name'][:20]:<20} " + " ".join(f"{c:>13}" for c in cells))
    aucs = [f"{r['name']}: " + ", ".join(f"{g} {_f(a)}" for g, a in r["auc_by_group"].items())
            for r in rep["judges"] if r["auc_by_group"]]
    if aucs:
        lines.append("AUC by group (random = pure vs random mixtures; hard = pure vs nearest-intent mixtures):")
        lines.extend("  " + a for a in aucs)
    nm = rep.get("namer")
    if nm and nm["n"]:
        lines.append(f"namer ({nm.get('naming', 'llm')} naming, {nm['calls']} LLM calls): {nm['n']} good clusters "
                     "named; the name is nearest its gold label for "
                     f"{_f(nm['top1'])} (top-5 {_f(nm['top5'])}, mean rank {nm['mean_rank']} of {nm['labels']}; "
                     f"chance {_f(nm['chance'])})")
        for e in nm["examples"][:6]:
            lines.append(f"  {e['name']:<34} gold {e['gold']!r:<30} nearest {e['nearest']!r} (rank {e['rank']})")
    flat = [r["name"] for r in rep["judges"] if r.get("p_good_range") and r["p_good_range"][0] == r["p_good_range"][1]]
    if flat:
        lines.append(f"P(good) is the same for every cluster for: {', '.join(flat)} (AUC 0.5 by ties, no signal)")
    saved = [f"{r['name']} saves {r['saved']} of {r['saved'] + r['calls']} calls" for r in rep["judges"]
             if r.get("kind") == "cascade"]
    if saved:
        lines.append("cascade rows: the coherence model decides clear clusters, the judge the rest (calls = judge "
                     "calls left): " + "; ".join(saved))
    lines.append(f"wall time {rep['wall_s']} s. acc@t: P(good) >= t, t chosen on the other half of the clusters "
                 "(the cohesion row is scored only this way).")
    return "\n".join(lines)


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"
