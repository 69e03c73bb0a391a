"""Hand-drawn app screens for the sketch-to-mini-app tests, drawn with Pillow at test time.

A ``ScreenLayout`` says which widgets a screen has, row by row, with its words in Chinese and
English; ``draw_sketch`` draws it the way a person sketches a phone screen on paper and returns
the picture with its ground truth (``Sketch.widgets``). Everything is deterministic per seed.

Styles:

- ``clean``: white background, near-black ink, strokes almost straight.
- ``paper``: off-white paper texture, pencil-grey ink, wobbly strokes of 2-4 px that overshoot
  the corners, characters jittered in place, size and angle.
- ``photo``: the ``paper`` page of the same seed, photographed: on a darker desk, rotated up to
  8 degrees, perspective-warped, under an uneven light, slightly blurred, noisy, saved as JPEG.
  ``Sketch.page_to_image`` is the homography from the paper page to the photo.

What each ground-truth ``bbox`` (x, y, width, height in the final picture's pixels) covers, in the
drawn page; in ``photo`` it is the axis-aligned box around the page box's four transformed
corners:

- ``title``, ``text``: the ink of the text itself.
- ``input``, ``textarea``, ``select``, ``date``: the drawn box, with its placeholder, chevron or
  calendar icon inside; the ``label`` is written left of or above the box, outside it.
- ``switch``: the pill; its ``label`` is written to its left, outside it.
- ``checkbox``: one square with its ``label`` beside it, both inside the box (as in
  ``miniapp.spec``, a group of checkboxes is one checkbox widget per choice, on one row).
- ``radio``: the circles together with their ``options`` texts; the group's ``label`` is written
  left of or above, outside the box.
- ``button``: the drawn box; its ``label`` is written inside.
- ``image``: the box with an X; its ``label`` (a caption, maybe empty) is written above, outside.
- ``list``: all the rows from the first row's top to the last row's line; ``options`` are the
  rows' titles, ``label`` is empty.
- ``tabbar``: the bar from its top line to the bottom of the phone frame, across the frame;
  ``options`` are the tab names, ``label`` is empty.

Drawn outside any box: the phone frame (``Sketch.frame``, its four corners clockwise from top
left), the speaker slot, and the scribbled lines that stand for secondary text in list rows.
Labels, options, titles and button texts are real text in a handwriting-style font; placeholders
are lighter grey. Strokes may overshoot a box by up to 8 px (12 px in ``photo``).

Fonts come from Debian (scripts/debian-packages.txt): ``fonts-arphic-gkai00mp`` (AR PL KaitiM GB,
a brush-written Kai style) for Chinese, ``fonts-comic-neue`` and ``fonts-humor-sans`` (the xkcd
hand) for Latin text and the digits in Chinese text.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, NamedTuple

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from miniapp.spec import WIDGET_TYPES

Style = Literal["clean", "paper", "photo"]
STYLES: tuple[Style, ...] = ("clean", "paper", "photo")
LANGUAGES = ("zh", "en")

_OPTION_TYPES = ("select", "radio", "list", "tabbar")
"""Widgets whose options mean something, as in ``miniapp.spec.OPTION_TYPES``."""

Box = tuple[int, int, int, int]
Point = tuple[float, float]
Color = tuple[int, int, int, int]


class _Font(NamedTuple):
    package: str
    path: str


_KAI = _Font("fonts-arphic-gkai00mp", "/usr/share/fonts/truetype/arphic-gkai00mp/gkai00mp.ttf")
_COMIC = _Font("fonts-comic-neue", "/usr/share/fonts/opentype/comic-neue/ComicNeue-Regular.otf")
_COMIC_BOLD = _Font("fonts-comic-neue", "/usr/share/fonts/opentype/comic-neue/ComicNeue-Bold.otf")
_HUMOR = _Font("fonts-humor-sans", "/usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf")


@cache
def _font(font: _Font, size: int) -> ImageFont.FreeTypeFont:
    if not Path(font.path).is_file():
        pytest.fail(
            f"the handwriting font {font.path} is missing: install the Debian package "
            f"{font.package} (it is listed in scripts/debian-packages.txt; "
            "scripts/setup.sh installs it)",
            pytrace=False,
        )
    return ImageFont.truetype(font.path, size)


# --- layouts ----------------------------------------------------------------------------------


class Words(NamedTuple):
    """The same words in Chinese and English."""

    zh: str
    en: str

    def text(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


NO_WORDS = Words("", "")


@dataclass(frozen=True)
class WidgetSpec:
    """One widget of a layout. ``marked``: a filled button, a ticked checkbox, a switch turned on,
    the first radio option chosen. ``weight``: its share of the row's width."""

    type: str
    label: Words = NO_WORDS
    placeholder: Words = NO_WORDS
    options: tuple[Words, ...] = ()
    marked: bool = False
    weight: float = 1.0

    def __post_init__(self) -> None:
        if self.type not in WIDGET_TYPES:
            known = ", ".join(WIDGET_TYPES)
            raise ValueError(f"unknown widget type {self.type!r}; known types: {known}")
        if self.options and self.type not in _OPTION_TYPES:
            raise ValueError(
                f"a {self.type} has no options; only {', '.join(_OPTION_TYPES)} do "
                "(draw a group of checkboxes as one checkbox per choice)"
            )
        if not self.options and self.type in ("radio", "list", "tabbar"):
            raise ValueError(f"a {self.type} needs options")


@dataclass(frozen=True)
class ScreenLayout:
    """A screen as rows of widgets, top to bottom; a tab bar, if any, is the last row, alone."""

    name: str
    rows: tuple[tuple[WidgetSpec, ...], ...]


