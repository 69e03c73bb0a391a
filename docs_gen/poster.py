"""Event posters (文生图): a designed poster laid out locally, or a picture from an images API.

Two backends turn a ``PosterSpec`` into a ``Poster``:

* ``RenderedPosterBackend``, the default, lays the poster out with Pillow: a theme gradient,
  geometric shapes placed from a seed taken from the title (the same spec gives the same bytes),
  the title as large as fits in three lines, a panel with date and place, the highlights as
  numbered rows, the organizer, and a footer saying it is a rendered poster. No model draws
  anything, so every word on it is exactly what was asked for.
* ``OpenAIImagesBackend`` asks an OpenAI-compatible ``/images/generations`` endpoint, for sites
  that have one. What comes back is bounded (time, bytes, pixels), checked to be a real PNG,
  JPEG or WebP, and re-encoded as PNG.

Every ``Poster`` carries a ``label`` saying which of the two it is: show it with the picture, so
that nobody takes a layout for AI art or a generated picture for a checked one.

Text goes on the poster as written, less control and format characters (they draw as boxes or
reorder text) and with whitespace runs as one space. Text longer than its limit
(``TITLE_MAX_CHARS`` and the others below) is refused with a ``PosterError`` that names the
limit, rather than cut: a poster with half a title is worse than a request to shorten it.

Both backends block on CPU or network: call them from a worker thread, not an event loop.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import io
import json
import logging
import random
import re
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import httpx
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from docs_gen.errors import DocumentError
from docs_gen.fonts import Font, FontFile, load_font

log = logging.getLogger(__name__)

Language = Literal["zh", "en"]
RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]
"""left, top, right, bottom in pixels (right and bottom exclusive)."""

TITLE_MAX_CHARS = 60
SUBTITLE_MAX_CHARS = 80
DATE_MAX_CHARS = 40
PLACE_MAX_CHARS = 60
ORGANIZER_MAX_CHARS = 40
HIGHLIGHT_MAX_CHARS = 40
MAX_HIGHLIGHTS = 4
TITLE_MAX_LINES = 3
MIN_SIDE = 480
MAX_SIDE = 4096
DEFAULT_THEME = "blue"

RENDERED_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "zh": "排版海报（本地渲染，非 AI 生成图片）",
        "en": "Rendered poster (laid out locally, not a generated picture)",
    }
)


def generated_label(model: str, language: Language) -> str:
    """The label of a picture an images API generated with ``model``."""
    return f"AI 生成图片（{model}）" if language == "zh" else f"Generated picture ({model})"


class PosterError(DocumentError, ValueError):
    """A poster cannot be made; the message says what was wrong and what is accepted."""

    code = "docs_poster"


# --- the request -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PosterSpec:
    """What goes on a poster. ``theme`` is a key of ``THEMES`` or an alias (``科技蓝``)."""

    title: str
    subtitle: str = ""
    date: str = ""
    """As written, e.g. "2026年12月18日 14:00" or "Fri 18 Dec, 2pm"."""
    place: str = ""
    highlights: tuple[str, ...] = ()
    """Up to ``MAX_HIGHLIGHTS`` short lines."""
    organizer: str = ""
    theme: str = DEFAULT_THEME
    language: Language = "zh"


@dataclass(frozen=True, slots=True)
class Poster:
    png: bytes = field(repr=False)
    width: int
    height: int
    source: Literal["rendered", "generated"]
    backend: str
    """"local", or the images API's model name."""
    label: str
    """Says whether this is a rendered layout or a generated picture; show it with the image."""


class PosterBackend(Protocol):
    name: str

    def create(self, spec: PosterSpec) -> Poster:
        """The poster for ``spec``; raises ``PosterError`` with a message for the user."""
        ...


# --- themes ------------------------------------------------------------------------------------


