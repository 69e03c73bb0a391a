"""Image to spec: a photo or drawing of a phone screen becomes a ``UISpec``.

The route: shrink a large picture to a working size, find the paper (or phone) outline and warp
it upright, read the text (OCR, with each character's position), take the ink with the text
erased (strokes too long for any letter are kept), keep the long horizontal and vertical strokes
(extended a little so near-corners close, and joined through rounded corners), and treat the
regions they enclose as boxes. Boxes are classified by shape and content (text centred inside: a
button; a chevron on the right: a select; a small box on the right: a date; tall: a textarea, or
an image when crossed), small squares with text beside them are checkboxes, small circles radios
(side by side or stacked, even where OCR read a mark into a line of text), pills switches,
repeated long lines a list, a row of cells along the bottom a tab bar. Free text becomes the
title (the largest writing at the top), a label of the field right of or below it, or plain
text. Boxes are mapped back to the input image's pixels.

Text read from the image is data only; escaping happens in ``miniapp.codegen``.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from miniapp.image_in import LoadedImage, downscale
from miniapp.spec import (
    MAX_LABEL_CHARS,
    MAX_OPTION_CHARS,
    MAX_WIDGETS,
    ImageSize,
    Page,
    UISpec,
    WidgetType,
)
from miniapp.spec import Widget as SpecWidget

Array = npt.NDArray[Any]
Box = tuple[int, int, int, int]

WORKING_SIDE = 1600
"""A larger picture is read shrunk to this many pixels on its longer side: a phone photo of a
sketch (12 megapixels) shows nothing at 4,000 pixels that it does not at 1,600, and every stroke
width and gap the reading measures is then on the scale it was built for; the time stays bounded.
Boxes are still given in the input picture's pixels."""

__all__ = ["OcrEngine", "RapidOcrEngine", "TextLine", "default_ocr", "understand"]


@dataclass(frozen=True)
class TextLine:
    """One line of text OCR found: its four corners (x, y) clockwise from top left, and score."""

    text: str
    box: tuple[tuple[float, float], ...]
    score: float
    spans: tuple[tuple[float, float], ...] = ()
    """Where each character of ``text`` lies: its left and right x (a space: the gap it stands
    for). Empty when the engine does not tell; positions are then guessed from widths."""

    @property
    def bbox(self) -> Box:
        xs = [p[0] for p in self.box]
        ys = [p[1] for p in self.box]
        x0, y0 = int(min(xs)), int(min(ys))
        return x0, y0, int(max(xs)) - x0, int(max(ys)) - y0


class OcrEngine(Protocol):
    def read(self, rgb: Array) -> list[TextLine]: ...


class RapidOcrEngine:
    """rapidocr's bundled PP-OCR models; Traditional Chinese output is turned Simplified.

    The text-direction classifier is off: ``understand`` reads a page it has turned upright
    (EXIF orientation, the page's outline, the strokes' skew), and on hand-drawn words the
    classifier turned some upright lines upside down ("Sign up" read as "dn uis").
    """

    def __init__(self) -> None:
        from opencc import OpenCC
        from rapidocr import RapidOCR

        self._engine = RapidOCR(params={"Global.use_cls": False})
        self._t2s = OpenCC("t2s")
        self._lock = threading.Lock()

    def read(self, rgb: Array) -> list[TextLine]:
        with self._lock:
            result: Any = self._engine(
                np.ascontiguousarray(rgb), return_word_box=True, return_single_char_box=True
            )
        lines: list[TextLine] = []
        if result.txts is None:
            return lines
        characters = getattr(result, "word_results", None) or [()] * len(result.txts)
        for corners, text, score, chars in zip(
            result.boxes, result.txts, result.scores, characters, strict=True
        ):
            simplified = str(self._t2s.convert(str(text))) if _has_cjk(str(text)) else str(text)
            points = tuple((float(x), float(y)) for x, y in np.asarray(corners).tolist())
            spans = _spans(simplified, chars) if len(simplified) == len(str(text)) else ()
            lines.append(TextLine(simplified, points, float(score), spans))
        return lines


def _spans(text: str, chars: Any) -> tuple[tuple[float, float], ...]:
    """Each character's left and right x from rapidocr's character boxes (which leave out the
    spaces: a space spans the gap between its neighbours); empty if they do not add up."""
    try:
        found = [
            (str(char), min(float(p[0]) for p in corners), max(float(p[0]) for p in corners))
            for char, _, corners in chars
        ]
    except (TypeError, ValueError):
        return ()
    visible = [i for i, ch in enumerate(text) if not ch.isspace()]
    if len(found) != len(visible) or not found:
        return ()
    spans: list[tuple[float, float] | None] = [None] * len(text)
    for i, (_, left, right) in zip(visible, found, strict=True):
        spans[i] = (left, right)
    out: list[tuple[float, float]] = []
    for i, span in enumerate(spans):
        if span is None:
            before = next((s[1] for s in reversed(spans[:i]) if s is not None), found[0][1])
            after = next((s[0] for s in spans[i + 1 :] if s is not None), found[-1][2])
            span = (before, max(before, after))
        out.append(span)
    return tuple(out)


_DEFAULT: list[RapidOcrEngine] = []
_DEFAULT_LOCK = threading.Lock()


def default_ocr() -> RapidOcrEngine:
    """The process-wide OCR engine, created on first use."""
    with _DEFAULT_LOCK:
        if not _DEFAULT:
            _DEFAULT.append(RapidOcrEngine())
        return _DEFAULT[0]


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in text)


# --- geometry helpers ---------------------------------------------------------------------------


