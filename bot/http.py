"""Small HTTP helpers shared by the routers."""

from __future__ import annotations

from fastapi import Request

from bot.errors import BadRequestError


class PayloadTooLargeError(BadRequestError):
    code = "payload_too_large"
    http_status = 413


async def read_limited_body(request: Request, limit: int) -> bytes:
    """Read the body, refusing it as soon as it exceeds ``limit`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BadRequestError("Content-Length must be a number") from None
        if size > limit:
            raise PayloadTooLargeError(f"body is {size} bytes; the limit is {limit} bytes")
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise PayloadTooLargeError(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
