"""Persistent background jobs and the in-process worker pool that runs them.

A job is a row first: ``enqueue`` commits it as ``queued`` before returning its id, so it
survives a crash from that moment on. Workers claim queued jobs (highest priority, then oldest)
with a conditional update, so several workers or processes never run one job twice. At start,
jobs left ``running`` by a crash or restart are queued again, up to ``job_max_attempts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session

from bot.errors import NotFoundError
from bot.records import PluginServices
from bot.registry import PluginRegistry
from bot.storage.messages import ensure_tenant
from bot.storage.models import Job, Tenant, utcnow
from plugins.context import RecordStore, Services
from plugins.events import ChatEvent
from plugins.messages import OutgoingMessage

log = logging.getLogger(__name__)

T = TypeVar("T")

STATES = ("queued", "running", "succeeded", "failed")
MAX_ERROR_LENGTH = 4000

ReplyFunction = Callable[[Mapping[str, Any], str | OutgoingMessage], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as shown by the API and the CLI."""

    id: str
    kind: str
    tenant_key: str | None
    state: str
    stage: str | None
    percent: float
    result: Any
    error: str | None
    attempts: int
    priority: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "tenant": self.tenant_key,
            "state": self.state,
            "stage": self.stage,
            "percent": round(self.percent, 1),
            "result": self.result,
            "error": self.error,
            "attempts": self.attempts,
            "priority": self.priority,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


