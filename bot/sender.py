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
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from pydantic import SecretStr
from sqlalchemy import Engine, insert, select, update

from bot.adapters.signing import dingtalk_sign
from bot.errors import NotConfiguredError, OutboundNotAllowedError
from bot.settings import Settings
from bot.storage.models import Delivery, utcnow
from plugins.events import ReplyChannel
from plugins.messages import OutgoingMessage, to_dingtalk

log = logging.getLogger(__name__)


class _RedactUrlQueries(logging.Filter):
    """httpx logs every request's full URL at INFO; a robot URL carries its access token and
    signature in the query, so the query is cut from those records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _redacted(str(arg)) if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


logging.getLogger("httpx").addFilter(_RedactUrlQueries())

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


class _Slot:
    """One request's place in a rate window; ``done_at`` is set once its response is in."""

    __slots__ = ("done_at",)

    def __init__(self, done_at: float | None = None) -> None:
        self.done_at = done_at


class RateWindow:
    """At most ``limit`` requests in any ``window`` seconds, as the platform counts them.

    The platform counts a request when it arrives, some time between our send and its answer.
    So a slot is held while the request is in flight and ages from the moment the answer came
    back: whatever the latency of each request, no ``limit + 1`` of them reach the platform
    within one window. ``slot()`` waits for a free slot; callers are served first come, first
    served.
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._blocked_until = 0.0
        self._slots: list[_Slot] = []
        self._lock = asyncio.Lock()
        self._released = asyncio.Event()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a slot around one request."""
        taken = await self._acquire()
        try:
            yield
        finally:
            taken.done_at = self._clock()
            self._released.set()

    async def _acquire(self) -> _Slot:
        async with self._lock:  # FIFO: callers are served in the order they arrived
            while True:
                now = self._clock()
                if now < self._blocked_until:
                    await asyncio.sleep(self._blocked_until - now)
                    continue
                self._slots = [
                    s for s in self._slots if s.done_at is None or now - s.done_at < self._window
                ]
                if len(self._slots) < self._limit:
                    taken = _Slot()
                    self._slots.append(taken)
                    return taken
                finished = [s.done_at for s in self._slots if s.done_at is not None]
                timeout = self._window - (now - min(finished)) if finished else None
                self._released.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._released.wait(), timeout)

    def block_for(self, seconds: float) -> None:
        """The platform said we are throttled: no request leaves for ``seconds``."""
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)


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
        self._resuming: set[asyncio.Task[DeliveryResult]] = set()

    async def close(self) -> None:
        for task in self._resuming:
            task.cancel()  # still 'queued' in the table: resumed at the next start
        await asyncio.gather(*self._resuming, return_exceptions=True)
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

    def robot_for_conversation(self, conversation_id: str) -> Robot | None:
        """The robot configured to post into this group, if any."""
        for name, config in sorted(self._settings.robot_configs().items()):
            if config.conversation_id == conversation_id:
                return Robot(name=name, webhook=config.webhook, secret=config.secret)
        return None

    async def record_undeliverable(
        self,
        message: OutgoingMessage,
        reason: str,
        *,
        tenant_id: int | None = None,
        conversation_pk: int | None = None,
    ) -> DeliveryResult:
        """Record a message that had no way out, so an admin can see it was not sent."""
        payload = to_dingtalk(message)
        delivery_id = await self._record_queued("none", "-", payload, tenant_id, conversation_pk)
        return await self._finish(delivery_id, False, 0, None, reason)

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
        return await self._send_recorded_to_robot(delivery_id, robot, payload)

    async def resume_queued(self) -> int:
        """Send again what a crash or restart left queued; returns how many were resumed.

        Robot deliveries are resent (the robot is looked up by name, its secret is never
        stored). Session webhook URLs are not kept, so those are marked failed with the reason.
        """

        def load() -> list[tuple[int, str, str, dict[str, Any]]]:
            with self._engine.begin() as conn:
                conn.execute(
                    update(Delivery)
                    .where(Delivery.state == "queued", Delivery.channel != "robot")
                    .values(
                        state="failed",
                        errmsg="interrupted by a restart before it was sent",
                        finished_at=utcnow(),
                    )
                )
                rows = conn.execute(
                    select(Delivery.id, Delivery.channel, Delivery.target, Delivery.payload)
                    .where(Delivery.state == "queued")
                    .order_by(Delivery.id)
                ).all()
            return [(row[0], row[1], row[2], row[3]) for row in rows]

        resumed = 0
        for delivery_id, _, robot_name, payload in await asyncio.to_thread(load):
            try:
                robot = self.robot(robot_name)
                self._check_allowed(robot.webhook)
            except (NotConfiguredError, OutboundNotAllowedError) as exc:
                await self._finish(delivery_id, False, 0, None, exc.message)
                continue
            task = asyncio.create_task(self._send_recorded_to_robot(delivery_id, robot, payload))
            self._resuming.add(task)
            task.add_done_callback(self._resuming.discard)
            resumed += 1
        return resumed

    async def resumed(self) -> None:
        """Wait until the deliveries resumed at start have finished."""
        await asyncio.gather(*self._resuming, return_exceptions=True)

    async def _send_recorded_to_robot(
        self, delivery_id: int, robot: Robot, payload: dict[str, Any]
    ) -> DeliveryResult:
        window = self._window(robot.webhook)

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
        window = self._window(channel.url)
        return await self._deliver(delivery_id, lambda: channel.url, payload, window)

    def _window(self, endpoint: str) -> RateWindow:
        """One rate window per robot or session webhook, made on first use."""
        window = self._windows.get(endpoint)
        if window is None:
            window = RateWindow(
                self._settings.robot_rate_limit, self._settings.robot_rate_window_s, self._clock
            )
            self._windows[endpoint] = window
        return window

    def _check_allowed(self, url: str) -> None:
        if not self._settings.is_allowed_outbound(url):
            host = urlsplit(url).hostname or url[:40]
            raise OutboundNotAllowedError(
                f"outbound host {host!r} is not allowed; add it to OFFICEBOT_OUTBOUND_ALLOWED_HOSTS"
            )
        parts = urlsplit(url)
        try:
            valid_port = parts.port != 0
        except ValueError:  # out of range or not a number
            valid_port = False
        if parts.scheme.lower() not in ("http", "https") or not valid_port:
            raise OutboundNotAllowedError(
                f"outbound URL for {parts.hostname!r} must be http(s) with a valid port"
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
            attempts += 1
            retryable = False
            try:
                async with window.slot():
                    response = await client.post(url_factory(), json=payload)
            except httpx.TransportError as exc:
                errcode, errmsg, retryable = None, f"network error: {type(exc).__name__}", True
            except Exception as exc:  # never leave a delivery 'queued' behind
                log.exception("delivery %s: unexpected error", delivery_id)
                errcode, errmsg = None, f"error: {type(exc).__name__}"
            else:
                errcode, errmsg = _errcode(response)
                if response.status_code >= 500:
                    retryable = True
                    errmsg = f"HTTP {response.status_code}" + (f": {errmsg}" if errmsg else "")
                elif response.status_code == 429:
                    retryable = True
                    errmsg = "HTTP 429" + (f": {errmsg}" if errmsg else "")
                    window.block_for(_retry_after(response, self._settings.robot_rate_window_s))
                elif response.status_code >= 400:
                    errmsg = f"HTTP {response.status_code}" + (f": {errmsg}" if errmsg else "")
                elif errcode in (None, 0):
                    return await self._finish(delivery_id, True, attempts, 0, "ok")
                elif errcode == THROTTLED_ERRCODE:
                    # DingTalk throttles a robot that exceeded its rate for a while (ten
                    # minutes): wait that out instead of dropping the message.
                    window.block_for(self._settings.robot_throttle_penalty_s)
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


def _retry_after(response: httpx.Response, default: float) -> float:
    """Seconds from a Retry-After header (capped at ten minutes), else ``default``."""
    try:
        return min(max(float(response.headers.get("retry-after", "")), 0.0), 600.0)
    except ValueError:
        return default
