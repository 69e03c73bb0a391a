"""The summarizer's errors: each has a code and a message that says what was wrong and what
is accepted."""

from __future__ import annotations


class ChatSummaryError(Exception):
    """Root of the summarizer's errors."""

    code = "chat_summary_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ChatLogError(ChatSummaryError, ValueError):
    """An exported chat (JSON or CSV) that cannot be read."""

    code = "invalid_chat_log"