class JobStore:
    """Synchronous access to the jobs table (callers in async code use a thread)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        tenant_key: str | None = None,
        origin: Mapping[str, Any] | None = None,
        priority: int = 0,
    ) -> str:
        job_id = uuid.uuid4().hex
        now = utcnow()
        with self._engine.begin() as conn:
            tenant_id = ensure_tenant(conn, tenant_key) if tenant_key else None
            conn.execute(
                insert(Job).values(
                    id=job_id,
                    tenant_id=tenant_id,
                    kind=kind,
                    payload=dict(payload),
                    origin=dict(origin) if origin else None,
                    state="queued",
                    priority=priority,
                    stage="queued",
                    percent=0.0,
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                )
            )
        return job_id

    def claim(self) -> Job | None:
        """Take the next queued job, or None. Safe against concurrent claimers."""
        for _ in range(10):
            with Session(self._engine) as session:
                job = session.scalars(
                    select(Job)
                    .where(Job.state == "queued")
                    .order_by(Job.priority.desc(), Job.created_at, Job.id)
                    .limit(1)
                ).first()
                if job is None:
                    return None
                now = utcnow()
                claimed = session.execute(
                    update(Job)
                    .where(Job.id == job.id, Job.state == "queued")
                    .values(
                        state="running",
                        attempts=Job.attempts + 1,
                        stage="starting",
                        started_at=now,
                        updated_at=now,
                    )
                )
                session.commit()
                if claimed.rowcount == 1:  # type: ignore[attr-defined]
                    session.refresh(job)
                    return job
        return None

    def progress(self, job_id: str, stage: str, percent: float) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(Job)
                .where(Job.id == job_id, Job.state == "running")
                .values(stage=stage[:128], percent=percent, updated_at=utcnow())
            )

    def finish(self, job_id: str, *, result: Any = None, error: str | None = None) -> None:
        now = utcnow()
        values: dict[str, Any] = {"finished_at": now, "updated_at": now}
        if error is None:
            values.update(state="succeeded", stage="done", percent=100.0, result=result)
        else:
            values.update(state="failed", error=error[:MAX_ERROR_LENGTH])
        with self._engine.begin() as conn:
            conn.execute(update(Job).where(Job.id == job_id).values(**values))

    def recover_interrupted(self, max_attempts: int) -> tuple[int, int]:
        """Requeue jobs a crash left running; fail those that used up their attempts."""
        now = utcnow()
        with self._engine.begin() as conn:
            failed = conn.execute(
                update(Job)
                .where(Job.state == "running", Job.attempts >= max_attempts)
                .values(
                    state="failed",
                    error=f"interrupted {max_attempts} time(s) by a crash or restart; giving up",
                    finished_at=now,
                    updated_at=now,
                )
            ).rowcount
            requeued = conn.execute(
                update(Job)
                .where(Job.state == "running")
                .values(state="queued", stage="requeued after restart", updated_at=now)
            ).rowcount
        return requeued, failed

    def get(self, job_id: str, *, tenant_key: str | None = None) -> JobView:
        statement = (
            select(Job, Tenant.key)
            .outerjoin(Tenant, Job.tenant_id == Tenant.id)
            .where(Job.id == job_id)
        )
        if tenant_key is not None:
            statement = statement.where(Tenant.key == tenant_key)
        with Session(self._engine) as session:
            row = session.execute(statement).first()
        if row is None:
            raise NotFoundError(f"no job with id {job_id!r}")
        return _view(row[0], row[1])

    def list(self, *, state: str | None = None, limit: int = 50) -> Sequence[JobView]:
        statement = (
            select(Job, Tenant.key)
            .outerjoin(Tenant, Job.tenant_id == Tenant.id)
            .order_by(Job.created_at.desc())
            .limit(limit)
        )
        if state is not None:
            statement = statement.where(Job.state == state)
        with Session(self._engine) as session:
            return [_view(job, key) for job, key in session.execute(statement).all()]

    def counts(self) -> dict[str, int]:
        with Session(self._engine) as session:
            rows = session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
        return dict.fromkeys(STATES, 0) | {state: int(count) for state, count in rows}


def _view(job: Job, tenant_key: str | None) -> JobView:
    return JobView(
        id=job.id,
        kind=job.kind,
        tenant_key=tenant_key,
        state=job.state,
        stage=job.stage,
        percent=job.percent,
        result=job.result,
        error=job.error,
        attempts=job.attempts,
        priority=job.priority,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def origin_of(event: ChatEvent) -> dict[str, Any]:
    """What a job needs to answer the conversation that asked for it."""
    channel = event.reply_channel
    return {
        "platform": event.platform,
        "tenant_key": event.tenant_key,
        "conversation_id": event.conversation_id,
        "message_id": event.message_id,
        "sender_id": event.sender_id,
        "reply_url": channel.url if channel else None,
        "reply_expires_at": channel.expires_at.isoformat()
        if channel and channel.expires_at
        else None,
    }


class RunningJob:
    """The ``JobContext`` given to a job handler."""

    def __init__(
        self,
        job: Job,
        tenant_key: str | None,
        config: BaseModel | None,
        store: JobStore,
        loop: asyncio.AbstractEventLoop,
        reply: ReplyFunction,
        services: Services,
        records: RecordStore,
        min_interval: float = 0.5,
    ) -> None:
        self.services = services
        self.records = records
        self.job_id = job.id
        self.kind = job.kind
        self.tenant_key = tenant_key
        self.payload: Mapping[str, Any] = job.payload
        self.config = config
        self._origin = job.origin
        self._store = store
        self._loop = loop
        self._reply = reply
        self._min_interval = min_interval
        self._lock = threading.Lock()
        self._last: tuple[str, float, float] = ("", -1.0, 0.0)
        self._pending: set[asyncio.Task[None]] = set()

    async def flush(self) -> None:
        """Wait for progress writes still in flight."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def progress(self, stage: str, percent: float) -> None:
        percent = max(0.0, min(100.0, float(percent)))
        with self._lock:
            last_stage, last_percent, last_time = self._last
            now = time.monotonic()
            if (
                stage == last_stage
                and now - last_time < self._min_interval
                and abs(percent - last_percent) < 5
            ):
                return
            self._last = (stage, percent, now)
        if _in_loop(self._loop):
            # Called from an async handler: never block the loop on the database.
            task = self._loop.create_task(
                asyncio.to_thread(self._store.progress, self.job_id, stage, percent)
            )
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        else:
            self._store.progress(self.job_id, stage, percent)

    async def reply(self, message: str | OutgoingMessage) -> None:
        if not self._origin:
            log.info("job %s has no conversation to reply to", self.job_id)
            return
        await self._reply(self._origin, message)

    async def run_in_thread(self, func: Callable[..., T], /, *args: Any) -> T:
        return await asyncio.to_thread(func, *args)


