"""Guardrails on real office text: bounding, grounding of names, numbers and dates against the
source, and chat-safe output (no markup, no commands)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from llm.guardrails import (
    DEFUSE_MARK,
    Grounding,
    GroundingReport,
    bound_text,
    escape_markdown,
    neutralize_commands,
    normalize,
    parse_chinese_number,
    safe_chat_text,
)

MINUTES = """\
产品周会纪要（2026年3月10日）
参会：张伟、李娜、Alice Chen、王强
1. Q3 市场预算定为 120 万元，其中线上投放占 35%，约 42 万。
2. 李娜负责在3月15日前提交供应商比价表，报价上限 1,200 元/台。
3. Alice will send the revised roadmap by March 20, 2026.
4. 下次会议定于下午两点半，地点 3 楼会议室；目前还有两个遗留问题。
5. 服务器采购 3.5万，预计二〇二六年三月底到货，共十二台。
6. 客服工单第一季度共 3,420 张，比去年同期少了三成。
"""

# --- bound_text ---------------------------------------------------------------------------


def test_short_text_is_unchanged() -> None:
    assert bound_text("会议改到周五。", 20) == "会议改到周五。"


def test_cuts_after_the_last_sentence_that_fits() -> None:
    text = "预算已经批准。李娜负责比价表！王强下周一前确认服务器型号并通知采购部门"
    result = bound_text(text, 20)
    assert result == "预算已经批准。李娜负责比价表！…"
    assert len(result) <= 20


def test_english_cut_never_splits_a_word() -> None:
    text = "The budget was approved. Alice will send the revised roadmap by Friday afternoon"
    assert bound_text(text, 61) == "The budget was approved. Alice will send the revised roadmap…"
    assert bound_text(text, 60) == "The budget was approved. Alice will send the revised…"


def test_a_decimal_point_is_not_a_sentence_end() -> None:
    text = "Server costs rose 3.5 percent this quarter and storage costs rose as well"
    result = bound_text(text, 24)
    assert result == "Server costs rose 3.5…"


def test_a_line_break_is_a_boundary() -> None:
    text = "待办事项\n1. 张伟：确认预算\n2. 李娜：提交比价表并同步到群里"
    assert bound_text(text, 16) == "待办事项\n1. 张伟：确认预算…"


def test_never_splits_an_emoji_sequence_or_a_combining_mark() -> None:
    family = "👨\u200d👩\u200d👧\u200d👦"
    assert bound_text(f"家庭{family}成员", 6) == "家庭…"
    assert bound_text("ok👍🏽 thanks", 4) == "ok…"
    assert bound_text("cafe\u0301 au lait", 6) == "cafe\u0301…"


def test_a_single_long_word_is_cut_hard_but_within_bounds() -> None:
    assert bound_text("https://example.com/" + "a" * 50, 12) == "https://…"  # not mid-word
    assert bound_text("a" * 50, 12) == "a" * 11 + "…"  # no boundary at all
    assert bound_text("anything", 1) == "…"
    with pytest.raises(ValueError, match="at least 1"):
        bound_text("x", 0)


@pytest.mark.parametrize("limit", range(1, 80, 7))
def test_result_never_exceeds_the_limit(limit: int) -> None:
    assert len(bound_text(MINUTES, limit)) <= limit


# --- grounding: names and terms -----------------------------------------------------------


@pytest.fixture(scope="module")
def grounding() -> Grounding:
    return Grounding(MINUTES)


@pytest.mark.parametrize(
    ("value", "supported"),
    [
        ("张伟", True),
        ("李娜", True),
        ("王强", True),
        ("赵敏", False),  # not in the meeting
        ("张 伟", True),  # a space inside a Chinese name is noise
        ("Alice", True),
        ("alice chen", True),  # case-folded
        ("ＡＬＩＣＥ", True),  # full-width letters
        ("Ali", False),  # Latin names match whole words only
        ("Bob", False),
        ("Q3", True),
        ("Q4", False),
        ("供应商比价表", True),
        ("供应商报价单", False),
        ("", False),
        ("   ", False),
    ],
)
def test_supports_names_and_terms(grounding: Grounding, value: str, supported: bool) -> None:
    assert grounding.supports(value) is supported


@pytest.mark.parametrize(
    ("value", "supported"),
    [
        ("1200", True),  # 1,200 in the source
        ("1,200", True),
        ("１２００", True),  # full-width digits
        ("120万", True),
        ("1200000", True),  # 120万
        ("35%", True),
        ("3.5万", True),
        ("35000", True),
        ("12", True),  # 十二台
        ("3420", True),
        ("3,240", False),
        ("150万", False),
    ],
)
def test_supports_numbers_by_value(grounding: Grounding, value: str, supported: bool) -> None:
    assert grounding.supports(value) is supported


def test_normalize() -> None:
    assert normalize("  Ｑ３  预算\n\t审批 ") == "q3预算审批"
    assert normalize("Alice   CHEN") == "alice chen"


# --- grounding: numbers and dates in answers ----------------------------------------------


def test_a_faithful_answer_is_ok(grounding: Grounding) -> None:
    answer = """\
