"""``dialin report``: one self-contained HTML file about a run (no network needed to open it).

The page (``inspect/report_template.html``, inline CSS and JS, SVG drawn in the browser) shows a
2-D map of the utterances coloured by intent, the K-search curve per iteration, cluster
sizes, a searchable table of clusters with verdicts and samples, the merges, and the
metrics against gold labels when the run has them.

Data goes into the page once, as JSON inside ``<script type="application/json">`` with
``<``, ``>``, ``&`` and the JS line separators escaped (``\\u003c`` ...), so no utterance
can close the script element; the page builds its DOM with ``textContent`` only.
"""

from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np

from dialin.tools.name_audit import explain_clusters

Projection = Literal["auto", "pca", "tsne"]
TEMPLATE = Path(__file__).with_name("report_template.html")
DATA_MARK = "/*DIALIN_DATA*/"
TITLE_MARK = "<!--DIALIN_TITLE-->"
TSNE_AUTO_MAX = 3500
"""``auto`` uses t-SNE up to this many points (about 20 s for 3,000 on 2 cores), PCA above."""
TSNE_ITERATIONS = 500


def safe_json(obj: Any) -> str:
    """JSON that can sit inside a ``<script>`` element: no ``<``, ``>``, ``&`` or U+2028/9 left raw."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                     ("\u2029", "\\u2029")):
        text = text.replace(raw, esc)
    return text


def project_2d(X: np.ndarray, method: Projection = "auto", seed: int = 0) -> tuple[np.ndarray, str]:
    """2-D coordinates in [0, 1] (PCA, or t-SNE from sklearn) and the method used."""
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    if method == "auto":
        method = "tsne" if n <= TSNE_AUTO_MAX else "pca"
    if n == 0:
        return np.zeros((0, 2)), method
    Xc = X - X.mean(axis=0)
    if method == "tsne" and n >= 5:
        from sklearn.manifold import TSNE

        Y = TSNE(n_components=2, init="pca", perplexity=min(30.0, (n - 1) / 3.0), max_iter=TSNE_ITERATIONS,
                 random_state=seed).fit_transform(Xc)
    else:
        method = "pca"
        _, _, Vt = np.linalg.svd(Xc, full_matrices=False)
        Y = Xc @ Vt[:2].T
        if Y.shape[1] < 2:
            Y = np.hstack([Y, np.zeros((n, 2 - Y.shape[1]))])
    lo, span = Y.min(axis=0), np.ptp(Y, axis=0)
    return (Y - lo) / np.where(span > 0, span, 1.0), method


def _verdict(v: dict[str, Any] | None) -> dict[str, Any] | None:
    if not v:
        return None
    return {"label": v.get("label"), "p_good": v.get("p_good"), "source": v.get("source"),
            "agreement": v.get("agreement"), "votes": [{"role": x.get("role"), "model": x.get("model"),
                                                        "label": x.get("label"), "p_good": x.get("p_good")}
                                                       for x in v.get("votes") or []]}


def report_data(result: dict[str, Any], X: np.ndarray | None = None, *, projection: Projection = "auto",
                max_points: int = 5000, revision: dict[str, Any] | None = None, seed: int = 0) -> dict[str, Any]:
    """Everything the page shows, as plain JSON-able data."""
    texts = result["unique_texts"]
    clusters = []
    why = explain_clusters(result) if result["clusters"] else {}
    for c in result["clusters"]:
        v = c.get("verdict") or {}
        clusters.append({"id": c["id"], "name": c["name"], "why": why.get(c["id"]), "role": c.get("role"), "size": c["size"],
                         "n_unique": c["n_unique"], "cohesion": c.get("cohesion"), "verdict": _verdict(v),
                         "sample": list(v.get("sample") or []), "members": list(c["members"]),
                         "merged_from": [p.get("name") for p in c.get("merged_from") or []]})
    points = None
    if X is not None and len(texts):
        n = len(texts)
        idx = np.arange(n)
        if n > max_points:
            idx = np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))
        Y, used = project_2d(np.asarray(X)[idx], projection, seed)
        owner = {i: c["id"] for c in result["clusters"] for i in c["members"]}
        points = {"idx": idx.tolist(), "x": np.round(Y[:, 0], 4).tolist(), "y": np.round(Y[:, 1], 4).tolist(),
                  "label": [owner.get(int(i), -1) for i in idx], "projection": used, "total": n}
    metrics = None
    if result.get("gold_labels") and any(str(g or "").strip() for g in result["gold_labels"]):
        from dialin.measure.evaluate import run_metrics

        metrics = run_metrics(result, result["gold_labels"])
    history = [{k: h.get(k) for k in ("iteration", "k", "ratio", "score", "good", "bad", "good_sentences",
                                      "bad_sentences", "chosen")} for h in result.get("history") or []]
    merges = [{"names": m.get("names") or [], "new_name": m.get("new_name"), "accepted": m.get("accepted", True),
               "source": m.get("source", "discovery")} for m in result.get("merges") or []]
    return {"run_id": result.get("run_id"), "source": result.get("source"), "revision": revision,
            "generated": time.strftime("%Y-%m-%d %H:%M"), "stats": result.get("stats") or {},
            "stop_reason": result.get("stop_reason"), "texts": texts, "clusters": clusters,
            "unassigned": list(result.get("unassigned") or []), "points": points, "history": history,
            "merges": merges, "metrics": metrics, "confusion": _confusion(result, X)}


def _confusion(result: dict[str, Any], X: np.ndarray | None) -> dict[str, Any] | None:
    """Intents a classifier trained on the run mixes up (needs the run's vectors)."""
    from dialin.classify.confusion import run_confusion

    return run_confusion(result, X) if X is not None and len(X) == len(result["unique_texts"]) else None


def render_report(data: dict[str, Any], template: str | None = None) -> str:
    page = template if template is not None else TEMPLATE.read_text(encoding="utf-8")
    title = html.escape(f"dialin report: {data.get('run_id') or 'run'}")
    head, sep, tail = page.partition(DATA_MARK)
    if not sep:
        raise ValueError(f"the report template has no {DATA_MARK} marker")
    return head.replace(TITLE_MARK, title) + safe_json(data) + tail.replace(TITLE_MARK, title)


def write_report(result: dict[str, Any], out: str | Path, X: np.ndarray | None = None, **kwargs: Any) -> Path:
    """Write the HTML report of ``result`` to ``out``; ``X`` (the run's embeddings) enables the map."""
    path = Path(out).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(report_data(result, X, **kwargs)), encoding="utf-8")
    return path