def _iou(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = min(ax + aw, bx + bw) - max(ax, bx)
    ih = min(ay + ah, by + bh) - max(ay, by)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / float(aw * ah + bw * bh - inter)


def _inside(inner: Box, outer: Box, slack: int = 4) -> bool:
    ix, iy, iw, ih = inner
    ox, oy, ow, oh = outer
    return (
        ix >= ox - slack
        and iy >= oy - slack
        and ix + iw <= ox + ow + slack
        and iy + ih <= oy + oh + slack
    )


def _union(*boxes: Box) -> Box:
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return x0, y0, x1 - x0, y1 - y0


def _cx(b: Box) -> float:
    return b[0] + b[2] / 2


def _cy(b: Box) -> float:
    return b[1] + b[3] / 2


# --- frame ----------------------------------------------------------------------------------------


def _order(points: Array) -> Array:
    pts = points.reshape(4, 2).astype(np.float32)
    s = pts.sum(axis=1)
    d = np.diff(pts, axis=1).ravel()
    return np.array(
        [pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)], pts[np.argmax(d)]], np.float32
    )


def _find_page(rgb: Array) -> tuple[Array, Array]:
    """The page warped upright and the homography from it back to the input image."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    height, width = grey.shape
    identity = np.eye(3, dtype=np.float64)
    blur = cv2.GaussianBlur(grey, (0, 0), 3)
    _, bright = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # The paper is bright on a darker desk: a page that fills the picture needs no warp.
    border = np.concatenate([bright[0], bright[-1], bright[:, 0], bright[:, -1]])
    if border.mean() > 0.6 * 255:
        return _deskew(rgb, grey)
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return rgb, identity
    biggest = max(contours, key=cv2.contourArea)
    if cv2.contourArea(biggest) < 0.25 * width * height:
        return rgb, identity
    hull = cv2.convexHull(biggest)
    quad = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)
    if len(quad) != 4:
        return rgb, identity
    corners = _order(quad)
    top = np.linalg.norm(corners[1] - corners[0])
    bottom = np.linalg.norm(corners[2] - corners[3])
    left = np.linalg.norm(corners[3] - corners[0])
    right = np.linalg.norm(corners[2] - corners[1])
    out_w, out_h = int(max(top, bottom)), int(max(left, right))
    target = np.array([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]], np.float32)
    forward = cv2.getPerspectiveTransform(corners, target)
    warped = cv2.warpPerspective(rgb, forward, (out_w, out_h), flags=cv2.INTER_LINEAR)
    back = np.linalg.inv(forward)
    return warped, back


def _deskew(rgb: Array, grey: Array) -> tuple[Array, Array]:
    """A flat scan turned a few degrees: level its long strokes (boxes, rules, the frame)."""
    identity = np.eye(3, dtype=np.float64)
    height, width = grey.shape
    edges = cv2.Canny(grey, 50, 150)
    segments = cv2.HoughLinesP(
        edges, 1, np.pi / 720, threshold=120, minLineLength=int(width * 0.3), maxLineGap=8
    )
    if segments is None:
        return rgb, identity
    angles = []
    for x0, y0, x1, y1 in np.asarray(segments).reshape(-1, 4).tolist():
        angle = float(np.degrees(np.arctan2(y1 - y0, x1 - x0)))
        if abs(angle) < 10:
            angles.append(angle)
    if len(angles) < 3:
        return rgb, identity
    skew = float(np.median(angles))
    agree = float(np.mean([abs(a - skew) < 0.5 for a in angles]))
    if abs(skew) < 1.0 or agree < 0.6:
        return rgb, identity
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), skew, 1.0)
    level = cv2.warpAffine(
        rgb, turn, (width, height), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255)
    )
    forward = np.vstack([turn, [0.0, 0.0, 1.0]])
    return level, np.linalg.inv(forward)


def _map_box(box: Box, homography: Array, size: tuple[int, int]) -> Box:
    x, y, w, h = box
    pts = np.array([[[x, y], [x + w, y], [x + w, y + h], [x, y + h]]], np.float64)
    moved = cv2.perspectiveTransform(pts, homography)[0]
    x0 = max(0, int(np.floor(moved[:, 0].min())))
    y0 = max(0, int(np.floor(moved[:, 1].min())))
    x1 = min(size[0], int(np.ceil(moved[:, 0].max())))
    y1 = min(size[1], int(np.ceil(moved[:, 1].max())))
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)


# --- detection ----------------------------------------------------------------------------------

_MARK_CHARS = "□■口☐☑◻"
_CIRCLE_CHARS = "○◯●◎⊙〇Oo0"
_RADIO_MARK = re.compile(
    "(?:^|\\s|(?<=[\u4e00-\u9fff]))[O0o○◯●◎⊙〇]\\s*(?=[A-Z\u4e00-\u9fff]|$)|\\s{2,}"
)
_MARK_BETWEEN = re.compile("(?:^|\\s)[O0o○◯●◎⊙〇](?:\\s|$)|\\s{2,}")
"""Where a mark OCR read as a letter O stands alone, or only a wide gap, splits two options
(a line whose marks were found is cut at them by position; this is for the ones missed)."""
_CHEVRONS = {"v", "V", "∨", "﹀", "√", "✓", "y", "Y", "~"}


@dataclass
class _Found:
    type: WidgetType
    bbox: Box
    label: str = ""
    placeholder: str = ""
    options: list[str] = field(default_factory=list)
    confidence: float = 0.7


@dataclass
class _Text:
    text: str
    bbox: Box
    used: bool = False
    spans: tuple[tuple[float, float], ...] = ()
    """As ``TextLine.spans``: where each character of ``text`` lies."""


def _ink_mask(grey: Array, contrast: int = 18) -> Array:
    """Pixels at least ``contrast`` grey levels darker than their neighbourhood's mean."""
    blur = cv2.GaussianBlur(grey, (3, 3), 0)
    mask = cv2.adaptiveThreshold(
        blur, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, contrast
    )
    return mask


