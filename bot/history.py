"""``plugins.ChatHistory``: the stored messages of every conversation, per tenant.

Queries run in a worker thread, never on the event loop. Every query names a tenant and a
conversation; nothing crosses tenants. A conversation's privacy switch (``/privacy off``) is
written through the message writer's thread, so it holds from the very next stored message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, Table
from sqlalchemy.orm import Session

from bot.errors import OfficebotError
from bot.storage.messages import (
    MessageWriter,
    ensure_conversation,
    ensure_tenant,
    insert_for,
    storing,
)
from bot.storage.models import Conversation, Message, Tenant, utcnow
from plugins.context import (
    ConversationPrivacy,
    ImportedMessage,
    ImportResult,
    StoredMessage,
)
from plugins.events import Attachment, Mention, Quote

log = logging.getLogger(__name__)

MAX_QUERY = 100_000
"""The most messages one query returns."""
MAX_IMPORT = 100_000
"""The most messages one import takes."""
MAX_TEXT_CHARS = 100_000
REDACTED_KEEP = timedelta(days=1)
"""How long the content-free row of an opted-out conversation's message is kept (long
enough to recognise a platform's redelivery)."""
_IMPORT_BATCH = 500


class HistoryError(OfficebotError):
    code = "invalid_history_request"
    http_status = 400


class StorageDisabledError(OfficebotError):
    code = "storage_disabled"
    http_status = 409


def _stored(message: Message, conversation_id: str) -> StoredMessage:
    return StoredMessage(
        id=message.id,
        conversation_id=conversation_id,
        message_id=message.external_id,
        sender_id=message.sender_id,
        sender_name=message.sender_name,
        text=message.text,
        msgtype=message.msgtype,
        sent_at=message.sent_at,
        reply_to=message.reply_to,
        mentions=tuple(_models(Mention, message.mentions)),
        attachments=tuple(_models(Attachment, message.attachments)),
        quote=Quote.model_validate(message.quote) if isinstance(message.quote, dict) else None,
    )


def _models(model: Any, items: Any) -> list[Any]:
    if not isinstance(items, list):
        return []
    found = []
    for item in items:
        if isinstance(item, dict):
            try:
                found.append(model.model_validate(item))
            except ValueError:
                continue
    return found


def query_messages(
    engine: Engine,
    tenant_key: str,
    conversation_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    last: int | None = None,
    limit: int = 10_000,
) -> list[StoredMessage]:
    """Messages of one tenant's conversation in ``[since, until)``, oldest first: the newest
    ``last`` (or ``limit``) of them. Content-free rows (privacy) are never returned."""
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise HistoryError(f"{name} must be timezone-aware")
    cap = max(1, min(limit, MAX_QUERY) if last is None else min(last, limit, MAX_QUERY))
    statement = (
        sa.select(Message, Conversation.external_id)
        .join(Conversation, Message.conversation_id == Conversation.id)
        .join(Tenant, Message.tenant_id == Tenant.id)
        .where(
            Tenant.key == tenant_key,
            Conversation.external_id == conversation_id,
            Message.redacted.is_(False),
        )
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(cap)
    )
    if since is not None:
        statement = statement.where(Message.sent_at >= since)
    if until is not None:
        statement = statement.where(Message.sent_at < until)
    with Session(engine) as session:
        rows = session.execute(statement).all()
    messages = [_stored(row.Message, row.external_id) for row in rows]
    messages.reverse()
    return messages


def recent_messages(
    engine: Engine, tenant_key: str, conversation_id: str, limit: int
) -> list[StoredMessage]:
    """The newest ``limit`` messages of one tenant's conversation, oldest first."""
    return query_messages(engine, tenant_key, conversation_id, last=limit, limit=limit)


def _problem(message: ImportedMessage) -> str | None:
    """What keeps ``message`` from being stored, or None."""
    if not 1 <= len(message.message_id) <= 256:
        return "the id must be 1-256 characters"
    if not 1 <= len(message.sender) <= 256:
        return "the sender must be 1-256 characters"
    if message.sent_at.tzinfo is None:
        return "the time must be timezone-aware"
    if len(message.text) > MAX_TEXT_CHARS:
        return f"the text is over {MAX_TEXT_CHARS} characters"
    return None


