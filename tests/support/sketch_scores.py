"""How well a ``UISpec`` read from a drawn sketch matches the sketch's ground truth.

Shared by tests/test_miniapp_understand.py and bench/miniapp.py, so the test's floors and the
bench's figures are the same measure. A ground-truth widget matches the predicted widget with the
highest IoU (at least 0.5, boxes in input-image pixels, each prediction used once):

- type recall: matched with the right type, over all ground-truth widgets;
- precision: matched with the right type, over all predicted widgets;
- mean IoU: over the matched pairs;
- label accuracy: exact labels (whitespace aside) over right-typed pairs with a label;
- label accuracy, any case: the same with upper and lower case alike. Humor Sans, one of the
  sketches' two Latin hands, has capitals only: what such a sketch shows is "PHONE", while its
  ground truth says "Phone", so the exact figure counts every right reading of it as wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from miniapp.spec import UISpec
from tests.support.sketches import Sketch

Box = tuple[int, int, int, int]


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
    right_label_any_case: int = 0


def box_iou(a: Box, b: Box) -> float:
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


def score(sketch: Sketch, spec: UISpec, seconds: float = 0.0) -> Score:
    """Match the spec's widgets to the sketch's and count what came out right."""
    predicted = list(spec.widgets)
    pairs = sorted(
        (
            (box_iou(truth.bbox, guess.bbox), t, p)
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
    right_type = labelled = right_label = right_any_case = 0
    ious: list[float] = []
    misses: list[str] = []
    for t, truth in enumerate(sketch.widgets):
        if t not in matched:
            misses.append(f"missed {truth.type} {truth.label!r}")
            continue
        guess = predicted[matched[t]]
        ious.append(box_iou(truth.bbox, guess.bbox))
        if guess.type != truth.type:
            misses.append(f"{truth.type} read as {guess.type}")
            continue
        right_type += 1
        if truth.label:
            labelled += 1
            if _norm(guess.label).casefold() == _norm(truth.label).casefold():
                right_any_case += 1
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
        right_label_any_case=right_any_case,
    )


def summary(scores: Iterable[Score]) -> dict[str, float]:
    """Type recall, precision, mean IoU and label accuracy (exact, and any case) over several
    sketches."""
    scores = list(scores)
    truth = sum(s.truth for s in scores)
    predicted = sum(s.predicted for s in scores)
    right = sum(s.right_type for s in scores)
    ious = [iou for s in scores for iou in s.ious]
    labelled = sum(s.labelled for s in scores)
    return {
        "type": right / max(1, truth),
        "precision": right / max(1, predicted),
        "iou": float(np.mean(ious)) if ious else 0.0,
        "label": sum(s.right_label for s in scores) / max(1, labelled),
        "label_any_case": sum(s.right_label_any_case for s in scores) / max(1, labelled),
    }
