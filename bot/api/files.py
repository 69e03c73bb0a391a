"""Stored artifacts by their unguessable id: the link is the permission (no API token), so a
report linked in a group chat opens for the people in that chat."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import FileResponse

from bot.api.deps import RuntimeDep

router = APIRouter(tags=["files"])


@router.get("/files/{artifact_id}/{filename}")
async def get_file(runtime: RuntimeDep, artifact_id: str, filename: str) -> FileResponse:
    found = await asyncio.to_thread(runtime.services.artifacts.open_sync, artifact_id)
    disposition = "inline" if found.content_type.startswith(("image/", "text/")) else "attachment"
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(found.filename)}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=3600",
    }
    if found.content_type.startswith("text/html"):
        # a generated page (a mini-app's preview) runs in an opaque origin: its scripts work,
        # but it can read nothing of this server's
        headers["Content-Security-Policy"] = "sandbox allow-scripts allow-forms allow-modals"
    return FileResponse(found.path, media_type=found.content_type, headers=headers)
