"""Short answers to common questions about a run, computed from the stored result.

These are inspector tools beside those in ``inspect_queries``: counts, one cluster's
size, the largest or smallest clusters, which clusters are about a topic (semantic
search with the run's embedder over cluster names and members, plus the topic's words),
which clusters look alike, and what the judge saw. Every answer names clusters as
``cluster ID 'name'``, so a reader (or a test) can pick the ids out of it.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import numpy as np

from dialin.inspect.edits import find_cluster
from dialin.inspect.queries import clip, fmt_p, fmt_verdict
from dialin.inspect.run_view import RunView

CountWhat = Literal["clusters", "unassigned", "utterances", "good", "bad", "unjudged", "merges"]


def ref(c: dict[str, Any]) -> str:
    """How an answer names a cluster."""
    return f"cluster {c['id']} '{c['name']}'"


def _label(c: dict[str, Any]) -> str | None:
    return (c.get("verdict") or {}).get("label")


def count(view: RunView, what: CountWhat = "clusters") -> str:
    r = view.result()
    clusters = r["clusters"]
    labels = [_label(c) for c in clusters]
    rows_of = np.bincount([u for u in r["row_to_unique"] if u >= 0], minlength=len(r["unique_texts"]))
    if what == "clusters":
        return (f"{len(clusters)} clusters ({labels.count('good')} judged good, {labels.count('bad')} bad, "
                f"{labels.count(None)} not judged).")
    if what == "unassigned":
        rows = int(sum(rows_of[i] for i in r["unassigned"]))
        return (f"{len(r['unassigned'])} unique utterances ({rows} rows) are unassigned, "
                f"out of {len(r['unique_texts'])} unique utterances.")
    if what == "utterances":
        return (f"{len(r['row_to_unique'])} rows, {len(r['unique_texts'])} unique utterances; "
                f"{len(r['unique_texts']) - len(r['unassigned'])} of them are in {len(clusters)} clusters.")
    if what == "merges":
        return f"{len(r.get('merges') or [])} merges of clusters with close names."
    key = None if what == "unjudged" else what
    picked = [c for c in clusters if _label(c) == key]
    word = "not judged" if what == "unjudged" else f"judged {what}"
    return f"{len(picked)} of {len(clusters)} clusters are {word}" + (
        ": " + ", ".join(f"{c['id']} '{c['name']}'" for c in picked[:15]) + (" ..." if len(picked) > 15 else "")
        if picked else ".")


def cluster_size(view: RunView, cluster_id: int) -> str:
    c = find_cluster(view.result(), cluster_id)
    return f"{ref(c)} has {c['size']} rows ({c['n_unique']} unique utterances)."


def extremes(view: RunView, largest: bool = True, n: int = 5) -> str:
    clusters = sorted(view.result()["clusters"], key=lambda c: (-c["size"] if largest else c["size"], c["id"]))
    top = clusters[:n]
    word = "largest" if largest else "smallest"
    return (f"The {word} is {ref(top[0])} with {top[0]['size']} rows. The {len(top)} {word}: "
            + "; ".join(f"{c['id']} '{c['name']}' ({c['size']})" for c in top) + ".")


def _word_stems(topic: str) -> list[str]:
    words = [w for w in re.findall(r"[a-z0-9]+", topic.lower()) if w not in _STOP and len(w) > 2]
    return [w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words]


_STOP = {"the", "and", "about", "with", "for", "are", "any", "that", "this", "from", "their", "them", "those",
         "things", "questions", "people", "customers", "customer", "utterances", "asking", "ask", "asks", "want"}


def _name_texts(clusters: list[dict[str, Any]]) -> list[str]:
    return [c["name"].replace("-", " ").replace("_", " ") for c in clusters]


def topic_scores(view: RunView, topic: str) -> list[tuple[float, dict[str, Any]]]:
    """Clusters with how much they are about ``topic``, best first.

    The score adds the topic's similarity to the cluster name, the mean similarity of
    the cluster's three closest members, and the share of members containing the
    topic's words (when it has any; each word counts alike).
    """
    r = view.result()
    clusters = r["clusters"]
    if not clusters:
        return []
    X = view.vectors()
    q = view.encode([topic])[0]
    names = view.encode(_name_texts(clusters))
    name_sim = names @ q
    sims = X @ q
    texts = r["unique_texts"]
    stems = _word_stems(topic)
    out = []
    for c, ns in zip(clusters, name_sim):
        member = np.sort(sims[c["members"]])[::-1][:3].mean()
        kw = 0.0
        if stems:  # the share of members holding each word, averaged over the words (the name counts fully)
            kw = float(np.mean([np.mean([s in texts[i].lower() for i in c["members"]]) for s in stems]))
            kw = max(kw, float(np.mean([s in c["name"].lower() for s in stems])))
        out.append((float(0.5 * ns + 0.5 * member + 0.5 * kw), c))
    out.sort(key=lambda t: (-t[0], t[1]["id"]))
    return out


def clusters_about(view: RunView, topic: str, limit: int = 6) -> str:
    scored = topic_scores(view, topic)
    if not scored:
        return "The run has no clusters."
    best = scored[0][0]
    picked = [(s, c) for s, c in scored if s >= best - 0.15][:limit]
    listed = "; ".join(f"{ref(c)} ({c['size']} rows)" for _, c in picked)
    if best < CLEAR:
        return (f"No cluster is clearly about {topic!r}: its words are rare in every cluster and no name is close. "
                f"The nearest: {listed}. Its utterances may be unassigned (/search {topic}).")
    return f"Clusters about {topic!r}, closest first: {listed}."


CLEAR = 0.6
"""A topic score below this is no clear match (the topic's words in under a fifth of the members, and
neither the name nor the closest members near it). Chosen by eye on one run of the example corpus."""


def best_about(view: RunView, topic: str) -> dict[str, Any] | None:
    """The one cluster most about ``topic`` (None for a run without clusters)."""
    scored = topic_scores(view, topic)
    return scored[0][1] if scored else None


def _centroids(view: RunView, clusters: list[dict[str, Any]]) -> np.ndarray:
    X = view.vectors()
    C = np.stack([X[c["members"]].mean(axis=0) for c in clusters])
    return C / np.maximum(np.linalg.norm(C, axis=1, keepdims=True), 1e-12)


def similar_clusters(view: RunView, cluster_id: int | None = None, n: int = 5) -> str:
    """The clusters closest to one cluster, or (no id) the closest pairs in the run."""
    clusters = view.result()["clusters"]
    if len(clusters) < 2:
        return "The run has fewer than two clusters."
    S = _centroids(view, clusters) @ _centroids(view, clusters).T
    if cluster_id is not None:
        c = find_cluster(view.result(), cluster_id)
        i = clusters.index(c)
        order = [j for j in np.argsort(-S[i], kind="stable") if j != i][:n]
        return (f"Closest to {ref(c)}: "
                + "; ".join(f"{ref(clusters[j])} (centroid cosine {S[i, j]:.2f})" for j in order) + ".")
    iu = np.triu_indices(len(clusters), k=1)
    order = np.argsort(-S[iu], kind="stable")[:n]
    pairs = [(int(iu[0][k]), int(iu[1][k])) for k in order]
    return ("The most alike clusters (centroid cosine): "
            + "; ".join(f"{ref(clusters[a])} and {ref(clusters[b])} ({S[a, b]:.2f})" for a, b in pairs)
            + ". /compare A B shows a pair side by side.")


def judge_view(view: RunView, cluster_id: int, n: int = 10) -> str:
    """The verdict of one cluster, who gave it, and the utterances the judge read."""
    r = view.result()
    c = find_cluster(r, cluster_id)
    v = c.get("verdict") or {}
    if not v:
        return f"{ref(c)} was not judged (it was made or changed in chat; /rejudge {cluster_id} asks the judge)."
    lines = [f"{ref(c)}: verdict {fmt_verdict(v)}."]
    for vote in v.get("votes") or []:
        lines.append(f"  vote: {vote.get('role')} ({vote.get('model')}): {vote.get('label')} "
                     f"p_good {fmt_p(vote.get('p_good'))}")
    sample = v.get("sample") or []
    if sample:
        lines.append(f"The judge saw {len(sample)} utterances:")
        lines += [f"  #{i} {clip(r['unique_texts'][i], 90)}" for i in sample[:n]]
        if len(sample) > n:
            lines.append(f"  ... {len(sample) - n} more (/show {cluster_id} lists them)")
    else:
        lines.append("No sample was stored: the verdict came from the embedding score, not from an LLM reading.")
    return "\n".join(lines)


def cluster_name(view: RunView, cluster_id: int) -> str:
    c = find_cluster(view.result(), cluster_id)
    return f"Cluster {c['id']} is called '{c['name']}' ({c['size']} rows)."
