"""Documents: event plans, meeting plans and workflow proposals from a short brief, and posters.

Written exactly as a third-party plugin would be: it uses the contract (commands, job kinds,
HTTP routes) and the context objects only.

- ``/plan [kind] <brief>`` (``/策划``): a ``docs.draft`` job; each section is posted as soon
  as it is written, then the links to the .docx and the Markdown. Without a kind, the brief
  decides (a meeting, a process, else an event).
- ``/plan revise <section> <request>`` (``/策划 修改 预算 加上场地布置费``): rewrites one
  section of this conversation's latest document and posts the new version.
- ``/plan kinds``: the kinds there are (custom ones included).
- ``/poster [brief]`` (``/海报``): a poster for the brief, or for the latest event plan here.
- ``/docs`` (``/文档``): this conversation's recent documents and posters with their links.
- ``GET /api/document-kinds``, ``POST /api/documents``, ``GET /api/documents[/{id}]``,
  ``POST /api/documents/{id}/revisions``, ``POST /api/posters``, ``GET /api/posters/{id}``.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from docs_gen.config import DocsSettings
from plugins import (
    CommandContext,
    HttpContext,
    JobContext,
    MarkdownMessage,
    Param,
    Plugin,
    RecordStore,
    Services,
)

if TYPE_CHECKING:  # the pipeline is imported when first used, not when the plugin loads
    from docs_gen.kind import DocumentKinds, Kind

log = logging.getLogger(__name__)

plugin = Plugin(
    name="docs",
    description="活动策划、会议策划、工作流程方案与海报 / Event plans, meeting plans, workflow "
    "proposals and posters.",
    usage="/plan [活动策划|会议策划|工作流程方案] <简介> · /plan revise <section> <request> · "
    "/poster [brief] · /docs",
    version="1",
    config_model=DocsSettings,
)

DRAFT_JOB = "docs.draft"
REVISE_JOB = "docs.revise"
POSTER_JOB = "docs.poster"
DOCUMENTS = "documents"
POSTERS = "posters"
DEFAULT_TENANT = "default"
REVISE_WORDS = ("revise", "修改", "改", "重写", "调整")
KINDS_WORDS = ("kinds", "types", "类型", "种类")
Ctx = Annotated[HttpContext, Depends(plugin.http_context)]
TenantQuery = Annotated[str, Query(min_length=1, max_length=128)]
_MEETING_HINT = re.compile(r"会议|例会|周会|复盘会|评审会|研讨会|meeting|review|sync|retro", re.I)
_FLOW_HINT = re.compile(r"流程|审批|报销|申请|workflow|process|approval|procedure", re.I)


def _settings(config: object) -> DocsSettings:
    return config if isinstance(config, DocsSettings) else DocsSettings()


def _bilingual(zh: str, en: str) -> str:
    return f"{zh}\n{en}"


def _templates_dir(settings: DocsSettings, services: Services) -> Path:
    return settings.templates_dir or services.data_dir / "docs_templates"


@functools.cache
def _kinds_for(directory: Path) -> DocumentKinds:
    from docs_gen.kind import DocumentKinds

    return DocumentKinds([directory])


def kinds(settings: DocsSettings, services: Services) -> DocumentKinds:
    """Every kind: built-in, and the site's own from its templates directory."""
    return _kinds_for(_templates_dir(settings, services))


def guess_kind(brief: str) -> str:
    """The kind a brief without one means: a meeting, a process, else an event."""
    if _FLOW_HINT.search(brief):
        return "workflow"
    if _MEETING_HINT.search(brief):
        return "meeting-plan"
    return "event-plan"


def _new_id() -> str:
    return secrets.token_hex(8)


def _now() -> str:
    return datetime.now(UTC).isoformat()


# --- drafting ----------------------------------------------------------------------------------


async def _queue(
    services: Services,
    records: RecordStore,
    collection: str,
    job_kind: str,
    *,
    tenant: str,
    record: Mapping[str, Any],
    payload: Mapping[str, Any],
    origin: Any = None,
) -> tuple[str, str]:
    """Store a queued document or poster under a new id and queue the job that makes it."""
    item_id = _new_id()
    stored = {"id": item_id, "status": "queued", **record, "created_at": _now()}
    await records.put(collection, item_id, stored, tenant_key=tenant)
    id_field = "document_id" if collection == DOCUMENTS else "poster_id"
    job_id = await services.enqueue(
        job_kind,
        {**payload, id_field: item_id, "tenant": tenant},
        tenant_key=tenant,
        origin=origin,
    )
    await records.put(collection, item_id, {**stored, "job_id": job_id}, tenant_key=tenant)
    return item_id, job_id


