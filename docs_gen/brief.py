"""What a brief states in figures, read by code: the budget cap, the start time, the length,
how many people. The model is told these as facts, and the numbers in the document are built
on them (``docs_gen.numbers``), so "预算5万" stays 50,000 and "下午2点开始，2小时" stays
14:00-16:00.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from docs_gen.errors import BriefError
from llm.prompts import Language, detect_language

MAX_BRIEF_CHARS = 2000

_CN_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
    "半": 0.5,
}
_NUMBER = r"\d+(?:[.,]\d+)*(?:\.\d+)?"
_CN_NUMBER = r"[零一二两三四五六七八九十半]+"

_BUDGET_ZH = re.compile(
    rf"(?:(?:预算|经费|费用上限|费用不超过|花费不超过|预算不超过)\s*(?:为|是|约|在)?\s*"
    rf"(?:人民币|RMB|¥|￥)?\s*(?P<n>{_NUMBER}|{_CN_NUMBER})\s*(?P<unit>万|千|k|K|w|W)?\s*"
    r"(?:元|块|人民币)?"
    # "不超过" alone caps a budget only with a currency: "时长不超过1小时" is no budget
    rf"|(?:不超过|控制在)\s*(?P<n2>{_NUMBER}|{_CN_NUMBER})\s*(?P<unit2>万|千)?\s*(?:元|块))"
)
_BUDGET_EN = re.compile(
    rf"budget(?:\s+(?:of|is|at|around|about|under|up\s+to|cap(?:ped)?(?:\s+at)?))*\s*[:：]?\s*"
    rf"(?P<cur>[$¥€£]|USD|RMB|CNY|EUR)?\s*(?P<n>{_NUMBER})\s*(?P<unit>k|K|m|M|thousand|million)?",
    re.IGNORECASE,
)
_PEOPLE = re.compile(
    rf"(?P<n>{_NUMBER}|{_CN_NUMBER})\s*(?:多|余|来)?\s*(?:人|位|名)(?!民)|"
    rf"(?P<e>{_NUMBER})\s*\+?\s*(?:people|attendees|guests|participants|employees|staff)",
    re.IGNORECASE,
)
_DURATION_ZH = re.compile(
    rf"(?P<n>{_NUMBER}|{_CN_NUMBER})\s*(?:个)?\s*(?P<half>半)?\s*(?P<unit>小时|钟头|分钟|天)"
)
_DURATION_EN = re.compile(
    rf"(?P<n>{_NUMBER}|an?|one|two|three|four|half(?:\s+an?)?)[-\s]*"
    r"(?P<unit>hours?|hrs?|h\b|minutes?|mins?|days?)",
    re.IGNORECASE,
)
_HALF_DAY = re.compile(r"半天|half[-\s](?:a\s+)?day", re.IGNORECASE)
_CLOCK_ZH = re.compile(
    rf"(?P<part>上午|早上|早晨|中午|下午|晚上|傍晚)?\s*(?P<h>\d{{1,2}}|{_CN_NUMBER})\s*"
    r"(?:[:：](?P<m>\d{2})|点(?:(?P<m2>\d{1,2})分?|(?P<half>半))?)"
)
_CLOCK_EN = re.compile(
    r"\b(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>a\.?m\.?|p\.?m\.?)|\b(?P<h24>\d{1,2}):(?P<m24>\d{2})\b",
    re.IGNORECASE,
)
_AFTERNOON = re.compile(r"下午|afternoon", re.IGNORECASE)
_EVENING = re.compile(r"晚上|晚会|晚宴|evening|night|dinner", re.IGNORECASE)
_EN_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4}


def _cn_number(text: str) -> float | None:
    """一 .. 九十九 and 半 (the forms briefs use for hours and headcounts)."""
    if not text or any(c not in _CN_DIGITS for c in text):
        return None
    if text == "半":
        return 0.5
    if "十" in text:
        tens, _, ones = text.partition("十")
        value = (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)
        return float(value)
    if len(text) == 1:
        return float(_CN_DIGITS[text])
    return None


def _number(text: str) -> float | None:
    text = text.strip()
    if re.fullmatch(_NUMBER, text):
        return float(text.replace(",", ""))
    return _cn_number(text)


@dataclass(frozen=True, slots=True)
class BriefFacts:
    """The figures a brief states; None where it states none."""

    text: str
    language: Language
    budget: Decimal | None = None
    currency: str = ""
    people: int | None = None
    duration_minutes: int | None = None
    start_minute: int | None = None
    """Minutes after midnight."""
    notes: tuple[str, ...] = field(default=())

    def facts_text(self) -> str:
        """The figures as lines for the prompt (the model must keep to them)."""
        zh = self.language == "zh"
        lines = []
        if self.budget is not None:
            amount = f"{self.currency}{self.budget:,.0f}"
            lines.append(f"总预算上限：{amount}" if zh else f"Total budget cap: {amount}")
        if self.people is not None:
            lines.append(f"人数：约 {self.people} 人" if zh else f"People: about {self.people}")
        if self.start_minute is not None:
            start = f"{self.start_minute // 60:02d}:{self.start_minute % 60:02d}"
            lines.append(f"开始时间：{start}" if zh else f"Starts at: {start}")
        if self.duration_minutes is not None:
            lines.append(
                f"总时长：{self.duration_minutes} 分钟"
                if zh
                else f"Length: {self.duration_minutes} minutes"
            )
        return "\n".join(lines)


SENTENCE_ENDS = "。；;.!！?？"


def first_clause(text: str, ends: str = SENTENCE_ENDS) -> str:
    """``text`` up to the first of ``ends`` (on one line): what a brief is about, for a title."""
    first = text.replace("\n", " ")
    for mark in ends:
        first = first.split(mark)[0]
    return first.strip()


def clean_brief(text: str, *, max_chars: int = MAX_BRIEF_CHARS) -> str:
    """The brief without control characters, its blank space tidied; empty or too long is a
    ``BriefError`` saying what is accepted."""
    cleaned = "".join(c if c in "\n\t" or unicodedata.category(c)[0] != "C" else " " for c in text)
    cleaned = "\n".join(" ".join(line.split()) for line in cleaned.strip().splitlines()).strip()
    if not cleaned:
        raise BriefError(
            "the brief is empty: say what the document is for, e.g. "
            "“12月18日下午2点在3楼大会议室办200人的年终总结会，预算5万”"
        )
    if len(cleaned) > max_chars:
        raise BriefError(f"the brief has {len(cleaned)} characters; at most {max_chars} are read")
    return cleaned


def _budget(text: str) -> tuple[Decimal | None, str]:
    match = _BUDGET_ZH.search(text)
    if match:
        value = _number(match["n"] or match["n2"])
        unit = (match["unit"] or match["unit2"] or "").lower()
        if value is not None:
            factor = {"万": 10_000, "w": 10_000, "千": 1_000, "k": 1_000}.get(unit, 1)
            return Decimal(str(value)) * factor, "¥"
    match = _BUDGET_EN.search(text)
    if match:
        value = _number(match["n"])
        unit = (match["unit"] or "").lower()
        if value is not None:
            factor = {"k": 1_000, "thousand": 1_000, "m": 1_000_000, "million": 1_000_000}.get(
                unit, 1
            )
            currency = {"usd": "$", "rmb": "¥", "cny": "¥", "eur": "€"}.get(
                (match["cur"] or "").lower(), match["cur"] or ""
            )
            return Decimal(str(value)) * factor, currency
    return None, ""


def _people(text: str) -> int | None:
    for match in _PEOPLE.finditer(text):
        value = _number(match["n"] or match["e"] or "")
        if value is not None and value >= 2:
            return int(value)
    return None


def _duration(text: str) -> int | None:
    if _HALF_DAY.search(text):
        return 210
    for match in _DURATION_ZH.finditer(text):
        value = _number(match["n"])
        if value is None:
            continue
        value += 0.5 if match["half"] else 0
        unit = match["unit"]
        minutes = value * 60 if unit in ("小时", "钟头") else value if unit == "分钟" else None
        if minutes is not None and 10 <= minutes <= 16 * 60:
            return int(minutes)
    for match in _DURATION_EN.finditer(text):
        word = match["n"].lower()
        value = 0.5 if word.startswith("half") else _EN_WORDS.get(word) or _number(word)
        if value is None:
            continue
        unit = match["unit"].lower()
        if unit.startswith("d"):
            continue
        minutes = value * 60 if unit.startswith("h") else value
        if 10 <= minutes <= 16 * 60:
            return int(minutes)
    return None


def _start(text: str) -> int | None:
    for match in _CLOCK_ZH.finditer(text):
        hour = _number(match["h"])
        if hour is None or not 0 <= hour <= 24:
            continue
        minute = int(match["m"] or match["m2"] or (30 if match["half"] else 0))
        part = match["part"] or ""
        hour = int(hour)
        if (part in ("下午", "晚上", "傍晚") and hour < 12) or (part == "中午" and hour < 6):
            hour += 12
        if minute < 60:
            return hour * 60 + minute
    for match in _CLOCK_EN.finditer(text):
        if match["h24"]:
            hour, minute = int(match["h24"]), int(match["m24"])
        else:
            hour, minute = int(match["h"]), int(match["m"] or 0)
            pm = match["ampm"].lower().startswith("p")
            hour = hour % 12 + (12 if pm else 0)
        if hour < 24 and minute < 60:
            return hour * 60 + minute
    return None


def read_brief(
    text: str, *, language: Language | None = None, max_chars: int = MAX_BRIEF_CHARS
) -> BriefFacts:
    """The brief's figures (see the module docstring); ``language`` forces zh or en."""
    cleaned = clean_brief(text, max_chars=max_chars)
    normalized = unicodedata.normalize("NFKC", cleaned)
    budget, currency = _budget(normalized)
    return BriefFacts(
        text=cleaned,
        language=language or detect_language(cleaned),
        budget=budget,
        currency=currency,
        people=_people(normalized),
        duration_minutes=_duration(normalized),
        start_minute=_start(normalized),
    )


def default_start(facts: BriefFacts) -> int:
    """Where an agenda starts when the brief names no time: 14:00 for an afternoon, 19:00 for
    an evening, else 09:30."""
    if facts.start_minute is not None:
        return facts.start_minute
    if _EVENING.search(facts.text):
        return 19 * 60
    if _AFTERNOON.search(facts.text):
        return 14 * 60
    return 9 * 60 + 30
