"""Structured output: a validated pydantic object from the model.

Where the backend can constrain decoding to a JSON schema (llama.cpp grammars, OpenAI-style
``response_format``), it does; the result is still validated, because a schema cannot express
everything a model class checks. Otherwise the schema goes into the prompt and the first JSON
object in the reply is taken. Either way an invalid answer is sent back to the model with the
validation errors, up to ``retries`` times.

Every list and string in the schema sent to the model is bounded (``maxItems``/``maxLength``
added where the model class sets none), so constrained output always terminates.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from llm.errors import StructuredOutputError
from llm.prompts import detect_language, render
from llm.service import LLM
from llm.types import Completion, GenerationOptions, Message, Priority, assistant

T = TypeVar("T", bound=BaseModel)

DEFAULT_MAX_ITEMS = 30
DEFAULT_MAX_LENGTH = 1000


def bounded_schema(
    model: type[BaseModel],
    *,
    max_items: int = DEFAULT_MAX_ITEMS,
    max_length: int = DEFAULT_MAX_LENGTH,
) -> dict[str, Any]:
    """The model's JSON schema with a bound on every array and free string."""
    schema = copy.deepcopy(model.model_json_schema())
    _bound(schema, max_items, max_length)
    return schema


def _bound(node: Any, max_items: int, max_length: int) -> None:
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "array":
            node.setdefault("maxItems", max_items)
        elif kind == "string" and not {"enum", "const", "format", "pattern"} & node.keys():
            node.setdefault("maxLength", max_length)
        for value in node.values():
            _bound(value, max_items, max_length)
    elif isinstance(node, list):
        for value in node:
            _bound(value, max_items, max_length)


def extract_json(text: str) -> str:
    """The first complete JSON object in ``text`` (fences and chatter around it ignored)."""
    start = text.find("{")
    while start != -1:
        depth = 0
        in_string = False
        escaped = False
        for index in range(start, len(text)):
            char = text[index]
            if in_string:
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    return text[start : index + 1]
        start = text.find("{", start + 1)
    return text.strip()


def _schema_instruction(schema: dict[str, Any], lang: str) -> str:
    rendered = json.dumps(schema, ensure_ascii=False)
    if lang == "zh":
        return f"\n\n只输出一个符合以下 JSON Schema 的 JSON 对象，不要输出其他内容：\n{rendered}"
    return (
        f"\n\nAnswer with one JSON object that matches this JSON Schema, and nothing else:\n"
        f"{rendered}"
    )


def _errors_text(error: ValidationError | ValueError) -> str:
    if isinstance(error, ValidationError):
        return "\n".join(
            f"- {'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in error.errors()[:10]
        )
    return f"- {error}"


class _Attempts(Generic[T]):
    """The conversation of one structured request and its retries."""

    def __init__(
        self,
        llm: LLM,
        messages: Sequence[Message],
        model: type[T],
        retries: int,
        options: GenerationOptions | None,
        priority: Priority,
        timeout: float | None,
    ) -> None:
        self.model = model
        self.retries = retries
        self._options = options or GenerationOptions(temperature=0.0)
        self._priority = priority
        self._timeout = timeout
        self.schema = bounded_schema(model)
        self.constrained = llm.supports_json_schema
        self.lang = detect_language(" ".join(m.content for m in messages if m.role == "user"))
        self.messages = list(messages)
        if not self.constrained:
            last = self.messages[-1]
            self.messages[-1] = Message(
                role=last.role, content=last.content + _schema_instruction(self.schema, self.lang)
            )
        self.last_error: ValidationError | ValueError | None = None

    def request(self) -> dict[str, Any]:
        """The arguments of the next attempt's ``complete`` call."""
        return {
            "options": self._options,
            "json_schema": self.schema if self.constrained else None,
            "priority": self._priority,
            "timeout": self._timeout,
        }

    def parse(self, completion: Completion) -> T | None:
        try:
            return self.model.model_validate_json(extract_json(completion.text))
        except ValidationError as exc:
            self.last_error = exc
        self.messages += [
            assistant(completion.text),
            *[
                m
                for m in render("json_retry", self.lang, errors=_errors_text(self.last_error))
                if m.role == "user"
            ],
        ]
        return None

    def failure(self) -> StructuredOutputError:
        details = _errors_text(self.last_error) if self.last_error else "no answer"
        return StructuredOutputError(
            f"the model gave no valid {self.model.__name__} after {self.retries + 1} attempt(s):"
            f"\n{details}"
        )


async def structured(
    llm: LLM,
    messages: Sequence[Message],
    model: type[T],
    *,
    options: GenerationOptions | None = None,
    priority: Priority = Priority.INTERACTIVE,
    timeout: float | None = None,  # noqa: ASYNC109 - the model queue's own timeout
    retries: int = 2,
) -> T:
    """A validated ``model`` instance generated from ``messages``."""
    # Building the attempts asks the backend what it supports, which loads it the first time.
    attempts = await asyncio.to_thread(
        _Attempts, llm, messages, model, retries, options, priority, timeout
    )
    for _ in range(retries + 1):
        result = attempts.parse(await llm.complete(attempts.messages, **attempts.request()))
        if result is not None:
            return result
    raise attempts.failure()


def structured_sync(
    llm: LLM,
    messages: Sequence[Message],
    model: type[T],
    *,
    options: GenerationOptions | None = None,
    priority: Priority = Priority.BACKGROUND,
    timeout: float | None = None,
    retries: int = 2,
) -> T:
    """The same, for worker threads (job handlers)."""
    attempts = _Attempts(llm, messages, model, retries, options, priority, timeout)
    for _ in range(retries + 1):
        result = attempts.parse(llm.complete_sync(attempts.messages, **attempts.request()))
        if result is not None:
            return result
    raise attempts.failure()


__all__ = ["bounded_schema", "extract_json", "structured", "structured_sync"]
