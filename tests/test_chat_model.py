"""The group-chat summarizer on the real 0.5B model, on a Chinese and an English chat of 180+
messages: the model titles the topics and words their key points, code credits every point to
the person whose message it rests on, and the decisions, to-dos and dates are the chat's own.
Whatever the small model writes, nothing invented reaches the summary."""

from __future__ import annotations

import pytest

from chat_summary.chat import summarize_chat
from chat_summary.types import ChatSummary
from llm.service import LLM
from tests.support.chats import Chat, load, score


@pytest.fixture(scope="module", params=["zh_product", "en_eng"])
def chat(request: pytest.FixtureRequest) -> Chat:
    return load(request.param)


@pytest.fixture(scope="module")
def run(small_llm: LLM, chat: Chat) -> tuple[ChatSummary, list[tuple[str, float]]]:
    reports: list[tuple[str, float]] = []
    summary = summarize_chat(
        small_llm,
        chat.messages,
        mode="model",
        progress=lambda stage, percent: reports.append((stage, percent)),
    )
    return summary, reports


def test_the_model_summarized_it_in_parts_with_progress(
    run: tuple[ChatSummary, list[tuple[str, float]]], chat: Chat
) -> None:
    summary, reports = run
    assert summary.method == "model"
    assert summary.language == chat.language
    percents = [p for _, p in reports]
    assert len(percents) >= 3  # the 4096-token window of the test model needs several requests
    assert percents == sorted(percents)
    assert percents[-1] == 100.0


def test_nothing_invented_whatever_the_model_wrote(
    run: tuple[ChatSummary, list[tuple[str, float]]], chat: Chat
) -> None:
    summary, _ = run
    result = score(chat, summary)
    assert result.invented == []
    assert not result.non_todos_reported
    assert not result.non_decisions_reported
    people = chat.expected["participants"]
    assert not any(name in summary.overview for name in people), summary.overview
    assert summary.topics
    for topic in summary.topics:
        assert topic.title.strip()
        assert 1 <= len(topic.points) <= 3
        assert set(topic.participants) <= set(people)


def test_known_decisions_and_todos_with_owners_and_dates(
    run: tuple[ChatSummary, list[tuple[str, float]]], chat: Chat
) -> None:
    summary, _ = run
    result = score(chat, summary)
    assert len(result.todos_right) >= len(chat.expected["todos"]) - 1, result
    assert not result.todos_wrong, result
    assert len(result.decisions_found) >= len(chat.expected["decisions"]) - 1, result


def test_too_long_or_busy_goes_extractive_and_says_so(small_llm: LLM) -> None:
    chat = load("zh_ops")
    long = summarize_chat(small_llm, chat.messages, budget_tokens=500)
    assert (long.method, long.reason) == ("extractive", "too_long")
    busy = summarize_chat(small_llm, chat.messages, busy_queue=0)
    assert (busy.method, busy.reason) == ("extractive", "model_busy")
    assert busy.todos
