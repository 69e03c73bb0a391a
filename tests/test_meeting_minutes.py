"""The minutes stage: a hand-built transcript through the one summarizer (real 0.5B model)."""

from __future__ import annotations

from datetime import date

from chat_summary.dates import find_due_dates
from llm.service import LLM
from meeting.minutes import utterances_of, write_minutes
from meeting.types import MeetingInfo, SpeakerInfo, Transcript, TranscriptSegment

MEETING_DAY = date(2026, 3, 4)  # a Wednesday


def segment(start: float, end: float, speaker: str | None, text: str) -> TranscriptSegment:
    return TranscriptSegment(start=start, end=end, speaker=speaker, text=text)


TRANSCRIPT = Transcript(
    language="en",
    duration=60.0,
    segments=(
        segment(0.5, 5.0, "Bob", "Good morning. Today we review the launch plan for the app."),
        segment(5.8, 9.5, "Carol", "The design is finished and the test build is ready."),
        segment(10.2, 14.0, "Bob", "We decided to launch the app on April 1."),
        # one sentence cut in two by the recognizer: joined before it is summarized
        segment(14.8, 17.0, "SPEAKER_01", "I will fix the login bug"),
        segment(17.3, 19.0, "SPEAKER_01", "before next Wednesday."),
        segment(19.8, 23.5, "David", "I'll write the press release by Friday."),
        segment(24.0, 28.0, "David", "The advertising budget is still an open question."),
        segment(29.0, 33.0, "Bob", "We will discuss the budget next week. That is all."),
    ),
)
SPEAKERS = (
    SpeakerInfo(label="SPEAKER_00", name="Bob", enrolled=True),
    SpeakerInfo(label="SPEAKER_01", name="Carol", enrolled=True),
    SpeakerInfo(label="SPEAKER_02", name="David", enrolled=True),
)
INFO = MeetingInfo(title="Launch review", date=MEETING_DAY, attendees=("Bob", "Carol", "David"))


def test_segments_become_utterances_with_display_names_and_joined_sentences() -> None:
    utterances = utterances_of(TRANSCRIPT, SPEAKERS)
    assert [u.speaker for u in utterances] == ["Bob", "Carol", "Bob", "Carol", "David", "Bob"]
    carol = utterances[3]
    assert carol.text == "I will fix the login bug before next Wednesday."
    assert (carol.at, carol.end) == (14.8, 19.0)
    david = utterances[4]
    assert david.text.startswith("I'll write")
    assert david.text.endswith("open question.")


def test_minutes_of_a_meeting(small_llm: LLM) -> None:
    reports: list[tuple[str, float]] = []
    minutes = write_minutes(
        small_llm, TRANSCRIPT, INFO, SPEAKERS, progress=lambda s, p: reports.append((s, p))
    )
    assert (minutes.method, minutes.language) == ("model", "en")
    assert {stage for stage, _ in reports} == {"minutes"}
    assert reports[0] == ("minutes", 0.0)
    assert reports[-1] == ("minutes", 100.0)

    assert minutes.topics
    for topic in minutes.topics:
        assert topic.start is not None
        assert topic.end is not None
        assert 0.5 <= topic.start <= topic.end <= 33.0

    texts = [u.text for u in utterances_of(TRANSCRIPT, SPEAKERS)]
    starts = {u.text: u.at for u in utterances_of(TRANSCRIPT, SPEAKERS)}
    for todo in minutes.todos:
        assert todo.owner in {None, "Bob", "Carol", "David"}
        source = next(text for text in texts if todo.quote in text)
        assert todo.at == starts[source]
        if todo.due is not None:
            assert (todo.due_text, todo.due) in {
                (m.text, m.date) for m in find_due_dates(todo.quote, MEETING_DAY)
            }
    todos = {(t.owner, t.due, t.at) for t in minutes.todos}
    assert ("Carol", date(2026, 3, 11), 14.8) in todos
    assert ("David", date(2026, 3, 6), 19.8) in todos
    assert all(d.at is not None for d in minutes.decisions)
    assert any("April 1" in d.quote and d.at == 10.2 for d in minutes.decisions)
    assert any("advertising budget" in q for q in minutes.open_questions)


def test_without_a_model_the_minutes_are_extractive() -> None:
    minutes = write_minutes(None, TRANSCRIPT, INFO, SPEAKERS)
    assert minutes.method == "extractive"
    assert ("Carol", date(2026, 3, 11)) in {(t.owner, t.due) for t in minutes.todos}
