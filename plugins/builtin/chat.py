"""Group chats: stored history -> key points, decisions and to-dos, on command and on schedule.

Written exactly as a third-party plugin would be: it uses the contract (commands, a job kind,
schedules, HTTP routes) and the context objects only.

- ``/summary [window]`` (``/总结``): the last N messages, a span ("-2h", "today", "since
  yesterday 18:00", "昨天18点以后"), or (no argument) everything since the last summary. The
  summary is a ``chat.summarize`` job; it is posted to the group when done, shortened with a
  link to the whole document when long.
- ``/digest daily 18:00`` · ``/digest weekly fri 17:30`` · ``/digest off`` (``/摘要``): a
  persistent schedule per conversation; a period without messages posts nothing.
- ``/privacy off|on|keep <days>|forget`` (``/隐私``): stop or resume storing this
  conversation's messages, keep them for a period of its own, delete what is stored.
- Every night the retention schedule deletes messages and summaries past their period.
- ``POST /api/conversations/{id}/messages`` imports an exported chat (JSON or CSV);
  ``POST /api/conversations/{id}/summaries`` queues a summary, ``GET .../summaries/{sid}``
  returns it.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from chat_summary.config import ChatSettings
from plugins import (
    Attachment,
    CommandContext,
    HttpContext,
    ImportedMessage,
    JobContext,
    MarkdownMessage,
    Mentions,
    Param,
    Plugin,
    RecordStore,
    ScheduleContext,
    Services,
    StoredMessage,
)

log = logging.getLogger(__name__)

plugin = Plugin(
    name="chat",
    description="群聊总结、定时摘要与隐私设置 / Group-chat summaries, digests and privacy.",
    usage="/summary [100|-2h|today|since yesterday 18:00] · /digest daily 18:00|off · "
    "/privacy off|on|keep <days>|forget · POST /api/conversations/{id}/summaries",
    version="1",
    config_model=ChatSettings,
)

JOB_KIND = "chat.summarize"
SUMMARIES = "summaries"
CURSORS = "cursors"
DIGESTS = "digests"
DEFAULT_TENANT = "default"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ZH_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
Ctx = Annotated[HttpContext, Depends(plugin.http_context)]


def _settings(config: object) -> ChatSettings:
    return config if isinstance(config, ChatSettings) else ChatSettings()


def _zone(services: Services) -> ZoneInfo:
    return ZoneInfo(services.timezone)


def _conversation_key(tenant: str, platform: str, conversation_id: str) -> str:
    """A record/schedule key for one conversation of one tenant (ids may repeat across
    tenants of the generic webhook)."""
    return hashlib.sha256(f"{tenant}\n{platform}\n{conversation_id}".encode()).hexdigest()[:32]


def _new_id() -> str:
    return secrets.token_hex(8)


def _bilingual(zh: str, en: str) -> str:
    return f"{zh}\n{en}"


# --- which messages a summary reads ------------------------------------------------------------


def _command_words(services: Services) -> frozenset[str]:
    words: set[str] = set()
    for info in services.commands():
        words.update(w.lower() for w in (info.name, *info.aliases))
    return frozenset(words)


MAX_BARE_COMMAND_CHARS = 40


def _is_command(text: str, words: frozenset[str]) -> bool:
    """A message to the bot as a command ("/总结 100", or "总结 100" @-mentioning it), not
    chat content ("总结一下今天的会议" is content)."""
    stripped = text.strip().lstrip("/／").strip()
    first = stripped.split(maxsplit=1)[0].lower() if stripped else ""
    if not first or first not in words:
        return False
    return text.strip()[:1] in "/／" or len(stripped) <= MAX_BARE_COMMAND_CHARS


def chat_messages(
    stored: Sequence[StoredMessage], zone: ZoneInfo, command_words: frozenset[str]
) -> list[Any]:
    """The stored messages as the summarizer reads them: commands to the bot left out, times
    in the bot's timezone (what "明天" means depends on it), shared files named."""
    from chat_summary.types import ChatMessage

    messages = []
    for message in stored:
        if _is_command(message.text, command_words):
            continue
        files = tuple(a.filename for a in message.attachments if a.filename)
        if not message.text.strip() and not files:
            continue
        reply_to = message.reply_to or (message.quote.message_id if message.quote else None)
        messages.append(
            ChatMessage(
                id=message.message_id,
                sender=message.sender_name or message.sender_id,
                sender_id=message.sender_id,
                time=message.sent_at.astimezone(zone),
                text=message.text,
                reply_to=reply_to,
                files=files,
            )
        )
    return messages


