"""Summaries without the model: each topic's key points are the messages its other messages
echo most (TextRank), decisions, open questions and to-dos come from the patterns the model's
answers are checked with. Fast enough for 10,000 messages in well under two seconds, so it
serves very long windows and moments when the model is busy or missing; the result says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from chat_summary.conversation import Conversation
from chat_summary.extract import (
    Line,
    asks,
    best_sentence,
    is_decision,
    is_open_point,
    sentences,
    support,
)
from chat_summary.segment import Segment
from chat_summary.summarize import CheckedActions, checked_actions
from chat_summary.textrank import preselect, rank
from chat_summary.types import ChatSummary, ChatTopic, Decision, KeyPoint, OpenQuestion, Todo
from llm.guardrails import bound_text

MAX_TOPICS = 12
"""Topics shown; smaller ones beyond these are counted, not listed."""
MAX_POINT_CHARS = 140
MAX_DECISIONS = 12
MAX_QUESTIONS = 8
MAX_TODOS = 30
_TRIVIAL = frozenset("好的 好 嗯 收到 ok okay 谢谢 thanks +1 👍".split())  # noqa: SIM905


def point_count(messages: int) -> int:
    """Key points a topic of this many messages gets: one, two or three."""
    return 1 if messages <= 4 else 2 if messages <= 15 else 3


def shown_segments(conversation: Conversation) -> list[Segment]:
    """The topics to show: the largest MAX_TOPICS, in order of their first message."""
    largest = sorted(conversation.segments, key=lambda s: -len(s.members))[:MAX_TOPICS]
    return sorted(largest, key=lambda s: s.members[0])


def extractive_points(conversation: Conversation, seg: Segment, count: int) -> list[KeyPoint]:
    """The ``count`` most central messages of a topic as key points (no two alike), in order."""
    members = [i for i in seg.members if len(conversation.words[i]) >= 2] or list(seg.members)
    nodes = [frozenset(conversation.words[i]) for i in members]
    profile: dict[str, float] = {}
    for words in nodes:
        for word in words:
            profile[word] = profile.get(word, 0.0) + 1.0
    chosen_nodes = preselect(nodes, profile)
    scores = rank([nodes[k] for k in chosen_nodes])
    ranked = sorted(
        range(len(chosen_nodes)),
        key=lambda k: -scores[k] * math.log(2 + len(nodes[chosen_nodes[k]])),
    )
    picked: list[int] = []
    for k in ranked:
        words = nodes[chosen_nodes[k]]
        if any(_overlap(words, nodes[chosen_nodes[p]]) > 0.6 for p in picked):
            continue
        picked.append(k)
        if len(picked) == count:
            break
    points = []
    for k in sorted(picked, key=lambda k: chosen_nodes[k]):
        index = members[chosen_nodes[k]]
        points.append(point_from(conversation, index, " ".join(seg.keywords)))
    return points


def point_from(conversation: Conversation, index: int, claim: str) -> KeyPoint:
    """A key point quoting message ``index``: its sentence that best matches ``claim``."""
    message = conversation.messages[index]
    line = conversation.lines[index]
    quote = best_sentence(line.text, claim) if claim else line.text
    return KeyPoint(
        text=bound_text(" ".join(quote.split()), MAX_POINT_CHARS),
        by=line.speaker,
        time=message.time,
        message_id=message.id,
        quote=quote,
    )


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


_CALENDAR_WORDS = frozenset(
    """
    jan feb mar apr may jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri
    sat sun monday tuesday wednesday thursday friday saturday sunday eod eow asap
    """.split()  # noqa: SIM905 - a word list reads better as words
)


def _title_word(word: str) -> bool:
    if word.lower() in _TRIVIAL or word.lower() in _CALENDAR_WORDS:
        return False
    return not (word.isascii() and len(word) <= 3 and not word.isupper())


def keyword_title(seg: Segment, language: str) -> str:
    """A topic's title from its characteristic words ("发布、测试、安卓"); dates, weekdays and
    tiny English words name no topic."""
    words = [w for w in seg.keywords if _title_word(w)][:3]
    if not words:
        return "其他" if language == "zh" else "Other"
    return ("、" if language == "zh" else ", ").join(words)


def chat_actions(
    conversation: Conversation, actions: CheckedActions
) -> tuple[list[Decision], list[OpenQuestion], list[Todo]]:
    """Decisions, open questions and to-dos with who said them and when (from their lines).
    Questions nobody answered join the open questions."""
    lines = conversation.lines

    def said(number: int) -> dict[str, object]:
        line = lines[number - 1]
        return {"by": line.speaker, "time": line.time}

    # In a chat a decision is said in so many words ("就这么定了", "final: ..."), and an open
    # question is asked or called open: the model's other guesses do not count.
    decisions = [
        d.model_copy(update=said(n)) for n, d in actions.decisions if is_decision(d.quote)
    ][:MAX_DECISIONS]
    stated = [
        (n, q)
        for n, q in actions.questions
        if asks(lines[n - 1].text) or is_open_point(lines[n - 1].text)
    ]
    asked = [
        (n, q)
        for n, q in unanswered_questions(conversation)
        if not any(support(q, kept) >= 0.5 for _, kept in stated)
    ]
    decided = [line for line in lines if is_decision(line.text)]
    questions = [
        OpenQuestion(text=q, by=lines[n - 1].speaker, time=lines[n - 1].time)
        for n, q in sorted([*stated, *asked])
        if not _settled_later(decided, n, q)
    ][:MAX_QUESTIONS]
    todos = [t.model_copy(update=said(n)) for n, t in actions.todos][:MAX_TODOS]
    return decisions, questions, todos


_NON_ANSWER = re.compile(
    r"不知道|不清楚|不确定|也想问|同问|待确认|回头再说|再说吧|再看看|等吧|没消息|还没有?消息|暂时没有|"
    r"\b(?:not\s+sure|no\s+idea|good\s+q(?:uestion)?|don['’]t\s+know|dunno|idk|nothing\s+yet|"
    r"not\s+yet|no\s+news|no\s+update|still\s+waiting|same\s+q(?:uestion)?)\b",
    re.IGNORECASE,
)
_ANSWER_OPENER = re.compile(
    r"^\s*(?:要|不要|不用|可以|不行|行|对|不对|是的|不是|有|没有|会|不会|能|不能|好|ok|yes|yep|yeah|"
    r"no|nope|sure|correct|right|definitely|probably)(?:[\s，,。.!！:：]|$)",
    re.IGNORECASE,
)
QUICK_ANSWER_S = 600.0
ANSWER_WINDOW_S = 7200.0
ANSWER_LOOKAHEAD = 6
SHORT_ANSWER_CHARS = 30
MIN_QUESTION_CHARS = 8


def unanswered_questions(conversation: Conversation) -> list[tuple[int, str]]:
    """Questions (not requests) that got no answer: no reply to them and no statement from
    someone else soon after on the same topic (the next message within minutes, or a later
    one sharing its words; the very next message within minutes when it opens like an answer,
    "要换" or "yes"). "不知道" and "good question" answer nothing; a question asked
    about a question ("我也想问...") adds nothing to the first."""
    lines = conversation.lines
    messages = conversation.messages
    topic = {i: k for k, seg in enumerate(conversation.segments) for i in seg.members}
    replies: dict[str, list[int]] = {}
    for i, message in enumerate(messages):
        if message.reply_to:
            replies.setdefault(message.reply_to, []).append(i)
    joiner = "" if conversation.language == "zh" else " "

    def answers(j: int) -> bool:
        text = lines[j].text
        return not asks(text) and not _NON_ANSWER.search(text)

    def answered(i: int) -> bool:
        if any(answers(j) for j in replies.get(messages[i].id, ())):
            return True
        words = set(conversation.words[i])
        for j in range(i + 1, min(len(lines), i + 1 + ANSWER_LOOKAHEAD)):
            gap = (messages[j].time - messages[i].time).total_seconds()
            if gap > ANSWER_WINDOW_S:
                return False
            if topic.get(j) != topic.get(i) or lines[j].speaker == lines[i].speaker:
                continue
            quick = j == i + 1 and gap <= QUICK_ANSWER_S
            related = bool(words & set(conversation.words[j])) or (
                quick
                and (
                    bool(_ANSWER_OPENER.match(lines[j].text))
                    or len(lines[j].text) <= SHORT_ANSWER_CHARS
                )
            )
            if related and answers(j):
                return True
        return False

    found: list[tuple[int, str]] = []
    asking: set[str] = set()
    for i, line in enumerate(lines):
        questions = [s for s in sentences(line.text) if asks(s)]
        if not questions:
            continue
        if messages[i].reply_to in asking:
            continue
        asking.add(messages[i].id)
        question = joiner.join(questions)
        if len(question) >= MIN_QUESTION_CHARS and not answered(i):
            found.append((line.number, question))
    return found


def _settled_later(decided: Sequence[Line], number: int, question: str) -> bool:
    """Whether a later decision (``decided``: the lines that state one) settles the question:
    it shares most of its words."""
    return any(line.number > number and support(question, line.text) >= 0.5 for line in decided)


def summarize_extractive(conversation: Conversation, *, reason: str | None = None) -> ChatSummary:
    """The whole summary without the model."""
    topics: list[ChatTopic] = []
    for seg in shown_segments(conversation):
        frame = conversation.topic_frame(seg)
        topics.append(
            frame.model_copy(
                update={
                    "title": keyword_title(seg, conversation.language),
                    "points": tuple(
                        extractive_points(conversation, seg, point_count(frame.messages))
                    ),
                }
            )
        )
    decisions, questions, todos = chat_actions(
        conversation, checked_actions([], conversation.source)
    )
    return assemble(
        conversation,
        method="extractive",
        reason=reason,
        overview=overview_of(conversation, topics),
        topics=topics,
        decisions=decisions,
        questions=questions,
        todos=todos,
    )


def overview_of(conversation: Conversation, topics: Sequence[ChatTopic]) -> str:
    """One line on what was talked about, from the topics' titles."""
    if not topics:
        return ""
    titles = [t.title for t in sorted(topics, key=lambda t: -t.messages)[:4]]
    people = len(conversation.participants)
    count = len(conversation.messages)
    if conversation.language == "zh":
        return f"{people} 人发了 {count} 条消息，主要话题：" + "；".join(titles) + "。"
    return f"{people} people wrote {count} messages; main topics: " + "; ".join(titles) + "."


def assemble(
    conversation: Conversation,
    *,
    method: str,
    reason: str | None,
    overview: str,
    topics: Sequence[ChatTopic],
    decisions: Sequence[Decision],
    questions: Sequence[OpenQuestion],
    todos: Sequence[Todo],
) -> ChatSummary:
    messages = conversation.messages
    return ChatSummary(
        language=conversation.language,
        method="model" if method == "model" else "extractive",
        reason=reason,
        message_count=len(messages),
        start=messages[0].time if messages else None,
        end=messages[-1].time if messages else None,
        participants=tuple(conversation.participants),
        overview=overview,
        topics=tuple(topics),
        minor_topics=max(0, len(conversation.segments) - len(topics)),
        decisions=tuple(decisions),
        open_questions=tuple(questions),
        todos=tuple(todos),
        links=tuple(conversation.links),
        files=tuple(conversation.files),
    )
