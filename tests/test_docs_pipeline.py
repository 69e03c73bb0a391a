"""The document pipeline without the model: what a brief states in figures, the figures code
computes (agenda times that add up, budget totals that always match their lines, within the
cap), kinds and custom kinds picked up from a directory, the model's answers checked, and the
document rendered to Markdown, DingTalk messages and a .docx read back with python-docx."""

from __future__ import annotations

import io
import itertools
import random
import re
from decimal import Decimal
from pathlib import Path

import docx
import pytest
from pydantic import ValidationError

from docs_gen.brief import default_start, read_brief
from docs_gen.draft import Draft
from docs_gen.errors import BriefError, DocumentError
from docs_gen.kind import DocumentKinds, UnknownKindError
from docs_gen.numbers import fit_minutes, format_money, plan_budget, schedule_agenda
from docs_gen.render import (
    FLOW_IMAGE,
    document_docx,
    document_markdown,
    draft_json,
    section_chat_markdown,
    section_view,
)
from docs_gen.sections import answer_model, checked_answer
from plugins.builtin.docs import guess_kind

KINDS = DocumentKinds()


# --- briefs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("brief", "budget", "people", "minutes", "start"),
    [
        ("12月18日下午2点在3楼大会议室办200人的年终总结会，预算5万，2小时", 50_000, 200, 120, 840),
        ("下周三上午十点开一个1个半小时的季度复盘会，十来人", None, 10, 90, 600),
        ("90分钟的评审会，下午3:30开始，经费不超过8000元", 8_000, None, 90, 930),
        (
            "Team offsite for 40 people on Friday from 9:30am, half-day, budget $12,000",
            12_000,
            40,
            210,
            570,
        ),
        (
            "Product launch, budget of 20k, 2 hours starting 2pm, 150 attendees",
            20_000,
            150,
            120,
            840,
        ),
        ("采购审批流程：金额超过5000元需要总监审批", None, None, None, None),
        ("时长不超过1小时的周会，费用控制在3000元以内", 3_000, None, 60, None),
        ("half a day workshop for 20 people", None, 20, 210, None),
    ],
)
def test_brief_figures(
    brief: str, budget: int | None, people: int | None, minutes: int | None, start: int | None
) -> None:
    facts = read_brief(brief)
    assert facts.budget == (Decimal(budget) if budget else None)
    assert facts.people == people
    assert facts.duration_minutes == minutes
    assert facts.start_minute == start


def test_brief_language_and_defaults() -> None:
    assert read_brief("年终晚会").language == "zh"
    assert read_brief("Quarterly review with the sales team").language == "en"
    assert default_start(read_brief("周五晚上的团建晚宴")) == 19 * 60
    assert default_start(read_brief("下午的培训")) == 14 * 60
    assert default_start(read_brief("周会")) == 9 * 60 + 30


def test_bad_briefs_are_refused_with_what_is_accepted() -> None:
    with pytest.raises(BriefError, match="empty"):
        read_brief(" \n\x00 ")
    with pytest.raises(BriefError, match="at most 2000"):
        read_brief("会" * 2001)
    assert read_brief("年会\x07\x1b安排").text == "年会 安排"


def test_kind_is_guessed_from_a_brief_without_one() -> None:
    assert guess_kind("报销审批流程") == "workflow"
    assert guess_kind("下周一的项目评审会") == "meeting-plan"
    assert guess_kind("Weekly sync with design") == "meeting-plan"
    assert guess_kind("年终晚会，300人") == "event-plan"


# --- figures -----------------------------------------------------------------------------------


def test_agenda_fits_the_meeting_and_times_follow_on() -> None:
    slots = schedule_agenda(
        [("开场", "主持人", 7), ("汇报", "财务", 50), ("讨论", "", 33), ("总结", "", 3)],
        start_minute=14 * 60,
        total_minutes=120,
    )
    assert next(s.start for s in slots) == "14:00"
    assert slots[-1].end == "16:00"
    assert sum(s.minutes for s in slots) == 120
    assert all(a.end_minute == b.start_minute for a, b in itertools.pairwise(slots))
    assert all(s.minutes >= 5 and s.minutes % 5 == 0 for s in slots)


