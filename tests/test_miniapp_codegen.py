"""The UI spec, its edits, and the mini-program generated from it: the files DingTalk expects,
JavaScript that node accepts and that behaves (run against a fake ``dd``), text from the spec
escaped everywhere, the same bytes for the same spec."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import zipfile
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from miniapp.codegen import generate, js_json, preview_html, zip_bundle
from miniapp.spec import (
    MAX_WIDGETS,
    WIDGET_TYPES,
    ImageSize,
    Page,
    SpecEditError,
    SpecError,
    Submit,
    UISpec,
    Widget,
    field_names,
    layout_rows,
    move,
    outline,
    remove,
    rename,
    retype,
    set_options,
    set_required,
    spec_language,
)

SCRIPT_LABEL = "<script>alert(1)</script>"
BREAKOUT_LABEL = '"}); alert(1); //'
BINDING_LABEL = "{{ constructor }}"


def widget(widget_id: int, widget_type: str, row: int, column: int = 0, **fields: Any) -> Widget:
    return Widget.model_validate(
        {
            "id": widget_id,
            "type": widget_type,
            "row": row,
            "column": column,
            "bbox": (40 + column * 340, 80 + row * 110, 300, 90),
            **fields,
        }
    )


def leave_request(language: str = "zh", *, endpoint: str = "", method: str = "POST") -> UISpec:
    """A leave-request form with one widget of every type, as drawn on a 750x1334 sketch."""
    zh = language == "zh"
    texts = (
        {
            "title": "请假申请",
            "name": "姓名",
            "name_hint": "请输入姓名",
            "type": "请假类型",
            "types": ("事假", "病假", "年假"),
            "start": "开始日期",
            "end": "结束日期",
            "reason": "事由",
            "agree": "我已阅读请假制度",
            "trip": "是否出差",
            "trip_options": ("是", "否"),
            "notify": "通知主管",
            "approvers": "审批人",
            "approver_names": ("张经理", "王总监"),
            "image": "附件",
            "reset": "重置",
            "submit": "提交申请",
            "tabs": ("首页", "我的"),
            "intro": "请如实填写",
        }
        if zh
        else {
            "title": "Leave request",
            "name": "Name",
            "name_hint": "Your name",
            "type": "Leave type",
            "types": ("Personal", "Sick", "Annual"),
            "start": "Start date",
            "end": "End date",
            "reason": "Reason",
            "agree": "I have read the policy",
            "trip": "Business trip",
            "trip_options": ("Yes", "No"),
            "notify": "Notify my manager",
            "approvers": "Approvers",
            "approver_names": ("Ms. Zhang", "Mr. Wang"),
            "image": "Attachment",
            "reset": "Reset",
            "submit": "Submit",
            "tabs": ("Home", "Mine"),
            "intro": "Please fill in truthfully",
        }
    )
    t: dict[str, Any] = texts
    return UISpec(
        page=Page(name="leave", title=t["title"]),
        image=ImageSize(width=750, height=1334),
        widgets=(
            widget(1, "title", 0, label=t["title"]),
            widget(2, "text", 1, label=t["intro"]),
            widget(3, "input", 2, label=t["name"], placeholder=t["name_hint"], required=True),
            widget(4, "select", 3, label=t["type"], options=t["types"], required=True),
            widget(5, "date", 4, 0, label=t["start"], required=True),
            widget(6, "date", 4, 1, label=t["end"]),
            widget(7, "textarea", 5, label=t["reason"]),
            widget(8, "checkbox", 6, label=t["agree"], required=True),
            widget(9, "radio", 7, label=t["trip"], options=t["trip_options"]),
            widget(10, "switch", 8, label=t["notify"]),
            widget(11, "list", 9, label=t["approvers"], options=t["approver_names"]),
            widget(12, "image", 10, label=t["image"], bbox=(40, 1180, 670, 200)),
            widget(13, "button", 11, 0, label=t["reset"]),
            widget(14, "button", 11, 1, label=t["submit"]),
            widget(15, "tabbar", 12, options=t["tabs"]),
        ),
        submit=Submit.model_validate({"endpoint": endpoint, "method": method}),
    )


def hostile_spec(endpoint: str = "") -> UISpec:
    """Labels, placeholders and options that try to become markup, script or a binding."""
    return UISpec(
        page=Page(title=SCRIPT_LABEL),
        image=ImageSize(width=750, height=1334),
        widgets=(
            widget(1, "title", 0, label=SCRIPT_LABEL),
            widget(2, "input", 1, label=SCRIPT_LABEL, placeholder=BREAKOUT_LABEL, required=True),
            widget(3, "input", 2, label=BREAKOUT_LABEL),
            widget(4, "select", 3, label=BINDING_LABEL, options=(SCRIPT_LABEL, BREAKOUT_LABEL)),
            widget(5, "checkbox", 4, label="<img src=x onerror=alert(1)>"),
            widget(6, "list", 5, label=BREAKOUT_LABEL, options=(SCRIPT_LABEL,)),
            widget(7, "tabbar", 7, options=(SCRIPT_LABEL, BINDING_LABEL)),
            widget(8, "button", 6, label=SCRIPT_LABEL),
        ),
        submit=Submit(endpoint=endpoint),
    )


def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.fail(
            "node is not installed: the generated JavaScript is checked with `node --check`"
        )
    return path


def write_files(files: dict[str, str], root: Path) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


PAGE_FILES = ("index.axml", "index.acss", "index.js", "index.json")


# --- the generated files -----------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_files_are_a_mini_program_with_the_page(language: str) -> None:
    files = generate(leave_request(language))

    assert sorted(files) == sorted(
        ["app.json", "app.js", "app.acss", *(f"pages/leave/{name}" for name in PAGE_FILES)]
    )
    app = json.loads(files["app.json"])
    assert app["pages"] == ["pages/leave/index"]
    assert app["window"]["defaultTitle"] == ("请假申请" if language == "zh" else "Leave request")
    assert (
        json.loads(files["pages/leave/index.json"])["defaultTitle"] == app["window"]["defaultTitle"]
    )


def test_app_name_titles_the_app() -> None:
    files = generate(leave_request(), app_name="  人事  小程序 ")

    assert json.loads(files["app.json"])["window"]["defaultTitle"] == "人事 小程序"
    assert json.loads(files["pages/leave/index.json"])["defaultTitle"] == "请假申请"


@pytest.mark.slow
@pytest.mark.parametrize(
    "spec",
    [
        leave_request("zh"),
        leave_request("en", endpoint="https://hr.example.com/leave"),
        hostile_spec(),
    ],
    ids=["zh", "en", "hostile"],
)
def test_every_generated_script_passes_node_check(spec: UISpec, tmp_path: Path) -> None:
    files = generate(spec)
    write_files(files, tmp_path)
    scripts = sorted(name for name in files if name.endswith(".js"))
    assert scripts == ["app.js", f"pages/{spec.page.name}/index.js"]
    for name in scripts:
        result = subprocess.run(
            [node(), "--check", str(tmp_path / name)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"{name}: {result.stderr}"


def test_every_form_widget_is_bound_to_its_field() -> None:
    spec = leave_request("en")
    files = generate(spec)
    axml = files["pages/leave/index.axml"]
    script = files["pages/leave/index.js"]
    names = field_names(spec)

    assert names == {
        3: "name",
        4: "leave_type",
        5: "start_date",
        6: "end_date",
        7: "reason",
        8: "i_have_read_the_policy",
        9: "business_trip",
        10: "notify_my_manager",
    }
    for name in names.values():
        assert f"{{{{form.{name}" in axml
    assert 'value="{{form.name}}"' in axml
    assert 'onInput="onInput_name"' in axml
    assert "onInput_name(e) {" in script
    assert 'onChange="onPick_leave_type"' in axml
    assert 'range="{{choices.leave_type}}"' in axml
    assert 'onTap="onPickDate_start_date"' in axml
    assert "dd.datePicker(options)" in script
    assert '<radio-group class="choices" onChange="onChange_business_trip">' in axml
    assert '<checkbox-group onChange="onChange_i_have_read_the_policy">' in axml
    assert '<switch checked="{{form.notify_my_manager}}"' in axml
    assert 'a:for="{{lists.list_11}}"' in axml
    assert 'a:for="{{tabs.tabbar_15}}"' in axml
    assert 'onTap="onSubmit"' in axml
    assert 'onTap="onReset"' in axml
    assert 'style="height: 200rpx;"' in axml  # 200px of a 750px-wide sketch


def test_layout_rows_become_flex_rows() -> None:
    axml = generate(leave_request())["pages/leave/index.axml"]

    assert axml.count('<view class="row">') == 2  # the two dates; the two buttons
    acss = generate(leave_request())["pages/leave/index.acss"]
    assert ".row {\n  display: flex;" in acss


def test_a_spec_without_layout_stacks_its_widgets() -> None:
    spec = UISpec(
        page=Page(),
        image=ImageSize(width=100, height=100),
        widgets=tuple(widget(i, "input", 0, label=f"Field {i}") for i in (1, 2, 3)),
    )

    assert [[w.id for w in row] for row in layout_rows(spec.widgets)] == [[1], [2], [3]]
    assert '<view class="row">' not in generate(spec)["pages/index/index.axml"]


# --- the page logic, run by node against a fake dd ---------------------------------------------

HARNESS = r"""
const fs = require("fs");
const vm = require("vm");
const [file, scenarioJson] = process.argv.slice(2);
const scenario = JSON.parse(scenarioJson);
const calls = [];
let definition = null;
const dd = {
  showToast: (o) => calls.push(["showToast", o]),
  alert: (o) => calls.push(["alert", o]),
  datePicker: (o) => {
    calls.push(["datePicker", { format: o.format }]);
    o.success({ date: scenario.date });
  },
  httpRequest: (o) => {
    const { url, method, headers, data, dataType } = o;
    calls.push(["httpRequest", { url, method, headers, data, dataType }]);
    o.success({ status: scenario.status, data: {} });
    o.complete();
  },
};
const sandbox = { Page: (d) => { definition = d; }, dd };
vm.runInNewContext(fs.readFileSync(file, "utf8"), sandbox, { filename: file });
const page = Object.assign({}, definition, {
  data: JSON.parse(JSON.stringify(definition.data)),
  setData(patch) { Object.assign(this.data, JSON.parse(JSON.stringify(patch))); },
});
for (const [method, event] of scenario.steps) { page[method](event); }
process.stdout.write(JSON.stringify({ calls, data: page.data }));
"""


def run_page(
    tmp_path: Path, spec: UISpec, steps: list[tuple[str, Any]], **options: Any
) -> dict[str, Any]:
    files = generate(spec, **options)
    write_files(files, tmp_path)
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS, encoding="utf-8")
    scenario = {"steps": steps, "date": "2025-03-03", "status": 200}
    result = subprocess.run(
        [
            node(),
            str(harness),
            str(tmp_path / f"pages/{spec.page.name}/index.js"),
            json.dumps(scenario),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outcome: dict[str, Any] = json.loads(result.stdout)
    return outcome


FILL_ZH: list[tuple[str, Any]] = [
    ("onInput_input_3", {"detail": {"value": "李雷"}}),
    ("onPick_select_4", {"detail": {"value": 1}}),
    ("onPickDate_date_5", {}),
    ("onInput_textarea_7", {"detail": {"value": "看病"}}),
    ("onChange_checkbox_8", {"detail": {"value": ["checked"]}}),
    ("onChange_radio_9", {"detail": {"value": "否"}}),
    ("onChange_switch_10", {"detail": {"value": True}}),
    ("onTab_tabbar_15", {"target": {"dataset": {"index": "1"}}}),
]


@pytest.mark.slow
def test_the_page_refuses_to_submit_without_its_required_fields(tmp_path: Path) -> None:
    outcome = run_page(
        tmp_path,
        leave_request(),
        [("onInput_input_3", {"detail": {"value": "李雷"}}), ("onSubmit", {})],
        endpoint="https://hr.example.com/leave",
    )

    assert outcome["calls"] == [
        ["showToast", {"type": "fail", "content": "请选择「请假类型」", "duration": 2000}]
    ]


@pytest.mark.slow
def test_the_page_sends_the_form_as_json_and_says_so(tmp_path: Path) -> None:
    outcome = run_page(
        tmp_path,
        leave_request(),
        [*FILL_ZH, ("onSubmit", {})],
        endpoint="https://hr.example.com/leave",
    )

    (picker, request, toast) = outcome["calls"]
    assert picker == ["datePicker", {"format": "yyyy-MM-dd"}]
    assert request[1]["url"] == "https://hr.example.com/leave"
    assert request[1]["method"] == "POST"
    assert request[1]["headers"] == {"Content-Type": "application/json"}
    assert json.loads(request[1]["data"]) == {
        "input_3": "李雷",
        "select_4": "病假",
        "date_5": "2025-03-03",
        "date_6": "",
        "textarea_7": "看病",
        "checkbox_8": True,
        "radio_9": "否",
        "switch_10": True,
    }
    assert toast == ["showToast", {"type": "success", "content": "提交成功", "duration": 2000}]
    assert outcome["data"]["activeTab"] == {"tabbar_15": 1}
    assert outcome["data"]["submitting"] is False


@pytest.mark.slow
def test_without_an_endpoint_the_page_shows_the_data(tmp_path: Path) -> None:
    outcome = run_page(tmp_path, leave_request(), [*FILL_ZH, ("onSubmit", {}), ("onReset", {})])

    (_, alert) = outcome["calls"]
    assert alert[0] == "alert"
    assert alert[1]["title"] == "表单数据"
    assert json.loads(alert[1]["content"])["input_3"] == "李雷"
    assert outcome["data"]["form"]["input_3"] == ""  # reset empties the form


# --- escaping ----------------------------------------------------------------------------------


GENERATED_BINDING = r"[A-Za-z_][\w.]*( === (item|index)( \? 'tab-active' : '')?)?"


def html_escaped(text: str) -> str:
    """How the templates write text: markupsafe's escaping, braces as character references."""
    table = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"}
    table |= {"{": "&#123;", "}": "&#125;"}
    return "".join(table.get(ch, ch) for ch in text)


