"""What the model writes for each type of section (a pydantic model per section, built from
its spec so every list and string is bounded), and the checks its answer goes through.

The model's answer for a section is kept as it was validated (``raw``, JSON); everything
computed from it (clock times, amounts, totals, the diagram) is derived again at render time,
so a revised section can never leave a stale total behind.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from docs_gen.kind import SectionSpec
from llm.guardrails import bound_text

TITLE_MAX_CHARS = 40
ITEM_MAX_CHARS = 80
MAX_MINUTES = 240
MAX_HOURS = 720

# Common Chinese surnames: a two- or three-character owner that starts with one and is not in
# the brief is a name the model made up, shown as "待定" instead.
_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤"
)
_PLACEHOLDER_NAMES = re.compile(r"^(?:张三|李四|王五|赵六|某某|xxx|XXX|John Doe|Jane Doe)$")
_LIST_MARKER = re.compile(r"^\s*(?:[-•*·]|\(?\d{1,2}[.、)）]|[（(]\d{1,2}[)）])\s*")
MIN_ITEM_CHARS = 2
PERSON_FIELDS = frozenset({"owner", "person", "who", "name", "approver", "people", "attendee"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AgendaItem(_Strict):
    topic: str = Field(min_length=1, max_length=ITEM_MAX_CHARS)
    minutes: int = Field(ge=1, le=MAX_MINUTES)
    owner: str = Field(default="", max_length=30)


class BudgetItem(_Strict):
    item: str = Field(min_length=1, max_length=ITEM_MAX_CHARS)
    quantity: int = Field(ge=1, le=100_000)
    unit_price: float = Field(ge=0, le=10_000_000)
    note: str = Field(default="", max_length=60)


class FlowItem(_Strict):
    name: str = Field(min_length=1, max_length=40)
    role: str = Field(default="", max_length=30)
    hours: int = Field(default=24, ge=1, le=MAX_HOURS)
    approval: bool = False


def answer_model(spec: SectionSpec, *, with_title: bool = False) -> type[BaseModel]:
    """The pydantic model of the model's answer for ``spec`` (plus the document's title when
    ``with_title``: the first section's request names the document too)."""
    fields: dict[str, Any] = {}
    if with_title:
        fields["title"] = (str, Field(min_length=2, max_length=TITLE_MAX_CHARS))
    if spec.type == "text":
        fields["text"] = (str, Field(min_length=1, max_length=spec.max_chars))
    else:
        key = {"table": "rows", "flow": "steps"}.get(spec.type, "items")
        fields[key] = (list[_item_type(spec)], Field(min_length=1, max_length=spec.max_items))  # type: ignore[misc]
    name = f"{spec.id.title().replace('_', '')}Section"
    model: type[BaseModel] = create_model(name, __base__=_Strict, **fields)
    return model


def _item_type(spec: SectionSpec) -> Any:
    """What one entry of a list-like section is."""
    if spec.type in ("list", "numbered", "checklist"):
        return Annotated[str, Field(max_length=min(spec.max_chars, ITEM_MAX_CHARS))]
    if spec.type == "table":
        columns: dict[str, Any] = {
            c.id: (str, Field(default="", max_length=c.max_chars)) for c in spec.columns
        }
        return create_model(f"{spec.id.title()}Row", __base__=_Strict, **columns)
    return {"agenda": AgendaItem, "budget": BudgetItem, "flow": FlowItem}[spec.type]


def _clean(text: object, limit: int) -> str:
    return bound_text(" ".join(str(text).split()), limit) if text else ""


def _fold(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).casefold()


def _copies_brief(text: str, brief: str) -> bool:
    """An item that only repeats the brief (or most of it) says nothing new."""
    folded = _fold(text)
    if len(folded) < 6:
        return False
    return any(
        folded in _fold(line) or (len(_fold(line)) >= 6 and _fold(line) in folded)
        for line in brief.splitlines()
    )


def _person(value: str, brief: str) -> str:
    """An owner as given, unless it is a person's name the brief does not contain."""
    if not value:
        return value
    if _PLACEHOLDER_NAMES.match(value):
        return ""
    compact = value.replace(" ", "")
    if (
        2 <= len(compact) <= 3
        and compact[0] in _SURNAMES
        and all("\u4e00" <= c <= "\u9fff" for c in compact)
        and compact not in brief
    ):
        return ""
    return value


def checked_answer(spec: SectionSpec, answer: BaseModel, brief: str) -> dict[str, Any]:
    """The answer as stored: blanks and repeats dropped, lengths bounded, invented names
    removed (a person the brief does not name becomes an empty owner, shown as TBD)."""
    data = answer.model_dump()
    data.pop("title", None)
    if spec.type == "text":
        return {"text": _clean(data["text"], spec.max_chars)}
    if spec.type in ("list", "numbered", "checklist"):
        seen: set[str] = set()
        items = []
        for item in data["items"]:
            text = _LIST_MARKER.sub("", _clean(item, min(spec.max_chars, ITEM_MAX_CHARS)))
            if len(text) < MIN_ITEM_CHARS or _copies_brief(text, brief):
                continue
            if _fold(text) not in seen:
                seen.add(_fold(text))
                items.append(text)
        return {"items": items}
    if spec.type == "table":
        rows = []
        seen_rows: set[tuple[str, ...]] = set()
        for row in data["rows"]:
            cleaned = {c.id: _clean(row.get(c.id, ""), c.max_chars) for c in spec.columns}
            first = spec.columns[0].id
            for key in PERSON_FIELDS & cleaned.keys():
                cleaned[key] = _person(cleaned[key], brief)
                if key != first and cleaned[key] == cleaned[first]:
                    cleaned[key] = ""  # "主持人 | 主持人": the role again, not a person
            folded = tuple(_fold(v) for v in cleaned.values())
            if any(cleaned.values()) and folded not in seen_rows:
                seen_rows.add(folded)
                rows.append(cleaned)
        return {"rows": rows}
    if spec.type == "agenda":
        return {
            "items": [
                {
                    "topic": _clean(i["topic"], ITEM_MAX_CHARS),
                    "minutes": int(i["minutes"]),
                    "owner": _person(_clean(i["owner"], 30), brief),
                }
                for i in data["items"]
                if _clean(i["topic"], ITEM_MAX_CHARS)
            ]
        }
    if spec.type == "budget":
        return {
            "items": [
                {
                    "item": _clean(i["item"], ITEM_MAX_CHARS),
                    "quantity": int(i["quantity"]),
                    "unit_price": float(i["unit_price"]),
                    "note": _clean(i["note"], 60),
                }
                for i in data["items"]
                if _clean(i["item"], ITEM_MAX_CHARS)
            ]
        }
    steps = [
        {
            "name": _clean(s["name"], 40),
            "role": _person(_clean(s["role"], 30), brief),
            "hours": int(s["hours"]),
            "approval": bool(s["approval"]),
        }
        for s in data["steps"]
        if _clean(s["name"], 40)
    ]
    return {"steps": steps}


def is_empty(spec: SectionSpec, raw: dict[str, Any]) -> bool:
    key = {"text": "text", "table": "rows", "flow": "steps"}.get(spec.type, "items")
    return not raw.get(key)
