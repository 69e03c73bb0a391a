"""Summary windows: the argument of ``/summary`` (``/总结``) -> which messages to summarize.

``parse_window`` reads what a user typed after the command, in Chinese or English, and returns a
typed ``Window``: the newest N messages (``last``), a span of time (``span``), or everything since
the last summary (``since_last``). Text it does not understand raises ``WindowError``, whose
message (Chinese first, then English) says what went wrong and lists the accepted forms.

Accepted forms (case-insensitive; spaces are free; full-width digits and colons read as ASCII):

- Since the last summary: nothing at all, "since last", "since last summary", "since the last
  summary", 上次, 上次以来, 上次总结以来, 自上次, 自上次总结以来.
- A message count: 100, 100条, 最近100条, 最近 100 条消息, 一百条, 两百条, last 100,
  last 100 messages, 100 messages, 100 msgs. 1 <= N <= ``max_count``.
- A span that ends now: -2h (also −2h), -30m, -3d, -1w, 2h, 90m, 1.5h, 2 hours, last 2 hours,
  past 3 days, last hour, past week, the last 30 minutes, in the past 2 days, last half hour;
  最近2小时, 近3天, 过去一周, 最近半小时, 两个小时, 最近一个半小时, 两天半, 近一个月, 3小时内.
  At most 366 days.
- A named day, week or month: today/今天/今日 (until now), yesterday/昨天/昨日,
  the day before yesterday/前天, this week/本周/这周 (until now), last week/上周,
  this month/本月 (until now), last month/上个月.
- A day alone (a date or a weekday): that whole day, or today until now: 2026-11-30, Nov 30,
  30 Nov, monday, 11月30日, 30号, 周一, 上周五.
- Since a moment, until now: since 18:00, since 6pm, since 6:30 pm, since yesterday,
  since yesterday 18:00, since yesterday at 6pm, since 6pm yesterday, since monday,
  since Monday 9:00, since 2026-11-30, since 2026-11-30 09:30, since Nov 30, since 30 Nov,
  from yesterday 18:00, after noon; 18点以后, 18:00以来, 昨天18点以后, 昨天下午6点以后,
  昨天晚上8点后, 昨晚8点以后, 今天上午9点以来, 从昨天下午6点开始, 自昨天以来, 昨天以来,
  周一以来, 星期一以后, 上周五以来, 11月30日以来, 11月30号以后, 下午3点半以来, 3点15分以后.
  Since-words: since, from, after; 从/自 before, 以后/之后/后/以来/开始/起 after.

Conventions (each a choice; the tests pin them down):

- A count takes no unit but messages (messages, msgs, 条, 条消息): "100 apples" is not
  understood, and neither is "1.5" (a count is whole).
- Duration units: m/min/minutes, h/hr/hours, d/days, w/weeks, mo/months (m is minutes, never
  months); 分钟, 小时/钟头, 天/日, 周/星期/礼拜, 个月. A month is 30 days, a week 7. 日 needs a
  prefix (近3日) and 月 needs 个 or a prefix (近一个月, 近一月): 3日 and 一月 are dates.
  A duration is elapsed time, counted back from now in UTC (a daylight-saving change does not
  stretch "-2h"); zero and more than 366 days are errors.
- "last week" and "last month" are calendar periods (Monday to Monday, 1st to 1st); "past week",
  "the last week", "last 7 days" and "past month" are spans ending now, and so are "last hour"
  and "last day".
- Weeks start on Monday. Calendar days begin at 00:00 wall-clock time in ``now``'s timezone; all
  datetimes are in ``now``'s tzinfo.
- A time without a day that is later than now means yesterday at that time ("since 18:00" said
  at 10:00 is yesterday 18:00).
- A bare weekday is the most recent such day, today included; 本周一/这周一 is Monday of this
  week and 上周一 Monday of last week. The day is taken first: "since Tuesday 18:00" said on a
  Tuesday at 10:00 starts in the future, which is an error.
- A month and day without a year is the most recent such date not after today (this year, else
  last year; 2月29日 the last leap day). A day of the month alone (30号) is the most recent 30th.
- Times: 24-hour H:MM, or English H[:MM] am/pm (12am = 00:00, 12pm = noon), noon, midnight
  (00:00). Chinese H点/H时, with 半 = :30, 一刻 = :15, 三刻 = :45, N分 (or a bare N) = minutes;
  凌晨/清晨/早上/早晨/上午 keep the hour (凌晨12点 = 00:00); 中午 makes 1 and 2 into 13 and 14
  and keeps other hours (中午12点 = noon); 下午/傍晚/晚上/夜里 add 12 to hours below 12, and
  晚上12点 is the midnight that ends that day. Hours above 23 and minutes above 59 are errors.
- A time needs no since-word (18:00, 18点, 昨天18点 and "yesterday 6pm" read as since); a day
  alone reads as the whole day unless a since-word is there ("since monday" runs until now).
- A start later than now (tomorrow, 明天, a future date) and an impossible date or time
  (2026-13-40, 2月30日, 25:00) are errors. "since last monday" and "11/30" are not understood.
- Text longer than 100 characters is not understood.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta, tzinfo
from datetime import date as Date
from decimal import Decimal
from typing import Literal

from chat_summary.errors import ChatSummaryError
from llm.guardrails import MONTH_NUMBERS, normalize, parse_chinese_number

__all__ = ["Window", "WindowError", "parse_window"]

_MAX_DAYS = 366
_MAX_TEXT = 100
_DAY_MINUTES = 24 * 60


@dataclass(frozen=True, slots=True)
class Window:
    """Which messages a summary covers: the newest ``count`` (``last``), those from ``start``
    (inclusive) to ``end`` (exclusive; None = until now) (``span``), or all since the last
    summary (``since_last``). ``text`` is the argument as the user wrote it."""

    kind: Literal["last", "span", "since_last"]
    count: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    text: str = ""

    def __post_init__(self) -> None:
        if self.kind == "last" and (self.count is None or self.count < 1):
            raise ValueError("a 'last' window needs a count of at least 1")
        if self.kind == "span":
            if self.start is None or not _is_aware(self.start):
                raise ValueError("a 'span' window needs a timezone-aware start")
            if self.end is not None and (not _is_aware(self.end) or self.end <= self.start):
                raise ValueError("a span's end must be timezone-aware and after its start")

    def describe(self, language: str) -> str:
        """A short label for the window: "最近 100 条消息", "2026-11-30 18:00 至今",
        "the last 100 messages", "2026-11-30 (whole day)". ``language`` is a code such as
        "zh", "zh-CN" or "en"; anything not Chinese gets English."""
        zh = _is_chinese(language)
        if self.kind == "since_last":
            return "上次总结以来" if zh else "since the last summary"
        if self.kind == "last":
            if zh:
                return f"最近 {self.count} 条消息"
            return "the last message" if self.count == 1 else f"the last {self.count} messages"
        assert self.start is not None  # checked in __post_init__
        return _describe_span(self.start, self.end, zh)


class WindowError(ChatSummaryError, ValueError):
    """A summary window that could not be read. ``str(exc)`` is bilingual, Chinese first: what
    was not understood (or is out of range), then the accepted forms with examples."""

    code = "invalid_window"


# --- small helpers -------------------------------------------------------------------------


def _is_aware(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.tzinfo.utcoffset(moment) is not None


def _is_chinese(language: str) -> bool:
    code = language.lower().replace("_", "-").split("-")[0]
    return code in {"zh", "yue", "cmn", "wuu"}


def _minute(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _is_midnight(moment: datetime) -> bool:
    return moment.time() == time(0)


def _describe_span(start: datetime, end: datetime | None, zh: bool) -> str:
    if end is None:
        return f"{_minute(start)} 至今" if zh else f"since {_minute(start)}"
    if _is_midnight(start) and _is_midnight(end):
        first, last = start.date(), end.date() - timedelta(days=1)
        if first == last:
            return f"{first} 全天" if zh else f"{first} (whole day)"
        return f"{first} 至 {last}" if zh else f"{first} to {last}"
    return (
        f"{_minute(start)} 至 {_minute(end)}" if zh else f"from {_minute(start)} to {_minute(end)}"
    )


def _at(day: Date, minutes: int, zone: tzinfo | None) -> datetime:
    """Wall-clock ``minutes`` after midnight on ``day`` (24:00 and later roll into the next day)."""
    extra, minutes = divmod(minutes, _DAY_MINUTES)
    clock = time(minutes // 60, minutes % 60)
    return datetime.combine(day + timedelta(days=extra), clock, tzinfo=zone)


def _midnight(day: Date, zone: tzinfo | None) -> datetime:
    return _at(day, 0, zone)


def _monday(day: Date) -> Date:
    return day - timedelta(days=day.weekday())


def _month_start(day: Date, months_back: int = 0) -> Date:
    index = day.year * 12 + day.month - 1 - months_back
    return Date(index // 12, index % 12 + 1, 1)


def _safe_date(year: int, month: int, day: int) -> Date | None:
    try:
        return Date(year, month, day)
    except ValueError:
        return None


def _whole(token: str) -> int | None:
    """An integer in digits or Chinese numerals; None for anything else (三点五 included)."""
    if token.isdigit():
        return int(token) if len(token) <= 30 else 10**30
    value = parse_chinese_number(token)
    if value is None or value != value.to_integral_value():
        return None
    return int(value)


# --- errors --------------------------------------------------------------------------------


def _forms_zh(max_count: int) -> str:
    return (
        "可用的写法：\n"
        "  · 留空、上次以来、上次总结以来、自上次：上次总结以来的消息\n"
        f"  · 消息条数（1 到 {max_count}）：100、100条、最近100条、一百条\n"
        f"  · 最近一段时间（最长 {_MAX_DAYS} 天）：-2h、30m、1.5h、最近2小时、近3天、过去一周、"
        "最近半小时、近一个月\n"
        "  · 某天、某周、某月：今天、昨天、前天、本周、上周、本月、上个月、11月30日、周一\n"
        "  · 某个时刻以来：18点以后、18:00以来、昨天18点以后、昨天下午6点以后、今天上午9点以来、"
        "周一以来、11月30日以来、从昨天下午6点开始"
    )


def _forms_en(max_count: int) -> str:
    return (
        "Accepted forms:\n"
        '  · nothing, "since last", "since last summary": messages since the last summary\n'
        f"  · a message count (1 to {max_count}): 100, last 100, 100 messages, 100 msgs\n"
        f"  · a recent span (at most {_MAX_DAYS} days): -2h, 30m, 1.5h, last 2 hours, "
        "past 3 days, last hour, past week\n"
        "  · a day, week or month: today, yesterday, this week, last week, this month, "
        "last month, Nov 30, monday\n"
        "  · since a moment: since 18:00, since 6pm, since yesterday 18:00, since monday, "
        "since 2026-11-30 09:30, since Nov 30"
    )


def _quoted(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"


class _Fail:
    """Builds bilingual ``WindowError``s for one argument."""

    def __init__(self, text: str, max_count: int) -> None:
        self.text = _quoted(text)
        self.max_count = max_count

    def __call__(self, zh: str, en: str) -> WindowError:
        return WindowError(
            f"{zh}\n{_forms_zh(self.max_count)}\n\n{en}\n{_forms_en(self.max_count)}"
        )

    def not_understood(self) -> WindowError:
        return self(f"无法理解「{self.text}」。", f'Could not understand "{self.text}".')

    def no_such_date(self) -> WindowError:
        return self(f"「{self.text}」不是有效的日期。", f'"{self.text}" is not a valid date.')

    def no_such_time(self) -> WindowError:
        return self(
            f"「{self.text}」不是有效的时刻。", f'"{self.text}" is not a valid time of day.'
        )

    def future(self, start: datetime, now: datetime) -> WindowError:
        return self(
            f"「{self.text}」的起点 {_minute(start)} 晚于现在（{_minute(now)}）。",
            f'"{self.text}" starts at {_minute(start)}, which is later than now ({_minute(now)}).',
        )


# --- since the last summary ----------------------------------------------------------------

_SINCE_LAST = re.compile(
    r"since (?:the )?last(?: (?:summary|time))?"
    r"|(?:自|从)?上次(?:总结)?(?:以来|之后|以后|后|开始|起)?"
)


def _since_last(key: str, now: datetime, fail: _Fail) -> Window | None:
    if not key or _SINCE_LAST.fullmatch(key):
        return Window("since_last")
    return None


# --- named days, weeks and months ----------------------------------------------------------

_NAMED = {
    "today": "today", "今天": "today", "今日": "today",
    "yesterday": "yesterday", "昨天": "yesterday", "昨日": "yesterday",
    "the day before yesterday": "before", "day before yesterday": "before", "前天": "before",
    "this week": "this_week", "本周": "this_week", "这周": "this_week", "这个星期": "this_week",
    "本星期": "this_week", "这星期": "this_week", "这个礼拜": "this_week", "这礼拜": "this_week",
    "last week": "last_week", "上周": "last_week", "上星期": "last_week",
    "上个星期": "last_week", "上礼拜": "last_week", "上个礼拜": "last_week",
    "this month": "this_month", "本月": "this_month", "这个月": "this_month",
    "last month": "last_month", "上个月": "last_month", "上月": "last_month",
}  # fmt: skip


def _named_bounds(name: str, today: Date) -> tuple[Date, Date | None]:
    """The first day of a named period and the day after it (None: it runs until now)."""
    yesterday = today - timedelta(days=1)
    monday = _monday(today)
    bounds: dict[str, tuple[Date, Date | None]] = {
        "today": (today, None),
        "yesterday": (yesterday, today),
        "before": (yesterday - timedelta(days=1), yesterday),
        "this_week": (monday, None),
        "last_week": (monday - timedelta(days=7), monday),
        "this_month": (_month_start(today), None),
        "last_month": (_month_start(today, 1), _month_start(today)),
    }
    return bounds[name]


def _named(key: str, now: datetime, fail: _Fail) -> Window | None:
    name = _NAMED.get(key)
    if name is None:
        return None
    first, after = _named_bounds(name, now.date())
    end = None if after is None else _midnight(after, now.tzinfo)
    return Window("span", start=_midnight(first, now.tzinfo), end=end)


# --- message counts ------------------------------------------------------------------------

_CN_NUMERAL = "[零〇一二两三四五六七八九十百千万]+"
_COUNT = re.compile(
    r"(?:(?:the )?(?:last|latest|newest|recent) ?)?(?P<en>\d+)(?: ?(?:messages?|msgs?))?"
    rf"|(?:最近|最新|近)?的?(?P<zh>\d+|{_CN_NUMERAL})条?(?:消息|信息|聊天记录|记录)?"
)


def _count(key: str, now: datetime, fail: _Fail) -> Window | None:
    match = _COUNT.fullmatch(key)
    if match is None:
        return None
    count = _whole(match["en"] or match["zh"])
    if count is None:
        return None
    if not 1 <= count <= fail.max_count:
        raise fail(
            f"消息条数须在 1 到 {fail.max_count} 之间（「{fail.text}」）。",
            f'The message count must be between 1 and {fail.max_count} (got "{fail.text}").',
        )
    return Window("last", count=count)


# --- spans ending now ----------------------------------------------------------------------

_MINUTE, _HOUR, _DAY = 60, 3600, 86400
_EN_UNITS = {
    "m": _MINUTE, "min": _MINUTE, "mins": _MINUTE, "minute": _MINUTE, "minutes": _MINUTE,
    "h": _HOUR, "hr": _HOUR, "hrs": _HOUR, "hour": _HOUR, "hours": _HOUR,
    "d": _DAY, "day": _DAY, "days": _DAY,
    "w": 7 * _DAY, "wk": 7 * _DAY, "wks": 7 * _DAY, "week": 7 * _DAY, "weeks": 7 * _DAY,
    "mo": 30 * _DAY, "month": 30 * _DAY, "months": 30 * _DAY,
}  # fmt: skip
_EN_AMOUNTS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
_ZH_UNITS = {
    "分钟": _MINUTE, "小时": _HOUR, "钟头": _HOUR, "天": _DAY, "日": _DAY,
    "周": 7 * _DAY, "星期": 7 * _DAY, "礼拜": 7 * _DAY, "月": 30 * _DAY,
}  # fmt: skip

_NUMBER = r"\d+(?:\.\d+)?"
_EN_UNIT = "|".join(sorted(_EN_UNITS, key=len, reverse=True))
_EN_AMOUNT = "|".join(sorted(_EN_AMOUNTS, key=len, reverse=True))
_EN_SPAN = re.compile(
    rf"[-−–]? ?(?P<n>{_NUMBER}) ?(?P<unit>{_EN_UNIT})"
    rf"|(?:(?:in|over|within|during) )?(?:the )?(?:last|past|previous) "
    rf"(?:(?P<half>half (?:an? )?)|(?P<n2>{_NUMBER}|{_EN_AMOUNT}) ?)?(?P<unit2>{_EN_UNIT})"
)
_ZH_SPAN = re.compile(
    r"(?P<pre>最近|过去的?|近)?"
    rf"(?P<n>{_NUMBER}|[零〇一二两三四五六七八九十百]+)?(?P<ge>个)?(?P<half>半)?(?P<ge2>个)?"
    r"(?P<unit>分钟|小时|钟头|天|日|周|星期|礼拜|月)(?P<half2>半)?(?:以内|之内|内|以来)?"
)


def _amount(token: str) -> Decimal:
    """A duration's amount: digits with an optional fraction, or a Chinese numeral."""
    if re.fullmatch(_NUMBER, token):
        return Decimal(token)
    return Decimal(_whole(token) or 0)


