from datetime import datetime, timezone

from dialin.config import EndpointConfig
from dialin.llm.serve import ServerInfo, _same_settings


def info(**kw):
    base = dict(name="local", pid=1, port=2, base_url="http://127.0.0.1:2/v1", model_path="/m.gguf", alias="m",
                started_at=datetime.now(timezone.utc), n_ctx=4096, n_threads=2)
    return ServerInfo(**{**base, **kw})


def test_a_server_is_reused_only_with_the_same_flags():
    ep = EndpointConfig(base_url="auto", model_path="/m.gguf", server_args={"logits_all": False})
    assert _same_settings(info(server_args={"logits_all": False}), ep)
    assert not _same_settings(info(server_args={}), ep)  # started with logprobs on: not the same server
    assert not _same_settings(info(server_args={"logits_all": False}, n_ctx=2048), ep)


def test_a_missing_lora_file_is_named_before_any_server_starts(tmp_path):
    import pytest

    from dialin.errors import ConfigError
    from dialin.llm.serve import start_server

    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    ep = EndpointConfig(base_url="auto", model_path=str(model), server_args={"lora_path": str(tmp_path / "no.gguf")})
    with pytest.raises(ConfigError, match="lora_path .*no.gguf is not a file.*dialin finetune"):
        start_server("judge_lora", ep, "judge-lora", log_dir=tmp_path)
