"""The one date resolver: Chinese and English due-date expressions against reference dates."""

from __future__ import annotations

from datetime import date

import pytest

from chat_summary.dates import DueMatch, find_due_dates, resolve_due

MON = date(2026, 3, 2)
WED = date(2026, 3, 4)
FRI = date(2026, 3, 6)
SUN = date(2026, 3, 8)
DEC30 = date(2026, 12, 30)  # a Wednesday, the week runs into 2027
DEC31 = date(2026, 12, 31)


def d(month: int, day: int, year: int = 2026) -> date:
    return date(year, month, day)


CHINESE = [
    # relative days
    ("今天", WED, d(3, 4)),
    ("明天", WED, d(3, 5)),
    ("后天", WED, d(3, 6)),
    ("大后天", WED, d(3, 7)),
    ("明天", DEC31, d(1, 1, 2027)),
    ("大后天", DEC30, d(1, 2, 2027)),
    # weekdays: bare = next on or after today; 本/这 = this calendar week; 下 = next week
    ("周五", WED, d(3, 6)),
    ("星期五", WED, d(3, 6)),
    ("礼拜五", WED, d(3, 6)),
    ("周三", WED, d(3, 4)),
    ("周一", WED, d(3, 9)),
    ("周五", FRI, d(3, 6)),
    ("周日", WED, d(3, 8)),
    ("星期天", FRI, d(3, 8)),
    ("本周五", WED, d(3, 6)),
    ("这周五", WED, d(3, 6)),
    ("这个星期五", MON, d(3, 6)),
    ("本周一", WED, d(3, 2)),
    ("本周五", SUN, d(3, 6)),
    ("下周三", WED, d(3, 11)),
    ("下周三", MON, d(3, 11)),
    ("下周三", SUN, d(3, 11)),
    ("下星期三", WED, d(3, 11)),
    ("下个礼拜三", WED, d(3, 11)),
    ("下周五", FRI, d(3, 13)),
    ("下下周一", WED, d(3, 16)),
    ("下周三", DEC30, d(1, 6, 2027)),
    ("周五", DEC30, d(1, 1, 2027)),
    # weeks, months, years
    ("下周", WED, d(3, 13)),
    ("本周", WED, d(3, 6)),
    ("本周内", SUN, d(3, 8)),
    ("下下周", WED, d(3, 20)),
    ("周末", WED, d(3, 8)),
    ("下周末", WED, d(3, 15)),
    ("下个月", WED, d(4, 30)),
    ("下个月", DEC30, d(1, 31, 2027)),
    ("月底", WED, d(3, 31)),
    ("本月底", WED, d(3, 31)),
    ("下个月底", WED, d(4, 30)),
    ("三月底", DEC30, d(3, 31, 2027)),
    ("年底", WED, d(12, 31)),
    ("季度末", WED, d(3, 31)),
    ("下个月15号", WED, d(4, 15)),
    ("下个月15号", DEC30, d(1, 15, 2027)),
    # month and day
    ("3月15日", WED, d(3, 15)),
    ("3月15号", WED, d(3, 15)),
    ("三月十五日", WED, d(3, 15)),
    ("三月十五号", WED, d(3, 15)),
    ("十二月三十一日", WED, d(12, 31)),
    ("3.15", WED, d(3, 15)),
    ("2027年3月15日", WED, d(3, 15, 2027)),
    ("二〇二七年三月十五日", WED, d(3, 15, 2027)),
    ("明年3月1日", WED, d(3, 1, 2027)),
    ("3月1日", WED, d(3, 1, 2027)),  # already past: next year
    ("1月5日", DEC30, d(1, 5, 2027)),
    ("12月31日", DEC30, d(12, 31)),
    ("15号", WED, d(3, 15)),
    ("3号", WED, d(4, 3)),  # already past this month: next month
    ("2026/12/31", DEC30, d(12, 31)),
    # durations
    ("3天后", WED, d(3, 7)),
    ("3天内", WED, d(3, 7)),
    ("三天之内", WED, d(3, 7)),
    ("十天以内", WED, d(3, 14)),
    ("两周内", WED, d(3, 18)),
    ("两周内", DEC30, d(1, 13, 2027)),
    ("一个月内", WED, d(4, 4)),
    ("一个月内", date(2026, 1, 31), d(2, 28)),
    ("半个月内", WED, d(3, 19)),
    ("5个工作日内", WED, d(3, 11)),
    ("3个工作日内", FRI, d(3, 11)),
    # before-suffixes keep the named day
    ("3月15日前", WED, d(3, 15)),
    ("下周三之前", WED, d(3, 11)),
    ("周五以前", WED, d(3, 6)),
    ("月底前", WED, d(3, 31)),
    ("3.15前", WED, d(3, 15)),
    # impossible dates
    ("2月30日", WED, None),
    ("4月31号", WED, None),
    ("13月5日", WED, None),
    ("2月29日", date(2027, 3, 1), d(2, 29, 2028)),
    ("2027年2月29日", WED, None),
]

