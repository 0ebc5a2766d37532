from datetime import datetime, timezone

from dialin.config import EndpointConfig
from dialin.serve import ServerInfo, _same_settings


def info(**kw):
    base = dict(name="local", pid=1, port=2, base_url="http://127.0.0.1:2/v1", model_path="/m.gguf", alias="m",
                started_at=datetime.now(timezone.utc), n_ctx=4096, n_threads=2)
    return ServerInfo(**{**base, **kw})


def test_a_server_is_reused_only_with_the_same_flags():
    ep = EndpointConfig(base_url="auto", model_path="/m.gguf", server_args={"logits_all": False})
    assert _same_settings(info(server_args={"logits_all": False}), ep)
    assert not _same_settings(info(server_args={}), ep)  # started with logprobs on: not the same server
    assert not _same_settings(info(server_args={"logits_all": False}, n_ctx=2048), ep)
