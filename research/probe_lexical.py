"""Probe: do a cluster's words judge it where its embeddings cannot (docs/BENCHMARKS.md section 11)?

Key-word names work because a cluster's distinctive words are telling. Would the same words
separate pure clusters from nearest-intent mixtures, the hard set every embedding score fails?
Per test set (judge-eval clusters, seed 0, 100 per difficulty), AUC by group of: the shipped
coherence model; ``tfidf_coh``, the mean pairwise cosine of the members' TF-IDF vectors (fitted on
the corpus); ``top_cover``, the largest share of members holding one of the cluster's 5 key words;
``cover3``, the mean share for its best 3; and rank sums of the model with the lexical scores.

    cd scripts && ../.venv/bin/python probe_lexical.py [banking77:test hwu64:test customer_service]
"""

from __future__ import annotations

import sys

import numpy as np
from scipy.stats import rankdata
from sklearn.feature_extraction.text import TfidfVectorizer

from bench_embedder import load
from harness import default_store  # noqa: E402  (beside this script)
from dialin.config import EmbedderConfig
from dialin.embed import BUNDLED_MINILM, make_embedder
from dialin.measure.judge_sets import GROUPS, build_test_set
from dialin.measure.metrics import roc_auc
from dialin.store import Store
from dialin.tools.coherence import load_model
from dialin.tools.keywords import KeywordIndex, tokens

N = {"banking77:test": 20, "hwu64:test": 10, "customer_service": 10}
"""Sentences per test cluster, as in the other sections' tables."""


def scores(texts: list[str], X: np.ndarray, tests: list) -> dict[str, np.ndarray]:
    model = load_model()
    frame = model.frame(X)
    T = TfidfVectorizer(tokenizer=tokens, lowercase=False, token_pattern=None, sublinear_tf=True).fit_transform(texts)
    index = KeywordIndex(texts)
    out: dict[str, list[float]] = {"model": [], "tfidf_coh": [], "top_cover": [], "cover3": []}
    for t in tests:
        m = list(t.members)
        out["model"].append(model.score(frame, m))
        S = (T[m] @ T[m].T).toarray()
        out["tfidf_coh"].append(float((S.sum() - np.trace(S)) / (len(m) * (len(m) - 1))))
        words = [set(tokens(texts[j])) for j in m]
        cover = sorted((float(np.mean([w in s for s in words])) for w in index.keywords([texts[j] for j in m], 5)),
                       reverse=True) or [0.0]
        out["top_cover"].append(cover[0])
        out["cover3"].append(float(np.mean(cover[:3])))
    F = {k: np.array(v) for k, v in out.items()}
    F["model+tfidf_coh"] = rankdata(F["model"]) + rankdata(F["tfidf_coh"])
    F["model+top_cover"] = rankdata(F["model"]) + rankdata(F["top_cover"])
    return F


def main() -> None:
    specs = sys.argv[1:] or list(N)
    unknown = [s for s in specs if s not in N]
    if unknown:
        raise SystemExit(f"unknown test set(s) {', '.join(unknown)}; use {', '.join(N)}")
    emb = make_embedder(EmbedderConfig(model=BUNDLED_MINILM, progress=False), Store(default_store()))
    print("| test set | score | random | hard | real | hard_mix2 | hard_intruder |")
    print("|---|---|---|---|---|---|---|")
    for spec in specs:
        _, texts, labels, _ = load(spec, None)
        X = np.asarray(emb.encode(texts), dtype=np.float64)
        tests, _ = build_test_set(labels, X, n=N[spec], per_difficulty=100, seed=0)
        y = np.array([t.gold == "good" for t in tests])
        d = np.array([t.difficulty for t in tests])
        groups = [GROUPS["random"], GROUPS["hard"], GROUPS["real"], ("pure", "hard_mix2"), ("pure", "hard_intruder")]
        for name, s in scores(texts, X, tests).items():
            cells = [f"{roc_auc(y[np.isin(d, g)], s[np.isin(d, g)]):.3f}" for g in groups]
            print(f"| {spec} | {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
