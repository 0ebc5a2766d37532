"""An OpenAI-compatible chat server on loopback that injects faults, for the reliability suite.

``FaultServer(responder)`` answers ``POST /v1/chat/completions`` with ``responder(body)``
(the text of the answer). ``faults`` is a queue of what the next requests get instead:

- ``"500"``: HTTP 500; ``("429", seconds)``: HTTP 429 with ``Retry-After``
- ``("hang", seconds)``: sleeps that long before answering (past the client's timeout)
- ``"close"``: sends the headers and half the body, then closes the connection
- ``"badjson"``: HTTP 200, JSON content type, a body that is not JSON
- ``"shape"``: HTTP 200 with valid JSON that is not a chat completion
- ``("text", "goo")``: a well-formed completion whose answer is that text (``finish_reason`` length)
- ``"die"``: closes the connection and stops the server (``restart()`` brings it back on the same port)

``die_after=N`` makes the server die when request N+1 arrives. Every request is recorded
in ``requests`` (the parsed body, or None), every fault served in ``served``.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

Fault = str | tuple[str, Any]


def completion(text: str, finish_reason: str = "stop", completion_tokens: int = 1) -> dict[str, Any]:
    return {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": finish_reason,
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 42, "completion_tokens": completion_tokens,
                      "total_tokens": 42 + completion_tokens}}


class FaultServer:
    def __init__(self, responder: Callable[[dict[str, Any]], str] | None = None, port: int = 0) -> None:
        self.responder = responder or (lambda body: "good")
        self.faults: list[Fault] = []
        self.die_after: int | None = None
        self.requests: list[dict[str, Any] | None] = []
        self.served: list[str] = []
        self._lock = threading.Lock()
        self._port = port
        self.httpd: ThreadingHTTPServer | None = None
        self.start()

    # -- life cycle ---------------------------------------------------------
    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                outer._json(self, 200, {"object": "list", "data": [{"id": "m", "object": "model"}]})

            def do_POST(self) -> None:  # noqa: N802
                outer._handle(self)

        ThreadingHTTPServer.allow_reuse_address = True
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self.httpd.daemon_threads = True
        self._port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.httpd is not None:
            httpd, self.httpd = self.httpd, None
            httpd.shutdown()
            httpd.server_close()

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    def __enter__(self) -> "FaultServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- serving ------------------------------------------------------------
    @staticmethod
    def _json(handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None,
              raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            handler.send_header(k, v)
        handler.end_headers()
        handler.wfile.write(data)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length", 0))
        raw = h.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = None
        with self._lock:
            self.requests.append(body)
            if self.die_after is not None and len(self.requests) > self.die_after:
                self.die_after = None
                fault: Fault | None = "die"
            else:
                fault = self.faults.pop(0) if self.faults else None
            self.served.append(fault if isinstance(fault, str) or fault is None else fault[0])  # type: ignore[arg-type]
        kind, arg = (fault, None) if isinstance(fault, str) or fault is None else fault
        if kind == "500":
            return self._json(h, 500, {"error": {"message": "injected 500"}})
        if kind == "429":
            return self._json(h, 429, {"error": {"message": "slow down"}}, {"Retry-After": str(arg)})
        if kind == "hang":
            time.sleep(float(arg))
        if kind == "badjson":
            return self._json(h, 200, None, raw=b'{"id": "x", "choices": [{"message": ')
        if kind == "shape":
            return self._json(h, 200, {"result": "good", "detail": "not a chat completion"})
        if kind == "close":
            data = json.dumps(completion("good")).encode()
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data[:len(data) // 2])
            h.wfile.flush()
            h.close_connection = True
            h.connection.close()
            return None
        if kind == "die":
            h.close_connection = True
            h.connection.close()
            threading.Thread(target=self.stop, daemon=True).start()
            return None
        if kind == "text":
            return self._json(h, 200, completion(str(arg), finish_reason="length", completion_tokens=2))
        try:
            text = self.responder(body or {})
        except Exception as exc:  # a responder bug shows as a 500 the test will see
            return self._json(h, 500, {"error": {"message": f"responder failed: {exc}"}})
        try:
            self._json(h, 200, completion(text))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout) while we hung
        return None
