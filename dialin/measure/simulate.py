"""A SIMULATED judge and namer that read the gold labels: a tool to measure the method, never to run it.

``SimulatedServer(corpus)`` answers OpenAI-compatible chat calls (``POST /v1/chat/completions``,
``GET /v1/models``) from a labelled corpus, stdlib asyncio only:

- judge (a call constrained to good/bad): ``good`` iff at least ``purity`` of the shown sentences
  share one gold intent, flipped with probability ``1 - accuracy``; the coin is seeded by a hash
  of the model name and the messages, so a rerun repeats every answer. ``hard``: the errors
  concentrate on near-intent mixtures (a mixture whose two main intents share a word of their
  label, or whose purity lies within 0.2 below the threshold): there the flip rate is 3x the
  nominal one (at most 0.5), elsewhere a third of it. ``bias``: class-conditional errors at the
  same accuracy on a balanced set (``flip_rates``): a ``lenient`` judge says good to bad clusters
  ``lean`` (default 4) times as often as bad to good ones (as LLM judges do), a ``strict`` one the
  reverse; ``always``: says good (a rubber stamp) or bad to everything. Logprobs when asked:
  P(answer) = P(the answer is right | the judge said it) at a 50/50 prior (a calibrated judge).
- namer (any other call): ``inquire-`` + the majority gold label of the shown sentences.

Several judges at once: the request's model name chooses one, ``sim-0.8`` answers at 80%,
``sim-0.96-p1.0`` with purity 1.0, ``sim-0.9-hard`` with hard errors, ``sim-0.8-lenient``
(``sim-0.8-strict9``: lean 9) with biased errors, ``sim-0.8-s2`` the same judge with other coins
(seed 2), ``sim-always-good`` a rubber stamp; other names get the
server's defaults. The model name also keys the LLM layer's answer cache, so one accuracy's
answers are never served for another's. The K predictor is not simulated (it would have to
know the answer).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from dialin.data import Corpus
from dialin.errors import DialinError

WARNING = ("SIMULATED judge: it answers from the gold labels of {source}. It measures the method; "
           "never use it to run the method.")
_MODEL_RE = re.compile(r"^sim-(?P<acc>[0-9.]+)(?:-p(?P<purity>[0-9.]+))?(?P<hard>-hard)?"
                       r"(?:-(?P<bias>lenient|strict)(?P<lean>[0-9.]+)?)?(?:-s(?P<seed>[0-9]+))?$")
_ALWAYS_RE = re.compile(r"^sim-always-(?P<always>good|bad)$")


class SimSpec(BaseModel):
    """One simulated judge: how often it is right, how pure a good cluster must be, where it errs."""

    accuracy: float = Field(0.96, ge=0.0, le=1.0)
    purity: float = Field(0.9, gt=0.0, le=1.0)
    hard: bool = False
    bias: Literal["balanced", "lenient", "strict"] = "balanced"
    lean: float = Field(4.0, ge=1.0)
    """With a bias: P(good | bad) / P(bad | good) (lenient) or its inverse (strict)."""
    always: Literal["good", "bad"] | None = None
    seed: int = Field(0, ge=0)
    """Another seed draws other coins (other errors) at the same rates; 0: the original coins."""

    @property
    def model_name(self) -> str:
        if self.always:
            return f"sim-always-{self.always}"
        name = f"sim-{self.accuracy:g}"
        if self.purity != 0.9:
            name += f"-p{self.purity:g}"
        name += "-hard" if self.hard else ""
        if self.bias != "balanced":
            name += f"-{self.bias}" + (f"{self.lean:g}" if self.lean != 4.0 else "")
        return name + (f"-s{self.seed}" if self.seed else "")


def flip_rates(spec: SimSpec) -> tuple[float, float]:
    """(P(bad | truly good), P(good | truly bad)): their mean is ``1 - accuracy``, their ratio ``lean``.

    A rate that would exceed 1 is capped at 1 and the rest goes to the other class.
    """
    e2 = 2 * (1.0 - spec.accuracy)
    if spec.bias == "balanced":
        return e2 / 2, e2 / 2
    big = min(1.0, e2 * spec.lean / (1 + spec.lean))
    small = min(1.0, e2 - big)
    return (small, big) if spec.bias == "lenient" else (big, small)


def parse_model(name: str, default: SimSpec) -> SimSpec:
    """The judge a model name asks for (``sim-0.8``, ``sim-0.96-p1.0-hard``); other names: ``default``."""
    a = _ALWAYS_RE.match(name or "")
    if a:
        return SimSpec(accuracy=0.5, purity=default.purity, always=a["always"])
    m = _MODEL_RE.match(name or "")
    if not m:
        return default
    try:
        return SimSpec(accuracy=float(m["acc"]), purity=float(m["purity"]) if m["purity"] else default.purity,
                       hard=bool(m["hard"]), bias=m["bias"] or "balanced", lean=float(m["lean"] or 4.0),
                       seed=int(m["seed"] or 0))
    except ValueError:
        return default


_JUDGE_USAGE = "simulated:ACCURACY[,purity=P][,hard=1][,bias=lenient|strict][,lean=L][,seed=N]"


def parse_judge_option(spec: str) -> SimSpec:
    """``simulated:0.96[,purity=0.9][,hard=1][,bias=lenient|strict][,lean=4][,seed=N]`` (the bench's ``--judge``)."""
    head, _, rest = spec.partition(":")
    if head != "simulated" or not rest:
        raise DialinError(f"--judge {spec!r}: write {_JUDGE_USAGE}, e.g. simulated:0.96")
    parts = [p.strip() for p in rest.split(",") if p.strip()]
    try:
        kw: dict[str, Any] = {"accuracy": float(parts[0])}
        for p in parts[1:]:
            key, _, value = p.partition("=")
            if key == "purity":
                kw["purity"] = float(value)
            elif key == "hard":
                kw["hard"] = value.strip().lower() in ("1", "true", "yes")
            elif key in ("bias", "lean", "seed"):
                kw[key] = value.strip() if key == "bias" else float(value) if key == "lean" else int(value)
            else:
                raise ValueError(f"unknown key {key!r}")
        return SimSpec(**kw)
    except (ValueError, IndexError, ValidationError) as exc:
        raise DialinError(f"--judge {spec!r}: {exc}; write {_JUDGE_USAGE} with "
                          "0 <= ACCURACY <= 1 and 0 < P <= 1") from None


def _norm(text: str) -> str:
    """A sentence as the judge prompt shows it (``agents.judge.format_sentences``)."""
    return " ".join(text.split())[:200]


def gold_index(corpus: Corpus) -> dict[str, str]:
    """Shown sentence -> gold label (the majority label where a text repeats)."""
    if corpus.labels is None:
        raise DialinError(f"{corpus.source}: the simulated judge needs gold labels: pass --label-col")
    counts: dict[str, Counter] = {}
    for text, label in zip(corpus.texts, corpus.labels):
        if text and text.strip():
            counts.setdefault(_norm(text), Counter())[label] += 1
    return {t: c.most_common(1)[0][0] for t, c in counts.items()}


def shown_sentences(messages: list[dict[str, Any]]) -> list[str]:
    """The ``- sentence`` lines of the last user message."""
    users = [m for m in messages if m.get("role") == "user"]
    content = users[-1].get("content", "") if users else ""
    if isinstance(content, list):
        content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return [line[2:] for line in str(content).splitlines() if line.startswith("- ")]


def _coin(*parts: str) -> random.Random:
    return random.Random(int(hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16], 16))


