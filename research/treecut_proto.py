"""In-process prototype of the tree-cut loop with a SIMULATED judge that reads the gold labels (issue 14).

It measures the method, never runs it: the same pieces as ``dialin/graphs/discovery/treecut.py``
(``tools/hierarchy``, ``tools/sampling``, ``measure/simulate.judge``: the same rules, coins seeded by the
shown sample) without the HTTP server and the graph, so one row takes seconds instead of 15-30 min.

    PYTHONPATH=$PWD nice -n 10 python research/treecut_proto.py b77 hwu --acc 0.96 --min-size 3 ...

Vectors: the bundled all-MiniLM-L6-v2, cached under $DIALIN_HOME/proto/.

Session 9 levers (docs/BENCHMARKS.md 16): ``--low/--high`` (tree nodes decided by the shipped P(good) model
without a call), ``--pair-low/--pair-one`` (merge unions refused without a call / one check), ``--stop-rel``
(a bad node under a share of n/k0 is set aside, its halves unjudged), ``--max-refusals``, ``--skip-frag``,
``--dump`` (each node's and pair's size, P(good), gold purity) and the bounds ``--oracle/--oracle-pairs``
(a perfect free cascade: mixed nodes / unions decided from the gold labels, no call; never a method).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np

from dialin.agents.control import unique_labels
from dialin.data import load_corpus
from dialin.measure.metrics import clustering_metrics
from dialin.measure.simulate import SimSpec, judge
from dialin.tools.hierarchy import build_hierarchy
from dialin.tools.leftovers import assign_leftovers, centroids
from dialin.tools.sampling import sample

SETS = {"b77": ("../shared/data/banking77/banking77_small.jsonl", None),
        "hwu": ("../shared/data/hwu64/hwu64.jsonl", "test")}


def load(name: str):
    path, split = SETS[name]
    corpus = load_corpus(path, label_col="label", split=split)
    cache = Path(os.environ.get("DIALIN_HOME", "/tmp")) / "proto" / f"{name}.npy"
    if cache.exists():
        X = np.load(cache)
    else:
        from dialin.embed import make_embedder
        from dialin.config import EmbedderConfig

        X = make_embedder(EmbedderConfig(kind="sentence-transformers", model="bundled:all-MiniLM-L6-v2")).encode(
            corpus.unique_texts)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, X)
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    gold_u = unique_labels(corpus.labels, corpus.row_to_unique, len(corpus.unique_texts))
    return corpus, X, gold_u


class Judge:
    def __init__(self, X, gold, spec: SimSpec, n: int = 20, seed: int = 0, budget: int | None = None):
        self.X, self.gold, self.spec, self.n, self.seed, self.budget = X, gold, spec, n, seed, budget
        self.calls = 0
        self.reorder = True
        self.salt = ""  # --coin N: another draw of the judge's errors (the server's coins hang on the prompt only)

    def left(self) -> bool:
        return self.budget is None or self.calls < self.budget

    def ask(self, picked: list[int]) -> bool:
        self.calls += 1
        key = hashlib.sha1((self.spec.model_name + self.salt + ":" + ",".join(map(str, picked))).encode()).hexdigest()
        return judge([self.gold[i] for i in picked], self.spec, key).label == "good"

    def node(self, members: list[int]) -> bool:
        return self.ask(sample(self.X, members, n=self.n, strategy="convex", seed=self.seed))

    def pair(self, a: list[int], b: list[int], checks: int) -> bool:
        half = self.n // 2
        for c in range(checks):
            picked = (sample(self.X, a, n=half, strategy="convex", seed=self.seed + c)
                      + sample(self.X, b, n=half, strategy="convex", seed=self.seed + c))
            if c and self.reorder:  # as dialin/graphs/discovery/steps.judge_pair: another order, a new question
                picked = [picked[i] for i in np.random.default_rng(self.seed + c).permutation(len(picked))]
            if not self.ask(picked):
                return False
        return True


_MODEL = {}


def fallback(X, members) -> bool:
    """``tools.cascade.fallback_verdict`` without a workspace: the shipped P(good) model, good iff >= 0.5."""
    return pgood(X, members) >= 0.5


def pgood(X, members) -> float:
    """The shipped P(good) model's score of ``members`` in the corpus frame of ``X``."""
    from dialin.tools.coherence import load_model
    if "m" not in _MODEL or _MODEL["X"] is not X:
        model = load_model(None)
        _MODEL.update(m=model, X=X, f=model.frame(X))
    return 1.0 if len(members) == 1 else float(_MODEL["m"].score(_MODEL["f"], members))


