"""Synthetic meetings for the tests, spoken by espeak-ng at test time.

A script is a list of (speaker, text) lines; each speaker has an espeak-ng voice. The lines are
spoken one by one, resampled to 16 kHz and joined with short pauses into one mono WAV, and the
ground truth (who said what, from when to when) comes back with it. Results are cached by
content, so a script is spoken once per test session.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000


@dataclass(frozen=True, slots=True)
class Voice:
    """An espeak-ng voice: ``voice`` like ``en-us+m3``; pitch 0-99; speed in words a minute."""

    voice: str
    pitch: int = 50
    speed: int = 165


@dataclass(frozen=True, slots=True)
class SpokenLine:
    speaker: str
    text: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class SynthMeeting:
    path: Path
    lines: tuple[SpokenLine, ...]
    duration: float
    language: str

    @property
    def speakers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(line.speaker for line in self.lines))

    def speaker_at(self, t: float) -> str | None:
        for line in self.lines:
            if line.start <= t < line.end:
                return line.speaker
        return None

    def text(self) -> str:
        joiner = "" if self.language == "zh" else " "
        return joiner.join(line.text for line in self.lines)


ENGLISH_VOICES = (
    Voice("en-us+m3", pitch=35, speed=160),
    Voice("en-us+f3", pitch=75, speed=170),
    Voice("en-gb+m7", pitch=55, speed=150),
)
MANDARIN_VOICES = (
    Voice("cmn-latn-pinyin+m3", pitch=35, speed=150),
    Voice("cmn-latn-pinyin+f3", pitch=80, speed=160),
    Voice("cmn-latn-pinyin+m7", pitch=55, speed=140),
)


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def _speak(text: str, voice: Voice) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "line.wav"
        subprocess.run(
            [
                "espeak-ng",
                "-v",
                voice.voice,
                "-p",
                str(voice.pitch),
                "-s",
                str(voice.speed),
                "-w",
                str(out),
                text,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        with wave.open(str(out), "rb") as handle:
            rate = handle.getframerate()
            frames = handle.readframes(handle.getnframes())
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    if rate != SAMPLE_RATE:
        from scipy.signal import resample_poly

        divisor = np.gcd(rate, SAMPLE_RATE)
        samples = resample_poly(samples, SAMPLE_RATE // divisor, rate // divisor).astype(np.float32)
    return _trim(samples)


def _trim(samples: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if loud.size == 0:
        return samples
    return samples[max(0, loud[0] - 160) : loud[-1] + 160]


def write_wav(path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())


def synthesize(
    script: list[tuple[str, str]],
    voices: dict[str, Voice],
    cache_dir: Path,
    *,
    language: str,
    gap_s: float = 0.7,
    lead_s: float = 0.5,
    noise: float = 0.002,
) -> SynthMeeting:
    """Speak ``script`` [(speaker, text), ...] with ``voices`` into one 16 kHz WAV."""
    key = hashlib.sha256(
        json.dumps(
            [script, {k: [v.voice, v.pitch, v.speed] for k, v in voices.items()}, gap_s, lead_s],
            ensure_ascii=False,
        ).encode()
    ).hexdigest()[:16]
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"meeting-{language}-{key}.wav"
    truth = path.with_suffix(".json")
    if path.is_file() and truth.is_file():
        data = json.loads(truth.read_text())
        return SynthMeeting(
            path, tuple(SpokenLine(**line) for line in data["lines"]), data["duration"], language
        )
    rng = np.random.default_rng(7)
    pieces = [np.zeros(int(lead_s * SAMPLE_RATE), dtype=np.float32)]
    cursor = lead_s
    lines = []
    gap = np.zeros(int(gap_s * SAMPLE_RATE), dtype=np.float32)
    for speaker, text in script:
        audio = _speak(text, voices[speaker]) * 0.8
        lines.append(SpokenLine(speaker, text, cursor, cursor + len(audio) / SAMPLE_RATE))
        pieces += [audio, gap]
        cursor += (len(audio) + len(gap)) / SAMPLE_RATE
    samples = np.concatenate(pieces)
    samples = samples + rng.normal(0, noise, len(samples)).astype(np.float32)
    write_wav(path, samples)
    duration = len(samples) / SAMPLE_RATE
    truth.write_text(
        json.dumps(
            {
                "lines": [_line_dict(line) for line in lines],
                "duration": duration,
            },
            ensure_ascii=False,
        )
    )
    return SynthMeeting(path, tuple(lines), duration, language)


def _line_dict(line: SpokenLine) -> dict[str, object]:
    return {"speaker": line.speaker, "text": line.text, "start": line.start, "end": line.end}


# --- the scripts: small meetings with known to-dos and dates ------------------------------------

ENGLISH_SCRIPT: list[tuple[str, str]] = [
    ("Bob", "Good morning everyone. Today we review the launch plan for the new mobile app."),
    ("Carol", "The design is finished. The test build is ready for review."),
    ("Bob", "Good. We decided to launch the app on the first of March."),
    ("David", "I will write the press release by Friday."),
    ("Carol", "I will fix the login bug before next Wednesday."),
    ("Bob", "Thank you. Carol also needs to update the user guide by March tenth."),
    ("David", "One open question is the budget for advertising."),
    ("Bob", "Let us discuss the budget next week. That is all for today."),
]
ENGLISH_VOICE_MAP = {
    "Bob": ENGLISH_VOICES[0],
    "Carol": ENGLISH_VOICES[1],
    "David": ENGLISH_VOICES[2],
}

MANDARIN_SCRIPT: list[tuple[str, str]] = [
    ("王强", "大家好，今天我们讨论新产品的发布计划。"),
    ("李娜", "设计已经完成了，测试版本也准备好了。"),
    ("王强", "好的，我们决定三月一日正式发布。"),
    ("张伟", "我负责在下周三之前完成宣传文案。"),
    ("李娜", "我会在周五之前修复登录问题。"),
    ("王强", "谢谢大家，今天的会议就到这里。"),
]
MANDARIN_VOICE_MAP = {
    "王强": MANDARIN_VOICES[0],
    "李娜": MANDARIN_VOICES[1],
    "张伟": MANDARIN_VOICES[2],
}


# --- long meetings (benchmarks): a varied script of about the requested length ------------------

_EN_TOPICS = (
    ("the mobile app release", "the login page", "the test build"),
    ("the marketing budget", "the advertising plan", "the launch event"),
    ("customer support", "the help center", "the response time"),
    ("the hiring plan", "two new engineers", "the interview schedule"),
    ("the office move", "the new meeting rooms", "the network setup"),
)
_EN_LINES = (
    "Let us talk about {a}. We made good progress on {b} this week.",
    "I think {b} needs more work before we show it to customers.",
    "The numbers for {c} look better than last month.",
    "We decided to keep {a} on the current schedule.",
    "I will prepare a short report on {b} by Friday.",
    "Can someone check {c} before next Wednesday?",
    "I can do that. I will send the results to everyone tomorrow.",
    "One open question is who owns {c} after the launch.",
    "Good point. Let us come back to {a} next week.",
)
_ZH_TOPICS = (
    ("新版本发布", "登录页面", "测试版本"),
    ("市场预算", "广告计划", "发布会"),
    ("客户支持", "帮助中心", "响应时间"),
    ("招聘计划", "两名新工程师", "面试安排"),
    ("办公室搬迁", "新会议室", "网络布线"),
)
_ZH_LINES = (
    "我们来讨论一下{a}。这周{b}进展不错。",
    "我觉得{b}还需要再完善一下，然后再给客户看。",
    "{c}的数据比上个月好一些。",
    "我们决定{a}按原计划进行。",
    "我会在周五之前写一份关于{b}的简短报告。",
    "下周三之前谁能检查一下{c}？",
    "我来负责，明天把结果发给大家。",
    "还有一个问题，发布之后{c}由谁负责。",
    "好的，下周我们再讨论{a}。",
)


def long_script(minutes: float, language: str, speakers: tuple[str, ...]) -> list[tuple[str, str]]:
    """A meeting script of roughly ``minutes`` minutes (with 0.7 s pauses), cycling through
    topics and speakers. Measured: a line and its pause take ~4.5 s in English and ~6 s in
    Mandarin with the voices above."""
    topics, lines = (_ZH_TOPICS, _ZH_LINES) if language == "zh" else (_EN_TOPICS, _EN_LINES)
    seconds_per_line = 6.0 if language == "zh" else 4.5
    count = max(1, round(minutes * 60 / seconds_per_line))
    script = []
    for index in range(count):
        a, b, c = topics[(index // len(lines)) % len(topics)]
        template = lines[index % len(lines)]
        script.append((speakers[index % len(speakers)], template.format(a=a, b=b, c=c)))
    return script
