"""Decoding recordings: real files of every accepted format, made at test time with PyAV's own
encoders, decode to 16 kHz mono; broken, foreign and oversized inputs fail with clear errors."""

from __future__ import annotations

import io
import itertools
import struct
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

import meeting.audio
from meeting.audio import ACCEPTED_FORMATS, load_audio, plan_chunks
from meeting.config import AudioLimits
from meeting.errors import AudioError, AudioTooLargeError
from meeting.types import SAMPLE_RATE

DURATION = 2.0
LEFT_HZ, RIGHT_HZ = 440.0, 1000.0


def _stereo(rate: int, seconds: float = DURATION) -> np.ndarray:
    """Two different tones, one per channel: the mono downmix must hold both."""
    t = np.arange(int(rate * seconds)) / rate
    return np.stack(
        [0.4 * np.sin(2 * np.pi * LEFT_HZ * t), 0.4 * np.sin(2 * np.pi * RIGHT_HZ * t)]
    ).astype(np.float32)


def encode(
    target: Any,
    *,
    container: str,
    codec: str | None,
    rate: int = 44_100,
    seconds: float = DURATION,
    video: str | None = None,
) -> None:
    """Write ``seconds`` of stereo tones with ``codec`` (None: no audio) and optionally a small
    video track with ``video``, into ``target`` (a path or a writable file object)."""
    output = av.open(target if not isinstance(target, Path) else str(target), "w", container)
    audio_stream = video_stream = None
    if codec is not None:
        audio_stream = output.add_stream(codec, rate=rate)
        audio_stream.layout = "stereo"
    if video is not None:
        video_stream = output.add_stream(video, rate=10)
        video_stream.width, video_stream.height, video_stream.pix_fmt = 64, 48, "yuv420p"
    if audio_stream is not None:
        source = _stereo(rate, seconds)
        encoder_rate = audio_stream.codec_context.sample_rate
        resampler = av.AudioResampler(
            format=audio_stream.codec_context.format.name, layout="stereo", rate=encoder_rate
        )
        size = audio_stream.codec_context.frame_size or 1024
        for first in range(0, source.shape[1], size):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(source[:, first : first + size]),
                format="fltp",
                layout="stereo",
            )
            frame.sample_rate, frame.pts = rate, first
            for converted in resampler.resample(frame):
                for packet in audio_stream.encode(converted):
                    output.mux(packet)
        for converted in resampler.resample(None):
            for packet in audio_stream.encode(converted):
                output.mux(packet)
        for packet in audio_stream.encode(None):
            output.mux(packet)
    if video_stream is not None:
        for index in range(int(seconds * 10)):
            image = np.full((48, 64, 3), (index * 20) % 255, dtype=np.uint8)
            for packet in video_stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                output.mux(packet)
        for packet in video_stream.encode(None):
            output.mux(packet)
    output.close()


FORMATS = {
    # name: (file name, container, audio codec, source rate, video codec)
    "wav": ("tones.wav", "wav", "pcm_s16le", 44_100, None),
    "mp3": ("tones.mp3", "mp3", "libmp3lame", 44_100, None),
    "m4a-aac": ("tones.m4a", "mp4", "aac", 44_100, None),
    "ogg-opus": ("tones.ogg", "ogg", "libopus", 48_000, None),
    "opus": ("tones.opus", "ogg", "libopus", 48_000, None),
    "webm-opus": ("tones.webm", "webm", "libopus", 48_000, None),
    "flac": ("tones.flac", "flac", "flac", 44_100, None),
    "mp4-video": ("clip.mp4", "mp4", "aac", 44_100, "libx264"),
    "mkv-video": ("clip.mkv", "matroska", "libopus", 48_000, "libx264"),
    "mov-video": ("clip.mov", "mov", "aac", 44_100, "libx264"),
    "webm-video": ("clip-video.webm", "webm", "libopus", 48_000, "libvpx"),
}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    paths = {}
    for name, (filename, container, codec, rate, video) in FORMATS.items():
        paths[name] = folder / filename
        encode(paths[name], container=container, codec=codec, rate=rate, video=video)
    paths["video-without-audio"] = folder / "silent-film.mp4"
    encode(paths["video-without-audio"], container="mp4", codec=None, video="libx264")
    return paths


