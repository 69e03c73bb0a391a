"""The one interface every platform adapter implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from bot.errors import BadRequestError
from plugins.events import ChatEvent
from plugins.messages import OutgoingMessage


class ChatAdapter(ABC):
    """Verifies and parses one platform's webhook calls, and renders replies for it."""

    platform: ClassVar[str]

    @abstractmethod
    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Raise ``SignatureError`` unless the request is authentic and fresh."""

    @abstractmethod
    def parse(self, body: bytes) -> ChatEvent:
        """Turn a verified body into a ``ChatEvent``; raise ``BadRequestError`` when malformed."""

    @abstractmethod
    def render_reply(self, message: OutgoingMessage) -> dict[str, Any]:
        """The HTTP response body that answers the webhook call with ``message``."""

    def acknowledge(self) -> dict[str, Any]:
        """The HTTP response body when there is nothing to say inline."""
        return {}


def load_json_object(body: bytes) -> dict[str, Any]:
    """Parse a JSON object, with errors that say what was expected."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequestError(f"body must be a JSON object, not {type(data).__name__}")
    return data
