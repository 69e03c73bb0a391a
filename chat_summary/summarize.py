"""The summarizer: utterances -> minutes (summary, decisions, topics, keywords, open questions,
to-dos with owners and due dates), for meetings and chats alike.

How it works:

1. The utterances become numbered lines, "[n] speaker: text", so the model can cite lines.
   Lines that look like to-dos by pattern (a commitment, an assignment, an obligation) are
   named to the model as focus lines.
2. The model writes a bounded JSON draft (``grounding.MinutesDraft``) per part of the
   transcript: one part when it fits the context window, else consecutive runs of lines that
   do (line numbers stay global). Partial drafts are merged; partial summaries are joined, or
   merged by the model (``llm.longtext.map_reduce``) when they are long.
3. Code checks every point against the source (``grounding``): quotes are source sentences,
   owners are known people the sentence agrees with, due dates come from ``dates``, numbers
   and dates in the model's words occur in the source.
4. What the text states in so many words and no checked point covers is added by code: a
   commitment or assignment ("我会...", "张伟负责...", "I'll ...", "Carol, please ...") becomes
   a to-do, "我们决定..." / "we decided ..." a decision, "还不确定" / "still unclear" an open
   question. So recall of the points that matter most does not rest on a small model.

When the model is missing, fails or times out, ``extract.extractive_minutes`` answers instead:
minutes labelled ``method="extractive"``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date as Date
from typing import Literal, Protocol

from chat_summary.extract import (
    Line,
    action_strength,
    dedupe_todos,
    extractive_minutes,
    is_decision,
    is_open_point,
    is_question,
    known_names,
    number_lines,
    sentences,
    support,
    todo_from_line,
)
from chat_summary.grounding import (
    DecisionDraft,
    MinutesDraft,
    Source,
    TodoDraft,
    check_decision,
    check_keyword,
    check_question,
    check_summary,
    check_todo,
    check_topic,
)
from chat_summary.prompts import render
from chat_summary.types import Decision, Minutes, Todo, Topic, Utterance
from llm.errors import LLMError
from llm.longtext import map_reduce, safety_margin
from llm.prompts import detect_language
from llm.service import LLM
from llm.types import GenerationOptions, Message

log = logging.getLogger(__name__)

Kind = Literal["meeting", "chat"]
Progress = Callable[[str, float], None]
"""``progress(stage, percent)``; the summarizer reports the stage "summarize"."""

STAGE = "summarize"
MAX_OUTPUT_TOKENS = 900
"""The bound on one draft. The schema's bounds keep a draft within it in practice (a 0.5B
model writes 300-450 tokens for a 20-line meeting, indentation included)."""
MAX_SUMMARY_INPUT_CHARS = 900
"""Partial summaries shorter than this together are joined as they are; longer ones are
merged by the model (``llm.longtext.map_reduce``)."""
MAX_FOCUS_LINES = 12
MAX_PROMPT_NAMES = 30
MAX_KEYWORDS = 8
MAX_QUESTIONS = 5


def summarize(
    llm: LLM | None,
    utterances: Sequence[Utterance],
    *,
    language: str | None = None,
    reference_date: Date | None = None,
    participants: Sequence[str] = (),
    kind: Kind = "meeting",
    progress: Progress | None = None,
    chunk_tokens: int | None = None,
) -> Minutes:
    """Minutes of ``utterances``; synchronous, for a job thread.

    ``language`` ("zh" or "en") is detected from the text when None. Relative due dates
    resolve against each chat message's own date, else ``reference_date``, else today.
    ``participants`` (with every speaker) are the only people a to-do may be given to.
    ``chunk_tokens`` caps the transcript tokens of one request (default: what the context
    window leaves). ``llm=None`` gives extractive minutes at once.
    """
    lines = number_lines(utterances)
    lang = resolve_language(language, lines)
    reference = reference_date or Date.today()
    names = known_names(participants, lines)
    report = progress or _no_progress
    if not lines:
        return Minutes(language=lang, summary="", method="extractive")
    if llm is None:
        report(STAGE, 100.0)
        return extractive_minutes(lines, language=lang, names=names, reference=reference)
    source = Source(lines, names, reference)
    try:
        minutes = _with_model(llm, source, lang=lang, kind=kind, report=report, limit=chunk_tokens)
    except LLMError as exc:
        log.warning("the model could not summarize (%s): extractive minutes instead", exc)
        minutes = extractive_minutes(lines, language=lang, names=names, reference=reference)
    report(STAGE, 100.0)
    return minutes


def _no_progress(stage: str, percent: float) -> None:
    """Reports go nowhere."""


def resolve_language(language: str | None, lines: Sequence[Line]) -> Literal["zh", "en"]:
    """ "zh" or "en": the language asked for (zh-CN, cmn, en-US ...), else the lines'."""
    if language:
        code = language.lower().replace("_", "-").split("-")[0]
        if code in {"zh", "yue", "cmn", "wuu"}:
            return "zh"
        if code == "en":
            return "en"
    return detect_language(" ".join(line.text for line in lines[:200]))