def _mention_ids(stored: Sequence[StoredMessage], platform: str) -> dict[str, str]:
    """Sender name -> DingTalk user id (staffId), for @-mentioning to-do owners. Encrypted
    ids ("$:LWCP_v1:$...") cannot be @-mentioned and are left out."""
    if platform != "dingtalk":
        return {}
    ids: dict[str, str] = {}
    for message in stored:
        if message.sender_name and message.sender_id and not message.sender_id.startswith("$"):
            ids[message.sender_name] = message.sender_id
    return ids


# --- windows ---------------------------------------------------------------------------------


class WindowSpec(BaseModel):
    """A window as stored in a job's payload."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["last", "span", "since_last"]
    count: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    text: str = ""
    label_zh: str = ""
    label_en: str = ""


def _window_spec(window: Any) -> WindowSpec:
    return WindowSpec(
        kind=window.kind,
        count=window.count,
        start=window.start,
        end=window.end,
        text=window.text,
        label_zh=window.describe("zh"),
        label_en=window.describe("en"),
    )


async def _cursor(records: RecordStore, tenant: str, key: str) -> Mapping[str, Any] | None:
    record = await records.get(CURSORS, key, tenant_key=tenant)
    return record.data if record else None


async def _read_window(
    ctx: JobContext, payload: Mapping[str, Any], spec: WindowSpec, settings: ChatSettings
) -> tuple[list[StoredMessage], str, str, bool]:
    """The stored messages of the window, its labels (zh, en), and whether it had more
    messages than a summary reads."""
    tenant, conversation = str(payload["tenant"]), str(payload["conversation_id"])
    history = ctx.services.history
    limit = settings.max_messages
    label_zh, label_en = spec.label_zh, spec.label_en
    if spec.kind == "last":
        count = min(spec.count or settings.default_last, limit)
        stored = await history.messages(tenant, conversation, last=count, limit=count)
        return list(stored), label_zh, label_en, False
    since, until = spec.start, spec.end
    if spec.kind == "since_last":
        cursor = await _cursor(ctx.records, tenant, str(payload["key"]))
        if cursor is None or not cursor.get("last_time"):
            count = settings.default_last
            stored = await history.messages(tenant, conversation, last=count, limit=count)
            return (
                list(stored),
                f"最近 {count} 条消息（此前没有总结）",
                f"the last {count} messages (no earlier summary)",
                False,
            )
        since = datetime.fromisoformat(str(cursor["last_time"])) + timedelta(microseconds=1)
    stored = await history.messages(tenant, conversation, since=since, until=until, limit=limit + 1)
    truncated = len(stored) > limit
    return list(stored[-limit:]), label_zh, label_en, truncated


# --- the job ---------------------------------------------------------------------------------


@plugin.job(JOB_KIND)
async def summarize_conversation(ctx: JobContext) -> dict[str, Any]:
    """Read the window, summarize it in a worker thread, store the result, post it."""
    from chat_summary.chat import summarize_chat
    from chat_summary.render import chat_message, markdown_document, summary_json

    settings = _settings(ctx.config)
    payload = ctx.payload
    tenant, platform = str(payload["tenant"]), str(payload.get("platform", "dingtalk"))
    summary_id = str(payload["summary_id"])
    spec = WindowSpec.model_validate(payload["window"])
    record = await ctx.records.get(SUMMARIES, summary_id, tenant_key=tenant)
    base = dict(record.data) if record else {"id": summary_id}
    await _save(ctx.records, tenant, base, status="running", job_id=ctx.job_id)
    ctx.progress("reading", 2)
    stored, label_zh, label_en, truncated = await _read_window(ctx, payload, spec, settings)
    messages = chat_messages(stored, _zone(ctx.services), _command_words(ctx.services))
    if payload.get("skip_empty") and not messages:
        await _save(ctx.records, tenant, base, status="skipped", messages=0)
        return {"summary_id": summary_id, "messages": 0, "posted": False}
    ctx.progress("summarizing", 5)
    llm = None if settings.mode == "extractive" else ctx.services.llm
    summary = await ctx.run_in_thread(
        lambda: summarize_chat(
            llm,
            messages,
            mode=settings.mode,
            budget_tokens=settings.model_budget_tokens,
            busy_queue=settings.busy_queue,
            progress=lambda stage, percent: ctx.progress("summarizing", 5 + percent * 0.9),
        )
    )
    window = label_zh if summary.language == "zh" else label_en
    if truncated:
        window += (
            f"（只读了最新的 {settings.max_messages} 条）"
            if summary.language == "zh"
            else f" (only the newest {settings.max_messages} read)"
        )
    title = payload.get("title")
    ctx.progress("posting", 96)
    document = markdown_document(summary, window=window, conversation_title=title)
    artifact = await ctx.services.artifacts.save(
        document.encode(),
        f"chat-summary-{summary_id}.md",
        content_type="text/markdown; charset=utf-8",
        tenant_key=tenant,
        plugin=plugin.name,
    )
    message = chat_message(
        summary,
        window=window,
        conversation_title=title,
        mention_ids=_mention_ids(stored, platform),
        document_url=artifact.url,
        max_chars=settings.chat_max_chars,
    )
    await _save(
        ctx.records,
        tenant,
        base,
        status="done",
        messages=summary.message_count,
        result=summary_json(summary, window=window),
        markdown=message.text,
        document=artifact.url,
        document_id=artifact.id,
    )
    if stored:
        last = max(stored, key=lambda m: (m.sent_at, m.id))
        await ctx.records.put(
            CURSORS,
            str(payload["key"]),
            {"last_time": last.sent_at.isoformat(), "last_message_id": last.message_id},
            tenant_key=tenant,
        )
    posted = await _post(ctx, payload, message)
    return {"summary_id": summary_id, "messages": summary.message_count, "posted": posted}


async def _save(records: RecordStore, tenant: str, data: dict[str, Any], **fields: Any) -> None:
    data.update(fields)
    await records.put(SUMMARIES, str(data["id"]), data, tenant_key=tenant)


async def _post(ctx: JobContext, payload: Mapping[str, Any], message: Any) -> bool:
    """Post where the summary was asked for: the command's conversation, or (digests, API
    calls with ``post``) the conversation's group robot."""
    outgoing = MarkdownMessage(
        title=message.title, text=message.text, mentions=Mentions(user_ids=message.at_user_ids)
    )
    target = payload.get("post")
    if target == "origin":
        await ctx.reply(outgoing)
        return True
    if target == "conversation":
        await ctx.services.send_to_conversation(
            str(payload.get("platform", "dingtalk")), str(payload["conversation_id"]), outgoing
        )
        return True
    return False


