"""Document drafting benchmark: seconds per document with the shared model, and how soon the
chat sees the first section (target: within 15 s; sections stream as they are done).

For each built-in kind (event-plan, meeting-plan, workflow) and language, on a realistic brief,
in one process and one run:

- **streamed**: what ``/plan`` does (``docs_gen.draft.draft_sections``): one structured request
  per section, each shown in the chat when it is done. Measured: the time to the first section
  as the chat gets it (its request, the checks, ``section_chat_markdown``), the time to the last
  section, then rendering the Markdown and the .docx, each timed on its own;
- **one request** (the baseline, ``--no-baseline`` skips it): the whole document asked for in a
  single structured request whose answer model combines every section's (``answer_model``,
  keyed by section id), with the same brief, facts and instructions: what a design that does not
  stream would do. Nothing reaches the chat before it is done, so its time to anything is its
  total. The ratios ``one request / streamed first section`` (how much sooner the chat sees
  something) and ``streamed total / one request`` (what streaming costs in all) are the figures
  to compare across runs; the absolute seconds move with whatever else the machine is doing.

Before each document a one-token request on an unrelated prompt empties llama.cpp's prompt
cache, so no document reuses the previous one's brief (a new brief in a running server does not
either). The order of streamed and one request alternates from kind to kind. The model's load
(and assembling its weights, the first time) is timed once, apart: the server loads once.

    .venv/bin/python bench/docs.py                                   # 1.5B, zh, all kinds
    .venv/bin/python bench/docs.py --languages zh,en --json bench/results/docs.json
    .venv/bin/python bench/docs.py --model qwen2.5-coder-0.5b --kinds workflow --no-baseline
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, Field, create_model

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from docs_gen.brief import BriefFacts, read_brief  # noqa: E402
from docs_gen.draft import (  # noqa: E402
    DEFAULT_SECTION_TIMEOUT_S,
    SECTION_SHAPES,
    Draft,
    draft_sections,
    section_max_tokens,
)
from docs_gen.kind import DocumentKinds, Kind, Language  # noqa: E402
from docs_gen.prompts import render  # noqa: E402
from docs_gen.render import (  # noqa: E402
    document_docx,
    document_markdown,
    section_chat_markdown,
    section_view,
)
from docs_gen.sections import (  # noqa: E402
    TITLE_MAX_CHARS,
    answer_model,
    checked_answer,
    is_empty,
)
from llm.config import LLMSettings, ModelName  # noqa: E402
from llm.errors import LLMError  # noqa: E402
from llm.factory import create_llm  # noqa: E402
from llm.service import LLM  # noqa: E402
from llm.structured import structured_sync  # noqa: E402
from llm.types import Completion, GenerationOptions, Message, user  # noqa: E402
from llm.weights import ensure_weights, model_spec  # noqa: E402

FIRST_SECTION_TARGET_S = 15.0
KINDS = ("event-plan", "meeting-plan", "workflow")
BRIEFS: dict[tuple[str, Language], str] = {
    ("event-plan", "zh"): "12月18日（周五）下午2点在总部3楼大会议室办200人的年终总结会，"
    "2小时，预算5万元。内容有CEO致辞、各部门年度回顾、优秀员工颁奖和抽奖，会后茶歇。"
    "行政部牵头，需要主持人、签到、摄影和音响。",
    ("meeting-plan", "zh"): "下周一上午10点在2楼会议室开1个半小时的第四季度复盘会，产品、"
    "研发、市场和客服负责人参加，共8人。回顾Q4目标完成情况、两次线上事故和客户投诉，"
    "定下明年一季度的三个重点项目和负责人。",
    ("workflow", "zh"): "员工差旅报销流程：员工出差回来7天内在OA提交报销单并上传发票，"
    "部门经理审批；超过5000元还要财务总监审批；财务会计核对发票，没问题的3个工作日内打款，"
    "发票有问题的退回员工修改。",
    ("event-plan", "en"): "A product launch party for 120 guests on Friday 12 December from "
    "6pm, 3 hours, at the Riverside Hall, budget $30,000. Keynote by the CEO, a live demo, "
    "customer stories, then drinks and a DJ. Marketing runs it; we need a host, registration, "
    "a photographer and AV.",
    ("meeting-plan", "en"): "A 60-minute design review next Tuesday at 2pm with the mobile "
    "team (designers, iOS and Android leads, the PM, 7 people) to choose between the two new "
    "onboarding flows, using last month's drop-off figures and the usability test results.",
    ("workflow", "en"): "Purchase requests: an employee fills in the request form in the "
    "portal, their manager approves within 2 days, procurement gets three quotes, finance "
    "approves anything over $10,000, then procurement places the order and the employee "
    "confirms delivery.",
}
# The section prompt's wording for one section at a time, and the baseline's for all of them.
_ONE_AT_A_TIME = {
    "zh": ("一次只写其中一节", "一次写完整份文档"),
    "en": (", one section at a time", " in one go"),
}
_NOW_ONLY = {"zh": "现在只写「", "en": "Now write only the section"}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class Tokens:
    """What the model's completions of one document add up to."""

    requests: int = 0
    prompt: int = 0
    cached: int = 0
    completion: int = 0
    prompt_s: float = 0.0
    generation_s: float = 0.0

    @classmethod
    def of(cls, completions: list[Completion]) -> Tokens:
        total = cls()
        for c in completions:
            total.requests += 1
            total.prompt += c.usage.prompt_tokens
            total.cached += c.usage.cached_prompt_tokens
            total.completion += c.usage.completion_tokens
            total.prompt_s += c.prompt_seconds
            total.generation_s += c.generation_seconds
        return total

    def as_json(self) -> dict[str, Any]:
        evaluated = self.prompt - self.cached
        return {
            "requests": self.requests,
            "prompt_tokens": self.prompt,
            "cached_prompt_tokens": self.cached,
            "completion_tokens": self.completion,
            "prompt_tokens_per_s": round(evaluated / self.prompt_s, 1) if self.prompt_s else None,
            "generation_tokens_per_s": round(self.completion / self.generation_s, 2)
            if self.generation_s
            else None,
        }

    def short(self) -> str:
        return f"{self.prompt:,}/{self.cached:,}/{self.completion:,}"


