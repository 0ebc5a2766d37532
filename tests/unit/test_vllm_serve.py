"""The vLLM path without a vLLM server: config, command line, adapters, the served-model part of the cache key.

The same paths against the real vLLM CPU server: tests/integration/test_vllm_real.py."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from dialin.config import load_config
from dialin.errors import ConfigError
from dialin.llm.router import LLMRouter
from dialin.llm.served import ServedModels, describe_served, dir_sha256
from dialin.store import Store
from dialin.llm.vllm_serve import _args, adapter_dirs, served_name, vllm_missing, vllm_python
from fakes import FakeChat


def peft(folder: Path, rank: int = 8, weights: bytes = b"w") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": rank, "base_model_name_or_path": "x"}))
    (folder / "adapter_model.safetensors").write_bytes(weights)
    return folder


def vllm_config(tmp_path: Path, **endpoint):
    return load_config(overrides={
        "store": str(tmp_path / "s.db"),
        "endpoints": {"v": {"base_url": "auto", "backend": "vllm", "model_path": "bundled:smollm2-135m", **endpoint}},
        "roles": {"judge": {"endpoint": "v", "model": "judge", "prompt": "judge_tuned", "max_tokens": 4},
                  "judge_base": {"endpoint": "v", "model": "smol", "prompt": "judge", "max_tokens": 4},
                  "namer": {"endpoint": "v", "model": "namer", "prompt": "namer_tuned", "logprobs": False}},
    })


def test_adapters_need_a_local_vllm_endpoint(tmp_path):
    with pytest.raises(ConfigError, match="adapters are served by a local vLLM server"):
        load_config(overrides={"endpoints": {"local": {"adapters": {"judge": "/x"}}}})
    with pytest.raises(ConfigError, match="set backend: llamacpp or vllm"):
        load_config(overrides={"endpoints": {"local": {"backend": "openai"}}})


def test_adapter_folders_and_the_command_line(tmp_path, monkeypatch):
    monkeypatch.setenv("DIALIN_HOME", str(tmp_path / "home"))
    peft(tmp_path / "home" / "adapters" / "j" / "peft", rank=12)  # the OUT folder of dialin finetune
    peft(tmp_path / "n", rank=4)
    config = vllm_config(tmp_path, adapters={"judge": "$DIALIN_HOME/adapters/j", "namer": str(tmp_path / "n")},
                         server_args={"max_num_seqs": 4, "enable_prefix_caching": True})
    dirs = adapter_dirs("v", config.endpoints["v"])
    assert dirs == {"judge": (tmp_path / "home/adapters/j/peft").resolve(), "namer": (tmp_path / "n").resolve()}
    assert served_name(config, "v") == "smol"  # the first role that is not an adapter
    args = _args(Path("/m"), "smol", "127.0.0.1", 1234, config.endpoints["v"], dirs)
    text = " ".join(args)
    assert "--served-model-name smol" in text and "--port 1234" in text and "--max-logprobs 20" in text
    assert "--max-loras 2 --max-lora-rank 16" in text  # the largest rank (12), rounded up to what vLLM takes
    assert f"--lora-modules judge={dirs['judge']} namer={dirs['namer']}" in text
    assert "--max-num-seqs 4" in text and "--enable-prefix-caching" in text


def test_a_missing_adapter_says_how_to_make_one(tmp_path):
    config = vllm_config(tmp_path, adapters={"judge": str(tmp_path / "nothing")})
    with pytest.raises(ConfigError, match="dialin finetune judge"):
        adapter_dirs("v", config.endpoints["v"])


def test_a_missing_vllm_venv_says_how_to_make_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DIALIN_VLLM_PYTHON", str(tmp_path / "no-python"))
    with pytest.raises(ConfigError, match="bash scripts/setup --vllm"):
        vllm_python()
    assert "bash scripts/setup --vllm" in (vllm_missing() or "") or "DIALIN_VLLM_PYTHON" in (vllm_missing() or "")


class ModelsFake(FakeChat):
    """A fake vLLM: chat answers plus a /v1/models listing with root/parent, counting the listings."""

    def __init__(self, listing: list[dict]) -> None:
        super().__init__(lambda req: "good")
        self.listing = listing
        self.listed = 0

        async def list_models():
            self.listed += 1
            return SimpleNamespace(data=[SimpleNamespace(**m) for m in self.listing])

        self.models = SimpleNamespace(list=list_models)


def _route(config, store, fake, url="http://h:1/v1"):
    return LLMRouter(config, store, base_urls={"v": url}, client_factory=lambda n, ep, u: fake)


def test_the_cache_knows_which_model_answered(tmp_path):
    adapter = peft(tmp_path / "judge-adapter")
    listing = [{"id": "smol", "root": "/models/smol-abc", "parent": None},
               {"id": "judge", "root": str(adapter), "parent": "smol"}]
    config, store = vllm_config(tmp_path), Store(tmp_path / "s.db")
    fake = ModelsFake(listing)
    ask = lambda router: router.complete_sync("judge", {"sentences": "- a\n- b"}, choices=["good", "bad"])  # noqa: E731
    router = _route(config, store, fake)
    ask(router), ask(router)
    assert len(fake.history) == 1 and fake.listed == 1  # the listing is asked once per router and model
    ask(_route(config, store, fake))
    assert len(fake.history) == 1  # same server, same adapter: from the cache
    ask(_route(config, store, fake, url="http://other:1/v1"))
    assert len(fake.history) == 1  # an auto endpoint keys on the model, not on the port it got this time
    (adapter / "adapter_model.safetensors").write_bytes(b"retrained")
    ask(_route(config, store, fake))
    assert len(fake.history) == 2  # the adapter's files changed: asked again
    fake.listing[0]["root"] = "/models/another-base"
    ask(_route(config, store, fake))
    assert len(fake.history) == 3  # the adapter now sits on another base model


def test_an_external_server_keys_on_its_url(tmp_path):
    config = load_config(overrides={
        "store": str(tmp_path / "s.db"),
        "endpoints": {"v": {"base_url": "http://a:1/v1", "backend": "vllm"}},
        "roles": {"judge": {"endpoint": "v", "model": "m", "prompt": "judge"},
                  "namer": {"endpoint": "v", "model": "m", "prompt": "namer"}}})
    fake, store = ModelsFake([{"id": "m", "root": "org/m", "parent": None}]), Store(tmp_path / "s.db")
    for url in ("http://a:1/v1", "http://a:1/v1", "http://b:1/v1"):
        _route(config, store, fake, url).complete_sync("judge", {"sentences": "- a"}, choices=["good", "bad"])
    assert len(fake.history) == 2


def test_llamacpp_auto_keys_on_the_gguf_hash(tmp_path):
    one, two = tmp_path / "one.gguf", tmp_path / "two.gguf"
    one.write_bytes(b"GGUF one")
    two.write_bytes(b"GGUF one")
    store = Store(tmp_path / "s.db")
    fake = FakeChat(lambda req: "good")

    def ask(path: Path) -> None:
        config = load_config(overrides={"store": str(tmp_path / "s.db"), "endpoints": {"local": {
            "model_path": str(path), "server_args": {"logits_all": True}}}})
        router = LLMRouter(config, store, base_urls={"local": "http://x/v1"}, client_factory=lambda n, ep, u: fake)
        router.complete_sync("judge", {"sentences": "- a"}, choices=["good", "bad"])

    ask(one)
    ask(one)
    assert len(fake.history) == 1
    two.write_bytes(b"GGUF two")  # another model behind the same endpoint name
    ask(two)
    assert len(fake.history) == 2


def test_served_identity_when_the_listing_fails(tmp_path):
    import asyncio

    config = vllm_config(tmp_path)

    def broken():
        raise RuntimeError("down")

    ident = asyncio.run(ServedModels().identity("v", config.endpoints["v"], "judge", "http://h:1/v1", broken))
    assert ident == {"base_url": "auto", "served": "unknown (RuntimeError)"}


def test_describe_served_names_adapters_and_their_base(tmp_path):
    listed = [SimpleNamespace(id="smol", root="/m/smol", parent=None),
              SimpleNamespace(id="judge", root="/a/judge", parent="smol"), SimpleNamespace(id="plain")]
    assert describe_served(listed) == "smol (base model /m/smol), judge (LoRA adapter on smol: /a/judge), plain"
    assert dir_sha256(peft(tmp_path / "a")) == dir_sha256(peft(tmp_path / "b"))
