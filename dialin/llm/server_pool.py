"""Several OpenAI-compatible servers behind one endpoint (``base_url: [URL, URL, ...]``).

``ServerPool`` looks like one async OpenAI client to the LLM layer. Each call goes to the
server with the fewest calls in flight (round robin among ties); a call that fails there with a
connection error, a timeout or an HTTP 5xx is sent to the next server at once, and the failed
server is passed over for ``cooldown_s`` seconds (unless every server is cooling down). When
every server has failed the call, the last error is raised and the LLM layer's own retries and
back-off take over. A fleet of vLLM servers (one per GPU or node) is the use it is made for.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import openai

FAILOVER = (openai.APIConnectionError, openai.APITimeoutError, openai.InternalServerError)
"""Errors after which a call is tried on another server (connection, timeout, HTTP >= 500)."""


class ServerPool:
    """Load balancing and failover over one client per server URL."""

    def __init__(self, clients: list[Any], urls: list[str], cooldown_s: float = 10.0) -> None:
        if not clients or len(clients) != len(urls):
            raise ValueError("ServerPool needs one client per URL and at least one")
        self.clients = clients
        self.urls = urls
        self.cooldown_s = cooldown_s
        self.in_flight = [0] * len(urls)
        self.calls = [0] * len(urls)
        """Calls answered by each server."""
        self.failures = [0] * len(urls)
        self._down_until = [0.0] * len(urls)
        self._turn = itertools.count()
        self.chat = _Chat(self)

    @property
    def models(self) -> Any:
        """``client.models`` of the first server that is not cooling down (``dialin doctor`` lists models)."""
        return self.clients[self.order()[0]].models

    def order(self) -> list[int]:
        """Servers to try, best first: healthy before cooling down, then fewest in flight, then round robin."""
        now = time.monotonic()
        turn = next(self._turn)
        n = len(self.urls)
        return sorted(range(n), key=lambda i: (self._down_until[i] > now, self.in_flight[i], (i - turn) % n))

    async def create(self, **request: Any) -> Any:
        last: Exception | None = None
        for i in self.order():
            self.in_flight[i] += 1
            try:
                answer = await self.clients[i].chat.completions.create(**request)
            except FAILOVER as exc:
                self.failures[i] += 1
                self._down_until[i] = time.monotonic() + self.cooldown_s
                last = exc
                continue
            finally:
                self.in_flight[i] -= 1
            self.calls[i] += 1
            self._down_until[i] = 0.0
            return answer
        assert last is not None
        raise last

    def stats(self) -> list[dict[str, Any]]:
        return [{"url": u, "calls": c, "failures": f} for u, c, f in zip(self.urls, self.calls, self.failures)]


class _Chat:
    def __init__(self, pool: ServerPool) -> None:
        self.completions = _Completions(pool)


class _Completions:
    def __init__(self, pool: ServerPool) -> None:
        self._pool = pool

    async def create(self, **request: Any) -> Any:
        return await self._pool.create(**request)
