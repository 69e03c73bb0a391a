"""Group chats end to end, against a running bot and the fake DingTalk: every message stored,
/总结 and /summary over a window, the summary posted with owners @-mentioned, a digest firing
on schedule and posting to the group (and keeping quiet for an empty period), /隐私 and
retention honoured, imports and the summaries API, and one tenant never seeing another's chat.

The summaries here are extractive (``OFFICEBOT_PLUGINS__CHAT__MODE=extractive``) so the tests
are about the plumbing; tests/test_chat_model.py runs the real model on the same chats."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.settings import Settings
from plugins.builtin.chat import _conversation_key
from tests.conftest import API_TOKEN, dingtalk_message, post_dingtalk
from tests.support.chats import Chat, load
from tests.support.fake_dingtalk import FakeDingTalk, Recorded
from tests.support.live_server import LiveServer, await_job

AUTH = {"authorization": f"Bearer {API_TOKEN}"}
GROUP = "cidGroupA=="
CORP = "dingcorp1"
TENANT = f"dingtalk:{CORP}"


@pytest.fixture
def chat_server(
    start_server: Callable[..., LiveServer], make_settings: Callable[..., Settings]
) -> LiveServer:
    settings = make_settings(
        dingtalk_robot_conversation_id=GROUP,
        public_base_url="https://bot.example.com",
        plugins={"chat": {"mode": "extractive", "import_max_bytes": 200_000}},
    )
    return start_server(settings)


def staff_id(name: str) -> str:
    return "staff" + hashlib.sha256(name.encode()).hexdigest()[:8]


def say(
    server: LiveServer,
    fake: FakeDingTalk,
    text: str,
    *,
    sender: str = "王强",
    at: datetime | None = None,
    corp: str = CORP,
    to_bot: bool = True,
    message_id: str | None = None,
) -> httpx.Response:
    """One signed DingTalk callback, as DingTalk sends it for a group message."""
    now_ms = int(time.time() * 1000)
    body = dingtalk_message(
        text,
        senderNick=sender,
        senderStaffId=staff_id(sender),
        senderId=f"$:LWCP_v1:${staff_id(sender)}",
        chatbotCorpId=corp,
        senderCorpId=corp,
        isInAtList=to_bot,
        sessionWebhook=fake.session_url(),
        sessionWebhookExpiredTime=now_ms + 3_600_000,
    )
    if at is not None:
        body["createAt"] = int(at.timestamp() * 1000)
    if message_id is not None:
        body["msgId"] = message_id
    response = post_dingtalk(server, body)
    assert response.status_code == 200, response.text
    return response


def replay(server: LiveServer, fake: FakeDingTalk, chat: Chat) -> None:
    """Every message of a test chat, as the bot would have seen it (not addressed to it)."""
    for message in chat.messages:
        say(
            server,
            fake,
            message.text,
            sender=message.sender,
            at=message.time,
            to_bot=False,
            message_id=f"{chat.name}-{message.id}",
        )


def inline_text(response: httpx.Response) -> str:
    body = response.json()
    return str(body.get("text", {}).get("content") or body.get("markdown", {}).get("text") or "")


def markdown_of(request: Recorded) -> tuple[str, dict[str, Any]]:
    assert request.body["msgtype"] == "markdown", request.body
    return request.body["markdown"]["text"], request.body.get("at", {})


def test_summary_command_posts_points_decisions_and_todos_with_mentions(
    chat_server: LiveServer, fake_dingtalk: FakeDingTalk
) -> None:
    chat = load("zh_product")
    replay(chat_server, fake_dingtalk, chat)
    # The same conversation id in another company: never part of this group's summary.
    say(chat_server, fake_dingtalk, "机密：并购项目代号青龙", corp="othercorp", to_bot=False)

    accepted = say(chat_server, fake_dingtalk, "/总结 300")
    assert "正在总结最近 300 条消息" in inline_text(accepted)
    [posted] = fake_dingtalk.wait_for(1, timeout=120)
    assert posted.path == "/robot/sendBySession"
    text, at = markdown_of(posted)
    assert text.startswith("### 群聊总结 · 产品周会")
    assert "192 条消息 · 7 人" in text
    assert "抽取式总结" in text
    for heading in ("#### 要点", "#### 决定", "#### 待办"):
        assert heading in text
    assert "3.2发布日期还是12月8日" in text
    # @李娜 回归测试报告周五前发群里 -> 李娜 is mentioned by her staff id, due Friday Dec 4.
    assert f"@{staff_id('李娜')}：" in text
    assert "截止 2026-12-04" in text
    assert set(at["atUserIds"]) >= {staff_id("李娜"), staff_id("张伟"), staff_id("赵磊")}
    assert "青龙" not in text
    assert "正在总结" not in text  # the bot's own command is no chat content


def test_summary_window_errors_and_help(
    chat_server: LiveServer, fake_dingtalk: FakeDingTalk
) -> None:
    wrong = inline_text(say(chat_server, fake_dingtalk, "/summary since tomorrow"))
    assert "Accepted forms" in wrong
    assert "可用的写法" in wrong
    help_text = inline_text(say(chat_server, fake_dingtalk, "/help"))
    assert "/summary" in help_text
    assert "/digest" in help_text
    assert "/privacy" in help_text


def test_a_digest_fires_on_schedule_and_posts_to_the_group(
    chat_server: LiveServer, fake_dingtalk: FakeDingTalk
) -> None:
    runtime = chat_server.runtime  # type: ignore[attr-defined]
    confirmed = inline_text(say(chat_server, fake_dingtalk, "/摘要 每天 18:30"))
    assert "每天 18:30" in confirmed
    key = _conversation_key(TENANT, "dingtalk", GROUP)
    schedule_id = f"chat:digest:{key}"
    [view] = [v for v in runtime.scheduler.list() if v.id == schedule_id]
    assert view.cron == "30 18 * * *"
    status = inline_text(say(chat_server, fake_dingtalk, "/digest"))
    assert "daily at 18:30" in status

    now = datetime.now().astimezone()
    for n, (sender, text) in enumerate(
        [
            ("王强", "今天主要对一下年会的安排"),
            ("李娜", "场地我明天下午前跟酒店确认"),
            ("张伟", "那就这么定了，年会定在12月20日"),
            ("王强", "@张伟 你负责周五前把节目单发群里"),
        ]
    ):
        say(
            chat_server,
            fake_dingtalk,
            text,
            sender=sender,
            at=now - timedelta(minutes=10 - n),
            to_bot=False,
        )

    runtime.scheduler.run_now(schedule_id)  # the schedule fires as APScheduler fires it
    [posted] = fake_dingtalk.wait_for(1, timeout=60)
    assert posted.path == "/robot/send"  # the group robot: a digest answers no message
    text, at = markdown_of(posted)
    assert "年会定在12月20日" in text
    assert f"@{staff_id('张伟')}" in text
    assert staff_id("张伟") in at["atUserIds"]

    # Nothing said since: the next run posts nothing.
    chat_server.call(runtime.scheduler.run("chat", "digest", key, digest_payload(chat_server, key)))
    summaries = chat_server.call(
        runtime.services.records_for("chat").list("summaries", tenant_key=TENANT)
    )
    assert [s.data["kind"] for s in summaries] == ["digest"]
    assert len(fake_dingtalk.requests) == 1

    off = inline_text(say(chat_server, fake_dingtalk, "/摘要 关闭"))
    assert "已关闭" in off
    assert schedule_id not in {v.id for v in runtime.scheduler.list()}


def digest_payload(server: LiveServer, key: str) -> dict[str, Any]:
    """What the stored digest schedule passes its handler."""
    runtime = server.runtime  # type: ignore[attr-defined]
    records = runtime.services.records_for("chat")
    record = server.call(records.get("digests", key, tenant_key=TENANT))
    assert record is not None
    return {k: record.data[k] for k in ("tenant", "platform", "conversation_id", "title", "period")}


def test_a_digest_needs_a_robot_for_the_group(
    start_server: Callable[..., LiveServer],
    make_settings: Callable[..., Settings],
    fake_dingtalk: FakeDingTalk,
) -> None:
    server = start_server(make_settings(plugins={"chat": {"mode": "extractive"}}))
    refused = inline_text(say(server, fake_dingtalk, "/digest daily 18:00"))
    assert "OFFICEBOT_DINGTALK_ROBOT_CONVERSATION_ID" in refused
    assert "cidGroupA==" in refused


def test_privacy_off_stops_storage_and_retention_purges(
    chat_server: LiveServer, fake_dingtalk: FakeDingTalk
) -> None:
    runtime = chat_server.runtime  # type: ignore[attr-defined]
    history = runtime.services.history
    say(chat_server, fake_dingtalk, "这条会被存下来", to_bot=False)
    off = inline_text(say(chat_server, fake_dingtalk, "/隐私 关闭"))
    assert "不再存储" in off
    say(chat_server, fake_dingtalk, "这条不该被存下来：工资单", to_bot=False)
    stored = chat_server.call(history.messages(TENANT, GROUP))
    texts = [m.text for m in stored]
    assert "这条会被存下来" in texts
    assert not any("工资单" in t for t in texts)
    refused = inline_text(say(chat_server, fake_dingtalk, "/总结"))
    assert "/隐私 开启" in refused
    status = inline_text(say(chat_server, fake_dingtalk, "/privacy"))
    assert "off" in status

    on = inline_text(say(chat_server, fake_dingtalk, "/privacy on"))
    assert "On:" in on
    kept = inline_text(say(chat_server, fake_dingtalk, "/隐私 保留 7"))
    assert "7 天" in kept
    removed = history.purge_sync(180, datetime.now().astimezone() + timedelta(days=8))
    assert removed >= 2
    assert chat_server.call(history.messages(TENANT, GROUP)) == []

    say(chat_server, fake_dingtalk, "再存一条：周五前交周报", to_bot=False)
    say(chat_server, fake_dingtalk, "/总结 10")
    [summary] = fake_dingtalk.wait_for(1, timeout=60)
    assert "周五前交周报" in markdown_of(summary)[0]
    records = runtime.services.records_for("chat")
    [stored] = chat_server.call(records.list("summaries", tenant_key=TENANT))
    document = stored.data["document"].removeprefix("https://bot.example.com")
    assert httpx.get(f"{chat_server.url}{document}").status_code == 200
    forgot = inline_text(say(chat_server, fake_dingtalk, "/隐私 清除"))
    assert "已删除本群存储的" in forgot
    assert chat_server.call(history.messages(TENANT, GROUP)) == []
    assert chat_server.call(records.list("summaries", tenant_key=TENANT)) == []
    assert httpx.get(f"{chat_server.url}{document}").status_code == 404


def test_import_and_summaries_api_in_english(chat_server: LiveServer) -> None:
    chat = load("en_eng")
    raw = chat.path.read_bytes()
    url = f"{chat_server.url}/api/conversations/eng-export/messages?tenant=acme"
    imported = httpx.post(url, content=raw, headers={**AUTH, "content-type": "application/json"})
    assert imported.status_code == 201, imported.text
    assert imported.json()["imported"] == len(chat.messages)
    again = httpx.post(url, content=raw, headers={**AUTH, "content-type": "application/json"})
    assert again.json() == {**imported.json(), "imported": 0, "duplicates": len(chat.messages)}

    created = httpx.post(
        f"{chat_server.url}/api/conversations/eng-export/summaries",
        headers=AUTH,
        json={"tenant": "acme", "last": 500},
    )
    assert created.status_code == 202, created.text
    job = await_job(chat_server, created.json()["job_id"])
    assert job["state"] == "succeeded", job
    result = httpx.get(f"{chat_server.url}{created.json()['url']}", headers=AUTH).json()
    assert result["status"] == "done"
    summary = result["result"]
    assert summary["language"] == "en"
    assert summary["messages"] == len(chat.messages)
    todos = {(t["owner"], t["due"]) for t in summary["todos"]}
    expected = {(t["owner"], t["due"]) for t in chat.expected["todos"]}
    assert len(todos & expected) >= len(expected) - 1
    assert {"key_points", "decisions", "open_questions"} <= set(summary)
    document = httpx.get(result["document"].replace("https://bot.example.com", chat_server.url))
    assert document.status_code == 200
    assert "# Chat summary" in document.text

    # Another tenant asks for the same ids: nothing.
    other = httpx.get(
        f"{chat_server.url}/api/conversations/eng-export/summaries/{result['id']}?tenant=other",
        headers=AUTH,
    )
    assert other.status_code == 404
    listed = httpx.get(
        f"{chat_server.url}/api/conversations/eng-export/summaries?tenant=acme", headers=AUTH
    ).json()
    assert [s["id"] for s in listed["summaries"]] == [result["id"]]


def test_bad_imports_and_requests_get_clear_errors(chat_server: LiveServer) -> None:
    url = f"{chat_server.url}/api/conversations/c1/messages"
    csv_headers = {**AUTH, "content-type": "text/csv"}
    bad_csv = httpx.post(url, content=b"who,when\na,b\n", headers=csv_headers)
    assert bad_csv.status_code == 422
    assert "lacks" in bad_csv.json()["error"]["message"]
    good_csv = httpx.post(
        url,
        content="sender,time,text\n王强,2026-11-30 09:00,我周五前交周报\n".encode(),
        headers=csv_headers,
    )
    assert good_csv.status_code == 201, good_csv.text
    wrong_type = httpx.post(url, content=b"x", headers={**AUTH, "content-type": "text/plain"})
    assert wrong_type.status_code == 415
    too_big = httpx.post(
        url,
        content=b"[" + b" " * 300_000 + b"]",
        headers={**AUTH, "content-type": "application/json"},
    )
    assert too_big.status_code == 413
    unauthorized = httpx.post(url, content=b"[]", headers={"content-type": "application/json"})
    assert unauthorized.status_code == 401
    window = httpx.post(
        f"{chat_server.url}/api/conversations/c1/summaries",
        headers=AUTH,
        json={"window": "since the dawn of time"},
    )
    assert window.status_code == 422
    assert "Accepted forms" in window.json()["error"]["message"]
    naive = httpx.post(
        f"{chat_server.url}/api/conversations/c1/summaries",
        headers=AUTH,
        json={"since": "2026-11-30T09:00:00"},
    )
    assert naive.status_code == 422
    assert "timezone" in naive.json()["error"]["message"]
    post_without_robot = httpx.post(
        f"{chat_server.url}/api/conversations/c-unknown/summaries",
        headers=AUTH,
        json={"post": True},
    )
    assert post_without_robot.status_code == 409
