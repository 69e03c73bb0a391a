"""Storing every chat event before it is acknowledged, fast.

One writer thread owns the inserts. Callers hand it an event and await their own commit; under
load the thread commits many events in one transaction (group commit), which is what lets one
SQLite file take thousands of messages a second while each webhook still answers only after its
message is durable.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.storage.models import Conversation, Message, Tenant, utcnow
from plugins.context import StoredMessage
from plugins.events import ChatEvent

log = logging.getLogger(__name__)

_STOP = object()


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


class MessageWriter:
    """Group-committing writer of chat events (one thread, one transaction per batch)."""

    def __init__(self, engine: Engine, *, max_batch: int = 256) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._tenants: dict[str, int] = {}
        self._conversations: dict[tuple[int, str, str], int] = {}

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

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop_after = False
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop_after = True
                    break
                batch.append(item)
            self._write([p for p in batch if isinstance(p, _Pending)])
            if stop_after:
                return

    def _write(self, batch: list[_Pending]) -> None:
        try:
            with self._engine.begin() as conn:
                results = [self._insert(conn, pending.event) for pending in batch]
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

    def _insert(self, conn: Connection, event: ChatEvent) -> StoredEvent:
        tenant_id = self._tenant_id(conn, event.tenant_key)
        conversation_pk = self._conversation_id(conn, tenant_id, event)
        values: dict[str, Any] = {
            "tenant_id": tenant_id,
            "conversation_id": conversation_pk,
            "external_id": event.message_id,
            "msgtype": event.msgtype,
            "sender_id": event.sender_id,
            "sender_name": event.sender_name,
            "text": event.text,
            "mentions": [m.model_dump(exclude_none=True) for m in event.mentions],
            "attachments": [a.model_dump(exclude_none=True) for a in event.attachments],
            "reply_to": event.reply_to,
            "sent_at": event.sent_at,
            "received_at": utcnow(),
            "raw": event.raw,
        }
        statement = (
            _insert_for(conn)(Message)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["conversation_id", "external_id"])
            .returning(Message.id)
        )
        new_id = conn.execute(statement).scalar()
        if new_id is not None:
            return StoredEvent(new_id, tenant_id, conversation_pk, duplicate=False)
        existing = conn.execute(
            select(Message.id).where(
                Message.conversation_id == conversation_pk,
                Message.external_id == event.message_id,
            )
        ).scalar_one()
        return StoredEvent(existing, tenant_id, conversation_pk, duplicate=True)

    def _tenant_id(self, conn: Connection, key: str) -> int:
        cached = self._tenants.get(key)
        if cached is not None:
            return cached
        tenant_id = ensure_tenant(conn, key)
        self._tenants[key] = tenant_id
        return tenant_id

    def _conversation_id(self, conn: Connection, tenant_id: int, event: ChatEvent) -> int:
        cache_key = (tenant_id, event.platform, event.conversation_id)
        cached = self._conversations.get(cache_key)
        if cached is not None:
            return cached
        conn.execute(
            _insert_for(conn)(Conversation)
            .values(
                tenant_id=tenant_id,
                platform=event.platform,
                external_id=event.conversation_id,
                type=event.conversation_type.value,
                title=event.conversation_title,
                settings={},
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "platform", "external_id"])
        )
        conversation_pk = conn.execute(
            select(Conversation.id).where(
                Conversation.tenant_id == tenant_id,
                Conversation.platform == event.platform,
                Conversation.external_id == event.conversation_id,
            )
        ).scalar_one()
        self._conversations[cache_key] = conversation_pk
        return conversation_pk


def ensure_tenant(conn: Connection, key: str) -> int:
    """The id of the tenant with ``key``, creating it when new (safe under concurrency)."""
    conn.execute(
        _insert_for(conn)(Tenant)
        .values(key=key, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return conn.execute(select(Tenant.id).where(Tenant.key == key)).scalar_one()


def _insert_for(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _resolve(pending: _Pending, result: StoredEvent | None, error: Exception | None) -> None:
    def settle() -> None:
        if pending.future.done():
            return
        if error is not None:
            pending.future.set_exception(error)
        else:
            assert result is not None
            pending.future.set_result(result)

    try:
        pending.loop.call_soon_threadsafe(settle)
    except RuntimeError:
        pass  # the caller's loop is closed; nobody is waiting any more


def recent_messages(
    engine: Engine, tenant_key: str, conversation_id: str, limit: int
) -> Sequence[StoredMessage]:
    """The newest ``limit`` messages of one tenant's conversation, oldest first."""
    statement = (
        select(Message, Conversation.external_id)
        .join(Conversation, Message.conversation_id == Conversation.id)
        .join(Tenant, Message.tenant_id == Tenant.id)
        .where(Tenant.key == tenant_key, Conversation.external_id == conversation_id)
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(limit)
    )
    with Session(engine) as session:
        rows = session.execute(statement).all()
    messages = [
        StoredMessage(
            id=row.Message.id,
            conversation_id=row.external_id,
            message_id=row.Message.external_id,
            sender_id=row.Message.sender_id,
            sender_name=row.Message.sender_name,
            text=row.Message.text,
            msgtype=row.Message.msgtype,
            sent_at=row.Message.sent_at,
            reply_to=row.Message.reply_to,
        )
        for row in rows
    ]
    messages.reverse()
    return messages
