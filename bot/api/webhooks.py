"""``POST /webhooks/{platform}``: verify, store, dispatch, answer.

Order matters: the body is size-limited before it is read in full, the signature is checked
before the body is parsed, and the event is committed to storage before any handler runs and
before the platform gets its answer.
"""

from __future__ import annotations

import logging
import time

import orjson
from fastapi import APIRouter, Request, Response

from bot.api.deps import RuntimeDep
from bot.errors import BadRequestError, NotConfiguredError, NotFoundError, OfficebotError
from bot.http import read_limited_body

log = logging.getLogger(__name__)

router = APIRouter(tags=["webhooks"])

JSON = "application/json"


class UnsupportedMediaTypeError(BadRequestError):
    code = "unsupported_media_type"
    http_status = 415


class StorageUnavailableError(OfficebotError):
    code = "storage_unavailable"
    http_status = 503


@router.post("/webhooks/{platform}")
async def receive(platform: str, request: Request, runtime: RuntimeDep) -> Response:
    if platform not in runtime.adapters:
        known = ", ".join(sorted(runtime.adapters))
        raise NotFoundError(f"no webhook for platform {platform!r}; available: {known}")
    adapter = runtime.adapters[platform]
    if adapter is None:
        if platform not in runtime.settings.webhooks:
            raise NotConfiguredError(
                f"the {platform} webhook is disabled: add {platform!r} to OFFICEBOT_WEBHOOKS"
            )
        setting = f"OFFICEBOT_{platform.upper()}_" + (
            "APP_SECRET" if platform == "dingtalk" else "WEBHOOK_SECRET"
        )
        raise NotConfiguredError(f"the {platform} webhook is not configured: set {setting}")
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != JSON:
        raise UnsupportedMediaTypeError(
            f"Content-Type must be {JSON}, got {content_type or 'nothing'!r}"
        )
    body = await read_limited_body(request, runtime.settings.max_body_bytes)
    adapter.verify(request.headers, body, time.time())
    event = adapter.parse(body)
    try:
        stored = await runtime.writer.store(event)
    except RuntimeError:
        raise StorageUnavailableError(
            "the message could not be stored; the platform may retry"
        ) from None
    reply = None
    if not stored.duplicate:
        reply = await runtime.dispatcher.dispatch(event, stored)
    payload = adapter.render_reply(reply) if reply is not None else adapter.acknowledge()
    return Response(orjson.dumps(payload), media_type=JSON)
