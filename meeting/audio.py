"""Recordings in, 16 kHz mono float32 out.

``load_audio`` decodes whatever a chat user uploads (voice notes, phone recordings, exported
meeting videos) with PyAV, the FFmpeg libraries bundled in the ``av`` wheel, so no system
FFmpeg is needed. Limits are enforced before and while decoding: the file size before any byte
is decoded, the duration as samples arrive (a 10-hour file is refused after the limit, not after
decoding all of it) and the wall-clock time the decoder may take. Every failure is an
``AudioError`` whose message says what was wrong and which formats are accepted; no exception
of the decoder escapes.

``plan_chunks`` cuts a long clip into pieces for the recognizer at quiet points.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from meeting.config import AudioLimits
from meeting.errors import AudioError, AudioTooLargeError
from meeting.types import SAMPLE_RATE, AudioClip

if TYPE_CHECKING:
    import numpy.typing as npt

log = logging.getLogger(__name__)

ACCEPTED_FORMATS = (
    "audio: WAV, MP3, M4A/AAC, OGG/Opus, WebM, FLAC; video (audio track only): MP4, MKV, MOV, WebM"
)
"""What ``load_audio`` is known to decode, as shown in error messages."""

DEFAULT_LIMITS = AudioLimits()

_ACCEPTED = f"accepted formats: {ACCEPTED_FORMATS}"
_TRUNCATED_TOLERANCE_S = 1.0
"""Missing audio (declared minus decoded duration) tolerated before a file counts as cut off."""
_DECLARED_DURATION_MARGIN = 1.1
"""A header may misstate the duration (VBR MP3 estimates): refuse on it only beyond this factor."""
_IMAGE_DEMUXERS = ("image2", "_pipe", "gif", "apng", "webp")
_RECORDED_DURATION_FORMATS = frozenset({"mov", "mp4", "matroska", "webm", "flac", "wav", "ogg"})


def load_audio(path: Path, limits: AudioLimits = DEFAULT_LIMITS) -> AudioClip:
    """Decode ``path`` to a 16 kHz mono float32 clip, within ``limits``.

    Raises ``AudioTooLargeError`` over ``max_bytes`` or ``max_duration_s`` and ``AudioError``
    for anything else unusable: missing, empty, not audio, corrupt, cut off, a video without an
    audio track, shorter than ``min_duration_s`` or slower to decode than ``decode_timeout_s``.
    """
    path = Path(path)
    size = _checked_size(path, limits)
    import av

    started = time.monotonic()
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, ValueError, UnicodeDecodeError) as exc:
        raise AudioError(
            f"{path.name} cannot be read as audio: it is not a recording in a known format, "
            f"or it is damaged or cut off (decoder: {_describe(exc)}); {_ACCEPTED}"
        ) from None
    try:
        return _decode(container, path, size, limits, started)
    except AudioError:
        raise
    except (av.FFmpegError, ValueError, RuntimeError, MemoryError) as exc:
        raise AudioError(
            f"{path.name} could not be decoded, the data is damaged ({_describe(exc)}); {_ACCEPTED}"
        ) from None
    finally:
        container.close()


def _checked_size(path: Path, limits: AudioLimits) -> int:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise AudioError(f"recording not found: {path}; {_ACCEPTED}") from None
    except OSError as exc:
        raise AudioError(f"recording {path} cannot be read ({exc.strerror}); {_ACCEPTED}") from None
    if not path.is_file():
        raise AudioError(f"{path} is not a file; {_ACCEPTED}")
    if stat.st_size == 0:
        raise AudioError(f"{path.name} is empty (0 bytes); {_ACCEPTED}")
    if stat.st_size > limits.max_bytes:
        raise AudioTooLargeError(
            f"{path.name} is {_megabytes(stat.st_size)}, over the limit of "
            f"{_megabytes(limits.max_bytes)}; split the recording or compress it (e.g. to MP3 "
            f"or Opus); {_ACCEPTED}"
        )
    return stat.st_size


def _decode(
    container: Any, path: Path, size: int, limits: AudioLimits, started: float
) -> AudioClip:
    import av

    format_name = str(container.format.name)
    if not container.streams.audio:
        raise AudioError(_no_audio_message(container, path, format_name))
    stream = container.streams.best("audio") or container.streams.audio[0]
    declared = _declared_duration(container, stream)
    if declared is not None and declared > limits.max_duration_s * _DECLARED_DURATION_MARGIN:
        raise AudioTooLargeError(_too_long_message(path, limits, f"is {_clock(declared)} long"))

    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    max_samples = int(limits.max_duration_s * SAMPLE_RATE)
    pieces: list[npt.NDArray[np.float32]] = []
    total = 0
    packets = 0
    damaged = 0
    for packet in container.demux(stream):
        if time.monotonic() - started > limits.decode_timeout_s:
            raise AudioError(
                f"decoding {path.name} took longer than {limits.decode_timeout_s:g} s and was "
                f"stopped; try a shorter or simpler recording; {_ACCEPTED}"
            )
        packets += 1
        try:
            frames = packet.decode()
        except av.InvalidDataError:
            damaged += 1
            continue
        for frame in frames:
            for piece in _resampled(resampler, frame):
                pieces.append(piece)
                total += len(piece)
        if total > max_samples:
            raise AudioTooLargeError(
                _too_long_message(path, limits, f"runs past {_clock(limits.max_duration_s)}")
            )
    for piece in _resampled(resampler, None):
        pieces.append(piece)
        total += len(piece)
    if total > max_samples:
        raise AudioTooLargeError(
            _too_long_message(path, limits, f"runs past {_clock(limits.max_duration_s)}")
        )

    if damaged and (damaged > 0.1 * packets or total == 0):
        raise AudioError(
            f"{path.name} is damaged: {damaged} of {packets} audio packets could not be "
            f"decoded; {_ACCEPTED}"
        )
    samples = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    # The mono downmix adds channels at -3 dB each: loud correlated stereo can exceed 1.
    np.clip(samples, -1.0, 1.0, out=samples)
    duration = len(samples) / SAMPLE_RATE
    if declared is not None and declared - duration > max(_TRUNCATED_TOLERANCE_S, 0.05 * declared):
        raise AudioError(
            f"{path.name} is cut off: it declares {declared:.1f} s of audio but only "
            f"{duration:.1f} s could be decoded (an interrupted upload or copy?); "
            f"{_ACCEPTED}"
        )
    if duration < max(limits.min_duration_s, 1 / SAMPLE_RATE):
        raise AudioError(
            f"{path.name} holds no audio: {duration:.2f} s decoded, at least "
            f"{limits.min_duration_s:g} s is needed; {_ACCEPTED}"
        )
    codec = stream.codec_context
    metadata = {
        "format": format_name,
        "codec": str(codec.name),
        "source_sample_rate": int(codec.sample_rate or 0),
        "source_channels": int(codec.channels or 0),
        "size_bytes": size,
        "decode_seconds": round(time.monotonic() - started, 3),
    }
    if damaged:
        metadata["damaged_packets"] = damaged
        log.warning("%s: skipped %d damaged audio packets of %d", path.name, damaged, packets)
    return AudioClip(samples=samples, source=str(path), metadata=metadata)


def _resampled(resampler: Any, frame: Any) -> list[npt.NDArray[np.float32]]:
    return [
        np.ascontiguousarray(out.to_ndarray().reshape(-1), dtype=np.float32)
        for out in resampler.resample(frame)
    ]


def _declared_duration(container: Any, stream: Any) -> float | None:
    """The audio duration the file's header states, when it states one."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return float(container.duration) / 1_000_000
    return None


