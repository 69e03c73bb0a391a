"""Meeting reports: JSON formats, subtitles, the group message, the .md export, the talk-time
chart and the .docx, from meeting results built by hand (Chinese and English)."""

from __future__ import annotations

import io
import itertools
import json
import logging
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import docx
import pytest
from PIL import Image, ImageDraw, ImageFont

from chat_summary.types import Decision, Minutes, Todo, Topic
from docs_gen import fonts
from meeting.report import (
    TEMPLATE_DIR,
    ReportTexts,
    chart,
    format_clock,
    report_language,
    report_texts,
    speaker_stats,
    transcript_paragraphs,
)
from meeting.report.docx_report import build_docx, write_docx, xml_text
from meeting.report.json_report import report_json, transcript_json
from meeting.report.markdown import (
    ReportMessage,
    chat_report,
    markdown_document,
    safe_link,
)
from meeting.report.subtitles import (
    WIDE_CHAR_WIDTH,
    srt_timestamp,
    text_width,
    to_srt,
    to_vtt,
    vtt_timestamp,
)
from meeting.types import (
    Diarization,
    MeetingInfo,
    MeetingResult,
    SpeakerInfo,
    SpeakerTurn,
    Transcript,
    TranscriptSegment,
    Word,
)

INJECTION = "**x** [link](http://evil) /help <script>alert(1)</script>"
LONG_ZH = (
    "我先说一下第三季度的预算，市场部提出要增加百分之二十的投放，但是财务那边认为现金流压力"
    "比较大，需要再讨论一下具体的节奏和分配，我们下周再对一次数字。"
)
LONG_EN = (
    "Okay, so the plan is to ship the beta by Friday & then collect feedback from at least "
    "twenty customers before the launch, and <Bob> will write the survey."
)


# --- meetings built by hand ----------------------------------------------------------------


def chinese_meeting(**changes: object) -> MeetingResult:
    segments = (
        TranscriptSegment(
            start=0.0, end=6.5, speaker="王强", text="大家好，我们开始今天的产品周会。"
        ),
        TranscriptSegment(start=6.5, end=30.0, speaker="李娜", text=LONG_ZH),
        TranscriptSegment(
            start=30.0, end=41.0, speaker="王强", text="好的，那王强下周三前把Q3预算表整理好。"
        ),
        TranscriptSegment(start=41.0, end=44.0, speaker=None, text="（笑声）"),
    )
    transcript = Transcript(language="zh", duration=44.0, segments=segments, backend="test")
    minutes = Minutes(
        language="zh",
        summary="会议讨论了第三季度预算。\n市场部希望增加投放，财务担心现金流。",
        decisions=(Decision(text="Q3预算先按原计划执行", quote="我们先按原计划", at=35.0),),
        topics=(Topic(title="Q3预算", start=6.5, end=41.0),),
        keywords=("预算", "Q3"),
        open_questions=("投放节奏如何分配？",),
        todos=(
            Todo(
                owner="王强",
                task="整理Q3预算表",
                due=date(2026, 3, 18),
                due_text="下周三",
                quote="那王强下周三前把Q3预算表整理好。",
                at=30.0,
            ),
            Todo(owner="李娜", task="和财务确认现金流", due_text="月底前"),
            Todo(owner="张伟", task="准备投放数据"),
            Todo(owner=None, task="约下次会议时间"),
        ),
    )
    values: dict[str, object] = {
        "info": MeetingInfo(
            title="产品周会", date=date(2026, 3, 10), attendees=("王强", "李娜", "张伟")
        ),
        "duration": 44.0,
        "transcript": transcript,
        "speakers": (
            SpeakerInfo(
                label="SPEAKER_00", name="王强", enrolled=True, similarity=0.8, talk_time=17.5
            ),
            SpeakerInfo(label="SPEAKER_01", name="李娜", talk_time=23.5),
        ),
        "minutes": minutes,
    }
    values.update(changes)
    return MeetingResult.model_validate(values)