async def _enqueue_draft(
    services: Services,
    records: RecordStore,
    *,
    tenant: str,
    kind: str,
    brief: str,
    language: str | None,
    conversation_id: str | None,
    platform: str,
    post: str | None,
    requested_by: str | None,
    origin: Any = None,
) -> tuple[str, str]:
    where = {"conversation_id": conversation_id, "platform": platform}
    return await _queue(
        services,
        records,
        DOCUMENTS,
        DRAFT_JOB,
        tenant=tenant,
        record={"kind": kind, "brief": brief, **where, "requested_by": requested_by},
        payload={"kind": kind, "brief": brief, "language": language, **where, "post": post},
        origin=origin,
    )


async def _post(ctx: JobContext, payload: Mapping[str, Any], message: MarkdownMessage) -> None:
    target = payload.get("post")
    if target == "origin":
        await ctx.reply(message)
    elif target == "conversation" and payload.get("conversation_id"):
        await ctx.services.send_to_conversation(
            str(payload.get("platform", "dingtalk")), str(payload["conversation_id"]), message
        )


async def _publish(
    ctx: JobContext, kind: Kind, draft: Any, facts: Any, tenant: str, old: Mapping[str, Any]
) -> dict[str, Any]:
    """Render the draft (.md, .docx, the diagram), store the files, drop the previous ones."""
    from docs_gen.render import render_document

    rendered = await ctx.run_in_thread(render_document, kind, draft, facts)
    markdown, docx, diagram = rendered.markdown, rendered.docx, rendered.diagram
    stem = f"{kind.name}-{draft.id}-v{draft.version}"
    artifacts = ctx.services.artifacts
    saved = {
        "docx": await artifacts.save(
            docx,
            f"{stem}.docx",
            content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            tenant_key=tenant,
            plugin=plugin.name,
        ),
        "md": await artifacts.save(
            markdown.encode(),
            f"{stem}.md",
            content_type="text/markdown; charset=utf-8",
            tenant_key=tenant,
            plugin=plugin.name,
        ),
    }
    if diagram:
        saved["diagram"] = await artifacts.save(
            diagram,
            f"{stem}-flow.png",
            content_type="image/png",
            tenant_key=tenant,
            plugin=plugin.name,
        )
    for previous in dict(old.get("files") or {}).values():
        await artifacts.delete(str(previous["id"]))
    return {name: {"id": a.id, "url": a.url, "size": a.size} for name, a in saved.items()}


def _links_text(files: Mapping[str, Any], language: str) -> str:
    names = {
        "docx": ("Word 文档", "Word document"),
        "md": ("Markdown", "Markdown"),
        "diagram": ("流程图", "Flow diagram"),
    }
    links = []
    for key, (zh, en) in names.items():
        if key in files:
            links.append(f"[{zh if language == 'zh' else en}]({files[key]['url']})")
    return " · ".join(links)


@plugin.job(DRAFT_JOB)
async def draft_job(ctx: JobContext) -> dict[str, Any]:
    """Write the sections one by one (each posted when done), then the .docx and Markdown."""
    from docs_gen.brief import read_brief
    from docs_gen.draft import Draft, draft_sections
    from docs_gen.render import section_chat_markdown, section_view

    settings = _settings(ctx.config)
    payload = ctx.payload
    tenant = str(payload["tenant"])
    document_id = str(payload["document_id"])
    kind = kinds(settings, ctx.services).get(str(payload["kind"]))
    language = payload.get("language")
    facts = read_brief(
        str(payload["brief"]),
        language="en" if language == "en" else "zh" if language else None,
        max_chars=settings.max_brief_chars,
    )
    record = await ctx.records.get(DOCUMENTS, document_id, tenant_key=tenant)
    base: dict[str, Any] = dict(record.data) if record else {"id": document_id}
    draft = Draft(kind=kind.name, language=facts.language, brief=facts.text, id=document_id)
    total = len(kind.spec.sections)
    base.update(status="running", job_id=ctx.job_id, language=facts.language)
    await ctx.records.put(DOCUMENTS, document_id, base, tenant_key=tenant)
    sections = draft_sections(
        ctx.services.llm,
        kind,
        facts,
        draft,
        timeout=settings.section_timeout_s,
        progress=lambda stage, percent: ctx.progress(f"section {stage}", 2 + percent * 0.9),
    )
    written = 0
    while (spec := await ctx.run_in_thread(next, sections, None)) is not None:
        written += 1
        base.update(draft=draft.as_json(), title=draft.title, sections_done=written)
        await ctx.records.put(DOCUMENTS, document_id, base, tenant_key=tenant)
        if settings.stream_sections and payload.get("post"):
            view = section_view(spec, draft, facts)
            head = f"## {draft.title}\n\n" if written == 1 else ""
            counter = (
                f"（{written}/{total}）" if facts.language == "zh" else f" ({written}/{total})"
            )
            await _post(
                ctx,
                payload,
                MarkdownMessage(
                    title=f"{draft.title}{counter}", text=head + section_chat_markdown(view)
                ),
            )
    ctx.progress("rendering", 94)
    files = await _publish(ctx, kind, draft, facts, tenant, base)
    base.update(status="done", draft=draft.as_json(), title=draft.title, files=files)
    await ctx.records.put(DOCUMENTS, document_id, base, tenant_key=tenant)
    await _post(ctx, payload, _finished_message(kind, draft, facts, files, settings))
    return {"document_id": document_id, "sections": written, "failed": sorted(draft.failed)}


