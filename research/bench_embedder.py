"""Score fine-tuned embedders (``dialin finetune embedder``) against the bundled MiniLM, side by side.

For each test corpus, the judge-eval test clusters (``dialin.measure.judge_sets``: pure, random and
nearest-intent mixtures, real K-means / Ward clusters) are built ONCE on the bundled
MiniLM's vectors, so every embedder scores the same clusters. Per embedder: cohesion AUC
(mean pairwise cosine) per group and per hard difficulty; the coherence model (the cascade's
default scorer): the shipped one for MiniLM, and for a tuned embedder the
``coherence_model.json`` beside its folder when ``dialin finetune embedder`` fitted one; what
the cascade would decide alone on the real clusters (the model at 0.35 / 0.85 where there is
one, else cohesion's fallback thresholds 0.25 / 0.7, which is what a run does); and K-means /
Ward NMI at the true number of intents.

``--new-intents MANIFEST`` keeps, in each test corpus, only the intents that manifest held
out of training (``holdout_intents``): the intents the tuned model never saw.

    .venv/bin/python research/bench_embedder.py --model both=/tmp/emb-both/model \\
        --eval banking77:test --eval hwu64:test --eval customer_service
    .venv/bin/python research/bench_embedder.py --model known=/tmp/emb-b77known/model \\
        --new-intents /tmp/emb-b77known/manifest.json --eval banking77:test
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.metrics import normalized_mutual_info_score
from threadpoolctl import threadpool_limits

from harness import default_store  # noqa: E402  (beside this script)
from dialin.config import EmbedderConfig, MethodConfig
from dialin.data import load_corpus
from dialin.embed import BUNDLED_MINILM, make_embedder
from dialin.measure.judge_eval import unique_labels
from dialin.measure.judge_sets import GROUPS, build_test_set
from dialin.measure.metrics import roc_auc
from dialin.store import Store
from dialin.tools.cascade import COHESION_THRESHOLDS
from dialin.tools.coherence import load_model
from dialin.tools.vectors import cohesion

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SETS = {"banking77": (DATA / "banking77/banking77.jsonl", "label", 20),
        "hwu64": (DATA / "hwu64/hwu64.jsonl", "label", 10),
        "customer_service": (ROOT / "examples/customer_service.jsonl", "intent", 10)}
"""name -> (file, label column, sentences per synthetic cluster); HWU64 test has no intent with 20."""
SCORED = ("random", "hard", "real", "hard_mix2", "hard_intruder")


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 3)


def load(spec: str, keep: set[str] | None) -> tuple[str, list[str], list[str], int]:
    name, _, split = spec.partition(":")
    path, label_col, n = SETS[name]
    corpus = load_corpus(path, label_col=label_col, split=split or None, skip_blank=True)
    texts, labels = list(corpus.unique_texts), unique_labels(corpus)
    if keep is not None:
        own = {k.split(":", 1)[1] for k in keep if k.split(":", 1)[0] == path.name}
        rows = [i for i, lab in enumerate(labels) if lab in own]
        texts, labels = [texts[i] for i in rows], [labels[i] for i in rows]
    return path.name, texts, labels, n


def aucs(y: np.ndarray, d: np.ndarray, score: np.ndarray) -> dict[str, float | None]:
    out = {g: _r(roc_auc(y[np.isin(d, m)], score[np.isin(d, m)])) for g, m in GROUPS.items()}
    out.update({x: _r(roc_auc(y[np.isin(d, ["pure", x])], score[np.isin(d, ["pure", x])]))
                for x in ("hard_mix2", "hard_intruder")})
    return out


def cascade(score: np.ndarray, y: np.ndarray, low: float, high: float) -> dict[str, Any]:
    good, bad = score >= high, score <= low
    return {"low": low, "high": high, "decided": _r((good | bad).mean()),
            "right": _r(((good & y) | (bad & ~y)).sum() / (good | bad).sum()) if (good | bad).any() else None}


def nmi(X: np.ndarray, labels: list[str], seed: int) -> dict[str, float]:
    k = len(set(labels))
    km = KMeans(k, n_init=3, random_state=seed).fit_predict(X)
    ward = AgglomerativeClustering(k, linkage="ward").fit_predict(X)
    return {"kmeans": round(100 * normalized_mutual_info_score(labels, km), 2),
            "ward": round(100 * normalized_mutual_info_score(labels, ward), 2)}


def evaluate(spec: str, models: dict[str, str], store: Store, keep: set[str] | None, per: int,
             seed: int) -> dict[str, Any]:
    _, texts, labels, n = load(spec, keep)
    enc = {name: np.asarray(make_embedder(EmbedderConfig(model=m, progress=False), store).encode(texts),
                            dtype=np.float64) for name, m in models.items()}
    Xb = enc["minilm"]
    tests, skipped = build_test_set(labels, Xb, n=n, per_difficulty=per, seed=seed)
    y = np.array([t.gold == "good" for t in tests])
    d = np.array([t.difficulty for t in tests])
    real = d == "real"
    out: dict[str, Any] = {"sentences": len(texts), "intents": len(set(labels)), "n": n, "clusters": len(tests),
                           "skipped": skipped, "rows": {}}
    for name, X in enc.items():
        coh = np.array([cohesion(X, list(t.members)) for t in tests])
        row = {"cohesion": aucs(y, d, coh), "nmi": nmi(X, labels, seed),
               "cascade_real": cascade(coh[real], y[real], *COHESION_THRESHOLDS)}
        own = Path(models[name]).parent / "coherence_model.json" if name != "minilm" else None
        if name == "minilm" or (own is not None and own.is_file()):
            model, m = load_model(own), MethodConfig()
            frame = model.frame(X)
            p = np.array([model.score(frame, t.members) for t in tests])
            row["coherence_model"] = aucs(y, d, p)
            row["cascade_real"] = cascade(p[real], y[real], m.cascade_low or 0.0, m.cascade_high or 1.0)
        out["rows"][name] = row
    return out


def table(ev: dict[str, Any]) -> str:
    lines = ["| test set | embedder | score | " + " | ".join(SCORED) + " | cascade decides (right) on real "
             "| K-means NMI | Ward NMI |", "|---" * (len(SCORED) + 6) + "|"]
    for spec, e in ev.items():
        for name, row in e["rows"].items():
            scores = [("cohesion", row["cohesion"])] + ([("coherence model", row["coherence_model"])]
                                                       if "coherence_model" in row else [])
            for i, (label, a) in enumerate(scores):
                c = row["cascade_real"]
                right = "-" if c["right"] is None else f"{c['right']:.2f}"
                last = i == len(scores) - 1
                casc = f"{c['decided']:.2f} ({right})" if last else ""
                lines.append(f"| {spec} ({e['intents']} intents) | {name} | {label} | "
                             + " | ".join("-" if a[k] is None else f"{a[k]:.3f}" for k in SCORED)
                             + f" | {casc} | {row['nmi']['kmeans'] if last else ''} | {row['nmi']['ward'] if last else ''} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", default=[], help="NAME=FOLDER of a tuned embedder; repeat.")
    ap.add_argument("--eval", action="append", default=[], help=f"CORPUS[:SPLIT], CORPUS one of {sorted(SETS)}.")
    ap.add_argument("--new-intents", default=None, help="A finetune manifest: keep only its held-out intents.")
    ap.add_argument("--per-difficulty", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--store", default=None, help="SQLite file caching the embeddings.")
    ap.add_argument("--json", default=None, help="Also write the results as JSON here.")
    args = ap.parse_args()
    args.store = args.store or default_store("bench-embedder.db")
    models = {"minilm": BUNDLED_MINILM}
    for spec in args.model:
        name, _, folder = spec.partition("=")
        if not folder or not Path(folder).is_dir():
            ap.error(f"--model {spec}: expected NAME=FOLDER with an existing folder")
        models[name] = folder
    for spec in args.eval or ["banking77:test"]:
        if spec.partition(":")[0] not in SETS:
            ap.error(f"--eval {spec}: unknown corpus; choose from {sorted(SETS)}")
    keep = None
    if args.new_intents:
        keep = set(json.loads(Path(args.new_intents).read_text(encoding="utf-8"))["holdout_intents"])
    store = Store(args.store)
    with threadpool_limits(1):
        ev = {spec: evaluate(spec, models, store, keep, args.per_difficulty, args.seed)
              for spec in (args.eval or ["banking77:test"])}
    if args.json:
        Path(args.json).write_text(json.dumps(ev, indent=1))
    print(table(ev))


if __name__ == "__main__":
    main()
