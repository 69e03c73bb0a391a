"""Field names and validation rules for a spec's form widgets: reviewed tables first, the shared
model for the labels they do not know.

``heuristic_rules`` is deterministic: a keyword table gives text inputs a rule (邮箱 -> email,
金额 -> number, Quantity -> integer) and a table of common Chinese form labels gives a field
name (开始日期 -> start_date). ``suggest_fields`` asks the shared model about the widgets the
tables left open and keeps only what checks out: a name must be a lowercase snake_case
identifier that is not a JavaScript word and not taken, a rule must be one the widget's type can
carry. Anything else is dropped, and when the model fails or runs out of time the tables' result
is the answer: the model only helps.

What the user set (a widget's ``name`` or ``rule``) is never changed, and neither is anything
but names and rules: labels, types and layout stay as they are.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field, create_model

from llm.errors import LLMError
from llm.service import LLM
from llm.types import GenerationOptions, Priority
from miniapp.prompts import render
from miniapp.spec import (
    _RESERVED_NAMES,
    FORM_TYPES,
    MAX_NAME_CHARS,
    RULE_TYPES,
    RULES,
    Language,
    Rule,
    UISpec,
    Widget,
    field_names,
    label_slug,
    spec_language,
)

log = logging.getLogger(__name__)

MAX_WIDGETS = 30
"""Widgets described to the model in one request; the rest keep the tables' answer."""
MAX_PROMPT_TEXT_CHARS = 30
"""A label or placeholder is clipped to this many characters in the prompt."""
DEFAULT_TIMEOUT_S = 60.0
FREE_TEXT = "text"
"""What the model answers for "no rule" (not a rule, so it sets none): small models pick a named
choice far more reliably than an empty string, which they avoid in favour of some rule."""
SUGGESTED_NAME_CHARS = MAX_NAME_CHARS - 8
"""Room left for the numeric suffix ``field_names`` may add."""

_SUGGESTED_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_DEFAULT_NAME = re.compile(r"(?:" + "|".join(sorted(FORM_TYPES)) + r")_\d+")
"""What ``field_names`` derives from a type and an id: never a suggestion, so that a widget
keeping its derived name keeps it unchallenged."""

# --- rules ---------------------------------------------------------------------------------------

_RULE_KEYWORDS: tuple[tuple[Rule, tuple[str, ...], tuple[str, ...]], ...] = (
    # (rule, Chinese substrings, English words or phrases), first match wins
    ("id_card", ("身份证",), ("id card", "identity card", "identity number", "national id")),
    ("email", ("邮箱", "电子邮件", "邮件地址", "电邮"), ("email", "e-mail", "e mail")),
    (
        "phone",
        ("手机", "电话", "联系方式"),
        ("phone", "mobile", "tel", "telephone", "cell", "cellphone", "contact number"),
    ),
    (
        "url",
        ("网址", "链接", "主页", "网站", "网页"),
        ("url", "website", "web site", "link", "homepage", "home page", "web address"),
    ),
    (
        # money, and days (leave is taken in half days: 1.5 天)
        "number",
        ("金额", "价格", "费用", "单价", "总价", "预算", "工资", "薪资", "报价", "天数"),
        ("amount", "price", "cost", "fee", "budget", "salary", "total", "days"),
    ),
    (
        "integer",
        ("数量", "年龄", "人数", "件数", "次数", "个数", "份数", "人次"),
        ("quantity", "qty", "age", "number of", "count", "headcount"),
    ),
)
_NO_RULE_WORDS = (
    # free text about the thing, or a choice between two kinds of value: no format to check
    ("说明", "备注", "描述", "原因", "事由", "要求", "名称", "型号", "品牌", "或", "/", "／"),
    ("description", "note", "notes", "remark", "remarks", "comment", "comments", "reason", "or"),
)


def _words(text: str) -> str:
    """``text`` casefolded, each run of characters other than ASCII letters and digits made one
    space, with a space at either end: then a word is found as a substring, " tel " in
    " tel no ", and not in " hotel "."""
    return " " + " ".join(re.sub(r"[^0-9a-z]+", " ", text.casefold()).split()) + " "