def _finished_message(
    kind: Kind, draft: Any, facts: Any, files: Mapping[str, Any], settings: DocsSettings
) -> MarkdownMessage:
    from docs_gen.render import esc, section_chat_markdown, section_view

    zh = draft.language == "zh"
    lines = [f"## {esc(draft.title)}"]
    if not settings.stream_sections:
        lines += [section_chat_markdown(section_view(s, draft, facts)) for s in kind.spec.sections]
    done = len(kind.spec.sections) - len(draft.failed)
    name = kind.spec.title(draft.language)
    lines.append(
        f"{name}已完成（{done}/{len(kind.spec.sections)} 节，第 {draft.version} 版）："
        f"{_links_text(files, 'zh')}"
        if zh
        else f"The {name.lower()} is ready ({done}/{len(kind.spec.sections)} sections, version "
        f"{draft.version}): {_links_text(files, 'en')}"
    )
    if draft.failed:
        missing = "、".join(kind.spec.section(s).title(draft.language) for s in draft.failed)
        lines.append(
            f"未能生成：{missing}；发送 /策划 修改 <章节> <要求> 重写。"
            if zh
            else f"Not written: {missing}; send /plan revise <section> <request> to write it."
        )
    else:
        example = kind.spec.sections[-1].id
        lines.append(
            f"要修改某一节，发送 /策划 修改 <章节> <要求>，例如：/策划 修改 {example} 再补充两项"
            if zh
            else f"To change a section: /plan revise <section> <request>, e.g. /plan revise "
            f"{example} add two more"
        )
    if kind.spec.poster:
        lines.append("需要海报？发送 /海报" if zh else "Need a poster? Send /poster")
    return MarkdownMessage(title=draft.title, text="\n\n".join(lines))


@plugin.job(REVISE_JOB)
async def revise_job(ctx: JobContext) -> dict[str, Any]:
    """Rewrite one section of a stored document; post it and the new files."""
    from docs_gen.brief import read_brief
    from docs_gen.draft import Draft, revise_section
    from docs_gen.errors import DocumentError
    from docs_gen.render import section_chat_markdown, section_view

    settings = _settings(ctx.config)
    payload = ctx.payload
    tenant = str(payload["tenant"])
    document_id = str(payload["document_id"])
    record = await ctx.records.get(DOCUMENTS, document_id, tenant_key=tenant)
    if record is None or "draft" not in record.data:
        raise DocumentError(f"document {document_id} has no draft to revise")
    data = dict(record.data)
    draft = Draft.from_json(dict(data["draft"]))
    kind = kinds(settings, ctx.services).get(draft.kind)
    facts = read_brief(draft.brief, language=draft.language, max_chars=settings.max_brief_chars)
    ctx.progress("revising", 5)
    try:
        spec = await ctx.run_in_thread(
            lambda: revise_section(
                ctx.services.llm,
                kind,
                facts,
                draft,
                str(payload["section"]),
                str(payload["instruction"]),
                timeout=settings.section_timeout_s,
            )
        )
    except DocumentError as exc:
        await _post(ctx, payload, MarkdownMessage(title=draft.title, text=exc.message))
        return {"document_id": document_id, "revised": False, "error": exc.message}
    ctx.progress("rendering", 80)
    files = await _publish(ctx, kind, draft, facts, tenant, data)
    data.update(status="done", draft=draft.as_json(), files=files, version=draft.version)
    await ctx.records.put(DOCUMENTS, document_id, data, tenant_key=tenant)
    view = section_view(spec, draft, facts)
    zh = draft.language == "zh"
    note = (
        f"已修改「{spec.title('zh')}」（第 {draft.version} 版）：{_links_text(files, 'zh')}"
        if zh
        else f'Revised "{spec.title("en")}" (version {draft.version}): {_links_text(files, "en")}'
    )
    await _post(
        ctx,
        payload,
        MarkdownMessage(title=draft.title, text=f"{section_chat_markdown(view)}\n\n{note}"),
    )
    return {
        "document_id": document_id,
        "revised": True,
        "section": spec.id,
        "version": draft.version,
    }


