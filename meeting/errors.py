"""Errors of the meeting pipeline. Each has a stable code and a message that says what was
wrong and what is accepted, so the API, the CLI and the chat can show it as it is."""

from __future__ import annotations


class MeetingError(Exception):
    """Root of the meeting pipeline's errors."""

    code = "meeting_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AudioError(MeetingError):
    """The input is not usable audio: empty, corrupt, not audio, or over a limit."""

    code = "bad_audio"


class AudioTooLargeError(AudioError):
    """The file or its duration exceeds the configured limit."""

    code = "audio_too_large"


class SpeechModelNotInstalledError(MeetingError):
    """A package that carries speech or speaker model weights (or their runtime) is missing."""

    code = "speech_model_not_installed"


class TranscriptionError(MeetingError):
    """Speech to text failed."""

    code = "transcription_failed"


class DiarizationError(MeetingError):
    """Finding who spoke when failed, or the diarization settings are unusable."""

    code = "diarization_failed"


class EnrollmentError(MeetingError):
    """A voice sample could not be enrolled (too short, no speech, unusable audio)."""

    code = "enrollment_failed"


class MinutesError(MeetingError):
    """Minutes or to-dos could not be produced."""

    code = "minutes_failed"