def test_spec_text_is_escaped_in_the_axml() -> None:
    axml = generate(hostile_spec())["pages/index/index.axml"]

    assert "<script" not in axml
    assert "<img" not in axml
    assert BREAKOUT_LABEL not in axml
    assert f'<view class="w-title">{html_escaped(SCRIPT_LABEL)}</view>' in axml
    assert f'placeholder="{html_escaped(BREAKOUT_LABEL)}"' in axml
    assert BINDING_LABEL not in axml
    assert html_escaped(BINDING_LABEL) in axml
    # The only {{ }} bindings are the generated ones: data paths, compared with item or index.
    for binding in re.findall(r"\{\{(.*?)\}\}", axml):
        assert re.fullmatch(GENERATED_BINDING, binding), binding
    # Options never appear in the markup at all: they are page data behind a:for.
    assert axml.count(html_escaped(SCRIPT_LABEL)) == 3  # title, label, button


def test_spec_text_is_json_in_the_javascript() -> None:
    script = generate(hostile_spec())["pages/index/index.js"]

    assert "<script" not in script
    assert "</" not in script
    assert not re.search(r'(?<!\\)"\}\); alert', script), "a label ended a string"
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in script
    assert json.dumps(BREAKOUT_LABEL, ensure_ascii=False)[:-1] in script  # "\"}); alert(1); //


