"""Outbound downloads (meeting recordings by URL): allowed hosts only, streamed to disk, bounded
in size and time. Redirects are followed by hand so that every hop's host is checked, and a
partly downloaded file never stays behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urljoin

import httpx

from bot.errors import OfficebotError
from bot.settings import Settings, host_matches

CHUNK = 256 * 1024


class DownloadError(OfficebotError):
    code = "download_failed"
    http_status = 422


class DownloadNotAllowedError(DownloadError):
    code = "download_not_allowed"
    http_status = 403


class DownloadTooLargeError(DownloadError):
    code = "download_too_large"
    http_status = 413


class Downloader:
    """Downloads from the hosts in ``OFFICEBOT_DOWNLOAD_ALLOWED_HOSTS``, or from ``hosts`` (named
    by ``hosts_setting`` in errors) when given."""

    def __init__(
        self,
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        hosts: Sequence[str] | None = None,
        hosts_setting: str = "OFFICEBOT_DOWNLOAD_ALLOWED_HOSTS",
    ):
        self._settings = settings
        self._transport = transport
        self._hosts = tuple(settings.download_allowed_hosts if hosts is None else hosts)
        self._hosts_setting = hosts_setting

    def allowed(self, url: str) -> bool:
        return host_matches(url, self._hosts)

    def check(self, url: str) -> None:
        """Raise ``DownloadNotAllowedError`` unless ``url`` may be fetched."""
        if not self.allowed(url):
            allowed = ", ".join(self._hosts) or "none configured"
            shown = url.split("?")[0][:200]  # a query may carry a token
            raise DownloadNotAllowedError(
                f"downloads from {shown!r} are not allowed: only http(s) URLs on the hosts in "
                f"{self._hosts_setting} ({allowed})"
            )

    async def download(
        self, url: str, destination: Path, *, max_bytes: int, timeout_s: float
    ) -> int:
        self.check(url)
        partial = destination.with_name(destination.name + ".part")
        try:
            async with asyncio.timeout(timeout_s):
                written = await self._fetch(url, partial, max_bytes)
        except TimeoutError:
            raise DownloadError(
                f"the download took longer than {timeout_s:.0f} s and was stopped"
            ) from None
        except BaseException:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
        os.replace(partial, destination)
        return written

    async def _fetch(self, url: str, partial: Path, max_bytes: int) -> int:
        async with httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(30.0),
            transport=self._transport,
            trust_env=False,
        ) as client:
            for _ in range(self._settings.download_max_redirects + 1):
                async with client.stream("GET", url) as response:
                    if response.is_redirect:
                        target = urljoin(url, response.headers.get("location", ""))
                        self.check(target)
                        url = target
                        continue
                    if response.status_code != 200:
                        raise DownloadError(
                            f"the server answered HTTP {response.status_code} for the download"
                        )
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > max_bytes:
                        raise DownloadTooLargeError(
                            f"the file is {int(declared)} bytes; the limit is {max_bytes}"
                        )
                    written = 0
                    with partial.open("wb") as out:
                        async for block in response.aiter_bytes(CHUNK):
                            written += len(block)
                            if written > max_bytes:
                                raise DownloadTooLargeError(
                                    f"the file is larger than the limit of {max_bytes} bytes"
                                )
                            await asyncio.to_thread(out.write, block)
                    if written == 0:
                        raise DownloadError("the download was empty")
                    return written
        raise DownloadError(
            f"more than {self._settings.download_max_redirects} redirects; stopped following them"
        )
