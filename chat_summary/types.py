"""Typed inputs and outputs of the summarizer (pydantic, frozen, JSON-serializable)."""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime

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


class Decision(_Frozen):
    text: str
    quote: str = ""
    at: float | None = None


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