@pytest.mark.slow
def test_hostile_labels_stay_data_when_the_page_runs(tmp_path: Path) -> None:
    outcome = run_page(tmp_path, hostile_spec(), [("onSubmit", {})])

    message = f"Please fill in \u201c{SCRIPT_LABEL}\u201d"
    assert outcome["calls"] == [
        ["showToast", {"type": "fail", "content": message, "duration": 2000}]
    ]
    names = field_names(hostile_spec())
    assert outcome["data"]["choices"][names[4]] == [SCRIPT_LABEL, BREAKOUT_LABEL]


def content_security_policy(html: str) -> dict[str, str]:
    found = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', html)
    assert found, "the preview has no Content-Security-Policy"
    directives = (d.strip().partition(" ") for d in unescape(found.group(1)).split(";"))
    return {name: value for name, _, value in directives}


def test_spec_text_is_escaped_in_the_preview() -> None:
    html = preview_html(hostile_spec())
    markup, _, scripts = html.partition('<script type="application/json" id="miniapp-data">')
    data, _, script = scripts.partition("</script>")

    assert html.count("<script") == 2  # the JSON data block, the preview's own script
    assert SCRIPT_LABEL not in markup
    assert BREAKOUT_LABEL not in markup
    assert "<img" not in markup
    assert f'<h1 class="w-title">{html_escaped(SCRIPT_LABEL)}</h1>' in markup
    assert f"<title>{html_escaped(SCRIPT_LABEL)}</title>" in markup
    assert f'<option value="{html_escaped(BREAKOUT_LABEL)}">' in markup
    assert "<" not in data
    assert not re.search(r'(?<!\\)"\}\); alert', data), "a label ended a JSON string"
    assert SCRIPT_LABEL in json.loads(data)["fields"][0]["message"]
    assert "alert" not in script  # the preview's script is the same for every spec
    assert content_security_policy(html)["script-src"].startswith("'sha256-")


