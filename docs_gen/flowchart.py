"""The flow diagram of a workflow proposal (工作流程方案), as PNG bytes drawn with Pillow.

Top to bottom: a "开始/Start" terminal, one node per step, an "结束/End" terminal, arrows between
consecutive nodes. A step is a rounded rectangle holding its name and a muted line with its role
and time limit; an approval is a diamond holding its name, with the role and time limit beside
it on the right. An approval's "通过/Approved" label sits on its down arrow; its "驳回/Rejected"
branch leaves the diamond's left corner, runs up its own lane in the left margin and enters the
left side of the last non-approval node above it. An approval with no step above it (the first
step, or only approvals above it) sends the rejection back to Start: the request returns to the
person who started it.

Steps come from the model, so labels may be long, blank, Chinese or English: Chinese wraps per
character, English per word, a name keeps at most three lines (the last ends with an ellipsis)
and nothing leaves its node. ``flowchart_layout`` gives the geometry that ``render_flowchart``
draws, so that tests can check it; the picture is drawn at twice its size and scaled down (the
anti-aliasing), and the same input gives the same bytes.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from PIL import Image, ImageDraw

from docs_gen.fonts import Font, FontFile, load_font

MAX_STEPS = 20
MIN_WIDTH = 600
SUPERSAMPLE = 2
"""The picture is drawn this many times larger, then scaled down with LANCZOS."""

BACKGROUND = "#FFFFFF"
STEP_FILL, STEP_BORDER = "#E8F1FD", "#3A6FB0"
APPROVAL_FILL, APPROVAL_BORDER = "#FFF3D6", "#C48A16"
START_FILL, START_BORDER = "#E2F3E5", "#3C9650"
END_FILL, END_BORDER = "#ECEEF1", "#7D848E"
TEXT_COLOUR = "#1F2329"
MUTED_COLOUR = "#5F6670"
ARROW_COLOUR = "#5F6670"
APPROVED_COLOUR = "#2E7D32"
REJECTED_COLOUR = "#C0392B"

STEP_RADIUS, TERMINAL_RADIUS = 10, 14
"""Corner radii at scale 1; a rejection enters a node's straight side, between them."""
MAX_NAME_LINES = 3
MAX_META_LINES = 2
MAX_TITLE_LINES = 2
ELLIPSIS = "…"

Language = Literal["zh", "en"]
NodeKind = Literal["start", "step", "approval", "end"]
ArrowKind = Literal["next", "approved", "rejected"]
TextKind = Literal["title", "name", "meta", "terminal", "approved", "rejected"]
Box = tuple[float, float, float, float]
"""(x0, y0, x1, y1) in pixels, y downwards."""
Point = tuple[float, float]

_WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "start": "开始",
        "end": "结束",
        "approved": "通过",
        "rejected": "驳回",
        "step": "步骤 {number}",
        "hours": "{value} 小时",
        "minutes": "{value} 分钟",
    },
    "en": {
        "start": "Start",
        "end": "End",
        "approved": "Approved",
        "rejected": "Rejected",
        "step": "Step {number}",
        "hours": "{value} h",
        "minutes": "{value} min",
    },
}


class FlowchartError(ValueError):
    """The steps cannot be drawn as a flow diagram (none, too many, a canvas too narrow)."""


@dataclass(frozen=True, slots=True)
class FlowStep:
    name: str
    """What is done: "提交申请" / "Submit request"."""
    role: str = ""
    """Who does it: "申请人" / "Requester"."""
    hours: float | None = None
    """The time limit of the step."""
    approval: bool = False
    """A decision: approved goes on, rejected returns to the last non-approval step above."""


@dataclass(frozen=True, slots=True)
class TextLine:
    """One line of text and the box it is drawn in."""

    text: str
    box: Box
    kind: TextKind


@dataclass(frozen=True, slots=True)
class FlowNode:
    """A terminal, step or approval. An approval is the diamond inscribed in ``box``."""

    kind: NodeKind
    box: Box
    texts: tuple[TextLine, ...]
    """The name lines (inside the node), then role and time limit lines (inside a step; to the
    right of an approval's diamond)."""
    step: int | None = None
    """Index of the step in the input; None for the terminals."""


