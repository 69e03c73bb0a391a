"""The summary without the model, on hand-written Chinese and English group chats (150+
messages, interleaved topics, known decisions and to-dos): the known to-dos with the right
owners and dates, the decisions, the open questions, links and files; no invented name, date or
quote; topics that hold together; and a window of 10,000 messages in seconds."""

from __future__ import annotations

import itertools
import time

import pytest

from chat_summary.chat import summarize_chat
from chat_summary.conversation import prepare
from chat_summary.extractive import summarize_extractive
from chat_summary.types import ChatSummary
from tests.support.chats import HOLDOUT, NAMES, Chat, load, long_chat, score


@pytest.fixture(scope="module", params=[*NAMES, *HOLDOUT])
def chat(request: pytest.FixtureRequest) -> Chat:
    return load(request.param)


@pytest.fixture(scope="module")
def summary(chat: Chat) -> ChatSummary:
    return summarize_chat(None, chat.messages)


def test_it_is_labelled_extractive(summary: ChatSummary, chat: Chat) -> None:
    assert summary.method == "extractive"
    assert summary.reason == "model_unavailable"
    assert summary.language == chat.language
    assert summary.message_count == len(chat.messages)


def test_known_todos_are_found_with_their_owners_and_dates(
    chat: Chat, summary: ChatSummary
) -> None:
    result = score(chat, summary)
    total = len(chat.expected["todos"])
    # The hold-out chats were written by someone who never saw this code: a lower bar.
    needed = 0.75 if chat.name in HOLDOUT else 0.95
    assert len(result.todos_right) >= needed * total, result
    assert not result.todos_wrong, result
    assert not result.non_todos_reported, result


def test_nothing_is_invented(chat: Chat, summary: ChatSummary) -> None:
    assert score(chat, summary).invented == []
    people = set(chat.expected["participants"])
    assert set(summary.participants) == people
    for decision in summary.decisions:
        assert decision.by in people


def test_decisions_and_open_questions(chat: Chat, summary: ChatSummary) -> None:
    result = score(chat, summary)
    assert len(result.decisions_found) >= 0.8 * len(chat.expected["decisions"]), result
    assert not result.non_decisions_reported, result
    if chat.name not in HOLDOUT:
        assert len(result.questions_found) >= 2, result
    assert len(summary.open_questions) <= 8


def test_links_and_files_shared(chat: Chat, summary: ChatSummary) -> None:
    assert {item.value for item in summary.links} == set(chat.expected["links"])
    assert {item.value for item in summary.files} == set(chat.expected["files"])
    for item in [*summary.links, *summary.files]:
        assert item.by in chat.expected["participants"]


def test_topics_hold_together(chat: Chat) -> None:
    """Pairwise: messages of one known topic mostly share a found topic (recall), and a found
    topic mostly holds one known topic (precision)."""
    conversation = prepare(chat.messages)
    index = {m.id: i for i, m in enumerate(conversation.messages)}
    truth = {
        index[mid]: topic["name"]
        for topic in chat.expected["topics"]
        for mid in topic["message_ids"]
        if mid in index
    }
    found = {i: k for k, seg in enumerate(conversation.segments) for i in seg.members}
    pairs = [(a, b) for a, b in itertools.combinations(sorted(truth), 2)]
    same_found = [(a, b) for a, b in pairs if found[a] == found[b]]
    same_truth = [(a, b) for a, b in pairs if truth[a] == truth[b]]
    precision = sum(truth[a] == truth[b] for a, b in same_found) / max(1, len(same_found))
    recall = sum(found[a] == found[b] for a, b in same_truth) / max(1, len(same_truth))
    assert 2 <= len(conversation.segments) <= 3 * len(chat.expected["topics"])
    if chat.name not in HOLDOUT:
        assert recall >= 0.45
        assert precision >= 0.45
    for topic in summarize_extractive(conversation).topics:
        assert topic.title
        assert 1 <= len(topic.points) <= 3


def test_ten_thousand_messages_in_seconds() -> None:
    messages = long_chat(10_000)
    summarize_chat(None, messages[:200])  # jieba's dictionary, once per process
    started = time.perf_counter()
    summary = summarize_chat(None, messages)
    elapsed = time.perf_counter() - started
    assert summary.message_count == 10_000
    assert summary.topics
    assert summary.todos
    # bench/chat.py holds it to 2 s on an idle machine; this guards against a quadratic step.
    assert elapsed < 8, elapsed
