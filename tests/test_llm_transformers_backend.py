"""The transformers backend with the real Qwen2.5-Coder-0.5B, from the same GGUF file as
llama.cpp: answers, streaming, early stop, stop strings, and token counts equal to llama.cpp's."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from llm.errors import ModelNotInstalledError
from llm.service import LLM
from llm.tokenizer import load_tokenizer
from llm.types import GenerationOptions, user
from llm.weights import ensure_weights, model_spec

pytest.importorskip("torch", reason="the transformers extra is not installed")

from llm.backends.transformers import TransformersBackend, import_runtime

pytestmark = pytest.mark.slow
GREEDY = GenerationOptions(max_tokens=12, temperature=0.0)
SAMPLES = (
    "中国的首都是哪里？只回答城市名。",
    "Meeting notes: Zhang San owns the Q3 budget review, due 2025-09-30.",
    "会议纪要：李四负责客户回访，周五前提交报告；预算 12,500 元。",
    "def add(a, b):\n    return a + b  # 😀 <|im_end|>",
)


def collect(pieces: list[str]) -> Callable[[str], bool]:
    def on_text(piece: str) -> bool:
        pieces.append(piece)
        return False

    return on_text


@pytest.fixture(scope="module")
def weights(model_cache: Path) -> Path:
    return ensure_weights(model_spec("qwen2.5-coder-0.5b"), model_cache)


@pytest.fixture(scope="module")
def backend(weights: Path) -> Iterator[TransformersBackend]:
    """Loaded once for the module (~35 s on 2 cores: two passes over the GGUF metadata and the
    dequantization). One thread: a 0.5B decode step gains little from a second one, and two
    spinning threads slow down badly when other work shares the cores."""
    import torch

    threads = torch.get_num_threads()
    loaded = TransformersBackend(
        weights, model_name="qwen2.5-coder-0.5b", context_tokens=4096, threads=1
    )
    yield loaded
    loaded.close()
    torch.set_num_threads(threads)


def test_answers_in_chinese_and_english(backend: TransformersBackend) -> None:
    chinese = backend.complete([user("中国的首都是哪里？只回答城市名。")], GREEDY)
    english = backend.complete(
        [user("What is the capital of France? Answer with the city name only.")], GREEDY
    )
    assert "北京" in chinese.text
    assert "Paris" in english.text
    for completion in (chinese, english):
        assert completion.finish_reason == "stop"
        assert (completion.backend, completion.model) == ("transformers", "qwen2.5-coder-0.5b")
        assert completion.usage.prompt_tokens > 20  # the template's system prompt included
        assert 0 < completion.usage.completion_tokens < GREEDY.max_tokens
        assert completion.prompt_seconds > 0
        assert completion.generation_seconds >= 0


def test_streamed_pieces_make_the_text_and_length_is_reported(
    backend: TransformersBackend,
) -> None:
    pieces: list[str] = []
    completion = backend.complete(
        [user("用中文写一句关于春天的话。")],
        GenerationOptions(max_tokens=4, temperature=0.0),
        on_text=collect(pieces),
    )
    assert len(pieces) > 1
    assert "".join(pieces) == completion.text
    assert completion.finish_reason == "length"
    assert completion.usage.completion_tokens == 4


def test_on_text_returning_true_stops_at_the_next_token(backend: TransformersBackend) -> None:
    pieces: list[str] = []

    def third_piece_stops(piece: str) -> bool:
        pieces.append(piece)
        return len(pieces) >= 3

    completion = backend.complete(
        [user("Count from 1 to 50, separated by spaces.")],
        GenerationOptions(max_tokens=64, temperature=0.0),
        on_text=third_piece_stops,
    )
    assert completion.finish_reason == "cancelled"
    assert len(pieces) == 3
    assert completion.text == "".join(pieces)
    assert completion.usage.completion_tokens <= 4


def test_stop_string_cuts_the_reply(backend: TransformersBackend) -> None:
    pieces: list[str] = []
    completion = backend.complete(
        [user("Count from 1 to 50, separated by spaces.")],
        GenerationOptions(max_tokens=12, temperature=0.0, stop=(" 4",)),
        on_text=collect(pieces),
    )
    assert completion.text.startswith("1 2 3")
    assert "4" not in completion.text
    assert "".join(pieces) == completion.text
    assert completion.finish_reason == "stop"


def test_seeded_sampling_repeats(backend: TransformersBackend) -> None:
    options = GenerationOptions(max_tokens=3, temperature=0.9, seed=7)
    messages = [user("Name a colour.")]
    assert backend.complete(messages, options).text == backend.complete(messages, options).text


def test_counts_tokens_like_llama_cpp(backend: TransformersBackend, weights: Path) -> None:
    reference = load_tokenizer(weights)
    for text in SAMPLES:
        expected = len(reference.encode(text, add_special_tokens=False).ids)
        assert backend.count_tokens(text) == expected, text


def test_same_prompt_tokens_as_llama_cpp(backend: TransformersBackend, small_llm: LLM) -> None:
    """Both apply the chat template stored in the file."""
    messages = [user(SAMPLES[2])]
    llama = small_llm.complete_sync(messages, options=GenerationOptions(max_tokens=1))
    assert len(backend.prompt_ids(messages)) == llama.usage.prompt_tokens


def test_missing_torch_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(ModelNotInstalledError, match=r"officebot\[transformers\]"):
        import_runtime()


def test_importing_the_model_layer_imports_no_torch() -> None:
    code = (
        "import sys, llm, llm.factory, llm.service, llm.backends.transformers; "
        "sys.exit('torch' in sys.modules or 'transformers' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