会议要点：
1. Q3 预算 120 万元，线上投放占 35%（约 42 万元）。
2. 李娜 3月15日 前提交比价表，上限 1200 元/台。
3. Alice 将于 2026-03-20 发送路线图。
4. 下次会议 14:30 开始，还有 2 个遗留问题。
5. 服务器预算 35,000 元，共 12 台；工单 3420 张。
"""
    report = grounding.check(answer)
    assert report == GroundingReport()
    assert report.ok


def test_invented_numbers_are_flagged(grounding: Grounding) -> None:
    answer = """\
- 预算从 120 万增加到 150 万，增长 25%。
- 报价上限 1,300 元/台，共 12 台。
- 会议 15:00 结束；Q4 上线 v2.1 版本。
"""
    assert grounding.unsupported_numbers(answer) == [
        "150 万",
        "25%",
        "1,300",
        "15:00",
        "Q4",
        "v2.1",
    ]


def test_dates_match_in_any_written_form(grounding: Grounding) -> None:
    answer = (
        "Deadlines: 2026/3/15 for the price list, 15 March (again), March 20th for the "
        "roadmap, 2026年3月20日 as well; the meeting was on 2026-03-10."
    )
    assert grounding.unsupported_dates(answer) == []
    assert grounding.unsupported_numbers(answer) == []


def test_invented_dates_are_flagged_and_relative_ones_are_not(grounding: Grounding) -> None:
    answer = "李娜3月18日前提交；Alice 在 March 21 发送；2027-03-15 复盘；下周五和明天再议。"
    assert grounding.unsupported_dates(answer) == ["3月18日", "March 21", "2027-03-15"]
    # The source says 3月15日 in minutes of 2026: 2026-03-15 is supported, another year is not.
    assert grounding.unsupported_dates("2026年3月15日") == []
    assert grounding.unsupported_numbers(answer) == []  # the dates' digits are not numbers


def test_chinese_numerals_in_the_source_support_digits_in_the_answer() -> None:
    source = "张伟说预算两万五，三月十五号前交，参会十二人，下午三点开会，增长百分之十五。"
    grounding = Grounding(source)
    answer = "预算 25000 元（2.5万），3月15日前交，12 人参会，15:00 开会，增长 15%。"
    assert grounding.check(answer).ok
    assert grounding.unsupported_numbers("预算 3 万元") == ["3 万"]


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("十五", 15),
        ("二十", 20),
        ("一百零五", 105),
        ("三千五", 3500),
        ("两万五", 25000),
        ("三亿五千万", 350_000_000),
        ("二〇二六", 2026),
        ("三点五", 3.5),
    ],
)
def test_parse_chinese_number(numeral: str, value: float) -> None:
    parsed = parse_chinese_number(numeral)
    assert parsed is not None
    assert float(parsed) == value


def test_english_source_with_words_for_numbers() -> None:
    grounding = Grounding(
        "Alice and Bob agreed on three action items. The vendor quote is $12,500, "
        "due 15 March 2026. Team size: twelve."
    )
    answer = "3 action items; quote $12500 due March 15, 2026; 12 people; Bob owns 2 of them."
    assert grounding.unsupported_numbers(answer) == ["2"]
    assert grounding.unsupported_dates(answer) == []


# --- filter_supported ---------------------------------------------------------------------


@dataclass(frozen=True)
class Todo:
    task: str
    owners: tuple[str, ...] = ()


def test_filter_supported_keeps_items_whose_owners_are_in_the_source(
    grounding: Grounding,
) -> None:
    todos = [
        Todo("提交供应商比价表", ("李娜",)),
        Todo("确认服务器型号", ("赵敏",)),  # nobody called 赵敏 was there
        Todo("发送路线图", ("Alice", "王强")),
        Todo("整理遗留问题"),  # no owner: nothing to check
        Todo("复盘", ("李娜", "Bob")),
    ]
    kept, dropped = grounding.filter_supported(todos, key=lambda todo: todo.owners)
    assert [t.task for t in kept] == ["提交供应商比价表", "发送路线图", "整理遗留问题"]
    assert [t.task for t in dropped] == ["确认服务器型号", "复盘"]
    kept, dropped = grounding.filter_supported(["李娜", "赵敏"], key=lambda name: name)
    assert (kept, dropped) == (["李娜"], ["赵敏"])


# --- chat safety --------------------------------------------------------------------------


def test_escape_markdown_leaves_no_markup() -> None:
    text = (
        "# 标题\n- 列表 **粗体** _斜体_ ~~删除~~ `code`\n[点我](http://evil.example) "
        "<font color=red>红字</font> a|b\n1. 第一\n---\n> 引用 & 更多\n        缩进代码"
    )
    escaped = escape_markdown(text)
    assert escaped.splitlines() == [
        "\\# 标题",
        "\\- 列表 \\*\\*粗体\\*\\* \\_斜体\\_ \\~\\~删除\\~\\~ \\`code\\`",
        "\\[点我\\]\\(http://evil.example\\) &lt;font color=red&gt;红字&lt;/font&gt; a\\|b",
        "1\\. 第一",
        "\\---",
        "&gt; 引用 &amp; 更多",
        "   缩进代码",
    ]


def test_escape_markdown_keeps_plain_text_and_numbers() -> None:
    text = "预算 3.5 万元，增长 -5%，日期 2026.3.15，张伟负责。"
    assert escape_markdown(text) == text
    assert escape_markdown("C:\\path\\*") == "C:\\\\path\\\\\\*"


def test_neutralize_commands_defuses_every_command_line() -> None:
    text = (
        "结论如下：\n/summary 100\n  ／总结 今天\n总结 本周工作\n总结：本周完成\nhelp me\nhelpful"
    )
    assert neutralize_commands(text).splitlines() == [
        "结论如下：",
        f"{DEFUSE_MARK}/summary 100",
        f"  {DEFUSE_MARK}／总结 今天",
        f"{DEFUSE_MARK}总结 本周工作",
        "总结：本周完成",  # not a command: the word is not alone
        f"{DEFUSE_MARK}help me",
        "helpful",
    ]


def test_neutralize_commands_takes_the_routers_words() -> None:
    text = "周报 本周\n总结 本周"
    assert neutralize_commands(text, command_words=["周报"]) == f"{DEFUSE_MARK}周报 本周\n总结 本周"


def test_safe_chat_text_defuses_then_bounds() -> None:
    text = "/todo 张伟 明天提交\n" + "普通的一句话。" * 20
    safe = safe_chat_text(text, 40)
    assert safe.startswith(f"{DEFUSE_MARK}/todo 张伟 明天提交\n")
    assert len(safe) <= 40
    assert safe.endswith("。…")