def _rgb(hex_colour: str) -> RGB:
    value = int(hex_colour.removeprefix("#"), 16)
    return (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF


@dataclass(frozen=True, slots=True)
class Theme:
    """The colours of a poster. Each text colour is chosen for contrast with what it sits on:
    ``ink`` and ``ink_soft`` on the background and the chips, ``panel_ink`` and
    ``panel_muted`` on the panel, ``accent_ink`` on the accent."""

    top: RGB
    bottom: RGB
    ink: RGB
    ink_soft: RGB
    accent: RGB
    accent_ink: RGB
    accent2: RGB
    chip: RGB
    panel: RGB
    panel_ink: RGB
    panel_muted: RGB
    name_zh: str
    palette_en: str
    """The colours in words, for an image-generation prompt."""
    palette_zh: str


def _theme(name_zh: str, palette_en: str, palette_zh: str, colours: str) -> Theme:
    """A theme from its names and its colours in ``Theme``'s field order."""
    (
        top,
        bottom,
        ink,
        ink_soft,
        accent,
        accent_ink,
        accent2,
        chip,
        panel,
        panel_ink,
        panel_muted,
    ) = (_rgb(colour) for colour in colours.split())
    return Theme(
        top=top,
        bottom=bottom,
        ink=ink,
        ink_soft=ink_soft,
        accent=accent,
        accent_ink=accent_ink,
        accent2=accent2,
        chip=chip,
        panel=panel,
        panel_ink=panel_ink,
        panel_muted=panel_muted,
        name_zh=name_zh,
        palette_en=palette_en,
        palette_zh=palette_zh,
    )


THEMES: Mapping[str, Theme] = MappingProxyType(
    {
        # top bottom | ink ink_soft | accent accent_ink accent2 | chip | panel ink muted
        "blue": _theme(
            "科技蓝",
            "deep navy to royal blue with sky-blue accents",
            "深蓝到宝蓝，天蓝色点缀",
            "#0B2E6B #1D4ED8  #FFFFFF #DBEAFE  #38BDF8 #082F49 #A5F3FC  #1E3A8A"
            "  #FFFFFF #0F172A #475569",
        ),
        "orange": _theme(
            "活力橙",
            "burnt orange with peach and warm yellow accents",
            "焦橙色，桃色与暖黄色点缀",
            "#7C2D12 #C2410C  #FFFFFF #FFF7ED  #FDBA74 #431407 #FDE68A  #9A3412"
            "  #FFF7ED #431407 #9A3412",
        ),
        "green": _theme(
            "清新绿",
            "deep emerald with mint and soft yellow accents",
            "深翠绿，薄荷绿与浅黄色点缀",
            "#064E3B #047857  #FFFFFF #D1FAE5  #6EE7B7 #022C22 #FDE68A  #065F46"
            "  #F0FDF4 #052E16 #166534",
        ),
        "purple": _theme(
            "典雅紫",
            "deep violet with orchid and lavender accents",
            "深紫罗兰，兰花紫与薰衣草色点缀",
            "#2E1065 #6D28D9  #FFFFFF #EDE9FE  #F0ABFC #3B0764 #C4B5FD  #4C1D95"
            "  #FAF5FF #2E1065 #6B21A8",
        ),
        "red": _theme(
            "喜庆红",
            "festive crimson with gold accents",
            "喜庆的中国红，金色点缀",
            "#7F1D1D #B91C1C  #FFFFFF #FEE2E2  #FACC15 #422006 #FDE68A  #991B1B"
            "  #FFFBEB #450A0A #92400E",
        ),
        "dark": _theme(
            "暗夜",
            "near-black slate with cyan and violet neon accents",
            "近黑的深石板色，青色与紫色霓虹点缀",
            "#020617 #1E293B  #F8FAFC #CBD5E1  #22D3EE #083344 #A78BFA  #334155"
            "  #F1F5F9 #0F172A #475569",
        ),
    }
)

THEME_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        **{theme.name_zh: key for key, theme in THEMES.items()},
        **{f"{colour}色": key for colour, key in zip("蓝橙绿紫红黑", THEMES, strict=True)},
        **dict(zip("蓝橙绿紫红黑", THEMES, strict=True)),
        "深色": "dark",
        "中国红": "red",
    }
)


def available_themes() -> str:
    """The themes, for messages: ``blue (科技蓝), orange (活力橙), ...``."""
    return ", ".join(f"{key} ({theme.name_zh})" for key, theme in THEMES.items())


def resolve_theme(name: str) -> str:
    """The key in ``THEMES`` for a theme name or Chinese alias; blank means ``DEFAULT_THEME``."""
    wanted = name.strip()
    if not wanted:
        return DEFAULT_THEME
    if wanted.casefold() in THEMES:
        return wanted.casefold()
    if wanted in THEME_ALIASES:
        return THEME_ALIASES[wanted]
    raise PosterError(f"unknown poster theme {wanted[:40]!r}; available: {available_themes()}")


# --- checking the text -------------------------------------------------------------------------

_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Cn"})
_SPACES = re.compile(r" {2,}")


def clean_text(text: str) -> str:
    """``text`` as drawn: control, format and unassigned characters removed, every whitespace
    run one space, no space at either end."""
    kept = (
        " " if char.isspace() else char
        for char in text
        if char.isspace() or unicodedata.category(char) not in _DROPPED_CATEGORIES
    )
    return _SPACES.sub(" ", "".join(kept)).strip()


def _bounded(what: str, text: str, limit: int) -> str:
    cleaned = clean_text(text)
    if len(cleaned) > limit:
        raise PosterError(
            f"the {what} is {len(cleaned)} characters long; the limit is {limit}: shorten it"
        )
    return cleaned


def normalize_spec(spec: PosterSpec) -> PosterSpec:
    """``spec`` with its text cleaned (``clean_text``) and its theme resolved to a key of
    ``THEMES``; raises ``PosterError`` for an empty title, text over its limit, more than
    ``MAX_HIGHLIGHTS`` highlights, an unknown theme or language."""
    title = _bounded("title", spec.title, TITLE_MAX_CHARS)
    if not title:
        raise PosterError("a poster needs a title")
    highlights = tuple(
        cleaned
        for cleaned in (
            _bounded("highlight", item, HIGHLIGHT_MAX_CHARS) for item in spec.highlights
        )
        if cleaned
    )
    if len(highlights) > MAX_HIGHLIGHTS:
        raise PosterError(
            f"a poster has room for {MAX_HIGHLIGHTS} highlights, {len(highlights)} were given"
        )
    if spec.language not in ("zh", "en"):
        raise PosterError(f"unknown poster language {spec.language!r}; available: zh, en")
    return PosterSpec(
        title=title,
        subtitle=_bounded("subtitle", spec.subtitle, SUBTITLE_MAX_CHARS),
        date=_bounded("date", spec.date, DATE_MAX_CHARS),
        place=_bounded("place", spec.place, PLACE_MAX_CHARS),
        highlights=highlights,
        organizer=_bounded("organizer", spec.organizer, ORGANIZER_MAX_CHARS),
        theme=resolve_theme(spec.theme),
        language=spec.language,
    )


# --- line breaking -----------------------------------------------------------------------------

# Characters set one per break opportunity: CJK ideographs and punctuation, kana, hangul,
# full-width forms.
_CJK = re.compile(
    "[\u1100-\u11ff\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f"
    "\uff00-\uffef\U00020000-\U0003ffff]"
)
_NO_LINE_START = frozenset("，。、；：！？）》」』】〉〕…—～·,.;:!?)]}%")
_NO_LINE_END = frozenset("（《「『【〈〔([{")
ELLIPSIS = "…"


