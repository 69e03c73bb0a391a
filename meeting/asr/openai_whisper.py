"""The openai-whisper backend (the ``whisper`` package) on the same packaged weights.

The verified CTranslate2 weights are converted once into openai-whisper's checkpoint format
(``meeting.asr.convert``) and loaded with ``whisper.load_model`` on the CPU in float32. The
word-alignment heads come from the model's config, as faster-whisper uses them. openai-whisper
has no VAD and no hotword input: with ``asr_vad`` the Silero VAD shipped in faster-whisper picks
the speech regions (passed as ``clip_timestamps``), and hotwords join the initial prompt, which
is carried into every window. About 5x slower than faster-whisper: for comparison and for sites
that standardize on openai-whisper.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from meeting.asr.convert import alignment_heads_dump, ensure_openai_checkpoint
from meeting.asr.faster import check_language
from meeting.asr.postprocess import (
    ChunkResult,
    build_transcript,
    combined_prompt,
    merged_hotwords,
    transcribe_in_chunks,
)
from meeting.config import MeetingSettings
from meeting.errors import MeetingError, SpeechModelNotInstalledError, TranscriptionError
from meeting.types import AudioClip, Progress, Transcript, TranscriptSegment, Word
from meeting.weights import ensure_whisper_model

log = logging.getLogger(__name__)

BACKEND = "openai-whisper"
_DETECTION_S = 30.0


class OpenAIWhisperTranscriber:
    """``Transcriber`` on openai-whisper; ``model`` passes an already loaded ``Whisper``."""

    def __init__(
        self, settings: MeetingSettings, cache_dir: Path, *, model: Any | None = None
    ) -> None:
        self.settings = settings
        self.cache_dir = Path(cache_dir)
        self._model = model
        self._load_lock = threading.Lock()
        # openai-whisper installs key/value-cache hooks on the model for each decode: one
        # transcription at a time per model.
        self._run_lock = threading.Lock()

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
        with self._load_lock:
            if self._model is None:
                self._model = self._load_model(progress)
            return self._model

    def _load_model(self, progress: Progress | None) -> Any:
        name = self.settings.asr_model
        checkpoint = ensure_openai_checkpoint(name, self.cache_dir, progress)
        try:
            import whisper
            import whisper.tokenizer
        except ImportError as exc:
            raise SpeechModelNotInstalledError(
                f"the openai-whisper backend is not installed ({exc.name} is missing): "
                "pip install 'officebot[openai-whisper]' and openai-whisper==20250625 --no-deps "
                "(scripts/setup.sh does it)"
            ) from None
        log.info("loading whisper %s (openai-whisper, float32) from %s", name, checkpoint)
        model = whisper.load_model(str(checkpoint), device="cpu")
        config = json.loads(
            (ensure_whisper_model(name, self.cache_dir) / "config.json").read_text()
        )
        heads = config.get("alignment_heads")
        if heads:
            model.set_alignment_heads(
                alignment_heads_dump(heads, model.dims.n_text_layer, model.dims.n_text_head)
            )
        # whisper reads its tiktoken vocabulary without closing the file; read it once here,
        # where the ResourceWarning is expected (the tokenizer is cached afterwards).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=ResourceWarning)
            whisper.tokenizer.get_tokenizer(
                model.is_multilingual, num_languages=model.num_languages, task="transcribe"
            )
        return model

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
        import whisper.tokenizer

        if forced is not None and forced not in whisper.tokenizer.LANGUAGES:
            raise TranscriptionError(
                f"whisper does not know the language {forced!r}; use a code such as zh, en, "
                f"ja, fr (all: {', '.join(whisper.tokenizer.LANGUAGES)})"
            )
        prompt = combined_prompt(
            initial_prompt or settings.initial_prompt, merged_hotwords(settings.hotwords, hotwords)
        )

        def run(
            chunk: AudioClip, chunk_language: str | None, report: Callable[[float], None]
        ) -> ChunkResult:
            return self._run_chunk(model, chunk, chunk_language, prompt)

        if progress is not None:
            progress("transcribing", 0.0)
        try:
            with self._run_lock, _torch_threads(settings.asr_threads):
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
        self, model: Any, chunk: AudioClip, language: str | None, prompt: str | None
    ) -> ChunkResult:
        import whisper

        regions = _speech_regions(chunk) if self.settings.asr_vad else None
        if regions is not None and not regions:
            return ChunkResult(language or "en", None, [])
        probability: float | None = 1.0
        if language is None:
            if model.is_multilingual:
                start = regions[0][0] if regions else 0.0
                language, probability = _detect_language(model, chunk, start)
            else:
                language = "en"
        options: dict[str, Any] = {
            "language": language,
            "task": "transcribe",
            "fp16": False,
            "word_timestamps": True,
            "condition_on_previous_text": False,
            "initial_prompt": prompt,
            "carry_initial_prompt": prompt is not None,
            "verbose": None,
        }
        if self.settings.asr_beam_size > 1:
            options["beam_size"] = self.settings.asr_beam_size
        if regions:
            options["clip_timestamps"] = [time for region in regions for time in region]
        result = whisper.transcribe(model, chunk.samples, **options)
        segments = [
            TranscriptSegment(
                start=float(piece["start"]),
                end=float(piece["end"]),
                text=str(piece["text"]),
                words=tuple(
                    Word(
                        start=float(word["start"]),
                        end=float(word["end"]),
                        text=str(word["word"]),
                        probability=float(word["probability"]),
                    )
                    for word in piece.get("words", ())
                ),
            )
            for piece in result["segments"]
        ]
        return ChunkResult(str(result.get("language") or language), probability, segments)


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """torch's thread count is process-wide: ``asr_threads`` applies while this backend runs.

    Whisper's decoder is a loop of small operations; on a busy machine (other stages, other
    processes) fewer threads are often much faster, which is what ``asr_threads`` is for."""
    if not threads:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _detect_language(model: Any, chunk: AudioClip, start: float) -> tuple[str, float]:
    """Whisper's language guess on the 30 s of ``chunk`` from ``start`` (the first speech)."""
    import whisper

    samples = chunk.slice(start, start + _DETECTION_S)
    mel = whisper.log_mel_spectrogram(samples, model.dims.n_mels)
    mel = whisper.pad_or_trim(mel, whisper.audio.N_FRAMES).to(model.device)
    _, probabilities = model.detect_language(mel)
    language = max(probabilities, key=probabilities.get)
    return str(language), float(probabilities[language])


def _speech_regions(chunk: AudioClip) -> list[tuple[float, float]] | None:
    """Speech regions (seconds) by the Silero VAD in faster-whisper; None without it."""
    try:
        from faster_whisper.vad import VadOptions, get_speech_timestamps
    except ImportError:
        log.warning("faster-whisper is not installed: openai-whisper runs without VAD")
        return None
    stamps = get_speech_timestamps(chunk.samples, VadOptions())
    rate = chunk.sample_rate
    return [(stamp["start"] / rate, stamp["end"] / rate) for stamp in stamps]
