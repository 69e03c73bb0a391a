"""Kinds of documents: a section schema (``<name>.toml``) and a Markdown template
(``<name>.md.j2``) side by side in a directory.

The built-in kinds live in ``docs_gen/kinds``. A site adds its own (or replaces a built-in one
of the same name) by dropping the two files into its templates directory; ``DocumentKinds``
reads the directories again whenever a file in them changes, so a new kind needs no code and
no restart. docs/documents.md describes the schema; a broken custom kind is skipped and its
error kept in ``DocumentKinds.problems`` (``/plan kinds`` and ``GET /api/document-kinds``
show them), never taking the built-in kinds down with it.
"""

from __future__ import annotations

import logging
import re
import threading
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jinja2
import jinja2.sandbox
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from docs_gen.errors import DocumentError

log = logging.getLogger(__name__)

Language = Literal["zh", "en"]
SectionType = Literal["text", "list", "numbered", "checklist", "table", "agenda", "budget", "flow"]
BUILTIN_DIR = Path(__file__).with_name("kinds")
MAX_SECTIONS = 16
_NAME = r"^[a-z][a-z0-9-]{0,39}$"
_ID = r"^[a-z][a-z0-9_]{0,31}$"
_SEPARATORS = " \t:：,，;；-—"


class UnknownKindError(DocumentError):
    """No kind has that name or alias."""

    code = "docs_unknown_kind"


class Bilingual(BaseModel):
    """A text in Chinese and English; a kind may give only one (it serves both)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    zh: str = Field(default="", max_length=400)
    en: str = Field(default="", max_length=400)

    @model_validator(mode="after")
    def _one_at_least(self) -> Bilingual:
        if not self.zh and not self.en:
            raise ValueError("give the text in zh, en or both")
        return self

    def __call__(self, language: Language) -> str:
        return (self.zh or self.en) if language == "zh" else (self.en or self.zh)


class Column(BaseModel):
    """A column of a ``table`` section: what the model fills for each row."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_ID)
    title: Bilingual
    max_chars: int = Field(default=40, ge=4, le=200)


class SectionSpec(BaseModel):
    """One section of a kind: what it is called, what the model writes there, and its shape.

    - ``text``: a paragraph; ``list``/``numbered``/``checklist``: short items;
    - ``table``: rows with the given ``columns``;
    - ``agenda``: topics with minutes and an owner (code sets the clock times);
    - ``budget``: items with quantity and unit price (code computes amounts and the total);
    - ``flow``: steps with a role, a time limit and whether it is an approval (code draws the
      diagram and adds the time limits up).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_ID)
    type: SectionType
    title: Bilingual
    hint: Bilingual
    """What to write in this section, told to the model."""
    aliases: tuple[str, ...] = ()
    """Other names people use for it in ``/plan revise <section> ...`` (e.g. "预算")."""
    max_items: int = Field(default=6, ge=1, le=20)
    max_chars: int = Field(default=300, ge=20, le=2000)
    """A ``text`` section's length; the length of each item of a list."""
    columns: tuple[Column, ...] = ()

    @model_validator(mode="after")
    def _columns_for_tables(self) -> SectionSpec:
        if self.type == "table" and not 1 <= len(self.columns) <= 6:
            raise ValueError(f"table section {self.id!r} needs 1 to 6 columns")
        if self.type != "table" and self.columns:
            raise ValueError(f"section {self.id!r} is a {self.type}; only tables have columns")
        if len({c.id for c in self.columns}) != len(self.columns):
            raise ValueError(f"table section {self.id!r} repeats a column id")
        return self

    def names(self) -> tuple[str, ...]:
        return (self.id, self.title.zh, self.title.en, *self.aliases)


