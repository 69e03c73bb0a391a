"""Plugins as a third party writes them: a real package installed with pip and found through the
``officebot.plugins`` entry-point group, broken plugins that are skipped whole, and the contract's
hooks kept in step with docs/plugins.md."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from bot.registry import PluginRegistry
from bot.settings import Settings, load_settings
from plugins import ENTRY_POINT_GROUP, HOOKS
from tests.conftest import dingtalk_message, post_dingtalk
from tests.support.live_server import LiveServer

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_PKG = ROOT / "tests" / "plugin_pkg"
PLUGINS_DOC = ROOT / "docs" / "plugins.md"
OFFICEBOT = Path(sys.executable).with_name("officebot")
TEST_MODULES = ("officebot_hello", "officebot_test_")


@pytest.fixture(scope="session")
def hello_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/plugin_pkg installed for real by pip into a directory of its own.

    The package is copied first so the build leaves nothing behind in the repository.
    ``--no-build-isolation`` and ``--no-index`` keep pip off the network.
    """
    work = tmp_path_factory.mktemp("officebot-hello")
    source = work / "source"
    shutil.copytree(
        PLUGIN_PKG, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    site = work / "site"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(site),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"pip could not install tests/plugin_pkg:\n{result.stderr}"
    return site


@pytest.fixture
def forget_test_modules() -> Iterator[None]:
    """Plugin modules imported by a test are dropped again, so no test sees another's."""
    yield
    for name in [m for m in sys.modules if m.startswith(TEST_MODULES)]:
        del sys.modules[name]


@pytest.fixture
def broken_site(tmp_path: Path) -> Path:
    """A second, tiny distribution whose four plugins are each broken in their own way."""
    site = tmp_path / "broken-site"
    site.mkdir()
    modules = {
        "officebot_test_raises": """
            raise RuntimeError("this plugin module explodes on import")
        """,
        "officebot_test_notplugin": """
            plugin = {"name": "notplugin", "commands": ["notplugin"]}
        """,
        "officebot_test_badconfig": """
            from pydantic import BaseModel, Field

            from plugins import Plugin


            class Config(BaseModel):
                limit: int = Field(default=10, ge=1)


            plugin = Plugin(name="badconfig", description="needs a positive limit",
                            config_model=Config)


            @plugin.command("badconfig")
            async def run(ctx):
                await ctx.reply("should never be registered")


            @plugin.job("badconfig.work")
            def work(ctx):
                return None
        """,
        "officebot_test_hijack": """
            from plugins import Plugin

            plugin = Plugin(name="hijack", description="claims a word that /help owns")


            @plugin.command("greet")
            async def greet(ctx):
                await ctx.reply("should never be registered")


            @plugin.command("hijack", aliases=("帮助",))
            async def hijack(ctx):
                await ctx.reply("should never be registered")


            @plugin.schedule("nightly", cron="0 3 * * *")
            async def nightly(ctx):
                pass


            @plugin.job("hijack.work")
            def work(ctx):
                return None
        """,
    }
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    dist_info = site / "officebot_test_broken-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: officebot-test-broken\nVersion: 0.1\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n"
        "raises = officebot_test_raises:plugin\n"
        "notplugin = officebot_test_notplugin:plugin\n"
        "badconfig = officebot_test_badconfig:plugin\n"
        # Named to sort before "help": built-in plugins still load first and keep their words.
        "ahijack = officebot_test_hijack:plugin\n",
        encoding="utf-8",
    )
    return site


def entry_points_in(site: Path) -> list[EntryPoint]:
    """The plugin entry points of the distributions installed in ``site``, as the bot sees them."""
    return [
        point
        for dist in importlib.metadata.distributions(path=[str(site)])
        for point in dist.entry_points
        if point.group == ENTRY_POINT_GROUP
    ]


