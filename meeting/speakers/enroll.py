"""Voiceprints: who the diarized speakers are.

``enroll`` turns a voice sample (a few seconds of one person speaking) into a voiceprint, the
same kind of unit vector a diarization keeps as each speaker's centroid. ``name_speakers``
pairs speakers with voiceprints one to one (the pairing with the largest total similarity);
a pair counts only above the threshold. When the attendees are known, their voiceprints are
preferred: someone not in the meeting is named only on a clearly stronger match. Speakers left
unnamed are "Speaker 1", "Speaker 2"... ("发言人1"... in Chinese) in order of first appearance.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from meeting.errors import EnrollmentError
from meeting.speakers.embedding import VoiceEmbedder, normalize, shared_embedder
from meeting.speakers.vad import speech_regions, speech_total
from meeting.types import SAMPLE_RATE, AudioClip, Diarization, SpeakerInfo

if TYPE_CHECKING:
    import numpy.typing as npt

logger = logging.getLogger(__name__)

MIN_ENROLL_SPEECH_S = 2.0
ABSENT_MARGIN = 0.1
"""How much more similar than the threshold a voice of someone not among the attendees must be."""
ATTENDEE_BONUS = 0.05
"""Added to an attendee's similarity when pairing, so a near tie goes to the attendee."""


def enroll(
    clip_or_samples: AudioClip | npt.NDArray[np.float32],
    embedder: VoiceEmbedder | None = None,
    *,
    min_speech_s: float = MIN_ENROLL_SPEECH_S,
) -> tuple[float, ...]:
    """A voiceprint (unit 256-d vector) from one person's voice sample, 16 kHz mono.

    Only the speech in the sample counts; less than ``min_speech_s`` seconds is refused.
    """
    if isinstance(clip_or_samples, AudioClip):
        if clip_or_samples.sample_rate != SAMPLE_RATE:
            raise EnrollmentError(
                f"voice sample at {clip_or_samples.sample_rate} Hz: enrollment takes "
                f"{SAMPLE_RATE} Hz mono audio"
            )
        samples = clip_or_samples.samples
    else:
        samples = clip_or_samples
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 1:
        raise EnrollmentError(
            f"voice sample of shape {samples.shape}: enrollment takes mono audio (1-d)"
        )
    regions = speech_regions(samples) if samples.size else []
    speech_s = speech_total(regions)
    if speech_s < min_speech_s:
        raise EnrollmentError(
            f"the voice sample has {speech_s:.1f} s of speech; at least {min_speech_s:.1f} s "
            f"is needed (5-10 s of one person speaking works best)"
        )
    speech = np.concatenate(
        [samples[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)] for start, end in regions]
    )
    vector = (embedder or shared_embedder()).embed(speech)
    if not np.any(vector):
        raise EnrollmentError("the voice sample gave no usable voiceprint: record it again")
    return tuple(float(value) for value in vector)


def unnamed_label(index: int, language: str) -> str:
    """The display name of the ``index``-th (from 1) speaker without a name."""
    if language.lower().startswith(("zh", "yue")):
        return f"发言人{index}"
    return f"Speaker {index}"


def name_speakers(
    diarization: Diarization,
    voiceprints: Mapping[str, Sequence[float]],
    *,
    threshold: float,
    language: str,
    attendees: Sequence[str] = (),
) -> tuple[SpeakerInfo, ...]:
    """One ``SpeakerInfo`` per diarized speaker, in order of first appearance."""
    from scipy.optimize import linear_sum_assignment

    talk = diarization.talk_time()
    speakers = list(diarization.speakers)
    names = list(voiceprints)
    matched: dict[str, tuple[str, float]] = {}
    with_centroid = [label for label in speakers if diarization.centroids.get(label)]
    if names and with_centroid:
        voices = np.stack([normalize(np.asarray(voiceprints[name], float)) for name in names])
        centres = np.stack(
            [normalize(np.asarray(diarization.centroids[label], float)) for label in with_centroid]
        )
        if voices.shape[1] != centres.shape[1]:
            raise EnrollmentError(
                f"voiceprints have {voices.shape[1]} values but the diarization's voices "
                f"{centres.shape[1]}: enroll again with the diarizer's embedder"
            )
        similarity = centres @ voices.T
        wanted = {attendee.strip().casefold() for attendee in attendees if attendee.strip()}
        attending = np.array([not wanted or name.strip().casefold() in wanted for name in names])
        needed = np.where(attending, threshold, threshold + ABSENT_MARGIN)
        allowed = similarity >= needed[None, :]
        score = np.where(allowed, similarity + ATTENDEE_BONUS * (attending & bool(wanted)), -1.0)
        rows, cols = linear_sum_assignment(score, maximize=True)
        for row, col in zip(rows, cols, strict=True):
            if allowed[row, col]:
                matched[with_centroid[row]] = (names[col], float(similarity[row, col]))
    infos: list[SpeakerInfo] = []
    unnamed = 0
    for label in speakers:
        if label in matched:
            name, similarity_value = matched[label]
            infos.append(
                SpeakerInfo(
                    label=label,
                    name=name,
                    enrolled=True,
                    similarity=round(similarity_value, 4),
                    talk_time=round(talk.get(label, 0.0), 3),
                )
            )
        else:
            unnamed += 1
            infos.append(
                SpeakerInfo(
                    label=label,
                    name=unnamed_label(unnamed, language),
                    talk_time=round(talk.get(label, 0.0), 3),
                )
            )
    logger.debug(
        "named %d of %d speakers from %d voiceprints", len(matched), len(speakers), len(names)
    )
    return tuple(infos)
