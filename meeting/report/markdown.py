"""Meeting reports in Markdown: the message posted to the group, and the full .md export.

Everything that came from the recording or the model (title, names, summary, decisions, tasks,
quotes, transcript) goes through ``escape_markdown``, so it always reads as itself: it can never
become a link, a heading or HTML. The group message also has every line that could read as a
bot command defused (``neutralize_commands``), and it is bounded: when it is too long, lists are
shortened with "…and N more" and long texts are cut at sentence ends, never inside markup.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from chat_summary.markdown import (
    bold,
    cut_to_fit,
    escaped,
    owner_markdown,
    safe_link,
    usable_ids,
)
from chat_summary.types import Todo
from llm.guardrails import bound_text, escape_markdown, neutralize_commands
from meeting.report import (
    ReportTexts,
    by_talk_time,
    clock_needs_hours,
    format_clock,
    one_line,
    percent,
    report_language,
    report_texts,
    speaker_stats,
    transcript_paragraphs,
)
from meeting.types import MeetingResult

if TYPE_CHECKING:
    from plugins.messages import MarkdownMessage

log = logging.getLogger(__name__)

MIN_CHAT_CHARS = 200
"""The smallest ``max_chars`` a chat report accepts (a title, a line and the link)."""
TITLE_MAX_CHARS = 128
"""The longest message title (DingTalk's limit, and ``MarkdownMessage``'s)."""

_NO_MENTIONS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ReportMessage:
    """The group message: its title (shown in notifications), Markdown text, and the DingTalk
    user ids it @-mentions (each appears in the text as ``@userId``, as DingTalk requires)."""

    title: str
    text: str
    at_user_ids: tuple[str, ...] = ()

    def to_message(self) -> MarkdownMessage:
        """As the plugin API's markdown message, mentions included."""
        from plugins.messages import MarkdownMessage, Mentions

        return MarkdownMessage(
            title=self.title, text=self.text, mentions=Mentions(user_ids=self.at_user_ids)
        )


# --- pieces --------------------------------------------------------------------------------


def _paragraphs(text: str) -> list[str]:
    return [escape_markdown(one_line(line)) for line in text.splitlines() if line.strip()]


def _todo_line(
    todo: Todo, texts: ReportTexts, mention_ids: Mapping[str, str], limit: int
) -> tuple[str, list[str]]:
    """A to-do as one list item: owner (``@userId`` or the name), task, due date (the date
    resolved, else the words said), and the user ids it mentions."""
    owner, user_ids = owner_markdown(todo.owner, mention_ids)
    if todo.due is not None:
        due = texts("due", when=texts.due(todo.due))
    else:
        due = escaped(todo.due_text or "", 40)
    task = escaped(todo.task, limit)
    mention = bool(user_ids) and owner.endswith(f"@{user_ids[-1]}")
    line = texts("todo_item", owner=owner, mention=mention, task=task, due=due)
    return line, user_ids


def _numbered(items: list[str]) -> list[str]:
    return [f"{number}. {item}" for number, item in enumerate(items, start=1)]


# --- the group message ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Limits:
    """How much of each part the message shows (None: all of it)."""

    item: int = 300
    summary: int | None = None
    attendees: int | None = None
    speakers: int | None = None
    decisions: int | None = None
    todos: int | None = None


def _shrinking(counts: Mapping[str, int]) -> Iterator[_Limits]:
    """Ever shorter versions of the message, gentlest first: long texts cut, long lists
    shortened, then decisions dropped before to-dos (to-dos carry the @-mentions)."""
    limits = _Limits()
    yield limits

    def down_to(field: str, floor: int) -> Iterator[_Limits]:
        nonlocal limits
        shown = getattr(limits, field)
        shown = counts[field] if shown is None else shown
        while shown > floor:
            shown -= 1
            limits = replace(limits, **{field: shown})
            yield limits

    for summary in (1200, 800):
        limits = replace(limits, summary=summary)
        yield limits
    yield from down_to("attendees", 8)
    yield from down_to("speakers", 5)
    yield from down_to("decisions", 5)
    yield from down_to("todos", 8)
    for summary, item in ((400, 200), (250, 120)):
        limits = replace(limits, summary=summary, item=item)
        yield limits
    yield from down_to("decisions", 2)
    yield from down_to("todos", 5)
    yield from down_to("decisions", 0)
    yield from down_to("attendees", 3)
    yield from down_to("speakers", 3)
    yield from down_to("todos", 3)
    limits = replace(limits, summary=120, item=80)
    yield limits
    yield from down_to("todos", 0)
    yield from down_to("attendees", 0)
    yield from down_to("speakers", 0)


