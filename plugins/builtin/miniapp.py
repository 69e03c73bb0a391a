"""Sketch to mini-app: a picture of a hand-drawn screen becomes a DingTalk mini-program.

Written exactly as a third-party plugin would be: it uses the contract (an event hook, a
command, job kinds, HTTP routes, a schedule) and the context objects only.

- A picture sent to the bot (a direct chat, or an @-mention with a picture) is read as a
  sketch (a ``miniapp.read`` job): the bot answers with the parsed screen as a numbered outline
  and a preview image with the same numbers.
- ``/miniapp rename 2 提交申请``, ``/miniapp type 3 select`` (``/小程序 改名 2 提交申请``) and the
  other edits change this conversation's current sketch; each answers with the new outline.
- ``/miniapp generate`` (``/小程序 生成``): a ``miniapp.build`` job writes the mini-program,
  the HTML preview and the spec, zipped, and posts the links.
- ``POST /api/miniapps`` (a multipart picture, or a JSON spec), ``GET /api/miniapps[/{id}]``,
  ``PUT /api/miniapps/{id}/spec``, ``POST /api/miniapps/{id}/edits``,
  ``POST /api/miniapps/{id}/build``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llm.guardrails import escape_markdown
from miniapp.config import MiniappSettings
from plugins import (
    CommandContext,
    EventContext,
    HttpContext,
    JobContext,
    MarkdownMessage,
    Param,
    Plugin,
    RecordStore,
    ScheduleContext,
    Services,
)
from plugins.events import Attachment, ChatEvent

if TYPE_CHECKING:  # the pipeline is imported when first used, not when the plugin loads
    from miniapp.edits import Edit
    from miniapp.spec import UISpec

log = logging.getLogger(__name__)

plugin = Plugin(
    name="miniapp",
    description="手绘草图生成钉钉小程序 / A photo of a hand-drawn screen becomes a DingTalk "
    "mini-program.",
    usage="发送草图图片 · /miniapp · /miniapp rename <n> <text> · /miniapp type <n> <type> · "
    "/miniapp generate",
    version="1",
    config_model=MiniappSettings,
)

READ_JOB = "miniapp.read"
BUILD_JOB = "miniapp.build"
APPS = "apps"
SHOW_WORDS = ("show", "outline", "查看", "预览", "大纲")
BUILD_WORDS = ("generate", "build", "make", "生成", "导出", "打包")
HELP_WORDS = ("help", "帮助", "?", "？")
Ctx = Annotated[HttpContext, Depends(plugin.http_context)]
TenantQuery = Annotated[str, Query(min_length=1, max_length=128)]
_locks: dict[str, asyncio.Lock] = {}


def _settings(config: object) -> MiniappSettings:
    return config if isinstance(config, MiniappSettings) else MiniappSettings()


def _root(services: Services) -> Path:
    return services.data_dir / "plugins" / plugin.name


def _image_path(services: Services, app_id: str) -> Path:
    return _root(services) / "images" / f"{app_id}.png"


def _new_id() -> str:
    return secrets.token_hex(8)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _lock(app_id: str) -> asyncio.Lock:
    """Edits of one app are made one at a time (read, change, store)."""
    lock = _locks.get(app_id)
    if lock is None:
        lock = _locks[app_id] = asyncio.Lock()
    return lock


def _bilingual(zh: str, en: str) -> str:
    return f"{zh}\n{en}"


def _say(language: str, zh: str, en: str) -> str:
    return zh if language == "zh" else en


def _spec(data: Mapping[str, Any]) -> UISpec | None:
    from miniapp.spec import UISpec

    raw = data.get("spec")
    return UISpec.model_validate(raw) if isinstance(raw, dict) else None


def _language(data: Mapping[str, Any], spec: UISpec | None = None) -> str:
    from miniapp.spec import spec_language

    if spec is not None and spec.widgets:
        return spec_language(spec)
    hint = data.get("language")
    return hint if hint in ("zh", "en") else "zh"


# --- storage -----------------------------------------------------------------------------------


async def _create(
    services: Services,
    records: RecordStore,
    *,
    tenant: str,
    source: str,
    event: ChatEvent | None = None,
    language: str | None = None,
    spec: UISpec | None = None,
) -> dict[str, Any]:
    app_id = _new_id()
    data: dict[str, Any] = {
        "id": app_id,
        "tenant": tenant,
        "status": "ready" if spec is not None else "queued",
        "source": source,
        "language": language,
        "conversation_id": event.conversation_id if event else None,
        "platform": event.platform if event else None,
        "requested_by": (event.sender_name or event.sender_id) if event else None,
        "spec": spec.model_dump(mode="json") if spec is not None else None,
        "revision": 0,
        "files": {},
        "created_at": _now(),
    }
    await records.put(APPS, app_id, data, tenant_key=tenant)
    return data


async def _current_app(records: RecordStore, event: ChatEvent) -> dict[str, Any] | None:
    """The conversation's sketch touched last."""
    found = await records.list(
        APPS,
        tenant_key=event.tenant_key,
        limit=1,
        where={"conversation_id": event.conversation_id, "platform": event.platform},
    )
    return dict(found[0].data) if found else None