@dataclass(frozen=True, slots=True)
class FlowArrow:
    """A polyline from the border of ``source`` to the border of ``target`` (node indices),
    with its arrowhead at the last point."""

    kind: ArrowKind
    source: int
    target: int
    points: tuple[Point, ...]
    label: TextLine | None = None
    lane: int | None = None
    """A rejection's lane in the left margin, 0 nearest the nodes."""


@dataclass(frozen=True, slots=True)
class FlowLayout:
    """Everything ``render_flowchart`` draws. ``nodes`` are Start, the steps in order, End (so
    step ``i`` is ``nodes[i + 1]``); ``arrows`` the consecutive ones first, then rejections."""

    width: int
    height: int
    nodes: tuple[FlowNode, ...]
    arrows: tuple[FlowArrow, ...]
    title: tuple[TextLine, ...] = ()

    def texts(self) -> Iterator[TextLine]:
        yield from self.title
        for node in self.nodes:
            yield from node.texts
        for arrow in self.arrows:
            if arrow.label is not None:
                yield arrow.label

    def scaled(self, factor: float) -> FlowLayout:
        def box(b: Box) -> Box:
            return (b[0] * factor, b[1] * factor, b[2] * factor, b[3] * factor)

        def text(line: TextLine) -> TextLine:
            return TextLine(line.text, box(line.box), line.kind)

        return FlowLayout(
            width=round(self.width * factor),
            height=round(self.height * factor),
            nodes=tuple(
                FlowNode(n.kind, box(n.box), tuple(map(text, n.texts)), n.step) for n in self.nodes
            ),
            arrows=tuple(
                FlowArrow(
                    a.kind,
                    a.source,
                    a.target,
                    tuple((x * factor, y * factor) for x, y in a.points),
                    None if a.label is None else text(a.label),
                    a.lane,
                )
                for a in self.arrows
            ),
            title=tuple(map(text, self.title)),
        )


class _Style(NamedTuple):
    size: int
    """Pixels at scale 1."""
    colour: str
    stroke: int
    """Stroke width at the drawing scale: the CJK font has no bold face."""


_STYLES: dict[TextKind, _Style] = {
    "title": _Style(24, TEXT_COLOUR, 1),
    "name": _Style(19, TEXT_COLOUR, 1),
    "meta": _Style(15, MUTED_COLOUR, 0),
    "terminal": _Style(18, TEXT_COLOUR, 1),
    "approved": _Style(14, APPROVED_COLOUR, 0),
    "rejected": _Style(14, REJECTED_COLOUR, 0),
}

# Text is cut into pieces a line may end after: a Chinese (or other CJK) character with any
# closing punctuation after it and opening punctuation before it, a run of other non-space
# characters (a word), or spaces.
_CJK = (
    "\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
)
_OPENING = re.escape("（【《「『〈“‘([{")
_CLOSING = re.escape("，。、；：？！）】》」』〉”’…·,.;:?!)]}%")
_PIECE = re.compile(rf"\s+|[{_OPENING}]*[{_CJK}][{_CLOSING}]*|[^\s{_CJK}]+[{_CLOSING}]*")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028-\u202e\ufeff]")


def _clean(text: str) -> str:
    """One line of text without control characters or runs of spaces."""
    return " ".join(_CONTROL.sub(" ", text).split())


def _break_lines(text: str, fits: Callable[[str], bool], limit: int) -> list[str]:
    """``text`` in lines that each ``fits``; stops once there are more than ``limit``."""
    lines: list[str] = []
    line = ""
    for piece in _PIECE.findall(text):
        if piece.isspace():
            line = line + " " if line else line
            continue
        if fits(line + piece):
            line += piece
            continue
        if line.strip():
            lines.append(line.rstrip())
        while len(piece) > 1 and not fits(piece):
            cut = 1
            while cut + 1 < len(piece) and fits(piece[: cut + 1]):
                cut += 1
            lines.append(piece[:cut])
            piece = piece[cut:]
        line = piece
        if len(lines) > limit:
            return lines
    if line.strip():
        lines.append(line.rstrip())
    return lines