async def _latest_document(
    records: RecordStore, tenant: str, conversation_id: str, *, kind: str | None = None
) -> Any:
    where: dict[str, Any] = {"conversation_id": conversation_id}
    if kind:
        where["kind"] = kind
    found = await records.list(DOCUMENTS, tenant_key=tenant, limit=20, where=where)
    for record in found:
        if "draft" in record.data:
            return record
    return None


def _usage(all_kinds: list[Kind]) -> str:
    names_zh = "、".join(k.spec.title("zh") for k in all_kinds)
    names_en = ", ".join(k.name for k in all_kinds)
    return _bilingual(
        f"用法：/策划 [{names_zh}] <简介>，例如：/策划 活动策划 12月18日下午2点在3楼大会议室"
        "办200人的年终总结会，预算5万，2小时 · 修改某一节：/策划 修改 预算 <要求> · /策划 类型",
        f"Usage: /plan [{names_en}] <brief>, e.g. /plan event-plan Team offsite for 40 people "
        "on Friday from 9:30am, half a day, budget $12,000 · /plan revise budget <request> · "
        "/plan kinds",
    )


@plugin.command(
    "plan",
    aliases=("策划", "方案"),
    summary="起草活动策划、会议策划、工作流程方案：/策划 活动策划 <简介>；/策划 修改 预算 <要求> / "
    "Draft an event plan, meeting plan or workflow: /plan event-plan <brief>",
    params=(Param("request", type="text", required=False, help="[kind] <brief> · revise ..."),),
)
async def plan_command(ctx: CommandContext) -> None:
    from docs_gen.brief import clean_brief
    from docs_gen.errors import DocumentError

    settings = _settings(ctx.config)
    event = ctx.event
    registry = kinds(settings, ctx.services)
    text = str(ctx.args.get("request") or "").strip()
    first, _, rest = text.partition(" ")
    if not text:
        await ctx.reply(_usage(registry.all()))
        return
    if first.lower() in KINDS_WORDS:
        await ctx.reply(_kinds_text(registry))
        return
    if first.lower() in REVISE_WORDS:
        await _revise_command(ctx, rest.strip())
        return
    matched = registry.match_prefix(text)
    kind, brief = matched if matched else (registry.get(guess_kind(text)), text)
    try:
        brief = clean_brief(brief, max_chars=settings.max_brief_chars)
    except DocumentError as exc:
        await ctx.reply(f"{exc.message}\n{_usage(registry.all())}")
        return
    _, job_id = await _enqueue_draft(
        ctx.services,
        ctx.records,
        tenant=event.tenant_key,
        kind=kind.name,
        brief=brief,
        language=None,
        conversation_id=event.conversation_id,
        platform=event.platform,
        post="origin",
        requested_by=event.sender_name or event.sender_id,
        origin=event,
    )
    count = len(kind.spec.sections)
    await ctx.reply(
        _bilingual(
            f"好的，正在起草{kind.spec.title('zh')}（{count} 节），每写完一节就发到这里"
            f"（任务 {job_id}）。",
            f"Drafting the {kind.spec.title('en').lower()} ({count} sections); each section comes "
            f"here when written (job {job_id}).",
        )
    )


