"""``POST /webhooks/dingtalk`` end to end: the real app under uvicorn, signed like DingTalk signs,
replies checked inline and at the loopback fake DingTalk, storage checked in the database."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from bot.app import create_app
from bot.registry import PluginRegistry
from bot.runtime import Runtime
from bot.settings import Settings
from bot.storage.models import Conversation, Delivery, Message, Tenant
from plugins import CommandContext, EventContext, Param, Plugin
from tests.conftest import (
    API_TOKEN,
    APP_SECRET,
    GENERIC_SECRET,
    ROBOT_SECRET,
    dingtalk_message,
    post_dingtalk,
    signed_headers,
)
from tests.support.fake_dingtalk import Arrivals, FakeDingTalk
from tests.support.live_server import LiveServer

MAX_BODY = 2048
INLINE_TIMEOUT_S = 0.2
HOUR_MS = 3600 * 1000
SUPPORTED = "text, richText, picture, audio, video, file"


class Gates:
    """Holds a handler on the server's loop until the test opens the gate with its key."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._lock = threading.Lock()
        self.finished: dict[str, threading.Event] = {}

    def _event(self, key: str) -> asyncio.Event:
        with self._lock:
            self.finished.setdefault(key, threading.Event())
            return self._events.setdefault(key, asyncio.Event())

    async def wait(self, key: str) -> None:
        await self._event(key).wait()

    def open(self, server: LiveServer, key: str) -> None:
        event = self._event(key)
        assert server.loop is not None
        server.loop.call_soon_threadsafe(event.set)

    def done(self, key: str) -> None:
        self._event(key)
        self.finished[key].set()


GATES = Gates()
RUNS: dict[str, int] = {}

probe = Plugin(name="probe", description="commands that let the tests steer a handler")


@probe.command("echo", aliases=("回声",), params=(Param("what", type="text"),))
async def echo(ctx: CommandContext) -> None:
    """Replies with its argument."""
    await ctx.reply(str(ctx.args["what"]))


@probe.command("count", params=(Param("key"),))
async def count(ctx: CommandContext) -> None:
    """Counts its runs per key."""
    key = str(ctx.args["key"])
    RUNS[key] = RUNS.get(key, 0) + 1
    await ctx.reply(f"run {RUNS[key]}")


@probe.command("add", params=(Param("a", type="int"), Param("b", type="int")))
async def add(ctx: CommandContext) -> None:
    """Adds two whole numbers."""
    await ctx.reply(str(ctx.args["a"] + ctx.args["b"]))


@probe.command("slow", aliases=("慢",), params=(Param("key"),))
async def slow(ctx: CommandContext) -> None:
    """Replies only after the test opens its gate, long after the inline window."""
    key = str(ctx.args["key"])
    await GATES.wait(key)
    await ctx.reply(f"慢的回复 / slow reply {key}")
    GATES.done(key)


@probe.command("twice", params=(Param("key"),))
async def twice(ctx: CommandContext) -> None:
    """Replies at once (inline), then again later (through the sender)."""
    key = str(ctx.args["key"])
    await ctx.reply("first")
    await GATES.wait(key)
    await ctx.reply(f"second {key}")
    GATES.done(key)


@probe.command("quiet")
async def quiet(ctx: CommandContext) -> None:
    """Does its work without saying anything."""


@probe.command("boom")
async def boom(ctx: CommandContext) -> None:
    """Fails at once."""
    raise ValueError("kaput")


@probe.command("lateboom", params=(Param("key"),))
async def late_boom(ctx: CommandContext) -> None:
    """Fails after the inline window."""
    await GATES.wait(str(ctx.args["key"]))
    raise RuntimeError("too late")


@probe.on_message(msgtypes=("picture",))
async def broken_hook(ctx: EventContext) -> None:
    raise RuntimeError("a broken event hook must not matter")


@pytest.fixture
def fake_dingtalk(shared_fake: FakeDingTalk) -> FakeDingTalk:
    """One fake for the module (stopping one takes half a second); tests read their own part."""
    return shared_fake


