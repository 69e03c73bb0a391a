"""``officebot miniapp FILE --out DIR`` as a user runs it: a drawn sketch becomes spec.json
(widgets with type, label and a box in the input's pixels), the mini-program, preview.html, a
numbered wireframe and the zip of it all; edits given as in chat; a spec.json edited by hand
generates again; the shared model names the fields; bad input gets a one-line error."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from tests.support.cli import Cli, officebot_cli
from tests.support.sketches import draw_sketch

pytest.importorskip("rapidocr")


@pytest.fixture
def cli(tmp_path: Path, model_cache: Path) -> Cli:
    return officebot_cli("miniapp", tmp_path / "data", model_cache)


def _number(outline: str, label: str) -> int:
    match = re.search(rf"^(\d+)\. [^\n]*「{re.escape(label)}」", outline, re.M)
    assert match, outline
    return int(match[1])


def test_a_sketch_becomes_spec_code_preview_and_zip(cli: Cli, tmp_path: Path) -> None:
    sketch = draw_sketch("expense_claim", seed=23, style="photo")
    picture = tmp_path / "claim.jpg"
    picture.write_bytes(sketch.jpeg())
    out = tmp_path / "out"
    first = cli(str(picture), "--out", str(out), "--no-model")
    assert first.returncode == 0, first.stderr
    assert "「报销申请」" in first.stdout  # the outline
    assert "named the fields with the keyword table" in first.stderr  # progress
    spec = json.loads((out / "spec.json").read_text(encoding="utf-8"))
    width, height = sketch.image.size
    assert spec["image"] == {"width": width, "height": height}
    for widget in spec["widgets"]:
        x, y, w, h = widget["bbox"]
        assert 0 <= x < x + w <= width
        assert 0 <= y < y + h <= height
        assert widget["type"]
        assert "label" in widget
    amount = next(w for w in spec["widgets"] if w["label"] == "金额")
    assert amount["rule"] == "number"  # the keyword table, without the model
    for path in (
        "app.json",
        "app.js",
        "app.acss",
        "pages/index/index.axml",
        "pages/index/index.js",
    ):
        assert (out / "miniprogram" / path).is_file(), path
    assert "<!DOCTYPE html>" in (out / "preview.html").read_text(encoding="utf-8")
    with Image.open(out / "wireframe.png") as wireframe:
        assert wireframe.format == "PNG"
    with zipfile.ZipFile(out / "miniapp.zip") as bundle:
        assert "miniprogram/pages/index/index.js" in bundle.namelist()
        assert bundle.read("spec.json") == (out / "spec.json").read_bytes()
    if shutil.which("node"):
        checked = subprocess.run(
            ["node", "--check", str(out / "miniprogram" / "pages/index/index.js")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stderr

    submit = _number(first.stdout, "提交报销")
    again = cli(
        str(out / "spec.json"),
        "--out",
        str(tmp_path / "again"),
        "--no-model",
        "--edit",
        f"rename {submit} <script>alert(1)</script>",
        "--edit",
        "title 差旅报销",
        "--endpoint",
        "https://forms.example.com/claims",
    )
    assert again.returncode == 0, again.stderr
    axml = (tmp_path / "again/miniprogram/pages/index/index.axml").read_text(encoding="utf-8")
    assert "<script>" not in axml
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in axml
    page_js = (tmp_path / "again/miniprogram/pages/index/index.js").read_text(encoding="utf-8")
    assert 'const ENDPOINT = "https://forms.example.com/claims";' in page_js
    app = json.loads((tmp_path / "again/miniprogram/app.json").read_text(encoding="utf-8"))
    assert app["window"]["defaultTitle"] == "差旅报销"


def test_the_shared_model_names_the_fields(cli: Cli, tmp_path: Path) -> None:
    picture = tmp_path / "signup.png"
    picture.write_bytes(draw_sketch("sign_up", seed=24, style="clean").png())
    result = cli(str(picture), "--out", str(tmp_path / "out"), "--model")
    assert result.returncode == 0, result.stderr
    spec = json.loads((tmp_path / "out/spec.json").read_text(encoding="utf-8"))
    names = [w["name"] for w in spec["widgets"] if w["name"]]
    assert names, spec["widgets"]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", n) for n in names)
    phone = next(w for w in spec["widgets"] if w["label"] == "手机号")
    assert phone["rule"] == "phone"


def test_bad_input_gets_one_line_errors(cli: Cli, tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not a picture at all", encoding="utf-8")
    result = cli(str(text), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert "PNG, JPEG" in result.stderr
    assert "Traceback" not in result.stderr
    missing = cli(str(tmp_path / "nope.png"), "--out", str(tmp_path / "out"))
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
    spec = tmp_path / "spec.json"
    spec.write_text(
        '{"version": 1, "page": {}, "image": {"width": 1, "height": 1}, '
        '"widgets": [{"id": 1, "type": "slider", "bbox": [0, 0, 1, 1]}]}'
    )
    invalid = cli(str(spec), "--out", str(tmp_path / "out"))
    assert invalid.returncode == 2
    assert "widgets.0.type" in invalid.stderr
    good = tmp_path / "good.json"
    good.write_text(
        '{"version": 1, "page": {}, "image": {"width": 100, "height": 100}, '
        '"widgets": [{"id": 1, "type": "input", "label": "Name", "bbox": [0, 0, 9, 9]}]}'
    )
    bad_edit = cli(str(good), "--out", str(tmp_path / "out"), "--edit", "paint 1 red")
    assert bad_edit.returncode == 2
    assert "'paint' is not an edit" in bad_edit.stderr
    no_widget = cli(str(good), "--out", str(tmp_path / "out"), "--edit", "rename 7 Email")
    assert no_widget.returncode == 2
    assert "there is no widget 7" in no_widget.stderr
    assert not (tmp_path / "out").exists()