def _line_mask(ink: Array, length: int, extend: int, reach: int) -> tuple[Array, Array]:
    """The horizontal and the upright strokes of at least ``length`` pixels, thickened, and
    lengthened by ``extend`` at both ends so that near-corners close; except a line that even
    lengthened stays shorter than ``reach`` (an icon's side, which would wall off part of the
    box it is drawn in). A line broken into pieces counts as long as the pieces together."""
    masks: list[Array] = []
    for across in (True, False):
        along = (length, 1) if across else (1, length)
        lengthen = (2 * extend + 1, 3) if across else (3, 2 * extend + 1)
        strokes = cv2.morphologyEx(
            ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, along)
        )
        extended = cv2.dilate(strokes, cv2.getStructuringElement(cv2.MORPH_RECT, lengthen))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(extended, connectivity=8)
        spans = stats[:, cv2.CC_STAT_WIDTH if across else cv2.CC_STAT_HEIGHT]
        long = (spans >= reach + 2 * extend) & (np.arange(count) > 0)
        thick = cv2.dilate(
            strokes, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 3) if across else (3, 1))
        )
        masks.append(np.where(long[labels], extended, thick).astype(np.uint8))
    return masks[0], masks[1]


def _long_strokes(raw: Array, across: int, upright: int) -> Array:
    """The horizontal runs of at least ``across`` pixels and upright ones of ``upright``."""
    horizontal = cv2.morphologyEx(
        raw, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, across), 1))
    )
    vertical = cv2.morphologyEx(
        raw, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(3, upright)))
    )
    return cv2.bitwise_or(horizontal, vertical)


def _corners(ink: Array, horizontal: Array, vertical: Array, unit: float) -> Array:
    """The ink where a horizontal and an upright stroke nearly meet: a rounded corner's arc,
    which neither line mask keeps, so that a rounded box closes like a square one."""
    reach = cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, int(unit * 0.7)),) * 2)
    near = cv2.bitwise_and(cv2.dilate(horizontal, reach), cv2.dilate(vertical, reach))
    arcs = cv2.bitwise_and(ink, near)
    return cv2.dilate(arcs, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))


def _enclosed(lines: Array, min_side: int) -> list[Box]:
    free = cv2.bitwise_not(lines)
    count, _, stats, _ = cv2.connectedComponentsWithStats(free, connectivity=4)
    height, width = lines.shape
    boxes: list[Box] = []
    for index in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[index])
        if x == 0 or y == 0 or x + w >= width or y + h >= height:
            continue
        if w < min_side or h < min_side or w * h > 0.4 * width * height:
            continue
        if area < 0.8 * w * h:
            continue
        grow = 2
        boxes.append((x - grow, y - grow, w + 2 * grow, h + 2 * grow))
    return boxes


def _detect(page: Array, lines_read: list[TextLine]) -> list[_Found]:
    grey = cv2.cvtColor(page, cv2.COLOR_RGB2GRAY)
    width = grey.shape[1]
    ink = _ink_mask(grey)
    raw = ink.copy()
    texts: list[_Text] = []
    heights: list[int] = []
    for line in lines_read:
        spans = line.spans if len(line.spans) == len(line.text) else ()
        text, spans = _strip(line.text, spans)
        if not text:
            continue
        x, y, w, h = line.bbox
        x, y = max(0, x), max(0, y)
        heights.append(h)
        # A leading checkbox square read as text keeps its ink; the rest is erased.
        if text[0] in _MARK_CHARS and len(text) > 1:
            text, spans = _strip(text, spans, 1)
            cut = int(spans[0][0]) - x if spans else int(w / (len(text) + 1))
            x, w = x + cut, w - cut
        ex, ey, ew, eh = x + 2, y + 3, w - 4, h - 6
        if ew > 0 and eh > 0:
            texts.append(_Text(text, _tight(raw, (ex, ey, ew, eh)), spans=spans))
            ink[ey : ey + eh, ex : ex + ew] = 0
    unit = float(np.median(heights)) if heights else 36.0
    # The size of the writing is the height of its ink: an OCR line's box adds a padding of its
    # own, more around Chinese than around Latin letters.
    letters = float(np.median([t.bbox[3] for t in texts])) if texts else unit * 0.7
    # A text line's box often reaches over the edge of the box it sits in or on: put back the
    # strokes too long to be part of any letter, so erasing the text never opens a box.
    ink = cv2.bitwise_or(ink, _long_strokes(raw, int(unit * 2.5), int(unit * 1.3)))
    horizontal, vertical = _line_mask(
        ink, max(12, int(unit * 0.45)), max(5, int(unit * 0.3)), int(unit * 0.9)
    )
    lines = cv2.bitwise_or(horizontal, vertical)
    lines = cv2.bitwise_or(lines, _corners(ink, horizontal, vertical, unit))
    boxes = _enclosed(lines, max(10, int(unit * 0.4)))
    boxes = _dedupe(boxes)

    found: list[_Found] = []
    small = [b for b in boxes if max(b[2], b[3]) < unit * 1.6]
    large = [b for b in boxes if max(b[2], b[3]) >= unit * 1.6 and min(b[2], b[3]) >= unit * 1.1]
    # a tab bar: a long line near the bottom, upright separators, a name in every cell
    occupied: list[Box] = []
    found.extend(_find_tabbar(horizontal, vertical, texts, occupied, width, unit))
    large = [b for b in large if not any(_inside(b, o, 8) for o in occupied)]
    large = [b for b in large if not any(_inside(b, o, 0) and b != o for o in large)]
    for box in large:
        found.append(_classify_box(box, texts, small, ink, vertical, unit))
    occupied.extend(f.bbox for f in found if f.type != "tabbar")
    found.extend(_find_list(horizontal, texts, occupied, width, unit))
    found.extend(_find_round(raw, _ink_mask(grey, 10), texts, occupied, unit, letters))
    lists = [f.bbox for f in found if f.type == "list"]
    found = [f for f in found if f.type == "list" or not any(_inside(f.bbox, b, 6) for b in lists)]
    free = [t for t in texts if not t.used]
    if free:
        top = [t for t in free if t.bbox[1] < min(t.bbox[1] for t in free) + unit * 2]
        title = max(top, key=lambda t: t.bbox[3])
        if title.bbox[3] > letters * 1.2 or not found:
            title.used = True
            found.append(_Found("title", title.bbox, label=title.text, confidence=0.8))
    fields = [
        f
        for f in found
        if f.type in ("input", "select", "date", "textarea", "radio", "image", "switch")
    ]
    _attach_labels(fields, texts, unit, [f.bbox for f in found])
    for t in texts:
        if not t.used:
            found.append(_Found("text", t.bbox, label=t.text, confidence=0.5))
    return found