def _en_amount(match: re.Match[str]) -> tuple[Decimal, int]:
    if match["unit"]:
        return _amount(match["n"]), _EN_UNITS[match["unit"]]
    if match["half"]:
        amount = Decimal("0.5")
    elif match["n2"]:
        words = match["n2"]
        amount = Decimal(_EN_AMOUNTS[words]) if words in _EN_AMOUNTS else _amount(words)
    else:
        amount = Decimal(1)  # "last hour", "past week"
    return amount, _EN_UNITS[match["unit2"]]


def _zh_amount(match: re.Match[str]) -> tuple[Decimal, int] | None:
    unit, number = match["unit"], match["n"]
    halves = [h for h in (match["half"], match["half2"]) if h]
    if (number is None and not halves) or len(halves) > 1:
        return None
    if unit == "日" and not match["pre"]:
        return None  # 3日 is the 3rd of a month
    if unit == "月" and not (match["pre"] or match["ge"] or match["ge2"]):
        return None  # 一月 is January
    amount = Decimal(0) if number is None else _amount(number)
    if halves:
        amount += Decimal("0.5")
    return amount, _ZH_UNITS[unit]


def _span(key: str, now: datetime, fail: _Fail) -> Window | None:
    english, chinese = _EN_SPAN.fullmatch(key), _ZH_SPAN.fullmatch(key)
    found = _en_amount(english) if english else _zh_amount(chinese) if chinese else None
    if found is None:
        return None
    amount, unit = found
    seconds = amount * unit
    if seconds <= 0:
        raise fail(f"「{fail.text}」的时长必须大于零。", f'"{fail.text}" must be longer than zero.')
    if seconds > _MAX_DAYS * _DAY:
        raise fail(
            f"「{fail.text}」太长：最长 {_MAX_DAYS} 天。",
            f'"{fail.text}" is too long: at most {_MAX_DAYS} days.',
        )
    delta = timedelta(microseconds=int(seconds * 1_000_000))
    start = (now.astimezone(UTC) - delta).astimezone(now.tzinfo)
    return Window("span", start=start)


