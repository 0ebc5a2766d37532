"""Contrastive fine-tuning of the sentence embedder on labelled intents (``dialin finetune embedder``).

Every step draws ``batch_size`` anchor sentences and, for each, another sentence of the same
intent; the loss is cross-entropy over the batch's positives (in-batch negatives, as
sentence-transformers' MultipleNegativesRankingLoss) with one change: positives of the
anchor's own intent are masked out of its negatives, since labels say they are not
negatives. Intents are namespaced by corpus, so two corpora's ``other`` stay apart.

Validation is on intents the model never saw: ``holdout`` of the intents are left out of
training, and K-means at their true count is scored (NMI) on the base and on the tuned
vectors. That is what the tuned model is for: clustering intents nobody has labelled yet.
Each epoch ends with a checkpoint (model + optimizer) so ``--resume`` continues a run.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from dialin.embed import load_sentence_transformer
from dialin.finetune.train import Progress, latest_checkpoint, optimizer_with_schedule, save_checkpoint


class EmbedderSettings(BaseModel):
    epochs: int = 1
    batch_size: int = 64
    lr: float = 2e-5
    scale: float = 20.0
    """Cosine similarities are multiplied by this before the softmax (MNRL's default)."""
    warmup: float = 0.1
    """Share of the steps with a linearly rising learning rate."""
    seed: int = 0
    device: str = "auto"


def split_intents(labels: Sequence[str], holdout: float, seed: int) -> set[str]:
    """The intents kept out of training for validation (at least 2 when ``holdout`` > 0, and never all)."""
    intents = sorted(set(labels))
    if holdout <= 0 or len(intents) < 4:
        return set()
    k = min(len(intents) - 2, max(2, round(holdout * len(intents))))
    return {str(x) for x in np.random.default_rng(seed).permutation(intents)[:k]}


def positive_pairs(labels: Sequence[str], order: Sequence[int], rng: random.Random) -> list[int]:
    """For each anchor in ``order``, another sentence of its intent (itself when the intent has one sentence)."""
    by: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        by.setdefault(lab, []).append(i)
    out = []
    for i in order:
        same = by[labels[i]]
        if len(same) == 1:
            out.append(i)
            continue
        j = i
        while j == i:
            j = same[rng.randrange(len(same))]
        out.append(j)
    return out


def contrastive_loss(anchors: Any, positives: Any, intent_ids: Any, scale: float) -> Any:
    """In-batch-negatives cross-entropy; same-intent positives of other anchors are not negatives."""
    import torch

    a = torch.nn.functional.normalize(anchors, dim=-1)
    p = torch.nn.functional.normalize(positives, dim=-1)
    s = a @ p.T * scale
    n = s.shape[0]
    same = (intent_ids[:, None] == intent_ids[None, :]) & ~torch.eye(n, dtype=torch.bool, device=s.device)
    s = s.masked_fill(same, -1e4)
    return torch.nn.functional.cross_entropy(s, torch.arange(n, device=s.device))


def _embed(st: Any, texts: list[str]) -> Any:
    features = st.preprocess(texts) if hasattr(st, "preprocess") else st.tokenize(texts)
    features = {k: v.to(st.device) if hasattr(v, "to") else v for k, v in features.items()}
    return st(features)["sentence_embedding"]


def train_embedder(base: str, texts: Sequence[str], labels: Sequence[str], settings: EmbedderSettings,
                   checkpoint_dir: Path, device: str, resume: bool = False,
                   progress: Progress | None = None) -> tuple[Any, dict[str, Any]]:
    """Fine-tune the sentence-transformers model ``base`` on (text, intent) rows; returns (model, stats)."""
    import torch

    random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    latest = latest_checkpoint(checkpoint_dir, "config.json") if resume else None
    st = load_sentence_transformer(str(latest[1]) if latest else base, device=device)
    start_epoch = latest[0] if latest else 0
    ids = {lab: k for k, lab in enumerate(dict.fromkeys(labels))}
    per_epoch = max(1, len(texts) // settings.batch_size)
    total = per_epoch * settings.epochs
    warm = max(1, math.ceil(settings.warmup * total))
    offset = start_epoch * per_epoch
    opt, sched = optimizer_with_schedule(st.parameters(), settings.lr, total, warm, offset, latest)
    rng = random.Random(settings.seed)
    losses: list[float] = []
    step = offset
    t0 = time.perf_counter()
    st.train()
    for epoch in range(settings.epochs):
        order = list(range(len(texts)))
        rng.shuffle(order)  # drawn every epoch, so a resumed run sees the same batches as an unbroken one
        pos = positive_pairs(labels, order, rng)
        if epoch < start_epoch:
            continue
        for b in range(per_epoch):
            a_idx = order[b * settings.batch_size:(b + 1) * settings.batch_size]
            p_idx = pos[b * settings.batch_size:(b + 1) * settings.batch_size]
            if len(a_idx) < 2:
                continue
            out = _embed(st, [texts[i] for i in a_idx] + [texts[j] for j in p_idx])
            intent = torch.tensor([ids[labels[i]] for i in a_idx], device=out.device)
            loss = contrastive_loss(out[:len(a_idx)], out[len(a_idx):], intent, settings.scale)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(st.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            losses.append(float(loss.detach()))
            if progress:
                progress({"epoch": epoch + 1, "step": step, "steps": total, "loss": losses[-1],
                          "elapsed_s": time.perf_counter() - t0})
        save_checkpoint(checkpoint_dir, epoch + 1, step, st.save, opt)
    st.eval()
    seconds = time.perf_counter() - t0
    tail = losses[-per_epoch:]
    return st, {"sentences": len(texts), "intents": len(ids), "epochs": settings.epochs,
                "resumed_from_epoch": start_epoch, "steps": step, "train_seconds": round(seconds, 1),
                "first_loss": round(losses[0], 4) if losses else None,
                "final_epoch_loss": round(float(np.mean(tail)), 4) if tail else None}


def heldout_nmi(X: np.ndarray, labels: Sequence[str], seed: int = 0) -> float:
    """NMI (x100) of K-means at the true number of intents."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score

    k = len(set(labels))
    pred = KMeans(k, n_init=3, random_state=seed).fit_predict(X)
    return round(100 * float(normalized_mutual_info_score(list(labels), pred)), 2)


def validate_embedder(base: Any, tuned: Any, texts: list[str], labels: list[str], seed: int = 0) -> dict[str, Any]:
    """K-means NMI at the true K on the held-out intents, base vectors against tuned ones."""
    if len(set(labels)) < 2:
        return {"heldout_intents": len(set(labels)), "skipped": "fewer than 2 held-out intents"}
    xb = base.encode(texts, batch_size=128, normalize_embeddings=True, convert_to_numpy=True)
    xt = tuned.encode(texts, batch_size=128, normalize_embeddings=True, convert_to_numpy=True)
    return {"heldout_intents": len(set(labels)), "heldout_sentences": len(texts),
            "nmi_base": heldout_nmi(xb, labels, seed), "nmi_tuned": heldout_nmi(xt, labels, seed)}