def _in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class JobRunner:
    """A pool of asyncio workers that claim and run jobs through their plugins' handlers."""

    def __init__(
        self,
        store: JobStore,
        registry: PluginRegistry,
        *,
        concurrency: int,
        poll_interval: float,
        max_attempts: int,
        reply: ReplyFunction,
        services: PluginServices,
    ) -> None:
        self._services = services
        self.store = store
        self._registry = registry
        self._concurrency = concurrency
        self._poll_interval = poll_interval
        self._max_attempts = max_attempts
        self._reply = reply
        self._wakeup = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._stopping = False
        self.finished = asyncio.Condition()
        """Notified after every job finishes, so tests and the CLI await events, not sleeps."""

    async def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        tenant_key: str | None = None,
        origin: ChatEvent | None = None,
        priority: int = 0,
    ) -> str:
        job_id = await asyncio.to_thread(
            self.store.enqueue,
            kind,
            payload,
            tenant_key=tenant_key or (origin.tenant_key if origin else None),
            origin=origin_of(origin) if origin else None,
            priority=priority,
        )
        self._wakeup.set()
        return job_id

    async def start(self) -> None:
        requeued, failed = await asyncio.to_thread(
            self.store.recover_interrupted, self._max_attempts
        )
        if requeued or failed:
            log.warning(
                "after restart: %d interrupted job(s) requeued, %d failed", requeued, failed
            )
        self._stopping = False
        self._workers = [
            asyncio.create_task(self._work(n), name=f"job-worker-{n}")
            for n in range(self._concurrency)
        ]

    async def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []

    async def _work(self, number: int) -> None:
        while not self._stopping:
            job = await asyncio.to_thread(self.store.claim)
            if job is None:
                self._wakeup.clear()
                # Woken at once by enqueue() in this process; the poll finds jobs that other
                # processes (the CLI, a second server) queued.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._poll_interval)
                continue
            self._wakeup.set()  # there may be more: let an idle sibling look too
            await self._run(job)

    async def _run(self, job: Job) -> None:
        found = self._registry.job_handler(job.kind)
        tenant_key = await asyncio.to_thread(_tenant_key, self.store, job)
        if found is None:
            kinds = ", ".join(self._registry.job_kinds) or "none"
            await asyncio.to_thread(
                self.store.finish,
                job.id,
                error=f"no loaded plugin handles job kind {job.kind!r} (handled kinds: {kinds})",
            )
            await self._notify()
            return
        loaded, handler = found
        context = RunningJob(
            job,
            tenant_key,
            loaded.config,
            self.store,
            asyncio.get_running_loop(),
            self._reply,
            self._services,
            self._services.records_for(loaded.plugin.name),
        )
        log.info("job %s (%s) started, attempt %d", job.id, job.kind, job.attempts)
        try:
            if inspect.iscoroutinefunction(handler):
                result = await handler(context)
            else:
                result = await asyncio.to_thread(handler, context)
        except asyncio.CancelledError:
            raise  # shutting down: the job stays 'running' and is requeued at next start
        except Exception as exc:
            await context.flush()
            log.exception("job %s (%s) failed", job.id, job.kind)
            message = f"{type(exc).__name__}: {exc}"
            detail = "".join(traceback.format_exception_only(exc)).strip()
            await asyncio.to_thread(self.store.finish, job.id, error=message or detail)
        else:
            await context.flush()
            try:
                await asyncio.to_thread(self.store.finish, job.id, result=result)
            except Exception as exc:  # e.g. a result that is not JSON-serializable
                log.exception("job %s (%s): result could not be stored", job.id, job.kind)
                await asyncio.to_thread(
                    self.store.finish, job.id, error=f"result could not be stored: {exc}"
                )
            log.info("job %s (%s) succeeded", job.id, job.kind)
        await self._notify()

    async def _notify(self) -> None:
        async with self.finished:
            self.finished.notify_all()

    async def wait_for(self, job_id: str, timeout: float) -> JobView:  # noqa: ASYNC109
        """Wait until a job has finished (succeeded or failed), at most ``timeout`` seconds."""

        async def finished() -> JobView:
            while True:
                async with self.finished:
                    view = await asyncio.to_thread(self.store.get, job_id)
                    if view.state in ("succeeded", "failed"):
                        return view
                    await self.finished.wait()

        return await asyncio.wait_for(finished(), timeout)


def _tenant_key(store: JobStore, job: Job) -> str | None:
    if job.tenant_id is None:
        return None
    return store.get(job.id).tenant_key
