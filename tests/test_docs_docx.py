"""Markdown to .docx (docs_gen.docx_writer): a Chinese event plan and an English meeting plan
read back with python-docx (structure, tables, numbering, links, the picture, fonts), odd and
broken Markdown, and both documents converted to PDF by LibreOffice."""

from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import docx
import pytest
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm
from PIL import Image, ImageDraw

from docs_gen.docx_writer import DocumentInfo, MarkdownDocxError, build_document, markdown_to_docx
from docs_gen.errors import DocumentError
from llm.guardrails import escape_markdown

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"

CHINESE_PLAN = r"""# 2026 年度客户答谢会策划方案

<!-- kind: event_plan; rendered by officebot -->

## 活动概述

本次答谢会面向华东区重点客户，
旨在回顾合作成果、介绍新一年的产品路线。\
时间：2026 年 12 月 18 日（周五）下午

## 活动目标

1. 邀请 **80 位**重点客户到场
2. 现场签约意向客户不少于 *10 家*
3. 收集客户对新产品的反馈

## 日程安排

| 时间 | 环节 | 负责人 |
| :---: | --- | --- |
| 14:00–14:30 | 签到 \| 领取资料 | 王芳 |
| 14:30–15:10 | 主题演讲：`2027` 产品路线 | 李雷 |
| 15:10–16:00 | 客户圆桌讨论 | 韩梅梅 |
| 16:00–17:30 | 晚宴与抽奖 | 张伟 |

## 预算

| 项目 | 数量 | 金额（元） |
| --- | ---: | ---: |
| 场地租赁 | 1 | 12,000 |
| 餐饮 | 80 | 16,000 |
| 物料与礼品 | 80 | 9,600 |
| **合计** | | **37,600** |

## 筹备工作

### 任务分工

1. 确认场地并签订合同
2. 发送邀请函
   1. 首批：战略客户
   2. 第二批：其他客户
3. 准备礼品
   1. 采购抽奖奖品

### 检查清单

- [x] 场地已预订
- [ ] 邀请函已发送
- [ ] 抽奖奖品已到货

## 流程图

![活动流程图](flow.png)

## 备注

> 所有对外材料须经市场部审核。

报名页面：[客户答谢会报名](https://example.com/events/2026?src=docx&lang=zh)，
或访问 https://example.com/faq。
客户留言：\*不是斜体\*、\# 不是标题、a\|b
"""

ENGLISH_PLAN = r"""# Quarterly Planning Meeting

## Goals

1. Agree on the Q3 roadmap
2. Assign an owner to every
   initiative

## Agenda

| Time | Topic | Owner |
| --- | --- | --- |
| 09:00 | Welcome and *context* | Alice |
| 09:15 | Roadmap review | Bob |

## Budget

| Item | Cost (USD) |
| --- | ---: |
| Room | 400 |
| Catering | 250 |
| **Total** | **650** |

## Follow-ups

1. Send the minutes
2. Book the next meeting

- [ ] Share the slides
- [x] Reserve the room

> Decisions are final once they are minuted.

See the [planning wiki](https://wiki.example.com/q3) and
https://example.com/agenda.

![Meeting workflow](workflow.png)
"""

CHINESE_INFO = DocumentInfo(
    title="2026 年度客户答谢会策划方案",
    language="zh",
    subject="活动策划",
    keywords=("客户答谢会", "华东区"),
    header="活动策划 · 2026-12-18",
)
ENGLISH_INFO = DocumentInfo(
    title="Quarterly Planning Meeting", language="en", subject="Meeting plan", keywords=("Q3",)
)


