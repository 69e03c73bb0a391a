"""Meetings: recording -> transcript with speakers -> minutes and to-dos -> report to the group.

Written exactly as a third-party plugin would be: it uses the contract (commands, a job kind,
HTTP routes) and the context objects only.

- ``POST /api/meetings`` (multipart upload) and ``POST /events/meeting-ended`` (JSON: recording
  URL or upload id) create a meeting and queue a ``meeting.process`` job; when it is done the
  report goes to the target group (summary, to-dos with @mentions, a link to the .docx).
- ``GET /api/meetings/{id}``: status, transcript, minutes, to-dos and report links.
- ``/minutes`` (``/纪要``): the latest meeting of this conversation; ``/todo`` (``/待办``): open
  to-dos, ``/todo done 2`` marks one done.
- Voices: ``POST /api/voices`` enrolls a person's voice sample, so reports use real names.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import shutil
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from meeting.config import MeetingSettings
from plugins import (
    CommandContext,
    HttpContext,
    JobContext,
    MarkdownMessage,
    Mentions,
    Param,
    Plugin,
    RecordStore,
    Services,
)

log = logging.getLogger(__name__)

plugin = Plugin(
    name="meeting",
    description="会议录音转写、发言人、纪要与待办 / Meeting transcripts, minutes and to-dos.",
    usage="/minutes [id] · /todo [done <n>] · POST /api/meetings · POST /events/meeting-ended",
    version="1",
    config_model=MeetingSettings,
)

JOB_KIND = "meeting.process"
MEETINGS = "meetings"
TODOS = "todos"
VOICES = "voices"
VOCABULARY = "vocabulary"
UPLOADS = "uploads"
DEFAULT_TENANT = "default"
AUDIO_SUFFIXES = frozenset(
    [
        ".wav",
        ".mp3",
        ".m4a",
        ".aac",
        ".ogg",
        ".oga",
        ".opus",
        ".webm",
        ".flac",
        ".mp4",
        ".mov",
        ".mkv",
        ".m4v",
        ".amr",
        ".wma",
    ]
)
Ctx = Annotated[HttpContext, Depends(plugin.http_context)]


# --- shapes ----------------------------------------------------------------------------------


class Attendee(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64)
    user_id: str | None = Field(default=None, max_length=128)
    """The person's chat user id (DingTalk userId): their to-dos @-mention them."""