def regroup(X, clusters, J, a):
    """Walk a Ward tree over the clusters (centroids weighted by size), closest merge first; the judge checks
    each union (a mixed sample, half from each side); a refused union freezes both sides and every ancestor."""
    from dialin.tools.hierarchy import weighted_ward
    m = len(clusters)
    if m < 2:
        return clusters
    C = np.stack([X[c].mean(0) for c in clusters])
    Z = weighted_ward(C, np.array([len(c) for c in clusters], float))
    groups = {k: list(clusters[k]) for k in range(m)}
    frozen: set[int] = set()
    final: list[list[int]] = []
    for step, (x, y, d, _) in enumerate(Z):
        x, y, node = int(x), int(y), m + step
        if x in frozen or y in frozen or not J.left():
            for z in (x, y):
                if z not in frozen:
                    final.append(groups.pop(z))
            frozen.add(node)
            continue
        A, B = groups[x], groups[y]
        cos = float(X[A].mean(0) @ X[B].mean(0) / np.linalg.norm(X[A].mean(0)) / np.linalg.norm(X[B].mean(0)))
        checks = 1 if (a.close1 is not None and cos >= a.close1) else a.checks
        if J.pair(A, B, checks):
            groups[node] = groups.pop(x) + groups.pop(y)
        else:
            final.append(groups.pop(x)); final.append(groups.pop(y))
            frozen.add(node)
    final.extend(groups.values())
    return final


