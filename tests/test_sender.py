"""The outbound sender against the loopback fake DingTalk: signing, rendering, rate limits,
retries, the deliveries table, and the outbound host allow-list."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from bot.errors import NotConfiguredError, OutboundNotAllowedError
from bot.sender import Robot, Sender
from bot.settings import RobotSettings, Settings
from bot.storage.database import make_engine, upgrade
from bot.storage.models import Delivery
from plugins import (
    ActionCardMessage,
    Button,
    MarkdownMessage,
    Mentions,
    OutgoingMessage,
    ReplyChannel,
    TextMessage,
)
from tests.conftest import ROBOT_SECRET
from tests.support.fake_dingtalk import Arrivals, FakeDingTalk, Scripted

THROTTLED = Scripted(
    body={"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
)


@pytest.fixture
def fake_dingtalk(shared_fake: FakeDingTalk) -> FakeDingTalk:
    """One fake for the module (stopping one takes half a second); tests read their own part."""
    return shared_fake


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('sender') / 'officebot.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


class Ledger:
    """The deliveries table, as far as this test wrote it."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        with engine.connect() as conn:
            self._after = conn.scalar(sa.select(sa.func.max(Delivery.id))) or 0

    def rows(self) -> list[dict[str, Any]]:
        statement = sa.select(Delivery).where(Delivery.id > self._after).order_by(Delivery.id)
        with self._engine.connect() as conn:
            return [dict(row) for row in conn.execute(statement).mappings()]


@pytest.fixture
def ledger(engine: sa.Engine) -> Ledger:
    return Ledger(engine)


# One TLS context for the tests' clients: building one per client costs 25 ms.
TLS = ssl.create_default_context()


@pytest.fixture
async def make_sender(
    make_settings: Callable[..., Settings], engine: sa.Engine
) -> AsyncIterator[Callable[..., Sender]]:
    """Senders on a test client; ``default_client=True`` lets the sender build its own."""
    senders: list[Sender] = []
    clients: list[httpx.AsyncClient] = []

    def build(
        client: httpx.AsyncClient | None = None, default_client: bool = False, **overrides: Any
    ) -> Sender:
        if client is None and not default_client:
            client = httpx.AsyncClient(verify=TLS, timeout=10)
            clients.append(client)
        sender = Sender(make_settings(**overrides), engine, client=client)
        senders.append(sender)
        return sender

    yield build
    for sender in senders:
        await sender.close()
    for client in clients:
        await client.aclose()


@pytest.fixture
def sender(make_sender: Callable[..., Sender]) -> Sender:
    return make_sender()


def expected_sign(timestamp: str, secret: str) -> str:
    """DingTalk's robot signature, computed here independently of bot.adapters.signing."""
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def text(content: str) -> TextMessage:
    return TextMessage(text=content)


async def test_robot_url_is_signed_and_keeps_its_access_token(
    make_sender: Callable[..., Sender], arrivals: Arrivals, ledger: Ledger
) -> None:
    sender = make_sender(default_client=True)
    before_ms = int(time.time() * 1000)
    result = await sender.send_to_robot(sender.robot(), text("周报已生成 / weekly report ready"))
    after_ms = int(time.time() * 1000)

    assert (result.sent, result.attempts, result.errcode, result.errmsg) == (True, 1, 0, "ok")
    [request] = arrivals.wait_for(1)
    assert request.path == "/robot/send"
    assert set(request.query) == {"access_token", "timestamp", "sign"}
    assert request.query["access_token"] == "test-token"
    timestamp = request.query["timestamp"]
    assert before_ms <= int(timestamp) <= after_ms
    assert request.query["sign"] == expected_sign(timestamp, ROBOT_SECRET)
    assert request.headers["content-type"] == "application/json"
    assert request.body == {
        "msgtype": "text",
        "text": {"content": "周报已生成 / weekly report ready"},
    }
    [row] = ledger.rows()
    assert row["id"] == result.delivery_id
    assert (row["channel"], row["target"], row["msgtype"]) == ("robot", "default", "text")
    assert (row["state"], row["attempts"], row["errcode"], row["errmsg"]) == ("sent", 1, 0, "ok")
    assert row["payload"] == request.body
    assert row["finished_at"] is not None


async def test_robot_without_secret_is_not_signed(
    make_sender: Callable[..., Sender], fake_dingtalk: FakeDingTalk, arrivals: Arrivals
) -> None:
    sender = make_sender(
        environment="development",
        robots={"plain": RobotSettings(webhook=fake_dingtalk.robot_url("plain"))},
    )
    result = await sender.send_to_robot(sender.robot("PLAIN"), text("hi"))
    assert result.sent
    [request] = arrivals.wait_for(1)
    assert request.query == {"access_token": "plain"}


