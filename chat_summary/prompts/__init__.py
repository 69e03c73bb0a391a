"""The summarizer's prompts: ``chat_summary/prompts/<task>.<lang>.j2``.

The templates follow the rules of ``llm.prompts`` (a ``system`` and a ``user`` block; untrusted
text inside a ``delimit`` section; the instruction after the long text; strict variables) and use
its filters. They live here, beside the code that checks the answers, because a prompt and its
checks change together; the loader is a small jinja2 environment over this directory, so
``llm/prompts`` stays the model layer's own set.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import jinja2

from llm.prompts import PromptError, bullets, delimit
from llm.types import Message, system, user

TEMPLATE_DIR = Path(__file__).parent
LANGUAGES = ("zh", "en")

_environment: jinja2.Environment | None = None
_lock = threading.Lock()


def _env() -> jinja2.Environment:
    global _environment
    if _environment is None:
        with _lock:
            if _environment is None:
                environment = jinja2.Environment(
                    loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
                    undefined=jinja2.StrictUndefined,
                    autoescape=False,
                    trim_blocks=True,
                    lstrip_blocks=True,
                    auto_reload=False,
                )
                environment.filters["delimit"] = delimit
                environment.filters["bullets"] = bullets
                _environment = environment
    return _environment


def render(task: str, lang: str, **variables: Any) -> list[Message]:
    """The messages of ``task`` in ``lang`` ("zh" or "en"): system (if any), then user."""
    if lang not in LANGUAGES:
        raise PromptError(f"unknown prompt language {lang!r}; available: {', '.join(LANGUAGES)}")
    name = f"{task}.{lang}.j2"
    try:
        template = _env().get_template(name)
    except jinja2.TemplateNotFound:
        tasks = sorted({p.name.split(".")[0] for p in TEMPLATE_DIR.glob("*.j2")})
        raise PromptError(
            f"unknown summarizer prompt {task!r}; available: {', '.join(tasks)}"
        ) from None
    try:
        context = template.new_context(dict(variables))
        parts = {
            block: "".join(template.blocks[block](context)).strip() for block in ("system", "user")
        }
    except jinja2.UndefinedError as exc:
        raise PromptError(
            f"prompt template {name!r} is missing a variable: {exc.message}"
        ) from None
    messages = [system(parts["system"])] if parts["system"] else []
    messages.append(user(parts["user"]))
    return messages
