"""What a plugin's handlers receive. The bot implements these protocols; plugins only use them.

Plugins never import ``bot``: everything they may do (reply, read stored messages, enqueue a
job, schedule work) goes through the context objects below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from llm.service import LLM
from plugins.events import Attachment, ChatEvent, Mention, Quote
from plugins.messages import OutgoingMessage

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CommandInfo:
    """A command as listed by ``/help``."""

    plugin: str
    name: str
    aliases: tuple[str, ...]
    summary: str
    usage: str


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A chat message as stored, for plugins that read history."""

    id: int
    conversation_id: str
    message_id: str
    sender_id: str
    sender_name: str | None
    text: str
    msgtype: str
    sent_at: datetime
    reply_to: str | None
    mentions: tuple[Mention, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    quote: Quote | None = None


@dataclass(frozen=True, slots=True)
class ImportedMessage:
    """One message of an exported chat, for ``ChatHistory.import_messages``."""

    message_id: str
    """Unique within the conversation; importing the same id again is a no-op."""
    sender: str
    """The sender's display name."""
    sent_at: datetime
    """Timezone-aware."""
    text: str
    sender_id: str | None = None
    reply_to: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportResult:
    imported: int
    duplicates: int
    """Messages whose id was stored already (an import run twice adds nothing)."""


@dataclass(frozen=True, slots=True)
class ConversationPrivacy:
    """Whether a conversation's messages are stored, and how long they are kept."""

    storing: bool
    retention_days: int | None
    """This conversation's own retention period; None: the default."""


class ChatHistory(Protocol):
    """The stored messages of every conversation, per tenant. A query names its tenant and
    conversation, and returns nothing of any other."""

    async def messages(
        self,
        tenant_key: str,
        conversation_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        last: int | None = None,
        limit: int = 10_000,
    ) -> Sequence[StoredMessage]:
        """Messages sent in ``[since, until)``, oldest first: the newest ``last`` of them when
        given, and never more than ``limit`` (the newest)."""
        ...

    async def import_messages(
        self,
        tenant_key: str,
        conversation_id: str,
        messages: Sequence[ImportedMessage],
        *,
        platform: str = "dingtalk",
        title: str | None = None,
    ) -> ImportResult:
        """Store an exported chat in one transaction: all of it, or nothing."""
        ...

    async def privacy(
        self, tenant_key: str, conversation_id: str, *, platform: str
    ) -> ConversationPrivacy: ...

    async def set_storing(
        self, tenant_key: str, conversation_id: str, *, platform: str, storing: bool
    ) -> ConversationPrivacy:
        """Start or stop storing the conversation's messages (from the next message on)."""
        ...

    async def set_retention(
        self, tenant_key: str, conversation_id: str, *, platform: str, days: int | None
    ) -> ConversationPrivacy:
        """Keep this conversation's messages ``days`` days (None: the default period)."""
        ...

    async def forget(self, tenant_key: str, conversation_id: str) -> int:
        """Delete every stored message of the conversation; returns how many."""
        ...

    async def purge(self, *, default_retention_days: int | None) -> int:
        """Delete messages older than their conversation's retention period (or the default;
        None keeps them), and content-free rows older than a day; returns how many."""
        ...


@dataclass(frozen=True, slots=True)
class Record:
    """One JSON document a plugin stored (see ``RecordStore``)."""

    collection: str
    key: str
    tenant_key: str
    data: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime


class RecordStore(Protocol):
    """A plugin's own JSON documents, kept in the bot's database, separated per tenant.

    Bound to one plugin: a plugin sees only its own records, and every call names the tenant,
    so one tenant's data is never returned for another."""

    async def put(
        self, collection: str, key: str, data: Mapping[str, Any], *, tenant_key: str
    ) -> None:
        """Insert or replace the document ``key`` of ``collection``."""
        ...

    async def get(self, collection: str, key: str, *, tenant_key: str) -> Record | None: ...

    async def find(self, collection: str, key: str) -> Record | None:
        """The document ``key`` whatever its tenant (for admin APIs behind the API token)."""
        ...

    async def list(
        self,
        collection: str,
        *,
        tenant_key: str,
        limit: int = 100,
        where: Mapping[str, Any] | None = None,
    ) -> Sequence[Record]:
        """Newest first; ``where`` keeps documents whose top-level fields equal these values."""
        ...

    async def delete(self, collection: str, key: str, *, tenant_key: str) -> bool: ...

    async def purge(self, collection: str, *, updated_before: datetime) -> Sequence[Record]:
        """Delete, in every tenant, the documents last written before ``updated_before``
        (retention); returns what was deleted."""
        ...


@dataclass(frozen=True, slots=True)
class Artifact:
    """A stored file (report, archive, image) with its download link."""

    id: str
    filename: str
    content_type: str
    size: int
    url: str
    """Absolute when ``OFFICEBOT_PUBLIC_BASE_URL`` is set, else a path on this server."""


class Artifacts(Protocol):
    """Files served by id under an unguessable link (shared in chat, so no API token)."""

    async def save(
        self,
        data: bytes,
        filename: str,
        *,
        content_type: str,
        tenant_key: str | None = None,
        plugin: str | None = None,
    ) -> Artifact: ...

    async def delete(self, artifact_id: str) -> bool:
        """Remove a stored file and its link (retention); False when there was none."""
        ...


class Services(Protocol):
    """The bot's services, shared by every context."""

    @property
    def llm(self) -> LLM:
        """The shared local model (loaded on first use; queue it, never block the loop)."""
        ...

    async def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        tenant_key: str | None = None,
        origin: ChatEvent | None = None,
        priority: int = 0,
    ) -> str:
        """Queue a persistent background job; returns its id. ``origin`` lets the job reply."""
        ...

    async def recent_messages(
        self, tenant_key: str, conversation_id: str, limit: int = 100
    ) -> Sequence[StoredMessage]:
        """The newest stored messages of one conversation of one tenant, oldest first."""
        ...

    @property
    def history(self) -> ChatHistory:
        """Every stored message: windows of a conversation, imports, privacy, retention."""
        ...

    @property
    def timezone(self) -> str:
        """The bot's timezone (IANA name, ``OFFICEBOT_TIMEZONE``): schedules run in it, and
        times people write in chat ("18:00", "昨天") mean it."""
        ...

    def can_post_to(self, platform: str, conversation_id: str) -> bool:
        """Whether ``send_to_conversation`` has a group robot for this conversation (messages
        nobody asked for, such as digests, need one)."""
        ...

    async def send_to_group(self, message: OutgoingMessage, *, robot: str | None = None) -> None:
        """Post to a group through a configured group robot (the default one when None)."""
        ...

    async def send_to_conversation(
        self, platform: str, conversation_id: str, message: OutgoingMessage
    ) -> None:
        """Post to a conversation through the group robot configured for it; recorded as
        undeliverable when there is none (never sent to another group)."""
        ...

    @property
    def artifacts(self) -> Artifacts:
        """Store files and get links to them."""
        ...

    @property
    def data_dir(self) -> Path:
        """The bot's data directory (plugins keep files under ``data_dir / 'plugins' / name``)."""
        ...

    def outbound_allowed(self, url: str) -> bool:
        """Whether the bot may send requests to ``url``'s host (``OFFICEBOT_OUTBOUND_ALLOWED_
        HOSTS``): check it before calling another service a plugin is configured with."""
        ...

    def download_allowed(self, url: str) -> bool:
        """Whether ``download`` would fetch ``url`` (to refuse a request before queuing it)."""
        ...

    async def download(
        self, url: str, destination: Path, *, max_bytes: int, timeout_s: float
    ) -> int:
        """Stream ``url`` to ``destination`` (bytes written). Only hosts in
        ``OFFICEBOT_DOWNLOAD_ALLOWED_HOSTS``, redirects included; size and time bounded."""
        ...

    async def fetch_attachment(
        self,
        platform: str,
        attachment: Attachment,
        destination: Path,
        *,
        max_bytes: int,
        timeout_s: float,
    ) -> int:
        """Write a file or picture that came with a chat message to ``destination`` (bytes
        written): a DingTalk ``download_code`` through the robot app's file API, a ``url`` from
        the allowed download hosts; size and time bounded. Raises with a message for the user
        when it cannot (expired code, unconfigured app key, too large)."""
        ...

    def commands(self) -> Sequence[CommandInfo]:
        """Every command of every loaded plugin."""
        ...


