"""CTranslate2 whisper weights into an openai-whisper checkpoint, converted once.

No package ships openai-whisper's ``.pt`` files, but the CTranslate2 ``model.bin`` we already
verify holds the same tensors under other names. ``read_ctranslate2_model`` reads that file (the
binary layout written by ``ctranslate2.specs.ModelSpec._serialize``: a header, then each
variable as name, shape, dtype and raw bytes, then aliases); ``to_openai_state_dict`` renames
and splits the tensors into openai-whisper's layout (CTranslate2 fuses query/key/value into one
matrix; openai-whisper's key projection has no bias, CTranslate2 stores zeros there) and derives
the model dimensions from the weights. ``ensure_openai_checkpoint`` writes
``<cache_dir>/whisper-<model>-openai.pt`` atomically, with a stamp naming the source hash.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from meeting.config import AsrModelName
from meeting.errors import SpeechModelNotInstalledError, TranscriptionError
from meeting.types import Progress
from meeting.weights import ensure_whisper_model, whisper_weights

if TYPE_CHECKING:
    import numpy.typing as npt

log = logging.getLogger(__name__)

CONVERTER_VERSION = 1
"""Bumped when the conversion changes, so older cached checkpoints are rebuilt."""

_SUPPORTED_BINARY_VERSIONS = (4, 5, 6)
_DTYPES: dict[int, str] = {0: "<f4", 1: "i1", 2: "<i2", 3: "<i4", 4: "<f2", 5: "bfloat16"}
"""CTranslate2's ``DataType`` enum (include/ctranslate2/types.h) as numpy dtypes."""


class ConversionError(TranscriptionError):
    """The CTranslate2 file is not a whisper model this converter understands."""


@dataclass(frozen=True, slots=True)
class CTranslate2Model:
    spec: str
    revision: int
    variables: dict[str, npt.NDArray[Any]]


def read_ctranslate2_model(path: Path) -> CTranslate2Model:
    """The variables of a CTranslate2 ``model.bin`` (aliases resolved), as numpy arrays."""
    data = memoryview(path.read_bytes())
    offset = 0

    def unpack(fmt: str) -> int:
        nonlocal offset
        (value,) = struct.unpack_from("<" + fmt, data, offset)
        offset += struct.calcsize("<" + fmt)
        return int(value)

    def string() -> str:
        nonlocal offset
        length = unpack("H")
        text = bytes(data[offset : offset + length - 1]).decode("utf-8")
        offset += length
        return text

    try:
        version = unpack("I")
        if version not in _SUPPORTED_BINARY_VERSIONS:
            raise ConversionError(
                f"{path} is CTranslate2 binary version {version}; this converter reads "
                f"versions {', '.join(map(str, _SUPPORTED_BINARY_VERSIONS))}"
            )
        spec = string()
        revision = unpack("I")
        variables: dict[str, npt.NDArray[Any]] = {}
        for _ in range(unpack("I")):
            name = string()
            shape = tuple(unpack("I") for _ in range(unpack("B")))
            type_id = unpack("B")
            num_bytes = unpack("I")
            raw = data[offset : offset + num_bytes]
            offset += num_bytes
            variables[name] = _array(raw, type_id, shape, name)
        for _ in range(unpack("I")):
            alias = string()
            variables[alias] = variables[string()]
    except (struct.error, UnicodeDecodeError, KeyError) as exc:
        raise ConversionError(f"{path} is not a readable CTranslate2 model ({exc})") from None
    if offset != len(data):
        raise ConversionError(f"{path} has {len(data) - offset} unexpected trailing bytes")
    return CTranslate2Model(spec, revision, variables)


def _array(raw: memoryview, type_id: int, shape: tuple[int, ...], name: str) -> npt.NDArray[Any]:
    dtype = _DTYPES.get(type_id)
    if dtype is None:
        raise ConversionError(f"variable {name} has unknown CTranslate2 type {type_id}")
    if dtype == "bfloat16":
        halves = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return halves.view(np.float32).reshape(shape)
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


@dataclass(frozen=True, slots=True)
class OpenAICheckpoint:
    dims: dict[str, int]
    state_dict: dict[str, npt.NDArray[Any]]


