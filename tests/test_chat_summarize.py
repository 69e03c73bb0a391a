"""The summarizer on the real 0.5B model: whatever the model says, the minutes hold only what
the source supports (quotes are source sentences, owners are participants, due dates are what
the date resolver reads in the quote), and the known to-dos are found."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import pytest

from chat_summary.dates import find_due_dates
from chat_summary.extract import known_names, number_lines
from chat_summary.grounding import (
    DecisionDraft,
    Source,
    TodoDraft,
    TopicDraft,
    check_decision,
    check_summary,
    check_todo,
    check_topic,
)
from chat_summary.summarize import summarize
from chat_summary.types import Minutes, Todo, Utterance
from llm.backends.base import Backend
from llm.errors import ModelNotInstalledError
from llm.service import LLM

REFERENCE = date(2026, 3, 4)  # a Wednesday

ZH_MEETING = [
    ("王强", "大家好，今天我们主要讨论新版 App 的发布计划。"),
    ("李娜", "设计稿上周已经全部完成，测试版本昨天也打包好了。"),
    ("张伟", "测试这边发现登录页面在部分安卓手机上会闪退。"),
    ("王强", "这个问题比较严重，必须在发布前解决。"),
    ("李娜", "我会在下周三之前修复登录闪退的问题。"),
    ("王强", "好的。宣传方面准备得怎么样了？"),
    ("张伟", "宣传文案还没开始写，海报也需要重新设计。"),
    ("张伟", "我负责在3月15日前完成宣传文案。"),
    ("王强", "海报的预算大概是两万元，大家有意见吗？"),
    ("李娜", "我觉得两万元够用了。"),
    ("王强", "那我们决定海报预算定为两万元。"),
    ("王强", "发布日期我们定在四月一日，大家同意吗？"),
    ("张伟", "同意，不过应用商店的审核时间还不确定。"),
    ("李娜", "审核一般需要三到五天，我们最好提前提交。"),
    ("王强", "好，我们决定四月一日正式发布。"),
    ("王强", "另外，用户手册也要更新。"),
    ("李娜", "用户手册交给张伟吧，他对新功能最熟悉。"),
    ("张伟", "没问题，我本周五前把用户手册更新好。"),
    ("王强", "谢谢大家，今天的会议就到这里。"),
]
ZH_PEOPLE = ("王强", "李娜", "张伟")

EN_MEETING = [
    ("Bob", "Good morning everyone. Today we review the launch plan for the new mobile app."),
    ("Carol", "The design is finished and the test build was packaged yesterday."),
    ("David", "QA found that the login page crashes on some Android phones."),
    ("Bob", "That is serious. It has to be fixed before the launch."),
    ("Carol", "I will fix the login crash before next Wednesday."),
    ("Bob", "Good. How is the marketing going?"),
    ("David", "The press release is not started yet, and the poster needs a new design."),
    ("David", "I'll write the press release by Friday."),
    ("Bob", "The poster budget is about five thousand dollars. Any objections?"),
    ("Carol", "Five thousand dollars sounds fine to me."),
    ("Bob", "Then we agreed the poster budget is five thousand dollars."),
    ("Bob", "We decided to launch the app on April 1."),
    ("David", "The app store review time is still unclear."),
    ("Carol", "Reviews usually take three to five days, so we should submit early."),
    ("Bob", "The user guide also needs an update."),
    ("Bob", "Carol, please update the user guide by March 20."),
    ("Carol", "Sure, no problem."),
    ("Bob", "Thanks everyone, that is all for today."),
]
EN_PEOPLE = ("Bob", "Carol", "David")


def as_utterances(script: Sequence[tuple[str, str]]) -> list[Utterance]:
    """A meeting's lines with times: each line takes 2 s plus 0.1 s a character."""
    utterances = []
    clock = 0.0
    for speaker, text in script:
        length = 2.0 + 0.1 * len(text)
        utterances.append(Utterance(speaker=speaker, text=text, at=clock, end=clock + length))
        clock += length + 0.5
    return utterances