def rule_for_label(text: str) -> Rule:
    """The rule the keyword table gives a label (or placeholder), "" when it knows none."""
    chinese_free, english_free = _NO_RULE_WORDS
    words = _words(text)
    if any(word in text for word in chinese_free) or any(
        _words(word) in words for word in english_free
    ):
        return ""
    for rule, chinese, english in _RULE_KEYWORDS:
        if any(word in text for word in chinese) or any(_words(w) in words for w in english):
            return rule
    return ""


def _keyword_rule(widget: Widget) -> Rule:
    """Only single-line inputs get a rule from the table: a text area is free text."""
    if widget.type != "input" or widget.rule:
        return ""
    return rule_for_label(widget.label or widget.placeholder)


def heuristic_rules(spec: UISpec) -> UISpec:
    """The tables' answer, what ``suggest_fields`` starts from and gives without the model: a
    rule on every input that has none and whose label the keyword table knows, and a field
    name on every unnamed form widget whose Chinese label the name table knows
    (``heuristic_names``)."""
    named = heuristic_names(spec)
    return _with_rules(named, {w.id: _keyword_rule(w) for w in named.widgets})


# --- names ---------------------------------------------------------------------------------------

LABEL_NAMES: Mapping[str, str] = {
    "姓名": "name",
    "名字": "name",
    "用户名": "username",
    "账号": "account",
    "密码": "password",
    "确认密码": "confirm_password",
    "验证码": "verification_code",
    "手机": "phone",
    "手机号": "phone",
    "手机号码": "phone",
    "电话": "phone",
    "电话号码": "phone",
    "联系电话": "phone",
    "联系方式": "contact",
    "邮箱": "email",
    "电子邮件": "email",
    "电子邮箱": "email",
    "邮箱地址": "email",
    "性别": "gender",
    "年龄": "age",
    "生日": "birthday",
    "出生日期": "birth_date",
    "身份证": "id_card",
    "身份证号": "id_card",
    "身份证号码": "id_card",
    "工号": "employee_id",
    "员工编号": "employee_id",
    "学号": "student_id",
    "部门": "department",
    "职位": "position",
    "岗位": "position",
    "公司": "company",
    "公司名称": "company",
    "单位": "organization",
    "地址": "address",
    "详细地址": "address",
    "城市": "city",
    "省份": "province",
    "邮编": "postcode",
    "网址": "website",
    "链接": "link",
    "日期": "date",
    "时间": "time",
    "开始日期": "start_date",
    "结束日期": "end_date",
    "开始时间": "start_time",
    "结束时间": "end_time",
    "请假类型": "leave_type",
    "类型": "type",
    "类别": "category",
    "原因": "reason",
    "事由": "reason",
    "请假事由": "reason",
    "请假原因": "reason",
    "天数": "days",
    "请假天数": "days",
    "人数": "headcount",
    "金额": "amount",
    "报销金额": "amount",
    "数量": "quantity",
    "单价": "unit_price",
    "价格": "price",
    "预算": "budget",
    "备注": "remark",
    "说明": "description",
    "描述": "description",
    "标题": "subject",
    "主题": "subject",
    "内容": "content",
    "项目": "project",
    "项目名称": "project_name",
    "客户": "customer",
    "客户名称": "customer_name",
    "联系人": "contact_name",
    "紧急联系人": "emergency_contact",
    "申请人": "applicant",
    "审批人": "approver",
    "地点": "location",
    "会议室": "meeting_room",
    "留言": "message",
    "意见": "feedback",
    "评分": "rating",
    "搜索": "search",
    "关键词": "keyword",
    "记住我": "remember_me",
}
"""Common Chinese form labels and the field names they get (职位 is a ``position``: ``title``
would read as the page's title)."""