def _duration_is_recorded(format_name: str, path: Path) -> bool:
    """Whether the file records its duration (an index, a sample count, an MP3 Xing/VBRI
    frame) rather than FFmpeg estimating it from the bitrate, which a VBR file without such a
    header makes wrong: only a recorded duration can show that a file was cut off."""
    names = set(format_name.split(","))
    if names & _RECORDED_DURATION_FORMATS:
        return True
    if "mp3" in names:
        return _has_mp3_length_header(path)
    return False


def _has_mp3_length_header(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(10)
        offset = 0
        if head[:3] == b"ID3" and len(head) == 10:
            size = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7
            offset = 10 + (size | head[9] & 0x7F) + (10 if head[5] & 0x10 else 0)
        handle.seek(offset)
        first_frame = handle.read(4096)
    return any(tag in first_frame for tag in (b"Xing", b"Info", b"VBRI"))


def _no_audio_message(container: Any, path: Path, format_name: str) -> str:
    if any(part in format_name for part in _IMAGE_DEMUXERS):
        return f"{path.name} is an image ({format_name}), not a recording; {_ACCEPTED}"
    if container.streams.video:
        return (
            f"{path.name} is a video without an audio track: there is nothing to transcribe; "
            f"{_ACCEPTED}"
        )
    return f"{path.name} has no audio track ({format_name}); {_ACCEPTED}"


def _too_long_message(path: Path, limits: AudioLimits, what: str) -> str:
    return (
        f"{path.name} {what}, over the limit of {_clock(limits.max_duration_s)}; split the "
        f"recording into parts; {_ACCEPTED}"
    )


def _describe(exc: BaseException) -> str:
    text = str(getattr(exc, "strerror", None) or exc).strip()
    return text.split(":")[-1].strip().rstrip(".") or type(exc).__name__


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def _clock(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:g} s"
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d} min"


# --- chunks for the recognizer ---------------------------------------------------------------


def plan_chunks(
    samples: npt.NDArray[np.float32],
    chunk_s: float,
    *,
    sample_rate: int = SAMPLE_RATE,
    search_s: float | None = None,
) -> list[tuple[int, int]]:
    """``(start, end)`` sample ranges of at most ``chunk_s`` seconds that cover ``samples``.

    Each cut falls at the quietest moment (lowest energy over ~0.3 s) in the last ``search_s``
    seconds before the boundary (default: a sixth of the chunk, at most 10 s), so words are
    rarely split between chunks.
    """
    total = len(samples)
    chunk = max(1, int(chunk_s * sample_rate))
    if search_s is None:
        search_s = min(10.0, chunk_s / 6)
    search = min(int(search_s * sample_rate), chunk - 1)
    ranges: list[tuple[int, int]] = []
    start = 0
    while total - start > chunk:
        boundary = start + chunk
        cut = _quietest_point(samples, boundary - search, boundary, sample_rate)
        ranges.append((start, cut))
        start = cut
    if start < total or not ranges:
        ranges.append((start, total))
    return ranges


def _quietest_point(
    samples: npt.NDArray[np.float32], first: int, last: int, sample_rate: int
) -> int:
    frame = max(1, sample_rate // 100)
    window = samples[first:last]
    frames = len(window) // frame
    if frames < 3:
        return last
    energy = np.square(window[: frames * frame].astype(np.float64)).reshape(frames, frame)
    energy = energy.mean(axis=1)
    smooth = max(1, min(frames, 30))
    smoothed = np.convolve(energy, np.ones(smooth) / smooth, mode="same")
    # Prefer the latest of equally quiet points: chunks stay close to their nominal length.
    best = frames - 1 - int(np.argmin(smoothed[::-1]))
    return first + best * frame + frame // 2