def _conversation_row(
    conn: Connection, tenant_key: str, platform: str, conversation_id: str
) -> tuple[int, dict[str, Any]]:
    tenant_id = ensure_tenant(conn, tenant_key)
    pk, _ = ensure_conversation(conn, tenant_id, platform, conversation_id)
    settings = conn.execute(
        sa.select(Conversation.settings).where(Conversation.id == pk)
    ).scalar_one()
    return pk, dict(settings) if isinstance(settings, dict) else {}


def _privacy(settings: dict[str, Any]) -> ConversationPrivacy:
    days = settings.get("retention_days")
    return ConversationPrivacy(
        storing=storing(settings), retention_days=days if isinstance(days, int) else None
    )


class MessageHistory:
    """The bot's ``ChatHistory``."""

    def __init__(self, engine: Engine, writer: MessageWriter) -> None:
        self._engine = engine
        self._writer = writer

    async def messages(
        self,
        tenant_key: str,
        conversation_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        last: int | None = None,
        limit: int = 10_000,
    ) -> Sequence[StoredMessage]:
        return await asyncio.to_thread(
            lambda: query_messages(
                self._engine,
                tenant_key,
                conversation_id,
                since=since,
                until=until,
                last=last,
                limit=limit,
            )
        )

    async def import_messages(
        self,
        tenant_key: str,
        conversation_id: str,
        messages: Sequence[ImportedMessage],
        *,
        platform: str = "dingtalk",
        title: str | None = None,
    ) -> ImportResult:
        if len(messages) > MAX_IMPORT:
            raise HistoryError(f"one import takes at most {MAX_IMPORT} messages")
        problems = [f"message {n}: {p}" for n, m in enumerate(messages, 1) if (p := _problem(m))]
        if problems:
            raise HistoryError("nothing was imported: " + "; ".join(problems[:5]))
        return await asyncio.to_thread(
            self._import, tenant_key, conversation_id, list(messages), platform, title
        )

    def _import(
        self,
        tenant_key: str,
        conversation_id: str,
        messages: list[ImportedMessage],
        platform: str,
        title: str | None,
    ) -> ImportResult:
        table = cast(Table, Message.__table__)
        imported = 0
        with self._engine.begin() as conn:
            tenant_id = ensure_tenant(conn, tenant_key)
            pk, keep = ensure_conversation(conn, tenant_id, platform, conversation_id, title=title)
            if not keep:
                raise StorageDisabledError(
                    f"conversation {conversation_id!r} has stopped storing messages "
                    "(/privacy off); turn storage on first (/privacy on)"
                )
            received = utcnow()
            statement = (
                insert_for(conn)(table)
                .on_conflict_do_nothing(index_elements=["conversation_id", "external_id"])
                .returning(table.c.id)
            )
            for start in range(0, len(messages), _IMPORT_BATCH):
                rows = [
                    {
                        "tenant_id": tenant_id,
                        "conversation_id": pk,
                        "external_id": m.message_id,
                        "msgtype": "file" if m.attachments and not m.text else "text",
                        "sender_id": m.sender_id or m.sender,
                        "sender_name": m.sender,
                        "text": m.text,
                        "mentions": [],
                        "attachments": [a.model_dump(exclude_none=True) for a in m.attachments],
                        "reply_to": m.reply_to,
                        "quote": None,
                        "redacted": False,
                        "sent_at": m.sent_at,
                        "received_at": received,
                        "raw": {"imported": True},
                    }
                    for m in messages[start : start + _IMPORT_BATCH]
                ]
                if rows:
                    imported += len(conn.execute(statement, rows).all())
        log.info(
            "imported %d message(s) into a conversation of %s (%d already stored)",
            imported,
            tenant_key,
            len(messages) - imported,
        )
        return ImportResult(imported=imported, duplicates=len(messages) - imported)

    async def privacy(
        self, tenant_key: str, conversation_id: str, *, platform: str
    ) -> ConversationPrivacy:
        def read(conn: Connection) -> ConversationPrivacy:
            return _privacy(_conversation_row(conn, tenant_key, platform, conversation_id)[1])

        return await asyncio.to_thread(self._in_transaction, read)

    def _in_transaction(self, func: Any) -> Any:
        with self._engine.begin() as conn:
            return func(conn)

    async def set_storing(
        self, tenant_key: str, conversation_id: str, *, platform: str, storing: bool
    ) -> ConversationPrivacy:
        return await self._update(tenant_key, conversation_id, platform, store=storing)

    async def set_retention(
        self, tenant_key: str, conversation_id: str, *, platform: str, days: int | None
    ) -> ConversationPrivacy:
        if days is not None and not 1 <= days <= 36_500:
            raise HistoryError("a retention period is 1 to 36500 days")
        return await self._update(tenant_key, conversation_id, platform, retention_days=days)

    async def _update(
        self, tenant_key: str, conversation_id: str, platform: str, **changes: Any
    ) -> ConversationPrivacy:
        def update(conn: Connection) -> ConversationPrivacy:
            pk, settings = _conversation_row(conn, tenant_key, platform, conversation_id)
            for key, value in changes.items():
                if value is None:
                    settings.pop(key, None)
                else:
                    settings[key] = value
            if settings.get("store") is True:
                settings.pop("store")  # storing is the default
            conn.execute(
                sa.update(Conversation).where(Conversation.id == pk).values(settings=settings)
            )
            return _privacy(settings)

        # Through the writer: every message stored after this returns sees the new setting.
        return await self._writer.call(update)

    async def forget(self, tenant_key: str, conversation_id: str) -> int:
        def forget() -> int:
            with self._engine.begin() as conn:
                tenant = conn.execute(
                    sa.select(Tenant.id).where(Tenant.key == tenant_key)
                ).scalar_one_or_none()
                if tenant is None:
                    return 0
                ids = sa.select(Conversation.id).where(
                    Conversation.tenant_id == tenant, Conversation.external_id == conversation_id
                )
                result = conn.execute(
                    sa.delete(Message).where(
                        Message.tenant_id == tenant,
                        Message.conversation_id.in_(ids),
                        Message.redacted.is_(False),
                    )
                )
                return int(result.rowcount or 0)

        return await asyncio.to_thread(forget)

    async def purge(self, *, default_retention_days: int | None) -> int:
        return await asyncio.to_thread(self.purge_sync, default_retention_days, utcnow())

    def purge_sync(self, default_retention_days: int | None, now: datetime) -> int:
        """``purge`` at ``now`` (tests pass a time)."""
        removed = 0
        with self._engine.begin() as conn:
            removed += _deleted(
                conn,
                sa.delete(Message).where(
                    Message.redacted.is_(True), Message.sent_at < now - REDACTED_KEEP
                ),
            )
            own: dict[int, int] = {}
            for pk, settings in conn.execute(sa.select(Conversation.id, Conversation.settings)):
                days = settings.get("retention_days") if isinstance(settings, dict) else None
                if isinstance(days, int):
                    own[pk] = days
            for pk, days in own.items():
                removed += _deleted(
                    conn,
                    sa.delete(Message).where(
                        Message.conversation_id == pk,
                        Message.sent_at < now - timedelta(days=days),
                    ),
                )
            if default_retention_days is not None:
                statement = sa.delete(Message).where(
                    Message.sent_at < now - timedelta(days=default_retention_days)
                )
                if own:
                    statement = statement.where(Message.conversation_id.not_in(list(own)))
                removed += _deleted(conn, statement)
        if removed:
            log.info("retention: removed %d stored message(s)", removed)
        return removed


def _deleted(conn: Connection, statement: Any) -> int:
    return int(conn.execute(statement).rowcount or 0)
