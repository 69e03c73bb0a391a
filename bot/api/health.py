"""Liveness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from bot.api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(runtime: RuntimeDep) -> dict[str, Any]:
    return {
        "status": "ok",
        "plugins": [loaded.plugin.name for loaded in runtime.registry.loaded],
        "webhooks": sorted(name for name, a in runtime.adapters.items() if a is not None),
    }
