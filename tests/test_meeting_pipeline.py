"""The whole meeting pipeline on recordings: synthetic meetings with a known script, speakers and
to-dos (Chinese and English), and pyannote's real two-speaker call with its reference
transcript. Real models throughout: whisper base, resemblyzer, and the 0.5B shared model.

Figures measured here (2 cores), reported in each test's ``user_properties``:
English: WER ~0.08, speaker share 1.0, all three to-dos with the right owner and due date.
Mandarin: CER ~0.27-0.30 (whisper base is weak on Chinese), speaker share ~0.98, both to-dos.
pyannote sample (real telephone speech): WER ~0.2, DER see test_meeting_speakers.
"""

from __future__ import annotations

import importlib.metadata
import logging
from datetime import date
from pathlib import Path

import pytest

from llm.service import LLM
from meeting.config import MeetingSettings
from meeting.pipeline import MeetingPipeline, Overall
from meeting.types import MeetingInfo, MeetingResult
from tests.support.asr_metrics import cer, wer
from tests.support.synth_meeting import (
    ENGLISH_VOICE_MAP,
    MANDARIN_VOICE_MAP,
    SynthMeeting,
    Voice,
    synthesize,
)

log = logging.getLogger(__name__)
MEETING_DAY = date(2027, 2, 22)  # a Monday
SAMPLE_DIR = Path(
    str(importlib.metadata.distribution("pyannote.audio").locate_file("pyannote/audio/sample"))
)

# (owner, words the task must contain, due date) for each to-do in the scripts
ENGLISH_TODOS = [
    ("David", "press release", date(2027, 2, 26)),  # "by Friday"
    ("Carol", "login bug", date(2027, 3, 3)),  # "before next Wednesday"
    ("Carol", "user guide", date(2027, 3, 10)),  # "by March tenth"
]
MANDARIN_TODOS = [
    ("张伟", "文案", date(2027, 3, 3)),  # "下周三之前"
    ("李娜", "修复", date(2027, 2, 26)),  # "周五之前" (whisper base often mishears 登录)
]
ENROLL_LINES = {
    "en": "Hello, this is {name}. I am recording a sample of my voice today.",
    "zh": "你好，我是{name}。我正在录一段自己的声音样本。",
}


def report(request: pytest.FixtureRequest, name: str, value: float) -> None:
    request.node.user_properties.append((name, value))
    log.info("%s: %s = %s", request.node.name, name, value)


@pytest.fixture(scope="module")
def pipeline(speech_cache: Path) -> MeetingPipeline:
    return MeetingPipeline(MeetingSettings(), speech_cache)


def _voiceprints(
    pipeline: MeetingPipeline, voices: dict[str, Voice], language: str, directory: Path
) -> dict[str, tuple[float, ...]]:
    prints = {}
    for name, voice in voices.items():
        sample = synthesize(
            [(name, ENROLL_LINES[language].format(name=name))],
            {name: voice},
            directory,
            language=language,
        )
        prints[name] = pipeline.enroll(sample.path)
    return prints


def _speaker_share(result: MeetingResult, meeting: SynthMeeting) -> float:
    spoken = right = 0.0
    for segment in result.transcript.segments:
        length = segment.end - segment.start
        spoken += length
        if segment.speaker == meeting.speaker_at((segment.start + segment.end) / 2):
            right += length
    return right / max(spoken, 1e-9)


def _todo_accuracy(
    result: MeetingResult, expected: list[tuple[str, str, date]]
) -> tuple[float, float]:
    """Share of expected to-dos found with the right owner, and with the right due date."""
    assert result.minutes is not None
    owners = dues = 0
    for owner, words, due in expected:
        matches = [t for t in result.minutes.todos if words in (t.task + " " + t.quote).lower()]
        owners += any(t.owner == owner for t in matches)
        dues += any(t.due == due for t in matches)
    return owners / len(expected), dues / len(expected)


def _check_grounded(result: MeetingResult, names: set[str]) -> None:
    """Nothing invented: owners are people of the meeting, quotes come from the transcript."""
    assert result.minutes is not None
    transcript = result.transcript.text
    for todo in result.minutes.todos:
        assert todo.owner is None or todo.owner in names, todo
        assert todo.quote, todo
        assert todo.quote.strip()[:12] in transcript, todo
        assert todo.due is None or todo.due >= MEETING_DAY, todo
        assert todo.at is not None
        assert 0 <= todo.at <= result.duration


