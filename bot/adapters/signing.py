"""HMAC signatures used by the platforms and by our generic webhook."""

from __future__ import annotations

import base64
import hashlib
import hmac


def dingtalk_sign(timestamp_ms: str | int, secret: str) -> str:
    """DingTalk's robot signature: Base64(HmacSHA256(secret, timestamp + "\\n" + secret))."""
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def generic_signature(timestamp: str | int, body: bytes, secret: str) -> str:
    """``sha256=<hex>`` over ``timestamp + "." + raw body``: the timestamp is signed too, so a
    captured request cannot be replayed with a fresh timestamp."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def constant_time_equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
