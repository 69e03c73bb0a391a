"""Plugin schedules: declared cron schedules, run-time ones persisted across restarts, firing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.errors import BadRequestError
from bot.registry import PluginRegistry
from bot.runtime import Runtime
from bot.scheduler import stored_schedules
from bot.settings import Settings
from plugins import Plugin, ScheduleContext


def digest_plugin(fired: asyncio.Queue[tuple[str, dict[str, Any]]]) -> Plugin:
    plugin = Plugin(name="digests", description="daily digests")

    @plugin.schedule("daily", summary="每日摘要 / daily digest")
    async def daily(ctx: ScheduleContext) -> None:
        await fired.put((ctx.schedule_id, dict(ctx.payload)))

    @plugin.schedule("retention", cron="30 3 * * *", summary="purge old messages")
    async def retention(ctx: ScheduleContext) -> None:
        await fired.put((ctx.schedule_id, dict(ctx.payload)))

    return plugin


async def runtime_with(settings: Settings, plugin: Plugin) -> Runtime:
    registry = PluginRegistry(settings)
    registry.add(plugin)
    runtime = Runtime(settings, registry=registry)
    await runtime.start()
    return runtime


async def test_schedules_persist_across_restarts_and_fire(settings: Settings) -> None:
    fired: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    runtime = await runtime_with(settings, digest_plugin(fired))
    try:
        control = runtime.scheduler.control("digests")
        job_id = await control.add("daily", "cidGroupA", "0 18 * * 1-5", {"conversation": "A"})
        assert job_id == "digests:daily:cidGroupA"
    finally:
        await runtime.stop()

    persisted = {v.id: v for v in stored_schedules(runtime.engine, settings.timezone)}
    assert persisted["digests:daily:cidGroupA"].cron == "0 18 * * 1-5"
    assert persisted["digests:retention"].cron == "30 3 * * *"
    assert persisted["digests:daily:cidGroupA"].next_run is not None

    runtime = await runtime_with(settings, digest_plugin(fired))
    try:
        ids = {view.id for view in runtime.scheduler.list()}
        assert {"digests:daily:cidGroupA", "digests:retention"} <= ids
        runtime.scheduler.run_now("digests:daily:cidGroupA")
        schedule_id, payload = await asyncio.wait_for(fired.get(), 10)
        assert schedule_id == "digests:daily:cidGroupA"
        assert payload == {"conversation": "A"}
        assert await runtime.scheduler.control("digests").remove("daily", "cidGroupA")
        assert not await runtime.scheduler.control("digests").remove("daily", "cidGroupA")
    finally:
        await runtime.stop()


async def test_schedule_no_longer_declared_is_removed(settings: Settings) -> None:
    fired: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    runtime = await runtime_with(settings, digest_plugin(fired))
    await runtime.stop()
    smaller = Plugin(name="digests", description="without retention")
    runtime = await runtime_with(settings, smaller)
    try:
        assert "digests:retention" not in {view.id for view in runtime.scheduler.list()}
    finally:
        await runtime.stop()


async def test_bad_schedules_get_clear_errors(settings: Settings) -> None:
    fired: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    runtime = await runtime_with(settings, digest_plugin(fired))
    try:
        control = runtime.scheduler.control("digests")
        with pytest.raises(BadRequestError, match="invalid cron expression"):
            await control.add("daily", "x", "every day at six", {})
        with pytest.raises(BadRequestError, match="declares no schedule named 'weekly'"):
            await control.add("weekly", "x", "0 18 * * 5", {})
    finally:
        await runtime.stop()