def _break_units(text: str) -> list[tuple[str, bool]]:
    """The pieces a line may break between, each with whether a space comes before it: one
    CJK character, or a word of other text. Punctuation that may not start a line sticks to
    the piece before it; an opening bracket sticks to the piece after it."""
    pieces: list[tuple[str, bool]] = []
    word, word_spaced, spaced = "", False, False
    for char in text:
        if char == " ":
            if word:
                pieces.append((word, word_spaced))
                word = ""
            spaced = True
        elif _CJK.match(char):
            if word:
                pieces.append((word, word_spaced))
                word = ""
            pieces.append((char, spaced))
            spaced = False
        else:
            if not word:
                word_spaced, spaced = spaced, False
            word += char
    if word:
        pieces.append((word, word_spaced))
    units: list[tuple[str, bool]] = []
    for piece, piece_spaced in pieces:
        if (
            units
            and not piece_spaced
            and (piece[0] in _NO_LINE_START or units[-1][0][-1] in _NO_LINE_END)
        ):
            units[-1] = (units[-1][0] + piece, units[-1][1])
        else:
            units.append((piece, piece_spaced))
    return units


def _size(font: Font) -> int:
    return int(font.size) if isinstance(font, ImageFont.FreeTypeFont) else 11


def _ink_right(font: Font, text: str, stroke: int) -> float:
    return font.getbbox(text, stroke_width=stroke)[2] if text else 0.0


def wrap_text(text: str, font: Font, max_width: int, *, stroke: int = 0) -> list[str]:
    """``text`` broken into lines no wider than ``max_width`` pixels: between CJK characters,
    between words of other text, and inside a word only when it is wider than a line."""

    def fits(line: str) -> bool:
        return _ink_right(font, line, stroke) <= max_width

    lines: list[str] = []
    line = ""
    for piece, spaced in _break_units(text):
        candidate = f"{line} {piece}" if spaced and line else line + piece
        if fits(candidate):
            line = candidate
            continue
        if line:
            lines.append(line)
            line = ""
        if fits(piece):
            line = piece
            continue
        for char in piece:
            if line and not fits(line + char):
                lines.append(line)
                line = char
            else:
                line += char
    if line:
        lines.append(line)
    return lines


def _limit_lines(
    lines: list[str], max_lines: int, font: Font, max_width: int, stroke: int
) -> list[str]:
    """At most ``max_lines`` lines, the last one ending in an ellipsis if any were dropped."""
    if len(lines) <= max_lines:
        return lines
    last = lines[max_lines - 1]
    while last and _ink_right(font, last.rstrip() + ELLIPSIS, stroke) > max_width:
        last = last[:-1]
    return [*lines[: max_lines - 1], last.rstrip() + ELLIPSIS]


# --- layout ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextBox:
    """One line of text on the poster and the pixels its ink covers."""

    role: str
    """title, subtitle, date-label, date, place-label, place, highlights-label, highlight-number,
    highlight, organizer or footer."""
    text: str
    box: Box


@dataclass(frozen=True, slots=True)
class PosterLayout:
    width: int
    height: int
    texts: tuple[TextBox, ...]
    scale: float
    """How much the body text was shrunk to fit (1.0: not at all)."""

    def lines(self, role: str) -> list[str]:
        return [text.text for text in self.texts if text.role == role]


@dataclass(frozen=True, slots=True)
class _Text:
    box: TextBox
    origin: tuple[int, int]
    font: Font
    colour: RGB
    stroke: int

    def moved(self, dy: int) -> _Text:
        left, top, right, bottom = self.box.box
        return dataclasses.replace(
            self,
            box=dataclasses.replace(self.box, box=(left, top + dy, right, bottom + dy)),
            origin=(self.origin[0], self.origin[1] + dy),
        )


@dataclass(frozen=True, slots=True)
class _Shape:
    kind: Literal["rect", "calendar", "pin"]
    box: Box
    colour: RGB
    radius: int = 0
    background: RGB = (255, 255, 255)

    def moved(self, dy: int) -> _Shape:
        left, top, right, bottom = self.box
        return dataclasses.replace(self, box=(left, top + dy, right, bottom + dy))


@dataclass(frozen=True, slots=True)
class _Plan:
    layout: PosterLayout
    shapes: tuple[_Shape, ...]
    texts: tuple[_Text, ...]
    band: tuple[int, int]
    """The vertical span between the subtitle and the details, for the diagonal band."""


def _mix(a: RGB, b: RGB, share_of_b: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * share_of_b),
        round(a[1] + (b[1] - a[1]) * share_of_b),
        round(a[2] + (b[2] - a[2]) * share_of_b),
    )


_SCALES = (1.0, 0.92, 0.84, 0.76, 0.68, 0.6, 0.52)


class _Fonts:
    """The fonts of one poster by size, and line breaks already worked out (the layout is
    tried at several scales, which ask for the same title sizes again).

    Text is measured and drawn with Pillow's basic layout engine: Chinese and Latin text need
    no shaping, and raqm costs about 0.3 ms a measurement, which a title wrapped at a dozen
    sizes spends thousands of times."""

    def __init__(self, font_file: FontFile | None) -> None:
        self._file = font_file
        self._fonts: dict[int, Font] = {}
        self._wrapped: dict[tuple[str, int, int, int], list[str]] = {}

    def __call__(self, size: int) -> Font:
        if size not in self._fonts:
            font = load_font(size, self._file)
            if isinstance(font, ImageFont.FreeTypeFont):
                font = font.font_variant(layout_engine=ImageFont.Layout.BASIC)
            self._fonts[size] = font
        return self._fonts[size]

    def wrap(self, text: str, size: int, width: int, stroke: int) -> list[str]:
        key = (text, size, width, stroke)
        if key not in self._wrapped:
            self._wrapped[key] = wrap_text(text, self(size), width, stroke=stroke)
        return list(self._wrapped[key])