def test_js_json_cannot_end_a_script_or_a_line() -> None:
    text = js_json({"a": "</script><!--\u2028\u2029&"})

    assert text == '{\n  "a": "\\u003c/script\\u003e\\u003c!--\\u2028\\u2029\\u0026"\n}'
    assert json.loads(text) == {"a": "</script><!--\u2028\u2029&"}


@pytest.mark.parametrize(
    "endpoint",
    ["javascript:alert(1)", "https://x.example/a b", 'https://x.example/"><script>', "ftp://x"],
)
def test_an_endpoint_must_be_an_http_url(endpoint: str) -> None:
    with pytest.raises(SpecError, match="endpoint"):
        generate(leave_request(), endpoint=endpoint)
    with pytest.raises(ValidationError, match="endpoint"):
        Submit(endpoint=endpoint)


def test_the_preview_may_connect_only_to_the_endpoint() -> None:
    html = preview_html(leave_request(), endpoint="http://127.0.0.1:8080/forms/leave")

    assert content_security_policy(html)["connect-src"] == "http://127.0.0.1:8080"
    assert content_security_policy(preview_html(leave_request()))["connect-src"] == "'none'"


# --- determinism and the bundle ----------------------------------------------------------------


def test_one_spec_gives_the_same_bytes() -> None:
    first = {**generate(leave_request()), "preview.html": preview_html(leave_request())}
    again = {**generate(leave_request()), "preview.html": preview_html(leave_request())}

    assert first == again
    assert zip_bundle(first) == zip_bundle(again)
    assert zip_bundle(first) == zip_bundle(dict(reversed(list(again.items()))))