async def _replace_file(
    services: Services, data: dict[str, Any], name: str, payload: bytes, filename: str, kind: str
) -> dict[str, Any]:
    """Store one generated file of the app under ``name``, dropping the one it replaces."""
    saved = await services.artifacts.save(
        payload, filename, content_type=kind, tenant_key=data["tenant"], plugin=plugin.name
    )
    files = dict(data.get("files") or {})
    previous = files.get(name)
    if isinstance(previous, dict) and previous.get("id"):
        await services.artifacts.delete(str(previous["id"]))
    entry = {"id": saved.id, "url": saved.url, "size": saved.size}
    files[name] = entry
    data["files"] = files
    return entry


def _picture(services: Services, app_id: str) -> Any:
    """The stored (downscaled) input picture as an RGB array, or None."""
    import numpy as np
    from PIL import Image

    path = _image_path(services, app_id)
    if not path.is_file():
        return None
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


async def _refresh_wireframe(
    services: Services, data: dict[str, Any], spec: UISpec, run: Any = asyncio.to_thread
) -> str:
    from miniapp.wireframe import wireframe_png

    def draw() -> bytes:
        return wireframe_png(spec, _picture(services, str(data["id"])))

    png = await run(draw)
    revision = int(data.get("revision") or 0)
    saved = await _replace_file(
        services, data, "wireframe", png, f"sketch-{data['id']}-r{revision}.png", "image/png"
    )
    return str(saved["url"])


# --- chat messages ----------------------------------------------------------------------------


def _outline_message(data: Mapping[str, Any], spec: UISpec, heading: str) -> MarkdownMessage:
    from miniapp.spec import outline

    language = _language(data, spec)
    lines = [f"#### {escape_markdown(heading)}"]
    if spec.widgets:
        lines.append(
            "\n".join(
                escape_markdown(line)
                for line in outline(spec, "zh" if language == "zh" else "en").splitlines()
            )
        )
    else:
        lines.append(
            _say(
                language,
                "没有找到控件：请拍清楚整张草图（四边都在画面里），或画得粗一些再发。",
                "No widgets found: send a sharper picture with the whole sketch in view, or draw "
                "with thicker lines.",
            )
        )
    wireframe = (data.get("files") or {}).get("wireframe")
    if isinstance(wireframe, dict):
        lines.append(f"![{_say(language, '预览', 'Preview')}]({wireframe['url']})")
    lines.append(
        _say(
            language,
            "修改：/小程序 改名 2 提交申请 · /小程序 类型 3 下拉框 · /小程序 必填 3 · "
            "/小程序 选项 3 事假/病假 · /小程序 删除 4 · /小程序 移动 5 到 2\n\n"
            "确认无误后发送 /小程序 生成",
            "Fix it: /miniapp rename 2 Submit · /miniapp type 3 select · /miniapp required 3 · "
            "/miniapp options 3 Sick/Annual · /miniapp remove 4 · /miniapp move 5 before 2\n\n"
            "When it looks right: /miniapp generate",
        )
    )
    title = _say(language, "草图识别结果", "Parsed sketch")
    return MarkdownMessage(title=title, text="\n\n".join(lines))


