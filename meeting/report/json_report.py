"""The public JSON formats of a meeting: what ``officebot meeting transcribe --format json`` and
``officebot meeting report --format json`` print. Other programs read them, so they only ever
grow: a key is never renamed, removed or given another type.

Conventions: times are seconds from the start of the recording, as numbers rounded to the
millisecond; dates are ISO 8601 strings (``"2026-03-18"``); a value that is not known is
``null``, a list with nothing in it is ``[]``; text is as the pipeline produced it (not escaped).

Transcript (``transcript_json``)::

    {
      "language": "zh",               # ISO 639-1 code of the transcript
      "duration": 1834.52,            # seconds of audio
      "segments": [
        {"start": 0.0, "end": 4.21, "speaker": "王强", "text": "我们先看一下预算。"}
      ]                               # "speaker" is null when speakers were not assigned
    }

Report (``report_json``): every key of the transcript, plus::

    {
      "title": "产品周会",             # "" when the meeting has no title
      "date": "2026-03-10",           # or null
      "attendees": ["王强", "李娜"],
      "speakers": [                   # in order of first speaking
        {"name": "王强", "label": "SPEAKER_00", "talk_time": 612.4, "enrolled": true}
      ],
      "summary": "...",               # null when no minutes were made
      "minutes_method": "model",      # "model", "extractive" (sentences picked, no model) or null
      "decisions": [{"text": "...", "quote": "...", "at": 95.2}],
      "topics": [{"title": "...", "start": 0.0, "end": 300.5}],
      "keywords": ["预算", "Q3"],
      "open_questions": ["..."],
      "todos": [
        {"owner": "王强",              # or null
         "task": "整理Q3预算表",
         "due": "2026-03-18",          # or null
         "due_text": "下周三",          # the due date as said, or null
         "quote": "王强下周三前把Q3预算表整理好。",
         "at": 812.0}                 # or null
      ]
    }

``speakers[].label`` is the diarization label (``SPEAKER_00``...), or the name itself when the
names came from the transcript without diarization; ``talk_time`` is seconds of speech.
"""

from __future__ import annotations

from typing import Any

from meeting.report import speaker_stats, transcript_of
from meeting.types import MeetingResult, Transcript


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def transcript_json(source: MeetingResult | Transcript) -> dict[str, Any]:
    """The transcript format above (a meeting result gives its transcript and its duration)."""
    transcript = transcript_of(source)
    return {
        "language": transcript.language,
        "duration": _seconds(source.duration),
        "segments": [
            {
                "start": _seconds(segment.start),
                "end": _seconds(segment.end),
                "speaker": segment.speaker,
                "text": segment.text.strip(),
            }
            for segment in transcript.segments
        ],
    }


def report_json(result: MeetingResult) -> dict[str, Any]:
    """The report format above: the transcript, the meeting's details, speakers and minutes."""
    minutes = result.minutes
    info = result.info
    report = transcript_json(result)
    report |= {
        "title": info.title,
        "date": info.date.isoformat() if info.date else None,
        "attendees": list(info.attendees),
        "speakers": [
            {
                "name": stat.name,
                "label": stat.label,
                "talk_time": _seconds(stat.talk_time),
                "enrolled": stat.enrolled,
            }
            for stat in speaker_stats(result)
        ],
        "summary": minutes.summary if minutes else None,
        "minutes_method": minutes.method if minutes else None,
        "decisions": [
            {"text": d.text, "quote": d.quote, "at": _seconds(d.at)}
            for d in (minutes.decisions if minutes else ())
        ],
        "topics": [
            {"title": t.title, "start": _seconds(t.start), "end": _seconds(t.end)}
            for t in (minutes.topics if minutes else ())
        ],
        "keywords": list(minutes.keywords) if minutes else [],
        "open_questions": list(minutes.open_questions) if minutes else [],
        "todos": [
            {
                "owner": todo.owner,
                "task": todo.task,
                "due": todo.due.isoformat() if todo.due else None,
                "due_text": todo.due_text,
                "quote": todo.quote,
                "at": _seconds(todo.at),
            }
            for todo in (minutes.todos if minutes else ())
        ],
    }
    return report
