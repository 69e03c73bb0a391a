"""The one date resolver: due-date expressions in Chinese and English -> calendar dates.

Every due date the summarizer reports is computed here, in code, from words found in the
source; a model never supplies a date. ``find_due_dates`` scans a text for every expression it
knows; ``resolve_due`` resolves one expression.

Conventions (each a choice; the tests pin them down):

- Weeks start on Monday (ISO, as in Chinese calendars). "This week" is Monday..Sunday of the
  reference date's week.
- A bare weekday (周五, 星期五, 礼拜五, Friday, by Friday, on Friday, this Friday) is the next such
  day on or after the reference date: said on a Friday, it means that same day.
- 本周五 / 这周五 / 这个星期五 is Friday of the current calendar week, even when that day has
  passed (it is what was said; a reminder shows it as overdue).
- 下周三 / 下星期三 / 下个礼拜三 is Wednesday of the next calendar week; 下下周一 the week after.
  English "next Wednesday" reads the same way (Wednesday of next week), so both languages agree;
  "this coming Wednesday" is the upcoming one. "Friday next week" = "next Friday".
- A week without a day (本周, 这周内, this week, end of the week, EOW) is that week's Friday
  (the end of the working week), or its Sunday when the reference is already past Friday.
  下周 / next week is Friday of next week; 下下周 / the week after next two weeks on.
  周末 / this weekend is the Sunday of the current week; 下周末 the Sunday after.
- 月底 / 本月底 / end of the month / EOM: the last day of the reference month; 下个月 / next month
  (alone) and 下个月底 / end of next month: the last day of next month. 年底 / end of the year:
  December 31. 季度末 / end of the quarter: the quarter's last day; "end of Q3": September 30.
- A month and day without a year (3月15日, 三月十五号, 3.15, 3/15, March 15, 15 March, Mar 15th,
  the first of March, March tenth) that falls before the reference date means next year's. A day
  alone (15号, the 15th) that has passed this month means next month's. With a year (2027年3月15日,
  2027-03-15, March 15, 2027) it is taken as written.
- Numeric month/day is month first (3/15, 3.15); with "/" a first number above 12 is the day
  (15/3). Numbers that read as amounts (3.15%, 3.15万, v3.15) are not dates, and a dotted one
  is a date only before a date word or the end of a clause ("3.15前", "12.5号", "due 3.15."):
  "3.2发布" and "4.8 ships" are versions. A past weekday (上周五, 上个星期一) is no due date.
- N天后 / N天内 / 三天之内 / in 3 days / within 3 days: reference + N days; 两周内 / within two
  weeks: + 14 days; N个月内 / within N months: the same day N months on (clamped to the month's
  end); 半个月: 15 days; N个工作日 / N business days: N weekdays on (Saturday and Sunday skipped).
- "Before", "by", "until", 之前, 以前, 前, 为止 keep the named day: "3月15日前" is due March 15;
  so does a time of day before them: "今天下班前", "明天中午前".
  Such words are part of the matched text (``DueMatch.text`` is "by Friday", "下周三之前").
- An impossible date (2月30日, 4/31) resolves to None and is not reported.
- English month names "May" and "March" count only in Title Case or capitals ("we may 5x it" is no
  date); weekday abbreviations (Mon, Tue, Wed, Thu, Fri) only in Title Case.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime, timedelta

from llm.guardrails import MONTH_NUMBERS, parse_chinese_number

__all__ = ["DueMatch", "find_due_dates", "resolve_due"]


@dataclass(frozen=True, slots=True)
class DueMatch:
    """One due-date expression found in a text: where it is, as written, and its date."""

    span: tuple[int, int]
    text: str
    date: Date


# --- small calendar helpers ----------------------------------------------------------------


def _monday(day: Date) -> Date:
    return day - timedelta(days=day.weekday())


def _end_of_month(year: int, month: int) -> Date:
    return Date(year, month, calendar.monthrange(year, month)[1])


def _add_months(day: Date, months: int) -> Date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return Date(year, month + 1, min(day.day, last))


def _month_end_after(reference: Date, months: int) -> Date:
    shifted = _add_months(reference.replace(day=1), months)
    return _end_of_month(shifted.year, shifted.month)


def _add_business_days(day: Date, count: int) -> Date:
    while count > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def _week_end(monday: Date, reference: Date) -> Date:
    """Friday of the week starting ``monday``, or its Sunday once the reference is past Friday."""
    friday = monday + timedelta(days=4)
    return friday if friday >= reference else monday + timedelta(days=6)


def _safe_date(year: int, month: int, day: int) -> Date | None:
    try:
        return Date(year, month, day)
    except ValueError:
        return None


def _month_day(reference: Date, month: int, day: int, year: int | None) -> Date | None:
    """A month and day; without a year, the next one on or after the reference."""
    if year is not None:
        return _safe_date(year, month, day)
    found = _safe_date(reference.year, month, day)
    if found is None:
        # 2月29日 outside a leap year: valid only if next year has it.
        return _safe_date(reference.year + 1, month, day) if (month, day) == (2, 29) else None
    if found < reference:
        return _safe_date(reference.year + 1, month, day)
    return found


def _day_of_month(reference: Date, day: int, months_ahead: int | None) -> Date | None:
    """A day of this month (next month's once it has passed) or of a month ``months_ahead``."""
    if months_ahead is not None:
        first = _add_months(reference.replace(day=1), months_ahead)
        return _safe_date(first.year, first.month, day)
    found = _safe_date(reference.year, reference.month, day)
    if found is not None and found >= reference:
        return found
    following = _add_months(reference.replace(day=1), 1)
    return _safe_date(following.year, following.month, day)


# --- numbers -------------------------------------------------------------------------------

_EN_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "fourteen": 14, "fifteen": 15, "twenty": 20, "thirty": 30,
    "couple": 2, "a couple of": 2, "couple of": 2,
}  # fmt: skip
_ORDINAL_WORDS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
for _unit in ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"):
    _ORDINAL_WORDS[f"twenty-{_unit}"] = 20 + _ORDINAL_WORDS[_unit]
    _ORDINAL_WORDS[f"twenty {_unit}"] = 20 + _ORDINAL_WORDS[_unit]
