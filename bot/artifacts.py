"""``plugins.Artifacts``: files (reports, archives, images) stored under the data directory and
served at ``/files/{id}/{filename}``. The id is 32 random bytes: the link itself is the
permission, so a report linked in a group chat opens without an API token, and nobody can list
or guess other links."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.errors import OfficebotError
from bot.storage.models import StoredArtifact, utcnow
from plugins.context import Artifact

MAX_ARTIFACT_BYTES = 200 * 1024 * 1024
_ID = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class ArtifactError(OfficebotError):
    code = "invalid_artifact"
    http_status = 400


class ArtifactNotFoundError(OfficebotError):
    code = "not_found"
    http_status = 404


def safe_filename(name: str) -> str:
    """A filename without directories, control characters or leading dots (CJK kept)."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C" and c not in '<>:"|?*')
    name = name.strip().lstrip(".").strip()
    return name[:200] or "file"


@dataclass(frozen=True, slots=True)
class ArtifactFile:
    path: Path
    filename: str
    content_type: str
    size: int


class ArtifactStore:
    def __init__(self, engine: Engine, data_dir: Path, public_base_url: str | None) -> None:
        self._engine = engine
        self._root = data_dir / "artifacts"
        self._base = (public_base_url or "").rstrip("/")

    def url(self, artifact_id: str, filename: str) -> str:
        from urllib.parse import quote

        return f"{self._base}/files/{artifact_id}/{quote(filename)}"

    def save_sync(
        self,
        data: bytes,
        filename: str,
        *,
        content_type: str,
        tenant_key: str | None = None,
        plugin: str | None = None,
    ) -> Artifact:
        if len(data) > MAX_ARTIFACT_BYTES:
            raise ArtifactError(
                f"artifact {filename!r} is {len(data)} bytes; the limit is {MAX_ARTIFACT_BYTES}"
            )
        name = safe_filename(filename)
        artifact_id = secrets.token_urlsafe(32)
        self._root.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".saving-", dir=self._root)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, self._root / artifact_id)
        with Session(self._engine) as session, session.begin():
            session.add(
                StoredArtifact(
                    id=artifact_id,
                    tenant_key=tenant_key,
                    plugin=plugin,
                    filename=name,
                    content_type=content_type[:128],
                    size=len(data),
                    created_at=utcnow(),
                )
            )
        return Artifact(artifact_id, name, content_type, len(data), self.url(artifact_id, name))

    async def save(
        self,
        data: bytes,
        filename: str,
        *,
        content_type: str,
        tenant_key: str | None = None,
        plugin: str | None = None,
    ) -> Artifact:
        return await asyncio.to_thread(
            self.save_sync,
            data,
            filename,
            content_type=content_type,
            tenant_key=tenant_key,
            plugin=plugin,
        )

    def delete_sync(self, artifact_id: str) -> bool:
        if not _ID.match(artifact_id):
            return False
        with Session(self._engine) as session, session.begin():
            row = session.get(StoredArtifact, artifact_id)
            if row is None:
                return False
            session.delete(row)
        (self._root / artifact_id).unlink(missing_ok=True)
        return True

    async def delete(self, artifact_id: str) -> bool:
        return await asyncio.to_thread(self.delete_sync, artifact_id)

    def open_sync(self, artifact_id: str) -> ArtifactFile:
        if not _ID.match(artifact_id):
            raise ArtifactNotFoundError("no such file")
        with Session(self._engine) as session:
            row = session.scalars(
                sa.select(StoredArtifact).where(StoredArtifact.id == artifact_id)
            ).first()
            if row is None:
                raise ArtifactNotFoundError("no such file")
            found = ArtifactFile(self._root / row.id, row.filename, row.content_type, row.size)
        if not found.path.is_file():
            raise ArtifactNotFoundError("the file is gone from the data directory")
        return found
