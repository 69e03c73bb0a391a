"""Shared fixtures: settings isolated from the developer's environment, the fake DingTalk
server, a live officebot server, and real PostgreSQL when the test is about it."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.adapters.signing import dingtalk_sign
from bot.app import create_app
from bot.registry import PluginRegistry
from bot.runtime import Runtime
from bot.settings import Settings
from llm.config import LLMSettings
from llm.factory import create_llm
from llm.service import LLM
from tests.support.fake_dingtalk import Arrivals, FakeDingTalk
from tests.support.live_server import LiveServer
from tests.support.synth_meeting import (
    ENGLISH_SCRIPT,
    ENGLISH_VOICE_MAP,
    MANDARIN_SCRIPT,
    MANDARIN_VOICE_MAP,
    SynthMeeting,
    espeak_available,
    synthesize,
)

APP_SECRET = "app-secret-for-tests-0123456789"
ROBOT_SECRET = "SEC-robot-secret-for-tests"
GENERIC_SECRET = "generic-secret-for-tests"
API_TOKEN = "api-token-for-tests"
POSTGRES_URL = os.environ.get(
    "OFFICEBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No OFFICEBOT_* variable or .env of the developer's leaks into a test."""
    for key in list(os.environ):
        if key.startswith("OFFICEBOT_") and key != "OFFICEBOT_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
    # A server a test starts (in or out of process) must not spend minutes assembling and
    # loading the 1.5B model where its packages happen to be installed (make bench does).
    monkeypatch.setenv("OFFICEBOT_LLM__WARM_UP", "false")
    monkeypatch.setenv("OFFICEBOT_LLM__MODEL", "qwen2.5-coder-0.5b")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def fake_dingtalk() -> Iterator[FakeDingTalk]:
    fake = FakeDingTalk().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[FakeDingTalk]:
    """One fake DingTalk for a whole module, for modules that start one server for all tests;
    such a module overrides ``fake_dingtalk`` to return it and reads only its own requests
    (``Arrivals``)."""
    fake = FakeDingTalk().start()
    yield fake
    fake.stop()


@pytest.fixture
def arrivals(fake_dingtalk: FakeDingTalk) -> Arrivals:
    return Arrivals(fake_dingtalk)


@pytest.fixture
def make_settings(
    tmp_path: Path, fake_dingtalk: FakeDingTalk, model_cache: Path
) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "test",
            "data_dir": tmp_path / "data",
            "dingtalk_app_secret": APP_SECRET,
            "generic_webhook_secret": GENERIC_SECRET,
            "api_token": API_TOKEN,
            "dingtalk_robot_webhook": fake_dingtalk.robot_url(),
            "dingtalk_robot_secret": ROBOT_SECRET,
            "outbound_allowed_hosts": ["127.0.0.1"],
            "outbound_backoff_s": 0.01,
            "job_poll_interval_s": 0.2,
            # The fast model, assembled once per session; loaded only by tests that use it.
            "llm": {"warm_up": False, "model": "qwen2.5-coder-0.5b", "cache_dir": model_cache},
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def start_server() -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []

    def start(settings: Settings, registry: PluginRegistry | None = None) -> LiveServer:
        runtime = Runtime(settings, registry=registry)
        server = LiveServer(create_app(runtime=runtime)).start()
        server.runtime = runtime  # type: ignore[attr-defined]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(start_server: Callable[..., LiveServer], settings: Settings) -> LiveServer:
    return start_server(settings)


def dingtalk_message(text: str, **overrides: Any) -> dict[str, Any]:
    """A DingTalk robot callback body as DingTalk sends it for a group @-mention."""
    now_ms = int(time.time() * 1000)
    body: dict[str, Any] = {
        "msgtype": "text",
        "text": {"content": text},
        "msgId": f"msg{uuid.uuid4().hex}",
        "createAt": now_ms,
        "conversationType": "2",
        "conversationId": "cidGroupA==",
        "conversationTitle": "产品周会",
        "senderId": "$:LWCP_v1:$sender",
        "senderNick": "张三",
        "senderStaffId": "staff001",
        "senderCorpId": "dingcorp1",
        "chatbotCorpId": "dingcorp1",
        "chatbotUserId": "$:LWCP_v1:$bot",
        "isAdmin": False,
        "isInAtList": True,
        "atUsers": [{"dingtalkId": "$:LWCP_v1:$bot"}],
    }
    body.update(overrides)
    return body


def signed_headers(secret: str = APP_SECRET, timestamp_ms: int | None = None) -> dict[str, str]:
    timestamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    return {"timestamp": timestamp, "sign": dingtalk_sign(timestamp, secret)}


def post_dingtalk(server: LiveServer, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
    headers = kwargs.pop("headers", None) or signed_headers()
    return httpx.post(
        f"{server.url}/webhooks/dingtalk", json=body, headers=headers, timeout=30, **kwargs
    )


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Weights assembled once per test session (the 0.5B model: ~1 s, plus its tokenizer)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def small_llm(model_cache: Path) -> Iterator[LLM]:
    """The real Qwen2.5-Coder-0.5B through llama.cpp: the fast model, for focused tests."""
    settings = LLMSettings(
        model="qwen2.5-coder-0.5b", cache_dir=model_cache, context_tokens=4096, warm_up=False
    )
    model = create_llm(settings, data_dir=model_cache)
    yield model
    model.close()


@pytest.fixture(scope="session")
def speech_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Speech weights (whisper) assembled once per test session."""
    return tmp_path_factory.mktemp("speech-models")


@pytest.fixture(scope="session")
def english_meeting(tmp_path_factory: pytest.TempPathFactory) -> SynthMeeting:
    """A 3-speaker English meeting spoken by espeak-ng, with known to-dos and dates."""
    if not espeak_available():
        pytest.fail("espeak-ng is missing: `make setup` installs it (scripts/debian-packages.txt)")
    return synthesize(
        ENGLISH_SCRIPT, ENGLISH_VOICE_MAP, tmp_path_factory.mktemp("synth-en"), language="en"
    )


@pytest.fixture(scope="session")
def mandarin_meeting(tmp_path_factory: pytest.TempPathFactory) -> SynthMeeting:
    """A 3-speaker Mandarin meeting spoken by espeak-ng, with known to-dos and dates."""
    if not espeak_available():
        pytest.fail("espeak-ng is missing: `make setup` installs it (scripts/debian-packages.txt)")
    return synthesize(
        MANDARIN_SCRIPT, MANDARIN_VOICE_MAP, tmp_path_factory.mktemp("synth-zh"), language="zh"
    )


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"officebot_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc.orig}")
    url = sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()