@dataclass
class JudgeAnswer:
    label: str
    p_answer: float
    truth: str
    purity: float


def _near(top: list[tuple[str, int]], frac: float, spec: SimSpec) -> bool:
    if len(top) < 2:
        return False
    words = lambda s: set(re.split(r"[\s_]+", s.lower())) - {""}  # noqa: E731
    return bool(words(top[0][0]) & words(top[1][0])) or spec.purity - 0.2 <= frac < spec.purity


def judge(labels: list[str], spec: SimSpec, seed: str) -> JudgeAnswer:
    """The simulated verdict on sentences with these gold labels."""
    top = Counter(labels).most_common(2)
    frac = top[0][1] / len(labels) if labels else 0.0
    truth = "good" if frac >= spec.purity - 1e-9 else "bad"
    if spec.always:
        return JudgeAnswer(label=spec.always, p_answer=0.5, truth=truth, purity=frac)
    rates = flip_rates(spec)
    if spec.hard:
        near = _near(top, frac, spec)
        rates = tuple(min(0.5, 3 * r) if near else r / 3 for r in rates)  # type: ignore[assignment]
    p_flip = rates[0] if truth == "good" else rates[1]
    flipped = _coin(seed, *([str(spec.seed)] if spec.seed else [])).random() < p_flip
    label = ("bad" if truth == "good" else "good") if flipped else truth
    # P(right | said label) at a 50/50 prior: said good -> (1 - r_good) / ((1 - r_good) + r_bad)
    r_good, r_bad = rates
    right, wrong = ((1 - r_good, r_bad) if label == "good" else (1 - r_bad, r_good))
    p = right / (right + wrong) if right + wrong > 0 else 0.5
    return JudgeAnswer(label=label, p_answer=p, truth=truth, purity=frac)


def gold_name(labels: list[str]) -> str:
    """``inquire-`` + the majority gold label, as action-objective."""
    top = Counter(labels).most_common(1)[0][0] if labels else "unspecified"
    return "inquire-" + ("_".join(re.findall(r"[a-z0-9]+", top.lower())) or "unspecified")


