"""The protocol every backend implements.

A backend is used by exactly one thread at a time (the service's worker), so it needs no
locking of its own. ``complete`` blocks; it calls ``on_text`` with each new piece of text as it
is generated, and stops early when ``on_text`` returns True (cancelled or timed out).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from llm.types import Completion, GenerationOptions, Message

TextCallback = Callable[[str], bool]
"""Receives each new piece of generated text; returns True to stop generating."""


class Backend(Protocol):
    @property
    def name(self) -> str:
        """Short backend name, e.g. 'llamacpp'."""
        ...

    @property
    def model_name(self) -> str:
        """The model served, e.g. 'qwen2.5-coder-1.5b'."""
        ...

    @property
    def context_window(self) -> int:
        """Tokens of prompt plus output the backend accepts."""
        ...

    @property
    def supports_json_schema(self) -> bool:
        """True when ``complete`` can constrain its output to a JSON schema."""
        ...

    def complete(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        *,
        json_schema: dict[str, Any] | None = None,
        on_text: TextCallback | None = None,
    ) -> Completion:
        """Generate a reply to ``messages``."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model's vocabulary."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...
