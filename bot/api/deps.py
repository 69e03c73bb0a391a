"""FastAPI dependencies as ``Annotated`` aliases.

They never block, so they are ``async def``: FastAPI runs a plain ``def`` dependency in its thread
pool, a thread hop on every request that costs the webhook a good part of its throughput.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from bot.errors import OfficebotError
from bot.runtime import Runtime
from bot.settings import Settings


class UnauthorizedError(OfficebotError):
    code = "unauthorized"
    http_status = 401


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def require_api_token(request: Request, settings: SettingsDep) -> None:
    """Bearer-token check for /api/*; open only in development without a token set."""
    token = settings.api_token
    if token is None:
        if settings.environment == "development":
            return
        raise UnauthorizedError("the API needs OFFICEBOT_API_TOKEN to be configured")
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.encode(), token.get_secret_value().encode()
    ):
        raise UnauthorizedError("send 'Authorization: Bearer <OFFICEBOT_API_TOKEN>'")


ApiAuth = Depends(require_api_token)
