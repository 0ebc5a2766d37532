"""The LLM layer: routing, request bodies per backend, logprobs, retries, log and cache."""

from __future__ import annotations

import openai
import pytest
from pydantic import BaseModel

from dialin.config import load_config
from dialin.errors import EndpointUnreachable, LLMCallError, ParseError
from dialin.llm.router import LLMRouter, build_request, choice_probs
from dialin.store import Store
from fakes import FakeChat, factory
from httpserver import RecordingServer, completion_body


class Name(BaseModel):
    name: str


def config_for(url: str, backend: str = "llamacpp", **endpoint):
    return load_config(overrides={
        "endpoints": {"a": {"base_url": url, "backend": backend, "max_retries": 2, "connect_timeout_s": 1,
                            **endpoint},
                      "b": {"base_url": "http://127.0.0.1:9/v1", "backend": "openai"}},
        "roles": {"judge": {"endpoint": "a", "model": "judge-lora", "prompt": "judge", "max_tokens": 4,
                            "logprobs": True},
                  "namer": {"endpoint": "b", "model": "namer-model", "prompt": "namer", "logprobs": False}},
    })


def sentences():
    return {"sentences": "- I lost my card\n- my card is gone", "keywords": "lost, card"}


def test_routes_each_role_to_its_endpoint_and_model(tmp_path):
    config = config_for("http://x/v1")
    fakes = {"a": FakeChat().enqueue("good"), "b": FakeChat().enqueue('{"name": "report-lost_card"}')}
    router = LLMRouter(config, Store(":memory:"), client_factory=lambda name, ep, url: fakes[name])
    assert router.complete_sync("judge", sentences(), choices=["good", "bad"]).parsed == "good"
    assert router.complete_sync("namer", sentences(), schema=Name).parsed.name == "report-lost_card"
    assert fakes["a"].history[0]["model"] == "judge-lora"
    assert fakes["b"].history[0]["model"] == "namer-model"


def test_llamacpp_body_uses_grammar_and_json_object():
    config = config_for("http://x/v1")
    req = build_request("llamacpp", config.roles["judge"], [], choices=["good", "bad"])
    assert req["extra_body"]["grammar"] == 'root ::= "good" | "bad"'
    assert req["logprobs"] is True and req["top_logprobs"] == 20
    req = build_request("llamacpp", config.roles["namer"], [], schema=Name)
    assert req["response_format"]["type"] == "json_object"
    assert req["response_format"]["schema"]["properties"]["name"]["type"] == "string"


def test_vllm_request_body_on_the_wire(tmp_path):
    with RecordingServer() as server:
        config = config_for(server.url, backend="vllm")
        router = LLMRouter(config, Store(tmp_path / "s.db"))
        result = router.complete_sync("judge", sentences(), choices=["good", "bad"])
        server.default = completion_body('{"name": "inquire-balance"}', logprobs=False)
        config.roles["namer"] = config.roles["namer"].model_copy(update={"endpoint": "a"})
        router.complete_sync("namer", sentences(), schema=Name)
    body = server.requests[0]["body"]
    assert server.requests[0]["path"] == "/v1/chat/completions"
    assert body["model"] == "judge-lora"
    assert body["structured_outputs"] == {"choice": ["good", "bad"]}
    assert "guided_choice" not in body and "grammar" not in body
    assert body["logprobs"] is True and body["top_logprobs"] == 20
    assert result.parsed == "good"
    assert result.label_probs["good"] == pytest.approx(0.8 / (0.8 + 0.2), abs=1e-3)
    schema_body = server.requests[1]["body"]
    assert schema_body["response_format"]["type"] == "json_schema"
    assert schema_body["response_format"]["json_schema"]["schema"]["required"] == ["name"]


def test_retries_on_5xx_then_succeeds(tmp_path):
    with RecordingServer() as server:
        server.responses = [(500, {"error": {"message": "boom"}}), (503, {"error": {"message": "busy"}})]
        router = LLMRouter(config_for(server.url), Store(tmp_path / "s.db"))
        result = router.complete_sync("judge", sentences(), choices=["good", "bad"])
    assert result.parsed == "good"
    assert len(server.requests) == 3


def test_no_retry_on_400(tmp_path):
    with RecordingServer() as server:
        server.responses = [(400, {"error": {"message": "bad field"}})]
        store = Store(tmp_path / "s.db")
        router = LLMRouter(config_for(server.url), store)
        with pytest.raises(LLMCallError, match="HTTP 400"):
            router.complete_sync("judge", sentences(), choices=["good", "bad"])
    assert len(server.requests) == 1
    assert "HTTP 400" in store.calls()[0]["error"]


def test_unreachable_endpoint_fails_fast_naming_the_url(tmp_path):
    router = LLMRouter(config_for("http://127.0.0.1:9/v1", max_retries=0), Store(tmp_path / "s.db"))
    with pytest.raises(EndpointUnreachable) as err:
        router.complete_sync("judge", sentences(), choices=["good", "bad"])
    assert "http://127.0.0.1:9/v1" in str(err.value) and "dialin serve" in str(err.value)