ENGLISH = [
    ("today", WED, d(3, 4)),
    ("tomorrow", WED, d(3, 5)),
    ("the day after tomorrow", WED, d(3, 6)),
    ("tomorrow", DEC31, d(1, 1, 2027)),
    ("by end of day", WED, d(3, 4)),
    # weekdays: bare/by/on/this = next on or after today; next = next calendar week
    ("Friday", WED, d(3, 6)),
    ("by Friday", WED, d(3, 6)),
    ("before Friday", WED, d(3, 6)),
    ("on Friday", WED, d(3, 6)),
    ("until Friday", WED, d(3, 6)),
    ("by Friday", FRI, d(3, 6)),
    ("by Friday", SUN, d(3, 13)),
    ("this Friday", WED, d(3, 6)),
    ("this Friday", SUN, d(3, 13)),
    ("this coming Monday", WED, d(3, 9)),
    ("next Wednesday", WED, d(3, 11)),
    ("next Wednesday", MON, d(3, 11)),
    ("next Wednesday", SUN, d(3, 11)),
    ("next Friday", FRI, d(3, 13)),
    ("next Monday", WED, d(3, 9)),
    ("Friday next week", WED, d(3, 13)),
    ("next week Friday", WED, d(3, 13)),
    ("by Fri.", WED, d(3, 6)),
    ("next Wednesday", DEC30, d(1, 6, 2027)),
    # weeks, months, years
    ("next week", WED, d(3, 13)),
    ("this week", WED, d(3, 6)),
    ("end of the week", WED, d(3, 6)),
    ("by the end of this week", SUN, d(3, 8)),
    ("EOW", WED, d(3, 6)),
    ("the week after next", WED, d(3, 20)),
    ("the weekend", WED, d(3, 8)),
    ("end of the month", WED, d(3, 31)),
    ("end of the month", DEC30, d(12, 31)),
    ("end of next month", WED, d(4, 30)),
    ("next month", DEC30, d(1, 31, 2027)),
    ("end of the year", WED, d(12, 31)),
    ("end of Q2", WED, d(6, 30)),
    # dates
    ("March 15", WED, d(3, 15)),
    ("15 March", WED, d(3, 15)),
    ("Mar 15th", WED, d(3, 15)),
    ("March 15th, 2027", WED, d(3, 15, 2027)),
    ("3/15", WED, d(3, 15)),
    ("15/3", WED, d(3, 15)),
    ("3/15/2027", WED, d(3, 15, 2027)),
    ("2027-03-15", WED, d(3, 15, 2027)),
    ("the 15th", WED, d(3, 15)),
    ("the 3rd", WED, d(4, 3)),
    ("by the fifteenth", WED, d(3, 15)),
    ("by March tenth", WED, d(3, 10)),
    ("on the first of April", WED, d(4, 1)),
    ("the first of March", WED, d(3, 1, 2027)),
    ("May 5", WED, d(5, 5)),
    ("Jan 5", DEC30, d(1, 5, 2027)),
    # durations
    ("in 3 days", WED, d(3, 7)),
    ("in three days", DEC30, d(1, 2, 2027)),
    ("within two weeks", WED, d(3, 18)),
    ("in a week", WED, d(3, 11)),
    ("in a couple of days", WED, d(3, 6)),
    ("within 5 business days", WED, d(3, 11)),
    ("within the next 2 months", WED, d(5, 4)),
    ("two weeks from now", WED, d(3, 18)),
    # impossible dates
    ("February 30", WED, None),
    ("2/30", WED, None),
    ("2027-02-29", WED, None),
]


@pytest.mark.parametrize(("expression", "reference", "expected"), CHINESE)
def test_chinese_expressions(expression: str, reference: date, expected: date | None) -> None:
    assert resolve_due(expression, reference) == expected


@pytest.mark.parametrize(("expression", "reference", "expected"), ENGLISH)
def test_english_expressions(expression: str, reference: date, expected: date | None) -> None:
    assert resolve_due(expression, reference) == expected


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("我负责在下周三之前完成宣传文案。", [("下周三之前", d(3, 11))]),
        ("我会在3月15日前提交方案。", [("3月15日前", d(3, 15))]),
        ("I will fix the login bug before next Wednesday.", [("before next Wednesday", d(3, 11))]),
        ("Carol needs to update the guide by March tenth.", [("by March tenth", d(3, 10))]),
        ("I'll send it no later than Jan 3", [("no later than Jan 3", d(1, 3, 2027))]),
        ("先在周五前出初稿，3月15日前定稿。", [("周五前", d(3, 6)), ("3月15日前", d(3, 15))]),
        (
            "Draft by Friday, final by the end of the month.",
            [("by Friday", d(3, 6)), ("by the end of the month", d(3, 31))],
        ),
    ],
)
def test_expressions_in_sentences(sentence: str, expected: list[tuple[str, date]]) -> None:
    found = find_due_dates(sentence, WED)
    assert [(m.text, m.date) for m in found] == expected
    for match in found:
        start, end = match.span
        assert sentence[start:end] == match.text


def test_the_longest_expression_wins() -> None:
    assert [m.text for m in find_due_dates("大后天", WED)] == ["大后天"]
    assert [m.text for m in find_due_dates("下下周一", WED)] == ["下下周一"]
    assert [m.text for m in find_due_dates("the day after tomorrow", WED)] == [
        "the day after tomorrow"
    ]


def test_full_width_digits_are_read_and_spans_index_the_original() -> None:
    text = "请在３月１５日前提交"
    [match] = find_due_dates(text, WED)
    assert match == DueMatch(span=(2, 8), text="３月１５日前", date=d(3, 15))


def test_a_datetime_reference_counts_by_its_date() -> None:
    from datetime import datetime

    assert resolve_due("明天", datetime(2026, 3, 4, 23, 30)) == d(3, 5)


@pytest.mark.parametrize(
    "text",
    [
        "增长了3.15%",
        "版本3.15已经发布",
        "预算增加3.5万",
        "会议10:30开始",
        "We may need more time",
        "we may 5 things",
        "I sat down and talked",
        "the first thing to do is test",
        "三天的时间不够",
        "",
    ],
)
def test_text_without_due_dates(text: str) -> None:
    assert find_due_dates(text, WED) == []
    assert resolve_due(text, WED) is None
