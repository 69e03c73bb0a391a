"""DingTalk enterprise robot callbacks (HTTP mode).

DingTalk POSTs a JSON message when the robot is @-mentioned in a group or messaged directly.
Headers ``timestamp`` (ms) and ``sign`` authenticate it: Base64(HmacSHA256(appSecret,
timestamp + "\\n" + appSecret)); we reject it when the timestamp is more than an hour away
or the signature differs (constant-time compare).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import SecretStr

from bot.adapters.base import ChatAdapter, load_json_object
from bot.adapters.signing import constant_time_equal, dingtalk_sign
from bot.errors import BadRequestError, SignatureError, UnsupportedMessageError
from plugins.events import (
    Attachment,
    ChatEvent,
    ConversationType,
    Mention,
    Quote,
    ReplyChannel,
)
from plugins.messages import OutgoingMessage, to_dingtalk

SUPPORTED_MSGTYPES = ("text", "richText", "picture", "audio", "video", "file")
MAX_HEADER_LENGTH = 256


class DingTalkAdapter(ChatAdapter):
    platform: ClassVar[str] = "dingtalk"

    def __init__(self, app_secret: SecretStr, *, window_s: int = 3600) -> None:
        self._secret = app_secret
        self._window_s = window_s

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        timestamp = headers.get("timestamp")
        sign = headers.get("sign")
        if not timestamp or not sign:
            raise SignatureError("missing 'timestamp' or 'sign' header (DingTalk robot callback)")
        if len(timestamp) > MAX_HEADER_LENGTH or len(sign) > MAX_HEADER_LENGTH:
            raise SignatureError("'timestamp' or 'sign' header is too long")
        try:
            timestamp_ms = int(timestamp)
        except ValueError:
            raise SignatureError(
                "'timestamp' header must be milliseconds since the epoch"
            ) from None
        if abs(now * 1000 - timestamp_ms) > self._window_s * 1000:
            raise SignatureError(
                f"timestamp is more than {self._window_s} s away from the server's clock"
            )
        expected = dingtalk_sign(timestamp, self._secret.get_secret_value())
        if not constant_time_equal(sign, expected):
            raise SignatureError("signature does not match (check the robot's AppSecret)")

    def parse(self, body: bytes) -> ChatEvent:
        data = load_json_object(body)
        msgtype = data.get("msgtype")
        if not isinstance(msgtype, str):
            raise BadRequestError("'msgtype' is missing")
        if msgtype not in SUPPORTED_MSGTYPES:
            raise UnsupportedMessageError(
                f"msgtype {msgtype!r} is not supported; accepted: {', '.join(SUPPORTED_MSGTYPES)}"
            )
        conversation_id = _required_str(data, "conversationId")
        message_id = _required_str(data, "msgId")
        sender_id = _optional_str(data, "senderStaffId") or _required_str(data, "senderId")
        text, attachments = _content(msgtype, data)
        quote = _quote(data)
        tenant = (
            _optional_str(data, "chatbotCorpId") or _optional_str(data, "senderCorpId") or "default"
        )
        return ChatEvent(
            platform=self.platform,
            tenant_key=f"dingtalk:{tenant}",
            conversation_id=conversation_id,
            conversation_type=(
                ConversationType.DIRECT
                if str(data.get("conversationType")) == "1"
                else ConversationType.GROUP
            ),
            conversation_title=_optional_str(data, "conversationTitle"),
            message_id=message_id,
            msgtype=msgtype,
            sender_id=sender_id,
            sender_name=_optional_str(data, "senderNick"),
            sender_staff_id=_optional_str(data, "senderStaffId"),
            text=text,
            mentions=_mentions(data.get("atUsers")),
            bot_mentioned=bool(data.get("isInAtList")),
            reply_to=quote.message_id if quote is not None else None,
            quote=quote,
            attachments=attachments,
            sent_at=_ms_to_datetime(data.get("createAt")) or datetime.now(UTC),
            reply_channel=_reply_channel(data),
            raw=data,
        )

    def render_reply(self, message: OutgoingMessage) -> dict[str, Any]:
        return to_dingtalk(message)


def _required_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequestError(f"{key!r} must be a non-empty string")
    return value


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _ms_to_datetime(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _content(msgtype: str, data: Mapping[str, Any]) -> tuple[str, tuple[Attachment, ...]]:
    if msgtype == "text":
        text = data.get("text")
        if not isinstance(text, dict) or not isinstance(text.get("content"), str):
            raise BadRequestError("text message needs 'text': {'content': '...'}")
        return text["content"].strip(), ()
    content = data.get("content")
    if not isinstance(content, dict):
        raise BadRequestError(f"{msgtype} message needs a 'content' object")
    if msgtype == "richText":
        parts = content.get("richText")
        if not isinstance(parts, list):
            raise BadRequestError("richText message needs 'content': {'richText': [...]}")
        texts: list[str] = []
        pictures: list[Attachment] = []
        for part in parts:
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str):
                texts.append(part["text"])
            code = part.get("downloadCode") or part.get("pictureDownloadCode")
            if isinstance(code, str):
                pictures.append(Attachment(kind="picture", download_code=code, extra=_robot(data)))
        return "".join(texts).strip(), tuple(pictures)
    code = content.get("downloadCode")
    extra = {k: v for k, v in content.items() if k != "downloadCode" and _is_scalar(v)}
    extra.update(_robot(data))
    attachment = Attachment(
        kind=msgtype,
        download_code=code if isinstance(code, str) else None,
        filename=content.get("fileName") if isinstance(content.get("fileName"), str) else None,
        extra=extra,
    )
    # DingTalk transcribes voice messages itself; keep that text so commands work by voice.
    recognition = content.get("recognition")
    text = recognition.strip() if msgtype == "audio" and isinstance(recognition, str) else ""
    return text, (attachment,)


def _quote(data: Mapping[str, Any]) -> Quote | None:
    """The quoted message of a reply. DingTalk sends it, undocumented, as ``text.isReplyMsg``
    and ``text.repliedMsg`` ({msgId, senderId, senderNick, content: {text} or {richText}})."""
    text = data.get("text")
    if not isinstance(text, dict) or not text.get("isReplyMsg"):
        return None
    replied = text.get("repliedMsg")
    if not isinstance(replied, dict):
        return None
    content = replied.get("content")
    quoted = ""
    if isinstance(content, dict):
        if isinstance(content.get("text"), str):
            quoted = content["text"]
        elif isinstance(content.get("richText"), list):
            quoted = "".join(
                part["text"]
                for part in content["richText"]
                if isinstance(part, dict)
                and isinstance(part.get("text"), str)
                and part.get("type", "text") == "text"
            )
    return Quote(
        message_id=_optional_str(replied, "msgId"),
        sender_id=_optional_str(replied, "senderStaffId") or _optional_str(replied, "senderId"),
        sender_name=_optional_str(replied, "senderNick"),
        text=quoted.strip()[:2000],
    )


def _robot(data: Mapping[str, Any]) -> dict[str, Any]:
    """The robot that received the message: its code is needed to download what came with it."""
    code = _optional_str(data, "robotCode")
    return {"robotCode": code} if code else {}


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _mentions(value: Any) -> tuple[Mention, ...]:
    if not isinstance(value, list):
        return ()
    mentions = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("dingtalkId"), str):
            staff = item.get("staffId")
            mentions.append(
                Mention(
                    user_id=item["dingtalkId"], staff_id=staff if isinstance(staff, str) else None
                )
            )
    return tuple(mentions)


def _reply_channel(data: Mapping[str, Any]) -> ReplyChannel | None:
    url = _optional_str(data, "sessionWebhook")
    if url is None:
        return None
    return ReplyChannel(url=url, expires_at=_ms_to_datetime(data.get("sessionWebhookExpiredTime")))
