"""A draft as readers see it: Markdown through the kind's template, a DingTalk message per
section, and a .docx with the workflow diagram embedded.

Templates get each section as a ``SectionView`` whose texts are escaped for Markdown already
(what the model wrote can never become markup), whose figures are computed here (clock times,
amounts, totals, hours) and whose ``markdown`` is the section's standard rendering, so a custom
template can lay a document out freely or just write ``{{ section.markdown }}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from docs_gen.brief import BriefFacts, default_start
from docs_gen.draft import Draft
from docs_gen.kind import Kind, Language, SectionSpec
from docs_gen.numbers import (
    AgendaSlot,
    Budget,
    clock,
    format_hours,
    format_money,
    plan_budget,
    schedule_agenda,
    total_hours,
)
from llm.guardrails import escape_markdown

FLOW_IMAGE = "flow.png"

_WORDS: dict[str, tuple[str, str]] = {
    "tbd": ("待定", "TBD"),
    "time": ("时间", "Time"),
    "minutes": ("时长", "Length"),
    "topic": ("内容", "Topic"),
    "owner": ("负责人", "Owner"),
    "item": ("项目", "Item"),
    "quantity": ("数量", "Qty"),
    "unit_price": ("单价", "Unit price"),
    "amount": ("金额", "Amount"),
    "note": ("说明", "Note"),
    "total": ("合计", "Total"),
    "cap": ("预算上限", "Budget cap"),
    "remaining": ("结余", "Left over"),
    "over": ("超出", "Over"),
    "scaled": (
        "（各项单价已按预算上限等比例调整）",
        "(unit prices scaled down to fit the budget cap)",
    ),
    "step": ("步骤", "Step"),
    "role": ("执行人", "Done by"),
    "limit": ("时限", "Time limit"),
    "approval": ("审批", "Approval"),
    "yes": ("是", "yes"),
    "total_time": ("全流程时限合计", "Total time limit"),
    "failed": ("这一节没有生成", "This section could not be written"),
    "retry": (
        "可发送 /plan revise {id} <要求> 重写",
        "send /plan revise {id} <request> to write it",
    ),
    "diagram": ("流程图", "Flow diagram"),
    "minute_unit": ("分钟", "min"),
    "hour_unit": ("小时", "h"),
}


def word(key: str, language: Language) -> str:
    zh, en = _WORDS[key]
    return zh if language == "zh" else en


def esc(text: object) -> str:
    """One line of model or user text, escaped for Markdown."""
    return escape_markdown(" ".join(str(text).split()))


@dataclass(frozen=True, slots=True)
class FlowRow:
    number: int
    name: str
    role: str
    hours: int
    approval: bool


@dataclass
class SectionView:
    """One section for a template: escaped texts, computed figures, standard Markdown."""

    id: str
    type: str
    title: str
    language: Language
    failed: str = ""
    text: str = ""
    items: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    slots: list[AgendaSlot] = field(default_factory=list)
    budget: Budget | None = None
    steps: list[FlowRow] = field(default_factory=list)
    currency: str = ""
    diagram: str = ""
    """The image name of the flow diagram (``flow`` sections)."""

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def total(self) -> str:
        return self._money(self.budget.total) if self.budget else ""

    @property
    def total_hours(self) -> str:
        return format_hours(total_hours([s.hours for s in self.steps]), self.language)

    @property
    def duration(self) -> str:
        minutes = sum(s.minutes for s in self.slots)
        return f"{minutes} {word('minute_unit', self.language)}" if minutes else ""

    def _money(self, value: Decimal) -> str:
        return f"{self.currency}{format_money(value)}"

    def _w(self, key: str) -> str:
        return word(key, self.language)

    @property
    def markdown(self) -> str:
        """The section's body in standard Markdown (no heading)."""
        if self.failed:
            retry = self._w("retry").format(id=self.id)
            return (
                f"> {self._w('failed')}：{esc(self.failed)}（{retry}）"
                if self.language == "zh"
                else (f"> {self._w('failed')}: {esc(self.failed)} ({retry})")
            )
        if self.type == "text":
            return self.text
        if self.type == "list":
            return "\n".join(f"- {item}" for item in self.items)
        if self.type == "numbered":
            return "\n".join(f"{n}. {item}" for n, item in enumerate(self.items, 1))
        if self.type == "checklist":
            return "\n".join(f"- [ ] {item}" for item in self.items)
        if self.type == "table":
            return _table(self.columns, self.rows)
        if self.type == "agenda":
            header = [self._w("time"), self._w("topic"), self._w("owner"), self._w("minutes")]
            rows = [
                [
                    f"{s.start}–{s.end}",
                    (s.topic or " "),
                    (s.owner or self._w("tbd")),
                    f"{s.minutes}",
                ]
                for s in self.slots
            ]
            return _table(header, rows, align=["l", "l", "l", "r"])
        if self.type == "budget" and self.budget is not None:
            header = [
                self._w("item"),
                self._w("quantity"),
                self._w("unit_price"),
                self._w("amount"),
                self._w("note"),
            ]
            rows = [
                [
                    (line.item or " "),
                    str(line.quantity),
                    self._money(line.unit_price),
                    self._money(line.amount),
                    (line.note or " "),
                ]
                for line in self.budget.lines
            ]
            rows.append([f"**{self._w('total')}**", "", "", f"**{self.total}**", ""])
            text = _table(header, rows, align=["l", "r", "r", "r", "l"])
            if self.budget.cap is not None:
                remaining = self.budget.remaining or Decimal(0)
                key = "remaining" if remaining >= 0 else "over"
                sep = "：" if self.language == "zh" else ": "
                text += (
                    f"\n\n{self._w('cap')}{sep}{self._money(self.budget.cap)}；"
                    f"{self._w(key)}{sep}{self._money(abs(remaining))}"
                    if self.language == "zh"
                    else f"\n\n{self._w('cap')}{sep}{self._money(self.budget.cap)}; "
                    f"{self._w(key)}{sep}{self._money(abs(remaining))}"
                )
                if self.budget.scaled:
                    text += ("" if self.language == "zh" else " ") + self._w("scaled")
            return text
        if self.type == "flow":
            header = ["#", self._w("step"), self._w("role"), self._w("limit"), self._w("approval")]
            unit = self._w("hour_unit")
            rows = [
                [
                    str(s.number),
                    (s.name or " "),
                    (s.role or self._w("tbd")),
                    f"{s.hours} {unit}",
                    self._w("yes") if s.approval else "",
                ]
                for s in self.steps
            ]
            sep = "：" if self.language == "zh" else ": "
            text = _table(header, rows, align=["r", "l", "l", "r", "l"])
            text += f"\n\n{self._w('total_time')}{sep}{self.total_hours}"
            if self.diagram:
                text += f"\n\n![{self._w('diagram')}]({self.diagram})"
            return text
        return ""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str] = ()) -> str:
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    separator = [marks.get(a, "---") for a in align] or ["---"] * len(header)
    separator += ["---"] * (len(header) - len(separator))
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(separator) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
    return "\n".join(lines)