_ORDINAL_WORDS["thirty-first"] = _ORDINAL_WORDS["thirty first"] = 31


def _number(token: str) -> int | None:
    """An integer written in digits, Chinese numerals or (small) English words."""
    token = token.strip().lower()
    if token.isdigit():
        return int(token)
    if token in _EN_NUMBERS:
        return _EN_NUMBERS[token]
    if token in _ORDINAL_WORDS:
        return _ORDINAL_WORDS[token]
    ordinal = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)", token)
    if ordinal:
        return int(ordinal[1])
    value = parse_chinese_number(token)
    if value is None or value != value.to_integral_value():
        return None
    return int(value)


# --- the patterns --------------------------------------------------------------------------

_CN_DIGIT = "零〇一二两三四五六七八九十"
_CN_DAY = rf"\d{{1,2}}|[{_CN_DIGIT}]{{1,3}}"
_CN_YEAR = r"\d{4}|[〇零一二三四五六七八九]{4}"
_ZH_WEEKDAYS = {
    "一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
    "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6,
}  # fmt: skip
_EN_WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
    "sunday": 6, "mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3,
    "fri": 4,
}  # fmt: skip
_CASE_SENSITIVE_MONTHS = {"may", "march", "mar"}

_MONTH = "|".join(sorted(MONTH_NUMBERS, key=len, reverse=True))
_WEEKDAY_FULL = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_WEEKDAY_SHORT = "Mon|Tues|Tue|Wed|Thurs|Thur|Thu|Fri"
_ORDINAL = "|".join(sorted((re.escape(w) for w in _ORDINAL_WORDS), key=len, reverse=True))
_EN_COUNT = r"\d{1,3}|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fourteen|fifteen|twenty|thirty|(?:a\s+)?couple\s+of"  # noqa: E501
_DAY_NUMBER = rf"(?:\d{{1,2}}(?:st|nd|rd|th)?|{_ORDINAL})"

