"""Subprocess for the restart test: start the bot runtime, queue a job, let it block.

The parent kills this process with SIGKILL while the job is running, like a crash.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.registry import PluginRegistry
from bot.runtime import Runtime
from bot.settings import Settings
from tests.support.job_plugins import KIND, blocking


async def main(data_dir: str) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, environment="development", data_dir=Path(data_dir), webhooks=[]
    )
    registry = PluginRegistry(settings)
    registry.add(blocking)
    runtime = Runtime(settings, registry=registry)
    await runtime.start()
    job_id = await runtime.jobs.enqueue(KIND, {"recording": "weekly.m4a"}, tenant_key="t1")
    print(f"QUEUED {job_id}", flush=True)  # noqa: T201
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