async def test_unknown_robot_name_lists_the_configured_ones(
    make_sender: Callable[..., Sender], fake_dingtalk: FakeDingTalk
) -> None:
    sender = make_sender(
        robots={"ops": RobotSettings(webhook=fake_dingtalk.robot_url("ops"), secret="SEC-ops-1")}
    )
    assert sender.robot("Ops").name == "ops"
    assert sender.robot(None).name == "default"
    with pytest.raises(NotConfiguredError, match=r"'sales'.*configured: default, ops"):
        sender.robot("sales")


MENTIONS = Mentions(user_ids=("user123",), mobiles=("13800000000",))


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            TextMessage(text="@user123 请看一下 / please have a look", mentions=MENTIONS),
            {
                "msgtype": "text",
                "text": {"content": "@user123 请看一下 / please have a look"},
                "at": {"atUserIds": ["user123"], "atMobiles": ["13800000000"], "isAtAll": False},
            },
        ),
        (
            MarkdownMessage(
                title="会议纪要",
                text="### 会议纪要\n- 决定: 发布 v2",
                mentions=Mentions(everyone=True),
            ),
            {
                "msgtype": "markdown",
                "markdown": {"title": "会议纪要", "text": "### 会议纪要\n- 决定: 发布 v2"},
                "at": {"atUserIds": [], "atMobiles": [], "isAtAll": True},
            },
        ),
        (
            ActionCardMessage(
                title="审批",
                text="报销单待审批 / expense claim to approve",
                buttons=(Button(title="查看 / View", url="https://example.com/claims/1"),),
                mentions=Mentions(user_ids=("boss01",)),
            ),
            {
                "msgtype": "actionCard",
                "actionCard": {
                    "title": "审批",
                    "text": "报销单待审批 / expense claim to approve",
                    "btnOrientation": "0",
                    "singleTitle": "查看 / View",
                    "singleURL": "https://example.com/claims/1",
                },
                "at": {"atUserIds": ["boss01"], "atMobiles": [], "isAtAll": False},
            },
        ),
        (
            ActionCardMessage(
                title="投票 / Vote",
                text="选一个 / pick one",
                buttons=(
                    Button(title="同意", url="https://example.com/v?a=1"),
                    Button(title="反对", url="https://example.com/v?a=0"),
                ),
                vertical_buttons=False,
                mentions=Mentions(mobiles=("13900000000",)),
            ),
            {
                "msgtype": "actionCard",
                "actionCard": {
                    "title": "投票 / Vote",
                    "text": "选一个 / pick one",
                    "btnOrientation": "1",
                    "btns": [
                        {"title": "同意", "actionURL": "https://example.com/v?a=1"},
                        {"title": "反对", "actionURL": "https://example.com/v?a=0"},
                    ],
                },
                "at": {"atUserIds": [], "atMobiles": ["13900000000"], "isAtAll": False},
            },
        ),
        (
            MarkdownMessage(title="t", text="no mentions: no 'at' key"),
            {"msgtype": "markdown", "markdown": {"title": "t", "text": "no mentions: no 'at' key"}},
        ),
    ],
    ids=["text", "markdown", "action-card-single", "action-card-buttons", "no-mentions"],
)
async def test_messages_render_as_dingtalk_json(
    sender: Sender, arrivals: Arrivals, message: OutgoingMessage, expected: dict[str, Any]
) -> None:
    result = await sender.send_to_robot(sender.robot(), message)
    assert result.sent
    [request] = arrivals.wait_for(1)
    assert request.body == expected


async def test_rate_limit_queues_and_never_drops(
    make_sender: Callable[..., Sender], arrivals: Arrivals, ledger: Ledger
) -> None:
    sender = make_sender(robot_rate_limit=3, robot_rate_window_s=0.5)
    robot = sender.robot()
    results = await asyncio.gather(
        *(sender.send_to_robot(robot, text(f"消息 {n}")) for n in range(7))
    )

    assert all(r.sent and r.attempts == 1 for r in results)
    received = sorted(arrivals.wait_for(7), key=lambda r: r.at)
    assert sorted(r.body["text"]["content"] for r in received) == [f"消息 {n}" for n in range(7)]
    times = [r.at for r in received]
    # No four arrivals within any 0.5 s: DingTalk would have throttled the robot.
    spans = [times[i + 3] - times[i] for i in range(len(times) - 3)]
    assert min(spans) >= 0.5, spans
    assert [row["state"] for row in ledger.rows()] == ["sent"] * 7


