"""Training a pair judge (``dialin finetune pairs``): a cross-encoder for "same intent?".

The base is a BERT-style encoder folder (default: the bundled MiniLM's weights; a tuned
embedder's ``OUT/model`` is a good start too) with a new one-logit head. Every epoch draws
fresh pairs per intent: ``pos`` same-intent pairs, ``hard`` pairs with one of the ``near``
intents whose centroids are closest (the mistakes cohesion makes) and ``rand`` pairs with a
random other intent; binary cross-entropy. Each epoch ends with a checkpoint (model +
optimizer) so ``--resume`` continues a run.

Validation is on intents the model never saw (``holdout``): judge-eval clusters (pure,
mixtures, nearest-intent mixtures, real K-means / Ward clusters) are built on them and
scored by the pair judge and by cohesion, and the cascade thresholds are chosen there.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from dialin.finetune.train import Progress, latest_checkpoint, optimizer_with_schedule, save_checkpoint
from dialin.measure.judge_sets import GROUPS, build_test_set, centroid_similarity, intent_groups


class PairSettings(BaseModel):
    epochs: int = 2
    batch_size: int = 32
    lr: float = 4e-5
    pos: int = 60
    """Same-intent pairs per intent per epoch."""
    hard: int = 45
    """Pairs per intent per epoch with one of its ``near`` nearest intents."""
    rand: int = 15
    """Pairs per intent per epoch with a random other intent."""
    near: int = 3
    warmup: float = 0.1
    seed: int = 0
    device: str = "auto"


Pair = tuple[str, str, float]


def make_pairs(texts: Sequence[str], labels: Sequence[str], X: np.ndarray, settings: PairSettings,
               rng: np.random.Generator) -> list[Pair]:
    """(text, text, 1.0 same intent | 0.0 different) pairs, shuffled; ``X`` (one row per text) finds near intents."""
    groups = intent_groups(labels)
    names, sim = centroid_similarity(X, groups)
    out: list[Pair] = []
    for i, g in enumerate(names):
        mem = groups[g]
        others = [names[j] for j in np.argsort(-sim[i]) if j != i]
        if len(mem) < 2 or not others:
            continue
        near = others[:settings.near]
        for _ in range(settings.pos):
            a, b = rng.choice(mem, 2, replace=False)
            out.append((texts[a], texts[b], 1.0))
        for _ in range(settings.hard):
            other = groups[near[int(rng.integers(len(near)))]]
            out.append((texts[int(rng.choice(mem))], texts[int(rng.choice(other))], 0.0))
        for _ in range(settings.rand):
            other = groups[others[int(rng.integers(len(others)))]]
            out.append((texts[int(rng.choice(mem))], texts[int(rng.choice(other))], 0.0))
    order = rng.permutation(len(out))
    return [out[int(k)] for k in order]


def load_cross_encoder(folder: str, device: str) -> tuple[Any, Any]:
    """(tokenizer, one-logit sequence classifier) from a BERT-style folder; a new head when it has none."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # "newly initialized" head weights are expected here
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1).to(device)
    return tok, model


