"""A meeting's results as things people read: chat message, Word document, Markdown, subtitles,
JSON and a talk-time chart.

- ``meeting.report.json_report``: ``transcript_json`` and ``report_json``, the public JSON formats.
- ``meeting.report.subtitles``: ``to_srt`` and ``to_vtt``.
- ``meeting.report.markdown``: ``chat_report`` (the group message) and ``markdown_document``
  (the .md export).
- ``meeting.report.docx_report``: ``write_docx`` (the .docx report).
- ``meeting.report.chart``: ``talk_time_chart`` (PNG bytes).

This module holds what they share: speaker statistics, time formats, the report language and the
words of each language. The words live in ``templates/report.<lang>.j2``, one jinja2 block per
label or phrase, so a translator edits one file and every format follows. Importing this package
is cheap (jinja2, python-docx and Pillow load in the modules that need them).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date as Date
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from chat_summary.markdown import one_line as one_line
from meeting.types import MeetingResult, Transcript

if TYPE_CHECKING:
    import jinja2

ReportLanguage = Literal["zh", "en"]
TEMPLATE_DIR = Path(__file__).with_name("templates")

_CHINESE_CODES = frozenset({"zh", "yue", "cmn", "wuu"})


def transcript_of(source: MeetingResult | Transcript) -> Transcript:
    return source.transcript if isinstance(source, MeetingResult) else source


def report_language(source: MeetingResult | Transcript) -> ReportLanguage:
    """Chinese words for a Chinese transcript, English for every other language."""
    code = transcript_of(source).language.strip().lower().replace("_", "-").split("-")[0]
    return "zh" if code in _CHINESE_CODES else "en"


# --- characters ----------------------------------------------------------------------------


def is_wide(char: str) -> bool:
    """True for a character shown two columns wide (CJK, kana, hangul, full-width forms)."""
    return unicodedata.east_asian_width(char) in {"W", "F"}


def join_text(left: str, right: str) -> str:
    """Two pieces of transcript as one: a space between them unless either side is CJK."""
    left, right = left.rstrip(), right.lstrip()
    if not left or not right:
        return left + right
    if is_wide(left[-1]) or is_wide(right[0]):
        return left + right
    return f"{left} {right}"


# --- times ---------------------------------------------------------------------------------


def format_clock(seconds: float, *, hours: bool = False) -> str:
    """``MM:SS``, or ``H:MM:SS`` when ``hours`` is set or the time is an hour or more."""
    total = max(0, int(seconds))
    hour, rest = divmod(total, 3600)
    minute, second = divmod(rest, 60)
    if hours or hour:
        return f"{hour}:{minute:02d}:{second:02d}"
    return f"{minute:02d}:{second:02d}"


def clock_needs_hours(result: MeetingResult | Transcript) -> bool:
    """Whether timestamps of this recording need an hour field (so they all look alike)."""
    return result.duration >= 3600


# --- speakers ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpeakerStat:
    """One speaker's share of the talking."""

    name: str
    label: str
    """The diarization label (``SPEAKER_00``), or the name when there was no diarization."""
    talk_time: float
    """Seconds of speech."""
    share: float
    """Fraction (0-1) of all speech in the meeting."""
    enrolled: bool = False


def speaker_stats(result: MeetingResult) -> tuple[SpeakerStat, ...]:
    """Every speaker with their talk time and share, in the pipeline's order (first to speak
    first).

    Talk time comes from the speakers' own record, else from the diarization's turns, else from
    the transcript's segments (a transcript whose segments carry names but no diarization).
    """
    by_segments: defaultdict[str, float] = defaultdict(float)
    for segment in result.transcript.segments:
        if segment.speaker and segment.speaker.strip():
            by_segments[segment.speaker.strip()] += max(0.0, segment.end - segment.start)

    entries: list[tuple[str, str, float, bool]]
    if result.speakers:
        times = [info.talk_time for info in result.speakers]
        if not any(times) and result.diarization is not None:
            turns = result.diarization.talk_time()
            times = [turns.get(info.label, 0.0) for info in result.speakers]
        if not any(times):
            times = [by_segments.get(info.name, 0.0) for info in result.speakers]
        entries = [
            (info.name.strip() or info.label, info.label, max(0.0, seconds), info.enrolled)
            for info, seconds in zip(result.speakers, times, strict=True)
        ]
    else:
        entries = [(name, name, seconds, False) for name, seconds in by_segments.items()]
    total = sum(seconds for _, _, seconds, _ in entries)
    return tuple(
        SpeakerStat(name, label, seconds, seconds / total if total > 0 else 0.0, enrolled)
        for name, label, seconds, enrolled in entries
    )