def test_agenda_minutes_always_add_up() -> None:
    generator = random.Random(7)
    for _ in range(500):
        wanted = [generator.randint(1, 240) for _ in range(generator.randint(1, 8))]
        total = generator.choice([None, generator.randint(len(wanted) * 5, 600)])
        minutes = fit_minutes(wanted, total)
        assert len(minutes) == len(wanted)
        assert all(m >= 5 for m in minutes)
        if total is not None:
            assert sum(minutes) == total, (wanted, total, minutes)


def test_budget_totals_always_match_their_lines_and_stay_within_the_cap() -> None:
    generator = random.Random(11)
    for _ in range(500):
        items = [
            (f"item {n}", generator.randint(1, 500), generator.uniform(0, 20_000), "")
            for n in range(generator.randint(1, 8))
        ]
        cap = generator.choice([None, Decimal(generator.randint(1_000, 200_000))])
        budget = plan_budget(items, cap)
        assert budget.total == sum(line.quantity * line.unit_price for line in budget.lines)
        if cap is not None:
            assert budget.total <= cap
            assert budget.remaining == cap - budget.total
        assert all(line.unit_price >= 0 for line in budget.lines)


def test_money_is_shown_with_thousands_and_cents_only_when_there_are_any() -> None:
    assert format_money(Decimal("50000")) == "50,000"
    assert format_money(Decimal("1234.5")) == "1,234.50"


# --- kinds -------------------------------------------------------------------------------------


def test_builtin_kinds_and_their_names() -> None:
    assert {k.name for k in KINDS.all()} == {"event-plan", "meeting-plan", "workflow"}
    assert KINDS.get("活动策划").name == "event-plan"
    assert KINDS.get("Meeting Plan").name == "meeting-plan"
    assert KINDS.get("工作流程方案").name == "workflow"
    with pytest.raises(UnknownKindError, match="known kinds: event-plan"):
        KINDS.get("poem")
    matched = KINDS.match_prefix("会议策划 周一上午的项目评审")
    assert matched is not None
    assert matched[0].name == "meeting-plan"
    assert matched[1] == "周一上午的项目评审"
    assert KINDS.match_prefix("eventful weekend") is None
    assert KINDS.match_prefix("会议室预订流程") is None  # 会议 is no kind here
    matched = KINDS.match_prefix("活动策划12月18日的年会")
    assert matched is not None
    assert matched[1] == "12月18日的年会"
    spec = KINDS.get("event-plan").spec
    assert spec.section("预算").id == "budget"
    with pytest.raises(DocumentError, match="可选"):
        spec.section("poem")


CUSTOM_TOML = """
name = "training-plan"
aliases = ["培训方案", "training"]
title = { zh = "培训方案", en = "Training plan" }
description = { zh = "一次内部培训", en = "an internal training" }

[[sections]]
id = "outline"
type = "numbered"
title = { zh = "课程大纲", en = "Outline" }
hint = { zh = "课程的主要内容。", en = "What the course covers." }

[[sections]]
id = "cost"
type = "budget"
title = { zh = "费用", en = "Cost" }
hint = { zh = "讲师和场地的费用。", en = "Trainer and room." }
"""
CUSTOM_TEMPLATE = """# {{ title }}

{% for section in sections %}
## {{ loop.index }}. {{ section.title }}

{{ section.markdown }}
{% endfor %}
"""


def test_a_custom_kind_dropped_into_the_directory_is_picked_up(tmp_path: Path) -> None:
    kinds = DocumentKinds([tmp_path])
    assert "training-plan" not in {k.name for k in kinds.all()}
    (tmp_path / "training-plan.toml").write_text(CUSTOM_TOML, encoding="utf-8")
    (tmp_path / "training-plan.md.j2").write_text(CUSTOM_TEMPLATE, encoding="utf-8")
    kind = kinds.get("培训方案")
    assert kind.name == "training-plan"
    assert not kind.builtin
    draft = Draft(kind=kind.name, language="zh", brief="新员工培训，预算3000元", title="新员工培训")
    draft.sections = {
        "outline": {"items": ["公司介绍", "产品培训"]},
        "cost": {
            "items": [
                {"item": "讲师", "quantity": 2, "unit_price": 1000, "note": ""},
                {"item": "场地", "quantity": 1, "unit_price": 500, "note": ""},
            ]
        },
    }
    facts = read_brief(draft.brief)
    markdown = document_markdown(kind, draft, facts)
    assert "## 1. 课程大纲" in markdown
    assert "1. 公司介绍" in markdown
    assert "**¥2,500**" in markdown
    assert "结余：¥500" in markdown
    document = docx.Document(io.BytesIO(document_docx(kind, draft, facts)))
    assert "新员工培训" in [p.text for p in document.paragraphs]


