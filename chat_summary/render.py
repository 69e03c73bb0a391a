"""A chat summary as people read it: Markdown sized for a DingTalk message, the whole summary
as a Markdown document (linked when the message would be too long), and JSON.

Everything that came from the chat or the model is escaped (it renders as the words people
wrote, never as markup or a link they did not share); owners known to DingTalk are
@-mentioned by user id, as DingTalk requires (``@userId`` in the text plus ``atUserIds``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chat_summary.markdown import (
    bold,
    cut_to_fit,
    escaped,
    one_line,
    owner_markdown,
    safe_link,
    usable_ids,
)
from chat_summary.types import ChatSummary, ChatTopic, Todo
from llm.guardrails import bound_text, escape_markdown, neutralize_commands

CHAT_MAX_CHARS = 3500
"""DingTalk shows longer markdown messages cut; a summary longer than this links its document."""
TITLE_MAX_CHARS = 128

_TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "群聊总结",
        "window": "范围",
        "messages": "{count} 条消息 · {people} 人",
        "overview": "概要",
        "points": "要点",
        "decisions": "决定",
        "todos": "待办",
        "questions": "待解决的问题",
        "shared": "链接与文件",
        "by": "——{name}",
        "topic_meta": "（{people} · {count} 条）",
        "due": "截止 {date}",
        "more": "……另有 {count} 项",
        "minor_topics": "另有 {count} 个较小的话题未列出。",
        "full": "完整总结",
        "none": "这段时间没有可总结的消息。",
        "extractive": "提示：这是抽取式总结（{why}），要点直接摘自原消息。",
        "requested": "按要求未使用模型",
        "too_long": "消息较多，为了快速给出结果未使用模型",
        "model_busy": "模型正忙",
        "model_unavailable": "模型不可用",
        "model_failed": "模型出错",
        "separator": "、",
        "colon": "：",
        "aside": "（{text}）",
        "file": "文件",
    },
    "en": {
        "title": "Chat summary",
        "window": "Window",
        "messages": "{count} messages · {people} people",
        "overview": "Overview",
        "points": "Key points",
        "decisions": "Decisions",
        "todos": "To-dos",
        "questions": "Open questions",
        "shared": "Links and files",
        "by": " — {name}",
        "topic_meta": " ({people} · {count} messages)",
        "due": "due {date}",
        "more": "…and {count} more",
        "minor_topics": "{count} smaller topics are not listed.",
        "full": "Full summary",
        "none": "There were no messages to summarize in this window.",
        "extractive": "Note: an extractive summary ({why}); its points are quoted from the chat.",
        "requested": "the model was not asked for",
        "too_long": "many messages, so no model, to answer fast",
        "model_busy": "the model is busy",
        "model_unavailable": "the model is not available",
        "model_failed": "the model failed",
        "separator": ", ",
        "colon": ": ",
        "aside": " ({text})",
        "file": "file",
    },
}


def _texts(language: str) -> dict[str, str]:
    return _TEXTS["zh" if language.lower().startswith("zh") else "en"]


@dataclass(frozen=True, slots=True)
class SummaryMessage:
    """The group message: title, Markdown text, the user ids it @-mentions, and whether it
    is shortened (and so needs the link to the whole document)."""

    title: str
    text: str
    at_user_ids: tuple[str, ...] = ()
    shortened: bool = False


@dataclass(frozen=True, slots=True)
class _Shown:
    """How much of each part a rendering shows (None: all)."""

    points: int | None = None
    decisions: int | None = None
    todos: int | None = None
    questions: int | None = None
    shared: int | None = None
    item_chars: int = 200


def _date(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def _due(todo: Todo, texts: Mapping[str, str]) -> str:
    if todo.due is not None:
        return texts["due"].format(date=todo.due.isoformat())
    return escaped(todo.due_text or "", 40)


def _name(name: str | None) -> str:
    return escaped(name or "?", 40)


def _limited(items: Sequence[str], shown: int | None, texts: Mapping[str, str]) -> list[str]:
    kept = list(items if shown is None else items[:shown])
    if len(items) > len(kept):
        kept.append(texts["more"].format(count=len(items) - len(kept)))
    return kept


def _numbered(items: Iterable[str]) -> str:
    return "\n".join(f"{n}. {item}" for n, item in enumerate(items, start=1))


def _topic_block(topic: ChatTopic, number: int, shown: _Shown, texts: Mapping[str, str]) -> str:
    people = texts["separator"].join(_name(p) for p in topic.participants[:3])
    head = bold(f"{number}. {escaped(topic.title, 40)}") + texts["topic_meta"].format(
        people=people, count=topic.messages
    )
    points = topic.points if shown.points is None else topic.points[: shown.points]
    lines = [
        f"- {escaped(p.text, shown.item_chars)}{texts['by'].format(name=_name(p.by))}"
        for p in points
    ]
    return "\n".join([head, *lines])


def _render(
    summary: ChatSummary,
    heading: str,
    window: str,
    mention_ids: Mapping[str, str],
    shown: _Shown,
    link: str,
) -> tuple[str, list[str]]:
    texts = _texts(summary.language)
    blocks = [f"### {heading}"]
    meta = texts["messages"].format(count=summary.message_count, people=len(summary.participants))
    blocks.append(f"{bold(texts['window'])}{texts['colon']}{escape_markdown(window)} · {meta}")
    if summary.message_count == 0:
        blocks.append(texts["none"])
        return "\n\n".join(blocks), []
    if summary.method == "extractive":
        why = texts.get(summary.reason or "model_unavailable", texts["model_unavailable"])
        blocks.append("> " + texts["extractive"].format(why=why))
    if summary.overview.strip():
        blocks += [f"#### {texts['overview']}", escaped(summary.overview, 600)]
    if summary.topics:
        blocks.append(f"#### {texts['points']}")
        blocks += [
            _topic_block(topic, n, shown, texts) for n, topic in enumerate(summary.topics, 1)
        ]
        if summary.minor_topics:
            blocks.append(texts["minor_topics"].format(count=summary.minor_topics))
    if summary.decisions:
        items = [
            f"{escaped(d.text, shown.item_chars)}{texts['by'].format(name=_name(d.by))}"
            for d in summary.decisions
        ]
        blocks += [f"#### {texts['decisions']}", _numbered(_limited(items, shown.decisions, texts))]
    mentioned: list[str] = []
    if summary.todos:
        items = []
        for todo in summary.todos[: shown.todos]:
            owner, ids = owner_markdown(todo.owner, mention_ids)
            mentioned += ids
            item = escaped(todo.task, shown.item_chars)
            if owner:
                item = f"{owner}{texts['colon']}{item}"
            due = _due(todo, texts)
            if due:
                item += texts["aside"].format(text=due)
            items.append(item)
        hidden = len(summary.todos) - len(items)
        if hidden:
            items.append(texts["more"].format(count=hidden))
        blocks += [f"#### {texts['todos']}", _numbered(items)]
    if summary.open_questions:
        items = [
            f"{escaped(q.text, shown.item_chars)}{texts['by'].format(name=_name(q.by))}"
            for q in summary.open_questions
        ]
        blocks += [f"#### {texts['questions']}", _numbered(_limited(items, shown.questions, texts))]
    shared = [
        f"[{escaped(bound_text(item.value, 80))}]({safe_link(item.value)})"
        f"{texts['by'].format(name=_name(item.by))}"
        for item in summary.links
        if _linkable(item.value)
    ] + [
        f"{texts['file']}{texts['colon']}{escaped(item.value, 100)}"
        f"{texts['by'].format(name=_name(item.by))}"
        for item in summary.files
    ]
    if shared:
        blocks += [
            f"#### {texts['shared']}",
            "\n".join(f"- {s}" for s in _limited(shared, shown.shared, texts)),
        ]
    if link:
        blocks.append(link)
    return neutralize_commands("\n\n".join(blocks)), mentioned


def _linkable(url: str) -> bool:
    try:
        safe_link(url)
    except ValueError:
        return False
    return True


def _shrinking() -> Iterable[_Shown]:
    """Ever shorter renderings, gentlest first; to-dos (they carry the @-mentions) go last."""
    yield _Shown()
    yield _Shown(points=2, shared=5, item_chars=160)
    yield _Shown(points=1, decisions=5, questions=3, shared=3, item_chars=120)
    yield _Shown(points=1, decisions=3, todos=12, questions=2, shared=0, item_chars=100)
    yield _Shown(points=0, decisions=2, todos=8, questions=0, shared=0, item_chars=80)
    yield _Shown(points=0, decisions=0, todos=5, questions=0, shared=0, item_chars=60)


def summary_title(summary: ChatSummary, conversation_title: str | None) -> str:
    texts = _texts(summary.language)
    name = one_line(conversation_title or "")
    return bound_text(f"{texts['title']} · {name}" if name else texts["title"], TITLE_MAX_CHARS)


def chat_message(
    summary: ChatSummary,
    *,
    window: str,
    conversation_title: str | None = None,
    mention_ids: Mapping[str, str] | None = None,
    document_url: str | None = None,
    max_chars: int = CHAT_MAX_CHARS,
) -> SummaryMessage:
    """The summary as one DingTalk markdown message of at most ``max_chars`` characters.

    When the whole summary does not fit, the message shows less (fewer points, shorter lists)
    and, given ``document_url``, links the whole document. ``mention_ids`` maps names to
    DingTalk user ids: those owners are @-mentioned.
    """
    title = summary_title(summary, conversation_title)
    heading = escape_markdown(title)
    ids = usable_ids(mention_ids or {})
    texts = _texts(summary.language)
    link = f"[{texts['full']}]({safe_link(document_url)})" if document_url else ""
    text, mentioned = _render(summary, heading, window, ids, _Shown(), "")
    shortened = len(text) > max_chars
    if shortened:
        for shown in _shrinking():
            text, mentioned = _render(summary, heading, window, ids, shown, link)
            if len(text) <= max_chars:
                break
        text = cut_to_fit(text, link, max_chars)
    present = [uid for uid in dict.fromkeys(mentioned) if f"@{uid}" in text]
    return SummaryMessage(title=title, text=text, at_user_ids=tuple(present), shortened=shortened)


def markdown_document(
    summary: ChatSummary, *, window: str, conversation_title: str | None = None
) -> str:
    """The whole summary as a Markdown document (every topic, point, list and link)."""
    title = escape_markdown(summary_title(summary, conversation_title))
    text, _ = _render(summary, title, window, {}, _Shown(item_chars=600), "")
    return text.replace("### ", "# ", 1) + "\n"


def summary_json(summary: ChatSummary, *, window: str | None = None) -> dict[str, Any]:
    """The summary as JSON: ``key_points``, ``decisions``, ``open_questions`` and
    ``todos: [{owner, task, due}]``, plus topics, links, files and how it was made."""

    def when(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "language": summary.language,
        "method": summary.method,
        "reason": summary.reason,
        "window": window,
        "messages": summary.message_count,
        "start": when(summary.start),
        "end": when(summary.end),
        "participants": list(summary.participants),
        "overview": summary.overview,
        "topics": [
            {
                "title": t.title,
                "messages": t.messages,
                "participants": list(t.participants),
                "start": when(t.start),
                "end": when(t.end),
                "points": [
                    {"text": p.text, "by": p.by, "time": when(p.time), "message_id": p.message_id}
                    for p in t.points
                ],
            }
            for t in summary.topics
        ],
        "key_points": [
            {"topic": t.title, "text": p.text, "by": p.by, "time": when(p.time)}
            for t in summary.topics
            for p in t.points
        ],
        "decisions": [
            {"text": d.text, "by": d.by, "time": when(d.time), "quote": d.quote}
            for d in summary.decisions
        ],
        "open_questions": [
            {"text": q.text, "by": q.by, "time": when(q.time)} for q in summary.open_questions
        ],
        "todos": [
            {
                "owner": t.owner,
                "task": t.task,
                "due": t.due.isoformat() if t.due else None,
                "due_text": t.due_text,
                "by": t.by,
                "time": when(t.time),
                "quote": t.quote,
            }
            for t in summary.todos
        ],
        "links": [{"url": i.value, "by": i.by, "time": when(i.time)} for i in summary.links],
        "files": [{"name": i.value, "by": i.by, "time": when(i.time)} for i in summary.files],
        "minor_topics": summary.minor_topics,
    }
