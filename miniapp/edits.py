"""Edits to a spec as data, from the API's JSON or from a chat line.

``Edit`` is one change (``{"op": "rename", "id": 2, "label": "提交申请"}``); ``apply_edits``
applies a list of them all or nothing. ``parse_chat_edit`` reads what people type after
``/miniapp`` (``rename 2 提交申请``, ``type 3 select``, ``改名 2 提交申请``, ``类型 3 下拉框``)
into the same ``Edit``, or says what it expected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from miniapp import spec as specs
from miniapp.spec import (
    MAX_ENDPOINT_CHARS,
    MAX_LABEL_CHARS,
    MAX_OPTIONS,
    RULES,
    TYPE_NAMES,
    WIDGET_TYPES,
    Page,
    Rule,
    SpecEditError,
    Submit,
    UISpec,
    WidgetType,
)

WidgetId = Annotated[int, Field(ge=1, le=10_000)]


class _Edit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Rename(_Edit):
    op: Literal["rename"] = "rename"
    id: WidgetId
    label: str = Field(max_length=MAX_LABEL_CHARS * 2)


class Retype(_Edit):
    op: Literal["retype"] = "retype"
    id: WidgetId
    type: str = Field(max_length=32)


class SetRequired(_Edit):
    op: Literal["required"] = "required"
    id: WidgetId
    required: bool = True


class SetOptions(_Edit):
    op: Literal["options"] = "options"
    id: WidgetId
    options: tuple[str, ...] = Field(max_length=MAX_OPTIONS)


class SetRule(_Edit):
    op: Literal["rule"] = "rule"
    id: WidgetId
    rule: str = Field(max_length=32)


class Remove(_Edit):
    op: Literal["remove"] = "remove"
    id: WidgetId


class Move(_Edit):
    op: Literal["move"] = "move"
    id: WidgetId
    before: WidgetId | None = None
    """The widget to place it before; None: at the end."""


class SetTitle(_Edit):
    op: Literal["title"] = "title"
    title: str = Field(max_length=MAX_LABEL_CHARS * 2)


class SetEndpoint(_Edit):
    op: Literal["endpoint"] = "endpoint"
    endpoint: str = Field(max_length=MAX_ENDPOINT_CHARS)


Edit = Annotated[
    Rename | Retype | SetRequired | SetOptions | SetRule | Remove | Move | SetTitle | SetEndpoint,
    Field(discriminator="op"),
]
OPS = ("rename", "retype", "required", "options", "rule", "remove", "move", "title", "endpoint")


def apply_edit(spec: UISpec, edit: Edit) -> UISpec:
    """``spec`` with one edit made; ``SpecEditError`` says why one cannot be."""
    if isinstance(edit, Rename):
        return specs.rename(spec, edit.id, edit.label)
    if isinstance(edit, Retype):
        return specs.retype(spec, edit.id, widget_type_of(edit.type))
    if isinstance(edit, SetRequired):
        return specs.set_required(spec, edit.id, edit.required)
    if isinstance(edit, SetOptions):
        return specs.set_options(spec, edit.id, edit.options)
    if isinstance(edit, SetRule):
        return specs.set_rule(spec, edit.id, rule_of(edit.rule))
    if isinstance(edit, Remove):
        return specs.remove(spec, edit.id)
    if isinstance(edit, Move):
        return specs.move(spec, edit.id, edit.before)
    if isinstance(edit, SetTitle):
        try:
            page = Page(name=spec.page.name, title=edit.title)
        except ValidationError as exc:
            raise SpecEditError(f"title: {exc.errors()[0]['msg']}") from None
        return spec.model_copy(update={"page": page})
    try:
        submit = Submit(endpoint=edit.endpoint.strip(), method=spec.submit.method)
    except ValidationError as exc:
        raise SpecEditError(f"endpoint: {exc.errors()[0]['msg']}") from None
    return spec.model_copy(update={"submit": submit})


def apply_edits(spec: UISpec, edits: Iterable[Edit]) -> UISpec:
    """Every edit in order, or none: the first that fails raises, naming its position."""
    for index, edit in enumerate(edits, start=1):
        try:
            spec = apply_edit(spec, edit)
        except SpecEditError as exc:
            raise SpecEditError(f"edit {index} ({edit.op}): {exc.message}") from None
    return spec


# --- names people type -------------------------------------------------------------------------

_TYPE_WORDS: dict[str, WidgetType] = {
    **{t: t for t in WIDGET_TYPES},
    **{name.casefold(): t for names in TYPE_NAMES.values() for t, name in names.items()},
    "textbox": "input",
    "field": "input",
    "dropdown": "select",
    "picker": "select",
    "datepicker": "date",
    "date picker": "date",
    "toggle": "switch",
    "tabs": "tabbar",
    "tab": "tabbar",
    "label": "text",
    "heading": "title",
    "picture": "image",
    "输入": "input",
    "文本框": "input",
    "多行文本": "textarea",
    "文本域": "textarea",
    "下拉": "select",
    "下拉选择": "select",
    "选择器": "select",
    "单选": "radio",
    "多选": "checkbox",
    "勾选框": "checkbox",
    "日期选择": "date",
    "日期选择器": "date",
    "图片占位": "image",
    "标签页": "tabbar",
    "底部导航": "tabbar",
}
_RULE_WORDS: dict[str, str] = {
    **{r: r for r in RULES if r},
    "none": "",
    "无": "",
    "不校验": "",
    "邮箱": "email",
    "电子邮件": "email",
    "mail": "email",
    "手机": "phone",
    "手机号": "phone",
    "电话": "phone",
    "mobile": "phone",
    "数字": "number",
    "数值": "number",
    "整数": "integer",
    "int": "integer",
    "身份证": "id_card",
    "身份证号": "id_card",
    "idcard": "id_card",
    "id-card": "id_card",
    "网址": "url",
    "链接": "url",
    "link": "url",
}


def widget_type_of(word: str) -> WidgetType:
    """A widget type from its name in either language ("select", "下拉框", "Dropdown")."""
    found = _TYPE_WORDS.get(" ".join(word.split()).casefold())
    if found is None:
        raise SpecEditError(
            f"unknown widget type {word!r}; the types are: {', '.join(WIDGET_TYPES)} "
            f"(or in Chinese: {'、'.join(TYPE_NAMES['zh'].values())})"
        )
    return found


def rule_of(word: str) -> Rule:
    """A validation rule from its name in either language ("email", "邮箱"; "none" for none)."""
    found = _RULE_WORDS.get(word.strip().casefold())
    if found is None:
        accepted = ", ".join(r for r in RULES if r)
        raise SpecEditError(f"unknown rule {word!r}; the rules are: {accepted}, or none")
    return found  # type: ignore[return-value]  # a value of RULES


# --- chat lines --------------------------------------------------------------------------------

CHAT_WORDS: dict[str, tuple[str, ...]] = {
    "rename": ("rename", "label", "改名", "重命名", "文字", "名称"),
    "retype": ("type", "retype", "类型", "改类型"),
    "required": ("required", "require", "必填"),
    "optional": ("optional", "选填", "非必填"),
    "options": ("options", "choices", "items", "tabs", "选项", "列表项"),
    "rule": ("rule", "validate", "校验", "验证", "格式"),
    "remove": ("remove", "delete", "del", "删除", "去掉"),
    "move": ("move", "移动", "移到"),
    "title": ("title", "标题"),
    "endpoint": ("endpoint", "url", "提交地址", "接口"),
}
_WORD_TO_OP = {word.casefold(): op for op, words in CHAT_WORDS.items() for word in words}
_OPTION_SEPARATORS = re.compile(r"\s*[/|,，、;；]\s*")
_END_WORDS = frozenset({"end", "last", "bottom", "末尾", "最后", "底部"})
_BEFORE_WORDS = frozenset({"before", "to", "到", "前", "之前", "放到"})


class ChatEditError(SpecEditError):
    """A chat line that is not an edit; the message shows the forms that are."""

    code = "miniapp_invalid_command"


def chat_edit_op(word: str) -> str | None:
    """The edit a chat word names ("改名" -> "rename"), or None."""
    return _WORD_TO_OP.get(word.casefold())


def parse_chat_edit(text: str) -> Edit:
    """One edit from a chat line such as ``rename 2 提交申请`` or ``移动 5 到 2``."""
    words = text.split()
    if not words:
        raise ChatEditError(chat_usage())
    op = chat_edit_op(words[0])
    if op is None:
        raise ChatEditError(f"{words[0]!r} is not an edit. {chat_usage()}")
    rest = words[1:]
    if op == "title":
        return SetTitle(title=" ".join(rest))
    if op == "endpoint":
        return _validated(SetEndpoint, endpoint=" ".join(rest))
    if not rest:
        raise ChatEditError(f"say which widget, by its number: {_FORMS[op]}")
    widget_id = _number(rest[0], op)
    tail = rest[1:]
    value = " ".join(tail)
    if op == "rename":
        if not value:
            raise ChatEditError(f"say the new text: {_FORMS[op]}")
        return _validated(Rename, id=widget_id, label=value)
    if op == "retype":
        if not value:
            raise ChatEditError(f"say the type: {_FORMS[op]}")
        return _validated(Retype, id=widget_id, type=value)
    if op in ("required", "optional"):
        return SetRequired(id=widget_id, required=op == "required")
    if op == "options":
        options = tuple(o for o in _OPTION_SEPARATORS.split(value) if o)
        if not options:
            raise ChatEditError(f"list the options: {_FORMS[op]}")
        return _validated(SetOptions, id=widget_id, options=options)
    if op == "rule":
        return _validated(SetRule, id=widget_id, rule=value or "none")
    if op == "remove":
        return Remove(id=widget_id)
    kept = [w for w in tail if w.casefold() not in _BEFORE_WORDS]
    if not kept or kept[0].casefold() in _END_WORDS:
        return Move(id=widget_id, before=None)
    return Move(id=widget_id, before=_number(kept[0], op))


_FORMS = {
    "rename": "rename <n> <text> (改名 2 提交申请)",
    "retype": "type <n> <type> (类型 3 下拉框)",
    "required": "required <n> (必填 3)",
    "optional": "optional <n> (选填 3)",
    "options": "options <n> a/b/c (选项 3 事假/病假/年假)",
    "rule": "rule <n> email|phone|number|integer|id_card|url|none (校验 2 手机号)",
    "remove": "remove <n> (删除 4)",
    "move": "move <n> before <m> | move <n> end (移动 5 到 2)",
    "title": "title <text> (标题 请假申请)",
    "endpoint": "endpoint <https://...> (提交地址 https://...)",
}


def chat_usage(ops: Sequence[str] = tuple(_FORMS)) -> str:
    return "Edits: " + "; ".join(_FORMS[op] for op in ops)


def _number(word: str, op: str) -> int:
    cleaned = word.strip("#.。:：")
    if not cleaned.isdigit() or not 1 <= int(cleaned) <= 10_000:
        raise ChatEditError(
            f"{word!r} is not a widget number (the numbers in the outline): {_FORMS[op]}"
        )
    return int(cleaned)


def _validated(model: type[_Edit], **values: object) -> Edit:
    try:
        return model.model_validate(values)  # type: ignore[return-value]
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise ChatEditError(f"{where}: {problem['msg']}") from None
