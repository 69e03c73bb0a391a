"""Typed inputs and outputs of the summarizer (pydantic, frozen, JSON-serializable)."""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Utterance(_Frozen):
    """One thing someone said or wrote. ``at`` is seconds from the start of a recording (for
    meetings); ``time`` is the wall-clock time (for chats)."""

    speaker: str
    text: str
    at: float | None = None
    end: float | None = None
    time: datetime | None = None


class Todo(_Frozen):
    owner: str | None
    """A person named in the source (an attendee, an enrolled or a chat participant) or None."""
    task: str
    due: Date | None = None
    """Resolved against the reference date; None when no due date was said."""
    due_text: str | None = None
    """The due-date expression as said ("下周三", "by Friday")."""
    quote: str = ""
    """The source sentence the to-do comes from, verbatim."""
    at: float | None = None
    """Seconds into the recording of that sentence (meetings)."""
    by: str | None = None
    """Who said it (chats)."""
    time: datetime | None = None
    """When it was said (chats)."""


class Decision(_Frozen):
    text: str
    quote: str = ""
    at: float | None = None
    by: str | None = None
    time: datetime | None = None


class Topic(_Frozen):
    title: str
    start: float | None = None
    end: float | None = None


class Minutes(_Frozen):
    language: str
    summary: str
    decisions: tuple[Decision, ...] = ()
    topics: tuple[Topic, ...] = ()
    keywords: tuple[str, ...] = ()
    todos: tuple[Todo, ...] = ()
    open_questions: tuple[str, ...] = ()
    method: str = "model"
    """How it was made: ``model`` (the shared model, checked against the source) or
    ``extractive`` (no model: sentences picked from the source, labelled as such)."""


# --- group chats ---------------------------------------------------------------------------


class ChatMessage(_Frozen):
    """One group-chat message, as the chat summarizer reads it."""

    id: str
    sender: str
    """The sender's display name."""
    time: datetime
    """Timezone-aware, in the timezone dates are read in (what "明天" means depends on it)."""
    text: str
    sender_id: str | None = None
    """The platform's user id (to @-mention the sender)."""
    reply_to: str | None = None
    """The id of the message this one replies to."""
    files: tuple[str, ...] = ()
    """Names of files shared with the message."""


class KeyPoint(_Frozen):
    text: str
    by: str
    """Who raised it: the sender of the message it comes from."""
    time: datetime | None = None
    message_id: str | None = None
    quote: str = ""
    """The source message's sentence the point rests on."""


class ChatTopic(_Frozen):
    title: str
    points: tuple[KeyPoint, ...] = ()
    participants: tuple[str, ...] = ()
    """Who wrote in this topic, most active first."""
    messages: int = 0
    start: datetime | None = None
    end: datetime | None = None


class OpenQuestion(_Frozen):
    text: str
    by: str | None = None
    time: datetime | None = None


class SharedItem(_Frozen):
    kind: Literal["link", "file"]
    value: str
    """The URL or the file name."""
    by: str
    time: datetime | None = None


class ChatSummary(_Frozen):
    """What a stretch of group chat said: key points by topic with who raised them,
    decisions, open questions, to-dos with owners and due dates, links and files shared."""

    language: str
    method: Literal["model", "extractive"]
    """``model``: the shared model, checked against the chat; ``extractive``: sentences picked
    by code (TextRank) and patterns, labelled as such."""
    reason: str | None = None
    """Why the summary is extractive (too long for the model, the model busy or missing)."""
    message_count: int = 0
    start: datetime | None = None
    end: datetime | None = None
    participants: tuple[str, ...] = ()
    overview: str = ""
    topics: tuple[ChatTopic, ...] = ()
    minor_topics: int = 0
    """Smaller topics not listed."""
    decisions: tuple[Decision, ...] = ()
    open_questions: tuple[OpenQuestion, ...] = ()
    todos: tuple[Todo, ...] = ()
    links: tuple[SharedItem, ...] = ()
    files: tuple[SharedItem, ...] = ()
