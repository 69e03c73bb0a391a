"""The talk-time chart: one horizontal bar per speaker, most talkative first, with the speaker's
name, talk time and share, as PNG bytes (Pillow).

Names are often Chinese, so the chart needs a font with CJK glyphs. ``find_cjk_font`` asks
fontconfig (``fc-list :lang=zh``) and knows where Debian's CJK font packages put their files;
officebot's set-up installs ``fonts-wqy-microhei`` (scripts/debian-packages.txt). Without one the
chart still renders, with Pillow's own font (CJK names then show as boxes) and a warning.
"""

from __future__ import annotations

import functools
import io
import logging
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from meeting.report import SpeakerStat, by_talk_time, format_clock, percent

log = logging.getLogger(__name__)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

PALETTE = ("#3370FF", "#34C724", "#FF8800", "#7F3BF5", "#F54A45", "#14C0FF", "#FFC60A", "#8F959E")
TEXT_COLOUR = "#1F2329"
MUTED_COLOUR = "#646A73"
TRACK_COLOUR = "#EFF0F1"

# Preferred families first: Simplified Chinese glyph shapes, then any CJK font.
_PREFERRED_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans SC",
    "Droid Sans Fallback",
)
_KNOWN_FILES = (
    # Debian/Ubuntu packages: fonts-noto-cjk, fonts-wqy-microhei, fonts-wqy-zenhei,
    # fonts-droid-fallback
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
)
_NOTO_CJK_SC_INDEX = 2  # the .ttc holds JP, KR, SC, TC, HK in that order


@dataclass(frozen=True, slots=True)
class FontFile:
    path: Path
    index: int = 0
    """The face within a font collection (.ttc)."""


def _fontconfig_fonts() -> list[tuple[FontFile, str]]:
    """(file, family) of every font fontconfig says covers Chinese, Simplified first."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    found: list[tuple[FontFile, str]] = []
    for lang in ("zh-cn", "zh"):
        try:
            listing = subprocess.run(
                [fc_list, "--format", "%{file}\t%{index}\t%{family}\n", f":lang={lang}"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            log.debug("fc-list failed: %s", exc)
            return found
        for line in listing.splitlines():
            file, _, rest = line.partition("\t")
            index, _, family = rest.partition("\t")
            if file and index.isdigit():
                found.append((FontFile(Path(file), int(index)), family))
    return found


@functools.cache
def find_cjk_font() -> FontFile | None:
    """A font file with Chinese glyphs on this machine, or None. Found once per process."""
    fonts = _fontconfig_fonts()

    def rank(entry: tuple[FontFile, str]) -> int:
        families = [name.strip() for name in entry[1].split(",")]
        for position, preferred in enumerate(_PREFERRED_FAMILIES):
            if preferred in families:
                return position
        return len(_PREFERRED_FAMILIES)

    for font, _ in sorted(fonts, key=rank):
        if font.path.is_file() and "mono" not in font.path.name.lower():
            return font
    for path in _KNOWN_FILES:
        if path.is_file():
            index = _NOTO_CJK_SC_INDEX if path.name.startswith("NotoSansCJK") else 0
            return FontFile(path, index)
    return None


@functools.cache
def _warn_no_cjk_font() -> None:
    log.warning(
        "no font with Chinese glyphs found (fc-list :lang=zh is empty); the talk-time chart "
        "uses Pillow's default font, so CJK names show as boxes. Install fonts-wqy-microhei "
        "(or fonts-noto-cjk)."
    )


def load_font(size: int, font: FontFile | str | Path | None = None) -> Font:
    """The chart font at ``size`` pixels: ``font`` if given, else a CJK font of the system,
    else Pillow's default font (with a warning, once)."""
    chosen = FontFile(Path(font)) if isinstance(font, str | Path) else font or find_cjk_font()
    if chosen is not None:
        try:
            return ImageFont.truetype(str(chosen.path), size, index=chosen.index)
        except OSError as exc:
            log.warning("cannot load font %s: %s; using Pillow's default font", chosen.path, exc)
    else:
        _warn_no_cjk_font()
    return ImageFont.load_default(size)


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