def to_openai_state_dict(model: CTranslate2Model) -> OpenAICheckpoint:
    """openai-whisper's ``dims`` and ``model_state_dict`` (float16 numpy) for a CTranslate2
    whisper model."""
    if model.spec != "WhisperSpec":
        raise ConversionError(f"the model is a {model.spec}, not a whisper model")
    source = model.variables
    quantized = [name for name in source if name.endswith("weight_scale")]
    if quantized:
        raise ConversionError(
            "the model is quantized (int8/int16 weights); convert from a float16 or float32 "
            "CTranslate2 model"
        )
    out: dict[str, npt.NDArray[Any]] = {}

    def take(name: str) -> npt.NDArray[Any]:
        try:
            return np.asarray(source[name])
        except KeyError:
            raise ConversionError(f"the model has no variable {name}") from None

    def linear(target: str, prefix: str, *, bias: bool = True) -> None:
        out[f"{target}.weight"] = take(f"{prefix}/weight")
        if bias:
            out[f"{target}.bias"] = take(f"{prefix}/bias")

    def layer_norm(target: str, prefix: str) -> None:
        out[f"{target}.weight"] = take(f"{prefix}/gamma")
        out[f"{target}.bias"] = take(f"{prefix}/beta")

    def fused(target: str, prefix: str, names: tuple[str, ...]) -> None:
        weights = np.split(take(f"{prefix}/weight"), len(names))
        biases = np.split(take(f"{prefix}/bias"), len(names))
        for name, weight, bias in zip(names, weights, biases, strict=True):
            out[f"{target}.{name}.weight"] = weight
            if name == "key":
                if np.abs(bias.astype(np.float32)).max(initial=0.0) > 1e-6:
                    raise ConversionError(f"{prefix} has a key bias; openai-whisper has none")
            else:
                out[f"{target}.{name}.bias"] = bias

    def ffn(target: str, prefix: str) -> None:
        layer_norm(f"{target}.mlp_ln", f"{prefix}/ffn/layer_norm")
        linear(f"{target}.mlp.0", f"{prefix}/ffn/linear_0")
        linear(f"{target}.mlp.2", f"{prefix}/ffn/linear_1")

    encoder_layers = _layer_count(source, "encoder")
    decoder_layers = _layer_count(source, "decoder")
    linear("encoder.conv1", "encoder/conv1")
    linear("encoder.conv2", "encoder/conv2")
    out["encoder.positional_embedding"] = take("encoder/position_encodings/encodings")
    for i in range(encoder_layers):
        target, prefix = f"encoder.blocks.{i}", f"encoder/layer_{i}"
        layer_norm(f"{target}.attn_ln", f"{prefix}/self_attention/layer_norm")
        fused(f"{target}.attn", f"{prefix}/self_attention/linear_0", ("query", "key", "value"))
        linear(f"{target}.attn.out", f"{prefix}/self_attention/linear_1")
        ffn(target, prefix)
    layer_norm("encoder.ln_post", "encoder/layer_norm")

    out["decoder.token_embedding.weight"] = take("decoder/embeddings/weight")
    out["decoder.positional_embedding"] = take("decoder/position_encodings/encodings")
    for i in range(decoder_layers):
        target, prefix = f"decoder.blocks.{i}", f"decoder/layer_{i}"
        layer_norm(f"{target}.attn_ln", f"{prefix}/self_attention/layer_norm")
        fused(f"{target}.attn", f"{prefix}/self_attention/linear_0", ("query", "key", "value"))
        linear(f"{target}.attn.out", f"{prefix}/self_attention/linear_1")
        layer_norm(f"{target}.cross_attn_ln", f"{prefix}/attention/layer_norm")
        linear(f"{target}.cross_attn.query", f"{prefix}/attention/linear_0")
        fused(f"{target}.cross_attn", f"{prefix}/attention/linear_1", ("key", "value"))
        linear(f"{target}.cross_attn.out", f"{prefix}/attention/linear_2")
        ffn(target, prefix)
    layer_norm("decoder.ln", "decoder/layer_norm")

    projection = source.get("decoder/projection/weight")
    if projection is not None and not np.array_equal(
        projection, out["decoder.token_embedding.weight"]
    ):
        raise ConversionError("the output projection is not tied to the token embedding")
    conv1 = out["encoder.conv1.weight"]
    embedding = out["decoder.token_embedding.weight"]
    dims = {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(out["encoder.positional_embedding"].shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": int(take("encoder/num_heads")),
        "n_audio_layer": encoder_layers,
        "n_vocab": int(embedding.shape[0]),
        "n_text_ctx": int(out["decoder.positional_embedding"].shape[0]),
        "n_text_state": int(embedding.shape[1]),
        "n_text_head": int(take("decoder/num_heads")),
        "n_text_layer": decoder_layers,
    }
    state = {name: value.astype(np.float16) for name, value in out.items()}
    return OpenAICheckpoint(dims, state)


def _layer_count(variables: dict[str, Any], side: str) -> int:
    pattern = re.compile(rf"^{side}/layer_(\d+)/")
    indices = {int(m.group(1)) for name in variables if (m := pattern.match(name))}
    if not indices or indices != set(range(len(indices))):
        raise ConversionError(f"the model's {side} layers are missing or not numbered 0..n")
    return len(indices)


def alignment_heads_dump(heads: list[list[int]], n_text_layer: int, n_text_head: int) -> bytes:
    """``heads`` ([layer, head] pairs, as in CTranslate2's config.json) in the encoding of
    ``whisper.model.Whisper.set_alignment_heads`` (base85 of gzipped booleans)."""
    import base64
    import gzip

    mask = np.zeros((n_text_layer, n_text_head), dtype=bool)
    for layer, head in heads:
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes()))


