"""One benchmark table: embedding baselines and dialin variants on the same data and embeddings.

Every method clusters the corpus's unique sentences embedded once by the config's
embedder (the store's embedding cache hands the dialin runs the very same vectors);
rows are scored against the gold labels with NMI, ACC and ARI (x100). LLM columns come
from the call log: ``llm_calls`` counts every call a run asked for, cache hits included
(what a cold run pays); ``cached`` says how many of them the cache answered, and the
wall time is this invocation's (cache hits make it shorter than a cold run).
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np

from dialin.config import Config
from dialin.measure.cost import call_totals
from dialin.data import Corpus
from dialin.errors import DialinError
from dialin.measure.metrics import clustering_metrics
from dialin.store import Store
from dialin.tools.clustering import cluster
from dialin.tools.vectors import l2_normalise

METHODS: dict[str, str] = {
    "kmeans": "K-means (n_init 3) with the true K",
    "agglomerative": "Ward agglomerative with the true K",
    "silhouette": "Ward agglomerative, K unknown: the K of best cosine silhouette over 12 K from sqrt(n)/4 to 4 sqrt(n)",
    "hdbscan": "sklearn HDBSCAN (min_cluster_size 5), K unknown; noise counts as one 'unassigned' cluster",
    "bertopic": "the peer: BERTopic 0.17.4 defaults (UMAP + HDBSCAN) + reduce_outliers(strategy='embeddings') on the "
                "same vectors, K unknown (optional extra: pip install 'dialin[bertopic]')",
    "dialin": "the loop, one judge, convex sampling, merge geodesic + probabilistic",
    "dialin-random": "as dialin, random sampling",
    "dialin-nomerge": "as dialin, no merge",
    "dialin-geo-det": "as dialin, merge geodesic + deterministic",
    "dialin-cos-prob": "as dialin, merge cosine + probabilistic",
    "dialin-cos-det": "as dialin, merge cosine + deterministic",
    "dialin-crowd": "as dialin, the crowd votes (needs config.crowd.members; left out of the default without)",
}
DIALIN_VARIANTS: dict[str, dict[str, Any]] = {
    "dialin": {},
    "dialin-random": {"sampling": "random"},
    "dialin-nomerge": {"merge": False},
    "dialin-geo-det": {"merge_distance": "geodesic", "merge_gate": "deterministic"},
    "dialin-cos-prob": {"merge_distance": "cosine", "merge_gate": "probabilistic"},
    "dialin-cos-det": {"merge_distance": "cosine", "merge_gate": "deterministic"},
    "dialin-crowd": {},
}
BASE_METHOD = {"sampling": "convex", "merge": True, "merge_distance": "geodesic", "merge_gate": "probabilistic"}
Event = Callable[[str], None]


def methods_help() -> str:
    return "\n".join(f"{k}: {v}" for k, v in METHODS.items())


def parse_methods(spec: str | None, config: Config) -> list[str]:
    """Method names from ``a,b,c`` (default: all; dialin-crowd only when the config has a crowd)."""
    if not spec:
        names = [m for m in METHODS if m != "dialin-crowd" or config.crowd.members]
    else:
        names = [m.strip() for m in spec.split(",") if m.strip()]
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        raise DialinError(f"unknown bench method(s) {', '.join(unknown)}: choose from {', '.join(METHODS)}")
    if "dialin-crowd" in names and not config.crowd.members:
        raise DialinError("dialin-crowd needs a crowd: list the judge roles that vote under crowd.members in the config")
    return list(dict.fromkeys(names))


def variant_config(config: Config, name: str, seed: int) -> Config:
    method = config.method.model_copy(update={**BASE_METHOD, **DIALIN_VARIANTS[name], "seed": seed})
    crowd = config.crowd if name == "dialin-crowd" else config.crowd.model_copy(update={"members": []})
    return Config.model_validate(config.model_copy(update={"method": method, "crowd": crowd}).model_dump())


def silhouette_grid(n: int) -> list[int]:
    lo, hi = max(2.0, math.sqrt(n) / 4), min(n - 1.0, 4 * math.sqrt(n))
    if hi <= lo:
        return [max(2, min(n - 1, round(lo)))]
    return sorted({int(round(k)) for k in np.geomspace(lo, hi, 12)})


def _silhouette(X: np.ndarray, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    from sklearn.metrics import silhouette_score

    scores = {}
    best: tuple[float, int, np.ndarray] | None = None
    for k in silhouette_grid(len(X)):
        labels = cluster(X, k, method="agglomerative", seed=seed)
        if len(np.unique(labels)) < 2:
            continue
        s = float(silhouette_score(X, labels, metric="cosine"))
        scores[k] = round(s, 4)
        if best is None or s > best[0]:
            best = (s, k, labels)
    if best is None:
        raise DialinError("silhouette: too few sentences to compare two or more clusters")
    return best[2], {"k": best[1], "silhouette": scores}


def _hdbscan(X: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    from sklearn.cluster import HDBSCAN

    labels = HDBSCAN(min_cluster_size=5, copy=True).fit_predict(l2_normalise(X))
    return labels, {"noise_unique": int((labels == -1).sum())}


def _baseline(name: str, X: np.ndarray, k_true: int, seed: int,
              texts: list[str] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    if name == "bertopic":
        from dialin.measure.peers import bertopic_labels

        return bertopic_labels(X, texts or [], seed), {}
    if name in ("kmeans", "agglomerative"):
        return cluster(X, k_true, method=name, seed=seed), {"k": k_true}  # type: ignore[arg-type]
    if name == "silhouette":
        return _silhouette(X, seed)
    return _hdbscan(X)


def _row(name: str, gold: list[str], row_labels: list[int], wall: float, **extra: Any) -> dict[str, Any]:
    m = clustering_metrics(gold, row_labels)
    return {"method": name, "nmi": m["nmi"], "acc": m["acc"], "ari": m["ari"], "clusters": m["n_clusters_pred"],
            "unassigned_rows": m["n_unassigned"], "llm_calls": 0, "cached": 0, "prompt_tokens": 0,
            "completion_tokens": 0, "wall_s": round(wall, 2), **extra}


def with_reviewer(config: Config, reviewer: str, budget: int | None, order: str = "priority") -> Config:
    """The config with review on (and the budget) when a reviewer is attached."""
    if reviewer == "none":
        return config
    method = config.method.model_copy(update={"review": True, "review_budget": budget,
                                                   "review_order": order})
    return Config.model_validate(config.model_copy(update={"method": method}).model_dump())


def _reviewer(corpus: Corpus, reviewer: str) -> Callable[[dict[str, Any]], Any] | None:
    if reviewer != "simulated":
        return None
    from dialin.agents.control import unique_labels
    from dialin.tools.review_priority import simulated_reviewer

    return simulated_reviewer(unique_labels(corpus.labels, corpus.row_to_unique, len(corpus.unique_texts)))


def run_bench(corpus: Corpus, config: Config, methods: list[str], *, seed: int = 0, store: Store | None = None,
              base_urls: dict[str, str] | None = None, client_factory: Any = None,
              on_event: Callable[[dict[str, Any]], None] | None = None, say: Event | None = None,
              judge: Any = None, reviewer: str = "none", review_budget: int | None = None,
              review_order: str = "priority") -> dict[str, Any]:
    """Run each method and return the table (``rows``) with what it was run on.

    ``judge``: a ``dialin.measure.simulate.SimSpec``: the dialin rows ask a simulated judge that reads the gold labels.
    ``reviewer="simulated"``: dialin runs pause for review (``method.review_budget`` decisions when
    given) and a reviewer answers from the gold labels (``dialin.tools.review_priority``).
    """
    from dialin.embed import make_embedder

    if corpus.labels is None:
        raise DialinError(f"{corpus.source}: bench needs gold labels: pass --label-col")
    say = say or (lambda _msg: None)
    store = store or Store(config.store_path())
    keep = [i for i, u in enumerate(corpus.row_to_unique) if u >= 0]
    gold = [corpus.labels[i] for i in keep]
    k_true = len(set(gold))
    embedder = make_embedder(config.embedder, store)
    t0 = time.perf_counter()
    X = embedder.encode(corpus.unique_texts)
    embed_s = time.perf_counter() - t0
    say(f"embedded {len(corpus.unique_texts)} unique sentences with {embedder.name} in {embed_s:.1f} s")
    sim = None
    if judge is not None and any(m in DIALIN_VARIANTS for m in methods):
        from dialin.measure.simulate import SimulatedServer, simulated_config

        sim = SimulatedServer(corpus, judge).start_background()
        config = simulated_config(config, judge, sim.base_url)
        base_urls = {"simulated": sim.base_url}
        say(sim.warning + f" Model {judge.model_name} at {sim.base_url}.")
    try:
        rows = _run_rows(corpus, config, methods, keep, gold, k_true, X, seed, store, base_urls, client_factory,
                         on_event, say, (reviewer, review_budget, review_order))
    finally:
        if sim is not None:
            sim.stop()
    rep = {"data": corpus.source, "reviewer": reviewer, "review_budget": review_budget, "review_order": review_order,
           "rows_scored": len(keep), "unique": len(corpus.unique_texts), "intents": k_true,
           "embedder": embedder.name, "embed_s": round(embed_s, 2), "seed": seed, "methods": methods,
           "table": rows}
    if sim is not None:
        rep["judge"] = {"simulated": judge.model_dump(), "model": judge.model_name, "note": sim.warning}
    return rep


def _run_rows(corpus: Corpus, config: Config, methods: list[str], keep: list[int], gold: list[str], k_true: int,
              X: np.ndarray, seed: int, store: Store, base_urls: dict[str, str] | None, client_factory: Any,
              on_event: Callable[[dict[str, Any]], None] | None, say: Event,
              review: tuple[str, int | None, str] = ("none", None, "priority")) -> list[dict[str, Any]]:
    reviewer, review_budget, review_order = review
    rows = []
    for name in methods:
        say(f"running {name} ...")
        t0 = time.perf_counter()
        if name in DIALIN_VARIANTS:
            if base_urls is None:
                from dialin.llm.serve import local_base_urls

                base_urls = local_base_urls(config)
            from dialin.runner import run_discovery

            result = run_discovery(corpus, with_reviewer(variant_config(config, name, seed), reviewer, review_budget,
                                                         review_order),
                                   store=store, base_urls=base_urls, client_factory=client_factory, on_event=on_event,
                                   on_review=_reviewer(corpus, reviewer))
            wall = time.perf_counter() - t0
            labels = [result["row_labels"][i] for i in keep]
            c = call_totals(store, result["run_id"], exclude_stage="evaluate")
            row = _row(name, gold, labels, wall, run_id=result["run_id"])
            row.update(llm_calls=c["calls"], cached=c["cached"], prompt_tokens=c["prompt_tokens"],
                       completion_tokens=c["completion_tokens"], errors=c["errors"])
        elif name == "bertopic" and not _has_bertopic():
            say("  bertopic: skipped, not installed: pip install 'dialin[bertopic]' (bertopic==0.17.4)")
            continue
        else:
            unique_labels, extra = _baseline(name, X, k_true, seed, corpus.unique_texts)
            wall = time.perf_counter() - t0
            labels = [int(unique_labels[corpus.row_to_unique[i]]) for i in keep]
            row = _row(name, gold, labels, wall, **extra)
        say(f"  {name}: NMI {row['nmi']:.2f}, ACC {row['acc']:.2f}, {row['clusters']} clusters, {row['wall_s']} s")
        rows.append(row)
    return rows


def _has_bertopic() -> bool:
    import importlib.util

    return importlib.util.find_spec("bertopic") is not None


def format_table(rep: dict[str, Any]) -> str:
    lines = [f"bench on {rep['data']}: {rep['rows_scored']} rows ({rep['unique']} unique), {rep['intents']} gold "
             f"intents; embedder {rep['embedder']} (embedding took {rep['embed_s']} s, cache included); "
             f"seed {rep['seed']}",
             f"{'method':<16} {'NMI':>6} {'ACC':>6} {'ARI':>6} {'#clu':>5} {'unass':>5} {'calls':>6} {'cached':>6} "
             f"{'prompt_tok':>10} {'compl_tok':>9} {'wall_s':>7}"]
    for r in rep["table"]:
        lines.append(f"{r['method']:<16} {r['nmi']:>6.2f} {r['acc']:>6.2f} {r['ari']:>6.2f} {r['clusters']:>5} "
                     f"{r['unassigned_rows']:>5} {r['llm_calls']:>6} {r['cached']:>6} {r['prompt_tokens']:>10} "
                     f"{r['completion_tokens']:>9} {r['wall_s']:>7.1f}")
    if rep.get("judge"):
        lines.append(rep["judge"]["note"] + f" (model {rep['judge']['model']})")
    for r in rep["table"]:
        if r["method"] == "silhouette":
            lines.append(f"silhouette chose K = {r['k']}")
        if r.get("run_id"):
            lines.append(f"{r['method']}: run {r['run_id']} (dialin eval / dialin cost RUN)")
    lines.append("calls and tokens count every call a run asked for (cache hits included); "
                 "'cached' of them came from the cache.")
    return "\n".join(lines)
