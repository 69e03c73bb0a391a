"""The real ``officebot`` command, run as a user runs it: a subprocess with its own environment,
its data under a temporary directory and, for ``send``, the fake DingTalk at the other end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.adapters.signing import dingtalk_sign
from bot.jobs import JobStore
from bot.settings import load_settings
from bot.storage.database import make_engine, upgrade
from tests.conftest import ROBOT_SECRET
from tests.support.fake_dingtalk import FakeDingTalk, Scripted

pytestmark = pytest.mark.slow

OFFICEBOT = Path(sys.executable).with_name("officebot")
JOB_ID = re.compile(r"\b[0-9a-f]{32}\b")

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def cli(data_dir: Path) -> Cli:
    """Run ``officebot ARGS`` with OFFICEBOT_DATA_DIR in the test's temporary directory."""

    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        environment = dict(os.environ, COLUMNS="200", OFFICEBOT_DATA_DIR=str(data_dir))
        environment.update(env)
        return subprocess.run(
            [str(OFFICEBOT), *args],
            capture_output=True,
            text=True,
            env=environment,
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )

    return run


@pytest.fixture
def job_store(data_dir: Path) -> JobStore:
    """The jobs table the CLI reads, written directly as the bot's worker would."""
    settings = load_settings(data_dir=data_dir)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    return JobStore(engine)


def assert_clean_failure(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    """A failure a user can act on: non-zero exit, an 'error:' line, no traceback."""
    assert result.returncode != 0, result.stdout
    assert "error:" in result.stderr
    for text in expected:
        assert text in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_plugins_lists_the_builtin_help(cli: Cli) -> None:
    result = cli("plugins")

    assert result.returncode == 0, result.stderr
    assert "loaded plugins" in result.stdout
    assert "/help|/帮助|/?" in result.stdout


def test_migrate_creates_the_database(cli: Cli, data_dir: Path) -> None:
    result = cli("migrate")

    assert result.returncode == 0, result.stderr
    assert "database is up to date" in result.stdout
    assert (data_dir / "officebot.db").is_file()
    assert cli("migrate").returncode == 0  # idempotent


def test_schedules_prints_a_table_in_the_configured_timezone(cli: Cli) -> None:
    result = cli("schedules", OFFICEBOT_TIMEZONE="Europe/Berlin")

    assert result.returncode == 0, result.stderr
    assert "schedules (Europe/Berlin)" in result.stdout
    for column in ("id", "cron", "next run", "what"):
        assert column in result.stdout


def test_jobs_lists_nothing_then_the_queued_job(cli: Cli, job_store: JobStore) -> None:
    empty = cli("jobs")
    assert empty.returncode == 0, empty.stderr
    assert "jobs" in empty.stdout
    assert not JOB_ID.search(empty.stdout)

    job_id = job_store.enqueue("hello.test", {"n": 1}, tenant_key="dingtalk:corp1")
    listed = cli("jobs")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if job_id in line)
    assert "hello.test" in row
    assert "queued" in row

    assert job_id not in cli("jobs", "--state", "succeeded").stdout
    assert job_id in cli("jobs", "--state", "queued").stdout


def test_jobs_rejects_an_unknown_state(cli: Cli) -> None:
    result = cli("jobs", "--state", "sleeping")

    assert result.returncode == 2
    assert_clean_failure(result, "unknown state 'sleeping'", "queued, running, succeeded, failed")


def test_jobs_show_prints_the_job_as_json(cli: Cli, job_store: JobStore) -> None:
    job_id = job_store.enqueue("hello.test", {"n": 1}, tenant_key="dingtalk:corp1")

    result = cli("jobs", "show", job_id)

    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["id"] == job_id
    assert shown["kind"] == "hello.test"
    assert shown["state"] == "queued"
    assert shown["tenant"] == "dingtalk:corp1"


def test_jobs_show_an_unknown_id_is_a_clear_error(cli: Cli) -> None:
    assert_clean_failure(cli("jobs", "show", "bad-id"), "no job with id 'bad-id'")


def test_jobs_watch_a_finished_job(cli: Cli, job_store: JobStore) -> None:
    job_id = job_store.enqueue("hello.test", {})
    claimed = job_store.claim()
    assert claimed is not None
    assert claimed.id == job_id
    job_store.finish(job_id, result={"ok": True})

    result = cli("jobs", "watch", job_id)

    assert result.returncode == 0, result.stderr
    assert f"job {job_id} succeeded" in result.stdout


def test_jobs_watch_a_failed_job_exits_non_zero(cli: Cli, job_store: JobStore) -> None:
    job_id = job_store.enqueue("hello.test", {})
    assert job_store.claim() is not None
    job_store.finish(job_id, error="RuntimeError: the model was not there")

    assert_clean_failure(cli("jobs", "watch", job_id), "job failed: RuntimeError")