def test_a_broken_custom_kind_is_skipped_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text('name = "broken"\ntitle = { zh = "坏" }\n', "utf-8")
    (tmp_path / "lonely.toml").write_text(CUSTOM_TOML.replace("training-plan", "lonely"), "utf-8")
    kinds = DocumentKinds([tmp_path])
    assert {k.name for k in kinds.all()} == {"event-plan", "meeting-plan", "workflow"}
    problems = "\n".join(kinds.problems)
    assert "broken.toml" in problems
    assert "sections" in problems
    assert "lonely.md.j2 is missing" in problems


# --- the model's answers, checked --------------------------------------------------------------


def test_answers_are_bounded_cleaned_and_never_invent_people() -> None:
    spec = KINDS.get("event-plan").spec
    roles = spec.section("roles")
    model = answer_model(roles)
    with pytest.raises(ValidationError):
        model.model_validate({"rows": []})
    answer = model.model_validate(
        {
            "rows": [
                {"role": "主持人", "person": "张伟", "duty": "主持"},
                {"role": "主持人", "person": "张伟", "duty": "主持"},
                {"role": "财务", "person": "李娜", "duty": "管预算"},
                {"role": "摄影", "person": "摄影", "duty": "拍照"},
            ]
        }
    )
    rows = checked_answer(roles, answer, "年终总结会，李娜负责预算")["rows"]
    assert rows == [
        {"role": "主持人", "person": "", "duty": "主持"},  # 张伟 is not in the brief
        {"role": "财务", "person": "李娜", "duty": "管预算"},
        {"role": "摄影", "person": "", "duty": "拍照"},
    ]
    checklist = spec.section("checklist")
    answer = answer_model(checklist).model_validate(
        {"items": ["1. 确认场地", "确认场地", "- 准备物料", "年", "12月18日下午2点办年终总结会"]}
    )
    assert checked_answer(checklist, answer, "12月18日下午2点办年终总结会")["items"] == [
        "确认场地",
        "准备物料",
    ]
    titled = answer_model(spec.sections[0], with_title=True)
    assert "title" in titled.model_json_schema()["properties"]


# --- rendering ---------------------------------------------------------------------------------


def event_draft(language: str = "zh") -> tuple[Draft, object]:
    zh = language == "zh"
    brief = (
        "12月18日下午2点在3楼大会议室办200人的年终总结会，预算5万，2小时"
        if zh
        else "Year-end review for 200 people on Dec 18 from 2pm, 2 hours, budget $50,000"
    )
    draft = Draft(
        kind="event-plan",
        language="zh" if zh else "en",
        brief=brief,
        title="2026 年终总结会" if zh else "2026 Year-end Review",
    )
    draft.sections = {
        "goals": {
            "items": ["回顾全年业绩 <script>", "表彰优秀团队"] if zh else ["Review the year"]
        },
        "audience": {"items": ["全体员工"]},
        "agenda": {
            "items": [
                {"topic": "开场", "minutes": 10, "owner": "主持人"},
                {"topic": "业绩回顾 **重点**", "minutes": 60, "owner": "CEO"},
                {"topic": "颁奖", "minutes": 30, "owner": ""},
            ]
        },
        "roles": {"rows": [{"role": "主持人", "person": "", "duty": "串场 | 控制时间"}]},
        "budget": {
            "items": [
                {"item": "场地", "quantity": 1, "unit_price": 20000, "note": ""},
                {"item": "餐饮", "quantity": 200, "unit_price": 150, "note": "茶歇"},
                {"item": "奖品", "quantity": 10, "unit_price": 800, "note": ""},
            ]
        },
        "risks": {"rows": [{"risk": "设备故障", "mitigation": "备用投影仪"}]},
    }
    draft.failed = {"checklist": "the model timed out"}
    return draft, read_brief(brief)


