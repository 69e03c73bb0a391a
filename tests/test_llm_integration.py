"""The shared model inside the bot: plugins reach it, the API shows it, the CLI asks it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.registry import PluginRegistry
from bot.settings import Settings
from llm.types import GenerationOptions, user
from plugins import CommandContext, Param, Plugin
from tests.conftest import API_TOKEN, dingtalk_message, post_dingtalk
from tests.support.live_server import LiveServer

OFFICEBOT = Path(sys.executable).with_name("officebot")

asker = Plugin(name="asker", description="asks the shared model")


@asker.command("ask", aliases=("问",), params=(Param("question", type="text"),))
async def ask(ctx: CommandContext) -> None:
    answer = await ctx.services.llm.chat(
        [user(str(ctx.args["question"]))], options=GenerationOptions(max_tokens=24)
    )
    await ctx.reply(answer)


def test_status_shows_the_model_queue(server: LiveServer) -> None:
    response = httpx.get(
        f"{server.url}/api/status", headers={"authorization": f"Bearer {API_TOKEN}"}
    )
    assert response.status_code == 200
    llm = response.json()["llm"]
    assert (llm["backend"], llm["model"]) == ("llamacpp", "qwen2.5-coder-0.5b")
    assert llm["queue_depth"] == 0
    assert llm["loaded"] is False  # warm-up is off in tests: nothing loaded until first use


@pytest.mark.slow
def test_a_plugin_command_uses_the_shared_model(
    start_server: Callable[..., LiveServer], make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(inline_reply_timeout_s=60)
    registry = PluginRegistry(settings)
    registry.discover()
    registry.add(asker)
    server = start_server(settings, registry)
    response = post_dingtalk(server, dingtalk_message("/问 中国的首都是哪个城市？"))
    assert response.status_code == 200
    assert "北京" in response.json()["text"]["content"]


def run_cli(*args: str, model_cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OFFICEBOT_")}
    environment |= {
        "OFFICEBOT_LLM__MODEL": "qwen2.5-coder-0.5b",
        "OFFICEBOT_LLM__CACHE_DIR": str(model_cache),
        "COLUMNS": "200",
        **env,
    }
    return subprocess.run(
        [str(OFFICEBOT), "llm", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_cli_ask_streams_an_answer(model_cache: Path) -> None:
    result = run_cli(
        "ask", "1加1等于几？用中文回答。", "--max-tokens", "30", model_cache=model_cache
    )
    assert result.returncode == 0, result.stderr
    assert "2" in result.stdout


def test_cli_ask_rejects_an_empty_question(model_cache: Path) -> None:
    result = run_cli("ask", "  ", model_cache=model_cache)
    assert result.returncode == 2
    assert "the question is empty" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_reports_a_misconfigured_backend(model_cache: Path) -> None:
    result = run_cli("ask", "hi", model_cache=model_cache, OFFICEBOT_LLM__BACKEND="openai")
    assert result.returncode == 2
    assert "OFFICEBOT_LLM__OPENAI_BASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_cli_verify_checks_the_weights(model_cache: Path) -> None:
    result = run_cli("verify", model_cache=model_cache)
    assert result.returncode == 0, result.stderr
    assert "matches sha256 1d9614638d18024d" in result.stdout


@pytest.mark.slow
def test_cli_bench_reports_tokens_per_second(model_cache: Path) -> None:
    result = run_cli("bench", "--repeat", "1", "--max-tokens", "8", model_cache=model_cache)
    assert result.returncode == 0, result.stderr
    assert "gen tok/s" in result.stdout
    assert "qwen2.5-coder-0.5b" in result.stdout
