"""A pair judge: a cross-encoder that reads two sentences together and says P(same intent).

``dialin finetune pairs`` trains one from labelled corpora (``dialin.finetune.pairs``). A
cluster's score is the mean P(same) over the pairs of (at most ``cap``) of its members,
drawn deterministically; the cascade (``method.cascade_scorer: pairs``) thresholds it like
any other score. Unlike an embedding, the cross-encoder sees both sentences at once, so it
can tell apart intents whose sentences share most of their words (BANKING77's card
arrival vs card delivery estimate), which is where cohesion fails. Pair scores are cached
per judge, so a pair met again at another K costs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dialin.embed import folder_fingerprint
from dialin.errors import ConfigError

MAX_LENGTH = 96
"""Tokens of a pair (both sentences together); customer-service utterances fit."""
DEFAULT_CAP = 10
"""Members scored per cluster: 45 pairs."""


def check_pair_model(folder: str | Path) -> Path:
    """The folder of a pair judge, or a ConfigError naming the fix."""
    path = Path(folder).expanduser()
    if not (path / "config.json").is_file():
        raise ConfigError(f"method.pair_model {folder} is not a pair-judge folder (no config.json): point it at "
                          "OUT/model from `dialin finetune pairs`")
    return path


class PairJudge:
    """P(same intent) of sentence pairs, from a sequence-classification folder with one logit."""

    def __init__(self, folder: str | Path, device: str = "cpu", batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.folder = check_pair_model(folder).resolve()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.folder))
            self.model = AutoModelForSequenceClassification.from_pretrained(str(self.folder)).to(device).eval()
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load the pair judge {folder}: {exc}") from exc
        if self.model.config.num_labels != 1:
            raise ConfigError(f"{folder} has {self.model.config.num_labels} labels; a pair judge has one logit "
                              "(train it with `dialin finetune pairs`)")
        self._torch = torch
        self.device = device
        self.batch_size = batch_size
        self.name = f"{self.folder}@{folder_fingerprint(self.folder)}"
        self._cache: dict[tuple[str, str], float] = {}

    def p_same(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """P(same intent) per pair (order-free: (a, b) and (b, a) are one pair)."""
        keys = [(a, b) if a <= b else (b, a) for a, b in pairs]
        todo = sorted({k for k in keys if k not in self._cache}, key=lambda k: len(k[0]) + len(k[1]))
        torch = self._torch
        with torch.inference_mode():
            for s in range(0, len(todo), self.batch_size):
                chunk = todo[s:s + self.batch_size]
                enc = self.tokenizer([a for a, _ in chunk], [b for _, b in chunk], padding=True, truncation=True,
                                     max_length=MAX_LENGTH, return_tensors="pt").to(self.device)
                p = torch.sigmoid(self.model(**enc).logits.squeeze(-1).float()).tolist()
                self._cache.update(zip(chunk, p))
        return np.array([self._cache[k] for k in keys], dtype=np.float64)

    def cluster_score(self, texts: Sequence[str], cap: int = DEFAULT_CAP, seed: int = 0) -> float:
        """Mean P(same) over the pairs of at most ``cap`` of the texts (1.0 for fewer than two)."""
        return pair_score(self.p_same, texts, cap, seed)


def sample_members(n: int, cap: int, seed: int) -> list[int]:
    """Positions of the members to score: all of them, or ``cap`` drawn with a seed fixed by ``n``."""
    if n <= cap:
        return list(range(n))
    return sorted(int(i) for i in np.random.default_rng(seed + n).choice(n, size=cap, replace=False))


def pair_score(p_same: Any, texts: Sequence[str], cap: int = DEFAULT_CAP, seed: int = 0) -> float:
    """Mean of ``p_same`` over the pairs of a deterministic sample of ``texts``."""
    keep = [texts[i] for i in sample_members(len(texts), cap, seed)]
    if len(keep) < 2:
        return 1.0
    pairs = [(keep[i], keep[j]) for i in range(len(keep)) for j in range(i + 1, len(keep))]
    return float(np.mean(p_same(pairs)))


_judges: dict[str, PairJudge] = {}


def load_pair_judge(folder: str | Path) -> PairJudge:
    """One PairJudge per folder per process (loading costs ~1 s; its pair cache is shared by the run)."""
    key = str(Path(folder).expanduser().resolve())
    if key not in _judges:
        _judges[key] = PairJudge(key)
    return _judges[key]
