"""Guardrails around model output: bounded length, grounding in the source, safe chat text.

A small model writes fluent text that can still name the wrong owner, shift a date or
miscount a sum. ``Grounding`` checks what an answer states against the text it was made
from: names and terms must occur in the source, and so must every number and explicit date
(in any of the usual written forms, Chinese numerals included). It cannot tell whether a
statement is true, only whether its names, numbers and dates come from the source; callers
flag or drop what fails (``Grounding.filter_supported``).

``escape_markdown`` and ``neutralize_commands`` make model or user text safe to post in a
chat: it can never turn into markup, and it can never read as a bot command.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TypeVar

T = TypeVar("T")

ELLIPSIS = "…"

# --- bounding text -------------------------------------------------------------------------

# Where a sentence ends: CJK end marks anywhere; ASCII ones only before whitespace (so 3.5 and
# e.g. are not ends); closing quotes and brackets stay with their sentence.
_SENTENCE_END = re.compile(r"(?:[。！？；!?…]+|\.(?=\s))[”’\"'」』）)\]]*|(?=\n)")
_EXTENDING = {"\u200d", "\u20e3"}  # zero-width joiner, combining keycap


def _extends(char: str) -> bool:
    """True for a character that belongs to the character before it (one visible glyph)."""
    code = ord(char)
    return (
        char in _EXTENDING
        or unicodedata.combining(char) != 0
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0x1F3FB <= code <= 0x1F3FF  # skin tone modifiers
        or 0xDC00 <= code <= 0xDFFF  # a low surrogate (text decoded with surrogateescape)
        or 0xE0020 <= code <= 0xE007F  # emoji tag sequences
    )


def _is_word_char(char: str) -> bool:
    """Letters and digits of space-separated scripts (CJK characters are words of their own)."""
    return char.isalnum() and not _is_cjk(char)


def _safe_cut(text: str, position: int) -> int:
    """``position`` moved back so the cut splits no glyph (emoji sequence, combining mark)."""
    while 0 < position < len(text) and (_extends(text[position]) or text[position - 1] == "\u200d"):
        position -= 1
    return position


def bound_text(text: str, max_chars: int, *, ellipsis: str = ELLIPSIS) -> str:
    """``text`` unchanged if it has at most ``max_chars`` characters, else cut and ended with
    ``ellipsis`` (the result, ellipsis included, has at most ``max_chars`` characters).

    The cut goes, in order of preference, after the last sentence end (。！？；.!? or a line
    break) before the limit, at the last space, or between two characters that are not parts
    of one word; a boundary is only used when it keeps at least half of the allowed text.
    Emoji sequences and combining marks are never split.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    if len(text) <= max_chars:
        return text
    limit = max_chars - len(ellipsis)
    if limit <= 0:
        return ellipsis[:max_chars]
    floor = max(1, limit // 2)
    window = text[: limit + 1]
    cut = 0
    for match in _SENTENCE_END.finditer(window):
        if floor <= match.end() <= limit:
            cut = match.end()
    if not cut:
        for position in range(limit, floor - 1, -1):
            if text[position].isspace():
                cut = position
                break
    if not cut:
        for position in range(limit, floor - 1, -1):
            if not (_is_word_char(text[position - 1]) and _is_word_char(text[position])):
                cut = position
                break
    cut = _safe_cut(text, cut or limit)
    return text[:cut].rstrip() + ellipsis


# --- normalisation -------------------------------------------------------------------------


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2FA1F
        or 0xF900 <= code <= 0xFAFF
        or 0x3000 <= code <= 0x303F  # CJK punctuation
    )


_CJK_CLASS = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_SPACE_BY_CJK = re.compile(rf"(?<=[{_CJK_CLASS}]) | (?=[{_CJK_CLASS}])")


