"""What the bot gives plugins beyond chat: records, artifacts, downloads and HTTP routes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends

from bot.artifacts import ArtifactStore, safe_filename
from bot.download import (
    Downloader,
    DownloadError,
    DownloadNotAllowedError,
    DownloadTooLargeError,
)
from bot.records import PluginRecords, RecordError
from bot.registry import PluginRegistry
from bot.settings import Settings
from bot.storage.database import make_engine, upgrade
from plugins import HttpContext, Plugin, PluginDefinitionError
from tests.conftest import API_TOKEN
from tests.support.file_server import FileServer, Route
from tests.support.live_server import LiveServer


@pytest.fixture
def engine(tmp_path: Path) -> Any:
    engine = make_engine(f"sqlite:///{tmp_path / 'records.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def files() -> Iterator[FileServer]:
    server = FileServer().start()
    yield server
    server.stop()


# --- records -------------------------------------------------------------------------------


async def test_records_are_per_plugin_and_per_tenant(engine: Any) -> None:
    meeting = PluginRecords(engine, "meeting")
    other = PluginRecords(engine, "other")
    await meeting.put("meetings", "m1", {"title": "周会", "n": 1}, tenant_key="corp-a")
    await meeting.put("meetings", "m1", {"title": "secret"}, tenant_key="corp-b")
    assert (await meeting.get("meetings", "m1", tenant_key="corp-a")).data["title"] == "周会"
    assert (await meeting.get("meetings", "m1", tenant_key="corp-b")).data["title"] == "secret"
    assert await other.get("meetings", "m1", tenant_key="corp-a") is None
    assert await meeting.get("meetings", "m1", tenant_key="corp-c") is None
    # the same key under two tenants is ambiguous for find: nothing rather than the wrong one
    assert await meeting.find("meetings", "m1") is None
    await meeting.put("meetings", "m2", {"title": "x"}, tenant_key="corp-a")
    assert (await meeting.find("meetings", "m2")).tenant_key == "corp-a"


async def test_records_update_list_filter_and_delete(engine: Any) -> None:
    store = PluginRecords(engine, "meeting")
    for index in range(5):
        await store.put(
            "todos", f"t{index}", {"done": index % 2 == 0, "i": index}, tenant_key="corp"
        )
    await store.put("todos", "t1", {"done": True, "i": 1}, tenant_key="corp")  # an update
    listed = await store.list("todos", tenant_key="corp")
    assert listed[0].key == "t1"  # newest first
    assert len(listed) == 5
    open_ = await store.list("todos", tenant_key="corp", where={"done": False})
    assert sorted(r.key for r in open_) == ["t3"]
    assert await store.list("todos", tenant_key="corp", limit=2) == listed[:2]
    assert await store.delete("todos", "t3", tenant_key="corp")
    assert not await store.delete("todos", "t3", tenant_key="corp")
    assert not await store.delete("todos", "t0", tenant_key="elsewhere")


async def test_records_purge_across_tenants_by_age(engine: Any) -> None:
    records = PluginRecords(engine, "chat")
    other = PluginRecords(engine, "meeting")
    await records.put("summaries", "a", {"n": 1}, tenant_key="corpA")
    await records.put("summaries", "b", {"n": 2}, tenant_key="corpB")
    await records.put("cursors", "c", {"n": 3}, tenant_key="corpA")
    await other.put("summaries", "d", {"n": 4}, tenant_key="corpA")
    assert await records.purge("summaries", updated_before=datetime(2000, 1, 1, tzinfo=UTC)) == []
    purged = await records.purge("summaries", updated_before=datetime.now(UTC) + timedelta(1))
    assert sorted((r.tenant_key, r.key) for r in purged) == [("corpA", "a"), ("corpB", "b")]
    assert await records.get("summaries", "a", tenant_key="corpA") is None
    assert await records.get("cursors", "c", tenant_key="corpA") is not None  # another collection
    assert await other.get("summaries", "d", tenant_key="corpA") is not None  # another plugin


async def test_records_refuse_bad_names(engine: Any) -> None:
    store = PluginRecords(engine, "meeting")
    with pytest.raises(RecordError, match="collection"):
        await store.put("Bad Name", "k", {}, tenant_key="t")
    with pytest.raises(RecordError, match="1-256"):
        await store.put("ok", "x" * 300, {}, tenant_key="t")


async def test_concurrent_puts_of_one_key_leave_one_record(engine: Any) -> None:
    store = PluginRecords(engine, "meeting")
    await asyncio.gather(*(store.put("c", "same", {"v": i}, tenant_key="t") for i in range(8)))
    assert len(await store.list("c", tenant_key="t")) == 1


# --- artifacts -----------------------------------------------------------------------------


def test_filenames_lose_directories_and_control_characters() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("会议纪要\x00\n.docx") == "会议纪要.docx"
    assert safe_filename("...") == "file"
    assert safe_filename("a\\b\\c.md") == "c.md"


async def test_artifacts_are_stored_and_served_by_unguessable_link(
    start_server: Callable[..., LiveServer], make_settings: Callable[..., Settings]
) -> None:
    server = start_server(make_settings(public_base_url="https://bot.example.com/"))
    store: ArtifactStore = server.runtime.services.artifacts  # type: ignore[attr-defined]
    artifact = await store.save(
        "# 纪要\n".encode(), "周会 纪要.md", content_type="text/markdown", tenant_key="corp"
    )
    assert artifact.url.startswith("https://bot.example.com/files/")
    assert len(artifact.id) >= 40
    path = artifact.url.removeprefix("https://bot.example.com")
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.get(path)  # no API token: the link is the permission
        assert response.status_code == 200
        assert response.text == "# 纪要\n"
        assert "filename*=UTF-8''" in response.headers["content-disposition"]
        assert response.headers["x-content-type-options"] == "nosniff"
        missing = await client.get("/files/" + "A" * 43 + "/x.md")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        assert (await client.get("/files/../x/y")).status_code == 404
        assert await store.delete(artifact.id)
        assert (await client.get(path)).status_code == 404
        assert not await store.delete(artifact.id)


# --- downloads -----------------------------------------------------------------------------


def _downloader(**overrides: Any) -> Downloader:
    values: dict[str, Any] = {"download_allowed_hosts": ["127.0.0.1"], **overrides}
    return Downloader(Settings(_env_file=None, **values))  # type: ignore[call-arg]


async def test_download_streams_an_allowed_file_to_disk(files: FileServer, tmp_path: Path) -> None:
    files.routes["/rec.mp3"] = Route(b"x" * 300_000)
    target = tmp_path / "rec.mp3"
    written = await _downloader().download(
        f"{files.url}/rec.mp3", target, max_bytes=1_000_000, timeout_s=10
    )
    assert written == 300_000 == target.stat().st_size


async def test_download_refuses_hosts_not_allowed_even_after_a_redirect(
    files: FileServer, tmp_path: Path
) -> None:
    downloader = _downloader()
    with pytest.raises(DownloadNotAllowedError, match="OFFICEBOT_DOWNLOAD_ALLOWED_HOSTS"):
        await downloader.download(
            "http://example.com/a.mp3", tmp_path / "a", max_bytes=10, timeout_s=5
        )
    with pytest.raises(DownloadNotAllowedError):
        await downloader.download("file:///etc/passwd", tmp_path / "a", max_bytes=10, timeout_s=5)
    files.routes["/hop"] = Route(status=302, headers={"location": "http://169.254.169.254/x"})
    with pytest.raises(DownloadNotAllowedError):
        await downloader.download(f"{files.url}/hop", tmp_path / "a", max_bytes=10, timeout_s=5)
    files.routes["/ok"] = Route(b"data")
    files.routes["/hop2"] = Route(status=301, headers={"location": "/ok"})
    assert (
        await downloader.download(f"{files.url}/hop2", tmp_path / "b", max_bytes=10, timeout_s=5)
        == 4
    )
    assert not (tmp_path / "a").exists()


async def test_download_stops_at_the_size_limit_and_leaves_nothing(
    files: FileServer, tmp_path: Path
) -> None:
    files.routes["/big"] = Route(b"x" * 50_000)
    files.routes["/big-undeclared"] = Route(b"x" * 50_000, declare_length=False)
    for path in ("/big", "/big-undeclared"):
        with pytest.raises(DownloadTooLargeError):
            await _downloader().download(
                f"{files.url}{path}", tmp_path / "big", max_bytes=10_000, timeout_s=5
            )
        assert not (tmp_path / "big").exists()
        assert not (tmp_path / "big.part").exists()
    files.routes["/missing"] = Route(b"", 404)
    with pytest.raises(DownloadError, match="HTTP 404"):
        await _downloader().download(
            f"{files.url}/missing", tmp_path / "m", max_bytes=10, timeout_s=5
        )


def test_wildcard_hosts() -> None:
    settings = Settings(_env_file=None, download_allowed_hosts=["*.Example.com", "files.local"])  # type: ignore[call-arg]
    assert settings.is_allowed_download("https://a.example.com/x")
    assert settings.is_allowed_download("https://b.a.example.com/x")
    assert not settings.is_allowed_download("https://example.com.evil.net/x")
    assert not settings.is_allowed_download("https://evilexample.com/x")
    assert settings.is_allowed_download("http://files.local/x")
    assert not settings.is_allowed_download("ftp://files.local/x")


# --- HTTP routes of plugins ------------------------------------------------------------------


def test_plugin_routes_must_live_under_api_or_events() -> None:
    plugin = Plugin(name="sneaky", description="")
    router = APIRouter()

    @router.post("/webhooks/dingtalk")
    async def hijack() -> None:
        return None

    with pytest.raises(PluginDefinitionError, match="/api/"):
        plugin.routes(router)


echo_plugin = Plugin(name="echo-http", description="")
echo_router = APIRouter()
EchoCtx = Annotated[HttpContext, Depends(echo_plugin.http_context)]


@echo_router.post("/api/echo/{key}")
async def put_thing(key: str, body: dict[str, Any], ctx: EchoCtx) -> dict[str, Any]:
    await ctx.records.put("things", key, body, tenant_key="t")
    return {"stored": key}


@echo_router.get("/api/echo/{key}")
async def get_thing(key: str, ctx: EchoCtx) -> dict[str, Any]:
    record = await ctx.records.get("things", key, tenant_key="t")
    return {"data": dict(record.data) if record else None}


echo_plugin.routes(echo_router)


def test_plugin_routes_are_served_behind_the_api_token(
    start_server: Callable[..., LiveServer], settings: Settings
) -> None:
    registry = PluginRegistry(settings)
    registry.add(echo_plugin)
    server = start_server(settings, registry)
    auth = {"authorization": f"Bearer {API_TOKEN}"}
    denied = httpx.post(f"{server.url}/api/echo/a", json={"x": 1})
    assert denied.status_code == 401
    assert httpx.post(f"{server.url}/api/echo/a", json={"x": 1}, headers=auth).json() == {
        "stored": "a"
    }
    assert httpx.get(f"{server.url}/api/echo/a", headers=auth).json() == {"data": {"x": 1}}
