"""Checking the model's draft against the source, point by point.

A small model cites wrong lines, invents owners and misreads dates (MODELS.md), so nothing it
says reaches the minutes unchecked:

- every to-do and decision is tied to a source line that supports it (the cited one, or the
  best-matching one when the citation is off; dropped when no line supports it); its quote is
  that line's sentence, verbatim, and ``at`` that line's time;
- an owner is a known person the sentence agrees with (``extract.owner_of``), never a name
  from nowhere;
- a due date is resolved here, by ``dates``, from an expression in the quoted sentence;
- numbers and dates the model wrote must occur in the source (``llm.guardrails.Grounding``);
- topics get their time range from their first and last lines.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import date as Date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from chat_summary.extract import (
    MAX_TASK_CHARS,
    Line,
    action_strength,
    best_sentence,
    due_in,
    first_person_commitment,
    is_decision,
    is_question,
    owner_of,
    sentences,
    support,
    task_from_sentence,
)
from chat_summary.types import Decision, Todo, Topic
from llm.guardrails import Grounding, bound_text, normalize

log = logging.getLogger(__name__)

SUPPORT_THRESHOLD = 0.34
"""A claim is supported by a line when at least this share of its terms occur in the line."""
MAX_SUMMARY_CHARS = 600
MAX_DECISION_CHARS = 160
MAX_TITLE_CHARS = 40
MAX_KEYWORD_CHARS = 24
MAX_QUESTION_CHARS = 160


# --- the draft the model writes (bounded: every list and string has a maximum) ---------------


def max_items(count: int) -> Any:
    """A list bound the schema sent to the model carries (validation stays lenient)."""
    return Field(json_schema_extra={"maxItems": count})


def max_chars(count: int) -> Any:
    """A string bound the schema sent to the model carries (a long string is cut later)."""
    return Field(json_schema_extra={"maxLength": count})


class Draft(BaseModel):
    """Base of what the model writes: unknown fields are ignored, not refused."""

    model_config = ConfigDict(extra="ignore")


class TodoDraft(Draft):
    owner: Annotated[str, max_chars(16)]
    task: Annotated[str, max_chars(60)]
    due: Annotated[str, max_chars(20)]
    line: int


class DecisionDraft(Draft):
    text: Annotated[str, max_chars(60)]
    line: int


class TopicDraft(Draft):
    title: Annotated[str, max_chars(20)]
    first_line: int
    last_line: int


class MinutesDraft(Draft):
    """What the model answers for one part of the transcript. Validation is lenient (a long
    string is cut later, not refused); the schema sent to the model carries the bounds, kept
    small because every token of output costs (a 0.5B model writes ~20 tokens a second)."""

    summary: Annotated[str, max_chars(160)]
    topics: Annotated[list[TopicDraft], max_items(4)]
    decisions: Annotated[list[DecisionDraft], max_items(3)]
    todos: Annotated[list[TodoDraft], max_items(5)]
    open_questions: Annotated[list[Annotated[str, max_chars(60)]], max_items(2)]
    keywords: Annotated[list[Annotated[str, max_chars(12)]], max_items(5)]


# --- checking ------------------------------------------------------------------------------


_COMPLETE_END = re.compile(r"[。！？.!?…）)”\"」』]\s*$")


def _complete(text: str) -> str:
    """``text`` without a trailing unfinished sentence, when a finished one comes before it."""
    if not text or _COMPLETE_END.search(text):
        return text
    parts = sentences(text)
    if len(parts) > 1:
        return text[: text.rfind(parts[-1])].rstrip()
    return text


class Source:
    """The conversation a draft is checked against."""

    def __init__(self, lines: Sequence[Line], names: Sequence[str], reference: Date) -> None:
        self.lines = lines
        self.names = names
        self.reference = reference
        self._grounding: Grounding | None = None
        self._folded = normalize("\n".join(f"{line.speaker} {line.text}" for line in lines))

    def contains(self, term: str) -> bool:
        folded = normalize(term)
        return bool(folded) and folded in self._folded

    def line(self, number: int) -> Line | None:
        return self.lines[number - 1] if 1 <= number <= len(self.lines) else None

    def supporting_line(self, claim: str, cited: int) -> Line | None:
        """The cited line when it supports ``claim``, else the line that supports it best
        (the nearest to the cited one among equals), else None."""
        line = self.line(cited)
        if line is not None and support(claim, line.text) >= SUPPORT_THRESHOLD:
            return line
        scored = [
            (support(claim, candidate.text), -abs(candidate.number - cited), candidate.number)
            for candidate in self.lines
        ]
        if not scored:
            return None
        best = max(scored)
        return self.lines[best[2] - 1] if best[0] >= SUPPORT_THRESHOLD else None

    def grounded(self, text: str) -> bool:
        """No number or explicit date in ``text`` that the source lacks."""
        if self._grounding is None:  # built on first use: the extractive path never needs it
            self._grounding = Grounding("\n".join(line.text for line in self.lines))
        return self._grounding.check(text).ok


def check_todo(draft: TodoDraft, source: Source) -> tuple[int, Todo] | None:
    """The to-do as the source supports it, with its line number, or None."""
    claim = f"{draft.task} {draft.due}".strip()
    line = source.supporting_line(claim, draft.line)
    if line is None:
        log.debug("dropped a to-do no line supports: %r (cited line %d)", draft.task, draft.line)
        return None
    day = line.reference(source.reference)
    said = draft.due.strip() or None
    quote = best_sentence(line.text, claim, prefer=said)
    if action_strength(quote, source.names) == 0:
        # The cited sentence commits nobody to anything: try the line's other sentences.
        acting = [s for s in sentences(line.text) if action_strength(s, source.names)]
        if not acting:
            log.debug("dropped a to-do from a line with no action in it: %r", line.text)
            return None
        quote = max(acting, key=lambda s: support(claim, s))
    owner = owner_of(line, quote, source.names, draft.owner.strip() or None)
    if owner is None and is_decision(quote):
        log.debug("dropped a to-do that is a decision with nobody to do it: %r", quote)
        return None
    due = due_in(quote, day, said)
    task = " ".join(draft.task.split())
    if not task or not source.grounded(task) or support(task, quote) < SUPPORT_THRESHOLD:
        task = task_from_sentence(quote)
    return line.number, Todo(
        owner=owner,
        task=bound_text(task, MAX_TASK_CHARS),
        due=due.date if due else None,
        due_text=due.text if due else None,
        quote=quote,
        at=line.at,
    )


def check_decision(draft: DecisionDraft, source: Source) -> tuple[int, Decision] | None:
    """The decision tied to the line that supports it, or None. A question is no decision,
    and neither is a personal commitment ("我会...", "I'll ...": a to-do) unless it says so."""
    text = " ".join(draft.text.split())
    line = source.supporting_line(text, draft.line) if text else None
    if line is None:
        return None
    quote = best_sentence(line.text, text)
    if is_question(quote) or (first_person_commitment(quote) and not is_decision(quote)):
        return None
    if not source.grounded(text) or support(text, quote) < SUPPORT_THRESHOLD:
        text = quote
    return line.number, Decision(text=bound_text(text, MAX_DECISION_CHARS), quote=quote, at=line.at)


def check_topic(draft: TopicDraft, source: Source) -> tuple[int, int, Topic] | None:
    """The topic with the first and last line numbers it spans.

    The cited range stands when some line in it supports the title; otherwise the range runs
    from the first to the last line that supports the title (small models cite line numbers
    past the end); a topic that no line supports and whose range is impossible is dropped.
    """
    title = " ".join(draft.title.split()).strip("：:。.")
    count = len(source.lines)
    if not title or not source.grounded(title) or not count:
        return None
    first, last = sorted((draft.first_line, draft.last_line))
    valid = 1 <= first <= last <= count
    inside = source.lines[first - 1 : last] if valid else []
    if not any(support(title, line.text) >= SUPPORT_THRESHOLD for line in inside):
        backing = [
            line.number for line in source.lines if support(title, line.text) >= SUPPORT_THRESHOLD
        ]
        if backing:
            first, last = backing[0], backing[-1]
        elif not valid:
            log.debug("dropped a topic no line supports: %r", title)
            return None
    start, end = source.lines[first - 1], source.lines[last - 1]
    return (
        first,
        last,
        Topic(
            title=bound_text(title, MAX_TITLE_CHARS),
            start=start.at,
            end=end.end if end.end is not None else end.at,
        ),
    )


def check_keyword(keyword: str, source: Source) -> str | None:
    word = " ".join(keyword.split()).strip("#，,。.")
    if not word or len(word) > MAX_KEYWORD_CHARS or not source.contains(word):
        return None
    return word


def check_question(question: str, source: Source) -> tuple[int, str] | None:
    """The open question with the line that supports it, or None."""
    text = " ".join(question.split())
    if not text or not source.grounded(text):
        return None
    line = source.supporting_line(text, 0)
    if line is None:
        return None
    return line.number, bound_text(text, MAX_QUESTION_CHARS)


def check_summary(summary: str, source: Source) -> str:
    """``summary`` without the sentences that state numbers or dates the source lacks, and
    without a last sentence the output bound cut off."""
    text = _complete(summary.strip())
    if not text or source.grounded(text):
        return bound_text(text, MAX_SUMMARY_CHARS)
    kept = [s for s in sentences(text) if source.grounded(s)]
    log.info(
        "summary: dropped %d sentence(s) with unsupported numbers or dates",
        len(sentences(text)) - len(kept),
    )
    joiner = "" if re.search(r"[\u4e00-\u9fff]", text) else " "
    return bound_text(joiner.join(kept), MAX_SUMMARY_CHARS)
