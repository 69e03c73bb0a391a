"""The parsed screen as a picture for chat: what was read, numbered the way edits refer to it.

``wireframe_png(spec, image)`` draws two panels side by side: on the left the input picture
with every widget's box outlined and its number in a badge, on the right the screen as the
mini-program will lay it out (rows from the spec, one drawing per widget type, the same
numbers). Without the picture (a spec sent to the API) only the right panel is drawn.

The numbers are the widget ids that ``/miniapp rename 2 …`` uses, so a user can look at the
picture and type the edit. Text is drawn as text (never interpreted) and clipped to fit.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from docs_gen.fonts import Font, load_font
from miniapp.spec import TYPE_NAMES, UISpec, Widget, WidgetType, layout_rows, spec_language

PHONE_WIDTH = 375
MAX_PANEL_HEIGHT = 1400
MARGIN = 16
ROW_GAP = 10
INK = (38, 42, 51)
MUTED = (130, 136, 148)
LINE = (196, 201, 210)
FIELD = (247, 248, 250)
ACCENT = (22, 119, 255)
UNSURE = (230, 126, 34)
PANEL = (255, 255, 255)
BACKDROP = (236, 238, 242)

TYPE_COLOURS: dict[WidgetType, tuple[int, int, int]] = {
    "title": (111, 66, 193),
    "text": (108, 117, 125),
    "input": (22, 119, 255),
    "textarea": (13, 110, 253),
    "select": (32, 151, 135),
    "checkbox": (214, 51, 132),
    "radio": (232, 62, 140),
    "switch": (253, 126, 20),
    "date": (25, 135, 84),
    "button": (220, 53, 69),
    "list": (102, 16, 242),
    "image": (173, 181, 189),
    "tabbar": (52, 58, 64),
}


@dataclass(frozen=True)
class _Fonts:
    title: Font
    body: Font
    small: Font
    badge: Font


def _fonts() -> _Fonts:
    return _Fonts(load_font(20), load_font(15), load_font(12), load_font(12))


def _text_width(font: Font, text: str) -> float:
    return float(font.getlength(text))


def _fit(font: Font, text: str, width: float) -> str:
    """``text`` shortened with an ellipsis to fit ``width`` pixels."""
    if _text_width(font, text) <= width:
        return text
    while text and _text_width(font, text + "…") > width:
        text = text[:-1]
    return text + "…" if text else ""


def _badge(
    draw: ImageDraw.ImageDraw, x: float, y: float, number: int, colour: Any, font: Font
) -> None:
    text = str(number)
    radius = max(9.0, _text_width(font, text) / 2 + 5)
    draw.ellipse((x - radius, y - 9, x + radius, y + 9), fill=colour)
    draw.text((x, y), text, fill=(255, 255, 255), font=font, anchor="mm")


# --- left: the input, annotated ---------------------------------------------------------------


def _annotated_input(
    image: npt.NDArray[np.uint8], spec: UISpec, height: int, fonts: _Fonts
) -> Image.Image:
    source = Image.fromarray(np.ascontiguousarray(image[:, :, :3])).convert("RGB")
    scale = min(height / source.height, 2.0 * PHONE_WIDTH / source.width)
    size = (max(1, round(source.width * scale)), max(1, round(source.height * scale)))
    picture = source.resize(size, Image.Resampling.LANCZOS)
    # boxes are in input-image pixels; a spec from elsewhere may describe another size
    sx = size[0] / spec.image.width
    sy = size[1] / spec.image.height
    draw = ImageDraw.Draw(picture)
    for widget in spec.widgets:
        x, y, w, h = widget.bbox
        if not w or not h:
            continue
        colour = TYPE_COLOURS[widget.type]
        box = (x * sx, y * sy, (x + w) * sx, (y + h) * sy)
        draw.rectangle(box, outline=colour, width=2)
        _badge(draw, box[0] + 2, box[1] + 2, widget.id, colour, fonts.badge)
    return picture


# --- right: the screen as the app lays it out -------------------------------------------------


def _widget_height(widget: Widget, width: float) -> int:
    kind = widget.type
    if kind == "title":
        return 34
    if kind == "text":
        return 24
    if kind in ("textarea", "image"):
        return 88
    if kind == "list":
        return 16 + 30 * max(1, min(4, len(widget.options) or 3))
    if kind == "radio":
        return 26 + 24 * max(1, min(4, len(widget.options) or 2))
    if kind in ("checkbox", "switch", "button"):
        return 40
    return 58  # label above a field


def _draw_widget(
    draw: ImageDraw.ImageDraw,
    widget: Widget,
    box: tuple[float, float, float, float],
    fonts: _Fonts,
    language: str,
) -> None:
    left, top, right, bottom = box
    width = right - left
    kind = widget.type
    label = widget.label
    type_name = TYPE_NAMES["zh" if language == "zh" else "en"][kind]

    def field_box(y0: float) -> tuple[float, float, float, float]:
        return (left, y0, right, bottom)

    if kind == "title":
        draw.text(
            (left, top + 4),
            _fit(fonts.title, label or type_name, width),
            fill=INK,
            font=fonts.title,
        )
    elif kind == "text":
        draw.text(
            (left, top + 3),
            _fit(fonts.body, label or type_name, width),
            fill=MUTED,
            font=fonts.body,
        )
    elif kind in ("input", "select", "date", "textarea"):
        draw.text(
            (left, top),
            _fit(fonts.small, (label or type_name) + (" *" if widget.required else ""), width),
            fill=INK,
            font=fonts.small,
        )
        frame = field_box(top + 18)
        draw.rounded_rectangle(frame, radius=5, fill=FIELD, outline=LINE)
        hint = widget.placeholder or (
            widget.options[0] if kind == "select" and widget.options else ""
        )
        if hint:
            draw.text(
                (frame[0] + 8, frame[1] + 10),
                _fit(fonts.small, hint, width - 40),
                fill=MUTED,
                font=fonts.small,
            )
        if kind == "select":
            cx, cy = frame[2] - 14, frame[1] + 19
            draw.line((cx - 5, cy - 3, cx, cy + 2, cx + 5, cy - 3), fill=MUTED, width=2)
        elif kind == "date":
            cx, cy = frame[2] - 16, frame[1] + 19
            draw.rectangle((cx - 6, cy - 6, cx + 6, cy + 6), outline=MUTED, width=1)
            draw.line((cx - 6, cy - 2, cx + 6, cy - 2), fill=MUTED)
    elif kind == "checkbox":
        draw.rectangle((left, top + 12, left + 16, top + 28), outline=INK, width=2)
        draw.text(
            (left + 24, top + 12),
            _fit(fonts.body, label or type_name, width - 24),
            fill=INK,
            font=fonts.body,
        )
    elif kind == "radio":
        draw.text(
            (left, top), _fit(fonts.small, label or type_name, width), fill=INK, font=fonts.small
        )
        for index, option in enumerate((widget.options or ("…",))[:4]):
            y = top + 22 + 24 * index
            draw.ellipse((left, y + 2, left + 14, y + 16), outline=INK, width=2)
            draw.text(
                (left + 22, y), _fit(fonts.small, option, width - 22), fill=INK, font=fonts.small
            )
    elif kind == "switch":
        draw.text(
            (left, top + 12),
            _fit(fonts.body, label or type_name, width - 56),
            fill=INK,
            font=fonts.body,
        )
        draw.rounded_rectangle((right - 44, top + 10, right, top + 32), radius=11, fill=LINE)
        draw.ellipse((right - 42, top + 12, right - 24, top + 30), fill=PANEL)
    elif kind == "button":
        draw.rounded_rectangle((left, top + 2, right, bottom - 2), radius=6, fill=ACCENT)
        draw.text(
            ((left + right) / 2, (top + bottom) / 2),
            _fit(fonts.body, label or type_name, width - 12),
            fill=(255, 255, 255),
            font=fonts.body,
            anchor="mm",
        )
    elif kind == "list":
        if label:
            draw.text((left, top), _fit(fonts.small, label, width), fill=INK, font=fonts.small)
        for index, item in enumerate((widget.options or ("…", "…", "…"))[:4]):
            y = top + 16 + 30 * index
            draw.line((left, y + 28, right, y + 28), fill=LINE)
            draw.text(
                (left + 4, y + 7), _fit(fonts.small, item, width - 8), fill=INK, font=fonts.small
            )
    elif kind == "image":
        draw.rectangle((left, top, right, bottom), fill=FIELD, outline=LINE)
        draw.line((left, top, right, bottom), fill=LINE)
        draw.line((left, bottom, right, top), fill=LINE)
        if label:
            draw.text(
                ((left + right) / 2, (top + bottom) / 2),
                _fit(fonts.small, label, width - 8),
                fill=MUTED,
                font=fonts.small,
                anchor="mm",
            )


def _tabbar(
    draw: ImageDraw.ImageDraw, widget: Widget, top: float, width: int, fonts: _Fonts
) -> None:
    draw.line((0, top, width, top), fill=LINE)
    tabs = widget.options or (widget.label or "…",)
    cell = width / len(tabs)
    for index, tab in enumerate(tabs):
        colour = ACCENT if index == 0 else MUTED
        draw.text(
            (cell * (index + 0.5), top + 22),
            _fit(fonts.small, tab, cell - 6),
            fill=colour,
            font=fonts.small,
            anchor="mm",
        )
    _badge(draw, 14, top + 8, widget.id, TYPE_COLOURS["tabbar"], fonts.badge)


def _phone(spec: UISpec, fonts: _Fonts) -> Image.Image:
    language = spec_language(spec)
    tabbars = [w for w in spec.widgets if w.type == "tabbar"]
    rows = layout_rows([w for w in spec.widgets if w.type != "tabbar"])
    inner = PHONE_WIDTH - 2 * MARGIN - 14  # room for the badges on the left
    heights = [max(_widget_height(w, inner) for w in row) for row in rows]
    header = 44
    height = header + sum(heights) + ROW_GAP * len(rows) + MARGIN + 46 * len(tabbars)
    phone = Image.new("RGB", (PHONE_WIDTH, max(200, height)), PANEL)
    draw = ImageDraw.Draw(phone)
    title = spec.page.title or next((w.label for w in spec.widgets if w.type == "title"), "")
    draw.rectangle((0, 0, PHONE_WIDTH, header - 8), fill=(246, 247, 249))
    draw.text(
        (PHONE_WIDTH / 2, (header - 8) / 2),
        _fit(fonts.body, title, PHONE_WIDTH - 40),
        fill=INK,
        font=fonts.body,
        anchor="mm",
    )
    y = float(header)
    for row, row_height in zip(rows, heights, strict=True):
        gap = 8
        cell = (inner - gap * (len(row) - 1)) / len(row)
        for index, widget in enumerate(row):
            left = MARGIN + 14 + index * (cell + gap)
            box = (left, y, left + cell, y + _widget_height(widget, cell))
            _draw_widget(draw, widget, box, fonts, language)
            colour = UNSURE if widget.confidence < 0.5 else TYPE_COLOURS[widget.type]
            _badge(draw, left - 12, y + 9, widget.id, colour, fonts.badge)
        y += row_height + ROW_GAP
    for widget in tabbars:
        _tabbar(draw, widget, y + MARGIN / 2, PHONE_WIDTH, fonts)
        y += 46
    return phone


def wireframe_png(spec: UISpec, image: npt.NDArray[np.uint8] | None = None) -> bytes:
    """The parsed screen (and, given the input picture, the picture annotated) as PNG bytes."""
    fonts = _fonts()
    phone = _phone(spec, fonts)
    panels: Sequence[Image.Image] = [phone]
    if image is not None and image.size:
        panels = [_annotated_input(image, spec, min(phone.height, MAX_PANEL_HEIGHT), fonts), phone]
    height = max(p.height for p in panels) + 2 * MARGIN
    if height > MAX_PANEL_HEIGHT + 2 * MARGIN:
        # a very long screen: shrink the whole picture rather than cut it off
        panels = [
            p.resize((max(1, p.width * MAX_PANEL_HEIGHT // p.height), MAX_PANEL_HEIGHT))
            if p.height > MAX_PANEL_HEIGHT
            else p
            for p in panels
        ]
        height = MAX_PANEL_HEIGHT + 2 * MARGIN
    width = sum(p.width for p in panels) + MARGIN * (len(panels) + 1)
    canvas = Image.new("RGB", (width, height), BACKDROP)
    x = MARGIN
    for panel in panels:
        canvas.paste(panel, (x, MARGIN))
        x += panel.width + MARGIN
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
