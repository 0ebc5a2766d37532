"""The LLM layer every role uses: routing, structured output, logprobs, retries, log, cache.

``LLMRouter.complete(role, prompt, variables, choices=... | schema=...)`` sends one
chat call to the endpoint the role names, constrained the way that backend supports:

- llama.cpp: ``grammar`` for a choice, ``response_format={"type": "json_object", "schema": ...}``
- vLLM: ``structured_outputs={"choice": [...]}``, ``response_format={"type": "json_schema", ...}``
- OpenAI: ``response_format={"type": "json_schema", ...}``; a choice is read from the text

Every call (cache hits too) is logged to the store; answers are cached by
(endpoint, model, prompt hash, messages, params) and what the server serves under that model
name (``dialin/llm/served.py``), so a re-run makes no call twice and another model never answers
from the cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, TypeVar

import openai
from pydantic import BaseModel, ValidationError

from dialin.config import Config, EndpointConfig, RoleConfig
from dialin.errors import ConfigError, EndpointUnreachable, LLMCallError, ParseError
from dialin.llm.backends import BACKENDS
from dialin.prompts import Prompt, load_prompt
from dialin.llm.served import ServedModels
from dialin.store import Store

T = TypeVar("T", bound=BaseModel)
RETRYABLE = (openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError, openai.InternalServerError)
PARSE_ATTEMPTS = 3
"""Calls per request whose answer cannot be parsed before ``ParseError`` (the answer is never cached)."""
MAX_RETRY_AFTER_S = 60.0
"""Longest wait a 429/503 ``Retry-After`` header is honoured for."""


class MalformedResponse(Exception):
    """The endpoint answered HTTP 200 with a body that is not a chat completion (retried like a 500)."""


@dataclass
class LLMResult:
    """One answer: its text, the parsed object, P(choice) where logprobs allow."""

    text: str
    role: str
    model: str
    parsed: Any = None
    label_probs: dict[str, float] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    cached: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def build_request(backend: str, role: RoleConfig, messages: list[dict[str, str]], *,
                  choices: list[str] | None = None, schema: type[BaseModel] | None = None,
                  pattern: tuple[str, str] | None = None) -> dict[str, Any]:
    """``pattern`` is (regex, GBNF grammar) for free text of a fixed shape (vLLM / llama.cpp)."""
    """The keyword arguments of ``chat.completions.create`` for this backend."""
    req: dict[str, Any] = {"model": role.model, "messages": messages, "temperature": role.temperature,
                           "max_tokens": role.max_tokens}
    extra: dict[str, Any] = dict(role.extra_body)
    how = BACKENDS[backend]
    if choices:
        if role.logprobs and role.top_logprobs:
            req["logprobs"] = True
            req["top_logprobs"] = role.top_logprobs
        if how.choice is not None:
            extra.update(how.choice(choices))
    elif pattern is not None:
        if how.pattern is not None:
            extra.update(how.pattern(*pattern))
    elif schema is not None:
        req["response_format"] = how.schema(schema)
    if extra:
        req["extra_body"] = extra
    return req


def choice_probs(top_logprobs: list[Any] | None, choices: list[str]) -> dict[str, float] | None:
    """P(choice) from the first token's top logprobs, renormalised over the choices.

    A token counts for a choice when, stripped and lower-cased, it is a non-empty prefix
    of that choice ("good", " Good", "go"). None when no choice token is among them.
    """
    if not top_logprobs:
        return None
    mass = {c: 0.0 for c in choices}
    for entry in top_logprobs:
        token = (entry.get("token") if isinstance(entry, dict) else entry.token) or ""
        logprob = entry.get("logprob") if isinstance(entry, dict) else entry.logprob
        tok = token.strip().lower()
        if not tok or logprob is None:
            continue
        for c in choices:
            if c.lower().startswith(tok):
                mass[c] += math.exp(logprob)
                break
    total = sum(mass.values())
    if total <= 0:
        return None
    return {c: m / total for c, m in mass.items()}


def parse_choice(text: str, choices: list[str]) -> str | None:
    low = text.strip().lower()
    for c in choices:
        if low.startswith(c.lower()):
            return c
    hits = [c for c in choices if c.lower() in low]
    return hits[0] if len(hits) == 1 else None


def cache_key(endpoint: str, ep: EndpointConfig, prompt: Prompt, request: dict[str, Any],
              served: dict[str, Any] | None = None) -> str:
    ident = {"endpoint": endpoint, "model_path": ep.model_path, "prompt": prompt.id, "prompt_hash": prompt.hash,
             "request": request}
    if served is not None:
        ident["served"] = served
    return hashlib.sha256(json.dumps(ident, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class LLMRouter:
    """Routes role calls to endpoints; one async client and semaphore per endpoint and loop."""

    def __init__(self, config: Config, store: Store, *, run_id: str | None = None,
                 base_urls: dict[str, str] | None = None,
                 client_factory: Callable[[str, EndpointConfig, str], Any] | None = None) -> None:
        self.config = config
        self.store = store
        self.run_id = run_id
        self.stage: str | None = None
        self.base_urls = dict(base_urls or {})
        self._client_factory = client_factory or _openai_client
        self._clients: dict[tuple[str, int], Any] = {}
        self._sems: dict[tuple[str, int], asyncio.Semaphore] = {}
        self._prompts: dict[str, Prompt] = {}
        self.calls_made = 0
        self._served = ServedModels()

    # -- routing --------------------------------------------------------------
    def role(self, name: str) -> RoleConfig:
        try:
            return self.config.roles[name]
        except KeyError:
            raise ConfigError(f"role '{name}' is not configured: add roles.{name} to the config") from None

    def has_role(self, name: str) -> bool:
        return name in self.config.roles

    def base_url(self, endpoint: str) -> str:
        ep = self.config.endpoints[endpoint]
        url = self.base_urls.get(endpoint, ep.base_url)
        if isinstance(url, list):  # several servers (dialin/llm/server_pool.py)
            return ",".join(url)
        if url == "auto":
            raise EndpointUnreachable(
                f"endpoint '{endpoint}' is 'auto' but no local server is running for it: "
                "start it with `dialin serve` (dialin run starts it itself)")
        return url

    def prompt(self, role: RoleConfig) -> Prompt:
        if role.prompt not in self._prompts:
            self._prompts[role.prompt] = load_prompt(role.prompt)
        return self._prompts[role.prompt]

    def _client(self, endpoint: str) -> tuple[Any, asyncio.Semaphore]:
        loop_id = id(asyncio.get_running_loop())
        key = (endpoint, loop_id)
        if key not in self._clients:
            ep = self.config.endpoints[endpoint]
            urls = self.base_url(endpoint).split(",")
            if len(urls) == 1:
                self._clients[key] = self._client_factory(endpoint, ep, urls[0])
            else:
                from dialin.llm.server_pool import ServerPool

                self._clients[key] = ServerPool([self._client_factory(endpoint, ep, u) for u in urls], urls)
            self._sems[key] = asyncio.Semaphore(ep.max_concurrency * len(urls))
        return self._clients[key], self._sems[key]

    # -- calls ------------------------------------------------------------------
    async def complete(self, role_name: str, variables: dict[str, Any], *, choices: list[str] | None = None,
                       schema: type[T] | None = None, pattern: tuple[str, str] | None = None,
                       stage: str | None = None, cache: bool = True) -> LLMResult:
        role = self.role(role_name)
        ep = self.config.endpoints[role.endpoint]
        prompt = self.prompt(role)
        messages = prompt.render(**variables)
        request = build_request(ep.backend, role, messages, choices=choices, schema=schema, pattern=pattern)
        known_url = self.base_urls.get(role.endpoint, ep.base_url)
        served = await self._served.identity(role.endpoint, ep, role.model, None if known_url == "auto" else known_url,
                                             lambda: self._client(role.endpoint)[0])
        key = cache_key(role.endpoint, ep, prompt, request, served)
        log = {"run_id": self.run_id, "stage": stage or self.stage, "role": role_name, "endpoint": role.endpoint,
               "model": role.model, "prompt_id": prompt.id, "prompt_hash": prompt.hash, "cache_key": key,
               "messages": messages, "params": {k: v for k, v in request.items() if k != "messages"}}
        hit = self.store.cache_get(key) if cache else None
        if hit is not None and not _usable(self, role_name, role, hit, choices, schema):
            hit = None  # an unusable answer cached by an older version is asked again and overwritten
        if hit is not None:
            self.store.log_call(**log, base_url=self.base_urls.get(role.endpoint, ep.base_url), response=hit["text"],
                                label_probs=hit.get("label_probs"), prompt_tokens=hit.get("prompt_tokens", 0),
                                completion_tokens=hit.get("completion_tokens", 0), latency_ms=0.0, cached=1)
            return self._finish(role_name, role, hit, choices, schema, cached=True)
        url = self.base_url(role.endpoint)
        log["base_url"] = url
        sent = request
        for attempt in range(1, PARSE_ATTEMPTS + 1):
            timing: dict[str, float] = {}
            try:
                raw = await self._send(role.endpoint, ep, url, sent, timing)
            except Exception as exc:
                self.store.log_call(**log, error=f"{type(exc).__name__}: {exc}", latency_ms=timing.get("ms"))
                raise
            latency = timing["ms"]
            self.calls_made += 1
            record = _record(raw, choices, latency)
            paid = {"response": record["text"], "label_probs": record.get("label_probs"),
                    "prompt_tokens": record["prompt_tokens"], "completion_tokens": record["completion_tokens"],
                    "latency_ms": latency, "cached": 0}
            try:
                result = self._finish(role_name, role, record, choices, schema, cached=False)
            except ParseError as exc:
                # an unusable answer is logged (it was paid for) but never cached, then asked again
                self.store.log_call(**log | {"params": _params(sent)}, **paid, error=f"ParseError: {exc}")
                sent = retry_request(sent, raw, attempt)
                continue
            self.store.cache_put(key, record)
            self.store.log_call(**log | {"params": _params(sent)}, **paid)
            return result
        wanted = f"one of {choices}" if choices else f"a valid {schema.__name__}" if schema else "usable"
        raise ParseError(f"role '{role_name}' ({role.model}) gave no usable answer in {PARSE_ATTEMPTS} calls; the "
                         f"last was {record['text'][:200]!r}, not {wanted}. Nothing was cached. Check "
                         f"roles.{role_name} (model, prompt, max_tokens) and try it with `dialin doctor`",
                         role=role_name, model=role.model, attempts=PARSE_ATTEMPTS, last_output=record["text"])

    def complete_sync(self, role_name: str, variables: dict[str, Any], **kwargs: Any) -> LLMResult:
        return run_sync(self.complete(role_name, variables, **kwargs))

    async def _send(self, endpoint: str, ep: EndpointConfig, url: str, request: dict[str, Any],
                    timing: dict[str, float]) -> Any:
        """One call with retries; ``timing["ms"]`` is the time the endpoint took (queueing excluded)."""
        client, sem = self._client(endpoint)
        attempt = 0
        while True:
            attempt += 1
            try:
                async with sem:
                    started = time.perf_counter()
                    try:
                        return check_completion(await client.chat.completions.create(**request))
                    except (openai.APIResponseValidationError, json.JSONDecodeError) as exc:
                        raise MalformedResponse(f"a body that is not valid JSON ({exc})") from exc
                    finally:
                        timing["ms"] = (time.perf_counter() - started) * 1000
            except (*RETRYABLE, MalformedResponse) as exc:
                if attempt > ep.max_retries:
                    if isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError)):
                        raise EndpointUnreachable(
                            f"endpoint '{endpoint}' at {url} did not answer after {attempt} attempts "
                            f"({type(exc).__name__}). Start it (`dialin serve` for local models, or your vLLM "
                            f"server) or fix endpoints.{endpoint}.base_url in the config; then continue the "
                            "run with --resume (answers already received are not asked again).") from exc
                    if isinstance(exc, MalformedResponse):
                        raise LLMCallError(f"endpoint '{endpoint}' at {url} answered {attempt} times with {exc}: "
                                           "is base_url an OpenAI-compatible /v1 server?", model=request["model"],
                                           attempts=attempt) from exc
                    raise LLMCallError(f"endpoint '{endpoint}' at {url} failed {attempt} times: {exc}",
                                       model=request["model"], attempts=attempt) from exc
                await asyncio.sleep(retry_delay(exc, attempt))
            except openai.APIStatusError as exc:
                raise LLMCallError(f"endpoint '{endpoint}' at {url} refused the request "
                                   f"(HTTP {exc.status_code}): {exc.message}", model=request["model"],
                                   attempts=attempt) from exc

    def _finish(self, role_name: str, role: RoleConfig, record: dict[str, Any], choices: list[str] | None,
                schema: type[BaseModel] | None, *, cached: bool) -> LLMResult:
        text = record["text"]
        result = LLMResult(text=text, role=role_name, model=role.model, label_probs=record.get("label_probs"),
                           prompt_tokens=record.get("prompt_tokens", 0),
                           completion_tokens=record.get("completion_tokens", 0),
                           latency_ms=record.get("latency_ms", 0.0), cached=cached)
        if choices:
            result.parsed = parse_choice(text, choices)
            if result.parsed is None and result.label_probs:
                result.parsed = max(result.label_probs, key=result.label_probs.__getitem__)
            if result.parsed is None:
                raise ParseError(f"role '{role_name}' answered {text!r}, not one of {choices}",
                                 role=role_name, model=role.model, attempts=1, last_output=text)
        elif schema is not None:
            try:
                result.parsed = schema.model_validate_json(_json_part(text))
            except ValidationError as exc:
                raise ParseError(f"role '{role_name}' answered {text[:200]!r}, not a valid {schema.__name__}: "
                                 f"{exc.errors()[0]['msg']}", role=role_name, model=role.model, attempts=1,
                                 last_output=text) from None
        return result


def check_completion(raw: Any) -> Any:
    """``raw`` when it has the shape of a chat completion, else ``MalformedResponse``."""
    try:
        choice = raw.choices[0]
        content = choice.message.content
    except (AttributeError, IndexError, KeyError, TypeError):
        raise MalformedResponse(f"a body that is not a chat completion ({str(raw)[:120]!r})") from None
    if content is not None and not isinstance(content, str):
        raise MalformedResponse(f"a message content that is not text ({content!r:.80})")
    return raw


def retry_delay(exc: BaseException, attempt: int) -> float:
    """Seconds before the next try: the server's ``Retry-After`` (429/503) when given, else jittered backoff."""
    response = getattr(exc, "response", None)
    header = response.headers.get("retry-after") if response is not None else None
    try:
        if header is not None:
            return min(MAX_RETRY_AFTER_S, max(0.0, float(header)))
    except ValueError:
        pass  # an HTTP date: fall back to backoff
    return min(8.0, 0.25 * 2 ** (attempt - 1)) * (0.5 + random.random())