def _as_is(text: object) -> str:
    return " ".join(str(text).split())


def section_view(
    spec: SectionSpec,
    draft: Draft,
    facts: BriefFacts,
    *,
    diagram: str = FLOW_IMAGE,
    escape: bool = True,
) -> SectionView:
    """``spec``'s section of ``draft``, with its figures computed; every text escaped for
    Markdown (``escape=False``: as written, for JSON)."""
    text_of = esc if escape else _as_is
    language = draft.language
    view = SectionView(
        id=spec.id,
        type=spec.type,
        title=text_of(spec.title(language)),
        language=language,
        currency=facts.currency or ("¥" if language == "zh" else ""),
    )
    raw = draft.sections.get(spec.id)
    if raw is None:
        view.failed = draft.failed.get(spec.id, "not written yet")
        return view
    if spec.type == "text":
        view.text = text_of(raw.get("text", ""))
    elif spec.type in ("list", "numbered", "checklist"):
        view.items = [text_of(i) for i in raw.get("items", [])]
    elif spec.type == "table":
        view.columns = [text_of(c.title(language)) for c in spec.columns]
        view.rows = [
            [text_of(row.get(c.id, "")) or " " for c in spec.columns] for row in raw.get("rows", [])
        ]
    elif spec.type == "agenda":
        items = [
            (text_of(i["topic"]), text_of(i.get("owner", "")), int(i["minutes"]))
            for i in raw.get("items", [])
        ]
        view.slots = schedule_agenda(
            items, start_minute=default_start(facts), total_minutes=facts.duration_minutes
        )
    elif spec.type == "budget":
        view.budget = plan_budget(
            [
                (
                    text_of(i["item"]),
                    int(i["quantity"]),
                    float(i["unit_price"]),
                    text_of(i.get("note", "")),
                )
                for i in raw.get("items", [])
            ],
            facts.budget,
        )
    elif spec.type == "flow":
        view.steps = [
            FlowRow(
                n,
                text_of(s["name"]),
                text_of(s.get("role", "")),
                int(s.get("hours", 24)),
                bool(s.get("approval")),
            )
            for n, s in enumerate(raw.get("steps", []), 1)
        ]
        view.diagram = diagram
    return view