class Live:
    """The module's server, one HTTP client for it (a new client costs 30 ms), and its database."""

    def __init__(self, server: LiveServer, runtime: Runtime) -> None:
        self.server = server
        self.runtime = runtime
        self.http = httpx.Client(base_url=server.url, timeout=30)

    def post(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        """Like conftest's post_dingtalk, on the shared client."""
        signed = headers if headers is not None else signed_headers()
        return self.post_raw(orjson.dumps(body), {"content-type": "application/json", **signed})

    def post_raw(
        self, content: Any, headers: dict[str, str], path: str = "/webhooks/dingtalk"
    ) -> httpx.Response:
        return self.http.post(path, content=content, headers=headers)

    def stored(self, msg_id: str) -> list[dict[str, Any]]:
        statement = (
            sa.select(Message, Conversation.external_id.label("cid"), Tenant.key.label("tenant"))
            .join(Conversation, Message.conversation_id == Conversation.id)
            .join(Tenant, Message.tenant_id == Tenant.id)
            .where(Message.external_id == msg_id)
        )
        with self.runtime.engine.connect() as conn:
            return [dict(row) for row in conn.execute(statement).mappings()]

    def deliveries(self, payload: Any) -> list[dict[str, Any]]:
        with self.runtime.engine.connect() as conn:
            rows = conn.execute(sa.select(Delivery).order_by(Delivery.id)).mappings().all()
        return [dict(row) for row in rows if row["payload"] == payload]

    def close(self) -> None:
        self.http.close()
        self.server.stop()


def start_live(fake: FakeDingTalk, data_dir: Path, plugin: Plugin) -> Live:
    """A server with the settings of conftest's make_settings plus a small body limit and a
    short inline window, the built-in plugins and ``plugin``. Modules share one: a server takes
    a quarter second to stop."""
    with pytest.MonkeyPatch.context() as env:
        for key in list(os.environ):
            if key.startswith("OFFICEBOT_") and key != "OFFICEBOT_TEST_POSTGRES_URL":
                env.delenv(key)
        settings = Settings(
            _env_file=None,
            environment="test",
            data_dir=data_dir,
            dingtalk_app_secret=APP_SECRET,
            generic_webhook_secret=GENERIC_SECRET,
            api_token=API_TOKEN,
            dingtalk_robot_webhook=fake.robot_url(),
            dingtalk_robot_secret=ROBOT_SECRET,
            dingtalk_robot_conversation_id=dingtalk_message("")["conversationId"],
            outbound_allowed_hosts=["127.0.0.1"],
            outbound_backoff_s=0.01,
            max_body_bytes=MAX_BODY,
            inline_reply_timeout_s=INLINE_TIMEOUT_S,
            scheduler_enabled=False,
        )
    registry = PluginRegistry(settings)
    registry.discover()
    assert registry.add(plugin) is not None
    runtime = Runtime(settings, registry=registry)
    return Live(LiveServer(create_app(runtime=runtime)).start(), runtime)


@pytest.fixture(scope="module")
def live(shared_fake: FakeDingTalk, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    live = start_live(shared_fake, tmp_path_factory.mktemp("dingtalk") / "data", probe)
    yield live
    live.close()


def json_headers(**overrides: str) -> dict[str, str]:
    return {"content-type": "application/json", **signed_headers(), **overrides}


def now_ms() -> int:
    return int(time.time() * 1000)


def reply_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["msgtype"] == "text", body
    return str(body["text"]["content"])


def assert_error(response: httpx.Response, status: int, code: str, *needles: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    message = str(body["error"]["message"])
    for needle in needles:
        assert needle in message
    return message


def assert_still_serving(live: Live) -> None:
    assert reply_text(live.post(dingtalk_message("/echo 还在 / still here"))) == (
        "还在 / still here"
    )


def session_fields(fake: FakeDingTalk, key: str, expires_in_ms: int = HOUR_MS) -> dict[str, Any]:
    return {
        "sessionWebhook": fake.session_url(key),
        "sessionWebhookExpiredTime": now_ms() + expires_in_ms,
    }


def dingtalk_sign_here(timestamp: str, secret: str) -> str:
    """DingTalk's signature, computed independently of bot.adapters.signing."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


# --- signatures -------------------------------------------------------------------------------


def test_correctly_signed_callback_is_answered(live: Live) -> None:
    timestamp = str(now_ms())
    headers = {"timestamp": timestamp, "sign": dingtalk_sign_here(timestamp, APP_SECRET)}
    response = post_dingtalk(live.server, dingtalk_message("/help"), headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["msgtype"] == "markdown"
    assert "/help" in body["markdown"]["text"]
    assert "/echo" in body["markdown"]["text"]


@pytest.mark.parametrize(
    ("age_ms", "within"),
    [
        (-59 * 60 * 1000, True),
        (59 * 60 * 1000, True),
        (-HOUR_MS - 60_000, False),
        (HOUR_MS + 60_000, False),
    ],
    ids=["59-min-old", "59-min-ahead", "61-min-old", "61-min-ahead"],
)
def test_timestamp_window_is_one_hour_either_way(live: Live, age_ms: int, within: bool) -> None:
    message = dingtalk_message("/echo on time")
    response = live.post(message, headers=signed_headers(timestamp_ms=now_ms() + age_ms))
    if within:
        assert reply_text(response) == "on time"
    else:
        assert_error(response, 401, "invalid_signature", "3600 s")
        assert live.stored(message["msgId"]) == []


def fresh() -> str:
    return str(now_ms())


@pytest.mark.parametrize(
    ("headers", "needle"),
    [
        (lambda: signed_headers(secret="wrong-secret"), "signature does not match"),
        (lambda: {"sign": signed_headers()["sign"]}, "missing 'timestamp' or 'sign'"),
        (lambda: {"timestamp": fresh()}, "missing 'timestamp' or 'sign'"),
        (lambda: {"timestamp": fresh(), "sign": ""}, "missing 'timestamp' or 'sign'"),
        (
            lambda: {"timestamp": "yesterday", "sign": dingtalk_sign_here("yesterday", APP_SECRET)},
            "milliseconds",
        ),
        (
            lambda: {"timestamp": "1.7e12", "sign": dingtalk_sign_here("1.7e12", APP_SECRET)},
            "milliseconds",
        ),
        # a signature captured earlier cannot be reused with a fresh timestamp
        (
            lambda: {
                "timestamp": fresh(),
                "sign": signed_headers(timestamp_ms=now_ms() - 5000)["sign"],
            },
            "signature does not match",
        ),
        (lambda: {"timestamp": fresh(), "sign": "A" * 300}, "too long"),
        # seconds instead of milliseconds: 55 years ago
        (lambda: signed_headers(timestamp_ms=int(time.time())), "away from the server's clock"),
    ],
    ids=[
        "wrong-secret",
        "no-timestamp",
        "no-sign",
        "empty-sign",
        "non-numeric",
        "float",
        "replayed-sign",
        "overlong-sign",
        "seconds-not-ms",
    ],
)
def test_bad_signatures_are_refused(
    live: Live, headers: Callable[[], dict[str, str]], needle: str
) -> None:
    message = dingtalk_message("/count never")
    response = live.post_raw(
        orjson.dumps(message), {"content-type": "application/json", **headers()}
    )
    assert_error(response, 401, "invalid_signature", needle)
    assert live.stored(message["msgId"]) == []
    assert "never" not in RUNS


def test_signature_is_checked_before_the_body_is_parsed(live: Live) -> None:
    headers = {"content-type": "application/json", **signed_headers(secret="wrong")}
    assert_error(live.post_raw(b"{not json", headers), 401, "invalid_signature")


def test_dingtalk_signature_does_not_cover_the_body(live: Live) -> None:
    """DingTalk signs only timestamp + "\\n" + appSecret: one valid header pair accepts any body
    for the hour of its window. That is DingTalk's scheme (the generic webhook signs the body
    and refuses a tampered one); the window is what bounds a replay."""
    headers = signed_headers()
    original = dingtalk_message("/echo original")
    tampered = dingtalk_message("/echo tampered")
    assert reply_text(live.post(original, headers=headers)) == "original"
    assert reply_text(live.post(tampered, headers=headers)) == "tampered"
    assert live.stored(tampered["msgId"])[0]["text"] == "/echo tampered"


# --- bad input --------------------------------------------------------------------------------


def too_big() -> bytes:
    message = dingtalk_message("/echo " + "长" * MAX_BODY)
    return orjson.dumps(message)


def chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 512):
        yield data[start : start + 512]


@pytest.mark.parametrize(
    ("content", "headers", "status", "code", "needle"),
    [
        (b'{"msgtype": "text", ', {}, 400, "bad_request", "body is not valid JSON"),
        (b"", {}, 400, "bad_request", "body is not valid JSON"),
        (b'[{"msgtype": "text"}]', {}, 400, "bad_request", "must be a JSON object, not list"),
        (b'"text"', {}, 400, "bad_request", "must be a JSON object, not str"),
        (
            orjson.dumps(dingtalk_message("hi")),
            {"content-type": "text/plain"},
            415,
            "unsupported_media_type",
            "Content-Type must be application/json, got 'text/plain'",
        ),
        (
            orjson.dumps(dingtalk_message("hi")),
            {"content-type": "application/x-www-form-urlencoded"},
            415,
            "unsupported_media_type",
            "application/x-www-form-urlencoded",
        ),
        (too_big(), {}, 413, "payload_too_large", f"the limit is {MAX_BODY} bytes"),
        (chunks(too_big()), {}, 413, "payload_too_large", f"exceeds the limit of {MAX_BODY}"),
    ],
    ids=[
        "truncated-json",
        "empty-body",
        "json-array",
        "json-string",
        "text-plain",
        "form",
        "too-large",
        "too-large-chunked",
    ],
)
def test_bad_bodies_are_refused_and_the_server_keeps_working(
    live: Live, content: Any, headers: dict[str, str], status: int, code: str, needle: str
) -> None:
    response = live.post_raw(content, json_headers(**headers))
    assert_error(response, status, code, needle)
    assert_still_serving(live)


def test_charset_in_the_content_type_is_fine(live: Live) -> None:
    message = dingtalk_message("/echo utf-8 好")
    response = live.post_raw(
        orjson.dumps(message),
        json_headers(**{"content-type": "Application/JSON; charset=utf-8"}),
    )
    assert reply_text(response) == "utf-8 好"


def test_body_exactly_at_the_limit_is_accepted(live: Live) -> None:
    message = dingtalk_message("/echo x")
    padding = MAX_BODY - len(orjson.dumps(message))
    message["text"]["content"] = "/echo " + "x" * (padding + 1)
    content = orjson.dumps(message)
    assert len(content) == MAX_BODY
    assert reply_text(live.post_raw(content, json_headers())) == "x" * (padding + 1)
    assert_error(live.post_raw(content + b" ", json_headers()), 413, "payload_too_large")


def without(key: str) -> dict[str, Any]:
    message = dingtalk_message("/echo hi")
    del message[key]
    return message


@pytest.mark.parametrize(
    ("message", "status", "code", "needle"),
    [
        (
            dingtalk_message("hi", msgtype="interactiveCard"),
            422,
            "unsupported_msgtype",
            f"msgtype 'interactiveCard' is not supported; accepted: {SUPPORTED}",
        ),
        (without("msgtype"), 400, "bad_request", "'msgtype' is missing"),
        (without("conversationId"), 400, "bad_request", "'conversationId' must be"),
        (without("msgId"), 400, "bad_request", "'msgId' must be a non-empty string"),
        (dingtalk_message("hi", msgId=""), 400, "bad_request", "'msgId' must be"),
        (dingtalk_message("hi", conversationId=12345), 400, "bad_request", "'conversationId'"),
        (dict(dingtalk_message("hi"), text="plain"), 400, "bad_request", "'text': {'content'"),
        (
            dingtalk_message("hi", senderStaffId=None, senderId=None),
            400,
            "bad_request",
            "'senderId'",
        ),
        (dingtalk_message("", msgtype="picture"), 400, "bad_request", "'content' object"),
    ],
    ids=[
        "unknown-msgtype",
        "no-msgtype",
        "no-conversation",
        "no-msgid",
        "empty-msgid",
        "numeric-conversation",
        "text-not-object",
        "no-sender",
        "picture-without-content",
    ],
)
def test_malformed_messages_are_refused(
    live: Live, message: dict[str, Any], status: int, code: str, needle: str
) -> None:
    assert_error(live.post(message), status, code, needle)
    assert_still_serving(live)


def test_unknown_platform_is_a_json_404(live: Live) -> None:
    response = live.post_raw(b"{}", json_headers(), path="/webhooks/feishu")
    assert_error(response, 404, "not_found", "'feishu'", "dingtalk, generic")


def test_wrong_method_is_a_json_405(live: Live) -> None:
    response = live.http.get("/webhooks/dingtalk")
    assert_error(response, 405, "method_not_allowed")


async def post_in_process(
    settings: Settings, path: str, content: bytes, headers: dict[str, str]
) -> httpx.Response:
    """One request to the real app in process: enough where the answer needs nothing started
    (no storage, no workers), and a live server would cost a quarter second to stop."""
    runtime = Runtime(settings)
    transport = httpx.ASGITransport(app=create_app(runtime=runtime))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://officebot") as client:
            return await client.post(path, content=content, headers=headers)
    finally:
        runtime.engine.dispose()


async def test_webhook_without_secret_answers_503_naming_the_setting(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(environment="development", dingtalk_app_secret=None)
    content = orjson.dumps(dingtalk_message("/help"))
    response = await post_in_process(settings, "/webhooks/dingtalk", content, json_headers())
    assert_error(response, 503, "not_configured", "OFFICEBOT_DINGTALK_APP_SECRET")


async def test_disabled_webhook_answers_503_naming_the_setting(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(webhooks=["generic"])
    content = orjson.dumps(dingtalk_message("/help"))
    response = await post_in_process(settings, "/webhooks/dingtalk", content, json_headers())
    message = assert_error(response, 503, "not_configured", "OFFICEBOT_WEBHOOKS")
    assert "APP_SECRET" not in message


# --- storage ----------------------------------------------------------------------------------


def test_message_is_stored_before_the_answer(live: Live) -> None:
    message = dingtalk_message(
        "  /echo 会议纪要 minutes  ", atUsers=[{"dingtalkId": "$:LWCP_v1:$bot", "staffId": "s9"}]
    )
    assert reply_text(live.post(message)) == "会议纪要 minutes"
    [row] = live.stored(message["msgId"])  # committed before the 200 was sent
    assert row["tenant"] == "dingtalk:dingcorp1"
    assert row["cid"] == "cidGroupA=="
    assert row["text"] == "/echo 会议纪要 minutes"
    assert (row["sender_id"], row["sender_name"]) == ("staff001", "张三")
    assert row["mentions"] == [{"user_id": "$:LWCP_v1:$bot", "staff_id": "s9"}]
    assert row["sent_at"].timestamp() == pytest.approx(message["createAt"] / 1000)
    assert row["raw"] == message


@pytest.mark.parametrize(
    "text", ["今天下午三点开会，记得带电脑。", "Lunch at noon?", "hello bot", ""]
)
def test_plain_messages_are_stored_and_get_an_empty_ack(live: Live, text: str) -> None:
    message = dingtalk_message(text)
    response = live.post(message)
    assert response.status_code == 200
    assert response.json() == {}
    assert [row["text"] for row in live.stored(message["msgId"])] == [text]


def test_duplicate_delivery_is_stored_once_and_not_run_twice(live: Live) -> None:
    key = uuid.uuid4().hex
    message = dingtalk_message(f"/count {key}")
    assert reply_text(live.post(message)) == "run 1"
    again = live.post(message)
    assert again.status_code == 200
    assert again.json() == {}
    assert RUNS[key] == 1
    assert len(live.stored(message["msgId"])) == 1
    # The same msgId in another conversation is another message.
    elsewhere = dict(message, conversationId="cidGroupB==")
    assert reply_text(live.post(elsewhere)) == "run 2"


def test_other_message_types_are_stored_with_their_attachments(live: Live) -> None:
    picture = dingtalk_message(
        "", msgtype="picture", content={"downloadCode": "dc-pic-1", "pictureDownloadCode": "x"}
    )
    del picture["text"]
    response = live.post(picture)  # its event hook fails: no matter
    assert (response.status_code, response.json()) == (200, {})
    [row] = live.stored(picture["msgId"])
    assert row["msgtype"] == "picture"
    assert row["attachments"] == [
        {"kind": "picture", "download_code": "dc-pic-1", "extra": {"pictureDownloadCode": "x"}}
    ]

    rich = dingtalk_message(
        "",
        msgtype="richText",
        content={"richText": [{"text": "/echo 图"}, {"downloadCode": "dc-2"}, {"text": "文"}]},
    )
    assert reply_text(live.post(rich)) == "图文"
    assert live.stored(rich["msgId"])[0]["attachments"] == [
        {"kind": "picture", "download_code": "dc-2", "extra": {}}
    ]


def test_voice_messages_work_through_dingtalks_transcript(live: Live) -> None:
    voice = dingtalk_message(
        "",
        msgtype="audio",
        conversationType="1",
        isInAtList=False,
        content={"downloadCode": "dc-voice", "duration": 2300, "recognition": "回声 语音命令"},
    )
    assert reply_text(live.post(voice)) == "语音命令"
    [row] = live.stored(voice["msgId"])
    assert row["attachments"] == [
        {
            "kind": "audio",
            "download_code": "dc-voice",
            "extra": {"duration": 2300, "recognition": "回声 语音命令"},
        }
    ]


# --- commands -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "overrides"),
    [
        ("/帮助", {}),
        ("／帮助", {}),
        ("/HELP", {}),
        ("帮助", {"isInAtList": True}),
        ("help", {"isInAtList": True}),
        ("帮助", {"isInAtList": False, "conversationType": "1"}),
        ("/帮助", {"isInAtList": False}),  # a slash command needs no @-mention
    ],
    ids=[
        "slash-alias",
        "fullwidth-slash",
        "upper-case",
        "bare-mentioned",
        "bare-english",
        "bare-direct-chat",
        "slash-not-mentioned",
    ],
)
def test_help_in_its_spellings(live: Live, text: str, overrides: dict[str, Any]) -> None:
    response = live.post(dingtalk_message(text, **overrides))
    assert response.status_code == 200
    body = response.json()
    assert body["msgtype"] == "markdown"
    assert "可用命令 / Commands" in body["markdown"]["text"]


def test_bare_word_in_a_group_without_mention_is_only_stored(live: Live) -> None:
    message = dingtalk_message("帮助", isInAtList=False, atUsers=[])
    response = live.post(message)
    assert (response.status_code, response.json()) == (200, {})
    assert len(live.stored(message["msgId"])) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "/foo",
            "未知命令 /foo，发送 /help 查看可用命令。\n"
            "Unknown command /foo; send /help for the list.",
        ),
        (
            "／查询 明天",
            "未知命令 /查询，发送 /help 查看可用命令。\n"
            "Unknown command /查询; send /help for the list.",
        ),
    ],
)
def test_unknown_command_gets_a_bilingual_hint(live: Live, text: str, expected: str) -> None:
    assert reply_text(live.post(dingtalk_message(text))) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "/help a b",
            "多余的参数 / unexpected: b\n用法 / Usage: /help [command]\n"
            "  command: show one command's usage",
        ),
        ("/add 1 x", "<b> 应为整数 / must be a whole number, got 'x'\n用法 / Usage: /add <a> <b>"),
        ("/add 1", "缺少参数 / missing <b>\n用法 / Usage: /add <a> <b>"),
        ("/echo", "缺少参数 / missing <what>\n用法 / Usage: /echo <what...>"),
    ],
)
def test_usage_errors_answer_with_the_usage(live: Live, text: str, expected: str) -> None:
    assert reply_text(live.post(dingtalk_message(text))) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/add 2 40", "42"),
        ("/add　2　40", "42"),
        ("/echo 你好，世界！", "你好，世界！"),
        ("/回声 “引号” stays", "“引号” stays"),
        ("/echo Hello, world", "Hello, world"),
        (
            "/help 帮助",
            "/help [command]\n列出命令及用法 / List commands and their usage\n"
            "别名 / Aliases: /帮助、/?\n插件 / Plugin: help",
        ),
    ],
)
def test_quick_replies_come_inline(live: Live, text: str, expected: str) -> None:
    assert reply_text(live.post(dingtalk_message(text))) == expected


# --- replies later, errors --------------------------------------------------------------------


def test_slow_reply_goes_to_the_session_webhook(
    live: Live, fake_dingtalk: FakeDingTalk, arrivals: Arrivals
) -> None:
    key = uuid.uuid4().hex
    message = dingtalk_message(f"/慢 {key}", **session_fields(fake_dingtalk, key))
    started = time.monotonic()
    response = live.post(message)
    assert time.monotonic() - started >= INLINE_TIMEOUT_S
    assert (response.status_code, response.json()) == (200, {})
    assert arrivals.received == []

    GATES.open(live.server, key)
    [request] = arrivals.wait_for(1)
    assert (request.path, request.query) == ("/robot/sendBySession", {"session": key})
    assert request.body == {"msgtype": "text", "text": {"content": f"慢的回复 / slow reply {key}"}}
    assert GATES.finished[key].wait(10)
    [row] = live.stored(message["msgId"])
    [delivery] = live.deliveries(request.body)
    assert delivery["channel"] == "session"
    assert delivery["target"] == f"{fake_dingtalk.base_url}/robot/sendBySession"
    assert (delivery["tenant_id"], delivery["conversation_id"]) == (
        row["tenant_id"],
        row["conversation_id"],
    )
    assert delivery["state"] == "sent"


@pytest.mark.parametrize(
    "expires_in_ms", [-60_000, 2 * 60_000], ids=["expired", "expires-within-the-margin"]
)
def test_slow_reply_without_a_usable_session_goes_to_the_group_robot(
    live: Live, fake_dingtalk: FakeDingTalk, arrivals: Arrivals, expires_in_ms: int
) -> None:
    key = uuid.uuid4().hex
    message = dingtalk_message(f"/slow {key}", **session_fields(fake_dingtalk, key, expires_in_ms))
    response = live.post(message)
    assert (response.status_code, response.json()) == (200, {})

    GATES.open(live.server, key)
    [request] = arrivals.wait_for(1)
    assert request.path == "/robot/send"
    assert request.query["access_token"] == "test-token"
    assert request.query["sign"] == dingtalk_sign_here(request.query["timestamp"], ROBOT_SECRET)
    assert request.body == {"msgtype": "text", "text": {"content": f"慢的回复 / slow reply {key}"}}
    assert GATES.finished[key].wait(10)
    [delivery] = live.deliveries(request.body)
    assert (delivery["channel"], delivery["target"], delivery["state"]) == (
        "robot",
        "default",
        "sent",
    )


@pytest.mark.parametrize("conversation_type", ["1", "2"], ids=["direct", "other-group"])
def test_late_reply_never_goes_to_another_groups_robot(
    live: Live, fake_dingtalk: FakeDingTalk, conversation_type: str
) -> None:
    key = uuid.uuid4().hex
    message = dingtalk_message(
        f"/slow {key}",
        conversationId=f"cidNotTheRobotsGroup{key}",
        conversationType=conversation_type,
        **session_fields(fake_dingtalk, key, -60_000),
    )
    assert live.post(message).status_code == 200
    before = len(fake_dingtalk.requests)
    GATES.open(live.server, key)
    assert GATES.finished[key].wait(10)
    body = {"msgtype": "text", "text": {"content": f"慢的回复 / slow reply {key}"}}
    [delivery] = live.deliveries(body)
    assert (delivery["state"], delivery["channel"]) == ("failed", "none")
    assert "no group robot configured for this conversation" in delivery["errmsg"]
    assert len(fake_dingtalk.requests) == before  # nothing was posted anywhere


def test_first_reply_inline_later_ones_through_the_session(
    live: Live, fake_dingtalk: FakeDingTalk, arrivals: Arrivals
) -> None:
    key = uuid.uuid4().hex
    message = dingtalk_message(f"/twice {key}", **session_fields(fake_dingtalk, key))
    assert reply_text(live.post(message)) == "first"
    GATES.open(live.server, key)
    [request] = arrivals.wait_for(1)
    assert request.query == {"session": key}
    assert request.body == {"msgtype": "text", "text": {"content": f"second {key}"}}


def test_handler_that_says_nothing_gets_an_empty_ack(live: Live) -> None:
    response = live.post(dingtalk_message("/quiet"))
    assert (response.status_code, response.json()) == (200, {})


def test_failing_handler_gets_a_friendly_reply_and_the_server_keeps_working(
    live: Live,
) -> None:
    text = reply_text(live.post(dingtalk_message("/boom")))
    assert text == "抱歉，/boom 出错了 / Sorry, /boom failed: ValueError"
    assert "kaput" not in text  # internal details stay in the log
    assert_still_serving(live)


def test_late_failure_is_reported_through_the_session(
    live: Live, fake_dingtalk: FakeDingTalk, arrivals: Arrivals
) -> None:
    key = uuid.uuid4().hex
    message = dingtalk_message(f"/lateboom {key}", **session_fields(fake_dingtalk, key))
    response = live.post(message)
    assert (response.status_code, response.json()) == (200, {})
    GATES.open(live.server, key)
    [request] = arrivals.wait_for(1)
    assert request.query == {"session": key}
    assert request.body == {
        "msgtype": "text",
        "text": {"content": "抱歉，/lateboom 出错了 / Sorry, /lateboom failed: RuntimeError"},
    }
    assert_still_serving(live)


def test_unknown_slash_word_not_addressed_to_the_bot_is_only_stored(live: Live) -> None:
    message = dingtalk_message("/shrug 随便", isInAtList=False, atUsers=[])
    response = live.post(message)
    assert (response.status_code, response.json()) == (200, {})
    assert len(live.stored(message["msgId"])) == 1


async def test_concurrent_retries_of_one_message_run_the_command_once(live: Live) -> None:
    """DingTalk retries a callback it thinks timed out; copies may arrive at the same time."""
    key = uuid.uuid4().hex
    content = orjson.dumps(dingtalk_message(f"/count {key}"))
    async with httpx.AsyncClient(base_url=live.server.url, timeout=30) as client:
        responses = await asyncio.gather(
            *(
                client.post("/webhooks/dingtalk", content=content, headers=json_headers())
                for _ in range(8)
            )
        )
    assert [r.status_code for r in responses] == [200] * 8
    bodies = [r.json() for r in responses]
    assert sorted(bodies, key=len) == [{}] * 7 + [{"msgtype": "text", "text": {"content": "run 1"}}]
    assert RUNS[key] == 1


def test_session_webhook_outside_the_allow_list_is_never_called(
    live: Live,
    fake_dingtalk: FakeDingTalk,
    arrivals: Arrivals,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The body (and so its sessionWebhook) is not covered by DingTalk's signature: the outbound
    allow-list is what keeps a forged body from making the bot post anywhere."""
    key = uuid.uuid4().hex
    rogue = fake_dingtalk.session_url(key).replace("127.0.0.1", "localhost")
    message = dingtalk_message(
        f"/slow {key}", sessionWebhook=rogue, sessionWebhookExpiredTime=now_ms() + HOUR_MS
    )
    assert live.post(message).json() == {}
    GATES.open(live.server, key)
    live.server.call(live.runtime.dispatcher.drain(grace_s=10))  # the handler has finished
    assert "outbound host 'localhost' is not allowed" in caplog.text
    assert arrivals.received == []
    assert not GATES.finished[key].is_set()
    assert_still_serving(live)