# --- since a moment ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Moment:
    """A moment as written: a day (or None: the most recent such time) and minutes after its
    midnight (or None: the day's start), and whether a since-word was there."""

    day: Date | None
    minutes: int | None
    since: bool


_CN_SMALL = "[零〇一二两三四五六七八九十]{1,3}"
_ZH_WEEKDAYS = {
    "一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
    "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6,
}  # fmt: skip
_EN_WEEKDAYS = {
    "monday": 0, "mon": 0, "tuesday": 1, "tues": 1, "tue": 1, "wednesday": 2, "wed": 2,
    "thursday": 3, "thurs": 3, "thur": 3, "thu": 3, "friday": 4, "fri": 4,
    "saturday": 5, "sat": 5, "sunday": 6, "sun": 6,
}  # fmt: skip
# Relative day words: days back from today, and the day part they imply (昨晚 = 昨天晚上).
_ZH_DAYS = {
    "今天": (0, None), "今日": (0, None), "今早": (0, "早上"), "今晚": (0, "晚上"),
    "昨天": (1, None), "昨日": (1, None), "昨晚": (1, "晚上"), "昨夜": (1, "晚上"),
    "前天": (2, None), "明天": (-1, None), "明日": (-1, None),
}  # fmt: skip
_EN_DAYS = {
    "today": 0, "yesterday": 1, "the day before yesterday": 2, "day before yesterday": 2,
    "tomorrow": -1,
}  # fmt: skip