def _strip(
    text: str, spans: tuple[tuple[float, float], ...], drop: int = 0
) -> tuple[str, tuple[tuple[float, float], ...]]:
    """The text without its first ``drop`` characters and surrounding spaces, spans alike."""
    start, end = drop, len(text)
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return text[start:end], spans[start:end] if spans else ()


def _tight(raw: Array, box: Box) -> Box:
    """A text line's box shrunk to the ink inside it."""
    x, y, w, h = box
    ys, xs = np.nonzero(raw[y : y + h, x : x + w])
    if len(xs) < 4:
        return box
    return (
        x + int(xs.min()),
        y + int(ys.min()),
        int(xs.max() - xs.min()) + 1,
        int(ys.max() - ys.min()) + 1,
    )


def _hollow(raw: Array, box: Box) -> bool:
    x, y, w, h = box
    core = raw[y + int(h * 0.3) : y + int(h * 0.7), x + int(w * 0.3) : x + int(w * 0.7)]
    return bool(core.size) and float((core > 0).mean()) < 0.05


def _set_apart(raw: Array, box: Box, unit: float) -> bool:
    """A mark, not a letter: a clear gap follows it before the text beside it."""
    x, y, w, h = box
    gap = raw[y + 2 : y + h - 2, x + w + 1 : x + w + 1 + int(unit * 0.25)]
    return bool(gap.size) and not gap.any()


def _char_index(mark: Box, line: _Text) -> int:
    """Where in a text line's characters a mark inside its box falls: before the first
    character whose middle is right of the mark's left edge (a character OCR made of the mark
    itself included). Without character positions, by width share: where OCR wrote a character
    for the mark, the cut falls just before it; where it wrote none, the letters share the
    line's width without the mark's."""
    if line.spans:
        return sum(1 for left, right in line.spans if (left + right) / 2 < mark[0])
    x, _, w, _ = line.bbox
    text = line.text
    at = (mark[0] - x) / max(1, w) * len(text)
    read = [i for i in range(len(text)) if abs(i - at) <= 0.75 and _mark_char(text, i)]
    if read:
        return min(read, key=lambda i: abs(i - at))
    index = max(0, min(len(text), round((mark[0] - x) / max(1, w - mark[2]) * len(text))))
    spaces = [i for i, ch in enumerate(text) if ch.isspace() and abs(i - index) <= 3]
    return min(spaces, key=lambda i: abs(i - index)) if spaces else index


def _cuts(marks: list[Box], line: _Text) -> list[int]:
    """Where a text line is cut before each of the marks inside it, left to right: at the
    characters' positions, or at the characters OCR made of the marks when it made one for
    each, else by width share."""
    read = [i for i in range(len(line.text)) if _mark_char(line.text, i)]
    if len(read) == len(marks) and not line.spans:
        return read
    return sorted(_char_index(mark, line) for mark in marks)


def _mark_char(text: str, i: int) -> bool:
    """Whether ``text[i]`` is what OCR made of a drawn mark: a circle or box sign, or a letter
    O or digit 0 standing alone."""
    ch = text[i]
    if ch in _MARK_CHARS or (ch in _CIRCLE_CHARS and not ch.isascii()):
        return True
    alone = (i == 0 or not text[i - 1].isalnum()) and (i + 1 == len(text) or text[i + 1].isspace())
    return ch in _CIRCLE_CHARS and alone


def _between_words(raw: Array, box: Box, line: _Text, unit: float) -> bool:
    """A mark OCR swallowed between two words: set apart, where the line has a space."""
    if not _set_apart(raw, box, unit):
        return False
    index = _char_index(box, line)
    near = line.text[max(0, index - 2) : index + 2]
    return any(ch.isspace() or ch in _CIRCLE_CHARS for ch in near)


def _leading_mark(text: str) -> bool:
    if len(text) < 2 or text[0] not in _MARK_CHARS + _CIRCLE_CHARS:
        return False
    rest = text[1:]
    return rest[0].isspace() or rest[0].isupper() or _has_cjk(rest[0])


def _is_mark(text: str) -> bool:
    return all(ch in _MARK_CHARS + _CIRCLE_CHARS for ch in text.replace(" ", ""))


def _dedupe(boxes: list[Box]) -> list[Box]:
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: -b[2] * b[3]):
        if all(_iou(box, other) < 0.7 for other in kept):
            kept.append(box)
    return kept


def _classify_box(
    box: Box, texts: list[_Text], small: list[Box], ink: Array, lines: Array, unit: float
) -> _Found:
    x, y, w, h = box
    inside = [t for t in texts if not t.used and _inside(t.bbox, box, 4)]
    for t in inside:
        t.used = True
    inside.sort(key=lambda t: (t.bbox[1], t.bbox[0]))
    icon_zone = x + w - 1.1 * h
    icons = [t for t in inside if t.bbox[0] >= icon_zone and len(t.text) <= 2]
    words = [t for t in inside if t not in icons]
    text = " ".join(t.text for t in words)
    if h > unit * 3.0:
        if not words and _crossed(ink, box):
            return _Found("image", box, confidence=0.7)
        return _Found("textarea", box, placeholder=text, confidence=0.75)
    if words:
        joined = _union(*(t.bbox for t in words))
        centred = abs(_cx(joined) - _cx(box)) < 0.12 * w and joined[0] - x > 0.12 * w
        if centred and not icons:
            return _Found("button", box, label=text, confidence=0.8)
    nested = [s for s in small if _inside(s, box) and s[0] >= icon_zone]
    if nested:
        return _Found("date", box, placeholder=text, confidence=0.75)
    strokes = lines[y + 8 : y + h - 8, max(x, int(icon_zone)) : x + w - 10]
    if strokes.size and (strokes > 0).mean() > 0.02:
        return _Found("date", box, placeholder=text, confidence=0.65)
    if icons:
        if any(t.text in _CHEVRONS for t in icons):
            return _Found("select", box, placeholder=text, confidence=0.75)
        return _Found("date", box, placeholder=text, confidence=0.6)
    zone = ink[y + 6 : y + h - 6, max(x, int(icon_zone)) : x + w - 8]
    if zone.size and (zone > 0).mean() > 0.02:
        return _Found("select", box, placeholder=text, confidence=0.6)
    if _filled(ink, box) and words:
        return _Found("button", box, label=text, confidence=0.6)
    return _Found("input", box, placeholder=text, confidence=0.7)


