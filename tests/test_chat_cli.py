"""``officebot chat summarize`` and ``officebot chat import`` as a user runs them: JSON with the
documented fields, Markdown, windows, imports that add nothing the second time, and one-line
errors for what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.history import query_messages
from bot.storage.database import make_engine
from tests.support.chats import load
from tests.support.cli import Cli, officebot_cli


@pytest.fixture
def cli(tmp_path: Path, model_cache: Path) -> Cli:
    return officebot_cli("chat", tmp_path / "data", model_cache)


def test_summarize_json_has_the_documented_fields(cli: Cli) -> None:
    chat = load("zh_ops")
    result = cli("summarize", str(chat.path), "--format", "json", "--mode", "extractive")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"key_points", "decisions", "open_questions", "todos"} <= set(data)
    assert data["method"] == "extractive"
    assert data["messages"] == len(chat.messages)
    expected = {(t["owner"], t["due"]) for t in chat.expected["todos"]}
    assert expected <= {(t["owner"], t["due"]) for t in data["todos"]}
    assert all(set(t) >= {"owner", "task", "due"} for t in data["todos"])
    assert "summarizing" in result.stderr  # the progress bar
    assert "extractive summary (requested)" in result.stderr


def test_summarize_markdown_of_a_window(cli: Cli, tmp_path: Path) -> None:
    chat = load("en_marketing")
    out = tmp_path / "summary.md"
    result = cli(
        "summarize",
        str(chat.path),
        "--last",
        "40",
        "--format",
        "md",
        "--mode",
        "extractive",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Chat summary · en\\_marketing")
    assert "the last 40 messages · 40 messages" in text
    since = cli(
        "summarize",
        str(chat.path),
        "--since",
        "2026-12-04T00:00:00+00:00",
        "--mode",
        "extractive",
    )
    assert since.returncode == 0, since.stderr
    assert json.loads(since.stdout)["messages"] < len(chat.messages)


def test_errors_are_one_line(cli: Cli, tmp_path: Path) -> None:
    missing = cli("summarize", str(tmp_path / "nope.json"))
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("who,when\nx,y\n", encoding="utf-8")
    unreadable = cli("summarize", str(bad), "--mode", "extractive")
    assert unreadable.returncode == 2
    assert "lacks sender, text, time" in " ".join(unreadable.stderr.split())
    window = cli("summarize", str(load("zh_ops").path), "--since", "tomorrow")
    assert window.returncode == 2
    assert "later than now" in " ".join(window.stderr.split())
    for result in (missing, unreadable, window):
        assert "Traceback" not in result.stderr


def test_import_stores_once(cli: Cli, tmp_path: Path) -> None:
    chat = load("zh_product")
    first = cli("import", str(chat.path), "--conversation", "cidExport", "--tenant", "acme")
    assert first.returncode == 0, first.stderr
    assert f"imported {len(chat.messages)} message(s)" in " ".join(first.stderr.split())
    second = cli("import", str(chat.path), "--conversation", "cidExport", "--tenant", "acme")
    assert f"imported 0 message(s) into cidExport ({len(chat.messages)} already" in " ".join(
        second.stderr.split()
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'officebot.db'}")
    stored = query_messages(engine, "acme", "cidExport")
    engine.dispose()
    assert len(stored) == len(chat.messages)
    assert stored[0].sender_name == chat.messages[0].sender