_ISO = r"(?P<iy>\d{4})[-/.](?P<im>\d{1,2})[-/.](?P<id>\d{1,2})"
_ZH_DAY = (
    rf"(?P<rel>{'|'.join(_ZH_DAYS)})"
    r"|(?P<wrel>上个?|本|这个?)?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天1-7])"
    rf"|(?:(?P<y>\d{{4}}|[〇零一二三四五六七八九]{{4}})年)?(?P<mo>\d{{1,2}}|{_CN_SMALL})月"
    rf"(?P<d>\d{{1,2}}|{_CN_SMALL})[日号號]"
    rf"|(?P<dom>\d{{1,2}}|{_CN_SMALL})[日号號]"
    rf"|{_ISO}"
)
_ZH_PERIOD = "凌晨|清晨|早上|早晨|上午|中午|下午|傍晚|晚上|夜里"
_ZH_CLOCK = (
    rf"(?P<h>\d{{1,2}}|{_CN_SMALL})[点點时時]"
    rf"(?:(?P<half>半)|(?P<quarter>一刻|三刻)|(?:零(?=\d))?(?P<mi>\d{{1,2}}|{_CN_SMALL})分?|整)?"
    r"|(?P<h24>\d{1,2}):(?P<m24>\d{2})"
)
_ZH_MOMENT = re.compile(
    rf"(?P<prefix>从|自)?(?:{_ZH_DAY})? ?(?P<period>{_ZH_PERIOD})?(?:{_ZH_CLOCK})?"
    r"(?P<suffix>以后|之后|以来|开始|起|后)?"
)

