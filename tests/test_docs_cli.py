"""``officebot doc ...`` as a user runs it: a drafted .docx with its Markdown (and JSON) beside
it, a poster from the words given, the kinds listed (a custom one included), and one-line errors
for what is wrong."""

from __future__ import annotations

import io
import json
from pathlib import Path

import docx
import pytest
from PIL import Image

from tests.support.cli import Cli, officebot_cli
from tests.test_docs_pipeline import CUSTOM_TEMPLATE, CUSTOM_TOML


@pytest.fixture
def cli(tmp_path: Path, model_cache: Path) -> Cli:
    return officebot_cli("doc", tmp_path / "data", model_cache)


def test_draft_writes_docx_markdown_and_json(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "out" / "review.docx"
    result = cli(
        "draft",
        "--kind",
        "meeting-plan",
        "--brief",
        "A 45-minute design review at 3pm with the mobile team",
        "--out",
        str(out),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert "purpose: done" in result.stderr  # progress, section by section
    document = docx.Document(str(out))
    headings = [p.text for p in document.paragraphs if p.style and p.style.name == "Heading 1"]
    assert headings == ["Purpose", "Attendees", "Agenda", "Materials", "Decisions needed"]
    assert out.with_suffix(".md").read_text(encoding="utf-8").startswith("# ")
    data = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    agenda = next(s for s in data["sections"] if s["id"] == "agenda")
    if "agenda" in agenda:
        assert agenda["agenda"][0]["start"] == "15:00"
        assert sum(slot["minutes"] for slot in agenda["agenda"]) == 45


def test_poster_from_the_words_given(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "poster.png"
    result = cli(
        "poster",
        "--title",
        "年终总结会",
        "--date",
        "12月18日 14:00",
        "--place",
        "3楼大会议室",
        "--highlight",
        "年度表彰",
        "--theme",
        "喜庆红",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "排版海报" in result.stderr
    assert Image.open(io.BytesIO(out.read_bytes())).size == (1080, 1528)


def test_kinds_lists_a_custom_kind(cli: Cli, tmp_path: Path) -> None:
    templates = tmp_path / "data" / "docs_templates"
    templates.mkdir(parents=True)
    (templates / "training-plan.toml").write_text(CUSTOM_TOML, encoding="utf-8")
    (templates / "training-plan.md.j2").write_text(CUSTOM_TEMPLATE, encoding="utf-8")
    result = cli("kinds")
    assert result.returncode == 0, result.stderr
    assert "event-plan" in result.stdout
    assert "training-plan" in result.stdout
    assert "custom" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["draft", "--kind", "poem", "--brief", "x", "--out", "a.docx"], "known kinds"),
        (["draft", "--kind", "workflow", "--brief", "x", "--out", "a.pdf"], "give a .docx path"),
        (["draft", "--kind", "workflow", "--brief", " ", "--out", "a.docx"], "brief is empty"),
        (["poster", "--out", "p.png"], "give either --brief or --title"),
        (["poster", "--title", "x", "--theme", "plaid", "--out", "p.png"], "blue"),
    ],
)
def test_bad_arguments_get_one_line_errors(cli: Cli, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
