"""The workflow flow diagram: its geometry (inside the canvas, nothing overlapping, arrows from
border to border, rejection loops in their own lanes) and the PNG drawn from it."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable

import pytest
from PIL import Image, ImageColor

from docs_gen import fonts
from docs_gen.flowchart import (
    APPROVAL_FILL,
    BACKGROUND,
    MAX_STEPS,
    STEP_FILL,
    Box,
    FlowArrow,
    FlowchartError,
    FlowLayout,
    FlowNode,
    FlowStep,
    Language,
    Point,
    flowchart_layout,
    format_hours,
    render_flowchart,
    wrap_text,
)

PURCHASE_ZH = (
    FlowStep("提交采购申请", "申请人", 24),
    FlowStep("部门经理审批", "部门经理", 24, approval=True),
    FlowStep("采购询价比价", "采购专员", 72),
    FlowStep("财务审核预算", "财务", 48, approval=True),
    FlowStep("签订采购合同", "采购专员", 24),
    FlowStep("到货验收入库", "仓管员", 8),
)
PURCHASE_EN = (
    FlowStep("Submit purchase request", "Requester", 24),
    FlowStep("Manager approval", "Department manager", 24, approval=True),
    FlowStep("Collect and compare quotes", "Buyer", 72),
    FlowStep("Finance budget review", "Finance", 48, approval=True),
    FlowStep("Sign the contract", "Buyer", 24),
    FlowStep("Receive and check goods", "Warehouse", 8),
)
# Two approvals in a row return to the same step; one loop nests inside the other.
NESTED = (
    FlowStep("起草制度", "人事"),
    FlowStep("部门负责人审核", approval=True),
    FlowStep("法务审核", "法务", 0.5, approval=True),
    FlowStep("发布", "人事", 2),
    FlowStep("总经理审批", "总经理", approval=True),
)
TOLERANCE = 0.75
LONG_ZH = "请" + "根据部门年度预算和实际采购需求填写申请单并附上供应商报价" * 8
LONG_EN = " ".join(["reconcile the quarterly supplier invoices against purchase orders"] * 4)


def _inside(inner: Box, outer: Box, slack: float = TOLERANCE) -> bool:
    return (
        inner[0] >= outer[0] - slack
        and inner[1] >= outer[1] - slack
        and inner[2] <= outer[2] + slack
        and inner[3] <= outer[3] + slack
    )


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _in_diamond(point: Point, box: Box) -> float:
    """How far ``point`` is from the centre of the diamond in ``box``: 1 on its border."""
    half_width, half_height = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
    dx = abs(point[0] - (box[0] + half_width))
    dy = abs(point[1] - (box[1] + half_height))
    return dx / half_width + dy / half_height


def _on_border(point: Point, node: FlowNode) -> bool:
    x0, y0, x1, y1 = node.box
    if node.kind == "approval":
        return abs(_in_diamond(point, node.box) - 1) < 0.01
    x, y = point
    inside = x0 - TOLERANCE <= x <= x1 + TOLERANCE and y0 - TOLERANCE <= y <= y1 + TOLERANCE
    on_edge = min(abs(x - x0), abs(x - x1), abs(y - y0), abs(y - y1)) < TOLERANCE
    return inside and on_edge


def _segments(arrow: FlowArrow) -> Iterable[tuple[Point, Point]]:
    return itertools.pairwise(arrow.points)


def _collinear_overlap(a: tuple[Point, Point], b: tuple[Point, Point]) -> bool:
    (ax0, ay0), (ax1, ay1) = a
    (bx0, by0), (bx1, by1) = b
    if ay0 == ay1 and by0 == by1 and abs(ay0 - by0) < 1:
        return min(max(ax0, ax1), max(bx0, bx1)) - max(min(ax0, ax1), min(bx0, bx1)) > 1
    if ax0 == ax1 and bx0 == bx1 and abs(ax0 - bx0) < 1:
        return min(max(ay0, ay1), max(by0, by1)) - max(min(ay0, ay1), min(by0, by1)) > 1
    return False


def check_layout(layout: FlowLayout, steps: tuple[FlowStep, ...]) -> None:
    """Everything the diagram promises about its geometry."""
    canvas = (0.0, 0.0, float(layout.width), float(layout.height))
    assert [node.kind for node in layout.nodes] == [
        "start",
        *("approval" if step.approval else "step" for step in steps),
        "end",
    ]
    for node in layout.nodes:
        assert _inside(node.box, canvas), node
    for text in layout.texts():
        assert text.text.strip()
        assert _inside(text.box, canvas), text
    for arrow in layout.arrows:
        for x, y in arrow.points:
            assert 0 <= x <= layout.width, arrow
            assert 0 <= y <= layout.height, arrow
    for node_a, node_b in itertools.combinations(layout.nodes, 2):
        assert not _overlap(node_a.box, node_b.box), (node_a, node_b)

    # text stays in its node; text beside a diamond touches no node; labels touch no node
    for node in layout.nodes:
        for text in node.texts:
            if node.kind == "approval" and text.kind == "meta":
                assert text.box[0] > node.box[2]
                assert all(not _overlap(text.box, other.box) for other in layout.nodes)
            elif node.kind == "approval":
                corners = itertools.product(text.box[0::2], text.box[1::2])
                assert all(_in_diamond(corner, node.box) <= 1 for corner in corners), text
            else:
                assert _inside(text.box, node.box, slack=0), (text, node.box)
    for arrow in layout.arrows:
        if arrow.label is not None:
            assert all(not _overlap(arrow.label.box, node.box) for node in layout.nodes)
    for text_a, text_b in itertools.combinations(list(layout.texts()), 2):
        assert not _overlap(text_a.box, text_b.box), (text_a, text_b)

    forward = [arrow for arrow in layout.arrows if arrow.kind != "rejected"]
    assert [(arrow.source, arrow.target) for arrow in forward] == [
        (index, index + 1) for index in range(len(layout.nodes) - 1)
    ]
    for arrow in forward:
        assert _on_border(arrow.points[0], layout.nodes[arrow.source]), arrow
        assert _on_border(arrow.points[-1], layout.nodes[arrow.target]), arrow
        assert (arrow.kind == "approved") == (layout.nodes[arrow.source].kind == "approval")
        assert (arrow.label is not None) == (arrow.kind == "approved")

    rejections = [arrow for arrow in layout.arrows if arrow.kind == "rejected"]
    approvals = [index for index, node in enumerate(layout.nodes) if node.kind == "approval"]
    assert sorted(arrow.source for arrow in rejections) == approvals
    for arrow in rejections:
        source, target = layout.nodes[arrow.source], layout.nodes[arrow.target]
        assert target.kind in ("start", "step")
        assert arrow.target < arrow.source
        # the last non-approval node above: only approvals lie between
        between = layout.nodes[arrow.target + 1 : arrow.source]
        assert all(node.kind == "approval" for node in between)
        assert _on_border(arrow.points[0], source)
        end_x, end_y = arrow.points[-1]
        assert abs(end_x - target.box[0]) < TOLERANCE  # into the left side
        assert target.box[1] < end_y < target.box[3]
        for (x0, y0), (x1, y1) in _segments(arrow):
            assert x0 == x1 or y0 == y1, "rejection loops are orthogonal"
        assert arrow.label is not None
    assert len({arrow.lane for arrow in rejections}) == len(rejections)
    for a, b in itertools.combinations(layout.arrows, 2):
        for first, second in itertools.product(_segments(a), _segments(b)):
            assert not _collinear_overlap(first, second), (a, b)


# --- layout -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "language"),
    [(PURCHASE_ZH, "zh"), (PURCHASE_EN, "en"), (NESTED, "zh"), (NESTED, "en")],
)
def test_layout_fits_the_canvas_and_connects_the_steps(
    steps: tuple[FlowStep, ...], language: Language
) -> None:
    layout = flowchart_layout(steps, language=language, title="采购审批流程 Purchase approval")
    assert layout.width == 1000
    check_layout(layout, steps)


def test_purchase_flow_labels() -> None:
    zh = flowchart_layout(PURCHASE_ZH)
    assert [text.text for text in zh.nodes[1].texts] == ["提交采购申请", "申请人 · 24 小时"]
    assert [text.text for text in zh.nodes[0].texts] == ["开始"]
    assert [text.text for text in zh.nodes[-1].texts] == ["结束"]
    labels = {arrow.kind: arrow.label.text for arrow in zh.arrows if arrow.label}
    assert labels == {"approved": "通过", "rejected": "驳回"}
    en = flowchart_layout(PURCHASE_EN, language="en")
    assert [text.text for text in en.nodes[2].texts] == [
        "Manager approval",
        "Department manager · 24 h",
    ]
    labels = {arrow.kind: arrow.label.text for arrow in en.arrows if arrow.label}
    assert labels == {"approved": "Approved", "rejected": "Rejected"}


def test_nested_loops_take_separate_lanes_outer_one_entering_higher() -> None:
    layout = flowchart_layout(NESTED)
    loops = {arrow.source: arrow for arrow in layout.arrows if arrow.kind == "rejected"}
    assert {source: arrow.target for source, arrow in loops.items()} == {2: 1, 3: 1, 5: 4}
    inner, outer = loops[2], loops[3]
    assert inner.lane is not None
    assert outer.lane is not None
    assert outer.lane > inner.lane
    assert outer.points[1][0] < inner.points[1][0]  # further out in the margin
    assert outer.points[-1][1] < inner.points[-1][1]  # enters above the inner loop


def test_height_grows_with_the_steps_width_stays() -> None:
    short = flowchart_layout(PURCHASE_ZH[:2])
    long = flowchart_layout(PURCHASE_ZH)
    assert long.width == short.width == 1000
    assert long.height > short.height
    assert flowchart_layout(PURCHASE_ZH, width=720).width == 720


@pytest.mark.parametrize(("label", "language"), [(LONG_ZH, "zh"), (LONG_EN, "en")])
def test_a_long_label_is_clamped_inside_its_node(label: str, language: Language) -> None:
    assert len(label) >= 200
    steps = (
        FlowStep(label, label, 24),
        FlowStep(label, label, 12, approval=True),
    )
    layout = flowchart_layout(steps, language=language)
    check_layout(layout, steps)
    for node in layout.nodes[1:3]:
        names = [text.text for text in node.texts if text.kind == "name"]
        assert len(names) == 3
        assert names[-1].endswith("…")
        assert all(not name.endswith("…") for name in names[:-1])
        metas = [text.text for text in node.texts if text.kind == "meta"]
        assert metas[-1].endswith(("… · 24 小时", "… · 12 小时", "… · 24 h", "… · 12 h"))
    if language == "en":
        words = set(label.split())
        step_names = [text.text for text in layout.nodes[1].texts if text.kind == "name"]
        # English breaks between words
        assert all(set(name.split()) <= words for name in step_names[:-1])


def test_blank_and_odd_labels_still_draw() -> None:
    steps = (
        FlowStep("  \n\t "),
        FlowStep("审批\x00\u200b", role="  ", hours=-3, approval=True),
        FlowStep("x" * 120, hours=float("nan")),
    )
    layout = flowchart_layout(steps)
    check_layout(layout, steps)
    assert [text.text for text in layout.nodes[1].texts] == ["步骤 1"]
    assert [text.text for text in layout.nodes[2].texts] == ["审批"]
    assert flowchart_layout(steps, language="en").nodes[1].texts[0].text == "Step 1"


def test_an_approval_first_sends_the_rejection_back_to_start() -> None:
    steps = (
        FlowStep("主管审批", "主管", 4, approval=True),
        FlowStep("总监审批", "总监", 4, approval=True),
        FlowStep("执行", "专员"),
    )
    layout = flowchart_layout(steps)
    check_layout(layout, steps)
    assert [(a.source, a.target) for a in layout.arrows if a.kind == "rejected"] == [
        (1, 0),
        (2, 0),
    ]
    assert render_flowchart(steps).startswith(b"\x89PNG")


def test_every_step_an_approval_at_the_maximum() -> None:
    steps = tuple(
        FlowStep(f"第{index + 1}级审批", "审批人", 2, approval=True) for index in range(MAX_STEPS)
    )
    layout = flowchart_layout(steps, width=600)
    check_layout(layout, steps)


@pytest.mark.parametrize(
    ("steps", "width", "message"),
    [
        ((), 1000, "at least one step"),
        ((FlowStep("步骤"),) * (MAX_STEPS + 1), 1000, "at most 20 steps, got 21"),
        (PURCHASE_ZH, 300, "at least 600 pixels"),
    ],
)
def test_refused(steps: tuple[FlowStep, ...], width: int, message: str) -> None:
    with pytest.raises(FlowchartError, match=message):
        flowchart_layout(steps, width=width)
    with pytest.raises(ValueError, match=message):
        render_flowchart(steps, width=width)


# --- text --------------------------------------------------------------------------------


def test_wrap_breaks_chinese_between_characters_english_between_words() -> None:
    def fits(line: str) -> bool:
        return len(line) <= 6

    assert wrap_text("提交采购申请单据", fits, 3) == ["提交采购申请", "单据"]
    assert wrap_text("send the form now", fits, 3) == ["send", "the", "form…"]
    assert wrap_text("send the form", fits, 3) == ["send", "the", "form"]
    assert wrap_text("approve", fits, 3) == ["approv", "e"]
    # closing punctuation never starts a line
    assert wrap_text("甲乙丙丁戊己，庚", fits, 3) == ["甲乙丙丁戊", "己，庚"]
    assert wrap_text("甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申", fits, 3) == [
        "甲乙丙丁戊己",
        "庚辛壬癸子丑",
        "寅卯辰巳午…",
    ]
    assert wrap_text("", fits, 3) == []
    # what is kept ends the last line however long the text before it
    assert wrap_text("甲乙丙丁戊己庚辛壬癸", fits, 1, keep="·2h") == ["甲乙…·2h"]
    assert wrap_text("甲乙丙", fits, 2, keep="·2h") == ["甲乙丙·2h"]


def test_format_hours() -> None:
    assert format_hours(24, "zh") == "24 小时"
    assert format_hours(1.5, "en") == "1.5 h"
    assert format_hours(0.5, "zh") == "30 分钟"
    assert format_hours(0.25, "en") == "15 min"
    assert format_hours(None, "zh") == format_hours(0, "zh") == format_hours(-1, "en") == ""


# --- picture -----------------------------------------------------------------------------


def _rgb(colour: str) -> tuple[int, int, int]:
    red, green, blue = ImageColor.getrgb(colour)[:3]
    return red, green, blue


def _ink(image: Image.Image, box: Box, fill: str) -> int:
    """How many pixels in ``box`` are clearly neither the background nor ``fill``: text."""
    left, top, right, bottom = (round(value) for value in box)
    data = image.crop((left, top, right, bottom)).convert("RGB").tobytes()
    pixels = (tuple(data[index : index + 3]) for index in range(0, len(data), 3))
    plain = (_rgb(BACKGROUND), _rgb(fill))
    return sum(
        1
        for pixel in pixels
        if all(sum(abs(p - q) for p, q in zip(pixel, colour, strict=True)) > 90 for colour in plain)
    )


@pytest.mark.parametrize(("steps", "language"), [(PURCHASE_ZH, "zh"), (PURCHASE_EN, "en")])
def test_render_draws_the_text_inside_the_nodes(
    steps: tuple[FlowStep, ...], language: Language
) -> None:
    if fonts.find_cjk_font() is None:
        pytest.fail("no CJK font installed: `make setup` installs fonts-wqy-microhei")
    png = render_flowchart(steps, language=language, title="采购审批流程")
    image = Image.open(io.BytesIO(png))
    layout = flowchart_layout(steps, language=language, title="采购审批流程")
    assert image.format == "PNG"
    assert image.size == (1000, layout.height)
    for node in layout.nodes[1:-1]:
        fill = APPROVAL_FILL if node.kind == "approval" else STEP_FILL
        name = node.texts[0]
        area = (name.box[2] - name.box[0]) * (name.box[3] - name.box[1])
        assert _ink(image, name.box, fill) > area * 0.08, name
        # and only there: just inside the node's border it is plain fill
        x0, y0, _, y1 = node.box
        inside_border = (round(x0) + 6, round((y0 + y1) / 2))
        if node.kind == "approval":
            inside_border = (round(x0) + 24, round((y0 + y1) / 2))
        assert image.getpixel(inside_border) == _rgb(fill)
    assert image.getpixel((2, 2)) == _rgb(BACKGROUND)


def test_same_input_same_bytes() -> None:
    first = render_flowchart(PURCHASE_ZH, title="采购审批流程")
    assert render_flowchart(PURCHASE_ZH, title="采购审批流程") == first
    assert render_flowchart(PURCHASE_EN, language="en") != first


def test_without_a_cjk_font_the_layout_still_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "find_cjk_font", lambda: None)
    fonts._warn_no_cjk_font.cache_clear()
    layout = flowchart_layout(NESTED, language="en")
    check_layout(layout, NESTED)
    assert render_flowchart(NESTED, language="en").startswith(b"\x89PNG")
    fonts._warn_no_cjk_font.cache_clear()