def test_markdown_document_with_computed_figures_and_escaped_text() -> None:
    kind = KINDS.get("event-plan")
    draft, facts = event_draft()
    markdown = document_markdown(kind, draft, facts)  # type: ignore[arg-type]
    assert markdown.startswith("# 2026 年终总结会\n")
    # 10 + 60 + 30 minutes wanted, fitted to the brief's 120 in steps of five
    assert "| 14:00–14:15 | 开场 | 主持人 | 15 |" in markdown
    assert "| 15:25–16:00 | 颁奖 | 待定 | 35 |" in markdown
    # 20,000 + 30,000 + 8,000 = 58,000 > 50,000: prices scaled down to fit the cap
    assert "（各项单价已按预算上限等比例调整）" in markdown
    total = re.search(r"\*\*合计\*\* \|  \|  \| \*\*¥([\d,]+)\*\*", markdown)
    assert total is not None
    assert int(total[1].replace(",", "")) <= 50_000
    assert "&lt;script&gt;" in markdown
    assert "<script>" not in markdown
    assert r"\*\*重点\*\*" in markdown
    assert r"串场 \| 控制时间" in markdown
    assert "这一节没有生成" in markdown
    assert "/plan revise checklist" in markdown


def test_chat_sections_have_no_tables() -> None:
    kind = KINDS.get("event-plan")
    draft, facts = event_draft()
    for spec in kind.spec.sections:
        text = section_chat_markdown(section_view(spec, draft, facts))  # type: ignore[arg-type]
        assert text.startswith(f"### {spec.title('zh')}")
        assert "| ---" not in text
    budget = section_chat_markdown(section_view(kind.spec.section("budget"), draft, facts))  # type: ignore[arg-type]
    assert "**合计：¥" in budget
    assert "预算上限 ¥50,000" in budget


def test_workflow_embeds_its_diagram_and_adds_up_time_limits() -> None:
    kind = KINDS.get("workflow")
    draft = Draft(
        kind="workflow", language="en", brief="Expense claims over $500", title="Expense claims"
    )
    draft.sections = {
        "steps": {
            "steps": [
                {"name": "Submit claim", "role": "Employee", "hours": 8, "approval": False},
                {"name": "Manager approval", "role": "Manager", "hours": 24, "approval": True},
                {"name": "Pay out", "role": "Finance", "hours": 48, "approval": False},
            ]
        }
    }
    facts = read_brief(draft.brief)
    markdown = document_markdown(kind, draft, facts)
    assert f"![Flow diagram]({FLOW_IMAGE})" in markdown
    assert "Total time limit: 80 h (about 10.0 working days)" in markdown
    data = draft_json(kind, draft, facts)
    steps = next(s for s in data["sections"] if s["id"] == "steps")
    assert steps["total_hours"] == 80
    document = docx.Document(io.BytesIO(document_docx(kind, draft, facts)))
    assert len(document.inline_shapes) == 1


def test_docx_reads_back_with_headings_tables_and_the_right_total() -> None:
    kind = KINDS.get("event-plan")
    draft, facts = event_draft()
    document = docx.Document(io.BytesIO(document_docx(kind, draft, facts)))  # type: ignore[arg-type]
    styled = [(p.style.name if p.style else "", p.text) for p in document.paragraphs]
    assert ("Title", "2026 年终总结会") in styled
    headings = [text for style, text in styled if style == "Heading 1"]
    assert headings == [
        "活动目标",
        "目标受众",
        "活动议程",
        "人员分工",
        "预算",
        "风险与预案",
        "筹备清单",
    ]
    budget = next(t for t in document.tables if t.rows[0].cells[0].text == "项目")
    amounts = [int(r.cells[3].text.lstrip("¥").replace(",", "")) for r in budget.rows[1:-1]]
    assert budget.rows[-1].cells[0].text == "合计"
    assert int(budget.rows[-1].cells[3].text.lstrip("¥").replace(",", "")) == sum(amounts)
    agenda = next(t for t in document.tables if t.rows[0].cells[0].text == "时间")
    assert [r.cells[0].text for r in agenda.rows[1:]] == [
        "14:00–14:15",
        "14:15–15:25",
        "15:25–16:00",
    ]
    assert document.sections[0].header.paragraphs[0].text.startswith("活动策划")