def test_the_bundle_is_a_sorted_zip_with_fixed_timestamps() -> None:
    files = {**generate(leave_request()), "preview.html": preview_html(leave_request())}

    with zipfile.ZipFile(io.BytesIO(zip_bundle(files))) as archive:
        assert archive.namelist() == sorted(files)
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert archive.read("pages/leave/index.axml").decode() == files["pages/leave/index.axml"]


@pytest.mark.parametrize("path", ["../app.js", "/etc/passwd", "pages/../x", "a\\b", ""])
def test_the_bundle_refuses_paths_outside_it(path: str) -> None:
    with pytest.raises(SpecError, match="bundle path"):
        zip_bundle({path: "x"})


# --- the spec ----------------------------------------------------------------------------------


def test_a_spec_survives_a_json_round_trip() -> None:
    spec = leave_request(endpoint="https://hr.example.com/leave", method="PUT")

    assert UISpec.model_validate_json(spec.model_dump_json()) == spec
    assert spec.version == 1


def test_text_is_cleaned_on_the_way_in() -> None:
    w = widget(1, "title", 0, label="  请假\n申请\u202e\x00 ", options=(" a\tb ",))

    assert w.label == "请假 申请"
    assert w.options == ("a b",)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"label": "x" * 61}, "at most 60 characters"),
        ({"options": tuple(str(i) for i in range(21))}, "at most 20 items"),
        ({"options": ("y" * 41,)}, "at most 40 characters"),
        ({"options": ("  ",)}, "at least 1 character"),
        ({"name": "1st"}, "should match pattern"),
        ({"name": "__proto__"}, "should match pattern"),
        ({"confidence": 1.5}, "less than or equal to 1"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
        ({"type": "slider"}, "Input should be 'title'"),
    ],
)
def test_a_widget_is_bounded(fields: dict[str, Any], problem: str) -> None:
    fields = dict(fields)
    with pytest.raises(ValidationError, match=problem):
        widget(1, fields.pop("type", "input"), 0, **fields)