def _built_message(
    data: Mapping[str, Any], spec: UISpec, names: Mapping[int, str]
) -> MarkdownMessage:
    from miniapp.spec import FORM_TYPES

    language = _language(data, spec)
    files = data.get("files") or {}
    links = []
    for key, zh, en in (
        ("bundle", "小程序代码（zip）", "Mini-program (zip)"),
        ("preview", "HTML 预览", "HTML preview"),
        ("spec", "界面描述 spec.json", "UI spec (spec.json)"),
    ):
        if key in files:
            links.append(f"[{_say(language, zh, en)}]({files[key]['url']})")
    fields = []
    for widget in spec.widgets:
        if widget.type in FORM_TYPES and widget.id in names:
            rule = f" · {widget.rule}" if widget.rule else ""
            required = _say(language, " · 必填", " · required") if widget.required else ""
            fields.append(
                f"- `{names[widget.id]}`：{escape_markdown(widget.label or widget.type)}"
                f"{required}{rule}"
            )
    endpoint = spec.submit.endpoint
    lines = [
        f"#### {_say(language, '小程序已生成', 'Mini-program ready')}",
        " · ".join(links),
    ]
    if fields:
        lines.append(_say(language, "表单字段：", "Form fields:") + "\n\n" + "\n".join(fields))
    lines.append(
        _say(
            language,
            f"提交到：{escape_markdown(endpoint)}"
            if endpoint
            else "未设置提交地址：提交时显示数据。设置：/小程序 提交地址 https://...",
            f"Submits to: {escape_markdown(endpoint)}"
            if endpoint
            else "No endpoint: submit shows the data. Set one: /miniapp endpoint https://...",
        )
    )
    lines.append(
        _say(
            language,
            "解压后用钉钉小程序开发者工具打开即可预览和上传。",
            "Unzip and open it in DingTalk's mini-program developer tool to preview and upload.",
        )
    )
    return MarkdownMessage(
        title=_say(language, "小程序已生成", "Mini-program ready"), text="\n\n".join(lines)
    )


async def _post(ctx: JobContext, message: MarkdownMessage | str) -> None:
    if ctx.payload.get("post") == "origin":
        await ctx.reply(message)


# --- jobs --------------------------------------------------------------------------------------


class _Failed(Exception):
    """A sketch that could not be read; the message is for the user."""


