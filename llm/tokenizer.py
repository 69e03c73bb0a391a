"""Exact token counts without running the model: the tokenizer rebuilt from the GGUF file.

A GGUF file carries its vocabulary and BPE merges. Read once (a few seconds for 150k entries),
they become a ``tokenizers`` BPE tokenizer saved as ``<weights>.tokenizer.json`` beside the
weights; later loads take milliseconds. Counts match llama.cpp's own tokenizer (tested).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm.errors import ModelNotInstalledError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

# The pre-tokenizer split of the Qwen2 family (tokenizer.ggml.pre == "qwen2").
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPECIAL_TOKEN_TYPES = (3, 4)  # CONTROL and USER_DEFINED in GGUF's token_type


def tokenizer_path(weights: Path) -> Path:
    return weights.with_name(weights.name + ".tokenizer.json")


def load_tokenizer(weights: Path) -> Tokenizer:
    """The tokenizer of a GGUF file, built and cached on first use."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise ModelNotInstalledError(
            "token counting needs the 'tokenizers' package: pip install 'officebot[llm]'"
        ) from None
    cached = tokenizer_path(weights)
    if cached.is_file() and cached.stat().st_mtime_ns >= weights.stat().st_mtime_ns:
        return Tokenizer.from_file(str(cached))
    tokenizer = build_tokenizer(weights)
    temporary = cached.with_suffix(".tmp")
    tokenizer.save(str(temporary))
    os.replace(temporary, cached)
    return tokenizer


def build_tokenizer(weights: Path) -> Tokenizer:
    try:
        from gguf import GGUFReader
        from tokenizers import AddedToken, Regex, Tokenizer, decoders, pre_tokenizers
        from tokenizers.models import BPE
    except ImportError:
        raise ModelNotInstalledError(
            "token counting needs 'gguf' and 'tokenizers': pip install 'officebot[llm]'"
        ) from None
    reader = GGUFReader(str(weights))

    def strings(key: str) -> list[str]:
        field = reader.fields[key]
        return [bytes(field.parts[i]).decode("utf-8") for i in field.data]

    def scalar(key: str) -> Any:
        field = reader.fields[key]
        return bytes(field.parts[-1]).decode("utf-8")

    model = scalar("tokenizer.ggml.model")
    pre = scalar("tokenizer.ggml.pre")
    if model != "gpt2" or pre != "qwen2":
        raise ModelNotInstalledError(
            f"token counting supports byte-level BPE models of the qwen2 family; this file has "
            f"tokenizer model {model!r} with pre-tokenizer {pre!r}"
        )
    tokens = strings("tokenizer.ggml.tokens")
    merges = [_pair(merge) for merge in strings("tokenizer.ggml.merges")]
    types_field = reader.fields["tokenizer.ggml.token_type"]
    token_types = [int(types_field.parts[i][0]) for i in types_field.data]
    bpe = BPE(vocab={token: i for i, token in enumerate(tokens)}, merges=merges)
    tokenizer = Tokenizer(bpe)
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(
        [
            AddedToken(token, special=True, normalized=False)
            for token, kind in zip(tokens, token_types, strict=True)
            if kind in SPECIAL_TOKEN_TYPES
        ]
    )
    return tokenizer


def _pair(merge: str) -> tuple[str, str]:
    left, _, right = merge.partition(" ")
    return left, right
