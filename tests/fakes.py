"""Fakes for unit tests: a scripted OpenAI-style chat client and helpers."""

from __future__ import annotations

import json
import math
import re
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

Responder = Callable[[dict[str, Any]], str]


def _completion(text: str, probs: dict[str, float] | None = None) -> SimpleNamespace:
    logprobs = None
    if probs:
        top = [SimpleNamespace(token=t, logprob=math.log(max(p, 1e-9))) for t, p in probs.items()]
        logprobs = SimpleNamespace(content=[SimpleNamespace(token=text, logprob=0.0, top_logprobs=top)])
    return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=text), logprobs=logprobs)],
                           usage=SimpleNamespace(prompt_tokens=100, completion_tokens=2))


class FakeChat:
    """Plays back answers: from a queue (``enqueue``) or computed by a responder function.

    ``history`` keeps every request, so tests can assert on what was sent.
    """

    def __init__(self, responder: Responder | None = None) -> None:
        self.responder = responder
        self.queue: list[str | Exception] = []
        self.history: list[dict[str, Any]] = []
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self._create))

    def enqueue(self, *answers: str | Exception) -> "FakeChat":
        self.queue.extend(answers)
        return self

    async def _create(self, **request: Any) -> SimpleNamespace:
        self.history.append(request)
        if self.queue:
            answer = self.queue.pop(0)
            if isinstance(answer, Exception):
                raise answer
        elif self.responder is not None:
            answer = self.responder(request)
        else:
            raise AssertionError("FakeChat has no answer queued")
        probs = None
        if request.get("logprobs"):
            probs = {"good": 0.9, "bad": 0.1} if answer == "good" else {"good": 0.1, "bad": 0.9}
        return _completion(answer, probs)


def factory(fake: FakeChat) -> Callable[..., FakeChat]:
    return lambda endpoint, ep, url: fake


def sentences_in(request: dict[str, Any]) -> list[str]:
    user = request["messages"][-1]["content"]
    return [line[2:] for line in user.splitlines() if line.startswith("- ")]


def oracle_responder(gold: dict[str, str]) -> Responder:
    """Judges by gold labels (good when all shown sentences share one), names by the label."""

    def respond(request: dict[str, Any]) -> str:
        system = request["messages"][0]["content"]
        shown = sentences_in(request)
        labels = {gold.get(s, "?") for s in shown}
        if "good" in json.dumps(request.get("extra_body", {})) or "Answer good or bad" in request["messages"][-1]["content"]:
            return "good" if len(labels) == 1 else "bad"
        if "K values" in system or "number of clusters" in system:
            n = int(re.search(r"Unassigned utterances now: (\d+)", request["messages"][-1]["content"]).group(1))
            return json.dumps({"k": [max(2, n // 4), max(2, n // 3)]})
        top = max(labels, key=lambda lab: sum(gold.get(s) == lab for s in shown))
        return top

    return respond


class WordEncoder:
    """Bag of words: each word its own direction, a text the unit sum of its words (so overlap is closeness)."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.vocab: dict[str, int] = {}

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = []
        for t in texts:
            v = np.zeros(self.dim)
            for w in re.findall(r"[a-z]+", t.lower()):
                v[self.vocab.setdefault(w, len(self.vocab))] += 1.0
            rows.append(v / (np.linalg.norm(v) or 1.0))
        return np.array(rows)


def naming_router(tmp_path: Any, fake: FakeChat, naming: str) -> Any:
    """An LLMRouter whose every endpoint is FAKE, with ``method.naming`` set (for the namer's unit tests)."""
    from dialin.config import load_config
    from dialin.llm.router import LLMRouter
    from dialin.store import Store

    config = load_config(overrides={
        "store": str(tmp_path / "s.db"), "embedder": {"kind": "toy"},
        "endpoints": {"local": {"base_url": "http://fake.invalid/v1", "backend": "openai"}},
        "method": {"naming": naming}})
    return LLMRouter(config, Store(config.store_path()), run_id="r", base_urls={}, client_factory=factory(fake))
