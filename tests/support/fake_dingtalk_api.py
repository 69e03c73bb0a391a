"""A loopback HTTP server standing in for DingTalk's open API where files of messages come from.

It answers the calls officebot makes for a picture someone sent the robot:

- ``POST /v1.0/oauth2/accessToken {appKey, appSecret}`` -> ``{accessToken, expireIn}`` (400
  for other credentials), each token new;
- ``POST /v1.0/robot/messageFiles/download {downloadCode, robotCode}`` with
  ``x-acs-dingtalk-access-token`` -> ``{downloadUrl}`` pointing at ``GET /media/<code>`` here
  (401 for a token it did not issue or has revoked, 400 for an unknown code);
- ``GET /media/<code>``: the file's bytes.

Every request is recorded; ``wait_for`` needs no sleeps.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class ApiCall:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeDingTalkApi:
    def __init__(self, app_key: str, app_secret: str, *, expire_in: int = 7200) -> None:
        self.app_key = app_key
        self.app_secret = app_secret
        self.expire_in = expire_in
        self.files: dict[str, bytes] = {}
        self.calls: list[ApiCall] = []
        self.tokens: list[str] = []
        self.revoked: set[str] = set()
        self._condition = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, value: Any) -> None:
                self._answer(status, json.dumps(value).encode())

            def _record(self, body: Any) -> None:
                call = ApiCall(
                    self.command,
                    urlsplit(self.path).path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with fake._condition:
                    fake.calls.append(call)
                    fake._condition.notify_all()

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                self._record(body)
                path = urlsplit(self.path).path
                if path == "/v1.0/oauth2/accessToken":
                    if body.get("appKey") != fake.app_key or body.get("appSecret") != (
                        fake.app_secret
                    ):
                        self._json(400, {"code": "invalidClientIdOrSecret", "message": "无效"})
                        return
                    token = secrets.token_hex(8)
                    fake.tokens.append(token)
                    self._json(200, {"accessToken": token, "expireIn": fake.expire_in})
                    return
                if path == "/v1.0/robot/messageFiles/download":
                    token = self.headers.get("x-acs-dingtalk-access-token", "")
                    if token not in fake.tokens or token in fake.revoked:
                        self._json(401, {"code": "InvalidAuthentication", "message": "token"})
                        return
                    code = str(body.get("downloadCode", ""))
                    if code not in fake.files or not body.get("robotCode"):
                        self._json(400, {"code": "unknownError", "message": "downloadCode 有误"})
                        return
                    host, port = fake._server.server_address[:2]
                    self._json(200, {"downloadUrl": f"http://{host}:{port}/media/{code}?sig=x"})
                    return
                self._json(404, {"code": "notFound"})

            def do_GET(self) -> None:
                self._record(None)
                path = urlsplit(self.path).path
                code = path.removeprefix("/media/")
                if path.startswith("/media/") and code in fake.files:
                    self._answer(200, fake.files[code], "application/octet-stream")
                else:
                    self._answer(404, b"not found", "text/plain")

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

    def calls_to(self, path: str) -> list[ApiCall]:
        return [c for c in self.calls if c.path == path or c.path.startswith(path)]

    def wait_for(self, path: str, count: int, timeout: float = 30.0) -> list[ApiCall]:
        with self._condition:
            if not self._condition.wait_for(lambda: len(self.calls_to(path)) >= count, timeout):
                raise AssertionError(f"expected {count} call(s) to {path}, got {self.calls}")
            return self.calls_to(path)

    def start(self) -> FakeDingTalkApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
