"""Sketch to spec (``miniapp.understand``) on the hand-drawn test sketches, measured.

Every screen is drawn in Chinese and English, clean and on paper, and photographed; each
picture goes through ``understand`` with the real OCR, and the result is scored against the
ground truth as tests/support/sketch_scores.py says (a ground-truth widget matches the predicted
widget with the highest IoU, at least 0.5, boxes in input-image pixels): type accuracy (recall),
precision, mean IoU over matched pairs, and exact labels.

The floors below leave a margin under the measured numbers; the numbers are printed with the
table. Measured at the time of writing (zh / en), the first six screens with seeds 11 and 3:

- clean: type 1.00 / 1.00, precision 1.00 / 1.00, IoU 0.95 / 0.94, label 1.00 / 1.00;
- paper: type 1.00 / 1.00, precision 1.00 / 1.00, IoU 0.95 / 0.94, label 1.00 / 1.00;
- photo: type 0.99 / 1.00, precision 0.99 / 1.00, IoU 0.96 / 0.95, label 1.00 / 0.99;

and the four later screens with seed 11: 1.00 in every style and language, IoU 0.93-0.95.
Seeds the tests do not use read about as well (bench/miniapp.py, bench/README.md).

Labels are compared case and all: a seed drawn in Humor Sans (capitals only) reads as capitals.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from functools import cache

import cv2
import numpy as np
import pytest

from miniapp.image_in import load_image
from miniapp.spec import UISpec
from miniapp.understand import OcrEngine, TextLine, understand
from tests.support.sketch_scores import Score, score
from tests.support.sketch_scores import summary as scores_summary
from tests.support.sketches import (
    SCREENS,
    ScreenLayout,
    Sketch,
    Style,
    WidgetSpec,
    Words,
    draw_sketch,
)

pytest.importorskip("rapidocr")

SEEDS = (11, 3)
FIRST_SCREENS = (
    "expense_claim",
    "feedback_survey",
    "leave_request",
    "room_booking",
    "room_list",
    "sign_up",
)
"""The screens ``understand`` was first built on, read with both seeds; the screens added
later (stacked radio options, switches and a photo placeholder, a sign-in form, a search
list) are read with the first seed only, to keep the run short."""
FLOORS: dict[str, dict[str, float]] = {
    # type accuracy, precision, mean IoU, label accuracy
    "clean": {"type": 0.95, "precision": 0.95, "iou": 0.9, "label": 0.93},
    "paper": {"type": 0.95, "precision": 0.95, "iou": 0.9, "label": 0.93},
    "photo": {"type": 0.9, "precision": 0.9, "iou": 0.88, "label": 0.9},
}
SECONDS_TARGET = 3.0


@cache
def _read(name: str, style: Style, language: str, seed: int) -> tuple[Sketch, UISpec, float]:
    sketch = draw_sketch(name, seed=seed, style=style, language=language)
    rgb = np.asarray(sketch.image)
    started = time.perf_counter()
    spec = understand(rgb, language=language)
    return sketch, spec, time.perf_counter() - started


def _run(name: str, style: Style, language: str, seed: int) -> Score:
    return score(*_read(name, style, language, seed))


def _read_and_check(style: Style, cases: list[tuple[str, int]]) -> None:
    rows: list[str] = []
    seconds: list[float] = []
    for language in ("zh", "en"):
        scores = [_run(name, style, language, seed) for name, seed in cases]
        seconds.extend(s.seconds for s in scores)
        summary = scores_summary(scores)
        misses = [miss for s in scores for miss in s.misses]
        rows.append(
            f"{style:5} {language}: type {summary['type']:.2f}  precision "
            f"{summary['precision']:.2f}  IoU {summary['iou']:.2f}  label {summary['label']:.2f}"
            f"  misses {misses}"
        )
        for metric, floor in FLOORS[style].items():
            assert summary[metric] >= floor, (style, language, metric, summary, misses)
    print()  # noqa: T201 - the table is the point
    for row in rows:
        print(row)  # noqa: T201
    median = statistics.median(seconds)
    print(f"{style}: median {median:.2f} s per image")  # noqa: T201
    assert median < SECONDS_TARGET * 2, median


@pytest.mark.parametrize("style", ["clean", "paper", "photo"])
def test_understand_reads_the_sketches(style: Style) -> None:
    _read_and_check(style, [(name, seed) for seed in SEEDS for name in FIRST_SCREENS])


@pytest.mark.parametrize("style", ["clean", "paper", "photo"])
def test_understand_reads_the_later_screens(style: Style) -> None:
    later = sorted(set(SCREENS) - set(FIRST_SCREENS))
    assert later, "every screen is a first screen"
    _read_and_check(style, [(name, SEEDS[0]) for name in later])


def test_stacked_radio_options_make_one_group() -> None:
    """Options too long to stand side by side are drawn one below the other: one radio
    group, every option in order, the label read beside or above the first."""
    for language in ("zh", "en"):
        sketch, spec, _ = _read("notification_settings", "paper", language, SEEDS[0])
        truth = next(w for w in sketch.widgets if w.type == "radio")
        assert truth.bbox[3] > len(truth.options) * 30, "the options should be drawn stacked"
        radios = [w for w in spec.widgets if w.type == "radio"]
        assert [(w.label, w.options) for w in radios] == [(truth.label, truth.options)], radios


class _FakeOcr:
    """An OCR that reads what it is told, where it is told."""

    def __init__(self, lines: list[TextLine]) -> None:
        self.lines = lines

    def read(self, rgb: np.ndarray) -> list[TextLine]:
        return list(self.lines)


def test_markup_in_a_label_comes_out_as_text() -> None:
    layout = ScreenLayout(
        "markup",
        (
            (WidgetSpec("title", Words("标题", "Title")),),
            (
                WidgetSpec(
                    "button", Words("<script>alert(1)</script>", "<script>alert(1)</script>")
                ),
            ),
        ),
    )
    sketch = draw_sketch(layout, seed=3, style="clean", language="en")
    button = next(w for w in sketch.widgets if w.type == "button")
    title = next(w for w in sketch.widgets if w.type == "title")
    x, y, w, h = button.bbox
    tx, ty, tw, th = title.bbox

    def corners(box: tuple[int, int, int, int]) -> tuple[tuple[float, float], ...]:
        bx, by, bw, bh = box
        return ((bx, by), (bx + bw, by), (bx + bw, by + bh), (bx, by + bh))

    text = "<script>alert(1)</script>"
    inner = (x + w // 2 - 140, y + h // 2 - 16, 280, 32)
    engine: OcrEngine = _FakeOcr(
        [TextLine("Title", corners((tx, ty, tw, th)), 1.0), TextLine(text, corners(inner), 1.0)]
    )
    spec = understand(np.asarray(sketch.image), ocr=engine)
    buttons = [widget for widget in spec.widgets if widget.type == "button"]
    assert [widget.label for widget in buttons] == [text]
    # the real OCR on the same drawing: whatever it reads stays plain text, never dropped
    real = understand(np.asarray(sketch.image))
    labels = [widget.label for widget in real.widgets]
    print(f"real OCR read the markup button as {labels}")  # noqa: T201
    assert any("script" in label for label in labels), labels


def test_a_blank_picture_gives_an_empty_spec() -> None:
    blank = np.full((400, 300, 3), 255, np.uint8)
    spec = understand(blank, ocr=_FakeOcr([]))
    assert spec.widgets == ()
    assert (spec.image.width, spec.image.height) == (300, 400)


def test_ids_rows_and_columns_follow_reading_order() -> None:
    sketch = draw_sketch("sign_up", seed=SEEDS[0], style="clean", language="en")
    spec = understand(load_image(sketch.png()))
    assert (spec.image.width, spec.image.height) == sketch.image.size
    assert [w.id for w in spec.widgets] == list(range(1, len(spec.widgets) + 1))
    rows = [w.row for w in spec.widgets]
    assert rows == sorted(rows)
    code, send = (w for w in spec.widgets if w.row == spec.widgets[2].row)
    assert (code.type, send.type, code.column, send.column) == ("input", "button", 0, 1)
    assert spec.page.title == "Create account"


@pytest.mark.parametrize("degrees", [3.0, -4.0])
def test_a_slightly_turned_scan_is_levelled(degrees: float) -> None:
    sketch = draw_sketch("leave_request", seed=SEEDS[0], style="clean", language="en")
    rgb = np.asarray(sketch.image)
    height, width = rgb.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    turned = cv2.warpAffine(rgb, turn, (width, height), borderValue=(255, 255, 255))

    def moved(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        x, y, w, h = box
        corners = np.array([[x, y, 1], [x + w, y, 1], [x + w, y + h, 1], [x, y + h, 1]], float)
        points = corners @ turn.T
        x0, y0 = np.floor(points.min(axis=0)).astype(int)
        x1, y1 = np.ceil(points.max(axis=0)).astype(int)
        return int(x0), int(y0), int(x1 - x0), int(y1 - y0)

    truth = dataclasses.replace(
        sketch,
        widgets=tuple(dataclasses.replace(w, bbox=moved(w.bbox)) for w in sketch.widgets),
    )
    result = score(truth, understand(turned), 0.0)
    assert result.right_type / result.truth >= 0.85, result.misses
    assert float(np.mean(result.ious)) >= 0.7, result.ious
