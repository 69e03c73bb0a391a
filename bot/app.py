"""The FastAPI application: routers, error handlers and the runtime's lifespan."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.api import files, health, jobs, webhooks
from bot.api.deps import ApiAuth
from bot.dispatch import HttpRun
from bot.errors import OfficebotError
from bot.runtime import Runtime
from bot.settings import Settings, load_settings

log = logging.getLogger(__name__)


HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    411: "length_required",
    413: "too_large",
    422: "invalid_request",
    429: "too_many_requests",
}
"""The ``error.code`` of an ``HTTPException`` (raised by the bot's or a plugin's routes)."""


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """Build the app; the runtime (storage, workers, scheduler) starts with the server."""
    if runtime is None:
        runtime = Runtime(settings or load_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        # What startup built (modules, plugins, the app) lives as long as the server. Frozen, the
        # cyclic GC stops re-scanning it on every full collection: those scans took ~50 ms each,
        # several times a second under load, stalling every request in flight.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            await runtime.stop()

    app = FastAPI(title="officebot", version="0.1.0", lifespan=lifespan)
    app.state.runtime = runtime
    for module in (health, webhooks, jobs, files):
        app.include_router(module.router)
    configs = {loaded.plugin.name: loaded.config for loaded in runtime.registry.loaded}
    app.state.plugin_http_context = lambda plugin: HttpRun(
        runtime.services, configs.get(plugin), plugin
    )
    for loaded in runtime.registry.loaded:
        for router in loaded.plugin.routers:
            app.include_router(router, dependencies=[ApiAuth])

    @app.exception_handler(OfficebotError)
    async def officebot_error(_: Request, exc: OfficebotError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        return JSONResponse(error_body("invalid_request", details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected_error(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(
            error_body("internal_error", "something went wrong; the server log has details"),
            status_code=500,
        )

    return app