class Target(BaseModel):
    """Where the report goes: a configured robot by name, or the robot of a conversation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: str = Field(default="dingtalk", max_length=32)
    conversation_id: str | None = Field(default=None, max_length=256)
    robot: str | None = Field(default=None, max_length=64)


class MeetingRequest(BaseModel):
    """The body of ``POST /events/meeting-ended`` (and the form of ``POST /api/meetings``)."""

    model_config = ConfigDict(extra="forbid")

    recording_url: str | None = Field(default=None, max_length=4096)
    upload_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    title: str = Field(default="", max_length=200)
    start_time: datetime | None = None
    attendees: list[Attendee | str] = Field(default_factory=list, max_length=200)
    conversation_id: str | None = Field(default=None, max_length=256)
    robot: str | None = Field(default=None, max_length=64)
    platform: str = Field(default="dingtalk", max_length=32)
    tenant: str = Field(default=DEFAULT_TENANT, min_length=1, max_length=128)
    language: Literal["zh", "en"] | None = None
    hotwords: list[str] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _one_source(self) -> MeetingRequest:
        if (self.recording_url is None) == (self.upload_id is None):
            raise ValueError("give exactly one of recording_url or upload_id")
        return self

    def people(self) -> list[Attendee]:
        return [a if isinstance(a, Attendee) else Attendee(name=a) for a in self.attendees]


# --- helpers ---------------------------------------------------------------------------------


def _settings(config: object) -> MeetingSettings:
    return config if isinstance(config, MeetingSettings) else MeetingSettings()


def _root(services: Services) -> Path:
    return services.data_dir / "plugins" / "meeting"


def _cache_dir(settings: MeetingSettings, services: Services) -> Path:
    return settings.model_cache_dir or services.data_dir / "models"


def _new_id() -> str:
    return secrets.token_hex(8)


def _suffix(filename: str | None) -> str:
    suffix = Path(filename or "").suffix.lower()
    return suffix if suffix in AUDIO_SUFFIXES else ".bin"


async def _save_upload(request: Request, ctx: HttpContext) -> tuple[Path, int, dict[str, str]]:
    """The multipart upload's ``file`` saved under the plugin's data, its size, and the other
    fields."""
    settings = _settings(ctx.config)
    limit = settings.audio.max_bytes
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        raise HTTPException(411, "send the upload with a Content-Length header")
    if int(declared) > limit + 64 * 1024:
        raise HTTPException(
            413, f"the upload is {int(declared)} bytes; recordings up to {limit} bytes are accepted"
        )
    form = await request.form(max_files=1, max_fields=30)
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(422, "send the recording as a multipart file field named 'file'")
        uploads = _root(ctx.services) / "uploads"
        uploads.mkdir(parents=True, exist_ok=True)
        path = uploads / f"{_new_id()}{_suffix(upload.filename)}"
        size = await asyncio.to_thread(_copy_file, upload.file, path, limit)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
    finally:
        await form.close()
    return path, size, fields


def _copy_file(source: Any, destination: Path, limit: int) -> int:
    source.seek(0)
    with destination.open("wb") as out:
        shutil.copyfileobj(source, out, 1024 * 1024)
    size = destination.stat().st_size
    if size == 0 or size > limit:
        destination.unlink(missing_ok=True)
        raise HTTPException(
            413 if size else 422,
            "the recording is empty" if size == 0 else f"recordings up to {limit} bytes",
        )
    return size


def _form_request(fields: Mapping[str, str], upload_id: str) -> MeetingRequest:
    data: dict[str, Any] = {k: v for k, v in fields.items() if k != "attendees" and v != ""}
    attendees = fields.get("attendees", "").strip()
    if attendees.startswith("["):
        data["attendees"] = json.loads(attendees)
    elif attendees:
        data["attendees"] = [a.strip() for a in attendees.replace("，", ",").split(",") if a]
    if "hotwords" in data:
        data["hotwords"] = [w.strip() for w in str(data["hotwords"]).split(",") if w.strip()]
    data["upload_id"] = upload_id
    return MeetingRequest.model_validate(data)


async def _create_meeting(ctx: HttpContext, request: MeetingRequest) -> dict[str, Any]:
    settings = _settings(ctx.config)
    tenant = request.tenant
    if request.recording_url is not None:
        if not ctx.services.download_allowed(request.recording_url):
            raise HTTPException(
                403,
                "recording_url's host is not allowed: add it to OFFICEBOT_DOWNLOAD_ALLOWED_HOSTS",
            )
    elif request.upload_id is not None:
        upload = await ctx.records.get(UPLOADS, request.upload_id, tenant_key=tenant)
        if upload is None:
            raise HTTPException(404, f"no upload {request.upload_id!r} for tenant {tenant!r}")
    if request.conversation_id is None and request.robot is None:
        raise HTTPException(422, "say where the report goes: conversation_id or robot")
    meeting_id = _new_id()
    meeting_date = (request.start_time or datetime.now()).date()
    record = {
        "id": meeting_id,
        "status": "queued",
        "title": request.title,
        "date": meeting_date.isoformat(),
        "attendees": [a.model_dump() for a in request.people()],
        "language": request.language,
        "conversation_id": request.conversation_id,
        "target": Target(
            platform=request.platform,
            conversation_id=request.conversation_id,
            robot=request.robot,
        ).model_dump(),
    }
    await ctx.records.put(MEETINGS, meeting_id, record, tenant_key=tenant)
    job_id = await ctx.services.enqueue(
        JOB_KIND,
        {
            "meeting_id": meeting_id,
            "tenant": tenant,
            "recording_url": request.recording_url,
            "upload_id": request.upload_id,
            "hotwords": request.hotwords,
            "max_bytes": settings.audio.max_bytes,
        },
        tenant_key=tenant,
    )
    await ctx.records.put(MEETINGS, meeting_id, {**record, "job_id": job_id}, tenant_key=tenant)
    return {"meeting_id": meeting_id, "job_id": job_id, "status": "queued"}


# --- HTTP ------------------------------------------------------------------------------------

router = APIRouter(tags=["meetings"])


@router.post("/api/meetings/uploads", status_code=201)
async def upload_recording(request: Request, ctx: Ctx) -> dict[str, Any]:
    """Store a recording for a later ``meeting-ended`` event (which names its upload_id)."""
    path, size, fields = await _save_upload(request, ctx)
    tenant = fields.get("tenant") or DEFAULT_TENANT
    upload_id = path.stem
    await ctx.records.put(UPLOADS, upload_id, {"path": path.name, "bytes": size}, tenant_key=tenant)
    return {"upload_id": upload_id, "bytes": size, "tenant": tenant}


@router.post("/api/meetings", status_code=202)
async def create_meeting(request: Request, ctx: Ctx) -> dict[str, Any]:
    """Upload a recording and process it at once (multipart: file + the meeting's fields)."""
    path, size, fields = await _save_upload(request, ctx)
    try:
        meeting = _form_request(fields, path.stem)
    except (ValidationError, ValueError) as exc:
        path.unlink(missing_ok=True)
        raise HTTPException(422, f"invalid meeting fields: {exc}") from None
    await ctx.records.put(
        UPLOADS,
        path.stem,
        {"path": path.name, "bytes": size},
        tenant_key=meeting.tenant,
    )
    return await _create_meeting(ctx, meeting)


@router.post("/events/meeting-ended", status_code=202)
async def meeting_ended(meeting: MeetingRequest, ctx: Ctx) -> dict[str, Any]:
    """A meeting ended: fetch its recording (or take an upload) and report to the group."""
    return await _create_meeting(ctx, meeting)


@router.get("/api/meetings/{meeting_id}")
async def get_meeting(meeting_id: str, ctx: Ctx) -> dict[str, Any]:
    record = await ctx.records.find(MEETINGS, meeting_id)
    if record is None:
        raise HTTPException(404, f"no meeting {meeting_id!r}")
    todos = await ctx.records.list(
        TODOS, tenant_key=record.tenant_key, limit=500, where={"meeting_id": meeting_id}
    )
    return {
        **record.data,
        "tenant": record.tenant_key,
        "todos": [dict(t.data) for t in sorted(todos, key=lambda t: t.data.get("index", 0))],
    }


@router.post("/api/voices", status_code=201)
async def enroll_voice(request: Request, ctx: Ctx) -> dict[str, Any]:
    """Enroll a voice sample (multipart: file, name, tenant) so reports use the real name."""
    path, _, fields = await _save_upload(request, ctx)
    try:
        name = fields.get("name", "").strip()
        if not 0 < len(name) <= 64:
            raise HTTPException(422, "give the speaker's name (1-64 characters) in field 'name'")
        tenant = fields.get("tenant") or DEFAULT_TENANT
        voiceprint = await asyncio.to_thread(_voiceprint, ctx, path)
    finally:
        path.unlink(missing_ok=True)
    await ctx.records.put(
        VOICES, name, {"name": name, "embedding": list(voiceprint)}, tenant_key=tenant
    )
    return {"name": name, "tenant": tenant, "dimensions": len(voiceprint)}


@router.get("/api/voices")
async def list_voices(ctx: Ctx, tenant: str = DEFAULT_TENANT) -> dict[str, Any]:
    voices = await ctx.records.list(VOICES, tenant_key=tenant, limit=1000)
    return {"tenant": tenant, "voices": sorted(v.key for v in voices)}


@router.delete("/api/voices/{name}")
async def delete_voice(name: str, ctx: Ctx, tenant: str = DEFAULT_TENANT) -> dict[str, Any]:
    if not await ctx.records.delete(VOICES, name, tenant_key=tenant):
        raise HTTPException(404, f"no enrolled voice {name!r} for tenant {tenant!r}")
    return {"deleted": name, "tenant": tenant}


class Vocabulary(BaseModel):
    """A tenant's custom vocabulary: names and terms the recognizer should prefer."""

    model_config = ConfigDict(extra="forbid")

    hotwords: list[str] = Field(default_factory=list, max_length=200)
    initial_prompt: str | None = Field(default=None, max_length=500)


@router.put("/api/vocabulary")
async def put_vocabulary(
    vocabulary: Vocabulary, ctx: Ctx, tenant: str = DEFAULT_TENANT
) -> dict[str, Any]:
    words = [w.strip() for w in vocabulary.hotwords if w.strip()]
    if any(len(w) > 64 for w in words):
        raise HTTPException(422, "each hotword is at most 64 characters")
    data = {"hotwords": list(dict.fromkeys(words)), "initial_prompt": vocabulary.initial_prompt}
    await ctx.records.put(VOCABULARY, "current", data, tenant_key=tenant)
    return {"tenant": tenant, **data}


@router.get("/api/vocabulary")
async def get_vocabulary(ctx: Ctx, tenant: str = DEFAULT_TENANT) -> dict[str, Any]:
    record = await ctx.records.get(VOCABULARY, "current", tenant_key=tenant)
    data = dict(record.data) if record else {"hotwords": [], "initial_prompt": None}
    return {"tenant": tenant, **data}


def _voiceprint(ctx: HttpContext, path: Path) -> tuple[float, ...]:
    from meeting.errors import MeetingError
    from meeting.pipeline import shared_pipeline

    settings = _settings(ctx.config)
    try:
        return shared_pipeline(settings, _cache_dir(settings, ctx.services)).enroll(path)
    except MeetingError as exc:
        raise HTTPException(422, exc.message) from None


plugin.routes(router)


# --- the job ---------------------------------------------------------------------------------


@plugin.job(JOB_KIND)
async def process_meeting(ctx: JobContext) -> dict[str, Any]:
    from meeting.errors import MeetingError
    from meeting.pipeline import Overall, shared_pipeline
    from meeting.types import MeetingInfo

    settings = _settings(ctx.config)
    payload = ctx.payload
    tenant = str(payload["tenant"])
    meeting_id = str(payload["meeting_id"])
    record = await ctx.records.get(MEETINGS, meeting_id, tenant_key=tenant)
    if record is None:
        raise ValueError(f"meeting {meeting_id} is gone")
    meeting = dict(record.data)
    await _update(ctx.records, tenant, meeting, status="running")
    try:
        audio = await _recording(ctx, payload, settings)
        attendees = [Attendee.model_validate(a) for a in meeting.get("attendees", [])]
        info = MeetingInfo(
            title=str(meeting.get("title") or ""),
            date=date.fromisoformat(meeting["date"]),
            attendees=tuple(a.name for a in attendees),
            language=meeting.get("language"),
        )
        vocabulary = await ctx.records.get(VOCABULARY, "current", tenant_key=tenant)
        custom = dict(vocabulary.data) if vocabulary else {}
        voices = await ctx.records.list(VOICES, tenant_key=tenant, limit=1000)
        voiceprints = {v.key: tuple(v.data["embedding"]) for v in voices}
        pipeline = shared_pipeline(settings, _cache_dir(settings, ctx.services))
        result = await ctx.run_in_thread(
            lambda: pipeline.run(
                audio,
                info,
                llm=ctx.services.llm if settings.minutes else None,
                voiceprints=voiceprints,
                hotwords=[*custom.get("hotwords", ()), *(payload.get("hotwords") or ())],
                initial_prompt=custom.get("initial_prompt"),
                progress=Overall(ctx.progress),
            )
        )
    except Exception as exc:
        reason = exc.message if isinstance(exc, MeetingError) else f"{type(exc).__name__}: {exc}"
        await _update(ctx.records, tenant, meeting, status="failed", error=reason[:500])
        await _notify_failure(ctx, meeting, reason[:300])
        raise
    ctx.progress("report", 99)
    links = await _save_reports(ctx, tenant, meeting_id, result, settings)
    todos = _todo_records(meeting_id, meeting, result)
    for todo in todos:
        await ctx.records.put(TODOS, todo["id"], todo, tenant_key=tenant)
    await _update(
        ctx.records,
        tenant,
        meeting,
        status="done",
        result=result.model_dump(mode="json", exclude={"diarization": {"centroids"}}),
        reports=links,
    )
    await _post_report(ctx, meeting, result, links, attendees)
    return {"meeting_id": meeting_id, "todos": len(todos), "reports": links}


async def _update(
    records: RecordStore, tenant: str, meeting: dict[str, Any], **fields: Any
) -> None:
    meeting.update(fields)
    await records.put(MEETINGS, str(meeting["id"]), meeting, tenant_key=tenant)


async def _recording(
    ctx: JobContext, payload: Mapping[str, Any], settings: MeetingSettings
) -> Path:
    root = _root(ctx.services)
    if payload.get("upload_id"):
        upload = await ctx.records.get(
            UPLOADS, str(payload["upload_id"]), tenant_key=str(payload["tenant"])
        )
        if upload is None:
            raise ValueError(f"upload {payload['upload_id']} is gone")
        return root / "uploads" / str(upload.data["path"])
    url = str(payload["recording_url"])
    target = root / "downloads" / f"{payload['meeting_id']}{_suffix(url.split('?')[0])}"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.is_file():  # a rerun after a restart reuses a finished download
        ctx.progress("downloading", 0)
        await ctx.services.download(
            url,
            target,
            max_bytes=int(payload.get("max_bytes") or settings.audio.max_bytes),
            timeout_s=settings.download_timeout_s,
        )
    return target


DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _report_files(result: Any, base: str, include_transcript: bool) -> list[tuple[bytes, str, str]]:
    """Every export of the meeting: (content, filename, content type). CPU work: in a thread."""
    from meeting.report import json_report, markdown, subtitles
    from meeting.report.docx_report import docx_bytes

    report = json.dumps(json_report.report_json(result), ensure_ascii=False, indent=1)
    return [
        (docx_bytes(result, include_transcript=include_transcript), f"{base}.docx", DOCX_TYPE),
        (markdown.markdown_document(result).encode(), f"{base}.md", "text/markdown; charset=utf-8"),
        (subtitles.to_srt(result.transcript).encode(), f"{base}.srt", "text/plain; charset=utf-8"),
        (subtitles.to_vtt(result.transcript).encode(), f"{base}.vtt", "text/vtt; charset=utf-8"),
        (report.encode(), f"{base}.json", "application/json"),
    ]


async def _save_reports(
    ctx: JobContext, tenant: str, meeting_id: str, result: Any, settings: MeetingSettings
) -> dict[str, str]:
    files = await ctx.run_in_thread(
        _report_files, result, _filename_base(result, meeting_id), settings.report_transcript
    )
    links: dict[str, str] = {}
    for data, filename, content_type in files:
        artifact = await ctx.services.artifacts.save(
            data, filename, content_type=content_type, tenant_key=tenant, plugin=plugin.name
        )
        links[filename.rsplit(".", 1)[-1]] = artifact.url
    return links


def _filename_base(result: Any, meeting_id: str) -> str:
    title = str(result.info.title or "").strip() or "meeting"
    day = result.info.date.isoformat() if result.info.date else ""
    return "-".join(p for p in (day, title[:60], meeting_id[:6]) if p)


def _todo_records(meeting_id: str, meeting: Mapping[str, Any], result: Any) -> list[dict[str, Any]]:
    if result.minutes is None:
        return []
    records = []
    for index, todo in enumerate(result.minutes.todos, start=1):
        records.append(
            {
                "id": f"{meeting_id}-{index}",
                "meeting_id": meeting_id,
                "conversation_id": meeting.get("conversation_id"),
                "index": index,
                "owner": todo.owner,
                "task": todo.task,
                "due": todo.due.isoformat() if todo.due else None,
                "quote": todo.quote,
                "at": todo.at,
                "done": False,
            }
        )
    return records


async def _post_report(
    ctx: JobContext,
    meeting: Mapping[str, Any],
    result: Any,
    links: Mapping[str, str],
    attendees: Sequence[Attendee],
) -> None:
    from meeting.report.markdown import chat_report

    mention_ids = {a.name: a.user_id for a in attendees if a.user_id}
    report = chat_report(result, docx_url=links.get("docx"), mention_ids=mention_ids)
    message = MarkdownMessage(
        title=report.title[:128],
        text=report.text,
        mentions=Mentions(user_ids=tuple(report.at_user_ids)),
    )
    await _send(ctx, meeting, message)


async def _notify_failure(ctx: JobContext, meeting: Mapping[str, Any], reason: str) -> None:
    title = meeting.get("title") or meeting.get("id")
    text = f"会议 {title} 处理失败 / Meeting {title} could not be processed: {reason}"
    message = MarkdownMessage(title="会议处理失败 / Meeting failed", text=text[:2000])
    try:
        await _send(ctx, meeting, message)
    except Exception:
        log.exception("could not report the failure of meeting %s", meeting.get("id"))


async def _send(ctx: JobContext, meeting: Mapping[str, Any], message: MarkdownMessage) -> None:
    target = Target.model_validate(meeting.get("target") or {})
    if target.robot is not None:
        await ctx.services.send_to_group(message, robot=target.robot)
    elif target.conversation_id is not None:
        await ctx.services.send_to_conversation(target.platform, target.conversation_id, message)
    else:
        await ctx.reply(message)


# --- chat commands ---------------------------------------------------------------------------


async def _meetings_here(ctx: CommandContext, limit: int = 20) -> list[Mapping[str, Any]]:
    """Meetings reported to this conversation: this tenant's, and those an admin sent here
    without naming a tenant (conversation ids are unique on a platform)."""
    found: dict[str, Mapping[str, Any]] = {}
    for tenant in dict.fromkeys((ctx.event.tenant_key, DEFAULT_TENANT)):
        for record in await ctx.records.list(
            MEETINGS,
            tenant_key=tenant,
            limit=limit,
            where={"conversation_id": ctx.event.conversation_id},
        ):
            found[record.key] = {**record.data, "tenant": tenant}
    return sorted(found.values(), key=lambda m: str(m.get("date", "")), reverse=True)[:limit]


@plugin.command(
    "minutes",
    aliases=("纪要", "会议纪要"),
    summary="最近一次会议的纪要 / Minutes of the latest meeting here",
    params=(Param("id", required=False, help="a meeting id (default: the latest)"),),
)
async def minutes(ctx: CommandContext) -> None:
    from llm.guardrails import escape_markdown

    meetings = await _meetings_here(ctx)
    wanted = ctx.args.get("id")
    if wanted:
        meetings = [m for m in meetings if str(m.get("id", "")).startswith(str(wanted))]
    if not meetings:
        await ctx.reply(
            "这里还没有会议纪要。会议结束后会自动发送。\n"
            "No meeting minutes here yet; they are posted when a meeting ends."
        )
        return
    meeting = meetings[0]
    title = escape_markdown(str(meeting.get("title") or meeting.get("id")))
    status = meeting.get("status")
    if status != "done":
        await ctx.reply(f"会议 {title} 正在处理中（{status}）/ Meeting {title} is {status}.")
        return
    summary = ((meeting.get("result") or {}).get("minutes") or {}).get("summary") or "-"
    links = meeting.get("reports") or {}
    lines = [f"### {title} · {meeting.get('date')}", "", escape_markdown(str(summary))[:1500]]
    if links.get("docx"):
        lines += ["", f"[纪要文档 / Minutes (.docx)]({links['docx']})"]
    others = meetings[1:6]
    if others:
        lines += [
            "",
            "更早 / Earlier: "
            + " · ".join(
                f"`{str(m.get('id'))[:8]}` {escape_markdown(str(m.get('title') or ''))[:30]}"
                for m in others
            ),
        ]
    await ctx.reply(MarkdownMessage(title=f"纪要 / Minutes: {title}"[:128], text="\n".join(lines)))


@plugin.command(
    "todo",
    aliases=("待办",),
    summary="本群会议的待办；/todo done <序号> 标记完成 / Open to-dos; mark one done",
    params=(
        Param("action", required=False, choices=("list", "done", "完成")),
        Param("number", type="int", required=False),
    ),
)
async def todo(ctx: CommandContext) -> None:
    from llm.guardrails import escape_markdown

    items = await _open_todos(ctx)
    action = str(ctx.args.get("action") or "list").lower()
    if action in ("done", "完成"):
        number = ctx.args.get("number")
        if not isinstance(number, int) or not 1 <= number <= len(items):
            await ctx.reply(
                f"请给出 1 到 {len(items)} 之间的序号 / Give a number from the list "
                f"(1-{len(items)}): /todo done 2"
                if items
                else "没有未完成的待办 / No open to-dos."
            )
            return
        tenant, record = items[number - 1]
        done = {**record, "done": True, "done_by": ctx.event.sender_name or ctx.event.sender_id}
        await ctx.records.put(TODOS, str(record["id"]), done, tenant_key=tenant)
        await ctx.reply(f"已完成 / Done: {record['task']}")
        return
    if not items:
        await ctx.reply("没有未完成的待办 / No open to-dos.")
        return
    lines = ["### 待办 / Open to-dos", ""]
    for number, (_, item) in enumerate(items, start=1):
        owner = escape_markdown(str(item.get("owner") or "?"))
        due = f" · {item['due']}" if item.get("due") else ""
        lines.append(f"{number}. **{owner}**: {escape_markdown(str(item['task']))}{due}")
    lines += ["", "完成后发送 /todo done <序号> / Send /todo done <n> when done."]
    await ctx.reply(MarkdownMessage(title="待办 / To-dos", text="\n".join(lines)))


async def _open_todos(ctx: CommandContext) -> list[tuple[str, Mapping[str, Any]]]:
    items: list[tuple[str, Mapping[str, Any]]] = []
    for tenant in dict.fromkeys((ctx.event.tenant_key, DEFAULT_TENANT)):
        for record in await ctx.records.list(
            TODOS,
            tenant_key=tenant,
            limit=200,
            where={"conversation_id": ctx.event.conversation_id, "done": False},
        ):
            items.append((tenant, record.data))
    items.sort(key=lambda pair: (pair[1].get("due") or "9999", pair[1].get("id", "")))
    return items