Resolver = Callable[[re.Match[str], Date], Date | None]


@dataclass(frozen=True, slots=True)
class _Rule:
    pattern: re.Pattern[str]
    resolve: Resolver


_RULES: list[_Rule] = []


def _rule(pattern: str, flags: int = 0) -> Callable[[Resolver], Resolver]:
    def register(resolve: Resolver) -> Resolver:
        _RULES.append(_Rule(re.compile(pattern, flags), resolve))
        return resolve

    return register


_I = re.IGNORECASE

# --- Chinese ---


@_rule(r"今天|今日|今晚|今儿|明天|明日|明早|明晚|明儿|大后天|后天")
def _zh_relative_day(match: re.Match[str], reference: Date) -> Date | None:
    word = match[0]
    offset = 3 if word == "大后天" else 2 if word == "后天" else 1 if word[0] == "明" else 0
    return reference + timedelta(days=offset)


@_rule(
    r"(?<!上)(?<!上个)(?<!上一个)"
    r"(?P<rel>下下个?|下一?个?|本|这一?个?|今)?\s*(?:周|星期|礼拜)\s*(?P<day>[一二三四五六日天1-7])"
    r"|(?P<rel2>下下个?|下一?个?|本|这一?个?)?\s*(?:周|星期|礼拜)(?P<weekend>末)"
)
def _zh_weekday(match: re.Match[str], reference: Date) -> Date | None:
    relation = match["rel"] or match["rel2"] or ""
    weekday = 6 if match["weekend"] else _ZH_WEEKDAYS[match["day"]]
    monday = _monday(reference)
    if relation.startswith("下下"):
        return monday + timedelta(days=14 + weekday)
    if relation.startswith("下"):
        return monday + timedelta(days=7 + weekday)
    if relation or match["weekend"]:
        return monday + timedelta(days=weekday)
    return reference + timedelta(days=(weekday - reference.weekday()) % 7)


@_rule(
    r"(?P<rel>下下个?|下一?个?|本|这一?个?)\s*(?:周|星期|礼拜)(?![一二三四五六日天末1-7])"
    r"(?:之内|以内|内)?"
)
def _zh_week(match: re.Match[str], reference: Date) -> Date | None:
    relation = match["rel"]
    weeks = 2 if relation.startswith("下下") else 1 if relation.startswith("下") else 0
    return _week_end(_monday(reference) + timedelta(days=7 * weeks), reference)


@_rule(
    rf"(?:(?P<year>{_CN_YEAR})\s*年|(?P<rel_year>今年|明年|后年))?\s*"
    rf"(?<!\d)(?P<month>1[0-2]|0?[1-9]|十[一二]|[一二三四五六七八九十])\s*月份?\s*"
    rf"(?P<day>{_CN_DAY})\s*[日号號]"
)
def _zh_month_day(match: re.Match[str], reference: Date) -> Date | None:
    month, day = _number(match["month"]), _number(match["day"])
    if month is None or day is None:
        return None
    year: int | None = None
    if match["year"]:
        year = _number(match["year"])
    elif match["rel_year"]:
        year = reference.year + {"今年": 0, "明年": 1, "后年": 2}[match["rel_year"]]
    return _month_day(reference, month, day, year)


