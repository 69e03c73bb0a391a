"""The hand-written test chats (tests/data/chats) and their ground truth, and how a summary
is scored against it: which known to-dos, decisions and open questions it found, with which
owners and dates, and what it claims that the chat does not say."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from chat_summary.chatlog import load_chat_log
from chat_summary.dates import find_due_dates
from chat_summary.types import ChatMessage, ChatSummary

CHATS = Path(__file__).resolve().parent.parent / "data" / "chats"
NAMES = ("zh_product", "zh_ops", "en_eng", "en_marketing")
HOLDOUT = ("holdout/zh_hr", "holdout/en_support")
"""Written by someone who never saw the summarizer, and used for tuning once at most."""


@dataclass(frozen=True)
class Chat:
    name: str
    messages: list[ChatMessage]
    raw: dict[str, dict[str, Any]]
    expected: dict[str, Any]

    @property
    def path(self) -> Path:
        return CHATS / f"{self.name}.json"

    @property
    def language(self) -> str:
        return str(self.expected["language"])

    def text(self, message_id: str) -> str:
        return str(self.raw[message_id]["text"])


def load(name: str) -> Chat:
    path = CHATS / f"{name}.json"
    rows = json.loads(path.read_text(encoding="utf-8"))
    expected = json.loads((CHATS / f"{name}.expected.json").read_text(encoding="utf-8"))
    messages = load_chat_log(path.read_bytes(), timezone=ZoneInfo("Asia/Shanghai"))
    return Chat(name, messages, {row["id"]: row for row in rows}, expected)


def long_chat(count: int) -> list[ChatMessage]:
    """``count`` messages: the four chats over and over, each round a week later, ids unique."""
    base = [load(name).messages for name in NAMES]
    messages: list[ChatMessage] = []
    round_number = 0
    while len(messages) < count:
        for chat in base:
            for message in chat:
                shift = timedelta(days=7 * round_number)
                messages.append(
                    message.model_copy(
                        update={
                            "id": f"r{round_number}-{message.id}",
                            "time": message.time + shift,
                            "reply_to": f"r{round_number}-{message.reply_to}"
                            if message.reply_to
                            else None,
                        }
                    )
                )
        round_number += 1
    return sorted(messages[:count], key=lambda m: m.time)


@dataclass
class Score:
    todos_right: list[str] = field(default_factory=list)
    todos_wrong: list[str] = field(default_factory=list)
    todos_missed: list[str] = field(default_factory=list)
    non_todos_reported: list[str] = field(default_factory=list)
    decisions_found: list[str] = field(default_factory=list)
    decisions_missed: list[str] = field(default_factory=list)
    non_decisions_reported: list[str] = field(default_factory=list)
    questions_found: list[str] = field(default_factory=list)
    invented: list[str] = field(default_factory=list)
    """Owners who are not people of the chat, dates not said in the quote, quotes not in it."""


def score(chat: Chat, summary: ChatSummary) -> Score:
    result = Score()
    people = set(chat.expected["participants"])
    outsiders = set(chat.expected.get("outsiders", []))
    by_id = {m.id: m for m in chat.messages}
    for todo in summary.todos:
        source = next((m for m in chat.messages if todo.quote and todo.quote in m.text), None)
        if source is None:
            result.invented.append(f"to-do quote not in the chat: {todo.quote!r}")
            continue
        if todo.owner is not None and (todo.owner not in people or todo.owner in outsiders):
            result.invented.append(f"owner {todo.owner!r} is nobody in the chat")
        if todo.due is not None:
            said = {(m.text, m.date) for m in find_due_dates(todo.quote, source.time.date())}
            if (todo.due_text, todo.due) not in said:
                result.invented.append(f"due {todo.due} not said in {todo.quote!r}")
    for expected in chat.expected["todos"]:
        text = chat.text(expected["message_id"])
        found = [t for t in summary.todos if t.quote and t.quote in text]
        if not found:
            result.todos_missed.append(expected["message_id"])
        elif any(
            t.owner == expected["owner"] and str(t.due) == str(expected["due"]) for t in found
        ):
            result.todos_right.append(expected["message_id"])
        else:
            result.todos_wrong.append(expected["message_id"])
    for item in chat.expected["non_todos"]:
        text = chat.text(item["message_id"])
        if any(t.quote and t.quote in text for t in summary.todos):
            result.non_todos_reported.append(item["message_id"])
    for expected in chat.expected["decisions"]:
        text = chat.text(expected["message_id"])
        hit = any(d.quote and d.quote in text for d in summary.decisions)
        (result.decisions_found if hit else result.decisions_missed).append(expected["message_id"])
    for item in chat.expected["non_decisions"]:
        text = chat.text(item["message_id"])
        if any(d.quote and d.quote in text for d in summary.decisions):
            result.non_decisions_reported.append(item["message_id"])
    for expected in chat.expected["open_questions"]:
        text = chat.text(expected["message_id"])
        if any(q.text in text or text in q.text for q in summary.open_questions):
            result.questions_found.append(expected["message_id"])
    for topic in summary.topics:
        for point in topic.points:
            message = by_id.get(point.message_id or "")
            if message is None or point.quote not in message.text:
                result.invented.append(f"point without its message: {point.text!r}")
            elif point.by != message.sender:
                result.invented.append(f"point credited to {point.by}, said by {message.sender}")
    return result
