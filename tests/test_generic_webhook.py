"""``POST /webhooks/generic`` end to end: our own HMAC scheme over timestamp and raw body,
schema errors that name the field, and replies inline or at the message's ``reply_url``."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest

from bot.settings import Settings
from plugins import CommandContext, Param, Plugin
from tests.conftest import GENERIC_SECRET
from tests.support.fake_dingtalk import Arrivals, FakeDingTalk
from tests.test_dingtalk_webhook import (
    INLINE_TIMEOUT_S,
    Gates,
    Live,
    assert_error,
    post_in_process,
    start_live,
)

GATES = Gates()

integration = Plugin(name="integration", description="commands for the generic webhook tests")


@integration.command("echo", params=(Param("what", type="text"),))
async def echo(ctx: CommandContext) -> None:
    await ctx.reply(str(ctx.args["what"]))


@integration.command("later", params=(Param("key"),))
async def later(ctx: CommandContext) -> None:
    key = str(ctx.args["key"])
    await GATES.wait(key)
    await ctx.reply(f"稍后 / later {key}")
    GATES.done(key)


@pytest.fixture
def fake_dingtalk(shared_fake: FakeDingTalk) -> FakeDingTalk:
    return shared_fake


@pytest.fixture
def arrivals(fake_dingtalk: FakeDingTalk) -> Arrivals:
    return Arrivals(fake_dingtalk)


@pytest.fixture(scope="module")
def live(shared_fake: FakeDingTalk, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    live = start_live(shared_fake, tmp_path_factory.mktemp("generic") / "data", integration)
    yield live
    live.close()


def generic_message(text: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "tenant": "acme",
        "conversation": "ticket-1234",
        "conversation_title": "工单 #1234",
        "id": f"evt-{uuid.uuid4().hex}",
        "sender": "u-42",
        "sender_name": "李四",
        "text": text,
        "time": "2026-11-29T09:30:00+08:00",
    }
    body.update(overrides)
    return body


def sign(
    body: bytes, secret: str = GENERIC_SECRET, timestamp: int | str | None = None
) -> dict[str, str]:
    """The documented scheme, computed here independently of bot.adapters.signing."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "content-type": "application/json",
        "X-Officebot-Timestamp": stamp,
        "X-Officebot-Signature": f"sha256={mac}",
    }


def post(
    live: Live, message: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    content = orjson.dumps(message)
    return live.post_raw(content, headers or sign(content), path="/webhooks/generic")


def reply_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"reply"}
    return dict(body["reply"])


NO_MENTIONS = {"user_ids": [], "mobiles": [], "everyone": False}


def test_signed_message_gets_its_reply_inline(live: Live) -> None:
    message = generic_message("/echo 已收到 / received")
    assert reply_of(post(live, message)) == {
        "kind": "text",
        "text": "已收到 / received",
        "mentions": NO_MENTIONS,
    }
    [row] = live.stored(message["id"])
    assert (row["tenant"], row["cid"], row["sender_id"]) == ("generic:acme", "ticket-1234", "u-42")
    assert row["sent_at"].isoformat() == "2026-11-29T01:30:00+00:00"


def test_markdown_reply_keeps_its_kind(live: Live) -> None:
    reply = reply_of(post(live, generic_message("/help")))
    assert reply["kind"] == "markdown"
    assert reply["title"] == "officebot 命令 / commands"
    assert "/echo" in reply["text"]


@pytest.mark.parametrize("skew", [-299, 299], ids=["299-s-old", "299-s-ahead"])
def test_timestamps_within_five_minutes_are_accepted(live: Live, skew: int) -> None:
    content = orjson.dumps(generic_message("/echo ok"))
    headers = sign(content, timestamp=int(time.time()) + skew)
    response = live.post_raw(content, headers, path="/webhooks/generic")
    assert reply_of(response)["text"] == "ok"


def tampered(content: bytes) -> tuple[bytes, dict[str, str]]:
    return content.replace(b"/echo hi", b"/echo HI"), sign(content)