class _Composer:
    """Lays one poster out at one text scale, top to bottom, in pixels of the final image."""

    def __init__(
        self, spec: PosterSpec, width: int, height: int, scale: float, fonts: _Fonts
    ) -> None:
        self.spec = spec
        self.theme = THEMES[spec.theme]
        self.width = width
        self.height = height
        self.scale = scale
        self.unit = width / 1080
        self.margin = self.px(86)
        self.content_width = width - 2 * self.margin
        self.fonts = fonts
        self.texts: list[_Text] = []
        self.shapes: list[_Shape] = []
        self.cut = False
        """Whether some text had to end in an ellipsis to fit."""

    def px(self, value: float, *, scaled: bool = False) -> int:
        return max(1, round(value * self.unit * (self.scale if scaled else 1.0)))

    def font(self, size: float, *, scaled: bool = True) -> Font:
        return self.fonts(self.px(size, scaled=scaled))

    def text_block(
        self,
        role: str,
        lines: Sequence[str],
        x: int,
        y: int,
        font: Font,
        colour: RGB,
        *,
        stroke: int = 0,
        line_height: float = 1.3,
    ) -> int:
        """Places ``lines`` from (x, y) down; returns the y below the block."""
        size = _size(font)
        step = round(size * line_height)
        for index, line in enumerate(lines):
            top = y + index * step
            left, ink_top, right, bottom = font.getbbox(line, stroke_width=stroke)
            box = (x + int(left), top + int(ink_top), x + int(right), top + int(bottom))
            self.texts.append(_Text(TextBox(role, line, box), (x, top), font, colour, stroke))
        return y + step * len(lines)

    def wrapped(
        self, text: str, font: Font, width: int, max_lines: int, stroke: int = 0
    ) -> list[str]:
        lines = wrap_text(text, font, width, stroke=stroke)
        if len(lines) > max_lines:
            self.cut = True
        return _limit_lines(lines, max_lines, font, width, stroke)

    def title(self, y: int) -> int:
        """The title in the largest size that fits ``TITLE_MAX_LINES`` lines, its lines made
        about equally long (a short last line looks like an accident)."""
        largest, smallest = self.px(118), self.px(36)
        ladder = [largest]
        while ladder[-1] > smallest:
            ladder.append(max(smallest, int(ladder[-1] * 0.94)))
        cap = self.px(118, scaled=True)
        sizes = [size for size in ladder if size <= cap] or ladder[-1:]
        for size in sizes:
            stroke = max(1, round(size * 0.03))
            lines = self.fonts.wrap(self.spec.title, size, self.content_width, stroke)
            if len(lines) <= TITLE_MAX_LINES:
                break
        font = self.fonts(size)
        if len(lines) > TITLE_MAX_LINES:
            self.cut = True
            lines = _limit_lines(lines, TITLE_MAX_LINES, font, self.content_width, stroke)
        elif len(lines) > 1:
            narrow, wide = self.content_width // len(lines), self.content_width
            while narrow < wide:
                middle = (narrow + wide) // 2
                if len(self.fonts.wrap(self.spec.title, size, middle, stroke)) == len(lines):
                    wide = middle
                else:
                    narrow = middle + 1
            lines = self.fonts.wrap(self.spec.title, size, wide, stroke)
        return self.text_block(
            "title", lines, self.margin, y, font, self.theme.ink, stroke=stroke, line_height=1.2
        )

    def panel(self, y: int) -> int:
        rows: list[tuple[Literal["calendar", "pin"], str, str, str]] = [
            ("calendar", "date", "时间" if self.spec.language == "zh" else "Date", self.spec.date),
            ("pin", "place", "地点" if self.spec.language == "zh" else "Place", self.spec.place),
        ]
        rows = [row for row in rows if row[3]]
        if not rows:
            return y
        theme = self.theme
        pad = self.px(40, scaled=True)
        icon = self.px(76, scaled=True)
        gap = self.px(28, scaled=True)
        text_x = self.margin + pad + icon + self.px(28, scaled=True)
        text_width = self.width - self.margin - pad - text_x
        label_font = self.font(26)
        value_font = self.font(42)
        panel_at = len(self.shapes)
        cursor = y + pad
        for index, (kind, role, label, value) in enumerate(rows):
            if index:
                self.shapes.append(
                    _Shape(
                        "rect",
                        (text_x, cursor, self.width - self.margin - pad, cursor + self.px(2)),
                        _mix(theme.panel, theme.panel_muted, 0.25),
                    )
                )
                cursor += gap
            row_top = cursor
            self.shapes.append(
                _Shape(
                    kind,
                    (self.margin + pad, row_top, self.margin + pad + icon, row_top + icon),
                    theme.bottom,
                    radius=self.px(18, scaled=True),
                    background=_mix(theme.panel, theme.accent, 0.35),
                )
            )
            below = self.text_block(
                role + "-label", [label], text_x, row_top, label_font, theme.panel_muted
            )
            below = self.text_block(
                role,
                self.wrapped(value, value_font, text_width, 2, stroke=1),
                text_x,
                below + self.px(2, scaled=True),
                value_font,
                theme.panel_ink,
                stroke=1,
                line_height=1.28,
            )
            cursor = max(row_top + icon, below) + gap
        bottom = cursor - gap + pad
        self.shapes.insert(
            panel_at,
            _Shape(
                "rect",
                (self.margin, y, self.width - self.margin, bottom),
                theme.panel,
                radius=self.px(32),
            ),
        )
        return bottom

    def highlights(self, y: int) -> int:
        if not self.spec.highlights:
            return y
        theme = self.theme
        header = "活动亮点" if self.spec.language == "zh" else "Highlights"
        y = self.text_block(
            "highlights-label", [header], self.margin, y, self.font(30), theme.accent, stroke=1
        )
        y += self.px(6, scaled=True)
        pad = self.px(22, scaled=True)
        badge = self.px(56, scaled=True)
        text_font = self.font(36)
        number_font = self.font(30)
        text_x = self.margin + pad + badge + self.px(24, scaled=True)
        text_width = self.width - self.margin - pad - text_x
        for number, highlight in enumerate(self.spec.highlights, start=1):
            lines = self.wrapped(highlight, text_font, text_width, 2, stroke=1)
            text_height = round(_size(text_font) * 1.3) * len(lines)
            row_height = max(badge, text_height) + 2 * pad
            self.shapes.append(
                _Shape(
                    "rect",
                    (self.margin, y, self.width - self.margin, y + row_height),
                    theme.chip,
                    radius=self.px(22, scaled=True),
                )
            )
            badge_top = y + (row_height - badge) // 2
            self.shapes.append(
                _Shape(
                    "rect",
                    (self.margin + pad, badge_top, self.margin + pad + badge, badge_top + badge),
                    theme.accent,
                    radius=self.px(14, scaled=True),
                )
            )
            digit = str(number)
            left, top, right, bottom = number_font.getbbox(digit, stroke_width=1)
            self.text_block(
                "highlight-number",
                [digit],
                self.margin + pad + (badge - int(right - left)) // 2 - int(left),
                badge_top + (badge - int(bottom - top)) // 2 - int(top),
                number_font,
                theme.accent_ink,
                stroke=1,
            )
            first_line_y = y + (row_height - text_height) // 2
            self.text_block(
                "highlight", lines, text_x, first_line_y, text_font, theme.ink, stroke=1
            )
            y += row_height + self.px(16, scaled=True)
        return y - self.px(16, scaled=True)

    def compose(self, *, last_chance: bool = False) -> _Plan | None:
        """The plan, or None if the text does not fit at this scale: if it runs into the
        organizer, or (unless ``last_chance``) some text would have to be cut short."""
        spec, theme = self.spec, self.theme
        label = RENDERED_LABELS[spec.language]
        footer_font = self.fonts(max(14, self.px(22)))
        footer_lines = self.wrapped(label, footer_font, self.content_width, 2)
        footer_step = round(_size(footer_font) * 1.3)
        footer_top = self.height - self.px(48) - footer_step * len(footer_lines)
        self.text_block(
            "footer", footer_lines, self.margin, footer_top, footer_font, theme.ink_soft
        )
        rule_y = footer_top - self.px(22)
        self.shapes.append(
            _Shape(
                "rect",
                (self.margin, rule_y, self.width - self.margin, rule_y + self.px(2)),
                _mix(theme.bottom, theme.ink_soft, 0.45),
            )
        )
        content_bottom = rule_y - self.px(30)
        if spec.organizer:
            organizer_font = self.font(32)
            prefix = "主办：" if spec.language == "zh" else "Organized by "
            lines = self.wrapped(prefix + spec.organizer, organizer_font, self.content_width, 2, 1)
            step = round(_size(organizer_font) * 1.3)
            top = content_bottom - step * len(lines)
            self.text_block(
                "organizer", lines, self.margin, top, organizer_font, theme.ink, stroke=1
            )
            content_bottom = top - self.px(36)

        bar_top = self.px(110)
        self.shapes.append(
            _Shape(
                "rect",
                (self.margin, bar_top, self.margin + self.px(96), bar_top + self.px(12)),
                theme.accent,
                radius=self.px(6),
            )
        )
        y = self.title(bar_top + self.px(48))
        if spec.subtitle:
            y += self.px(14, scaled=True)
            y = self.text_block(
                "subtitle",
                self.wrapped(spec.subtitle, self.font(44), self.content_width, 3),
                self.margin,
                y,
                self.font(44),
                theme.ink_soft,
                line_height=1.35,
            )
        band_top = y
        y += self.px(48, scaled=True)
        details_texts, details_shapes = len(self.texts), len(self.shapes)
        y = self.panel(y)
        if spec.highlights and (spec.date or spec.place):
            y += self.px(44, scaled=True)
        y = self.highlights(y)
        spare = content_bottom - y
        if spare < 0 or (self.cut and not last_chance):
            return None
        # Details sit low, titles high: half the spare room goes above the details.
        shift = spare // 2
        self.texts[details_texts:] = [text.moved(shift) for text in self.texts[details_texts:]]
        self.shapes[details_shapes:] = [
            shape.moved(shift) for shape in self.shapes[details_shapes:]
        ]
        texts = sorted(self.texts, key=lambda text: (text.box.box[1], text.box.box[0]))
        layout = PosterLayout(
            self.width, self.height, tuple(text.box for text in texts), self.scale
        )
        return _Plan(
            layout, tuple(self.shapes), tuple(texts), (band_top, band_top + self.px(48) + shift)
        )