class ScheduleControl(Protocol):
    """Lets a plugin add and remove its own persistent schedules at run time."""

    async def add(
        self, schedule: str, key: str, cron: str, payload: Mapping[str, Any] | None = None
    ) -> str:
        """Persist a cron schedule (five fields) that calls the plugin's ``schedule`` handler."""
        ...

    async def remove(self, schedule: str, key: str) -> bool:
        """Remove one; False when it did not exist."""
        ...


class CommandContext(Protocol):
    """Given to a command handler."""

    @property
    def event(self) -> ChatEvent: ...

    @property
    def args(self) -> Mapping[str, Any]: ...

    @property
    def config(self) -> BaseModel | None: ...

    @property
    def records(self) -> RecordStore:
        """This plugin's stored documents."""
        ...

    @property
    def services(self) -> Services: ...

    @property
    def schedules(self) -> ScheduleControl:
        """This plugin's persistent schedules (add a digest for this conversation, say)."""
        ...

    async def reply(self, message: str | OutgoingMessage) -> None:
        """Answer in the conversation the command came from (inline when quick enough)."""
        ...


class EventContext(Protocol):
    """Given to an event hook, for every stored chat message."""

    @property
    def event(self) -> ChatEvent: ...

    @property
    def config(self) -> BaseModel | None: ...

    @property
    def records(self) -> RecordStore:
        """This plugin's stored documents."""
        ...

    @property
    def services(self) -> Services: ...

    async def reply(self, message: str | OutgoingMessage) -> None:
        """Answer in the conversation the event came from."""
        ...


