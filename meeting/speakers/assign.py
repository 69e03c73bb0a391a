"""Words to speakers: each word goes to the speaker whose turns overlap it most.

One sweep over the words and the turns, both in time order, keeps the turns that can still
overlap the current word in a small active list; each turn enters and leaves it once, so the
cost is linear in words + turns (times the number of turns overlapping at once, which
overlapped speech keeps small). A word no turn overlaps takes the nearest turn's speaker. A
segment whose words change speaker is split there.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

from meeting.types import Diarization, SpeakerInfo, SpeakerTurn, TranscriptSegment, Word


def _is_cjk(char: str) -> bool:
    """Chinese, Japanese and Korean characters and full-width punctuation: no spaces between."""
    code = ord(char)
    return (
        0x2E80 <= code <= 0x9FFF  # radicals, CJK punctuation, kana, unified ideographs
        or 0xAC00 <= code <= 0xD7AF  # hangul syllables
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0xFE30 <= code <= 0xFE4F  # CJK compatibility forms
        or 0xFF00 <= code <= 0xFFEF  # full-width forms
        or 0x20000 <= code <= 0x3FFFF  # extension ideographs
        or unicodedata.east_asian_width(char) in ("W", "F")
    )


def join_words(words: Iterable[Word]) -> str:
    """The words' text: as given where a word carries its own spacing (whisper's " word"),
    nothing between CJK characters, a space between other words."""
    text = ""
    for word in words:
        piece = word.text
        if not piece:
            continue
        if (
            text
            and not text[-1].isspace()
            and not piece[0].isspace()
            and not (_is_cjk(text[-1]) or _is_cjk(piece[0]))
        ):
            text += " "
        text += piece
    return text.strip()


class _Sweep:
    """The speaker of each interval, for intervals queried in order of start time."""

    def __init__(self, turns: Sequence[SpeakerTurn]) -> None:
        self.turns = sorted(turns, key=lambda turn: (turn.start, turn.end))
        self.next = 0
        self.active: list[SpeakerTurn] = []
        self.last_ended: SpeakerTurn | None = None

    def speaker(self, start: float, end: float) -> str | None:
        turns = self.turns
        while self.next < len(turns) and turns[self.next].start < end:
            self.active.append(turns[self.next])
            self.next += 1
        if any(turn.end <= start for turn in self.active):
            still: list[SpeakerTurn] = []
            for turn in self.active:
                if turn.end <= start:
                    if self.last_ended is None or turn.end > self.last_ended.end:
                        self.last_ended = turn
                else:
                    still.append(turn)
            self.active = still
        overlap: dict[str, float] = {}
        for turn in self.active:
            shared = min(end, turn.end) - max(start, turn.start)
            if shared > 0 or (shared == 0 and turn.start <= start <= turn.end):
                overlap[turn.speaker] = overlap.get(turn.speaker, 0.0) + shared
        if overlap:
            return max(overlap, key=lambda speaker: overlap[speaker])
        before = start - self.last_ended.end if self.last_ended is not None else math.inf
        upcoming = turns[self.next] if self.next < len(turns) else None
        after = upcoming.start - end if upcoming is not None else math.inf
        if upcoming is not None and after < before:
            return upcoming.speaker
        if self.last_ended is not None:
            return self.last_ended.speaker
        # Only turns that started before the interval and end within it remain (a word
        # longer than the turn): take the active one nearest in time.
        if self.active:
            return min(self.active, key=lambda turn: abs(turn.start - start)).speaker
        return None


def assign_speakers(
    segments: Sequence[TranscriptSegment], diarization: Diarization | None
) -> tuple[TranscriptSegment, ...]:
    """Segments with ``speaker`` set from the diarization, split where the speaker changes.

    Segments keep their order; a segment without words takes the speaker of its whole span.
    Words and turns are swept in time order (sorting what an ASR backend returns, already in
    order, is itself linear).
    """
    if diarization is None or not diarization.turns:
        return tuple(segments)
    intervals: list[tuple[float, float, int, int]] = []
    for seg_index, segment in enumerate(segments):
        if segment.words:
            intervals.extend(
                (word.start, max(word.start, word.end), seg_index, word_index)
                for word_index, word in enumerate(segment.words)
            )
        else:
            intervals.append((segment.start, max(segment.start, segment.end), seg_index, -1))
    intervals.sort(key=lambda interval: interval[0])
    speakers: list[list[str | None]] = [[None] * max(1, len(s.words)) for s in segments]
    sweep = _Sweep(diarization.turns)
    for start, end, seg_index, word_index in intervals:
        speakers[seg_index][max(0, word_index)] = sweep.speaker(start, end)
    result: list[TranscriptSegment] = []
    for segment, found in zip(segments, speakers, strict=True):
        result.extend(_split(segment, found))
    return tuple(result)


MIN_RUN_S = 0.8
"""Inside one recognized segment, a change of speaker for less than this long is a turn
boundary the diarizer placed a little off (its windows are 0.75-1.5 s), not a second voice:
those words go to the neighbouring speaker. Without this, "我负责..." split as "我负" | "责..."
and lost the first person that makes it a commitment. A short run set apart by a pause
(``JOIN_GAP_S``) is a real change of speaker and stays."""
JOIN_GAP_S = 0.3


def _touching(words: Sequence[Word], runs: list[tuple[int, int]], run: int) -> list[int]:
    """The neighbours of ``run`` that follow on without a pause."""
    found = []
    if run > 0 and words[runs[run][0]].start - words[runs[run - 1][1] - 1].end < JOIN_GAP_S:
        found.append(run - 1)
    if run + 1 < len(runs) and words[runs[run + 1][0]].start - words[runs[run][1] - 1].end < (
        JOIN_GAP_S
    ):
        found.append(run + 1)
    return found


def _smooth_runs(words: Sequence[Word], speakers: list[str | None]) -> list[str | None]:
    """Speakers per word with runs shorter than ``MIN_RUN_S`` given to their longer neighbour."""
    speakers = list(speakers)
    while True:
        runs: list[tuple[int, int]] = []  # [start, end) word ranges of one speaker
        for index in range(len(words)):
            if runs and speakers[index] == speakers[runs[-1][0]]:
                runs[-1] = (runs[-1][0], index + 1)
            else:
                runs.append((index, index + 1))
        lengths = [words[end - 1].end - words[start].start for start, end in runs]

        short = [
            i for i in range(len(runs)) if lengths[i] < MIN_RUN_S and _touching(words, runs, i)
        ]
        if not short:
            return speakers
        shortest = min(short, key=lengths.__getitem__)
        into = max(_touching(words, runs, shortest), key=lengths.__getitem__)
        start, end = runs[shortest]
        speakers[start:end] = [speakers[runs[into][0]]] * (end - start)


def _split(segment: TranscriptSegment, speakers: list[str | None]) -> list[TranscriptSegment]:
    if segment.words:
        speakers = _smooth_runs(segment.words, speakers)
    if not segment.words or all(speaker == speakers[0] for speaker in speakers):
        return [segment.model_copy(update={"speaker": speakers[0]})]
    pieces: list[TranscriptSegment] = []
    first = 0
    words = segment.words
    for position in range(1, len(words) + 1):
        if position < len(words) and speakers[position] == speakers[first]:
            continue
        run = words[first:position]
        pieces.append(
            TranscriptSegment(
                start=segment.start if first == 0 else run[0].start,
                end=segment.end if position == len(words) else run[-1].end,
                text=join_words(run),
                words=run,
                speaker=speakers[first],
            )
        )
        first = position
    return pieces


def rename_speakers(
    segments: Sequence[TranscriptSegment],
    names: Mapping[str, str] | Iterable[SpeakerInfo],
) -> tuple[TranscriptSegment, ...]:
    """Segments with diarization labels (``SPEAKER_00``) replaced by display names; labels
    without a name are kept as they are."""
    mapping = (
        dict(names) if isinstance(names, Mapping) else {info.label: info.name for info in names}
    )
    return tuple(
        segment.model_copy(update={"speaker": mapping.get(segment.speaker, segment.speaker)})
        if segment.speaker is not None
        else segment
        for segment in segments
    )
