"""Every number a document shows is computed here, never generated: agenda clock times that add
up to the meeting's length, budget amounts and totals that add up (within the brief's cap),
and a workflow's total time limit.

A small model suggests minutes per topic, quantities and unit prices; it cannot add. So the
model's figures are inputs, and what the reader checks (the times, the sums) comes out of code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

AGENDA_STEP_MINUTES = 5
MIN_TOPIC_MINUTES = 5


@dataclass(frozen=True, slots=True)
class AgendaSlot:
    topic: str
    owner: str
    start_minute: int
    """Minutes after midnight."""
    minutes: int

    @property
    def end_minute(self) -> int:
        return self.start_minute + self.minutes

    @property
    def start(self) -> str:
        return clock(self.start_minute)

    @property
    def end(self) -> str:
        return clock(self.end_minute)


def clock(minute_of_day: int) -> str:
    """``HH:MM`` (a time past midnight shows as +1 day's hours, e.g. 25:30 -> 01:30)."""
    minute_of_day %= 24 * 60
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


def fit_minutes(wanted: Sequence[int], total: int | None) -> list[int]:
    """Each topic's minutes, in steps of five, at least five each, adding up to ``total``
    (when given) in proportion to what was wanted; the largest topics absorb the rounding."""
    base = [
        max(MIN_TOPIC_MINUTES, round(m / AGENDA_STEP_MINUTES) * AGENDA_STEP_MINUTES) for m in wanted
    ]
    if total is None or not base:
        return base
    step = AGENDA_STEP_MINUTES
    slots = max(total // step, len(base))  # every topic gets at least one step
    weights = [m / sum(base) for m in base]
    shares = [max(1, math.floor(w * slots)) for w in weights]
    # hand out (or take back) the remaining steps by the largest fractional share
    order = sorted(range(len(base)), key=lambda i: weights[i] * slots - shares[i], reverse=True)
    index = 0
    while sum(shares) < slots:
        shares[order[index % len(order)]] += 1
        index += 1
    by_size = sorted(range(len(base)), key=lambda i: shares[i], reverse=True)
    index = 0
    while sum(shares) > slots and any(s > 1 for s in shares):
        candidate = by_size[index % len(by_size)]
        if shares[candidate] > 1:
            shares[candidate] -= 1
        index += 1
    minutes = [s * step for s in shares]
    remainder = total - sum(minutes)  # total not a multiple of five: the longest topic takes it
    if remainder > 0:
        minutes[by_size[0]] += remainder
    return minutes


def schedule_agenda(
    items: Sequence[tuple[str, str, int]], *, start_minute: int, total_minutes: int | None
) -> list[AgendaSlot]:
    """(topic, owner, wanted minutes) as consecutive slots from ``start_minute``."""
    minutes = fit_minutes([m for _, _, m in items], total_minutes)
    slots = []
    at = start_minute
    for (topic, owner, _), length in zip(items, minutes, strict=True):
        slots.append(AgendaSlot(topic, owner, at, length))
        at += length
    return slots


@dataclass(frozen=True, slots=True)
class BudgetLine:
    item: str
    quantity: int
    unit_price: Decimal
    note: str

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price


@dataclass(frozen=True, slots=True)
class Budget:
    lines: tuple[BudgetLine, ...]
    cap: Decimal | None
    scaled: bool
    """Unit prices were scaled down so the total fits the brief's cap."""

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def remaining(self) -> Decimal | None:
        return None if self.cap is None else self.cap - self.total


def money(value: float | Decimal) -> Decimal:
    """A price to the cent (half up), never negative."""
    return max(Decimal(0), Decimal(str(value)).quantize(Decimal("0.01"), ROUND_HALF_UP))


def plan_budget(items: Sequence[tuple[str, int, float, str]], cap: Decimal | None) -> Budget:
    """Budget lines from (item, quantity, unit price, note); when the model's figures come to
    more than ``cap``, every unit price is scaled down by one factor (rounded down to the yuan
    or dollar, so the total stays within the cap)."""
    lines = tuple(
        BudgetLine(item, max(1, quantity), money(price), note)
        for item, quantity, price, note in items
    )
    total = sum((line.amount for line in lines), Decimal(0))
    if cap is None or total <= cap or total == 0:
        return Budget(lines, cap, scaled=False)
    factor = cap / total
    scaled = tuple(
        BudgetLine(
            line.item,
            line.quantity,
            (line.unit_price * factor).quantize(Decimal("1"), rounding="ROUND_FLOOR"),
            line.note,
        )
        for line in lines
    )
    return Budget(scaled, cap, scaled=True)


def format_money(value: Decimal) -> str:
    """``12,345`` or ``12,345.50``: cents only when there are any."""
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def total_hours(hours: Sequence[float | None]) -> float:
    return float(sum(h for h in hours if h))


def format_hours(hours: float, language: str) -> str:
    """``36 小时（1.5 个工作日）`` style: hours, and working days of eight hours past a day."""
    shown = f"{hours:g}"
    if language == "zh":
        text = f"{shown} 小时"
        return text + (f"（约 {hours / 8:.1f} 个工作日）" if hours > 8 else "")
    text = f"{shown} h"
    return text + (f" (about {hours / 8:.1f} working days)" if hours > 8 else "")