def assert_grounded(
    minutes: Minutes, utterances: Sequence[Utterance], people: Sequence[str]
) -> None:
    """Everything checkable in ``minutes`` is supported by ``utterances``."""

    def line_of(quote: str) -> Utterance:
        lines = [u for u in utterances if quote and quote in u.text]
        assert lines, f"quote {quote!r} is not a source sentence"
        return lines[0]

    for todo in minutes.todos:
        assert todo.owner is None or todo.owner in people, todo
        line = line_of(todo.quote)
        assert todo.at == line.at
        assert todo.task.strip()
        resolved = {(m.text, m.date) for m in find_due_dates(todo.quote, REFERENCE)}
        if todo.due is None:
            assert todo.due_text is None
        else:
            assert (todo.due_text, todo.due) in resolved, todo
    for decision in minutes.decisions:
        assert decision.at == line_of(decision.quote).at
    start, end = utterances[0].at or 0.0, utterances[-1].end or 0.0
    for topic in minutes.topics:
        assert topic.title.strip()
        assert topic.start is not None
        assert topic.end is not None
        assert start <= topic.start <= topic.end <= end
    source = "".join(u.text for u in utterances).casefold()
    for keyword in minutes.keywords:
        assert keyword.casefold().replace(" ", "") in source.replace(" ", "")


@pytest.fixture(scope="module")
def zh_minutes(small_llm: LLM) -> Minutes:
    return summarize(
        small_llm, as_utterances(ZH_MEETING), reference_date=REFERENCE, participants=ZH_PEOPLE
    )


@pytest.fixture(scope="module")
def en_run(small_llm: LLM) -> tuple[Minutes, list[tuple[str, float]]]:
    """The English meeting in parts (a small chunk size forces the long-input path), with
    the progress reports: one per part, then 100."""
    reports: list[tuple[str, float]] = []
    minutes = summarize(
        small_llm,
        as_utterances(EN_MEETING),
        language="en",
        reference_date=REFERENCE,
        participants=EN_PEOPLE,
        progress=lambda stage, percent: reports.append((stage, percent)),
        chunk_tokens=200,
    )
    return minutes, reports


@pytest.fixture(scope="module")
def en_minutes(en_run: tuple[Minutes, list[tuple[str, float]]]) -> Minutes:
    return en_run[0]


def test_chinese_minutes_are_grounded(zh_minutes: Minutes) -> None:
    assert (zh_minutes.language, zh_minutes.method) == ("zh", "model")
    assert zh_minutes.summary.strip()
    assert_grounded(zh_minutes, as_utterances(ZH_MEETING), ZH_PEOPLE)


def test_chinese_known_todos_have_owner_and_due_date(zh_minutes: Minutes) -> None:
    found = {(todo.owner, todo.due) for todo in zh_minutes.todos}
    assert ("李娜", date(2026, 3, 11)) in found  # 我会在下周三之前修复登录闪退的问题
    assert ("张伟", date(2026, 3, 15)) in found  # 我负责在3月15日前完成宣传文案
    assert ("张伟", date(2026, 3, 6)) in found  # 我本周五前把用户手册更新好
    assert any("四月一日" in d.quote or "两万元" in d.quote for d in zh_minutes.decisions)
    assert any("审核时间" in q for q in zh_minutes.open_questions)


def test_english_minutes_are_grounded(en_minutes: Minutes) -> None:
    assert (en_minutes.language, en_minutes.method) == ("en", "model")
    assert en_minutes.summary.strip()
    assert_grounded(en_minutes, as_utterances(EN_MEETING), EN_PEOPLE)


def test_english_known_todos_have_owner_and_due_date(en_minutes: Minutes) -> None:
    found = {(todo.owner, todo.due) for todo in en_minutes.todos}
    assert ("Carol", date(2026, 3, 11)) in found  # I will fix the login crash before next Wed
    assert ("David", date(2026, 3, 6)) in found  # I'll write the press release by Friday
    assert ("Carol", date(2026, 3, 20)) in found  # Carol, please update the user guide by ...
    assert any("April 1" in d.quote for d in en_minutes.decisions)
    assert any("review time" in q for q in en_minutes.open_questions)


def test_long_input_is_summarized_in_parts_with_global_line_numbers(
    en_run: tuple[Minutes, list[tuple[str, float]]],
) -> None:
    minutes, reports = en_run
    parts = len(reports) - 1
    assert parts >= 2
    assert {stage for stage, _ in reports} == {"summarize"}
    assert [p for _, p in reports] == sorted(p for _, p in reports)
    assert reports[-1] == ("summarize", 100.0)
    # The later parts cite global line numbers: their to-dos carry their own lines' times.
    utterances = as_utterances(EN_MEETING)
    guide = [t for t in minutes.todos if "user guide" in t.quote]
    assert guide
    assert guide[0].owner == "Carol"
    assert guide[0].at == utterances[15].at


def _model_not_installed() -> Backend:
    raise ModelNotInstalledError("no weights in this test")


