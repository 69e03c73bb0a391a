"""Cron-style schedules for plugins, persisted in the database (APScheduler's SQLAlchemy store).

Static schedules (``@plugin.schedule("x", cron=...)``) are written at every start, replacing the
old definition; instances a plugin adds at run time (a daily digest for one conversation, say)
are kept in the same table and survive restarts. Each schedule calls the module-level
:func:`fire`, which looks the plugin up in the running bot, so nothing of a plugin is pickled.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel
from sqlalchemy import Engine

from bot.errors import BadRequestError
from bot.records import PluginServices
from bot.registry import PluginRegistry
from plugins.context import RecordStore, Services

log = logging.getLogger(__name__)

TABLE = "apscheduler_jobs"
_active: SchedulerService | None = None


@dataclass(frozen=True, slots=True)
class ScheduleView:
    id: str
    plugin: str
    schedule: str
    key: str | None
    cron: str
    next_run: datetime | None


@dataclass(frozen=True, slots=True)
class ScheduleRun:
    """The ``ScheduleContext`` given to a scheduled handler."""

    schedule_id: str
    payload: Mapping[str, Any]
    config: BaseModel | None
    services: Services
    records: RecordStore


def parse_cron(cron: str, timezone: str) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(cron, timezone=ZoneInfo(timezone))
    except ValueError as exc:
        raise BadRequestError(
            f"invalid cron expression {cron!r}: {exc} (five fields: minute hour day month weekday,"
            " e.g. '0 18 * * 1-5')"
        ) from None


def schedule_id(plugin: str, schedule: str, key: str | None = None) -> str:
    return f"{plugin}:{schedule}" + (f":{key}" if key else "")


def job_store(engine: Engine) -> SQLAlchemyJobStore:
    return SQLAlchemyJobStore(engine=engine, tablename=TABLE)


class SchedulerService:
    """Owns the APScheduler instance of this process."""

    def __init__(
        self, engine: Engine, registry: PluginRegistry, services: PluginServices, timezone: str
    ) -> None:
        self._registry = registry
        self._services = services
        self._timezone = timezone
        self._scheduler = AsyncIOScheduler(
            jobstores={"default": job_store(engine)},
            job_defaults={"coalesce": True, "misfire_grace_time": 300, "max_instances": 1},
            timezone=ZoneInfo(timezone),
        )

    def start(self) -> None:
        global _active
        self._scheduler.start()
        _active = self
        declared = set()
        for loaded, schedule in self._registry.schedules():
            if schedule.cron is None:
                continue
            job_id = schedule_id(loaded.plugin.name, schedule.name)
            declared.add(job_id)
            self._scheduler.add_job(
                fire,
                trigger=parse_cron(schedule.cron, self._timezone),
                args=[loaded.plugin.name, schedule.name, None, {}],
                id=job_id,
                name=schedule.summary or job_id,
                replace_existing=True,
            )
        for job in self._scheduler.get_jobs():
            plugin, _, key = _split(job.id)
            if key is None and job.id not in declared:
                log.info("removing schedule %s: its plugin no longer declares it", job.id)
                job.remove()
            elif self._registry.get(plugin) is None:
                log.warning("schedule %s belongs to plugin %s, which is not loaded", job.id, plugin)

    def shutdown(self) -> None:
        global _active
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if _active is self:
            _active = None

    def control(self, plugin: str) -> PluginSchedules:
        return PluginSchedules(self, plugin)

    def add(
        self, plugin: str, schedule: str, key: str, cron: str, payload: Mapping[str, Any]
    ) -> str:
        declared = {s.name for p, s in self._registry.schedules() if p.plugin.name == plugin}
        if schedule not in declared:
            raise BadRequestError(f"plugin {plugin!r} declares no schedule named {schedule!r}")
        job_id = schedule_id(plugin, schedule, key)
        self._scheduler.add_job(
            fire,
            trigger=parse_cron(cron, self._timezone),
            args=[plugin, schedule, key, dict(payload)],
            id=job_id,
            name=job_id,
            replace_existing=True,
        )
        return job_id

    def remove(self, plugin: str, schedule: str, key: str) -> bool:
        job = self._scheduler.get_job(schedule_id(plugin, schedule, key))
        if job is None:
            return False
        job.remove()
        return True

    def run_now(self, job_id: str) -> None:
        """Fire a stored schedule at once (its regular times stay as they are)."""
        job = self._scheduler.get_job(job_id)
        if job is None:
            raise BadRequestError(f"no schedule with id {job_id!r}")
        self._scheduler.add_job(
            fire,
            args=list(job.args),
            id=f"{job_id}@now",
            name=f"{job_id} (run now)",
            replace_existing=True,
        )

    def list(self) -> Sequence[ScheduleView]:
        return list_schedules(self._scheduler.get_jobs())

    async def run(
        self, plugin: str, schedule: str, key: str | None, payload: Mapping[str, Any]
    ) -> None:
        loaded = self._registry.get(plugin)
        if loaded is None:
            log.warning("schedule %s fired but plugin %s is not loaded", schedule, plugin)
            return
        handler = next((s.handler for s in loaded.plugin.schedules if s.name == schedule), None)
        if handler is None:
            log.warning("schedule %s fired but plugin %s no longer declares it", schedule, plugin)
            return
        run = ScheduleRun(
            schedule_id(plugin, schedule, key),
            payload,
            loaded.config,
            self._services,
            self._services.records_for(plugin),
        )
        try:
            await handler(run)
        except Exception:
            log.exception("schedule %s of plugin %s failed", schedule, plugin)


class PluginSchedules:
    """The ``ScheduleControl`` of one plugin."""

    def __init__(self, service: SchedulerService, plugin: str) -> None:
        self._service = service
        self._plugin = plugin

    async def add(
        self, schedule: str, key: str, cron: str, payload: Mapping[str, Any] | None = None
    ) -> str:
        return self._service.add(self._plugin, schedule, key, cron, payload or {})

    async def remove(self, schedule: str, key: str) -> bool:
        return self._service.remove(self._plugin, schedule, key)


async def fire(plugin: str, schedule: str, key: str | None, payload: dict[str, Any]) -> None:
    """The target of every persisted schedule (must stay importable under this name)."""
    if _active is None:
        log.warning("schedule %s:%s fired with no running bot", plugin, schedule)
        return
    await _active.run(plugin, schedule, key, payload)


def _split(job_id: str) -> tuple[str, str, str | None]:
    plugin, _, rest = job_id.partition(":")
    schedule, _, key = rest.partition(":")
    return plugin, schedule, key or None


def list_schedules(jobs: Sequence[Any]) -> Sequence[ScheduleView]:
    views = []
    for job in jobs:
        plugin, schedule, key = _split(job.id)
        views.append(
            ScheduleView(
                id=job.id,
                plugin=plugin,
                schedule=schedule,
                key=key,
                cron=_cron_text(job.trigger),
                next_run=getattr(job, "next_run_time", None),
            )
        )
    return sorted(views, key=lambda v: v.id)


def _cron_text(trigger: Any) -> str:
    fields = {f.name: str(f) for f in getattr(trigger, "fields", [])}
    if not fields:
        return str(trigger)
    return " ".join(fields.get(n, "*") for n in ("minute", "hour", "day", "month", "day_of_week"))


def stored_schedules(engine: Engine, timezone: str) -> Sequence[ScheduleView]:
    """The persisted schedules, read without starting a scheduler (for the CLI)."""
    store = job_store(engine)
    scheduler = AsyncIOScheduler(timezone=ZoneInfo(timezone))
    store.start(scheduler, "default")
    try:
        return list_schedules(store.get_all_jobs())
    finally:
        store.shutdown()
