"""Speech to text. One interface, two backends on the same whisper weights:

- ``faster-whisper`` (CTranslate2, int8, Silero VAD): the default;
- ``openai-whisper`` (the ``whisper`` package): the same weights converted once into its
  checkpoint format, for comparison and for sites that standardize on it.

``create_transcriber`` returns a lazily loading ``Transcriber``; nothing heavy is imported until
the first ``transcribe``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from meeting.config import MeetingSettings
from meeting.types import AudioClip, Progress, Transcript


class Transcriber(Protocol):
    """Turns a clip into a transcript with segment and word timestamps."""

    @property
    def name(self) -> str:
        """``backend/model``, e.g. ``faster-whisper/base``."""
        ...

    def transcribe(
        self,
        clip: AudioClip,
        *,
        language: str | None = None,
        hotwords: Sequence[str] = (),
        initial_prompt: str | None = None,
        progress: Progress | None = None,
    ) -> Transcript:
        """Transcribe the whole clip (in chunks when long), reporting ``transcribing`` progress.

        ``language`` None detects it. Chinese output is Simplified. Repetition loops are cut."""
        ...

    def load(self) -> None:
        """Load the model now (otherwise the first ``transcribe`` does)."""
        ...


def create_transcriber(settings: MeetingSettings, cache_dir: Path) -> Transcriber:
    """The transcriber the settings ask for; weights are assembled under ``cache_dir``."""
    if settings.asr_backend == "openai-whisper":
        from meeting.asr.openai_whisper import OpenAIWhisperTranscriber

        return OpenAIWhisperTranscriber(settings, cache_dir)
    from meeting.asr.faster import FasterWhisperTranscriber

    return FasterWhisperTranscriber(settings, cache_dir)
