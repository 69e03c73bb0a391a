"""The UI spec: what a sketch shows, as typed, versioned data.

The image stage produces a ``UISpec``; chat commands and the API edit it (``rename``, ``retype``,
``set_required``, ``set_options``, ``set_rule``, ``remove``, ``move``); ``miniapp.codegen`` turns
it into a mini-program. Every model is frozen and rejects unknown keys, and every string and list
has an upper bound, so a spec that arrives from outside (the API, a stored job) is bounded before
any code looks at it. Text fields are cleaned on the way in: runs of whitespace (newlines included)
become one space, control and bidirectional-override characters are dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

SPEC_VERSION: Final = 1

MAX_WIDGETS = 80
MAX_LABEL_CHARS = 60
MAX_OPTIONS = 20
MAX_OPTION_CHARS = 40
MAX_NAME_CHARS = 32
MAX_ENDPOINT_CHARS = 2048
MAX_PIXELS = 100_000

WidgetType = Literal[
    "title",
    "text",
    "input",
    "textarea",
    "select",
    "checkbox",
    "radio",
    "switch",
    "date",
    "button",
    "list",
    "image",
    "tabbar",
]
WIDGET_TYPES: tuple[WidgetType, ...] = get_args(WidgetType)
FORM_TYPES: frozenset[WidgetType] = frozenset(
    {"input", "textarea", "select", "checkbox", "radio", "switch", "date"}
)
"""Widgets that hold a value in the form, each under its field name (``field_names``)."""
OPTION_TYPES: frozenset[WidgetType] = frozenset({"select", "radio", "list", "tabbar"})
"""Widgets whose ``options`` mean something: choices, list items, tab names."""

Rule = Literal["", "email", "phone", "number", "integer", "id_card", "url"]
"""What a text field's value must look like; "" for no check. ``miniapp.codegen`` keeps the
pattern of each (JavaScript regular expressions, fixed in code):

* ``email``: something@domain.tld, no spaces.
* ``phone``: 7 to 15 digits, optionally led by ``+`` and grouped by single spaces or dashes:
  a mainland mobile (``13812345678``, ``138 1234 5678``), a landline with its area code
  (``010-12345678``) or an international number (``+44 20 7946 0958``).
* ``number``: a decimal number (``12``, ``-3.5``, ``.5``), as for amounts and prices.
* ``integer``: a whole number, as for counts and ages.
* ``id_card``: a mainland resident ID: 18 characters, digits with a final digit or X (or the
  old 15 digits); the checksum is not verified.