# --- the model -----------------------------------------------------------------------------


def _focus(lines: Sequence[Line], source: Source) -> list[int]:
    """Line numbers that look like to-dos by pattern, strongest first, at most a dozen."""
    scored = [(action_strength(line.text, source.names), line.number) for line in lines]
    ranked = sorted((item for item in scored if item[0] > 0), key=lambda item: (-item[0], item[1]))
    return sorted(number for _, number in ranked[:MAX_FOCUS_LINES])


def _names(lines: Sequence[Line], source: Source) -> list[str]:
    """The people to name in the prompt: this part's speakers, then the other participants
    (a bounded list: a large group chat has hundreds of members)."""
    speakers = {line.speaker for line in lines}
    ordered = sorted(source.names, key=lambda name: name not in speakers)
    return ordered[:MAX_PROMPT_NAMES]


def _messages(
    lines: Sequence[Line], source: Source, *, lang: str, kind: Kind, part: int, parts: int
) -> list[Message]:
    return render(
        "minutes",
        lang,
        kind=kind,
        transcript="\n".join(line.rendered() for line in lines),
        names=_names(lines, source),
        focus=_focus(lines, source),
        part=part,
        parts=parts,
    )


def _chunks(
    llm: LLM, source: Source, *, lang: str, kind: Kind, limit: int | None
) -> list[list[Line]]:
    """The lines in consecutive runs that fit one request each."""
    lines = list(source.lines)
    whole = _messages(lines, source, lang=lang, kind=kind, part=1, parts=1)
    window = llm.context_window
    margin = safety_margin(window)
    if limit is None and llm.prompt_tokens(whole) + MAX_OUTPUT_TOKENS + margin <= window:
        return [lines]
    empty = _messages([], source, lang=lang, kind=kind, part=99, parts=99)
    # Focus lines and names are listed per part: reserve room for the longest such list.
    room = window - llm.prompt_tokens(empty) - MAX_OUTPUT_TOKENS - margin - 48
    budget = min(room, limit) if limit is not None else room
    if budget < 64:
        raise LLMError(
            f"the context window ({window} tokens) leaves no room for the transcript; "
            "raise OFFICEBOT_LLM__CONTEXT_TOKENS"
        )
    chunks: list[list[Line]] = []
    current: list[Line] = []
    used = 0
    for line in lines:
        tokens = llm.count_tokens(line.rendered()) + 1
        if current and used + tokens > budget:
            chunks.append(current)
            current, used = [], 0
        current.append(line)
        used += tokens
    if current:
        chunks.append(current)
    return chunks


def _with_model(
    llm: LLM, source: Source, *, lang: str, kind: Kind, report: Progress, limit: int | None
) -> Minutes:
    chunks = _chunks(llm, source, lang=lang, kind=kind, limit=limit)
    log.info("summarizing %d lines in %d part(s)", len(source.lines), len(chunks))
    options = GenerationOptions(max_tokens=MAX_OUTPUT_TOKENS, temperature=0.0)
    # Constrained decoding always yields valid JSON; it only fails when cut off at the token
    # bound, and asking again would be cut off the same way. Free text gets one retry.
    retries = 0 if llm.supports_json_schema else 1
    drafts: list[MinutesDraft] = []
    share = 90.0 / len(chunks)
    for part, chunk in enumerate(chunks, start=1):
        messages = _messages(chunk, source, lang=lang, kind=kind, part=part, parts=len(chunks))
        draft = llm.structured_sync(messages, MinutesDraft, options=options, retries=retries)
        log.debug("draft of part %d: %s", part, draft.model_dump_json())
        drafts.append(draft)
        report(STAGE, share * part)
    summary = merged_summary(llm, [d.summary for d in drafts], source, lang=lang)
    if not summary:
        log.info("the model's summary did not survive the checks: extracted sentences instead")
        summary = extractive_minutes(
            source.lines, language=lang, names=source.names, reference=source.reference
        ).summary
    return _checked(drafts, source, lang=lang, summary=summary)


def merged_summary(llm: LLM, partials: list[str], source: Source, *, lang: str) -> str:
    """One summary of the parts' summaries: the checked ones joined, or merged by the model
    when they are long together."""
    checked = [text for text in (check_summary(p, source) for p in partials) if text]
    if len(checked) <= 1:
        return checked[0] if checked else ""
    joiner = "" if lang == "zh" else " "
    joined = joiner.join(checked)
    if len(joined) <= MAX_SUMMARY_INPUT_CHARS:
        return joined
    merged = map_reduce(llm, "\n".join(checked), lang=lang, max_output_tokens=320)
    return check_summary(merged, source)


