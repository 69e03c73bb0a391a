"""Discovering and registering plugins from the ``officebot.plugins`` entry-point group.

A plugin that fails to import, is not a ``Plugin``, has invalid settings or claims a command or
job kind that another plugin already owns is logged and skipped as a whole: nothing of it stays
registered, and the bot starts without it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from pydantic import BaseModel, ValidationError

from bot.settings import Settings
from plugins.context import CommandInfo
from plugins.contract import ENTRY_POINT_GROUP, Command, JobHandler, Plugin, Schedule

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoadedPlugin:
    plugin: Plugin
    config: BaseModel | None
    source: str
    distribution: str | None


@dataclass(frozen=True, slots=True)
class FailedPlugin:
    name: str
    source: str
    error: str


class PluginRegistry:
    """The loaded plugins and the lookup tables built from them."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._loaded: dict[str, LoadedPlugin] = {}
        self.failed: list[FailedPlugin] = []
        self._commands: dict[str, tuple[LoadedPlugin, Command]] = {}
        self._job_kinds: dict[str, tuple[LoadedPlugin, JobHandler]] = {}

    @property
    def loaded(self) -> Sequence[LoadedPlugin]:
        return list(self._loaded.values())

    def get(self, name: str) -> LoadedPlugin | None:
        return self._loaded.get(name)

    def discover(self, points: Iterable[EntryPoint] | None = None) -> None:
        """Load every plugin of the entry-point group (or the given entry points)."""
        if points is None:
            points = entry_points(group=ENTRY_POINT_GROUP)
        # officebot's own plugins first: a third-party plugin can add commands, never take one
        # of the built-in ones over.
        for point in sorted(points, key=lambda p: (not _is_builtin(p), p.name)):
            if point.name in self._settings.plugins_disabled:
                log.info("plugin %s is disabled by OFFICEBOT_PLUGINS_DISABLED", point.name)
                continue
            source = point.value
            try:
                candidate = point.load()
            except Exception as exc:
                self._fail(point.name, source, f"import failed: {type(exc).__name__}: {exc}")
                continue
            distribution = point.dist.name if point.dist is not None else None
            self.add(candidate, source=source, distribution=distribution, entry_name=point.name)

    def add(
        self,
        candidate: object,
        *,
        source: str = "<code>",
        distribution: str | None = None,
        entry_name: str | None = None,
    ) -> LoadedPlugin | None:
        """Validate and register one plugin object; returns None when it was skipped."""
        name = entry_name or str(getattr(candidate, "name", "?"))
        if not isinstance(candidate, Plugin):
            self._fail(name, source, f"expected a plugins.Plugin, got {type(candidate).__name__}")
            return None
        plugin = candidate
        if plugin.name in self._loaded:
            self._fail(plugin.name, source, f"a plugin named {plugin.name!r} is already loaded")
            return None
        try:
            config = plugin.build_config(self._settings.plugin_config(plugin.name))
        except ValidationError as exc:
            details = "; ".join(
                f"OFFICEBOT_PLUGINS__{plugin.name.upper()}__{str(err['loc'][0]).upper()}: "
                f"{err['msg']}"
                for err in exc.errors()
            )
            self._fail(plugin.name, source, f"invalid settings: {details}")
            return None
        conflict = self._conflict(plugin)
        if conflict:
            self._fail(plugin.name, source, conflict)
            return None
        loaded = LoadedPlugin(plugin, config, source, distribution)
        self._loaded[plugin.name] = loaded
        for command in plugin.commands:
            for word in (command.name, *command.aliases):
                self._commands[word.lower()] = (loaded, command)
        for job_kind in plugin.job_kinds:
            self._job_kinds[job_kind.kind] = (loaded, job_kind.handler)
        log.info("plugin %s loaded from %s", plugin.name, source)
        return loaded

    def _conflict(self, plugin: Plugin) -> str | None:
        words: set[str] = set()
        for command in plugin.commands:
            for word in (command.name, *command.aliases):
                key = word.lower()
                owner = self._commands.get(key)
                if owner is not None:
                    return f"command /{word} is already provided by plugin {owner[0].plugin.name!r}"
                if key in words:
                    return f"command /{word} is declared twice"
                words.add(key)
        kinds: set[str] = set()
        for job_kind in plugin.job_kinds:
            job_owner = self._job_kinds.get(job_kind.kind)
            if job_owner is not None:
                return (
                    f"job kind {job_kind.kind!r} is already handled by plugin "
                    f"{job_owner[0].plugin.name!r}"
                )
            if job_kind.kind in kinds:
                return f"job kind {job_kind.kind!r} is declared twice"
            kinds.add(job_kind.kind)
        return None

    def _fail(self, name: str, source: str, error: str) -> None:
        log.error("plugin %s (%s) skipped: %s", name, source, error)
        self.failed.append(FailedPlugin(name, source, error))

    def command(self, word: str) -> tuple[LoadedPlugin, Command] | None:
        return self._commands.get(word.lower())

    def job_handler(self, kind: str) -> tuple[LoadedPlugin, JobHandler] | None:
        return self._job_kinds.get(kind)

    @property
    def job_kinds(self) -> Sequence[str]:
        return sorted(self._job_kinds)

    def command_infos(self) -> Sequence[CommandInfo]:
        return [
            CommandInfo(
                plugin=loaded.plugin.name,
                name=command.name,
                aliases=command.aliases,
                summary=command.summary,
                usage=command.usage,
            )
            for loaded in self._loaded.values()
            for command in loaded.plugin.commands
        ]

    def schedules(self) -> Sequence[tuple[LoadedPlugin, Schedule]]:
        return [
            (loaded, schedule)
            for loaded in self._loaded.values()
            for schedule in loaded.plugin.schedules
        ]


def _is_builtin(point: EntryPoint) -> bool:
    return point.dist is not None and point.dist.name == "officebot"
