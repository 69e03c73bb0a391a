"""Building the shared model from settings (the bot's runtime makes one per process)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from llm.config import LLMSettings
from llm.errors import LLMError
from llm.service import LLM, BackendFactory
from llm.weights import ensure_weights, model_spec

if TYPE_CHECKING:
    from llm.backends.base import Backend


def model_cache_dir(settings: LLMSettings, data_dir: Path) -> Path:
    return settings.cache_dir if settings.cache_dir is not None else data_dir / "models"


def backend_factory(
    settings: LLMSettings, *, data_dir: Path, allowed_hosts: list[str] | None = None
) -> tuple[str, str, BackendFactory]:
    """(backend name, model name, a callable that loads the backend)."""
    if settings.backend == "openai":
        if not settings.openai_base_url or not settings.openai_model:
            raise LLMError(
                "the openai backend needs OFFICEBOT_LLM__OPENAI_BASE_URL and "
                "OFFICEBOT_LLM__OPENAI_MODEL"
            )
        host = (urlsplit(settings.openai_base_url).hostname or "").lower()
        if allowed_hosts is not None and host not in allowed_hosts:
            raise LLMError(
                f"the model server's host {host!r} is not in OFFICEBOT_OUTBOUND_ALLOWED_HOSTS"
            )

        def load_http() -> Backend:
            from llm.backends.openai_http import OpenAICompatibleBackend

            return OpenAICompatibleBackend.from_settings(settings)

        return "openai", settings.openai_model, load_http

    spec = model_spec(settings.model)
    cache = model_cache_dir(settings, data_dir)

    if settings.backend == "transformers":

        def load_transformers() -> Backend:
            from llm.backends.transformers import TransformersBackend

            return TransformersBackend(
                ensure_weights(spec, cache),
                model_name=spec.name,
                context_tokens=settings.context_tokens,
                threads=settings.threads,
            )

        return "transformers", spec.name, load_transformers

    def load_llamacpp() -> Backend:
        from llm.backends.llamacpp import LlamaCppBackend

        return LlamaCppBackend(
            ensure_weights(spec, cache),
            model_name=spec.name,
            context_tokens=settings.context_tokens,
            threads=settings.threads,
        )

    return "llamacpp", spec.name, load_llamacpp


def create_llm(
    settings: LLMSettings, *, data_dir: Path, allowed_hosts: list[str] | None = None
) -> LLM:
    """A new model service (not loaded until first used)."""
    backend, model, load = backend_factory(settings, data_dir=data_dir, allowed_hosts=allowed_hosts)
    return LLM(
        load,
        timeout=settings.request_timeout_s,
        max_output_tokens=settings.max_output_tokens,
        describe=(backend, model),
    )
