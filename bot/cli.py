"""The ``officebot`` command line."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.cli_chat import chat_app
from bot.cli_docs import doc_app
from bot.cli_meeting import meeting_app
from bot.cli_miniapp import miniapp_command
from bot.cli_support import console, current_settings, errors, fail, guard, load_llm
from bot.errors import OfficebotError
from bot.settings import Settings

app = typer.Typer(
    name="officebot",
    help="Self-hosted office assistant for team chat (DingTalk first).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
jobs_app = typer.Typer(help="Background jobs: list, show, watch.", invoke_without_command=True)
app.add_typer(jobs_app, name="jobs")
llm_app = typer.Typer(help="The shared local model: ask, verify, bench.", no_args_is_help=True)
app.add_typer(llm_app, name="llm")
app.add_typer(meeting_app, name="meeting")
app.add_typer(chat_app, name="chat")
app.add_typer(doc_app, name="doc")
app.command("miniapp")(miniapp_command)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings).")] = None,
) -> None:
    """Run the bot server (webhooks, API, workers, scheduler)."""
    import uvicorn

    from bot.app import create_app

    settings = current_settings()
    _configure_logging(settings.log_level)
    application = guard(lambda: create_app(settings))
    uvicorn.run(
        application,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,
    )


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (serve does this at start, too)."""
    from bot.storage.database import make_engine, upgrade

    settings = current_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    console.print("database is up to date")


@app.command()
def plugins() -> None:
    """List the plugins that load, their commands, and the ones that failed."""
    from bot.registry import PluginRegistry

    settings = current_settings()
    logging.disable(logging.ERROR)
    registry = PluginRegistry(settings)
    registry.discover()
    logging.disable(logging.NOTSET)
    table = Table(title="loaded plugins")
    for column in ("plugin", "version", "from", "commands", "schedules", "job kinds"):
        table.add_column(column)
    for loaded in registry.loaded:
        plugin = loaded.plugin
        table.add_row(
            plugin.name,
            plugin.version,
            loaded.distribution or loaded.source,
            " ".join("/" + "|/".join((c.name, *c.aliases)) for c in plugin.commands) or "-",
            " ".join(s.name for s in plugin.schedules) or "-",
            " ".join(k.kind for k in plugin.job_kinds) or "-",
        )
    console.print(table)
    for failed in registry.failed:
        errors.print(
            f"[yellow]skipped[/] {failed.name} ({failed.source}): {failed.error}", highlight=False
        )


@app.command()
def schedules() -> None:
    """List the schedules plugins declare and the ones stored in the database."""
    from bot.registry import PluginRegistry
    from bot.scheduler import stored_schedules
    from bot.storage.database import make_engine, upgrade

    settings = current_settings()
    logging.disable(logging.ERROR)
    registry = PluginRegistry(settings)
    registry.discover()
    logging.disable(logging.NOTSET)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    stored = {view.id: view for view in stored_schedules(engine, settings.timezone)}
    table = Table(title=f"schedules ({settings.timezone})")
    for column in ("id", "cron", "next run", "what"):
        table.add_column(column)
    shown = set()
    for loaded, schedule in registry.schedules():
        job_id = f"{loaded.plugin.name}:{schedule.name}"
        view = stored.get(job_id)
        shown.add(job_id)
        next_run = (
            view.next_run.isoformat(" ", "minutes")
            if view and view.next_run
            else ("at next start" if schedule.cron else "added at run time")
        )
        table.add_row(job_id, schedule.cron or "-", next_run, schedule.summary)
    for job_id, view in stored.items():
        if job_id not in shown:
            next_run = view.next_run.isoformat(" ", "minutes") if view.next_run else "paused"
            table.add_row(job_id, view.cron, next_run, "added at run time")
    console.print(table)


StateOption = Annotated[
    str | None, typer.Option(help="Only this state: queued, running, succeeded, failed.")
]
LimitOption = Annotated[int, typer.Option(min=1, max=1000)]


@jobs_app.callback()
def jobs_default(ctx: typer.Context, state: StateOption = None, limit: LimitOption = 20) -> None:
    """List recent jobs (newest first); same as 'jobs list'."""
    if ctx.invoked_subcommand is None:
        jobs_list(state, limit)


