"""Fonts with Chinese glyphs for everything officebot draws (charts, posters, diagrams).

``find_cjk_font`` asks fontconfig (``fc-list :lang=zh``) and knows where Debian's CJK font
packages put their files; officebot's set-up installs ``fonts-wqy-microhei``
(scripts/debian-packages.txt). Without one, drawing still works with Pillow's own font (CJK text
then shows as boxes) and a warning.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

log = logging.getLogger(__name__)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

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
        "no font with Chinese glyphs found (fc-list :lang=zh is empty); drawings use "
        "Pillow's default font, so Chinese text shows as boxes. Install fonts-wqy-microhei "
        "(or fonts-noto-cjk)."
    )


def load_font(size: int, font: FontFile | str | Path | None = None) -> Font:
    """A font at ``size`` pixels: ``font`` if given, else a CJK font of the system,
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