def english_meeting(**changes: object) -> MeetingResult:
    words = (
        Word(start=10.2, end=10.6, text=" Thanks"),
        Word(start=10.7, end=11.4, text=" everyone."),
    )
    segments = (
        TranscriptSegment(start=0.0, end=9.0, speaker="Alice", text=LONG_EN),
        TranscriptSegment(
            start=10.0, end=12.0, speaker="Bob", text="Thanks everyone.", words=words
        ),
        TranscriptSegment(start=12.0, end=15.0, speaker="Alice", text=INJECTION),
    )
    transcript = Transcript(language="en", duration=15.0, segments=segments)
    minutes = Minutes(
        language="en",
        summary=f"{INJECTION}\n/help me\nThe team agreed to ship the beta.",
        method="extractive",
        decisions=(Decision(text=f"Ship {INJECTION}", quote="ship the beta by Friday", at=1.0),),
        todos=(Todo(owner="Bob", task=f"Write the survey {INJECTION}", due=date(2026, 3, 13)),),
    )
    values: dict[str, object] = {
        "info": MeetingInfo(title="Beta <launch> sync"),
        "duration": 15.0,
        "transcript": transcript,
        "minutes": minutes,
    }
    values.update(changes)
    return MeetingResult.model_validate(values)


# --- shared helpers ------------------------------------------------------------------------


def test_templates_define_the_same_words_in_every_language() -> None:
    languages = sorted(p.name.split(".")[1] for p in TEMPLATE_DIR.glob("report.*.j2"))
    assert languages == ["en", "zh"]
    assert ReportTexts("zh").blocks == ReportTexts("en").blocks
    texts = report_texts("zh")
    assert texts.date(date(2026, 3, 10)) == "2026年3月10日（周二）"
    assert report_texts("en").date(date(2026, 3, 10)) == "Tuesday, March 10, 2026"
    assert texts.duration(44) == "44 秒"
    assert texts.duration(2712) == "45 分钟"
    assert report_texts("en").duration(3725) == "1 h 2 min"
    with pytest.raises(KeyError, match="no block"):
        texts("no_such_block")


@pytest.mark.parametrize(
    ("language", "expected"),
    [("zh", "zh"), ("zh-TW", "zh"), ("yue", "zh"), ("en", "en"), ("ja", "en"), ("de", "en")],
)
def test_report_language_follows_the_transcript(language: str, expected: str) -> None:
    transcript = Transcript(language=language, duration=1.0, segments=())
    assert report_language(transcript) == expected


def test_speaker_stats_fall_back_to_diarization_then_segments() -> None:
    meeting = chinese_meeting()
    stats = speaker_stats(meeting)
    assert [(s.name, s.label, s.talk_time, s.enrolled) for s in stats] == [
        ("王强", "SPEAKER_00", 17.5, True),
        ("李娜", "SPEAKER_01", 23.5, False),
    ]
    assert sum(s.share for s in stats) == pytest.approx(1.0)

    diarization = Diarization(
        turns=(
            SpeakerTurn(start=0, end=4, speaker="SPEAKER_00"),
            SpeakerTurn(start=4, end=5, speaker="SPEAKER_01"),
        ),
        speakers=("SPEAKER_00", "SPEAKER_01"),
    )
    unset = tuple(info.model_copy(update={"talk_time": 0.0}) for info in meeting.speakers)
    from_turns = speaker_stats(
        meeting.model_copy(update={"speakers": unset, "diarization": diarization})
    )
    assert [s.talk_time for s in from_turns] == [4.0, 1.0]
    from_segments = speaker_stats(meeting.model_copy(update={"speakers": ()}))
    assert {s.name: s.talk_time for s in from_segments} == {"王强": 17.5, "李娜": 23.5}


def test_transcript_paragraphs_join_a_speakers_consecutive_segments() -> None:
    transcript = Transcript(
        language="en",
        duration=9,
        segments=(
            TranscriptSegment(start=0, end=2, speaker="A", text="Hello"),
            TranscriptSegment(start=2, end=4, speaker="A", text="there."),
            TranscriptSegment(start=4, end=6, speaker="B", text="Hi."),
            TranscriptSegment(start=6, end=9, speaker="B", text="   "),
        ),
    )
    paragraphs = transcript_paragraphs(transcript)
    assert [(p.start, p.end, p.speaker, p.text) for p in paragraphs] == [
        (0, 4, "A", "Hello there."),
        (4, 6, "B", "Hi."),
    ]
    assert format_clock(62.9) == "01:02"
    assert format_clock(3723) == "1:02:03"
    assert format_clock(5, hours=True) == "0:00:05"