@pytest.mark.parametrize("model", ["none", "unavailable"])
def test_extractive_fallback_is_labelled_and_grounded(model: str) -> None:
    llm = LLM(_model_not_installed) if model == "unavailable" else None
    utterances = as_utterances(ZH_MEETING)
    try:
        minutes = summarize(llm, utterances, reference_date=REFERENCE, participants=ZH_PEOPLE)
    finally:
        if llm is not None:
            llm.close()
    assert minutes.method == "extractive"
    assert minutes.language == "zh"
    assert minutes.summary.strip()
    assert all(
        line.split(": ", 1)[1] in "".join(t for _, t in ZH_MEETING)
        for line in minutes.summary.splitlines()
    )
    assert_grounded(minutes, utterances, ZH_PEOPLE)
    found = {(todo.owner, todo.due) for todo in minutes.todos}
    assert ("李娜", date(2026, 3, 11)) in found
    assert ("张伟", date(2026, 3, 15)) in found
    assert any("四月一日" in d.quote for d in minutes.decisions)


def test_chat_messages_resolve_due_dates_against_their_own_day() -> None:
    messages = [
        Utterance(
            speaker="Ann", text="I'll send the report tomorrow.", time=datetime(2026, 3, 2, 17, 0)
        ),
        Utterance(
            speaker="Ben",
            text="Thanks! I will review it by Friday.",
            time=datetime(2026, 3, 3, 9, 0),
        ),
    ]
    minutes = summarize(None, messages, kind="chat", reference_date=REFERENCE)
    assert [(t.owner, t.due) for t in minutes.todos] == [
        ("Ann", date(2026, 3, 3)),
        ("Ben", date(2026, 3, 6)),
    ]
    assert all(t.at is None for t in minutes.todos)


def test_no_utterances_give_empty_minutes() -> None:
    minutes = summarize(None, [Utterance(speaker="Ann", text="  ")], language="en")
    assert (minutes.summary, minutes.todos, minutes.language) == ("", (), "en")


# --- the checks, on drafts written by hand (what a weak model gets wrong) --------------------


def en_source() -> Source:
    lines = number_lines(as_utterances(EN_MEETING))
    return Source(lines, known_names(EN_PEOPLE, lines), REFERENCE)


def checked(draft: TodoDraft) -> Todo:
    result = check_todo(draft, en_source())
    assert result is not None, draft
    return result[1]


def test_a_wrong_line_number_is_corrected_by_the_task_words() -> None:
    draft = TodoDraft(owner="David", task="write the press release", due="by Friday", line=2)
    number, todo = check_todo(draft, en_source()) or (0, None)
    assert number == 8
    assert todo is not None
    assert todo.quote == "I'll write the press release by Friday."
    assert (todo.owner, todo.due, todo.due_text) == ("David", date(2026, 3, 6), "by Friday")


def test_a_todo_no_line_supports_is_dropped() -> None:
    draft = TodoDraft(owner="Bob", task="book the team dinner", due="tomorrow", line=3)
    assert check_todo(draft, en_source()) is None


def test_an_invented_or_contradicted_owner_gives_way_to_the_line() -> None:
    invented = TodoDraft(owner="Mike", task="fix the login crash", due="", line=5)
    assert checked(invented).owner == "Carol"
    # Bob asks Carol: the speaker is not the owner.
    asked = TodoDraft(owner="Bob", task="update the user guide", due="", line=16)
    assert checked(asked).owner == "Carol"
    # A request that names nobody has no owner, whatever the model guessed.
    request = TodoDraft(owner="David", task="fixed before the launch", due="", line=4)
    assert checked(request).owner is None


def test_a_due_date_comes_from_the_quote_never_from_the_model() -> None:
    wrong = TodoDraft(owner="Carol", task="fix the login crash", due="next Monday", line=5)
    todo = checked(wrong)
    assert (todo.due, todo.due_text) == (date(2026, 3, 11), "before next Wednesday")
    undated = checked(TodoDraft(owner="", task="submit early", due="March 30", line=14))
    assert (undated.due, undated.due_text) == (None, None)


def test_questions_are_no_decisions_and_topics_get_real_lines() -> None:
    source = en_source()
    assert check_decision(DecisionDraft(text="Any objections?", line=9), source) is None
    assert check_decision(DecisionDraft(text="I will fix the login crash", line=5), source) is None
    first, last, topic = check_topic(
        TopicDraft(title="poster budget", first_line=30, last_line=40), source
    ) or (0, 0, None)
    assert (first, last) == (7, 11)  # "the poster needs a new design" .. "the poster budget is"
    assert topic is not None
    assert topic.start == as_utterances(EN_MEETING)[6].at


def test_a_summary_sentence_with_an_invented_number_is_dropped() -> None:
    summary = "The launch is on April 1. The poster costs 9000 dollars."
    assert check_summary(summary, en_source()) == "The launch is on April 1."