async def test_throttled_robot_waits_out_the_penalty_then_retries(
    make_sender: Callable[..., Sender],
    fake_dingtalk: FakeDingTalk,
    arrivals: Arrivals,
    ledger: Ledger,
) -> None:
    sender = make_sender(robot_throttle_penalty_s=0.2)
    fake_dingtalk.script(THROTTLED)
    result = await sender.send_to_robot(sender.robot(), text("retry me"))

    assert (result.sent, result.attempts, result.errcode) == (True, 2, 0)
    first, second = arrivals.wait_for(2)
    assert second.at - first.at >= 0.2  # the robot's queue is held for the penalty
    assert first.body == second.body
    assert second.query["timestamp"] >= first.query["timestamp"]
    [row] = ledger.rows()
    assert (row["state"], row["attempts"]) == ("sent", 2)


@pytest.mark.parametrize(
    "failure",
    [
        Scripted(status=502, body={"errmsg": "bad gateway"}),
        Scripted(status=503, body="<html>busy</html>"),
        Scripted(drop=True),
    ],
    ids=["502", "503-not-json", "dropped-connection"],
)
async def test_transient_failures_are_retried(
    sender: Sender,
    fake_dingtalk: FakeDingTalk,
    arrivals: Arrivals,
    failure: Scripted,
    ledger: Ledger,
) -> None:
    fake_dingtalk.script(failure)
    result = await sender.send_to_robot(sender.robot(), text("again"))
    assert (result.sent, result.attempts) == (True, 2)
    received = arrivals.wait_for(2)
    assert [r.body for r in received] == [{"msgtype": "text", "text": {"content": "again"}}] * 2
    for request in received:  # every attempt is signed afresh
        assert request.query["sign"] == expected_sign(request.query["timestamp"], ROBOT_SECRET)
    assert [(row["state"], row["attempts"]) for row in ledger.rows()] == [("sent", 2)]


async def test_too_many_requests_waits_for_retry_after(
    sender: Sender, fake_dingtalk: FakeDingTalk, arrivals: Arrivals, ledger: Ledger
) -> None:
    fake_dingtalk.script(
        Scripted(status=429, body={"errmsg": "slow down"}, headers={"Retry-After": "0.3"})
    )
    result = await sender.send_to_robot(sender.robot(), text("patience"))
    assert (result.sent, result.attempts) == (True, 2)
    first, second = arrivals.wait_for(2)
    assert second.at - first.at >= 0.3
    assert [(row["state"], row["attempts"]) for row in ledger.rows()] == [("sent", 2)]


async def test_retries_exhausted_marks_the_delivery_failed(
    make_sender: Callable[..., Sender],
    fake_dingtalk: FakeDingTalk,
    arrivals: Arrivals,
    ledger: Ledger,
) -> None:
    sender = make_sender(outbound_max_retries=2)
    busy = Scripted(status=503, body={"errcode": -1, "errmsg": "系统繁忙"})
    fake_dingtalk.script(busy, busy, busy)
    result = await sender.send_to_robot(sender.robot(), text("lost?"))

    assert (result.sent, result.attempts) == (False, 3)
    assert (result.errcode, result.errmsg) == (-1, "HTTP 503: 系统繁忙")
    assert len(arrivals.received) == 3
    [row] = ledger.rows()
    assert (row["state"], row["attempts"], row["errcode"], row["errmsg"]) == (
        "failed",
        3,
        -1,
        "HTTP 503: 系统繁忙",
    )
    assert (await sender.send_to_robot(sender.robot(), text("next"))).sent


async def test_network_errors_exhausted_are_recorded(
    make_sender: Callable[..., Sender],
    fake_dingtalk: FakeDingTalk,
    arrivals: Arrivals,
    ledger: Ledger,
) -> None:
    sender = make_sender(outbound_max_retries=1)
    fake_dingtalk.script(Scripted(drop=True), Scripted(drop=True))
    result = await sender.send_to_robot(sender.robot(), text("x"))
    assert (result.sent, result.attempts, result.errcode) == (False, 2, None)
    assert result.errmsg == "network error: RemoteProtocolError"
    assert len(arrivals.received) == 2
    [row] = ledger.rows()
    assert (row["state"], row["errmsg"]) == ("failed", "network error: RemoteProtocolError")