# --- JSON ----------------------------------------------------------------------------------


def test_transcript_json_shape() -> None:
    meeting = chinese_meeting()
    for source in (meeting, meeting.transcript):
        data = transcript_json(source)
        assert json.loads(json.dumps(data, ensure_ascii=False)) == data
        assert list(data) == ["language", "duration", "segments"]
        assert data["language"] == "zh"
        assert data["duration"] == 44.0
        assert data["segments"][0] == {
            "start": 0.0,
            "end": 6.5,
            "speaker": "王强",
            "text": "大家好，我们开始今天的产品周会。",
        }
        assert data["segments"][3]["speaker"] is None
        assert all(list(s) == ["start", "end", "speaker", "text"] for s in data["segments"])


def test_report_json_shape() -> None:
    data = report_json(chinese_meeting())
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data
    assert set(data) == {
        "language", "duration", "segments", "title", "date", "attendees", "speakers", "summary",
        "minutes_method", "decisions", "topics", "keywords", "open_questions", "todos",
    }  # fmt: skip
    assert data["title"] == "产品周会"
    assert data["date"] == "2026-03-10"
    assert data["attendees"] == ["王强", "李娜", "张伟"]
    assert data["speakers"][0] == {
        "name": "王强",
        "label": "SPEAKER_00",
        "talk_time": 17.5,
        "enrolled": True,
    }
    assert data["summary"].startswith("会议讨论了")
    assert data["minutes_method"] == "model"
    assert data["decisions"] == [
        {"text": "Q3预算先按原计划执行", "quote": "我们先按原计划", "at": 35.0}
    ]
    assert data["topics"] == [{"title": "Q3预算", "start": 6.5, "end": 41.0}]
    assert data["keywords"] == ["预算", "Q3"]
    assert data["open_questions"] == ["投放节奏如何分配？"]
    assert data["todos"][0] == {
        "owner": "王强",
        "task": "整理Q3预算表",
        "due": "2026-03-18",
        "due_text": "下周三",
        "quote": "那王强下周三前把Q3预算表整理好。",
        "at": 30.0,
    }
    assert data["todos"][3] == {
        "owner": None, "task": "约下次会议时间", "due": None, "due_text": None, "quote": "",
        "at": None,
    }  # fmt: skip


def test_report_json_without_minutes() -> None:
    data = report_json(chinese_meeting(minutes=None, info=MeetingInfo()))
    assert data["title"] == ""
    assert data["date"] is None
    assert data["summary"] is None
    assert data["minutes_method"] is None
    for key in ("attendees", "decisions", "topics", "keywords", "open_questions", "todos"):
        assert data[key] == []


# --- subtitles -----------------------------------------------------------------------------


@dataclass
class ParsedCue:
    start: float
    end: float
    lines: list[str]


_SRT_TIME = r"(\d{2}):(\d{2}):(\d{2}),(\d{3})"
_VTT_TIME = r"(\d{2}):(\d{2}):(\d{2})\.(\d{3})"


def _seconds(groups: tuple[str, ...]) -> float:
    hours, minutes, seconds, millis = (int(g) for g in groups)
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def parse_srt(text: str) -> list[ParsedCue]:
    assert text.endswith("\n")
    assert "\r" not in text
    cues = []
    for number, block in enumerate(text.strip("\n").split("\n\n"), start=1):
        index, timing, *lines = block.split("\n")
        assert index == str(number)
        match = re.fullmatch(f"{_SRT_TIME} --> {_SRT_TIME}", timing)
        assert match, timing
        assert lines
        assert all(line.strip() for line in lines)
        cues.append(ParsedCue(_seconds(match.groups()[:4]), _seconds(match.groups()[4:]), lines))
    return cues


def parse_vtt(text: str) -> list[ParsedCue]:
    header, *blocks = text.strip("\n").split("\n\n")
    assert header == "WEBVTT"
    cues = []
    for block in blocks:
        timing, *lines = block.split("\n")
        match = re.fullmatch(f"{_VTT_TIME} --> {_VTT_TIME}", timing)
        assert match, timing
        assert lines
        assert all(line.strip() for line in lines)
        assert not any("-->" in line for line in lines)
        cues.append(ParsedCue(_seconds(match.groups()[:4]), _seconds(match.groups()[4:]), lines))
    return cues


