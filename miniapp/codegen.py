"""A UI spec as a DingTalk mini-program and as a standalone HTML preview that behaves the same.

``generate`` gives the mini-program's files (``app.json``, ``app.js``, ``app.acss`` and
``pages/<page>/index.axml|acss|js|json``), ``preview_html`` the preview (one file, inline CSS and
JS, no external resources), and ``zip_bundle`` packs files into a zip; a caller that wants the
preview in the bundle adds it::

    zip_bundle({**generate(spec), "preview.html": preview_html(spec)})

Output is a pure function of its arguments: the same spec gives the same bytes.

Escaping rules. Text in a spec (read from an image, typed in chat, sent to the API) is data and
never becomes markup or code:

* AXML and HTML come from autoescaped templates, so labels, placeholders and options are
  character data; in both, ``{`` and ``}`` are written as character references as well, so no
  text can open an AXML ``{{ }}`` binding. Choices, list items and tab names reach the AXML only
  as page data, through ``a:for``.
* Into JavaScript (and the preview's JSON data block) text goes only as JSON from ``json.dumps``
  with ``<``, ``>``, ``&``, U+2028 and U+2029 escaped, so no value can end a string, a
  ``<script>`` element or a line.
* Identifiers in the code (field keys, handler names, the page's path) are validated ASCII
  names (``spec.field_names``, ``Page.name``), never labels. No spec text goes into a comment.
* A field's validation pattern comes from ``RULE_PATTERNS``, a fixed table keyed by the spec's
  ``rule`` (one of ``spec.RULES``), and reaches the code as JSON like any other value; no
  pattern is ever built from spec text.
* The preview's Content-Security-Policy lets only its own script run (by hash) and connect only
  to the endpoint's origin.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup, escape
from pydantic import ValidationError

from miniapp.spec import (
    MAX_LABEL_CHARS,
    SPEC_VERSION,
    TYPE_NAMES,
    Language,
    Rule,
    SpecError,
    Submit,
    UISpec,
    Widget,
    field_names,
    layout_rows,
    spec_language,
)

TEMPLATES = Path(__file__).parent / "templates"
PAGE_WIDTH_RPX = 750
"""A mini-program page is 750rpx wide whatever the phone; the preview's phone is 375px."""
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)

ButtonAction = Literal["submit", "reset"]
_RESET_WORDS = ("重置", "清空", "取消", "reset", "clear", "cancel")
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_BUNDLE_PATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")

MESSAGES: dict[Language, dict[str, str]] = {
    "zh": {
        "fill": "请填写「{label}」",
        "choose": "请选择「{label}」",
        "check": "请勾选「{label}」",
        "turnOn": "请打开「{label}」",
        "choosePlaceholder": "请选择",
        "datePlaceholder": "请选择日期",
        "image": "图片",
        "appName": "小程序",
        "dataTitle": "表单数据",
        "ok": "知道了",
        "sent": "提交成功",
        "failed": "提交失败，请稍后重试",
        "shown": "未配置提交地址，数据见下方",
    },
    "en": {
        "fill": "Please fill in “{label}”",
        "choose": "Please choose “{label}”",
        "check": "Please check “{label}”",
        "turnOn": "Please turn on “{label}”",
        "choosePlaceholder": "Please choose",
        "datePlaceholder": "Choose a date",
        "image": "Image",
        "appName": "Mini program",
        "dataTitle": "Form data",
        "ok": "OK",
        "sent": "Submitted",
        "failed": "Submit failed, please try again",
        "shown": "No endpoint is set; the data is shown below",
    },
}
_MISSING_VERB = {
    "input": "fill",
    "textarea": "fill",
    "select": "choose",
    "radio": "choose",
    "date": "choose",
    "checkbox": "check",
    "switch": "turnOn",
}
_RUNTIME_MESSAGES = ("dataTitle", "ok", "sent", "failed", "shown")

