"""Pictures and files of chat messages, fetched for plugins: a DingTalk downloadCode exchanged
through the robot app's file API (a token kept and renewed, the robotCode from the callback),
then a bounded download from the allowed hosts; links from the generic webhook downloaded like
any file; every refusal says what to change, and no secret reaches a message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.adapters.dingtalk import DingTalkAdapter
from bot.attachments import AttachmentError, AttachmentFetcher
from bot.download import Downloader, DownloadNotAllowedError, DownloadTooLargeError
from bot.errors import NotConfiguredError, OutboundNotAllowedError
from bot.settings import Settings
from plugins.events import Attachment
from tests.support.fake_dingtalk_api import FakeDingTalkApi
from tests.support.file_server import FileServer, Route

APP_KEY = "dingappkey123"
APP_SECRET = "app-secret-for-file-tests"
TOKEN = "/v1.0/oauth2/accessToken"
LINK = "/v1.0/robot/messageFiles/download"
PICTURE = b"\x89PNG\r\n\x1a\n" + b"p" * 5000


@pytest.fixture
def api() -> Iterator[FakeDingTalkApi]:
    fake = FakeDingTalkApi(APP_KEY, APP_SECRET).start()
    fake.files["code-1"] = PICTURE
    yield fake
    fake.stop()


def _fetcher(api: FakeDingTalkApi | None = None, **overrides: Any) -> AttachmentFetcher:
    values: dict[str, Any] = {
        "dingtalk_app_key": APP_KEY,
        "dingtalk_app_secret": APP_SECRET,
        "dingtalk_api_base": api.base_url if api else "https://api.dingtalk.com",
        "dingtalk_file_hosts": ["127.0.0.1"],
        "outbound_allowed_hosts": ["127.0.0.1"],
        **overrides,
    }
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    return AttachmentFetcher(settings, Downloader(settings))


def _picture(code: str = "code-1", **extra: Any) -> Attachment:
    return Attachment(kind="picture", download_code=code, extra=extra)


async def test_a_dingtalk_picture_is_fetched_with_one_token_for_many(
    api: FakeDingTalkApi, tmp_path: Path
) -> None:
    fetcher = _fetcher(api)
    for name in ("a.png", "b.png"):
        written = await fetcher.fetch(
            "dingtalk",
            _picture(robotCode="robot-from-callback"),
            tmp_path / name,
            max_bytes=1_000_000,
            timeout_s=10,
        )
        assert written == len(PICTURE)
        assert (tmp_path / name).read_bytes() == PICTURE
    [token_call] = api.calls_to(TOKEN)
    assert token_call.body == {"appKey": APP_KEY, "appSecret": APP_SECRET}
    links = api.calls_to(LINK)
    assert len(links) == 2
    assert links[0].headers["x-acs-dingtalk-access-token"] == api.tokens[0]
    assert links[0].body == {"downloadCode": "code-1", "robotCode": "robot-from-callback"}


async def test_the_robot_code_defaults_to_the_app_key_and_a_setting_overrides_it(
    api: FakeDingTalkApi, tmp_path: Path
) -> None:
    await _fetcher(api).fetch(
        "dingtalk", _picture(), tmp_path / "a", max_bytes=1_000_000, timeout_s=10
    )
    await _fetcher(api, dingtalk_robot_code="configured-robot").fetch(
        "dingtalk", _picture(robotCode="x"), tmp_path / "b", max_bytes=1_000_000, timeout_s=10
    )
    assert [c.body["robotCode"] for c in api.calls_to(LINK)] == [APP_KEY, "configured-robot"]


async def test_a_revoked_token_is_renewed_once(api: FakeDingTalkApi, tmp_path: Path) -> None:
    fetcher = _fetcher(api)
    await fetcher.fetch("dingtalk", _picture(), tmp_path / "a", max_bytes=10**6, timeout_s=10)
    api.revoked.add(api.tokens[0])
    await fetcher.fetch("dingtalk", _picture(), tmp_path / "b", max_bytes=10**6, timeout_s=10)
    assert len(api.calls_to(TOKEN)) == 2
    assert [c.headers["x-acs-dingtalk-access-token"] for c in api.calls_to(LINK)] == [
        api.tokens[0],
        api.tokens[0],
        api.tokens[1],
    ]


async def test_an_expired_code_and_wrong_credentials_say_what_to_do(
    api: FakeDingTalkApi, tmp_path: Path
) -> None:
    with pytest.raises(AttachmentError, match="may have expired: send the file again") as caught:
        await _fetcher(api).fetch(
            "dingtalk", _picture("gone"), tmp_path / "a", max_bytes=10**6, timeout_s=10
        )
    assert api.tokens[0] not in caught.value.message
    with pytest.raises(AttachmentError, match="check OFFICEBOT_DINGTALK_APP_KEY") as caught:
        await _fetcher(api, dingtalk_app_secret="another-secret-value").fetch(
            "dingtalk", _picture(), tmp_path / "a", max_bytes=10**6, timeout_s=10
        )
    assert "another-secret-value" not in caught.value.message
    assert not (tmp_path / "a").exists()


async def test_missing_settings_and_hosts_are_refused_before_anything_is_sent(
    api: FakeDingTalkApi, tmp_path: Path
) -> None:
    with pytest.raises(NotConfiguredError, match="OFFICEBOT_DINGTALK_APP_KEY"):
        await _fetcher(api, dingtalk_app_key=None).fetch(
            "dingtalk", _picture(), tmp_path / "a", max_bytes=10**6, timeout_s=10
        )
    with pytest.raises(OutboundNotAllowedError, match="OFFICEBOT_DINGTALK_API_BASE"):
        await _fetcher(api, outbound_allowed_hosts=["api.dingtalk.com"]).fetch(
            "dingtalk", _picture(), tmp_path / "a", max_bytes=10**6, timeout_s=10
        )
    assert api.calls == []
    # the link DingTalk gives must be on the file hosts; its query (a signature) is not shown
    with pytest.raises(DownloadNotAllowedError, match="OFFICEBOT_DINGTALK_FILE_HOSTS") as caught:
        await _fetcher(api, dingtalk_file_hosts=["*.dingtalk.com"]).fetch(
            "dingtalk", _picture(), tmp_path / "a", max_bytes=10**6, timeout_s=10
        )
    assert "sig=" not in caught.value.message
    assert api.calls_to("/media/") == []


async def test_size_limits_hold_and_nothing_partial_stays(
    api: FakeDingTalkApi, tmp_path: Path
) -> None:
    with pytest.raises(DownloadTooLargeError):
        await _fetcher(api).fetch(
            "dingtalk", _picture(), tmp_path / "a", max_bytes=1000, timeout_s=10
        )
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "a.part").exists()


async def test_links_of_other_platforms_come_from_the_allowed_download_hosts(
    tmp_path: Path,
) -> None:
    files = FileServer().start()
    try:
        files.routes["/p.png"] = Route(PICTURE)
        link = Attachment(kind="picture", url=f"{files.url}/p.png")
        fetcher = _fetcher(download_allowed_hosts=["127.0.0.1"])
        written = await fetcher.fetch(
            "generic", link, tmp_path / "p", max_bytes=10**6, timeout_s=10
        )
        assert written == len(PICTURE)
        with pytest.raises(DownloadNotAllowedError, match="OFFICEBOT_DOWNLOAD_ALLOWED_HOSTS"):
            await _fetcher().fetch("generic", link, tmp_path / "q", max_bytes=10**6, timeout_s=10)
        with pytest.raises(AttachmentError, match="come as links"):
            await _fetcher().fetch(
                "generic", _picture(), tmp_path / "q", max_bytes=10**6, timeout_s=10
            )
    finally:
        files.stop()


def test_the_dingtalk_adapter_keeps_the_robot_code_with_each_picture() -> None:
    adapter = DingTalkAdapter(SecretStr(APP_SECRET))
    event = adapter.parse(
        b'{"msgtype": "picture", "content": {"downloadCode": "dc1", "pictureDownloadCode": "p1"},'
        b' "msgId": "m1", "conversationId": "c1", "senderId": "s1", "robotCode": "dingrobot"}'
    )
    [picture] = event.attachments
    assert picture.download_code == "dc1"
    assert picture.extra["robotCode"] == "dingrobot"
