"""Chat-platform adapters: verify a webhook's signature and turn its body into a ``ChatEvent``."""

from bot.adapters.base import ChatAdapter
from bot.adapters.dingtalk import DingTalkAdapter
from bot.adapters.generic import GenericAdapter

__all__ = ["ChatAdapter", "DingTalkAdapter", "GenericAdapter"]