def normalize(text: str) -> str:
    """NFKC (full-width letters and digits become ASCII), case-folded, whitespace collapsed to
    one space, and no space beside a Chinese character ("Q3 预算" == "Q3预算")."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    collapsed = " ".join(folded.split())
    return _SPACE_BY_CJK.sub("", collapsed)


# --- numbers -------------------------------------------------------------------------------

_CN_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10**4, "亿": 10**8}
_CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千万亿]+(?:点[零〇一二三四五六七八九]+)?")
_SCALES = {
    "百万": Decimal(10**6), "千万": Decimal(10**7), "万亿": Decimal(10**12),
    "亿": Decimal(10**8), "万": Decimal(10**4), "千": Decimal(1000), "百": Decimal(100),
    "k": Decimal(1000), "K": Decimal(1000), "w": Decimal(10**4), "W": Decimal(10**4),
    "M": Decimal(10**6),
}  # fmt: skip
_EN_SMALL_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
)
_EN_NUMBER_WORDS = {word: Decimal(n) for n, word in enumerate(_EN_SMALL_NUMBERS.split())} | {
    "thirty": Decimal(30), "forty": Decimal(40), "fifty": Decimal(50), "sixty": Decimal(60),
    "seventy": Decimal(70), "eighty": Decimal(80), "ninety": Decimal(90),
    "hundred": Decimal(100), "thousand": Decimal(1000), "million": Decimal(10**6),
    "billion": Decimal(10**9), "dozen": Decimal(12), "half": Decimal("0.5"),
}  # fmt: skip
_EN_WORD = re.compile(r"[a-z]+")

_NUMBER = re.compile(
    r"(?<![A-Za-z0-9_.])"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?(?!\.\d)"
    r"(?:\s?(?P<cjk_scale>百万|千万|万亿|亿|万|千|百)|(?P<scale>[kKwWM])(?![A-Za-z]))?"
    r"(?P<percent>\s?[%‰])?"
)
# Tokens where digits are part of a name (Q3, H200, v2.1, OKR2026, 1.2.3): checked as terms.
_CODE_TOKEN = re.compile(
    r"(?<![A-Za-z0-9_.])(?:[A-Za-z]+\d[A-Za-z0-9]*(?:\.\d+)*|\d+(?:\.\d+){2,})(?![A-Za-z0-9_])"
)
_LIST_MARKER = re.compile(r"(?m)^[ \t]*\d{1,2}(?:[.)](?=[ \t])|、)")
_TIME = re.compile(r"(?<![\d:.])(?P<h>[01]?\d|2[0-3])[:：](?P<m>[0-5]\d)(?![\d:])")
_CN_NUM_CLASS = "零〇一二两三四五六七八九十"
_SOURCE_TIME = re.compile(
    rf"(?P<h>\d{{1,2}}|[{_CN_NUM_CLASS}]{{1,3}})\s*[点點时時]\s*"
    rf"(?:(?P<half>半)|(?P<m>\d{{1,2}}|[{_CN_NUM_CLASS}]{{1,3}})\s*分?)?"
)


def parse_chinese_number(text: str) -> Decimal | None:
    """The value of a Chinese numeral: 十五 -> 15, 两万五 -> 25000, 二〇二六 -> 2026,
    三点五 -> 3.5, 一百零五 -> 105; None when ``text`` is not one."""
    whole, _, fraction = text.partition("点")
    if not whole or any(c not in _CN_DIGITS for c in fraction):
        return None
    if all(c in _CN_DIGITS for c in whole):
        value = int("".join(str(_CN_DIGITS[c]) for c in whole))
    else:
        total = section = number = 0
        last_unit = 0
        for char in whole:
            if char in _CN_DIGITS:
                number = _CN_DIGITS[char]
                if number == 0:
                    last_unit = 0  # 一百零五: the 五 is units, not tens
            elif char in _CN_UNITS:
                section += (number or 1) * _CN_UNITS[char]
                number, last_unit = 0, _CN_UNITS[char]
            elif char in _CN_BIG:
                section += number
                if char == "亿":
                    total = (total + section) * _CN_BIG[char]
                else:
                    total += (section or 1) * _CN_BIG[char]
                section = number = 0
                last_unit = _CN_BIG[char]
            else:
                return None
        if number and last_unit >= 100:
            number *= last_unit // 10  # colloquial 三千五 = 3500, 两万五 = 25000
        value = total + section + number
    if fraction:
        return Decimal(f"{value}.{''.join(str(_CN_DIGITS[c]) for c in fraction)}")
    return Decimal(value)


def _to_int(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    value = parse_chinese_number(text)
    return int(value) if value is not None and value == value.to_integral_value() else None


@dataclass(frozen=True, slots=True)
class _Number:
    start: int
    end: int
    literal: str
    value: Decimal  # scaled: 3.5万 -> 35000
    raw: Decimal  # as written: 3.5万 -> 3.5


def _numbers(text: str) -> Iterator[_Number]:
    for match in _NUMBER.finditer(text):
        digits = match["int"].replace(",", "") + (f".{match['frac']}" if match["frac"] else "")
        try:
            raw = Decimal(digits)
        except InvalidOperation:  # pragma: no cover - the pattern only matches digits
            continue
        scale_word = match["cjk_scale"] or match["scale"]
        value = raw * _SCALES[scale_word] if scale_word else raw
        yield _Number(match.start(), match.end(), match[0].strip(), value, raw)


# --- dates ---------------------------------------------------------------------------------

MONTH_NUMBERS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}  # fmt: skip
"""English month names and abbreviations, lower-case, to their numbers."""
# Month names in Title Case or CAPITALS only, so "may" and "march" as words are not dates.
_MONTH = "|".join(
    f"{name.title()}|{name.upper()}" for name in sorted(MONTH_NUMBERS, key=len, reverse=True)
)
_ORDINAL = r"(?:st|nd|rd|th)?"
_DATE_PATTERNS = (
    re.compile(r"(?<!\d)(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d|\.\d)"),
    re.compile(
        rf"(?:(?P<y>\d{{4}}|[〇零一二三四五六七八九]{{4}})\s*年\s*)?"
        rf"(?<!\d)(?P<m>\d{{1,2}}|[{_CN_NUM_CLASS}]{{1,3}})\s*月\s*"
        rf"(?P<d>\d{{1,2}}|[{_CN_NUM_CLASS}]{{1,3}})\s*[日号號]"
    ),
    re.compile(rf"\b(?P<mon>{_MONTH})\.?\s+(?P<d>\d{{1,2}}){_ORDINAL}\b(?:,?\s+(?P<y>\d{{4}})\b)?"),
    re.compile(
        rf"\b(?P<d>\d{{1,2}}){_ORDINAL}\s+(?:of\s+)?(?P<mon>{_MONTH})\b\.?(?:,?\s+(?P<y>\d{{4}})\b)?"
    ),
)
# Only in the source: informal month.day and month/day ("3.15前提交"), too ambiguous to flag.
_LOOSE_DATE = re.compile(r"(?<![\d./])(?P<m>\d{1,2})[./](?P<d>\d{1,2})(?![\d./])")

DateKey = tuple[int | None, int, int]


@dataclass(frozen=True, slots=True)
class _Date:
    start: int
    end: int
    literal: str
    key: DateKey


def _dates(text: str) -> list[_Date]:
    """The explicit dates in ``text``, in order (where forms overlap, the first pattern wins)."""
    found: list[_Date] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            if any(d.start < match.end() and match.start() < d.end for d in found):
                continue
            groups = match.groupdict()
            month = (
                MONTH_NUMBERS[groups["mon"].lower()] if groups.get("mon") else _to_int(groups["m"])
            )
            day = _to_int(groups["d"])
            year = _to_int(groups["y"]) if groups.get("y") else None
            if month is None or day is None or not (1 <= month <= 12 and 1 <= day <= 31):
                continue
            found.append(_Date(match.start(), match.end(), match[0].strip(), (year, month, day)))
    return sorted(found, key=lambda date: date.start)


# --- grounding -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroundingReport:
    """What an answer states that its source does not contain."""

    unsupported_numbers: tuple[str, ...] = ()
    unsupported_dates: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not (self.unsupported_numbers or self.unsupported_dates)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


_LATIN_EDGE = r"0-9a-z\u00c0-\u024f"


class Grounding:
    """Checks names, terms, numbers and dates of model output against ``source_text``.

    Names and terms match after normalisation (``normalize``); Latin ones must match whole
    words (``Ann`` is not in ``Anna``), Chinese ones as exact substrings. Numbers match by
    value (1,200 == 1200 == 1200.0; 3.5万 == 35000; 十五 in the source supports 15); dates match
    in any written form (2026-03-15, 2026/3/15, 3月15日, 三月十五号, March 15, 15 March); an
    answer may add a year to a month and day that the source gives without one, when the source
    mentions that year.
    """

    def __init__(self, source_text: str) -> None:
        self._normalized = normalize(source_text)
        text = unicodedata.normalize("NFKC", source_text)
        self._numbers: set[Decimal] = set()
        for number in _numbers(text):
            self._numbers.update((number.value, number.raw))
        for match in _CN_NUMBER.finditer(text):
            if (value := parse_chinese_number(match[0])) is not None:
                self._numbers.add(value)
        for word in _EN_WORD.findall(text.casefold()):
            if word in _EN_NUMBER_WORDS:
                self._numbers.add(_EN_NUMBER_WORDS[word])
        self._dates: set[DateKey] = set()
        self._month_days: set[tuple[int, int]] = set()
        self._yearless: set[tuple[int, int]] = set()
        for date in _dates(text):
            year, month, day = date.key
            self._dates.add(date.key)
            self._month_days.add((month, day))
            if year is None:
                self._yearless.add((month, day))
        for match in _LOOSE_DATE.finditer(text):
            month, day = int(match["m"]), int(match["d"])
            if 1 <= month <= 12 and 1 <= day <= 31:
                self._month_days.add((month, day))
                self._yearless.add((month, day))
        self._times = self._source_times(text)

    @staticmethod
    def _source_times(text: str) -> set[tuple[int, int]]:
        times: set[tuple[int, int]] = set()
        found: list[tuple[int | None, int | None]] = [
            (int(m["h"]), int(m["m"])) for m in _TIME.finditer(text)
        ]
        for match in _SOURCE_TIME.finditer(text):
            minute = 30 if match["half"] else (_to_int(match["m"]) if match["m"] else 0)
            found.append((_to_int(match["h"]), minute))
        for hour, minute in found:
            if hour is None or minute is None or not (0 <= hour <= 24 and 0 <= minute < 60):
                continue
            times.add((hour, minute))
            if hour <= 12:
                times.add((hour + 12, minute))  # 下午两点 is 14:00
            else:
                times.add((hour - 12, minute))
        return times

    # --- single values ---------------------------------------------------------------------

    def supports(self, value: str) -> bool:
        """True when the name, term, number or date ``value`` occurs in the source."""
        text = unicodedata.normalize("NFKC", value).strip()
        if not text:
            return False
        number = _NUMBER.fullmatch(text)
        if number is not None:
            return next(_numbers(text)).value in self._numbers
        date = next(iter(_dates(text)), None)
        if date is not None and date.literal == text:
            return self._date_supported(date.key)
        needle = normalize(text)
        if any(_is_cjk(char) for char in needle):
            return needle in self._normalized
        pattern = rf"(?<![{_LATIN_EDGE}]){re.escape(needle)}(?![{_LATIN_EDGE}])"
        return re.search(pattern, self._normalized) is not None

    def _date_supported(self, key: DateKey) -> bool:
        year, month, day = key
        if year is None:
            return (month, day) in self._month_days
        # The answer may add a year to a month and day the source gives without one, if the
        # source mentions that year (the minutes of 2026年3月10日 say 3月15日 for 2026-03-15).
        return key in self._dates or (
            (month, day) in self._yearless and Decimal(year) in self._numbers
        )

    # --- whole answers ---------------------------------------------------------------------

    def unsupported_dates(self, answer: str) -> list[str]:
        """Explicit dates in ``answer`` that the source does not contain in any form.

        Relative dates (明天, 下周五, next Friday) are not checked: resolving them needs a
        reference date, which is the date resolver's job.
        """
        text = unicodedata.normalize("NFKC", answer)
        return list(_unique(d.literal for d in _dates(text) if not self._date_supported(d.key)))

    def unsupported_numbers(self, answer: str) -> list[str]:
        """Numbers in ``answer`` (integers, decimals, percentages, amounts such as 1,200 or
        3.5万, clock times, and codes with digits such as Q3) that the source does not contain.

        Numbers inside explicit dates are left to ``unsupported_dates``; list markers ("1. ")
        are formatting, not claims.
        """
        text = unicodedata.normalize("NFKC", answer)
        covered = [(d.start, d.end) for d in _dates(text)]
        covered += [m.span() for m in _LIST_MARKER.finditer(text)]
        flagged: list[tuple[int, str]] = []
        for match in _TIME.finditer(text):
            if not self._overlaps(match.span(), covered):
                covered.append(match.span())
                if (int(match["h"]), int(match["m"])) not in self._times:
                    flagged.append((match.start(), match[0]))
        for match in _CODE_TOKEN.finditer(text):
            if not self._overlaps(match.span(), covered):
                covered.append(match.span())
                if not self.supports(match[0]):
                    flagged.append((match.start(), match[0]))
        for number in _numbers(text):
            if self._overlaps((number.start, number.end), covered):
                continue
            if number.value not in self._numbers:
                flagged.append((number.start, number.literal))
        return list(_unique(literal for _, literal in sorted(flagged)))

    @staticmethod
    def _overlaps(span: tuple[int, int], spans: Sequence[tuple[int, int]]) -> bool:
        return any(start < span[1] and span[0] < end for start, end in spans)

    def check(self, answer: str) -> GroundingReport:
        return GroundingReport(
            unsupported_numbers=tuple(self.unsupported_numbers(answer)),
            unsupported_dates=tuple(self.unsupported_dates(answer)),
        )

    def filter_supported(
        self, items: Iterable[T], key: Callable[[T], str | Sequence[str] | None]
    ) -> tuple[list[T], list[T]]:
        """(kept, dropped): an item is kept when every value ``key`` gives for it is supported.

        ``key`` returns one value, several (a to-do with two owners), or None or "" for an item
        with nothing to check (a to-do without an owner), which is kept.
        """
        kept: list[T] = []
        dropped: list[T] = []
        for item in items:
            values = key(item)
            if values is None:
                values = ()
            elif isinstance(values, str):
                values = (values,)
            checked = [v for v in values if v and v.strip()]
            (kept if all(self.supports(v) for v in checked) else dropped).append(item)
        return kept, dropped


# --- safe chat output ----------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\*_`#\[\]()|~])")
_LINE_START_MARKER = re.compile(
    r"(?m)^(?P<indent>[ \t]*)"
    r"(?P<marker>[-+](?=[ \t]|$)|[-=]+[ \t]*$|\d{1,9}(?=\.(?:[ \t]|$)))"
)
_LEADING_SPACE = re.compile(r"(?m)^[ \t]{4,}")


def escape_markdown(text: str) -> str:
    """``text`` that renders as itself in DingTalk markdown, never as markup.

    HTML is escaped (&, <, >: no tags, no ``> quote``); Markdown punctuation
    (\\ * _ ` # [ ] ( ) | ~) gets a backslash; a line that starts with a list, heading or rule
    marker (- + = or 1. / 1)) gets its marker escaped; indentation is capped at three spaces,
    so nothing becomes a code block.
    """
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", escaped)
    escaped = _LEADING_SPACE.sub("   ", escaped)
    return _LINE_START_MARKER.sub(_escape_marker, escaped)


def _escape_marker(match: re.Match[str]) -> str:
    marker = match["marker"]
    if marker.isdigit():
        return f"{match['indent']}{marker}\\"  # 1. -> 1\. (the dot follows)
    return f"{match['indent']}\\{marker}"


COMMAND_PREFIXES = ("/", "／")
DEFAULT_COMMAND_WORDS = frozenset(
    {"help", "summary", "minutes", "todo", "plan", "miniapp"}
    | {"帮助", "总结", "纪要", "待办", "策划"}
)
DEFUSE_MARK = "› "


def neutralize_commands(text: str, command_words: Iterable[str] | None = None) -> str:
    """``text`` with every line that could read as a bot command defused.

    A line is a command when it starts with / or ／, or when its first word is a command word
    (``command_words``, default ``DEFAULT_COMMAND_WORDS``; pass the router's words to cover
    every plugin). Such a line gets "› " in front: it reads naturally as a quoted line, and no
    router takes it for a command, since the line no longer starts with a slash or a command
    word. A zero-width character would do the same invisibly, but it confuses copy-and-paste
    and screen readers, and it is not visible when someone wonders why nothing happened.
    """
    words = {w.casefold() for w in (command_words or DEFAULT_COMMAND_WORDS)}
    lines = []
    for line in text.split("\n"):
        body = line.lstrip(" \t\u3000")
        first = body.split(maxsplit=1)[0].casefold() if body.strip() else ""
        if body.startswith(COMMAND_PREFIXES) or first in words:
            line = line[: len(line) - len(body)] + DEFUSE_MARK + body
        lines.append(line)
    return "\n".join(lines)


def safe_chat_text(text: str, max_chars: int, command_words: Iterable[str] | None = None) -> str:
    """Model output ready to post as plain chat text: commands defused, then bounded to
    ``max_chars`` (the bound applies last, so the result never exceeds it)."""
    return bound_text(neutralize_commands(text.strip(), command_words), max_chars)