def _crossed(ink: Array, box: Box) -> bool:
    x, y, w, h = box
    hits = 0
    samples = 40
    for i in range(4, samples - 4):
        t = i / samples
        for px, py in ((x + w * t, y + h * t), (x + w * (1 - t), y + h * t)):
            cx, cy = int(px), int(py)
            if ink[max(0, cy - 3) : cy + 4, max(0, cx - 3) : cx + 4].any():
                hits += 1
    return hits > 0.6 * 2 * (samples - 8)


def _filled(ink: Array, box: Box) -> bool:
    x, y, w, h = box
    core = ink[y + 8 : y + h - 8, x + 8 : x + w - 8]
    return bool(core.size and (core > 0).mean() > 0.12)


def _rules(horizontal: Array, width: int, unit: float) -> list[Box]:
    count, _, stats, _ = cv2.connectedComponentsWithStats(horizontal, connectivity=8)
    rules = []
    for index in range(1, count):
        x, y, w, h, _ = (int(v) for v in stats[index])
        if w >= 0.5 * width and h <= unit:
            rules.append((x, y, w, h))
    return sorted(rules, key=lambda b: b[1])


def _find_tabbar(
    horizontal: Array,
    vertical: Array,
    texts: list[_Text],
    occupied: list[Box],
    width: int,
    unit: float,
) -> list[_Found]:
    """A long line near the bottom with short upright separators and tab names below it."""
    rules = _rules(horizontal, width, unit)
    for rule, below in itertools.pairwise(rules):
        gap = below[1] - rule[1]
        if (
            below != rules[-1]
            or not unit * 1.2 < gap < unit * 3.2
            or rule[1] < horizontal.shape[0] * 0.5
        ):
            continue
        x0, x1 = rule[0], rule[0] + rule[2]
        band = vertical[rule[1] + rule[3] : below[1], x0:x1]
        count, _, stats, _ = cv2.connectedComponentsWithStats(band, connectivity=8)
        separators = [
            int(stats[i][0]) + x0
            for i in range(1, count)
            if stats[i][3] > gap * 0.55
            and stats[i][2] < unit * 0.4
            and 0.1 * rule[2] < stats[i][0] < 0.9 * rule[2]
        ]
        if not separators:
            continue
        edges = [x0, *sorted(separators), x1]
        cells_named = all(
            any(
                left <= _cx(t.bbox) < right and rule[1] < _cy(t.bbox) < below[1]
                for t in texts
                if not t.used
            )
            for left, right in itertools.pairwise(edges)
        )
        if not cells_named:
            continue
        top = rule[1] + rule[3] // 2
        bottom = below[1] + below[3] // 2
        extend = (rule[2] - (x1 - x0)) // 2
        box = (x0 + 6, top, rule[2] - 12 - 2 * extend, bottom - top)
        names = []
        for t in sorted(texts, key=lambda t: t.bbox[0]):
            if not t.used and _inside(t.bbox, box, 6):
                t.used = True
                if not _is_mark(t.text):
                    names.append(t.text)
        occupied.append(box)
        return [_Found("tabbar", box, options=names, confidence=0.65)]
    return []


def _find_list(
    horizontal: Array, texts: list[_Text], occupied: list[Box], width: int, unit: float
) -> list[_Found]:
    count, _, stats, _ = cv2.connectedComponentsWithStats(horizontal, connectivity=8)
    rules: list[Box] = []
    for index in range(1, count):
        x, y, w, h, _ = (int(v) for v in stats[index])
        box = (x, y, w, h)
        if w < 0.5 * width or h > unit:
            continue
        edge = any(
            min(abs(_cy(box) - o[1]), abs(_cy(box) - o[1] - o[3])) < unit * 0.4
            and min(x + w, o[0] + o[2]) - max(x, o[0]) > 0.5 * o[2]
            for o in occupied
        )
        if not edge:
            rules.append(box)
    rules.sort(key=lambda b: b[1])
    groups: list[list[Box]] = []
    for rule in rules:
        if groups and rule[1] - groups[-1][-1][1] < unit * 4:
            groups[-1].append(rule)
        else:
            groups.append([rule])
    found: list[_Found] = []
    for group in groups:
        if len(group) < 2:
            continue
        gaps = [b[1] - a[1] for a, b in itertools.pairwise(group)]
        step = float(np.median(gaps))
        left = min(b[0] for b in group) + 6
        right = max(b[0] + b[2] for b in group) - 6
        top = int(group[0][1] + group[0][3] / 2 - step)
        bottom = int(group[-1][1] + group[-1][3] / 2)
        box = (left, top, right - left, bottom - top)
        options: list[str] = []
        for row_top in np.arange(top, bottom - step / 2, step):
            band = [
                t
                for t in texts
                if not t.used
                and row_top <= _cy(t.bbox) < row_top + step
                and _inside(t.bbox, box, 8)
            ]
            band.sort(key=lambda t: (t.bbox[1], t.bbox[0]))
            if band:
                options.append(band[0].text)
        for t in texts:
            if _inside(t.bbox, box, 8):
                t.used = True
        found.append(_Found("list", box, options=options, confidence=0.65))
        occupied.append(box)
    return found