_EN_MONTH = "|".join(sorted(MONTH_NUMBERS, key=len, reverse=True))
_EN_WEEKDAY = "|".join(sorted(_EN_WEEKDAYS, key=len, reverse=True))
_EN_ORDINAL = "(?:st|nd|rd|th)?"
_EN_DAY = (
    rf"(?P<rel>{'|'.join(sorted(_EN_DAYS, key=len, reverse=True))})"
    rf"|(?P<wd>{_EN_WEEKDAY})\.?"
    rf"|{_ISO}"
    rf"|(?P<mon>{_EN_MONTH})\.? ?(?P<md>\d{{1,2}}){_EN_ORDINAL}(?: ?,? ?(?P<my>\d{{4}}))?"
    rf"|(?:the )?(?P<dm>\d{{1,2}}){_EN_ORDINAL} ?(?:of )?(?P<mon2>{_EN_MONTH})\.?"
    r"(?: ?,? ?(?P<my2>\d{4}))?"
)
_EN_CLOCK = (
    r"(?P<h>\d{1,2})(?::(?P<mi>\d{2}))? ?(?P<ampm>[ap])\.?m\.?"
    r"|(?P<h24>\d{1,2}):(?P<m24>\d{2})"
    r"|(?P<word>noon|midnight)"
)
_EN_SINCE = r"(?P<since>(?:since|from|after) )?"
_EN_MOMENTS = (
    re.compile(rf"{_EN_SINCE}(?:{_EN_DAY})(?: ?,? ?(?:at |t ?)?(?:{_EN_CLOCK}))?"),
    re.compile(rf"{_EN_SINCE}(?:at )?(?:{_EN_CLOCK})(?: ?,? ?(?:on )?(?:{_EN_DAY}))?"),
)


