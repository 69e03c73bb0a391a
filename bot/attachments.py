"""Files and pictures that came with a chat message, fetched to disk for a plugin.

An attachment with a ``url`` (the generic webhook) is downloaded like any other file: only from
the hosts in ``OFFICEBOT_DOWNLOAD_ALLOWED_HOSTS``. A DingTalk attachment carries a
``downloadCode`` instead, which the robot's app exchanges for a temporary link:

1. ``POST {api}/v1.0/oauth2/accessToken {appKey, appSecret}`` -> ``{accessToken, expireIn}``,
   kept until a minute before it expires;
2. ``POST {api}/v1.0/robot/messageFiles/download {downloadCode, robotCode}`` with the header
   ``x-acs-dingtalk-access-token`` -> ``{downloadUrl}`` (a 401 drops the token and asks once
   more);
3. ``GET downloadUrl``, only on ``OFFICEBOT_DINGTALK_FILE_HOSTS``, size and time bounded.

The AppSecret, the token and the link's query never appear in logs or error messages.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from bot.download import Downloader, DownloadError
from bot.errors import NotConfiguredError, OutboundNotAllowedError
from bot.settings import Settings, is_placeholder
from plugins.events import Attachment

TOKEN_MARGIN_S = 60.0
"""A token is renewed this long before DingTalk says it expires."""


class AttachmentError(DownloadError):
    """An attachment that could not be fetched; the message says why and what to change."""

    code = "attachment_failed"


class AttachmentFetcher:
    def __init__(self, settings: Settings, downloader: Downloader) -> None:
        self._settings = settings
        self._downloader = downloader
        self._dingtalk_files = Downloader(
            settings,
            hosts=(*settings.download_allowed_hosts, *settings.dingtalk_file_hosts),
            hosts_setting="OFFICEBOT_DINGTALK_FILE_HOSTS",
        )
        self._token: tuple[str, float] | None = None
        self._token_lock = asyncio.Lock()

    async def fetch(
        self,
        platform: str,
        attachment: Attachment,
        destination: Path,
        *,
        max_bytes: int,
        timeout_s: float,
    ) -> int:
        """Write the attachment's bytes to ``destination``; returns how many."""
        if attachment.url:
            return await self._downloader.download(
                attachment.url, destination, max_bytes=max_bytes, timeout_s=timeout_s
            )
        if not attachment.download_code:
            raise AttachmentError("the attachment has neither a link nor a download code")
        if platform != "dingtalk":
            raise AttachmentError(
                f"attachments of {platform!r} messages come as links; this one has none"
            )
        deadline = time.monotonic() + timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                url = await self._dingtalk_link(attachment)
        except TimeoutError:
            raise AttachmentError(
                f"DingTalk did not give a download link within {timeout_s:.0f} s"
            ) from None
        return await self._dingtalk_files.download(
            url,
            destination,
            max_bytes=max_bytes,
            timeout_s=max(1.0, deadline - time.monotonic()),
        )

    # --- DingTalk ------------------------------------------------------------------------------

    def _api(self, path: str) -> str:
        url = self._settings.dingtalk_api_base.rstrip("/") + path
        if not self._settings.is_allowed_outbound(url):
            raise OutboundNotAllowedError(
                f"{self._settings.dingtalk_api_base!r} (OFFICEBOT_DINGTALK_API_BASE) is not on "
                "OFFICEBOT_OUTBOUND_ALLOWED_HOSTS"
            )
        return url

    def _credentials(self) -> tuple[str, str]:
        key = self._settings.dingtalk_app_key
        secret = self._settings.dingtalk_app_secret
        if not key or secret is None or is_placeholder(secret):
            raise NotConfiguredError(
                "pictures and files sent to the robot are fetched with the robot app's "
                "credentials: set OFFICEBOT_DINGTALK_APP_KEY (AppKey / Client ID) and "
                "OFFICEBOT_DINGTALK_APP_SECRET"
            )
        return key, secret.get_secret_value()

    def _client(self) -> httpx.AsyncClient:
        timeout = self._settings.outbound_timeout_s
        return httpx.AsyncClient(timeout=httpx.Timeout(timeout), trust_env=False)

    async def _access_token(self, client: httpx.AsyncClient, *, renew: bool = False) -> str:
        async with self._token_lock:
            if self._token is not None and not renew and time.monotonic() < self._token[1]:
                return self._token[0]
            key, secret = self._credentials()
            response = await client.post(
                self._api("/v1.0/oauth2/accessToken"), json={"appKey": key, "appSecret": secret}
            )
            body = _json(response)
            token = body.get("accessToken")
            if response.status_code != 200 or not isinstance(token, str) or not token:
                raise AttachmentError(
                    "DingTalk refused the robot app's credentials "
                    f"(HTTP {response.status_code}{_reason(body)}); check "
                    "OFFICEBOT_DINGTALK_APP_KEY and OFFICEBOT_DINGTALK_APP_SECRET"
                )
            lifetime = body.get("expireIn")
            seconds = float(lifetime) if isinstance(lifetime, int | float) else 7200.0
            self._token = (token, time.monotonic() + max(0.0, seconds - TOKEN_MARGIN_S))
            return token

    async def _dingtalk_link(self, attachment: Attachment) -> str:
        robot_code = (
            self._settings.dingtalk_robot_code
            or _text(attachment.extra.get("robotCode"))
            or self._credentials()[0]
        )
        request = {"downloadCode": attachment.download_code, "robotCode": robot_code}
        async with self._client() as client:
            response: httpx.Response | None = None
            for renew in (False, True):
                token = await self._access_token(client, renew=renew)
                response = await client.post(
                    self._api("/v1.0/robot/messageFiles/download"),
                    json=request,
                    headers={"x-acs-dingtalk-access-token": token},
                )
                if response.status_code != 401:
                    break
            assert response is not None
            body = _json(response)
            link = body.get("downloadUrl")
            if response.status_code != 200 or not isinstance(link, str) or not link:
                raise AttachmentError(
                    f"DingTalk gave no download link (HTTP {response.status_code}"
                    f"{_reason(body)}); the download code may have expired: send the file again"
                )
            return link


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _reason(body: dict[str, Any]) -> str:
    parts = [str(body[k])[:200] for k in ("code", "message") if isinstance(body.get(k), str)]
    return f": {' '.join(parts)}" if parts else ""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