def retry_request(request: dict[str, Any], raw: Any, attempt: int) -> dict[str, Any]:
    """The request for the next try after an unusable answer: more tokens when the answer was cut short."""
    if attempt >= PARSE_ATTEMPTS:
        return request
    choice = raw.choices[0]
    usage = getattr(raw, "usage", None)
    cut = getattr(choice, "finish_reason", None) == "length" or (
        (getattr(usage, "completion_tokens", 0) or 0) >= request.get("max_tokens", 1 << 30))
    if cut:
        return {**request, "max_tokens": 2 * int(request["max_tokens"]) + 8}
    return request


def _usable(router: "LLMRouter", role_name: str, role: RoleConfig, record: dict[str, Any],
            choices: list[str] | None, schema: type[BaseModel] | None) -> bool:
    try:
        router._finish(role_name, role, record, choices, schema, cached=True)
    except ParseError:
        return False
    return True


def _params(request: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in request.items() if k != "messages"}


def _json_part(text: str) -> str:
    start, end = text.find("{"), text.rfind("}")
    return text[start:end + 1] if start >= 0 and end > start else text


def _record(raw: Any, choices: list[str] | None, latency_ms: float) -> dict[str, Any]:
    choice = raw.choices[0]
    text = choice.message.content or ""
    probs = None
    if choices and getattr(choice, "logprobs", None) and choice.logprobs.content:
        probs = choice_probs(choice.logprobs.content[0].top_logprobs, choices)
    usage = getattr(raw, "usage", None)
    return {"text": text, "label_probs": probs, "latency_ms": latency_ms,
            "prompt_tokens": getattr(usage, "prompt_tokens", 0) or 0,
            "completion_tokens": getattr(usage, "completion_tokens", 0) or 0}


def _openai_client(endpoint: str, ep: EndpointConfig, base_url: str) -> Any:
    key = os.environ.get(ep.api_key_env, "") if ep.api_key_env else "not-needed"
    if ep.api_key_env and not key:
        raise ConfigError(f"endpoint '{endpoint}' reads its API key from ${ep.api_key_env}, which is not set: "
                          f"export {ep.api_key_env}=...")
    timeout = openai.Timeout(ep.timeout_s, connect=ep.connect_timeout_s)
    return openai.AsyncOpenAI(base_url=base_url, api_key=key, timeout=timeout, max_retries=0)


def run_sync(coro: Awaitable[T]) -> T:
    """Run a coroutine from sync code, also when a loop is already running in this thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()  # type: ignore[arg-type]
