"""Voice embeddings: resemblyzer's speaker encoder (a 3-layer LSTM, weights in its package).

The encoder reads 40-band mel power spectrograms (25 ms windows every 10 ms) and returns an
L2-normalized 256-d vector per input. resemblyzer computes its spectrograms with librosa, whose
first call compiles numba kernels for about 15 s; the same spectrogram is computed here with
numpy (Slaney mel filters, periodic Hann window, as librosa does), so nothing compiles at all.

Each window is brought to the loudness the encoder was trained at (-30 dBFS) before its
spectrogram is taken, so a near and a far microphone give the same voice the same embedding.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from meeting.errors import SpeechModelNotInstalledError
from meeting.types import SAMPLE_RATE

if TYPE_CHECKING:
    import numpy.typing as npt

logger = logging.getLogger(__name__)

EMBEDDING_SIZE = 256
N_FFT = 400
"""25 ms at 16 kHz."""
HOP = 160
"""10 ms at 16 kHz: one spectrogram frame per 160 samples."""
N_MELS = 40
PARTIAL_S = 1.6
"""The window length resemblyzer was trained on."""
TARGET_DBFS = -30.0
MAX_GAIN_DB = 40.0


def _import_encoder_class() -> Any:
    try:
        with warnings.catch_warnings():
            # resemblyzer 0.1.4 imports from scipy's deprecated ndimage.morphology, and
            # webrtcvad (which it imports) reads its version with the deprecated pkg_resources.
            warnings.filterwarnings(
                "ignore", message="Please import `binary_dilation`", category=DeprecationWarning
            )
            warnings.filterwarnings(
                "ignore", message="pkg_resources is deprecated", category=UserWarning
            )
            from resemblyzer import VoiceEncoder
    except ImportError as exc:
        raise SpeechModelNotInstalledError(
            f"the speaker encoder needs the resemblyzer package (and setuptools<81 for its "
            f"webrtcvad): install the `meeting` extra ({exc})"
        ) from exc
    return VoiceEncoder


@cache
def _mel_filters() -> npt.NDArray[np.float32]:
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40): Slaney scale and normalization."""

    def hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        linear = hz / (200.0 / 3)
        log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(hz >= 1000.0, log_part, linear)

    def mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        linear = mel * (200.0 / 3)
        log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
        return np.where(mel >= 15.0, log_part, linear)

    fft_freqs = np.linspace(0.0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    edges = np.array([0.0, SAMPLE_RATE / 2])
    mel_edges = hz_to_mel(edges)
    mel_freqs = mel_to_hz(np.linspace(mel_edges[0], mel_edges[1], N_MELS + 2))
    spacing = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / spacing[:-1, None]
    upper = ramps[2:] / spacing[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2 : N_MELS + 2] - mel_freqs[:N_MELS]))[:, None]
    return weights.astype(np.float32)


@cache
def _hann() -> npt.NDArray[np.float32]:
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def power_frames(
    samples: npt.NDArray[np.float32], start: int, end: int, *, gain: float = 1.0
) -> npt.NDArray[np.float32]:
    """Power spectra ``(n, 201)`` of 25 ms frames centred on ``start, start + 160, ...``
    before ``end``. Frames near the window's edges read the neighbouring samples (zeros beyond
    the clip), as if the whole clip's spectrogram had been sliced."""
    count = max(1, (end - start) // HOP)
    first = start - N_FFT // 2
    last = start + (count - 1) * HOP + N_FFT // 2
    lo, hi = max(0, first), min(len(samples), last)
    padded = np.zeros(last - first, dtype=np.float32)
    if hi > lo:
        padded[lo - first : hi - first] = samples[lo:hi]
    if gain != 1.0:
        padded *= np.float32(gain)
    framed = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:count]
    spectrum = np.fft.rfft(framed * _hann(), axis=1)
    power: npt.NDArray[np.float32] = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    return power


def mel_frames(
    samples: npt.NDArray[np.float32], start: int, end: int, *, gain: float = 1.0
) -> npt.NDArray[np.float32]:
    """The encoder's input for one window: mel power frames ``(n, 40)`` (see ``power_frames``);
    equal to resemblyzer's ``wav_to_mel_spectrogram`` sliced."""
    mel: npt.NDArray[np.float32] = power_frames(samples, start, end, gain=gain) @ _mel_filters().T
    return mel


def loudness_gain(chunk: npt.NDArray[np.float32]) -> float:
    """The factor that brings ``chunk`` to -30 dBFS (at most +-40 dB)."""
    power = float(np.mean(np.square(chunk, dtype=np.float64))) if chunk.size else 0.0
    level = 10.0 * np.log10(power + 1e-12)
    change = float(np.clip(TARGET_DBFS - level, -MAX_GAIN_DB, MAX_GAIN_DB))
    return float(10.0 ** (change / 20.0))


