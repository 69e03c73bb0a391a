"""Summary windows: the argument of /summary and /总结, in Chinese and English -> a Window."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from chat_summary.window import Window, WindowError, parse_window

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)  # a Tuesday


def at(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


# --- since the last summary ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", "   ", "since last", "since last summary", "Since the last summary", "上次以来",
     "上次总结以来", "自上次", "自上次总结以来", "上次"],
)  # fmt: skip
def test_since_last(text: str) -> None:
    window = parse_window(text, NOW)
    assert window == Window("since_last", text=text.strip())


# --- counts --------------------------------------------------------------------------------

COUNTS = [
    ("100", 100),
    ("100条", 100),
    ("最近100条", 100),
    ("最近 100 条消息", 100),
    ("一百条", 100),
    ("两百条", 200),
    ("一千五百条", 1500),
    ("最近五十条消息", 50),
    ("１００条", 100),
    ("last 100", 100),
    ("last 100 messages", 100),
    ("LAST 100 MESSAGES", 100),
    ("100 messages", 100),
    ("100 msgs", 100),
    ("1", 1),
    ("10000", 10_000),
]


@pytest.mark.parametrize(("text", "count"), COUNTS)
def test_counts(text: str, count: int) -> None:
    window = parse_window(text, NOW)
    assert (window.kind, window.count, window.start, window.end) == ("last", count, None, None)


@pytest.mark.parametrize(("text", "max_count"), [("0", 10_000), ("99999", 10_000), ("501", 500)])
def test_count_out_of_range_names_the_range(text: str, max_count: int) -> None:
    with pytest.raises(WindowError) as caught:
        parse_window(text, NOW, max_count=max_count)
    message = str(caught.value)
    assert f"1 到 {max_count}" in message
    assert f"between 1 and {max_count}" in message


def test_max_count_is_inclusive() -> None:
    assert parse_window("500", NOW, max_count=500).count == 500


# --- spans ending now ----------------------------------------------------------------------

SPANS_ENDING_NOW = [
    ("-2h", ago(hours=2)),
    ("-30m", ago(minutes=30)),
    ("-3d", ago(days=3)),
    ("-1w", ago(weeks=1)),
    ("−2h", ago(hours=2)),  # a typographic minus
    ("2h", ago(hours=2)),
    ("90m", ago(minutes=90)),
    ("1.5h", ago(hours=1.5)),
    ("2 hours", ago(hours=2)),
    ("１.５ｈ", ago(hours=1.5)),
    ("last 2 hours", ago(hours=2)),
    ("past 3 days", ago(days=3)),
    ("last hour", ago(hours=1)),
    ("past week", ago(weeks=1)),
    ("the last week", ago(weeks=1)),
    ("the last 30 minutes", ago(minutes=30)),
    ("last two hours", ago(hours=2)),
    ("in the past 2 days", ago(days=2)),
    ("last half hour", ago(minutes=30)),
    ("past month", ago(days=30)),
    ("最近2小时", ago(hours=2)),
    ("最近 2 小时", ago(hours=2)),
    ("近3天", ago(days=3)),
    ("近3日", ago(days=3)),
    ("过去一周", ago(weeks=1)),
    ("最近半小时", ago(minutes=30)),
    ("两个小时", ago(hours=2)),
    ("最近一个半小时", ago(hours=1.5)),
    ("两天半", ago(days=2.5)),
    ("近一个月", ago(days=30)),
    ("半个月", ago(days=15)),
    ("3小时内", ago(hours=3)),
    ("366d", ago(days=366)),
]


@pytest.mark.parametrize(("text", "start"), SPANS_ENDING_NOW)
def test_spans_ending_now(text: str, start: datetime) -> None:
    window = parse_window(text, NOW)
    assert (window.kind, window.start, window.end) == ("span", start, None)


# --- named days, weeks and months ----------------------------------------------------------

NAMED = [
    ("today", at(12, 1), None),
    ("今天", at(12, 1), None),
    ("今日", at(12, 1), None),
    ("yesterday", at(11, 30), at(12, 1)),
    ("昨天", at(11, 30), at(12, 1)),
    ("昨日", at(11, 30), at(12, 1)),
    ("前天", at(11, 29), at(11, 30)),
    ("the day before yesterday", at(11, 29), at(11, 30)),
    ("this week", at(11, 30), None),
    ("本周", at(11, 30), None),
    ("这周", at(11, 30), None),
    ("last week", at(11, 23), at(11, 30)),
    ("上周", at(11, 23), at(11, 30)),
    ("this month", at(12, 1), None),
    ("本月", at(12, 1), None),
    ("last month", at(11, 1), at(12, 1)),
    ("上个月", at(11, 1), at(12, 1)),
]


@pytest.mark.parametrize(("text", "start", "end"), NAMED)
def test_named_periods(text: str, start: datetime, end: datetime | None) -> None:
    window = parse_window(text, NOW)
    assert (window.kind, window.start, window.end) == ("span", start, end)


# A day alone is that whole day (today: until now).
WHOLE_DAYS = [
    ("2026-11-30", at(11, 30), at(12, 1)),
    ("Nov 30", at(11, 30), at(12, 1)),
    ("monday", at(11, 30), at(12, 1)),
    ("11月30日", at(11, 30), at(12, 1)),
    ("30号", at(11, 30), at(12, 1)),
    ("周日", at(11, 29), at(11, 30)),
    ("上周五", at(11, 27), at(11, 28)),
    ("周二", at(12, 1), None),
    ("tuesday", at(12, 1), None),
]


@pytest.mark.parametrize(("text", "start", "end"), WHOLE_DAYS)
def test_a_day_alone_is_the_whole_day(text: str, start: datetime, end: datetime | None) -> None:
    window = parse_window(text, NOW)
    assert (window.kind, window.start, window.end) == ("span", start, end)


# --- since a moment ------------------------------------------------------------------------

SINCE_EN = [
    ("since 18:00", at(11, 30, 18)),  # later than now: yesterday
    ("since 6pm", at(11, 30, 18)),
    ("since 6:30 pm", at(11, 30, 18, 30)),
    ("since 6 p.m.", at(11, 30, 18)),
    ("since 9am", at(12, 1, 9)),
    ("since 12am", at(12, 1, 0)),
    ("since 12pm", at(11, 30, 12)),
    ("after noon", at(11, 30, 12)),
    ("since midnight", at(12, 1, 0)),
    ("since yesterday", at(11, 30)),
    ("since yesterday 18:00", at(11, 30, 18)),
    ("Since Yesterday 6PM", at(11, 30, 18)),
    ("since yesterday at 6pm", at(11, 30, 18)),
    ("since 6pm yesterday", at(11, 30, 18)),
    ("since monday", at(11, 30)),
    ("since Monday 9:00", at(11, 30, 9)),
    ("since sat", at(11, 28)),
    ("since 2026-11-30", at(11, 30)),
    ("since 2026-11-30 09:30", at(11, 30, 9, 30)),
    ("since 2026-11-30T09:30", at(11, 30, 9, 30)),
    ("since Nov 30", at(11, 30)),
    ("since 30 Nov", at(11, 30)),
    ("since November 30th, 2026 6pm", at(11, 30, 18)),
    ("since the 30th of November", at(11, 30)),
    ("from yesterday 18:00", at(11, 30, 18)),
    ("yesterday 6pm", at(11, 30, 18)),  # a time needs no since-word
]

SINCE_ZH = [
    ("18点以后", at(11, 30, 18)),
    ("18:00以来", at(11, 30, 18)),
    ("１８：００以后", at(11, 30, 18)),
    ("昨天18点以后", at(11, 30, 18)),
    ("昨天下午6点以后", at(11, 30, 18)),
    ("昨天晚上8点后", at(11, 30, 20)),
    ("昨晚8点以后", at(11, 30, 20)),
    ("今天上午9点以来", at(12, 1, 9)),
    ("从昨天下午6点开始", at(11, 30, 18)),
    ("自昨天以来", at(11, 30)),
    ("昨天以来", at(11, 30)),
    ("周一以来", at(11, 30)),
    ("星期一以后", at(11, 30)),
    ("礼拜天以来", at(11, 29)),
    ("上周五以来", at(11, 27)),
    ("这周一以来", at(11, 30)),
    ("11月30日以来", at(11, 30)),
    ("11月30号以后", at(11, 30)),
    ("十一月三十号以来", at(11, 30)),
    ("2026年11月30日以来", at(11, 30)),
    ("下午3点半以来", at(11, 30, 15, 30)),
    ("3点15分以后", at(12, 1, 3, 15)),
    ("三点一刻以后", at(12, 1, 3, 15)),
    ("8点零5分起", at(12, 1, 8, 5)),
    ("凌晨12点以后", at(12, 1, 0)),
    ("中午1点以后", at(11, 30, 13)),
    ("中午12点以后", at(11, 30, 12)),
    ("傍晚6点以后", at(11, 30, 18)),
    ("昨天晚上12点以后", at(12, 1, 0)),  # the midnight that ends yesterday
    ("上午十点以后", at(12, 1, 10)),  # exactly now is not later than now
    ("昨天18点", at(11, 30, 18)),
]


@pytest.mark.parametrize(("text", "start"), SINCE_EN + SINCE_ZH)
def test_since_a_moment(text: str, start: datetime) -> None:
    window = parse_window(text, NOW)
    assert (window.kind, window.start, window.end) == ("span", start, None)


# --- edge cases against other moments ------------------------------------------------------

EDGES = [
    # a time without a day: today if not later than now, else yesterday
    ("since 10:00", NOW, at(12, 1, 10)),
    ("since 10:01", NOW, at(11, 30, 10, 1)),
    ("since 00:00", at(12, 1, 0), at(12, 1, 0)),
    ("since 00:01", at(12, 1, 0), at(11, 30, 0, 1)),
    ("today", at(12, 1, 0), at(12, 1, 0)),
    ("this month", at(12, 1, 0), at(12, 1, 0)),
    ("23点59分以后", at(12, 31, 23, 59), at(12, 31, 23, 59)),
    # a weekday is the most recent one, today included
    ("since tuesday", NOW, at(12, 1)),
    ("周二以来", NOW, at(12, 1)),
    ("since monday", at(11, 30, 0), at(11, 30)),
    ("since wednesday", NOW, at(11, 25)),
    # a month/day not yet reached this year is last year's
    ("since Dec 5", NOW, at(12, 5, year=2025)),
    ("12月5日以来", NOW, at(12, 5, year=2025)),
    ("since Dec 1", NOW, at(12, 1)),
    ("2月29日以来", NOW, at(2, 29, year=2024)),
    ("31号以后", NOW, at(10, 31)),
    # across a year end
    ("since dec 31", at(1, 1, 9, year=2027), at(12, 31)),
    ("上周", at(1, 1, 9, year=2027), at(12, 21)),
]


@pytest.mark.parametrize(("text", "now", "start"), EDGES)
def test_edges(text: str, now: datetime, start: datetime) -> None:
    window = parse_window(text, now)
    assert window.start == start


def test_last_month_and_week_across_a_year_end() -> None:
    now = at(1, 1, 9, year=2027)  # a Friday
    assert parse_window("last month", now).start == at(12, 1)
    assert parse_window("last month", now).end == at(1, 1, year=2027)
    assert parse_window("上周", now).end == at(12, 28)


def test_another_timezone_uses_its_calendar_and_elapsed_time() -> None:
    # 2026-03-08 10:00 in New York: clocks went forward at 02:00 that night.
    now = datetime(2026, 3, 8, 10, 0, tzinfo=NEW_YORK)
    today = parse_window("today", now)
    assert today.start == datetime(2026, 3, 8, tzinfo=NEW_YORK)
    assert today.start is not None
    assert today.start.utcoffset() == timedelta(hours=-5)
    yesterday = parse_window("昨天", now)
    assert (yesterday.start, yesterday.end) == (datetime(2026, 3, 7, tzinfo=NEW_YORK), today.start)
    # twelve hours of elapsed time reach back to 21:00 EST, not to 22:00 on the wall clock
    twelve = parse_window("-12h", now)
    assert twelve.start == datetime(2026, 3, 7, 21, 0, tzinfo=NEW_YORK)
    assert twelve.start is not None
    assert twelve.start.tzinfo is NEW_YORK
    assert parse_window("since 6pm", now).start == datetime(2026, 3, 7, 18, tzinfo=NEW_YORK)


def test_a_fixed_offset_timezone() -> None:
    zone = timezone(timedelta(hours=-5))
    now = datetime(2026, 12, 1, 8, 0, tzinfo=zone)
    window = parse_window("since 9am", now)
    assert window.start == datetime(2026, 11, 30, 9, 0, tzinfo=zone)
    assert window.start is not None
    assert window.start.tzinfo is zone


# --- errors --------------------------------------------------------------------------------

ERRORS = [
    ("foo", "无法理解「foo」", 'Could not understand "foo"'),
    ("100 apples", "无法理解", "Could not understand"),
    ("1.5", "无法理解", "Could not understand"),
    ("since last monday", "无法理解", "Could not understand"),
    ("11/30", "无法理解", "Could not understand"),
    ("昨天下午", "无法理解", "Could not understand"),
    ("x" * 101, "无法理解", "Could not understand"),
    ("-0h", "大于零", "longer than zero"),
    ("近0天", "大于零", "longer than zero"),
    ("367d", "最长 366 天", "at most 366 days"),
    ("13 months", "最长 366 天", "at most 366 days"),
    ("2026-13-40", "不是有效的日期", "not a valid date"),
    ("since 2026-02-30", "不是有效的日期", "not a valid date"),
    ("2月30日以来", "不是有效的日期", "not a valid date"),
    ("25:00以后", "不是有效的时刻", "not a valid time"),
    ("since 13pm", "不是有效的时刻", "not a valid time"),
    ("since tomorrow", "晚于现在", "later than now"),
    ("明天", "晚于现在", "later than now"),
    ("今天18点以后", "晚于现在", "later than now"),
    ("since 2026-12-05", "晚于现在", "later than now"),
    ("本周三以来", "晚于现在", "later than now"),
    ("since tuesday 18:00", "晚于现在", "later than now"),  # the day is taken first
]


@pytest.mark.parametrize(("text", "zh", "en"), ERRORS)
def test_errors_say_what_is_wrong_in_both_languages(text: str, zh: str, en: str) -> None:
    with pytest.raises(WindowError) as caught:
        parse_window(text, NOW)
    message = str(caught.value)
    assert zh in message
    assert en in message
    assert message.index(zh) < message.index(en)  # Chinese first


def test_errors_list_the_accepted_forms_in_both_languages() -> None:
    with pytest.raises(WindowError) as caught:
        parse_window("foo", NOW)
    message = str(caught.value)
    chinese, _, english = message.partition("Could not understand")
    assert "可用的写法" in chinese
    for example in ("上次总结以来", "100条", "最近2小时", "昨天", "本周", "18点以后", "周一以来"):
        assert example in chinese
    assert "Accepted forms" in english
    for example in ("since last", "last 100", "-2h", "last 2 hours", "yesterday", "since 6pm"):
        assert example in english


def test_window_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Could not understand"):
        parse_window("foo", NOW)


def test_a_naive_now_is_an_error() -> None:
    with pytest.raises(WindowError, match="timezone-aware") as caught:
        parse_window("today", datetime(2026, 12, 1, 10, 0))
    assert "时区" in str(caught.value)


def test_max_count_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_count"):
        parse_window("1", NOW, max_count=0)


# --- the window itself ---------------------------------------------------------------------


def test_text_is_the_argument_as_written() -> None:
    assert parse_window("  最近 100 条消息 ", NOW).text == "最近 100 条消息"
    assert parse_window(" Since Yesterday 6PM", NOW).text == "Since Yesterday 6PM"


def test_computed_datetimes_are_in_nows_timezone() -> None:
    for text in ("-2h", "today", "last week", "since 6pm", "11月30日以来", "monday"):
        window = parse_window(text, NOW)
        assert window.start is not None
        assert window.start.tzinfo is SHANGHAI
        assert window.end is None or window.end.tzinfo is SHANGHAI


def test_windows_reject_inconsistent_fields() -> None:
    with pytest.raises(ValueError, match="count"):
        Window("last")
    with pytest.raises(ValueError, match="aware"):
        Window("span", start=datetime(2026, 12, 1))
    with pytest.raises(ValueError, match="after its start"):
        Window("span", start=at(12, 1), end=at(11, 30))


DESCRIBE = [
    ("100", "最近 100 条消息", "the last 100 messages"),
    ("1", "最近 1 条消息", "the last message"),
    ("昨天18点以后", "2026-11-30 18:00 至今", "since 2026-11-30 18:00"),
    ("yesterday", "2026-11-30 全天", "2026-11-30 (whole day)"),
    ("", "上次总结以来", "since the last summary"),
    ("-2h", "2026-12-01 08:00 至今", "since 2026-12-01 08:00"),
    ("last week", "2026-11-23 至 2026-11-29", "2026-11-23 to 2026-11-29"),
]


@pytest.mark.parametrize(("text", "zh", "en"), DESCRIBE)
def test_describe(text: str, zh: str, en: str) -> None:
    window = parse_window(text, NOW)
    assert window.describe("zh") == zh
    assert window.describe("zh-CN") == zh
    assert window.describe("en") == en


def test_describe_a_span_with_times_at_both_ends() -> None:
    window = Window("span", start=at(11, 30, 18), end=at(12, 1, 9, 30))
    assert window.describe("zh") == "2026-11-30 18:00 至 2026-12-01 09:30"
    assert window.describe("en") == "from 2026-11-30 18:00 to 2026-12-01 09:30"


def test_describe_falls_back_to_english() -> None:
    assert parse_window("100", NOW).describe("fr") == "the last 100 messages"
