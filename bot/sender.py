"""Outbound messages: DingTalk group robots (signed) and per-conversation session webhooks.

* A robot may post 20 messages a minute; past that DingTalk answers errcode 130101 and throttles
  it for ten minutes. We queue per robot and wait for the window instead: never drop.
* Network errors and 5xx are retried with exponential backoff.
* Every delivery is recorded: queued, then sent or failed with the platform's errcode.
* Only hosts in ``OFFICEBOT_OUTBOUND_ALLOWED_HOSTS`` are ever contacted, and the robot's
  access token and signature never reach a log line or the deliveries table.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from pydantic import SecretStr
from sqlalchemy import Engine, insert, update

from bot.adapters.signing import dingtalk_sign
from bot.errors import NotConfiguredError, OutboundNotAllowedError
from bot.settings import Settings
from bot.storage.models import Delivery, utcnow
from plugins.events import ReplyChannel
from plugins.messages import OutgoingMessage, to_dingtalk

log = logging.getLogger(__name__)

THROTTLED_ERRCODE = 130101
SESSION_EXPIRY_MARGIN = timedelta(minutes=3)


@dataclass(frozen=True, slots=True)
class Robot:
    """A DingTalk group robot: its webhook URL (with access_token) and signing secret."""

    name: str
    webhook: str
    secret: SecretStr | None


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    delivery_id: int
    sent: bool
    attempts: int
    errcode: int | None
    errmsg: str | None


class RateWindow:
    """At most ``limit`` events in any ``window`` seconds; ``acquire`` waits for a free slot."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._stamps: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:  # FIFO: callers are served in the order they arrived
            while True:
                now = self._clock()
                while self._stamps and now - self._stamps[0] >= self._window:
                    self._stamps.popleft()
                if len(self._stamps) < self._limit:
                    self._stamps.append(now)
                    return
                await asyncio.sleep(self._window - (now - self._stamps[0]))

    def penalize(self) -> None:
        """The platform said we are throttled: treat the whole window as used from now."""
        now = self._clock()
        self._stamps = deque([now] * self._limit, maxlen=None)