@dataclass
class Recorder:
    """Keeps every ``Completion`` the model returns (the drafting code does not hand them out):
    wraps the service's ``complete_sync``, which ``structured_sync`` calls."""

    llm: LLM
    completions: list[Completion] = field(default_factory=list)

    def __post_init__(self) -> None:
        original = self.llm.complete_sync

        def complete_sync(messages: Any, **kwargs: Any) -> Completion:
            completion = original(messages, **kwargs)
            self.completions.append(completion)
            return completion

        self.llm.complete_sync = complete_sync  # type: ignore[method-assign]

    def since(self, mark: int) -> list[Completion]:
        return self.completions[mark:]


def empty_prompt_cache(llm: LLM) -> None:
    """One token on an unrelated prompt: the next request's prompt is evaluated in full."""
    llm.complete_sync([user("ok")], options=GenerationOptions(max_tokens=1, temperature=0.0))


def streamed(
    llm: LLM, recorder: Recorder, kind: Kind, facts: BriefFacts, timeout: float
) -> dict[str, Any]:
    """The document as ``/plan`` drafts it, section by section."""
    empty_prompt_cache(llm)
    draft = Draft(kind=kind.name, language=facts.language, brief=facts.text)
    start_mark = mark = len(recorder.completions)
    sections: list[dict[str, Any]] = []
    started = time.perf_counter()
    last = started
    first_s: float | None = None
    for spec in draft_sections(llm, kind, facts, draft, timeout=timeout):
        before = len(recorder.completions)
        # what the chat is sent for this section (plugins/builtin/docs.py does the same)
        section_chat_markdown(section_view(spec, draft, facts))
        now = time.perf_counter()
        if first_s is None:
            first_s = now - started
        tokens = Tokens.of(recorder.completions[mark:before])
        mark = before
        sections.append(
            {
                "id": spec.id,
                "type": spec.type,
                "written": spec.id in draft.sections,
                "failed": draft.failed.get(spec.id),
                "done_at_s": round(now - started, 2),
                "seconds": round(now - last, 2),
                **tokens.as_json(),
            }
        )
        print(
            f"    {spec.id:<12} {now - last:6.1f} s (at {now - started:6.1f} s) "
            f"{'written' if spec.id in draft.sections else 'FAILED: ' + draft.failed[spec.id]}; "
            f"tokens prompt/cached/completion {tokens.short()} in {tokens.requests} request(s)",
            flush=True,
        )
        last = now
    model_s = time.perf_counter() - started
    rendered = time.perf_counter()
    markdown = document_markdown(kind, draft, facts)
    markdown_s = time.perf_counter() - rendered
    rendered = time.perf_counter()
    docx = document_docx(kind, draft, facts)
    docx_s = time.perf_counter() - rendered
    all_tokens = Tokens.of(recorder.since(start_mark))
    assert first_s is not None
    return {
        "title": draft.title,
        "sections": sections,
        "written": len(draft.sections),
        "failed": sorted(draft.failed),
        "first_section_s": round(first_s, 2),
        "first_section_written": sections[0]["written"],
        "sections_s": round(model_s, 2),
        "markdown_s": round(markdown_s, 4),
        "docx_s": round(docx_s, 3),
        "total_s": round(model_s + markdown_s + docx_s, 2),
        "markdown_chars": len(markdown),
        "docx_bytes": len(docx),
        "tokens": all_tokens.as_json(),
        "first_section_pass": first_s <= FIRST_SECTION_TARGET_S and sections[0]["written"],
    }