def document_context(kind: Kind, draft: Draft, facts: BriefFacts) -> dict[str, Any]:
    """What a kind's template is rendered with (docs/documents.md lists it)."""
    language = draft.language
    views = [section_view(spec, draft, facts) for spec in kind.spec.sections]
    slots = next((v.slots for v in views if v.slots), [])
    return {
        "title": esc(draft.title or kind.spec.title(language)),
        "kind_title": esc(kind.spec.title(language)),
        "language": language,
        "zh": language == "zh",
        "brief": esc(draft.brief),
        "sections": views,
        "section": {v.id: v for v in views},
        "version": draft.version,
        "generated": datetime.now().strftime("%Y-%m-%d"),
        "facts": {
            "budget": f"{views[0].currency}{format_money(facts.budget)}" if facts.budget else "",
            "people": facts.people or "",
            "start": clock(slots[0].start_minute)
            if slots
            else (clock(facts.start_minute) if facts.start_minute is not None else ""),
            "end": slots[-1].end if slots else "",
            "duration": f"{facts.duration_minutes}" if facts.duration_minutes else "",
        },
    }


def document_markdown(kind: Kind, draft: Draft, facts: BriefFacts) -> str:
    """The whole document as Markdown, through the kind's template."""
    text = kind.template.render(**document_context(kind, draft, facts))
    lines = [line.rstrip() for line in text.strip().splitlines()]
    cleaned: list[str] = []
    for line in lines:  # at most one blank line in a row
        if line or (cleaned and cleaned[-1]):
            cleaned.append(line)
    return "\n".join(cleaned) + "\n"


def section_chat_markdown(view: SectionView) -> str:
    """One section as a DingTalk message body: DingTalk shows no tables, so tables become
    lists (agenda lines with their times, budget lines with amounts and the total)."""
    zh = view.language == "zh"
    sep = "：" if zh else ": "
    heading = f"### {view.title}"
    if view.failed or view.type in ("text", "list", "numbered", "checklist"):
        body = view.markdown.replace("- [ ] ", "- ☐ ")
        return f"{heading}\n\n{body}"
    lines: list[str] = []
    if view.type == "table":
        for row in view.rows:
            cells = [c for c in row if c.strip()]
            lines.append("- " + ("｜" if zh else " | ").join(cells))
    elif view.type == "agenda":
        for s in view.slots:
            owner = f"（{s.owner}）" if zh and s.owner else f" ({s.owner})" if s.owner else ""
            lines.append(f"- {s.start}–{s.end} {s.topic}{owner}")
    elif view.type == "budget" and view.budget is not None:
        for line in view.budget.lines:
            lines.append(
                f"- {line.item}{sep}{view._money(line.unit_price)} × {line.quantity} = "
                f"{view._money(line.amount)}"
            )
        lines.append(f"\n**{view._w('total')}{sep}{view.total}**")
        if view.budget.cap is not None:
            remaining = view.budget.remaining or Decimal(0)
            key = "remaining" if remaining >= 0 else "over"
            lines.append(
                f"{view._w('cap')} {view._money(view.budget.cap)}，{view._w(key)} "
                f"{view._money(abs(remaining))}"
                if zh
                else f"{view._w('cap')} {view._money(view.budget.cap)}, {view._w(key).lower()} "
                f"{view._money(abs(remaining))}"
            )
    elif view.type == "flow":
        unit = view._w("hour_unit")
        for step in view.steps:
            mark = (
                f" 【{view._w('approval')}】"
                if zh and step.approval
                else (f" [{view._w('approval')}]" if step.approval else "")
            )
            role = (
                f"（{step.role}）" if zh and step.role else f" ({step.role})" if step.role else ""
            )
            lines.append(f"{step.number}. {step.name}{role}{mark} · {step.hours} {unit}")
        lines.append(f"\n{view._w('total_time')}{sep}{view.total_hours}")
    return f"{heading}\n\n" + "\n".join(lines)