def _number_group(match: re.Match[str], name: str) -> int | None:
    token = match[name]
    return None if token is None else _whole(token)


def _latest_date(month: int, day: int, today: Date, fail: _Fail) -> Date:
    """The most recent month/day not after today (this year, else an earlier one)."""
    if 1 <= month <= 12 and 1 <= day <= 31:
        for year in range(today.year, today.year - 9, -1):
            found = _safe_date(year, month, day)
            if found is not None and found <= today:
                return found
    raise fail.no_such_date()


def _latest_day_of_month(day: int, today: Date, fail: _Fail) -> Date:
    if 1 <= day <= 31:
        for back in range(12):
            first = _month_start(today, back)
            found = _safe_date(first.year, first.month, day)
            if found is not None and found <= today:
                return found
    raise fail.no_such_date()


def _dated(match: re.Match[str], year: str, month: int, day: str, today: Date, fail: _Fail) -> Date:
    """The date of ``month`` and the day and optional year in groups ``day`` and ``year``."""
    number = _number_group(match, day)
    if number is None:
        raise fail.no_such_date()
    if match[year] is None:
        return _latest_date(month, number, today, fail)
    found = _safe_date(_number_group(match, year) or 0, month, number)
    if found is None:
        raise fail.no_such_date()
    return found


