"""A second backend: the same GGUF file, dequantized by transformers and run by PyTorch on the CPU.

A baseline to measure llama.cpp against and a fallback, not the default: transformers unpacks the
Q4_K_M blocks into plain tensors, so the model needs several times the memory and decodes about
3x slower (``bench/llm.py`` measures both). It reads the chat template and the vocabulary from the
same file as the llamacpp backend, so both turn a request into the same prompt tokens.

bfloat16 is used where the CPU computes it natively (AVX512-BF16 or AMX): half the memory of
float32, a decode step that reads half the bytes, and a prompt pass several times faster on AMX;
elsewhere PyTorch would emulate bfloat16 matmuls, so float32 is faster there.

torch and transformers are imported when a backend is created, never by ``import llm``; mypy sees
them as ``Any`` so the package type-checks whether or not the extra is installed.
"""

from __future__ import annotations

import gc
import importlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from llm.backends.base import TextCallback
from llm.errors import BackendError, ModelNotInstalledError
from llm.types import Completion, FinishReason, GenerationOptions, Message, Usage

log = logging.getLogger(__name__)

DType = Literal["auto", "bfloat16", "float32"]
INSTALL_HINT = "pip install 'officebot[transformers]'"
# llama.cpp's sampling defaults (its server applies them to every request of the llamacpp
# backend), so that both backends sample from the same distribution at the same temperature.
TOP_K = 40
MIN_P = 0.05
REPLACEMENT_CHARACTER = "\ufffd"  # a decoded token that ends inside a multi-byte character


def import_runtime() -> tuple[Any, Any]:
    """(torch, transformers), or ModelNotInstalledError naming the extra to install."""
    modules = []
    for name in ("torch", "transformers", "accelerate", "gguf"):
        try:
            modules.append(importlib.import_module(name))
        except ImportError as exc:
            raise ModelNotInstalledError(
                f"the transformers backend needs the {name!r} package ({exc}); install it with: "
                f"{INSTALL_HINT}"
            ) from None
    return modules[0], modules[1]


def native_dtype(torch: Any) -> Literal["bfloat16", "float32"]:
    """bfloat16 where this CPU computes it natively, else float32."""
    capabilities: dict[str, Any] = torch.cpu.get_capabilities()
    if capabilities.get("amx_bf16") or capabilities.get("avx512_bf16"):
        return "bfloat16"
    return "float32"


class TransformersBackend:
    """One transformers causal LM over one GGUF file (one sequence at a time)."""

    def __init__(
        self,
        weights: Path,
        *,
        model_name: str,
        context_tokens: int = 8192,
        threads: int | None = None,
        dtype: DType = "auto",
        model: Any | None = None,
        tokenizer: Any | None = None,
    ) -> None:
        """Loads the model unless ``model`` and ``tokenizer`` are given (already loaded)."""
        self._weights = weights
        self._model_name = model_name
        self._torch, self._transformers = import_runtime()
        if threads is not None:
            self._torch.set_num_threads(threads)  # process-wide: PyTorch has one intra-op pool
        self._dtype = native_dtype(self._torch) if dtype == "auto" else dtype
        if model is None or tokenizer is None:
            model, tokenizer = self._load()
        self._model: Any = model
        self._tokenizer: Any = tokenizer
        positions = getattr(model.config, "max_position_embeddings", None) or context_tokens
        self._context = min(context_tokens, int(positions))
        self._stop_ids = self._end_of_turn_ids()

    def _load(self) -> tuple[Any, Any]:
        directory, filename = str(self._weights.parent), self._weights.name
        transformers = self._transformers
        started = time.perf_counter()
        try:
            # gguf's reader takes ~10 s over this file's metadata (150k-token vocabulary), and
            # the config and the weights each need a pass. The tokenizer, told its type, reads
            # the vocabulary with transformers' own fast reader instead of a third pass.
            config = transformers.AutoConfig.from_pretrained(
                directory, gguf_file=filename, local_files_only=True
            )
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                directory,
                gguf_file=filename,
                tokenizer_type=config.model_type,
                local_files_only=True,
            )
            model = transformers.AutoModelForCausalLM.from_pretrained(
                directory,
                gguf_file=filename,
                config=config,
                dtype=getattr(self._torch, self._dtype),
                local_files_only=True,
            )
        except (OSError, ValueError, RuntimeError) as exc:
            raise BackendError(f"transformers could not load {self._weights}: {exc}") from exc
        model.eval()
        gc.collect()  # the dequantized copies of the file's blocks
        log.info(
            "loaded %s with transformers in %.1f s (%s, %d threads)",
            self._model_name,
            time.perf_counter() - started,
            self._dtype,
            self._torch.get_num_threads(),
        )
        return model, tokenizer

    def _end_of_turn_ids(self) -> list[int]:
        """The tokens that end a reply: the tokenizer's EOS (<|im_end|>) and the model's own."""
        ids: set[int] = set()
        candidates = [self._tokenizer.eos_token_id, self._model.generation_config.eos_token_id]
        for candidate in candidates:
            if isinstance(candidate, int):
                ids.add(candidate)
            elif isinstance(candidate, list | tuple):
                ids.update(int(i) for i in candidate)
        end_of_text = self._tokenizer.convert_tokens_to_ids("<|endoftext|>")
        if isinstance(end_of_text, int) and end_of_text != self._tokenizer.unk_token_id:
            ids.add(end_of_text)
        if not ids:
            raise BackendError(f"{self._weights} names no end-of-turn token")
        return sorted(ids)

    @property
    def name(self) -> str:
        return "transformers"

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def context_window(self) -> int:
        return self._context

    @property
    def supports_json_schema(self) -> bool:
        return False

    @property
    def dtype(self) -> str:
        """The dtype the weights were unpacked into: 'bfloat16' or 'float32'."""
        return self._dtype

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        """The prompt's tokens: the model's chat template, ending where the assistant answers."""
        prompt = self._tokenizer.apply_chat_template(
            [message.model_dump() for message in messages],
            tokenize=False,
            add_generation_prompt=True,
        )
        ids: list[int] = self._tokenizer.encode(prompt, add_special_tokens=False)
        return ids

    def complete(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        *,
        json_schema: dict[str, Any] | None = None,
        on_text: TextCallback | None = None,
    ) -> Completion:
        """Generate a reply; ``json_schema`` is not enforced (the service validates instead)."""
        if self._model is None:
            raise BackendError("the transformers backend has been closed")
        torch = self._torch
        started = time.perf_counter()
        prompt = self.prompt_ids(messages)
        room = self._context - len(prompt)
        if room < 1:
            raise BackendError(
                f"the prompt is {len(prompt)} tokens, which fills the {self._context}-token "
                "context window"
            )
        max_new_tokens = min(options.max_tokens, room)
        sampling = options.temperature > 0
        config = self._transformers.GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=sampling,
            eos_token_id=self._stop_ids,
            pad_token_id=self._stop_ids[0]
            if self._tokenizer.pad_token_id is None
            else self._tokenizer.pad_token_id,
            **(
                {
                    "temperature": options.temperature,
                    "top_p": options.top_p,
                    "top_k": TOP_K,
                    "min_p": MIN_P,
                }
                if sampling
                else {}
            ),
        )
        watcher = _Watcher(torch, self._tokenizer, len(prompt), options.stop, on_text)
        input_ids = torch.tensor([prompt], dtype=torch.long)
        try:
            with torch.inference_mode():
                if sampling and options.seed is not None:
                    torch.manual_seed(options.seed)
                output = self._model.generate(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    generation_config=config,
                    stopping_criteria=[watcher],
                )
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"transformers failed: {exc}") from exc
        finished = time.perf_counter()
        generated = int(output.shape[1]) - len(prompt)
        text = watcher.flush()
        first_token = watcher.first_token_at or finished
        return Completion(
            text=text,
            finish_reason=watcher.finish_reason(generated, max_new_tokens, self._stop_ids),
            usage=Usage(prompt_tokens=len(prompt), completion_tokens=generated),
            prompt_seconds=first_token - started,
            generation_seconds=finished - first_token,
            backend=self.name,
            model=self._model_name,
        )

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    def close(self) -> None:
        self._model = None
        self._tokenizer = None
        gc.collect()


