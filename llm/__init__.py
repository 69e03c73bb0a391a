"""The shared local language model: one loaded instance per process, behind one small interface.

``LLM`` (llm.service) is what pipelines and plugins use: ``chat``, ``stream``, ``structured``,
``count_tokens``, each with a priority (interactive chat commands go before background jobs)
and a timeout. Backends (llama.cpp through xllamacpp by default, transformers, or any
OpenAI-compatible server) load lazily, on first use, in the model's own worker thread.
Importing this package imports no model runtime.
"""

from llm.config import LLMSettings
from llm.errors import (
    BackendError,
    LLMError,
    LLMTimeoutError,
    ModelNotInstalledError,
    StructuredOutputError,
    WeightsCorruptError,
)
from llm.types import Completion, GenerationOptions, Message, Priority, Usage

__all__ = [
    "BackendError",
    "Completion",
    "GenerationOptions",
    "LLMError",
    "LLMSettings",
    "LLMTimeoutError",
    "Message",
    "ModelNotInstalledError",
    "Priority",
    "StructuredOutputError",
    "Usage",
    "WeightsCorruptError",
]
