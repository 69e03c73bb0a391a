"""The meeting report as a Word document (.docx), built with python-docx.

The words (headings, labels, dates, durations) come from the report templates of the
transcript's language (``templates/report.<lang>.j2``); python-docx builds the structure: the
title, a table of meeting details, summary, decisions (numbered), a to-do table, topics with
their time ranges, keywords, open questions, the talk-time chart and table, and the transcript
with speakers and timestamps.

It uses Word's own styles (Title, Heading 1, List Number, List Bullet, Table Grid, Caption), so
readers can restyle it and navigate by headings. Chinese text needs an East Asian font named in
the document: the default template names only theme fonts, which LibreOffice and Word on a
non-Chinese system resolve to fonts without Chinese glyphs. So the document defaults, Normal
and every heading name ``east_asian_font`` in ``w:rFonts/@w:eastAsia`` (the theme attribute,
which would win over it, is removed) and declare ``zh-CN`` as the East Asian language.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_BREAK
from docx.shared import Cm, Pt, RGBColor
from docx.table import Table
from docx.text.paragraph import Paragraph

from docs_gen.docx_style import (
    DEFAULT_EAST_ASIAN_FONT,
    LANGUAGE_TAGS,
    repeat_header,
    use_east_asian_font,
    xml_text,
)
from meeting.report import (
    ReportTexts,
    SpeakerStat,
    by_talk_time,
    clock_needs_hours,
    format_clock,
    one_line,
    percent,
    report_language,
    report_texts,
    speaker_stats,
    transcript_paragraphs,
)
from meeting.types import MeetingResult

log = logging.getLogger(__name__)

TABLE_STYLE = "Table Grid"
MUTED = RGBColor(0x64, 0x6A, 0x73)
CHART_WIDTH = Cm(15)


def _line(text: str) -> str:
    return xml_text(one_line(text))


# --- building blocks -----------------------------------------------------------------------


def _paragraph(document: DocxDocument, text: str = "", style: str | None = None) -> Paragraph:
    return document.add_paragraph(xml_text(text), style=style)


def _table(
    document: DocxDocument,
    header: list[str] | None,
    rows: list[list[str]],
    widths: list[float] | None = None,
) -> Table:
    """A table in the report's style; a header row (bold, repeated) when ``header`` is given."""
    columns = len(header) if header else len(rows[0])
    all_rows = ([header] if header else []) + rows
    table: Table = document.add_table(rows=len(all_rows), cols=columns, style=TABLE_STYLE)
    for row_index, (row, values) in enumerate(zip(table.rows, all_rows, strict=True)):
        for column, (cell, value) in enumerate(zip(row.cells, values, strict=True)):
            run = cell.paragraphs[0].add_run(xml_text(value))
            run.bold = bool(header) and row_index == 0
            if widths:
                cell.width = Cm(widths[column])
    if header:
        repeat_header(table)
    return table


def _clock(seconds: float | None, hours: bool) -> str:
    return format_clock(seconds, hours=hours) if seconds is not None else ""


def _add_quote_runs(paragraph: Paragraph, texts: ReportTexts, quote: str, at: str) -> None:
    if quote.strip():
        run = paragraph.add_run(texts("quote", text=_line(quote)))
        run.italic = True
    if at:
        paragraph.add_run(texts("at_time", time=at)).font.color.rgb = MUTED


# --- sections ------------------------------------------------------------------------------


def _details(document: DocxDocument, result: MeetingResult, texts: ReportTexts) -> None:
    info = result.info
    document.add_heading(texts("heading_info"), level=1)
    rows = []
    if info.date:
        rows.append([texts("label_date"), texts.date(info.date)])
    rows.append([texts("label_duration"), texts.duration(result.duration)])
    if info.attendees:
        rows.append([texts("label_attendees"), texts("separator").join(map(_line, info.attendees))])
    table = _table(document, None, rows, widths=[3.5, 12.5])
    for row in table.rows:
        for run in row.cells[0].paragraphs[0].runs:
            run.bold = True


def _minutes(document: DocxDocument, result: MeetingResult, texts: ReportTexts) -> None:
    minutes = result.minutes
    hours = clock_needs_hours(result)
    if minutes is None:
        _paragraph(document, texts("no_minutes"))
        return
    document.add_heading(texts("heading_summary"), level=1)
    if minutes.method == "extractive":
        _paragraph(document).add_run(texts("extractive_note")).italic = True
    lines = [line for line in minutes.summary.splitlines() if line.strip()]
    for line in lines or [texts("none")]:
        _paragraph(document, one_line(line))

    document.add_heading(texts("heading_decisions"), level=1)
    for decision in minutes.decisions:
        paragraph = _paragraph(document, _line(decision.text), style="List Number")
        if decision.quote.strip() or decision.at is not None:
            paragraph.add_run(" ")
            _add_quote_runs(paragraph, texts, decision.quote, _clock(decision.at, hours))
    if not minutes.decisions:
        _paragraph(document, texts("none"))

    document.add_heading(texts("heading_todos"), level=1)
    if minutes.todos:
        header = [
            texts(name) for name in ("column_owner", "column_task", "column_due", "column_source")
        ]
        rows = [
            [
                _line(todo.owner) if todo.owner else texts("unassigned"),
                _line(todo.task),
                texts.due(todo.due, todo.due_text),
                "",
            ]
            for todo in minutes.todos
        ]
        table = _table(document, header, rows, widths=[2.6, 6.4, 3.0, 4.0])
        for row, todo in zip(table.rows[1:], minutes.todos, strict=True):
            _add_quote_runs(row.cells[3].paragraphs[0], texts, todo.quote, _clock(todo.at, hours))
    else:
        _paragraph(document, texts("none"))

    if minutes.topics:
        document.add_heading(texts("heading_topics"), level=1)
        for topic in minutes.topics:
            paragraph = _paragraph(document, style="List Bullet")
            if topic.start is not None:
                span = _clock(topic.start, hours)
                if topic.end is not None:
                    span += f"–{_clock(topic.end, hours)}"
                paragraph.add_run(f"{span}  ").font.color.rgb = MUTED
            paragraph.add_run(_line(topic.title))
    if minutes.keywords:
        document.add_heading(texts("heading_keywords"), level=1)
        _paragraph(document, texts("separator").join(map(_line, minutes.keywords)))
    if minutes.open_questions:
        document.add_heading(texts("heading_open_questions"), level=1)
        for question in minutes.open_questions:
            _paragraph(document, _line(question), style="List Bullet")


