"""The group-chat summarizer: messages -> key points by topic (with who raised them), decisions,
open questions, to-dos with owners and due dates, links and files.

1. The chat is prepared once (``conversation.prepare``): numbered lines, jieba words, topic
   threads, links and files.
2. The shared model reads the chat topic by topic, as many whole topics per request as fit its
   context window (a topic too long for one request is split; line numbers stay global), and
   writes a bounded JSON draft per request: per topic a title and one to three points citing
   lines, plus decisions, to-dos and open questions (map). The drafts are merged in code;
   partial overviews are joined or merged by the model (reduce).
3. Code checks every point against the chat: a point rests on a line of its own topic that
   supports it, and is credited to that line's sender; decisions, to-dos and questions go
   through the same checks and patterns as meeting minutes (``summarize.checked_actions``).
4. When the window is too long for the model's budget, the model is busy or missing, or it
   fails, the extractive path answers instead (``extractive``), labelled with the reason.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from typing import Annotated, Literal

from chat_summary.conversation import Conversation, prepare
from chat_summary.extract import Line, mentions, sentences, support
from chat_summary.extractive import (
    MAX_POINT_CHARS,
    assemble,
    chat_actions,
    extractive_points,
    keyword_title,
    overview_of,
    point_count,
    point_from,
    shown_segments,
    summarize_extractive,
)
from chat_summary.grounding import SUPPORT_THRESHOLD, Draft, max_chars, max_items
from chat_summary.keywords import content_words
from chat_summary.prompts import render
from chat_summary.segment import Segment
from chat_summary.summarize import checked_actions, merged_summary
from chat_summary.types import ChatMessage, ChatSummary, ChatTopic, KeyPoint
from llm.errors import (
    LLMError,
    LLMTimeoutError,
    ModelNotInstalledError,
    StructuredOutputError,
)
from llm.guardrails import bound_text, normalize
from llm.longtext import safety_margin
from llm.service import LLM
from llm.types import GenerationOptions, Message

log = logging.getLogger(__name__)

Mode = Literal["auto", "model", "extractive"]
Reason = Literal["requested", "too_long", "model_busy", "model_unavailable", "model_failed"]
Progress = Callable[[str, float], None]
STAGE = "summarize"

DEFAULT_BUDGET_TOKENS = 24_000
"""Beyond this many tokens of chat, ``auto`` summarizes extractively. bench/chat.py measured
the 1.5B model on two cores at 45 prompt tokens a second: 1,000 messages (20,000 tokens, four
requests) took ten minutes."""
DEFAULT_BUSY_QUEUE = 3
"""``auto`` does not queue behind this many waiting model requests."""
MAX_OUTPUT_TOKENS = 900
"""The bound on one draft. The schema's bounds keep a draft of five topics within it: the
1.5B model writes 400-700 tokens."""
MAX_TOPICS_PER_REQUEST = 5
POINT_TEXT_SUPPORT = 0.6
"""A point keeps the model's wording when this share of its terms is in the line it rests on;
otherwise it quotes the line (a small model's paraphrase drifts)."""
TITLE_SUPPORT = 0.5
TOPIC_SUPPORT = 0.7
"""A point drawn from several lines stands when this share of its terms is in its topic."""
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_JOINER = re.compile(r"\s*(?:[和与及、,，&]|and)\s*", re.IGNORECASE)
_ZH_SUBJECT_TAIL = re.compile(
    r"\s*(?:[和与及、,，]\s*(?P<group>团队|大家|其他人|各位|同事们?))?\s*"
)
_EN_SUBJECT_TAIL = re.compile(
    r"\s*(?:(?:,|and)\s*(?P<group>the\s+(?:team|others|group)|others|everyone))?\s*",
    re.IGNORECASE,
)


# --- the draft the model writes --------------------------------------------------------------


POINT_DRAFT_CHARS = 90
TITLE_DRAFT_CHARS = 28


class PointDraft(Draft):
    text: Annotated[str, max_chars(POINT_DRAFT_CHARS)]
    line: int


class ChatTopicDraft(Draft):
    topic: int
    title: Annotated[str, max_chars(TITLE_DRAFT_CHARS)]
    points: Annotated[list[PointDraft], max_items(2)]


class ChatDraft(Draft):
    """What the model answers for one request: an overview and, per topic shown, a title and
    key points. Decisions, to-dos and open questions are read by code (``checked_actions``):
    in every trial run the model found none that the patterns had not, and writing them cost a
    third of the output tokens."""

    overview: Annotated[str, max_chars(150)]
    topics: Annotated[list[ChatTopicDraft], max_items(MAX_TOPICS_PER_REQUEST)]


# --- entry point -----------------------------------------------------------------------------


def summarize_chat(
    llm: LLM | None,
    messages: Sequence[ChatMessage],
    *,
    language: str | None = None,
    participants: Sequence[str] = (),
    mode: Mode = "auto",
    budget_tokens: int = DEFAULT_BUDGET_TOKENS,
    busy_queue: int = DEFAULT_BUSY_QUEUE,
    progress: Progress | None = None,
    chunk_tokens: int | None = None,
) -> ChatSummary:
    """The summary of ``messages`` (timezone-aware times, in the timezone dates are read in);
    synchronous, for a job thread. ``participants`` join the senders as possible to-do owners.
    ``mode="model"`` uses the model whatever the length; ``"extractive"`` never does."""
    report = progress or _no_progress
    conversation = prepare(messages, language=language, participants=participants)
    if not conversation.lines:
        report(STAGE, 100.0)
        return summarize_extractive(conversation)
    reason = extractive_reason(llm, conversation, mode, budget_tokens, busy_queue)
    if reason is not None or llm is None:
        log.info("summarizing %d messages extractively (%s)", len(conversation.lines), reason)
        report(STAGE, 100.0)
        return summarize_extractive(conversation, reason=reason or "model_unavailable")
    try:
        summary = _with_model(llm, conversation, report, chunk_tokens)
    except LLMError as exc:
        log.warning("the model could not summarize the chat (%s): extractive instead", exc)
        missing = isinstance(exc, ModelNotInstalledError)
        summary = summarize_extractive(
            conversation, reason="model_unavailable" if missing else "model_failed"
        )
    report(STAGE, 100.0)
    return summary


def _no_progress(stage: str, percent: float) -> None:
    """Reports go nowhere."""


def rough_tokens(text: str) -> int:
    """About how many tokens ``text`` is for a Qwen-family model, without loading one: a
    Chinese character ~0.8, other characters ~0.3."""
    cjk = len(_CJK.findall(text))
    return math.ceil(cjk * 0.8 + (len(text) - cjk) * 0.3)


def extractive_reason(
    llm: LLM | None, conversation: Conversation, mode: Mode, budget: int, busy_queue: int
) -> Reason | None:
    """Why ``mode`` would summarize ``conversation`` without the model, or None."""
    if mode == "extractive":
        return "requested"
    if llm is None:
        return "model_unavailable"
    if mode == "model":
        return None
    tokens = sum(rough_tokens(line.rendered()) for line in conversation.lines)
    if tokens > budget:
        return "too_long"
    if llm.stats().queue_depth >= busy_queue:
        return "model_busy"
    return None


# --- the model -------------------------------------------------------------------------------


Part = tuple[int, list[int]]
"""A topic number (1-based, as shown to the model) and the indices of its lines in a request."""


def _header(number: int, count: int, language: str) -> str:
    if language == "zh":
        return f"话题 {number}（{count} 条）"
    return f"Topic {number} ({count} messages)"


def _messages(
    conversation: Conversation, parts: Sequence[Part], *, part: int, total: int
) -> list[Message]:
    lines = conversation.lines
    blocks = []
    for number, members in parts:
        body = "\n".join(lines[i].rendered() for i in members if _worth_reading(conversation, i))
        blocks.append(f"{_header(number, len(members), conversation.language)}\n{body}")
    return render(
        "chat",
        conversation.language,
        transcript="\n\n".join(blocks),
        part=part,
        parts=total,
    )


def _worth_reading(conversation: Conversation, index: int) -> bool:
    """Whether the model needs to read line ``index``: not an "ok", "收到" or emoji alone
    (they carry no point, and every line costs prompt time)."""
    return bool(conversation.words[index]) or len(conversation.lines[index].text) > 8


def _requests(
    llm: LLM, conversation: Conversation, topics: Sequence[Segment], limit: int | None
) -> list[list[Part]]:
    """The topics packed into requests that fit the context window: whole topics while they
    fit (at most MAX_TOPICS_PER_REQUEST each), a topic too long for one request in pieces."""
    window = llm.context_window
    empty = _messages(conversation, [], part=99, total=99)
    room = window - llm.prompt_tokens(empty) - MAX_OUTPUT_TOKENS - safety_margin(window) - 64
    budget = min(room, limit) if limit is not None else room
    if budget < 64:
        raise LLMError(
            f"the context window ({window} tokens) leaves no room for the chat; "
            "raise OFFICEBOT_LLM__CONTEXT_TOKENS"
        )
    cost = [
        llm.count_tokens(line.rendered()) + 1 if _worth_reading(conversation, i) else 0
        for i, line in enumerate(conversation.lines)
    ]
    header = 12
    requests: list[list[Part]] = []
    current: list[Part] = []
    used = 0

    def flush() -> None:
        nonlocal current, used
        if current:
            requests.append(current)
        current, used = [], 0

    for number, seg in enumerate(topics, start=1):
        whole = header + sum(cost[i] for i in seg.members)
        if current and (used + whole > budget or len(current) >= MAX_TOPICS_PER_REQUEST):
            flush()
        piece: list[int] = []
        piece_used = header
        for i in seg.members:
            if piece and used + piece_used + cost[i] > budget:
                current.append((number, piece))
                flush()
                piece, piece_used = [], header
            piece.append(i)
            piece_used += cost[i]
        current.append((number, piece))
        used += piece_used
    flush()
    return requests


def planned_requests(
    llm: LLM, conversation: Conversation, limit: int | None = None
) -> list[list[Message]]:
    """The prompts the model path sends for ``conversation`` (benchmarks time reading them)."""
    topics = shown_segments(conversation)
    requests = _requests(llm, conversation, topics, limit)
    return [
        _messages(conversation, parts, part=k, total=len(requests))
        for k, parts in enumerate(requests, start=1)
    ]


def _with_model(
    llm: LLM, conversation: Conversation, report: Progress, limit: int | None
) -> ChatSummary:
    topics = shown_segments(conversation)
    requests = _requests(llm, conversation, topics, limit)
    log.info(
        "summarizing %d messages in %d topic(s) with %d request(s)",
        len(conversation.lines),
        len(topics),
        len(requests),
    )
    options = GenerationOptions(max_tokens=MAX_OUTPUT_TOKENS, temperature=0.0)
    retries = 0 if llm.supports_json_schema else 1
    drafts: list[tuple[list[Part], ChatDraft]] = []
    share = 90.0 / len(requests)
    failure: LLMError | None = None
    for k, parts in enumerate(requests, start=1):
        messages = _messages(conversation, parts, part=k, total=len(requests))
        try:
            draft = llm.structured_sync(messages, ChatDraft, options=options, retries=retries)
        except (StructuredOutputError, LLMTimeoutError) as exc:
            # One unusable answer costs its topics their model points, not the whole summary;
            # after a timeout (an overloaded machine) the rest is not asked for either.
            log.warning("request %d of %d gave no usable draft: %s", k, len(requests), exc)
            failure = exc
            if isinstance(exc, LLMTimeoutError):
                break
        else:
            log.debug("chat draft %d: %s", k, draft.model_dump_json())
            drafts.append((parts, draft))
        report(STAGE, share * k)
    if not drafts and failure is not None:
        raise failure
    checked = _checked_topics(conversation, topics, drafts)
    overview = merged_summary(
        llm,
        [_without_people(d.overview, conversation) for _, d in drafts],
        conversation.source,
        lang=conversation.language,
    )
    actions = checked_actions([], conversation.source)
    decisions, questions, todos = chat_actions(conversation, actions)
    return assemble(
        conversation,
        method="model",
        reason=None,
        overview=overview or overview_of(conversation, checked),
        topics=checked,
        decisions=decisions,
        questions=questions,
        todos=todos,
    )


def _checked_topics(
    conversation: Conversation,
    topics: Sequence[Segment],
    drafts: Sequence[tuple[list[Part], ChatDraft]],
) -> list[ChatTopic]:
    """Each shown topic with the title and points the drafts give it, where the chat supports
    them; a topic the model gave nothing usable gets extractive points and a keyword title."""
    titles: dict[int, str] = {}
    points: dict[int, list[KeyPoint]] = {}
    for parts, draft in drafts:
        shown = dict(parts)
        for item in draft.topics:
            members = shown.get(item.topic)
            if members is None or not 1 <= item.topic <= len(topics):
                continue
            title = _checked_title(item.title, members, topics[item.topic - 1], conversation)
            if title and item.topic not in titles:
                titles[item.topic] = title
            for point in item.points:
                checked = _checked_point(point, members, conversation)
                if checked is not None:
                    points.setdefault(item.topic, []).append(checked)
    order = {m.id: i for i, m in enumerate(conversation.messages)}
    result = []
    for number, seg in enumerate(topics, start=1):
        frame = conversation.topic_frame(seg)
        found = _unique(points.get(number, []))[: max(point_count(frame.messages), 1)]
        if not found:
            found = extractive_points(conversation, seg, point_count(frame.messages))
        result.append(
            frame.model_copy(
                update={
                    "title": titles.get(number) or keyword_title(seg, conversation.language),
                    "points": tuple(sorted(found, key=lambda p: order.get(p.message_id or "", 0))),
                }
            )
        )
    return result


def _checked_title(
    title: str, members: Sequence[int], seg: Segment, conversation: Conversation
) -> str | None:
    """The model's title when the topic's messages bear it out: most of its terms occur in
    them, and one of its words is among the topic's characteristic words."""
    text = " ".join(title.split()).strip("：:。.")
    if not text or len(title) >= TITLE_DRAFT_CHARS - 1 or not conversation.source.grounded(text):
        return None
    body = "\n".join(conversation.lines[i].text for i in members)
    if support(text, body) < TITLE_SUPPORT:
        return None
    if not set(content_words(text)) & set(seg.keywords):
        return None
    return bound_text(text, 40)


def _checked_point(
    point: PointDraft, members: Sequence[int], conversation: Conversation
) -> KeyPoint | None:
    """The point tied to the line of its topic that supports it (the cited one, else the best
    one), credited to that line's sender; None when no line of the topic supports it."""
    text = " ".join(point.text.split())
    if not text:
        return None
    lines: list[Line] = [conversation.lines[i] for i in members]
    cited = next((line for line in lines if line.number == point.line), None)
    if cited is None or support(text, cited.text) < SUPPORT_THRESHOLD:
        scored = [(support(text, line.text), line.number) for line in lines]
        best = max(scored) if scored else (0.0, 0)
        # A point that sums up several lines rests on the topic as a whole, credited to the
        # line that carries most of it.
        summed = best[0] >= SUPPORT_THRESHOLD / 2 and (
            support(text, "\n".join(line.text for line in lines)) >= TOPIC_SUPPORT
        )
        if best[0] < SUPPORT_THRESHOLD and not summed:
            log.debug("dropped a point no line of its topic supports: %r", text)
            return None
        cited = next(line for line in lines if line.number == best[1])
    index = cited.number - 1
    own = point_from(conversation, index, text)
    # Who raised a point is the line's sender, credited by code; a small model's wording
    # ("王强和张伟讨论了...") credits people at random, so names are taken out of it.
    wording = _without_people(text, conversation)
    if (
        wording
        and conversation.source.grounded(wording)
        and (
            support(wording, cited.text) >= POINT_TEXT_SUPPORT
            or support(wording, "\n".join(line.text for line in lines)) >= TOPIC_SUPPORT
        )
    ):
        text = wording
        own = own.model_copy(update={"text": bound_text(text, MAX_POINT_CHARS)})
    return own


def _without_people(text: str, conversation: Conversation) -> str:
    """``text`` without naming people: a sentence's leading subject of names ("王强和团队讨论
    了...", "Priya and Tom discussed ...") becomes "讨论了..." / "The team discussed ...", and a
    sentence that still names someone goes. The overview says what was discussed; who said
    what is credited by code, from the lines."""
    kept = []
    for sentence in sentences(text):
        plain = _unnamed_subject(sentence, conversation)
        if plain and not mentions(plain, conversation.names):
            kept.append(plain)
    return ("" if conversation.language == "zh" else " ").join(kept)


def _unnamed_subject(sentence: str, conversation: Conversation) -> str:
    """The sentence without a leading subject of several people or "X和团队" ("王强和张伟讨论
    了..." -> "讨论了..."); "" when its subject is one person (who may not be the one)."""
    found = mentions(sentence, conversation.names)
    if not found or found[0][0] > 1:
        return sentence
    folded = normalize(sentence)
    end, people = 0, 0
    for start, stop, _ in found:
        if people and _JOINER.fullmatch(folded[end:start]) is None:
            break
        end, people = stop, people + 1
    tail = _ZH_SUBJECT_TAIL if conversation.language == "zh" else _EN_SUBJECT_TAIL
    group = tail.match(sentence, end)
    if people < 2 and not (group and group.group("group")):
        return ""
    rest = sentence[group.end() if group else end :].strip()
    if not rest:
        return ""
    return rest if conversation.language == "zh" else f"The team {rest}"


def _unique(points: Sequence[KeyPoint]) -> list[KeyPoint]:
    kept: list[KeyPoint] = []
    for point in points:
        if not any(
            max(support(point.text, k.text), support(k.text, point.text)) >= 0.6 for k in kept
        ):
            kept.append(point)
    return kept
