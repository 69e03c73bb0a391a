"""From a stored chat event to plugin handlers, and from their replies back to the chat.

A command handler's first reply goes inline, in the webhook's HTTP response, when it comes
within ``inline_reply_timeout_s``; anything later goes out through the sender (the session
webhook while it is valid, else, for DingTalk, the group robot). Event hooks run in the
background. A slash command counts whether or not the bot was addressed; a bare command word
only in a direct chat or when the bot was @-mentioned.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bot.artifacts import ArtifactStore
from bot.attachments import AttachmentFetcher
from bot.commands import UsageError, parse_arguments, split_command
from bot.download import Downloader
from bot.errors import OfficebotError
from bot.history import MessageHistory
from bot.jobs import JobRunner
from bot.records import PluginRecords
from bot.registry import PluginRegistry
from bot.scheduler import PluginSchedules, SchedulerService
from bot.sender import Sender, session_usable
from bot.settings import Settings
from bot.storage.messages import MessageWriter, StoredEvent
from llm.service import LLM
from plugins.context import CommandInfo, StoredMessage
from plugins.events import Attachment, ChatEvent, ReplyChannel
from plugins.messages import OutgoingMessage, TextMessage, as_message

log = logging.getLogger(__name__)


class BotServices:
    """The bot's implementation of ``plugins.Services``."""

    def __init__(
        self,
        settings: Settings,
        registry: PluginRegistry,
        sender: Sender,
        engine: Any,
        llm: LLM,
        writer: MessageWriter,
    ) -> None:
        self.llm = llm
        self.history = MessageHistory(engine, writer)
        self._settings = settings
        self._registry = registry
        self._sender = sender
        self._engine = engine
        self.jobs: JobRunner | None = None
        self.scheduler: SchedulerService | None = None
        self.artifacts = ArtifactStore(engine, settings.data_dir, settings.public_base_url)
        self.downloader = Downloader(settings)
        self.attachment_fetcher = AttachmentFetcher(settings, self.downloader)
        self._records: dict[str, PluginRecords] = {}

    @property
    def data_dir(self) -> Path:
        return self._settings.data_dir

    @property
    def timezone(self) -> str:
        return self._settings.timezone

    def can_post_to(self, platform: str, conversation_id: str) -> bool:
        return platform == "dingtalk" and (
            self._sender.robot_for_conversation(conversation_id) is not None
        )

    def records_for(self, plugin: str) -> PluginRecords:
        store = self._records.get(plugin)
        if store is None:
            store = self._records[plugin] = PluginRecords(self._engine, plugin)
        return store

    def outbound_allowed(self, url: str) -> bool:
        return self._settings.is_allowed_outbound(url)

    def download_allowed(self, url: str) -> bool:
        return self._settings.is_allowed_download(url)

    async def download(
        self, url: str, destination: Path, *, max_bytes: int, timeout_s: float
    ) -> int:
        return await self.downloader.download(
            url, destination, max_bytes=max_bytes, timeout_s=timeout_s
        )

    async def fetch_attachment(
        self,
        platform: str,
        attachment: Attachment,
        destination: Path,
        *,
        max_bytes: int,
        timeout_s: float,
    ) -> int:
        return await self.attachment_fetcher.fetch(
            platform, attachment, destination, max_bytes=max_bytes, timeout_s=timeout_s
        )

    async def send_to_conversation(
        self, platform: str, conversation_id: str, message: OutgoingMessage
    ) -> None:
        await self.reply(platform, conversation_id, None, message)

    async def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        tenant_key: str | None = None,
        origin: ChatEvent | None = None,
        priority: int = 0,
    ) -> str:
        if self.jobs is None:
            raise RuntimeError("the job runner is not running")
        return await self.jobs.enqueue(
            kind, payload, tenant_key=tenant_key, origin=origin, priority=priority
        )

    async def recent_messages(
        self, tenant_key: str, conversation_id: str, limit: int = 100
    ) -> Sequence[StoredMessage]:
        limit = max(1, min(limit, 10_000))
        return await self.history.messages(tenant_key, conversation_id, last=limit, limit=limit)

    async def send_to_group(self, message: OutgoingMessage, *, robot: str | None = None) -> None:
        await self._sender.send_to_robot(self._sender.robot(robot), message)

    def commands(self) -> Sequence[CommandInfo]:
        return self._registry.command_infos()

    async def reply(
        self,
        platform: str,
        conversation_id: str,
        channel: ReplyChannel | None,
        message: str | OutgoingMessage,
        *,
        tenant_id: int | None = None,
        conversation_pk: int | None = None,
    ) -> None:
        """Answer a conversation: its session webhook while valid, else the DingTalk group robot
        configured for that very group. Never another group's robot: a private or another
        team's answer must not land in the wrong chat."""
        outgoing = as_message(message)
        if channel is not None and session_usable(channel):
            await self._sender.send_to_session(
                channel,
                outgoing,
                platform=platform,
                tenant_id=tenant_id,
                conversation_pk=conversation_pk,
            )
            return
        robot = self._sender.robot_for_conversation(conversation_id)
        if platform == "dingtalk" and robot is not None:
            await self._sender.send_to_robot(
                robot, outgoing, tenant_id=tenant_id, conversation_pk=conversation_pk
            )
            return
        log.warning("no usable reply channel for a %s conversation: reply not sent", platform)
        await self._sender.record_undeliverable(
            outgoing,
            "no valid session webhook and no group robot configured for this conversation",
            tenant_id=tenant_id,
            conversation_pk=conversation_pk,
        )

    async def reply_to_origin(
        self, origin: Mapping[str, Any], message: str | OutgoingMessage
    ) -> None:
        """Used by jobs: answer the conversation recorded when the job was queued."""
        url = origin.get("reply_url")
        expires = origin.get("reply_expires_at")
        channel = (
            ReplyChannel(url=url, expires_at=datetime.fromisoformat(expires) if expires else None)
            if isinstance(url, str)
            else None
        )
        await self.reply(
            str(origin.get("platform", "dingtalk")),
            str(origin.get("conversation_id", "")),
            channel,
            message,
        )