def _unescape_vtt(text: str) -> str:
    assert "<" not in re.sub(r"^<v [^>]*>", "", text)
    assert ">" not in re.sub(r"^<v [^>]*>", "", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _spoken(lines: list[str]) -> str:
    return "".join("".join(lines).split())


def test_timestamps() -> None:
    assert srt_timestamp(62.345) == "00:01:02,345"
    assert vtt_timestamp(62.345) == "00:01:02.345"
    assert srt_timestamp(3723.5) == "01:02:03,500"
    assert srt_timestamp(-1) == "00:00:00,000"
    assert vtt_timestamp(59.9996) == "00:01:00.000"


def test_srt_round_trip_chinese() -> None:
    meeting = chinese_meeting()
    cues = parse_srt(to_srt(meeting))
    assert len(cues) > len(meeting.transcript.segments)  # the long segment is split
    assert cues[0].lines[0].startswith("王强: ")
    for cue in cues:
        assert cue.end > cue.start
        assert len(cue.lines) <= 2
        for line in cue.lines:
            assert text_width(line) <= 42
            assert sum(1 for char in line if text_width(char) == WIDE_CHAR_WIDTH) <= 20
            assert not re.match(r"[，。、；：！？]", line)  # punctuation never starts a line
    # the long segment's cues say the whole text, in order, and share its time proportionally
    long_cues = [c for c in cues if c.lines[0].startswith("李娜: ")]
    assert _spoken([line.removeprefix("李娜: ") for c in long_cues for line in c.lines]) == LONG_ZH
    assert long_cues[0].start == 6.5
    assert long_cues[-1].end == 30.0
    for earlier, later in itertools.pairwise(long_cues):
        assert earlier.end == pytest.approx(later.start, abs=0.002)
    # the unattributed segment has no prefix
    assert cues[-1].lines == ["（笑声）"]


def test_vtt_round_trip_english_with_escapes_and_word_times() -> None:
    meeting = english_meeting()
    vtt = to_vtt(meeting)
    assert vtt.startswith("WEBVTT\n\n")
    cues = parse_vtt(vtt)
    alice = [c for c in cues if c.lines[0].startswith("<v Alice>")]
    assert len(alice) >= 3
    for cue in cues:
        assert len(cue.lines) <= 2
        assert all(
            len(_unescape_vtt(line).removeprefix("<v Alice>").removeprefix("<v Bob>")) <= 42
            for line in cue.lines
        )
    said = " ".join(
        " ".join(_unescape_vtt(line).removeprefix("<v Alice>") for line in c.lines) for c in alice
    )
    assert said == f"{LONG_EN} {INJECTION}"
    assert "&amp;" in vtt
    assert "&lt;script&gt;" in vtt
    assert "<script>" not in vtt
    bob = next(c for c in cues if c.lines[0].startswith("<v Bob>"))
    assert (bob.start, bob.end) == (10.2, 11.4)  # from the word timestamps, not the segment's


def test_subtitle_cues_follow_word_timestamps_when_a_segment_is_split() -> None:
    words = tuple(Word(start=float(i), end=i + 0.5, text=f" word{i:02d}") for i in range(20))
    text = "".join(w.text for w in words).strip()
    segment = TranscriptSegment(start=0, end=30, speaker="Ann", text=text, words=words)
    transcript = Transcript(language="en", duration=30, segments=(segment,))
    cues = parse_srt(to_srt(transcript, max_width=30, max_lines=1))
    assert len(cues) > 1
    for cue in cues:
        first_word = int(re.search(r"word(\d+)", cue.lines[0])[1])  # type: ignore[index]
        last_word = int(re.findall(r"word(\d+)", cue.lines[-1])[-1])
        assert cue.start == first_word
        assert cue.end == last_word + 0.5
    srt = to_srt(transcript, speakers=False)
    assert "Ann" not in srt


def test_subtitles_of_an_empty_transcript() -> None:
    empty = Transcript(language="en", duration=0, segments=())
    assert to_srt(empty) == ""
    assert to_vtt(empty) == "WEBVTT\n"


# --- the group message ---------------------------------------------------------------------


def test_chat_report_chinese_mentions_and_link() -> None:
    report = chat_report(
        chinese_meeting(),
        docx_url="https://bot.example.com/files/产品 周会(1).docx?sig=a b",
        mention_ids={"王强": "wangqiang01", "张伟": "bad id <x>"},
    )
    assert isinstance(report, ReportMessage)
    assert report.title == "会议纪要：产品周会"
    text = report.text
    for label in (
        "### 产品周会",
        "**日期**：2026年3月10日（周二）",
        "**时长**：44 秒",
        "#### 摘要",
        "#### 待办事项",
    ):
        assert label in text
    assert "**参会人**：王强、李娜、张伟" in text
    assert "**发言占比**：李娜 57%、王强 43%" in text
    assert "1. @wangqiang01 整理Q3预算表（截止 3月18日 周三）" in text
    assert "2. **李娜**：和财务确认现金流（月底前）" in text
    assert "3. **张伟**：准备投放数据" in text  # an id that is not a plain id is not used
    assert report.at_user_ids == ("wangqiang01",)
    link = re.search(r"\[下载完整纪要（Word）\]\((\S+)\)$", text)
    assert link is not None
    assert " " not in link[1]
    assert "(" not in link[1]
    assert ")" not in link[1]
    message = report.to_message()
    assert message.mentions.user_ids == ("wangqiang01",)
    assert message.title == report.title


def test_chat_report_english_escapes_everything_from_the_model() -> None:
    report = chat_report(english_meeting(), docx_url=None, mention_ids={"bob": "bob-1"})
    text = report.text
    assert report.title == "Minutes: Beta <launch> sync"
    assert "### Beta &lt;launch&gt; sync" in text
    assert "#### Summary" in text
    assert "#### Decisions" in text
    assert "#### To-dos" in text
    assert "no model wrote them" in text  # extractive minutes say so
    assert "**x**" not in text
    assert "[link](" not in text
    assert "\\[link\\]\\(http://evil\\)" in text
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    for line in text.splitlines():
        assert not line.lstrip().startswith(("/", "／")), line
        assert not line.startswith("help"), line
    assert "› /help me" in text
    assert "@bob-1 Write the survey" in text  # names match case-insensitively
    assert "(due Fri, Mar 13)" in text
    assert report.at_user_ids == ("bob-1",)
    assert "Full minutes" not in text


def test_chat_report_respects_max_chars_by_trimming_lists() -> None:
    todos = tuple(
        Todo(
            owner=f"Person {i}",
            task=f"Task number {i} " + "with details " * 8,
            due=date(2026, 4, 1),
        )
        for i in range(60)
    )
    decisions = tuple(Decision(text=f"Decision {i} " + "about things " * 10) for i in range(30))
    base = english_meeting()
    assert base.minutes is not None
    minutes = base.minutes.model_copy(
        update={"todos": todos, "decisions": decisions, "summary": "A long summary. " * 300}
    )
    meeting = base.model_copy(update={"minutes": minutes})
    mention_ids = {f"Person {i}": f"user{i}" for i in range(60)}
    url = "https://bot.example.com/files/report.docx"
    for max_chars in (3500, 1500, 600, 200):
        report = chat_report(meeting, docx_url=url, mention_ids=mention_ids, max_chars=max_chars)
        text = report.text
        assert len(text) <= max_chars
        assert text.startswith("### Beta &lt;launch&gt; sync")
        assert re.search(r"…and \d+ more", text) or max_chars == 200
        for line in text.splitlines():
            assert line.count("**") % 2 == 0, line
        assert all(f"@{uid}" in text for uid in report.at_user_ids)
        assert not re.search(r"@user\d+", text) or report.at_user_ids
        if max_chars >= 600:
            assert text.endswith(f"[Full minutes (Word)]({url})")
    full = chat_report(meeting, docx_url=url, mention_ids=mention_ids, max_chars=20000)
    assert len(full.at_user_ids) == 60
    with pytest.raises(ValueError, match="max_chars"):
        chat_report(meeting, docx_url=url, max_chars=50)


def test_chat_report_without_minutes_and_bad_links() -> None:
    report = chat_report(chinese_meeting(minutes=None), docx_url=None)
    assert "未生成纪要" in report.text
    assert report.at_user_ids == ()
    for bad in ("javascript:alert(1)", "ftp://host/x", "/relative/path"):
        with pytest.raises(ValueError, match="http"):
            safe_link(bad)


# --- the .md export ------------------------------------------------------------------------


def test_markdown_document() -> None:
    document = markdown_document(chinese_meeting())
    assert document.startswith("# 产品周会\n")
    assert "| 负责人 | 事项 | 截止日期 | 出处 |" in document
    assert (
        "| 王强 | 整理Q3预算表 | 3月18日 周三 | “那王强下周三前把Q3预算表整理好。”（00:30） |"
        in document
    )
    assert "| 未指定 | 约下次会议时间 |" in document
    assert "- `00:06–00:41` Q3预算" in document
    assert "## 会议转写" in document
    assert "`00:06` **李娜**：我先说一下" in document
    assert "`00:41` **未知发言人**：（笑声）" in document
    assert "| 李娜 | 00:23 | 57% |" in document
    assert "## 会议转写" not in markdown_document(chinese_meeting(), include_transcript=False)

    english = markdown_document(english_meeting())
    assert "**x**" not in english
    assert "<script>" not in english
    assert "[link](" not in english
    assert "## Transcript" in english
    assert "`00:10` **Bob**: Thanks everyone." in english
    # a pipe in a cell cannot break the table
    piped = english_meeting()
    assert piped.minutes is not None
    todo = Todo(owner="A|B", task="x | y", due=None)
    piped = piped.model_copy(
        update={"minutes": piped.minutes.model_copy(update={"todos": (todo,)})}
    )
    row = next(line for line in markdown_document(piped).splitlines() if line.startswith("| A"))
    assert row.count(" | ") == 3
    assert "A\\|B" in row


# --- chart ---------------------------------------------------------------------------------


def test_talk_time_chart_is_a_png_with_a_bar_per_speaker() -> None:
    stats = speaker_stats(chinese_meeting())
    png = chart.talk_time_chart(stats)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.width == 1200
    assert image.height == 2 * 32 + 64 * len(stats)
    with pytest.raises(ValueError, match="at least one speaker"):
        chart.talk_time_chart([])


def _glyph(font: ImageFont.FreeTypeFont, char: str) -> bytes:
    image = Image.new("L", (60, 60))
    ImageDraw.Draw(image).text((5, 5), char, font=font, fill=255)
    return bytes(image.tobytes())


def test_chart_font_covers_chinese() -> None:
    if fonts.find_cjk_font() is None:
        pytest.fail("no CJK font installed: `make setup` installs fonts-wqy-microhei")
    font = chart.load_font(40)
    assert isinstance(font, ImageFont.FreeTypeFont)
    # a font with Chinese glyphs draws 王 and 强 differently; a font without draws two boxes
    assert _glyph(font, "王") != _glyph(font, "强")


def test_chart_without_a_cjk_font_warns_and_still_draws(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(fonts, "find_cjk_font", lambda: None)
    fonts._warn_no_cjk_font.cache_clear()
    with caplog.at_level(logging.WARNING, logger="docs_gen.fonts"):
        png = chart.talk_time_chart(speaker_stats(chinese_meeting()))
    assert png.startswith(b"\x89PNG")
    assert "fonts-wqy-microhei" in caplog.text
    fonts._warn_no_cjk_font.cache_clear()


# --- docx ----------------------------------------------------------------------------------

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _style_fonts(document: object, name: str) -> tuple[str | None, str | None]:
    element = document.styles[name].element  # type: ignore[attr-defined]
    r_fonts = element.find(f"{W}rPr/{W}rFonts")
    return r_fonts.get(f"{W}eastAsia"), r_fonts.get(f"{W}eastAsiaTheme")


def test_docx_report_chinese(tmp_path: Path) -> None:
    path = write_docx(chinese_meeting(), tmp_path / "meeting.docx")
    document = docx.Document(str(path))
    styled = [(p.style.name if p.style else None, p.text) for p in document.paragraphs]
    assert styled[0] == ("Title", "产品周会")
    headings = [text for style, text in styled if style == "Heading 1"]
    assert headings == [
        "会议信息", "摘要", "决定事项", "待办事项", "议题", "关键词", "待讨论问题", "发言时长",
        "会议转写",
    ]  # fmt: skip
    assert ("List Number", "Q3预算先按原计划执行 “我们先按原计划”（00:35）") in styled
    assert ("List Bullet", "00:06–00:41  Q3预算") in styled
    assert ("Normal", "李娜  00:06\n" + LONG_ZH) in styled

    tables = [
        [[cell.text for cell in row.cells] for row in table.rows] for table in document.tables
    ]
    details, todos, talk = tables
    assert details == [
        ["日期", "2026年3月10日（周二）"],
        ["时长", "44 秒"],
        ["参会人", "王强、李娜、张伟"],
    ]
    assert todos[0] == ["负责人", "事项", "截止日期", "出处"]
    assert todos[1] == [
        "王强",
        "整理Q3预算表",
        "3月18日 周三",
        "“那王强下周三前把Q3预算表整理好。”（00:30）",
    ]
    assert todos[2] == ["李娜", "和财务确认现金流", "月底前", ""]
    assert todos[4] == ["未指定", "约下次会议时间", "", ""]
    assert talk == [
        ["发言人", "发言时长", "占比"],
        ["李娜", "00:23", "57%"],
        ["王强", "00:17", "43%"],
    ]
    table_style = document.tables[1].style
    assert table_style is not None
    assert table_style.name == "Table Grid"
    assert document.tables[1].rows[0]._tr.find(f"{W}trPr/{W}tblHeader") is not None

    assert len(document.inline_shapes) == 1
    with zipfile.ZipFile(path) as package:
        media = [n for n in package.namelist() if n.startswith("word/media/")]
        assert len(media) == 1
        assert package.read(media[0]).startswith(b"\x89PNG")
        styles_xml = package.read("word/styles.xml").decode()
    for name in ("Normal", "Title", "Heading 1", "Heading 2"):
        assert _style_fonts(document, name) == ("Microsoft YaHei", None), name
    assert "eastAsiaTheme" not in styles_xml
    defaults = document.styles.element.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr")
    assert defaults.find(f"{W}rFonts").get(f"{W}eastAsia") == "Microsoft YaHei"
    assert defaults.find(f"{W}lang").get(f"{W}eastAsia") == "zh-CN"
    assert document.core_properties.title == "产品周会"
    assert document.core_properties.language == "zh-CN"


def test_docx_report_english_without_transcript_or_minutes(tmp_path: Path) -> None:
    meeting = english_meeting(info=MeetingInfo(title="Sync\x00 \x0bweekly", date=date(2026, 3, 9)))
    document = build_docx(meeting, include_transcript=False, east_asian_font="Noto Sans CJK SC")
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "Sync weekly"  # characters XML cannot hold are dropped
    assert "Transcript" not in texts
    assert "Summary" in texts
    assert "To-dos" in texts
    assert any("no model wrote them" in t for t in texts)
    assert _style_fonts(document, "Normal") == ("Noto Sans CJK SC", None)
    assert len(document.inline_shapes) == 1  # names from segments still give a chart
    assert INJECTION in "\n".join(texts)  # Word shows text as text: nothing to escape

    bare = build_docx(english_meeting(minutes=None), chart=False)
    bare_texts = [p.text for p in bare.paragraphs]
    assert "No minutes were produced; the transcript follows." in bare_texts
    assert "Transcript" in bare_texts
    assert len(bare.inline_shapes) == 0
    assert xml_text("a\x00b\x1fc\td") == "abc\td"


def test_docx_converts_to_pdf_with_libreoffice(tmp_path: Path) -> None:
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office is None:
        pytest.fail("LibreOffice is missing: `make setup` installs libreoffice-writer-nogui")
    path = write_docx(chinese_meeting(), tmp_path / "meeting.docx")
    subprocess.run(
        [office, "--headless", f"-env:UserInstallation=file://{tmp_path}/profile",
         "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    pdf = tmp_path / "meeting.pdf"
    assert pdf.is_file()
    assert pdf.read_bytes().startswith(b"%PDF")