def test_jobs_watch_an_unknown_id_is_a_clear_error(cli: Cli) -> None:
    assert_clean_failure(cli("jobs", "watch", "0" * 32), f"no job with id '{'0' * 32}'")


def robot_env(fake: FakeDingTalk) -> dict[str, str]:
    return {
        "OFFICEBOT_DINGTALK_ROBOT_WEBHOOK": fake.robot_url(),
        "OFFICEBOT_DINGTALK_ROBOT_SECRET": ROBOT_SECRET,
        "OFFICEBOT_OUTBOUND_ALLOWED_HOSTS": '["127.0.0.1"]',
    }


def test_send_posts_signed_markdown_with_mentions(cli: Cli, fake_dingtalk: FakeDingTalk) -> None:
    result = cli(
        "send",
        "**周会** 改到 15:00",
        "--title",
        "周会通知",
        "--at",
        "user1",
        "--at",
        "user2",
        **robot_env(fake_dingtalk),
    )

    assert result.returncode == 0, result.stderr
    assert "sent (delivery" in result.stdout
    [request] = fake_dingtalk.wait_for(1)
    assert request.path == "/robot/send"
    assert request.query["access_token"] == "test-token"
    assert request.query["sign"] == dingtalk_sign(request.query["timestamp"], ROBOT_SECRET)
    assert request.body["msgtype"] == "markdown"
    assert request.body["markdown"]["title"] == "周会通知"
    assert "**周会** 改到 15:00" in request.body["markdown"]["text"]
    assert request.body["at"]["atUserIds"] == ["user1", "user2"]
    assert request.body["at"]["isAtAll"] is False


def test_send_posts_text_to_everyone(cli: Cli, fake_dingtalk: FakeDingTalk) -> None:
    result = cli("send", "下班前请提交周报", "--at-all", **robot_env(fake_dingtalk))

    assert result.returncode == 0, result.stderr
    [request] = fake_dingtalk.wait_for(1)
    assert request.body["msgtype"] == "text"
    assert "下班前请提交周报" in request.body["text"]["content"]
    assert request.body["at"]["isAtAll"] is True


def test_send_without_a_robot_is_a_clear_error(cli: Cli) -> None:
    assert_clean_failure(
        cli("send", "hello"),
        "OFFICEBOT_DINGTALK_ROBOT_WEBHOOK",
        "OFFICEBOT_DINGTALK_ROBOT_SECRET",
    )


def test_send_to_a_host_that_is_not_allowed_is_refused(
    cli: Cli, fake_dingtalk: FakeDingTalk
) -> None:
    env = robot_env(fake_dingtalk)
    del env["OFFICEBOT_OUTBOUND_ALLOWED_HOSTS"]

    assert_clean_failure(cli("send", "hello", **env), "OFFICEBOT_OUTBOUND_ALLOWED_HOSTS")
    assert fake_dingtalk.requests == []


def test_send_reports_what_dingtalk_answered(cli: Cli, fake_dingtalk: FakeDingTalk) -> None:
    fake_dingtalk.script(Scripted(body={"errcode": 310000, "errmsg": "sign not match"}))

    result = cli("send", "hello", **robot_env(fake_dingtalk))

    assert_clean_failure(result, "sign not match", "310000")


@pytest.mark.parametrize("command", [("serve",), ("plugins",), ("jobs",), ("send", "hi")])
def test_invalid_settings_are_a_clear_error(cli: Cli, command: tuple[str, ...]) -> None:
    result = cli(*command, OFFICEBOT_PORT="notanumber")

    assert_clean_failure(result, "invalid configuration", "OFFICEBOT_PORT")


def test_a_dot_env_file_in_the_working_directory_is_read(cli: Cli, tmp_path: Path) -> None:
    assert Path.cwd() == tmp_path  # tests/conftest.py runs every test in its tmp_path
    (tmp_path / ".env").write_text("OFFICEBOT_LOG_LEVEL=LOUD\n", encoding="utf-8")

    assert_clean_failure(
        cli("plugins"), "OFFICEBOT_LOG_LEVEL", "'DEBUG', 'INFO', 'WARNING' or 'ERROR'"
    )


def test_serve_refuses_to_start_in_production_without_secrets(cli: Cli) -> None:
    result = cli("serve", OFFICEBOT_ENVIRONMENT="production")

    assert_clean_failure(
        result,
        "OFFICEBOT_DINGTALK_APP_SECRET",
        "OFFICEBOT_GENERIC_WEBHOOK_SECRET",
        "OFFICEBOT_API_TOKEN",
    )
