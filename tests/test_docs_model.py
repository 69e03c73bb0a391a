"""Each kind of document drafted by the real model (the fast 0.5B one: the plumbing and the
checks are the point here, not the prose), in Chinese and in English: every section written
in the brief's language, the figures computed by code consistent with the brief, the .docx read
back with python-docx, a section revised, and one document converted to PDF by LibreOffice."""

from __future__ import annotations

import io
import itertools
import shutil
import subprocess
from pathlib import Path

import docx
import pytest

from docs_gen.brief import read_brief
from docs_gen.draft import Draft, draft_document, revise_section
from docs_gen.kind import DocumentKinds
from docs_gen.render import document_docx, document_markdown, draft_json
from llm.prompts import detect_language
from llm.service import LLM

KINDS = DocumentKinds()
BRIEFS = {
    ("event-plan", "zh"): "12月18日下午2点在3楼大会议室办200人的年终总结会，预算5万，2小时",
    ("event-plan", "en"): "A product launch party for 120 guests on Friday from 6pm, "
    "3 hours, budget $30,000",
    ("meeting-plan", "zh"): "下周一上午10点开1个半小时的季度复盘会，产品、研发和市场负责人参加",
    ("meeting-plan", "en"): "A 60-minute design review at 2pm with the mobile team to "
    "choose the new onboarding flow",
    ("workflow", "zh"): "员工报销流程：员工提交发票，部门经理审批，超过5000元还要财务总监审批，"
    "财务打款",
    ("workflow", "en"): "Purchase requests: an employee asks, the manager approves, "
    "procurement gets quotes, finance approves over $10,000, then the order is placed",
}


def _texts(draft: Draft) -> str:
    parts = []
    for raw in draft.sections.values():
        for value in raw.values():
            for entry in value if isinstance(value, list) else [value]:
                if isinstance(entry, dict):
                    parts += [str(v) for v in entry.values() if isinstance(v, str)]
                else:
                    parts.append(str(entry))
    return " ".join(parts)


@pytest.mark.parametrize(("kind_name", "language"), sorted(BRIEFS))
def test_each_kind_in_each_language(small_llm: LLM, kind_name: str, language: str) -> None:
    kind = KINDS.get(kind_name)
    facts = read_brief(BRIEFS[(kind_name, language)])
    assert facts.language == language
    done: list[str] = []
    draft = draft_document(
        small_llm, kind, facts, timeout=180, on_section=lambda spec, _: done.append(spec.id)
    )
    assert done == [s.id for s in kind.spec.sections]  # in order, one at a time
    assert draft.title
    # a small model may fail a section; the document still comes out, saying which
    assert len(draft.sections) >= len(kind.spec.sections) - 1, draft.failed
    assert detect_language(_texts(draft)) == language
    data = draft_json(kind, draft, facts)
    for section in data["sections"]:
        if "total" in section:  # budget: the total is the sum of the lines, within the cap
            assert sum(float(line["amount"]) for line in section["lines"]) == float(
                section["total"]
            )
            assert facts.budget is not None
            assert float(section["total"]) <= facts.budget
        if "agenda" in section:  # the agenda starts when the brief says and fills its time
            slots = section["agenda"]
            assert (
                slots[0]["start"] == f"{facts.start_minute // 60:02d}:{facts.start_minute % 60:02d}"
            )
            assert sum(s["minutes"] for s in slots) == facts.duration_minutes
            assert all(a["end"] == b["start"] for a, b in itertools.pairwise(slots))
    document = docx.Document(io.BytesIO(document_docx(kind, draft, facts)))
    headings = [p.text for p in document.paragraphs if p.style and p.style.name == "Heading 1"]
    assert headings == [s.title(language) for s in kind.spec.sections]  # type: ignore[arg-type]
    if kind_name == "workflow" and "steps" in draft.sections:
        assert len(document.inline_shapes) == 1  # the flow diagram


def test_a_section_is_revised_and_the_figures_follow(small_llm: LLM) -> None:
    kind = KINDS.get("event-plan")
    facts = read_brief(BRIEFS[("event-plan", "zh")])
    draft = Draft(kind=kind.name, language="zh", brief=facts.text, title="年终总结会")
    draft.sections["budget"] = {
        "items": [{"item": "场地", "quantity": 1, "unit_price": 10000, "note": ""}]
    }
    spec = revise_section(small_llm, kind, facts, draft, "预算", "加上餐饮和奖品两项", timeout=180)
    assert spec.id == "budget"
    assert draft.version == 2
    assert draft.revised[0]["section"] == "budget"
    lines = draft.sections["budget"]["items"]
    assert len(lines) >= 1
    budget = next(s for s in draft_json(kind, draft, facts)["sections"] if s["id"] == "budget")
    assert float(budget["total"]) == sum(float(line["amount"]) for line in budget["lines"])


def test_a_drafted_document_converts_to_pdf(small_llm: LLM, tmp_path: Path) -> None:
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office is None:
        pytest.fail("LibreOffice is missing: `make setup` installs libreoffice-writer-nogui")
    kind = KINDS.get("meeting-plan")
    facts = read_brief(BRIEFS[("meeting-plan", "zh")])
    draft = draft_document(small_llm, kind, facts, timeout=180)
    path = tmp_path / "plan.docx"
    path.write_bytes(document_docx(kind, draft, facts))
    (tmp_path / "plan.md").write_text(document_markdown(kind, draft, facts), encoding="utf-8")
    profile = (tmp_path / "profile").as_uri()
    result = subprocess.run(
        [
            office,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    pdf = tmp_path / "plan.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