def _find_round(
    raw: Array,
    faint: Array,
    texts: list[_Text],
    occupied: list[Box],
    unit: float,
    letters: float,
) -> list[_Found]:
    """Checkbox squares, radio circles and switch pills: small hollow ink shapes outside every
    box. Inside a text line a shape counts at the line's start where it stands apart from the
    letters after it (OCR often reads a mark as the line's first character), never where OCR
    read a Chinese character or a letter inside a word there. A circle in the middle of a line,
    or a filled one, counts only in a row or column of radio circles that holds a sure one or
    two hollow ones: OCR often reads a group's label and its first option, or a row of options,
    as one line, and a letter O is round too."""
    pills = _pills(faint, texts, occupied, unit)
    occupied.extend(pills)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(raw, connectivity=8)
    squares: list[Box] = []
    circles: dict[Box, str] = {}
    """Each radio circle, "sure", "in line" (hollow, in the middle of a text line: maybe a
    letter O) or "filled" (a chosen radio whose dot a blurred photo joined to its circle)."""
    for index in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[index])
        box = (x, y, w, h)
        if any(_inside(box, o, 2) for o in occupied):
            continue
        if not (unit * 0.5 < h < unit * 1.4 and 0.75 < w / h < 1.33):
            continue
        shape = labels[y : y + h, x : x + w] == index
        is_square = _cornered(shape)
        # a chosen radio's dot may touch its circle: its fill is high, but its outline is round
        ring, hollow = (False, False) if is_square else _round(shape)
        if not (area < 0.6 * w * h if is_square else ring):
            continue
        in_text = [t for t in texts if _inside(box, t.bbox, 3)]
        if any(_read_as_ideograph(box, t) for t in in_text):
            continue
        tall = h >= 0.8 * letters
        apart = tall and _set_apart(raw, box, unit)
        leading = [box[0] - t.bbox[0] <= t.bbox[3] * 0.6 and apart for t in in_text]
        if is_square:
            if all(
                first or (tall and _between_words(raw, box, t, unit))
                for first, t in zip(leading, in_text, strict=True)
            ):
                squares.append(box)
        elif hollow and all(leading):
            circles[box] = "sure"
        elif any(_within_word(box, t) for t in in_text):
            continue
        elif hollow and apart:
            circles[box] = "in line"
        elif all(leading) or apart:
            circles[box] = "filled"
    found: list[_Found] = []
    for pill in pills:
        found.append(_Found("switch", pill, confidence=0.6))
    for mark in (*squares, *(c for c, kind in circles.items() if kind == "sure")):
        for t in texts:
            if _reads_mark(t, mark):
                t.used = True
    for square in squares:
        beside = [
            t
            for t in texts
            if not t.used
            and t.bbox[0] - square[0] > -unit
            and t.bbox[0] - (square[0] + square[2]) < unit * 1.5
            and abs(_cy(t.bbox) - _cy(square)) < unit * 0.6
        ]
        if beside:
            t = min(beside, key=lambda t: t.bbox[0])
            t.used = True
            label = _without_mark(t, square)
            found.append(_Found("checkbox", _union(square, t.bbox), label=label, confidence=0.7))
            occupied.append(square)
    for group, stacked in _radio_groups(circles, unit):
        rows = [[circle] for circle in group] if stacked else [group]
        read = [part for part in (_radio_row(row, texts, unit) for row in rows) if part]
        if not read:
            continue
        label = read[0][0]
        options = [option for _, row_options, _ in read for option in row_options]
        bbox = _union(*group, *(span for _, _, span in read))
        found.append(_Found("radio", bbox, label=label, options=options, confidence=0.55))
        occupied.append(bbox)
    return found


def _within_word(mark: Box, line: _Text) -> bool:
    """Whether OCR read a letter in the middle of a word where the shape is (the O of
    "MENTIONED" in capitals): a letter or digit with letters or digits either side of it."""
    middle = mark[0] + mark[2] / 2
    text = line.text
    return any(
        left <= middle <= right
        and 0 < i < len(text) - 1
        and text[i - 1 : i + 2].isalnum()
        and not _has_cjk(text[i - 1 : i + 2])
        for i, (left, right) in enumerate(line.spans)
    )


def _read_as_ideograph(mark: Box, line: _Text) -> bool:
    """Whether OCR read the shape as a Chinese character (a boxy glyph set apart from the next
    one is no checkbox): a character of the line lies on most of it and is not much wider.
    (A character OCR placed over a mark and its own glyph together is much wider.)"""
    left, right = mark[0], mark[0] + mark[2]
    return any(
        min(right, end) - max(left, start) >= 0.6 * mark[2]
        and end - start <= 2 * mark[2]
        and _has_cjk(ch)
        and ch not in _MARK_CHARS + _CIRCLE_CHARS
        for ch, (start, end) in zip(line.text, line.spans, strict=False)
    )


def _reads_mark(line: _Text, mark: Box) -> bool:
    """Whether an OCR line is only the drawn mark read as a character or two ("V", "口")."""
    x, y, w, h = line.bbox
    mx, my, mw, mh = mark
    overlap = max(0, min(x + w, mx + mw) - max(x, mx)) * max(0, min(y + h, my + mh) - max(y, my))
    return len(line.text.strip()) <= 2 and overlap >= 0.6 * w * h


def _without_mark(line: _Text, mark: Box) -> str:
    """A checkbox's text without what OCR made of the square at its start: the characters
    that lie on the square ("1 I agree": OCR read its right side as a letter) and signs ("[",
    "□"). Without character positions, a lone character counts as the square's where the line
    begins partway through the square."""
    if line.spans:
        on_mark = sum(1 for left, _ in line.spans if left < mark[0] + mark[2] - 2)
        text = line.text[on_mark:].strip()
        over = False
    else:
        text = line.text.strip()
        over = mark[0] + 0.3 * mark[2] < line.bbox[0] < mark[0] + 0.8 * mark[2]
    while text and (
        text[0] in _MARK_CHARS
        or not (text[0].isalnum() or text[0].isspace())
        or (over and len(text) > 2 and text[1].isspace())
    ):
        text = text[1:].lstrip()
        over = False
    return text