def _w(
    kind: str,
    label: tuple[str, str] = ("", ""),
    placeholder: tuple[str, str] = ("", ""),
    options: Sequence[tuple[str, str]] = (),
    *,
    marked: bool = False,
    weight: float = 1.0,
) -> WidgetSpec:
    return WidgetSpec(
        kind, Words(*label), Words(*placeholder), tuple(Words(*o) for o in options), marked, weight
    )


SCREENS: dict[str, ScreenLayout] = {
    layout.name: layout
    for layout in (
        ScreenLayout(
            "leave_request",
            (
                (_w("title", ("请假申请", "Leave request")),),
                (_w("select", ("请假类型", "Leave type"), ("请选择", "Choose")),),
                (_w("date", ("开始日期", "Start date"), ("选择日期", "Pick a day")),),
                (_w("date", ("结束日期", "End date"), ("选择日期", "Pick a day")),),
                (_w("input", ("请假天数", "Days"), ("0", "0")),),
                (_w("textarea", ("请假事由", "Reason"), ("请输入请假事由", "Why you need leave")),),
                (_w("button", ("取消", "Cancel")), _w("button", ("提交", "Submit"), marked=True)),
            ),
        ),
        ScreenLayout(
            "expense_claim",
            (
                (_w("title", ("报销申请", "Expense claim")),),
                (_w("select", ("报销类型", "Category"), ("请选择", "Choose")),),
                (_w("input", ("金额", "Amount"), ("0.00", "0.00")),),
                (_w("date", ("发生日期", "Date"), ("2024-06-01", "2024-06-01")),),
                (_w("textarea", ("费用说明", "Details"), ("请填写费用说明", "What was it for")),),
                (_w("image", ("上传发票", "Receipt photo")),),
                (_w("button", ("提交报销", "Submit claim"), marked=True),),
            ),
        ),
        ScreenLayout(
            "room_booking",
            (
                (_w("title", ("会议室预定", "Book a room")),),
                (_w("select", ("会议室", "Room"), ("请选择会议室", "Choose a room")),),
                (_w("date", ("日期", "Day"), ("选择日期", "Pick a day")),),
                (
                    _w("select", ("开始时间", "From"), ("09:00", "09:00")),
                    _w("select", ("结束时间", "To"), ("10:00", "10:00")),
                ),
                (_w("input", ("会议主题", "Topic"), ("请输入主题", "What is it about")),),
                (_w("switch", ("需要投影", "Projector"), marked=True),),
                (_w("checkbox", ("通知参会人", "Notify attendees"), marked=True),),
                (_w("button", ("预定", "Book"), marked=True),),
            ),
        ),
        ScreenLayout(
            "sign_up",
            (
                (_w("title", ("注册账号", "Create account")),),
                (_w("input", ("手机号", "Phone"), ("请输入手机号", "Your number")),),
                (
                    _w("input", ("验证码", "Code"), ("六位数字", "6 digits"), weight=1.4),
                    _w("button", ("获取验证码", "Send code")),
                ),
                (_w("input", ("密码", "Password"), ("至少八位", "8 or more")),),
                (_w("radio", ("性别", "Gender"), options=(("男", "Male"), ("女", "Female"))),),
                (_w("checkbox", ("我已阅读并同意用户协议", "I agree to the terms")),),
                (_w("button", ("注册", "Sign up"), marked=True),),
            ),
        ),
        ScreenLayout(
            "feedback_survey",
            (
                (_w("title", ("培训反馈", "Training feedback")),),
                (_w("text", ("请花一分钟填写问卷", "Tell us how it went")),),
                (
                    _w(
                        "radio",
                        ("总体评价", "Overall"),
                        options=(("满意", "Good"), ("一般", "Fair"), ("不满意", "Poor")),
                        marked=True,
                    ),
                ),
                (_w("text", ("哪些部分有帮助", "What helped")),),
                (
                    _w("checkbox", ("讲解", "Talks"), marked=True),
                    _w("checkbox", ("案例", "Cases")),
                    _w("checkbox", ("练习", "Labs")),
                ),
                (_w("switch", ("匿名提交", "Anonymous")),),
                (_w("textarea", ("其他建议", "Comments"), ("写下你的建议", "Anything else")),),
                (_w("button", ("提交", "Send"), marked=True),),
            ),
        ),
        ScreenLayout(
            "room_list",
            (
                (_w("title", ("会议室", "Rooms")),),
                (_w("input", placeholder=("搜索会议室", "Search rooms")),),
                (_w("image"),),
                (
                    _w(
                        "list",
                        options=(
                            ("一号会议室", "Room A"),
                            ("二号会议室", "Room B"),
                            ("三号会议室", "Room C"),
                        ),
                    ),
                ),
                (
                    _w(
                        "tabbar",
                        options=(
                            ("首页", "Home"),
                            ("预定", "Book"),
                            ("日程", "Agenda"),
                            ("我的", "Me"),
                        ),
                    ),
                ),
            ),
        ),
        ScreenLayout(
            "notification_settings",
            (
                (_w("title", ("通知设置", "Notifications")),),
                (_w("switch", ("接收通知", "Send me alerts"), marked=True),),
                (_w("switch", ("提示音", "Sound")),),
                (
                    # too long to go side by side: the options stack, one below the other
                    _w(
                        "radio",
                        ("提醒频率", "How often"),
                        options=(
                            ("每天一次", "Once a day"),
                            ("每周一次", "Once a week"),
                            ("仅在被提及时", "When mentioned"),
                            ("从不", "Never"),
                        ),
                        marked=True,
                    ),
                ),
                (_w("select", ("免打扰时段", "Quiet hours"), ("22:00-08:00", "22:00-08:00")),),
                (_w("button", ("保存", "Save"), marked=True),),
            ),
        ),
        ScreenLayout(
            "profile",
            (
                (_w("title", ("个人资料", "My profile")),),
                (_w("image", ("头像", "Photo")),),
                (_w("input", ("昵称", "Nickname"), ("请输入昵称", "What we call you")),),
                (_w("switch", ("公开手机号", "Show my phone")),),
                (_w("switch", ("允许搜索到我", "Findable by name"), marked=True),),
                (_w("button", ("保存", "Save"), marked=True),),
            ),
        ),
        ScreenLayout(
            "sign_in",
            (
                (_w("title", ("欢迎回来", "Welcome back")),),
                (_w("input", ("账号", "Account"), ("手机号或邮箱", "Phone or email")),),
                (_w("input", ("密码", "Password"), ("请输入密码", "Your password")),),
                (_w("checkbox", ("记住我", "Remember me"), marked=True),),
                (_w("button", ("登录", "Sign in"), marked=True),),
                (_w("text", ("忘记密码请联系管理员", "Forgot it? Ask your admin")),),
            ),
        ),
        ScreenLayout(
            "contact_search",
            (
                (_w("title", ("通讯录", "Contacts")),),
                (_w("input", placeholder=("搜索姓名或部门", "Search name or team")),),
                (
                    _w(
                        "list",
                        options=(
                            ("张伟", "Zhang Wei"),
                            ("李娜", "Li Na"),
                            ("王芳", "Wang Fang"),
                            ("刘洋", "Liu Yang"),
                        ),
                    ),
                ),
                (
                    _w(
                        "tabbar",
                        options=(("消息", "Chats"), ("通讯录", "Contacts"), ("我的", "Me")),
                    ),
                ),
            ),
        ),
    )
}


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SketchWidget:
    """Ground truth for one drawn widget; see the module docstring for what ``bbox`` covers."""

    type: str
    label: str
    bbox: Box
    placeholder: str = ""
    options: tuple[str, ...] = ()
    row: int = 0
    """The layout row, from 0 at the top; widgets side by side share it."""
    column: int = 0
    """The place in its row, from 0 at the left."""


_IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


@dataclass(frozen=True, eq=False)
class Sketch:
    image: Image.Image
    widgets: tuple[SketchWidget, ...]
    language: str
    name: str
    frame: tuple[Point, ...]
    style: Style = "paper"
    seed: int = 0
    page_to_image: tuple[tuple[float, float, float], ...] = _IDENTITY

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.image.save(buffer, "PNG")
        return buffer.getvalue()

    def jpeg(self, quality: int = 85) -> bytes:
        buffer = io.BytesIO()
        self.image.convert("RGB").save(buffer, "JPEG", quality=quality)
        return buffer.getvalue()

    def texts(self) -> tuple[str, ...]:
        """Every label and option written on the screen (placeholders are not included)."""
        found: list[str] = []
        for widget in self.widgets:
            found.extend(text for text in (widget.label, *widget.options) if text)
        return tuple(found)


# --- drawing ----------------------------------------------------------------------------------

PAGE_WIDTH = 760
_FRAME_MARGIN = 40
_FRAME_PADDING = 36
_MIN_FRAME_HEIGHT = 1080


@dataclass(frozen=True)
class _Look:
    ink: Color
    faint: Color
    shade: Color
    jitter: float
    widths: tuple[int, int]
    overshoot: tuple[float, float]


_LOOKS: dict[str, _Look] = {
    "clean": _Look(
        (30, 30, 36, 255), (150, 150, 150, 255), (222, 222, 222, 255), 0.25, (3, 3), (0.0, 2.0)
    ),
    "paper": _Look(
        (68, 70, 80, 255), (150, 150, 158, 255), (120, 120, 130, 70), 1.0, (2, 4), (2.0, 7.0)
    ),
}


_INKED = [0] * 96 + [255] * 160
"""Glyph coverage that counts as ink for a text's box: the faint anti-aliased rim does not."""