def wrap_text(
    text: str, fits: Callable[[str], bool], max_lines: int, *, keep: str = ""
) -> list[str]:
    """``text`` and then ``keep`` in lines that each ``fits``, at most ``max_lines`` of them.
    Where that is too long, the text is cut short with an ellipsis and ``keep`` (a time limit
    after a long role) still ends the last line. Chinese breaks between characters, other text
    between words, a word longer than a line between characters."""
    text = _clean(text)
    lines = _break_lines(text + keep, fits, max_lines)
    if len(lines) <= max_lines:
        return lines
    if not fits(ELLIPSIS + keep):
        keep = ""
    lines = _break_lines(text, fits, max_lines)
    last_index = min(len(lines), max_lines) - 1
    last = lines[last_index]
    while last and not fits(last + ELLIPSIS + keep):
        last = last[:-1]
    return [*lines[:last_index], last.rstrip() + ELLIPSIS + keep]


def format_hours(hours: float | None, language: Language) -> str:
    """A time limit as people write it: "24 小时", "1.5 h", "30 min"; "" for none."""
    if hours is None or not math.isfinite(hours) or hours <= 0:
        return ""
    words = _WORDS[language]
    if hours < 1:
        return words["minutes"].format(value=max(1, round(hours * 60)))
    value = f"{hours:.1f}".rstrip("0").rstrip(".")
    return words["hours"].format(value=value)


class _Typesetter:
    """The fonts of one drawing at one scale, and how big text is in them."""

    def __init__(self, font: FontFile | None, scale: int) -> None:
        self.scale = scale
        self._fonts: dict[TextKind, Font] = {
            kind: load_font(style.size * scale, font) for kind, style in _STYLES.items()
        }
        self._draw = ImageDraw.Draw(Image.new("L", (1, 1)))
        self._line_box: dict[TextKind, tuple[float, float]] = {}
        for kind in _STYLES:
            _, top, _, bottom = self._bbox("国Agjy", kind)
            self._line_box[kind] = (top, bottom)

    def font(self, kind: TextKind) -> Font:
        return self._fonts[kind]

    def _bbox(self, text: str, kind: TextKind) -> tuple[float, float, float, float]:
        return self._draw.textbbox(
            (0, 0), text, font=self._fonts[kind], stroke_width=_STYLES[kind].stroke
        )

    def width(self, text: str, kind: TextKind) -> float:
        left, _, right, _ = self._bbox(text, kind)
        return right - left

    def line_height(self, kind: TextKind) -> float:
        top, bottom = self._line_box[kind]
        return bottom - top

    def leading(self, kind: TextKind) -> float:
        return self.line_height(kind) * 1.3

    def wrap(
        self, text: str, kind: TextKind, width: float, max_lines: int, *, keep: str = ""
    ) -> list[str]:
        def fits(line: str) -> bool:
            return self.width(line, kind) <= width

        return wrap_text(text, fits, max_lines, keep=keep)

    def block_height(self, lines: Sequence[str], kind: TextKind) -> float:
        if not lines:
            return 0.0
        return self.leading(kind) * (len(lines) - 1) + self.line_height(kind)

    def place(
        self,
        lines: Sequence[str],
        kind: TextKind,
        top: float,
        *,
        centre: float | None = None,
        left: float | None = None,
        right: float | None = None,
    ) -> list[TextLine]:
        """``lines`` from ``top`` down, each centred on ``centre`` or starting at ``left`` or
        ending at ``right``."""
        placed = []
        for number, text in enumerate(lines):
            width = self.width(text, kind)
            if centre is not None:
                x0 = centre - width / 2
            elif left is not None:
                x0 = left
            else:
                assert right is not None
                x0 = right - width
            y0 = top + number * self.leading(kind)
            placed.append(TextLine(text, (x0, y0, x0 + width, y0 + self.line_height(kind)), kind))
        return placed

    def draw(self, draw: ImageDraw.ImageDraw, line: TextLine) -> None:
        """Draw ``line`` so that its ink lies in its box. Placed by bounding box rather than
        anchors, which Pillow's fallback font may not support."""
        style = _STYLES[line.kind]
        left, _, _, _ = self._bbox(line.text, line.kind)
        top, _ = self._line_box[line.kind]
        draw.text(
            (line.box[0] - left, line.box[1] - top),
            line.text,
            font=self._fonts[line.kind],
            fill=style.colour,
            stroke_width=style.stroke,
            stroke_fill=style.colour,
        )