RULE_PATTERNS: dict[Rule, str] = {
    "email": r"^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$",
    "phone": r"^\+?\d(?:[ -]?\d){6,14}$",
    "number": r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)$",
    "integer": r"^[-+]?\d+$",
    "id_card": r"^(?:\d{17}[\dXx]|\d{15})$",
    "url": r"^(?:https?://)?[^\s/?#.]+(?:\.[^\s/?#.]+)+(?:[/?#]\S*)?$",
}
"""JavaScript regular-expression sources, tested against a typed value with its ends trimmed
(``miniapp.spec.Rule`` says what each accepts)."""
INVALID_MESSAGES: dict[Language, dict[Rule, str]] = {
    "zh": {
        "email": "「{label}」格式不正确，请输入有效的邮箱地址",
        "phone": "「{label}」格式不正确，请输入有效的手机号或电话号码",
        "number": "「{label}」格式不正确，请输入数字",
        "integer": "「{label}」格式不正确，请输入整数",
        "id_card": "「{label}」格式不正确，请输入18位身份证号",
        "url": "「{label}」格式不正确，请输入有效的网址",
    },
    "en": {
        "email": "“{label}” is not a valid email address",
        "phone": "“{label}” is not a valid phone number",
        "number": "“{label}” is not a number",
        "integer": "“{label}” is not a whole number",
        "id_card": "“{label}” is not a valid ID card number",
        "url": "“{label}” is not a valid web address",
    },
}
_AXML_INPUT_TYPES: dict[Rule, str] = {"number": "digit", "integer": "number", "id_card": "idcard"}
"""The keyboard a mini-program ``<input type>`` asks for: digits with a decimal point, digits
only, digits and X."""
_HTML_INPUT_TYPES: dict[Rule, str] = {"email": "email", "phone": "tel", "url": "url"}
_HTML_INPUT_MODES: dict[Rule, str] = {
    "email": "email",
    "phone": "tel",
    "url": "url",
    "number": "decimal",
    "integer": "numeric",
}


# --- escaping ----------------------------------------------------------------------------------


def js_json(value: Any, indent: int = 0) -> str:
    """``value`` as a JSON literal that is safe anywhere in JavaScript, even inside a
    ``<script>`` element: ``<``, ``>``, ``&``, U+2028 and U+2029 are written as ``\\uXXXX``.
    Lines after the first are indented by ``indent`` spaces."""
    text = json.dumps(value, ensure_ascii=False, indent=2)
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text.replace("\n", "\n" + " " * indent) if indent else text


def markup_text(value: Any) -> Markup:
    """Autoescaping for AXML and HTML, with braces as character references besides."""
    if isinstance(value, Markup):
        return value
    escaped = str(escape(value)).replace("{", "&#123;").replace("}", "&#125;")
    return Markup(escaped)


def _environment(markup: bool) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=markup,
        finalize=markup_text if markup else None,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # AXML's own bindings are {{ }}: the templates' variables are {$ $}.
        variable_start_string="{$",
        variable_end_string="$}",
    )
    environment.filters["js"] = js_json
    return environment


@cache
def _markup_environment() -> jinja2.Environment:
    return _environment(markup=True)


@cache
def _code_environment() -> jinja2.Environment:
    return _environment(markup=False)


# --- the spec, prepared for the templates ------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One widget as the templates see it."""

    widget: Widget
    field: str = ""
    """The form key, for form widgets."""
    key: str = ""
    """The page-data key of a list's items or a tab bar's tabs."""
    placeholder: str = ""
    action: ButtonAction = "submit"
    height_rpx: int = 0
    image_text: str = ""
    input_type: str = ""
    """The mini-program input's ``type`` (its keyboard), from the rule; "" for text."""
    html_type: str = "text"
    """The preview input's ``type``, from the rule."""
    input_mode: str = ""
    """The preview's ``inputmode`` where the ``type`` does not already pick the keyboard."""

    @property
    def height_px(self) -> int:
        return self.height_rpx * 375 // PAGE_WIDTH_RPX