class _Pen:
    """Draws ink onto a transparent layer, the way a hand would: wobbly strokes, uneven letters."""

    def __init__(
        self, layer: Image.Image, look: _Look, language: str, rng: np.random.Generator, latin: _Font
    ) -> None:
        self.layer = layer
        self.draw = ImageDraw.Draw(layer)
        self.look = look
        self.language = language
        self.rng = rng
        self.latin = latin

    # strokes

    def _ink(self) -> Color:
        red, green, blue, alpha = self.look.ink
        if self.look.jitter < 0.5:
            return self.look.ink
        return red, green, blue, int(alpha * self.rng.uniform(0.8, 1.0))

    def _wobble(self, points: Sequence[Point]) -> list[Point]:
        jitter = self.look.jitter
        out: list[Point] = []
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            length = math.hypot(x1 - x0, y1 - y0)
            if length == 0:
                continue
            steps = max(2, int(length / 9))
            nx, ny = -(y1 - y0) / length, (x1 - x0) / length
            amplitude = jitter * min(2.2, 0.4 + 0.01 * length)
            phase1, phase2 = self.rng.uniform(0, 2 * math.pi, 2)
            waves1, waves2 = self.rng.uniform(0.3, 1.2), self.rng.uniform(1.5, 3.0)
            for step in range(steps):
                t = step / steps
                offset = amplitude * (
                    0.65 * math.sin(2 * math.pi * waves1 * t + phase1)
                    + 0.35 * math.sin(2 * math.pi * waves2 * t + phase2)
                ) + self.rng.normal(0, 0.2 * jitter)
                out.append((x0 + (x1 - x0) * t + nx * offset, y0 + (y1 - y0) * t + ny * offset))
        out.append(points[-1])
        return out

    def stroke(self, points: Sequence[Point], color: Color | None = None) -> None:
        wobbly = self._wobble(points)
        low, high = self.look.widths
        color = color or self._ink()
        pieces = int(self.rng.integers(1, 4))
        cuts = [round(len(wobbly) * i / pieces) for i in range(pieces + 1)]
        for start, end in itertools.pairwise(cuts):
            piece = wobbly[max(0, start - 1) : end + 1]
            if len(piece) >= 2:
                width = int(self.rng.integers(low, high + 1))
                self.draw.line(piece, fill=color, width=width, joint="curve")

    def line(self, start: Point, end: Point, *, overshoot: bool = True) -> None:
        (x0, y0), (x1, y1) = start, end
        length = math.hypot(x1 - x0, y1 - y0) or 1.0
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        low, high = self.look.overshoot if overshoot else (0.0, 0.5)
        high = min(high, max(low, 0.12 * length))
        before, after = self.rng.uniform(low, high, 2)
        tilt = self.rng.normal(0, 0.6 * self.look.jitter, 2)
        self.stroke(
            [
                (x0 - ux * before - uy * tilt[0], y0 - uy * before + ux * tilt[0]),
                (x1 + ux * after - uy * tilt[1], y1 + uy * after + ux * tilt[1]),
            ]
        )

    def box(self, x: float, y: float, w: float, h: float) -> None:
        for start, end in (
            ((x, y), (x + w, y)),
            ((x + w, y), (x + w, y + h)),
            ((x + w, y + h), (x, y + h)),
            ((x, y + h), (x, y)),
        ):
            self.line(start, end)

    def rounded_box(self, x: float, y: float, w: float, h: float, radius: float) -> None:
        radius = min(radius, w / 2, h / 2)
        points: list[Point] = []
        corners = (
            (x + w - radius, y + radius, -90),
            (x + w - radius, y + h - radius, 0),
            (x + radius, y + h - radius, 90),
            (x + radius, y + radius, 180),
        )
        for cx, cy, start in corners:
            for step in range(7):
                angle = math.radians(start + 15 * step)
                points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
        points.extend(points[:3])
        self.stroke(points)

    def circle(self, cx: float, cy: float, radius: float, *, filled: bool = False) -> None:
        start = self.rng.uniform(0, 2 * math.pi)
        turn = 2 * math.pi + self.rng.uniform(0.1, 0.5) * self.look.jitter
        steps = max(12, int(radius * 1.5))
        squash = 1 + self.rng.normal(0, 0.04 * self.look.jitter)
        points = [
            (
                cx + radius * squash * math.cos(start + turn * i / steps),
                cy + radius / squash * math.sin(start + turn * i / steps),
            )
            for i in range(steps + 1)
        ]
        if filled:
            self.draw.ellipse(
                (cx - radius, cy - radius, cx + radius, cy + radius), fill=self._ink()
            )
        self.stroke(points)

    def shade(self, x: float, y: float, w: float, h: float) -> None:
        """Fill a box lightly: flat grey when clean, sparse pencil hatching on paper."""
        if self.look.jitter < 0.5:
            self.draw.rectangle((x + 3, y + 3, x + w - 3, y + h - 3), fill=self.look.shade)
            return
        spacing = 7.0
        offset = 6.0
        while offset < w + h - 6:
            x0, y0 = x + min(offset, w - 4), y + max(4.0, offset - w + 4)
            x1, y1 = x + max(4.0, offset - h + 4), y + min(offset, h - 4)
            self.draw.line((x0, y0, x1, y1), fill=self.look.shade, width=2)
            offset += spacing + self.rng.uniform(-1, 1)

    def scribble(self, x: float, y: float, w: float) -> None:
        """A wavy line that stands for text nobody bothered to write."""
        points = [
            (x + w * i / 24, y + 4 * math.sin(i * 1.7 + self.rng.uniform(0, 0.6)))
            for i in range(25)
        ]
        self.stroke(points, color=self.look.faint)

    # text

    def _font_for(self, char: str, size: int, bold: bool) -> ImageFont.FreeTypeFont:
        if self.language == "zh" and not char.isascii():
            return _font(_KAI, size)
        latin = _COMIC_BOLD if bold and self.latin == _COMIC else self.latin
        return _font(latin, size if self.language == "en" else round(size * 0.95))

    def measure(self, text: str, size: int, *, bold: bool = False) -> tuple[float, float, float]:
        """Width, and the ink's top and bottom below the text's top, without jitter."""
        width, top, bottom = 0.0, float(size), 0.0
        for char in text:
            font = self._font_for(char, size, bold)
            width += font.getlength(char) + self._spacing(size) / 2
            if not char.isspace():
                box = font.getbbox(char)
                top, bottom = min(top, box[1]), max(bottom, box[3])
        return width, top, max(bottom, top + 1)

    def _spacing(self, size: int) -> float:
        return size * (0.06 if self.language == "zh" else 0.02) * self.look.jitter

    def write(
        self,
        x: float,
        y: float,
        text: str,
        size: int,
        *,
        color: Color | None = None,
        bold: bool = False,
    ) -> Box | None:
        """Write text with its top-left at (x, y); return the box of the ink put down."""
        color = color or self.look.ink
        jitter = self.look.jitter * (1.0 if self.language == "zh" else 0.6)
        ink: list[int] | None = None
        cursor = x
        for char in text:
            font = self._font_for(
                char, max(8, round(size * self.rng.normal(1, 0.04 * jitter))), bold
            )
            advance = font.getlength(char)
            if not char.isspace():
                pad = size // 3
                tile = Image.new("L", (int(advance) + 2 * pad, size + 2 * pad))
                ImageDraw.Draw(tile).text(
                    (pad, pad), char, font=font, fill=255, stroke_width=1 if bold else 0
                )
                angle = self.rng.normal(0, 3.0 * jitter)
                if abs(angle) > 0.3:
                    tile = tile.rotate(angle, resample=Image.Resampling.BICUBIC)
                dx, dy = self.rng.normal(0, 0.6 * jitter), self.rng.normal(0, 1.2 * jitter)
                left, top = round(cursor + dx) - pad, round(y + dy) - pad
                alpha = np.asarray(tile, np.float32) * (color[3] / 255)
                glyph = np.empty((tile.height, tile.width, 4), np.uint8)
                glyph[:, :, :3] = color[:3]
                glyph[:, :, 3] = alpha.round().astype(np.uint8)
                self.layer.alpha_composite(Image.fromarray(glyph, "RGBA"), dest=(left, top))
                found = tile.point(_INKED).getbbox()
                if found is not None:
                    placed = [left + found[0], top + found[1], left + found[2], top + found[3]]
                    ink = (
                        placed
                        if ink is None
                        else [
                            min(ink[0], placed[0]),
                            min(ink[1], placed[1]),
                            max(ink[2], placed[2]),
                            max(ink[3], placed[3]),
                        ]
                    )
            cursor += advance + self._spacing(size) * self.rng.uniform(0, 1)
        if ink is None:
            return None
        return ink[0], ink[1], ink[2] - ink[0], ink[3] - ink[1]

    def write_centred(
        self,
        cx: float,
        cy: float,
        text: str,
        size: int,
        *,
        color: Color | None = None,
        bold: bool = False,
    ) -> Box:
        width, top, bottom = self.measure(text, size, bold=bold)
        box = self.write(
            cx - width / 2, cy - (top + bottom) / 2, text, size, color=color, bold=bold
        )
        assert box is not None
        return box

    def write_middle_left(
        self, x: float, cy: float, text: str, size: int, *, color: Color | None = None
    ) -> Box:
        _, top, bottom = self.measure(text, size)
        box = self.write(x, cy - (top + bottom) / 2, text, size, color=color)
        assert box is not None
        return box


