"""Errors of the bot edge. Each carries a stable code and a message that says what to do."""

from __future__ import annotations


class OfficebotError(Exception):
    """Root of officebot's own errors: a stable ``code`` and a human-readable message."""

    code = "officebot_error"
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(OfficebotError):
    """The configuration is invalid or incomplete."""

    code = "config_error"


class SignatureError(OfficebotError):
    """A webhook request is not signed correctly, or its timestamp is outside the window."""

    code = "invalid_signature"
    http_status = 401


class BadRequestError(OfficebotError):
    """A request body was malformed or not of an accepted type."""

    code = "bad_request"
    http_status = 400


class UnsupportedMessageError(BadRequestError):
    """A chat message of a type we do not handle."""

    code = "unsupported_msgtype"
    http_status = 422


class NotConfiguredError(OfficebotError):
    """A feature was used whose settings are missing."""

    code = "not_configured"
    http_status = 503


class NotFoundError(OfficebotError):
    """A requested object does not exist (or belongs to another tenant)."""

    code = "not_found"
    http_status = 404


class OutboundNotAllowedError(OfficebotError):
    """An outbound request to a host outside ``OFFICEBOT_OUTBOUND_ALLOWED_HOSTS``."""

    code = "outbound_not_allowed"
    http_status = 400
