"""A loopback HTTP server that stands in for DingTalk's robot endpoints and records requests.

It answers like DingTalk: ``{"errcode": 0, "errmsg": "ok"}``, or whatever responses a test
scripts in advance (5xx, errcode 130101, a dropped connection). Tests wait for requests with
``wait_for`` (a condition variable), never with sleeps.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float


@dataclass
class Scripted:
    status: int = 200
    body: Any = field(default_factory=lambda: {"errcode": 0, "errmsg": "ok"})
    drop: bool = False  # close the connection without answering (a network error)
    headers: dict[str, str] = field(default_factory=dict)


class FakeDingTalk:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._script: deque[Scripted] = deque()
        self._condition = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                parts = urlsplit(self.path)
                record = Recorded(
                    method="POST",
                    path=parts.path,
                    query={k: v[0] for k, v in parse_qs(parts.query).items()},
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    at=time.monotonic(),
                )
                with fake._condition:
                    scripted = fake._script.popleft() if fake._script else Scripted()
                    fake.requests.append(record)
                    fake._condition.notify_all()
                if scripted.drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                payload = json.dumps(scripted.body).encode()
                self.send_response(scripted.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for name, value in scripted.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def robot_url(self, token: str = "test-token") -> str:
        return f"{self.base_url}/robot/send?access_token={token}"

    def session_url(self, session: str = "s1") -> str:
        return f"{self.base_url}/robot/sendBySession?session={session}"

    def script(self, *responses: Scripted) -> None:
        with self._condition:
            self._script.extend(responses)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Recorded]:
        """Block until at least ``count`` requests have arrived; returns them all."""
        with self._condition:
            if not self._condition.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(
                    f"expected {count} request(s) at the fake DingTalk, got {len(self.requests)}"
                )
            return list(self.requests)

    def start(self) -> FakeDingTalk:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Arrivals:
    """The requests a (shared) fake received since a test began."""

    def __init__(self, fake: FakeDingTalk) -> None:
        self._fake = fake
        self._start = len(fake.requests)

    def wait_for(self, count: int) -> list[Recorded]:
        return self._fake.wait_for(self._start + count)[self._start :]

    @property
    def received(self) -> list[Recorded]:
        return self._fake.requests[self._start :]