def whole_document_model(kind: Kind) -> type[BaseModel]:
    """Every section's answer model, keyed by section id, and the document's title."""
    fields: dict[str, Any] = {"title": (str, Field(min_length=2, max_length=TITLE_MAX_CHARS))}
    for spec in kind.spec.sections:
        fields[spec.id] = (answer_model(spec), ...)
    name = kind.name.title().replace("-", "") + "Document"
    model: type[BaseModel] = create_model(name, **fields)
    return model


def whole_document_messages(kind: Kind, facts: BriefFacts) -> list[Message]:
    """The section prompt with the same brief, facts and delimiting, asking for every section
    at once (each section's instruction and shape, under its id)."""
    language = facts.language
    zh = language == "zh"
    first = kind.spec.sections[0]
    messages = render(
        "section",
        language,
        kind_title=kind.spec.title(language),
        kind_description=kind.spec.description(language),
        brief=facts.text,
        facts=facts.facts_text(),
        current="",
        instruction="",
        section_title=first.title(language),
        section_hint=first.hint(language),
        shape=SECTION_SHAPES[first.type][0 if zh else 1],
        with_title=True,
    )
    one, all_at_once = _ONE_AT_A_TIME[language]
    lines = []
    for spec in kind.spec.sections:
        shape = SECTION_SHAPES[spec.type][0 if zh else 1]
        title = spec.title(language)
        lines.append(
            f"- {spec.id}「{title}」：{spec.hint(language)}{shape}"
            if zh
            else f'- {spec.id} ("{title}"): {spec.hint(language)} {shape}'
        )
    sections = "\n".join(lines)
    ask = (
        f"现在一次写完整份文档，共 {len(lines)} 节。JSON 对象里每一节的键是它的 id：\n{sections}\n"
        "另外给整份文档起一个标题 title（不超过 20 个字，不要加书名号）。\n输出一个 JSON 对象。"
        if zh
        else f"Now write the whole document, all {len(lines)} sections. In the JSON object each "
        f"section's key is its id:\n{sections}\nAlso give the whole document a title (at most "
        "8 words).\nAnswer with one JSON object."
    )
    out = []
    for message in messages:
        content = message.content
        if message.role == "system":
            if one not in content:
                raise RuntimeError(f"the section prompt's system text no longer says {one!r}")
            content = content.replace(one, all_at_once)
        elif message.role == "user":
            head, found, _ = content.partition(_NOW_ONLY[language])
            if not found:
                raise RuntimeError("the section prompt no longer ends with its instruction")
            content = head + ask
        out.append(Message(role=message.role, content=content))
    return out