@plugin.job(READ_JOB)
async def read_job(ctx: JobContext) -> dict[str, Any]:
    """Fetch the picture (a chat attachment) or take the upload, check it, read it into a spec,
    draw the preview and post the outline."""
    from miniapp.image_in import ImageInputError, downscale, load_image
    from miniapp.understand import understand

    settings = _settings(ctx.config)
    payload = ctx.payload
    tenant = str(payload["tenant"])
    app_id = str(payload["app_id"])
    record = await ctx.records.get(APPS, app_id, tenant_key=tenant)
    data: dict[str, Any] = dict(record.data) if record else {"id": app_id, "tenant": tenant}
    data.update(status="reading", job_id=ctx.job_id)
    await ctx.records.put(APPS, app_id, data, tenant_key=tenant)
    root = _root(ctx.services)
    upload = root / "uploads" / f"{app_id}.bin"
    try:
        attachment = payload.get("attachment")
        if isinstance(attachment, dict) and not upload.is_file():
            ctx.progress("downloading the picture", 2)
            upload.parent.mkdir(parents=True, exist_ok=True)
            await ctx.services.fetch_attachment(
                str(payload.get("platform") or "dingtalk"),
                Attachment.model_validate(attachment),
                upload,
                max_bytes=settings.max_image_bytes,
                timeout_s=settings.download_timeout_s,
            )
        if not upload.is_file():
            raise _Failed("the picture is no longer here; send it again")
        ctx.progress("checking the picture", 15)
        raw = await ctx.run_in_thread(upload.read_bytes)
        try:
            image = await ctx.run_in_thread(
                lambda: load_image(
                    raw,
                    max_bytes=settings.max_image_bytes,
                    max_pixels=settings.max_image_pixels,
                    filename=payload.get("filename"),
                )
            )
        except ImageInputError as exc:
            raise _Failed(exc.message) from None
        ctx.progress("reading the sketch", 25)
        spec = await ctx.run_in_thread(lambda: understand(image, language=payload.get("language")))
        ctx.progress("drawing the preview", 85)

        def keep_picture() -> None:
            small, _ = downscale(image, 1200)
            path = _image_path(ctx.services, app_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            from PIL import Image

            Image.fromarray(small).save(path, format="PNG", optimize=True)

        await ctx.run_in_thread(keep_picture)
        if settings.submit_endpoint and not spec.submit.endpoint:
            spec = spec.model_copy(
                update={
                    "submit": spec.submit.model_copy(update={"endpoint": settings.submit_endpoint})
                }
            )
    except _Failed as exc:
        upload.unlink(missing_ok=True)
        await _fail(ctx, data, str(exc))
        raise
    except Exception as exc:
        # a crash keeps the upload for the job's next attempt; shutting down (CancelledError)
        # keeps it too, for the rerun after the restart
        message = getattr(exc, "message", None)
        if isinstance(message, str):  # our own errors say what to do (download, size, config)
            upload.unlink(missing_ok=True)
            await _fail(ctx, data, message)
        raise
    upload.unlink(missing_ok=True)
    data.update(status="ready", spec=spec.model_dump(mode="json"), revision=0, error=None)
    await _refresh_wireframe(ctx.services, data, spec, ctx.run_in_thread)
    await ctx.records.put(APPS, app_id, data, tenant_key=tenant)
    language = _language(data, spec)
    heading = _say(
        language,
        f"识别到 {len(spec.widgets)} 个控件",
        f"Found {len(spec.widgets)} widget{'s' if len(spec.widgets) != 1 else ''}",
    )
    await _post(ctx, _outline_message(data, spec, heading))
    ctx.progress("done", 100)
    return {"app_id": app_id, "widgets": len(spec.widgets)}


async def _fail(ctx: JobContext, data: dict[str, Any], message: str) -> None:
    data.update(status="failed", error=message)
    await ctx.records.put(APPS, str(data["id"]), data, tenant_key=str(data["tenant"]))
    language = str(data.get("language") or "")
    if language == "en":
        text = f"Could not read the sketch: {message}"
    elif language == "zh":
        text = f"草图没能识别：{message}"
    else:
        text = _bilingual(f"草图没能识别：{message}", f"Could not read the sketch: {message}")
    await _post(ctx, text)


def _named(spec: UISpec, settings: MiniappSettings, llm: Any) -> UISpec:
    """Field names and validation rules: the shared model's suggestions (checked), else the
    keyword table."""
    from miniapp import assist

    if settings.model_names:
        return assist.suggest_fields(spec, llm, timeout_s=settings.model_timeout_s)
    return assist.heuristic_rules(spec)


@plugin.job(BUILD_JOB)
async def build_job(ctx: JobContext) -> dict[str, Any]:
    """Name the fields (the shared model helps), generate the code and post the links."""
    from miniapp.bundle import bundle_files
    from miniapp.spec import field_names

    settings = _settings(ctx.config)
    tenant = str(ctx.payload["tenant"])
    app_id = str(ctx.payload["app_id"])
    record = await ctx.records.get(APPS, app_id, tenant_key=tenant)
    if record is None:
        raise LookupError(f"mini-app {app_id} is gone (deleted after its retention period?)")
    data = dict(record.data)
    spec = _spec(data)
    if spec is None:
        raise LookupError(f"mini-app {app_id} has no spec yet (status {data.get('status')})")
    data.update(status="building", job_id=ctx.job_id)
    await ctx.records.put(APPS, app_id, data, tenant_key=tenant)
    ctx.progress("naming the fields", 5)
    named = await ctx.run_in_thread(_named, spec, settings, ctx.services.llm)
    ctx.progress("generating the code", 70)
    files = await ctx.run_in_thread(bundle_files, named, str(data.get("app_name") or ""))
    ctx.progress("storing the files", 90)
    async with _lock(app_id):
        fresh = await ctx.records.get(APPS, app_id, tenant_key=tenant)
        data = dict(fresh.data) if fresh else data
        stem = f"miniapp-{app_id}-r{int(data.get('revision') or 0)}"
        await _replace_file(
            ctx.services, data, "bundle", files["miniapp.zip"], f"{stem}.zip", "application/zip"
        )
        await _replace_file(
            ctx.services,
            data,
            "preview",
            files["preview.html"],
            f"{stem}-preview.html",
            "text/html; charset=utf-8",
        )
        await _replace_file(
            ctx.services,
            data,
            "spec",
            files["spec.json"],
            f"{stem}-spec.json",
            "application/json",
        )
        data.update(
            status="built", built_spec=named.model_dump(mode="json"), built_at=_now(), error=None
        )
        await ctx.records.put(APPS, app_id, data, tenant_key=tenant)
    await _post(ctx, _built_message(data, named, field_names(named)))
    ctx.progress("done", 100)
    return {"app_id": app_id, "files": sorted(files)}


async def _enqueue(
    services: Services,
    records: RecordStore,
    kind: str,
    data: dict[str, Any],
    *,
    origin: ChatEvent | None = None,
    **payload: Any,
) -> str:
    tenant = str(data["tenant"])
    job_id = await services.enqueue(
        kind,
        {"app_id": data["id"], "tenant": tenant, **payload},
        tenant_key=tenant,
        origin=origin,
    )
    data["job_id"] = job_id
    if kind == BUILD_JOB:
        data["status"] = "building"
    await records.put(APPS, str(data["id"]), data, tenant_key=tenant)
    return job_id


# --- chat --------------------------------------------------------------------------------------


def _pictures(event: ChatEvent) -> list[Attachment]:
    return [a for a in event.attachments if a.kind == "picture" and (a.download_code or a.url)]


async def _read_picture(
    services: Services, records: RecordStore, event: ChatEvent, picture: Attachment
) -> str:
    data = await _create(services, records, tenant=event.tenant_key, source="chat", event=event)
    return await _enqueue(
        services,
        records,
        READ_JOB,
        data,
        origin=event,
        attachment=picture.model_dump(mode="json"),
        platform=event.platform,
        filename=picture.filename,
        post="origin",
    )


@plugin.on_message(msgtypes=("picture", "richText"))
async def on_picture(ctx: EventContext) -> None:
    """A picture sent to the bot is read as a sketch (a /command with a picture is the
    command's business)."""
    settings = _settings(ctx.config)
    event = ctx.event
    pictures = _pictures(event)
    if not settings.read_pictures or not pictures or not event.addressed_to_bot:
        return
    if event.text.lstrip().startswith(("/", "／")):
        return
    job_id = await _read_picture(ctx.services, ctx.records, event, pictures[0])
    await ctx.reply(
        _bilingual(
            f"收到草图，正在识别（任务 {job_id}）…", f"Got the sketch; reading it (job {job_id})…"
        )
    )


def _usage() -> str:
    from miniapp.edits import chat_usage

    return _bilingual(
        "发一张手绘界面草图（拍照或截图）给我，我会识别出控件并生成钉钉小程序。\n"
        "/小程序：当前草图的识别结果 · /小程序 生成：生成代码",
        "Send me a photo or screenshot of a hand-drawn screen; I read its widgets and generate a "
        "DingTalk mini-program.\n/miniapp: the current sketch · /miniapp generate: the code\n"
        + chat_usage(),
    )


@plugin.command(
    "miniapp",
    aliases=("小程序", "草图"),
    summary="手绘草图生成钉钉小程序：发图片，然后 /小程序 改名 2 提交申请、/小程序 生成 / "
    "Sketch to mini-program: send a picture, then /miniapp rename 2 Submit, /miniapp generate",
    params=(Param("request", type="text", required=False, help="edit · generate · show"),),
)
async def miniapp_command(ctx: CommandContext) -> None:
    from miniapp.edits import chat_edit_op, parse_chat_edit
    from miniapp.spec import SpecError

    event = ctx.event
    text = str(ctx.args.get("request") or "").strip()
    first = text.split(maxsplit=1)[0].casefold() if text else ""
    pictures = _pictures(event)
    if pictures:
        job_id = await _read_picture(ctx.services, ctx.records, event, pictures[0])
        await ctx.reply(
            _bilingual(
                f"收到草图，正在识别（任务 {job_id}）…",
                f"Got the sketch; reading it (job {job_id})…",
            )
        )
        return
    if first in HELP_WORDS:
        await ctx.reply(_usage())
        return
    data = await _current_app(ctx.records, event)
    if data is None:
        await ctx.reply(_usage())
        return
    language = _language(data, _spec(data))
    status = str(data.get("status"))
    if status in ("queued", "reading"):
        await ctx.reply(
            _say(language, "草图还在识别中，请稍候。", "The sketch is still being read; a moment.")
        )
        return
    spec = _spec(data)
    if spec is None:
        await ctx.reply(
            _say(
                language,
                f"上一张草图没能识别（{data.get('error') or status}）；请重新发送图片。",
                f"The last sketch could not be read ({data.get('error') or status}); send the "
                "picture again.",
            )
        )
        return
    if not first or first in SHOW_WORDS:
        await ctx.reply(_outline_message(data, spec, _say(language, "当前草图", "Current sketch")))
        return
    if first in BUILD_WORDS:
        job_id = await _enqueue(
            ctx.services, ctx.records, BUILD_JOB, data, origin=event, post="origin"
        )
        await ctx.reply(
            _say(
                language,
                f"好的，正在生成小程序（任务 {job_id}）…",
                f"Generating the mini-program (job {job_id})…",
            )
        )
        return
    if chat_edit_op(first) is None:
        await ctx.reply(_usage())
        return
    try:
        edit = parse_chat_edit(text)
        data, spec = await _edit(ctx.services, ctx.records, data, [edit])
    except SpecError as exc:
        await ctx.reply(
            _say(language, f"没有修改：{exc.message}", f"Nothing changed: {exc.message}")
        )
        return
    await ctx.reply(_outline_message(data, spec, _say(language, "已修改", "Changed")))


async def _edit(
    services: Services, records: RecordStore, data: Mapping[str, Any], edits: list[Edit]
) -> tuple[dict[str, Any], UISpec]:
    """Apply ``edits`` to the stored spec (all or none), store it, redraw the preview."""
    from miniapp.edits import apply_edits
    from miniapp.spec import SpecError

    app_id, tenant = str(data["id"]), str(data["tenant"])
    async with _lock(app_id):
        record = await records.get(APPS, app_id, tenant_key=tenant)
        current = dict(record.data) if record else dict(data)
        spec = _spec(current)
        if spec is None:
            raise SpecError(f"mini-app {app_id} has no spec yet (status {current.get('status')})")
        changed = apply_edits(spec, edits)
        return await _store_spec(services, records, current, changed), changed


async def _store_spec(
    services: Services, records: RecordStore, data: dict[str, Any], spec: UISpec
) -> dict[str, Any]:
    data.update(
        spec=spec.model_dump(mode="json"),
        revision=int(data.get("revision") or 0) + 1,
        status="ready",
        updated_at=_now(),
    )
    await _refresh_wireframe(services, data, spec)
    await records.put(APPS, str(data["id"]), data, tenant_key=str(data["tenant"]))
    return data


# --- retention ---------------------------------------------------------------------------------


@plugin.schedule("retention", cron="45 3 * * *", summary="删除过了保留期的草图 / Sketch retention")
async def retention(ctx: ScheduleContext) -> None:
    """Delete sketches (their spec, preview picture and generated files) not changed for
    ``retention_days``."""
    settings = _settings(ctx.config)
    before = datetime.now(UTC) - timedelta(days=settings.retention_days)
    removed = await ctx.records.purge(APPS, updated_before=before)
    for record in removed:
        for file in dict(record.data.get("files") or {}).values():
            if isinstance(file, dict) and file.get("id"):
                await ctx.services.artifacts.delete(str(file["id"]))
        _image_path(ctx.services, record.key).unlink(missing_ok=True)
    # uploads left by jobs that crashed on every attempt
    stale = (datetime.now(UTC) - timedelta(days=1)).timestamp()
    uploads = _root(ctx.services) / "uploads"
    left = await asyncio.to_thread(
        lambda: (
            [p for p in uploads.glob("*.bin") if p.stat().st_mtime < stale]
            if uploads.is_dir()
            else []
        )
    )
    for path in left:
        path.unlink(missing_ok=True)
    log.info("retention: %d sketch(es) and %d stale upload(s) deleted", len(removed), len(left))


# --- HTTP --------------------------------------------------------------------------------------

router = APIRouter(tags=["miniapp"])


class SpecRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(default="default", min_length=1, max_length=128)
    spec: dict[str, Any]
    app_name: str = Field(default="", max_length=60)


class EditsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    edits: list[dict[str, Any]] = Field(min_length=1, max_length=100)


def _view(data: Mapping[str, Any]) -> dict[str, Any]:
    from miniapp.spec import outline

    spec = _spec(data)
    return {
        "id": data["id"],
        "tenant": data["tenant"],
        "status": data.get("status"),
        "error": data.get("error"),
        "job_id": data.get("job_id"),
        "source": data.get("source"),
        "revision": data.get("revision", 0),
        "spec": data.get("spec"),
        "outline": outline(spec, "zh" if _language(data, spec) == "zh" else "en") if spec else None,
        "files": data.get("files") or {},
        "created_at": data.get("created_at"),
        "updated_at": data.get("updated_at"),
    }


async def _get(ctx: HttpContext, app_id: str, tenant: str) -> dict[str, Any]:
    record = await ctx.records.get(APPS, app_id, tenant_key=tenant)
    if record is None:
        raise HTTPException(404, f"no mini-app {app_id!r} in tenant {tenant!r}")
    return dict(record.data)


def _spec_from(raw: Mapping[str, Any]) -> UISpec:
    from miniapp.spec import UISpec

    try:
        return UISpec.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'spec'}: {e['msg']}" for e in exc.errors()[:10]
        )
        raise HTTPException(422, f"the spec is not valid: {problems}") from None