def flowchart_png(width: int = 1200, height: int = 600, image_format: str = "PNG") -> bytes:
    """Three boxes joined by arrows, like the workflow diagram."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    box = width // 5
    for index in range(3):
        left = box // 2 + index * (box + box // 2)
        draw.rectangle((left, height // 3, left + box, 2 * height // 3), outline="navy", width=4)
        if index:
            draw.line((left - box // 2, height // 2, left, height // 2), fill="black", width=4)
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def chinese() -> DocxDocument:
    data = markdown_to_docx(CHINESE_PLAN, CHINESE_INFO, images={"flow.png": flowchart_png()})
    return docx.Document(io.BytesIO(data))


@pytest.fixture(scope="module")
def english() -> DocxDocument:
    images = {"workflow.png": flowchart_png(image_format="JPEG")}
    return docx.Document(io.BytesIO(markdown_to_docx(ENGLISH_PLAN, ENGLISH_INFO, images=images)))


def styled(document: DocxDocument) -> list[tuple[str, str]]:
    return [(p.style.name if p.style else "", p.text) for p in document.paragraphs]


def texts_in(document: DocxDocument, style: str) -> list[str]:
    return [text for name, text in styled(document) if name == style]


def num_ids(document: DocxDocument, style: str) -> list[int]:
    """The numbering instance of each paragraph in ``style``, in order."""
    found = []
    for paragraph in document.paragraphs:
        if paragraph.style is not None and paragraph.style.name == style:
            num_id = paragraph._p.find(f"{W}pPr/{W}numPr/{W}numId")
            assert num_id is not None, paragraph.text
            found.append(int(num_id.get(f"{W}val")))
    return found


def start_of(document: DocxDocument, num_id: int) -> int:
    numbering = document.part.numbering_part.element
    num = numbering.num_having_numId(num_id)
    return int(num.find(f"{W}lvlOverride/{W}startOverride").get(f"{W}val"))


def abstract_of(document: DocxDocument, num_id: int) -> int:
    numbering = document.part.numbering_part.element
    return int(numbering.num_having_numId(num_id).abstractNumId.val)


def east_asian(document: DocxDocument, style: str) -> str | None:
    r_fonts = document.styles[style].element.find(f"{W}rPr/{W}rFonts")
    return None if r_fonts is None else r_fonts.get(f"{W}eastAsia")


def fill_of(cell: object) -> str | None:
    shading = cell._tc.find(f"{W}tcPr/{W}shd")  # type: ignore[attr-defined]
    return None if shading is None else shading.get(f"{W}fill")


# --- the Chinese event plan ----------------------------------------------------------------


def test_title_and_headings_in_order(chinese: DocxDocument) -> None:
    assert styled(chinese)[0] == ("Title", "2026 年度客户答谢会策划方案")
    assert texts_in(chinese, "Title") == ["2026 年度客户答谢会策划方案"]
    assert texts_in(chinese, "Heading 1") == [
        "活动概述", "活动目标", "日程安排", "预算", "筹备工作", "流程图", "备注",
    ]  # fmt: skip
    assert texts_in(chinese, "Heading 2") == ["任务分工", "检查清单"]
    # Chinese lines join without a space; a trailing backslash breaks the line
    assert (
        "本次答谢会面向华东区重点客户，旨在回顾合作成果、介绍新一年的产品路线。\n"
        "时间：2026 年 12 月 18 日（周五）下午"
    ) in texts_in(chinese, "Normal")
    assert not any("kind: event_plan" in text for _, text in styled(chinese))


def test_agenda_and_budget_tables(chinese: DocxDocument) -> None:
    agenda, budget = chinese.tables
    assert [[cell.text for cell in row.cells] for row in agenda.rows] == [
        ["时间", "环节", "负责人"],
        ["14:00–14:30", "签到 | 领取资料", "王芳"],
        ["14:30–15:10", "主题演讲：2027 产品路线", "李雷"],
        ["15:10–16:00", "客户圆桌讨论", "韩梅梅"],
        ["16:00–17:30", "晚宴与抽奖", "张伟"],
    ]
    for table in (agenda, budget):
        assert table.style is not None
        assert table.style.name == "Table Grid"
        header = table.rows[0]
        assert header._tr.find(f"{W}trPr/{W}tblHeader") is not None  # repeats on each page
        assert all(run.bold for cell in header.cells for run in cell.paragraphs[0].runs)
    assert agenda.rows[1].cells[0].paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.CENTER
    code = [run for run in agenda.rows[2].cells[1].paragraphs[0].runs if run.text == "2027"]
    assert code
    assert code[0].font.name == "Courier New"

    rows = [[cell.text for cell in row.cells] for row in budget.rows]
    assert rows[-1] == ["合计", "", "37,600"]
    assert rows[1] == ["场地租赁", "1", "12,000"]
    total = budget.rows[-1]
    assert [fill_of(cell) for cell in total.cells] == ["F2F2F2"] * 3
    assert [fill_of(cell) for cell in budget.rows[1].cells] == [None] * 3
    assert all(run.bold for run in total.cells[2].paragraphs[0].runs)
    for row in budget.rows:
        assert row.cells[2].paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT
        assert row.cells[0].paragraphs[0].alignment is None
    assert sum(column.width for column in budget.columns) == pytest.approx(Cm(16), abs=Cm(0.01))


def test_each_numbered_list_restarts(chinese: DocxDocument) -> None:
    assert texts_in(chinese, "List Number") == [
        "邀请 80 位重点客户到场", "现场签约意向客户不少于 10 家", "收集客户对新产品的反馈",
        "确认场地并签订合同", "发送邀请函", "准备礼品",
    ]  # fmt: skip
    goals, tasks = num_ids(chinese, "List Number")[:3], num_ids(chinese, "List Number")[3:]
    assert len(set(goals)) == 1
    assert len(set(tasks)) == 1
    assert goals[0] != tasks[0]
    assert start_of(chinese, goals[0]) == start_of(chinese, tasks[0]) == 1
    style_num = chinese.styles["List Number"].element.pPr.numPr.numId.val
    assert abstract_of(chinese, goals[0]) == abstract_of(chinese, style_num)
    # the sub-lists under "发送邀请函" and "准备礼品" each start at 1 too
    assert texts_in(chinese, "List Number 2") == [
        "首批：战略客户",
        "第二批：其他客户",
        "采购抽奖奖品",
    ]
    first, _, second = num_ids(chinese, "List Number 2")
    assert first != second
    assert start_of(chinese, first) == start_of(chinese, second) == 1


def test_checklist_quote_and_escapes(chinese: DocxDocument) -> None:
    assert texts_in(chinese, "List Paragraph") == [
        "☑\t场地已预订", "☐\t邀请函已发送", "☐\t抽奖奖品已到货",
    ]  # fmt: skip
    assert texts_in(chinese, "Quote") == ["所有对外材料须经市场部审核。"]
    last = chinese.paragraphs[-1].text
    assert "客户留言：*不是斜体*、# 不是标题、a|b" in last
    assert not any(run.italic for run in chinese.paragraphs[-1].runs)


def test_hyperlinks_are_real(chinese: DocxDocument) -> None:
    paragraph = chinese.paragraphs[-1]
    links = [(link.text, link.url) for link in paragraph.hyperlinks]
    assert links == [
        ("客户答谢会报名", "https://example.com/events/2026?src=docx&lang=zh"),
        ("https://example.com/faq", "https://example.com/faq"),  # without the "。"
    ]
    hyperlink = paragraph._p.find(f"{W}hyperlink")
    relationship = chinese.part.rels[hyperlink.get(f"{R}id")]
    assert relationship.is_external
    assert relationship.reltype.endswith("/hyperlink")
    style = hyperlink.find(f"{W}r/{W}rPr/{W}rStyle")
    assert style is not None
    assert style.get(f"{W}val") == "Hyperlink"
    link_style = chinese.styles["Hyperlink"]
    assert link_style.font.underline
    assert link_style.font.color.rgb is not None


def test_picture_fits_the_page_with_its_caption(chinese: DocxDocument) -> None:
    assert len(chinese.inline_shapes) == 1
    shape = chinese.inline_shapes[0]
    assert shape.width == Cm(16)  # 1200 px at 96 dpi is 31.75 cm: scaled down
    assert shape.height == Cm(8)  # the aspect ratio kept
    assert shape._inline.docPr.get("descr") == "活动流程图"
    names = [name for name, _ in styled(chinese)]
    at = next(i for i, p in enumerate(chinese.paragraphs) if p._p.xpath(".//w:drawing"))
    assert chinese.paragraphs[at].alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert (names[at + 1], chinese.paragraphs[at + 1].text) == ("Caption", "活动流程图")


def test_page_header_footer_and_properties(chinese: DocxDocument) -> None:
    section = chinese.sections[0]
    twip = Cm(0.01)  # lengths are stored in twentieths of a point
    assert section.page_width == pytest.approx(Cm(21), abs=twip)
    assert section.page_height == pytest.approx(Cm(29.7), abs=twip)
    for margin in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        assert getattr(section, margin) == pytest.approx(Cm(2.5), abs=twip), margin
    header = section.header.paragraphs[0]
    assert header.text == "活动策划 · 2026-12-18"
    assert header.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    assert header.runs[0].font.color.rgb is not None
    footer = section.footer.paragraphs[0]
    assert footer.text == "第 1 页"
    assert footer.alignment == WD_ALIGN_PARAGRAPH.CENTER
    instructions = [element.text for element in footer._p.iter(f"{W}instrText")]
    assert [text.strip() for text in instructions] == ["PAGE"]
    kinds = [element.get(f"{W}fldCharType") for element in footer._p.iter(f"{W}fldChar")]
    assert kinds == ["begin", "separate", "end"]

    properties = chinese.core_properties
    assert properties.title == "2026 年度客户答谢会策划方案"
    assert properties.subject == "活动策划"
    assert properties.keywords == "客户答谢会, 华东区"
    assert properties.language == "zh-CN"
    assert properties.author == "officebot"
    assert properties.created is not None
    assert properties.modified is not None


def test_every_style_names_the_east_asian_font(chinese: DocxDocument) -> None:
    for style in (
        "Normal", "Title", "Heading 1", "Heading 2", "Heading 3", "List Number",
        "List Number 2", "List Bullet", "List Paragraph", "Quote", "Caption", "Table Grid",
        "Header", "Footer", "Code", "Hyperlink",
    ):  # fmt: skip
        assert east_asian(chinese, style) == "Microsoft YaHei", style
    defaults = chinese.styles.element.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr")
    assert defaults.find(f"{W}rFonts").get(f"{W}eastAsia") == "Microsoft YaHei"
    assert defaults.find(f"{W}lang").get(f"{W}eastAsia") == "zh-CN"
    assert "eastAsiaTheme" not in chinese.styles.element.xml

    other = build_document("# 标题\n\n1. 一", CHINESE_INFO, east_asian_font="Noto Sans CJK SC")
    assert east_asian(other, "List Number") == "Noto Sans CJK SC"


# --- the English meeting plan --------------------------------------------------------------


def test_english_document(english: DocxDocument) -> None:
    assert styled(english)[0] == ("Title", "Quarterly Planning Meeting")
    assert texts_in(english, "Heading 1") == ["Goals", "Agenda", "Budget", "Follow-ups"]
    # a Latin continuation line joins with a space
    assert texts_in(english, "List Number") == [
        "Agree on the Q3 roadmap", "Assign an owner to every initiative",
        "Send the minutes", "Book the next meeting",
    ]  # fmt: skip
    numbers = num_ids(english, "List Number")
    goals, follow_ups = set(numbers[:2]), numbers[2:]
    assert len(goals) == 1
    assert set(follow_ups) == {follow_ups[0]}
    assert follow_ups[0] not in goals
    assert start_of(english, follow_ups[0]) == 1

    agenda, budget = english.tables
    assert [cell.text for cell in agenda.rows[1].cells] == ["09:00", "Welcome and context", "Alice"]
    italic = [run.text for run in agenda.rows[1].cells[1].paragraphs[0].runs if run.italic]
    assert italic == ["context"]
    assert [cell.text for cell in budget.rows[-1].cells] == ["Total", "650"]
    assert [fill_of(cell) for cell in budget.rows[-1].cells] == ["F2F2F2"] * 2

    assert texts_in(english, "List Paragraph") == ["☐\tShare the slides", "☑\tReserve the room"]
    assert texts_in(english, "Quote") == ["Decisions are final once they are minuted."]
    links = [link.url for p in english.paragraphs for link in p.hyperlinks]
    assert links == ["https://wiki.example.com/q3", "https://example.com/agenda"]
    assert len(english.inline_shapes) == 1
    assert texts_in(english, "Caption") == ["Meeting workflow"]

    section = english.sections[0]
    assert section.header.paragraphs[0].text == "Meeting plan"  # no header: the subject
    assert section.footer.paragraphs[0].text == "Page 1"
    assert english.core_properties.language == "en-US"
    assert english.core_properties.keywords == "Q3"


# --- the subset's details ------------------------------------------------------------------


def build(markdown: str, **images: bytes) -> DocxDocument:
    return build_document(markdown, ENGLISH_INFO, images=images)


def test_headings_levels_and_what_is_not_a_heading() -> None:
    document = build(
        "# Title\n## One\n### Two\n#### Three ####\n# Again\n#hashtag\n\\# escaped\n#\n"
    )
    assert styled(document) == [
        ("Title", "Title"),
        ("Heading 1", "One"),
        ("Heading 2", "Two"),
        ("Heading 3", "Three"),
        ("Heading 1", "Again"),
        ("Normal", "#hashtag # escaped"),
    ]


def test_list_numbering_rules() -> None:
    document = build(
        "3. three\n\n4. four\n- bullet\n1. one again\n  - sub bullet\n2. two\n\n"
        "   continued paragraph\n\n3. three\n\nText.\n\n1. fresh"
    )
    names = [name for name, _ in styled(document)]
    assert names == [
        "List Number", "List Number", "List Bullet", "List Number", "List Bullet 2",
        "List Number", "List Continue", "List Number", "Normal", "List Number",
    ]  # fmt: skip
    ids = num_ids(document, "List Number")
    # a blank line keeps the list, a bullet item or a paragraph ends it; the first number counts
    assert ids[0] == ids[1]
    assert len({ids[0], ids[2], ids[5]}) == 3
    assert ids[2] == ids[3] == ids[4]
    assert [start_of(document, num_id) for num_id in (ids[0], ids[2], ids[5])] == [3, 1, 1]


def test_inline_markup_runs() -> None:
    document = build(
        "Plain **bold** *italic* _also_ ***both*** `co*de*` snake_case_name 2 * 3 "
        "**unclosed and *stray [bracket](nothing <br> after\nline two\\\nline three  \nfour"
    )
    paragraph = document.paragraphs[0]
    runs = [(run.text, bool(run.bold), bool(run.italic)) for run in paragraph.runs]
    assert ("bold", True, False) in runs
    assert ("italic", False, True) in runs
    assert ("also", False, True) in runs
    assert ("both", True, True) in runs
    code = next(run for run in paragraph.runs if run.text == "co*de*")
    assert code.font.name == "Courier New"
    assert paragraph.text == (
        "Plain bold italic also both co*de* snake_case_name 2 * 3 "
        "**unclosed and *stray [bracket](nothing \n after line two\nline three\nfour"
    )


USER_TEXTS = [
    "回顾 <script>alert(1)</script> & 表彰 **重点** | 串场",
    "- not a bullet",
    "1. not a number",
    "1) nor this",
    "# not a heading",
    "> not a quote",
    "---",
    "| a | b |",
    "![not](an image) [nor](a link) <!-- nor a comment --> <br>",
    "`not code` ~~not struck~~ _not italic_ snake_case &amp; &lt;",
    "见https://example.com/a_b?x=1&y=(2)。然后 http://x.y/**z**",
    "C:\\path\\to\\file\\ and a trailing backslash \\",
    "    four spaces in front, tab\there",
]


def test_text_escaped_by_the_templates_reads_back_as_written() -> None:
    """What the templates write for model or user text (llm.guardrails.escape_markdown, via
    docs_gen.render.esc) is that text in the document, nothing more and nothing lost."""
    rng = random.Random(7)
    alphabet = [*"*_`#[]()|~<>&!\\-+=.:/ 1a中文", "https://", "&amp;", "<br>", "\t"]
    samples = USER_TEXTS + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))) for _ in range(300)
    ]
    expected = [" ".join(sample.split()) for sample in samples]
    samples = [sample for sample, text in zip(samples, expected, strict=True) if text]
    expected = [text for text in expected if text]
    document = build("\n\n".join(escape_markdown(text) for text in expected))
    assert [p.text for p in document.paragraphs] == expected
    assert {name for name, _ in styled(document)} == {"Normal"}
    assert not document.tables
    links = [link.url for p in document.paragraphs[:11] for link in p.hyperlinks]
    assert links == ["https://example.com/a_b?x=1&y=(2)", "http://x.y/**z"]


def test_links_only_for_safe_schemes() -> None:
    document = build(
        "[run](javascript:alert(1)) [mail](mailto:team@example.com) "
        "[spaced](<https://example.com/a b>) <https://example.com/angle> "
        "xhttps://not.a.link (see https://example.com/x_(y)), done"
    )
    paragraph = document.paragraphs[0]
    assert [(link.text, link.url) for link in paragraph.hyperlinks] == [
        ("mail", "mailto:team@example.com"),
        ("spaced", "https://example.com/a%20b"),
        ("https://example.com/angle", "https://example.com/angle"),
        ("https://example.com/x_(y)", "https://example.com/x_(y)"),
    ]
    assert paragraph.text.startswith("run mail spaced")
    assert all("javascript" not in rel.target_ref for rel in document.part.rels.values())


def test_code_rule_comments_and_tables_side_by_side() -> None:
    document = build(
        "Before <!-- inline --> after\n<!--\nmulti-line\n-->\n\n```python\n"
        "def f(x):\n    return x  # **not bold**\n```\n\n---\n\n"
        "| a |\n|---|\n| 1 |\n\n| b | c |\n|:-|-:|\n| 2 | 3 | 4 |\n| 5 |\n\n<!-- never closed"
    )
    assert styled(document)[:3] == [
        ("Normal", "Before  after"),
        ("Code", "def f(x):"),
        ("Code", "    return x  # **not bold**"),
    ]
    rule = document.paragraphs[3]
    assert rule.text == ""
    assert rule._p.find(f"{W}pPr/{W}pBdr/{W}bottom") is not None
    first, second = document.tables
    assert [[c.text for c in row.cells] for row in first.rows] == [["a"], ["1"]]
    # surplus cells join the last, missing ones are empty: no text is lost
    assert [[c.text for c in row.cells] for row in second.rows] == [
        ["b", "c"], ["2", "3 | 4"], ["5", ""],
    ]  # fmt: skip
    body = document.element.body
    between = first._tbl.getnext()
    assert between.tag == f"{W}p"
    assert between.getnext() is second._tbl
    assert document.paragraphs[-1].text == "<!-- never closed"
    assert len(body.findall(f"{W}tbl")) == 2


def test_pictures_scale_convert_or_link() -> None:
    tall = flowchart_png(200, 2000)
    small = flowchart_png(96, 48)
    gif = flowchart_png(400, 200, image_format="GIF")
    document = build(
        "![](tall.png)\n\n![small](small.png)\n\n![gif](anim.gif)\n\n"
        "![remote](https://example.com/logo.png)",
        **{"tall.png": tall, "small.png": small, "anim.gif": gif},
    )
    tall_shape, small_shape, gif_shape = document.inline_shapes
    assert tall_shape.height == Cm(20)
    assert tall_shape.width == Cm(2)
    assert (small_shape.width, small_shape.height) == (Cm(2.54), Cm(1.27))  # never enlarged
    assert gif_shape.width > 0
    embedded = gif_shape._inline.graphic.graphicData.pic.blipFill.blip.embed
    assert document.part.related_parts[embedded].content_type == "image/png"  # converted
    assert texts_in(document, "Caption") == ["small", "gif"]
    remote = document.paragraphs[-1]
    assert [(link.text, link.url) for link in remote.hyperlinks] == [
        ("remote", "https://example.com/logo.png")
    ]


def test_unknown_or_broken_image_is_an_error() -> None:
    with pytest.raises(MarkdownDocxError, match=r"'diagram\.png'.*\(flow\.png\)") as missing:
        build("# Plan\n\n![流程](diagram.png)", **{"flow.png": flowchart_png()})
    assert isinstance(missing.value, DocumentError)  # reported like the pipeline's other errors
    assert missing.value.code == "docs_docx"
    with pytest.raises(MarkdownDocxError, match=r"'flow\.png'"):
        build("![流程](flow.png)", **{"flow.png": b"not an image at all"})
    with pytest.raises(MarkdownDocxError, match="none"):
        build_document("![x](x.png)", ENGLISH_INFO)


def test_garbage_markdown_still_gives_a_valid_document() -> None:
    garbage = "# **unbalanced\n|||\n| a | b\n|--|\n**\n* \n1.\n> \n>>> deep\n```\nnever closed\n"
    controls = "bad\x00chars\x07 and \x0b tab\there \ud800 lone surrogate \ufffe"
    data = markdown_to_docx(garbage + "\n" + controls + "\n", CHINESE_INFO)
    document = docx.Document(io.BytesIO(data))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "**unbalanced"
    assert "never closed" in texts
    assert "badchars and  tab\there  lone surrogate " in texts

    stray = docx.Document(io.BytesIO(markdown_to_docx("a | b\nc ** d _ e ` f [g](", ENGLISH_INFO)))
    assert [p.text for p in stray.paragraphs] == ["a | b c ** d _ e ` f [g]("]
    assert len(docx.Document(io.BytesIO(markdown_to_docx("", ENGLISH_INFO))).paragraphs) == 0


def test_document_info_refuses_an_unknown_language() -> None:
    with pytest.raises(ValueError, match="accepted: zh, en"):
        DocumentInfo(title="x", language="fr")  # type: ignore[arg-type]


# --- LibreOffice ---------------------------------------------------------------------------


def pdf_strings(pdf: bytes) -> set[str]:
    """The UTF-16 text strings of a PDF (document info, outline), compressed streams too."""
    chunks = [pdf]
    for stream in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL):
        try:
            chunks.append(zlib.decompress(stream.group(1)))
        except zlib.error:
            continue
    found = set()
    for chunk in chunks:
        for value in re.finditer(rb"<FEFF((?:[0-9A-Fa-f]{4})*)>", chunk):
            found.add(bytes.fromhex(value.group(1).decode()).decode("utf-16-be", "replace"))
    return found


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both plans as .docx, .pdf and .txt (LibreOffice's own rendering of the numbers)."""
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office is None:
        pytest.fail("LibreOffice is missing: `make setup` installs libreoffice-writer-nogui")
    folder = tmp_path_factory.mktemp("office")
    (folder / "plan-zh.docx").write_bytes(
        markdown_to_docx(CHINESE_PLAN, CHINESE_INFO, images={"flow.png": flowchart_png()})
    )
    images = {"workflow.png": flowchart_png(image_format="JPEG")}
    (folder / "plan-en.docx").write_bytes(
        markdown_to_docx(ENGLISH_PLAN, ENGLISH_INFO, images=images)
    )
    for target in ("pdf", "txt:Text (encoded):UTF8"):
        subprocess.run(
            [office, "--headless", f"-env:UserInstallation=file://{folder}/profile",
             "--convert-to", target, "--outdir", str(folder),
             str(folder / "plan-zh.docx"), str(folder / "plan-en.docx")],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    return folder


def test_libreoffice_converts_both_plans_to_pdf(converted: Path) -> None:
    for name in ("plan-zh", "plan-en"):
        pdf = converted / f"{name}.pdf"
        assert pdf.is_file(), name
        assert pdf.read_bytes().startswith(b"%PDF")
    strings = pdf_strings((converted / "plan-zh.pdf").read_bytes())
    assert "2026 年度客户答谢会策划方案" in strings  # the document's title
    assert {"活动目标", "日程安排", "预算", "任务分工"} <= strings  # headings became bookmarks
    pdf_data = (converted / "plan-zh.pdf").read_bytes()
    assert b"https://example.com/faq" in pdf_data  # the hyperlink is a link in the PDF too
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", str(converted / "plan-zh.pdf"), "-"],
            check=True, capture_output=True, text=True, timeout=60,
        ).stdout  # fmt: skip
        assert "2026 年度客户答谢会策划方案" in text
        assert "第 1 页" in text


def test_libreoffice_numbers_each_list_from_one(converted: Path) -> None:
    lines = [
        line.strip() for line in (converted / "plan-zh.txt").read_text("utf-8-sig").split("\n")
    ]
    assert "1. 邀请 80 位重点客户到场" in lines
    assert "3. 收集客户对新产品的反馈" in lines
    assert "1. 确认场地并签订合同" in lines
    assert "3. 准备礼品" in lines
    english = (converted / "plan-en.txt").read_text("utf-8-sig")
    assert re.search(r"1\. Send the minutes\s+2\. Book the next meeting", english)