def one_request(
    llm: LLM, recorder: Recorder, kind: Kind, facts: BriefFacts, timeout: float
) -> dict[str, Any]:
    """The whole document in one structured request (nothing to show until it is done)."""
    empty_prompt_cache(llm)
    model = whole_document_model(kind)
    messages = whole_document_messages(kind, facts)
    max_tokens = 40 + sum(section_max_tokens(spec, False) for spec in kind.spec.sections)
    mark = len(recorder.completions)
    started = time.perf_counter()
    error = ""
    answer: BaseModel | None = None
    try:
        answer = structured_sync(
            llm,
            messages,
            model,
            options=GenerationOptions(max_tokens=max_tokens, temperature=0.0),
            timeout=timeout,
            retries=1,
        )
    except LLMError as exc:
        error = getattr(exc, "message", None) or str(exc)
    seconds = time.perf_counter() - started
    tokens = Tokens.of(recorder.since(mark))
    written: list[str] = []
    failed: list[str] = []
    brief = f"{facts.text}\n{facts.facts_text()}"
    for spec in kind.spec.sections:
        part = getattr(answer, spec.id, None) if answer is not None else None
        if part is not None and not is_empty(spec, checked_answer(spec, part, brief)):
            written.append(spec.id)
        else:
            failed.append(spec.id)
    print(
        f"    one request {seconds:6.1f} s, max_tokens {max_tokens}: "
        f"{'valid' if answer is not None else 'FAILED: ' + error.splitlines()[0]}; "
        f"{len(written)}/{len(kind.spec.sections)} sections written; tokens prompt/cached/"
        f"completion {tokens.short()} in {tokens.requests} request(s)",
        flush=True,
    )
    return {
        "seconds": round(seconds, 2),
        "valid": answer is not None,
        "error": error,
        "title": str(getattr(answer, "title", "") or ""),
        "max_tokens": max_tokens,
        "written": len(written),
        "failed": failed,
        "tokens": tokens.as_json(),
    }


