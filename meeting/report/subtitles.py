"""Subtitles of a transcript: SubRip (.srt) and WebVTT (.vtt).

A segment becomes one or more cues of at most ``max_lines`` lines, each line at most
``max_width`` columns, where a Latin character is one column and a CJK character 2.1 (so the
default 42 columns hold 42 Latin or 20 CJK characters). Lines break between words, or between
CJK characters, preferring a break after a comma or full stop; punctuation never starts a line.

A cue's times come from word timestamps when the segment has words that spell its text, and
otherwise from the segment's time divided in proportion to the text's width.

Each cue names its speaker: ``王强: ...`` in SRT, a voice span ``<v 王强>`` in WebVTT (players
show or style it). WebVTT text is escaped (``&amp; &lt; &gt;``); SRT has no escapes, so its text
is as said, except that ``-->`` (the timing arrow) is written ``->``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from meeting.report import is_wide, one_line, transcript_of
from meeting.types import MeetingResult, Transcript, TranscriptSegment

DEFAULT_MAX_WIDTH = 42.0
DEFAULT_MAX_LINES = 2
WIDE_CHAR_WIDTH = 2.1
"""Columns of a CJK character: 42 columns hold 42 Latin characters or 20 Chinese ones."""
MAX_SPEAKER_WIDTH = 16.0
"""A longer speaker name is shortened in the SRT prefix, so the prefix leaves room for text."""

_WIDE = (
    "\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f"
    "\uac00-\ud7a3\uf900-\ufaff\ufe10-\ufe19\ufe30-\ufe6f\uff00-\uff60\uffe0-\uffe6"
    "\U00020000-\U0003fffd"
)
_OPENING = "([{（［｛「『“‘《〈【〔"
_CLOSING = ")]}）］｝」』”’》〉】〕，。、；：！？…,.;:!?%"
_CLAUSE_END = frozenset("，。、；：！？…,.;:!?")
# A token is what a line never splits: a Latin word with its punctuation, or one CJK character
# with the opening marks before it and the closing marks after it.
_TOKEN = re.compile(
    rf"[{re.escape(_OPENING)}]*(?:[{_WIDE}]|[^\s{_WIDE}]+)[{re.escape(_CLOSING)}]*|\S"
)


@dataclass(frozen=True, slots=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]
    speaker: str | None = None


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    start: float
    end: float
    space_before: bool


def text_width(text: str) -> float:
    """Columns ``text`` takes in a subtitle line (CJK characters count 2.1)."""
    return sum(WIDE_CHAR_WIDTH if is_wide(char) else 1.0 for char in text)


def _shorten(text: str, max_width: float) -> str:
    if text_width(text) <= max_width:
        return text
    kept = ""
    for char in text:
        if text_width(kept + char + "…") > max_width:
            break
        kept += char
    return kept + "…"


# --- timing --------------------------------------------------------------------------------


def _char_times(segment: TranscriptSegment, text: str) -> list[tuple[float, float]]:
    """(start, end) of every character of ``text`` (the segment's text on one line)."""
    visible = [i for i, char in enumerate(text) if not char.isspace()]
    times: list[tuple[float, float]] = [(segment.start, segment.start)] * len(text)
    word_chars: list[tuple[float, float]] = []
    for word in segment.words:
        letters = [c for c in word.text if not c.isspace()]
        span = max(0.0, word.end - word.start) / max(1, len(letters))
        word_chars += [
            (word.start + span * k, word.start + span * (k + 1)) for k in range(len(letters))
        ]
    if segment.words and len(word_chars) == len(visible):
        # the words spell the text (letter for letter, even after a script conversion)
        for index, timing in zip(visible, word_chars, strict=True):
            times[index] = timing
    else:
        widths = [text_width(text[i]) for i in visible]
        total = sum(widths) or 1.0
        length = max(0.0, segment.end - segment.start)
        elapsed = 0.0
        for index, width in zip(visible, widths, strict=True):
            start = segment.start + length * elapsed / total
            elapsed += width
            times[index] = (start, segment.start + length * elapsed / total)
    return times


def _tokens(segment: TranscriptSegment) -> list[_Token]:
    text = one_line(segment.text)
    times = _char_times(segment, text)
    return [
        _Token(
            match[0],
            times[match.start()][0],
            times[match.end() - 1][1],
            match.start() > 0 and text[match.start() - 1].isspace(),
        )
        for match in _TOKEN.finditer(text)
    ]


def _split_wide_token(token: _Token, max_width: float) -> Iterator[_Token]:
    """A token wider than a line (a long URL), cut into pieces that fit."""
    pieces: list[str] = [""]
    for char in token.text:
        if pieces[-1] and text_width(pieces[-1] + char) > max_width:
            pieces.append("")
        pieces[-1] += char
    step = (token.end - token.start) / len(pieces)
    for index, piece in enumerate(pieces):
        start = token.start + step * index
        yield _Token(piece, start, start + step, token.space_before and index == 0)


# --- lines and cues ------------------------------------------------------------------------


def _line_text(tokens: list[_Token]) -> str:
    return "".join(
        (" " if token.space_before and index else "") + token.text
        for index, token in enumerate(tokens)
    )


def _wrap(tokens: list[_Token], width_of_line: list[float]) -> list[list[_Token]]:
    """Greedy lines, the n-th at most ``width_of_line[n % len]`` wide; a line that must break
    goes back to its last clause end when that keeps most of it."""
    lines: list[list[_Token]] = [[]]
    for token in tokens:
        line = lines[-1]
        limit = width_of_line[(len(lines) - 1) % len(width_of_line)]
        if not line or text_width(_line_text([*line, token])) <= limit:
            line.append(token)
            continue
        next_limit = width_of_line[len(lines) % len(width_of_line)]
        cut = len(line)
        for index in range(len(line) - 1, 0, -1):
            if line[index - 1].text[-1] in _CLAUSE_END:
                kept, carried = line[:index], [*line[index:], token]
                if (
                    text_width(_line_text(kept)) >= 0.6 * limit
                    and text_width(_line_text(carried)) <= next_limit
                ):
                    cut = index
                break
        carried = line[cut:]
        del line[cut:]
        lines.append([*carried, token])
    return [line for line in lines if line]


def segment_cues(
    segment: TranscriptSegment,
    *,
    max_width: float = DEFAULT_MAX_WIDTH,
    max_lines: int = DEFAULT_MAX_LINES,
    prefix_width: float = 0.0,
) -> list[Cue]:
    """The cues of one segment; ``prefix_width`` columns of each cue's first line are taken
    (by a speaker prefix)."""
    if max_width < 8 or max_lines < 1:
        raise ValueError(
            f"subtitles need max_width >= 8 and max_lines >= 1, got {max_width} and {max_lines}"
        )
    first_width = max(max_width / 2, max_width - prefix_width)
    tokens: list[_Token] = []
    for token in _tokens(segment):
        if text_width(token.text) > first_width:
            tokens += _split_wide_token(token, first_width)
        else:
            tokens.append(token)
    widths = [first_width] + [max_width] * (max_lines - 1)
    lines = _wrap(tokens, widths)
    cues = []
    for first in range(0, len(lines), max_lines):
        group = lines[first : first + max_lines]
        start = group[0][0].start
        end = max(token.end for line in group for token in line)
        cues.append(Cue(start, max(end, start), tuple(_line_text(line) for line in group)))
    return cues


def subtitle_cues(
    source: MeetingResult | Transcript,
    *,
    max_width: float = DEFAULT_MAX_WIDTH,
    max_lines: int = DEFAULT_MAX_LINES,
    speaker_prefix: bool = False,
) -> list[Cue]:
    """Every cue of the transcript, in segment order, each with its segment's speaker.
    ``speaker_prefix`` keeps room on each cue's first line for ``Name: `` (SRT)."""
    cues: list[Cue] = []
    for segment in transcript_of(source).segments:
        speaker = one_line(segment.speaker) if segment.speaker else None
        prefix = 0.0
        if speaker and speaker_prefix:
            speaker = _shorten(speaker, MAX_SPEAKER_WIDTH)
            prefix = text_width(speaker) + 2
        for cue in segment_cues(
            segment, max_width=max_width, max_lines=max_lines, prefix_width=prefix
        ):
            cues.append(Cue(cue.start, cue.end, cue.lines, speaker or None))
    return cues


# --- formats -------------------------------------------------------------------------------


def _milliseconds(start: float, end: float) -> tuple[int, int]:
    """Cue times in whole milliseconds, the end at least one after the start."""
    first = max(0, round(start * 1000))
    return first, max(first + 1, round(end * 1000))


def _timestamp(milliseconds: int, separator: str) -> str:
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def srt_timestamp(seconds: float) -> str:
    """``00:01:02,345``"""
    return _timestamp(max(0, round(seconds * 1000)), ",")


def vtt_timestamp(seconds: float) -> str:
    """``00:01:02.345``"""
    return _timestamp(max(0, round(seconds * 1000)), ".")


def to_srt(
    source: MeetingResult | Transcript,
    *,
    speakers: bool = True,
    max_width: float = DEFAULT_MAX_WIDTH,
    max_lines: int = DEFAULT_MAX_LINES,
) -> str:
    """The transcript as SubRip: numbered cues, ``00:01:02,345 --> ...``, ``王强: text``."""
    blocks = []
    cues = subtitle_cues(source, max_width=max_width, max_lines=max_lines, speaker_prefix=speakers)
    for number, cue in enumerate(cues, start=1):
        start, end = _milliseconds(cue.start, cue.end)
        lines = [line.replace("-->", "->") for line in cue.lines]
        if speakers and cue.speaker:
            lines[0] = f"{cue.speaker}: {lines[0]}"
        timing = f"{_timestamp(start, ',')} --> {_timestamp(end, ',')}"
        blocks.append("\n".join([str(number), timing, *lines]))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _escape_vtt(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(
    source: MeetingResult | Transcript,
    *,
    speakers: bool = True,
    max_width: float = DEFAULT_MAX_WIDTH,
    max_lines: int = DEFAULT_MAX_LINES,
) -> str:
    """The transcript as WebVTT: a ``WEBVTT`` header, ``00:01:02.345 --> ...`` cues, the
    speaker as a voice span ``<v 王强>``, text escaped."""
    blocks = ["WEBVTT"]
    for cue in subtitle_cues(source, max_width=max_width, max_lines=max_lines):
        start, end = _milliseconds(cue.start, cue.end)
        lines = [_escape_vtt(line) for line in cue.lines]
        if speakers and cue.speaker:
            lines[0] = f"<v {_escape_vtt(cue.speaker)}>{lines[0]}"
        timing = f"{_timestamp(start, '.')} --> {_timestamp(end, '.')}"
        blocks.append("\n".join([timing, *lines]))
    return "\n\n".join(blocks) + "\n"