@pytest.mark.parametrize(
    ("response", "errcode", "errmsg"),
    [
        (Scripted(body={"errcode": 310000, "errmsg": "sign not match"}), 310000, "sign not match"),
        (
            Scripted(status=400, body={"errcode": 40035, "errmsg": "缺少参数 json"}),
            40035,
            "HTTP 400: 缺少参数 json",
        ),
        (Scripted(status=404, body={}), None, "HTTP 404"),
    ],
    ids=["errcode-310000", "http-400", "http-404"],
)
async def test_permanent_errors_are_not_retried(
    sender: Sender,
    fake_dingtalk: FakeDingTalk,
    arrivals: Arrivals,
    ledger: Ledger,
    response: Scripted,
    errcode: int | None,
    errmsg: str,
) -> None:
    fake_dingtalk.script(response)
    result = await sender.send_to_robot(sender.robot(), text("once"))
    assert (result.sent, result.attempts, result.errcode, result.errmsg) == (
        False,
        1,
        errcode,
        errmsg,
    )
    # The call has returned, so any retry would already have reached the fake.
    assert len(arrivals.received) == 1
    [row] = ledger.rows()
    assert (row["state"], row["attempts"], row["errcode"], row["errmsg"]) == (
        "failed",
        1,
        errcode,
        errmsg,
    )


async def test_session_webhook_delivery(
    sender: Sender, fake_dingtalk: FakeDingTalk, arrivals: Arrivals, ledger: Ledger
) -> None:
    channel = ReplyChannel(
        url=fake_dingtalk.session_url("sess-42"),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    result = await sender.send_to_session(
        channel, MarkdownMessage(title="结果", text="**完成** / done")
    )
    assert result.sent
    [request] = arrivals.wait_for(1)
    assert (request.path, request.query) == ("/robot/sendBySession", {"session": "sess-42"})
    assert request.body == {
        "msgtype": "markdown",
        "markdown": {"title": "结果", "text": "**完成** / done"},
    }
    [row] = ledger.rows()
    assert (row["channel"], row["target"], row["state"]) == (
        "session",
        f"{fake_dingtalk.base_url}/robot/sendBySession",
        "sent",
    )


async def test_generic_session_gets_the_generic_reply_format(
    sender: Sender, fake_dingtalk: FakeDingTalk, arrivals: Arrivals
) -> None:
    channel = ReplyChannel(url=f"{fake_dingtalk.base_url}/hooks/reply")
    assert (await sender.send_to_session(channel, text("好的"), platform="generic")).sent
    [request] = arrivals.wait_for(1)
    assert request.body == {
        "reply": {
            "kind": "text",
            "text": "好的",
            "mentions": {"user_ids": [], "mobiles": [], "everyone": False},
        }
    }


@pytest.mark.parametrize(
    "expires_in", [timedelta(minutes=-1), timedelta(minutes=2)], ids=["expired", "about-to-expire"]
)
async def test_expired_session_webhook_is_not_called(
    sender: Sender,
    fake_dingtalk: FakeDingTalk,
    arrivals: Arrivals,
    ledger: Ledger,
    expires_in: timedelta,
) -> None:
    channel = ReplyChannel(
        url=fake_dingtalk.session_url(), expires_at=datetime.now(UTC) + expires_in
    )
    result = await sender.send_to_session(channel, text("too late"))
    assert (result.sent, result.attempts, result.errmsg) == (False, 0, "session webhook expired")
    assert arrivals.received == []
    [row] = ledger.rows()
    assert (row["state"], row["errmsg"]) == ("failed", "session webhook expired")


async def test_secrets_never_reach_the_deliveries_table_or_the_log(
    make_sender: Callable[..., Sender],
    fake_dingtalk: FakeDingTalk,
    arrivals: Arrivals,
    ledger: Ledger,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = "tok-TOPSECRET-4711"
    session_secret = "sess-TOPSECRET-0815"
    sender = make_sender(dingtalk_robot_webhook=fake_dingtalk.robot_url(token))
    fake_dingtalk.script(Scripted(status=500, body={"errmsg": "oops"}))
    await sender.send_to_robot(sender.robot(), text("robot"))
    await sender.send_to_session(
        ReplyChannel(url=fake_dingtalk.session_url(session_secret)), text("session")
    )
    received = arrivals.wait_for(3)
    signs = {r.query["sign"] for r in received if "sign" in r.query}
    assert len(signs) == 2
    secrets = [token, session_secret, "access_token", *signs]

    rows = ledger.rows()
    assert [(row["channel"], row["target"], row["state"]) for row in rows] == [
        ("robot", "default", "sent"),
        ("session", f"{fake_dingtalk.base_url}/robot/sendBySession", "sent"),
    ]
    dumped = repr(rows)
    assert not [secret for secret in secrets if secret in dumped]
    assert "HTTP Request: POST" in caplog.text  # httpx did log the requests ...
    assert not [secret for secret in secrets if secret in caplog.text]  # ... without secrets


@pytest.mark.parametrize(
    "url",
    [
        "https://oapi.dingtalk.com/robot/send?access_token=t",
        "http://localhost:{port}/robot/send?access_token=t",
        "http://127.0.0.1@evil.example:{port}/robot/send",
        "http://127.0.0.1.evil.example:{port}/robot/send",
    ],
    ids=["default-dingtalk-host", "localhost", "userinfo-trick", "suffix-trick"],
)
async def test_hosts_outside_the_allow_list_are_refused(
    sender: Sender, fake_dingtalk: FakeDingTalk, arrivals: Arrivals, ledger: Ledger, url: str
) -> None:
    url = url.format(port=httpx.URL(fake_dingtalk.base_url).port)
    with pytest.raises(OutboundNotAllowedError, match="OFFICEBOT_OUTBOUND_ALLOWED_HOSTS"):
        await sender.send_to_robot(Robot("rogue", url, None), text("x"))
    with pytest.raises(OutboundNotAllowedError):
        await sender.send_to_session(ReplyChannel(url=url), text("x"))
    assert arrivals.received == []
    assert ledger.rows() == []


async def test_a_client_passed_in_is_used_and_left_open(
    make_sender: Callable[..., Sender], arrivals: Arrivals
) -> None:
    seen: list[str] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async with httpx.AsyncClient(event_hooks={"request": [record]}) as client:
        sender = make_sender(client=client)
        assert (await sender.send_to_robot(sender.robot(), text("via my client"))).sent
        await sender.close()
        assert not client.is_closed
    assert seen == ["/robot/send"]
    assert len(arrivals.wait_for(1)) == 1


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/robot/send",
        "http://127.0.0.1:99999/robot/send",
        "http://127.0.0.1:0/robot/send",
        "http://127.0.0.1:http/robot/send",
    ],
    ids=["not-http", "port-out-of-range", "port-zero", "port-not-a-number"],
)
async def test_unusable_urls_on_an_allowed_host_are_refused(
    sender: Sender, ledger: Ledger, url: str
) -> None:
    """A sessionWebhook comes from a callback body, which DingTalk's signature does not cover."""
    with pytest.raises(OutboundNotAllowedError, match=r"must be http\(s\) with a valid port"):
        await sender.send_to_session(ReplyChannel(url=url), text("x"))
    assert ledger.rows() == []