def _iso_day(match: re.Match[str], fail: _Fail) -> Date | None:
    if match["iy"] is None:
        return None
    found = _safe_date(int(match["iy"]), int(match["im"]), int(match["id"]))
    if found is None:
        raise fail.no_such_date()
    return found


def _weekday(weekday: int, relation: str, today: Date) -> Date:
    """Bare: the most recent such day (today included); 本/这: this week's; 上: last week's."""
    if relation.startswith("上"):
        return _monday(today) - timedelta(days=7 - weekday)
    if relation:
        return _monday(today) + timedelta(days=weekday)
    return today - timedelta(days=(today.weekday() - weekday) % 7)


def _zh_day(match: re.Match[str], today: Date, fail: _Fail) -> Date | None:
    if match["rel"]:
        return today - timedelta(days=_ZH_DAYS[match["rel"]][0])
    if match["wd"]:
        return _weekday(_ZH_WEEKDAYS[match["wd"]], match["wrel"] or "", today)
    if match["mo"]:
        month = _number_group(match, "mo")
        if month is None or not 1 <= month <= 12:
            raise fail.no_such_date()
        return _dated(match, "y", month, "d", today, fail)
    if match["dom"]:
        return _latest_day_of_month(_number_group(match, "dom") or 0, today, fail)
    return _iso_day(match, fail)


def _en_day(match: re.Match[str], today: Date, fail: _Fail) -> Date | None:
    if match["rel"]:
        return today - timedelta(days=_EN_DAYS[match["rel"]])
    if match["wd"]:
        return _weekday(_EN_WEEKDAYS[match["wd"]], "", today)
    if match["mon"]:
        return _dated(match, "my", MONTH_NUMBERS[match["mon"]], "md", today, fail)
    if match["mon2"]:
        return _dated(match, "my2", MONTH_NUMBERS[match["mon2"]], "dm", today, fail)
    return _iso_day(match, fail)


def _clock(hour: int, minute: int, fail: _Fail) -> int:
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise fail.no_such_time()
    return hour * 60 + minute


def _zh_hour(hour: int, period: str | None) -> int:
    """The 24-hour hour of a Chinese time: 下午3点 -> 15, 凌晨12点 -> 0, 晚上12点 -> 24."""
    if period == "凌晨":
        return 0 if hour == 12 else hour
    if period == "中午":
        return hour + 12 if hour in (1, 2) else hour
    if period in {"下午", "傍晚", "晚上", "夜里"}:
        if hour == 12 and period in {"晚上", "夜里"}:
            return 24
        return hour + 12 if hour < 12 else hour
    return hour


def _zh_minute(match: re.Match[str]) -> int | None:
    if match["half"]:
        return 30
    if match["quarter"]:
        return 15 if match["quarter"] == "一刻" else 45
    return _number_group(match, "mi") if match["mi"] else 0


