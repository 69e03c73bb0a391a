"""The minutes stage: a speaker-attributed transcript -> minutes, through the one summarizer.

A meeting is a conversation like any chat: this stage only turns transcript segments into
utterances and says what is meeting-specific (the meeting's date for relative due dates, the
attendees and enrolled speakers as the people a to-do may go to, the recording's times), then
hands them to ``chat_summary.summarize``. Topics come back with time ranges and every to-do and
decision with the time (``at``) of the sentence it comes from.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date as Date

from chat_summary.summarize import summarize
from chat_summary.types import Minutes, Utterance
from llm.service import LLM
from meeting.types import MeetingInfo, Progress, SpeakerInfo, Transcript, TranscriptSegment

log = logging.getLogger(__name__)

STAGE = "minutes"
MERGE_GAP_S = 1.5
"""Consecutive segments of one speaker closer than this join into one utterance: speech
recognition cuts sentences at pauses, and a commitment cut in two ("I will fix the login
bug" / "before next Wednesday") must reach the summarizer whole."""
MERGE_MAX_CHARS = 400
UNKNOWN_SPEAKER = {"zh": "未知说话人", "en": "Unknown speaker"}


def _joiner(language: str) -> str:
    return "" if language in {"zh", "ja", "yue"} else " "


def utterances_of(transcript: Transcript, speakers: Sequence[SpeakerInfo] = ()) -> list[Utterance]:
    """The transcript's segments as utterances (speaker, text, at=start, end), consecutive
    segments of one speaker joined. A diarization label still in a segment ("SPEAKER_00") is
    shown by its display name from ``speakers``."""
    display = {info.label: info.name for info in speakers}
    unknown = UNKNOWN_SPEAKER["zh" if transcript.language == "zh" else "en"]
    joiner = _joiner(transcript.language)
    merged: list[tuple[str, list[TranscriptSegment]]] = []
    for segment in sorted(transcript.segments, key=lambda s: (s.start, s.end)):
        if not segment.text.strip():
            continue
        speaker = display.get(segment.speaker or "", segment.speaker or "") or unknown
        if merged:
            last_speaker, group = merged[-1]
            joined = sum(len(s.text) for s in group) + len(segment.text)
            if (
                last_speaker == speaker
                and segment.start - group[-1].end <= MERGE_GAP_S
                and joined <= MERGE_MAX_CHARS
            ):
                group.append(segment)
                continue
        merged.append((speaker, [segment]))
    return [
        Utterance(
            speaker=speaker,
            text=joiner.join(s.text.strip() for s in group),
            at=group[0].start,
            end=group[-1].end,
        )
        for speaker, group in merged
    ]


def write_minutes(
    llm: LLM | None,
    transcript: Transcript,
    info: MeetingInfo,
    speakers: Sequence[SpeakerInfo] = (),
    progress: Progress | None = None,
) -> Minutes:
    """Minutes of the meeting (synchronous: run it in a job thread).

    Relative due dates resolve against ``info.date`` (today when unknown); owners can only be
    attendees or people who spoke; the language is ``info.language`` when forced, else the
    transcript's. Progress is reported as the stage "minutes".
    """
    utterances = utterances_of(transcript, speakers)
    names = [*info.attendees, *(s.name for s in speakers), *(u.speaker for u in utterances)]
    participants = list(dict.fromkeys(n for n in names if n.strip()))

    def report(stage: str, percent: float) -> None:
        if progress is not None:
            progress(STAGE, percent)

    report(STAGE, 0.0)
    log.info(
        "writing minutes: %d segments as %d utterances, %d participants",
        len(transcript.segments),
        len(utterances),
        len(participants),
    )
    return summarize(
        llm,
        utterances,
        language=info.language or transcript.language,
        reference_date=info.date or Date.today(),
        participants=participants,
        kind="meeting",
        progress=report,
    )
