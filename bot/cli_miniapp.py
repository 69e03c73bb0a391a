"""``officebot miniapp FILE --out DIR``: a sketch (or a spec.json) to a DingTalk mini-program on
this machine: DIR/spec.json, DIR/miniprogram/, DIR/preview.html, DIR/wireframe.png and
DIR/miniapp.zip."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from bot.cli_support import console, current_settings, errors, fail, load_llm, plugin_settings

if TYPE_CHECKING:
    from miniapp.config import MiniappSettings
    from miniapp.spec import UISpec


def _settings(settings: Any) -> MiniappSettings:
    from miniapp.config import MiniappSettings

    return plugin_settings(settings, "miniapp", MiniappSettings)


def _read_spec(path: Path) -> UISpec:
    from pydantic import ValidationError

    from miniapp.spec import UISpec

    try:
        return UISpec.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "spec"
        raise fail(f"{path} is not a valid spec: {where}: {first['msg']}", 2) from None


def _read_sketch(path: Path, settings: MiniappSettings, language: str | None) -> tuple[Any, Any]:
    from miniapp.image_in import ImageInputError, load_image
    from miniapp.understand import understand

    try:
        image = load_image(
            path.read_bytes(),
            max_bytes=settings.max_image_bytes,
            max_pixels=settings.max_image_pixels,
            filename=path.name,
        )
    except ImageInputError as exc:
        raise fail(exc.message, 2) from None
    return understand(image, language=language), image


def _named(spec: UISpec, settings: Any, use_model: bool, timeout_s: float) -> UISpec:
    from miniapp import assist

    if not use_model:
        return assist.heuristic_rules(spec)
    llm = load_llm(settings)
    try:
        return assist.suggest_fields(spec, llm, timeout_s=timeout_s)
    finally:
        llm.close()


def miniapp_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="A sketch (PNG, JPEG or WebP: a photo or screenshot of a hand-drawn screen), "
            "or a spec.json written earlier (to generate again after editing it)."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The directory to write into.")],
    edit: Annotated[
        list[str] | None,
        typer.Option(
            "--edit",
            "-e",
            help='An edit as in chat, applied in order before generating: "rename 2 提交申请", '
            '"type 3 select", "required 3", "options 3 事假/病假" (repeatable).',
        ),
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="A hint for the sketch's language (zh, en).")
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(help="Where the generated form submits (http(s) URL); default: the spec's."),
    ] = None,
    app_name: Annotated[str, typer.Option(help="The app's name (default: its title).")] = "",
    model: Annotated[
        bool | None,
        typer.Option(
            "--model/--no-model",
            help="Ask the shared model for field names and validation rules (default: "
            "OFFICEBOT_PLUGINS__MINIAPP__MODEL_NAMES); without it a keyword table names them.",
        ),
    ] = None,
) -> None:
    """Turn a sketch into a DingTalk mini-program: spec.json, miniprogram/, preview.html,
    wireframe.png and miniapp.zip in DIR."""
    from miniapp.bundle import bundle_files
    from miniapp.edits import apply_edits, parse_chat_edit
    from miniapp.spec import SpecError, outline, spec_language
    from miniapp.wireframe import wireframe_png

    if language not in (None, "zh", "en"):
        raise fail(f"--language {language!r}: use zh or en", 2)
    if not file.is_file():
        raise fail(f"{file}: no such file", 2)
    if out.exists() and not out.is_dir():
        raise fail(f"--out {out} exists and is not a directory", 2)
    settings = current_settings()
    miniapp = _settings(settings)
    logging.getLogger("RapidOCR").setLevel(logging.WARNING)  # its INFO lines are noise here
    use_model = miniapp.model_names if model is None else model
    with Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=errors,
    ) as progress:
        task = progress.add_task("reading the sketch", total=100)
        image = None
        if file.suffix.lower() == ".json":
            spec = _read_spec(file)
        else:
            spec, image = _read_sketch(file, miniapp, language)
        progress.console.print(f"  read: {len(spec.widgets)} widgets", highlight=False)
        progress.update(task, completed=40, description="applying edits")
        try:
            spec = apply_edits(spec, [parse_chat_edit(line) for line in edit or ()])
            if endpoint is not None:
                spec = apply_edits(spec, [parse_chat_edit(f"endpoint {endpoint}")])
        except SpecError as exc:
            raise fail(exc.message, 2) from None
        progress.update(
            task, completed=50, description="naming the fields" + (" (model)" if use_model else "")
        )
        spec = _named(spec, settings, use_model, miniapp.model_timeout_s)
        how = "the shared model" if use_model else "the keyword table"
        progress.console.print(f"  named the fields with {how}", highlight=False)
        progress.update(task, completed=85, description="generating the code")
        try:
            files = bundle_files(spec, app_name)
        except SpecError as exc:
            raise fail(exc.message, 2) from None
        wireframe = wireframe_png(spec, image.rgb if image is not None else None)
        progress.update(task, completed=100, description="done")
    out.mkdir(parents=True, exist_ok=True)
    for path, content in {**files, "wireframe.png": wireframe}.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    console.print(outline(spec, spec_language(spec)), highlight=False, markup=False)
    written = ["spec.json", "miniprogram/", "preview.html", "wireframe.png", "miniapp.zip"]
    errors.print(
        f"{len(spec.widgets)} widgets; wrote " + ", ".join(str(out / w) for w in written),
        highlight=False,
    )


__all__ = ["miniapp_command"]