# --- painting ----------------------------------------------------------------------------------

_SUPERSAMPLE = 2


def _seed(title: str) -> int:
    return int.from_bytes(hashlib.sha256(title.encode("utf-8")).digest()[:8], "big")


def _decorate(draw: ImageDraw.ImageDraw, plan: _Plan, theme: Theme, seed: int, ss: int) -> None:
    """Translucent shapes behind everything: circles top right, a diagonal band, a ring bottom
    left, a dot grid in the right margin, pills in the left margin. Each placed from ``seed``;
    only soft, large shapes lie under the title, so it stays readable."""
    width, height = plan.layout.width * ss, plan.layout.height * ss
    unit = width / 1080
    rng = random.Random(seed)

    def circle(cx: float, cy: float, radius: float, **style: Any) -> None:
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), **style)

    cx, cy = width * rng.uniform(0.72, 0.92), height * rng.uniform(0.0, 0.07)
    radius = width * rng.uniform(0.30, 0.38)
    circle(cx, cy, radius, fill=(*theme.accent, 46))
    circle(
        cx - radius * rng.uniform(0.55, 0.8),
        cy + radius * rng.uniform(0.55, 0.8),
        radius * 0.42,
        outline=(*theme.accent2, 96),
        width=round(6 * unit),
    )

    band_top, band_bottom = (value * ss for value in plan.band)
    middle = (band_top + band_bottom) / 2
    thickness = max(band_bottom - band_top, 120 * unit) * rng.uniform(0.7, 1.0)
    rise = width * rng.uniform(0.12, 0.22)
    draw.polygon(
        [
            (0, middle + rise / 2),
            (width, middle - rise / 2),
            (width, middle - rise / 2 + thickness),
            (0, middle + rise / 2 + thickness),
        ],
        fill=(*theme.ink, 20),
    )
    draw.line(
        [(0, middle + rise / 2 + thickness * 1.25), (width, middle - rise / 2 + thickness * 1.25)],
        fill=(*theme.accent2, 70),
        width=round(4 * unit),
    )

    circle(
        width * rng.uniform(-0.02, 0.10),
        height * rng.uniform(0.80, 0.90),
        width * rng.uniform(0.14, 0.20),
        outline=(*theme.accent, 64),
        width=round(14 * unit),
    )

    spacing, dot = 26 * unit, 5 * unit
    dots_left = width - 68 * unit
    dots_top = height * rng.uniform(0.34, 0.52)
    for row in range(6):
        for column in range(2):
            circle(
                dots_left + column * spacing,
                dots_top + row * spacing,
                dot,
                fill=(*theme.accent2, 150),
            )

    pill_top = height * rng.uniform(0.56, 0.70)
    for index in range(2):
        top = pill_top + index * 48 * unit
        length = (80 + 40 * index) * unit
        draw.rounded_rectangle(
            (-30 * unit, top, -30 * unit + length, top + 26 * unit),
            radius=13 * unit,
            fill=(*(theme.accent if index else theme.accent2), 140),
        )