async def _revise_command(ctx: CommandContext, text: str) -> None:
    from docs_gen.errors import DocumentError

    event = ctx.event
    section, _, instruction = text.partition(" ")
    if not section or not instruction.strip():
        await ctx.reply(
            _bilingual(
                "用法：/策划 修改 <章节> <要求>，例如：/策划 修改 预算 加上场地布置费用",
                "Usage: /plan revise <section> <request>, e.g. /plan revise budget add venue "
                "decoration",
            )
        )
        return
    record = await _latest_document(ctx.records, event.tenant_key, event.conversation_id)
    if record is None:
        await ctx.reply(
            _bilingual(
                "这里还没有起草过文档；先发送 /策划 <简介>。",
                "No document was drafted here yet; send /plan <brief> first.",
            )
        )
        return
    settings = _settings(ctx.config)
    kind = kinds(settings, ctx.services).get(str(record.data["kind"]))
    try:
        spec = kind.spec.section(section)
    except DocumentError as exc:
        await ctx.reply(exc.message)
        return
    job_id = await ctx.services.enqueue(
        REVISE_JOB,
        {
            "document_id": record.key,
            "tenant": event.tenant_key,
            "section": spec.id,
            "instruction": instruction.strip()[:500],
            "conversation_id": event.conversation_id,
            "platform": event.platform,
            "post": "origin",
        },
        tenant_key=event.tenant_key,
        origin=event,
    )
    title = record.data.get("title") or kind.spec.title("zh")
    await ctx.reply(
        _bilingual(
            f"好的，正在修改《{title}》的「{spec.title('zh')}」（任务 {job_id}）。",
            f'Revising "{spec.title("en")}" of "{title}" (job {job_id}).',
        )
    )


def _kinds_text(registry: DocumentKinds) -> str:
    lines = ["**文档类型 / Document kinds**"]
    for kind in registry.all():
        sections = "、".join(s.title("zh") for s in kind.spec.sections)
        origin = "" if kind.builtin else "（自定义 / custom）"
        lines.append(f"- {kind.spec.title('zh')} `{kind.name}`{origin}：{sections}")
    for problem in registry.problems:
        lines.append(f"- ⚠ {problem}")
    return "\n".join(lines)


# --- posters -----------------------------------------------------------------------------------


def poster_backend(settings: DocsSettings) -> Any:
    from docs_gen.poster import OpenAIImagesBackend, RenderedPosterBackend

    if settings.poster_backend == "openai" and settings.images_base_url and settings.images_api_key:
        return OpenAIImagesBackend(
            base_url=settings.images_base_url,
            api_key=settings.images_api_key.get_secret_value(),
            model=settings.images_model,
            size=settings.images_size,
            timeout_s=settings.images_timeout_s,
        )
    return RenderedPosterBackend()


class PosterFields(BaseModel):
    """A poster's words given directly (the brief is then optional)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=60)
    subtitle: str = Field(default="", max_length=60)
    date: str = Field(default="", max_length=40)
    place: str = Field(default="", max_length=40)
    highlights: list[str] = Field(default_factory=list, max_length=4)
    organizer: str = Field(default="", max_length=40)


@plugin.job(POSTER_JOB)
async def poster_job(ctx: JobContext) -> dict[str, Any]:
    """The poster's words (given, or from the brief through the model), then the picture."""
    from docs_gen.poster import PosterError, PosterSpec, resolve_theme
    from docs_gen.poster_words import poster_spec_from_brief

    settings = _settings(ctx.config)
    payload = ctx.payload
    tenant = str(payload["tenant"])
    poster_id = str(payload["poster_id"])
    record = await ctx.records.get(POSTERS, poster_id, tenant_key=tenant)
    data: dict[str, Any] = dict(record.data) if record else {"id": poster_id}
    fields = payload.get("fields")
    language = payload.get("language")
    ctx.progress("words", 5)
    try:
        if fields:
            given = PosterFields.model_validate(fields)
            spec = PosterSpec(
                title=given.title,
                subtitle=given.subtitle,
                date=given.date,
                place=given.place,
                highlights=tuple(given.highlights),
                organizer=given.organizer,
                theme=resolve_theme(str(payload.get("theme") or "blue")),
                language="en" if language == "en" else "zh",
            )
        else:
            spec = await ctx.run_in_thread(
                lambda: poster_spec_from_brief(
                    ctx.services.llm,
                    str(payload["brief"]),
                    language="en" if language == "en" else "zh" if language else None,
                    theme=payload.get("theme"),
                )
            )
        ctx.progress("drawing", 60)
        if settings.poster_backend == "openai" and not ctx.services.outbound_allowed(
            str(settings.images_base_url)
        ):
            raise PosterError(
                f"the images API {settings.images_base_url} is not an allowed host: add its "
                "host to OFFICEBOT_OUTBOUND_ALLOWED_HOSTS"
            )
        backend = poster_backend(settings)
        try:
            poster = await ctx.run_in_thread(backend.create, spec)
        finally:
            close = getattr(backend, "close", None)
            if close is not None:
                close()
    except PosterError as exc:
        data.update(status="failed", error=str(exc))
        await ctx.records.put(POSTERS, poster_id, data, tenant_key=tenant)
        await _post(ctx, payload, MarkdownMessage(title="poster", text=str(exc)))
        return {"poster_id": poster_id, "error": str(exc)}
    artifact = await ctx.services.artifacts.save(
        poster.png,
        f"poster-{poster_id}.png",
        content_type="image/png",
        tenant_key=tenant,
        plugin=plugin.name,
    )
    data.update(
        status="done",
        title=spec.title,
        spec={
            "title": spec.title,
            "subtitle": spec.subtitle,
            "date": spec.date,
            "place": spec.place,
            "highlights": list(spec.highlights),
            "theme": spec.theme,
        },
        source=poster.source,
        backend=poster.backend,
        label=poster.label,
        files={"png": {"id": artifact.id, "url": artifact.url, "size": artifact.size}},
    )
    await ctx.records.put(POSTERS, poster_id, data, tenant_key=tenant)
    from docs_gen.render import esc

    link = "下载" if spec.language == "zh" else "Download"
    text = f"![{esc(spec.title)}]({artifact.url})\n\n{esc(poster.label)} · [{link}]({artifact.url})"
    await _post(ctx, payload, MarkdownMessage(title=spec.title, text=text))
    return {"poster_id": poster_id, "source": poster.source, "url": artifact.url}


