"""The model layer's settings: ``OFFICEBOT_LLM__<KEY>`` (part of officebot's one Settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

BackendName = Literal["llamacpp", "transformers", "openai"]
ModelName = Literal["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"]


class LLMSettings(BaseModel):
    backend: BackendName = Field(
        default="llamacpp",
        description="llamacpp (local GGUF, default), transformers (torch, CPU) or openai "
        "(an OpenAI-compatible server: vLLM, Ollama, DashScope).",
    )
    model: ModelName = Field(
        default="qwen2.5-coder-1.5b",
        description="Local model: qwen2.5-coder-1.5b (default) or qwen2.5-coder-0.5b (fast).",
    )
    cache_dir: Path | None = Field(
        default=None,
        description="Where weights are assembled from their packages; default <data_dir>/models.",
    )
    context_tokens: int = Field(
        default=8192, ge=512, le=32768, description="Context window (prompt plus output)."
    )
    threads: int | None = Field(default=None, ge=1, le=256, description="CPU threads; default all.")
    request_timeout_s: float = Field(
        default=300.0, gt=0, description="Longest a request may wait and run."
    )
    max_output_tokens: int = Field(
        default=1024, ge=16, le=32768, description="Upper bound on every model output."
    )
    openai_base_url: str | None = Field(
        default=None, description="e.g. http://gpu-box:8000/v1 (its host must be allowed)."
    )
    openai_api_key: SecretStr | None = Field(default=None, description="Its API key, if any.")
    openai_model: str | None = Field(default=None, description="Model name on that server.")
    openai_timeout_s: float = Field(default=120.0, gt=0, description="Per HTTP request.")
    openai_max_retries: int = Field(
        default=2, ge=0, le=10, description="Retries on network errors, 5xx and 429."
    )
    warm_up: bool = Field(
        default=True, description="Load the model when the server starts, not on first use."
    )
