"""Storage on SQLite (WAL) and on real PostgreSQL: migrations, group commit, dedup, tenants."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.history import recent_messages
from bot.jobs import JobStore
from bot.storage.database import make_engine, upgrade
from bot.storage.messages import MessageWriter
from bot.storage.models import Conversation, Message, Tenant
from plugins.events import ChatEvent, Mention

TABLES = {"tenants", "conversations", "messages", "jobs", "deliveries", "alembic_version"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'officebot.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


def event(
    n: int, *, tenant: str = "dingtalk:corpA", conversation: str = "cid1", text: str | None = None
) -> ChatEvent:
    return ChatEvent(
        platform="dingtalk",
        tenant_key=tenant,
        conversation_id=conversation,
        message_id=f"m{n}",
        sender_id=f"user{n % 3}",
        sender_name=["张三", "李四", "Alice"][n % 3],
        text=text if text is not None else f"第 {n} 条消息 / message {n}",
        mentions=(Mention(user_id="bot"),),
        sent_at=datetime(2026, 11, 29, 9, 0, tzinfo=UTC) + timedelta(seconds=n),
    )


def test_migrations_create_every_table_and_are_idempotent(engine: sa.Engine) -> None:
    upgrade(engine)  # second run: nothing to do, no error
    assert set(sa.inspect(engine).get_table_names()) >= TABLES


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


async def test_concurrent_events_are_all_stored_once(engine: sa.Engine) -> None:
    writer = MessageWriter(engine)
    writer.start()
    try:
        results = await asyncio.gather(*(writer.store(event(n)) for n in range(300)))
        again = await writer.store(event(7))
    finally:
        await writer.stop()
    assert len({r.message_pk for r in results}) == 300
    assert not any(r.duplicate for r in results)
    assert again.duplicate
    assert again.message_pk == results[7].message_pk
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(Message)) == 300
        assert conn.scalar(sa.select(sa.func.count()).select_from(Conversation)) == 1
        assert conn.scalar(sa.select(sa.func.count()).select_from(Tenant)) == 1


async def test_stored_fields_round_trip(engine: sa.Engine) -> None:
    writer = MessageWriter(engine)
    writer.start()
    try:
        await writer.store(event(1, text="下周三前把预算表发给我 @李四"))
    finally:
        await writer.stop()
    [stored] = recent_messages(engine, "dingtalk:corpA", "cid1", 10)
    assert stored.text == "下周三前把预算表发给我 @李四"
    assert stored.sender_name == "李四"
    assert stored.sent_at == datetime(2026, 11, 29, 9, 0, 1, tzinfo=UTC)
    with engine.connect() as conn:
        mentions = conn.scalar(sa.select(Message.mentions))
    assert mentions == [{"user_id": "bot"}]


async def test_tenants_never_see_each_others_messages(engine: sa.Engine) -> None:
    writer = MessageWriter(engine)
    writer.start()
    try:
        await writer.store(event(1, tenant="dingtalk:corpA", text="A 公司的机密"))
        await writer.store(event(1, tenant="dingtalk:corpB", text="B company secret"))
        await writer.store(event(2, tenant="dingtalk:corpB", text="B again"))
    finally:
        await writer.stop()
    corp_a = recent_messages(engine, "dingtalk:corpA", "cid1", 100)
    corp_b = recent_messages(engine, "dingtalk:corpB", "cid1", 100)
    assert [m.text for m in corp_a] == ["A 公司的机密"]
    assert [m.text for m in corp_b] == ["B company secret", "B again"]
    assert recent_messages(engine, "dingtalk:corpC", "cid1", 100) == []


async def test_recent_messages_returns_the_newest_oldest_first(engine: sa.Engine) -> None:
    writer = MessageWriter(engine)
    writer.start()
    try:
        for n in range(20):
            await writer.store(event(n))
    finally:
        await writer.stop()
    latest = recent_messages(engine, "dingtalk:corpA", "cid1", 5)
    assert [m.message_id for m in latest] == ["m15", "m16", "m17", "m18", "m19"]


def test_job_claim_is_exclusive(engine: sa.Engine) -> None:
    store = JobStore(engine)
    ids = {store.enqueue("k", {"n": n}, tenant_key="dingtalk:corpA") for n in range(5)}
    claimed = []
    while (job := store.claim()) is not None:
        claimed.append(job.id)
    assert sorted(claimed) == sorted(ids)
    assert store.counts()["running"] == 5
