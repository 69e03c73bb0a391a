"""The typed values that flow between the meeting pipeline's stages.

Each stage takes one of these and returns a frozen, serializable result (pydantic models, so a
job can store them as JSON and ``model_validate`` reads them back). Times are seconds from the
start of the recording.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date as Date
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from chat_summary.types import Minutes

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

Progress = Callable[[str, float], None]
"""``progress(stage, percent)``: the stage's name and how far it is, 0-100."""

SAMPLE_RATE = 16_000
"""Every stage works on 16 kHz mono float32 samples in [-1, 1]."""


def no_progress(stage: str, percent: float) -> None:
    """A ``Progress`` that ignores reports."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, slots=True, eq=False)
class AudioClip:
    """Decoded audio: 16 kHz mono float32 samples."""

    samples: npt.NDArray[np.float32]
    source: str = ""
    sample_rate: int = SAMPLE_RATE
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return float(len(self.samples)) / self.sample_rate

    def slice(self, start: float, end: float) -> npt.NDArray[np.float32]:
        """The samples between ``start`` and ``end`` seconds (clamped to the clip)."""
        first = max(0, round(start * self.sample_rate))
        last = min(len(self.samples), round(end * self.sample_rate))
        return self.samples[first : max(first, last)]


class Word(_Frozen):
    start: float
    end: float
    text: str
    probability: float = 1.0


class TranscriptSegment(_Frozen):
    """One recognized stretch of speech; ``speaker`` is set once speakers are assigned."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    speaker: str | None = None


class Transcript(_Frozen):
    language: str
    """ISO 639-1 code, e.g. ``zh`` or ``en``."""
    duration: float
    segments: tuple[TranscriptSegment, ...]
    backend: str = ""
    model: str = ""
    language_probability: float | None = None

    @property
    def text(self) -> str:
        joiner = "" if self.language in {"zh", "ja", "yue"} else " "
        return joiner.join(s.text.strip() for s in self.segments if s.text.strip())


class SpeakerTurn(_Frozen):
    start: float
    end: float
    speaker: str


class Diarization(_Frozen):
    """Who spoke when. Speaker labels are ``SPEAKER_00``, ``SPEAKER_01``... in order of first
    appearance; ``centroids`` holds each speaker's mean voice embedding (for enrollment)."""

    turns: tuple[SpeakerTurn, ...]
    speakers: tuple[str, ...]
    centroids: dict[str, tuple[float, ...]] = Field(default_factory=dict)
    backend: str = ""

    def to_annotation(self, uri: str = "meeting") -> Any:
        """As a ``pyannote.core.Annotation`` (needs the pyannote.core package)."""
        from pyannote.core import Annotation, Segment

        annotation = Annotation(uri=uri)
        for index, turn in enumerate(self.turns):
            annotation[Segment(turn.start, turn.end), index] = turn.speaker
        return annotation

    def to_rttm(self, uri: str = "meeting") -> str:
        """RTTM lines (``SPEAKER uri 1 start duration <NA> <NA> speaker <NA> <NA>``)."""
        safe_uri = "_".join(uri.split()) or "meeting"
        return "".join(
            f"SPEAKER {safe_uri} 1 {turn.start:.3f} {turn.end - turn.start:.3f} "
            f"<NA> <NA> {turn.speaker} <NA> <NA>\n"
            for turn in self.turns
        )

    def talk_time(self) -> dict[str, float]:
        """Seconds of speech per speaker (overlaps counted for each speaker)."""
        totals = dict.fromkeys(self.speakers, 0.0)
        for turn in self.turns:
            totals[turn.speaker] = totals.get(turn.speaker, 0.0) + (turn.end - turn.start)
        return totals


class SpeakerInfo(_Frozen):
    """How a diarization label is shown: an enrolled person's name or "Speaker N"."""

    label: str
    name: str
    enrolled: bool = False
    similarity: float | None = None
    talk_time: float = 0.0


class MeetingInfo(_Frozen):
    title: str = ""
    date: Date | None = None
    """The meeting's date: relative due dates ("下周三", "by Friday") resolve against it."""
    attendees: tuple[str, ...] = ()
    language: str | None = None
    """Force a language (``zh``, ``en``); None detects it."""


class StageTiming(_Frozen):
    stage: str
    seconds: float


class MeetingResult(_Frozen):
    """Everything the pipeline produced for one recording."""

    info: MeetingInfo
    duration: float
    transcript: Transcript
    """Segments carry the speaker's display name in ``speaker``."""
    speakers: tuple[SpeakerInfo, ...] = ()
    diarization: Diarization | None = None
    minutes: Minutes | None = None
    timings: tuple[StageTiming, ...] = ()
