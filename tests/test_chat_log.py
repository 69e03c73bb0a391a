"""Exported chats in: JSON and CSV (UTF-8 with or without BOM, GB18030), clear errors that
name the rows, and ids that make a second import of the same file a no-op."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from chat_summary.chatlog import detect_format, load_chat_log
from chat_summary.errors import ChatLogError

SHANGHAI = ZoneInfo("Asia/Shanghai")
ROWS = [
    {"sender": "王强", "time": "2026-11-30T09:02:13+08:00", "text": "今天先把发布节奏过一下"},
    {"sender": "李娜", "time": "2026-11-30 09:03", "text": "我周三前提测", "id": "m2"},
    {"sender": "Bob", "time": "2026-11-30T01:04:00Z", "text": "ok", "reply_to": "m2"},
]


def test_json_array_and_object_forms() -> None:
    for data in (ROWS, {"messages": ROWS, "exported_by": "someone"}):
        messages = load_chat_log(json.dumps(data).encode(), timezone=SHANGHAI)
        assert [m.sender for m in messages] == ["王强", "李娜", "Bob"]
    first, second, third = messages
    assert second.id == "m2"
    assert third.reply_to == "m2"
    # No offset: read in the given timezone. "Z": UTC.
    assert second.time == datetime(2026, 11, 30, 9, 3, tzinfo=SHANGHAI)
    assert third.time == datetime(2026, 11, 30, 1, 4, tzinfo=UTC)
    assert first.id.startswith("import-")


def test_derived_ids_are_stable_across_imports() -> None:
    once = load_chat_log(json.dumps(ROWS).encode(), timezone=SHANGHAI)
    twice = load_chat_log(json.dumps(ROWS).encode(), timezone=SHANGHAI)
    assert [m.id for m in once] == [m.id for m in twice]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_with_english_or_chinese_headers(encoding: str) -> None:
    english = (
        "sender,time,text,id\n王强,2026-11-30 09:02,我来写周报,1\n李娜,2026-11-30 09:05,好的,2\n"
    )
    chinese = "发送人,时间,内容\n王强,2026-11-30 09:02,我来写周报\n"
    for text in (english, chinese):
        messages = load_chat_log(text.encode(encoding), timezone=SHANGHAI, format="csv")
        assert messages[0].sender == "王强"
        assert messages[0].text == "我来写周报"
    assert load_chat_log(english.encode(encoding), timezone=SHANGHAI)[1].id == "2"


def test_messages_come_out_in_time_order() -> None:
    rows = [ROWS[1], ROWS[0]]
    messages = load_chat_log(json.dumps(rows).encode(), timezone=SHANGHAI)
    assert [m.sender for m in messages] == ["王强", "李娜"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (b"[1, 2", "not valid JSON"),
        (b'{"a": 1}', "must be an array"),
        (b"[]", "no messages"),
        (b'[{"sender": "A", "text": "x"}]', "message 1: 'time' is missing"),
        (b'[{"sender": "A", "time": "yesterday", "text": "x"}]', "is not ISO 8601"),
        (b'[{"time": "2026-11-30T09:00", "text": "x"}]', "'sender' is missing"),
        (b'[{"sender": "A", "time": "2026-11-30T09:00", "text": 5}]', "must be a string"),
        (b'["just text"]', "must be an object"),
        (b"who,when,what\na,b,c\n", "lacks sender, text, time"),
        (
            b'[{"sender": "A", "time": "2026-11-30T09:00", "text": "x", "id": "1"},'
            b' {"sender": "B", "time": "2026-11-30T09:01", "text": "y", "id": "1"}]',
            "id '1' was used by message 1",
        ),
    ],
)
def test_bad_files_are_refused_whole_with_what_is_accepted(data: bytes, expected: str) -> None:
    with pytest.raises(ChatLogError, match=expected) as caught:
        load_chat_log(data, timezone=SHANGHAI)
    assert "accepted" in caught.value.message or "at most" in caught.value.message


def test_every_bad_row_is_named_and_nothing_is_read() -> None:
    rows = [
        ROWS[0],
        {"sender": "A", "text": "x"},
        ROWS[1],
        {"sender": "", "time": "x", "text": "y"},
    ]
    with pytest.raises(ChatLogError) as caught:
        load_chat_log(json.dumps(rows).encode(), timezone=SHANGHAI)
    assert "message 2" in caught.value.message
    assert "message 4" in caught.value.message
    assert "Nothing was read" in caught.value.message


def test_format_detection() -> None:
    assert detect_format(b"[]", None) == "json"
    assert detect_format(b"\xef\xbb\xbf  {", None) == "json"
    assert detect_format(b"sender,time,text", None) == "csv"
    assert detect_format(b"[]", "chat.csv") == "csv"