@_rule(
    rf"(?:(?P<rel>本|这一?个?|当|下一?个?|下下个?)\s*月\s*)?"
    rf"(?<![\d{_CN_DIGIT}月.\-/])(?P<day>{_CN_DAY})\s*[号號]"
    rf"|(?P<rel2>本|这一?个?|当|下一?个?|下下个?)\s*月\s*(?P<day2>{_CN_DAY})\s*[日号號]"
)
def _zh_day_of_month(match: re.Match[str], reference: Date) -> Date | None:
    day = _number(match["day"] or match["day2"])
    relation = match["rel"] or match["rel2"]
    if day is None:
        return None
    ahead = None
    if relation:
        ahead = 2 if relation.startswith("下下") else 1 if relation.startswith("下") else 0
    return _day_of_month(reference, day, ahead)


@_rule(
    r"(?:(?P<rel>本|这一?个?|当|下一?个?|下下个?)\s*)?月(?:底|末)"
    r"|(?P<next>下下个?|下一?个?)\s*月(?![底末初中\d" + _CN_DIGIT + r"份])"
)
def _zh_month_end(match: re.Match[str], reference: Date) -> Date | None:
    relation = match["rel"] or match["next"] or ""
    if match["rel"] is None and match["next"] is None:
        # A bare 月底 must not be the tail of "3月底" (that month's end).
        before = match.string[: match.start()]
        month = re.search(r"(1[0-2]|0?[1-9]|十[一二]|[一二三四五六七八九十])\s*$", before)
        if month:
            return None
    ahead = 2 if relation.startswith("下下") else 1 if relation.startswith("下") else 0
    return _month_end_after(reference, ahead)


@_rule(
    r"(?:(?P<year>\d{4})\s*年\s*)?(?P<month>1[0-2]|0?[1-9]|十[一二]|[一二三四五六七八九十])\s*月份?\s*(?:底|末)"
)
def _zh_named_month_end(match: re.Match[str], reference: Date) -> Date | None:
    month = _number(match["month"])
    if month is None:
        return None
    if match["year"]:
        return _end_of_month(int(match["year"]), month)
    end = _end_of_month(reference.year, month)
    return end if end >= reference else _end_of_month(reference.year + 1, month)


@_rule(r"(?P<rel>今年|本年度?|明年)?\s*年(?:底|末)|(?P<rel2>今年|本年度?|明年)年内")
def _zh_year_end(match: re.Match[str], reference: Date) -> Date | None:
    relation = match["rel"] or match["rel2"] or ""
    return Date(reference.year + (1 if relation == "明年" else 0), 12, 31)


