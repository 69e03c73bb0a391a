"""``officebot chat ...``: summarize an exported chat on this machine, or import it into the
bot's history."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from bot.cli_support import current_settings, errors, fail, load_llm

if TYPE_CHECKING:
    from chat_summary.types import ChatMessage

chat_app = typer.Typer(
    help="Group chats: summarize an exported chat, or import it into the bot's history.",
    no_args_is_help=True,
)


class SummaryFormat(StrEnum):
    json = "json"
    md = "md"


class Mode(StrEnum):
    auto = "auto"
    model = "model"
    extractive = "extractive"


FileArg = Annotated[
    Path,
    typer.Argument(help="The exported chat: a JSON array of {sender, time, text} or CSV."),
]


def _load(file: Path, zone: ZoneInfo) -> list[ChatMessage]:
    from chat_summary.chatlog import load_chat_log
    from chat_summary.errors import ChatLogError

    if not file.is_file():
        raise fail(f"{file}: no such file", 2)
    try:
        return load_chat_log(file.read_bytes(), timezone=zone, filename=file.name)
    except ChatLogError as exc:
        raise fail(f"{file}: {exc.message}", 2) from None


def _select(
    messages: list[ChatMessage], since: str | None, last: int | None, zone: ZoneInfo
) -> tuple[list[ChatMessage], str, str]:
    """The messages of the window and its labels (zh, en)."""
    from chat_summary.window import WindowError, parse_window

    chosen = messages
    zh, en = "全部消息", "all messages"
    if since:
        text = since if since.lower().startswith(("since", "from")) else f"since {since}"
        try:
            start = datetime.fromisoformat(since)
            start = start if start.tzinfo else start.replace(tzinfo=zone)
        except ValueError:
            try:
                window = parse_window(text, datetime.now(zone))
            except WindowError as exc:
                raise fail(f"--since {since!r}: {exc}", 2) from None
            if window.kind != "span" or window.start is None:
                raise fail(f"--since {since!r} names no moment; e.g. 2026-11-30T09:00", 2) from None
            start = window.start
        chosen = [m for m in chosen if m.time >= start]
        zh, en = f"{start:%Y-%m-%d %H:%M} 以来", f"since {start:%Y-%m-%d %H:%M}"
    if last is not None:
        chosen = chosen[-last:]
        zh, en = f"最近 {len(chosen)} 条消息", f"the last {len(chosen)} messages"
    return chosen, zh, en


@chat_app.command("summarize")
def summarize(
    file: FileArg,
    since: Annotated[
        str | None,
        typer.Option(help='Only messages since then: "2026-11-30T18:00", "yesterday 18:00".'),
    ] = None,
    last: Annotated[int | None, typer.Option(min=1, max=100_000, help="Only the last N.")] = None,
    format: Annotated[SummaryFormat, typer.Option(help="Output format.")] = SummaryFormat.json,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here (default: stdout).")
    ] = None,
    mode: Annotated[
        Mode, typer.Option(help="auto, model (always) or extractive (no model).")
    ] = Mode.auto,
    language: Annotated[
        str | None, typer.Option(help="Force the language (zh, en); default: detect.")
    ] = None,
) -> None:
    """Key points by topic, decisions, open questions and to-dos of an exported chat (JSON has
    key_points, decisions, open_questions, todos [{owner, task, due}])."""
    from chat_summary.chat import summarize_chat
    from chat_summary.config import ChatSettings
    from chat_summary.render import markdown_document, summary_json

    settings = current_settings()
    zone = ZoneInfo(settings.timezone)
    chat = ChatSettings.model_validate(settings.plugin_config("chat"))
    messages, zh, en = _select(_load(file, zone), since, last, zone)
    llm = None if mode is Mode.extractive else load_llm(settings)
    try:
        with Progress(
            TextColumn("{task.description:<20}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=errors,
        ) as progress:
            task = progress.add_task("summarizing", total=100)
            summary = summarize_chat(
                llm,
                messages,
                language=language,
                mode=mode.value,
                budget_tokens=chat.model_budget_tokens,
                busy_queue=10**6,
                progress=lambda _, percent: progress.update(task, completed=percent),
            )
    finally:
        if llm is not None:
            llm.close()
    window = zh if summary.language == "zh" else en
    if format is SummaryFormat.json:
        output = json.dumps(summary_json(summary, window=window), ensure_ascii=False, indent=2)
    else:
        output = markdown_document(summary, window=window, conversation_title=file.stem)
    if summary.method == "extractive":
        errors.print(f"note: extractive summary ({summary.reason})", highlight=False)
    if out is None:
        sys.stdout.write(output if output.endswith("\n") else output + "\n")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(output, encoding="utf-8")
    errors.print(f"wrote {out}", highlight=False)


@chat_app.command("import")
def import_chat(
    file: FileArg,
    conversation: Annotated[str, typer.Option(help="The conversation id to store it under.")],
    tenant: Annotated[str, typer.Option(help="The tenant key.")] = "default",
    platform: Annotated[str, typer.Option(help="The platform of the conversation.")] = "dingtalk",
) -> None:
    """Store an exported chat in the bot's history (running the same file again adds nothing)."""
    settings = current_settings()
    zone = ZoneInfo(settings.timezone)
    messages = _load(file, zone)
    result = asyncio.run(_import(settings, messages, tenant, conversation, platform))
    errors.print(
        f"imported {result.imported} message(s) into {conversation} ({result.duplicates} "
        "already stored)",
        highlight=False,
    )


async def _import(
    settings: Any, messages: list[ChatMessage], tenant: str, conversation: str, platform: str
) -> Any:
    from bot.errors import OfficebotError
    from bot.history import MessageHistory
    from bot.storage.database import make_engine, upgrade
    from bot.storage.messages import MessageWriter
    from plugins.builtin.chat import to_imported

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    await asyncio.to_thread(upgrade, engine)
    writer = MessageWriter(engine)
    try:
        return await MessageHistory(engine, writer).import_messages(
            tenant,
            conversation,
            to_imported(messages),
            platform=platform,
        )
    except OfficebotError as exc:
        raise fail(exc.message) from None
    finally:
        engine.dispose()
