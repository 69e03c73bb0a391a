"""The talk-time chart: one horizontal bar per speaker, most talkative first, with the speaker's
name, talk time and share, as PNG bytes (Pillow).

Names are often Chinese, so the chart draws with a CJK font (``docs_gen.fonts``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from docs_gen.fonts import Font, FontFile, load_font
from meeting.report import SpeakerStat, by_talk_time, format_clock, percent

PALETTE = ("#3370FF", "#34C724", "#FF8800", "#7F3BF5", "#F54A45", "#14C0FF", "#FFC60A", "#8F959E")
TEXT_COLOUR = "#1F2329"
MUTED_COLOUR = "#646A73"
TRACK_COLOUR = "#EFF0F1"


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Font, width: float) -> str:
    """``text`` shortened with an ellipsis until it is at most ``width`` pixels wide."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _text(
    draw: ImageDraw.ImageDraw,
    at: tuple[float, float],
    text: str,
    font: Font,
    fill: str,
    *,
    right: bool = False,
) -> None:
    """``text`` centred vertically on ``at``, starting there (or ending there, ``right``).
    Placed by its bounding box, since anchors need FreeType and the fallback font may not."""
    left, top, end, bottom = draw.textbbox((0, 0), text, font=font)
    x = at[0] - (end if right else left)
    y = at[1] - (top + bottom) / 2
    draw.text((x, y), text, font=font, fill=fill)


def talk_time_chart(
    speakers: Sequence[SpeakerStat],
    *,
    width: int = 1200,
    font: FontFile | str | Path | None = None,
    hours: bool = False,
) -> bytes:
    """PNG bytes: a bar per speaker (most talkative first), the name on the left, the talk
    time and share after the bar. ``hours`` writes talk times as H:MM:SS."""
    if not speakers:
        raise ValueError("a talk-time chart needs at least one speaker")
    if width < 400:
        raise ValueError(f"a talk-time chart needs a width of at least 400 pixels, got {width}")
    rows = by_talk_time(speakers)
    scale = width / 1200
    row_height = round(64 * scale)
    bar_height = round(36 * scale)
    margin = round(32 * scale)
    text_font = load_font(round(28 * scale), font)
    height = 2 * margin + row_height * len(rows)

    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    name_width = min(max(draw.textlength(stat.name, font=text_font) for stat in rows), width * 0.3)
    value_width = draw.textlength("0:00:00 · 100%", font=text_font)
    bar_left = margin + name_width + round(20 * scale)
    bar_space = max(1.0, width - margin - value_width - round(16 * scale) - bar_left)
    longest = max(stat.talk_time for stat in rows) or 1.0

    for row, stat in enumerate(rows):
        top = margin + row * row_height
        middle = top + row_height / 2
        name = _fit(draw, stat.name, text_font, name_width)
        _text(draw, (margin + name_width, middle), name, text_font, TEXT_COLOUR, right=True)
        bar_top, bar_bottom = middle - bar_height / 2, middle + bar_height / 2
        draw.rectangle((bar_left, bar_top, bar_left + bar_space, bar_bottom), fill=TRACK_COLOUR)
        bar_right = bar_left + bar_space * stat.talk_time / longest
        if bar_right > bar_left:
            colour = PALETTE[row % len(PALETTE)]
            draw.rectangle((bar_left, bar_top, bar_right, bar_bottom), fill=colour)
        value = f"{format_clock(stat.talk_time, hours=hours)} · {percent(stat.share)}"
        _text(
            draw, (bar_left + bar_space + round(16 * scale), middle), value, text_font, MUTED_COLOUR
        )

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