async def _upload(request: Request, settings: MiniappSettings) -> tuple[bytes, dict[str, str]]:
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        raise HTTPException(411, "send the upload with a Content-Length header")
    if int(declared) > settings.max_image_bytes + 64 * 1024:
        raise HTTPException(
            413,
            f"the upload is {int(declared)} bytes; pictures up to {settings.max_image_bytes} "
            "bytes are accepted",
        )
    form = await request.form(max_files=1, max_fields=10)
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(
                422, "send the picture (PNG, JPEG or WebP) as a multipart file field named 'file'"
            )
        content = await upload.read(settings.max_image_bytes + 1)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        fields["filename"] = upload.filename or ""
    finally:
        await form.close()
    return content, fields


@router.post("/api/miniapps", status_code=202)
async def create_miniapp(request: Request, ctx: Ctx) -> dict[str, Any]:
    """A sketch to read (multipart: ``file`` and optional ``tenant``, ``language``), or a spec
    to start from (JSON: ``{"tenant", "spec"}``)."""
    from miniapp.image_in import ImageInputError, load_image

    settings = _settings(ctx.config)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            body = SpecRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                for e in exc.errors()[:10]
            )
            raise HTTPException(
                422, f'send {{"tenant": ..., "spec": {{...}}}}: {problems}'
            ) from None
        spec = _spec_from(body.spec)
        data = await _create(ctx.services, ctx.records, tenant=body.tenant, source="api", spec=spec)
        data["app_name"] = body.app_name
        await _store_spec(ctx.services, ctx.records, data, spec)
        return _view(data)
    if not content_type.startswith("multipart/form-data"):
        raise HTTPException(
            415,
            "send a picture as multipart/form-data (field 'file') or a spec as application/json",
        )
    content, fields = await _upload(request, settings)
    tenant = fields.get("tenant") or "default"
    if not 1 <= len(tenant) <= 128:
        raise HTTPException(422, "tenant must be 1-128 characters")
    language = fields.get("language") or None
    if language not in (None, "zh", "en"):
        raise HTTPException(422, "language must be zh or en (or left out)")
    try:  # refuse a bad picture now, with the reason, rather than in a job
        await asyncio.to_thread(
            load_image,
            content,
            max_bytes=settings.max_image_bytes,
            max_pixels=settings.max_image_pixels,
            filename=fields.get("filename"),
        )
    except ImageInputError as exc:
        status = 413 if exc.code in ("too_large", "too_many_pixels") else 422
        raise HTTPException(status, exc.message) from None
    data = await _create(ctx.services, ctx.records, tenant=tenant, source="api", language=language)
    upload = _root(ctx.services) / "uploads" / f"{data['id']}.bin"
    upload.parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(upload.write_bytes, content)
    await _enqueue(
        ctx.services,
        ctx.records,
        READ_JOB,
        data,
        language=language,
        filename=fields.get("filename"),
    )
    return _view(data)