* ``url``: a web address, ``https://`` optional (``www.example.com/a``).
"""
RULES: tuple[Rule, ...] = get_args(Rule)
"""Every rule, "" (no check) first."""
RULE_TYPES: frozenset[WidgetType] = frozenset({"input", "textarea"})
"""Widgets that may carry a ``rule``: the ones a value is typed into."""

Language = Literal["zh", "en"]

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,31}$"
_ENDPOINT = re.compile(r"^https?://[^\s\"'<>\\`{}|^]+$")


def _rule_types_text() -> str:
    return ", ".join(t for t in WIDGET_TYPES if t in RULE_TYPES)


def _clean_text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in value
        if ch.isspace() or (unicodedata.category(ch) != "Cc" and ch not in _BIDI_CONTROLS)
    )
    return " ".join(kept.split())


# The constraints come first so that they apply to the cleaned text.
Label = Annotated[str, StringConstraints(max_length=MAX_LABEL_CHARS), BeforeValidator(_clean_text)]
Option = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_OPTION_CHARS),
    BeforeValidator(_clean_text),
]
Pixels = Annotated[int, Field(ge=0, le=MAX_PIXELS)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Widget(_Frozen):
    """One thing on the screen, in reading order."""

    id: int = Field(ge=1, le=10_000)
    """1-based, reading order: what users type in ``/miniapp rename 2 提交申请``."""
    type: WidgetType
    label: Label = ""
    """Visible text: a title's text, a button's caption, a field's label, a checkbox's text."""
    placeholder: Label = ""
    """For input, textarea, select and date."""
    options: tuple[Option, ...] = Field(default=(), max_length=MAX_OPTIONS)
    """Select and radio choices, list items, tab names."""
    required: bool = False
    rule: Rule = ""
    """The format a typed value must have (input and textarea only); "" for none."""
    name: str = Field(default="", pattern=r"^$|" + _NAME_PATTERN)
    """The form field key (an ASCII identifier); empty: ``field_names`` derives one."""
    bbox: tuple[Pixels, Pixels, Pixels, Pixels]
    """x, y, width, height in pixels of the input image."""
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    row: int = Field(default=0, ge=0, le=10_000)
    """Layout row: widgets on one row share it."""
    column: int = Field(default=0, ge=0, le=10_000)
    """Column within the row."""

    @model_validator(mode="after")
    def _rule_fits_the_type(self) -> Widget:
        if self.rule and self.type not in RULE_TYPES:
            raise ValueError(
                f"a {self.type} cannot have the rule {self.rule!r}; only these can have a rule: "
                f"{_rule_types_text()}"
            )
        return self


class Page(_Frozen):
    name: str = Field(default="index", pattern=r"^[a-z][a-z0-9_]{0,31}$")
    title: Label = ""


class ImageSize(_Frozen):
    width: int = Field(ge=1, le=MAX_PIXELS)
    height: int = Field(ge=1, le=MAX_PIXELS)


class Submit(_Frozen):
    endpoint: str = Field(default="", max_length=MAX_ENDPOINT_CHARS)
    """An http(s) URL, or empty: the generated code then shows the data instead of sending it."""
    method: Literal["POST", "PUT"] = "POST"

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not _ENDPOINT.match(value):
            raise ValueError(
                "endpoint must be empty or an http:// or https:// URL without spaces, quotes "
                "or angle brackets"
            )
        return value


class UISpec(_Frozen):
    version: Literal[1] = SPEC_VERSION
    page: Page
    image: ImageSize
    widgets: tuple[Widget, ...] = Field(max_length=MAX_WIDGETS)
    submit: Submit = Submit()

    @model_validator(mode="after")
    def _unique_ids(self) -> UISpec:
        seen: set[int] = set()
        for widget in self.widgets:
            if widget.id in seen:
                raise ValueError(f"widget id {widget.id} appears twice; ids must be unique")
            seen.add(widget.id)
        return self


class SpecError(ValueError):
    """A spec, or a request about one, that cannot be used; the message says what is accepted."""

    code = "miniapp_invalid_spec"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SpecEditError(SpecError):
    """An edit that cannot apply: an unknown widget id, a bad type, a value out of bounds."""

    code = "miniapp_invalid_edit"


# --- field names -------------------------------------------------------------------------------

_JS_RESERVED = """
    break case catch class const continue debugger default delete do else enum export extends
    false finally for function if implements import in instanceof interface let new null package
    private protected public return static super switch this throw true try typeof var void while
    with yield await arguments eval undefined NaN Infinity constructor prototype toString valueOf
    hasOwnProperty isPrototypeOf propertyIsEnumerable toLocaleString