@dataclass(slots=True)
class _Pending:
    """A node measured but not yet placed: its size and its text relative to its centre."""

    kind: NodeKind
    width: float
    height: float
    name: list[str]
    meta: list[str] = field(default_factory=list)
    row_height: float = 0.0
    step: int | None = None


def _validate(steps: Sequence[FlowStep], language: str, width: int) -> None:
    if not steps:
        raise FlowchartError("a flow diagram needs at least one step, got none")
    if len(steps) > MAX_STEPS:
        raise FlowchartError(
            f"a flow diagram holds at most {MAX_STEPS} steps, got {len(steps)}; "
            "split the workflow into stages"
        )
    if language not in _WORDS:
        raise FlowchartError(f"unknown language {language!r}; accepted: {', '.join(_WORDS)}")
    if width < MIN_WIDTH:
        raise FlowchartError(
            f"a flow diagram needs a width of at least {MIN_WIDTH} pixels, got {width}"
        )


def _rejection_targets(steps: Sequence[FlowStep]) -> dict[int, int]:
    """For each approval's node, the node its rejection returns to: the last non-approval node
    above it, Start (node 0) where there is none."""
    targets: dict[int, int] = {}
    last_step = 0
    for index, step in enumerate(steps):
        node = index + 1
        if step.approval:
            targets[node] = last_step
        else:
            last_step = node
    return targets