def _draw_icon(draw: ImageDraw.ImageDraw, shape: _Shape, ss: int) -> None:
    left, top, right, bottom = (value * ss for value in shape.box)
    size = right - left
    draw.rounded_rectangle(
        (left, top, right, bottom), radius=shape.radius * ss, fill=shape.background
    )
    colour = shape.colour
    stroke = max(2, round(size * 0.06))
    if shape.kind == "calendar":
        x0, y0, x1, y1 = (
            left + size * 0.22,
            top + size * 0.26,
            right - size * 0.22,
            bottom - size * 0.2,
        )
        draw.rounded_rectangle((x0, y0, x1, y1), radius=size * 0.07, outline=colour, width=stroke)
        draw.rectangle((x0, y0, x1, y0 + size * 0.13), fill=colour)
        for tab in (x0 + size * 0.12, x1 - size * 0.12):
            draw.rounded_rectangle(
                (tab - stroke / 2, y0 - size * 0.08, tab + stroke / 2, y0 + size * 0.06),
                radius=stroke / 2,
                fill=colour,
            )
        cell = (x1 - x0) / 4
        for row in range(2):
            for column in range(3):
                cx = x0 + cell * (column + 0.5) + cell * 0.5
                cy = y0 + size * 0.24 + row * size * 0.14
                draw.rectangle(
                    (cx - stroke * 0.6, cy - stroke * 0.6, cx + stroke * 0.6, cy + stroke * 0.6),
                    fill=colour,
                )
    else:
        cx, cy, radius = left + size / 2, top + size * 0.42, size * 0.2
        draw.polygon(
            [
                (cx - radius * 0.92, cy + radius * 0.4),
                (cx + radius * 0.92, cy + radius * 0.4),
                (cx, bottom - size * 0.16),
            ],
            fill=colour,
        )
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colour)
        inner = radius * 0.42
        draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), fill=shape.background)


def _paint(plan: _Plan, theme: Theme, seed: int) -> Image.Image:
    """The poster: gradient, shapes and panels drawn at twice the size and scaled down (smooth
    edges), then the text at full resolution."""
    ss = _SUPERSAMPLE
    width, height = plan.layout.width, plan.layout.height
    big = (width * ss, height * ss)
    column = Image.linear_gradient("L").resize((1, big[1]), Image.Resampling.BILINEAR)
    gradient = column.resize(big, Image.Resampling.NEAREST)
    canvas = Image.composite(
        Image.new("RGBA", big, (*theme.bottom, 255)),
        Image.new("RGBA", big, (*theme.top, 255)),
        gradient,
    )
    shapes_layer = Image.new("RGBA", big, (0, 0, 0, 0))
    _decorate(ImageDraw.Draw(shapes_layer), plan, theme, seed, ss)
    canvas = Image.alpha_composite(canvas, shapes_layer)
    draw = ImageDraw.Draw(canvas)
    for shape in plan.shapes:
        if shape.kind == "rect":
            box = tuple(value * ss for value in shape.box)
            draw.rounded_rectangle(box, radius=shape.radius * ss, fill=shape.colour)
        else:
            _draw_icon(draw, shape, ss)
    image = canvas.convert("RGB").reduce(ss)
    draw = ImageDraw.Draw(image)
    for text in plan.texts:
        draw.text(
            text.origin,
            text.box.text,
            font=text.font,
            fill=text.colour,
            stroke_width=text.stroke,
            stroke_fill=text.colour,
            anchor="la",
        )
    return image


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