def table(results: list[dict[str, Any]], baseline: bool) -> str:
    header = [
        "kind",
        "lang",
        "sections ok/all",
        "first section",
        f"≤{FIRST_SECTION_TARGET_S:.0f} s",
        "all sections",
        ".md",
        ".docx",
        "total",
        "tokens p/cached/c",
    ]
    if baseline:
        header += ["one request (ok/all)", "first: sooner", "total: streamed/one"]
    rows = [header, ["---"] * len(header)]
    for r in results:
        s = r["streamed"]
        t = s["tokens"]
        row = [
            r["kind"],
            r["language"],
            f"{s['written']}/{r['sections']}",
            f"{s['first_section_s']:.1f} s",
            "PASS" if s["first_section_pass"] else "FAIL",
            f"{s['sections_s']:.1f} s",
            f"{s['markdown_s'] * 1000:.1f} ms",
            f"{s['docx_s'] * 1000:.0f} ms",
            f"{s['total_s']:.1f} s",
            f"{t['prompt_tokens']:,}/{t['cached_prompt_tokens']:,}/{t['completion_tokens']:,}",
        ]
        if baseline:
            b = r["one_request"]
            row += [
                f"{b['seconds']:.1f} s ({b['written']}/{r['sections']}"
                f"{'' if b['valid'] else ', invalid'})",
                f"{r['first_sooner']:.1f}x",
                f"{r['total_ratio']:.2f}x",
            ]
        rows.append(row)
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", choices=get_args(ModelName))
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kind names")
    parser.add_argument("--languages", default="zh", help="zh, en or zh,en")
    parser.add_argument("--context", type=int, default=8192)
    parser.add_argument("--cache", type=Path, default=ROOT / "data" / "models")
    parser.add_argument("--section-timeout", type=float, default=DEFAULT_SECTION_TIMEOUT_S)
    parser.add_argument(
        "--baseline-timeout", type=float, default=900.0, help="the one request's time limit"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the one request")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args()
    kind_names = [k.strip() for k in args.kinds.split(",") if k.strip()]
    languages: list[Language] = []
    for lang in args.languages.split(","):
        if lang.strip() not in ("zh", "en"):
            parser.error(f"unknown language {lang!r}: zh or en")
        languages.append("en" if lang.strip() == "en" else "zh")
    baseline = not args.no_baseline
    kinds = DocumentKinds()
    for name in kind_names:
        for lang in languages:
            if (kinds.get(name).name, lang) not in BRIEFS:
                parser.error(f"no brief for {name} in {lang}")

    load_before = load_average()
    print(f"load average {load_before} on {os.cpu_count()} cores", flush=True)
    started = time.perf_counter()
    ensure_weights(model_spec(args.model), args.cache)
    weights_s = time.perf_counter() - started
    print(f"{args.model} weights ready in {weights_s:.1f} s (assembled once into {args.cache})")
    llm = create_llm(
        LLMSettings(
            model=args.model,
            cache_dir=args.cache,
            context_tokens=args.context,
            # the one request writes every section: its output must not be cut at 1,024 tokens
            max_output_tokens=4096,
            request_timeout_s=max(args.baseline_timeout, args.section_timeout),
            warm_up=False,
        ),
        data_dir=args.cache,
    )
    recorder = Recorder(llm)
    started = time.perf_counter()
    llm.backend()
    load_s = time.perf_counter() - started
    print(f"{args.model} loaded in {load_s:.1f} s (once; not part of any document's time)")

    results: list[dict[str, Any]] = []
    bench_started = time.perf_counter()
    for lang in languages:
        for name in kind_names:
            kind = kinds.get(name)
            facts = read_brief(BRIEFS[(kind.name, lang)], language=lang)
            print(
                f"\n{kind.name} ({lang}), {len(kind.spec.sections)} sections; facts: "
                f"{facts.facts_text().replace(chr(10), '; ') or 'none'}",
                flush=True,
            )
            row: dict[str, Any] = {
                "kind": kind.name,
                "language": lang,
                "sections": len(kind.spec.sections),
                "brief": facts.text,
                "load_average_before": load_average(),
            }
            order = ["streamed", "one_request"] if baseline else ["streamed"]
            if baseline and len(results) % 2:
                order.reverse()
            for run in order:
                if run == "streamed":
                    print("  streamed:", flush=True)
                    row["streamed"] = streamed(llm, recorder, kind, facts, args.section_timeout)
                else:
                    print("  one request:", flush=True)
                    row["one_request"] = one_request(
                        llm, recorder, kind, facts, args.baseline_timeout
                    )
            s = row["streamed"]
            verdict = "PASS" if s["first_section_pass"] else "FAIL"
            line = (
                f"  => first section {s['first_section_s']:.1f} s ({verdict}: target "
                f"≤ {FIRST_SECTION_TARGET_S:.0f} s), all sections {s['sections_s']:.1f} s, "
                f".md {s['markdown_s'] * 1000:.1f} ms, .docx {s['docx_s'] * 1000:.0f} ms, "
                f"{s['written']}/{row['sections']} written"
            )
            if baseline:
                b = row["one_request"]
                row["first_sooner"] = round(b["seconds"] / s["first_section_s"], 2)
                row["total_ratio"] = round(s["sections_s"] / b["seconds"], 3)
                line += (
                    f"; one request {b['seconds']:.1f} s: first section "
                    f"{row['first_sooner']:.1f}x sooner, all sections "
                    f"{row['total_ratio']:.2f}x the one request"
                )
            row["load_average_after"] = load_average()
            print(
                line + f"; peak RSS {peak_rss_mb():.0f} MB; load average "
                f"{row['load_average_before']} before, {row['load_average_after']} after",
                flush=True,
            )
            results.append(row)
    bench_s = time.perf_counter() - bench_started
    load_after = load_average()
    stats = llm.stats().as_json()
    llm.close()

    print(f"\n{args.model}, loaded in {load_s:.1f} s; {len(results)} documents in {bench_s:.0f} s")
    print(table(results, baseline))
    passed = sum(1 for r in results if r["streamed"]["first_section_pass"])
    print(
        f"\nfirst section within {FIRST_SECTION_TARGET_S:.0f} s: {passed}/{len(results)} "
        f"documents ({'PASS' if passed == len(results) else 'FAIL'})"
    )
    if baseline:
        sooner = sorted(r["first_sooner"] for r in results)
        ratio = sorted(r["total_ratio"] for r in results)
        print(
            f"first section vs one request: {sooner[0]:.1f}x-{sooner[-1]:.1f}x sooner; "
            f"all sections vs one request: {ratio[0]:.2f}x-{ratio[-1]:.2f}x"
        )
    print(
        f"tokens/s (the service's last 20 requests): prompt "
        f"{stats['prompt_tokens_per_second']}, generation {stats['generation_tokens_per_second']}"
        f"; load average {load_before} before, {load_after} after; peak RSS "
        f"{peak_rss_mb():.0f} MB"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "model": args.model,
                    "cores": os.cpu_count(),
                    "weights_ready_s": round(weights_s, 2),
                    "load_s": round(load_s, 2),
                    "bench_s": round(bench_s, 1),
                    "load_average": {"before": load_before, "after": load_after},
                    "first_section_target_s": FIRST_SECTION_TARGET_S,
                    "llm_stats": stats,
                    "peak_rss_mb": round(peak_rss_mb()),
                    "results": results,
                },
                ensure_ascii=False,
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