def _is_judge_call(body: dict[str, Any]) -> bool:
    choice = (body.get("structured_outputs") or {}).get("choice")
    if choice:
        return set(choice) == {"good", "bad"}
    grammar = body.get("grammar") or ""
    if grammar:
        return '"good"' in grammar and '"bad"' in grammar
    system = " ".join(str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "system")
    return "good or bad" in system.lower()


class SimulatedServer:
    """The OpenAI-compatible server; ``start_background()`` runs it in a thread (bench), ``serve()`` in front."""

    def __init__(self, corpus: Corpus, default: SimSpec | None = None, host: str = "127.0.0.1", port: int = 0,
                 latency_s: float = 0.0) -> None:
        self.gold = gold_index(corpus)
        self.source = corpus.source
        self.default = default or SimSpec()
        self.host, self.port = host, port
        self.latency_s = latency_s
        self.calls: Counter = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def warning(self) -> str:
        return WARNING.format(source=self.source)

    # -- answers ----------------------------------------------------------------
    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        model = str(body.get("model") or self.default.model_name)
        messages = body.get("messages") or []
        sentences = shown_sentences(messages)
        labels = [self.gold[s] for s in (_norm(x) for x in sentences) if s in self.gold]
        if not labels:
            return 400, {"error": {"message": f"simulated judge: none of the {len(sentences)} shown sentences is in "
                                              f"the gold corpus {self.source} (start it on the data being run)",
                                   "type": "invalid_request_error"}}
        spec = parse_model(model, self.default)
        logprobs = None
        if _is_judge_call(body):
            self.calls["judge"] += 1
            ans = judge(labels, spec, model + "\x1e" + json.dumps(messages, sort_keys=True))
            text = ans.label
            if body.get("logprobs"):
                other = "bad" if text == "good" else "good"
                p = min(max(ans.p_answer, 1e-6), 1 - 1e-6)
                top = [{"token": text, "logprob": math.log(p), "bytes": None},
                       {"token": other, "logprob": math.log(1 - p), "bytes": None}]
                logprobs = {"content": [{"token": text, "logprob": math.log(p), "bytes": None, "top_logprobs": top}]}
        else:
            self.calls["namer"] += 1
            text = gold_name(labels)
        completion = max(1, len(text) // 4)
        prompt_tokens = sum(len(str(m.get("content", ""))) for m in messages) // 4
        return 200, {"id": "sim-" + hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16],
                     "object": "chat.completion", "created": int(time.time()), "model": model,
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                  "finish_reason": "stop", "logprobs": logprobs}],
                     "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                               "total_tokens": prompt_tokens + completion}}

    def _route(self, method: str, path: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        path = path.split("?")[0].rstrip("/")
        if method == "GET" and path.endswith("/models"):
            return 200, {"object": "list", "data": [{"id": self.default.model_name, "object": "model",
                                                     "owned_by": "dialin-simulated"}]}
        if method == "POST" and path.endswith("/chat/completions"):
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError as exc:
                return 400, {"error": {"message": f"body is not JSON: {exc}", "type": "invalid_request_error"}}
            return self.answer(body)
        return 404, {"error": {"message": f"no route {method} {path}: POST /v1/chat/completions or GET /v1/models",
                               "type": "not_found"}}

    # -- HTTP -------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                method, path, *_ = line.decode("latin-1").split() + ["", ""]
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                raw = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                status, obj = self._route(method, path, raw)
                if self.latency_s:
                    await asyncio.sleep(self.latency_s)
                data = json.dumps(obj).encode()
                reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
                writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(data)}\r\nConnection: keep-alive\r\n\r\n".encode() + data)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client went away, or the server is stopping
        finally:
            writer.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def serve(self) -> None:
        await self.start()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    def start_background(self) -> "SimulatedServer":
        """Serve from a daemon thread; returns once the port is bound."""
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="dialin-simulated-judge", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        loop, server = self._loop, self._server

        async def close() -> None:
            if server is not None:
                server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            loop.stop()

        asyncio.run_coroutine_threadsafe(close(), loop)
        if self._thread is not None:
            self._thread.join(5)
        if not loop.is_running():
            loop.close()
        self._loop = None


def simulated_config(config: Any, spec: SimSpec, base_url: str) -> Any:
    """``config`` with its judge and namer roles pointed at a simulated server (endpoint ``simulated``).

    The K predictor is switched off (a simulated one would have to know the answer); a crowd is dropped.
    """
    from dialin.config import Config

    data = config.model_dump()
    data["endpoints"]["simulated"] = {"base_url": base_url, "backend": "vllm", "max_concurrency": 16,
                                      "timeout_s": 30.0, "max_retries": 2}
    for role in ("judge", "namer"):
        old = data["roles"].get(role) or {"prompt": role, "max_tokens": 2 if role == "judge" else 24}
        data["roles"][role] = {**old, "endpoint": "simulated", "model": spec.model_name,
                               "logprobs": role == "judge", "extra_body": {}}
    data["crowd"]["members"] = []
    data["method"]["use_k_predictor"] = False
    return Config.model_validate(data)
