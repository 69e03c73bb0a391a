"""Sketch to spec (``miniapp.understand``) on the hand-drawn test sketches, measured.

Every screen is drawn in Chinese and English, clean and on paper, and photographed; each
picture goes through ``understand`` with the real OCR, and the result is scored against the
ground truth. A ground-truth widget matches the predicted widget with the highest IoU (at least
0.5, boxes in input-image pixels, each prediction used once).

- type accuracy: matched with the right type, over all ground-truth widgets (recall);
- precision: matched with the right type, over all predicted widgets;
- mean IoU: over the matched pairs;
- label accuracy: exact labels (whitespace aside) over right-typed pairs with a label.

The floors below were set from the measured numbers (seeds 11 and 3) with a margin, and the
numbers are printed with the table; measured at the time of writing (zh / en):

- clean: type 0.99 / 0.99, precision 0.98 / 0.98, IoU 0.95 / 0.94, label 1.00 / 0.98;
- paper: type 0.99 / 0.99, precision 0.98 / 0.98, IoU 0.95 / 0.94, label 1.00 / 0.98;
- photo: type 0.94 / 0.95, precision 0.91 / 0.94, IoU 0.96 / 0.95, label 1.00 / 0.99.

Labels are compared case and all: a seed drawn in Humor Sans (small capitals) reads as capitals.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
import pytest

from miniapp.image_in import load_image
from miniapp.spec import UISpec
from miniapp.understand import OcrEngine, TextLine, understand
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
FLOORS: dict[str, dict[str, float]] = {
    # type accuracy, precision, mean IoU, label accuracy
    "clean": {"type": 0.9, "precision": 0.9, "iou": 0.85, "label": 0.9},
    "paper": {"type": 0.9, "precision": 0.88, "iou": 0.85, "label": 0.9},
    "photo": {"type": 0.8, "precision": 0.8, "iou": 0.8, "label": 0.85},
}
SECONDS_TARGET = 3.0


@dataclass(frozen=True)
class Score:
    truth: int
    predicted: int
    right_type: int
    ious: tuple[float, ...]
    labelled: int
    right_label: int
    seconds: float
    misses: tuple[str, ...]


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = min(ax + aw, bx + bw) - max(ax, bx)
    ih = min(ay + ah, by + bh) - max(ay, by)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)


def _norm(text: str) -> str:
    return "".join(text.split())


def score(sketch: Sketch, spec: UISpec, seconds: float) -> Score:
    predicted = list(spec.widgets)
    pairs = sorted(
        (
            (_iou(truth.bbox, guess.bbox), t, p)
            for t, truth in enumerate(sketch.widgets)
            for p, guess in enumerate(predicted)
        ),
        reverse=True,
    )
    matched: dict[int, int] = {}
    used: set[int] = set()
    for iou, t, p in pairs:
        if iou < 0.5:
            break
        if t not in matched and p not in used:
            matched[t] = p
            used.add(p)
    right_type = labelled = right_label = 0
    ious: list[float] = []
    misses: list[str] = []
    for t, truth in enumerate(sketch.widgets):
        if t not in matched:
            misses.append(f"missed {truth.type} {truth.label!r}")
            continue
        guess = predicted[matched[t]]
        ious.append(_iou(truth.bbox, guess.bbox))
        if guess.type != truth.type:
            misses.append(f"{truth.type} read as {guess.type}")
            continue
        right_type += 1
        if truth.label:
            labelled += 1
            if _norm(guess.label) == _norm(truth.label):
                right_label += 1
            else:
                misses.append(f"{truth.type} label {guess.label!r} for {truth.label!r}")
    return Score(
        truth=len(sketch.widgets),
        predicted=len(predicted),
        right_type=right_type,
        ious=tuple(ious),
        labelled=labelled,
        right_label=right_label,
        seconds=seconds,
        misses=tuple(misses),
    )


@cache
def _run(name: str, style: Style, language: str, seed: int) -> Score:
    sketch = draw_sketch(name, seed=seed, style=style, language=language)
    rgb = np.asarray(sketch.image)
    started = time.perf_counter()
    spec = understand(rgb, language=language)
    return score(sketch, spec, time.perf_counter() - started)


def _summary(scores: list[Score]) -> dict[str, float]:
    truth = sum(s.truth for s in scores)
    predicted = sum(s.predicted for s in scores)
    right = sum(s.right_type for s in scores)
    ious = [iou for s in scores for iou in s.ious]
    labelled = sum(s.labelled for s in scores)
    return {
        "type": right / truth,
        "precision": right / max(1, predicted),
        "iou": float(np.mean(ious)) if ious else 0.0,
        "label": sum(s.right_label for s in scores) / max(1, labelled),
    }


@pytest.mark.parametrize("style", ["clean", "paper", "photo"])
def test_understand_reads_the_sketches(style: Style) -> None:
    rows: list[str] = []
    seconds: list[float] = []
    for language in ("zh", "en"):
        scores = [_run(name, style, language, seed) for seed in SEEDS for name in sorted(SCREENS)]
        seconds.extend(s.seconds for s in scores)
        summary = _summary(scores)
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