class KindSpec(BaseModel):
    """A kind of document, as its ``.toml`` declares it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME)
    title: Bilingual
    description: Bilingual
    aliases: tuple[str, ...] = ()
    """What people call it in chat: "活动策划", "活动", "event"."""
    poster: bool = False
    """Whether a poster suits this kind (events)."""
    sections: tuple[SectionSpec, ...] = Field(min_length=1, max_length=MAX_SECTIONS)

    @model_validator(mode="after")
    def _unique_sections(self) -> KindSpec:
        ids = [s.id for s in self.sections]
        if len(set(ids)) != len(ids):
            raise ValueError(f"kind {self.name!r} repeats a section id")
        return self

    def names(self) -> tuple[str, ...]:
        return (self.name, self.title.zh, self.title.en, *self.aliases)

    def section(self, name: str) -> SectionSpec:
        """The section called ``name`` (its id, title or an alias, any case)."""
        wanted = _fold(name)
        for section in self.sections:
            if wanted in {_fold(n) for n in section.names() if n}:
                return section
        known = "、".join(f"{s.id} ({s.title.zh or s.title.en})" for s in self.sections)
        raise DocumentError(f"{self.title('zh')}没有“{name}”这一节；可选：{known}")


@dataclass(frozen=True, slots=True)
class Kind:
    """A loaded kind: its schema and its template."""

    spec: KindSpec
    template: jinja2.Template
    source: Path
    builtin: bool

    @property
    def name(self) -> str:
        return self.spec.name


def _fold(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text).casefold()


def template_environment(directories: Sequence[Path]) -> jinja2.Environment:
    """Templates render Markdown, sandboxed (a template cannot reach Python internals), with
    strict variables. Values come in escaped already (see ``docs_gen.render``)."""
    return jinja2.sandbox.SandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(d) for d in directories]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def load_kind(schema_file: Path, environment: jinja2.Environment, *, builtin: bool) -> Kind:
    """One kind from its ``.toml`` and the ``.md.j2`` beside it."""
    try:
        raw: dict[str, Any] = tomllib.loads(schema_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DocumentError(f"{schema_file.name}: not readable TOML ({exc})") from None
    raw.setdefault("name", schema_file.stem)
    try:
        spec = KindSpec.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise DocumentError(f"{schema_file.name}: {problems}") from None
    if spec.name != schema_file.stem:
        raise DocumentError(f"{schema_file.name}: name {spec.name!r} must match the file name")
    template_name = f"{schema_file.stem}.md.j2"
    if not schema_file.with_name(template_name).is_file():
        raise DocumentError(f"{schema_file.name}: its template {template_name} is missing")
    try:
        template = environment.get_template(template_name)
    except jinja2.TemplateError as exc:
        raise DocumentError(f"{template_name}: {exc}") from None
    return Kind(spec, template, schema_file, builtin)


class DocumentKinds:
    """Every kind: the built-in ones, then each custom directory's (a later one replaces an
    earlier one of the same name). Reloaded when a directory's files change."""

    def __init__(self, custom_dirs: Iterable[Path] = ()) -> None:
        self._dirs = [BUILTIN_DIR, *(Path(d) for d in custom_dirs)]
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[str, int, int], ...] | None = None
        self._kinds: dict[str, Kind] = {}
        self._problems: list[str] = []

    def _current_stamp(self) -> tuple[tuple[str, int, int], ...]:
        stamp = []
        for directory in self._dirs:
            if not directory.is_dir():
                continue
            for path in sorted(directory.iterdir()):
                if path.suffix in (".toml", ".j2"):
                    info = path.stat()
                    stamp.append((str(path), info.st_mtime_ns, info.st_size))
        return tuple(stamp)

    def _reload(self) -> None:
        stamp = self._current_stamp()
        if stamp == self._stamp:
            return
        kinds: dict[str, Kind] = {}
        problems: list[str] = []
        for directory in self._dirs:
            if not directory.is_dir():
                continue
            builtin = directory == BUILTIN_DIR
            # A kind's template may include helpers from its own directory and the built-ins.
            environment = template_environment([directory, BUILTIN_DIR])
            for schema_file in sorted(directory.glob("*.toml")):
                try:
                    kind = load_kind(schema_file, environment, builtin=builtin)
                except DocumentError as exc:
                    problems.append(f"{directory}: {exc.message}")
                    log.warning("document kind skipped: %s", exc.message)
                    continue
                if kind.name in kinds and not builtin:
                    log.info("custom kind %s replaces the one in %s", kind.name, directory)
                kinds[kind.name] = kind
        self._kinds, self._problems, self._stamp = kinds, problems, stamp

    def all(self) -> list[Kind]:
        with self._lock:
            self._reload()
            return list(self._kinds.values())

    @property
    def problems(self) -> list[str]:
        with self._lock:
            self._reload()
            return list(self._problems)

    def get(self, name: str) -> Kind:
        """The kind called ``name``: its name, title or an alias, any case."""
        wanted = _fold(name)
        kinds = self.all()
        for kind in kinds:
            if wanted in {_fold(n) for n in kind.spec.names() if n}:
                return kind
        known = ", ".join(f"{k.name} ({k.spec.title('zh')})" for k in kinds)
        raise UnknownKindError(f"no document kind {name!r}; known kinds: {known}")

    def match_prefix(self, text: str) -> tuple[Kind, str] | None:
        """The kind named at the start of ``text`` and the rest ("活动策划 年会..." or
        "event-plan: ..."), longest name first; None when it names none."""
        stripped = text.strip()
        folded = stripped.casefold()
        candidates = sorted(
            ((n, k) for k in self.all() for n in k.spec.names() if n),
            key=lambda pair: -len(pair[0]),
        )
        for name, kind in candidates:
            if folded.startswith(name.casefold()):
                rest = stripped[len(name) :]
                if rest and rest[0] not in _SEPARATORS and (name.isascii() or len(name) < 4):
                    continue  # "events2026" names no "event", "会议室预订流程" no "会议"
                return kind, rest.lstrip(" :：,，").strip()
        return None
