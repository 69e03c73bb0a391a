"""Exported chats in, as ``ChatMessage``s: a JSON array of ``{sender, time, text}`` objects
(optional ``id``, ``reply_to``, ``sender_id``, ``files``) or CSV with those columns.

- JSON: an array, or an object whose ``messages`` is one. Other fields are ignored.
- CSV: a header row naming the columns (English or the Chinese 发送人/时间/内容); UTF-8 (a byte
  order mark is fine) or GB18030, as Excel writes it on Chinese Windows.
- ``time`` is ISO 8601 (``2026-11-30T09:02:13+08:00``, ``2026-11-30 09:02``); a time without an
  offset is read in the given timezone (the bot's).
- A message without ``id`` gets one derived from sender, time and text, so importing the same
  file twice stores nothing twice.

Nothing is half-read: a file with a bad row is refused as a whole, naming the rows and what is
wrong with them, so an import is all or nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from typing import Any, Literal

from chat_summary.errors import ChatLogError
from chat_summary.types import ChatMessage

MAX_MESSAGES = 100_000
MAX_TEXT_CHARS = 20_000
MAX_NAME_CHARS = 256
MAX_ID_CHARS = 256
MAX_FILES = 20
MAX_REPORTED_ERRORS = 8
Format = Literal["json", "csv"]

ACCEPTED = (
    "accepted: a JSON array of {sender, time, text} objects (optional id, reply_to, sender_id, "
    "files), or CSV with a header row sender,time,text[,id,reply_to]; time in ISO 8601, e.g. "
    "2026-11-30T09:02:13+08:00 / 支持：{sender, time, text} 对象组成的 JSON 数组，或带表头 "
    "sender,time,text 的 CSV；时间用 ISO 8601 格式"
)
_COLUMNS = {
    "sender": "sender",
    "name": "sender",
    "from": "sender",
    "author": "sender",
    "发送人": "sender",
    "发送者": "sender",
    "发言人": "sender",
    "time": "time",
    "timestamp": "time",
    "date": "time",
    "时间": "time",
    "发送时间": "time",
    "text": "text",
    "message": "text",
    "content": "text",
    "内容": "text",
    "消息": "text",
    "id": "id",
    "message_id": "id",
    "消息id": "id",
    "reply_to": "reply_to",
    "回复": "reply_to",
    "sender_id": "sender_id",
    "user_id": "sender_id",
}


def detect_format(data: bytes, filename: str | None = None) -> Format:
    """``json`` or ``csv``, by the file name's ending, else by the first character."""
    name = (filename or "").lower()
    if name.endswith(".json"):
        return "json"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return "json" if head in (b"[", b"{") else "csv"


def load_chat_log(
    data: bytes,
    *,
    timezone: tzinfo,
    format: Format | None = None,
    filename: str | None = None,
) -> list[ChatMessage]:
    """The messages of an exported chat, in time order (ties keep the file's order)."""
    if not data.strip():
        raise ChatLogError(f"the chat file is empty; {ACCEPTED}")
    kind = format or detect_format(data, filename)
    rows = _json_rows(data) if kind == "json" else _csv_rows(data)
    messages: list[ChatMessage] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for number, row in rows:
        if len(messages) >= MAX_MESSAGES:
            raise ChatLogError(f"a chat file holds at most {MAX_MESSAGES} messages")
        try:
            message = _message(row, timezone)
        except ValueError as exc:
            errors.append(f"{'row' if kind == 'csv' else 'message'} {number}: {exc}")
            if len(errors) >= MAX_REPORTED_ERRORS:
                break
            continue
        if message.id in seen:
            errors.append(
                f"message {number}: id {message.id!r} was used by message {seen[message.id]}"
            )
            continue
        seen[message.id] = number
        messages.append(message)
    if errors:
        more = " (and maybe more)" if len(errors) >= MAX_REPORTED_ERRORS else ""
        raise ChatLogError("; ".join(errors) + f"{more}. Nothing was read; {ACCEPTED}")
    if not messages:
        raise ChatLogError(f"the chat file has no messages; {ACCEPTED}")
    return sorted(messages, key=lambda m: m.time)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ChatLogError("the chat file is neither UTF-8 nor GB18030 text") from None