def test_a_spec_is_bounded() -> None:
    many = tuple(widget(i, "text", i) for i in range(1, MAX_WIDGETS + 2))
    with pytest.raises(ValidationError, match="at most 80 items"):
        UISpec(page=Page(), image=ImageSize(width=1, height=1), widgets=many)
    twice = (widget(1, "text", 0), widget(1, "text", 1))
    with pytest.raises(ValidationError, match="appears twice"):
        UISpec(page=Page(), image=ImageSize(width=1, height=1), widgets=twice)
    with pytest.raises(ValidationError, match="should match pattern"):
        Page(name="Leave-Form")
    with pytest.raises(ValidationError, match="Input should be 1"):
        UISpec.model_validate({**leave_request().model_dump(), "version": 2})


def test_the_app_speaks_the_language_of_the_sketch() -> None:
    assert spec_language(leave_request("zh")) == "zh"
    assert spec_language(leave_request("en")) == "en"
    assert "Please choose" in generate(leave_request("en"))["pages/leave/index.js"]


# --- field names -------------------------------------------------------------------------------


def test_field_names_are_unique_identifiers() -> None:
    spec = UISpec(
        page=Page(),
        image=ImageSize(width=100, height=100),
        widgets=(
            widget(1, "input", 0, label="Email"),
            widget(2, "input", 1, label="E-mail!"),
            widget(3, "input", 2, label="电子邮件"),
            widget(4, "input", 3, label="x", name="email"),
            widget(5, "input", 4, label="Class"),
            widget(6, "date", 5, label="2nd date"),
            widget(7, "button", 6, label="Send"),
            widget(8, "input", 7, label="input_3"),
            widget(9, "switch", 8, label="Constructor"),
        ),
    )

    names = field_names(spec)
    assert names == {
        1: "email_2",  # the given name "email" (widget 4) wins
        2: "e_mail",
        3: "input_3",
        4: "email",
        5: "class_2",  # a reserved word in JavaScript
        6: "date_6",
        8: "input_3_2",
        9: "constructor_2",
    }
    assert len(set(names.values())) == len(names)


# --- edits -------------------------------------------------------------------------------------


