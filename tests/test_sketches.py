"""The hand-drawn test sketches: every screen draws in every style and language, the same seed
gives the same picture, and the ground truth matches the ink (boxes where the strokes are, through
the photo's perspective too, and text that OCR can read)."""

from __future__ import annotations

import itertools
import re
from functools import cache

import cv2
import numpy as np
import pytest

from tests.support import sketches
from tests.support.sketches import (
    LANGUAGES,
    SCREENS,
    STYLES,
    ScreenLayout,
    Sketch,
    SketchWidget,
    Style,
    WidgetSpec,
    Words,
    draw_sketch,
)

SEED = 11
EXAMPLE_SCREEN = "room_booking"
BOXED = ("input", "textarea", "select", "date", "button", "image")
TIGHT = ("title", "text", "checkbox", "radio")


@cache
def _sketch(name: str, style: Style, language: str, seed: int = SEED) -> Sketch:
    return draw_sketch(name, seed=seed, style=style, language=language)


def _grey(sketch: Sketch) -> np.ndarray:
    return np.asarray(sketch.image.convert("L"), np.int16)


def _overlap(first: tuple[int, int, int, int], second: tuple[int, int, int, int]) -> bool:
    ax, ay, aw, ah = first
    bx, by, bw, bh = second
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def _rows(widgets: tuple[SketchWidget, ...]) -> list[list[int]]:
    """The indexes of the widgets on each row."""
    rows: dict[int, list[int]] = {}
    for index, widget in enumerate(widgets):
        rows.setdefault(widget.row, []).append(index)
    return list(rows.values())


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", sorted(SCREENS))
def test_every_screen_draws_in_every_style(name: str, language: str) -> None:
    layout = SCREENS[name]
    specs = [spec for row in layout.rows for spec in row]
    for style in STYLES:
        sketch = _sketch(name, style, language)
        width, height = sketch.image.size
        assert sketch.image.mode == "RGB"
        assert (sketch.name, sketch.language, sketch.style) == (name, language, style)
        assert [widget.type for widget in sketch.widgets] == [spec.type for spec in specs]
        places = [
            (row, column)
            for row, specs_in_row in enumerate(layout.rows)
            for column in range(len(specs_in_row))
        ]
        assert [(widget.row, widget.column) for widget in sketch.widgets] == places
        for widget, spec in zip(sketch.widgets, specs, strict=True):
            assert widget.label == spec.label.text(language)
            assert widget.placeholder == spec.placeholder.text(language)
            x, y, w, h = widget.bbox
            assert w > 10, widget
            assert h > 10, widget
            assert x >= 0, widget
            assert y >= 0, widget
            assert x + w <= width, widget
            assert y + h <= height, widget
        assert len(sketch.frame) == 4
        assert all(0 <= px <= width and 0 <= py <= height for px, py in sketch.frame)
        assert sketch.png().startswith(b"\x89PNG")
        assert sketch.jpeg(quality=80).startswith(b"\xff\xd8")
        if name == EXAMPLE_SCREEN:
            sketch.image.save(f"/tmp/sketch_{style}_{language}.png")


def test_the_ground_truth_lists_options_and_placeholders() -> None:
    survey = _sketch("feedback_survey", "clean", "zh")
    radio = next(widget for widget in survey.widgets if widget.type == "radio")
    assert (radio.label, radio.options) == ("总体评价", ("满意", "一般", "不满意"))
    checkboxes = [widget for widget in survey.widgets if widget.type == "checkbox"]
    assert [box.label for box in checkboxes] == ["讲解", "案例", "练习"]
    assert [box.column for box in checkboxes] == [0, 1, 2]
    assert len({box.row for box in checkboxes}) == 1
    rooms = _sketch("room_list", "clean", "en")
    assert [widget.options for widget in rooms.widgets if widget.type == "tabbar"] == [
        ("Home", "Book", "Agenda", "Me")
    ]
    search = next(widget for widget in rooms.widgets if widget.type == "input")
    assert (search.label, search.placeholder) == ("", "Search rooms")


@pytest.mark.parametrize("style", STYLES)
def test_the_same_seed_draws_the_same_sketch(style: Style) -> None:
    first = draw_sketch("sign_up", seed=5, style=style, language="zh")
    again = draw_sketch("sign_up", seed=5, style=style, language="zh")
    other = draw_sketch("sign_up", seed=6, style=style, language="zh")
    assert first.image.tobytes() == again.image.tobytes()
    assert first.widgets == again.widgets
    assert first.frame == again.frame
    assert first.image.tobytes() != other.image.tobytes()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("style", STYLES)
def test_distinct_widgets_do_not_overlap(style: Style, language: str) -> None:
    for name in SCREENS:
        widgets = _sketch(name, style, language).widgets
        # Rotation grows the axis-aligned boxes of a photo, so there only a row's boxes must
        # stay apart; on the flat page no two boxes may touch.
        groups = _rows(widgets) if style == "photo" else [list(range(len(widgets)))]
        for group in groups:
            for first, second in itertools.combinations(group, 2):
                assert not _overlap(widgets[first].bbox, widgets[second].bbox), (
                    name,
                    widgets[first],
                    widgets[second],
                )


def _edge_coverage(dark: np.ndarray, box: tuple[int, int, int, int], band: int = 5) -> float:
    """The share of a box's top and bottom edge columns with ink within ``band`` pixels."""
    x, y, w, h = box
    top = dark[max(0, y - band) : y + band, x : x + w].any(axis=0)
    bottom = dark[y + h - band : y + h + band, x : x + w].any(axis=0)
    return float((top.mean() + bottom.mean()) / 2)