def _pills(ink: Array, texts: list[_Text], occupied: list[Box], unit: float) -> list[Box]:
    """Switch outlines: hollow pills about twice as wide as tall, outside every text line, in
    ``ink`` taken with a low contrast threshold. A photographed pencil outline fades and breaks
    up, so its pieces are joined across small gaps first (never for the marks: that would join
    a chosen radio's dot to its circle)."""
    grow = max(2, int(unit * 0.1))
    joined = cv2.dilate(
        ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    )
    count, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    pills: list[Box] = []
    for index in range(1, count):
        x, y, w, h, _ = (int(v) for v in stats[index])
        box = (x + grow, y + grow, max(1, w - 2 * grow), max(1, h - 2 * grow))
        x, y, w, h = box
        if (
            unit * 0.8 < h < unit * 1.8
            and 1.6 < w / h < 2.6
            and float((ink[y : y + h, x : x + w] > 0).mean()) < 0.6
            and not any(_inside(box, o, 2) for o in occupied)
            and not any(_inside(box, t.bbox, 3) for t in texts)
        ):
            pills.append(box)
    return pills


def _round(shape: Array) -> tuple[bool, bool]:
    """Whether a shape is a hand-drawn circle (ink all the way round near the edge of its box),
    and whether it is hollow: a gap between that ink and the middle on nearly every ray from the
    centre (a chosen radio's dot stays within about half the radius, unless a blurred photo
    joins the two)."""
    height, width = shape.shape
    angles = np.linspace(0, 2 * np.pi, 32, endpoint=False)

    def inked(radius: float) -> Array:
        rows = ((height - 1) / 2 * (1 + radius * np.sin(angles))).round().astype(int)
        columns = ((width - 1) / 2 * (1 + radius * np.cos(angles))).round().astype(int)
        hit: Array = shape[rows.clip(0, height - 1), columns.clip(0, width - 1)]
        return hit

    edge = np.any([inked(r) for r in np.linspace(0.7, 1.0, 5)], axis=0)
    gap = ~np.all([inked(r) for r in np.linspace(0.45, 0.8, 8)], axis=0)
    return float(edge.mean()) >= 0.85, float(gap.mean()) >= 0.8


def _cornered(shape: Array) -> bool:
    """A square, not a circle: a hand-drawn square's box has ink at (or across) three of its
    corners, where a circle's corners lie a fifth of its width from the nearest ink."""
    height, width = shape.shape
    distance = cv2.distanceTransform(np.where(shape, 0, 255).astype(np.uint8), cv2.DIST_L2, 3)
    corners = sorted(
        float(distance[row, column]) for row in (0, height - 1) for column in (0, width - 1)
    )
    return bool(corners[2] < 0.14 * width)


def _radio_groups(circles: dict[Box, str], unit: float) -> list[tuple[list[Box], bool]]:
    """Radio circles grouped side by side on a row, or stacked one below the other in a column
    (a row of its own each); True marks a column. A group needs a sure circle or two hollow
    ones: a letter O inside a text line looks just like a radio circle, though it is smaller
    than the circles drawn beside it, which one hand draws alike."""
    sure = [c[3] for c, kind in circles.items() if kind == "sure"]
    size = float(np.median(sure)) if sure else 0.0
    pending = sorted(
        (c for c, kind in circles.items() if kind == "sure" or not sure or c[3] >= 0.85 * size),
        key=lambda b: (b[1], b[0]),
    )
    rows: list[list[Box]] = []
    for circle in pending:
        for row in rows:
            if abs(_cy(circle) - _cy(row[-1])) < unit * 0.5:
                row.append(circle)
                break
        else:
            rows.append([circle])
    groups: list[tuple[list[Box], bool]] = [(sorted(row), False) for row in rows if len(row) > 1]
    columns: list[list[Box]] = []
    for (circle,) in (row for row in rows if len(row) == 1):
        for column in columns:
            last = column[-1]
            if abs(_cx(circle) - _cx(last)) < unit * 0.5 and _cy(circle) - _cy(last) < unit * 2.5:
                column.append(circle)
                break
        else:
            columns.append([circle])
    groups.extend((column, len(column) > 1) for column in columns)
    return [
        (group, stacked)
        for group, stacked in groups
        if any(circles[c] == "sure" for c in group)
        or sum(circles[c] != "filled" for c in group) > 1
    ]


def _radio_row(
    group: list[Box], texts: list[_Text], unit: float
) -> tuple[str, list[str], Box] | None:
    """The options written after a row of radio circles, a label written before the first
    on the same OCR line, and the box around circles and options; None without text."""
    region = _union(*group)
    beside = [
        t
        for t in texts
        if not t.used
        and abs(_cy(t.bbox) - _cy(region)) < unit * 0.6
        and (t.bbox[0] > region[0] - unit or any(_inside(c, t.bbox, 3) for c in group))
        and (
            t.bbox[0] < region[0] + region[2] + unit * 1.5
            or (_leading_mark(t.text) and t.bbox[0] < region[0] + region[2] + unit * 8)
        )
    ]
    if not beside:
        return None
    options: list[str] = []
    label = ""
    spans: list[Box] = []
    for t in sorted(beside, key=lambda t: t.bbox[0]):
        t.used = True
        inner = [c for c in group if _inside(c, t.bbox, 3)]
        if t.spans and inner:
            before, *pieces = _split_at_marks(t, inner)
            if before and not options and not any(c[0] + c[2] <= t.bbox[0] + 3 for c in group):
                label = before
            else:
                pieces.insert(0, before)
            for piece in pieces:
                parts = _MARK_BETWEEN.split(piece)
                options.extend(p.strip() for p in parts if p.strip() and not _is_mark(p))
            tx, ty, tw, th = t.bbox
            left = max(tx, region[0])
            spans.append((left, ty, max(1, tx + tw - left), th))
            continue
        at_start = any(c[0] - t.bbox[0] <= t.bbox[3] * 0.6 for c in inner) or any(
            c[0] + c[2] <= t.bbox[0] + 3 for c in group
        )
        cuts = _cuts(sorted(c for c in inner if c[0] - t.bbox[0] > t.bbox[3] * 0.6), t)
        if cuts and not at_start:
            pieces = [t.text[a:b] for a, b in itertools.pairwise([0, *cuts, len(t.text)])]
            prefix = pieces[0].strip()
            if prefix and not options:
                label = prefix
            pieces = pieces[1:]
        else:
            pieces = [t.text]
        for piece in pieces:
            parts = _RADIO_MARK.split(piece)
            options.extend(p.strip() for p in parts if p.strip() and not _is_mark(p))
        tx, ty, tw, th = t.bbox
        left = max(tx, region[0])
        spans.append((left, ty, max(1, tx + tw - left), th))
    return label, [o for o in options if o], _union(region, *spans)