class _Watcher:
    """A stopping criterion for ``generate`` that streams the reply as each token arrives.

    ``generate`` calls it once per new token, before deciding whether to go on: it decodes the
    reply so far, hands the new text to ``on_text`` and asks to stop when ``on_text`` returns True
    or a stop string appeared (cut off, as llama.cpp does). Text that may be the start of a stop
    string, or that ends inside a multi-byte character, is held back until the next token.
    """

    def __init__(
        self,
        torch: Any,
        tokenizer: Any,
        prompt_length: int,
        stop: Sequence[str],
        on_text: TextCallback | None,
    ) -> None:
        self._torch = torch
        self._tokenizer = tokenizer
        self._prompt_length = prompt_length
        self._stop = tuple(s for s in stop if s)
        self._on_text = on_text
        self._decoded = ""
        self._emitted: list[str] = []
        self._emitted_length = 0
        self._last_token: int | None = None
        self.first_token_at: float | None = None
        self.cancelled = False
        self.hit_stop_string = False

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        tokens = input_ids[0, self._prompt_length :].tolist()
        self._last_token = tokens[-1] if tokens else None
        self._decoded = self._tokenizer.decode(
            tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        stop = self._advance(final=False)
        return self._torch.full(
            (input_ids.shape[0],), stop, dtype=self._torch.bool, device=input_ids.device
        )

    def _advance(self, *, final: bool) -> bool:
        """Emit what is safe to emit; True when generation should stop."""
        text = self._decoded
        end = len(text)
        for stop in self._stop:
            found = text.find(stop, max(0, self._emitted_length - len(stop) + 1))
            if found != -1 and found < end:
                end = found
                self.hit_stop_string = True
        if not self.hit_stop_string and not final:
            end = min(end, len(text) - self._held_back(text))
        if end > self._emitted_length:
            piece = text[self._emitted_length : end]
            self._emitted.append(piece)
            self._emitted_length = end
            if self._on_text is not None and self._on_text(piece) and not final:
                self.cancelled = True
        return self.cancelled or self.hit_stop_string

    def _held_back(self, text: str) -> int:
        """Characters at the end of ``text`` not to emit yet."""
        if text.endswith(REPLACEMENT_CHARACTER):
            return len(text) - len(text.rstrip(REPLACEMENT_CHARACTER))
        longest = 0
        for stop in self._stop:
            for size in range(min(len(stop) - 1, len(text)), longest, -1):
                if text.endswith(stop[:size]):
                    longest = size
                    break
        return longest

    def flush(self) -> str:
        """The whole reply; emits what was held back (unless the request was stopped)."""
        if not self.cancelled and not self.hit_stop_string:
            self._advance(final=True)
        return "".join(self._emitted)

    def finish_reason(
        self, generated: int, max_new_tokens: int, end_ids: Sequence[int]
    ) -> FinishReason:
        if self.cancelled:
            return "cancelled"
        if self.hit_stop_string or self._last_token in end_ids:
            return "stop"
        return "length" if generated >= max_new_tokens else "stop"