_threads_lock = threading.Lock()
_threads_users = 0
_threads_before = 0


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op thread count set to ``threads`` while any embedding runs; the count
    found before the first one is put back when the last one ends."""
    global _threads_users, _threads_before
    if threads is None:
        yield
        return
    import torch

    with _threads_lock:
        if _threads_users == 0:
            _threads_before = torch.get_num_threads()
            torch.set_num_threads(threads)
        _threads_users += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0:
                torch.set_num_threads(_threads_before)


class VoiceEmbedder:
    """resemblyzer's speaker encoder on the CPU, loaded once, on first use (thread-safe).

    Pass an already-built ``resemblyzer.VoiceEncoder`` as ``encoder`` to share one.
    ``threads``: torch's intra-op threads while embedding (restored afterwards; None leaves
    torch's setting alone). One is the default: the encoder's small matrices gain little from
    more, and OpenMP threads that spin-wait degrade badly when the cores are shared (measured
    on 2 busy cores for a 10-minute meeting: 1.7 s with one thread, 13-63 s with two).
    """

    def __init__(
        self, encoder: Any | None = None, *, device: str = "cpu", threads: int | None = 1
    ) -> None:
        self._encoder = encoder
        self._device = device
        self.threads = threads
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._encoder is not None

    def load(self) -> None:
        """Load the encoder's weights now (otherwise the first embedding does)."""
        self._ensure()

    def _ensure(self) -> Any:
        encoder = self._encoder
        if encoder is not None:
            return encoder
        with self._lock:
            if self._encoder is None:
                voice_encoder = _import_encoder_class()
                encoder = voice_encoder(device=self._device, verbose=False)
                encoder.eval()
                self._encoder = encoder
                logger.info("resemblyzer speaker encoder loaded on %s", self._device)
            return self._encoder

    def embed_windows(
        self,
        samples: npt.NDArray[np.float32],
        windows: Sequence[tuple[int, int]],
        *,
        batch_size: int = 64,
        progress: Callable[[float], None] | None = None,
    ) -> npt.NDArray[np.float32]:
        """One embedding per ``(start, end)`` sample window: an ``(n, 256)`` array.

        Windows of equal length go through the encoder together, ``batch_size`` at a time;
        ``progress`` hears the fraction done after each batch.
        """
        self._ensure()
        out = np.zeros((len(windows), EMBEDDING_SIZE), dtype=np.float32)
        if not windows:
            return out
        groups: dict[int, list[int]] = {}
        for index, (start, end) in enumerate(windows):
            groups.setdefault(max(1, (end - start) // HOP), []).append(index)
        with _torch_threads(self.threads):
            self._run(samples, windows, groups, out, batch_size, progress)
        # An all-silent window makes the encoder divide zero by zero.
        out[~np.isfinite(out).all(axis=1)] = 0.0
        return out

    def _run(
        self,
        samples: npt.NDArray[np.float32],
        windows: Sequence[tuple[int, int]],
        groups: dict[int, list[int]],
        out: npt.NDArray[np.float32],
        batch_size: int,
        progress: Callable[[float], None] | None,
    ) -> None:
        import torch

        encoder = self._ensure()
        # The mel projection runs in torch, under the thread limit (numpy's BLAS has its own
        # threads, which spin as badly on shared cores).
        filters = torch.from_numpy(np.ascontiguousarray(_mel_filters().T))
        done = 0
        with torch.inference_mode():
            for members in groups.values():
                for offset in range(0, len(members), batch_size):
                    batch = members[offset : offset + batch_size]
                    powers = np.stack(
                        [
                            power_frames(
                                samples,
                                windows[i][0],
                                windows[i][1],
                                gain=loudness_gain(samples[windows[i][0] : windows[i][1]]),
                            )
                            for i in batch
                        ]
                    )
                    mels = torch.matmul(torch.from_numpy(powers), filters)
                    embeds = encoder(mels.to(encoder.device))
                    out[batch] = embeds.cpu().numpy()
                    done += len(batch)
                    if progress is not None:
                        progress(done / len(windows))

    def embed(self, samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """One L2-normalized 256-d embedding of a whole utterance: the mean of its 1.6 s
        partial windows (half-overlapping; one shorter window when the utterance is short)."""
        window = int(PARTIAL_S * SAMPLE_RATE)
        hop = window // 2
        total = len(samples)
        if total <= window:
            windows = [(0, total)]
        else:
            starts = list(range(0, total - window + 1, hop))
            if total - (starts[-1] + window) > hop // 2:
                starts.append(total - window)
            windows = [(start, start + window) for start in starts]
        partials = self.embed_windows(samples, windows)
        return normalize(partials.mean(axis=0))


def normalize(vector: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
    """``vector`` scaled to unit length (zero stays zero)."""
    norm = float(np.linalg.norm(vector))
    if norm == 0.0 or not np.isfinite(norm):
        return np.zeros(len(vector), dtype=np.float32)
    return (vector / norm).astype(np.float32)


_shared: VoiceEmbedder | None = None
_shared_lock = threading.Lock()


def shared_embedder() -> VoiceEmbedder:
    """The process's one ``VoiceEmbedder`` (created on first call; weights load on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = VoiceEmbedder()
        return _shared