def flow_png(kind: Kind, draft: Draft, *, title: str = "") -> bytes | None:
    """The diagram of the draft's first written ``flow`` section, or None."""
    from docs_gen.flowchart import FlowStep, render_flowchart

    for spec in kind.spec.sections:
        raw = draft.sections.get(spec.id)
        if spec.type == "flow" and raw and raw.get("steps"):
            steps = [
                FlowStep(
                    name=s["name"],
                    role=s.get("role", ""),
                    hours=float(s.get("hours", 24)),
                    approval=bool(s.get("approval")),
                )
                for s in raw["steps"]
            ]
            return render_flowchart(steps, language=draft.language, title=title)
    return None


@dataclass(frozen=True, slots=True)
class RenderedDocument:
    """A draft's files: the Markdown, the .docx built from it, and the flow diagram (if the
    Markdown shows one)."""

    markdown: str
    docx: bytes
    diagram: bytes | None


def render_document(kind: Kind, draft: Draft, facts: BriefFacts) -> RenderedDocument:
    """Render the Markdown once, draw the diagram once, and build the .docx from both."""
    from docs_gen.docx_writer import DocumentInfo, markdown_to_docx

    language = draft.language
    markdown = document_markdown(kind, draft, facts)
    diagram = flow_png(kind, draft) if FLOW_IMAGE in markdown else None
    name = kind.spec.title(language)
    info = DocumentInfo(
        title=draft.title or name,
        language=language,
        subject=name,
        header=f"{name} · {draft.created_at[:10]}",
    )
    pictures = {FLOW_IMAGE: diagram} if diagram else {}
    return RenderedDocument(markdown, markdown_to_docx(markdown, info, images=pictures), diagram)


def document_docx(kind: Kind, draft: Draft, facts: BriefFacts) -> bytes:
    """The document as .docx: its Markdown, with the flow diagram embedded."""
    return render_document(kind, draft, facts).docx


def draft_json(kind: Kind, draft: Draft, facts: BriefFacts) -> dict[str, Any]:
    """The document as data, computed figures included (API and CLI)."""
    out: dict[str, Any] = {
        "id": draft.id,
        "kind": kind.name,
        "language": draft.language,
        "title": draft.title,
        "version": draft.version,
        "sections": [],
    }
    for spec in kind.spec.sections:
        view = section_view(spec, draft, facts, escape=False)
        entry: dict[str, Any] = {
            "id": spec.id,
            "type": spec.type,
            "title": spec.title(draft.language),
        }
        raw = draft.sections.get(spec.id)
        if raw is None:
            entry["failed"] = view.failed
        else:
            entry["content"] = raw
            if view.budget is not None:
                entry["lines"] = [
                    {
                        "item": ln.item,
                        "quantity": ln.quantity,
                        "unit_price": str(ln.unit_price),
                        "amount": str(ln.amount),
                        "note": ln.note,
                    }
                    for ln in view.budget.lines
                ]
                entry["total"] = str(view.budget.total)
                entry["cap"] = str(view.budget.cap) if view.budget.cap is not None else None
                entry["scaled"] = view.budget.scaled
            if view.slots:
                entry["agenda"] = [
                    {
                        "start": s.start,
                        "end": s.end,
                        "minutes": s.minutes,
                        "topic": s.topic,
                        "owner": s.owner,
                    }
                    for s in view.slots
                ]
            if view.steps:
                entry["total_hours"] = total_hours([s.hours for s in view.steps])
        out["sections"].append(entry)
    return out
