"""``plugins.RecordStore``: a plugin's JSON documents in the bot's database, per tenant.

Every method runs its query in a thread (never on the event loop). Documents are bound to the
plugin that owns the store; a tenant key is part of every lookup except ``find``, which API
handlers (behind the API token) use to fetch a document by its unique key.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.errors import OfficebotError
from bot.storage.models import PluginRecord, utcnow
from plugins.context import Record, RecordStore, Services

_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
MAX_KEY = 256
MAX_SCAN = 10_000
"""``list(where=...)`` filters the newest documents of a collection up to this many."""


class RecordError(OfficebotError):
    code = "invalid_record"
    http_status = 400


def _check(collection: str, key: str | None = None) -> None:
    if not _NAME.match(collection):
        raise RecordError(
            f"collection {collection!r} is invalid: lower-case letters, digits, '_', '-' or '.', "
            "starting with a letter, at most 64 characters"
        )
    if key is not None and not 0 < len(key) <= MAX_KEY:
        raise RecordError(f"record keys are 1-{MAX_KEY} characters (got {len(key)})")


def _record(row: PluginRecord) -> Record:
    return Record(
        collection=row.collection,
        key=row.key,
        tenant_key=row.tenant_key,
        data=row.data,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class PluginRecords:
    """The ``RecordStore`` of one plugin."""

    def __init__(self, engine: Engine, plugin: str) -> None:
        self._engine = engine
        self._plugin = plugin

    def _base(self, collection: str) -> sa.Select[PluginRecord]:
        return sa.select(PluginRecord).where(
            PluginRecord.plugin == self._plugin, PluginRecord.collection == collection
        )

    # --- sync implementations (run in threads) ------------------------------------------------

    def put_sync(
        self, collection: str, key: str, data: Mapping[str, Any], *, tenant_key: str
    ) -> None:
        _check(collection, key)
        document = dict(data)
        now = utcnow()
        for _ in range(2):  # a concurrent insert of the same key: the second try updates it
            with self._engine.begin() as connection:
                updated = connection.execute(
                    sa.update(PluginRecord)
                    .where(
                        PluginRecord.plugin == self._plugin,
                        PluginRecord.collection == collection,
                        PluginRecord.tenant_key == tenant_key,
                        PluginRecord.key == key,
                    )
                    .values(data=document, updated_at=now)
                )
                if updated.rowcount:
                    return
                try:
                    connection.execute(
                        sa.insert(PluginRecord).values(
                            plugin=self._plugin,
                            collection=collection,
                            tenant_key=tenant_key,
                            key=key,
                            data=document,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    return
                except IntegrityError:
                    continue
        raise RecordError(f"could not store {collection}/{key}: it kept changing under us")

    def get_sync(self, collection: str, key: str, *, tenant_key: str) -> Record | None:
        _check(collection, key)
        query = self._base(collection).where(
            PluginRecord.tenant_key == tenant_key, PluginRecord.key == key
        )
        with Session(self._engine) as session:
            row = session.scalars(query).first()
            return None if row is None else _record(row)

    def find_sync(self, collection: str, key: str) -> Record | None:
        _check(collection, key)
        query = self._base(collection).where(PluginRecord.key == key).limit(2)
        with Session(self._engine) as session:
            rows = session.scalars(query).all()
            return _record(rows[0]) if len(rows) == 1 else None

    def list_sync(
        self,
        collection: str,
        *,
        tenant_key: str,
        limit: int = 100,
        where: Mapping[str, Any] | None = None,
    ) -> list[Record]:
        _check(collection)
        limit = max(1, min(int(limit), 1000))
        query = (
            self._base(collection)
            .where(PluginRecord.tenant_key == tenant_key)
            .order_by(PluginRecord.updated_at.desc(), PluginRecord.id.desc())
            .limit(limit if not where else MAX_SCAN)
        )
        with Session(self._engine) as session:
            records = [_record(row) for row in session.scalars(query)]
        if where:
            records = [r for r in records if all(r.data.get(k) == v for k, v in where.items())]
        return records[:limit]

    def delete_sync(self, collection: str, key: str, *, tenant_key: str) -> bool:
        _check(collection, key)
        with self._engine.begin() as connection:
            result = connection.execute(
                sa.delete(PluginRecord).where(
                    PluginRecord.plugin == self._plugin,
                    PluginRecord.collection == collection,
                    PluginRecord.tenant_key == tenant_key,
                    PluginRecord.key == key,
                )
            )
        return bool(result.rowcount)

    def purge_sync(self, collection: str, *, updated_before: datetime) -> list[Record]:
        """Delete the documents of ``collection`` last written before ``updated_before``, in
        every tenant; returns them (to remove what they point at, such as files)."""
        _check(collection)
        query = self._base(collection).where(PluginRecord.updated_at < updated_before)
        with Session(self._engine) as session, session.begin():
            rows = list(session.scalars(query))
            removed = [_record(row) for row in rows]
            for row in rows:
                session.delete(row)
        return removed

    # --- the async RecordStore ----------------------------------------------------------------

    async def put(
        self, collection: str, key: str, data: Mapping[str, Any], *, tenant_key: str
    ) -> None:
        await asyncio.to_thread(self.put_sync, collection, key, data, tenant_key=tenant_key)

    async def get(self, collection: str, key: str, *, tenant_key: str) -> Record | None:
        return await asyncio.to_thread(self.get_sync, collection, key, tenant_key=tenant_key)

    async def find(self, collection: str, key: str) -> Record | None:
        return await asyncio.to_thread(self.find_sync, collection, key)

    async def list(
        self,
        collection: str,
        *,
        tenant_key: str,
        limit: int = 100,
        where: Mapping[str, Any] | None = None,
    ) -> Sequence[Record]:
        return await asyncio.to_thread(
            self.list_sync, collection, tenant_key=tenant_key, limit=limit, where=where
        )

    async def delete(self, collection: str, key: str, *, tenant_key: str) -> bool:
        return await asyncio.to_thread(self.delete_sync, collection, key, tenant_key=tenant_key)

    async def purge(self, collection: str, *, updated_before: datetime) -> Sequence[Record]:
        return await asyncio.to_thread(self.purge_sync, collection, updated_before=updated_before)


class PluginServices(Services, Protocol):
    """The bot's services plus what it hands each plugin's contexts: that plugin's records."""

    def records_for(self, plugin: str) -> RecordStore: ...
