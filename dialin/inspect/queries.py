"""Read-only questions about a stored run, answered as short plain text.

The text is what the inspector model reads and what a slash command prints, so it is
compact, names cluster ids and names, and never invents anything not in the result.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from dialin.errors import DialinError
from dialin.inspect.edits import find_cluster
from dialin.tools.vectors import cohesion
from dialin.inspect.run_view import RunView

SortKey = Literal["size", "confidence", "id", "name"]
VerdictFilter = Literal["any", "good", "bad", "unjudged"]


def clip(text: str, n: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1] + "…"


def fmt_p(p: float | None) -> str:
    return "-" if p is None else f"{p:.2f}"


def fmt_verdict(v: dict[str, Any] | None) -> str:
    if not v:
        return "not judged"
    return f"{v.get('label') or '?'} (p_good {fmt_p(v.get('p_good'))}, {v.get('source') or '?'})"


def cluster_line(c: dict[str, Any]) -> str:
    role = f" [{c['role']}]" if c.get("role") else ""
    return (f"{c['id']:>3}  {c['name']}{role}  rows {c['size']}, unique {c['n_unique']}  "
            f"verdict {fmt_verdict(c.get('verdict'))}")


def _owner(result: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {i: c for c in result["clusters"] for i in c["members"]}


def _where_text(owner: dict[int, dict[str, Any]], i: int) -> str:
    c = owner.get(i)
    return f"cluster {c['id']} '{c['name']}'" if c else "unassigned"


def summary(view: RunView) -> str:
    r = view.result()
    s = r.get("stats", {})
    revs = view.store.revisions(view.run_id)
    last = revs[-1] if revs else {"revision": "?", "note": ""}
    labels = [(c.get("verdict") or {}).get("label") for c in r["clusters"]]
    lines = [f"run {view.run_id} ({r.get('source') or 'no source'}), revision {last['revision']} ({last['note']})",
             f"{s.get('rows', len(r['row_to_unique']))} rows, {len(r['unique_texts'])} unique utterances, "
             f"{len(r['clusters'])} clusters, {len(r['unassigned'])} unique utterances unassigned",
             f"verdicts: {labels.count('good')} good, {labels.count('bad')} bad, {labels.count(None)} not judged; "
             f"{len(r.get('merges') or [])} merges; stopped: {r.get('stop_reason') or '-'}"]
    iters = sorted({h.get("iteration") for h in r.get("history", [])} - {None})
    for t in iters:
        chosen = next((h for h in r["history"] if h.get("iteration") == t and h.get("chosen")), None)
        if chosen:
            lines.append(f"iteration {t}: chose K={chosen['k']} (ratio {chosen['ratio']:.2f}, "
                         f"{chosen['good']} good / {chosen['bad']} bad)")
    if r.get("gold_labels"):
        from dialin.measure.metrics import clustering_metrics

        m = clustering_metrics(r["gold_labels"], r["row_labels"])
        lines.append(f"against gold labels: NMI {m['nmi']}, ACC {m['acc']}, ARI {m['ari']} "
                     f"({m['n_clusters_pred']} clusters vs {m['n_clusters_true']} gold intents)")
    top = sorted(r["clusters"], key=lambda c: -c["size"])[:5]
    lines.append("largest: " + "; ".join(f"{c['id']} {c['name']} ({c['size']})" for c in top))
    return "\n".join(lines)


def list_clusters(view: RunView, sort: SortKey = "size", verdict: VerdictFilter = "any", limit: int = 50) -> str:
    clusters = list(view.result()["clusters"])
    if verdict == "unjudged":
        clusters = [c for c in clusters if not (c.get("verdict") or {}).get("label")]
    elif verdict != "any":
        clusters = [c for c in clusters if (c.get("verdict") or {}).get("label") == verdict]
    keys = {"size": lambda c: (-c["size"], c["id"]), "id": lambda c: c["id"], "name": lambda c: c["name"],
            "confidence": lambda c: -((c.get("verdict") or {}).get("p_good") or -1.0)}
    clusters.sort(key=keys[sort])
    if not clusters:
        return f"no clusters with verdict '{verdict}'"
    lines = [f"{len(clusters)} clusters (id  name  rows  verdict):"] + [cluster_line(c) for c in clusters[:limit]]
    if len(clusters) > limit:
        lines.append(f"... {len(clusters) - limit} more")
    return "\n".join(lines)


def show_cluster(view: RunView, cluster_id: int, max_members: int = 25) -> str:
    r = view.result()
    c = find_cluster(r, cluster_id)
    texts = r["unique_texts"]
    v = c.get("verdict") or {}
    lines = [cluster_line(c)]
    if c.get("cohesion") is not None:
        lines.append(f"cohesion {c['cohesion']:.3f}; found at iteration {c.get('iteration')}, K={c.get('k')}")
    for vote in v.get("votes") or []:
        lines.append(f"  vote: {vote.get('role')} ({vote.get('model')}): {vote.get('label')} "
                     f"p_good {fmt_p(vote.get('p_good'))}{' (cached)' if vote.get('cached') else ''}")
    if v.get("agreement") is not None:
        lines.append(f"  agreement {v['agreement']:.2f}")
    if v.get("sample") and sorted(v["sample"]) == c["members"]:
        lines.append(f"the judge saw all {len(v['sample'])} members")
    elif v.get("sample"):
        lines.append(f"sample the judge saw ({len(v['sample'])}):")
        lines += [f"  #{i} {clip(texts[i])}" for i in v["sample"]]
    for part in c.get("merged_from") or []:
        lines.append(f"merged from: {part.get('name')} ({part.get('size')} rows, "
                     f"{fmt_verdict(part.get('verdict'))})")
    if c.get("split_from"):
        lines.append(f"split from cluster {c['split_from']['id']} '{c['split_from']['name']}'")
    lines.append(f"members ({len(c['members'])} unique):")
    lines += [f"  #{i} {clip(texts[i])}" for i in c["members"][:max_members]]
    if len(c["members"]) > max_members:
        lines.append(f"  ... {len(c['members']) - max_members} more")
    return "\n".join(lines)


def search(view: RunView, query: str, mode: Literal["semantic", "keyword"] = "semantic", limit: int = 10) -> str:
    r = view.result()
    texts = r["unique_texts"]
    owner = _owner(r)
    if mode == "keyword":
        words = query.lower().split()
        hits = [i for i, t in enumerate(texts) if all(w in t.lower() for w in words)]
        if not hits:
            return f"no utterance contains {' and '.join(repr(w) for w in words)}"
        lines = [f"{len(hits)} utterances contain {query!r}:"]
        lines += [f"  #{i} {clip(texts[i])}  -> {_where_text(owner, i)}" for i in hits[:limit]]
        if len(hits) > limit:
            lines.append(f"  ... {len(hits) - limit} more")
        return "\n".join(lines)
    X = view.vectors()
    q = view.encode([query])[0]
    sims = X @ q
    top = np.argsort(-sims, kind="stable")[:limit]
    lines = [f"closest to {query!r}:"]
    lines += [f"  #{int(i)} [{sims[i]:.2f}] {clip(texts[int(i)])}  -> {_where_text(owner, int(i))}" for i in top]
    return "\n".join(lines)


def where(view: RunView, utterance: str) -> str:
    r = view.result()
    i = view.find_utterance(utterance)
    owner = _owner(r)
    if i is not None:
        rows = sum(1 for u in r["row_to_unique"] if u == i)
        plural = "" if rows == 1 else "s"
        return f"#{i} {clip(r['unique_texts'][i])!r} ({rows} row{plural}) is in {_where_text(owner, i)}"
    return f"no utterance is exactly {utterance!r}; the nearest ones:\n" + search(view, utterance, limit=3)


def compare(view: RunView, a: int, b: int) -> str:
    r = view.result()
    if a == b:
        raise DialinError(f"/compare needs two different clusters, got {a} twice: /compare {a} OTHER_ID "
                          "(/clusters lists the ids)")
    ca, cb = find_cluster(r, a), find_cluster(r, b)
    X = view.vectors()
    texts = r["unique_texts"]
    A, B = X[ca["members"]], X[cb["members"]]
    ma, mb = A.mean(axis=0), B.mean(axis=0)
    cos = float(ma @ mb / max(np.linalg.norm(ma) * np.linalg.norm(mb), 1e-12))
    sims = A @ B.T
    ia, ib = np.unravel_index(int(np.argmax(sims)), sims.shape)
    union = cohesion(X, ca["members"] + cb["members"])
    lines = [cluster_line(ca), cluster_line(cb),
             f"centroid cosine {cos:.3f}; cohesion {cohesion(X, ca['members']):.3f} / "
             f"{cohesion(X, cb['members']):.3f}, merged it would be {union:.3f}",
             f"closest pair ({sims[ia, ib]:.2f}): #{ca['members'][ia]} {clip(texts[ca['members'][ia]], 80)!r} <-> "
             f"#{cb['members'][ib]} {clip(texts[cb['members'][ib]], 80)!r}"]
    for c in (ca, cb):
        shown = ((c.get("verdict") or {}).get("sample") or c["members"])[:4]
        lines.append(f"{c['id']} {c['name']}: " + " | ".join(clip(texts[i], 60) for i in shown))
    return "\n".join(lines)
