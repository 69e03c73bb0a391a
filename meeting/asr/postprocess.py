"""Backend-independent steps around a whisper backend, as pure functions.

- Chinese comes out Simplified: whisper base often writes Traditional characters, which OpenCC
  (``t2s``) converts, in segment texts and word texts alike.
- Repetition loops are cut: whisper sometimes repeats a phrase until the window ends
  ("谢谢谢谢谢谢…", "I think I think I think…") or emits the same segment again and again over
  silence. A phrase repeated in a row is reduced to its last occurrence; three or more identical
  consecutive segments become one. Words are removed together with their text.
- Chunked transcription: ``transcribe_in_chunks`` runs a backend over the pieces of a long clip
  (``meeting.audio.plan_chunks``), shifts times back, detects the language once and reports
  progress; ``build_transcript`` finishes the result.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from meeting.audio import plan_chunks
from meeting.types import AudioClip, Progress, Transcript, TranscriptSegment, Word

CHINESE_LANGUAGES = frozenset({"zh", "yue"})
NO_SPACE_LANGUAGES = frozenset({"zh", "yue", "ja", "th", "lo", "my", "bo"})

# --- language codes --------------------------------------------------------------------------


def normalize_language(language: str | None) -> str | None:
    """``zh-CN``, ``ZH``, ``zh_TW`` -> ``zh``; empty -> None (detect)."""
    if language is None or not language.strip():
        return None
    return re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]


def combined_prompt(initial_prompt: str | None, hotwords: Sequence[str]) -> str | None:
    """One priming text for backends without a separate hotword input."""
    parts = [initial_prompt.strip()] if initial_prompt and initial_prompt.strip() else []
    terms = [term.strip() for term in hotwords if term.strip()]
    if terms:
        parts.append(", ".join(terms) + ".")
    return " ".join(parts) or None


def merged_hotwords(*groups: Sequence[str]) -> tuple[str, ...]:
    """The terms of all groups, stripped, without duplicates, in order."""
    return tuple(dict.fromkeys(term.strip() for group in groups for term in group if term.strip()))


# --- Simplified Chinese ----------------------------------------------------------------------

_converter_lock = threading.Lock()
_converter: Any = None


def _opencc() -> Any:
    global _converter
    with _converter_lock:
        if _converter is None:
            import opencc

            _converter = opencc.OpenCC("t2s")
        return _converter


def to_simplified(text: str) -> str:
    """``text`` with Traditional Chinese characters written Simplified (OpenCC ``t2s``)."""
    if not text or not _has_cjk(text):
        return text
    return str(_opencc().convert(text))


def simplify_segment(segment: TranscriptSegment) -> TranscriptSegment:
    """The segment's text and word texts in Simplified Chinese.

    The words are converted as one text and split back, so phrase-level conversions see their
    context; when the conversion changes the length, each word is converted on its own."""
    text = to_simplified(segment.text)
    if not segment.words:
        return segment.model_copy(update={"text": text})
    originals = [word.text for word in segment.words]
    joined = to_simplified("".join(originals))
    if len(joined) == sum(map(len, originals)):
        converted, position = [], 0
        for original in originals:
            converted.append(joined[position : position + len(original)])
            position += len(original)
    else:
        converted = [to_simplified(original) for original in originals]
    words = tuple(
        word.model_copy(update={"text": new})
        for word, new in zip(segment.words, converted, strict=True)
    )
    return segment.model_copy(update={"text": text, "words": words})


def _has_cjk(text: str) -> bool:
    return any(_is_cjk(char) for char in text)


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x3400 <= code <= 0x9FFF
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x3134F
        or 0x3040 <= code <= 0x30FF  # kana: Japanese loops repeat per character too
    )


# --- repetition loops ------------------------------------------------------------------------

MAX_UNIT_TOKENS = 24
"""Longest repeated phrase looked for, in tokens (words, or CJK characters)."""


@dataclass(frozen=True, slots=True)
class _Token:
    key: str
    start: int
    end: int
    cjk: bool


def _tokens(text: str) -> list[_Token]:
    """Words (for spaced scripts) and single characters (CJK), with their spans in ``text``.

    Punctuation is not a token of its own: "I think, I think." repeats "i think"."""
    tokens: list[_Token] = []
    for match in re.finditer(r"\S+", text):
        chunk, base = match.group(), match.start()
        word_start: int | None = None
        for index, char in enumerate(chunk):
            if _is_cjk(char):
                if word_start is not None:
                    tokens.append(_word(chunk, base, word_start, index))
                    word_start = None
                tokens.append(_Token(char, base + index, base + index + 1, True))
            elif word_start is None:
                word_start = index
        if word_start is not None:
            tokens.append(_word(chunk, base, word_start, len(chunk)))
    return [token for token in tokens if token.key]


def _word(chunk: str, base: int, first: int, last: int) -> _Token:
    key = "".join(c for c in chunk[first:last].casefold() if _is_word_char(c))
    return _Token(key, base + first, base + last, False)


def _is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in {"L", "N"}


def _min_repeats(unit: Sequence[_Token]) -> tuple[int, int]:
    """``(repeats that count as a loop, occurrences kept)`` for a repeated unit.

    One CJK character doubled or tripled is ordinary (谢谢, 哈哈哈): four or more is a loop and
    two are kept. One word three times can be emphasis ("no, no, no"): four or more is a loop.
    A longer phrase three times in a row is a loop."""
    if len(unit) == 1:
        return (4, 2) if unit[0].cjk else (4, 1)
    return 3, 1


def repetition_cuts(text: str) -> list[tuple[int, int]]:
    """Character spans of ``text`` that repeat the phrase after them in a loop (to be removed).

    At each position the repeated unit covering the most tokens wins (the shorter unit on a
    tie); all but the last occurrence(s) of it are cut."""
    tokens = _tokens(text)
    keys = [token.key for token in tokens]
    cuts: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        best: tuple[int, int] | None = None  # (unit length, repeats)
        for length in range(1, min(MAX_UNIT_TOKENS, (len(tokens) - i) // 2) + 1):
            unit = keys[i : i + length]
            repeats = 1
            while keys[i + repeats * length : i + (repeats + 1) * length] == unit:
                repeats += 1
            needed, _ = _min_repeats(tokens[i : i + length])
            if repeats >= needed and (best is None or length * repeats > best[0] * best[1]):
                best = (length, repeats)
        if best is None:
            i += 1
            continue
        length, repeats = best
        _, keep = _min_repeats(tokens[i : i + length])
        first_kept = i + (repeats - keep) * length
        cuts.append((tokens[i].start, tokens[first_kept].start))
        i += repeats * length
    return cuts


def cut_text(text: str, cuts: Sequence[tuple[int, int]]) -> str:
    pieces, position = [], 0
    for start, end in cuts:
        pieces.append(text[position:start])
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def collapse_repetitions(text: str) -> str:
    """``text`` with repetition loops reduced (see ``repetition_cuts``)."""
    cuts = repetition_cuts(text)
    return cut_text(text, cuts).strip() if cuts else text


def cut_segment_loops(segment: TranscriptSegment) -> TranscriptSegment:
    """The segment with in-segment repetition loops cut from its text and its words.

    With words, the loop is found in the words' joined text (whisper's word texts carry their
    leading spaces, so they join into the segment text); a word is dropped when its text lies in
    a cut span, and the segment's text and times follow the words that remain."""
    if not segment.words:
        cuts = repetition_cuts(segment.text)
        if not cuts:
            return segment
        return segment.model_copy(update={"text": cut_text(segment.text, cuts).strip()})
    joined = "".join(word.text for word in segment.words)
    cuts = repetition_cuts(joined)
    if not cuts:
        return segment
    kept: list[Word] = []
    position = 0
    for word in segment.words:
        stripped = word.text.strip()
        start = position + (word.text.find(stripped) if stripped else 0)
        end = start + len(stripped)
        position += len(word.text)
        if not any(cut_start <= start and end <= cut_end for cut_start, cut_end in cuts):
            kept.append(word)
    if not kept:
        return segment.model_copy(update={"text": "", "words": ()})
    return segment.model_copy(
        update={
            "text": "".join(word.text for word in kept).strip(),
            "words": tuple(kept),
            "end": max(kept[-1].end, segment.start),
        }
    )