def _inline_list(items: list[str], shown: int | None, texts: ReportTexts) -> str:
    kept = items if shown is None else items[:shown]
    hidden = len(items) - len(kept)
    return texts("separator").join([*kept, texts("more", count=hidden)] if hidden else kept)


def _block_list(shown: list[str], total: int, texts: ReportTexts) -> list[str]:
    """A numbered list of the items shown, and "…and N more" for the rest of ``total``."""
    lines = ["\n".join(_numbered(shown))] if shown else []
    hidden = total - len(shown)
    return [*lines, texts("more", count=hidden)] if hidden else lines


def chat_report(
    result: MeetingResult,
    *,
    docx_url: str | None,
    mention_ids: Mapping[str, str] = _NO_MENTIONS,
    max_chars: int = 3500,
    command_words: Iterable[str] | None = None,
) -> ReportMessage:
    """The report for the group chat, in the transcript's language: title, date, duration,
    attendees, talk share, summary, decisions, to-dos and the link to the .docx.

    A to-do's owner found in ``mention_ids`` (name -> DingTalk user id) is @-mentioned, else
    named. The text has at most ``max_chars`` characters. ``command_words`` are the bot's
    command words (``llm.guardrails.DEFAULT_COMMAND_WORDS`` when None): a line that starts
    with one is defused.
    """
    if max_chars < MIN_CHAT_CHARS:
        raise ValueError(f"max_chars must be at least {MIN_CHAT_CHARS}, got {max_chars}")
    words = tuple(command_words) if command_words is not None else None
    mention_ids = usable_ids(mention_ids)
    texts = report_texts(report_language(result))
    info, minutes = result.info, result.minutes
    date = texts.date(info.date) if info.date else ""
    plain_title = bound_text(one_line(info.title), 100)
    heading = texts("report_title", title=escape_markdown(plain_title), date=date)
    message_title = bound_text(
        texts("message_title", title=plain_title, date=date), TITLE_MAX_CHARS
    )
    link = f"[{texts('docx_link')}]({safe_link(docx_url)})" if docx_url else ""

    attendees = [escaped(name, 40) for name in info.attendees if name.strip()]
    speakers = [
        f"{escaped(stat.name, 40)} {percent(stat.share)}"
        for stat in by_talk_time(speaker_stats(result))
        if stat.talk_time > 0
    ]
    counts = {
        "attendees": len(attendees),
        "speakers": len(speakers),
        "decisions": len(minutes.decisions) if minutes else 0,
        "todos": len(minutes.todos) if minutes else 0,
    }

    def render(limits: _Limits) -> tuple[str, list[str]]:
        lines = [f"### {heading}"]
        if date:
            lines.append(texts("info_line", label=bold(texts("label_date")), value=date))
        duration = texts.duration(result.duration)
        lines.append(texts("info_line", label=bold(texts("label_duration")), value=duration))
        if attendees and limits.attendees != 0:
            shown = _inline_list(attendees, limits.attendees, texts)
            lines.append(texts("info_line", label=bold(texts("label_attendees")), value=shown))
        if speakers and limits.speakers != 0:
            shown = _inline_list(speakers, limits.speakers, texts)
            lines.append(texts("info_line", label=bold(texts("label_speakers")), value=shown))
        mentioned: list[str] = []
        if minutes is None:
            lines.append(texts("no_minutes"))
        else:
            lines.append(f"#### {texts('heading_summary')}")
            if minutes.method == "extractive":
                lines.append(texts("extractive_note"))
            summary = minutes.summary.strip()
            if limits.summary is not None:
                summary = bound_text(summary, limits.summary)
            lines += _paragraphs(summary) or [texts("none")]
            if minutes.decisions:
                lines.append(f"#### {texts('heading_decisions')}")
                shown_decisions = minutes.decisions[: limits.decisions]
                items = [escaped(d.text, limits.item) for d in shown_decisions]
                lines += _block_list(items, len(minutes.decisions), texts)
            if minutes.todos:
                lines.append(f"#### {texts('heading_todos')}")
                todo_lines = []
                for todo in minutes.todos[: limits.todos]:
                    line, user_ids = _todo_line(todo, texts, mention_ids, limits.item)
                    todo_lines.append(line)
                    mentioned += user_ids
                lines += _block_list(todo_lines, len(minutes.todos), texts)
        if link:
            lines.append(link)
        return neutralize_commands("\n\n".join(lines), words), mentioned

    for limits in _shrinking(counts):
        text, mentioned = render(limits)
        if len(text) <= max_chars:
            break
    else:
        text, mentioned = cut_to_fit(text, link, max_chars), mentioned
    present = [uid for uid in dict.fromkeys(mentioned) if f"@{uid}" in text]
    return ReportMessage(title=message_title, text=text, at_user_ids=tuple(present))


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return ["\n".join(lines)]