async def _enqueue_summary(
    services: Services,
    records: RecordStore,
    *,
    tenant: str,
    platform: str,
    conversation_id: str,
    window: WindowSpec,
    post: str | None,
    title: str | None,
    requested_by: str | None,
    kind: str,
    origin: Any = None,
    skip_empty: bool = False,
) -> tuple[str, str]:
    summary_id = _new_id()
    key = _conversation_key(tenant, platform, conversation_id)
    record = {
        "id": summary_id,
        "status": "queued",
        "kind": kind,
        "conversation_id": conversation_id,
        "platform": platform,
        "window": window.model_dump(mode="json"),
        "requested_by": requested_by,
        "created_at": datetime.now(UTC).isoformat(),
    }
    await records.put(SUMMARIES, summary_id, record, tenant_key=tenant)
    job_id = await services.enqueue(
        JOB_KIND,
        {
            "summary_id": summary_id,
            "tenant": tenant,
            "platform": platform,
            "conversation_id": conversation_id,
            "key": key,
            "window": window.model_dump(mode="json"),
            "post": post,
            "title": title,
            "skip_empty": skip_empty,
        },
        tenant_key=tenant,
        origin=origin,
    )
    await records.put(SUMMARIES, summary_id, {**record, "job_id": job_id}, tenant_key=tenant)
    return summary_id, job_id