def _segment_key(text: str) -> str:
    return "".join(token.key for token in _tokens(text))


def collapse_repeated_segments(
    segments: Sequence[TranscriptSegment], min_run: int = 3
) -> list[TranscriptSegment]:
    """Runs of ``min_run`` or more consecutive segments with the same text become their first."""
    result: list[TranscriptSegment] = []
    index = 0
    while index < len(segments):
        key = _segment_key(segments[index].text)
        run = 1
        while index + run < len(segments) and _segment_key(segments[index + run].text) == key:
            run += 1
        if key and run >= min_run:
            result.append(segments[index])
        else:
            result.extend(segments[index : index + run])
        index += run
    return result


# --- whole transcripts -----------------------------------------------------------------------


def postprocess_segments(
    segments: Sequence[TranscriptSegment], language: str, duration: float
) -> list[TranscriptSegment]:
    """Simplified Chinese, loops cut, times clamped to the clip and ordered, texts stripped."""
    cleaned: list[TranscriptSegment] = []
    for segment in segments:
        if language in CHINESE_LANGUAGES:
            segment = simplify_segment(segment)
        segment = cut_segment_loops(segment)
        if segment.text.strip():
            cleaned.append(segment)
    cleaned = collapse_repeated_segments(cleaned)
    return sorted((_tidy(segment, duration) for segment in cleaned), key=lambda s: s.start)


