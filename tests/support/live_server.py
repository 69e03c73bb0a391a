"""Run the real app under uvicorn on a loopback port, in a background thread."""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

import httpx
import uvicorn


class _SignallingServer(uvicorn.Server):
    """Sets ``ready`` once startup has finished (successfully or not)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: Any = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.ready.set()


class LiveServer:
    def __init__(self, app: Any) -> None:
        self.config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", access_log=False
        )
        self.server = _SignallingServer(self.config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = self.server.ready

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.serve())
        finally:
            self._ready.set()  # a failed startup exits serve() early
            self.loop.close()

    def start(self) -> LiveServer:
        self._thread.start()
        if not self._ready.wait(30) or not self.server.started:
            raise RuntimeError("the test server did not start")
        return self

    @property
    def url(self) -> str:
        socket = self.server.servers[0].sockets[0]
        host, port = socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def call(self, coroutine: Any, timeout: float = 30) -> Any:
        """Run a coroutine on the server's loop (e.g. to await a job) and return its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(30)


def await_job(server: LiveServer, job_id: str, timeout: float = 300) -> dict[str, Any]:
    """Wait for a job of the server's runtime to finish (an event, no polling); its JSON view."""
    runtime = server.runtime  # type: ignore[attr-defined]
    view = server.call(runtime.jobs.wait_for(job_id, timeout), timeout + 5)
    return dict(view.as_json())


def job_id_of(text: str) -> str:
    """The job id a reply names ("任务 <id>" or "job <id>")."""
    match = re.search(r"(?:任务|job) ([0-9a-f]+)", text)
    assert match, text
    return match[1]


def download(url: str, server: LiveServer) -> bytes:
    """A file the bot linked in chat, fetched the way a member of the chat does: no token."""
    full = url if url.startswith("http") else f"{server.url}{url}"
    response = httpx.get(full, timeout=30)
    assert response.status_code == 200, response.text
    return response.content