@_rule(r"(?P<rel>本|这一?个?|下一?个?)?\s*季度(?:末|底)")
def _zh_quarter_end(match: re.Match[str], reference: Date) -> Date | None:
    quarter_start = reference.replace(day=1, month=3 * ((reference.month - 1) // 3) + 1)
    ahead = 3 if (match["rel"] or "").startswith("下") else 0
    return _month_end_after(quarter_start, ahead + 2)


@_rule(
    rf"(?P<count>\d{{1,3}}|[{_CN_DIGIT}]{{1,3}}|半)\s*"
    r"(?P<unit>个工作日|工作日|天|日|周|个星期|星期|个礼拜|礼拜|个月|个半月)\s*"
    r"(?:之内|以内|内|之后|以后|后)"
)
def _zh_duration(match: re.Match[str], reference: Date) -> Date | None:
    unit = match["unit"]
    if match["count"] == "半":
        return reference + timedelta(days=15) if unit == "个月" else None
    count = _number(match["count"])
    if count is None or count > 366:
        return None
    if unit in {"个工作日", "工作日"}:
        return _add_business_days(reference, count)
    if unit in {"天", "日"}:
        return reference + timedelta(days=count)
    if unit == "个月":
        return _add_months(reference, count)
    if unit == "个半月":
        return _add_months(reference, count) + timedelta(days=15)
    return reference + timedelta(weeks=count)


# --- numeric (either language) ---


@_rule(
    r"(?<![\d.\-/])(?P<year>\d{4})\s*[-/.年]\s*(?P<month>\d{1,2})\s*[-/.月]\s*(?P<day>\d{1,2})(?:\s*[日号])?(?![\d.])"
)
def _iso_date(match: re.Match[str], reference: Date) -> Date | None:
    return _safe_date(int(match["year"]), int(match["month"]), int(match["day"]))


_NOT_AN_AMOUNT = (
    r"(?![\d.%‰]|\s*(?:万|亿|千|百|元|块|美元|倍|x\b|k\b|m\b|w\b|%|percent|million|billion))"
)


@_rule(
    r"(?<![A-Za-z0-9_.$¥€£/\-:])(?<!版本)(?<!版本 )"
    r"(?P<month>1[0-2]|0?[1-9])\.(?P<day>3[01]|[12]\d|0?[1-9])"
    + _NOT_AN_AMOUNT
    # Only where a date is meant: "3.15前", "12.5号", "due 3.15." ("3.2发布" and "4.8 ships
    # Tuesday" are versions).
    + r"(?=\s*(?:前|之前|以前|号|日|截止|为止|当天|那天|之内|以内|内)|\s*$|\s*[，。,;；!！)）])"
)
def _dotted_month_day(match: re.Match[str], reference: Date) -> Date | None:
    return _month_day(reference, int(match["month"]), int(match["day"]), None)


@_rule(
    r"(?<![A-Za-z0-9_.$¥€£/\-:])(?P<first>\d{1,2})/(?P<second>\d{1,2})(?:/(?P<year>\d{4}|\d{2}))?(?![\d/])"
)
def _slashed_date(match: re.Match[str], reference: Date) -> Date | None:
    first, second = int(match["first"]), int(match["second"])
    month, day = (second, first) if first > 12 >= second else (first, second)
    if not 1 <= month <= 12:
        return None
    year = None
    if match["year"]:
        year = int(match["year"]) + (2000 if len(match["year"]) == 2 else 0)
    return _month_day(reference, month, day, year)


# --- English ---


@_rule(
    r"\b(?:the\s+)?day\s+after\s+tomorrow\b|\btomorrow\b|\btmrw?\b|\btoday\b|\btonight\b"
    r"|\b(?:the\s+)?end\s+of\s+(?:the\s+)?(?:business\s+)?day\b|\bEOD\b|\bCOB\b"
    r"|\bclose\s+of\s+business\b",
    _I,
)
def _en_relative_day(match: re.Match[str], reference: Date) -> Date | None:
    text = match[0].lower()
    if "after" in text:
        return reference + timedelta(days=2)
    if text.startswith("tom") or text.startswith("tmr"):
        return reference + timedelta(days=1)
    return reference


@_rule(
    r"\b(?:(?P<rel>this\s+coming|this|next|coming|the\s+following|following)\s+"
    r"|(?P<week>next|this)\s+week(?:'s)?\s+(?:on\s+)?)?"
    rf"(?P<day>(?:{_WEEKDAY_FULL})\b|(?-i:{_WEEKDAY_SHORT})\b\.?)"
    r"(?:\s+(?P<after>(?:of\s+)?next\s+week|(?:of\s+)?this\s+week|week\s+after\s+next)\b)?",
    _I,
)
def _en_weekday(match: re.Match[str], reference: Date) -> Date | None:
    weekday = _EN_WEEKDAYS[match["day"].rstrip(".").lower()]
    relation = " ".join((match["rel"] or "").lower().split())
    after = " ".join((match["after"] or "").lower().split())
    if match["week"]:
        after = f"{match['week'].lower()} week"
    monday = _monday(reference)
    if "week after next" in after:
        return monday + timedelta(days=14 + weekday)
    if relation in {"next", "the following", "following"} or "next week" in after:
        return monday + timedelta(days=7 + weekday)
    if "this week" in after:
        return monday + timedelta(days=weekday)
    return reference + timedelta(days=(weekday - reference.weekday()) % 7)


@_rule(
    r"\b(?:the\s+)?end\s+of\s+(?:the\s+)?(?P<rel>this|next)?\s*week\b"
    r"|\b(?P<rel2>this|next)\s+week\b|\bEOW\b|\b(?:the\s+)?week\s+after\s+next\b",
    _I,
)
def _en_week(match: re.Match[str], reference: Date) -> Date | None:
    text = " ".join(match[0].lower().split())
    monday = _monday(reference)
    if "week after next" in text:
        return _week_end(monday + timedelta(days=14), reference)
    if (match["rel"] or match["rel2"] or "").lower() == "next":
        return _week_end(monday + timedelta(days=7), reference)
    return _week_end(monday, reference)


@_rule(r"\b(?:(?P<rel>this|the|next)\s+)weekend\b", _I)
def _en_weekend(match: re.Match[str], reference: Date) -> Date | None:
    weeks = 1 if match["rel"].lower() == "next" else 0
    return _monday(reference) + timedelta(days=7 * weeks + 6)


@_rule(
    r"\b(?:(?:the\s+)?end\s+of\s+(?:the\s+)?(?P<rel>this|next)?\s*month|(?P<rel2>next)\s+month"
    r"|month[-\s]end)\b|\bEOM\b",
    _I,
)
def _en_month_end(match: re.Match[str], reference: Date) -> Date | None:
    ahead = 1 if (match["rel"] or match["rel2"] or "").lower() == "next" else 0
    return _month_end_after(reference, ahead)


@_rule(
    r"\b(?:(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?(?P<rel>next\s+)?year|year[-\s]end)\b|\bEOY\b",
    _I,
)
def _en_year_end(match: re.Match[str], reference: Date) -> Date | None:
    return Date(reference.year + (1 if match["rel"] else 0), 12, 31)


@_rule(
    r"\b(?:the\s+)?end\s+of\s+(?:(?:the|this)\s+quarter|(?P<rel>next)\s+quarter|Q(?P<q>[1-4]))\b",
    _I,
)
def _en_quarter_end(match: re.Match[str], reference: Date) -> Date | None:
    if match["q"]:
        end = _end_of_month(reference.year, 3 * int(match["q"]))
        return end if end >= reference else _end_of_month(reference.year + 1, 3 * int(match["q"]))
    quarter_start = reference.replace(day=1, month=3 * ((reference.month - 1) // 3) + 1)
    return _month_end_after(quarter_start, 2 + (3 if match["rel"] else 0))


@_rule(
    rf"\b(?P<mon>{_MONTH})\b\.?\s+(?:the\s+)?(?P<day>{_DAY_NUMBER})\b(?:,?\s+(?P<year>\d{{4}})\b)?",
    _I,
)
def _en_month_day(match: re.Match[str], reference: Date) -> Date | None:
    return _en_date(match, reference)


@_rule(
    rf"\b(?:the\s+)?(?P<day>{_DAY_NUMBER})\s+(?:of\s+)?(?P<mon>{_MONTH})\b\.?"
    rf"(?:,?\s+(?P<year>\d{{4}})\b)?",
    _I,
)
def _en_day_month(match: re.Match[str], reference: Date) -> Date | None:
    return _en_date(match, reference)


def _en_date(match: re.Match[str], reference: Date) -> Date | None:
    name = match["mon"]
    if name.lower() in _CASE_SENSITIVE_MONTHS and name.islower():
        return None
    day = _number(match["day"])
    if day is None:
        return None
    year = int(match["year"]) if match["year"] else None
    return _month_day(reference, MONTH_NUMBERS[name.lower()], day, year)


@_rule(
    r"\bthe\s+(?P<day>\d{1,2}(?:st|nd|rd|th))\b(?:\s+of\s+(?P<rel>this|next)\s+month\b)?"
    rf"|\b(?:by|on|before|until|till)\s+the\s+(?P<word>{_ORDINAL})\b"
    r"(?:\s+of\s+(?P<rel2>this|next)\s+month\b)?(?=\s*(?:[.,;:!?)]|$|and\b|or\b))",
    _I,
)
def _en_day_of_month(match: re.Match[str], reference: Date) -> Date | None:
    day = _number(match["day"] or match["word"])
    if day is None:
        return None
    relation = (match["rel"] or match["rel2"] or "").lower()
    ahead = None if not relation else 1 if relation == "next" else 0
    return _day_of_month(reference, day, ahead)


@_rule(
    rf"\b(?:in|within|(?:in|within|over)\s+the\s+next)\s+(?P<count>{_EN_COUNT})\s+"
    r"(?P<unit>(?:business|working)\s+days?|days?|weeks?|months?)\b(?:'s\s+time)?"
    rf"|\b(?P<count2>{_EN_COUNT})\s+(?P<unit2>(?:business|working)\s+days?|days?|weeks?|months?)"
    r"\s+from\s+(?:now|today)\b",
    _I,
)
def _en_duration(match: re.Match[str], reference: Date) -> Date | None:
    count = _number(" ".join((match["count"] or match["count2"]).lower().split()))
    unit = (match["unit"] or match["unit2"]).lower()
    if count is None or count > 366:
        return None
    if "business" in unit or "working" in unit:
        return _add_business_days(reference, count)
    if unit.startswith("day"):
        return reference + timedelta(days=count)
    if unit.startswith("week"):
        return reference + timedelta(weeks=count)
    return _add_months(reference, count)


# --- scanning ------------------------------------------------------------------------------

_ZH_SUFFIX = re.compile(
    r"\s*(?:(?:下班|收工|中午|午饭|晚饭|上班|开会|早上|晚上)(?=之前|以前|前))?"
    r"(?:之前|以前|前(?!后)|为止|截止|之内|以内|内)"
)
_EN_PREFIX = re.compile(
    r"(?:\b(?:by|before|on|until|till|due|due\s+(?:on|by)|no\s+later\s+than|not\s+later\s+than"
    r"|ahead\s+of|prior\s+to)\s+)$",
    _I,
)
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def _candidates(text: str, reference: Date) -> Iterator[tuple[int, int, Date]]:
    for rule in _RULES:
        for match in rule.pattern.finditer(text):
            if match.end() == match.start() or not match[0].strip():
                continue
            found = rule.resolve(match, reference)
            if found is not None:
                start = match.start() + len(match[0]) - len(match[0].lstrip())
                yield start, match.end(), found


def find_due_dates(text: str, reference: Date) -> list[DueMatch]:
    """Every due-date expression in ``text``, in order, each with its resolved date.

    Where expressions overlap, the longest wins ("下下周一" over "周一", "the day after
    tomorrow" over "tomorrow"). Spans index ``text`` as given (full-width digits are read as
    digits). Leading "by/before/until/on" and trailing 之前/以前/前/为止/内 join the match.
    """
    if isinstance(reference, datetime):
        reference = reference.date()
    scan = text.translate(_FULL_WIDTH)
    chosen: list[tuple[int, int, Date]] = []
    for start, end, found in sorted(
        _candidates(scan, reference), key=lambda c: (-(c[1] - c[0]), c[0])
    ):
        if all(end <= s or start >= e for s, e, _ in chosen):
            chosen.append((start, end, found))
    matches = []
    for start, end, found in sorted(chosen):
        suffix = _ZH_SUFFIX.match(scan, end)
        if suffix and all(suffix.end() <= s or end > s for s, _, _ in chosen):
            end = suffix.end()
        prefix = _EN_PREFIX.search(scan, 0, start)
        if prefix:
            start -= len(prefix[0])
        matches.append(DueMatch((start, end), text[start:end], found))
    return matches


def resolve_due(expression: str, reference: Date) -> Date | None:
    """The date of a due-date expression ("下周三之前", "by Friday", "3月15日"), or None when
    it names none (or an impossible one, such as 2月30日). With several, the first counts."""
    found = find_due_dates(expression, reference)
    return found[0].date if found else None
