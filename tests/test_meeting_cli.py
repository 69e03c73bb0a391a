"""``officebot meeting transcribe|report`` as a user runs them: real process, real models."""

from __future__ import annotations

import json
from pathlib import Path

import docx
import pytest

from tests.support.cli import Cli, officebot_cli
from tests.support.synth_meeting import SynthMeeting


@pytest.fixture
def cli(tmp_path: Path, speech_cache: Path, model_cache: Path) -> Cli:
    return officebot_cli(
        "meeting",
        tmp_path / "data",
        model_cache,
        OFFICEBOT_PLUGINS__MEETING__MODEL_CACHE_DIR=str(speech_cache),
    )


@pytest.mark.slow
def test_transcribe_json_and_srt(cli: Cli, english_meeting: SynthMeeting, tmp_path: Path) -> None:
    result = cli("transcribe", str(english_meeting.path), "--format", "json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["language"] == "en"
    assert body["segments"]
    for segment in body["segments"]:
        assert set(segment) == {"start", "end", "speaker", "text"}
        assert 0 <= segment["start"] < segment["end"] <= english_meeting.duration + 0.5
    assert len({s["speaker"] for s in body["segments"]}) == 3
    # a progress bar per stage, on stderr
    for stage in ("decoding audio", "speech to text", "speakers"):
        assert stage in result.stderr
    srt = tmp_path / "out.srt"
    result = cli("transcribe", str(english_meeting.path), "--format", "srt", "--out", str(srt))
    assert result.returncode == 0, result.stderr
    assert srt.read_text().startswith("1\n00:00:")


@pytest.mark.slow
def test_report_json_and_docx(cli: Cli, english_meeting: SynthMeeting, tmp_path: Path) -> None:
    result = cli(
        "report",
        str(english_meeting.path),
        "--attendees",
        "Bob,Carol,David",
        "--date",
        "2027-02-22",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    for key in ("summary", "decisions", "todos", "segments", "language"):
        assert key in body
    assert body["summary"]
    for todo in body["todos"]:
        assert {"owner", "task", "due", "quote", "at"} <= set(todo)
        assert todo["due"] is None or todo["due"] >= "2027-02-22"
    assert "minutes and to-dos" in result.stderr
    out = tmp_path / "minutes.docx"
    result = cli(
        "report",
        str(english_meeting.path),
        "--format",
        "docx",
        "--out",
        str(out),
        "--speakers",
        "3",
    )
    assert result.returncode == 0, result.stderr
    document = docx.Document(str(out))
    assert any(p.style.name.startswith("Heading") for p in document.paragraphs)
    assert document.tables


def test_bad_inputs_get_one_error_line(cli: Cli, tmp_path: Path) -> None:
    missing = cli("transcribe", str(tmp_path / "nope.wav"))
    assert missing.returncode != 0
    assert "no such file" in missing.stderr
    text = tmp_path / "notes.mp3"
    text.write_text("not audio at all " * 100)
    bad = cli("transcribe", str(text))
    assert bad.returncode != 0
    assert "error:" in bad.stderr
    assert "Traceback" not in bad.stderr
    date = cli("report", str(text), "--date", "next tuesday")
    assert date.returncode == 2
    assert "YYYY-MM-DD" in date.stderr
    misconfigured = cli("transcribe", str(text), OFFICEBOT_LLM__BACKEND="nonsense")
    assert misconfigured.returncode != 0
    assert "OFFICEBOT_LLM__BACKEND" in misconfigured.stderr
    assert "Traceback" not in misconfigured.stderr
    binary = cli("transcribe", str(text), "--format", "docx")
    assert binary.returncode == 2
    assert "--out" in binary.stderr