def _union(*boxes: Box) -> Box:
    x0 = min(box[0] for box in boxes)
    y0 = min(box[1] for box in boxes)
    x1 = max(box[0] + box[2] for box in boxes)
    y1 = max(box[1] + box[3] for box in boxes)
    return x0, y0, x1 - x0, y1 - y0


def _int_box(x: float, y: float, w: float, h: float) -> Box:
    return round(x), round(y), round(w), round(h)


@dataclass
class _Page:
    """A page being laid out: the pen, the content column and the sizes for this language."""

    pen: _Pen
    rng: np.random.Generator
    language: str
    left: float
    right: float
    labels_left: bool
    label_column: float
    size: int
    found: list[SketchWidget]
    row: int = 0
    column: int = 0

    def words(self, words: Words) -> str:
        return words.text(self.language)

    def add(self, spec: WidgetSpec, bbox: Box, *, options: Sequence[str] = ()) -> None:
        self.found.append(
            SketchWidget(
                type=spec.type,
                label=self.words(spec.label),
                bbox=bbox,
                placeholder=self.words(spec.placeholder),
                options=tuple(options),
                row=self.row,
                column=self.column,
            )
        )

    def vary(self, value: float, spread: float = 0.06) -> float:
        return value * float(self.rng.uniform(1 - spread, 1 + spread))


_FIELD_TYPES = ("input", "select", "date")


def _place(page: _Page, spec: WidgetSpec, x: float, y: float, width: float, alone: bool) -> float:
    """Draw one widget in the slot starting at (x, y); return the height it took."""
    pen, size = page.pen, page.size
    label = page.words(spec.label)
    kind = spec.type
    if kind == "title":
        title_size = round(size * 1.45)
        text_width, _, _ = pen.measure(label, title_size, bold=True)
        left = x if page.rng.random() < 0.4 else x + (width - text_width) / 2
        box = pen.write(left, y, label, title_size, bold=True)
        assert box is not None
        page.add(spec, box)
        return title_size * 1.25
    if kind == "text":
        box = pen.write(x, y, label, size - 2)
        assert box is not None
        page.add(spec, box)
        return size * 1.3

    group = kind == "radio"
    side_label = alone and page.labels_left and bool(label) and (kind in _FIELD_TYPES or group)
    top = y
    if label and not side_label and (kind in (*_FIELD_TYPES, "textarea", "image") or group):
        pen.write(x + page.rng.uniform(0, 6), y, label, size)
        top = y + size * 1.35
    control_x = x + page.label_column if side_label else x
    control_width = x + width - control_x

    if kind in _FIELD_TYPES:
        height = page.vary(size * 2.0)
        if side_label:
            pen.write_middle_left(x, top + height / 2, label, size)
        _draw_field(page, spec, control_x, top, control_width, height)
        page.add(spec, _int_box(control_x, top, control_width, height))
        return top - y + height
    if kind == "textarea":
        height = page.vary(size * 4.6)
        pen.box(control_x, top, control_width, height)
        placeholder = page.words(spec.placeholder)
        if placeholder:
            pen.write(control_x + 14, top + 14, placeholder, size - 4, color=pen.look.faint)
        page.add(spec, _int_box(control_x, top, control_width, height))
        return top - y + height
    if kind == "image":
        height = page.vary(width * 0.42)
        pen.box(x, top, width, height)
        pen.line((x + 6, top + 6), (x + width - 6, top + height - 6), overshoot=False)
        pen.line((x + width - 6, top + 6), (x + 6, top + height - 6), overshoot=False)
        page.add(spec, _int_box(x, top, width, height))
        return top - y + height
    if kind == "button":
        height = page.vary(size * 2.15)
        button_width = width if not alone else page.vary(min(width, width * 0.8 + 40))
        left = x + (width - button_width) / 2
        if spec.marked:
            pen.shade(left, y, button_width, height)
        if page.rng.random() < 0.5:
            pen.rounded_box(left, y, button_width, height, height * 0.3)
        else:
            pen.box(left, y, button_width, height)
        pen.write_centred(left + button_width / 2, y + height / 2, label, size, bold=spec.marked)
        page.add(spec, _int_box(left, y, button_width, height))
        return height
    if kind == "switch":
        height = page.vary(size * 1.3, 0.04)
        pill_width = height * 2.0
        pen.write_middle_left(x, y + height / 2, label, size)
        left = x + width - pill_width - 4
        pen.rounded_box(left, y, pill_width, height, height / 2)
        knob_x = left + pill_width - height / 2 if spec.marked else left + height / 2
        pen.circle(knob_x, y + height / 2, height / 2 - 6, filled=spec.marked)
        page.add(spec, _int_box(left, y, pill_width, height))
        return height
    if kind in ("checkbox", "radio"):
        if side_label:
            pen.write_middle_left(x, top + size * 0.75, label, size)
        return top - y + _draw_choices(page, spec, control_x, top, control_width)
    if kind == "list":
        return _draw_list(page, spec, x, y, width)
    raise ValueError(f"{kind} widgets are placed by their own row")