def test_auto_endpoint_without_server_says_how_to_start(tmp_path):
    router = LLMRouter(load_config(), Store(":memory:"))
    with pytest.raises(EndpointUnreachable, match="dialin serve"):
        router.complete_sync("judge", sentences(), choices=["good", "bad"])


def test_every_call_logged_and_second_run_makes_zero_calls(tmp_path):
    store = Store(tmp_path / "s.db")
    fake = FakeChat(lambda req: "bad")
    router = LLMRouter(config_for("http://x/v1"), store, run_id="r1", client_factory=factory(fake))
    first = router.complete_sync("judge", sentences(), choices=["good", "bad"])
    router2 = LLMRouter(config_for("http://x/v1"), store, run_id="r2", client_factory=factory(fake))
    second = router2.complete_sync("judge", sentences(), choices=["good", "bad"])
    assert len(fake.history) == 1 and router2.calls_made == 0
    assert second.cached and not first.cached and second.parsed == first.parsed == "bad"
    rows = store.calls()
    assert [r["cached"] for r in rows] == [0, 1]
    row = rows[0]
    assert row["role"] == "judge" and row["model"] == "judge-lora" and row["prompt_id"] == "judge"
    assert len(row["prompt_hash"]) == 12 and row["prompt_tokens"] == 100 and row["latency_ms"] >= 0
    assert "I lost my card" in row["messages"]


def test_cache_key_changes_with_model(tmp_path):
    store = Store(tmp_path / "s.db")
    fake = FakeChat(lambda req: "good")
    config = config_for("http://x/v1")
    LLMRouter(config, store, client_factory=factory(fake)).complete_sync("judge", sentences(), choices=["good", "bad"])
    config.roles["judge"] = config.roles["judge"].model_copy(update={"model": "other"})
    LLMRouter(config, store, client_factory=factory(fake)).complete_sync("judge", sentences(), choices=["good", "bad"])
    assert len(fake.history) == 2


def test_parse_error_carries_the_raw_output():
    fake = FakeChat().enqueue("not json at all", "still not json", "not json at all")
    router = LLMRouter(config_for("http://x/v1"), Store(":memory:"), client_factory=factory(fake))
    with pytest.raises(ParseError) as err:
        router.complete_sync("namer", sentences(), schema=Name)
    assert err.value.last_output == "not json at all" and err.value.role == "namer" and err.value.attempts == 3


def test_choice_probs_sums_prefix_tokens():
    top = [{"token": " good", "logprob": -0.5}, {"token": "Good", "logprob": -2.0}, {"token": "bad", "logprob": -1.0},
           {"token": "maybe", "logprob": -0.1}]
    p = choice_probs(top, ["good", "bad"])
    assert p["good"] + p["bad"] == pytest.approx(1.0)
    assert p["good"] > p["bad"]
    assert choice_probs([{"token": "xyz", "logprob": -0.1}], ["good", "bad"]) is None


def test_retryable_errors_are_exactly_the_transient_ones():
    from dialin.llm.router import RETRYABLE

    assert openai.BadRequestError not in RETRYABLE
    assert {openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError,
            openai.InternalServerError} <= set(RETRYABLE)


def test_name_pattern_is_a_grammar_on_llamacpp_and_a_regex_on_vllm():
    import re

    from dialin.agents.namer import NAME_GRAMMAR, NAME_PATTERN

    role = config_for("http://x/v1").roles["namer"]
    assert build_request("llamacpp", role, [], pattern=(NAME_PATTERN, NAME_GRAMMAR))["extra_body"] == {
        "grammar": NAME_GRAMMAR}
    assert build_request("vllm", role, [], pattern=(NAME_PATTERN, NAME_GRAMMAR))["extra_body"] == {
        "structured_outputs": {"regex": NAME_PATTERN}}
    assert "extra_body" not in build_request("openai", role, [], pattern=(NAME_PATTERN, NAME_GRAMMAR))
    assert re.fullmatch(NAME_PATTERN, "report-lost_card") and not re.fullmatch(NAME_PATTERN, "Report lost card")


def test_grounded_name_pattern_only_allows_known_verbs_and_key_words():
    import re

    from dialin.agents.namer import grounded_pattern

    regex, grammar = grounded_pattern(["lost", "card", "lost", "x-y"])
    assert re.fullmatch(regex, "report-lost_card") and re.fullmatch(regex, "inquire-card")
    assert not re.fullmatch(regex, "report-stolen_card") and not re.fullmatch(regex, "lose-card")
    assert 'kw ::= "lost" | "card"' in grammar


def test_every_backend_name_has_one_table_entry():
    from typing import get_args

    from dialin.config import EndpointConfig
    from dialin.llm.backends import BACKENDS, BackendName

    assert set(BACKENDS) == set(get_args(BackendName))
    assert set(get_args(EndpointConfig.model_fields["backend"].annotation)) == set(BACKENDS)
    assert [n for n, b in BACKENDS.items() if b.one_model] == ["llamacpp"]