def _layout(
    steps: Sequence[FlowStep],
    language: Language,
    title: str,
    width: int,
    typesetter: _Typesetter,
) -> FlowLayout:
    _validate(steps, language, width)
    ts = typesetter
    u = float(ts.scale)
    words = _WORDS[language]
    canvas_width = width * ts.scale
    margin = 24 * u
    node_gap = 50 * u
    pad_x, pad_y = 16 * u, 12 * u
    step_radius, terminal_radius = STEP_RADIUS * u, TERMINAL_RADIUS * u
    entry_gap = 9 * u  # between the points where rejections enter the same node
    node_width = min(460.0, 0.46 * width) * u
    centre = canvas_width / 2
    column_left = centre - node_width / 2
    column_right = centre + node_width / 2

    targets = _rejection_targets(steps)
    # Shorter loops take inner lanes; loops into one node enter it the higher the outer their
    # lane, so no two loops ever cross or share a line.
    loops = sorted(targets, key=lambda node: (node - targets[node], node))
    lanes = {node: lane for lane, node in enumerate(loops)}
    entries: dict[int, list[int]] = {}
    for node in sorted(loops, key=lambda node: -lanes[node]):
        entries.setdefault(targets[node], []).append(node)

    def straight_side(node: int, radius: float) -> float:
        """The height a node needs for the rejections entering its straight left side."""
        count = len(entries.get(node, ()))
        return 2 * radius + (count + 1) * entry_gap if count else 0.0

    pending: list[_Pending] = []
    terminal_width = max(150 * u, ts.width(words["start"], "terminal") + 2 * pad_x)
    terminal_height = 46 * u
    pending.append(
        _Pending(
            "start",
            terminal_width,
            max(terminal_height, straight_side(0, terminal_radius)),
            [words["start"]],
        )
    )
    meta_left = column_right + 14 * u
    for index, step in enumerate(steps):
        node = index + 1
        name = _clean(step.name) or words["step"].format(number=node)
        # the role, then the time limit, which stays however long the role is
        role, limit = _clean(step.role), format_hours(step.hours, language)
        meta, keep = (role, f" · {limit}" if limit else "") if role else (limit, "")
        if step.approval:
            half_width = node_width / 2
            name_lines = ts.wrap(name, "name", half_width - 2 * pad_x, MAX_NAME_LINES)
            text_half_width = max(ts.width(line, "name") for line in name_lines) / 2 + pad_x / 2
            text_half_height = ts.block_height(name_lines, "name") / 2 + pad_y / 2
            half_height = max(52 * u, text_half_height / (1 - text_half_width / half_width))
            meta_lines = ts.wrap(
                meta, "meta", canvas_width - margin - meta_left, MAX_META_LINES + 1, keep=keep
            )
            pending.append(
                _Pending(
                    "approval",
                    node_width,
                    2 * half_height,
                    name_lines,
                    meta_lines,
                    max(2 * half_height, ts.block_height(meta_lines, "meta")),
                    index,
                )
            )
        else:
            inner = node_width - 2 * pad_x
            name_lines = ts.wrap(name, "name", inner, MAX_NAME_LINES)
            meta_lines = ts.wrap(meta, "meta", inner, MAX_META_LINES, keep=keep)
            content = ts.block_height(name_lines, "name")
            if meta_lines:
                content += 8 * u + ts.block_height(meta_lines, "meta")
            height = max(64 * u, content + 2 * pad_y, straight_side(node, step_radius))
            pending.append(_Pending("step", node_width, height, name_lines, meta_lines, step=index))
    pending.append(_Pending("end", terminal_width, terminal_height, [words["end"]]))

    y = margin
    title_lines: list[TextLine] = []
    if _clean(title):
        wrapped = ts.wrap(title, "title", canvas_width - 2 * margin, MAX_TITLE_LINES)
        title_lines = ts.place(wrapped, "title", y, centre=centre)
        y += ts.block_height(wrapped, "title") + 28 * u

    nodes: list[FlowNode] = []
    for item in pending:
        row = max(item.height, item.row_height)
        middle = y + row / 2
        box = (
            centre - item.width / 2,
            middle - item.height / 2,
            centre + item.width / 2,
            middle + item.height / 2,
        )
        kind: TextKind = "terminal" if item.kind in ("start", "end") else "name"
        name_height = ts.block_height(item.name, kind)
        if item.kind == "step" and item.meta:
            block = name_height + 8 * u + ts.block_height(item.meta, "meta")
            texts = ts.place(item.name, kind, middle - block / 2, centre=centre)
            texts += ts.place(
                item.meta, "meta", middle - block / 2 + name_height + 8 * u, centre=centre
            )
        else:
            texts = ts.place(item.name, kind, middle - name_height / 2, centre=centre)
        if item.kind == "approval" and item.meta:
            meta_height = ts.block_height(item.meta, "meta")
            texts += ts.place(item.meta, "meta", middle - meta_height / 2, left=meta_left)
        nodes.append(FlowNode(item.kind, box, tuple(texts), item.step))
        y += row + node_gap
    height = math.ceil((y - node_gap + margin) / ts.scale) * ts.scale

    arrows: list[FlowArrow] = []
    for source in range(len(nodes) - 1):
        above, below = nodes[source].box, nodes[source + 1].box
        label = None
        if nodes[source].kind == "approval":
            label_top = (above[3] + below[1]) / 2 - ts.line_height("approved") / 2
            label = ts.place([words["approved"]], "approved", label_top, left=centre + 8 * u)[0]
        arrows.append(
            FlowArrow(
                "approved" if label else "next",
                source,
                source + 1,
                ((centre, above[3]), (centre, below[1])),
                label,
            )
        )

    label_room = ts.width(words["rejected"], "rejected") + 12 * u
    innermost = column_left - label_room
    spacing = min(14 * u, (innermost - margin) / max(1, len(loops) - 1))
    for node in sorted(targets):
        target = targets[node]
        lane_x = innermost - lanes[node] * spacing
        entering = entries[target]
        target_box = nodes[target].box
        target_middle = (target_box[1] + target_box[3]) / 2
        entry_y = target_middle + (entering.index(node) - (len(entering) - 1) / 2) * entry_gap
        exit_y = (nodes[node].box[1] + nodes[node].box[3]) / 2
        label_bottom = exit_y - 4 * u
        label = ts.place(
            [words["rejected"]],
            "rejected",
            label_bottom - ts.line_height("rejected"),
            right=column_left - 6 * u,
        )[0]
        points = (
            (column_left, exit_y),
            (lane_x, exit_y),
            (lane_x, entry_y),
            (target_box[0], entry_y),
        )
        arrows.append(FlowArrow("rejected", node, target, points, label, lanes[node]))

    return FlowLayout(canvas_width, height, tuple(nodes), tuple(arrows), tuple(title_lines))


