"""Edits as people type them in chat (Chinese and English) and as the API sends them, applied all
or nothing; and the numbered preview picture, read back with OCR."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from miniapp.edits import (
    ChatEditError,
    Move,
    Rename,
    Retype,
    SetOptions,
    SetRequired,
    SetRule,
    SetTitle,
    apply_edits,
    parse_chat_edit,
    widget_type_of,
)
from miniapp.spec import ImageSize, Page, SpecEditError, UISpec, Widget, outline
from miniapp.wireframe import wireframe_png


def _spec() -> UISpec:
    rows = [
        ("title", "请假申请", ()),
        ("input", "请假类型", ()),
        ("input", "手机号", ()),
        ("date", "开始日期", ()),
        ("button", "提交", ()),
    ]
    widgets = tuple(
        Widget(id=i, type=t, label=label, options=options, bbox=(40, 40 + 90 * i, 600, 70), row=i)
        for i, (t, label, options) in enumerate(rows, start=1)
    )
    return UISpec(page=Page(), image=ImageSize(width=700, height=700), widgets=widgets)


@pytest.mark.parametrize(
    ("line", "edit"),
    [
        ("rename 5 提交申请", Rename(id=5, label="提交申请")),
        ("改名 5 提交 申请", Rename(id=5, label="提交 申请")),
        ("type 2 select", Retype(id=2, type="select")),
        ("类型 2 下拉框", Retype(id=2, type="下拉框")),
        ("必填 3", SetRequired(id=3, required=True)),
        ("optional 3", SetRequired(id=3, required=False)),
        ("选项 2 事假/病假、年假", SetOptions(id=2, options=("事假", "病假", "年假"))),
        ("options 2 Sick, Annual", SetOptions(id=2, options=("Sick", "Annual"))),
        ("校验 3 手机号", SetRule(id=3, rule="手机号")),
        ("rule 3", SetRule(id=3, rule="none")),
        ("移动 5 到 2", Move(id=5, before=2)),
        ("move 1 end", Move(id=1, before=None)),
        ("move #4 before 1", Move(id=4, before=1)),
        ("标题 请假申请", SetTitle(title="请假申请")),
    ],
)
def test_chat_lines_become_edits(line: str, edit: object) -> None:
    assert parse_chat_edit(line) == edit


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("paint 2 red", "'paint' is not an edit"),
        ("rename", "say which widget"),
        ("rename two Submit", "not a widget number"),
        ("rename 2", "say the new text"),
        ("type 2", "say the type"),
    ],
)
def test_chat_lines_that_are_not_edits_say_what_is_expected(line: str, says: str) -> None:
    with pytest.raises(ChatEditError, match=says):
        parse_chat_edit(line)


def test_edits_apply_in_order_and_all_or_nothing() -> None:
    spec = _spec()
    lines = [
        "类型 2 下拉框",
        "选项 2 事假/病假",
        "必填 2",
        "校验 3 手机号",
        "改名 5 提交申请",
        "移动 4 到 2",
    ]
    changed = apply_edits(spec, [parse_chat_edit(line) for line in lines])
    assert outline(changed) == "\n".join(
        [
            "1. 标题「请假申请」",
            "2. 日期「开始日期」",
            "3. 下拉框「请假类型」：事假/病假（必填）",
            "4. 输入框「手机号」（电话号码）",
            "5. 按钮「提交申请」",
        ]
    )
    with pytest.raises(SpecEditError, match=r"edit 2 \(retype\): widget 5 is a button|edit 2"):
        apply_edits(spec, [Rename(id=1, label="x"), Retype(id=99, type="input")])
    assert spec == _spec()  # values: the original is untouched
    with pytest.raises(SpecEditError, match="unknown widget type 'slider'"):
        apply_edits(spec, [Retype(id=2, type="slider")])
    with pytest.raises(SpecEditError, match="unknown rule 'zip'"):
        apply_edits(spec, [SetRule(id=3, rule="zip")])
    with pytest.raises(SpecEditError, match="http:// or https://"):
        apply_edits(spec, [parse_chat_edit("endpoint ftp://files.example.com")])
    assert widget_type_of("Dropdown") == widget_type_of("下拉框") == "select"


def test_the_preview_picture_numbers_what_was_read() -> None:
    pytest.importorskip("rapidocr")
    from miniapp.understand import default_ocr

    spec = _spec()
    sketch = np.full((700, 700, 3), 250, np.uint8)
    png = wireframe_png(spec, sketch)
    with Image.open(io.BytesIO(png)) as picture:
        both = picture.convert("RGB")
    alone = Image.open(io.BytesIO(wireframe_png(spec)))
    assert both.width > alone.width + 300  # the sketch panel beside the layout
    texts = [line.text for line in default_ocr().read(np.asarray(both))]
    joined = " ".join(texts)
    for label in ("请假申请", "请假类型", "手机号", "开始日期", "提交"):
        assert label in joined, texts
