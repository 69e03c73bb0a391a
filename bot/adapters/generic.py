"""The generic JSON webhook for integrations (ticketing, CI, home-grown chat, scripts).

Request: ``POST /webhooks/generic`` with ``Content-Type: application/json`` and headers
``X-Officebot-Timestamp`` (Unix seconds) and ``X-Officebot-Signature: sha256=<hex>``, the
HMAC-SHA256 of ``timestamp + "." + raw body`` keyed with ``OFFICEBOT_GENERIC_WEBHOOK_SECRET``.
Requests more than five minutes away from the server's clock are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from bot.adapters.base import ChatAdapter, load_json_object
from bot.adapters.signing import constant_time_equal, generic_signature
from bot.errors import BadRequestError, SignatureError
from plugins.events import ChatEvent, ConversationType, Mention, ReplyChannel
from plugins.messages import OutgoingMessage

TIMESTAMP_HEADER = "x-officebot-timestamp"
SIGNATURE_HEADER = "x-officebot-signature"


class GenericMessage(BaseModel):
    """The body of a generic webhook call."""

    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(min_length=1, max_length=100)
    conversation: str = Field(min_length=1, max_length=256)
    conversation_title: str | None = Field(default=None, max_length=512)
    direct: bool = False
    id: str = Field(min_length=1, max_length=256)
    sender: str = Field(min_length=1, max_length=256)
    sender_name: str | None = Field(default=None, max_length=256)
    text: str = Field(max_length=100_000)
    time: datetime | None = None
    reply_to: str | None = Field(default=None, max_length=256)
    mentions: list[str] = Field(default_factory=list, max_length=100)
    to_bot: bool = True
    reply_url: str | None = Field(default=None, max_length=2048)


class GenericAdapter(ChatAdapter):
    platform: ClassVar[str] = "generic"

    def __init__(self, secret: SecretStr, *, window_s: int = 300) -> None:
        self._secret = secret
        self._window_s = window_s

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        timestamp = headers.get(TIMESTAMP_HEADER)
        signature = headers.get(SIGNATURE_HEADER)
        if not timestamp or not signature:
            raise SignatureError("missing X-Officebot-Timestamp or X-Officebot-Signature header")
        if len(timestamp) > 32 or len(signature) > 128:
            raise SignatureError("signature headers are too long")
        try:
            seconds = int(timestamp)
        except ValueError:
            raise SignatureError("X-Officebot-Timestamp must be Unix seconds") from None
        if abs(now - seconds) > self._window_s:
            raise SignatureError(
                f"X-Officebot-Timestamp is more than {self._window_s} s from the server's clock"
            )
        if not signature.startswith("sha256="):
            raise SignatureError("X-Officebot-Signature must look like sha256=<hex>")
        expected = generic_signature(timestamp, body, self._secret.get_secret_value())
        if not constant_time_equal(signature, expected):
            raise SignatureError("signature does not match")

    def parse(self, body: bytes) -> ChatEvent:
        data = load_json_object(body)
        try:
            message = GenericMessage.model_validate(data)
        except ValidationError as exc:
            details = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
                for err in exc.errors()
            )
            raise BadRequestError(f"invalid generic message: {details}") from None
        sent_at = message.time or datetime.now(UTC)
        if sent_at.tzinfo is None:
            raise BadRequestError("'time' must carry a timezone, e.g. 2026-11-29T09:30:00+08:00")
        return ChatEvent(
            platform=self.platform,
            tenant_key=f"generic:{message.tenant}",
            conversation_id=message.conversation,
            conversation_type=ConversationType.DIRECT if message.direct else ConversationType.GROUP,
            conversation_title=message.conversation_title,
            message_id=message.id,
            sender_id=message.sender,
            sender_name=message.sender_name,
            text=message.text.strip(),
            mentions=tuple(Mention(user_id=m) for m in message.mentions),
            bot_mentioned=message.to_bot,
            reply_to=message.reply_to,
            sent_at=sent_at,
            reply_channel=ReplyChannel(url=message.reply_url) if message.reply_url else None,
            raw=data,
        )

    def render_reply(self, message: OutgoingMessage) -> dict[str, Any]:
        return {"reply": message.model_dump(mode="json")}