def _draw_field(page: _Page, spec: WidgetSpec, x: float, y: float, w: float, h: float) -> None:
    pen, size = page.pen, page.size
    pen.box(x, y, w, h)
    icon_space = 0.0
    cy = y + h / 2
    if spec.type == "select":
        cx = x + w - h * 0.45
        pen.stroke([(cx - 11, cy - 5), (cx, cy + 6), (cx + 11, cy - 5)])
        icon_space = h * 0.8
    elif spec.type == "date":
        cx, side = x + w - h * 0.5, h * 0.42
        left, top = cx - side / 2, cy - side / 2 + 2
        pen.box(left, top, side, side * 0.9)
        pen.line((left, top + side * 0.3), (left + side, top + side * 0.3), overshoot=False)
        for ring in (left + side * 0.3, left + side * 0.7):
            pen.line((ring, top - 5), (ring, top + 4), overshoot=False)
        for row in range(2):
            for column in range(3):
                dot_x = left + side * (0.22 + 0.28 * column)
                dot_y = top + side * (0.5 + 0.22 * row)
                pen.draw.ellipse(
                    (dot_x - 1.5, dot_y - 1.5, dot_x + 1.5, dot_y + 1.5), fill=pen.look.ink
                )
        icon_space = h * 0.9
    placeholder = page.words(spec.placeholder)
    if placeholder:
        room = w - icon_space - 28
        text_size = size - 4
        while text_size > 14 and pen.measure(placeholder, text_size)[0] > room:
            text_size -= 2
        pen.write_middle_left(x + 14, cy, placeholder, text_size, color=pen.look.faint)


def _draw_choices(page: _Page, spec: WidgetSpec, x: float, y: float, width: float) -> float:
    pen, size = page.pen, page.size
    texts = (
        [page.words(option) for option in spec.options]
        if spec.type == "radio"
        else [page.words(spec.label)]
    )
    mark = size * 0.85
    gap = size * 1.6
    widths = [mark + 20 + pen.measure(text, size)[0] for text in texts]
    across = sum(widths) + gap * (len(texts) - 1) <= width
    row_height = size * 1.5
    boxes: list[Box] = []
    cursor_x, cursor_y = x, y
    for index, (text, item_width) in enumerate(zip(texts, widths, strict=True)):
        cy = cursor_y + row_height / 2
        chosen = spec.marked and index == 0
        if spec.type == "radio":
            pen.circle(cursor_x + mark / 2, cy, mark / 2)
            if chosen:
                pen.circle(cursor_x + mark / 2, cy, mark / 4, filled=True)
        else:
            pen.box(cursor_x, cy - mark / 2, mark, mark)
            if chosen:
                pen.stroke(
                    [
                        (cursor_x + mark * 0.2, cy),
                        (cursor_x + mark * 0.45, cy + mark * 0.3),
                        (cursor_x + mark * 0.85, cy - mark * 0.35),
                    ]
                )
        text_box = pen.write_middle_left(cursor_x + mark + 20, cy, text, size)
        boxes.append(_union(_int_box(cursor_x, cy - mark / 2, mark, mark), text_box))
        if across:
            cursor_x += item_width + gap
        else:
            cursor_y += row_height + 8
    bottom = y + row_height if across else cursor_y - 8
    page.add(spec, _union(*boxes), options=[page.words(option) for option in spec.options])
    return bottom - y


def _draw_list(page: _Page, spec: WidgetSpec, x: float, y: float, width: float) -> float:
    pen, size = page.pen, page.size
    row_height = page.vary(size * 3.0, 0.04)
    thumbnail = page.rng.random() < 0.7
    chevron = page.rng.random() < 0.6
    for index, option in enumerate(spec.options):
        top = y + index * row_height
        cy = top + row_height / 2
        text_x = x + 8
        if thumbnail:
            side = row_height * 0.62
            if index % 2 == 0 or page.rng.random() < 0.5:
                pen.box(x + 6, cy - side / 2, side, side)
            else:
                pen.circle(x + 6 + side / 2, cy, side / 2)
            text_x = x + side + 26
        pen.write(text_x, top + row_height * 0.16, page.words(option), size)
        pen.scribble(text_x, top + row_height * 0.72, (width - text_x + x) * 0.45)
        if chevron:
            cx = x + width - 20
            pen.stroke([(cx - 6, cy - 11), (cx + 5, cy), (cx - 6, cy + 11)])
        pen.line((x, top + row_height), (x + width, top + row_height))
    height = row_height * len(spec.options)
    page.add(
        spec, _int_box(x, y, width, height), options=[page.words(option) for option in spec.options]
    )
    return height