class RenderedPosterBackend:
    """Lays a poster out locally with Pillow and a CJK font (``docs_gen.fonts``); the same spec
    always gives the same bytes. The CJK font has no bold face: bold is a stroke of the text's
    own colour."""

    name = "local"

    def __init__(
        self, *, width: int = 1080, height: int = 1528, font: FontFile | None = None
    ) -> None:
        if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
            raise PosterError(
                f"a poster is {MIN_SIDE} to {MAX_SIDE} pixels wide and high, not {width}x{height}"
            )
        self.width = width
        self.height = height
        self._font_file = font

    def _plan(self, spec: PosterSpec) -> _Plan:
        fonts = _Fonts(self._font_file)
        for scale in _SCALES:
            composer = _Composer(spec, self.width, self.height, scale, fonts)
            plan = composer.compose(last_chance=scale == _SCALES[-1])
            if plan is not None:
                return plan
        raise PosterError(
            f"the text does not fit a {self.width}x{self.height} poster even in small type; "
            "shorten the subtitle or the highlights, or use a taller poster"
        )

    def layout(self, spec: PosterSpec) -> PosterLayout:
        """Where each line of text goes, without painting."""
        return self._plan(normalize_spec(spec)).layout

    def create(self, spec: PosterSpec) -> Poster:
        spec = normalize_spec(spec)
        plan = self._plan(spec)
        image = _paint(plan, THEMES[spec.theme], _seed(spec.title))
        return Poster(
            png=_png(image),
            width=self.width,
            height=self.height,
            source="rendered",
            backend=self.name,
            label=RENDERED_LABELS[spec.language],
        )


# --- an OpenAI-compatible images API -----------------------------------------------------------


def poster_prompt(spec: PosterSpec) -> str:
    """A prompt, in the spec's language, for a picture of the poster: its text, its colours,
    and that the title must be legible."""
    spec = normalize_spec(spec)
    theme = THEMES[spec.theme]
    if spec.language == "zh":
        parts = [
            f"一张竖版活动海报，现代扁平设计风格，配色为{theme.palette_zh}，"
            "用圆形、斜向色带、圆角矩形和圆点等几何图形装饰。",
            f"海报上方用醒目的大号粗体字写出标题「{spec.title}」，每个字都清晰可读、准确无误。",
        ]
        if spec.subtitle:
            parts.append(f"副标题：「{spec.subtitle}」。")
        if spec.date:
            parts.append(f"时间：{spec.date}。")
        if spec.place:
            parts.append(f"地点：{spec.place}。")
        if spec.highlights:
            parts.append("亮点：" + "；".join(spec.highlights) + "。")
        if spec.organizer:
            parts.append(f"主办：{spec.organizer}。")
        parts.append("文字与背景对比鲜明，不要出现其他文字、水印或乱码。")
        return "".join(parts)
    parts = [
        "A vertical event poster in a modern flat design, in a palette of "
        f"{theme.palette_en}, decorated with geometric shapes (circles, a diagonal band, "
        "rounded rectangles, dots).",
        f'The title "{spec.title}" is set in large, bold, clearly legible letters near the top, '
        "spelled exactly.",
    ]
    if spec.subtitle:
        parts.append(f'Subtitle: "{spec.subtitle}".')
    if spec.date:
        parts.append(f"Date: {spec.date}.")
    if spec.place:
        parts.append(f"Place: {spec.place}.")
    if spec.highlights:
        parts.append("Highlights: " + "; ".join(spec.highlights) + ".")
    if spec.organizer:
        parts.append(f"Organized by {spec.organizer}.")
    parts.append("High contrast between text and background; no other text, no watermark.")
    return " ".join(parts)


_SIZE = re.compile(r"auto|[1-9][0-9]{1,4}x[1-9][0-9]{1,4}")
_PICTURE_FORMATS = ("PNG", "JPEG", "WEBP")
ERROR_BODY_BYTES = 4096
ERROR_MESSAGE_CHARS = 300
CONNECT_TIMEOUT_CAP_S = 10.0
MAX_GENERATED_PIXELS = 36_000_000
"""A bound well above any size an images API offers (4096x4096 is 16.8 M): a bigger picture is
a decompression bomb, not a poster."""


def _hint(status: int) -> str:
    if status in (401, 403):
        return "check the API key"
    if status == 404:
        return "check base_url (the API root, like https://host/v1) and the model name"
    if status == 429:
        return "the API is rate-limited or out of quota; try again later"
    if 300 <= status < 400:
        return "redirects are not followed; check base_url"
    if status >= 500:
        return "the images service failed; try again later"
    return "check the model name and size; the API may also have refused the prompt"


def _error_message(raw: bytes) -> str:
    """What an API said went wrong, from the usual error shapes, truncated."""
    message: Any = None
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            message = error.get("message") or error.get("code") or error
        else:
            message = error or payload.get("message") or payload.get("detail")
    if message is None:
        message = raw.decode("utf-8", "replace")
    text = clean_text(message if isinstance(message, str) else json.dumps(message))
    if len(text) > ERROR_MESSAGE_CHARS:
        text = text[:ERROR_MESSAGE_CHARS] + ELLIPSIS
    return text or "(no message)"