# --- /summary --------------------------------------------------------------------------------


@plugin.command(
    "summary",
    aliases=("总结", "群总结"),
    summary="总结群聊：/总结 100、/总结 今天、/总结 昨天18点以后；不带参数则总结上次以来 / "
    "Summarize this chat: /summary 100, -2h, today, since yesterday 18:00",
    params=(Param("window", type="text", required=False, help="100 · -2h · today · 昨天18点以后"),),
)
async def summary_command(ctx: CommandContext) -> None:
    from chat_summary.window import WindowError, parse_window

    event = ctx.event
    text = str(ctx.args.get("window") or "")
    settings = _settings(ctx.config)
    try:
        window = parse_window(
            text, datetime.now(_zone(ctx.services)), max_count=settings.max_messages
        )
    except WindowError as exc:
        await ctx.reply(str(exc))
        return
    privacy = await ctx.services.history.privacy(
        event.tenant_key, event.conversation_id, platform=event.platform
    )
    if not privacy.storing:
        await ctx.reply(
            _bilingual(
                "本群已关闭消息存储（/隐私 关闭），没有可总结的记录；发送 /隐私 开启 恢复。",
                "This chat does not store messages (/privacy off), so there is nothing to "
                "summarize; send /privacy on to resume.",
            )
        )
        return
    spec = _window_spec(window)
    _, job_id = await _enqueue_summary(
        ctx.services,
        ctx.records,
        tenant=event.tenant_key,
        platform=event.platform,
        conversation_id=event.conversation_id,
        window=spec,
        post="origin",
        title=event.conversation_title,
        requested_by=event.sender_name or event.sender_id,
        kind="command",
        origin=event,
    )
    await ctx.reply(
        _bilingual(
            f"好的，正在总结{spec.label_zh}，完成后发到群里（任务 {job_id}）。",
            f"Summarizing {spec.label_en}; the summary comes here when done (job {job_id}).",
        )
    )


# --- /digest ---------------------------------------------------------------------------------


class DigestPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    period: Literal["daily", "weekly"]
    hour: int = Field(ge=0, le=23)
    minute: int = Field(ge=0, le=59)
    weekday: int = Field(default=4, ge=0, le=6)

    @property
    def cron(self) -> str:
        day = WEEKDAYS[self.weekday] if self.period == "weekly" else "*"
        return f"{self.minute} {self.hour} * * {day}"

    def describe(self, language: str) -> str:
        clock = f"{self.hour:02d}:{self.minute:02d}"
        if language == "zh":
            if self.period == "daily":
                return f"每天 {clock}"
            return f"每周{'一二三四五六日'[self.weekday]} {clock}"
        if self.period == "daily":
            return f"daily at {clock}"
        return f"weekly on {WEEKDAYS[self.weekday].title()} at {clock}"


DIGEST_USAGE = _bilingual(
    "用法：/摘要 每天 18:00 · /摘要 每周五 17:30 · /摘要 关闭 · /摘要（查看）",
    "Usage: /digest daily 18:00 · /digest weekly fri 17:30 · /digest off · /digest (status)",
)


def parse_digest(text: str) -> DigestPlan | Literal["off", "status"]:
    """``daily 18:00`` / ``weekly fri 17:30`` / ``每天 18:00`` / ``每周五 18:00`` / ``off``."""
    words = text.replace("：", ":").replace("，", " ").lower().split()
    if not words or words[0] in ("status", "状态"):
        return "status"
    if words[0] in ("off", "stop", "关闭", "取消", "停止"):
        return "off"
    head, rest = words[0], words[1:]
    weekday = 4
    if head in ("daily", "每天", "每日"):
        period: Literal["daily", "weekly"] = "daily"
    elif head in ("weekly", "每周") or (head.startswith(("每周", "每星期")) and len(head) > 2):
        period = "weekly"
        day = head[-1] if head not in ("weekly", "每周") else None
        if day is None and rest and rest[0][:3] in WEEKDAYS:
            day, rest = rest[0][:3], rest[1:]
        elif day is None and rest and rest[0][-1:] in _ZH_WEEKDAYS and not rest[0][0].isdigit():
            day, rest = rest[0][-1], rest[1:]
        if day is not None:
            weekday = WEEKDAYS.index(day) if day in WEEKDAYS else _ZH_WEEKDAYS.get(day, -1)
            if weekday < 0:
                raise ValueError(f"unknown weekday {day!r}")
    else:
        raise ValueError(f"unknown period {head!r}")
    clock = rest[0] if rest else "18:00"
    hour_text, _, minute_text = clock.replace("点", ":").rstrip(":").partition(":")
    if not hour_text.isdigit() or (minute_text and not minute_text.isdigit()):
        raise ValueError(f"unknown time {clock!r}")
    return DigestPlan(
        period=period, hour=int(hour_text), minute=int(minute_text or 0), weekday=weekday
    )