def _peak_frequencies(samples: np.ndarray, count: int = 2) -> list[float]:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    frequencies = np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE)
    peaks: list[float] = []
    for index in np.argsort(spectrum)[::-1]:
        if all(abs(frequencies[index] - peak) > 50 for peak in peaks):
            peaks.append(float(frequencies[index]))
        if len(peaks) == count:
            break
    return sorted(peaks)


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_accepted_format_decodes_to_16k_mono(media: dict[str, Path], name: str) -> None:
    clip = load_audio(media[name])
    assert clip.sample_rate == SAMPLE_RATE
    assert clip.samples.dtype == np.float32
    assert clip.samples.ndim == 1
    assert clip.duration == pytest.approx(DURATION, abs=0.05)
    assert float(np.abs(clip.samples).max()) <= 1.0
    # Both channels' tones survive the downmix and the resampling to 16 kHz.
    assert _peak_frequencies(clip.samples) == pytest.approx([LEFT_HZ, RIGHT_HZ], abs=5)
    assert clip.metadata["source_channels"] == 2
    assert clip.source == str(media[name])


def test_stereo_44k_wav_is_downmixed_and_resampled(media: dict[str, Path]) -> None:
    clip = load_audio(media["wav"])
    assert clip.metadata["source_sample_rate"] == 44_100
    assert len(clip.samples) == pytest.approx(DURATION * SAMPLE_RATE, abs=2)
    # Both tones at comparable strength: neither channel was dropped.
    spectrum = np.abs(np.fft.rfft(clip.samples))
    frequencies = np.fft.rfftfreq(len(clip.samples), 1 / SAMPLE_RATE)
    left = spectrum[np.argmin(np.abs(frequencies - LEFT_HZ))]
    right = spectrum[np.argmin(np.abs(frequencies - RIGHT_HZ))]
    assert 0.5 < left / right < 2.0


def _assert_clear(error: pytest.ExceptionInfo[AudioError], *fragments: str) -> None:
    message = error.value.message
    assert ACCEPTED_FORMATS in message
    for fragment in fragments:
        assert fragment in message, message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError) as error:
        load_audio(tmp_path / "nowhere.mp3")
    _assert_clear(error, "not found")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.m4a").write_bytes(b"")
    with pytest.raises(AudioError) as error:
        load_audio(tmp_path / "empty.m4a")
    _assert_clear(error, "empty")
    assert error.value.code == "bad_audio"


