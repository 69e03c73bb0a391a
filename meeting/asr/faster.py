"""The default speech-to-text backend: faster-whisper (CTranslate2) on the packaged weights.

The model loads lazily, once, under a lock (or is passed in already loaded). Each chunk of a
long recording is one ``WhisperModel.transcribe`` call with Silero VAD, word timestamps and
``condition_on_previous_text=False`` (a mistake does not feed the next window, which is how most
repetition loops start). faster-whisper yields segments lazily, so progress follows the end
time of each finished segment.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from meeting.asr.postprocess import (
    ChunkResult,
    build_transcript,
    merged_hotwords,
    normalize_language,
    transcribe_in_chunks,
)
from meeting.config import MeetingSettings
from meeting.errors import MeetingError, SpeechModelNotInstalledError, TranscriptionError
from meeting.types import AudioClip, Progress, Transcript, TranscriptSegment, Word
from meeting.weights import ensure_whisper_model, whisper_weights

log = logging.getLogger(__name__)

SAMPLING_SEED = 20261201
"""Seeds the sampling of whisper's temperature fallback: one recording, one transcript."""

BACKEND = "faster-whisper"


def default_threads() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def check_language(model_name: str, language: str | None) -> str | None:
    """The normalized forced language, refused when the model cannot transcribe it."""
    language = normalize_language(language)
    if language is not None and not whisper_weights(model_name).multilingual and language != "en":
        raise TranscriptionError(
            f"the whisper {model_name} model transcribes English only, but language "
            f"{language!r} was asked for; use asr_model=base for other languages, or leave the "
            "language unset"
        )
    return language


class FasterWhisperTranscriber:
    """``Transcriber`` on faster-whisper; ``model`` passes an already loaded ``WhisperModel``."""

    def __init__(
        self, settings: MeetingSettings, cache_dir: Path, *, model: Any | None = None
    ) -> None:
        self.settings = settings
        self.cache_dir = Path(cache_dir)
        self._model = model
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"{BACKEND}/{self.settings.asr_model}"

    def load(self, progress: Progress | None = None) -> None:
        self._loaded(progress)

    @property
    def model(self) -> Any:
        """The loaded model (loading it now if needed), to share with another transcriber."""
        return self._loaded()

    def _loaded(self, progress: Progress | None = None) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from faster_whisper import WhisperModel
                except ImportError:
                    raise SpeechModelNotInstalledError(
                        "faster-whisper is not installed: pip install 'officebot[meeting]' "
                        "(or faster-whisper==1.2.1)"
                    ) from None
                directory = ensure_whisper_model(self.settings.asr_model, self.cache_dir, progress)
                threads = self.settings.asr_threads or default_threads()
                log.info(
                    "loading whisper %s (%s, %d threads) from %s",
                    self.settings.asr_model,
                    self.settings.asr_compute_type,
                    threads,
                    directory,
                )
                try:
                    self._model = WhisperModel(
                        str(directory),
                        device="cpu",
                        compute_type=self.settings.asr_compute_type,
                        cpu_threads=threads,
                    )
                except (RuntimeError, ValueError) as exc:
                    raise TranscriptionError(
                        f"the whisper {self.settings.asr_model} model could not be loaded with "
                        f"compute type {self.settings.asr_compute_type!r}: {exc}; compute types "
                        "that work on a CPU: int8 (default), int8_float32, float32"
                    ) from None
            return self._model

    def transcribe(
        self,
        clip: AudioClip,
        *,
        language: str | None = None,
        hotwords: Sequence[str] = (),
        initial_prompt: str | None = None,
        progress: Progress | None = None,
    ) -> Transcript:
        settings = self.settings
        forced = check_language(settings.asr_model, language or settings.language)
        model = self._loaded(progress)
        if forced is not None and forced not in model.supported_languages:
            raise TranscriptionError(
                f"whisper does not know the language {forced!r}; use a code such as zh, en, "
                f"ja, fr (all: {', '.join(model.supported_languages)})"
            )
        terms = merged_hotwords(settings.hotwords, hotwords)
        options: dict[str, Any] = {
            "beam_size": settings.asr_beam_size,
            "word_timestamps": True,
            "vad_filter": settings.asr_vad,
            "condition_on_previous_text": False,
            "initial_prompt": initial_prompt or settings.initial_prompt or None,
            "hotwords": " ".join(terms) or None,
        }

        def run(
            chunk: AudioClip, chunk_language: str | None, report: Callable[[float], None]
        ) -> ChunkResult:
            return _run_chunk(model, chunk, chunk_language, options, report)

        if progress is not None:
            progress("transcribing", 0.0)
        try:
            output = transcribe_in_chunks(
                clip, settings.asr_chunk_s, run, language=forced, progress=progress
            )
        except MeetingError:
            raise
        except (RuntimeError, ValueError) as exc:
            raise TranscriptionError(f"speech recognition failed: {exc}") from exc
        transcript = build_transcript(clip, output, backend=BACKEND, model=settings.asr_model)
        if progress is not None:
            progress("transcribing", 100.0)
        return transcript


def _run_chunk(
    model: Any,
    chunk: AudioClip,
    language: str | None,
    options: dict[str, Any],
    report: Callable[[float], None],
) -> ChunkResult:
    import ctranslate2

    # When a window fails whisper's quality checks, faster-whisper samples it again at a higher
    # temperature; a fixed seed makes that (and so the transcript) the same on every run.
    ctranslate2.set_random_seed(SAMPLING_SEED)
    pieces, info = model.transcribe(chunk.samples, language=language, **options)
    segments = []
    for piece in pieces:
        words = tuple(
            Word(
                start=float(word.start),
                end=float(word.end),
                text=word.word,
                probability=float(word.probability),
            )
            for word in piece.words or ()
        )
        segments.append(
            TranscriptSegment(
                start=float(piece.start), end=float(piece.end), text=piece.text, words=words
            )
        )
        report(float(piece.end))
    return ChunkResult(
        language=str(info.language),
        language_probability=float(info.language_probability),
        segments=segments,
    )
