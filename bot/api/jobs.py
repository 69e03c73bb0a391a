"""Job status for the API and the console."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Path

from bot.api.deps import ApiAuth, RuntimeDep

router = APIRouter(prefix="/api", tags=["jobs"], dependencies=[ApiAuth])


@router.get("/jobs/{job_id}")
async def get_job(
    runtime: RuntimeDep, job_id: str = Path(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")
) -> dict[str, Any]:
    view = await asyncio.to_thread(runtime.jobs.store.get, job_id)
    return view.as_json()


@router.get("/status")
async def status(runtime: RuntimeDep) -> dict[str, Any]:
    counts = await asyncio.to_thread(runtime.jobs.store.counts)
    return {
        "jobs": counts,
        "llm": runtime.llm.stats().as_json(),
        "plugins": {
            "loaded": [loaded.plugin.name for loaded in runtime.registry.loaded],
            "failed": [{"name": f.name, "error": f.error} for f in runtime.registry.failed],
        },
    }
