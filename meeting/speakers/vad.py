"""Where people speak: speech regions of a 16 kHz clip.

WebRTC's VAD judges each 30 ms frame; an energy gate relative to the recording's own noise floor
keeps it from calling steady background noise speech. The frame decisions are smoothed (a
majority over a short window), then regions get a little hangover at each end, short pauses
inside a turn are bridged and isolated blips dropped.
"""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from meeting.types import SAMPLE_RATE

if TYPE_CHECKING:
    import numpy.typing as npt

logger = logging.getLogger(__name__)

FRAME_MS = 30
"""webrtcvad accepts 10, 20 or 30 ms frames; 30 ms is the most robust."""


def _webrtcvad(aggressiveness: int) -> Any:
    with warnings.catch_warnings():
        # webrtcvad 2.0.10 reads its version with pkg_resources, deprecated by setuptools.
        warnings.filterwarnings(
            "ignore", message="pkg_resources is deprecated", category=UserWarning
        )
        import webrtcvad

    return webrtcvad.Vad(aggressiveness)


def speech_frames(
    samples: npt.NDArray[np.float32],
    sample_rate: int = SAMPLE_RATE,
    *,
    aggressiveness: int = 2,
    energy_margin_db: float = 6.0,
    silence_dbfs: float = -55.0,
) -> npt.NDArray[np.bool_]:
    """One raw speech/non-speech decision per 30 ms frame (webrtcvad AND an energy gate)."""
    if sample_rate not in (8000, 16000, 32000, 48000):
        raise ValueError(f"sample rate {sample_rate} Hz: webrtcvad accepts 8, 16, 32 or 48 kHz")
    frame = sample_rate * FRAME_MS // 1000
    count = len(samples) // frame
    if count == 0:
        return np.zeros(0, dtype=bool)
    framed = np.asarray(samples[: count * frame], dtype=np.float32).reshape(count, frame)
    power = np.mean(np.square(framed, dtype=np.float64), axis=1)
    level_db = 10.0 * np.log10(power + 1e-12)
    # The quietest tenth of the frames is taken as the noise floor; in a recording that is
    # speech throughout this floor is itself speech, so the margin above it stays small.
    noise_floor = float(np.percentile(level_db, 10))
    loud = level_db > max(silence_dbfs, noise_floor + energy_margin_db)
    pcm = (np.clip(framed, -1.0, 1.0) * 32767.0).astype("<i2")
    vad = _webrtcvad(aggressiveness)
    voiced = np.fromiter(
        (vad.is_speech(row.tobytes(), sample_rate) for row in pcm), dtype=bool, count=count
    )
    speech: npt.NDArray[np.bool_] = voiced & loud
    return speech


def speech_regions(
    samples: npt.NDArray[np.float32],
    sample_rate: int = SAMPLE_RATE,
    *,
    aggressiveness: int = 2,
    smooth_s: float = 0.15,
    pad_s: float = 0.09,
    min_gap_s: float = 0.3,
    min_speech_s: float = 0.25,
) -> list[tuple[float, float]]:
    """Speech regions ``[(start, end), ...]`` in seconds, sorted and disjoint.

    Gaps shorter than ``min_gap_s`` are bridged; regions shorter than ``min_speech_s`` after
    that are dropped; each region is widened by ``pad_s`` (the VAD reacts a frame late).
    """
    flags = speech_frames(samples, sample_rate, aggressiveness=aggressiveness)
    if flags.size == 0:
        return []
    frame_s = FRAME_MS / 1000.0
    width = max(1, round(smooth_s / frame_s)) | 1
    if width > 1:
        votes = np.convolve(flags.astype(np.int32), np.ones(width, dtype=np.int32), mode="same")
        flags = votes * 2 > width
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    duration = len(samples) / sample_rate
    regions: list[tuple[float, float]] = []
    for first, last in zip(starts.tolist(), ends.tolist(), strict=True):
        start = max(0.0, first * frame_s - pad_s)
        end = min(duration, last * frame_s + pad_s)
        if regions and start - regions[-1][1] < min_gap_s:
            regions[-1] = (regions[-1][0], end)
        else:
            regions.append((start, end))
    kept = [(start, end) for start, end in regions if end - start >= min_speech_s]
    logger.debug(
        "VAD: %d speech regions, %.1f s of %.1f s", len(kept), speech_total(kept), duration
    )
    return kept


def speech_total(regions: list[tuple[float, float]]) -> float:
    """Seconds of speech in ``regions``."""
    return float(sum(end - start for start, end in regions))