def header_case(
    change: Callable[[bytes], dict[str, str]],
) -> Callable[[bytes], tuple[bytes, dict[str, str]]]:
    return lambda content: (content, change(content))


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        (header_case(lambda c: sign(c, secret="not-the-secret")), "signature does not match"),
        (header_case(lambda c: sign(c, timestamp=int(time.time()) - 301)), "300 s"),
        (header_case(lambda c: sign(c, timestamp=int(time.time()) + 301)), "300 s"),
        (header_case(lambda c: sign(c, timestamp=int(time.time() * 1000))), "300 s"),
        (tampered, "signature does not match"),
        (
            header_case(lambda c: {**sign(c), "X-Officebot-Timestamp": str(int(time.time()) - 1)}),
            "signature does not match",
        ),
        (
            header_case(
                lambda c: {k: v for k, v in sign(c).items() if k != "X-Officebot-Timestamp"}
            ),
            "missing X-Officebot-Timestamp or X-Officebot-Signature",
        ),
        (
            header_case(
                lambda c: {k: v for k, v in sign(c).items() if k != "X-Officebot-Signature"}
            ),
            "missing X-Officebot-Timestamp or X-Officebot-Signature",
        ),
        (
            header_case(
                lambda c: {**sign(c), "X-Officebot-Signature": sign(c)["X-Officebot-Signature"][7:]}
            ),
            "sha256=<hex>",
        ),
        (header_case(lambda c: sign(c, timestamp="soon")), "Unix seconds"),
        (
            header_case(lambda c: {**sign(c), "X-Officebot-Signature": "sha256=" + "0" * 200}),
            "too long",
        ),
    ],
    ids=[
        "wrong-secret",
        "stale",
        "future",
        "milliseconds",
        "tampered-body",
        "timestamp-changed",
        "no-timestamp",
        "no-signature",
        "no-sha256-prefix",
        "non-numeric-timestamp",
        "overlong-signature",
    ],
)
def test_bad_signatures_are_refused(
    live: Live, case: Callable[[bytes], tuple[bytes, dict[str, str]]], needle: str
) -> None:
    message = generic_message("/echo hi")
    content, headers = case(orjson.dumps(message))
    response = live.post_raw(content, headers, path="/webhooks/generic")
    assert_error(response, 401, "invalid_signature", needle)
    assert live.stored(message["id"]) == []


def test_body_signature_covers_every_byte(live: Live) -> None:
    """Even whitespace: the HMAC is over the raw body, not over the parsed JSON."""
    content = orjson.dumps(generic_message("/echo hi"))
    response = live.post_raw(content + b"\n", sign(content), path="/webhooks/generic")
    assert_error(response, 401, "invalid_signature")
    response = live.post_raw(content + b"\n", sign(content + b"\n"), path="/webhooks/generic")
    assert reply_of(response)["text"] == "hi"


def without(key: str) -> dict[str, Any]:
    message = generic_message("hi")
    del message[key]
    return message


@pytest.mark.parametrize(
    ("message", "needle"),
    [
        (without("conversation"), "conversation: Field required"),
        (without("id"), "id: Field required"),
        (without("text"), "text: Field required"),
        (generic_message("hi", tenant=""), "tenant: String should have at least 1 character"),
        (generic_message("hi", mentions="bob"), "mentions: Input should be a valid list"),
        (generic_message("hi", channel="x"), "channel: Extra inputs are not permitted"),
        (generic_message("hi", sender=42), "sender: Input should be a valid string"),
        (generic_message("hi", time="yesterday"), "time: Input should be a valid datetime"),
        (generic_message("hi", time="2026-11-29T09:30:00"), "'time' must carry a timezone"),
    ],
    ids=[
        "no-conversation",
        "no-id",
        "no-text",
        "empty-tenant",
        "mentions-not-list",
        "unknown-field",
        "sender-not-string",
        "bad-time",
        "naive-time",
    ],
)
def test_schema_errors_name_the_field(live: Live, message: dict[str, Any], needle: str) -> None:
    assert_error(post(live, message), 400, "bad_request", needle)
    assert reply_of(post(live, generic_message("/echo still fine")))["text"] == "still fine"


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"[1, 2]", "must be a JSON object, not list"), (b"{'a': 1}", "not valid JSON")],
)
def test_non_objects_are_refused(live: Live, content: bytes, needle: str) -> None:
    response = live.post_raw(content, sign(content), path="/webhooks/generic")
    assert_error(response, 400, "bad_request", needle)


