"""`dialin doctor`: is every part of the configured setup there and answering?"""

from __future__ import annotations

import time
from typing import Any

from dialin.config import Config
from dialin.errors import DialinError
from dialin.llm.backends import BACKENDS
from dialin.llm.router import LLMRouter, run_sync
from dialin.llm.served import describe_served
from dialin.store import Store


def _check(name: str, fn: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = fn()
        ok = True
    except DialinError as exc:
        ok, detail = False, str(exc)
    except Exception as exc:  # a check must report, not crash the report
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return {"name": name, "ok": ok, "detail": detail, "seconds": round(time.perf_counter() - started, 2)}


def _store(config: Config) -> str:
    store = Store(config.store_path())
    store.cache_put("doctor-probe", {"text": "ok"})
    if store.cache_get("doctor-probe") != {"text": "ok"}:
        raise DialinError(f"the store {store.path} did not read back what was written")
    return f"{store.path} is writable"


def _embedder(config: Config) -> str:
    from dialin.embed import make_embedder

    X = make_embedder(config.embedder, None).encode(["I lost my card", "what is my balance"])
    return f"{config.embedder.model} loads offline ({X.shape[1]} dims)"


def _endpoint(router: LLMRouter, name: str) -> str:
    config = router.config
    roles = [r for r, rc in config.roles.items() if rc.endpoint == name]
    if not roles:
        return "no role uses it"
    url = router.base_url(name)

    async def probe() -> str:
        client, _ = router._client(name)
        try:
            listed = (await client.models.list()).data
            served = [m.id for m in listed]
        except Exception as exc:
            raise DialinError(f"{url} does not answer ({type(exc).__name__}): start it (`dialin serve` for "
                              f"local models) or fix endpoints.{name}.base_url") from exc
        missing = sorted({config.roles[r].model for r in roles} - set(served))
        backend = config.endpoints[name].backend
        notes = [f"backend {backend}", f"{url} serves {describe_served(listed) or 'nothing listed'}"]
        if missing and not BACKENDS[backend].one_model:
            raise DialinError(f"{url} does not serve {', '.join(missing)} (roles {', '.join(roles)}): load the "
                              "model or LoRA adapter (vLLM: --lora-modules NAME=PATH) or fix roles.*.model")
        if missing:
            notes.append(f"llama.cpp answers any model name with its one model ({', '.join(missing)})")
        judge_role = next((r for r in roles if config.roles[r].prompt == "judge"), roles[0])
        result = await router.complete(judge_role, {"sentences": "- I lost my card\n- my card is lost"},
                                       choices=["good", "bad"], stage="doctor", cache=False)
        notes.append(f"constrained good/bad call answered '{result.parsed}' via role {judge_role}"
                     f" in {result.latency_ms:.0f} ms")
        notes.append("logprobs available" if result.label_probs else "no logprobs (P(good) unavailable)")
        return "; ".join(notes)

    return run_sync(probe())


def run_checks(config: Config, start: bool = True) -> list[dict[str, Any]]:
    checks = [_check("store", lambda: _store(config)), _check("embedder", lambda: _embedder(config))]
    base_urls: dict[str, str] = {}
    if start:
        res = _check("local servers", lambda: _start(config, base_urls))
        checks.append(res)
    store = Store(config.store_path())
    router = LLMRouter(config, store, run_id="doctor", base_urls=base_urls)
    for name in config.endpoints:
        checks.append(_check(f"endpoint {name}", lambda n=name: _endpoint(router, n)))
    return checks


def _start(config: Config, base_urls: dict[str, str]) -> str:
    from dialin.llm.serve import local_base_urls

    base_urls.update(local_base_urls(config))
    return ", ".join(f"{k} at {v}" for k, v in base_urls.items()) or "no auto endpoint"
