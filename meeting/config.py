"""Settings of the meeting pipeline. The meeting plugin uses this as its config model, so they
are set as ``OFFICEBOT_PLUGINS__MEETING__<KEY>`` (e.g. ``..._ASR_MODEL=tiny.en``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AsrBackendName = Literal["faster-whisper", "openai-whisper"]
AsrModelName = Literal["base", "tiny.en"]
DiarizerName = Literal["resemblyzer", "pyannote", "none"]


class AudioLimits(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_bytes: int = Field(
        default=500 * 1024 * 1024, ge=1, description="Largest recording accepted, in bytes."
    )
    max_duration_s: float = Field(
        default=4 * 3600.0, gt=0, description="Longest recording accepted, in seconds."
    )
    min_duration_s: float = Field(
        default=0.5, ge=0, description="Shorter recordings are refused as empty."
    )
    decode_timeout_s: float = Field(
        default=600.0, gt=0, description="Longest the decoder may take for one file."
    )


class MeetingSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    asr_backend: AsrBackendName = Field(
        default="faster-whisper",
        description="faster-whisper (CTranslate2, default) or openai-whisper (the `whisper` "
        "package, on the same weights converted once; about 5x slower).",
    )
    asr_model: AsrModelName = Field(
        default="base", description="base (multilingual, default) or tiny.en (English only)."
    )
    asr_compute_type: str = Field(default="int8", description="CTranslate2 compute type.")
    asr_beam_size: int = Field(default=1, ge=1, le=10, description="1 = greedy (fastest).")
    asr_vad: bool = Field(default=True, description="Skip silence with Silero VAD.")
    asr_chunk_s: float = Field(
        default=300.0, ge=30, description="Long recordings are transcribed in chunks this long."
    )
    asr_threads: int | None = Field(default=None, ge=1, le=64, description="Default: all cores.")
    language: str | None = Field(
        default=None, description="Force a language (zh, en); default: detect per recording."
    )
    hotwords: list[str] = Field(
        default_factory=list,
        description="Names and terms the recognizer should prefer (custom vocabulary).",
    )
    initial_prompt: str | None = Field(
        default=None, description="Text that primes the recognizer (style, vocabulary)."
    )
    model_cache_dir: Path | None = Field(
        default=None, description="Where speech weights are assembled; default <data_dir>/models."
    )
    diarizer: DiarizerName = Field(
        default="resemblyzer",
        description="resemblyzer (default, weights in its package), pyannote (needs "
        "pyannote_checkpoint) or none.",
    )
    num_speakers: int | None = Field(
        default=None, ge=1, le=20, description="Known speaker count; default: estimated."
    )
    max_speakers: int = Field(default=8, ge=1, le=20, description="Upper bound when estimating.")
    pyannote_checkpoint: Path | None = Field(
        default=None,
        description="Local pyannote speaker-diarization pipeline (config.yaml directory).",
    )
    enrollment_threshold: float = Field(
        default=0.85,
        ge=0,
        le=1,
        description="Cosine similarity above which a speaker is named after an enrolled voice "
        "(different voices reach 0.84 with this encoder; the same voice 0.91-0.95).",
    )
    audio: AudioLimits = Field(default_factory=AudioLimits)
    download_timeout_s: float = Field(
        default=300.0, gt=0, description="Longest a recording URL may take to download."
    )
    minutes: bool = Field(default=True, description="Write minutes and to-dos with the model.")
    report_transcript: bool = Field(
        default=True, description="Put the full transcript into the .docx report."
    )
