"""Errors of the model layer. Each says what was wrong and what to do about it."""

from __future__ import annotations


class LLMError(Exception):
    """Root of the model layer's errors."""

    code = "llm_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ModelNotInstalledError(LLMError):
    """A package that carries model weights (or a runtime) is not installed."""

    code = "model_not_installed"


class WeightsCorruptError(LLMError):
    """Assembled weights do not match their pinned checksum, even after a rebuild."""

    code = "weights_corrupt"


class LLMTimeoutError(LLMError):
    """A request waited or ran longer than its timeout."""

    code = "llm_timeout"


class BackendError(LLMError):
    """The backend failed (a runtime error, or an HTTP server that kept failing)."""

    code = "llm_backend_error"


class StructuredOutputError(LLMError):
    """The model did not produce a valid object for the schema within the allowed retries."""

    code = "llm_structured_output"