_LABEL_NOISE = re.compile(r"[（(][^）)]*[）)]|[\s:：*＊]+")
"""Around a label's words: a unit or note in brackets (金额（元）), colons, required stars."""


def name_for_label(label: str) -> str:
    """The field name the table gives a Chinese label, "" when it knows none."""
    return LABEL_NAMES.get(_LABEL_NOISE.sub("", label), "")


def _open_name(widget: Widget) -> bool:
    """A form widget whose field name would be derived from its type and id: no name given and
    no ASCII label to make one from."""
    return widget.type in FORM_TYPES and not widget.name and not label_slug(widget.label)


def heuristic_names(spec: UISpec) -> UISpec:
    """The spec with a field name on every unnamed form widget whose Chinese label the table
    knows; a second 电话 becomes ``phone_2``."""
    proposals = {w.id: name_for_label(w.label) for w in spec.widgets if _open_name(w)}
    return _with_names(spec, proposals, suffix=True)


# --- applying names and rules --------------------------------------------------------------------


def _with_rules(spec: UISpec, rules: Mapping[int, str]) -> UISpec:
    """The spec with ``rules`` set where each is a rule its widget's type can have and the
    widget has none; anything else is ignored."""
    widgets = tuple(
        w.model_copy(update={"rule": rules[w.id]})
        if rules.get(w.id) in RULES and rules[w.id] and not w.rule and w.type in RULE_TYPES
        else w
        for w in spec.widgets
    )
    return spec.model_copy(update={"widgets": widgets})