class _Conversation:
    """Reply plumbing shared by command and event contexts."""

    def __init__(
        self,
        event: ChatEvent,
        stored: StoredEvent,
        services: BotServices,
        config: BaseModel | None,
        records: PluginRecords,
    ) -> None:
        self.event = event
        self.config = config
        self.services = services
        self.records = records
        self._stored = stored
        self._inline: asyncio.Future[OutgoingMessage] | None = None

    async def reply(self, message: str | OutgoingMessage) -> None:
        outgoing = as_message(message)
        if self._inline is not None and not self._inline.done():
            self._inline.set_result(outgoing)
            return
        await self.services.reply(
            self.event.platform,
            self.event.conversation_id,
            self.event.reply_channel,
            outgoing,
            tenant_id=self._stored.tenant_id,
            conversation_pk=self._stored.conversation_pk,
        )


class CommandRun(_Conversation):
    """The ``CommandContext`` given to a command handler."""

    def __init__(
        self,
        event: ChatEvent,
        stored: StoredEvent,
        services: BotServices,
        config: BaseModel | None,
        args: Mapping[str, Any],
        plugin: str,
    ) -> None:
        super().__init__(event, stored, services, config, services.records_for(plugin))
        self.args = args
        self._plugin = plugin

    @property
    def schedules(self) -> PluginSchedules:
        if self.services.scheduler is None:
            raise RuntimeError("the scheduler is not running")
        return self.services.scheduler.control(self._plugin)


class EventRun(_Conversation):
    """The ``EventContext`` given to an event hook."""


class Dispatcher:
    def __init__(self, settings: Settings, registry: PluginRegistry, services: BotServices) -> None:
        self._settings = settings
        self._registry = registry
        self._services = services
        self._background: set[asyncio.Task[None]] = set()

    async def dispatch(self, event: ChatEvent, stored: StoredEvent) -> OutgoingMessage | None:
        """Run hooks and the command (if any); returns the inline reply, if one came in time."""
        self._run_event_hooks(event, stored)
        call = split_command(event.text)
        if call is None or not (call.explicit or event.addressed_to_bot):
            return None
        found = self._registry.command(call.word)
        if found is None:
            if call.explicit and event.addressed_to_bot:
                return TextMessage(
                    text=f"未知命令 /{call.word[:32]}，发送 /help 查看可用命令。\n"
                    f"Unknown command /{call.word[:32]}; send /help for the list."
                )
            return None  # an ordinary sentence, or a slash word nobody asked the bot about
        loaded, command = found
        try:
            args = parse_arguments(command, call.argument_text)
        except UsageError as exc:
            return TextMessage(text=str(exc))
        run = CommandRun(event, stored, self._services, loaded.config, args, loaded.plugin.name)
        loop = asyncio.get_running_loop()
        inline: asyncio.Future[OutgoingMessage] = loop.create_future()
        run._inline = inline
        task = self._spawn(self._guarded(run, f"/{command.name}", lambda: command.handler(run)))
        first: set[asyncio.Future[Any]] = {inline, task}
        try:
            await asyncio.wait(
                first,
                timeout=self._settings.inline_reply_timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            # From here on (also when the webhook call was abandoned) replies go out by sender.
            run._inline = None
        if inline.done():
            return inline.result()
        inline.cancel()
        return None

    def _run_event_hooks(self, event: ChatEvent, stored: StoredEvent) -> None:
        for loaded in self._registry.loaded:
            for hook in loaded.plugin.event_hooks:
                if hook.msgtypes is not None and event.msgtype not in hook.msgtypes:
                    continue
                run = EventRun(
                    event,
                    stored,
                    self._services,
                    loaded.config,
                    self._services.records_for(loaded.plugin.name),
                )
                self._spawn(
                    self._guarded(
                        run, f"{loaded.plugin.name} hook", partial(hook.handler, run), report=False
                    )
                )

    def _spawn(self, coroutine: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _guarded(
        self,
        run: _Conversation,
        label: str,
        call: Callable[[], Awaitable[None]],
        *,
        report: bool = True,
    ) -> None:
        try:
            await call()
        except Exception as exc:
            log.exception("%s failed on message %s", label, run.event.message_id)
            if not report:
                return
            detail = exc.message if isinstance(exc, OfficebotError) else type(exc).__name__
            try:
                await run.reply(f"抱歉，{label} 出错了 / Sorry, {label} failed: {detail}")
            except Exception:
                log.exception("could not report the failure of %s", label)

    async def drain(self, grace_s: float = 5.0) -> None:
        """Wait for background handlers (at shutdown), cancelling what is left after grace_s."""
        if not self._background:
            return
        _, pending = await asyncio.wait(set(self._background), timeout=grace_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


class HttpRun:
    """The ``HttpContext`` given to a plugin's HTTP routes."""

    def __init__(self, services: BotServices, config: BaseModel | None, plugin: str) -> None:
        self.services = services
        self.config = config
        self.records = services.records_for(plugin)
