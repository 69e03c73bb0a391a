"""A chat summary as posted: Markdown sized for DingTalk with a link to the whole document
when long, @-mentions by user id, chat text escaped (never markup), and the JSON shape."""

from __future__ import annotations

from datetime import UTC, date, datetime

from chat_summary.render import chat_message, markdown_document, summary_json
from chat_summary.types import (
    ChatSummary,
    ChatTopic,
    Decision,
    KeyPoint,
    OpenQuestion,
    SharedItem,
    Todo,
)

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def summary(language: str = "zh", topics: int = 2, todos: int = 2) -> ChatSummary:
    return ChatSummary(
        language=language,
        method="model",
        message_count=180,
        participants=("王强", "李娜", "张伟"),
        overview="讨论了 3.2 版本的发布计划。",
        topics=tuple(
            ChatTopic(
                title=f"话题{n}",
                points=(
                    KeyPoint(text=f"第 {n} 个话题的要点 <script>alert(1)</script>", by="李娜"),
                    KeyPoint(text="**不是粗体** [不是链接](http://x)", by="张伟"),
                ),
                participants=("李娜", "张伟"),
                messages=20,
            )
            for n in range(topics)
        ),
        decisions=(Decision(text="发布日期定在12月8日", quote="发布日期定在12月8日", by="王强"),),
        open_questions=(OpenQuestion(text="iOS 15 以下还要不要支持？", by="赵磊"),),
        todos=tuple(
            Todo(owner="李娜" if n % 2 else "张伟", task=f"任务 {n}", due=date(2026, 12, 4))
            for n in range(todos)
        ),
        links=(SharedItem(kind="link", value="https://wiki.example.com/a?b=1", by="王强"),),
        files=(SharedItem(kind="file", value="预算表.xlsx", by="李娜"),),
    )


def test_the_message_has_every_part_and_mentions_known_owners() -> None:
    message = chat_message(
        summary(), window="今天", conversation_title="产品群", mention_ids={"李娜": "staff002"}
    )
    text = message.text
    for heading in ("概要", "要点", "决定", "待办", "待解决的问题", "链接与文件"):
        assert f"#### {heading}" in text
    assert "@staff002：任务 1（截止 2026-12-04）" in text
    assert "**张伟**：任务 0" in text  # no user id: named, not mentioned
    assert message.at_user_ids == ("staff002",)
    assert "——李娜" in text
    assert message.title == "群聊总结 · 产品群"
    assert not message.shortened


def test_chat_text_never_becomes_markup() -> None:
    text = chat_message(summary(), window="今天").text
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    assert "\\*\\*不是粗体\\*\\*" in text
    assert "\\[不是链接\\]" in text


def test_an_encrypted_or_odd_user_id_is_not_mentioned() -> None:
    message = chat_message(summary(), window="今天", mention_ids={"李娜": "staff 002 <b>"})
    assert message.at_user_ids == ()


def test_a_long_summary_is_shortened_and_links_its_document() -> None:
    big = summary(topics=12, todos=30)
    message = chat_message(
        big, window="今天", document_url="https://bot.example.com/files/abc/s.md", max_chars=1500
    )
    assert message.shortened
    assert len(message.text) <= 1500
    assert "[完整总结](https://bot.example.com/files/abc/s.md)" in message.text
    assert "#### 待办" in message.text  # to-dos (with their mentions) are kept longest
    document = markdown_document(big, window="今天")
    assert document.count("**") >= 12 * 2
    assert "任务 29" in document


def test_english_and_extractive_label() -> None:
    english = summary("en").model_copy(update={"method": "extractive", "reason": "too_long"})
    text = chat_message(english, window="today").text
    assert "#### Key points" in text
    assert "extractive summary (many messages" in text
    assert "(due 2026-12-04)" in text


def test_an_empty_window_says_so() -> None:
    empty = ChatSummary(language="en", method="extractive", message_count=0)
    assert "no messages to summarize" in chat_message(empty, window="today").text


def test_json_has_the_documented_fields() -> None:
    data = summary_json(summary(), window="今天")
    assert {"key_points", "decisions", "open_questions", "todos", "topics", "links"} <= set(data)
    assert data["todos"][0] == {
        "owner": "张伟",
        "task": "任务 0",
        "due": "2026-12-04",
        "due_text": None,
        "by": None,
        "time": None,
        "quote": "",
    }
    assert data["key_points"][0]["by"] == "李娜"
    assert data["key_points"][0]["topic"] == "话题0"