def _clean_name(name: str) -> str:
    """A suggested name as lower snake_case ("startDate", "Start-Date" -> "start_date"), or ""
    when it is not an identifier of letters, digits and underscores."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    snake = re.sub(r"[\s-]+", "_", snake).lower()
    if (
        len(snake) > SUGGESTED_NAME_CHARS
        or not _SUGGESTED_NAME.fullmatch(snake)
        or _DEFAULT_NAME.fullmatch(snake)
        or snake in _RESERVED_NAMES
    ):
        return ""
    return snake


def _with_names(spec: UISpec, proposals: Mapping[int, str], *, suffix: bool) -> UISpec:
    """The spec with ``proposals`` as the names of unnamed form widgets without an ASCII label.

    A name must be clean (``_clean_name``) and free: no other widget's field name (given or
    derived) may be it. A taken one gets ``_2``, ``_3``... when ``suffix``, else is dropped, so
    no other field is ever renamed by it.
    """
    widgets = {w.id: w for w in spec.widgets}
    wanted = {
        widget_id: _clean_name(name)
        for widget_id, name in proposals.items()
        if widget_id in widgets and _open_name(widgets[widget_id])
    }
    taken = {name for widget_id, name in field_names(spec).items() if widget_id not in wanted}
    chosen: dict[int, str] = {}
    for widget_id in sorted(wanted):
        base = wanted[widget_id]
        name = base
        if name in taken and suffix:
            number = 2
            while f"{base}_{number}" in taken:
                number += 1
            name = f"{base}_{number}"
        if name and name not in taken:
            chosen[widget_id] = name
            taken.add(name)
    updated = tuple(
        w.model_copy(update={"name": chosen[w.id]}) if w.id in chosen else w for w in spec.widgets
    )
    return spec.model_copy(update={"widgets": updated})


# --- the model -----------------------------------------------------------------------------------


class FieldSuggestion(BaseModel):
    """The model's answer for one widget. Loose on purpose: each value is checked on its own
    (``apply_suggestions``), so one bad value costs only itself; the JSON schema still steers
    decoding to a valid name and rule."""

    model_config = ConfigDict(extra="ignore")

    id: int
    name: str = Field(
        default="",
        json_schema_extra={"pattern": f"^[a-z][a-z0-9_]{{0,{SUGGESTED_NAME_CHARS - 1}}}$"},
    )
    rule: str = Field(default=FREE_TEXT, json_schema_extra={"enum": [FREE_TEXT, *RULES[1:]]})


class FieldSuggestions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    fields: list[FieldSuggestion] = Field(default_factory=list)


def answer_model(widget_ids: Sequence[int]) -> type[FieldSuggestions]:
    """The answer's model for one request: its schema lets the model name only the widgets it
    was asked about, in no more entries than there are of them (so constrained decoding ends),
    while validation checks no more than ``FieldSuggestion`` does."""
    item = create_model(
        "AskedFieldSuggestion",
        __base__=FieldSuggestion,
        id=(int, Field(json_schema_extra={"enum": list(widget_ids)})),
    )
    model: type[FieldSuggestions] = create_model(
        "AskedFieldSuggestions",
        __base__=FieldSuggestions,
        fields=(
            list[item],
            Field(default_factory=list, json_schema_extra={"maxItems": len(widget_ids)}),
        ),
    )
    return model


def apply_suggestions(spec: UISpec, suggestions: Iterable[FieldSuggestion]) -> UISpec:
    """The spec with the suggested names and rules that check out; the rest are dropped.

    A name applies only to a form widget that has none and no ASCII label; a rule only to an
    input or text area that has none. The first suggestion for a widget counts.
    """
    names: dict[int, str] = {}
    rules: dict[int, str] = {}
    for suggestion in suggestions:
        names.setdefault(suggestion.id, suggestion.name)
        rules.setdefault(suggestion.id, suggestion.rule.strip().lower())
    return _with_rules(_with_names(spec, names, suffix=False), rules)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_PROMPT_TEXT_CHARS else text[: MAX_PROMPT_TEXT_CHARS - 1] + "…"


def open_widgets(spec: UISpec) -> list[Widget]:
    """The form widgets the model could still help with (at most ``MAX_WIDGETS``): those whose
    name would be derived from type and id, and inputs and text areas without a rule."""
    open_ = [w for w in spec.widgets if _open_name(w) or (w.type in RULE_TYPES and not w.rule)]
    return open_[:MAX_WIDGETS]


def _widget_lines(widgets: Iterable[Widget]) -> str:
    """One JSON object a widget; an empty placeholder is left out (every token counts)."""
    lines = []
    for w in widgets:
        described = {"id": w.id, "type": w.type, "label": _clip(w.label)}
        if w.placeholder:
            described["placeholder"] = _clip(w.placeholder)
        lines.append(json.dumps(described, ensure_ascii=False))
    return "\n".join(lines)


def suggest_fields(
    spec: UISpec,
    llm: LLM | None,
    *,
    language: Language | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    priority: Priority = Priority.BACKGROUND,
) -> UISpec:
    """The spec with field names and rules from the tables, then from the shared model for what
    they left open. Blocking: call it from a worker thread (a job's ``run_in_thread``).

    ``language`` is the prompt's (default: the spec's); ``timeout_s`` bounds the one request.
    Without a model (``None``), or when it fails or runs out of time, the tables' result.
    """
    guessed = heuristic_rules(spec)
    asked = open_widgets(guessed)
    if llm is None or not asked:
        return guessed
    messages = render("fields", language or spec_language(spec), widgets=_widget_lines(asked))
    try:
        answer = llm.structured_sync(
            messages,
            answer_model([w.id for w in asked]),
            # an entry is about 20 tokens, 40 when the model spreads its JSON over lines
            options=GenerationOptions(max_tokens=40 + 48 * len(asked), temperature=0.0),
            priority=priority,
            timeout=timeout_s,
            retries=0,
        )
    except LLMError as exc:
        log.warning("the model suggested no field names or rules: %s", exc.message)
        return guessed
    asked_ids = {w.id for w in asked}
    return apply_suggestions(guessed, [s for s in answer.fields if s.id in asked_ids])


__all__ = [
    "LABEL_NAMES",
    "MAX_WIDGETS",
    "FieldSuggestion",
    "FieldSuggestions",
    "answer_model",
    "apply_suggestions",
    "heuristic_names",
    "heuristic_rules",
    "name_for_label",
    "open_widgets",
    "rule_for_label",
    "suggest_fields",
]
