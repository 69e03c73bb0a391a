"""Plugins used by the job tests: one whose handler blocks (to be killed), one that finishes."""

from __future__ import annotations

import sys
import threading
from typing import Any

from plugins import JobContext, Plugin

KIND = "testjobs.work"

blocking = Plugin(name="testjobs", description="blocks forever once started")


@blocking.job(KIND)
def block_forever(ctx: JobContext) -> None:
    ctx.progress("transcribing", 40)
    print(f"RUNNING {ctx.job_id}", flush=True)  # noqa: T201 - read by the parent test process
    sys.stdout.flush()
    threading.Event().wait()


completing = Plugin(name="testjobs", description="finishes the work")


@completing.job(KIND)
def finish(ctx: JobContext) -> dict[str, Any]:
    ctx.progress("summarising", 90)
    return {"done": True, "payload": dict(ctx.payload)}
