"""The meeting-end auto-report end to end: a meeting system calls /events/meeting-ended with a
recording URL, officebot downloads, transcribes, finds speakers, writes minutes and to-dos with
the real models, and posts the report to the group at the fake DingTalk server; then the group
asks for /待办 and marks one done. Plus the API's answers to bad requests."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.settings import Settings
from tests.conftest import API_TOKEN, dingtalk_message, post_dingtalk
from tests.support.fake_dingtalk import FakeDingTalk
from tests.support.file_server import FileServer, Route
from tests.support.live_server import LiveServer
from tests.support.synth_meeting import ENGLISH_VOICE_MAP, SynthMeeting, synthesize

AUTH = {"authorization": f"Bearer {API_TOKEN}"}
GROUP = "cidGroupA=="


@pytest.fixture
def recordings() -> Iterator[FileServer]:
    server = FileServer().start()
    yield server
    server.stop()


@pytest.fixture
def meeting_server(
    start_server: Callable[..., LiveServer],
    make_settings: Callable[..., Settings],
    speech_cache: Path,
) -> LiveServer:
    settings = make_settings(
        download_allowed_hosts=["127.0.0.1"],
        dingtalk_robot_conversation_id=GROUP,
        public_base_url="https://bot.example.com",
        plugins={"meeting": {"model_cache_dir": str(speech_cache), "asr_model": "base"}},
    )
    return start_server(settings)


def _status_for_declared_size(server: LiveServer, size: int) -> int:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            (
                "POST /api/meetings HTTP/1.1\r\n"
                f"Host: {host}\r\nAuthorization: Bearer {API_TOKEN}\r\n"
                "Content-Type: multipart/form-data; boundary=x\r\n"
                f"Content-Length: {size}\r\n\r\n"
            ).encode()
        )
        status_line = connection.makefile("rb").readline().decode()
    return int(status_line.split()[1])


def _numbered(text: str) -> int:
    return len(re.findall(r"^\d+\. ", text, flags=re.MULTILINE))


def _report_text(fake: FakeDingTalk) -> tuple[str, dict[str, Any]]:
    body = fake.requests[-1].body
    assert body["msgtype"] == "markdown", body
    return body["markdown"]["text"], body.get("at", {})


@pytest.mark.slow
def test_meeting_ended_event_posts_minutes_and_todos_to_the_group(
    meeting_server: LiveServer,
    recordings: FileServer,
    english_meeting: SynthMeeting,
    fake_dingtalk: FakeDingTalk,
    tmp_path: Path,
) -> None:
    # Each attendee enrolls a voice sample first (different sentences, the same voice).
    for name, voice in ENGLISH_VOICE_MAP.items():
        sample = synthesize(
            [(name, f"Hello, this is {name}. I am recording a sample of my voice today.")],
            {name: voice},
            tmp_path,
            language="en",
        )
        enrolled = httpx.post(
            f"{meeting_server.url}/api/voices",
            headers=AUTH,
            files={"file": (f"{name}.wav", sample.path.read_bytes(), "audio/wav")},
            data={"name": name},
            timeout=60,
        )
        assert enrolled.status_code == 201, enrolled.text
    voices = httpx.get(f"{meeting_server.url}/api/voices", headers=AUTH).json()
    assert voices["voices"] == ["Bob", "Carol", "David"]

    recordings.routes["/rec/weekly.wav"] = Route(english_meeting.path.read_bytes())
    response = httpx.post(
        f"{meeting_server.url}/events/meeting-ended",
        headers=AUTH,
        json={
            "recording_url": f"{recordings.url}/rec/weekly.wav?token=abc",
            "title": "Launch review",
            "start_time": "2027-02-22T10:00:00+08:00",  # a Monday
            "attendees": [
                {"name": "Bob", "user_id": "u-bob"},
                {"name": "Carol", "user_id": "u-carol"},
                {"name": "David", "user_id": "u-david"},
            ],
            "conversation_id": GROUP,
            "language": "en",
        },
        timeout=30,
    )
    assert response.status_code == 202, response.text
    meeting_id = response.json()["meeting_id"]

    fake_dingtalk.wait_for(1, timeout=600)
    text, at = _report_text(fake_dingtalk)
    assert "Launch review" in text
    meeting = httpx.get(f"{meeting_server.url}/api/meetings/{meeting_id}", headers=AUTH).json()
    assert meeting["status"] == "done", meeting.get("error")
    result = meeting["result"]
    assert result["transcript"]["language"] == "en"
    segments = result["transcript"]["segments"]
    # enrolled voices name the speakers: most speech goes to the person who said it
    right = sum(
        s["end"] - s["start"]
        for s in segments
        if s["speaker"] == english_meeting.speaker_at((s["start"] + s["end"]) / 2)
    )
    assert right / sum(s["end"] - s["start"] for s in segments) > 0.8
    spoken = " ".join(s["text"] for s in segments).lower()
    assert "press release" in spoken
    docx = meeting["reports"]["docx"]
    assert docx.startswith("https://bot.example.com/files/")
    assert docx in text
    # the .docx is served at that link, without the API token
    served = httpx.get(meeting_server.url + docx.removeprefix("https://bot.example.com"))
    assert served.status_code == 200
    assert served.content[:2] == b"PK"
    # to-dos: every owner is an attendee or unknown; dates are ISO and after the meeting
    for todo in meeting["todos"]:
        assert todo["owner"] in {None, "Bob", "Carol", "David"}
        assert todo["due"] is None or todo["due"] >= "2027-02-22"
        if todo["owner"]:
            assert f"u-{todo['owner'].lower()}" in at.get("atUserIds", [])
    assert meeting["todos"], "the meeting has three to-dos; none was found"

    before = len(fake_dingtalk.requests)
    listed = post_dingtalk(meeting_server, dingtalk_message("/待办", conversationId=GROUP))
    assert listed.status_code == 200
    listing = listed.json()["markdown"]["text"]
    assert "1." in listing
    done = post_dingtalk(meeting_server, dingtalk_message("/todo done 1", conversationId=GROUP))
    assert "Done" in done.json()["text"]["content"]
    after = post_dingtalk(meeting_server, dingtalk_message("/待办", conversationId=GROUP)).json()
    remaining = after.get("markdown", {}).get("text", "") or after.get("text", {}).get("content")
    assert _numbered(remaining) == _numbered(listing) - 1
    minutes = post_dingtalk(meeting_server, dingtalk_message("/纪要", conversationId=GROUP))
    assert "Launch review" in minutes.json()["markdown"]["text"]
    # another group sees none of it
    other = post_dingtalk(meeting_server, dingtalk_message("/待办", conversationId="cidOther=="))
    assert "No open to-dos" in other.json()["text"]["content"]
    assert len(fake_dingtalk.requests) == before  # all answered inline


def test_meeting_api_refuses_bad_requests_clearly(
    meeting_server: LiveServer, recordings: FileServer, fake_dingtalk: FakeDingTalk
) -> None:
    url = f"{meeting_server.url}/events/meeting-ended"
    unauth = httpx.post(url, json={"recording_url": "http://127.0.0.1/x.wav"})
    assert unauth.status_code == 401
    both = httpx.post(url, headers=AUTH, json={"conversation_id": GROUP})
    assert both.status_code == 422
    assert "recording_url or upload_id" in both.json()["error"]["message"]
    elsewhere = httpx.post(
        url,
        headers=AUTH,
        json={"recording_url": "https://evil.example.net/a.mp3", "conversation_id": GROUP},
    )
    assert elsewhere.status_code == 403
    assert elsewhere.json()["error"]["code"] == "forbidden"
    assert "OFFICEBOT_DOWNLOAD_ALLOWED_HOSTS" in elsewhere.json()["error"]["message"]
    nowhere = httpx.post(url, headers=AUTH, json={"recording_url": f"{recordings.url}/a.wav"})
    assert nowhere.status_code == 422
    assert "conversation_id or robot" in nowhere.json()["error"]["message"]
    unknown = httpx.post(url, headers=AUTH, json={"upload_id": "nope", "robot": "default"})
    assert unknown.status_code == 404
    # a declared size over the limit is refused before a byte of the body is read
    assert _status_for_declared_size(meeting_server, 10**12) == 413
    missing = httpx.get(f"{meeting_server.url}/api/meetings/0123456789abcdef", headers=AUTH)
    assert missing.status_code == 404


@pytest.mark.slow
def test_an_uploaded_file_that_is_not_audio_fails_with_a_message_to_the_group(
    meeting_server: LiveServer, fake_dingtalk: FakeDingTalk
) -> None:
    response = httpx.post(
        f"{meeting_server.url}/api/meetings",
        headers=AUTH,
        files={"file": ("notes.mp3", b"these are not sounds, just text " * 40, "audio/mpeg")},
        data={"title": "周会", "robot": "default", "attendees": "王强,李娜"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    meeting_id = response.json()["meeting_id"]
    fake_dingtalk.wait_for(1, timeout=120)
    text, _ = _report_text(fake_dingtalk)
    assert "周会" in text
    assert "failed" in text or "失败" in text
    meeting = httpx.get(f"{meeting_server.url}/api/meetings/{meeting_id}", headers=AUTH).json()
    assert meeting["status"] == "failed"
    assert "audio" in meeting["error"].lower()
    assert meeting["attendees"] == [
        {"name": "王强", "user_id": None},
        {"name": "李娜", "user_id": None},
    ]


def test_custom_vocabulary_per_tenant(meeting_server: LiveServer) -> None:
    url = f"{meeting_server.url}/api/vocabulary"
    put = httpx.put(
        url,
        params={"tenant": "corp-a"},
        headers=AUTH,
        json={"hotwords": ["钉钉", "OKR", "钉钉", " "], "initial_prompt": "产品周会。"},
    )
    assert put.status_code == 200
    assert put.json()["hotwords"] == ["钉钉", "OKR"]
    assert httpx.get(url, params={"tenant": "corp-a"}, headers=AUTH).json()["hotwords"] == [
        "钉钉",
        "OKR",
    ]
    assert httpx.get(url, params={"tenant": "corp-b"}, headers=AUTH).json()["hotwords"] == []
    too_long = httpx.put(url, headers=AUTH, json={"hotwords": ["x" * 65]})
    assert too_long.status_code == 422