def run(X, gold, a) -> dict:
    n = len(X)
    spec = SimSpec(accuracy=a.acc, purity=a.purity, hard=a.hard)
    J = Judge(X, gold, spec, seed=a.seed, budget=a.budget)
    J.reorder = not a.same_order
    J.salt = f"#{a.coin}" if a.coin else ""
    h = build_hierarchy(X, seed=a.seed)
    k0 = min(n, max(2, round(a.start * math.sqrt(n / 2))))
    min_size = a.min_size if a.min_size > 0 else max(2, round(a.min_rel * n / k0))
    frontier = h.cut_nodes(k0)
    stop_below = a.stop_rel * n / k0  # --stop-rel: the halves of a bad node under this size are not judged
    kept: list[list[int]] = []
    bad_parent: dict[int, int] = {}  # node -> its parent when that parent was judged bad
    kept_node: list[int] = []
    rest: list[int] = []
    tree_calls = 0
    cascade = {"node_bad": 0, "node_good": 0, "pair_bad": 0, "pair_one": 0}
    dump: list = []
    while frontier:
        nxt = []
        for node in sorted(frontier, key=lambda x: (-h.size(x), x)):  # as the graph: the budget goes to big nodes
            mem = h.members(node)
            if len(mem) < min_size:
                rest.extend(mem)
                continue
            p = pgood(X, mem) if (a.low is not None or a.high is not None or a.dump) else None
            if not J.left():  # as the graph does: the cascade's score against its band's middle decides
                good = fallback(X, mem)
            elif a.oracle and max(Counter(gold[i] for i in mem).values()) < 0.9 * len(mem):
                good = False; cascade["node_bad"] += 1  # --oracle: a perfect free cascade for mixed nodes (a bound)
            elif a.low is not None and p <= a.low:
                good = False; cascade["node_bad"] += 1
            elif a.high is not None and p >= a.high:
                good = True; cascade["node_good"] += 1
            else:
                good = J.node(mem)
            if a.dump:
                g = [gold[i] for i in mem]
                dump.append({"kind": "node", "size": len(mem), "p": p, "pur": max(g.count(x) for x in set(g)) / len(g),
                             "good": bool(good)})
            if good:
                kept.append(mem); kept_node.append(node)
            elif h.children(node) is None or len(mem) < stop_below:
                rest.extend(mem)  # a leaf, or a bad node too small to be worth judging its halves: set aside
            else:
                for c in h.children(node):
                    bad_parent[c] = node
                nxt.extend(h.children(node))
        frontier = nxt
    tree_calls = J.calls
    n_tree = len(kept)
    # merges
    groups = [[k] for k in range(len(kept))]  # kept clusters as unions of tree nodes
    clusters = [list(c) for c in kept]
    refused: set = set()
    n_refused: dict = {}
    for rnd in range(a.rounds):
        if len(clusters) < 2 or not J.left():
            break
        C = centroids(X, clusters)
        S = C @ C.T
        np.fill_diagonal(S, -np.inf)
        if a.cand == "confusion":
            from sklearn.linear_model import LogisticRegression
            idx = [i for c in clusters for i in c]
            y = [k for k, c in enumerate(clusters) for _ in c]
            P = LogisticRegression(C=a.lr_c, max_iter=300).fit(X[idx], y).predict_proba(X[idx])
            M = np.zeros((len(clusters), len(clusters)))
            np.add.at(M, np.asarray(y), P)
            M /= np.bincount(y)[:, None]
            S = M + M.T
            np.fill_diagonal(S, -np.inf)
        if a.cand == "cosine":  # exactly the graph's candidates (dialin/graphs/discovery/treecut.py)
            from dialin.graphs.discovery.treecut import merge_candidates
            ids = [hash(tuple(sorted(c))) for c in clusters]
            pos = {h_: k for k, h_ in enumerate(ids)}
            ref = {(pos[x], pos[y]) for x, y in refused if x in pos and y in pos} if a.memory else set()
            if a.max_refusals:  # --max-refusals R: a cluster refused R times is final, never proposed again
                frozen = [k for k, h_ in enumerate(ids) if n_refused.get(h_, 0) >= a.max_refusals]
                ref |= {(f, k) for f in frozen for k in range(len(clusters))}
            cand = merge_candidates(X, clusters, ref)
        else:
            nn = S.argmax(1)
            cand = sorted({(min(i, int(j)), max(i, int(j))) for i, j in enumerate(nn)}, key=lambda p: -S[p])
        used: set[int] = set()
        merged = []
        misses = 0
        floor = a.skip_frag * float(np.median([len(c) for c in clusters]))
        for i, j in cand:
            if a.patience and misses >= a.patience:
                break  # the closest pairs come first: after this many refusals in a row, the round ends
            if i in used or j in used:
                continue
            gi, gj = groups[i], groups[j]
            if a.skip_siblings and len(gi) == 1 and len(gj) == 1:
                ni, nj = kept_node[gi[0]], kept_node[gj[0]]
                if bad_parent.get(ni) is not None and bad_parent.get(ni) == bad_parent.get(nj):
                    continue  # the judge has seen exactly this union: bad
            if min(len(clusters[i]), len(clusters[j])) < floor:
                continue  # --skip-frag: a fragment is not asked about; the dissolve step places it
            if not J.left():
                break
            cos = float((C[i] @ C[j]))
            checks = 1 if (a.close1 is not None and cos >= a.close1) else a.checks
            pu = pgood(X, clusters[i] + clusters[j]) if (a.pair_low is not None or a.pair_one is not None
                                                           or a.dump) else None
            if a.dump:
                g = [gold[x] for x in clusters[i] + clusters[j]]
                dump.append({"kind": "pair", "size": len(g), "p": pu, "pur": max(g.count(x) for x in set(g)) / len(g),
                             "cos": cos, "rnd": rnd})
            if a.pair_one is not None and pu >= a.pair_one:
                checks = 1; cascade["pair_one"] += 1
            if a.oracle_pairs and max(Counter(gold[x] for x in clusters[i] + clusters[j]).values()) < 0.9 * (
                    len(clusters[i]) + len(clusters[j])):
                cascade["pair_bad"] += 1  # --oracle-pairs: a perfect free cascade for mixed unions (a bound)
                ok = False
            elif a.pair_low is not None and pu <= a.pair_low:
                cascade["pair_bad"] += 1
                ok = False
            else:
                ok = J.pair(clusters[i], clusters[j], checks)
            if ok:
                used.update((i, j))
                merged.append((i, j))
                misses = 0
            else:
                misses += 1
                hi, hj = hash(tuple(sorted(clusters[i]))), hash(tuple(sorted(clusters[j])))
                refused.update({(hi, hj), (hj, hi)})
                n_refused[hi] = n_refused.get(hi, 0) + 1
                n_refused[hj] = n_refused.get(hj, 0) + 1
        if not merged:
            break
        taken = {x for p in merged for x in p}
        clusters = [clusters[i] + clusters[j] for i, j in merged] + [c for k, c in enumerate(clusters) if k not in taken]
        groups = [groups[i] + groups[j] for i, j in merged] + [g for k, g in enumerate(groups) if k not in taken]
    if a.regroup:
        clusters = regroup(X, clusters, J, a)
    if a.dissolve > 0 and len(clusters) > 1:  # clusters under dissolve x the median size join the nearest other
        med = float(np.median([len(c) for c in clusters]))
        small = [c for c in clusters if len(c) < a.dissolve * med]
        clusters = [c for c in clusters if len(c) >= a.dissolve * med] or clusters
        if len(clusters) < len(small) + len(clusters):
            rest = list(rest) + [i for c in small for i in c]
    assigned, left = assign_leftovers(X, clusters, sorted(set(rest)), -1.0)
    lab = np.full(n, -1)
    for k, c in enumerate(clusters):
        lab[c] = k
    for i, k in assigned.items():
        lab[i] = k
    if a.dump:
        with open(a.dump, "a") as f:
            for d in dump:
                f.write(json.dumps(d) + "\n")
    return {"labels": lab, "calls": J.calls, "tree_calls": tree_calls, "tree_clusters": n_tree, "cascade": cascade,
            "k0": k0, "min_size": min_size, "final": len(clusters)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("sets", nargs="+")
    p.add_argument("--acc", type=float, default=0.96)
    p.add_argument("--purity", type=float, default=0.9)
    p.add_argument("--hard", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-size", type=int, default=5)
    p.add_argument("--min-rel", type=float, default=0.0)
    p.add_argument("--start", type=float, default=1.0)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--checks", type=int, default=2)
    p.add_argument("--close1", type=float, default=None)
    p.add_argument("--cand", default="cosine")
    p.add_argument("--lr-c", type=float, default=1.0)
    p.add_argument("--skip-siblings", action="store_true")
    p.add_argument("--patience", type=int, default=0)
    p.add_argument("--regroup", action="store_true")
    p.add_argument("--memory", action="store_true")
    p.add_argument("--coin", type=int, default=0)
    p.add_argument("--same-order", action="store_true")
    p.add_argument("--dissolve", type=float, default=0.0)
    p.add_argument("--budget", type=int, default=None)
    p.add_argument("--tag", default="")
    p.add_argument("--low", type=float, default=None, help="tree nodes with P(good) <= low are bad, no call")
    p.add_argument("--high", type=float, default=None, help="tree nodes with P(good) >= high are good, no call")
    p.add_argument("--pair-low", type=float, default=None, help="merge unions with P(good) <= this: refused, no call")
    p.add_argument("--pair-one", type=float, default=None, help="merge unions with P(good) >= this: one check")
    p.add_argument("--stop-rel", type=float, default=0.0,
                   help="a bad node under this x n/k0 (the start cut's mean size) is set aside, its halves unjudged")
    p.add_argument("--max-refusals", type=int, default=0, help="a cluster refused this often is not asked again")
    p.add_argument("--skip-frag", type=float, default=0.0,
                   help="pairs with a cluster under this x the median size are not asked")
    p.add_argument("--oracle", action="store_true", help="bound: mixed nodes (gold) are bad without a call")
    p.add_argument("--oracle-pairs", action="store_true", help="bound: mixed unions (gold) refused without a call")
    p.add_argument("--dump", default="", help="append each node/pair's size, P(good), gold purity (JSONL)")
    a = p.parse_args()
    for name in a.sets:
        corpus, X, gold_u = load(name)
        t0, c0 = time.perf_counter(), time.process_time()
        r = run(X, gold_u, a)
        keep = [i for i, u in enumerate(corpus.row_to_unique) if u >= 0]
        m = clustering_metrics([corpus.labels[i] for i in keep], [int(r["labels"][corpus.row_to_unique[i]]) for i in keep])
        out = {"set": name, "tag": a.tag, "nmi": m["nmi"], "acc": m["acc"], "clusters": r["final"],
               "calls": r["calls"], "tree_calls": r["tree_calls"], "tree_clusters": r["tree_clusters"],
               "k0": r["k0"], "min_size": r["min_size"], "cascade": r["cascade"],
               "cpu_s": round(time.process_time() - c0, 1),
               "wall_s": round(time.perf_counter() - t0, 1), "load": os.getloadavg()[0],
               "args": {k: v for k, v in vars(a).items() if k not in ("sets", "tag")}}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
