"""Storing every chat event before it is acknowledged, fast.

One writer thread owns the inserts. Callers hand it an event and await their own commit; under
load the thread commits many events in one transaction (group commit), which is what lets one
SQLite file take thousands of messages a second while each webhook still answers only after its
message is durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, Insert, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.storage.models import Conversation, Message, Tenant, utcnow
from plugins.events import ChatEvent

log = logging.getLogger(__name__)

_STOP = object()
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """Where an event landed. ``duplicate`` is True when the platform sent it before."""

    message_pk: int
    tenant_id: int
    conversation_pk: int
    duplicate: bool


@dataclass(slots=True)
class _Pending:
    event: ChatEvent
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[StoredEvent]


@dataclass(slots=True)
class _Call:
    """Work that must run in order with the inserts (a conversation's storage switch)."""

    func: Callable[[Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


def storing(settings: Any) -> bool:
    """Whether a conversation with these settings has its messages stored (``/privacy``)."""
    return not (isinstance(settings, dict) and settings.get("store") is False)


class MessageWriter:
    """Group-committing writer of chat events (one thread, one transaction per batch)."""

    def __init__(self, engine: Engine, *, max_batch: int = 256) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | _Call | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._tenants: dict[str, int] = {}
        self._conversations: dict[tuple[int, str, str], tuple[int, bool]] = {}
        """(tenant id, platform, conversation id) -> (conversation pk, messages stored)."""
        self._message_statement: Insert | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="message-writer", daemon=True)
            self._thread.start()

    async def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    async def store(self, event: ChatEvent) -> StoredEvent:
        """Persist one event; returns after its transaction has committed."""
        if self._thread is None:
            raise RuntimeError("MessageWriter.start() was not called")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[StoredEvent] = loop.create_future()
        self._queue.put(_Pending(event, loop, future))
        return await future

    async def call(self, func: Callable[[Connection], T]) -> T:
        """Run ``func`` in the writer's thread, in a transaction of its own, between batches:
        every event stored after it returns sees what it committed. The conversation cache is
        dropped afterwards, so a changed setting (``/privacy off``) holds from the next event."""
        if self._thread is None:
            raise RuntimeError("MessageWriter.start() was not called")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Call(func, loop, future))
        return await future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            if isinstance(first, _Call):
                self._call(first)
                continue
            batch = [first]
            stop_after = False
            call: _Call | None = None
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop_after = True
                    break
                if isinstance(item, _Call):
                    call = item  # runs after the events queued before it
                    break
                batch.append(item)
            self._write([p for p in batch if isinstance(p, _Pending)])
            if call is not None:
                self._call(call)
            if stop_after:
                return

    def _call(self, call: _Call) -> None:
        try:
            with self._engine.begin() as conn:
                result = call.func(conn)
        except Exception as exc:
            _settle(call.loop, call.future, None, exc)
        else:
            _settle(call.loop, call.future, result, None)
        finally:
            self._conversations.clear()

    def _write(self, batch: list[_Pending]) -> None:
        try:
            with self._engine.begin() as conn:
                results = self._insert(conn, [pending.event for pending in batch])
        except Exception:
            # Reset caches (ids may belong to a rolled-back transaction), then isolate the culprit
            # so one bad event never costs the others their storage.
            self._tenants.clear()
            self._conversations.clear()
            if len(batch) > 1:
                for pending in batch:
                    self._write([pending])
                return
            log.exception("could not store message %s", batch[0].event.message_id)
            _resolve(batch[0], None, RuntimeError("the message could not be stored"))
            return
        for pending, result in zip(batch, results, strict=True):
            _resolve(pending, result, None)

    def _insert(self, conn: Connection, events: list[ChatEvent]) -> list[StoredEvent]:
        """Insert a batch with one multi-row statement; the rows it skips are duplicates."""
        received_at = utcnow()
        places: list[tuple[int, int]] = []
        rows: list[dict[str, Any]] = []
        for event in events:
            tenant_id = self._tenant_id(conn, event.tenant_key)
            conversation_pk, keep = self._conversation(conn, tenant_id, event)
            places.append((tenant_id, conversation_pk))
            row = message_row(event) if keep else redacted_row(event)
            rows.append(
                {
                    **row,
                    "tenant_id": tenant_id,
                    "conversation_id": conversation_pk,
                    "received_at": received_at,
                }
            )
        # RETURNING names each new row by its key: rows skipped by ON CONFLICT are simply absent.
        inserted = {
            (conversation_pk, external_id): message_pk
            for message_pk, conversation_pk, external_id in conn.execute(
                self._message_insert(conn), rows
            )
        }
        results = []
        for event, (tenant_id, conversation_pk) in zip(events, places, strict=True):
            # pop: a second copy of the same message within this batch is a duplicate too.
            new_pk = inserted.pop((conversation_pk, event.message_id), None)
            if new_pk is not None:
                results.append(StoredEvent(new_pk, tenant_id, conversation_pk, duplicate=False))
                continue
            existing = conn.execute(
                select(Message.id).where(
                    Message.conversation_id == conversation_pk,
                    Message.external_id == event.message_id,
                )
            ).scalar_one()
            results.append(StoredEvent(existing, tenant_id, conversation_pk, duplicate=True))
        return results

    def _message_insert(self, conn: Connection) -> Insert:
        """Built once: re-executing one statement object skips SQLAlchemy's per-call compiling."""
        if self._message_statement is None:
            messages = cast(Table, Message.__table__)
            self._message_statement = (
                insert_for(conn)(messages)
                .on_conflict_do_nothing(index_elements=["conversation_id", "external_id"])
                .returning(messages.c.id, messages.c.conversation_id, messages.c.external_id)
            )
        return self._message_statement

    def _tenant_id(self, conn: Connection, key: str) -> int:
        cached = self._tenants.get(key)
        if cached is not None:
            return cached
        tenant_id = ensure_tenant(conn, key)
        self._tenants[key] = tenant_id
        return tenant_id

    def _conversation(self, conn: Connection, tenant_id: int, event: ChatEvent) -> tuple[int, bool]:
        cache_key = (tenant_id, event.platform, event.conversation_id)
        cached = self._conversations.get(cache_key)
        if cached is not None:
            return cached
        found = ensure_conversation(
            conn,
            tenant_id,
            event.platform,
            event.conversation_id,
            kind=event.conversation_type.value,
            title=event.conversation_title,
        )
        self._conversations[cache_key] = found
        return found


def message_row(event: ChatEvent) -> dict[str, Any]:
    """The ``messages`` columns of an event (without tenant, conversation and receipt time)."""
    return {
        "external_id": event.message_id,
        "msgtype": event.msgtype,
        "sender_id": event.sender_id,
        "sender_name": event.sender_name,
        "text": event.text,
        "mentions": [m.model_dump(exclude_none=True) for m in event.mentions],
        "attachments": [a.model_dump(exclude_none=True) for a in event.attachments],
        "reply_to": event.reply_to,
        "quote": event.quote.model_dump(exclude_none=True) if event.quote else None,
        "redacted": False,
        "sent_at": event.sent_at,
        "raw": event.raw,
    }


def redacted_row(event: ChatEvent) -> dict[str, Any]:
    """What is kept of a message in a conversation that opted out of storage: its id (to
    recognise a redelivery) and time (to purge it), nothing about who wrote what."""
    return {
        "external_id": event.message_id,
        "msgtype": event.msgtype,
        "sender_id": "",
        "sender_name": None,
        "text": "",
        "mentions": [],
        "attachments": [],
        "reply_to": None,
        "quote": None,
        "redacted": True,
        "sent_at": event.sent_at,
        "raw": {},
    }


def ensure_conversation(
    conn: Connection,
    tenant_id: int,
    platform: str,
    external_id: str,
    *,
    kind: str = "group",
    title: str | None = None,
) -> tuple[int, bool]:
    """The pk of a conversation, created when new (safe under concurrency), and whether its
    messages are stored."""
    conn.execute(
        insert_for(conn)(Conversation)
        .values(
            tenant_id=tenant_id,
            platform=platform,
            external_id=external_id,
            type=kind,
            title=title,
            settings={},
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "platform", "external_id"])
    )
    row = conn.execute(
        select(Conversation.id, Conversation.settings).where(
            Conversation.tenant_id == tenant_id,
            Conversation.platform == platform,
            Conversation.external_id == external_id,
        )
    ).one()
    return row.id, storing(row.settings)


def ensure_tenant(conn: Connection, key: str) -> int:
    """The id of the tenant with ``key``, creating it when new (safe under concurrency)."""
    conn.execute(
        insert_for(conn)(Tenant)
        .values(key=key, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return conn.execute(select(Tenant.id).where(Tenant.key == key)).scalar_one()


def insert_for(conn: Connection) -> Any:
    """The dialect's INSERT (with ON CONFLICT) for this connection."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _resolve(pending: _Pending, result: StoredEvent | None, error: Exception | None) -> None:
    _settle(pending.loop, pending.future, result, error)


def _settle(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: Any,
    error: BaseException | None,
) -> None:
    def settle() -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    with contextlib.suppress(RuntimeError):  # the caller's loop is closed: nobody waits
        loop.call_soon_threadsafe(settle)
