"""pyannote.audio's speaker-diarization pipeline, from a local checkpoint.

No pyannote weights ship in any package, so this backend runs only where the settings point
``pyannote_checkpoint`` at a pipeline already on disk (a directory with its ``config.yaml``,
e.g. a downloaded ``pyannote/speaker-diarization-community-1``). It reads the waveform from
memory (no decoding by pyannote, hence no torchcodec), works with pyannote.audio 3.x
(an ``Annotation``) and 4.x (a ``DiarizeOutput``), and turns off pyannote's telemetry.
"""

from __future__ import annotations

import inspect
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from meeting.config import MeetingSettings
from meeting.errors import DiarizationError
from meeting.speakers.resemblyzer_backend import speaker_bounds
from meeting.types import SAMPLE_RATE, AudioClip, Diarization, Progress, SpeakerTurn, no_progress

logger = logging.getLogger(__name__)

STAGE = "speakers"
INSTALL_HINT = (
    "pyannote.audio with its dependencies (torch, torchaudio, einops, lightning, "
    "asteroid-filterbanks, pyannote.core, pyannote.pipeline; a CPU build of torchaudio), e.g. "
    "`pip install pyannote.audio`; the `meeting` extra installs only resemblyzer, and a "
    "pyannote.audio installed with --no-deps (as in the test environment) cannot be imported"
)


def _pipeline_config(checkpoint: Path | None) -> Path:
    if checkpoint is None:
        raise DiarizationError(
            "diarizer=pyannote needs pyannote_checkpoint: the local directory of a pyannote "
            "speaker-diarization pipeline (with its config.yaml); or use diarizer=resemblyzer"
        )
    path = Path(checkpoint).expanduser()
    if path.is_dir():
        path = path / "config.yaml"
    if not path.is_file():
        raise DiarizationError(
            f"pyannote_checkpoint {checkpoint}: no pipeline there; give a directory holding a "
            f"pyannote speaker-diarization config.yaml (and the models it names), or the "
            f"config.yaml itself"
        )
    return path


def _import_pipeline_class() -> Any:
    # pyannote.audio 4 sends usage metrics unless told not to, and reads this on import.
    os.environ["PYANNOTE_METRICS_ENABLED"] = "false"
    try:
        from pyannote.audio import Pipeline
    except Exception as exc:  # ImportError, or OSError from a CUDA-only torchaudio build
        raise DiarizationError(
            f"diarizer=pyannote: pyannote.audio cannot be imported ({type(exc).__name__}: "
            f"{exc}). It needs {INSTALL_HINT}"
        ) from exc
    return Pipeline


class PyannoteDiarizer:
    """A pyannote speaker-diarization pipeline loaded from ``settings.pyannote_checkpoint``.

    ``pipeline`` passes an already-loaded pipeline through.
    """

    def __init__(self, settings: MeetingSettings, *, pipeline: Any | None = None) -> None:
        self.settings = settings
        self._pipeline = pipeline
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return "pyannote"

    def load(self) -> None:
        self._ensure()

    def _ensure(self) -> Any:
        if self._pipeline is not None:
            return self._pipeline
        with self._lock:
            if self._pipeline is None:
                config = _pipeline_config(self.settings.pyannote_checkpoint)
                pipeline_class = _import_pipeline_class()
                try:
                    pipeline = pipeline_class.from_pretrained(config)
                except Exception as exc:
                    raise DiarizationError(
                        f"pyannote pipeline {config} failed to load: {exc}"
                    ) from exc
                if pipeline is None:
                    raise DiarizationError(
                        f"pyannote pipeline {config} failed to load (pyannote returned nothing)"
                    )
                import torch

                pipeline.to(torch.device("cpu"))
                self._pipeline = pipeline
                logger.info("pyannote pipeline loaded from %s", config)
            return self._pipeline

    def diarize(
        self,
        clip: AudioClip,
        *,
        num_speakers: int | None = None,
        max_speakers: int = 8,
        progress: Progress | None = None,
    ) -> Diarization:
        report = progress or no_progress
        if clip.sample_rate != SAMPLE_RATE:
            raise DiarizationError(
                f"audio at {clip.sample_rate} Hz: the diarizer takes {SAMPLE_RATE} Hz mono"
            )
        num_speakers, max_speakers = speaker_bounds(self.settings, num_speakers, max_speakers)
        pipeline = self._ensure()
        import torch

        report(STAGE, 0.0)
        began = time.perf_counter()
        waveform = torch.from_numpy(np.ascontiguousarray(clip.samples, dtype=np.float32))
        audio = {"waveform": waveform.unsqueeze(0), "sample_rate": SAMPLE_RATE}
        options: dict[str, Any] = (
            {"num_speakers": num_speakers}
            if num_speakers is not None
            else {"max_speakers": max_speakers}
        )
        if "return_embeddings" in inspect.signature(pipeline.apply).parameters:
            options["return_embeddings"] = True  # pyannote.audio 3.x

        def hook(step: str, artifact: Any, file: Any = None, **kwargs: Any) -> None:
            total, completed = kwargs.get("total"), kwargs.get("completed")
            if step == "embeddings" and total:
                report(STAGE, 20.0 + 70.0 * float(completed or 0) / float(total))
            elif step == "segmentation" and artifact is not None:
                report(STAGE, 20.0)

        try:
            output = pipeline(audio, hook=hook, **options)
        except Exception as exc:
            raise DiarizationError(f"pyannote diarization failed: {exc}") from exc
        diarization = from_pipeline_output(output, backend=self.name)
        report(STAGE, 100.0)
        logger.info(
            "pyannote diarized %.1f s into %d speakers in %.2f s",
            clip.duration,
            len(diarization.speakers),
            time.perf_counter() - began,
        )
        return diarization


def from_pipeline_output(output: Any, *, backend: str = "pyannote") -> Diarization:
    """Our ``Diarization`` from what a pyannote pipeline returns: a 4.x ``DiarizeOutput``, a
    3.x ``(Annotation, embeddings)`` pair, or an ``Annotation``. Labels become
    ``SPEAKER_00``... in order of first appearance; centroids come from the pipeline's
    per-speaker embeddings when it gives them (ordered as ``annotation.labels()``)."""
    embeddings: Any = None
    if hasattr(output, "speaker_diarization"):
        annotation = output.speaker_diarization
        embeddings = getattr(output, "speaker_embeddings", None)
    elif isinstance(output, tuple):
        annotation, embeddings = output[0], output[1] if len(output) > 1 else None
    else:
        annotation = output
    tracks = sorted(
        ((segment.start, segment.end, label) for segment, _, label in annotation.itertracks(True)),
        key=lambda track: (track[0], track[1]),
    )
    names: dict[Any, str] = {}
    for _, _, label in tracks:
        names.setdefault(label, f"SPEAKER_{len(names):02d}")
    turns = tuple(
        SpeakerTurn(start=round(float(start), 3), end=round(float(end), 3), speaker=names[label])
        for start, end, label in tracks
        if end > start
    )
    centroids: dict[str, tuple[float, ...]] = {}
    if embeddings is not None:
        matrix = np.asarray(embeddings, dtype=np.float64)
        for row, label in enumerate(annotation.labels()):
            if label in names and row < len(matrix) and np.all(np.isfinite(matrix[row])):
                norm = float(np.linalg.norm(matrix[row]))
                if norm > 0:
                    centroids[names[label]] = tuple(float(v) for v in matrix[row] / norm)
    return Diarization(
        turns=turns, speakers=tuple(names.values()), centroids=centroids, backend=backend
    )
