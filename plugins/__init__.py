"""officebot's plugin contract and the built-in plugins.

Third-party plugins import from here only: :class:`Plugin`, :class:`Param`, the message types
and the context protocols. Built-in plugins live in ``plugins.builtin`` and use nothing more.
"""

from plugins.context import (
    Artifact,
    Artifacts,
    ChatHistory,
    CommandContext,
    CommandInfo,
    ConversationPrivacy,
    EventContext,
    HttpContext,
    ImportedMessage,
    ImportResult,
    JobContext,
    Record,
    RecordStore,
    ScheduleContext,
    ScheduleControl,
    Services,
    StoredMessage,
)
from plugins.contract import ENTRY_POINT_GROUP, HOOKS, Param, Plugin, PluginDefinitionError
from plugins.events import (
    Attachment,
    ChatEvent,
    ConversationType,
    Mention,
    Quote,
    ReplyChannel,
)
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
    "ChatHistory",
    "CommandContext",
    "CommandInfo",
    "ConversationPrivacy",
    "ConversationType",
    "EventContext",
    "HttpContext",
    "ImportResult",
    "ImportedMessage",
    "JobContext",
    "MarkdownMessage",
    "Mention",
    "Mentions",
    "OutgoingMessage",
    "Param",
    "Plugin",
    "PluginDefinitionError",
    "Quote",
    "Record",
    "RecordStore",
    "ReplyChannel",
    "ScheduleContext",
    "ScheduleControl",
    "Services",
    "StoredMessage",
    "TextMessage",
]
