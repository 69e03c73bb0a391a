"""What every ``officebot`` subcommand shares: the consoles, one-line errors, settings and the
shared model, each failing with an ``error:`` line and an exit status instead of a traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console

from bot.errors import OfficebotError
from bot.settings import Settings, load_settings

console = Console()
errors = Console(stderr=True)
R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr; raise the returned exit."""
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def guard(func: Callable[[], R]) -> R:
    """``func()``, with officebot's errors (bad settings, say) turned into one error line."""
    try:
        return func()
    except OfficebotError as exc:
        raise fail(exc.message) from None


def current_settings() -> Settings:
    """The settings, or an error line naming the variable that is wrong."""
    return guard(load_settings)


def load_llm(settings: Settings) -> Any:
    """The shared model as configured (not loaded yet)."""
    from llm.errors import LLMError
    from llm.factory import create_llm

    try:
        return create_llm(
            settings.llm, data_dir=settings.data_dir, allowed_hosts=settings.outbound_allowed_hosts
        )
    except LLMError as exc:
        raise fail(exc.message, 2) from None


def plugin_settings(settings: Settings, plugin: str, model: type[M]) -> M:
    """A built-in plugin's settings (``OFFICEBOT_PLUGINS__<PLUGIN>__*``), or an error line."""
    try:
        return model.model_validate(settings.plugin_config(plugin))
    except ValidationError as exc:
        variable = f"OFFICEBOT_PLUGINS__{plugin.upper()}__..."
        raise fail(f"{variable}: {exc.errors()[0]['msg']}", 2) from None