"""
_RESERVED_NAMES = frozenset(_JS_RESERVED.split())
"""Words a field key must not be: JavaScript's reserved words and Object.prototype's names."""


def label_slug(label: str) -> str:
    """An ASCII label as an identifier ("Start date" -> "start_date"); "" when the label is not
    ASCII or has no letter to start with."""
    if not label.isascii():
        return ""
    slug = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[: MAX_NAME_CHARS - 4].strip("_")
    return slug if slug[:1].isalpha() else ""


def field_names(spec: UISpec) -> dict[int, str]:
    """Unique ASCII identifiers for every form widget, by widget id.

    A widget's own ``name`` wins; otherwise an ASCII label gives a slug ("Email" -> "email") and
    anything else the type and id ("input_3"), never a transliteration. Given names are placed
    first, so a derived name never takes one; clashes and JavaScript-reserved words get a
    numeric suffix.
    """
    form = [w for w in spec.widgets if w.type in FORM_TYPES]
    wanted = {w.id: w.name or label_slug(w.label) or f"{w.type}_{w.id}" for w in form}
    taken: set[str] = set()
    names: dict[int, str] = {}
    for widget in sorted(form, key=lambda w: (not w.name, w.id)):
        base = wanted[widget.id]
        name, suffix = base, 1
        while name in taken or name in _RESERVED_NAMES:
            suffix += 1
            tail = f"_{suffix}"
            name = base[: MAX_NAME_CHARS - len(tail)] + tail
        taken.add(name)
        names[widget.id] = name
    return {w.id: names[w.id] for w in form}


def spec_language(spec: UISpec) -> Language:
    """ "zh" when any visible text has CJK characters, else "en": the language the generated
    app speaks in its own messages (toasts, placeholders it adds)."""
    texts: list[str] = [spec.page.title]
    for widget in spec.widgets:
        texts.extend((widget.label, widget.placeholder, *widget.options))
    return "zh" if any(_is_cjk(ch) for text in texts for ch in text) else "en"


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\u3000" <= ch <= "\u303f"


# --- layout ------------------------------------------------------------------------------------


def layout_rows(widgets: Iterable[Widget]) -> list[list[Widget]]:
    """Widgets grouped into display rows, in reading order.

    A row is a run of consecutive widgets that share ``row``, ordered by ``column``. A run whose
    columns repeat (a spec that never set them) is not a real row: each widget gets its own.
    """
    runs: list[list[Widget]] = []
    for widget in widgets:
        if runs and runs[-1][0].row == widget.row:
            runs[-1].append(widget)
        else:
            runs.append([widget])
    rows: list[list[Widget]] = []
    for run in runs:
        if len({w.column for w in run}) == len(run):
            rows.append(sorted(run, key=lambda w: (w.column, w.id)))
        else:
            rows.extend([w] for w in run)
    return rows


def _renumbered(spec: UISpec, rows: Sequence[Sequence[Widget]]) -> UISpec:
    """The widgets of ``rows`` with ids 1..n in order and rows and columns counted afresh."""
    widgets: list[Widget] = []
    for row_index, row in enumerate(rows):
        for column_index, widget in enumerate(row):
            widgets.append(
                widget.model_copy(
                    update={"id": len(widgets) + 1, "row": row_index, "column": column_index}
                )
            )
    return spec.model_copy(update={"widgets": tuple(widgets)})


def _pin_id_names(spec: UISpec) -> UISpec:
    """Form widgets whose field name comes from their id keep it as their ``name``, so that
    removing or moving another widget does not rename their field."""
    names = field_names(spec)
    widgets = tuple(
        w.model_copy(update={"name": names[w.id]})
        if w.id in names and not w.name and names[w.id] != label_slug(w.label)
        else w
        for w in spec.widgets
    )
    return spec.model_copy(update={"widgets": widgets})


# --- edits -------------------------------------------------------------------------------------


def _index(spec: UISpec, widget_id: int) -> int:
    for index, widget in enumerate(spec.widgets):
        if widget.id == widget_id:
            return index
    ids = ", ".join(str(w.id) for w in spec.widgets) or "none"
    raise SpecEditError(f"there is no widget {widget_id}; the widget ids are: {ids}")


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
    )


def _changed(spec: UISpec, widget_id: int, **changes: Any) -> UISpec:
    index = _index(spec, widget_id)
    try:
        widget = Widget.model_validate({**spec.widgets[index].model_dump(), **changes})
    except ValidationError as exc:
        raise SpecEditError(f"widget {widget_id}: {_problems(exc)}") from None
    widgets = (*spec.widgets[:index], widget, *spec.widgets[index + 1 :])
    return spec.model_copy(update={"widgets": widgets})


def rename(spec: UISpec, widget_id: int, label: str) -> UISpec:
    """The spec with widget ``widget_id`` showing ``label``."""
    return _changed(spec, widget_id, label=label)


def retype(spec: UISpec, widget_id: int, widget_type: str) -> UISpec:
    """The spec with widget ``widget_id`` turned into a ``widget_type``; a rule the new type
    cannot have is dropped."""
    widget = spec.widgets[_index(spec, widget_id)]
    if widget_type not in WIDGET_TYPES:
        raise SpecEditError(
            f"unknown widget type {widget_type!r}; the types are: {', '.join(WIDGET_TYPES)}"
        )
    if widget.rule and widget_type not in RULE_TYPES:
        return _changed(spec, widget_id, type=widget_type, rule="")
    return _changed(spec, widget_id, type=widget_type)


def set_required(spec: UISpec, widget_id: int, required: bool) -> UISpec:
    """The spec with widget ``widget_id`` required (or not) before the form submits."""
    widget = spec.widgets[_index(spec, widget_id)]
    if required and widget.type not in FORM_TYPES:
        accepted = ", ".join(t for t in WIDGET_TYPES if t in FORM_TYPES)
        raise SpecEditError(
            f"widget {widget_id} is a {widget.type}, which holds no value; only these can be "
            f"required: {accepted}"
        )
    return _changed(spec, widget_id, required=required)


def set_options(spec: UISpec, widget_id: int, options: Sequence[str]) -> UISpec:
    """The spec with widget ``widget_id`` offering ``options`` (choices, items or tabs)."""
    widget = spec.widgets[_index(spec, widget_id)]
    if widget.type not in OPTION_TYPES:
        accepted = ", ".join(t for t in WIDGET_TYPES if t in OPTION_TYPES)
        raise SpecEditError(
            f"widget {widget_id} is a {widget.type}, which has no options; options apply to: "
            f"{accepted}"
        )
    if isinstance(options, str):
        raise SpecEditError("options must be a list of strings, not one string")
    return _changed(spec, widget_id, options=tuple(options))


def set_rule(spec: UISpec, widget_id: int, rule: str) -> UISpec:
    """The spec with widget ``widget_id`` checking its value against ``rule`` before the form
    submits ("" for no check)."""
    widget = spec.widgets[_index(spec, widget_id)]
    if rule not in RULES:
        raise SpecEditError(
            f"unknown rule {rule!r}; the rules are: {', '.join(r for r in RULES if r)} "
            '(or "" for none)'
        )
    if rule and widget.type not in RULE_TYPES:
        raise SpecEditError(
            f"widget {widget_id} is a {widget.type}, which is not typed into; only these can "
            f"have a rule: {_rule_types_text()}"
        )
    return _changed(spec, widget_id, rule=rule)


def remove(spec: UISpec, widget_id: int) -> UISpec:
    """The spec without widget ``widget_id``; the others are numbered 1..n again."""
    _index(spec, widget_id)
    pinned = _pin_id_names(spec)
    rows = [[w for w in row if w.id != widget_id] for row in layout_rows(pinned.widgets)]
    return _renumbered(pinned, [row for row in rows if row])


def move(spec: UISpec, widget_id: int, before_id: int | None) -> UISpec:
    """The spec with widget ``widget_id`` placed before widget ``before_id`` (``None``: at the
    end), the widgets numbered 1..n again.

    Placed before the first widget of a row, it gets a row of its own; placed before a widget
    further along a row, it joins that row there.
    """
    _index(spec, widget_id)
    if before_id is not None:
        _index(spec, before_id)
    if before_id == widget_id:
        return spec
    pinned = _pin_id_names(spec)
    moving = pinned.widgets[_index(pinned, widget_id)]
    rows = [[w for w in row if w.id != widget_id] for row in layout_rows(pinned.widgets)]
    rows = [row for row in rows if row]
    if before_id is None:
        rows.append([moving])
    else:
        for row_index, row in enumerate(rows):
            positions = [i for i, w in enumerate(row) if w.id == before_id]
            if positions:
                if positions[0] == 0:
                    rows.insert(row_index, [moving])
                else:
                    row.insert(positions[0], moving)
                break
    return _renumbered(pinned, rows)


# --- outline -----------------------------------------------------------------------------------

TYPE_NAMES: dict[Language, dict[WidgetType, str]] = {
    "zh": {
        "title": "标题",
        "text": "文本",
        "input": "输入框",
        "textarea": "多行输入框",
        "select": "下拉框",
        "checkbox": "复选框",
        "radio": "单选框",
        "switch": "开关",
        "date": "日期",
        "button": "按钮",
        "list": "列表",
        "image": "图片",
        "tabbar": "标签栏",
    },
    "en": {
        "title": "Title",
        "text": "Text",
        "input": "Input",
        "textarea": "Text area",
        "select": "Dropdown",
        "checkbox": "Checkbox",
        "radio": "Radio buttons",
        "switch": "Switch",
        "date": "Date",
        "button": "Button",
        "list": "List",
        "image": "Image",
        "tabbar": "Tab bar",
    },
}
RULE_NAMES: dict[Language, dict[Rule, str]] = {
    "zh": {
        "": "",
        "email": "邮箱格式",
        "phone": "电话号码",
        "number": "数字",
        "integer": "整数",
        "id_card": "身份证号",
        "url": "网址",
    },
    "en": {
        "": "",
        "email": "email",
        "phone": "phone number",
        "number": "number",
        "integer": "whole number",
        "id_card": "ID card number",
        "url": "web address",
    },
}
UNSURE_BELOW = 0.5
"""Widgets the image stage was less sure of than this are marked in the outline."""


def outline(spec: UISpec, language: Language = "zh") -> str:
    """A numbered outline for chat, one widget a line, such as
    ``3. 下拉框「请假类型」：事假/病假（必填）``
    or ``3. Dropdown "Type": Sick/Annual (required)``; a rule joins the parentheses:
    ``2. 输入框「邮箱」（必填，邮箱格式）``, ``2. Input "Email" (required, email)``."""
    if language not in TYPE_NAMES:
        raise SpecError(f"unknown language {language!r}; the languages are: zh, en")
    zh = language == "zh"
    lines: list[str] = []
    for widget in spec.widgets:
        line = f"{widget.id}. {TYPE_NAMES[language][widget.type]}"
        if widget.label:
            line += f"「{widget.label}」" if zh else f' "{widget.label}"'
        if widget.options:
            line += ("：" if zh else ": ") + "/".join(widget.options)
        notes = [("必填" if zh else "required")] if widget.required else []
        if widget.rule:
            notes.append(RULE_NAMES[language][widget.rule])
        if notes:
            line += f"（{'，'.join(notes)}）" if zh else f" ({', '.join(notes)})"
        if widget.confidence < UNSURE_BELOW:
            line += "（待确认）" if zh else " (unsure)"
        lines.append(line)
    return "\n".join(lines)