@pytest.mark.slow
def test_english_meeting_end_to_end(
    pipeline: MeetingPipeline,
    english_meeting: SynthMeeting,
    small_llm: LLM,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    prints = _voiceprints(pipeline, ENGLISH_VOICE_MAP, "en", tmp_path)
    stages: list[tuple[str, float]] = []
    result = pipeline.run(
        english_meeting.path,
        MeetingInfo(title="Launch review", date=MEETING_DAY, attendees=("Bob", "Carol", "David")),
        llm=small_llm,
        voiceprints=prints,
        progress=Overall(lambda stage, percent: stages.append((stage, percent))),
    )
    error = wer(english_meeting.text(), result.transcript.text)
    share = _speaker_share(result, english_meeting)
    owner_ok, due_ok = _todo_accuracy(result, ENGLISH_TODOS)
    for name, value in (("wer", error), ("speaker_share", share)):
        report(request, name, round(value, 3))
    report(request, "todo_owner_accuracy", owner_ok)
    report(request, "todo_due_accuracy", due_ok)
    assert result.transcript.language == "en"
    assert error <= 0.2
    assert {s.name for s in result.speakers} == {"Bob", "Carol", "David"}
    assert share >= 0.9
    _check_grounded(result, {"Bob", "Carol", "David"})
    assert owner_ok >= 2 / 3
    assert due_ok >= 2 / 3
    assert result.minutes is not None
    assert result.minutes.summary
    # one overall percent that only grows, through every stage, to 100
    percents = [p for _, p in stages]
    assert percents == sorted(percents)
    assert percents[-1] == pytest.approx(100)
    assert [s for s, _ in stages][-1] == "minutes"
    assert {t.stage for t in result.timings} == {"decoding", "transcribing", "speakers", "minutes"}


@pytest.mark.slow
def test_mandarin_meeting_end_to_end(
    pipeline: MeetingPipeline,
    mandarin_meeting: SynthMeeting,
    small_llm: LLM,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    prints = _voiceprints(pipeline, MANDARIN_VOICE_MAP, "zh", tmp_path)
    result = pipeline.run(
        mandarin_meeting.path,
        MeetingInfo(title="发布计划", date=MEETING_DAY, attendees=("王强", "李娜", "张伟")),
        llm=small_llm,
        voiceprints=prints,
    )
    error = cer(mandarin_meeting.text(), result.transcript.text)
    share = _speaker_share(result, mandarin_meeting)
    owner_ok, due_ok = _todo_accuracy(result, MANDARIN_TODOS)
    report(request, "cer", round(error, 3))
    report(request, "speaker_share", round(share, 3))
    report(request, "todo_owner_accuracy", owner_ok)
    report(request, "todo_due_accuracy", due_ok)
    assert result.transcript.language == "zh"
    assert error <= 0.4
    assert {s.name for s in result.speakers} == {"王强", "李娜", "张伟"}
    assert share >= 0.9
    _check_grounded(result, {"王强", "李娜", "张伟"})
    assert owner_ok >= 0.5
    assert due_ok >= 0.5


def _reference_transcript() -> str:
    lines = (SAMPLE_DIR / "sample.stm").read_text().splitlines()
    return " ".join(" ".join(line.split()[5:]) for line in lines if line.strip())


def test_real_call_transcript_and_speakers(
    pipeline: MeetingPipeline, request: pytest.FixtureRequest
) -> None:
    """pyannote's SAMPLE_FILE: 30 s of real telephone speech, two speakers, with a reference
    transcript (sample.stm); no enrolled voices, so speakers are "Speaker 1" and "Speaker 2"."""
    result = pipeline.run(SAMPLE_DIR / "sample.wav", MeetingInfo(language="en"))
    error = wer(_reference_transcript(), result.transcript.text)
    report(request, "wer", round(error, 3))
    assert error <= 0.35
    assert {s.name for s in result.speakers} == {"Speaker 1", "Speaker 2"}
    assert result.diarization is not None
    rttm = result.diarization.to_rttm("sample")
    assert rttm.startswith("SPEAKER sample 1 ")
    # the two people take turns: both get a fair share of the talk time
    talk = sorted(s.talk_time for s in result.speakers)
    assert talk[0] / sum(talk) > 0.25