@dataclass(frozen=True)
class _Model:
    spec: UISpec
    language: Language
    app_name: str
    title: str
    submit: Submit
    rows: list[list[Item]]
    tabbars: list[Item]
    items: list[Item]

    @property
    def form_items(self) -> list[Item]:
        return [item for item in self.items if item.field]

    def fields(self) -> list[dict[str, Any]]:
        messages = MESSAGES[self.language]
        fields: list[dict[str, Any]] = []
        for item in self.form_items:
            w = item.widget
            label = w.label or w.placeholder or f"{TYPE_NAMES[self.language][w.type]} {w.id}"
            message = messages[_MISSING_VERB[w.type]].format(label=label)
            invalid = INVALID_MESSAGES[self.language][w.rule].format(label=label) if w.rule else ""
            fields.append(
                {
                    "name": item.field,
                    "kind": w.type,
                    "required": w.required,
                    "message": message,
                    "pattern": RULE_PATTERNS[w.rule] if w.rule else "",
                    "invalid": invalid,
                }
            )
        return fields

    def initial_form(self) -> dict[str, str | bool]:
        return {
            item.field: False if item.widget.type in ("checkbox", "switch") else ""
            for item in self.form_items
        }

    def runtime_messages(self) -> dict[str, str]:
        return {key: MESSAGES[self.language][key] for key in _RUNTIME_MESSAGES}


def _button_action(label: str) -> ButtonAction:
    folded = label.casefold()
    return "reset" if any(word in folded for word in _RESET_WORDS) else "submit"


def _image_height_rpx(widget: Widget, spec: UISpec) -> int:
    height = widget.bbox[3]
    if not height:
        return 300
    return max(120, min(900, round(height * PAGE_WIDTH_RPX / spec.image.width)))


def _item(widget: Widget, spec: UISpec, names: Mapping[int, str], language: Language) -> Item:
    messages = MESSAGES[language]
    field = names.get(widget.id, "")
    if field and not _IDENTIFIER.match(field):  # field_names guarantees it; the code relies on it
        raise AssertionError(f"field name {field!r} is not an identifier")
    placeholder = widget.placeholder
    if not placeholder and widget.type == "select":
        placeholder = messages["choosePlaceholder"]
    if not placeholder and widget.type == "date":
        placeholder = messages["datePlaceholder"]
    is_input = widget.type == "input"
    return Item(
        widget=widget,
        field=field,
        key=f"{widget.type}_{widget.id}" if widget.type in ("list", "tabbar") else "",
        placeholder=placeholder,
        action=_button_action(widget.label) if widget.type == "button" else "submit",
        height_rpx=_image_height_rpx(widget, spec) if widget.type == "image" else 0,
        image_text=(widget.label or messages["image"]) if widget.type == "image" else "",
        input_type=_AXML_INPUT_TYPES.get(widget.rule, "") if is_input else "",
        html_type=_HTML_INPUT_TYPES.get(widget.rule, "text") if is_input else "text",
        # An input's type already picks the keyboard for email, phone and URL.
        input_mode=(
            ""
            if is_input and widget.rule in _HTML_INPUT_TYPES
            else _HTML_INPUT_MODES.get(widget.rule, "")
        ),
    )


def _model(spec: UISpec, app_name: str, endpoint: str | None) -> _Model:
    if endpoint is None:
        submit = spec.submit
    else:
        try:
            submit = Submit(endpoint=endpoint, method=spec.submit.method)
        except ValidationError as exc:
            raise SpecError(f"endpoint {endpoint!r}: {exc.errors()[0]['msg']}") from None
    language = spec_language(spec)
    name = " ".join(app_name.split())
    if len(name) > MAX_LABEL_CHARS:
        raise SpecError(f"app_name is {len(name)} characters; at most {MAX_LABEL_CHARS}")
    names = field_names(spec)
    items = [_item(w, spec, names, language) for w in spec.widgets]
    by_id = {item.widget.id: item for item in items}
    laid_out = [w for w in spec.widgets if w.type != "tabbar"]
    first_title = next((w.label for w in spec.widgets if w.type == "title" and w.label), "")
    title = spec.page.title or first_title or name
    return _Model(
        spec=spec,
        language=language,
        app_name=name or title or MESSAGES[language]["appName"],
        title=title or MESSAGES[language]["appName"],
        submit=submit,
        rows=[[by_id[w.id] for w in row] for row in layout_rows(laid_out)],
        tabbars=[item for item in items if item.widget.type == "tabbar"],
        items=items,
    )


