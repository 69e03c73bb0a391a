"""Persistent jobs: states, progress, failures, priorities, the API, and surviving a crash."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.jobs import JobStore
from bot.registry import PluginRegistry
from bot.runtime import Runtime
from bot.settings import Settings
from bot.storage.database import make_engine, upgrade
from plugins import JobContext, Plugin
from tests.conftest import API_TOKEN
from tests.support.job_plugins import KIND, completing
from tests.support.live_server import LiveServer

ROOT = Path(__file__).resolve().parents[1]


class Gate:
    """Lets a test hold a job handler (running in a worker thread) at a known point."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()


def make_plugin() -> tuple[Plugin, Gate, list[str]]:
    plugin = Plugin(name="workbench", description="jobs for tests")
    gate = Gate()
    order: list[str] = []

    @plugin.job("workbench.steps")
    def steps(ctx: JobContext) -> dict[str, Any]:
        ctx.progress("decoding", 10)
        gate.reached.set()
        gate.release.wait(30)
        ctx.progress("writing minutes", 80)
        return {"pages": 3, "title": ctx.payload["title"]}

    @plugin.job("workbench.broken")
    def broken(ctx: JobContext) -> None:
        raise ValueError("the recording has no audio track")

    @plugin.job("workbench.record")
    def record(ctx: JobContext) -> str:
        order.append(str(ctx.payload["name"]))
        return str(ctx.payload["name"])

    return plugin, gate, order


async def started_runtime(settings: Settings, *plugins: Plugin) -> Runtime:
    registry = PluginRegistry(settings)
    for plugin in plugins:
        assert registry.add(plugin) is not None
    runtime = Runtime(settings, registry=registry)
    await runtime.start()
    return runtime


async def test_job_reports_stage_percent_and_result(settings: Settings) -> None:
    plugin, gate, _ = make_plugin()
    runtime = await started_runtime(settings, plugin)
    try:
        job_id = await runtime.jobs.enqueue("workbench.steps", {"title": "周会"}, tenant_key="t1")
        assert await asyncio.to_thread(gate.reached.wait, 10)
        view = await asyncio.to_thread(runtime.jobs.store.get, job_id)
        assert (view.state, view.stage, view.percent) == ("running", "decoding", 10)
        gate.release.set()
        view = await runtime.jobs.wait_for(job_id, timeout=10)
        assert view.state == "succeeded"
        assert view.percent == 100
        assert view.result == {"pages": 3, "title": "周会"}
        assert view.tenant_key == "t1"
    finally:
        await runtime.stop()


async def test_failed_job_keeps_its_message_and_worker_survives(settings: Settings) -> None:
    plugin, _, _ = make_plugin()
    runtime = await started_runtime(settings, plugin)
    try:
        failing = await runtime.jobs.enqueue("workbench.broken", {})
        view = await runtime.jobs.wait_for(failing, timeout=10)
        assert view.state == "failed"
        assert view.error == "ValueError: the recording has no audio track"
        unknown = await runtime.jobs.enqueue("nobody.handles.this", {})
        view = await runtime.jobs.wait_for(unknown, timeout=10)
        assert view.state == "failed"
        assert "no loaded plugin handles job kind 'nobody.handles.this'" in (view.error or "")
        after = await runtime.jobs.enqueue("workbench.record", {"name": "still works"})
        assert (await runtime.jobs.wait_for(after, timeout=10)).result == "still works"
    finally:
        await runtime.stop()


async def test_higher_priority_jobs_run_first(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(worker_concurrency=1)
    plugin, _, order = make_plugin()
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    store = JobStore(engine)
    ids = [store.enqueue("workbench.record", {"name": f"background-{n}"}) for n in range(3)]
    ids.append(store.enqueue("workbench.record", {"name": "interactive"}, priority=10))
    runtime = await started_runtime(settings, plugin)
    try:
        for job_id in ids:
            await runtime.jobs.wait_for(job_id, timeout=10)
    finally:
        await runtime.stop()
    engine.dispose()
    assert order == ["interactive", "background-0", "background-1", "background-2"]


def test_job_api(start_server: Callable[..., LiveServer], settings: Settings) -> None:
    plugin, gate, _ = make_plugin()
    registry = PluginRegistry(settings)
    registry.add(plugin)
    server = start_server(settings, registry)
    runtime: Runtime = server.runtime  # type: ignore[attr-defined]
    job_id = server.call(runtime.jobs.enqueue("workbench.record", {"name": "api"}))
    server.call(runtime.jobs.wait_for(job_id, timeout=10))
    auth = {"authorization": f"Bearer {API_TOKEN}"}
    response = httpx.get(f"{server.url}/api/jobs/{job_id}", headers=auth)
    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["percent"], body["result"]) == ("succeeded", 100, "api")
    missing = httpx.get(f"{server.url}/api/jobs/{'0' * 32}", headers=auth)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert httpx.get(f"{server.url}/api/jobs/{job_id}").status_code == 401
    wrong = httpx.get(f"{server.url}/api/jobs/{job_id}", headers={"authorization": "Bearer no"})
    assert wrong.status_code == 401
    assert httpx.get(f"{server.url}/api/jobs/not-hex!", headers=auth).status_code == 422
    gate.release.set()


@pytest.mark.slow
async def test_running_job_survives_a_crash(settings: Settings, tmp_path: Path) -> None:
    data_dir = settings.data_dir
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.run_blocking_job",
        str(data_dir),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        queued = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        assert queued.startswith("QUEUED "), queued
        job_id = queued.split()[1]
        running = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        assert running.strip() == f"RUNNING {job_id}"
    finally:
        process.send_signal(signal.SIGKILL)  # a crash: no shutdown code runs
        await asyncio.wait_for(process.wait(), 30)

    runtime = await started_runtime(settings, completing)
    try:
        view = await runtime.jobs.wait_for(job_id, timeout=20)
    finally:
        await runtime.stop()
    assert view.state == "succeeded"
    assert view.attempts == 2
    assert view.result == {"done": True, "payload": {"recording": "weekly.m4a"}}


async def test_job_interrupted_too_often_fails_with_reason(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(job_max_attempts=1)
    runtime = await started_runtime(settings, completing)
    await runtime.stop()
    store = runtime.jobs.store
    job_id = store.enqueue(KIND, {})
    assert store.claim() is not None  # 'running', attempts 1, then the process "dies"
    runtime = await started_runtime(settings, completing)
    try:
        view = await asyncio.to_thread(store.get, job_id)
    finally:
        await runtime.stop()
    assert view.state == "failed"
    assert "interrupted 1 time(s)" in (view.error or "")