def flowchart_layout(
    steps: Sequence[FlowStep],
    *,
    language: Language = "zh",
    title: str = "",
    width: int = 1000,
    font: FontFile | None = None,
) -> FlowLayout:
    """The geometry of the diagram ``render_flowchart`` draws, in the picture's pixels."""
    typesetter = _Typesetter(font, SUPERSAMPLE)
    return _layout(steps, language, title, width, typesetter).scaled(1 / SUPERSAMPLE)


_FILLS: dict[NodeKind, tuple[str, str]] = {
    "start": (START_FILL, START_BORDER),
    "step": (STEP_FILL, STEP_BORDER),
    "approval": (APPROVAL_FILL, APPROVAL_BORDER),
    "end": (END_FILL, END_BORDER),
}


def _draw_node(draw: ImageDraw.ImageDraw, node: FlowNode, scale: int) -> None:
    fill, border = _FILLS[node.kind]
    line = round(1.5 * scale)
    x0, y0, x1, y1 = node.box
    if node.kind == "approval":
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        diamond = [(cx, y0), (x1, cy), (cx, y1), (x0, cy)]
        draw.polygon(diamond, fill=fill, outline=border, width=line)
    else:
        radius = (TERMINAL_RADIUS if node.kind in ("start", "end") else STEP_RADIUS) * scale
        draw.rounded_rectangle(node.box, radius=radius, fill=fill, outline=border, width=line)


def _draw_arrow(draw: ImageDraw.ImageDraw, arrow: FlowArrow, scale: int) -> None:
    colour = REJECTED_COLOUR if arrow.kind == "rejected" else ARROW_COLOUR
    head_length, head_half_width = 10 * scale, 5 * scale
    (px, py), (tx, ty) = arrow.points[-2], arrow.points[-1]
    length = math.hypot(tx - px, ty - py) or 1.0
    dx, dy = (tx - px) / length, (ty - py) / length
    base = (tx - dx * head_length, ty - dy * head_length)
    # the shaft stops inside the head, so its square end does not poke out of the tip
    shaft_end = (tx - dx * head_length * 0.6, ty - dy * head_length * 0.6)
    draw.line([*arrow.points[:-1], shaft_end], fill=colour, width=round(1.5 * scale), joint="curve")
    wing = (-dy * head_half_width, dx * head_half_width)
    draw.polygon(
        [(tx, ty), (base[0] + wing[0], base[1] + wing[1]), (base[0] - wing[0], base[1] - wing[1])],
        fill=colour,
    )


def render_flowchart(
    steps: Sequence[FlowStep],
    *,
    language: Language = "zh",
    title: str = "",
    width: int = 1000,
    font: FontFile | None = None,
) -> bytes:
    """PNG bytes of the flow diagram, ``width`` pixels wide and as tall as the steps need.
    ``font`` defaults to the system's CJK font (``docs_gen.fonts``)."""
    typesetter = _Typesetter(font, SUPERSAMPLE)
    layout = _layout(steps, language, title, width, typesetter)
    image = Image.new("RGB", (layout.width, layout.height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for node in layout.nodes:
        _draw_node(draw, node, SUPERSAMPLE)
    for arrow in layout.arrows:
        _draw_arrow(draw, arrow, SUPERSAMPLE)
    for text in layout.texts():
        typesetter.draw(draw, text)
    image = image.resize(
        (layout.width // SUPERSAMPLE, layout.height // SUPERSAMPLE), Image.Resampling.LANCZOS
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