@plugin.command(
    "digest",
    aliases=("摘要", "定时总结"),
    summary="定时群聊摘要：/摘要 每天 18:00、/摘要 每周五 17:30、/摘要 关闭 / "
    "Scheduled digests: /digest daily 18:00, weekly fri 17:30, off",
    params=(
        Param("plan", type="text", required=False, help="daily 18:00 · weekly fri 17:30 · off"),
    ),
)
async def digest_command(ctx: CommandContext) -> None:
    event = ctx.event
    tenant, platform, conversation = event.tenant_key, event.platform, event.conversation_id
    key = _conversation_key(tenant, platform, conversation)
    try:
        plan = parse_digest(str(ctx.args.get("plan") or ""))
    except ValueError as exc:
        await ctx.reply(f"{exc}\n{DIGEST_USAGE}")
        return
    current = await ctx.records.get(DIGESTS, key, tenant_key=tenant)
    if plan == "status":
        if current is None:
            await ctx.reply(
                _bilingual("本群没有定时摘要。", "No digest is scheduled here.")
                + "\n"
                + DIGEST_USAGE
            )
        else:
            saved = DigestPlan.model_validate(current.data["plan"])
            await ctx.reply(
                _bilingual(
                    f"本群的定时摘要：{saved.describe('zh')}（{ctx.services.timezone}）。",
                    f"This chat's digest runs {saved.describe('en')} ({ctx.services.timezone}).",
                )
            )
        return
    if plan == "off":
        removed = await ctx.schedules.remove("digest", key)
        await ctx.records.delete(DIGESTS, key, tenant_key=tenant)
        await ctx.reply(
            _bilingual("已关闭本群的定时摘要。", "The digest for this chat is off.")
            if removed or current
            else _bilingual("本群没有定时摘要。", "No digest was scheduled here.")
        )
        return
    if not ctx.services.can_post_to(platform, conversation):
        await ctx.reply(
            _bilingual(
                "无法设置定时摘要：没有为本群配置群机器人，摘要发不出来。"
                "请管理员为本群添加自定义机器人，并设置 OFFICEBOT_DINGTALK_ROBOT_CONVERSATION_ID"
                f"（或 OFFICEBOT_ROBOTS__<名字>__CONVERSATION_ID）为 {conversation}。",
                "A digest cannot be scheduled: no group robot is configured for this chat, so it "
                "could not be posted. Ask an admin to add a custom robot to this group and set "
                f"OFFICEBOT_DINGTALK_ROBOT_CONVERSATION_ID (or OFFICEBOT_ROBOTS__<NAME>__"
                f"CONVERSATION_ID) to {conversation}.",
            )
        )
        return
    payload = {
        "tenant": tenant,
        "platform": platform,
        "conversation_id": conversation,
        "title": event.conversation_title,
        "period": plan.period,
    }
    await ctx.schedules.add("digest", key, plan.cron, payload)
    await ctx.records.put(
        DIGESTS,
        key,
        {**payload, "plan": plan.model_dump(), "cron": plan.cron, "by": event.sender_name},
        tenant_key=tenant,
    )
    await ctx.reply(
        _bilingual(
            f"好的，本群的摘要将在{plan.describe('zh')}发送（{ctx.services.timezone}），没有新消息时不发。",
            f"OK: this chat gets a digest {plan.describe('en')} ({ctx.services.timezone}), "
            "none when nothing was said.",
        )
    )


