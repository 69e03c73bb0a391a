"""Drafting a document: the shared model fills the sections one request at a time.

Each section is one structured request (its answer model bounds every list and string), so a
section is ready, checked and shown before the next begins: the chat sees the first section
seconds after the brief, not the whole document minutes later. The brief and the facts open
every request and the section's instruction comes last, so the model's prompt cache reuses the
shared beginning. A section the model cannot write is recorded as failed (the rest go on) and
can be written again with a revision.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from docs_gen.brief import BriefFacts, first_clause
from docs_gen.errors import DocumentError
from docs_gen.kind import Kind, Language, SectionSpec
from docs_gen.prompts import render
from docs_gen.sections import TITLE_MAX_CHARS, answer_model, checked_answer, is_empty
from llm.errors import LLMError
from llm.guardrails import bound_text
from llm.service import LLM
from llm.structured import structured_sync
from llm.types import GenerationOptions, Priority

log = logging.getLogger(__name__)

DEFAULT_SECTION_TIMEOUT_S = 240.0
Progress = Callable[[str, float], None]

SECTION_SHAPES: dict[str, tuple[str, str]] = {  # what each type of answer looks like (zh, en)
    "text": ("text 写成一段话。", "Write text as one paragraph."),
    "list": ("items 每项一句话。", "items: one sentence each."),
    "numbered": ("items 按先后顺序，每项一步。", "items: one step each, in order."),
    "checklist": (
        "items 是需要逐项确认的事项，每项以动词开头。",
        "items: things to tick off, each starting with a verb.",
    ),
    "table": ("rows 每行填写各列。", "rows: fill every column of each row."),
    "agenda": (
        "items 按时间顺序；minutes 是这一项的分钟数，owner 是负责的角色或简介中的人。",
        "items in order; minutes is that item's length, owner the role or person in charge.",
    ),
    "budget": (
        "items 每项是一笔开支：quantity 是数量，unit_price 是单价（数字，不带单位），"
        "note 是说明；不要写合计。",
        "items: one expense each, quantity and unit_price (a plain number) and a note; no totals.",
    ),
    "flow": (
        "steps 按办理顺序：name 是这一步做什么（动宾短语），role 是谁来做，hours 是这一步的"
        "时限（小时），approval 表示这一步是否是审批。",
        "steps in order: name says what is done, role who does it, hours the step's time "
        "limit, approval whether it is an approval.",
    ),
}


@dataclass
class Draft:
    """A document as drafted so far: the model's checked answers per section, the title, and
    the sections that failed (with why). JSON-serializable (``as_json``/``from_json``)."""

    kind: str
    language: Language
    brief: str
    title: str = ""
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    version: int = 1
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    revised: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "language": self.language,
            "brief": self.brief,
            "title": self.title,
            "sections": self.sections,
            "failed": self.failed,
            "version": self.version,
            "created_at": self.created_at,
            "revised": self.revised,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Draft:
        return cls(
            kind=str(data["kind"]),
            language="en" if data.get("language") == "en" else "zh",
            brief=str(data.get("brief", "")),
            title=str(data.get("title", "")),
            sections={str(k): dict(v) for k, v in dict(data.get("sections", {})).items()},
            failed={str(k): str(v) for k, v in dict(data.get("failed", {})).items()},
            id=str(data.get("id") or secrets.token_hex(8)),
            version=int(data.get("version", 1)),
            created_at=str(data.get("created_at") or datetime.now(UTC).isoformat()),
            revised=list(data.get("revised", [])),
        )


def fallback_title(kind: Kind, facts: BriefFacts) -> str:
    """A title from the brief's first clause when the model gave none."""
    name = kind.spec.title(facts.language)
    joiner = "：" if facts.language == "zh" else ": "
    return bound_text(f"{name}{joiner}{first_clause(facts.text)}", TITLE_MAX_CHARS)


def _current_text(raw: dict[str, Any]) -> str:
    return json.dumps(raw, ensure_ascii=False, indent=1)


def section_max_tokens(spec: SectionSpec, with_title: bool) -> int:
    """The output bound of one section's request (its items at their longest, and the title)."""
    per_item = {
        "text": 0,
        "table": 25 * max(1, len(spec.columns)),
        "agenda": 40,
        "budget": 45,
        "flow": 40,
    }.get(spec.type, 35)
    body = spec.max_chars + 20 if spec.type == "text" else spec.max_items * per_item + 20
    return min(1200, body + (40 if with_title else 0) + 20)


