"""The stored history plugins read (``services.history``): windows of one tenant's conversation,
atomic imports, the privacy switch, retention and forgetting; on SQLite and real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.history import HistoryError, MessageHistory, StorageDisabledError
from bot.storage.database import make_engine, upgrade
from bot.storage.messages import MessageWriter
from bot.storage.models import Message
from plugins import ImportedMessage
from plugins.events import ChatEvent, Quote

START = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def event(
    n: int, *, tenant: str = "dingtalk:corpA", conversation: str = "cid1", minutes: int = 0
) -> ChatEvent:
    return ChatEvent(
        platform="dingtalk",
        tenant_key=tenant,
        conversation_id=conversation,
        message_id=f"m{n}",
        sender_id=f"staff{n % 3}",
        sender_name=["王强", "李娜", "Alice"][n % 3],
        text=f"第 {n} 条 / message {n}",
        reply_to="m0" if n == 5 else None,
        quote=Quote(message_id="m0", text="第 0 条") if n == 5 else None,
        sent_at=START + timedelta(minutes=minutes or n),
    )


def imported(n: int, text: str | None = None) -> ImportedMessage:
    return ImportedMessage(
        message_id=f"x{n}",
        sender="张伟",
        sent_at=START + timedelta(hours=n),
        text=text if text is not None else f"导入的第 {n} 条",
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[MessageHistory, MessageWriter, sa.Engine]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'officebot.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    upgrade(engine)
    writer = MessageWriter(engine)
    writer.start()
    yield MessageHistory(engine, writer), writer, engine
    await writer.stop()
    engine.dispose()


async def test_windows_by_time_and_count_oldest_first(
    store: tuple[MessageHistory, MessageWriter, sa.Engine],
) -> None:
    history, writer, _ = store
    for n in range(10):
        await writer.store(event(n))
    everything = await history.messages("dingtalk:corpA", "cid1")
    assert [m.message_id for m in everything] == [f"m{n}" for n in range(10)]
    span = await history.messages(
        "dingtalk:corpA",
        "cid1",
        since=START + timedelta(minutes=3),
        until=START + timedelta(minutes=6),
    )
    assert [m.message_id for m in span] == ["m3", "m4", "m5"]
    newest = await history.messages("dingtalk:corpA", "cid1", last=3)
    assert [m.message_id for m in newest] == ["m7", "m8", "m9"]
    capped = await history.messages("dingtalk:corpA", "cid1", limit=4)
    assert [m.message_id for m in capped] == ["m6", "m7", "m8", "m9"]
    quoted = next(m for m in everything if m.message_id == "m5")
    assert quoted.reply_to == "m0"
    assert quoted.quote is not None
    assert quoted.quote.text == "第 0 条"
    with pytest.raises(HistoryError, match="timezone-aware"):
        await history.messages("dingtalk:corpA", "cid1", since=datetime(2026, 11, 30))


async def test_a_query_never_returns_another_tenants_messages(
    store: tuple[MessageHistory, MessageWriter, sa.Engine],
) -> None:
    history, writer, _ = store
    await writer.store(event(1, tenant="dingtalk:corpA"))
    await writer.store(event(2, tenant="dingtalk:corpB"))  # the same conversation id
    assert [m.message_id for m in await history.messages("dingtalk:corpA", "cid1")] == ["m1"]
    assert [m.message_id for m in await history.messages("dingtalk:corpB", "cid1")] == ["m2"]
    assert await history.messages("dingtalk:corpC", "cid1") == []


async def test_import_is_all_or_nothing_and_idempotent(
    store: tuple[MessageHistory, MessageWriter, sa.Engine],
) -> None:
    history, _, _ = store
    first = await history.import_messages("default", "export1", [imported(n) for n in range(5)])
    assert (first.imported, first.duplicates) == (5, 0)
    again = await history.import_messages("default", "export1", [imported(n) for n in range(7)])
    assert (again.imported, again.duplicates) == (2, 5)
    stored = await history.messages("default", "export1")
    assert [m.message_id for m in stored] == [f"x{n}" for n in range(7)]
    assert stored[0].sender_name == "张伟"
    # One bad message (an id far too long, a naive time) and the import stores nothing.
    broken = [
        imported(10),
        ImportedMessage("y" * 300, "张伟", START, "bad"),
        ImportedMessage("z", "张伟", datetime(2026, 11, 30), "naive"),
    ]
    with pytest.raises(HistoryError, match=r"message 2: the id.*message 3: the time"):
        await history.import_messages("default", "export2", broken)
    assert await history.messages("default", "export2") == []


async def test_privacy_off_stores_no_content_from_the_next_message_on(
    store: tuple[MessageHistory, MessageWriter, sa.Engine],
) -> None:
    history, writer, engine = store
    await writer.store(event(1))
    privacy = await history.set_storing(
        "dingtalk:corpA", "cid1", platform="dingtalk", storing=False
    )
    assert not privacy.storing
    stored = await writer.store(event(2))
    assert not stored.duplicate
    # A redelivery of that message is still recognised, though nothing of it was kept.
    assert (await writer.store(event(2))).duplicate
    with engine.connect() as conn:
        row = conn.execute(sa.select(Message).where(Message.external_id == "m2")).one()
    assert row.redacted
    assert (row.text, row.sender_id, row.sender_name, row.raw) == ("", "", None, {})
    assert [m.message_id for m in await history.messages("dingtalk:corpA", "cid1")] == ["m1"]
    with pytest.raises(StorageDisabledError, match="privacy on"):
        await history.import_messages("dingtalk:corpA", "cid1", [imported(1)], platform="dingtalk")

    back = await history.set_storing("dingtalk:corpA", "cid1", platform="dingtalk", storing=True)
    assert back.storing
    await writer.store(event(3))
    assert [m.message_id for m in await history.messages("dingtalk:corpA", "cid1")] == ["m1", "m3"]


async def test_retention_purges_by_default_and_conversation_periods(
    store: tuple[MessageHistory, MessageWriter, sa.Engine],
) -> None:
    history, writer, _ = store
    for n in range(3):
        await writer.store(event(n, conversation="keep-default"))
        await writer.store(event(n, conversation="keep-short"))
    await history.set_retention("dingtalk:corpA", "keep-short", platform="dingtalk", days=2)
    privacy = await history.privacy("dingtalk:corpA", "keep-short", platform="dingtalk")
    assert privacy.retention_days == 2
    await history.set_storing("dingtalk:corpA", "opted-out", platform="dingtalk", storing=False)
    await writer.store(event(9, conversation="opted-out"))

    # Three days on: the short-lived conversation and the content-free row are gone.
    removed = history.purge_sync(30, START + timedelta(days=3))
    assert removed == 4
    assert len(await history.messages("dingtalk:corpA", "keep-default")) == 3
    assert await history.messages("dingtalk:corpA", "keep-short") == []
    # Forty days on, the default period has passed too.
    assert history.purge_sync(30, START + timedelta(days=40)) == 3
    assert history.purge_sync(None, START + timedelta(days=4000)) == 0
    with pytest.raises(HistoryError, match="1 to 36500 days"):
        await history.set_retention("dingtalk:corpA", "x", platform="dingtalk", days=0)


async def test_forget_deletes_one_conversation_of_one_tenant(
    store: tuple[MessageHistory, MessageWriter, sa.Engine],
) -> None:
    history, writer, _ = store
    for n in range(4):
        await writer.store(event(n))
        await writer.store(event(n, tenant="dingtalk:corpB"))
    assert await history.forget("dingtalk:corpA", "cid1") == 4
    assert await history.messages("dingtalk:corpA", "cid1") == []
    assert len(await history.messages("dingtalk:corpB", "cid1")) == 4
    assert await history.forget("dingtalk:nobody", "cid1") == 0