@jobs_app.command("list")
def jobs_list(state: StateOption = None, limit: LimitOption = 20) -> None:
    """List recent jobs (newest first)."""
    from bot.jobs import STATES

    if state is not None and state not in STATES:
        raise fail(f"unknown state {state!r}; use one of: {', '.join(STATES)}", 2)
    store = _job_store()
    table = Table(title="jobs")
    for column in ("id", "kind", "state", "stage", "%", "created", "error"):
        table.add_column(column)
    for job in store.list(state=state, limit=limit):
        table.add_row(
            job.id,
            job.kind,
            job.state,
            job.stage or "",
            f"{job.percent:.0f}",
            job.created_at.isoformat(" ", "seconds"),
            (job.error or "")[:60],
        )
    console.print(table)


@jobs_app.command("show")
def jobs_show(job_id: str) -> None:
    """Show one job as JSON."""
    import json

    store = _job_store()
    view = guard(lambda: store.get(job_id))
    console.print_json(json.dumps(view.as_json(), ensure_ascii=False))


@jobs_app.command("watch")
def jobs_watch(
    job_id: str,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 3600,
) -> None:
    """Follow a job's stage and percent with a progress bar until it finishes."""
    store = _job_store()
    view = guard(lambda: store.get(job_id))
    deadline = time.monotonic() + timeout
    with Progress(
        TextColumn("[bold]{task.fields[stage]}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(view.kind, total=100, stage=view.stage or view.state)
        while view.state in ("queued", "running") and time.monotonic() < deadline:
            progress.update(task, completed=view.percent, stage=view.stage or view.state)
            time.sleep(0.5)
            view = store.get(job_id)
        progress.update(task, completed=view.percent, stage=view.stage or view.state)
    if view.state == "failed":
        raise fail(f"job failed: {view.error}")
    if view.state != "succeeded":
        raise fail(f"job still {view.state} after {timeout:.0f} s")
    console.print(f"job {view.id} succeeded")


def _job_store() -> Any:
    from bot.jobs import JobStore
    from bot.storage.database import make_engine, upgrade

    settings = current_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    return JobStore(engine)


@app.command()
def send(
    text: Annotated[str, typer.Argument(help="Message text (Markdown with --title).")],
    title: Annotated[
        str | None, typer.Option(help="Send as Markdown with this title (shown in notifications).")
    ] = None,
    robot: Annotated[
        str | None, typer.Option(help="Robot name from OFFICEBOT_ROBOTS (default robot if unset).")
    ] = None,
    at: Annotated[
        list[str] | None, typer.Option(help="@-mention this user id (repeatable).")
    ] = None,
    at_mobile: Annotated[
        list[str] | None, typer.Option(help="@-mention by mobile number (repeatable).")
    ] = None,
    at_all: Annotated[bool, typer.Option(help="@-mention everyone.")] = False,
) -> None:
    """Post a message to a group through a DingTalk group robot."""
    from plugins.messages import MarkdownMessage, Mentions, OutgoingMessage, TextMessage

    mentions = Mentions(user_ids=tuple(at or ()), mobiles=tuple(at_mobile or ()), everyone=at_all)
    if not text.strip():
        raise fail("the message text is empty", 2)
    message: OutgoingMessage = (
        MarkdownMessage(title=title, text=text, mentions=mentions)
        if title
        else TextMessage(text=text, mentions=mentions)
    )
    settings = current_settings()
    result = guard(lambda: asyncio.run(_send(settings, message, robot)))
    if not result.sent:
        raise fail(
            f"not delivered after {result.attempts} attempt(s): {result.errmsg} "
            f"(errcode {result.errcode})"
        )
    console.print(f"sent (delivery {result.delivery_id}, {result.attempts} attempt(s))")


async def _send(settings: Settings, message: Any, robot: str | None) -> Any:
    from bot.sender import Sender
    from bot.storage.database import make_engine, upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    await asyncio.to_thread(upgrade, engine)
    sender = Sender(settings, engine)
    try:
        with console.status("sending..."):
            return await sender.send_to_robot(sender.robot(robot), message)
    finally:
        await sender.close()
        engine.dispose()


def _load_with_progress(model: Any) -> None:
    """Load the backend, showing weight assembly/verification as a progress bar."""
    from llm.errors import LLMError

    with console.status(f"loading {model.stats().model} ({model.stats().backend})..."):
        try:
            model.backend()
        except LLMError as exc:
            raise fail(exc.message) from None


@llm_app.command("ask")
def llm_ask(
    question: Annotated[str, typer.Argument(help="What to ask, in Chinese or English.")],
    max_tokens: Annotated[int, typer.Option(min=1, max=8192, help="Longest answer.")] = 512,
    raw: Annotated[bool, typer.Option(help="Send the question as is, without the prompt.")] = False,
) -> None:
    """Ask the shared model a question; the answer streams as it is generated."""
    from llm.errors import LLMError
    from llm.prompts import detect_language, render
    from llm.types import GenerationOptions, user

    if not question.strip():
        raise fail("the question is empty", 2)
    settings = current_settings()
    model = load_llm(settings)
    messages = (
        [user(question)] if raw else render("ask", detect_language(question), question=question)
    )
    _load_with_progress(model)

    async def stream() -> Any:
        async for piece in model.stream(messages, options=GenerationOptions(max_tokens=max_tokens)):
            console.out(piece, end="", highlight=False)
        console.out("")

    try:
        asyncio.run(stream())
    except LLMError as exc:
        raise fail(exc.message) from None
    finally:
        model.close()


@llm_app.command("verify")
def llm_verify() -> None:
    """Re-hash the assembled weights against their pinned checksum; rebuild them when wrong."""
    from llm.errors import LLMError
    from llm.factory import model_cache_dir
    from llm.weights import ensure_weights, model_spec

    settings = current_settings()
    if settings.llm.backend == "openai":
        raise fail("the openai backend has no local weights to verify", 2)
    spec = model_spec(settings.llm.model)
    with Progress(
        TextColumn("[bold]{task.fields[stage]}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        console=console,
    ) as progress:
        task = progress.add_task(spec.name, total=100, stage="checking")

        def report(stage: str, percent: float) -> None:
            progress.update(task, completed=percent, stage=stage)

        try:
            path = ensure_weights(
                spec,
                model_cache_dir(settings.llm, settings.data_dir),
                verify=True,
                progress=report,
            )
        except LLMError as exc:
            raise fail(exc.message) from None
    console.print(f"{spec.name}: {path} matches sha256 {spec.sha256[:16]}...")


@llm_app.command("bench")
def llm_bench(
    repeat: Annotated[int, typer.Option(min=1, max=50, help="Repetitions per prompt.")] = 3,
    max_tokens: Annotated[int, typer.Option(min=8, max=1024, help="Tokens per answer.")] = 96,
) -> None:
    """Measure the configured model: prompt and generation tokens/s on fixed zh/en prompts.

    bench/llm.py compares the backends (and direct xllamacpp) in one run.
    """
    from llm.benchmark import measure, standard_prompts, summarise
    from llm.errors import LLMError

    settings = current_settings()
    model = load_llm(settings)
    _load_with_progress(model)
    prompts = standard_prompts(max_tokens)
    try:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            console=console,
        ) as progress:
            task = progress.add_task("measuring", total=repeat * len(prompts))
            results = []
            for _ in range(repeat):
                results += measure(model, prompts, 1)
                progress.advance(task, len(prompts))
    except LLMError as exc:
        raise fail(exc.message) from None
    finally:
        model.close()
    table = Table(title=f"{model.stats().backend} · {model.stats().model} (medians)")
    for column in (
        "prompt",
        "runs",
        "wall s",
        "prompt tok",
        "prompt tok/s",
        "gen tok",
        "gen tok/s",
    ):
        table.add_column(column)
    for row in summarise(results):
        table.add_row(
            row.prompt,
            str(row.runs),
            f"{row.wall_seconds:.2f}",
            str(row.prompt_tokens),
            f"{row.prompt_tokens_per_second:.1f}",
            str(row.completion_tokens),
            f"{row.generation_tokens_per_second:.1f}",
        )
    console.print(table)


def main() -> None:
    try:
        app()
    except OfficebotError as exc:
        errors.print(f"[bold red]error:[/] {exc.message}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
