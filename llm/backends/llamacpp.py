"""The default backend: a GGUF model run by llama.cpp through ``xllamacpp`` (prebuilt wheel).

Requests always stream internally, so a cancelled or timed-out request stops generating at
the next token instead of running to ``max_tokens``. JSON-schema constrained decoding uses
llama.cpp's grammar support (``response_format`` with a schema), at the speed of free text.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm.backends.base import TextCallback
from llm.errors import BackendError, ModelNotInstalledError
from llm.tokenizer import load_tokenizer
from llm.types import Completion, GenerationOptions, Message, Usage

if TYPE_CHECKING:
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)


class LlamaCppBackend:
    """One llama.cpp context over one GGUF file (one sequence at a time)."""

    def __init__(
        self,
        weights: Path,
        *,
        model_name: str,
        context_tokens: int = 8192,
        threads: int | None = None,
        server: Any | None = None,
    ) -> None:
        self._weights = weights
        self._model_name = model_name
        self._context = context_tokens
        self._tokenizer: Tokenizer | None = None
        self._server = server if server is not None else self._load(threads)

    def _load(self, threads: int | None) -> Any:
        try:
            import xllamacpp
        except ImportError:
            raise ModelNotInstalledError(
                "the llamacpp backend needs the 'xllamacpp' package: pip install 'officebot[llm]'"
            ) from None
        params = xllamacpp.CommonParams()
        params.model.path = str(self._weights)
        params.n_ctx = self._context
        params.n_parallel = 1
        params.verbosity = 0
        params.warmup = False
        # llama.cpp keeps a RAM cache of past prompts (up to 8 GiB by default) that grows with
        # every new long prompt; the slot's own prompt cache is enough for one sequence.
        params.cache_ram_mib = 0
        count = threads or os.cpu_count() or 1
        params.cpuparams.n_threads = count
        params.cpuparams_batch.n_threads = count
        started = time.perf_counter()
        try:
            server = xllamacpp.Server(params)
        except Exception as exc:
            raise BackendError(f"llama.cpp could not load {self._weights}: {exc}") from exc
        log.info(
            "loaded %s with llama.cpp in %.1f s (%d threads, %d-token context)",
            self._model_name,
            time.perf_counter() - started,
            count,
            self._context,
        )
        return server

    @property
    def name(self) -> str:
        return "llamacpp"

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def context_window(self) -> int:
        return self._context

    @property
    def supports_json_schema(self) -> bool:
        return True

    def request_body(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        json_schema: dict[str, Any] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": [message.model_dump() for message in messages],
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
            "top_p": options.top_p,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if options.stop:
            body["stop"] = list(options.stop)
        if options.seed is not None:
            body["seed"] = options.seed
        if json_schema is not None:
            body["response_format"] = {"type": "json_object", "schema": json_schema}
        return body

    def complete(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        *,
        json_schema: dict[str, Any] | None = None,
        on_text: TextCallback | None = None,
    ) -> Completion:
        pieces: list[str] = []
        state: dict[str, Any] = {"finish": None, "usage": None, "timings": None, "error": None}
        stopped = False

        def receive(chunk: Any) -> bool:
            nonlocal stopped
            if isinstance(chunk, dict) and "error" in chunk:
                state["error"] = chunk["error"]
                return True
            if not isinstance(chunk, dict):
                return False
            for choice in chunk.get("choices") or ():
                text = (choice.get("delta") or {}).get("content")
                if text:
                    pieces.append(text)
                    if on_text is not None and on_text(text):
                        stopped = True
                        return True
                if choice.get("finish_reason"):
                    state["finish"] = choice["finish_reason"]
            if chunk.get("usage"):
                state["usage"] = chunk["usage"]
            if chunk.get("timings"):
                state["timings"] = chunk["timings"]
            return False

        started = time.perf_counter()
        try:
            result = self._server.handle_chat_completions(
                self.request_body(messages, options, json_schema), receive
            )
        except Exception as exc:
            raise BackendError(f"llama.cpp failed: {exc}") from exc
        if isinstance(result, dict) and "error" in result:
            state["error"] = result["error"]
        if state["error"] is not None:
            error = state["error"]
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise BackendError(f"llama.cpp refused the request: {message}")
        elapsed = time.perf_counter() - started
        text = "".join(pieces)
        return Completion(
            text=text,
            finish_reason="cancelled" if stopped else _finish(state["finish"]),
            usage=self._usage(state["usage"], messages, text),
            prompt_seconds=_timing(state["timings"], "prompt_ms"),
            generation_seconds=_timing(state["timings"], "predicted_ms") or elapsed,
            backend=self.name,
            model=self._model_name,
        )

    def _usage(self, usage: Any, messages: Sequence[Message], text: str) -> Usage:
        if isinstance(usage, dict):
            details = usage.get("prompt_tokens_details") or {}
            return Usage(
                int(usage.get("prompt_tokens", 0)),
                int(usage.get("completion_tokens", 0)),
                cached_prompt_tokens=int(details.get("cached_tokens", 0) or 0),
            )
        # Stopped early: the server sent no usage; count what we have.
        prompt = sum(self.count_tokens(m.content) for m in messages)
        return Usage(prompt, self.count_tokens(text))

    def count_tokens(self, text: str) -> int:
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self._weights)
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def close(self) -> None:
        self._server = None


def _finish(reason: Any) -> Any:
    return "length" if reason == "length" else "stop"


def _timing(timings: Any, key: str) -> float:
    if isinstance(timings, dict) and isinstance(timings.get(key), int | float):
        return float(timings[key]) / 1000
    return 0.0
