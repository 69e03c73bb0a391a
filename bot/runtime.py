"""Everything one bot process runs, built from settings and started and stopped together."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging

import httpx

from bot.adapters import ChatAdapter, DingTalkAdapter, GenericAdapter
from bot.dispatch import BotServices, Dispatcher
from bot.errors import ConfigError
from bot.jobs import JobRunner, JobStore
from bot.registry import PluginRegistry
from bot.scheduler import SchedulerService
from bot.sender import Sender
from bot.settings import Settings
from bot.storage.database import make_engine, upgrade
from bot.storage.messages import MessageWriter
from llm.errors import LLMError
from llm.factory import create_llm

log = logging.getLogger(__name__)


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        registry: PluginRegistry | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.engine = make_engine(settings.resolved_database_url)
        if registry is None:
            registry = PluginRegistry(settings)
            registry.discover()
        self.registry = registry
        self.writer = MessageWriter(self.engine)
        self.sender = Sender(settings, self.engine, client=http_client)
        try:
            self.llm = create_llm(
                settings.llm,
                data_dir=settings.data_dir,
                allowed_hosts=settings.outbound_allowed_hosts,
            )
        except LLMError as exc:
            raise ConfigError(exc.message) from None
        self.services = BotServices(
            settings, registry, self.sender, self.engine, self.llm, self.writer
        )
        self.jobs = JobRunner(
            JobStore(self.engine),
            registry,
            concurrency=settings.worker_concurrency,
            poll_interval=settings.job_poll_interval_s,
            max_attempts=settings.job_max_attempts,
            reply=self.services.reply_to_origin,
            services=self.services,
        )
        self.services.jobs = self.jobs
        self.scheduler = SchedulerService(self.engine, registry, self.services, settings.timezone)
        self.services.scheduler = self.scheduler
        self.dispatcher = Dispatcher(settings, registry, self.services)
        self.adapters: dict[str, ChatAdapter | None] = {
            "dingtalk": (
                DingTalkAdapter(
                    settings.dingtalk_app_secret, window_s=settings.dingtalk_signature_window_s
                )
                if settings.dingtalk_app_secret is not None and "dingtalk" in settings.webhooks
                else None
            ),
            "generic": (
                GenericAdapter(
                    settings.generic_webhook_secret, window_s=settings.generic_signature_window_s
                )
                if settings.generic_webhook_secret is not None and "generic" in settings.webhooks
                else None
            ),
        }

    async def start(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(upgrade, self.engine)
        self.writer.start()
        resumed = await self.sender.resume_queued()
        if resumed:
            log.warning("after restart: resending %d queued outbound message(s)", resumed)
        await self.jobs.start()
        if self.settings.llm.warm_up:
            self.llm.warm_up().add_done_callback(_report_warm_up)
        if self.settings.scheduler_enabled:
            self.scheduler.start()  # APScheduler binds to the running loop here
        for name, adapter in self.adapters.items():
            if adapter is None and name in self.settings.webhooks:
                log.warning("webhook %s has no secret configured and will answer 503", name)
        log.info(
            "officebot started: %d plugin(s) loaded, %d skipped",
            len(self.registry.loaded),
            len(self.registry.failed),
        )

    async def stop(self) -> None:
        self.scheduler.shutdown()
        await self.dispatcher.drain()
        await self.jobs.stop()
        await self.writer.stop()
        await self.sender.close()
        await asyncio.to_thread(self.llm.close)
        self.engine.dispose()


def _report_warm_up(future: concurrent.futures.Future[None]) -> None:
    error = future.exception()
    if error is None:
        log.info("the shared model is loaded")
    elif isinstance(error, LLMError):
        log.warning("the shared model is not available: %s", error.message)
    else:
        log.warning("the shared model could not be loaded: %s", error)
