"""``officebot meeting ...``: transcripts and reports from a recording, on this machine."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from bot.cli_support import current_settings, errors, fail, load_llm
from bot.settings import Settings

if TYPE_CHECKING:
    from meeting.config import MeetingSettings
    from meeting.types import MeetingInfo, MeetingResult

meeting_app = typer.Typer(
    help="Meetings: transcribe a recording, or write its minutes and to-dos.",
    no_args_is_help=True,
)


class TranscriptFormat(StrEnum):
    json = "json"
    srt = "srt"
    vtt = "vtt"
    md = "md"
    docx = "docx"


class ReportFormat(StrEnum):
    json = "json"
    md = "md"
    docx = "docx"


STAGE_LABELS = {
    "decoding": "decoding audio",
    "transcribing": "speech to text",
    "speakers": "speakers",
    "minutes": "minutes and to-dos",
}


def _meeting_settings(settings: Settings, **overrides: Any) -> MeetingSettings:
    from pydantic import ValidationError

    from meeting.config import MeetingSettings

    raw = {**settings.plugin_config("meeting"), **{k: v for k, v in overrides.items() if v}}
    try:
        return MeetingSettings.model_validate(raw)
    except ValidationError as exc:
        raise fail(f"OFFICEBOT_PLUGINS__MEETING__*: {exc}", 2) from None


@contextmanager
def _stage_bars(stages: tuple[str, ...]) -> Iterator[Any]:
    """One progress bar per stage, on stderr so stdout carries only the output."""
    with Progress(
        TextColumn("{task.description:<20}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=errors,
        transient=False,
    ) as progress:
        tasks: dict[str, TaskID] = {
            stage: progress.add_task(STAGE_LABELS[stage], total=100) for stage in stages
        }

        def report(stage: str, percent: float) -> None:
            task = tasks.get(stage)
            if task is not None:
                progress.update(task, completed=max(0.0, min(100.0, percent)))

        yield report


def _check_output(format: str, out: Path | None) -> None:
    if format == "docx" and out is None:
        raise fail("--format docx writes a file: give --out FILE.docx", 2)


def _write(output: str | bytes, out: Path | None) -> None:
    if out is None:
        if isinstance(output, bytes):
            raise fail("this format is binary: give --out FILE", 2)
        sys.stdout.write(output if output.endswith("\n") else output + "\n")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(output, bytes):
        out.write_bytes(output)
    else:
        out.write_text(output, encoding="utf-8")
    errors.print(f"wrote {out}", highlight=False)


def _produce(
    file: Path,
    format: str,
    out: Path | None,
    info: MeetingInfo,
    *,
    minutes: bool,
    **overrides: Any,
) -> None:
    """Run the pipeline on ``file`` with progress bars and write it in ``format``."""
    settings = current_settings()
    result = _run(file, settings, _meeting_settings(settings, **overrides), info, minutes=minutes)
    _write(_render(result, format), out)


def _run(
    file: Path,
    bot_settings: Settings,
    settings: MeetingSettings,
    info: MeetingInfo,
    *,
    minutes: bool,
) -> MeetingResult:
    from meeting.errors import MeetingError
    from meeting.pipeline import MeetingPipeline

    if not file.is_file():
        raise fail(f"{file}: no such file", 2)
    stages = ("decoding", "transcribing") + (("speakers",) if settings.diarizer != "none" else ())
    llm = None
    if minutes:
        stages += ("minutes",)
        llm = load_llm(bot_settings)
    cache_dir = settings.model_cache_dir or bot_settings.data_dir / "models"
    pipeline = MeetingPipeline(settings, cache_dir)
    try:
        with _stage_bars(stages) as report:
            return pipeline.run(file, info, llm=llm, progress=report)
    except MeetingError as exc:
        raise fail(exc.message) from None
    finally:
        if llm is not None:
            llm.close()


FileArg = Annotated[
    Path, typer.Argument(help="The recording: wav, mp3, m4a, ogg/opus, webm, flac or a video.")
]
OutOption = Annotated[
    Path | None, typer.Option("--out", "-o", help="Write here (default: stdout; docx needs it).")
]
LanguageOption = Annotated[
    str | None, typer.Option(help="Force the language (zh, en); default: detect.")
]
ModelOption = Annotated[str | None, typer.Option(help="Speech model: base or tiny.en.")]
BackendOption = Annotated[
    str | None, typer.Option(help="Speech backend: faster-whisper or openai-whisper.")
]
SpeakersOption = Annotated[int | None, typer.Option(min=1, max=20, help="Known speaker count.")]


@meeting_app.command("transcribe")
def transcribe(
    file: FileArg,
    format: Annotated[TranscriptFormat, typer.Option(help="Output format.")] = (
        TranscriptFormat.json
    ),
    out: OutOption = None,
    language: LanguageOption = None,
    model: ModelOption = None,
    backend: BackendOption = None,
    speakers: SpeakersOption = None,
) -> None:
    """Transcript with timestamps and speakers (JSON: segments [{start, end, speaker, text}])."""
    from meeting.types import MeetingInfo

    _check_output(format.value, out)
    _produce(
        file,
        format.value,
        out,
        MeetingInfo(title=file.stem, language=language),
        minutes=False,
        asr_model=model,
        asr_backend=backend,
        num_speakers=speakers,
    )


@meeting_app.command("report")
def report(
    file: FileArg,
    attendees: Annotated[
        str | None, typer.Option(help="Comma-separated names: to-do owners map to them.")
    ] = None,
    meeting_date: Annotated[
        str | None,
        typer.Option("--date", help="The meeting's date, YYYY-MM-DD (relative dues use it)."),
    ] = None,
    title: Annotated[str | None, typer.Option(help="Title (default: the file name).")] = None,
    format: Annotated[ReportFormat, typer.Option(help="Output format.")] = ReportFormat.json,
    out: OutOption = None,
    language: LanguageOption = None,
    model: ModelOption = None,
    backend: BackendOption = None,
    speakers: SpeakersOption = None,
) -> None:
    """Minutes and to-dos (JSON adds summary, decisions, todos [{owner, task, due, quote, at}])."""
    from meeting.types import MeetingInfo

    _check_output(format.value, out)
    day = None
    if meeting_date:
        try:
            day = date.fromisoformat(meeting_date)
        except ValueError:
            raise fail(f"--date {meeting_date!r} is not a date; use YYYY-MM-DD", 2) from None
    names = tuple(n.strip() for n in (attendees or "").replace("，", ",").split(",") if n.strip())
    _produce(
        file,
        format.value,
        out,
        MeetingInfo(title=title or file.stem, date=day, attendees=names, language=language),
        minutes=True,
        asr_model=model,
        asr_backend=backend,
        num_speakers=speakers,
    )


def _render(result: MeetingResult, format: str) -> str | bytes:
    from meeting.report import json_report, markdown, subtitles

    if format == "json":
        body = (
            json_report.report_json(result)
            if result.minutes is not None
            else json_report.transcript_json(result)
        )
        return json.dumps(body, ensure_ascii=False, indent=2)
    if format == "srt":
        return subtitles.to_srt(result.transcript)
    if format == "vtt":
        return subtitles.to_vtt(result.transcript)
    if format == "md":
        return markdown.markdown_document(result)
    from meeting.report.docx_report import docx_bytes

    return docx_bytes(result)