def _speakers(
    document: DocxDocument, result: MeetingResult, texts: ReportTexts, *, chart: bool
) -> None:
    stats: list[SpeakerStat] = by_talk_time(speaker_stats(result))
    if not stats:
        return
    hours = clock_needs_hours(result)
    document.add_heading(texts("heading_speakers"), level=1)
    if chart and any(stat.talk_time > 0 for stat in stats):
        try:
            from meeting.report.chart import talk_time_chart

            png = talk_time_chart(stats, hours=hours)
        except (OSError, ValueError):
            log.exception("could not draw the talk-time chart; the report goes without it")
        else:
            document.add_picture(io.BytesIO(png), width=CHART_WIDTH)
            picture = document.inline_shapes[len(document.inline_shapes) - 1]
            picture._inline.docPr.set("descr", texts("chart_caption"))
            _paragraph(document, texts("chart_caption"), style="Caption")
    header = [texts(name) for name in ("column_speaker", "column_talk_time", "column_share")]
    rows = [
        [_line(s.name), format_clock(s.talk_time, hours=hours), percent(s.share)] for s in stats
    ]
    _table(document, header, rows, widths=[8.0, 4.0, 4.0])


def _transcript(document: DocxDocument, result: MeetingResult, texts: ReportTexts) -> None:
    hours = clock_needs_hours(result)
    document.add_heading(texts("heading_transcript"), level=1)
    for part in transcript_paragraphs(result.transcript):
        paragraph = _paragraph(document)
        paragraph.paragraph_format.space_after = Pt(6)
        speaker = _line(part.speaker) if part.speaker else texts("unknown_speaker")
        paragraph.add_run(speaker).bold = True
        paragraph.add_run(f"  {format_clock(part.start, hours=hours)}").font.color.rgb = MUTED
        paragraph.add_run().add_break(WD_BREAK.LINE)
        paragraph.add_run(xml_text(part.text))


# --- the document --------------------------------------------------------------------------


def build_docx(
    result: MeetingResult,
    *,
    include_transcript: bool = True,
    chart: bool = True,
    east_asian_font: str = DEFAULT_EAST_ASIAN_FONT,
) -> DocxDocument:
    """The report as a python-docx ``Document`` (``write_docx`` saves it)."""
    language = report_language(result)
    texts = report_texts(language)
    document = Document()
    use_east_asian_font(document, east_asian_font, LANGUAGE_TAGS[language])
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)  # A4
    section.left_margin = section.right_margin = Cm(2.5)

    date = texts.date(result.info.date) if result.info.date else ""
    title = xml_text(texts("report_title", title=_line(result.info.title), date=date))
    properties = document.core_properties
    properties.title = title[:255]
    properties.subject = texts("minutes_name")
    properties.language = LANGUAGE_TAGS[language]
    properties.author = properties.last_modified_by = "officebot"
    properties.created = properties.modified = datetime.now(UTC).replace(tzinfo=None)
    keywords = ", ".join(result.minutes.keywords) if result.minutes else ""
    properties.keywords = _line(keywords)[:255]

    document.add_heading(title, level=0)
    _details(document, result, texts)
    _minutes(document, result, texts)
    _speakers(document, result, texts, chart=chart)
    if include_transcript:
        _transcript(document, result, texts)
    return document


def write_docx(
    result: MeetingResult,
    path: str | Path,
    *,
    include_transcript: bool = True,
    chart: bool = True,
    east_asian_font: str = DEFAULT_EAST_ASIAN_FONT,
) -> Path:
    """Write the report to ``path`` (.docx) and return the path.

    ``include_transcript`` adds the full transcript (the meeting setting
    ``report_transcript``); ``chart`` the talk-time chart; ``east_asian_font`` is the font
    named for Chinese text (the reader's Word or LibreOffice substitutes a similar one).
    """
    target = Path(path)
    document = build_docx(
        result,
        include_transcript=include_transcript,
        chart=chart,
        east_asian_font=east_asian_font,
    )
    document.save(str(target))
    return target


def docx_bytes(
    result: MeetingResult,
    *,
    include_transcript: bool = True,
    chart: bool = True,
    east_asian_font: str = DEFAULT_EAST_ASIAN_FONT,
) -> bytes:
    """The report as .docx bytes, for storing or sending without a file of our own."""
    buffer = io.BytesIO()
    build_docx(
        result,
        include_transcript=include_transcript,
        chart=chart,
        east_asian_font=east_asian_font,
    ).save(buffer)
    return buffer.getvalue()
