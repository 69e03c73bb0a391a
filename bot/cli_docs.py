"""``officebot doc ...``: draft a plan or proposal on this machine (.docx with the Markdown
beside it), draw a poster, list the kinds of documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from bot.cli_support import console, current_settings, errors, fail, load_llm, plugin_settings

doc_app = typer.Typer(
    help="Documents: draft event plans, meeting plans and workflow proposals; draw posters.",
    no_args_is_help=True,
)


def _docs_settings(settings: Any) -> Any:
    from docs_gen.config import DocsSettings

    return plugin_settings(settings, "docs", DocsSettings)


def _kinds(settings: Any) -> Any:
    from docs_gen.kind import DocumentKinds

    docs = _docs_settings(settings)
    return DocumentKinds([docs.templates_dir or settings.data_dir / "docs_templates"])


@doc_app.command("kinds")
def list_kinds() -> None:
    """The kinds of documents (custom ones from the templates directory included)."""
    registry = _kinds(current_settings())
    for kind in registry.all():
        sections = ", ".join(s.id for s in kind.spec.sections)
        origin = "built-in" if kind.builtin else f"custom ({kind.source.parent})"
        console.print(
            f"[bold]{kind.name}[/]  {kind.spec.title('zh')} / {kind.spec.title('en')}  "
            f"[dim]{origin}[/]\n  sections: {sections}",
            highlight=False,
        )
    for problem in registry.problems:
        errors.print(f"[yellow]skipped:[/] {problem}", highlight=False)


@doc_app.command("draft")
def draft(
    kind: Annotated[
        str, typer.Option(help="event-plan, meeting-plan, workflow, or a custom kind's name.")
    ],
    brief: Annotated[str, typer.Option(help='What the document is for, e.g. "200人年终总结会".')],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The .docx to write (the .md goes beside it).")
    ],
    language: Annotated[
        str | None, typer.Option(help="Force the language (zh, en); default: the brief's.")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Also write the document as data (FILE.json).")
    ] = False,
) -> None:
    """Draft a document from a brief with the shared model: FILE.docx and FILE.md."""
    from docs_gen.brief import read_brief
    from docs_gen.draft import Draft, draft_sections
    from docs_gen.errors import DocumentError
    from docs_gen.render import draft_json, render_document

    if out.suffix.lower() != ".docx":
        raise fail(f"--out {out}: give a .docx path (the Markdown is written beside it)", 2)
    if language not in (None, "zh", "en"):
        raise fail(f"--language {language!r}: use zh or en", 2)
    settings = current_settings()
    docs = _docs_settings(settings)
    try:
        chosen = _kinds(settings).get(kind)
        facts = read_brief(brief, language=language)  # type: ignore[arg-type]
    except DocumentError as exc:
        raise fail(exc.message, 2) from None
    llm = load_llm(settings)
    document = Draft(kind=chosen.name, language=facts.language, brief=facts.text)
    try:
        with Progress(
            TextColumn("{task.description:<24}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=errors,
        ) as progress:
            task = progress.add_task("loading the model", total=100)
            for spec in draft_sections(
                llm,
                chosen,
                facts,
                document,
                timeout=docs.section_timeout_s,
                progress=lambda stage, percent: progress.update(
                    task, completed=percent, description=f"writing {stage}"
                ),
            ):
                state = "failed" if spec.id in document.failed else "done"
                progress.console.print(f"  {spec.id}: {state}", highlight=False)
            progress.update(task, completed=100, description="rendering")
    finally:
        llm.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    markdown_path = out.with_suffix(".md")
    rendered = render_document(chosen, document, facts)
    markdown_path.write_text(rendered.markdown, encoding="utf-8")
    out.write_bytes(rendered.docx)
    written = [out, markdown_path]
    if json_out:
        data = draft_json(chosen, document, facts)
        out.with_suffix(".json").write_text(
            json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        written.append(out.with_suffix(".json"))
    for name, reason in document.failed.items():
        errors.print(f"[yellow]section {name} not written:[/] {reason}", highlight=False)
    errors.print("wrote " + ", ".join(str(p) for p in written), highlight=False)


@doc_app.command("poster")
def poster(
    out: Annotated[Path, typer.Option("--out", "-o", help="The .png to write.")],
    brief: Annotated[
        str | None, typer.Option(help="The event's brief; the model picks the poster's words.")
    ] = None,
    title: Annotated[str | None, typer.Option(help="The headline (instead of a brief).")] = None,
    subtitle: Annotated[str, typer.Option(help="A line under the headline.")] = "",
    date: Annotated[str, typer.Option(help='When, as it should read: "12月18日 14:00".')] = "",
    place: Annotated[str, typer.Option(help="Where.")] = "",
    highlight: Annotated[
        list[str] | None, typer.Option(help="A highlight (repeat, at most 4).")
    ] = None,
    organizer: Annotated[str, typer.Option(help="Who organizes it.")] = "",
    theme: Annotated[
        str | None, typer.Option(help="blue, orange, green, purple, red, dark (or 科技蓝 ...).")
    ] = None,
    language: Annotated[str | None, typer.Option(help="zh or en (default: detect).")] = None,
) -> None:
    """Draw an event poster: from a brief (through the model) or from the words given."""
    from docs_gen.errors import DocumentError
    from docs_gen.poster import PosterError, PosterSpec, resolve_theme
    from docs_gen.poster_words import poster_spec_from_brief
    from llm.prompts import detect_language
    from plugins.builtin.docs import poster_backend

    if (brief is None) == (title is None):
        raise fail("give either --brief or --title (with --date, --place, --highlight)", 2)
    if language not in (None, "zh", "en"):
        raise fail(f"--language {language!r}: use zh or en", 2)
    if out.suffix.lower() != ".png":
        raise fail(f"--out {out}: give a .png path", 2)
    settings = current_settings()
    docs = _docs_settings(settings)
    try:
        chosen_theme = resolve_theme(theme) if theme else None
        if brief is not None:
            llm = load_llm(settings)
            try:
                with console.status("the model is choosing the poster's words"):
                    spec = poster_spec_from_brief(
                        llm,
                        brief,
                        language=language,  # type: ignore[arg-type]
                        theme=chosen_theme,
                    )
            finally:
                llm.close()
        else:
            words = " ".join([title or "", subtitle, place, *(highlight or [])])
            spec = PosterSpec(
                title=title or "",
                subtitle=subtitle,
                date=date,
                place=place,
                highlights=tuple(highlight or ()),
                organizer=organizer,
                theme=chosen_theme or "blue",
                language=language or detect_language(words),  # type: ignore[arg-type]
            )
        if docs.poster_backend == "openai" and not settings.is_allowed_outbound(
            str(docs.images_base_url)
        ):
            raise fail(
                f"the images API {docs.images_base_url} is not an allowed host: add its host to "
                "OFFICEBOT_OUTBOUND_ALLOWED_HOSTS",
                2,
            )
        result = poster_backend(docs).create(spec)
    except (PosterError, DocumentError) as exc:
        raise fail(getattr(exc, "message", str(exc)), 2) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(result.png)
    errors.print(f"wrote {out} ({result.width}x{result.height}, {result.label})", highlight=False)