class ScheduleContext(Protocol):
    """Given to a scheduled handler each time its schedule fires."""

    @property
    def schedule_id(self) -> str: ...

    @property
    def payload(self) -> Mapping[str, Any]: ...

    @property
    def config(self) -> BaseModel | None: ...

    @property
    def records(self) -> RecordStore:
        """This plugin's stored documents."""
        ...

    @property
    def services(self) -> Services: ...


class JobContext(Protocol):
    """Given to a job handler. ``progress`` is safe to call from worker threads."""

    @property
    def job_id(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def tenant_key(self) -> str | None: ...

    @property
    def payload(self) -> Mapping[str, Any]: ...

    @property
    def config(self) -> BaseModel | None: ...

    @property
    def records(self) -> RecordStore:
        """This plugin's stored documents."""
        ...

    @property
    def services(self) -> Services:
        """The bot's services; ``services.llm.complete_sync`` queues as background work."""
        ...

    def progress(self, stage: str, percent: float) -> None:
        """Report the current stage and overall percent (0-100)."""
        ...

    async def reply(self, message: str | OutgoingMessage) -> None:
        """Post to the conversation the job came from (session webhook, else the group robot)."""
        ...

    async def run_in_thread(self, func: Callable[..., T], /, *args: Any) -> T:
        """Run blocking CPU or model work off the event loop."""
        ...


class HttpContext(Protocol):
    """Given to a plugin's HTTP route through ``Depends(plugin.http_context)``."""

    @property
    def config(self) -> BaseModel | None: ...

    @property
    def records(self) -> RecordStore:
        """This plugin's stored documents."""
        ...

    @property
    def services(self) -> Services: ...