@plugin.schedule("digest", summary="群聊定时摘要 / A conversation's digest")
async def digest(ctx: ScheduleContext) -> None:
    """Summarize what was said since the last digest (at most one period back); post nothing
    for a period without messages."""
    payload = ctx.payload
    tenant = str(payload["tenant"])
    platform = str(payload.get("platform", "dingtalk"))
    conversation = str(payload["conversation_id"])
    key = _conversation_key(tenant, platform, conversation)
    now = datetime.now(_zone(ctx.services))
    period = timedelta(days=7 if payload.get("period") == "weekly" else 1)
    record = await ctx.records.get(DIGESTS, key, tenant_key=tenant)
    last = record.data.get("last_run") if record else None
    start = now - period
    if isinstance(last, str):
        start = max(start, datetime.fromisoformat(last))
    recent = await ctx.services.history.messages(
        tenant, conversation, since=start, until=now, last=1
    )
    if record is not None:
        await ctx.records.put(
            DIGESTS, key, {**record.data, "last_run": now.isoformat()}, tenant_key=tenant
        )
    if not recent:
        log.info("digest of a %s conversation skipped: no messages since %s", platform, start)
        return
    zh = f"{start:%m-%d %H:%M} 至 {now:%m-%d %H:%M}"
    en = f"{start:%b %d %H:%M} to {now:%b %d %H:%M}"
    spec = WindowSpec(kind="span", start=start, end=now, label_zh=zh, label_en=en)
    await _enqueue_summary(
        ctx.services,
        ctx.records,
        tenant=tenant,
        platform=platform,
        conversation_id=conversation,
        window=spec,
        post="conversation",
        title=payload.get("title"),
        requested_by=None,
        kind="digest",
        skip_empty=True,
    )


# --- /privacy and retention --------------------------------------------------------------------


@plugin.command(
    "privacy",
    aliases=("隐私",),
    summary="消息存储：/隐私 关闭、/隐私 开启、/隐私 保留 30、/隐私 清除 / "
    "Message storage: /privacy off, on, keep 30, forget",
    params=(
        Param(
            "action",
            required=False,
            choices=(
                "status",
                "off",
                "on",
                "keep",
                "forget",
                "状态",
                "关闭",
                "开启",
                "保留",
                "清除",
            ),
        ),
        Param("days", type="int", required=False, help="with keep: days to keep messages"),
    ),
)
async def privacy_command(ctx: CommandContext) -> None:
    event = ctx.event
    history = ctx.services.history
    tenant, platform, conversation = event.tenant_key, event.platform, event.conversation_id
    action = {"状态": "status", "关闭": "off", "开启": "on", "保留": "keep", "清除": "forget"}.get(
        str(ctx.args.get("action") or "status"), str(ctx.args.get("action") or "status")
    )
    settings = _settings(ctx.config)
    if action == "off":
        await history.set_storing(tenant, conversation, platform=platform, storing=False)
        await ctx.reply(
            _bilingual(
                "已关闭：从现在起本群的消息不再存储，总结和摘要也不再可用。已存的消息仍按保留期删除，"
                "发送 /隐私 清除 可立即删除。",
                "Off: from now on this chat's messages are not stored, so summaries and digests "
                "stop. What is stored already is deleted at the end of its retention period; "
                "send /privacy forget to delete it now.",
            )
        )
        return
    if action == "on":
        await history.set_storing(tenant, conversation, platform=platform, storing=True)
        await ctx.reply(
            _bilingual(
                "已开启：本群的消息会被存储，用于总结。",
                "On: this chat's messages are stored for summaries.",
            )
        )
        return
    if action == "keep":
        days = ctx.args.get("days")
        if not isinstance(days, int) or not 1 <= days <= 36_500:
            await ctx.reply(
                _bilingual(
                    "用法：/隐私 保留 30（天，1-36500）", "Usage: /privacy keep 30 (days, 1-36500)"
                )
            )
            return
        await history.set_retention(tenant, conversation, platform=platform, days=days)
        await ctx.reply(
            _bilingual(
                f"本群的消息将保留 {days} 天。", f"This chat's messages are kept for {days} days."
            )
        )
        return
    if action == "forget":
        removed = await history.forget(tenant, conversation)
        await _forget_summaries(ctx, tenant, platform, conversation)
        await ctx.reply(
            _bilingual(
                f"已删除本群存储的 {removed} 条消息和本群的总结。",
                f"Deleted the {removed} stored messages of this chat and its summaries.",
            )
        )
        return
    privacy = await history.privacy(tenant, conversation, platform=platform)
    days = privacy.retention_days or settings.retention_days
    keep_zh = f"保留 {days} 天" if days else "一直保留"
    keep_en = f"kept for {days} days" if days else "kept until deleted"
    await ctx.reply(
        _bilingual(
            f"本群消息存储：{'开启' if privacy.storing else '关闭'}，{keep_zh}。",
            f"Message storage here: {'on' if privacy.storing else 'off'}, {keep_en}.",
        )
    )


