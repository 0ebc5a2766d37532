"""Probe: can a corpus calibrate the coherence model's score by itself (docs/BENCHMARKS.md section 10)?

The model ranks real clusters well on every corpus but its threshold moves: the in-frame
cohesion that best separates good from bad real clusters is about 0.44-0.52 on BANKING77 and
0.29-0.39 on the support log. This prints, per corpus, that best threshold and two label-free
references every run could compute, the median and upper quartile of the in-frame cohesion of
the corpus's own K-means clusters at K = 1.5 sqrt(n) (the centre of the loop's K grid). If
threshold minus reference stayed put across corpora, the reference would calibrate the cascade.
The last columns: real-cluster accuracy at reference + the median offset, and, for comparison,
at one fixed threshold for every corpus (the median of the best thresholds).

    cd scripts && ../.venv/bin/python probe_reference.py
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from bench_embedder import load
from harness import default_store  # noqa: E402  (beside this script)
from dialin.config import EmbedderConfig
from dialin.embed import BUNDLED_MINILM, make_embedder
from dialin.measure.judge_sets import build_test_set
from dialin.store import Store
from dialin.tools.clustering import cluster
from dialin.tools.coherence import load_model
from dialin.finetune.coherence_fit import cap
from probe_frame import cohesion_in, half

SPECS = ("banking77:train", "hwu64:train", "customer_service:A", "customer_service:B", "customer_service",
         "hwu64:test", "banking77:test")


def main() -> None:
    emb = make_embedder(EmbedderConfig(model=BUNDLED_MINILM, progress=False), Store(default_store()))
    model = load_model()
    rows = []
    with threadpool_limits(1):
        for spec in SPECS:
            texts, labels = half(spec[-1]) if spec.startswith("customer_service:") else load(spec, None)[1:3]
            X0 = np.asarray(emb.encode(texts), dtype=np.float64)
            for per in ((None, 15, "zipf") if spec.endswith(":train") else (None,)):
                idx = cap(labels, per, 0)
                X, lab = X0[idx], [labels[i] for i in idx]
                frame = model.frame(X)
                km = cluster(X, max(2, round(1.5 * np.sqrt(len(X)))), method="kmeans", seed=0)
                own = [cohesion_in(frame, list(np.flatnonzero(km == c))) for c in np.unique(km) if (km == c).sum() > 1]
                tests, _ = build_test_set(lab, X, n=10, per_difficulty=100, seed=0, difficulties=["real"])
                c = np.array([cohesion_in(frame, list(t.members)) for t in tests])
                y = np.array([t.gold == "good" for t in tests])
                ths = np.quantile(c, np.linspace(0.02, 0.98, 49))
                accs = [float(((c >= t) == y).mean()) for t in ths]
                name = spec + ("" if per is None else f" ({per})")
                rows.append((name, len(X), float(ths[int(np.argmax(accs))]), max(accs), float(np.median(own)),
                             float(np.quantile(own, 0.75)), c, y))
    d50 = float(np.median([r[2] - r[4] for r in rows]))
    d75 = float(np.median([r[2] - r[5] for r in rows]))
    fixed = float(np.median([r[2] for r in rows]))
    print("| corpus | sentences | best threshold (accuracy) | K-means median / upper quartile | threshold - median "
          "| threshold - quartile | accuracy at median + offset | at quartile + offset | at the fixed threshold |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, n, thr, acc, r50, r75, c, y in rows:
        print(f"| {name} | {n} | {thr:.3f} ({acc:.2f}) | {r50:.3f} / {r75:.3f} | {thr - r50:+.3f} | {thr - r75:+.3f} "
              f"| {((c >= r50 + d50) == y).mean():.2f} | {((c >= r75 + d75) == y).mean():.2f} "
              f"| {((c >= fixed) == y).mean():.2f} |")
    print(f"\noffsets (median over rows): {d50:+.3f} / {d75:+.3f}; fixed threshold {fixed:.3f}")


if __name__ == "__main__":
    main()