def write_section(
    llm: LLM,
    kind: Kind,
    facts: BriefFacts,
    spec: SectionSpec,
    *,
    with_title: bool = False,
    current: dict[str, Any] | None = None,
    instruction: str = "",
    timeout: float = DEFAULT_SECTION_TIMEOUT_S,
    priority: Priority = Priority.BACKGROUND,
) -> tuple[dict[str, Any], str]:
    """One section's checked answer (and the title, when asked for it)."""
    language = facts.language
    zh = language == "zh"
    messages = render(
        "section",
        language,
        kind_title=kind.spec.title(language),
        kind_description=kind.spec.description(language),
        brief=facts.text,
        facts=facts.facts_text(),
        current=_current_text(current) if current else "",
        instruction=instruction,
        section_title=spec.title(language),
        section_hint=spec.hint(language),
        shape=SECTION_SHAPES[spec.type][0 if zh else 1],
        with_title=with_title,
    )
    model = answer_model(spec, with_title=with_title)
    answer = structured_sync(
        llm,
        messages,
        model,
        options=GenerationOptions(max_tokens=section_max_tokens(spec, with_title), temperature=0.0),
        priority=priority,
        timeout=timeout,
        retries=1,
    )
    # the brief and its figures: an item that only repeats them is dropped
    raw = checked_answer(spec, answer, f"{facts.text}\n{facts.facts_text()}")
    if is_empty(spec, raw):
        raise DocumentError(f"the model left section {spec.id!r} empty")
    title = str(getattr(answer, "title", "") or "").strip().strip("《》\"'“”")
    return raw, title


def draft_sections(
    llm: LLM,
    kind: Kind,
    facts: BriefFacts,
    draft: Draft,
    *,
    timeout: float = DEFAULT_SECTION_TIMEOUT_S,
    progress: Progress | None = None,
) -> Iterator[SectionSpec]:
    """Fill ``draft`` section by section, yielding each section's spec when it is done (or
    failed: see ``draft.failed``), so a caller can show it at once."""
    sections = kind.spec.sections
    for index, spec in enumerate(sections):
        if progress:
            progress(spec.id, 100 * index / len(sections))
        with_title = not draft.title
        try:
            raw, title = write_section(
                llm, kind, facts, spec, with_title=with_title, timeout=timeout
            )
        except (LLMError, DocumentError) as exc:
            reason = getattr(exc, "message", None) or str(exc)
            log.warning("section %s of a %s could not be written: %s", spec.id, kind.name, reason)
            draft.failed[spec.id] = bound_text(reason, 300)
        else:
            draft.sections[spec.id] = raw
            draft.failed.pop(spec.id, None)
            if with_title and title:
                draft.title = bound_text(title, TITLE_MAX_CHARS)
        if not draft.title and index == 0:
            draft.title = fallback_title(kind, facts)
        yield spec
    if progress:
        progress("done", 100)


def draft_document(
    llm: LLM,
    kind: Kind,
    facts: BriefFacts,
    *,
    timeout: float = DEFAULT_SECTION_TIMEOUT_S,
    progress: Progress | None = None,
    on_section: Callable[[SectionSpec, Draft], None] | None = None,
) -> Draft:
    """The whole document (``draft_sections`` run to the end)."""
    draft = Draft(kind=kind.name, language=facts.language, brief=facts.text)
    for spec in draft_sections(llm, kind, facts, draft, timeout=timeout, progress=progress):
        if on_section:
            on_section(spec, draft)
    return draft


def revise_section(
    llm: LLM,
    kind: Kind,
    facts: BriefFacts,
    draft: Draft,
    section: str,
    instruction: str,
    *,
    timeout: float = DEFAULT_SECTION_TIMEOUT_S,
    priority: Priority = Priority.BACKGROUND,
) -> SectionSpec:
    """Rewrite one section of ``draft`` as ``instruction`` asks (in place; the version goes up).
    A failed section is written afresh."""
    spec = kind.spec.section(section)
    instruction = " ".join(instruction.split())
    if not instruction:
        raise DocumentError(
            "say how the section should change, e.g. /plan revise budget 加上场地布置费用"
        )
    raw, _ = write_section(
        llm,
        kind,
        facts,
        spec,
        current=draft.sections.get(spec.id),
        instruction=bound_text(instruction, 500),
        timeout=timeout,
        priority=priority,
    )
    draft.sections[spec.id] = raw
    draft.failed.pop(spec.id, None)
    draft.version += 1
    draft.revised.append(
        {"section": spec.id, "instruction": instruction, "at": datetime.now(UTC).isoformat()}
    )
    return spec
