"""officebot's plugin contract and the built-in plugins.

Third-party plugins import from here only: :class:`Plugin`, :class:`Param`, the message types
and the context protocols. Built-in plugins live in ``plugins.builtin`` and use nothing more.
"""

from plugins.context import (
    Artifact,
    Artifacts,
    CommandContext,
    CommandInfo,
    EventContext,
    HttpContext,
    JobContext,
    Record,
    RecordStore,
    ScheduleContext,
    ScheduleControl,
    Services,
    StoredMessage,
)
from plugins.contract import ENTRY_POINT_GROUP, HOOKS, Param, Plugin, PluginDefinitionError
from plugins.events import Attachment, ChatEvent, ConversationType, Mention, ReplyChannel
from plugins.messages import (
    ActionCardMessage,
    Button,
    MarkdownMessage,
    Mentions,
    OutgoingMessage,
    TextMessage,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "HOOKS",
    "ActionCardMessage",
    "Artifact",
    "Artifacts",
    "Attachment",
    "Button",
    "ChatEvent",
    "CommandContext",
    "CommandInfo",
    "ConversationType",
    "EventContext",
    "HttpContext",
    "JobContext",
    "MarkdownMessage",
    "Mention",
    "Mentions",
    "OutgoingMessage",
    "Param",
    "Plugin",
    "PluginDefinitionError",
    "Record",
    "RecordStore",
    "ReplyChannel",
    "ScheduleContext",
    "ScheduleControl",
    "Services",
    "StoredMessage",
    "TextMessage",
]