def _draw_tabbar(page: _Page, spec: WidgetSpec, left: float, right: float, bottom: float) -> None:
    pen, size = page.pen, page.size
    height = page.vary(size * 2.7, 0.04)
    top = bottom - height
    pen.line((left, top), (right, top), overshoot=False)
    cell = (right - left) / len(spec.options)
    icons = page.rng.random() < 0.6
    for index, option in enumerate(spec.options):
        cx = left + cell * (index + 0.5)
        if index:
            pen.line(
                (left + cell * index, top + 12), (left + cell * index, bottom - 12), overshoot=False
            )
        if icons:
            pen.circle(cx, top + height * 0.3, height * 0.13, filled=index == 0)
            pen.write_centred(cx, top + height * 0.7, page.words(option), size - 4)
        else:
            pen.write_centred(cx, top + height / 2, page.words(option), size - 2)
    page.add(
        spec,
        _int_box(left, top, right - left, bottom - top),
        options=[page.words(option) for option in spec.options],
    )


def _draw_page(
    layout: ScreenLayout, seed: int, look: _Look, language: str
) -> tuple[Image.Image, list[SketchWidget], tuple[Point, ...]]:
    """Draw the screen's ink on a transparent layer; return it, the ground truth and the frame."""
    layout_rng = np.random.default_rng([seed, 1])
    ink_rng = np.random.default_rng([seed, 2])
    latin = _COMIC if layout_rng.random() < 0.6 else _HUMOR
    layer = Image.new("RGBA", (PAGE_WIDTH, 3000), (0, 0, 0, 0))
    pen = _Pen(layer, look, language, ink_rng, latin)
    size = 32 if language == "zh" else 30
    frame_left, frame_right = _FRAME_MARGIN, PAGE_WIDTH - _FRAME_MARGIN
    left, right = frame_left + _FRAME_PADDING, frame_right - _FRAME_PADDING
    side_labels = [
        row[0].label.text(language)
        for row in layout.rows
        if len(row) == 1 and row[0].type in (*_FIELD_TYPES, "radio")
    ]
    label_width = max((pen.measure(text, size)[0] for text in side_labels if text), default=0.0)
    page = _Page(
        pen=pen,
        rng=layout_rng,
        language=language,
        left=left,
        right=right,
        labels_left=bool(layout_rng.random() < 0.5) and label_width < 0.4 * (right - left),
        label_column=label_width + 26,
        size=size,
        found=[],
    )
    y = float(_FRAME_MARGIN + 80)
    tabbar: WidgetSpec | None = None
    for row_number, row in enumerate(layout.rows):
        page.row = row_number
        if row[0].type == "tabbar":
            tabbar = row[0]
            continue
        gap = 30.0
        total_weight = sum(spec.weight for spec in row)
        usable = right - left - gap * (len(row) - 1)
        labelled = len(row) > 1 and any(
            spec.label != NO_WORDS and spec.type in _FIELD_TYPES for spec in row
        )
        x, row_height = float(left), 0.0
        for column, spec in enumerate(row):
            page.column = column
            width = usable * spec.weight / total_weight
            # A button beside labelled fields lines up with their boxes, not their labels.
            drop = size * 1.35 if labelled and spec.type == "button" else 0.0
            height = _place(page, spec, x, y + drop, width, alone=len(row) == 1)
            row_height = max(row_height, drop + height)
            x += width + gap
        y += row_height + page.vary(size * 1.05, 0.15)
    frame_bottom = max(y + (size * 3.2 if tabbar else 0.0) + 30, _FRAME_MARGIN + _MIN_FRAME_HEIGHT)
    if tabbar is not None:
        page.row, page.column = len(layout.rows) - 1, 0
        _draw_tabbar(page, tabbar, frame_left + 4, frame_right - 4, frame_bottom - 4)
    pen.rounded_box(
        frame_left, _FRAME_MARGIN, frame_right - frame_left, frame_bottom - _FRAME_MARGIN, 34
    )
    slot = PAGE_WIDTH / 2
    pen.line((slot - 44, _FRAME_MARGIN + 24), (slot + 44, _FRAME_MARGIN + 24), overshoot=False)
    height = round(frame_bottom + _FRAME_MARGIN)
    frame = (
        (float(frame_left), float(_FRAME_MARGIN)),
        (float(frame_right), float(_FRAME_MARGIN)),
        (float(frame_right), float(frame_bottom)),
        (float(frame_left), float(frame_bottom)),
    )
    return layer.crop((0, 0, PAGE_WIDTH, height)), page.found, frame