def markdown_document(result: MeetingResult, *, include_transcript: bool = True) -> str:
    """The whole report as a Markdown document (.md): details, summary, decisions, to-dos,
    topics, keywords, open questions, talk time and the transcript with speakers and times."""
    texts = report_texts(report_language(result))
    info, minutes = result.info, result.minutes
    hours = clock_needs_hours(result)
    date = texts.date(info.date) if info.date else ""
    title = texts("report_title", title=escaped(info.title), date=date)
    blocks = [f"# {title}"]

    details = []
    if date:
        details.append(texts("info_line", label=bold(texts("label_date")), value=date))
    details.append(
        texts(
            "info_line",
            label=bold(texts("label_duration")),
            value=texts.duration(result.duration),
        )
    )
    if info.attendees:
        names = texts("separator").join(escaped(name) for name in info.attendees)
        details.append(texts("info_line", label=bold(texts("label_attendees")), value=names))
    blocks.append("\n".join(f"- {line}" for line in details))

    def at(seconds: float | None) -> str:
        return (
            texts("at_time", time=format_clock(seconds, hours=hours)) if seconds is not None else ""
        )

    def source(quote_text: str, seconds: float | None) -> str:
        said = texts("quote", text=escaped(quote_text)) if quote_text.strip() else ""
        return (said + at(seconds)).strip()

    if minutes is None:
        blocks.append(texts("no_minutes"))
    else:
        blocks.append(f"## {texts('heading_summary')}")
        if minutes.method == "extractive":
            blocks.append(f"*{texts('extractive_note')}*")
        blocks += _paragraphs(minutes.summary) or [texts("none")]

        blocks.append(f"## {texts('heading_decisions')}")
        decisions = [
            " — ".join(part for part in (escaped(d.text), source(d.quote, d.at)) if part)
            for d in minutes.decisions
        ]
        blocks.append("\n".join(_numbered(decisions)) if decisions else texts("none"))

        blocks.append(f"## {texts('heading_todos')}")
        if minutes.todos:
            header = [
                texts(c) for c in ("column_owner", "column_task", "column_due", "column_source")
            ]
            rows = [
                [
                    escaped(todo.owner) if todo.owner else texts("unassigned"),
                    escaped(todo.task),
                    escaped(texts.due(todo.due, todo.due_text)),
                    source(todo.quote, todo.at),
                ]
                for todo in minutes.todos
            ]
            blocks += _table(header, rows)
        else:
            blocks.append(texts("none"))

        if minutes.topics:
            blocks.append(f"## {texts('heading_topics')}")
            blocks.append(
                "\n".join(
                    f"- {_topic_line(t.title, t.start, t.end, hours)}" for t in minutes.topics
                )
            )
        if minutes.keywords:
            blocks.append(f"## {texts('heading_keywords')}")
            blocks.append(texts("separator").join(escaped(k) for k in minutes.keywords))
        if minutes.open_questions:
            blocks.append(f"## {texts('heading_open_questions')}")
            blocks.append("\n".join(f"- {escaped(q)}" for q in minutes.open_questions))

    stats = by_talk_time(speaker_stats(result))
    if stats:
        blocks.append(f"## {texts('heading_speakers')}")
        header = [texts(c) for c in ("column_speaker", "column_talk_time", "column_share")]
        rows = [
            [escaped(s.name), format_clock(s.talk_time, hours=hours), percent(s.share)]
            for s in stats
        ]
        blocks += _table(header, rows)

    if include_transcript:
        blocks.append(f"## {texts('heading_transcript')}")
        for paragraph in transcript_paragraphs(result.transcript):
            speaker = escaped(paragraph.speaker) if paragraph.speaker else texts("unknown_speaker")
            label = f"`{format_clock(paragraph.start, hours=hours)}` {bold(speaker)}"
            blocks.append(texts("info_line", label=label, value=escaped(paragraph.text)))
    return "\n\n".join(blocks) + "\n"


def _topic_line(title: str, start: float | None, end: float | None, hours: bool) -> str:
    if start is None:
        return escaped(title)
    span = format_clock(start, hours=hours)
    if end is not None:
        span += f"–{format_clock(end, hours=hours)}"
    return f"`{span}` {escaped(title)}"