class OpenAIImagesBackend:
    """An OpenAI-compatible images API: ``POST {base_url}/images/generations``.

    The picture comes back as ``data[0].b64_json``, or as ``data[0].url`` when that URL is on
    base_url's own host (officebot fetches nothing from elsewhere). The whole exchange is
    bounded by ``timeout_s``; each answer by ``max_bytes``; the picture by ``max_pixels``. It
    must be a real PNG, JPEG or WebP, and is re-encoded as PNG. The API key is sent only to
    ``base_url`` and is never logged nor put in an error message.
    """

    name = "openai-images"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str = "dall-e-3",
        size: str = "1024x1792",
        timeout_s: float = 120.0,
        max_bytes: int = 20_000_000,
        max_pixels: int = MAX_GENERATED_PIXELS,
        client: httpx.Client | None = None,
    ) -> None:
        """``base_url`` is the API root, like ``https://host/v1``. A ``client`` given here
        stays the caller's to close."""
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PosterError(
                "the images API base_url must be an http(s) address like https://host/v1, got "
                f"{base_url[:100]!r}"
            )
        if not model.strip():
            raise PosterError("the images API needs a model name (e.g. dall-e-3)")
        if not _SIZE.fullmatch(size):
            raise PosterError(f"the picture size must look like 1024x1792 (or auto), not {size!r}")
        if timeout_s <= 0 or max_bytes <= 0 or max_pixels <= 0:
            raise ValueError("timeout_s, max_bytes and max_pixels must be positive")
        netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        self._base_url = base_url.strip().rstrip("/")
        self._display_url = f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"
        self._host = parts.hostname
        self._api_key = api_key
        self.model = model.strip()
        self.size = size
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(follow_redirects=False)

    def __repr__(self) -> str:
        return f"OpenAIImagesBackend(base_url={self._display_url!r}, model={self.model!r})"

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> OpenAIImagesBackend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def prompt(self, spec: PosterSpec) -> str:
        return poster_prompt(spec)

    def create(self, spec: PosterSpec) -> Poster:
        spec = normalize_spec(spec)
        deadline = time.monotonic() + self.timeout_s
        body = {
            "model": self.model,
            "prompt": poster_prompt(spec),
            "size": self.size,
            "n": 1,
            "response_format": "b64_json",
        }
        headers = {"accept": "application/json", "user-agent": "officebot"}
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        log.info("asking the images API at %s for a poster (%s)", self._display_url, self.model)
        raw = self._fetch(
            "POST", self._base_url + "/images/generations", deadline, json=body, headers=headers
        )
        picture = self._picture(raw, deadline)
        png, width, height = self._checked(picture)
        return Poster(
            png=png,
            width=width,
            height=height,
            source="generated",
            backend=self.model,
            label=generated_label(self.model, spec.language),
        )

    def _redacted(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _fetch(self, method: str, url: str, deadline: float, **request: Any) -> bytes:
        """The body of a 2xx answer, read within ``deadline`` and ``max_bytes``."""
        where = f"the images API at {self._display_url}"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PosterError(f"{where} did not answer within {self.timeout_s:g} s")
        timeout = httpx.Timeout(remaining, connect=min(remaining, CONNECT_TIMEOUT_CAP_S))
        try:
            with self._client.stream(
                method, url, timeout=timeout, follow_redirects=False, **request
            ) as response:
                if not response.is_success:
                    detail = _error_message(self._read(response, ERROR_BODY_BYTES, deadline))
                    status = response.status_code
                    raise PosterError(
                        self._redacted(
                            f"{where} answered HTTP {status}: {detail} ({_hint(status)})"
                        )
                    )
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise PosterError(
                        f"{where} sent {int(declared)} bytes; the limit is {self.max_bytes}"
                    )
                body = self._read(response, self.max_bytes, deadline)
                if len(body) > self.max_bytes:
                    raise PosterError(f"{where} sent more than the limit of {self.max_bytes} bytes")
                return body
        except httpx.TimeoutException:
            raise PosterError(
                f"{where} did not answer within {self.timeout_s:g} s; try again later, or "
                "raise the timeout"
            ) from None
        except httpx.HTTPError as exc:
            raise PosterError(
                self._redacted(f"cannot reach {where}: {exc}; check base_url and the network")
            ) from None

    def _read(self, response: httpx.Response, limit: int, deadline: float) -> bytes:
        """Up to ``limit`` bytes and one chunk more (so that the caller sees it was over)."""
        chunks: list[bytes] = []
        received = 0
        for chunk in response.iter_bytes():
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout("the whole answer took too long")
            chunks.append(chunk)
            received += len(chunk)
            if received > limit:
                break
        return b"".join(chunks)

    def _picture(self, raw: bytes, deadline: float) -> bytes:
        """The picture's bytes from an images API answer."""
        try:
            payload = json.loads(raw)
        except ValueError:
            raise PosterError(
                f"the images API at {self._display_url} did not answer JSON; check base_url"
            ) from None
        if isinstance(payload, dict) and payload.get("error"):
            raise PosterError(
                self._redacted(f"the images API reported an error: {_error_message(raw)}")
            )
        data = payload.get("data") if isinstance(payload, dict) else None
        item = data[0] if isinstance(data, list) and data else None
        if not isinstance(item, dict):
            raise PosterError("the images API answered without a picture (no data[0])")
        encoded, url = item.get("b64_json"), item.get("url")
        if isinstance(encoded, str) and encoded:
            _, comma, rest = encoded.partition(",")
            if comma and encoded.startswith("data:"):
                encoded = rest
            try:
                return base64.b64decode("".join(encoded.split()), validate=True)
            except (binascii.Error, ValueError):
                raise PosterError(
                    "the images API sent data[0].b64_json that is not base64"
                ) from None
        if isinstance(url, str) and url:
            target = urlsplit(url)
            if target.scheme not in ("http", "https") or target.hostname != self._host:
                raise PosterError(
                    f"the images API sent a picture URL on {target.hostname or url[:60]!r}; "
                    f"officebot fetches pictures only from {self._host!r} (base_url's host). "
                    "Use a server that returns b64_json"
                )
            return self._fetch("GET", url, deadline, headers={"user-agent": "officebot"})
        raise PosterError("the images API answered without data[0].b64_json or data[0].url")

    def _checked(self, picture: bytes) -> tuple[bytes, int, int]:
        """``picture`` re-encoded as PNG, once it is known to be a PNG, JPEG or WebP of at most
        ``max_pixels``."""
        try:
            # Only these decoders are tried: some others hand the file to outside programs.
            with Image.open(io.BytesIO(picture), formats=_PICTURE_FORMATS) as image:
                width, height = image.size
                if width * height > self.max_pixels:
                    raise PosterError(
                        f"the images API sent a {width}x{height} picture; the limit is "
                        f"{self.max_pixels} pixels"
                    )
                image.load()
                has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
                converted = image.convert("RGBA" if has_alpha else "RGB")
        except PosterError:
            raise
        except UnidentifiedImageError:
            raise PosterError(
                "the images API did not send a readable PNG, JPEG or WebP picture (the bytes are "
                "some other kind of file)"
            ) from None
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise PosterError(
                f"the images API did not send a readable PNG, JPEG or WebP picture ({exc})"
            ) from None
        return _png(converted), width, height
