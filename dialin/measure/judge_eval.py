"""How good is a coherence judge? ``dialin judge-eval``: accuracy, AUC, cost, per difficulty.

Every judge role (and the crowd, when ``config.crowd`` has members) answers on the same
gold-labelled test clusters (``dialin.measure.judge_sets``) through the real LLM layer, so calls
are logged (under a ``judge-eval-...`` id: ``dialin cost ID`` shows them) and cached.

Reported per judge: accuracy of its good/bad answer; AUC of P(good) where the endpoint
gives logprobs; ``acc_heldout``: accuracy when good = P(good) >= t with t chosen on the
other half of the test clusters (two folds, stratified by difficulty), which corrects a
biased but informative judge without fitting t on the clusters it is scored on.

The embedding-only baseline ``cohesion`` (mean pairwise cosine of all members) has no
answer of its own: its AUC is threshold-free and its accuracy is the held-out one.
The namer check names the good test clusters as the loop names a cluster (the shown sample,
the key words of all its members against the corpus, grounded when ``method.grounded_names``)
and asks whether the name's embedding is nearer to its cluster's gold label than to every
other gold label string.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Callable

import numpy as np

from dialin.agents.crowd import aggregate
from dialin.agents.crowd_fit import refit_all
from dialin.agents.judge import judge_one
from dialin.agents.verdicts import Vote
from dialin.config import Config
from dialin.measure.cost import call_totals
from dialin.data import Corpus
from dialin.embed import make_embedder
from dialin.errors import DataError, LLMCallError
from dialin.measure.judge_sets import DIFFICULTIES, GROUPS, TestCluster, build_test_set, fold_of
from dialin.llm.router import LLMRouter
from dialin.measure.metrics import heldout_accuracy, roc_auc
from dialin.store import Store
from dialin.tools.keywords import KeywordIndex
from dialin.tools.language import joins_words, language_of, tokenizer_for
from dialin.tools.name_words import WordFacts
from dialin.tools.vectors import cohesion
from dialin.tools.naming import name_cluster
from dialin.tools.speakers import cluster_role
from dialin.tools.sampling import sample as sample_fn

Tick = Callable[[], None]


def unique_labels(corpus: Corpus) -> list[str]:
    """The gold label of each unique sentence (its first row's label)."""
    if corpus.labels is None:
        raise DataError(f"{corpus.source}: judge-eval needs gold labels: pass --label-col")
    out: list[str | None] = [None] * len(corpus.unique_texts)
    for row, u in enumerate(corpus.row_to_unique):
        if u >= 0 and out[u] is None:
            out[u] = corpus.labels[row]
    return [lab or "" for lab in out]


def score_answers(tests: list[TestCluster], labels: list[str | None], p_good: list[float | None],
                  fold: np.ndarray) -> dict[str, Any]:
    """Accuracy, AUC (overall and per group), held-out-threshold accuracy, per-difficulty rows."""
    y = np.array([t.gold == "good" for t in tests])
    answered = np.array([lab is not None for lab in labels])
    correct = np.array([lab == t.gold for lab, t in zip(labels, tests)])
    has_p = all(p is not None for p in p_good) and len(p_good) > 0
    p = np.array([np.nan if v is None else v for v in p_good], dtype=float)
    out: dict[str, Any] = {
        "n": len(tests), "answered": int(answered.sum()),
        "accuracy": round(float(correct.mean()), 4) if len(tests) else None,
        "says_good": round(float(np.mean([lab == "good" for lab in labels])), 4) if len(tests) else None,
        "auc": None, "p_good_range": None, "acc_heldout": None, "thresholds": None, "auc_by_group": {},
    }
    pred = None
    if has_p:
        out["auc"] = _round(roc_auc(y, p))
        out["p_good_range"] = [round(float(p.min()), 4), round(float(p.max()), 4)]
        acc, thresholds, pred = heldout_accuracy(y, p, fold)
        out["acc_heldout"], out["thresholds"] = round(acc, 4), [round(t, 4) for t in thresholds]
        for group, members in GROUPS.items():
            sel = np.array([t.difficulty in members for t in tests])
            if sel.any():
                out["auc_by_group"][group] = _round(roc_auc(y[sel], p[sel]))
    per: dict[str, Any] = {}
    for d in DIFFICULTIES:
        sel = np.array([t.difficulty == d for t in tests])
        if not sel.any():
            continue
        per[d] = {"n": int(sel.sum()), "accuracy": round(float(correct[sel].mean()), 4),
                  "mean_p_good": round(float(np.nanmean(p[sel])), 4) if has_p else None}
        if pred is not None:
            per[d]["acc_heldout"] = round(float((pred[sel] == y[sel]).mean()), 4)
    out["per_difficulty"] = per
    return out


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def cohesion_baseline(tests: list[TestCluster], X: np.ndarray, fold: np.ndarray) -> dict[str, Any]:
    scores = np.array([cohesion(X, list(t.members)) for t in tests])
    y = np.array([t.gold == "good" for t in tests])
    acc, thresholds, pred = heldout_accuracy(y, scores, fold)
    row = score_answers(tests, ["good" if g else "bad" for g in pred], list(scores), fold)
    row["accuracy"] = None  # no answer of its own: only the held-out threshold accuracy means something
    row["says_good"] = round(float(pred.mean()), 4)
    for d in row["per_difficulty"].values():
        d["accuracy"] = None
        d["mean_cohesion"] = d.pop("mean_p_good")
    return {"name": "cohesion", "kind": "embedding", "model": "mean pairwise cosine", **row, **_NO_CALLS}


_NO_CALLS = {"calls": 0, "cached": 0, "made": 0, "errors": 0, "prompt_tokens": 0, "completion_tokens": 0,
             "latency_ms_mean": None}


def coherence_model_row(tests: list[TestCluster], X: np.ndarray, fold: np.ndarray,
                        embedder_name: str, path: str | None = None) -> tuple[dict[str, Any], list[float]] | None:
    """The cascade's model scorer (``dialin.tools.coherence``): good when P(good) >= 0.5; None under other vectors.

    Returns the row and the scores (the cascade rows reuse them)."""
    from dialin.tools.coherence import load_model

    model = load_model(path)
    if model.embedder != embedder_name:
        return None
    frame = model.frame(X)
    p = [model.score(frame, t.members) for t in tests]
    row = score_answers(tests, ["good" if v >= 0.5 else "bad" for v in p], p, fold)
    return {"name": "coherence-model", "kind": "embedding", "model": f"P(good) on {model.embedder}", **row,
            **_NO_CALLS}, p


def pair_judge_row(tests: list[TestCluster], texts: list[str], fold: np.ndarray, folder: str, n: int,
                   seed: int) -> tuple[dict[str, Any], list[float]]:
    """The pair judge (``method.pair_model``): mean P(same intent) over the pairs of at most ``n`` members, drawn
    as the cascade draws them; accuracy at a threshold chosen on the other fold, as for cohesion. Returns the row and the scores."""
    from dialin.tools.pair_judge import load_pair_judge, pair_score

    judge = load_pair_judge(folder)
    scores = np.array([pair_score(judge.p_same, [texts[i] for i in t.members], cap=n, seed=seed) for t in tests])
    y = np.array([t.gold == "good" for t in tests])
    _, _, pred = heldout_accuracy(y, scores, fold)
    row = score_answers(tests, ["good" if g else "bad" for g in pred], list(scores), fold)
    return {"name": "pair-judge", "kind": "pairs", "model": f"mean P(same) on {judge.name}", **row, **_NO_CALLS}, \
        list(scores)


def cascade_row(role: str, tests: list[TestCluster], votes: list[Vote | None], scores: list[float],
                low: float, high: float, fold: np.ndarray, scorer: str = "coherence-model") -> dict[str, Any]:
    """What the loop's cascade would do with this judge: the coherence model decides P <= low (bad) and
    P >= high (good) without a call; the judge answers the rest. ``calls`` counts the judge calls kept,
    ``saved`` the ones the cascade made unnecessary. P(good) is the model's where it decided, the
    judge's elsewhere (None when the judge gives no P(good): AUC is then not reported)."""
    labels: list[str | None] = []
    p: list[float | None] = []
    decided = 0
    for v, s in zip(votes, scores):
        if s <= low or s >= high:
            decided += 1
            labels.append("good" if s >= high else "bad")
            p.append(s)
        else:
            labels.append(v.label if v else None)
            p.append(v.p_good if v else None)
    return {"name": f"cascade({role})", "kind": "cascade", "model": f"{scorer} {low}/{high} + {role}",
            **score_answers(tests, labels, p, fold), **_NO_CALLS, "calls": len(tests) - decided, "saved": decided}


class EndpointGates:
    """One semaphore per endpoint, sized like the router's, taken before a call is handed over.

    The router times a call from the moment it is sent to its own semaphore; queueing here
    instead keeps the logged latency a per-call service time.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self._sems: dict[str, asyncio.Semaphore] = {}

    def __call__(self, role: str) -> asyncio.Semaphore:
        endpoint = self.config.roles[role].endpoint
        if endpoint not in self._sems:
            self._sems[endpoint] = asyncio.Semaphore(self.config.endpoints[endpoint].max_concurrency)
        return self._sems[endpoint]


async def _judge_all(router: LLMRouter, roles: list[str], shown: list[list[str]],
                     tick: Tick | None) -> dict[str, list[Vote | None]]:
    gate = EndpointGates(router.config)

    async def one(role: str, texts: list[str]) -> Vote | None:
        try:
            async with gate(role):
                return await judge_one(router, role, texts, stage="judge_eval")
        except LLMCallError:
            return None  # logged with its error; scored as no answer
        finally:
            if tick:
                tick()

    votes = await asyncio.gather(*(one(r, s) for r in roles for s in shown))
    return {r: list(votes[i * len(shown):(i + 1) * len(shown)]) for i, r in enumerate(roles)}


def _role_row(name: str, kind: str, model: str, tests: list[TestCluster], votes: list[Vote | None],
              fold: np.ndarray) -> dict[str, Any]:
    labels = [v.label if v else None for v in votes]
    p = [v.p_good if v else None for v in votes]
    return {"name": name, "kind": kind, "model": model, **score_answers(tests, labels, p, fold)}


async def _namer_check(router: LLMRouter, embedder: Any, tests: list[TestCluster], shown: list[list[str]],
                       gold_names: list[str], texts: list[str], X: np.ndarray, tick: Tick | None,
                       roles: list[str] | None = None) -> dict[str, Any]:
    idx = [i for i, t in enumerate(tests) if t.gold == "good"]
    gate = EndpointGates(router.config)
    lang = language_of(router.config, texts)
    index = KeywordIndex(texts, tokenizer_for(lang))
    facts = WordFacts(texts, tokenizer_for(lang), joined=joins_words(lang))
    m = router.config.method

    async def one(i: int) -> str | None:
        members = list(tests[i].members)
        keywords = index.keywords([texts[j] for j in members], 8)
        try:
            async with gate("namer"):
                return await name_cluster(router, embedder, shown[i], keywords, X[members], mode=m.naming,
                                          grounded=m.grounded_names, stage="namer_eval",
                                          texts=[texts[j] for j in members], facts=facts,
                                          role=cluster_role(members, roles, None) if roles else None)
        except LLMCallError:
            return None
        finally:
            if tick:
                tick()

    names = await asyncio.gather(*(one(i) for i in idx))
    ok = [(i, n) for i, n in zip(idx, names) if n]
    if not ok:
        return {"n": 0, "top1": None, "top5": None, "chance": round(1 / len(gold_names), 4), "examples": []}
    G = embedder.encode([g.replace("_", " ") for g in gold_names])
    E = embedder.encode([n.replace("-", " ").replace("_", " ") for _, n in ok])
    sims = E @ G.T
    ranks, examples = [], []
    for row, (i, name) in enumerate(ok):
        gold = tests[i].intents[0]
        order = np.argsort(-sims[row])
        rank = int(np.flatnonzero(np.array(gold_names)[order] == gold)[0]) + 1
        ranks.append(rank)
        if len(examples) < 12:
            examples.append({"name": name, "gold": gold, "nearest": gold_names[int(order[0])], "rank": rank,
                             "difficulty": tests[i].difficulty})
    r = np.array(ranks)
    return {"n": len(ok), "failed": len(idx) - len(ok), "naming": m.naming, "grounded": m.grounded_names,
            "top1": round(float((r == 1).mean()), 4), "top5": round(float((r <= 5).mean()), 4),
            "mean_rank": round(float(r.mean()), 2),
            "chance": round(1 / len(gold_names), 4), "labels": len(gold_names), "examples": examples}


async def ajudge_eval(corpus: Corpus, config: Config, store: Store, *, roles: list[str] | None = None,
                      n: int = 20, per_difficulty: int = 20, seed: int = 0, namer: bool = True, judges: bool = True,
                      base_urls: dict[str, str] | None = None, client_factory: Any = None,
                      tick_factory: Callable[[int, str], Tick] | None = None) -> dict[str, Any]:
    """Build the test set, ask every judge role (and the crowd), score them and the baselines.

    ``judges=False`` asks no judge (the namer check and the embedding rows only).
    """
    started = time.perf_counter()
    crowd = list(config.crowd.members) if judges else []
    roles = list(dict.fromkeys((roles or ["judge"]) + crowd)) if judges else []
    for r in roles + (["namer"] if namer else []):
        if r not in config.roles:
            raise DataError(f"role '{r}' is not in the config (roles: {', '.join(config.roles)})")
    labels = unique_labels(corpus)
    embedder = make_embedder(config.embedder, store)
    X = embedder.encode(corpus.unique_texts)
    tests, skipped = build_test_set(labels, X, n=n, per_difficulty=per_difficulty, seed=seed)
    if not tests:
        raise DataError(f"no test cluster could be built from {corpus.source}: {skipped}")
    fold = fold_of(tests, seed)
    m = config.method
    shown = [[corpus.unique_texts[i] for i in (t.members if len(t.members) <= n else
                                                 sample_fn(X, t.members, n=n, strategy=m.sampling, seed=seed))]
             for t in tests]
    run_id = time.strftime("judge-eval-%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    if base_urls is None and not roles and not (namer and m.naming != "keywords"):
        base_urls = {}  # nothing here asks an LLM: start no server
    if base_urls is None:
        from dialin.llm.serve import local_base_urls

        base_urls = local_base_urls(config)
    router = LLMRouter(config, store, run_id=run_id, base_urls=base_urls, client_factory=client_factory)
    tick = tick_factory(len(roles) * len(tests), "judging") if tick_factory else None
    votes = await _judge_all(router, roles, shown, tick)
    rows = []
    for r in roles:
        row = _role_row(r, "role", config.roles[r].model, tests, votes[r], fold)
        rows.append(row | _cost(store, run_id, role=r))
    if len(crowd) >= 2:
        agg = [aggregate([v for v in vs if v], config.crowd.aggregation) if all(vs) else None
               for vs in zip(*(votes[r] for r in crowd))]
        agg = refit_all(agg, config.crowd.aggregation, config.crowd.smoothing)
        row = {"name": "crowd", "kind": "crowd", "model": "+".join(crowd),
               **score_answers(tests, [a.label if a else None for a in agg],
                               [a.p_good if a else None for a in agg], fold)}
        costs = [_cost(store, run_id, role=r) for r in crowd]
        rows.append(row | {k: sum(c[k] or 0 for c in costs) for k in costs[0] if k != "latency_ms_mean"}
                    | {"latency_ms_mean": None})
    rows.append(cohesion_baseline(tests, X, fold))
    scored = coherence_model_row(tests, X, fold, embedder.name, m.coherence_model)
    if scored is None:
        skipped["coherence-model"] = f"the model was fitted on other vectors than {embedder.name}'s"
    else:
        rows.append(scored[0])
        if m.cascade_scorer == "model" and m.cascade_low is not None and m.cascade_high is not None:
            rows.extend(cascade_row(r, tests, votes[r], scored[1], m.cascade_low, m.cascade_high, fold)
                        for r in roles)
    if m.pair_model:
        pair_row, pair_scores = pair_judge_row(tests, list(corpus.unique_texts), fold, m.pair_model, n, seed)
        rows.append(pair_row)
        if m.cascade_scorer == "pairs" and m.cascade_low is not None and m.cascade_high is not None:
            rows.extend(cascade_row(r, tests, votes[r], pair_scores, m.cascade_low, m.cascade_high, fold, "pair-judge")
                        for r in roles)
    n_good = sum(t.gold == "good" for t in tests)
    namer_out = None
    if namer:
        ntick = tick_factory(sum(t.gold == "good" for t in tests), "naming") if tick_factory else None
        gold_names = sorted(set(labels))
        namer_out = await _namer_check(router, embedder, tests, shown, gold_names, list(corpus.unique_texts), X,
                                       ntick, corpus.unique_roles)
        namer_out |= _cost(store, run_id, role="namer")
    return {
        "run_id": run_id, "data": corpus.source, "rows": len(corpus), "unique": len(corpus.unique_texts),
        "intents": len(set(labels)), "n": n, "per_difficulty": per_difficulty, "seed": seed,
        "sampling": m.sampling, "embedder": embedder.name,
        "set": {d: {"clusters": sum(t.difficulty == d for t in tests),
                    "good": sum(t.difficulty == d and t.gold == "good" for t in tests)}
                for d in DIFFICULTIES if any(t.difficulty == d for t in tests)},
        "majority_accuracy": round(max(n_good, len(tests) - n_good) / len(tests), 4),
        "skipped": skipped, "judges": rows, "namer": namer_out,
        "wall_s": round(time.perf_counter() - started, 1),
    }


def _cost(store: Store, run_id: str, role: str) -> dict[str, Any]:
    t = call_totals(store, run_id, role=role)
    return {"calls": t["calls"], "cached": t["cached"], "made": t["made"], "errors": t["errors"],
            "prompt_tokens": t["prompt_tokens"], "completion_tokens": t["completion_tokens"],
            "latency_ms_mean": t["latency_ms_mean"]}


def judge_eval(corpus: Corpus, config: Config, store: Store, **kwargs: Any) -> dict[str, Any]:
    from dialin.llm.router import run_sync

    return run_sync(ajudge_eval(corpus, config, store, **kwargs))
