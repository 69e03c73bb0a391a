"""A loopback HTTP server that stands in for an OpenAI-compatible chat-completions server (vLLM,
Ollama, llama.cpp's llama-server) and records what it received.

``POST /v1/chat/completions`` answers as the request asks: a Server-Sent Events stream (HTTP/1.1
chunked, a role-only first delta, one delta per piece, a finish chunk, a usage chunk when
``stream_options.include_usage``, ``data: [DONE]``) or one JSON completion. A test scripts other
answers in advance with ``Reply``: 5xx, 429 with Retry-After, 400 with an error body, a dropped
connection (before answering or mid-stream), a server that ignores ``stream``, one that holds
its answer until ``resume`` is set (timeouts), one that waits for the client to hang up (early
stop), one that sends only keep-alive comments. Tests wait on events, never sleep.
"""

from __future__ import annotations

import json
import select
import socket
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

COMPLETIONS_PATH = "/v1/chat/completions"
WAIT_LIMIT_S = 10.0


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    """One scripted answer (the default: a streamed or JSON Chinese reply, as asked)."""

    pieces: tuple[str, ...] = ("你好", "，世界")
    stream: bool | None = None  # None: as the request asks; False: a server that ignores it
    finish_reason: str = "stop"
    usage: dict[str, int] | None = field(
        default_factory=lambda: {"prompt_tokens": 12, "completion_tokens": 3}
    )
    status: int = 200
    error: Any = None  # the JSON body of an error answer; a default one when None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    drop_after: int | None = None  # stream this many pieces, then close mid-stream
    hold: bool = False  # answer nothing until ``resume`` is set (a slow server)
    hold_after: int | None = None  # stream this many pieces, then wait for ``resume``
    await_hangup: bool = False  # before finishing the stream, wait for the client to hang up
    keepalive_s: float | None = None  # send only ': keep-alive' comments this often
    raw: bytes | None = None  # the event stream's bytes, verbatim
    done: bool = True  # end the stream with data: [DONE]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # clients hang up mid-answer on purpose here
        super().handle_error(request, client_address)


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.resume = threading.Event()
        self.hung_up = threading.Event()
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in separate writes; Nagle would hold the body back.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                with fake._lock:
                    fake.requests.append(
                        Recorded(
                            path=self.path,
                            headers={k.lower(): v for k, v in self.headers.items()},
                            body=body,
                        )
                    )
                    reply = fake._script.popleft() if fake._script else Reply()
                try:
                    self._answer(reply, body if isinstance(body, dict) else {})
                except ConnectionError:
                    fake.hung_up.set()
                    self.close_connection = True

            def _answer(self, reply: Reply, body: dict[str, Any]) -> None:
                if reply.hold:
                    fake.resume.wait(WAIT_LIMIT_S)
                if reply.drop:
                    self._drop()
                    return
                if self.path != COMPLETIONS_PATH:
                    self._json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                if reply.status >= 300:
                    error = reply.error or {
                        "error": {"message": f"scripted {reply.status}", "type": "server_error"}
                    }
                    self._json(reply.status, error, reply.headers)
                    return
                streaming = reply.stream if reply.stream is not None else bool(body.get("stream"))
                if streaming:
                    self._stream(reply, body)
                else:
                    self._json(200, _completion(reply, body), reply.headers)

            def _json(
                self, status: int, payload: Any, headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, reply: Reply, body: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream; charset=utf-8")
                self.send_header("transfer-encoding", "chunked")
                self.send_header("cache-control", "no-cache")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if reply.raw is not None:
                    self._chunk(reply.raw)
                elif reply.keepalive_s is not None:
                    while not fake.resume.wait(reply.keepalive_s):
                        self._chunk(b": keep-alive\n\n")
                else:
                    if not self._events(reply, body):
                        return
                if reply.await_hangup and self._wait_for_hangup():
                    return
                self._chunk(b"")

            def _events(self, reply: Reply, body: dict[str, Any]) -> bool:
                """The stream's events; False when the connection was dropped."""
                model = body.get("model")
                self._event(_chunk(model, {"role": "assistant", "content": ""}))
                for index, piece in enumerate(reply.pieces):
                    if reply.drop_after == index:
                        self._drop()
                        return False
                    if reply.hold_after == index:
                        fake.resume.wait(WAIT_LIMIT_S)
                    self._event(_chunk(model, {"content": piece}))
                if reply.drop_after == len(reply.pieces):
                    self._drop()
                    return False
                self._event(_chunk(model, {}, reply.finish_reason))
                options = body.get("stream_options") or {}
                if reply.usage is not None and options.get("include_usage"):
                    self._event({"id": "chatcmpl-fake", "choices": [], "usage": reply.usage})
                if reply.done:
                    self._chunk(b"data: [DONE]\n\n")
                return True

            def _event(self, payload: Any) -> None:
                self._chunk(f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode())

            def _chunk(self, data: bytes) -> None:
                """One HTTP/1.1 chunk (an empty one ends the body)."""
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _drop(self) -> None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

            def _wait_for_hangup(self) -> bool:
                readable, _, _ = select.select([self.connection], [], [], WAIT_LIMIT_S)
                try:
                    gone = bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    gone = True
                if gone:
                    fake.hung_up.set()
                    self.close_connection = True
                return gone

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """The API root, as OFFICEBOT_LLM__OPENAI_BASE_URL names it."""
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/v1"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.resume.set()
        self._server.shutdown()
        self._server.server_close()


def _chunk(model: Any, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def _completion(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(reply.pieces)},
                "finish_reason": reply.finish_reason,
            }
        ],
    }
    if reply.usage is not None:
        payload["usage"] = reply.usage
    return payload
