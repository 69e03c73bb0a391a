"""The meeting pipeline: audio -> transcript -> speakers -> minutes, as one typed call.

``MeetingPipeline`` owns the stage objects (transcriber, diarizer, voice embedder), each loading
its model lazily on first use; keep one pipeline per process (``shared_pipeline``) so a server
loads each model once. ``run`` reports ``progress(stage, percent_of_stage)``; ``Overall`` turns
that into one percent for a job.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from meeting.asr import Transcriber, create_transcriber
from meeting.audio import load_audio
from meeting.config import MeetingSettings
from meeting.speakers import Diarizer, create_diarizer
from meeting.types import (
    AudioClip,
    MeetingInfo,
    MeetingResult,
    Progress,
    SpeakerInfo,
    StageTiming,
    Transcript,
    no_progress,
)

if TYPE_CHECKING:
    from llm.service import LLM

log = logging.getLogger(__name__)

STAGES = ("decoding", "transcribing", "speakers", "minutes")
STAGE_WEIGHTS = {"decoding": 3.0, "transcribing": 57.0, "speakers": 15.0, "minutes": 25.0}
"""Share of the whole run each stage takes (roughly, on the default stack)."""


class Overall:
    """Maps per-stage progress to one 0-100 percent for a job's progress bar."""

    def __init__(self, report: Progress, stages: Sequence[str] = STAGES) -> None:
        self._report = report
        total = sum(STAGE_WEIGHTS[s] for s in stages) or 1.0
        self._start: dict[str, float] = {}
        self._weight: dict[str, float] = {}
        acc = 0.0
        for stage in stages:
            self._start[stage] = 100.0 * acc / total
            self._weight[stage] = STAGE_WEIGHTS[stage] / total
            acc += STAGE_WEIGHTS[stage]

    def __call__(self, stage: str, percent: float) -> None:
        start = self._start.get(stage)
        if start is None:
            return
        clamped = max(0.0, min(100.0, percent))
        self._report(stage, start + self._weight[stage] * clamped)


class MeetingPipeline:
    def __init__(
        self,
        settings: MeetingSettings,
        cache_dir: Path,
        *,
        transcriber: Transcriber | None = None,
        diarizer: Diarizer | None = None,
    ) -> None:
        self.settings = settings
        self.cache_dir = cache_dir
        self.transcriber = transcriber or create_transcriber(settings, cache_dir)
        self.diarizer = diarizer if diarizer is not None else create_diarizer(settings)

    def decode(self, path: Path) -> AudioClip:
        return load_audio(path, self.settings.audio)

    def transcribe(
        self,
        source: Path | AudioClip,
        *,
        language: str | None = None,
        hotwords: Sequence[str] = (),
        progress: Progress = no_progress,
    ) -> Transcript:
        """The transcript alone (no speakers, no minutes)."""
        clip = self._clip(source, progress)
        return self.transcriber.transcribe(
            clip,
            language=language or self.settings.language,
            hotwords=[*self.settings.hotwords, *hotwords],
            initial_prompt=self.settings.initial_prompt,
            progress=progress,
        )

    def run(
        self,
        source: Path | AudioClip,
        info: MeetingInfo,
        *,
        llm: LLM | None = None,
        voiceprints: Mapping[str, Sequence[float]] | None = None,
        hotwords: Sequence[str] = (),
        initial_prompt: str | None = None,
        progress: Progress = no_progress,
    ) -> MeetingResult:
        """Transcript with speakers, named after enrolled voices, and minutes when ``llm``."""
        from meeting.speakers.assign import assign_speakers, rename_speakers
        from meeting.speakers.enroll import name_speakers

        timings: list[StageTiming] = []
        started = time.perf_counter()
        clip = self._clip(source, progress)
        timings.append(StageTiming(stage="decoding", seconds=time.perf_counter() - started))

        mark = time.perf_counter()
        transcript = self.transcriber.transcribe(
            clip,
            language=info.language or self.settings.language,
            hotwords=list(dict.fromkeys([*self.settings.hotwords, *hotwords, *info.attendees])),
            initial_prompt=initial_prompt or self.settings.initial_prompt,
            progress=progress,
        )
        progress("transcribing", 100)
        timings.append(StageTiming(stage="transcribing", seconds=time.perf_counter() - mark))

        mark = time.perf_counter()
        diarization = None
        speakers: tuple[SpeakerInfo, ...] = ()
        segments = transcript.segments
        if self.diarizer is not None:
            diarization = self.diarizer.diarize(
                clip,
                num_speakers=self.settings.num_speakers,
                max_speakers=self.settings.max_speakers,
                progress=progress,
            )
            speakers = name_speakers(
                diarization,
                voiceprints or {},
                threshold=self.settings.enrollment_threshold,
                language=transcript.language,
                attendees=info.attendees,
            )
            names = {speaker.label: speaker.name for speaker in speakers}
            segments = rename_speakers(assign_speakers(segments, diarization), names)
        progress("speakers", 100)
        timings.append(StageTiming(stage="speakers", seconds=time.perf_counter() - mark))
        transcript = transcript.model_copy(update={"segments": tuple(segments)})

        minutes = None
        if llm is not None and self.settings.minutes and transcript.segments:
            from meeting.minutes import write_minutes

            mark = time.perf_counter()
            minutes = write_minutes(llm, transcript, _dated(info), speakers, progress=progress)
            progress("minutes", 100)
            timings.append(StageTiming(stage="minutes", seconds=time.perf_counter() - mark))
        return MeetingResult(
            info=_dated(info),
            duration=clip.duration,
            transcript=transcript,
            speakers=speakers,
            diarization=diarization,
            minutes=minutes,
            timings=tuple(timings),
        )

    def enroll(self, source: Path | AudioClip) -> tuple[float, ...]:
        """A voiceprint from a sample of one person speaking (the diarizer's encoder, shared)."""
        from meeting.speakers.embedding import shared_embedder
        from meeting.speakers.enroll import enroll

        return enroll(self._clip(source, no_progress), shared_embedder())

    def _clip(self, source: Path | AudioClip, progress: Progress) -> AudioClip:
        if isinstance(source, AudioClip):
            progress("decoding", 100)
            return source
        progress("decoding", 0)
        clip = self.decode(source)
        progress("decoding", 100)
        return clip


def _dated(info: MeetingInfo) -> MeetingInfo:
    return info if info.date is not None else info.model_copy(update={"date": date.today()})


_shared: dict[tuple[str, str], MeetingPipeline] = {}
_shared_lock = threading.Lock()


def shared_pipeline(settings: MeetingSettings, cache_dir: Path) -> MeetingPipeline:
    """One pipeline (and so one set of loaded models) per settings and cache, per process."""
    key = (settings.model_dump_json(), str(cache_dir))
    with _shared_lock:
        pipeline = _shared.get(key)
        if pipeline is None:
            pipeline = _shared[key] = MeetingPipeline(settings, cache_dir)
        return pipeline
