"""A stretch of group chat prepared once for both ways of summarizing it: numbered lines (what
the model cites and the checks read), content words, topics, people, links and files."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date as Date

from chat_summary.extract import Line, known_names
from chat_summary.grounding import Source
from chat_summary.keywords import content_words
from chat_summary.segment import Segment, SegmentInput, segment
from chat_summary.summarize import resolve_language
from chat_summary.types import ChatMessage, ChatTopic, SharedItem
from llm.guardrails import bound_text

MAX_LINKS = 20
MAX_FILES = 20
_URL = re.compile(r"https?://[^\s<>\"'，。；！？、）)\]]+", re.IGNORECASE)
_FILE_NOTE = re.compile(
    r"[\[【](?:文件|附件|file|attachment)[\]】]\s*([^\s\[\]【】]{1,120}\.[A-Za-z0-9]{1,6})",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Conversation:
    """The chat as every later step reads it. ``lines[i]`` is ``messages[i]`` (messages
    without text are left out of both), numbered from 1."""

    messages: Sequence[ChatMessage]
    lines: Sequence[Line]
    words: Sequence[Sequence[str]]
    segments: Sequence[Segment]
    names: Sequence[str]
    language: str
    source: Source
    links: Sequence[SharedItem]
    files: Sequence[SharedItem]
    participants: Sequence[str]
    """Everyone who wrote, most active first."""

    def topic_frame(self, seg: Segment) -> ChatTopic:
        """A topic's participants, size and time span (its title and points come later)."""
        members = [self.messages[i] for i in seg.members]
        counts = Counter(m.sender for m in members)
        return ChatTopic(
            title="",
            participants=tuple(name for name, _ in counts.most_common()),
            messages=len(members),
            start=members[0].time,
            end=members[-1].time,
        )


def prepare(
    messages: Sequence[ChatMessage],
    *,
    language: str | None = None,
    participants: Sequence[str] = (),
    reference: Date | None = None,
) -> Conversation:
    """Number, tokenize and segment ``messages`` (in time order)."""
    ordered = sorted(messages, key=lambda m: m.time)
    texted = [m for m in ordered if m.text.strip()]
    lines = [
        Line(number, " ".join(m.sender.split()) or "?", m.text.strip(), time=m.time)
        for number, m in enumerate(texted, start=1)
    ]
    words = [content_words(m.text) for m in texted]
    position = {m.id: i for i, m in enumerate(texted)}
    segments = segment(
        [
            SegmentInput(
                time=m.time,
                words=w,
                reply_to=position.get(m.reply_to) if m.reply_to else None,
            )
            for m, w in zip(texted, words, strict=True)
        ]
    )
    names = known_names(participants, lines)
    day = reference or (texted[-1].time.date() if texted else Date.today())
    counts = Counter(m.sender for m in ordered)
    return Conversation(
        messages=texted,
        lines=lines,
        words=words,
        segments=segments,
        names=names,
        language=resolve_language(language, lines),
        source=Source(lines, names, day),
        links=_links(ordered),
        files=_files(ordered),
        participants=tuple(name for name, _ in counts.most_common()),
    )


def _links(messages: Sequence[ChatMessage]) -> list[SharedItem]:
    found: dict[str, SharedItem] = {}
    for message in messages:
        for url in _URL.findall(message.text):
            url = url.rstrip(".,;:!?")
            if url not in found and len(found) < MAX_LINKS:
                found[url] = SharedItem(
                    kind="link", value=bound_text(url, 500), by=message.sender, time=message.time
                )
    return list(found.values())


def _files(messages: Sequence[ChatMessage]) -> list[SharedItem]:
    found: dict[str, SharedItem] = {}
    for message in messages:
        for name in [*message.files, *_FILE_NOTE.findall(message.text)]:
            if name not in found and len(found) < MAX_FILES:
                found[name] = SharedItem(
                    kind="file", value=bound_text(name, 200), by=message.sender, time=message.time
                )
    return list(found.values())