def test_text_file_named_mp3(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp3"
    path.write_text("Minutes of the meeting\n" * 50)
    with pytest.raises(AudioError) as error:
        load_audio(path)
    _assert_clear(error, "cannot be read as audio")


def test_png_named_mp3(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "photo.mp3"
    Image.new("RGB", (32, 24), (200, 30, 30)).save(path, format="PNG")
    with pytest.raises(AudioError) as error:
        load_audio(path)
    _assert_clear(error, "image", "not a recording")


@pytest.mark.parametrize("name", ["mp3", "m4a-aac"])
def test_truncated_file(media: dict[str, Path], tmp_path: Path, name: str) -> None:
    data = media[name].read_bytes()
    path = tmp_path / f"cut{media[name].suffix}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError) as error:
        load_audio(path)
    message = error.value.message
    assert "cut off" in message
    assert ACCEPTED_FORMATS in message


def test_video_without_audio_track(media: dict[str, Path]) -> None:
    with pytest.raises(AudioError) as error:
        load_audio(media["video-without-audio"])
    _assert_clear(error, "video without an audio track")


@pytest.mark.parametrize("suffix", [".wav", ".m4a", ".ogg", ".flac", ".mp4", ".webm", ".mp3"])
def test_random_bytes_never_leak_a_decoder_exception(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(np.random.default_rng(3).bytes(20_000))
    with pytest.raises(AudioError):
        load_audio(path)


def test_wav_header_without_samples(tmp_path: Path) -> None:
    header = (
        b"RIFF"
        + struct.pack("<I", 36)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, 16_000, 32_000, 2, 16)
        + b"data"
        + struct.pack("<I", 0)
    )
    path = tmp_path / "hollow.wav"
    path.write_bytes(header)
    with pytest.raises(AudioError) as error:
        load_audio(path)
    _assert_clear(error, "no audio")


def test_over_max_bytes_is_refused_before_decoding(
    media: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(av, "open", _fail_if_called)
    with pytest.raises(AudioTooLargeError) as error:
        load_audio(media["wav"], AudioLimits(max_bytes=10_000))
    _assert_clear(error, "over the limit", "MB")
    assert error.value.code == "audio_too_large"


def _fail_if_called(*args: object, **kwargs: object) -> None:
    raise AssertionError("the decoder was opened")


def test_declared_duration_over_limit_is_refused_at_once(media: dict[str, Path]) -> None:
    with pytest.raises(AudioTooLargeError) as error:
        load_audio(media["flac"], AudioLimits(max_duration_s=1.0))
    _assert_clear(error, "over the limit of 1 s")


class _Sink(io.RawIOBase):
    """A write-only stream, like a pipe: muxers cannot go back to fill in headers."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, chunk: Any) -> int:
        self.data += bytes(chunk)
        return len(chunk)


@pytest.fixture(scope="module")
def live_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s of WebM/Opus written as a browser's MediaRecorder does: to a stream that cannot
    seek, so the file declares no duration and only decoding finds out how long it is."""

    stream = _Sink()
    encode(stream, container="webm", codec="libopus", rate=48_000, seconds=20.0)
    path = tmp_path_factory.mktemp("live") / "recording.webm"
    path.write_bytes(bytes(stream.data))
    return path


def test_duration_limit_stops_decoding_early(
    live_recording: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with av.open(str(live_recording)) as container:
        assert container.duration is None  # nothing to refuse on before decoding

    decoded: list[int] = []
    original = meeting.audio._resampled

    def counting(resampler: Any, frame: Any) -> list[np.ndarray]:
        pieces = original(resampler, frame)
        decoded.extend(len(piece) for piece in pieces)
        return pieces

    monkeypatch.setattr(meeting.audio, "_resampled", counting)
    with pytest.raises(AudioTooLargeError) as error:
        load_audio(live_recording, AudioLimits(max_duration_s=3.0))
    _assert_clear(error, "runs past 3 s")
    assert sum(decoded) / SAMPLE_RATE < 3.5  # stopped at the limit, not after 20 s


def test_streamed_mp3_without_length_header(tmp_path: Path) -> None:
    """An MP3 written to a pipe has no Xing frame: FFmpeg estimates its duration from the
    bitrate, which does not count as a recorded duration (no false "cut off")."""
    stream = _Sink()
    encode(stream, container="mp3", codec="libmp3lame", seconds=4.0)
    data = bytes(stream.data)
    assert b"Xing" not in data[:4096]
    assert b"Info" not in data[:4096]
    path = tmp_path / "streamed.mp3"
    path.write_bytes(data)
    assert load_audio(path).duration == pytest.approx(4.0, abs=0.05)


def test_live_recording_decodes_fully_within_limits(live_recording: Path) -> None:
    assert load_audio(live_recording).duration == pytest.approx(20.0, abs=0.05)


def test_shorter_than_min_duration(tmp_path: Path) -> None:
    path = tmp_path / "blip.wav"
    encode(path, container="wav", codec="pcm_s16le", seconds=0.2)
    with pytest.raises(AudioError) as error:
        load_audio(path)
    _assert_clear(error, "no audio", "0.5 s")
    assert load_audio(path, AudioLimits(min_duration_s=0.1)).duration == pytest.approx(0.2)


def test_decode_timeout(media: dict[str, Path]) -> None:
    with pytest.raises(AudioError) as error:
        load_audio(media["flac"], AudioLimits(decode_timeout_s=1e-9))
    _assert_clear(error, "took longer than")


def test_plan_chunks_cuts_at_the_quiet_point() -> None:
    rng = np.random.default_rng(0)
    samples = rng.normal(0, 0.2, 100 * SAMPLE_RATE).astype(np.float32)
    samples[int(27.0 * SAMPLE_RATE) : int(27.5 * SAMPLE_RATE)] = 0.0  # a pause before 30 s
    chunks = plan_chunks(samples, 30.0)
    assert chunks[0][0] == 0
    assert chunks[-1][1] == len(samples)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(chunks))
    assert 27.0 <= chunks[0][1] / SAMPLE_RATE <= 27.5
    assert all(end - start <= 30 * SAMPLE_RATE for start, end in chunks)
    assert plan_chunks(samples[: 10 * SAMPLE_RATE], 30.0) == [(0, 10 * SAMPLE_RATE)]