async def _forget_summaries(
    ctx: CommandContext, tenant: str, platform: str, conversation: str
) -> None:
    """The conversation's stored summaries, their documents and its cursor go too."""
    while True:
        found = await ctx.records.list(
            SUMMARIES, tenant_key=tenant, limit=500, where={"conversation_id": conversation}
        )
        if not found:
            break
        for record in found:
            document = record.data.get("document_id")
            if isinstance(document, str):
                await ctx.services.artifacts.delete(document)
            await ctx.records.delete(SUMMARIES, record.key, tenant_key=tenant)
    key = _conversation_key(tenant, platform, conversation)
    await ctx.records.delete(CURSORS, key, tenant_key=tenant)


@plugin.schedule("retention", cron="30 3 * * *", summary="删除过了保留期的消息和总结 / Retention")
async def retention(ctx: ScheduleContext) -> None:
    """Delete stored messages past their conversation's retention period, and summaries (with
    their documents) older than the default period."""
    settings = _settings(ctx.config)
    default = settings.retention_days or None
    removed = await ctx.services.history.purge(default_retention_days=default)
    log.info("retention: %d message(s) deleted", removed)
    if default is None:
        return
    before = datetime.now(UTC) - timedelta(days=settings.retention_days)
    for record in await ctx.records.purge(SUMMARIES, updated_before=before):
        document = record.data.get("document_id")
        if isinstance(document, str):
            await ctx.services.artifacts.delete(document)


# --- HTTP ------------------------------------------------------------------------------------

router = APIRouter(tags=["chat"])
TenantQuery = Annotated[str, Query(min_length=1, max_length=128)]
PlatformQuery = Annotated[str, Query(min_length=1, max_length=32)]


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(
            413, f"the chat export is {declared} bytes; at most {limit} are accepted"
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"the chat export is over {limit} bytes")
    return bytes(body)