def _json_rows(data: bytes) -> Iterable[tuple[int, Mapping[str, Any]]]:
    try:
        parsed = json.loads(_decode(data))
    except json.JSONDecodeError as exc:
        raise ChatLogError(f"the chat file is not valid JSON ({exc}); {ACCEPTED}") from None
    if isinstance(parsed, dict) and isinstance(parsed.get("messages"), list):
        parsed = parsed["messages"]
    if not isinstance(parsed, list):
        raise ChatLogError(f"the JSON must be an array of messages; {ACCEPTED}")
    if len(parsed) > MAX_MESSAGES:
        raise ChatLogError(f"a chat file holds at most {MAX_MESSAGES} messages")
    rows: list[tuple[int, Mapping[str, Any]]] = []
    for number, item in enumerate(parsed, start=1):
        rows.append((number, item if isinstance(item, dict) else {"__not_an_object__": item}))
    return rows


def _csv_rows(data: bytes) -> Iterable[tuple[int, Mapping[str, Any]]]:
    text = _decode(data)
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise ChatLogError(f"the CSV file is empty; {ACCEPTED}") from None
    except csv.Error as exc:
        raise ChatLogError(f"the CSV header cannot be read ({exc}); {ACCEPTED}") from None
    columns = [_COLUMNS.get(name.strip().lower()) for name in header]
    missing = {"sender", "time", "text"} - {c for c in columns if c}
    if missing:
        raise ChatLogError(
            f"the CSV header {', '.join(header)!r} lacks {', '.join(sorted(missing))}; {ACCEPTED}"
        )
    rows: list[tuple[int, Mapping[str, Any]]] = []
    try:
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            rows.append(
                (number, {c: v for c, v in zip(columns, cells, strict=False) if c is not None})
            )
            if len(rows) > MAX_MESSAGES:
                raise ChatLogError(f"a chat file holds at most {MAX_MESSAGES} messages")
    except csv.Error as exc:
        raise ChatLogError(f"the CSV file cannot be read ({exc}); {ACCEPTED}") from None
    return rows


def _optional(row: Mapping[str, Any], name: str, limit: int) -> str | None:
    """A stripped string field, None when absent or blank (ids may be numbers)."""
    value = row.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValueError(f"'{name}' must be a string, not {type(value).__name__}")
    if len(value) > limit:
        raise ValueError(f"'{name}' is longer than {limit} characters")
    return value.strip()


def _required(row: Mapping[str, Any], name: str, limit: int) -> str:
    value = row.get(name)
    if value is None:
        raise ValueError(f"'{name}' is missing")
    if not isinstance(value, str):
        raise ValueError(f"'{name}' must be a string, not {type(value).__name__}")
    if len(value) > limit:
        raise ValueError(f"'{name}' is longer than {limit} characters")
    return value.strip()


def _time(value: Any, timezone: tzinfo) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("'time' is missing (ISO 8601, e.g. 2026-11-30T09:02:13+08:00)")
    text = value.strip().replace("Z", "+00:00").replace("/", "-")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"'time' {value[:40]!r} is not ISO 8601 (e.g. 2026-11-30T09:02:13+08:00)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone)


def _message(row: Mapping[str, Any], timezone: tzinfo) -> ChatMessage:
    if "__not_an_object__" in row:
        raise ValueError("each message must be an object with sender, time and text")
    sender = _required(row, "sender", MAX_NAME_CHARS)
    if not sender:
        raise ValueError("'sender' is empty")
    text = _required(row, "text", MAX_TEXT_CHARS)
    sent = _time(row.get("time"), timezone)
    files = row.get("files") or ()
    if not isinstance(files, list | tuple) or not all(isinstance(f, str) for f in files):
        raise ValueError("'files' must be a list of file names")
    if len(files) > MAX_FILES:
        raise ValueError(f"at most {MAX_FILES} files per message")
    if not text and not files:
        raise ValueError("'text' is empty")
    identifier = _optional(row, "id", MAX_ID_CHARS) or _derived_id(sender, sent, text)
    return ChatMessage(
        id=identifier,
        sender=" ".join(sender.split()),
        time=sent,
        text=text,
        sender_id=_optional(row, "sender_id", MAX_ID_CHARS),
        reply_to=_optional(row, "reply_to", MAX_ID_CHARS),
        files=tuple(f.strip()[:MAX_NAME_CHARS] for f in files if f.strip()),
    )


def _derived_id(sender: str, sent: datetime, text: str) -> str:
    digest = hashlib.sha256(f"{sender}\n{sent.isoformat()}\n{text}".encode()).hexdigest()
    return f"import-{digest[:24]}"