# --- output ------------------------------------------------------------------------------------


def generate(spec: UISpec, *, app_name: str = "", endpoint: str | None = None) -> dict[str, str]:
    """The mini-program's files, path -> text.

    ``app_name`` titles the app (default: the page title, else its first title); ``endpoint``
    overrides ``spec.submit.endpoint`` (``""``: show the data instead of sending it).
    """
    model = _model(spec, app_name, endpoint)
    code = _code_environment()
    markup = _markup_environment()
    page = f"pages/{spec.page.name}/index"
    selects = [item.field for item in model.form_items if item.widget.type == "select"]
    choosers = [item for item in model.form_items if item.widget.type in ("select", "radio")]
    page_js = code.get_template("page.js.j2").render(
        version=SPEC_VERSION,
        endpoint=model.submit.endpoint,
        method=model.submit.method,
        fields=model.fields(),
        messages=model.runtime_messages(),
        initial_form=model.initial_form(),
        select_index=dict.fromkeys(selects, 0),
        choices={item.field: list(item.widget.options) for item in choosers},
        lists={i.key: list(i.widget.options) for i in model.items if i.widget.type == "list"},
        tabs={item.key: list(item.widget.options) for item in model.tabbars},
        active_tab={item.key: 0 for item in model.tabbars},
        form_items=model.form_items,
        tab_items=model.tabbars,
    )
    return {
        "app.json": code.get_template("app.json.j2").render(pages=[page], app_name=model.app_name),
        "app.js": code.get_template("app.js.j2").render(version=SPEC_VERSION),
        "app.acss": code.get_template("app.acss.j2").render(),
        f"{page}.axml": markup.get_template("page.axml.j2").render(
            rows=model.rows, tabbars=model.tabbars
        ),
        f"{page}.acss": code.get_template("page.acss.j2").render(),
        f"{page}.js": page_js,
        f"{page}.json": code.get_template("page.json.j2").render(title=model.title),
    }


def preview_html(spec: UISpec, *, app_name: str = "", endpoint: str | None = None) -> str:
    """The standalone preview: the page in a phone-sized frame, with the same fields, names,
    validation and submit (``fetch`` to the endpoint, else the JSON shown in a panel)."""
    model = _model(spec, app_name, endpoint)
    script = _code_environment().get_template("preview.js.j2").render()
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    data = {
        "endpoint": model.submit.endpoint,
        "method": model.submit.method,
        "fields": model.fields(),
        "initialForm": model.initial_form(),
        "messages": model.runtime_messages(),
    }
    return (
        _markup_environment()
        .get_template("preview.html.j2")
        .render(
            html_lang="zh-CN" if model.language == "zh" else "en",
            csp=_content_security_policy(digest, model.submit.endpoint),
            app_name=model.app_name,
            title=model.title,
            messages=model.runtime_messages(),
            rows=model.rows,
            tabbars=model.tabbars,
            data=Markup(js_json(data)),  # <, >, & escaped: inert in <script>
            script=Markup(script),  # our own template, no spec text
        )
    )


def _content_security_policy(script_sha256: str, endpoint: str) -> str:
    connect = "'none'"
    if endpoint:
        parts = urlsplit(endpoint)
        connect = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    return (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{script_sha256}'; connect-src {connect}; "
        "base-uri 'none'; form-action 'none'"
    )


def zip_bundle(files: Mapping[str, str]) -> bytes:
    """``files`` (path -> text) as a zip: UTF-8, sorted by path, fixed timestamps and
    permissions, so the same files give the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            if not _BUNDLE_PATH.match(path):
                raise SpecError(
                    f"bundle path {path!r} is not a relative path of letters, digits, '_', "
                    "'.' and '-' separated by '/'"
                )
            info = zipfile.ZipInfo(path, date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[path].encode("utf-8"), compresslevel=9)
    return buffer.getvalue()