@pytest.mark.parametrize("style", ["clean", "paper"])
def test_boxes_sit_on_their_strokes(style: Style) -> None:
    for name, language in itertools.product(SCREENS, LANGUAGES):
        sketch = _sketch(name, style, language)
        dark = _grey(sketch) < 170
        for widget in sketch.widgets:
            x, y, w, h = widget.bbox
            if widget.type in BOXED:
                assert _edge_coverage(dark, widget.bbox) > 0.6, (name, language, widget)
            elif widget.type in TIGHT:
                inside = dark[y : y + h, x : x + w]
                assert inside[:3].any(), (name, widget)
                assert inside[-3:].any(), (name, widget)
                assert inside[:, :3].any(), (name, widget)
                assert inside[:, -3:].any(), (name, widget)


def _page_ink(paper: Sketch, widget: SketchWidget) -> np.ndarray:
    """(x, y) of the ink pixels inside a widget's box on the flat paper page."""
    x, y, w, h = widget.bbox
    rows, columns = np.nonzero(_grey(paper)[y : y + h, x : x + w] < 170)
    return np.stack([columns + x + 0.5, rows + y + 0.5], axis=1).astype(np.float64)


@pytest.mark.parametrize("language", LANGUAGES)
def test_photo_boxes_cover_the_ink_they_had_on_paper(language: str) -> None:
    """The photo is the paper page of the same seed, photographed: each widget's ink, carried
    through the photo's homography, lands inside that widget's photo box, and is dark there."""
    for name in SCREENS:
        paper = _sketch(name, "paper", language)
        photo = _sketch(name, "photo", language)
        homography = np.array(photo.page_to_image)
        grey = cv2.GaussianBlur(_grey(photo).astype(np.float32), (0, 0), 1.0)
        for flat, moved in zip(paper.widgets, photo.widgets, strict=True):
            ink = _page_ink(paper, flat)
            assert len(ink) > 30, (name, flat)
            landed = cv2.perspectiveTransform(ink[None], homography)[0]
            x, y, w, h = moved.bbox
            assert landed[:, 0].min() >= x - 1, (name, moved)
            assert landed[:, 1].min() >= y - 1, (name, moved)
            assert landed[:, 0].max() <= x + w + 1, (name, moved)
            assert landed[:, 1].max() <= y + h + 1, (name, moved)
            columns, rows = landed[:, 0].astype(int), landed[:, 1].astype(int)
            ink_level = float(np.median(grey[rows, columns]))
            around = float(np.median(grey[y : y + h, x : x + w]))
            assert ink_level < around - 25, (name, moved, ink_level, around)


def test_a_custom_layout_and_bad_arguments() -> None:
    layout = ScreenLayout(
        "tiny",
        (
            (WidgetSpec("title", Words("你好", "Hello")),),
            (WidgetSpec("switch", Words("开", "On")),),
        ),
    )
    sketch = draw_sketch(layout, seed=1, style="clean", language="en")
    assert [widget.label for widget in sketch.widgets] == ["Hello", "On"]
    with pytest.raises(ValueError, match="zh or en"):
        draw_sketch(layout, seed=1, language="fr")
    with pytest.raises(ValueError, match="clean, paper, photo"):
        draw_sketch(layout, seed=1, style="watercolour")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="known types"):
        WidgetSpec("carousel")
    with pytest.raises(ValueError, match="one checkbox per choice"):
        WidgetSpec("checkbox", options=(Words("甲", "A"),))
    with pytest.raises(ValueError, match="needs options"):
        WidgetSpec("tabbar")


def test_a_missing_font_names_its_debian_package() -> None:
    missing = sketches._Font("fonts-not-installed", "/nonexistent/Hand.ttf")
    with pytest.raises(pytest.fail.Exception, match="install the Debian package fonts-not-"):
        sketches._font(missing, 30)


# --- legibility -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ocr() -> object:
    rapidocr = pytest.importorskip("rapidocr")
    return rapidocr.RapidOCR()


_MARKS = re.compile(r"[○◯●◎⊙□■口☐☑]|(?<![A-Za-z0-9.:])[Oo0](?![A-Za-z0-9.:])")
"""Checkbox squares and radio circles, which OCR reads as 口, □ or a lone O beside the text."""


def _readings(line: str) -> set[str]:
    """What one OCR line may have read: the line, and every run of its words with marks cut out."""
    words = _MARKS.sub(" ", line).split()
    runs = {
        "".join(words[start:end]) for start, end in itertools.combinations(range(len(words) + 1), 2)
    }
    return {line.replace(" ", ""), *runs}


def label_accuracy(ocr: object, sketch: Sketch) -> tuple[float, list[str]]:
    """The share of labels and options OCR read exactly (spaces aside) as a line or whole words."""
    result = ocr(sketch.png())  # type: ignore[operator]
    read = set().union(*(_readings(line) for line in result.txts or ()))
    expected = sketch.texts()
    missed = [text for text in expected if text.replace(" ", "") not in read]
    return 1 - len(missed) / len(expected), missed


def test_marks_are_cut_from_ocr_lines() -> None:
    assert {"Fair", "Poor", "FairPoor"} <= _readings("O Fair O Poor")
    assert {"一般", "不满意", "讲解"} <= _readings("O一般O不满意") | _readings("口讲解")
    assert "Overall" in _readings("Overall")
    assert "0.00" in _readings("0.00")


@pytest.mark.parametrize(("name", "language"), [("room_booking", "zh"), ("feedback_survey", "en")])
def test_ocr_reads_the_clean_labels(ocr: object, name: str, language: str) -> None:
    accuracy, missed = label_accuracy(ocr, _sketch(name, "clean", language))
    print(f"OCR exact-label accuracy, {name} {language} clean: {accuracy:.0%}; missed {missed}")  # noqa: T201 - the number is the point
    assert accuracy >= 0.8, missed
