"""Training examples for ``dialin finetune``, built from labelled corpora.

Judge: the clusters ``dialin judge-eval`` measures on (``dialin.measure.judge_sets``), drawn from
the training data: pure clusters are good; 2- and 4-way mixtures, one intruder, and the
same two perturbations with the NEAREST other intent are bad (the paper's recipe for
English: good = one intent, bad = perturbations); the real K-means / Ward clusters of the
corpus are good when 90% share one intent. Each example shows ``n`` sentences, chosen
from the cluster by the loop's own sampler, rendered with the prompt the tuned role uses
at run time (``judge_tuned``), so training and serving see the same text.

Namer: pure clusters; the answer is the gold label rewritten as ``action-objective``
(``label_to_name``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel

from dialin.agents.judge import format_sentences
from dialin.measure.judge_sets import DIFFICULTIES, build_test_set
from dialin.prompts import load_prompt
from dialin.tools.sampling import sample

Task = Literal["judge", "namer"]
PROMPTS: dict[str, str] = {"judge": "judge_tuned", "namer": "namer_tuned"}
"""The prompt each tuned role is trained with; the role must use the same prompt at run time."""

_LEADING = frozenset(
    "activate add cancel change check confirm convert create define delete dislike edit exchange explain get "
    "like order play query recommend remove report request reset send set transfer update verify".split())
"""Words that lead a gold label as its action (BANKING77 `cancel_transfer`)."""
_TRAILING = frozenset("query set remove add delete create update".split())
"""Words that end a gold label as its action (HWU64 `alarm_set`)."""


class Example(BaseModel):
    """One supervised example: the chat messages the role sees and the answer it should give."""

    task: Task
    messages: list[dict[str, str]]
    answer: str
    difficulty: str
    source: str
    intents: list[str]


def label_to_name(label: str) -> str:
    """A gold label as ``action-objective``: `cancel_transfer` -> cancel-transfer, `alarm_set` -> set-alarm,
    `card_arrival` -> inquire-card_arrival; at most three objective words (the namer's pattern)."""
    words = [w for w in re.split(r"[^a-z0-9]+", label.lower()) if w and w.isalpha()] or ["unspecified"]
    if words[0] in _LEADING and len(words) > 1:
        verb, obj = words[0], words[1:]
    elif words[-1] in _TRAILING and len(words) > 1:
        verb, obj = words[-1], words[:-1]
    else:
        verb, obj = "inquire", words
    obj = [w[:14] for w in obj if len(w) >= 2][:3] or ["unspecified"]
    return f"{verb[:12]}-{'_'.join(obj)}"


def judge_examples(texts: Sequence[str], labels: Sequence[str], X: np.ndarray, *, count: int, n: int = 10,
                   seed: int = 0, source: str = "", sampling: str = "convex") -> list[Example]:
    """About `count` judge examples, about half good: pure clusters weigh as much as all bad kinds together."""
    per = max(1, count // 10)
    bad_kinds = [d for d in DIFFICULTIES if d not in ("pure", "real")]
    tests, _ = build_test_set(labels, X, n=n, per_difficulty=per, seed=seed, difficulties=bad_kinds + ["real"])
    pure, _ = build_test_set(labels, X, n=n, per_difficulty=max(1, count - len(tests)), seed=seed + 1,
                             difficulties=["pure"])
    prompt = load_prompt(PROMPTS["judge"])
    out = []
    for i, t in enumerate(tests + pure):
        shown = sample(X, list(t.members), n=n, strategy=sampling, seed=seed + i)  # type: ignore[arg-type]
        messages = prompt.render(sentences=format_sentences([texts[j] for j in shown]))
        out.append(Example(task="judge", messages=messages, answer=t.gold, difficulty=t.difficulty,
                           source=source, intents=list(t.intents)))
    return out


def namer_examples(texts: Sequence[str], labels: Sequence[str], X: np.ndarray, *, count: int, n: int = 10,
                   seed: int = 0, source: str = "") -> list[Example]:
    """`count` pure clusters (each intent before any repeats) named after their gold label."""
    tests, _ = build_test_set(labels, X, n=n, per_difficulty=count, seed=seed, difficulties=["pure"])
    prompt = load_prompt(PROMPTS["namer"])
    return [Example(task="namer", messages=prompt.render(sentences=format_sentences([texts[j] for j in t.members])),
                    answer=label_to_name(t.intents[0]), difficulty="pure", source=source, intents=list(t.intents))
            for t in tests]


def build_examples(task: Task, texts: Sequence[str], labels: Sequence[str], X: np.ndarray, *, count: int,
                   n: int = 10, seed: int = 0, source: str = "") -> list[Example]:
    if task == "judge":
        return judge_examples(texts, labels, X, count=count, n=n, seed=seed, source=source)
    return namer_examples(texts, labels, X, count=count, n=n, seed=seed, source=source)


def split_examples(examples: list[Example], holdout: float, seed: int) -> tuple[list[Example], list[Example]]:
    """A seeded train / validation split; below 10 examples everything is for training."""
    rng = np.random.default_rng(seed)
    order = [int(i) for i in rng.permutation(len(examples))]
    k = int(round(len(examples) * holdout)) if len(examples) >= 10 else 0
    return [examples[i] for i in order[k:]], [examples[i] for i in order[:k]]


def write_jsonl(path: Path, examples: Sequence[Example]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for ex in examples:
            fh.write(json.dumps(ex.model_dump(), ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[Example]:
    return [Example.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
