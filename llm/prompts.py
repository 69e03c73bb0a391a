"""Prompts as jinja2 templates, one per task and language: ``llm/prompts/<task>.<lang>.j2``.

Each template defines ``{% block system %}`` and ``{% block user %}``; ``render`` turns them into
the messages of one request (a block that renders empty is left out, so a template that
continues a conversation, such as ``json_retry``, yields only its user message).

Rules every template follows, because small models need them:

- Untrusted text (chat messages, transcripts, documents, the user's question) goes in verbatim,
  inside a delimited section made by the ``delimit`` filter: ``{{ text | delimit("text") }}``
  gives ``<text>`` ... ``</text>``, and the system prompt says that what is inside is material,
  not instructions. If the text itself contains the closing tag, the tag gets a numeric
  suffix, so the text cannot close its own section early.
- The instruction comes after the long text (small models follow the last thing they read).
- ``bullets`` turns a list into ``- item`` lines, one line per item, each bounded.
- Variables are strict: a missing one is an error naming the template and the variable.
  Autoescaping is off: prompts are plain text, not HTML.

Files whose name starts with ``_`` are helpers (macros), not tasks.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import jinja2
import jinja2.meta

from llm.errors import LLMError
from llm.types import Message, system, user

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
TEMPLATE_DIR = Path(__file__).with_name("prompts")

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_TAG = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


class PromptError(LLMError, ValueError):
    """An unknown task or language, or a template rendered with a missing variable."""

    code = "llm_prompt"


def delimit(text: object, tag: str, **attributes: object) -> str:
    """``text`` verbatim (less blank space around it) between ``<tag ...>`` and ``</tag>`` lines.

    When the text already contains the closing tag, the tag becomes ``tag-2``, ``tag-3``, ...
    until it does not, so untrusted text can never end its own section.
    """
    if not _TAG.fullmatch(tag):
        raise PromptError(f"a section tag must be a plain identifier, got {tag!r}")
    body = str(text)  # a StrictUndefined raises here, naming the missing variable
    folded = body.casefold()
    name = tag
    suffix = 1
    while f"</{name}".casefold() in folded:
        suffix += 1
        name = f"{tag}-{suffix}"
    attrs = "".join(f' {key}="{value}"' for key, value in attributes.items())
    return f"<{name}{attrs}>\n{body.strip()}\n</{name}>"


def bullets(items: Iterable[object], max_chars: int = 300) -> str:
    """One ``- item`` line per non-empty item, each flattened to one line of at most
    ``max_chars`` characters (long error messages or titles must not swamp a prompt)."""
    lines = []
    for item in items:
        line = " ".join(str(item).split())
        if len(line) > max_chars:
            line = line[: max_chars - 1] + "…"
        if line:
            lines.append(f"- {line}")
    return "\n".join(lines)


class PromptSet:
    """The templates of one directory, rendered by the rules above.

    The model layer's own set is ``llm/prompts``; a pipeline keeps its prompts beside the code
    that checks their answers (``chat_summary/prompts``) in a ``PromptSet`` of its own.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._environment: jinja2.Environment | None = None
        self._lock = threading.Lock()

    def _env(self) -> jinja2.Environment:
        if self._environment is None:
            with self._lock:
                if self._environment is None:
                    environment = jinja2.Environment(
                        loader=jinja2.FileSystemLoader(self.directory),
                        undefined=jinja2.StrictUndefined,
                        autoescape=False,
                        trim_blocks=True,
                        lstrip_blocks=True,
                        keep_trailing_newline=False,
                        auto_reload=False,
                    )
                    environment.filters["delimit"] = delimit
                    environment.filters["bullets"] = bullets
                    self._environment = environment
        return self._environment

    def available_tasks(self) -> dict[str, tuple[str, ...]]:
        """Every task that has a template, with the languages it is written in."""
        found: dict[str, set[str]] = {}
        for path in self.directory.glob("*.j2"):
            if path.name.startswith("_"):
                continue
            task, _, lang = path.name.removesuffix(".j2").rpartition(".")
            if task and lang:
                found.setdefault(task, set()).add(lang)
        return {task: tuple(sorted(langs)) for task, langs in sorted(found.items())}

    def _template_name(self, task: str, lang: str) -> str:
        tasks = self.available_tasks()
        if not _NAME.fullmatch(task) or task not in tasks:
            raise PromptError(
                f"unknown prompt task {task!r}; available: {', '.join(tasks) or '(none)'}"
            )
        if lang not in tasks[task]:
            raise PromptError(
                f"prompt task {task!r} has no {lang!r} template; available: "
                f"{', '.join(tasks[task])}"
            )
        return f"{task}.{lang}.j2"

    def template_variables(self, task: str, lang: str) -> frozenset[str]:
        """The variables the template of ``task`` in ``lang`` reads."""
        name = self._template_name(task, lang)
        environment = self._env()
        source, _, _ = environment.loader.get_source(environment, name)  # type: ignore[union-attr]
        return frozenset(jinja2.meta.find_undeclared_variables(environment.parse(source)))

    def render(self, task: str, lang: str, **variables: Any) -> list[Message]:
        """The messages for ``task`` in ``lang`` ("zh" or "en"): system (if any), then user."""
        name = self._template_name(task, lang)
        template = self._env().get_template(name)
        missing = [block for block in ("system", "user") if block not in template.blocks]
        if missing:
            raise PromptError(f"prompt template {name!r} defines no {' or '.join(missing)} block")
        try:
            context = template.new_context(dict(variables))
            parts = {
                block: "".join(template.blocks[block](context)).strip()
                for block in ("system", "user")
            }
        except jinja2.UndefinedError as exc:
            needed = ", ".join(sorted(self.template_variables(task, lang)))
            raise PromptError(
                f"prompt template {name!r} is missing a variable: {exc.message} (it uses: {needed})"
            ) from None
        if not parts["user"]:
            raise PromptError(f"prompt template {name!r} rendered an empty user message")
        messages = [system(parts["system"])] if parts["system"] else []
        messages.append(user(parts["user"]))
        return messages