def test_wrong_content_type_is_refused(live: Live) -> None:
    content = orjson.dumps(generic_message("/echo hi"))
    headers = {**sign(content), "content-type": "text/plain; charset=utf-8"}
    assert_error(
        live.post_raw(content, headers, path="/webhooks/generic"), 415, "unsupported_media_type"
    )


def test_duplicate_event_is_stored_once(live: Live) -> None:
    message = generic_message("/echo once")
    assert reply_of(post(live, message))["text"] == "once"
    again = post(live, message)
    assert (again.status_code, again.json()) == (200, {})
    assert len(live.stored(message["id"])) == 1


@pytest.mark.parametrize(
    ("text", "to_bot", "direct", "answered"),
    [
        ("/echo yes", False, False, True),  # a slash command needs no addressing
        ("echo yes", True, False, True),
        ("echo yes", False, True, True),
        ("echo yes", False, False, False),
        ("/nosuch", False, False, False),
    ],
)
def test_addressing(live: Live, text: str, to_bot: bool, direct: bool, answered: bool) -> None:
    response = post(live, generic_message(text, to_bot=to_bot, direct=direct))
    if answered:
        assert reply_of(response)["text"] == "yes"
    else:
        assert (response.status_code, response.json()) == (200, {})


def test_slow_reply_is_posted_to_the_reply_url(
    live: Live, fake_dingtalk: FakeDingTalk, arrivals: Arrivals
) -> None:
    key = uuid.uuid4().hex
    reply_url = f"{fake_dingtalk.base_url}/integration/reply?ticket={key}"
    started = time.monotonic()
    response = post(live, generic_message(f"/later {key}", reply_url=reply_url))
    assert time.monotonic() - started >= INLINE_TIMEOUT_S
    assert (response.status_code, response.json()) == (200, {})
    GATES.open(live.server, key)
    [request] = arrivals.wait_for(1)
    assert (request.path, request.query) == ("/integration/reply", {"ticket": key})
    assert request.body == {
        "reply": {"kind": "text", "text": f"稍后 / later {key}", "mentions": NO_MENTIONS}
    }
    assert GATES.finished[key].wait(10)
    [delivery] = live.deliveries(request.body)
    assert (delivery["channel"], delivery["msgtype"], delivery["state"]) == (
        "session",
        "reply",
        "sent",
    )
    assert delivery["target"] == f"{fake_dingtalk.base_url}/integration/reply"


def test_slow_reply_without_reply_url_never_goes_to_the_dingtalk_robot(
    live: Live, arrivals: Arrivals
) -> None:
    key = uuid.uuid4().hex
    response = post(live, generic_message(f"/later {key}"))
    assert (response.status_code, response.json()) == (200, {})
    GATES.open(live.server, key)
    assert GATES.finished[key].wait(10)  # the handler's reply() has returned
    assert arrivals.received == []
    [delivery] = live.deliveries({"msgtype": "text", "text": {"content": f"稍后 / later {key}"}})
    assert (delivery["state"], delivery["channel"]) == ("failed", "none")  # recorded, not sent


async def test_generic_webhook_without_secret_answers_503(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(environment="development", generic_webhook_secret=None)
    content = orjson.dumps(generic_message("/help"))
    response = await post_in_process(settings, "/webhooks/generic", content, sign(content))
    assert_error(response, 503, "not_configured", "OFFICEBOT_GENERIC_WEBHOOK_SECRET")