def _split_at_marks(line: _Text, marks: list[Box]) -> list[str]:
    """A text line cut at the marks inside it, by its characters' positions: the text before
    the first mark, then the text after each; a character OCR read off a mark is left out."""
    marks = sorted(marks)
    pieces = [""] * (len(marks) + 1)
    for ch, (left, right) in zip(line.text, line.spans, strict=True):
        middle = (left + right) / 2
        if any(m[0] <= middle <= m[0] + m[2] for m in marks) and not ch.isspace():
            continue
        pieces[sum(1 for m in marks if m[0] < middle)] += ch
    return [piece.strip() for piece in pieces]


def _attach_labels(
    fields: list[_Found], texts: list[_Text], unit: float, widgets: list[Box]
) -> None:
    """Each field's label: the free text just above it, or on its row (or its first line: a
    stacked radio group, a text area) to its left with no other widget between, however far
    (a switch sits at the right edge, its label at the left); the nearer of the two."""
    for f in sorted(fields, key=lambda f: (f.bbox[1], f.bbox[0])):
        if f.label:
            continue
        x, y, w, h = f.bbox
        best: _Text | None = None
        best_gap = float("inf")
        for t in texts:
            if t.used:
                continue
            tx, ty, tw, th = t.bbox
            above = (
                -unit * 0.4 <= y - (ty + th) < unit * 1.2
                and tx < x + w * 0.5
                and tx + tw > x - unit
            )
            first_line = y + min(h, unit * 1.4) / 2
            left = (
                x - (tx + tw) >= 0
                and (
                    abs(_cy(t.bbox) - _cy(f.bbox)) < max(unit * 0.7, h * 0.4)
                    or abs(_cy(t.bbox) - first_line) < unit * 0.7
                )
                and not any(
                    tx + tw <= b[0] and b[0] + b[2] <= x and abs(_cy(b) - _cy(f.bbox)) < h / 2
                    for b in widgets
                )
            )
            if above or left:
                gap = max(0, y - (ty + th)) if above else (x - (tx + tw)) / 4
                if gap < best_gap:
                    best, best_gap = t, gap
        if best is not None:
            best.used = True
            f.label = best.text


# --- layout -------------------------------------------------------------------------------------


def _rows(found: list[_Found]) -> list[list[_Found]]:
    rows: list[list[_Found]] = []
    for f in sorted(found, key=lambda f: (f.bbox[1], f.bbox[0])):
        for row in rows:
            top = min(r.bbox[1] for r in row)
            bottom = max(r.bbox[1] + r.bbox[3] for r in row)
            overlap = min(bottom, f.bbox[1] + f.bbox[3]) - max(top, f.bbox[1])
            if overlap > 0.5 * min(f.bbox[3], bottom - top):
                row.append(f)
                break
        else:
            rows.append([f])
    for row in rows:
        row.sort(key=lambda f: f.bbox[0])
    rows.sort(key=lambda row: min(f.bbox[1] for f in row))
    return rows


def _clip(text: str, limit: int) -> str:
    return " ".join(text.split())[:limit]


def understand(
    image: LoadedImage | Array, *, ocr: OcrEngine | None = None, language: str | None = None
) -> UISpec:
    """Read a sketch or screenshot of a phone screen into a spec; boxes in input-image pixels.

    ``language`` ("zh" or "en") is a hint only; the text OCR reads decides what labels say.
    """
    rgb = image.rgb if isinstance(image, LoadedImage) else np.asarray(image)
    if rgb.ndim == 2:
        rgb = cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB)
    rgb = np.ascontiguousarray(rgb[:, :, :3], dtype=np.uint8)
    height, width = rgb.shape[:2]
    working, scale = downscale(rgb, WORKING_SIDE)
    page, back = _find_page(working)
    if scale != 1.0:
        back = np.diag([1 / scale, 1 / scale, 1.0]) @ back
    engine = ocr if ocr is not None else default_ocr()
    lines = engine.read(page)
    found = _detect(page, lines)
    widgets: list[SpecWidget] = []
    title = ""
    for row_index, row in enumerate(_rows(found)):
        for column, f in enumerate(row):
            if len(widgets) >= MAX_WIDGETS:
                break
            options = tuple(o for o in (_clip(o, MAX_OPTION_CHARS) for o in f.options) if o)[:20]
            if f.type == "title" and not title:
                title = _clip(f.label, MAX_LABEL_CHARS)
            widgets.append(
                SpecWidget(
                    id=len(widgets) + 1,
                    type=f.type,
                    label=_clip(f.label, MAX_LABEL_CHARS),
                    placeholder=_clip(f.placeholder, MAX_LABEL_CHARS),
                    options=options,
                    bbox=_map_box(f.bbox, back, (width, height)),
                    confidence=f.confidence,
                    row=row_index,
                    column=column,
                )
            )
    return UISpec(
        page=Page(title=title), image=ImageSize(width=width, height=height), widgets=tuple(widgets)
    )