def ensure_openai_checkpoint(
    name: AsrModelName, cache_dir: Path, progress: Progress | None = None
) -> Path:
    """``<cache_dir>/whisper-<name>-openai.pt`` for ``whisper.load_model``, converted from the
    verified CTranslate2 weights on first use."""
    model_dir = ensure_whisper_model(name, cache_dir, progress)
    source_sha256 = whisper_weights(name).files["model.bin"].sha256
    target = cache_dir / f"whisper-{name}-openai.pt"
    stamp_path = target.with_name(target.name + ".json")
    if _stamp_matches(target, stamp_path, source_sha256):
        return target
    try:
        import torch
    except ImportError:
        raise SpeechModelNotInstalledError(
            "the openai-whisper backend needs torch: pip install 'officebot[openai-whisper]' "
            "and openai-whisper==20250625 --no-deps (scripts/setup.sh does it)"
        ) from None
    if progress is not None:
        progress("converting speech model", 0.0)
    log.info("converting %s into openai-whisper's format at %s", model_dir, target)
    converted = to_openai_state_dict(read_ctranslate2_model(model_dir / "model.bin"))
    config = json.loads((model_dir / "config.json").read_text())
    checkpoint = {
        "dims": converted.dims,
        "model_state_dict": {
            key: torch.from_numpy(np.ascontiguousarray(value))
            for key, value in converted.state_dict.items()
        },
        "alignment_heads": [list(map(int, pair)) for pair in config.get("alignment_heads", [])],
    }
    handle, temporary_name = tempfile.mkstemp(prefix=f".{target.name}-", dir=cache_dir)
    temporary = Path(temporary_name)
    try:
        with os.fdopen(handle, "wb") as out:
            torch.save(checkpoint, out)
            out.flush()
            os.fsync(out.fileno())
            os.fchmod(out.fileno(), 0o644)
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    _write_stamp(target, stamp_path, source_sha256)
    if progress is not None:
        progress("converting speech model", 100.0)
    return target


def _stamp_matches(target: Path, stamp_path: Path, source_sha256: str) -> bool:
    try:
        stamp = json.loads(stamp_path.read_text())
        stat = target.stat()
    except (OSError, ValueError):
        return False
    return bool(
        stamp.get("source_sha256") == source_sha256
        and stamp.get("converter_version") == CONVERTER_VERSION
        and stamp.get("size") == stat.st_size
        and stamp.get("mtime_ns") == stat.st_mtime_ns
    )


def _write_stamp(target: Path, stamp_path: Path, source_sha256: str) -> None:
    stat = target.stat()
    stamp = {
        "source_sha256": source_sha256,
        "converter_version": CONVERTER_VERSION,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }
    temporary = stamp_path.with_name(stamp_path.name + ".tmp")
    temporary.write_text(json.dumps(stamp))
    os.replace(temporary, stamp_path)