async def test_an_unexpected_client_error_still_finishes_the_delivery(
    make_sender: Callable[..., Sender], arrivals: Arrivals, ledger: Ledger
) -> None:
    async def explode(request: httpx.Request) -> None:
        raise RuntimeError("a broken HTTP stack")

    async with httpx.AsyncClient(event_hooks={"request": [explode]}) as client:
        sender = make_sender(client=client)
        result = await sender.send_to_robot(sender.robot(), text("x"))
    assert (result.sent, result.attempts, result.errmsg) == (False, 1, "error: RuntimeError")
    assert arrivals.received == []
    assert [(row["state"], row["errmsg"]) for row in ledger.rows()] == [
        ("failed", "error: RuntimeError")
    ]


async def test_deliveries_left_queued_by_a_crash_are_resent_at_start(
    make_sender: Callable[..., Sender], engine: sa.Engine, arrivals: Arrivals, ledger: Ledger
) -> None:
    payload = {"msgtype": "text", "text": {"content": "会议纪要已生成 / minutes are ready"}}
    with engine.begin() as conn:  # what a process that died mid-queue leaves behind
        for channel, target in (("robot", "default"), ("session", "http://127.0.0.1/s")):
            conn.execute(
                sa.insert(Delivery).values(
                    channel=channel,
                    target=target,
                    msgtype="text",
                    payload=payload,
                    state="queued",
                    attempts=0,
                    created_at=datetime.now(UTC),
                )
            )
    sender = make_sender()
    assert await sender.resume_queued() == 1
    await asyncio.wait_for(sender.resumed(), 10)
    [request] = arrivals.wait_for(1)
    assert request.path == "/robot/send"
    assert request.body == payload
    assert request.query["sign"] == expected_sign(request.query["timestamp"], ROBOT_SECRET)
    robot_row, session_row = ledger.rows()
    assert (robot_row["state"], robot_row["attempts"]) == ("sent", 1)
    assert session_row["state"] == "failed"
    assert session_row["errmsg"] == "interrupted by a restart before it was sent"