class ActionDrafts(Protocol):
    """The parts of a draft that ``checked_actions`` reads (meeting and chat drafts alike)."""

    todos: list[TodoDraft]
    decisions: list[DecisionDraft]
    open_questions: list[str]


@dataclass(frozen=True, slots=True)
class CheckedActions:
    """Decisions, open questions and to-dos that the source supports, each with its line."""

    decisions: list[tuple[int, Decision]]
    questions: list[tuple[int, str]]
    todos: list[tuple[int, Todo]]


def checked_actions(drafts: Sequence[ActionDrafts], source: Source) -> CheckedActions:
    """The drafts' decisions, open questions and to-dos checked against ``source``, plus the
    ones the text states in so many words that no checked point covers."""
    todos: list[tuple[int, Todo]] = []
    decisions: list[tuple[int, Decision]] = []
    questions: list[tuple[int, str]] = []
    for draft in drafts:
        todos += [t for t in (check_todo(d, source) for d in draft.todos) if t is not None]
        decisions += [d for d in (check_decision(x, source) for x in draft.decisions) if d]
        questions += [q for q in (check_question(x, source) for x in draft.open_questions) if q]
    decisions = [(n, d) for n, d in decisions if not is_question(d.quote)]
    decisions += _pattern_decisions(source, {number for number, _ in decisions})
    questions += _pattern_questions(source, [q for _, q in questions])
    found = len(todos)
    todos += _pattern_todos(source, {number for number, _ in todos})
    log.info("to-dos: %d from the model, %d more by pattern", found, len(todos) - found)
    unique_questions = list({q: (n, q) for n, q in reversed(questions)}.values())[::-1]
    return CheckedActions(
        decisions=_unique_decisions(decisions),
        questions=unique_questions,
        todos=dedupe_todos(todos, source.names),
    )


def _checked(drafts: Sequence[MinutesDraft], source: Source, *, lang: str, summary: str) -> Minutes:
    topics: list[tuple[int, int, Topic]] = []
    keywords: Counter[str] = Counter()
    for draft in drafts:
        topics += [t for t in (check_topic(x, source) for x in draft.topics) if t is not None]
        keywords.update(k for k in (check_keyword(x, source) for x in draft.keywords) if k)
    actions = checked_actions(drafts, source)
    return Minutes(
        language=lang,
        summary=summary,
        decisions=tuple(d for _, d in actions.decisions),
        topics=tuple(_merged_topics(topics)),
        keywords=tuple(k for k, _ in keywords.most_common(MAX_KEYWORDS)),
        todos=tuple(todo for _, todo in actions.todos),
        open_questions=tuple(q for _, q in actions.questions)[:MAX_QUESTIONS],
        method="model",
    )


def _pattern_todos(source: Source, cited: set[int]) -> list[tuple[int, Todo]]:
    found = []
    for line in source.lines:
        if line.number not in cited:
            todo = todo_from_line(line, source.names, source.reference)
            if todo is not None:
                found.append((line.number, todo))
    return found


def _pattern_decisions(source: Source, cited: set[int]) -> list[tuple[int, Decision]]:
    """Decisions stated in so many words ("我们决定...", "we agreed ...") that no checked
    decision cites."""
    found = []
    for line in source.lines:
        if line.number in cited:
            continue
        for sentence in sentences(line.text):
            if is_decision(sentence) and not is_question(sentence):
                found.append((line.number, Decision(text=sentence, quote=sentence, at=line.at)))
    return found


def _pattern_questions(source: Source, kept: Sequence[str]) -> list[tuple[int, str]]:
    """Open points stated in so many words that no checked question covers."""
    found: list[tuple[int, str]] = []
    for line in source.lines:
        for sentence in sentences(line.text):
            covered = any(support(q, sentence) >= 0.5 for q in [*kept, *(f for _, f in found)])
            if is_open_point(sentence) and not covered:
                found.append((line.number, sentence))
    return found


def _unique_decisions(
    decisions: Sequence[tuple[int, Decision]],
) -> list[tuple[int, Decision]]:
    seen: set[str] = set()
    unique = []
    for number, decision in sorted(decisions, key=lambda item: item[0]):
        if decision.quote not in seen:
            seen.add(decision.quote)
            unique.append((number, decision))
    return unique


def _merged_topics(topics: Sequence[tuple[int, int, Topic]]) -> list[Topic]:
    """Topics in order of their first line; one title seen twice (a topic that spans two
    parts) becomes one topic over both ranges."""
    merged: list[tuple[int, int, Topic]] = []
    for first, last, topic in sorted(topics, key=lambda item: (item[0], item[1])):
        same = next((i for i, m in enumerate(merged) if m[2].title == topic.title), None)
        if same is None:
            merged.append((first, last, topic))
            continue
        old_first, old_last, old = merged[same]
        if last > old_last:
            merged[same] = (old_first, last, old.model_copy(update={"end": topic.end}))
    return [topic for _, _, topic in merged]