async def _enqueue_poster(
    services: Services,
    records: RecordStore,
    *,
    tenant: str,
    brief: str | None,
    fields: Mapping[str, Any] | None,
    theme: str | None,
    language: str | None,
    conversation_id: str | None,
    platform: str,
    post: str | None,
    origin: Any = None,
) -> tuple[str, str]:
    where = {"conversation_id": conversation_id, "platform": platform}
    return await _queue(
        services,
        records,
        POSTERS,
        POSTER_JOB,
        tenant=tenant,
        record={"brief": brief, **where},
        payload={
            "brief": brief,
            "fields": dict(fields) if fields else None,
            "theme": theme,
            "language": language,
            **where,
            "post": post,
        },
        origin=origin,
    )


@plugin.command(
    "poster",
    aliases=("海报",),
    summary="生成活动海报：/海报 <活动简介>；不带简介则用本群最近的活动策划 / "
    "A poster: /poster <brief>, or for the latest event plan here",
    params=(Param("brief", type="text", required=False, help="活动简介 / the event's brief"),),
)
async def poster_command(ctx: CommandContext) -> None:
    from docs_gen.brief import clean_brief
    from docs_gen.errors import DocumentError

    settings = _settings(ctx.config)
    event = ctx.event
    brief = str(ctx.args.get("brief") or "").strip()
    if not brief:
        latest = await _latest_document(
            ctx.records, event.tenant_key, event.conversation_id, kind="event-plan"
        )
        if latest is None:
            await ctx.reply(
                _bilingual(
                    "用法：/海报 <活动简介>，例如：/海报 12月18日下午2点 3楼大会议室 年终总结会",
                    "Usage: /poster <brief>, e.g. /poster Year-end party, Dec 18 7pm, Hall B",
                )
            )
            return
        title = str(latest.data.get("title") or "")
        brief = f"{title}。{latest.data.get('brief', '')}" if title else str(latest.data["brief"])
    try:
        brief = clean_brief(brief, max_chars=settings.max_brief_chars)
    except DocumentError as exc:
        await ctx.reply(exc.message)
        return
    _, job_id = await _enqueue_poster(
        ctx.services,
        ctx.records,
        tenant=event.tenant_key,
        brief=brief,
        fields=None,
        theme=None,
        language=None,
        conversation_id=event.conversation_id,
        platform=event.platform,
        post="origin",
        origin=event,
    )
    await ctx.reply(
        _bilingual(f"好的，正在制作海报（任务 {job_id}）。", f"Making the poster (job {job_id}).")
    )


# --- /docs -------------------------------------------------------------------------------------


