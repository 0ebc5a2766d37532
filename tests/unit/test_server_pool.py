"""One endpoint over several servers: load balancing and failover, against two tiny local servers."""

from __future__ import annotations

import asyncio

import pytest

from dialin.config import load_config
from dialin.errors import ConfigError, EndpointUnreachable
from dialin.llm.router import LLMRouter
from dialin.store import Store
from httpserver import RecordingServer

BOOM = (500, {"error": {"message": "boom"}})


def config_for(urls, **endpoint):
    return load_config(overrides={
        "endpoints": {"fleet": {"base_url": urls, "backend": "vllm", "max_retries": 0, "connect_timeout_s": 1,
                                "max_concurrency": 2, **endpoint}},
        "roles": {"judge": {"endpoint": "fleet", "model": "judge", "prompt": "judge", "max_tokens": 4},
                  "namer": {"endpoint": "fleet", "model": "namer", "prompt": "namer", "logprobs": False}},
    })


def ask(router, n, offset=0):
    async def go():
        return await asyncio.gather(*(router.complete("judge", {"sentences": f"- s{i}", "keywords": "k"},
                                                      choices=["good", "bad"]) for i in range(offset, offset + n)))
    return asyncio.run(go())


def test_calls_spread_over_both_servers(tmp_path):
    with RecordingServer() as a, RecordingServer() as b:
        store = Store(tmp_path / "s.db")
        router = LLMRouter(config_for([a.url, b.url]), store)
        answers = ask(router, 12)
    assert all(r.parsed == "good" for r in answers)
    assert len(a.requests) + len(b.requests) == 12
    assert len(a.requests) >= 3 and len(b.requests) >= 3  # least-in-flight / round robin, not one server
    assert all(c["base_url"] == f"{a.url},{b.url}" for c in store.calls())  # every call logged


def test_a_failing_server_is_skipped_and_its_calls_retried_on_the_other(tmp_path):
    with RecordingServer() as bad, RecordingServer() as good:
        bad.responses = [BOOM] * 50
        router = LLMRouter(config_for([bad.url, good.url]), Store(tmp_path / "s.db"))
        answers = ask(router, 10)  # max_retries 0: only the failover can save these calls
        pool = next(iter(router._clients.values()))
    assert all(r.parsed == "good" for r in answers)
    assert len(good.requests) == 10
    assert 1 <= len(bad.requests) < 10  # tried, then passed over while it cools down
    stats = {s["url"]: s for s in pool.stats()}
    assert stats[good.url]["calls"] == 10 and stats[bad.url]["failures"] == len(bad.requests)


def test_a_dead_server_fails_over_too(tmp_path):
    with RecordingServer() as good:
        router = LLMRouter(config_for(["http://127.0.0.1:9/v1", good.url]), Store(tmp_path / "s.db"))
        answers = ask(router, 4)
    assert all(r.parsed == "good" for r in answers) and len(good.requests) == 4


def test_all_servers_down_is_the_usual_clear_error(tmp_path):
    router = LLMRouter(config_for(["http://127.0.0.1:9/v1", "http://127.0.0.1:7/v1"]), Store(tmp_path / "s.db"))
    with pytest.raises(EndpointUnreachable, match="127.0.0.1:9/v1,http://127.0.0.1:7/v1"):
        ask(router, 1)


def test_comma_separated_string_and_bad_lists():
    assert load_config(overrides={"endpoints": {"x": {"base_url": "http://a/v1, http://b/v1", "backend": "vllm"}}}
                       ).endpoints["x"].base_url == ["http://a/v1", "http://b/v1"]
    assert config_for(["http://a/v1"]).endpoints["fleet"].base_url == "http://a/v1"
    assert config_for(["http://a/v1", "http://b/v1"]).endpoints["fleet"].servers == 2
    for bad in ([], ["auto", "http://a/v1"]):
        with pytest.raises(ConfigError, match="list of base URLs"):
            config_for(bad)