MODEL_PROMPTS = PromptSet(TEMPLATE_DIR)
"""The model layer's own prompts (``llm/prompts/*.j2``)."""


def available_tasks() -> dict[str, tuple[str, ...]]:
    """Every task of the model layer's prompts, with the languages it is written in."""
    return MODEL_PROMPTS.available_tasks()


def template_variables(task: str, lang: str) -> frozenset[str]:
    """The variables the template of ``task`` in ``lang`` reads."""
    return MODEL_PROMPTS.template_variables(task, lang)


def render(task: str, lang: str, **variables: Any) -> list[Message]:
    """The messages for ``task`` in ``lang`` ("zh" or "en"): system (if any), then user."""
    return MODEL_PROMPTS.render(task, lang, **variables)


# --- language ------------------------------------------------------------------------------

_LATIN_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
ZH_SHARE = 0.5
"""Chinese wins when CJK characters are at least this share of (CJK characters + Latin words)."""


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0x3400 <= code <= 0x4DBF  # extension A
        or 0x20000 <= code <= 0x2FA1F  # extensions B-F, compatibility supplement
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
    )


def detect_language(text: str, default: Language = "zh") -> Language:
    """The language of ``text``, "zh" or "en", from its share of Chinese.

    One Chinese character is weighed against one English word (a character carries about as
    much as a short word), so "请把 budget review 的结论发给 Alice" is Chinese while an
    English sentence that names 张伟 and 李娜 stays English. Text with neither (numbers,
    emoji, empty) gets ``default``.
    """
    normalized = unicodedata.normalize("NFKC", text)
    cjk = sum(1 for char in normalized if _is_cjk(char))
    words = len(_LATIN_WORD.findall(normalized))
    if cjk + words == 0:
        return default
    return "zh" if cjk / (cjk + words) >= ZH_SHARE else "en"