def by_talk_time(stats: Sequence[SpeakerStat]) -> list[SpeakerStat]:
    """Most talkative first (ties keep their order)."""
    return sorted(stats, key=lambda stat: -stat.talk_time)


def percent(share: float) -> str:
    return f"{round(share * 100)}%"


# --- transcript ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TranscriptParagraph:
    """Consecutive segments of one speaker, read as one paragraph."""

    start: float
    end: float
    speaker: str | None
    text: str


def transcript_paragraphs(
    transcript: Transcript, *, max_chars: int = 800
) -> list[TranscriptParagraph]:
    """The transcript as paragraphs: a speaker's consecutive segments are joined while the
    paragraph stays under ``max_chars`` characters (a long monologue still gets timestamps)."""
    paragraphs: list[TranscriptParagraph] = []
    for segment in transcript.segments:
        text = one_line(segment.text)
        if not text:
            continue
        speaker = segment.speaker.strip() if segment.speaker else None
        last = paragraphs[-1] if paragraphs else None
        if last is not None and last.speaker == speaker and len(last.text) + len(text) < max_chars:
            joined = join_text(last.text, text)
            paragraphs[-1] = TranscriptParagraph(
                last.start, max(last.end, segment.end), speaker, joined
            )
        else:
            paragraphs.append(TranscriptParagraph(segment.start, segment.end, speaker, text))
    return paragraphs


# --- words of each language ----------------------------------------------------------------

_environment: jinja2.Environment | None = None
_environment_lock = threading.Lock()
_BLOCK_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _env() -> jinja2.Environment:
    global _environment
    if _environment is None:
        import jinja2

        with _environment_lock:
            if _environment is None:
                _environment = jinja2.Environment(
                    loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
                    undefined=jinja2.StrictUndefined,
                    autoescape=False,  # plain text: each format escapes what it inserts
                    trim_blocks=True,
                    lstrip_blocks=True,
                    auto_reload=False,
                )
    return _environment


class ReportTexts:
    """The labels and phrases of one language, from ``templates/report.<lang>.j2``.

    ``texts("heading_summary")`` renders that block; variables go in as keyword arguments
    (``texts("more", count=3)``). Values are inserted as they are: the caller escapes them for
    its format before, or the format (python-docx) does it after.
    """

    def __init__(self, language: ReportLanguage) -> None:
        self.language: ReportLanguage = language
        self._template = _env().get_template(f"report.{language}.j2")

    @property
    def blocks(self) -> frozenset[str]:
        return frozenset(self._template.blocks)

    def __call__(self, block: str, **values: object) -> str:
        render_block = self._template.blocks.get(block)
        if render_block is None or not _BLOCK_NAME.fullmatch(block):
            raise KeyError(f"report.{self.language}.j2 has no block {block!r}")
        context = self._template.new_context(dict(values))
        return "".join(render_block(context)).strip("\r\n")

    def date(self, value: Date) -> str:
        """A meeting date in full (2026年3月10日（周二） / Tuesday, March 10, 2026)."""
        return self(
            "date", year=value.year, month=value.month, day=value.day, weekday=value.weekday()
        )

    def due(self, value: Date | None, said: str | None = None) -> str:
        """A due date, short (3月18日（周三） / Wed, Mar 18); what was said when unresolved."""
        if value is None:
            return one_line(said or "")
        return self("due_date", month=value.month, day=value.day, weekday=value.weekday())

    def duration(self, seconds: float) -> str:
        """A length of time in words (1 小时 5 分钟 / 1 h 5 min)."""
        total = max(0, round(seconds))
        if total < 60:
            return self("duration", hours=0, minutes=0, seconds=total)
        hours, minutes = divmod(round(total / 60), 60)
        return self("duration", hours=hours, minutes=minutes, seconds=0)


_texts: dict[ReportLanguage, ReportTexts] = {}


def report_texts(language: ReportLanguage) -> ReportTexts:
    """The (cached) words of ``language``."""
    texts = _texts.get(language)
    if texts is None:
        texts = _texts[language] = ReportTexts(language)
    return texts