class Sender:
    """Sends messages and records each delivery."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._client = client
        self._owns_client = client is None
        self._clock = clock
        self._windows: dict[str, RateWindow] = {}

    async def close(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.aclose()
        self._client = None

    def robot(self, name: str | None = None) -> Robot:
        """A configured robot by name; None means the default one."""
        robots = self._settings.robot_configs()
        key = (name or "default").lower()
        if key not in robots:
            known = ", ".join(sorted(robots)) or "none"
            raise NotConfiguredError(
                f"no group robot named {key!r} is configured (configured: {known}); set "
                "OFFICEBOT_DINGTALK_ROBOT_WEBHOOK and OFFICEBOT_DINGTALK_ROBOT_SECRET"
            )
        config = robots[key]
        return Robot(name=key, webhook=config.webhook, secret=config.secret)

    async def send_to_robot(
        self,
        robot: Robot,
        message: OutgoingMessage,
        *,
        tenant_id: int | None = None,
        conversation_pk: int | None = None,
    ) -> DeliveryResult:
        """Post to a group robot, waiting for a free slot in its rate window."""
        self._check_allowed(robot.webhook)
        payload = to_dingtalk(message)
        delivery_id = await self._record_queued(
            "robot", robot.name, payload, tenant_id, conversation_pk
        )
        window = self._windows.setdefault(
            robot.webhook,
            RateWindow(
                self._settings.robot_rate_limit, self._settings.robot_rate_window_s, self._clock
            ),
        )

        def signed_url() -> str:
            return _signed_robot_url(robot)

        return await self._deliver(delivery_id, signed_url, payload, window)

    async def send_to_session(
        self,
        channel: ReplyChannel,
        message: OutgoingMessage,
        *,
        platform: str = "dingtalk",
        tenant_id: int | None = None,
        conversation_pk: int | None = None,
    ) -> DeliveryResult:
        """Answer through a conversation's session webhook (before it expires)."""
        self._check_allowed(channel.url)
        if platform == "dingtalk":
            payload = to_dingtalk(message)
        else:
            payload = {"reply": message.model_dump(mode="json")}
        target = _redacted(channel.url)
        delivery_id = await self._record_queued(
            "session", target, payload, tenant_id, conversation_pk
        )
        if not session_usable(channel):
            return await self._finish(delivery_id, False, 0, None, "session webhook expired")
        window = self._windows.setdefault(
            channel.url,
            RateWindow(
                self._settings.robot_rate_limit, self._settings.robot_rate_window_s, self._clock
            ),
        )
        return await self._deliver(delivery_id, lambda: channel.url, payload, window)

    def _check_allowed(self, url: str) -> None:
        if not self._settings.is_allowed_outbound(url):
            host = urlsplit(url).hostname or url[:40]
            raise OutboundNotAllowedError(
                f"outbound host {host!r} is not allowed; add it to OFFICEBOT_OUTBOUND_ALLOWED_HOSTS"
            )

    async def _deliver(
        self,
        delivery_id: int,
        url_factory: Callable[[], str],
        payload: dict[str, Any],
        window: RateWindow,
    ) -> DeliveryResult:
        client = self._http()
        attempts = 0
        retries = self._settings.outbound_max_retries
        errcode: int | None = None
        errmsg: str | None = None
        while True:
            await window.acquire()
            attempts += 1
            retryable = False
            try:
                response = await client.post(url_factory(), json=payload)
            except httpx.TransportError as exc:
                errcode, errmsg, retryable = None, f"network error: {type(exc).__name__}", True
            else:
                errcode, errmsg = _errcode(response)
                if response.status_code >= 500:
                    retryable = True
                    errmsg = f"HTTP {response.status_code}" + (f": {errmsg}" if errmsg else "")
                elif response.status_code >= 400:
                    errmsg = f"HTTP {response.status_code}" + (f": {errmsg}" if errmsg else "")
                elif errcode in (None, 0):
                    return await self._finish(delivery_id, True, attempts, 0, "ok")
                elif errcode == THROTTLED_ERRCODE:
                    window.penalize()
                    retryable = True
            if not retryable or attempts > retries:
                log.warning(
                    "delivery %s failed after %d attempt(s): %s", delivery_id, attempts, errmsg
                )
                return await self._finish(delivery_id, False, attempts, errcode, errmsg)
            delay = self._settings.outbound_backoff_s * (2 ** (attempts - 1))
            log.info("delivery %s: %s; retrying in %.1f s", delivery_id, errmsg, delay)
            await asyncio.sleep(delay)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._settings.outbound_timeout_s, follow_redirects=False
            )
        return self._client

    async def _record_queued(
        self,
        channel: str,
        target: str,
        payload: dict[str, Any],
        tenant_id: int | None,
        conversation_pk: int | None,
    ) -> int:
        def write() -> int:
            with self._engine.begin() as conn:
                result = conn.execute(
                    insert(Delivery)
                    .values(
                        tenant_id=tenant_id,
                        conversation_id=conversation_pk,
                        channel=channel,
                        target=target,
                        msgtype=str(payload.get("msgtype", "reply")),
                        payload=payload,
                        state="queued",
                        attempts=0,
                        created_at=utcnow(),
                    )
                    .returning(Delivery.id)
                )
                return int(result.scalar_one())

        return await asyncio.to_thread(write)

    async def _finish(
        self,
        delivery_id: int,
        sent: bool,
        attempts: int,
        errcode: int | None,
        errmsg: str | None,
    ) -> DeliveryResult:
        def write() -> None:
            with self._engine.begin() as conn:
                conn.execute(
                    update(Delivery)
                    .where(Delivery.id == delivery_id)
                    .values(
                        state="sent" if sent else "failed",
                        attempts=attempts,
                        errcode=errcode,
                        errmsg=errmsg,
                        finished_at=utcnow(),
                    )
                )

        await asyncio.to_thread(write)
        return DeliveryResult(delivery_id, sent, attempts, errcode, errmsg)


def session_usable(channel: ReplyChannel) -> bool:
    """Session webhooks are treated as expired a few minutes early."""
    if channel.expires_at is None:
        return True
    return datetime.now(UTC) < channel.expires_at - SESSION_EXPIRY_MARGIN


def _signed_robot_url(robot: Robot) -> str:
    if robot.secret is None:
        return robot.webhook
    timestamp = str(int(time.time() * 1000))
    sign = dingtalk_sign(timestamp, robot.secret.get_secret_value())
    parts = urlsplit(robot.webhook)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("timestamp", "sign")]
    query += [("timestamp", timestamp), ("sign", sign)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _redacted(url: str) -> str:
    """A URL without its query string (tokens live there)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="", fragment=""))[:256]


def _errcode(response: httpx.Response) -> tuple[int | None, str | None]:
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:200] or None
    if not isinstance(body, dict):
        return None, None
    code = body.get("errcode")
    message = body.get("errmsg")
    return (
        code if isinstance(code, int) else None,
        message[:500] if isinstance(message, str) else None,
    )
