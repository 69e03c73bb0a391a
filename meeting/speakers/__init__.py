"""Who spoke when, and who they are.

- ``Diarizer``: one interface; the default finds speech (VAD), embeds windows of it with
  resemblyzer's speaker encoder and clusters them with an estimated speaker count; a
  pyannote.audio backend runs when settings point at a local pyannote checkpoint.
- ``assign_speakers``: words to speakers by time overlap, in linear time.
- Enrollment: a voice sample per person becomes a voiceprint; ``name_speakers`` matches
  diarized speakers to enrolled voices (and attendees) so reports use real names.
"""

from __future__ import annotations

from typing import Protocol

from meeting.config import MeetingSettings
from meeting.types import AudioClip, Diarization, Progress


class Diarizer(Protocol):
    @property
    def name(self) -> str: ...

    def diarize(
        self,
        clip: AudioClip,
        *,
        num_speakers: int | None = None,
        max_speakers: int = 8,
        progress: Progress | None = None,
    ) -> Diarization:
        """Speaker turns for the clip, reporting ``speakers`` progress."""
        ...

    def load(self) -> None:
        """Load the model now (otherwise the first ``diarize`` does)."""
        ...


def create_diarizer(settings: MeetingSettings) -> Diarizer | None:
    """The diarizer the settings ask for; None when diarization is off."""
    if settings.diarizer == "none":
        return None
    if settings.diarizer == "pyannote":
        from meeting.speakers.pyannote_backend import PyannoteDiarizer

        return PyannoteDiarizer(settings)
    from meeting.speakers.resemblyzer_backend import ResemblyzerDiarizer

    return ResemblyzerDiarizer(settings)