@plugin.command(
    "docs",
    aliases=("文档",),
    summary="本群最近的文档和海报 / This chat's recent documents and posters",
)
async def docs_command(ctx: CommandContext) -> None:
    from docs_gen.render import esc

    event = ctx.event
    where = {"conversation_id": event.conversation_id}
    documents = await ctx.records.list(
        DOCUMENTS, tenant_key=event.tenant_key, limit=10, where=where
    )
    posters = await ctx.records.list(POSTERS, tenant_key=event.tenant_key, limit=5, where=where)
    lines = ["**最近的文档 / Recent documents**"]
    for record in documents:
        data = record.data
        files = data.get("files") or {}
        title = esc(data.get("title") or data.get("kind") or record.key)
        when = record.created_at.strftime("%m-%d %H:%M")
        if "docx" in files:
            lines.append(
                f"- {when} {title}（v{data.get('version', 1)}）：[Word]({files['docx']['url']}) · "
                f"[Markdown]({files['md']['url']})"
            )
        else:
            lines.append(f"- {when} {title}：{data.get('status', 'queued')}")
    for record in posters:
        files = record.data.get("files") or {}
        if "png" in files:
            title = esc(record.data.get("title") or "")
            lines.append(
                f"- {record.created_at:%m-%d %H:%M} 海报 / poster {title}："
                f"[PNG]({files['png']['url']})"
            )
    if len(lines) == 1:
        lines.append(
            "这里还没有文档；发送 /策划 <简介> 起草一份。 / Nothing yet: send /plan <brief>."
        )
    await ctx.reply(MarkdownMessage(title="文档 / Documents", text="\n".join(lines)))


# --- HTTP API ----------------------------------------------------------------------------------

router = APIRouter()


