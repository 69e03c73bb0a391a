"""Meeting pipeline benchmark: real-time factor per stage on a synthetic meeting.

Builds a meeting of ``--minutes`` minutes (default 10) spoken by espeak-ng with three voices,
then runs the default stack (faster-whisper base int8 + VAD, resemblyzer speakers, minutes and
to-dos from the shared model) and reports, per stage and in total, seconds and real-time factor
(RTF = processing time / audio duration: 0.25 means a one-hour meeting takes 15 minutes).

The baseline, measured in the same run on the same audio and the same weights: openai-whisper
(the ``whisper`` package, weights converted from the CTranslate2 files) against faster-whisper
on the first ``--baseline-minutes`` (default 2) of the meeting; openai-whisper runs near real
time here, so a whole 10 minutes would add 10 more. The process's peak memory is reported after
each part.

    .venv/bin/python bench/meeting.py                # 10 minutes, English, default model
    .venv/bin/python bench/meeting.py --language zh --minutes 5 --llm qwen2.5-coder-0.5b
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llm.config import LLMSettings  # noqa: E402
from llm.factory import create_llm  # noqa: E402
from meeting.config import MeetingSettings  # noqa: E402
from meeting.pipeline import MeetingPipeline  # noqa: E402
from meeting.types import AudioClip, MeetingInfo  # noqa: E402
from tests.support.synth_meeting import (  # noqa: E402
    ENGLISH_VOICES,
    MANDARIN_VOICES,
    long_script,
    synthesize,
)

EN_NAMES = ("Bob", "Carol", "David")
ZH_NAMES = ("王强", "李娜", "张伟")
TARGET_RTF = 0.25


def compare_backends(args: argparse.Namespace, audio: Path) -> dict[str, object]:
    """faster-whisper and openai-whisper on the same excerpt and the same weights."""
    fast = MeetingPipeline(MeetingSettings(), args.cache)
    slow = MeetingPipeline(MeetingSettings(asr_backend="openai-whisper"), args.cache)
    fast.transcriber.load()
    slow.transcriber.load()
    clip = fast.decode(audio)
    end = min(clip.duration, args.baseline_minutes * 60)
    excerpt = AudioClip(clip.slice(0, end), source="excerpt")
    seconds = {}
    for name, pipeline in (("faster-whisper", fast), ("openai-whisper", slow)):
        started = time.perf_counter()
        pipeline.transcribe(excerpt, language=args.language)
        seconds[name] = time.perf_counter() - started
    ratio = seconds["openai-whisper"] / seconds["faster-whisper"]
    print(
        f"\nspeech to text on the first {end / 60:.1f} min, same weights: faster-whisper "
        f"{seconds['faster-whisper']:.1f} s (RTF {seconds['faster-whisper'] / end:.3f}), "
        f"openai-whisper {seconds['openai-whisper']:.1f} s (RTF "
        f"{seconds['openai-whisper'] / end:.3f}): faster-whisper is {ratio:.2f}x faster; "
        f"peak RSS {peak_rss_mb():.0f} MB",
        flush=True,
    )
    return {
        "excerpt_s": round(end, 1),
        "faster_whisper_s": round(seconds["faster-whisper"], 2),
        "openai_whisper_s": round(seconds["openai-whisper"], 2),
        "faster_whisper_rtf": round(seconds["faster-whisper"] / end, 4),
        "openai_whisper_rtf": round(seconds["openai-whisper"] / end, 4),
        "speedup": round(ratio, 2),
        "peak_rss_mb": round(peak_rss_mb()),
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress as it goes
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--language", choices=("en", "zh"), default="en")
    parser.add_argument("--llm", default="qwen2.5-coder-1.5b", help="the shared model to use")
    parser.add_argument("--cache", type=Path, default=ROOT / "data" / "models")
    parser.add_argument("--no-baseline", action="store_true", help="skip openai-whisper")
    parser.add_argument(
        "--baseline-minutes",
        type=float,
        default=2.0,
        help="both backends transcribe this much of the meeting for the comparison "
        "(openai-whisper runs near real time here)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    names = ZH_NAMES if args.language == "zh" else EN_NAMES
    voices = dict(
        zip(names, MANDARIN_VOICES if args.language == "zh" else ENGLISH_VOICES, strict=True)
    )
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        meeting = synthesize(
            long_script(args.minutes, args.language, names),
            voices,
            Path(tmp),
            language=args.language,
        )
        print(
            f"synthetic meeting: {meeting.duration / 60:.1f} min, {len(meeting.lines)} lines, "
            f"{len(meeting.speakers)} speakers (spoken in {time.perf_counter() - started:.0f} s)"
        )
        return run(args, meeting.path, meeting.duration, names)


def run(args: argparse.Namespace, audio: Path, duration: float, names: tuple[str, ...]) -> int:
    figures: dict[str, object] = {"audio_s": round(duration, 1), "language": args.language}
    llm = create_llm(
        LLMSettings(model=args.llm, cache_dir=args.cache, warm_up=False), data_dir=args.cache
    )
    default = MeetingPipeline(MeetingSettings(), args.cache)
    # Models load before timing starts: a server loads them once, not per meeting.
    load = time.perf_counter()
    default.transcriber.load()
    if default.diarizer is not None:
        default.diarizer.load()
    llm.backend()
    figures["model_load_s"] = round(time.perf_counter() - load, 1)

    result = default.run(
        audio,
        MeetingInfo(title="bench", attendees=names, language=args.language),
        llm=llm,
    )
    stages = {t.stage: t.seconds for t in result.timings}
    total = sum(stages.values())
    figures["default"] = {
        "stages_s": {k: round(v, 2) for k, v in stages.items()},
        "rtf": {k: round(v / duration, 4) for k, v in stages.items()},
        "total_s": round(total, 1),
        "total_rtf": round(total / duration, 4),
        "speakers_found": len(result.speakers),
        "todos": len(result.minutes.todos) if result.minutes else 0,
        "peak_rss_mb": round(peak_rss_mb()),
    }
    print(f"\ndefault stack on {duration / 60:.1f} min of audio ({args.llm}):")
    for stage, seconds in stages.items():
        print(f"  {stage:<13} {seconds:7.1f} s   RTF {seconds / duration:.3f}")
    verdict = "meets" if total / duration <= TARGET_RTF else "misses"
    print(
        f"  {'total':<13} {total:7.1f} s   RTF {total / duration:.3f} "
        f"({verdict} the {TARGET_RTF} target); peak RSS {peak_rss_mb():.0f} MB"
    )
    llm.close()

    if not args.no_baseline:
        figures["baseline"] = compare_backends(args, audio)
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2))
    print("\n" + json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