def train_pairs(base: str, texts: Sequence[str], labels: Sequence[str], X: np.ndarray, settings: PairSettings,
                checkpoint_dir: Path, device: str, resume: bool = False, progress: Progress | None = None,
                loaded: tuple[Any, Any] | None = None) -> tuple[Any, Any, dict[str, Any]]:
    """Train the cross-encoder; returns (tokenizer, model, stats).

    ``loaded`` is ``base`` already loaded by the caller (with the seed set before, for the new head); it is
    used unless a checkpoint is resumed."""
    import torch

    from dialin.tools.pair_judge import MAX_LENGTH

    latest = latest_checkpoint(checkpoint_dir, "config.json") if resume else None
    if latest is None and loaded is not None:
        tok, model = loaded
        model.to(device)
    else:
        torch.manual_seed(settings.seed)
        tok, model = load_cross_encoder(str(latest[1]) if latest else base, device)
    start_epoch = latest[0] if latest else 0
    rng = np.random.default_rng(settings.seed)
    epochs = [make_pairs(texts, labels, X, settings, rng) for _ in range(settings.epochs)]  # same draws on resume
    per_epoch = math.ceil(len(epochs[0]) / settings.batch_size)
    total = per_epoch * settings.epochs
    warm = max(1, math.ceil(settings.warmup * total))
    offset = start_epoch * per_epoch
    opt, sched = optimizer_with_schedule(model.parameters(), settings.lr, total, warm, offset, latest)
    losses: list[float] = []
    step = offset
    t0 = time.perf_counter()
    model.train()
    for epoch in range(start_epoch, settings.epochs):
        pairs = epochs[epoch]
        for b in range(per_epoch):
            batch = pairs[b * settings.batch_size:(b + 1) * settings.batch_size]
            enc = tok([a for a, _, _ in batch], [c for _, c, _ in batch], padding=True, truncation=True,
                      max_length=MAX_LENGTH, return_tensors="pt").to(device)
            y = torch.tensor([v for _, _, v in batch], device=device)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(**enc).logits.squeeze(-1), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            losses.append(loss.item())
            if progress:
                progress({"epoch": epoch + 1, "step": step, "steps": total, "loss": losses[-1],
                          "elapsed_s": time.perf_counter() - t0})

        def save(path: str) -> None:
            model.save_pretrained(path)
            tok.save_pretrained(path)
        save_checkpoint(checkpoint_dir, epoch + 1, step, save, opt)
    model.eval()
    tail = losses[-per_epoch:]
    return tok, model, {"sentences": len(texts), "intents": len(set(labels)), "pairs_per_epoch": len(epochs[0]),
                        "epochs": settings.epochs, "resumed_from_epoch": start_epoch, "steps": step,
                        "train_seconds": round(time.perf_counter() - t0, 1),
                        "first_loss": round(losses[0], 4) if losses else None,
                        "final_epoch_loss": round(float(np.mean(tail)), 4) if tail else None}


def thresholds(score: np.ndarray, good: np.ndarray, precision: float = 0.9) -> tuple[float | None, float | None]:
    """(low, high): the widest band edges where the clusters decided are right at least ``precision`` of the time,
    good and bad clusters weighted equally (a validation set's share of bad clusters is not a run's).

    ``high`` is the lowest score s with P(good | score >= s) >= precision (None if there is none), ``low`` the
    highest s with P(bad | score <= s) >= precision; low is kept below high.
    """
    w = np.where(good, 0.5 / max(1, int(good.sum())), 0.5 / max(1, int((~good).sum())))

    def right(mask: np.ndarray, want: np.ndarray) -> float:
        return float(w[mask & want].sum() / w[mask].sum())
    order = np.sort(np.unique(score))
    high = next((float(s) for s in order if right(score >= s, good) >= precision), None)
    low = next((float(s) for s in order[::-1] if right(score <= s, ~good) >= precision), None)
    if low is not None and high is not None and low >= high:
        low = None
    return low, high


def validate_pairs(judge_fn: Any, texts: Sequence[str], labels: Sequence[str], X: np.ndarray, seed: int,
                   n: int = 10, per_difficulty: int = 40) -> dict[str, Any]:
    """Pair-judge and cohesion AUC on judge-eval clusters of held-out intents, and the cascade thresholds."""
    from dialin.measure.metrics import roc_auc
    from dialin.tools.vectors import cohesion
    from dialin.tools.pair_judge import pair_score

    sizes = [len(v) for v in intent_groups(labels).values()]
    n = max(4, min(n, sorted(sizes)[len(sizes) // 2]))
    tests, skipped = build_test_set(labels, X, n=n, per_difficulty=per_difficulty, seed=seed)
    y = np.array([t.gold == "good" for t in tests])
    d = np.array([t.difficulty for t in tests])
    pair = np.array([pair_score(judge_fn, [texts[i] for i in t.members], cap=n, seed=seed) for t in tests])
    coh = np.array([cohesion(X, list(t.members)) for t in tests])

    def auc(s: np.ndarray, keep: Sequence[str]) -> float | None:
        m = np.isin(d, list(keep))
        a = roc_auc(y[m], s[m])
        return None if a is None else round(float(a), 3)
    out: dict[str, Any] = {"clusters": len(tests), "n": n, "skipped": skipped, "auc": {}}
    for g, keep in GROUPS.items():
        out["auc"][g] = {"pairs": auc(pair, keep), "cohesion": auc(coh, keep)}
    low, high = thresholds(pair, y)
    decided = ((pair <= low) if low is not None else np.zeros_like(y)) | \
        ((pair >= high) if high is not None else np.zeros_like(y))
    out["cascade"] = {"low": None if low is None else round(low, 3), "high": None if high is None else round(high, 3),
                      "decided": round(float(decided.mean()), 3), "target_precision": 0.9}
    return out