@router.post("/api/conversations/{conversation_id}/messages", status_code=201)
async def import_messages(
    conversation_id: str,
    request: Request,
    ctx: Ctx,
    tenant: TenantQuery = DEFAULT_TENANT,
    platform: PlatformQuery = "dingtalk",
    title: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """Import an exported chat: a JSON array of {sender, time, text} (optional id, reply_to)
    or CSV with those columns (Content-Type application/json or text/csv)."""
    from chat_summary.chatlog import load_chat_log
    from chat_summary.errors import ChatLogError

    settings = _settings(ctx.config)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    formats = {"application/json": "json", "text/csv": "csv", "application/csv": "csv"}
    if kind not in formats:
        raise HTTPException(415, "send the export as application/json or text/csv")
    data = await _read_body(request, settings.import_max_bytes)
    try:
        messages = load_chat_log(
            data, timezone=_zone(ctx.services), format="json" if formats[kind] == "json" else "csv"
        )
    except ChatLogError as exc:
        raise HTTPException(422, exc.message) from None
    imported = to_imported(messages)
    # A conversation that stopped storing (/privacy off) refuses with 409, saying so.
    result = await ctx.services.history.import_messages(
        tenant, conversation_id, imported, platform=platform, title=title
    )
    return {
        "tenant": tenant,
        "conversation_id": conversation_id,
        "messages": len(imported),
        "imported": result.imported,
        "duplicates": result.duplicates,
    }


def to_imported(messages: Sequence[Any]) -> list[ImportedMessage]:
    """An exported chat's messages (``chat_summary.types.ChatMessage``) as the history stores
    them."""
    return [
        ImportedMessage(
            message_id=m.id,
            sender=m.sender,
            sender_id=m.sender_id,
            sent_at=m.time,
            text=m.text,
            reply_to=m.reply_to,
            attachments=tuple(Attachment(kind="file", filename=f) for f in m.files),
        )
        for m in messages
    ]


class SummaryRequest(BaseModel):
    """The body of ``POST /api/conversations/{id}/summaries``."""

    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(default=DEFAULT_TENANT, min_length=1, max_length=128)
    platform: str = Field(default="dingtalk", min_length=1, max_length=32)
    window: str = Field(default="", max_length=100)
    """As after /summary: "100", "-2h", "today", "since yesterday 18:00", "" (since the last)."""
    since: datetime | None = None
    until: datetime | None = None
    last: int | None = Field(default=None, ge=1, le=100_000)
    post: bool = False
    """Post the summary to the conversation through its group robot when done."""
    title: str | None = Field(default=None, max_length=200)


@router.post("/api/conversations/{conversation_id}/summaries", status_code=202)
async def create_summary(conversation_id: str, body: SummaryRequest, ctx: Ctx) -> dict[str, Any]:
    """Queue a summary of a stored conversation; GET its ``url`` for the result."""
    from chat_summary.window import Window, WindowError, parse_window

    settings = _settings(ctx.config)
    zone = _zone(ctx.services)
    if body.last is not None or body.since is not None or body.until is not None:
        if body.window:
            raise HTTPException(422, "give either window or since/until/last, not both")
        for name, moment in (("since", body.since), ("until", body.until)):
            if moment is not None and moment.tzinfo is None:
                raise HTTPException(422, f"{name} needs a timezone, e.g. 2026-11-30T09:00:00+08:00")
        if body.last is not None:
            window = Window(kind="last", count=min(body.last, settings.max_messages))
        else:
            start = body.since or datetime(1970, 1, 1, tzinfo=UTC)
            window = Window(kind="span", start=start, end=body.until)
    else:
        try:
            window = parse_window(body.window, datetime.now(zone), max_count=settings.max_messages)
        except WindowError as exc:
            raise HTTPException(422, str(exc)) from None
    if body.post and not ctx.services.can_post_to(body.platform, conversation_id):
        raise HTTPException(
            409,
            "post=true needs a group robot for this conversation: set "
            "OFFICEBOT_DINGTALK_ROBOT_CONVERSATION_ID or OFFICEBOT_ROBOTS__<NAME>__CONVERSATION_ID",
        )
    summary_id, job_id = await _enqueue_summary(
        ctx.services,
        ctx.records,
        tenant=body.tenant,
        platform=body.platform,
        conversation_id=conversation_id,
        window=_window_spec(window),
        post="conversation" if body.post else None,
        title=body.title,
        requested_by="api",
        kind="api",
    )
    return {
        "summary_id": summary_id,
        "job_id": job_id,
        "status": "queued",
        "url": f"/api/conversations/{conversation_id}/summaries/{summary_id}?tenant={body.tenant}",
    }


@router.get("/api/conversations/{conversation_id}/summaries/{summary_id}")
async def get_summary(
    conversation_id: str, summary_id: str, ctx: Ctx, tenant: TenantQuery = DEFAULT_TENANT
) -> dict[str, Any]:
    record = await ctx.records.get(SUMMARIES, summary_id, tenant_key=tenant)
    if record is None or record.data.get("conversation_id") != conversation_id:
        raise HTTPException(
            404, f"no summary {summary_id!r} of this conversation for tenant {tenant!r}"
        )
    return {**record.data, "tenant": tenant}


@router.get("/api/conversations/{conversation_id}/summaries")
async def list_summaries(
    conversation_id: str,
    ctx: Ctx,
    tenant: TenantQuery = DEFAULT_TENANT,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    records = await ctx.records.list(
        SUMMARIES, tenant_key=tenant, limit=limit, where={"conversation_id": conversation_id}
    )
    keep = ("id", "status", "kind", "window", "messages", "created_at", "document")
    return {
        "tenant": tenant,
        "conversation_id": conversation_id,
        "summaries": [{k: r.data.get(k) for k in keep} for r in records],
    }


plugin.routes(router)