def test_rename_retype_require_and_options_return_a_new_spec() -> None:
    spec = leave_request()

    renamed = rename(spec, 14, "提交")
    assert renamed.widgets[13].label == "提交"
    assert spec.widgets[13].label == "提交申请"
    assert retype(spec, 2, "input").widgets[1].type == "input"
    assert set_required(spec, 7, True).widgets[6].required is True
    assert set_required(spec, 3, False).widgets[2].required is False
    assert set_options(spec, 4, ["调休", "婚假"]).widgets[3].options == ("调休", "婚假")


def test_edits_say_what_is_accepted() -> None:
    spec = leave_request()

    with pytest.raises(SpecEditError, match=r"no widget 99; the widget ids are: 1, 2, 3, .*, 15"):
        rename(spec, 99, "x")
    with pytest.raises(SpecEditError, match="the types are: " + ", ".join(WIDGET_TYPES)):
        retype(spec, 2, "slider")
    with pytest.raises(SpecEditError, match="only these can be required: input, textarea"):
        set_required(spec, 1, True)
    with pytest.raises(SpecEditError, match="options apply to: select, radio, list, tabbar"):
        set_options(spec, 3, ["a"])
    with pytest.raises(SpecEditError, match="at most 60 characters"):
        rename(spec, 1, "长" * 61)
    with pytest.raises(SpecEditError, match="at most 20 items"):
        set_options(spec, 4, [str(i) for i in range(21)])
    with pytest.raises(SpecEditError, match="not one string"):
        set_options(spec, 4, "事假")
    with pytest.raises(SpecEditError, match="no widget 0"):
        move(spec, 1, 0)


def test_remove_renumbers_and_keeps_the_other_field_names() -> None:
    spec = leave_request()
    before = field_names(spec)

    smaller = remove(spec, 2)
    assert [w.id for w in smaller.widgets] == list(range(1, 15))
    assert smaller.widgets[1].label == "姓名"
    after = field_names(smaller)
    assert sorted(after.values()) == sorted(before.values())
    assert after[2] == "input_3"  # widget 3 is widget 2 now, and its field keeps its key


def test_move_places_a_widget_before_another() -> None:
    spec = leave_request()

    moved = move(spec, 14, 3)  # the submit button above the name
    assert [w.label for w in moved.widgets[:4]] == ["请假申请", "请如实填写", "提交申请", "姓名"]
    assert [[w.id for w in row] for row in layout_rows(moved.widgets)][2:4] == [[3], [4]]

    joined = move(spec, 7, 6)  # the reason joins the dates' row, between them
    rows = [[w.label for w in row] for row in layout_rows(joined.widgets)]
    assert ["开始日期", "事由", "结束日期"] in rows

    last = move(spec, 1, None)
    assert last.widgets[-1].label == "请假申请"
    assert last.widgets[0].label == "请如实填写"
    assert move(spec, 3, 3) == spec


# --- outline -----------------------------------------------------------------------------------


def test_outline_in_chinese() -> None:
    text = outline(leave_request(), "zh")

    assert text.splitlines()[:4] == [
        "1. 标题「请假申请」",
        "2. 文本「请如实填写」",
        "3. 输入框「姓名」（必填）",
        "4. 下拉框「请假类型」：事假/病假/年假（必填）",
    ]
    assert "15. 标签栏：首页/我的" in text


def test_outline_in_english() -> None:
    spec = leave_request("en")
    unsure = spec.model_copy(
        update={"widgets": (spec.widgets[0].model_copy(update={"confidence": 0.3}),)}
    )

    assert outline(spec, "en").splitlines()[3] == (
        '4. Dropdown "Leave type": Personal/Sick/Annual (required)'
    )
    assert outline(unsure, "en") == '1. Title "Leave request" (unsure)'
    assert outline(unsure, "zh") == "1. 标题「Leave request」（待确认）"
    with pytest.raises(SpecError, match="the languages are: zh, en"):
        outline(spec, "fr")  # type: ignore[arg-type]