class DocumentRequest(BaseModel):
    """The body of ``POST /api/documents``."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=64)
    brief: str = Field(min_length=1, max_length=20_000)
    language: Literal["zh", "en"] | None = None
    tenant: str = Field(default=DEFAULT_TENANT, min_length=1, max_length=128)
    conversation_id: str | None = Field(default=None, max_length=200)
    platform: str = Field(default="dingtalk", min_length=1, max_length=32)
    post: bool = False
    """Post the sections and the document to the conversation through its group robot."""


@router.get("/api/document-kinds")
async def list_kinds(ctx: Ctx) -> dict[str, Any]:
    registry = kinds(_settings(ctx.config), ctx.services)
    return {
        "kinds": [
            {
                "name": k.name,
                "title": k.spec.title.model_dump(),
                "aliases": list(k.spec.aliases),
                "builtin": k.builtin,
                "poster": k.spec.poster,
                "sections": [
                    {"id": s.id, "type": s.type, "title": s.title.model_dump()}
                    for s in k.spec.sections
                ],
            }
            for k in registry.all()
        ],
        "problems": registry.problems,
    }


def _http_error(exc: Exception) -> HTTPException:
    return HTTPException(422, getattr(exc, "message", str(exc)))


@router.post("/api/documents", status_code=202)
async def create_document(body: DocumentRequest, ctx: Ctx) -> dict[str, Any]:
    """Queue a document; GET its ``url`` for the sections so far and, when done, the files."""
    from docs_gen.brief import clean_brief
    from docs_gen.errors import DocumentError

    settings = _settings(ctx.config)
    try:
        kind = kinds(settings, ctx.services).get(body.kind)
        brief = clean_brief(body.brief, max_chars=settings.max_brief_chars)
    except DocumentError as exc:
        raise _http_error(exc) from None
    if body.post and not (
        body.conversation_id and ctx.services.can_post_to(body.platform, body.conversation_id)
    ):
        raise HTTPException(
            409,
            "post=true needs conversation_id and a group robot for it: set "
            "OFFICEBOT_DINGTALK_ROBOT_CONVERSATION_ID or OFFICEBOT_ROBOTS__<NAME>__CONVERSATION_ID",
        )
    document_id, job_id = await _enqueue_draft(
        ctx.services,
        ctx.records,
        tenant=body.tenant,
        kind=kind.name,
        brief=brief,
        language=body.language,
        conversation_id=body.conversation_id,
        platform=body.platform,
        post="conversation" if body.post else None,
        requested_by="api",
    )
    return {
        "document_id": document_id,
        "job_id": job_id,
        "status": "queued",
        "url": f"/api/documents/{document_id}?tenant={body.tenant}",
    }


def _document_view(record: Any, settings: DocsSettings, services: Services) -> dict[str, Any]:
    from docs_gen.brief import read_brief
    from docs_gen.draft import Draft
    from docs_gen.render import draft_json

    data = dict(record.data)
    out = {k: v for k, v in data.items() if k != "draft"}
    if "draft" in data:
        draft = Draft.from_json(dict(data["draft"]))
        kind = kinds(settings, services).get(draft.kind)
        facts = read_brief(draft.brief, language=draft.language, max_chars=settings.max_brief_chars)
        out["document"] = draft_json(kind, draft, facts)
    return out


@router.get("/api/documents/{document_id}")
async def get_document(
    document_id: str, ctx: Ctx, tenant: TenantQuery = DEFAULT_TENANT
) -> dict[str, Any]:
    record = await ctx.records.get(DOCUMENTS, document_id, tenant_key=tenant)
    if record is None:
        raise HTTPException(404, f"no document {document_id!r} for tenant {tenant!r}")
    return {**_document_view(record, _settings(ctx.config), ctx.services), "tenant": tenant}


@router.get("/api/documents")
async def list_documents(
    ctx: Ctx,
    tenant: TenantQuery = DEFAULT_TENANT,
    conversation_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    where = {"conversation_id": conversation_id} if conversation_id else None
    records = await ctx.records.list(DOCUMENTS, tenant_key=tenant, limit=limit, where=where)
    keep = ("id", "kind", "title", "status", "version", "conversation_id", "created_at", "files")
    return {"tenant": tenant, "documents": [{k: r.data.get(k) for k in keep} for r in records]}


class RevisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    section: str = Field(min_length=1, max_length=64)
    instruction: str = Field(min_length=1, max_length=500)
    tenant: str = Field(default=DEFAULT_TENANT, min_length=1, max_length=128)


@router.post("/api/documents/{document_id}/revisions", status_code=202)
async def revise_document(document_id: str, body: RevisionRequest, ctx: Ctx) -> dict[str, Any]:
    """Rewrite one section (by id, title or alias) as the instruction asks."""
    from docs_gen.errors import DocumentError

    record = await ctx.records.get(DOCUMENTS, document_id, tenant_key=body.tenant)
    if record is None:
        raise HTTPException(404, f"no document {document_id!r} for tenant {body.tenant!r}")
    if record.data.get("status") != "done":
        raise HTTPException(
            409, f"document {document_id} is {record.data.get('status')}; revise it when done"
        )
    try:
        kind = kinds(_settings(ctx.config), ctx.services).get(str(record.data["kind"]))
        spec = kind.spec.section(body.section)
    except DocumentError as exc:
        raise _http_error(exc) from None
    job_id = await ctx.services.enqueue(
        REVISE_JOB,
        {
            "document_id": document_id,
            "tenant": body.tenant,
            "section": spec.id,
            "instruction": body.instruction,
            "post": None,
        },
        tenant_key=body.tenant,
    )
    return {"document_id": document_id, "job_id": job_id, "section": spec.id, "status": "queued"}


class PosterRequest(BaseModel):
    """The body of ``POST /api/posters``: a brief, or the words themselves."""

    model_config = ConfigDict(extra="forbid")

    brief: str | None = Field(default=None, max_length=20_000)
    fields: PosterFields | None = None
    theme: str | None = Field(default=None, max_length=20)
    language: Literal["zh", "en"] | None = None
    tenant: str = Field(default=DEFAULT_TENANT, min_length=1, max_length=128)


@router.post("/api/posters", status_code=202)
async def create_poster(body: PosterRequest, ctx: Ctx) -> dict[str, Any]:
    from docs_gen.brief import clean_brief
    from docs_gen.errors import DocumentError
    from docs_gen.poster import PosterError, resolve_theme

    settings = _settings(ctx.config)
    if (body.brief is None) == (body.fields is None):
        raise HTTPException(422, "give either brief or fields {title, date, place, highlights}")
    try:
        brief = clean_brief(body.brief, max_chars=settings.max_brief_chars) if body.brief else None
        theme = resolve_theme(body.theme) if body.theme else None
    except (DocumentError, PosterError) as exc:
        raise _http_error(exc) from None
    poster_id, job_id = await _enqueue_poster(
        ctx.services,
        ctx.records,
        tenant=body.tenant,
        brief=brief,
        fields=body.fields.model_dump() if body.fields else None,
        theme=theme,
        language=body.language,
        conversation_id=None,
        platform="dingtalk",
        post=None,
    )
    return {
        "poster_id": poster_id,
        "job_id": job_id,
        "status": "queued",
        "url": f"/api/posters/{poster_id}?tenant={body.tenant}",
    }


@router.get("/api/posters/{poster_id}")
async def get_poster(
    poster_id: str, ctx: Ctx, tenant: TenantQuery = DEFAULT_TENANT
) -> dict[str, Any]:
    record = await ctx.records.get(POSTERS, poster_id, tenant_key=tenant)
    if record is None:
        raise HTTPException(404, f"no poster {poster_id!r} for tenant {tenant!r}")
    return {**record.data, "tenant": tenant}


plugin.routes(router)