@router.get("/api/miniapps")
async def list_miniapps(
    ctx: Ctx, tenant: TenantQuery = "default", limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> dict[str, Any]:
    found = await ctx.records.list(APPS, tenant_key=tenant, limit=limit)
    return {"miniapps": [_view(r.data) for r in found]}


@router.get("/api/miniapps/{app_id}")
async def get_miniapp(app_id: str, ctx: Ctx, tenant: TenantQuery = "default") -> dict[str, Any]:
    return _view(await _get(ctx, app_id, tenant))


@router.put("/api/miniapps/{app_id}/spec")
async def put_spec(
    app_id: str, body: dict[str, Any], ctx: Ctx, tenant: TenantQuery = "default"
) -> dict[str, Any]:
    """Replace the spec (validated as a whole)."""
    spec = _spec_from(body)
    async with _lock(app_id):
        data = await _get(ctx, app_id, tenant)
        if data.get("status") in ("queued", "reading"):
            raise HTTPException(409, "the sketch is still being read; try again when it is ready")
        data = await _store_spec(ctx.services, ctx.records, data, spec)
    return _view(data)


@router.post("/api/miniapps/{app_id}/edits")
async def edit_miniapp(
    app_id: str, body: EditsRequest, ctx: Ctx, tenant: TenantQuery = "default"
) -> dict[str, Any]:
    """Apply edits in order, all or none: ``{"edits": [{"op": "rename", "id": 2, "label":
    "提交申请"}, {"op": "retype", "id": 3, "type": "select"}]}``."""
    from pydantic import TypeAdapter

    from miniapp.edits import OPS, Edit
    from miniapp.spec import SpecError

    try:
        edits = TypeAdapter(list[Edit]).validate_python(body.edits)
    except ValidationError as exc:
        problem = exc.errors(include_url=False)[0]
        raise HTTPException(
            422,
            f"edits.{'.'.join(str(p) for p in problem['loc'])}: {problem['msg']} "
            f"(ops: {', '.join(OPS)})",
        ) from None
    data = await _get(ctx, app_id, tenant)
    if _spec(data) is None:
        raise HTTPException(409, f"the mini-app has no spec yet (status {data.get('status')})")
    try:
        data, _ = await _edit(ctx.services, ctx.records, data, edits)
    except SpecError as exc:
        raise HTTPException(422, exc.message) from None
    return _view(data)


@router.post("/api/miniapps/{app_id}/build", status_code=202)
async def build_miniapp(app_id: str, ctx: Ctx, tenant: TenantQuery = "default") -> dict[str, Any]:
    """Generate the mini-program, the preview and the spec file (a ``miniapp.build`` job)."""
    data = await _get(ctx, app_id, tenant)
    if _spec(data) is None:
        raise HTTPException(409, f"the mini-app has no spec yet (status {data.get('status')})")
    job_id = await _enqueue(ctx.services, ctx.records, BUILD_JOB, data)
    return {**_view(data), "job_id": job_id}


plugin.routes(router)
