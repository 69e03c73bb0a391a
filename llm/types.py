"""Typed values passed between the model layer and its callers."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant"]


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str = Field(max_length=2_000_000)


def system(content: str) -> Message:
    return Message(role="system", content=content)


def user(content: str) -> Message:
    return Message(role="user", content=content)


def assistant(content: str) -> Message:
    return Message(role="assistant", content=content)


class Priority(IntEnum):
    """Lower runs first: someone waiting in a chat goes before a background job."""

    INTERACTIVE = 0
    BACKGROUND = 10


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    """Sampling and bounds for one request. ``max_tokens`` bounds every output."""

    max_tokens: int = 512
    temperature: float = 0.2
    top_p: float = 0.9
    stop: tuple[str, ...] = ()
    seed: int | None = 42

    def __post_init__(self) -> None:
        if not 1 <= self.max_tokens <= 32_768:
            raise ValueError(f"max_tokens must be between 1 and 32768, got {self.max_tokens}")
        if not 0 <= self.temperature <= 2:
            raise ValueError(f"temperature must be between 0 and 2, got {self.temperature}")


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    """Prompt tokens reused from the previous request instead of being processed again."""

    @property
    def evaluated_prompt_tokens(self) -> int:
        return self.prompt_tokens - self.cached_prompt_tokens


FinishReason = Literal["stop", "length", "cancelled"]


@dataclass(frozen=True, slots=True)
class Completion:
    """What one request produced, with the figures needed for tokens/s."""

    text: str
    finish_reason: FinishReason
    usage: Usage = field(default_factory=Usage)
    prompt_seconds: float = 0.0
    generation_seconds: float = 0.0
    queued_seconds: float = 0.0
    backend: str = ""
    model: str = ""

    @property
    def generation_tokens_per_second(self) -> float:
        if self.generation_seconds <= 0:
            return 0.0
        return self.usage.completion_tokens / self.generation_seconds

    @property
    def prompt_tokens_per_second(self) -> float:
        if self.prompt_seconds <= 0:
            return 0.0
        return self.usage.evaluated_prompt_tokens / self.prompt_seconds
