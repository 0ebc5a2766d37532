"""Score a pair judge (``dialin finetune pairs``) on the judge-eval test clusters, beside cohesion.

A pair judge is a cross-encoder that reads two sentences together and says whether they
share an intent; a cluster's score is its members' mean pairwise P(same). It is
scored on test clusters built exactly as ``bench_embedder.py`` builds them, the way the cascade
scores (``dialin.tools.pair_judge.pair_score``: mean P(same) over the pairs of at most ``--cap``
members), beside cohesion and the shipped coherence model. ``--out`` is the folder of
``dialin finetune pairs`` (OUT/model is scored; the cascade thresholds its manifest chose are
applied to the real clusters).

    .venv/bin/dialin finetune pairs --data ../shared/data/banking77/banking77.jsonl \\
        --data ../shared/data/hwu64/hwu64.jsonl --split train --out /tmp/pjh
    .venv/bin/python research/bench_pair_judge.py --out /tmp/pjh --eval banking77:test --eval hwu64:test \\
        --eval customer_service
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_embedder import SETS, aucs, cascade, load  # noqa: E402

from harness import default_store  # noqa: E402  (beside this script)
from dialin.config import EmbedderConfig  # noqa: E402
from dialin.embed import BUNDLED_MINILM, make_embedder  # noqa: E402
from dialin.measure.judge_sets import build_test_set  # noqa: E402
from dialin.store import Store  # noqa: E402
from dialin.tools.vectors import cohesion  # noqa: E402


def evaluate(spec: str, folder: str, store: Store, per: int, seed: int, cap: int) -> dict[str, Any]:
    """Cohesion, the coherence model and the pair judge (mean P(same) over the pairs of at most ``cap`` members,
    drawn as the cascade draws them) on the same test clusters."""
    from dialin.config import MethodConfig
    from dialin.tools.coherence import load_model
    from dialin.tools.pair_judge import PairJudge, pair_score

    _, texts, labels, n = load(spec, None)
    X = np.asarray(make_embedder(EmbedderConfig(model=BUNDLED_MINILM, progress=False), store).encode(texts),
                   dtype=np.float64)
    tests, _ = build_test_set(labels, X, n=n, per_difficulty=per, seed=seed)
    judge = PairJudge(folder)
    t0 = time.time()
    pairs = np.array([pair_score(judge.p_same, [texts[i] for i in t.members], cap=cap, seed=seed) for t in tests])
    secs = time.time() - t0
    y = np.array([t.gold == "good" for t in tests])
    d = np.array([t.difficulty for t in tests])
    model = load_model(None)
    frame = model.frame(X)
    p_model = np.array([model.score(frame, t.members) for t in tests])
    real = d == "real"
    m = MethodConfig()
    out: dict[str, Any] = {"clusters": len(tests), "cap": cap, "seconds": round(secs, 1),
                           "pairs_scored": len(judge._cache),
                           "cohesion": aucs(y, d, np.array([cohesion(X, list(t.members)) for t in tests])),
                           "coherence_model": aucs(y, d, p_model), "pair_judge": aucs(y, d, pairs),
                           "cascade_real": {"model": cascade(p_model[real], y[real], m.cascade_low or 0.0,
                                                             m.cascade_high or 1.0)}}
    manifest = Path(folder).parent / "manifest.json"
    if manifest.is_file():
        use = json.loads(manifest.read_text())["use"]["method"]
        if use.get("cascade_low") is not None or use.get("cascade_high") is not None:
            out["cascade_real"]["pairs"] = cascade(pairs[real], y[real], use.get("cascade_low") or -1.0,
                                                   use.get("cascade_high") or 2.0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="The OUT folder of dialin finetune pairs.")
    ap.add_argument("--eval", action="append", default=[], help=f"CORPUS[:SPLIT], CORPUS one of {sorted(SETS)}.")
    ap.add_argument("--per-difficulty", type=int, default=100)
    ap.add_argument("--cap", type=int, default=10, help="Members scored per cluster (the cascade's default).")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--store", default=None)
    args = ap.parse_args()
    args.store = args.store or default_store("bench-embedder.db")
    args.eval = args.eval or ["banking77:test", "hwu64:test", "customer_service"]
    for spec in args.eval:
        if spec.partition(":")[0] not in SETS:
            ap.error(f"--eval {spec}: unknown corpus")
    store = Store(args.store)
    with threadpool_limits(2):
        res = {spec: evaluate(spec, str(Path(args.out) / "model"), store, args.per_difficulty, args.seed, args.cap)
               for spec in args.eval}
    Path(args.out, "eval.json").write_text(json.dumps(res, indent=1))
    for spec, r in res.items():
        print(f"## {spec}: {r['clusters']} clusters, {r['pairs_scored']} pairs scored in {r['seconds']} s")
        for k, v in r.items():
            if isinstance(v, dict):
                print(f"  {k:16s} " + " ".join(f"{g}={v[g]}" for g in v))


if __name__ == "__main__":
    main()
