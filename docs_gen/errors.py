"""The document pipeline's errors: each has a code and a message that says what was wrong and
what is accepted."""

from __future__ import annotations


class DocumentError(Exception):
    """Root of the document pipeline's errors (a bad kind, brief or section name)."""

    code = "docs_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BriefError(DocumentError, ValueError):
    """A brief that cannot become a document (empty, too long)."""

    code = "docs_invalid_brief"