def _zh_clock(match: re.Match[str], period: str | None, fail: _Fail) -> int | None:
    if match["h24"]:
        hour: int | None = int(match["h24"])
        minute: int | None = int(match["m24"])
    elif match["h"]:
        hour, minute = _number_group(match, "h"), _zh_minute(match)
    else:
        return None
    if hour is None or minute is None:
        raise fail.no_such_time()
    _clock(hour, minute, fail)  # validates as written: 25点 and 8点70分 are no times
    return _zh_hour(hour, period) * 60 + minute


def _en_clock(match: re.Match[str], fail: _Fail) -> int | None:
    if match["word"]:
        return 12 * 60 if match["word"] == "noon" else 0
    if match["h24"]:
        return _clock(int(match["h24"]), int(match["m24"]), fail)
    if match["h"] is None:
        return None
    hour, minute = int(match["h"]), int(match["mi"] or 0)
    if not 1 <= hour <= 12:
        raise fail.no_such_time()
    return _clock(hour % 12 + (12 if match["ampm"] == "p" else 0), minute, fail)


def _zh_moment(key: str, today: Date, fail: _Fail) -> _Moment | None:
    match = _ZH_MOMENT.fullmatch(key)
    if match is None:
        return None
    period = match["period"] or (_ZH_DAYS[match["rel"]][1] if match["rel"] else None)
    day = _zh_day(match, today, fail)
    minutes = _zh_clock(match, period, fail)
    if period and minutes is None:
        return None  # 昨天下午, 昨晚: a part of a day, but no time to start from
    return _Moment(day, minutes, bool(match["prefix"] or match["suffix"]))


def _en_moment(key: str, today: Date, fail: _Fail) -> _Moment | None:
    for pattern in _EN_MOMENTS:
        match = pattern.fullmatch(key)
        if match is not None:
            day = _en_day(match, today, fail)
            return _Moment(day, _en_clock(match, fail), bool(match["since"]))
    return None


def _moment(key: str, now: datetime, fail: _Fail) -> Window | None:
    today = now.date()
    moment = _zh_moment(key, today, fail) or _en_moment(key, today, fail)
    if moment is None or (moment.day is None and moment.minutes is None):
        return None
    if moment.day is None:
        assert moment.minutes is not None
        start = _at(today, moment.minutes, now.tzinfo)
        if start > now:
            start = _at(today - timedelta(days=1), moment.minutes, now.tzinfo)
        return Window("span", start=start)
    start = _at(moment.day, moment.minutes or 0, now.tzinfo)
    if start > now:
        raise fail.future(start, now)
    if moment.minutes is not None or moment.since or moment.day == today:
        return Window("span", start=start)
    return Window("span", start=start, end=_midnight(moment.day + timedelta(days=1), now.tzinfo))


# --- parsing -------------------------------------------------------------------------------

_Parser = Callable[[str, datetime, _Fail], Window | None]
_PARSERS: tuple[_Parser, ...] = (_since_last, _named, _count, _span, _moment)


def parse_window(text: str, now: datetime, *, max_count: int = 10_000) -> Window:
    """The summary window ``text`` names (the argument after /summary or /总结), read against
    ``now`` (timezone-aware, in the bot's timezone; every datetime returned is in its tzinfo).

    Raises ``WindowError`` for text it does not understand, a count outside 1..``max_count``, a
    duration of zero or over 366 days, an impossible date or time, a start later than now, or a
    naive ``now``. See the module docstring for the forms and conventions.
    """
    if max_count < 1:
        raise ValueError(f"max_count must be at least 1, got {max_count}")
    stripped = text.strip()
    fail = _Fail(stripped, max_count)
    if not _is_aware(now):
        raise fail("当前时间 now 必须带时区。", "now must be timezone-aware.")
    if len(stripped) > _MAX_TEXT:
        raise fail.not_understood()
    key = normalize(stripped)
    for parser in _PARSERS:
        window = parser(key, now, fail)
        if window is not None:
            return replace(window, text=stripped)
    raise fail.not_understood()