def builtin_entry_points() -> list[EntryPoint]:
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def run_cli(*args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200")
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [str(OFFICEBOT), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


# --- a third-party plugin, installed ---


@pytest.mark.slow
def test_installed_plugin_is_listed_by_the_cli(hello_site: Path) -> None:
    result = run_cli("plugins", pythonpath=hello_site)

    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert "hello" in rows, result.stdout
    assert "/hello|/你好" in rows["hello"]
    assert "officebot-hello" in rows["hello"]
    assert "help" in rows
    assert "skipped" not in result.stderr


def test_plugin_is_not_listed_when_not_installed() -> None:
    result = run_cli("plugins")

    assert result.returncode == 0, result.stderr
    assert "/hello" not in result.stdout
    assert "/help" in result.stdout


@pytest.mark.slow
def test_installed_plugin_answers_in_chat(
    hello_site: Path,
    monkeypatch: pytest.MonkeyPatch,
    forget_test_modules: None,
    make_settings: Callable[..., Settings],
    start_server: Callable[..., LiveServer],
) -> None:
    monkeypatch.syspath_prepend(str(hello_site))
    monkeypatch.setenv("OFFICEBOT_PLUGINS__HELLO__ENGLISH_GREETING", "Good morning")
    settings = make_settings()
    registry = PluginRegistry(settings)
    registry.discover([*builtin_entry_points(), *entry_points_in(hello_site)])
    loaded = registry.get("hello")
    assert loaded is not None, registry.failed
    assert loaded.distribution == "officebot-hello"
    server = start_server(settings, registry)

    for text in ("/hello", "/你好", "你好"):
        response = post_dingtalk(server, dingtalk_message(text))
        assert response.status_code == 200
        body = response.json()
        assert body["msgtype"] == "text", body
        assert body["text"]["content"] == "你好，张三！\nGood morning, 张三!"

    help_text = post_dingtalk(server, dingtalk_message("/help")).json()["markdown"]["text"]
    assert "**/hello**" in help_text
    assert "/你好" in help_text
    assert "_hello_" in help_text


# --- broken plugins are skipped whole ---


def test_broken_plugins_are_logged_and_skipped_whole(
    broken_site: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    forget_test_modules: None,
) -> None:
    monkeypatch.syspath_prepend(str(broken_site))
    monkeypatch.setenv("OFFICEBOT_PLUGINS__BADCONFIG__LIMIT", "0")
    registry = PluginRegistry(load_settings(data_dir=tmp_path / "data"))

    with caplog.at_level(logging.ERROR, logger="bot.registry"):
        registry.discover([*builtin_entry_points(), *entry_points_in(broken_site)])

    assert [loaded.plugin.name for loaded in registry.loaded] == [
        "chat",
        "docs",
        "help",
        "meeting",
        "miniapp",
    ]
    failures = {failed.name: failed.error for failed in registry.failed}
    assert set(failures) == {"raises", "notplugin", "badconfig", "hijack"}
    assert "RuntimeError: this plugin module explodes on import" in failures["raises"]
    assert "expected a plugins.Plugin, got dict" in failures["notplugin"]
    assert "OFFICEBOT_PLUGINS__BADCONFIG__LIMIT" in failures["badconfig"]
    assert "/帮助 is already provided by plugin 'help'" in failures["hijack"]
    logged = {record.getMessage() for record in caplog.records}
    for name in failures:
        assert any(message.startswith(f"plugin {name} ") for message in logged), logged

    # Nothing of the skipped plugins is left: not the commands declared before the conflict,
    # not their job kinds or schedules; /help keeps its words.
    for word in ("greet", "hijack", "badconfig", "notplugin"):
        assert registry.command(word) is None
    help_command = registry.command("帮助")
    assert help_command is not None
    assert help_command[0].plugin.name == "help"
    # only the built-in plugins' own
    assert registry.job_kinds == [
        "chat.summarize",
        "docs.draft",
        "docs.poster",
        "docs.revise",
        "meeting.process",
        "miniapp.build",
        "miniapp.read",
    ]
    assert {schedule.name for _, schedule in registry.schedules()} == {"digest", "retention"}
    assert {info.plugin for info in registry.command_infos()} == {
        "chat",
        "docs",
        "help",
        "meeting",
        "miniapp",
    }


@pytest.mark.slow
def test_bot_runs_without_the_broken_plugins(
    broken_site: Path,
    monkeypatch: pytest.MonkeyPatch,
    forget_test_modules: None,
    make_settings: Callable[..., Settings],
    start_server: Callable[..., LiveServer],
) -> None:
    monkeypatch.syspath_prepend(str(broken_site))
    monkeypatch.setenv("OFFICEBOT_PLUGINS__BADCONFIG__LIMIT", "0")
    settings = make_settings()
    registry = PluginRegistry(settings)
    registry.discover([*builtin_entry_points(), *entry_points_in(broken_site)])
    server = start_server(settings, registry)

    help_text = post_dingtalk(server, dingtalk_message("/help")).json()["markdown"]["text"]
    assert "/greet" not in help_text
    assert "/badconfig" not in help_text
    greet = post_dingtalk(server, dingtalk_message("/greet")).json()
    assert "Unknown command /greet" in greet["text"]["content"]


@pytest.mark.slow
def test_cli_lists_skipped_plugins_and_still_succeeds(
    broken_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFFICEBOT_PLUGINS__BADCONFIG__LIMIT", "0")
    result = run_cli("plugins", pythonpath=broken_site)

    assert result.returncode == 0, result.stderr
    assert "/help|/帮助" in result.stdout
    for name in ("raises", "notplugin", "badconfig", "hijack"):
        assert f"skipped {name} " in result.stderr
    assert "Traceback" not in result.stderr


def test_disabled_plugin_is_not_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "OFFICEBOT_PLUGINS_DISABLED", '["chat", "docs", "help", "meeting", "miniapp"]'
    )
    registry = PluginRegistry(load_settings(data_dir=tmp_path / "data"))
    registry.discover()

    assert registry.loaded == []
    assert registry.failed == []
    assert registry.command("help") is None


# --- the contract and its documentation ---


def _documented_hooks() -> list[str]:
    text = PLUGINS_DOC.read_text(encoding="utf-8")
    section = text.split("\n## Hooks\n", 1)
    assert len(section) == 2, "docs/plugins.md needs a '## Hooks' section"
    hooks_part = section[1].split("\n## ", 1)[0]
    return re.findall(r"^### `([a-z_]+)`", hooks_part, flags=re.MULTILINE)


@pytest.mark.parametrize("hook", HOOKS, ids=lambda hook: hook.__name__)
def test_every_hook_has_a_docstring_and_a_section_in_the_docs(hook: Callable[..., object]) -> None:
    assert (hook.__doc__ or "").strip(), f"plugins.contract: {hook.__qualname__} has no docstring"
    assert hook.__name__ in _documented_hooks(), (
        f"docs/plugins.md has no '### `{hook.__name__}`' section under '## Hooks'"
    )


def test_docs_describe_no_hook_that_does_not_exist() -> None:
    assert sorted(_documented_hooks()) == sorted(hook.__name__ for hook in HOOKS)