def _tidy(segment: TranscriptSegment, duration: float) -> TranscriptSegment:
    def clamp(value: float) -> float:
        return round(min(max(value, 0.0), duration), 3)

    words = []
    previous_end = clamp(segment.start)
    for word in segment.words:
        text = word.text.strip()
        if not text:
            continue
        start = max(clamp(word.start), previous_end)
        end = max(clamp(word.end), start)
        words.append(word.model_copy(update={"text": text, "start": start, "end": end}))
        previous_end = end
    start = clamp(segment.start)
    end = max(clamp(segment.end), start)
    if words:
        start, end = min(start, words[0].start), max(end, words[-1].end)
    return segment.model_copy(
        update={"text": segment.text.strip(), "start": start, "end": end, "words": tuple(words)}
    )


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """What a backend made of one chunk: times relative to the chunk's start."""

    language: str
    language_probability: float | None
    segments: list[TranscriptSegment]


ChunkRunner = Callable[[AudioClip, str | None, Callable[[float], None]], ChunkResult]
"""``run(chunk, language or None to detect, report(seconds done in the chunk))``."""


@dataclass(frozen=True, slots=True)
class ChunkedOutput:
    language: str
    language_probability: float | None
    segments: list[TranscriptSegment]


def transcribe_in_chunks(
    clip: AudioClip,
    chunk_s: float,
    run: ChunkRunner,
    *,
    language: str | None,
    fallback_language: str = "en",
    progress: Progress | None = None,
) -> ChunkedOutput:
    """Run ``run`` over chunks of at most ``chunk_s`` seconds cut at quiet points.

    Without a forced ``language`` the first chunk that yields speech decides it, and later
    chunks reuse it (one meeting, one language). Times come back in seconds of the whole clip.
    Progress is reported as the share of the clip done, below 100 (the caller reports 100)."""
    duration = max(clip.duration, 1e-9)
    detected: str | None = language
    probability: float | None = 1.0 if language else None
    first_guess: tuple[str, float | None] | None = None
    segments: list[TranscriptSegment] = []
    for first, last in plan_chunks(clip.samples, chunk_s, sample_rate=clip.sample_rate):
        offset = first / clip.sample_rate
        chunk = AudioClip(
            samples=clip.samples[first:last], source=clip.source, sample_rate=clip.sample_rate
        )

        def report(done: float, offset: float = offset) -> None:
            if progress is not None:
                progress("transcribing", min(99.0, 100.0 * (offset + max(done, 0.0)) / duration))

        result = run(chunk, detected, report)
        if detected is None:
            if any(segment.text.strip() for segment in result.segments):
                detected, probability = result.language, result.language_probability
            elif first_guess is None:
                first_guess = (result.language, result.language_probability)
        segments.extend(shift_segment(segment, offset) for segment in result.segments)
        report(last / clip.sample_rate - offset)
    if detected is None:
        detected, probability = first_guess or (fallback_language, None)
    return ChunkedOutput(detected, probability, segments)


def shift_segment(segment: TranscriptSegment, offset: float) -> TranscriptSegment:
    if not offset:
        return segment
    words = tuple(
        word.model_copy(update={"start": word.start + offset, "end": word.end + offset})
        for word in segment.words
    )
    return segment.model_copy(
        update={"start": segment.start + offset, "end": segment.end + offset, "words": words}
    )


def build_transcript(
    clip: AudioClip, output: ChunkedOutput, *, backend: str, model: str
) -> Transcript:
    segments = postprocess_segments(output.segments, output.language, clip.duration)
    return Transcript(
        language=output.language,
        duration=clip.duration,
        segments=tuple(segments),
        backend=backend,
        model=model,
        language_probability=output.language_probability,
    )
