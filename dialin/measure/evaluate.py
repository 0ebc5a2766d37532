"""Scoring a stored run: gold alignment, NMI/ACC/ARI, and goodness by an independent evaluator.

Goodness (METHOD.md) is the share of final clusters judged good by the ``evaluator``
role. A judge cannot grade its own homework: the evaluator is refused when it is the
same judge as one used inside the loop, i.e. the same place (base URL, or for ``auto``
the served model file), the same model (llama.cpp serves its one loaded model whatever
the name, so there the name does not count) and the same prompt text.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from dialin.config import Config
from dialin.data import Corpus
from dialin.errors import ConfigError, DataError, LLMCallError
from dialin.llm.backends import BACKENDS
from dialin.measure.metrics import clustering_metrics, goodness
from dialin.prompts import load_prompt
from dialin.store import Store

EVALUATOR = "evaluator"
EVALUATOR_EXAMPLE = """roles:
  evaluator:
    endpoint: big        # another endpoint (e.g. a larger model), or
    model: qwen2.5-7b    # another model, or
    prompt: judge        # another prompt file than the loop's judge"""


def judge_identity(config: Config, role: str) -> tuple[str, str, str]:
    """(where, model, prompt hash) of a role: what makes two judges the same judge."""
    r = config.roles[role]
    ep = config.endpoints[r.endpoint]
    if ep.base_url == "auto":
        where = f"auto:{ep.model_path or f'{ep.hf_repo}/{ep.hf_file}'}"
    else:
        where = ep.base_url.rstrip("/")
    model = "(the one model loaded)" if BACKENDS[ep.backend].one_model else r.model
    return where, model, load_prompt(r.prompt).hash


def check_evaluator(config: Config, loop_config: Config) -> None:
    """Raise ``ConfigError`` unless ``config`` has an evaluator unlike every judge of ``loop_config``."""
    if EVALUATOR not in config.roles:
        raise ConfigError("goodness needs an 'evaluator' role, a judge that is NOT the one used inside the loop. "
                          f"Add it to the config, e.g.\n{EVALUATOR_EXAMPLE}")
    mine = judge_identity(config, EVALUATOR)
    for judge in loop_config.judges():
        if judge in loop_config.roles and judge_identity(loop_config, judge) == mine:
            raise ConfigError(
                f"the evaluator is the same judge as the loop's '{judge}' role (endpoint {mine[0]}, model "
                f"{mine[1]}, prompt hash {mine[2]}): goodness from the loop's own judge only repeats its verdicts. "
                "Point roles.evaluator at another endpoint, model or prompt.")


def run_row_texts(result: dict[str, Any]) -> list[str]:
    """The input rows of a run, rebuilt from its unique sentences ('' for blank rows)."""
    texts = result["unique_texts"]
    return [texts[u] if u >= 0 else "" for u in result["row_to_unique"]]


def align_gold(result: dict[str, Any], gold: Corpus) -> list[str]:
    """Gold labels of the run's rows; ``DataError`` when the gold file is not the run's input."""
    if gold.labels is None:
        raise DataError(f"{gold.source}: no gold labels loaded: pass --label-col")
    run_texts = run_row_texts(result)
    if len(gold.texts) != len(run_texts):
        raise DataError(
            f"the gold file {gold.source} has {len(gold.texts)} rows but run {result['run_id']} was made from "
            f"{len(run_texts)} (from {result.get('source')}): it must be the run's input, same rows in the same "
            "order. Use the same file and the same --split / --limit as the run.")
    diff = [i for i, (a, b) in enumerate(zip(gold.texts, run_texts)) if " ".join(a.split()) != " ".join(b.split())]
    if diff:
        i = diff[0]
        raise DataError(
            f"the gold file {gold.source} has the run's row count ({len(run_texts)}) but {len(diff)} row(s) differ "
            f"in their text; first at row {i + 1}: gold {gold.texts[i]!r} vs run {run_texts[i]!r}. The gold file "
            "must hold the run's input rows in the same order (check --text-col and the order of the file).")
    return gold.labels


def run_metrics(result: dict[str, Any], gold_labels: list[str]) -> dict[str, Any]:
    """NMI/ACC/ARI over the run's non-blank rows (blank rows were never clustered) that have a gold label
    (a blank label is no intent: counting blanks as one gold intent would distort every metric)."""
    clustered = [i for i, u in enumerate(result["row_to_unique"]) if u >= 0]
    keep = [i for i in clustered if gold_labels[i] is not None and str(gold_labels[i]).strip()]
    if not keep:
        raise DataError("no clustered row has a gold label: check --label-col (every value is blank)")
    y = [gold_labels[i] for i in keep]
    p = [result["row_labels"][i] for i in keep]
    return {**clustering_metrics(y, p), "rows_scored": len(keep),
            "rows_blank": len(result["row_to_unique"]) - len(clustered),
            "rows_unlabelled": len(clustered) - len(keep)}


async def agoodness(result: dict[str, Any], config: Config, store: Store, *, seed: int = 0,
                    base_urls: dict[str, str] | None = None, client_factory: Any = None) -> dict[str, Any]:
    """Ask the evaluator about every final cluster (a uniform sample of ``method.n_sentences``).

    Calls are logged under the run's id with stage ``evaluate`` (``dialin cost RUN`` shows them apart).
    """
    from dialin.agents.judge import judge_one
    from dialin.measure.judge_eval import EndpointGates
    from dialin.llm.router import LLMRouter

    loop_config = Config.model_validate(store.run(result["run_id"])["config"])
    check_evaluator(config, loop_config)
    if not result["clusters"]:
        raise DataError(f"run {result['run_id']} has no clusters: there is nothing to judge")
    if base_urls is None:
        from dialin.llm.serve import local_base_urls

        base_urls = local_base_urls(config)
    router = LLMRouter(config, store, run_id=result["run_id"], base_urls=base_urls, client_factory=client_factory)
    n = config.method.n_sentences
    texts = result["unique_texts"]
    gate = EndpointGates(config)

    async def one(c: dict[str, Any]) -> dict[str, Any]:
        members = list(c["members"])
        shown = members if len(members) <= n else random.Random(f"{seed}:{c['id']}").sample(members, n)
        row = {"id": c["id"], "name": c["name"], "size": c["size"], "label": None, "p_good": None}
        try:
            async with gate(EVALUATOR):
                vote = await judge_one(router, EVALUATOR, [texts[i] for i in shown], stage="evaluate")
        except LLMCallError as exc:
            return row | {"error": str(exc)}
        return row | {"label": vote.label, "p_good": vote.p_good}

    per = list(await asyncio.gather(*(one(c) for c in result["clusters"])))
    labels = [v["label"] for v in per]
    rows_good = sum(v["size"] for v in per if v["label"] == "good")
    rows_all = sum(v["size"] for v in per)
    role = config.roles[EVALUATOR]
    return {"goodness": goodness(labels), "clusters": len(per), "good": labels.count("good"),
            "errors": sum(1 for v in per if v["label"] is None),
            "goodness_by_rows": round(100.0 * rows_good / rows_all, 2) if rows_all else None,
            "evaluator": {"endpoint": role.endpoint, "model": role.model, "prompt": role.prompt},
            "sample": f"uniform, up to {n} sentences per cluster, seed {seed}", "per_cluster": per}


def goodness_for_run(result: dict[str, Any], config: Config, store: Store, **kwargs: Any) -> dict[str, Any]:
    from dialin.llm.router import run_sync

    return run_sync(agoodness(result, config, store, **kwargs))
