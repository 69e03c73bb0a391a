"""The plugin contract: a plugin is a module-level ``Plugin`` object that declares itself.

A distribution exposes it through the entry-point group ``officebot.plugins``::

    [project.entry-points."officebot.plugins"]
    hello = "officebot_hello:plugin"

Built-in plugins are declared exactly the same way in officebot's own pyproject.toml.
Every extension point is a decorator method of :class:`Plugin`; ``HOOKS`` lists them, and
docs/plugins.md documents each one (a test keeps the two in step).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel

from plugins.context import (
    CommandContext,
    EventContext,
    HttpContext,
    JobContext,
    ScheduleContext,
)

ENTRY_POINT_GROUP = "officebot.plugins"

CommandHandler = Callable[[CommandContext], Awaitable[None]]
EventHandler = Callable[[EventContext], Awaitable[None]]
ScheduleHandler = Callable[[ScheduleContext], Awaitable[None]]
JobHandler = Callable[[JobContext], Any]
"""A job handler is ``async def`` (may await ``ctx.run_in_thread``) or a plain function that the
worker runs in a thread. Its return value, JSON-serializable, is stored as the job's result."""

F = TypeVar("F", bound=Callable[..., Any])

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
ROUTE_PREFIXES = ("/api/", "/events/")
"""Where plugin routes may live: beside the bot's own, never over /webhooks or /healthz."""
_COMMAND = re.compile(r"^[^\s/]{1,32}$")
ParamType = Literal["str", "int", "float", "text"]


class PluginDefinitionError(ValueError):
    """A plugin declared something invalid; the loader skips the plugin and says why."""


@dataclass(frozen=True, slots=True)
class Param:
    """One positional argument of a command.

    ``type="text"`` takes the rest of the message verbatim (only as the last parameter).
    ``choices`` limits the accepted values (compared case-insensitively).
    """

    name: str
    type: ParamType = "str"
    required: bool = True
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    aliases: tuple[str, ...]
    summary: str
    params: tuple[Param, ...]
    handler: CommandHandler

    @property
    def usage(self) -> str:
        parts = [f"/{self.name}"]
        for param in self.params:
            label = param.name if not param.choices else "|".join(param.choices)
            label = f"{label}..." if param.type == "text" else label
            parts.append(f"<{label}>" if param.required else f"[{label}]")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class EventHook:
    handler: EventHandler
    msgtypes: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    cron: str | None
    handler: ScheduleHandler
    summary: str


@dataclass(frozen=True, slots=True)
class JobKind:
    kind: str
    handler: JobHandler


@dataclass
class Plugin:
    """Metadata plus the handlers a plugin registers through its decorator methods."""

    name: str
    description: str
    usage: str = ""
    version: str = "0"
    config_model: type[BaseModel] | None = None
    commands: list[Command] = field(default_factory=list)
    event_hooks: list[EventHook] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    job_kinds: list[JobKind] = field(default_factory=list)
    routers: list[APIRouter] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise PluginDefinitionError(
                f"plugin name {self.name!r} is invalid: use lower-case letters, digits, '-' or "
                "'_', starting with a letter, at most 40 characters"
            )

    def command(
        self,
        name: str,
        *,
        aliases: tuple[str, ...] | list[str] = (),
        summary: str = "",
        params: tuple[Param, ...] | list[Param] = (),
    ) -> Callable[[F], F]:
        """Register a chat command ``/name`` (and its aliases, e.g. Chinese ones)."""
        for word in (name, *aliases):
            if not _COMMAND.match(word):
                raise PluginDefinitionError(
                    f"command word {word!r} of plugin {self.name!r} must be 1-32 characters "
                    "without spaces or '/'"
                )
        _check_params(self.name, name, tuple(params))

        def register(handler: F) -> F:
            self.commands.append(
                Command(
                    name,
                    tuple(aliases),
                    summary or (handler.__doc__ or "").strip(),
                    tuple(params),
                    handler,
                )
            )
            return handler

        return register

    def on_message(self, *, msgtypes: tuple[str, ...] | None = None) -> Callable[[F], F]:
        """Run for every stored chat message (optionally only some msgtypes), commands included."""

        def register(handler: F) -> F:
            self.event_hooks.append(
                EventHook(handler, frozenset(msgtypes) if msgtypes is not None else None)
            )
            return handler

        return register

    def schedule(
        self, name: str, *, cron: str | None = None, summary: str = ""
    ) -> Callable[[F], F]:
        """Run on a cron schedule (five fields, in the bot's timezone); without ``cron`` the
        plugin adds instances at run time through ``ScheduleControl``."""
        if not _NAME.match(name):
            raise PluginDefinitionError(f"schedule name {name!r} of {self.name!r} is invalid")
        if cron is not None and len(cron.split()) != 5:
            raise PluginDefinitionError(
                f"schedule {name!r} of {self.name!r}: cron {cron!r} must have five fields "
                "(minute hour day month weekday)"
            )

        def register(handler: F) -> F:
            self.schedules.append(
                Schedule(name, cron, handler, summary or (handler.__doc__ or "").strip())
            )
            return handler

        return register

    def job(self, kind: str) -> Callable[[F], F]:
        """Handle persistent background jobs of ``kind`` (conventionally ``plugin.something``)."""
        if not kind or len(kind) > 64:
            raise PluginDefinitionError(f"job kind {kind!r} of {self.name!r} is invalid")

        def register(handler: F) -> F:
            self.job_kinds.append(JobKind(kind, handler))
            return handler

        return register

    def routes(self, router: APIRouter) -> APIRouter:
        """Serve a FastAPI router's paths (under /api/ or /events/, behind the API token).
        Handlers reach the bot through ``Depends(plugin.http_context)``."""
        for route in router.routes:
            path = str(getattr(route, "path", ""))
            if not path.startswith(ROUTE_PREFIXES):
                raise PluginDefinitionError(
                    f"route {path!r} of {self.name!r} must start with one of "
                    f"{', '.join(ROUTE_PREFIXES)}"
                )
        self.routers.append(router)
        return router

    async def http_context(self, request: Request) -> HttpContext:
        """FastAPI dependency: this plugin's ``HttpContext`` for the current request."""
        factory = getattr(request.app.state, "plugin_http_context", None)
        if factory is None:
            raise RuntimeError("plugin routes are served by the officebot app only")
        context: HttpContext = factory(self.name)
        return context

    def build_config(self, raw: Mapping[str, Any]) -> BaseModel | None:
        """Validate this plugin's settings with its own config model."""
        if self.config_model is None:
            return None
        return self.config_model.model_validate(dict(raw))


HOOKS: tuple[Callable[..., Any], ...] = (
    Plugin.command,
    Plugin.on_message,
    Plugin.schedule,
    Plugin.job,
    Plugin.routes,
)
"""Every extension point a plugin can use; each must be documented in docs/plugins.md."""


def _check_params(plugin: str, command: str, params: tuple[Param, ...]) -> None:
    seen_optional = False
    for index, param in enumerate(params):
        if param.type == "text" and index != len(params) - 1:
            raise PluginDefinitionError(
                f"/{command} of {plugin!r}: a 'text' parameter must come last"
            )
        if param.required and seen_optional:
            raise PluginDefinitionError(
                f"/{command} of {plugin!r}: required parameter {param.name!r} follows an "
                "optional one"
            )
        seen_optional = seen_optional or not param.required