def _paper(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    width, height = size
    base = np.array([244, 240, 229], np.float32) + rng.normal(0, 2, 3)
    low = cv2.resize(
        rng.normal(0, 1, (height // 40 + 2, width // 40 + 2)).astype(np.float32),
        (width, height),
        interpolation=cv2.INTER_CUBIC,
    )
    grain = 2.2 * rng.standard_normal((height, width), np.float32)
    fibres = cv2.GaussianBlur(6 * rng.standard_normal((height, width), np.float32), (0, 0), 1.2)
    texture = 3.0 * low + grain + fibres
    return np.asarray(np.clip(base[None, None, :] + texture[:, :, None], 0, 255), np.float32)


def _desk(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    width, height = size
    palettes = ((108, 82, 60), (82, 84, 90), (60, 64, 58), (120, 104, 88))
    base = np.array(palettes[int(rng.integers(len(palettes)))], np.float32)
    ys = np.arange(height, dtype=np.float32)[:, None]
    xs = np.arange(width, dtype=np.float32)[None, :]
    grain_angle = rng.uniform(-0.2, 0.2)
    along = ys * math.cos(grain_angle) + xs * math.sin(grain_angle)
    streaks = 7 * np.sin(along / rng.uniform(9, 20) + 3 * np.sin(xs / rng.uniform(80, 200)))
    blotches = cv2.resize(
        rng.normal(0, 9, (8, 8)).astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC
    )
    noise = 4 * rng.standard_normal((height, width), np.float32)
    desk = base[None, None, :] + (streaks + blotches + noise)[:, :, None]
    return np.asarray(np.clip(desk, 0, 255), np.float32)


def _photograph(page: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Put the paper page on a desk and take a phone photo of it; return it and the homography."""
    rng = np.random.default_rng([seed, 3])
    height, width = page.shape[:2]
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    angle = math.radians(rng.uniform(-8, 8))
    scale = rng.uniform(0.85, 1.0)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    centred = (corners - [width / 2, height / 2]) * scale
    placed = centred @ rotation.T + rng.normal(0, 0.025 * width, (4, 2)).clip(-40, 40)
    margin = rng.uniform(40, 100, 2)
    placed = placed - placed.min(axis=0) + margin
    out_width, out_height = (placed.max(axis=0) + rng.uniform(40, 100, 2)).astype(int)
    homography = cv2.getPerspectiveTransform(corners, placed.astype(np.float32))
    size = (int(out_width), int(out_height))

    warped = cv2.warpPerspective(page, homography, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones((height, width), np.float32), homography, size)
    small = cv2.resize(np.roll(mask, (12, 9), axis=(0, 1)), (size[0] // 4, size[1] // 4))
    shadow = cv2.resize(cv2.GaussianBlur(small, (0, 0), 3.5), size)
    desk = _desk(size, rng) * (1 - 0.5 * shadow)[:, :, None]
    photo = desk * (1 - mask[:, :, None]) + warped.astype(np.float32) * mask[:, :, None]

    ys, xs = np.mgrid[0:out_height, 0:out_width].astype(np.float32)
    light_angle = rng.uniform(0, 2 * math.pi)
    along = (
        (xs - out_width / 2) * math.cos(light_angle) + (ys - out_height / 2) * math.sin(light_angle)
    ) / max(out_width, out_height)
    spot_x, spot_y = rng.uniform(0.2, 0.8) * out_width, rng.uniform(0.2, 0.8) * out_height
    spot = np.exp(-(((xs - spot_x) ** 2 + (ys - spot_y) ** 2) / (0.3 * out_width) ** 2))
    light = (1 + rng.uniform(0.25, 0.45) * along) * (0.88 + 0.14 * spot)
    tint = np.array([1.03, 1.0, 0.94], np.float32) + rng.normal(0, 0.015, 3).astype(np.float32)
    photo = photo * light[:, :, None] * tint[None, None, :]
    photo = cv2.GaussianBlur(photo, (0, 0), rng.uniform(0.6, 1.0))
    photo = photo + rng.uniform(3, 6) * rng.standard_normal(photo.shape, np.float32)
    rgb = np.clip(photo, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=int(rng.integers(72, 88)))
    return np.asarray(Image.open(buffer).convert("RGB")), homography


def _transform_box(box: Box, homography: np.ndarray, size: tuple[int, int]) -> Box:
    x, y, w, h = box
    corners = np.array([[[x, y], [x + w, y], [x + w, y + h], [x, y + h]]], np.float64)
    moved = cv2.perspectiveTransform(corners, homography)[0]
    x0, y0 = np.floor(moved.min(axis=0)).astype(int)
    x1, y1 = np.ceil(moved.max(axis=0)).astype(int)
    x0, y0 = max(0, int(x0)), max(0, int(y0))
    x1, y1 = min(size[0], int(x1)), min(size[1], int(y1))
    return x0, y0, x1 - x0, y1 - y0


def draw_sketch(
    screen: ScreenLayout | str, *, seed: int, style: Style = "paper", language: str = "zh"
) -> Sketch:
    """Draw one screen by hand, in one style and language; the same seed gives the same picture."""
    layout = SCREENS[screen] if isinstance(screen, str) else screen
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r}: sketches are drawn in {' or '.join(LANGUAGES)}")
    if style not in STYLES:
        raise ValueError(f"style {style!r}: choose one of {', '.join(STYLES)}")
    look = _LOOKS["clean" if style == "clean" else "paper"]
    layer, widgets, frame = _draw_page(layout, seed, look, language)
    if style == "clean":
        background = np.full((layer.height, layer.width, 3), 255, np.uint8)
    else:
        background = _paper(layer.size, np.random.default_rng([seed, 4])).astype(np.uint8)
    page = Image.alpha_composite(Image.fromarray(background).convert("RGBA"), layer).convert("RGB")
    if style == "clean":
        return Sketch(page, tuple(widgets), language, layout.name, frame, style, seed)
    page = page.filter(ImageFilter.GaussianBlur(0.5))
    if style == "paper":
        return Sketch(page, tuple(widgets), language, layout.name, frame, style, seed)
    rgb, homography = _photograph(np.asarray(page), seed)
    size = (rgb.shape[1], rgb.shape[0])
    moved = tuple(
        dataclasses.replace(widget, bbox=_transform_box(widget.bbox, homography, size))
        for widget in widgets
    )
    frame_points = cv2.perspectiveTransform(np.array([frame], np.float64), homography)[0]
    return Sketch(
        image=Image.fromarray(rgb),
        widgets=moved,
        language=language,
        name=layout.name,
        frame=tuple((float(px), float(py)) for px, py in frame_points),
        style=style,
        seed=seed,
        page_to_image=tuple((float(row[0]), float(row[1]), float(row[2])) for row in homography),
    )
