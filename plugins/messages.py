"""Outgoing messages a plugin can send: text, markdown and action cards, with @-mentions.

They are platform-neutral values; each platform's sender renders them (DingTalk's robot JSON
first). Text that came from users or a model is never interpreted as markup by these types.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Mentions(BaseModel):
    """Who to @-mention. DingTalk also needs ``@userId`` in the text to render the mention."""

    model_config = ConfigDict(frozen=True)

    user_ids: tuple[str, ...] = ()
    mobiles: tuple[str, ...] = ()
    everyone: bool = False

    def __bool__(self) -> bool:
        return bool(self.user_ids or self.mobiles or self.everyone)


class Button(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str = Field(min_length=1, max_length=64)
    url: str


class TextMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["text"] = "text"
    text: str = Field(min_length=1, max_length=20000)
    mentions: Mentions = Mentions()


class MarkdownMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["markdown"] = "markdown"
    title: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1, max_length=20000)
    mentions: Mentions = Mentions()


class ActionCardMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["actionCard"] = "actionCard"
    title: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1, max_length=20000)
    buttons: tuple[Button, ...] = Field(min_length=1, max_length=8)
    vertical_buttons: bool = True
    mentions: Mentions = Mentions()


OutgoingMessage = TextMessage | MarkdownMessage | ActionCardMessage


def as_message(reply: str | OutgoingMessage) -> OutgoingMessage:
    """Plain strings become text messages."""
    return TextMessage(text=reply) if isinstance(reply, str) else reply


def to_dingtalk(message: OutgoingMessage) -> dict[str, Any]:
    """Render as DingTalk robot JSON (group robot webhook, sessionWebhook, inline reply)."""
    body: dict[str, Any]
    if isinstance(message, TextMessage):
        body = {"msgtype": "text", "text": {"content": message.text}}
    elif isinstance(message, MarkdownMessage):
        body = {"msgtype": "markdown", "markdown": {"title": message.title, "text": message.text}}
    else:
        card: dict[str, Any] = {
            "title": message.title,
            "text": message.text,
            "btnOrientation": "0" if message.vertical_buttons else "1",
        }
        if len(message.buttons) == 1:
            card["singleTitle"] = message.buttons[0].title
            card["singleURL"] = message.buttons[0].url
        else:
            card["btns"] = [{"title": b.title, "actionURL": b.url} for b in message.buttons]
        body = {"msgtype": "actionCard", "actionCard": card}
    if message.mentions:
        body["at"] = {
            "atUserIds": list(message.mentions.user_ids),
            "atMobiles": list(message.mentions.mobiles),
            "isAtAll": message.mentions.everyone,
        }
    return body
