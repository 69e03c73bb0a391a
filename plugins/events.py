"""The normalized chat event every platform adapter produces, whatever the platform sent."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ConversationType(StrEnum):
    DIRECT = "direct"
    GROUP = "group"


class Mention(BaseModel):
    """Someone @-mentioned in a message."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    staff_id: str | None = None
    name: str | None = None


class Attachment(BaseModel):
    """A file, picture, audio or video that came with a message (fetched later, by code)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    download_code: str | None = None
    url: str | None = None
    filename: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class Quote(BaseModel):
    """The earlier message a message replies to (quotes), as the platform described it."""

    model_config = ConfigDict(frozen=True)

    message_id: str | None = None
    sender_id: str | None = None
    sender_name: str | None = None
    text: str = ""


class ReplyChannel(BaseModel):
    """How to answer this message later: a per-conversation webhook and when it expires."""

    model_config = ConfigDict(frozen=True)

    url: str
    expires_at: datetime | None = None


class ChatEvent(BaseModel):
    """One incoming chat message, platform-neutral."""

    model_config = ConfigDict(frozen=True)

    platform: str
    tenant_key: str
    conversation_id: str
    conversation_type: ConversationType = ConversationType.GROUP
    conversation_title: str | None = None
    message_id: str
    msgtype: str = "text"
    sender_id: str
    sender_name: str | None = None
    sender_staff_id: str | None = None
    text: str = ""
    mentions: tuple[Mention, ...] = ()
    bot_mentioned: bool = False
    reply_to: str | None = None
    """The platform's id of the message this one replies to (see ``quote``)."""
    quote: Quote | None = None
    attachments: tuple[Attachment, ...] = ()
    sent_at: datetime
    reply_channel: ReplyChannel | None = None
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @property
    def addressed_to_bot(self) -> bool:
        """True when the message was meant for the bot: a direct chat or an @-mention."""
        return self.bot_mentioned or self.conversation_type is ConversationType.DIRECT
