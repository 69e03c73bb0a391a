"""Measuring the model layer: wall time and tokens/s per request, paired comparisons, peak memory.

``measure(llm, prompts, repeat)`` is what a CLI calls: fixed prompts through one ``LLM``, greedy,
with a fixed ``max_tokens`` and seed, several times. ``run_interleaved`` compares several runners
(the service over a backend, or ``DirectLlamaCpp``: xllamacpp's handler called with the same
request body and nothing of officebot around it) on the same prompts, rotating their order from
one request to the next so that a machine growing busier or quieter over the run is charged to
all of them alike; ``paired_ratios`` then compares two runners request by request (same prompt,
same repetition) and the medians of those ratios are the figures to quote.

Prompt and generation speeds come from each backend's own timings (llama.cpp's ``prompt_ms`` and
``predicted_ms``; the transformers backend's time to first token and the time after it), so they
are comparable only roughly; wall time per request is measured here, the same way for all.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from llm.backends.base import Backend, TextCallback
from llm.service import LLM
from llm.types import (
    Completion,
    GenerationOptions,
    Message,
    Priority,
    Usage,
    system,
    user,
)

SEED = 42


@dataclass(frozen=True, slots=True)
class BenchPrompt:
    """One fixed request: its messages and how many tokens it may generate."""

    name: str
    messages: tuple[Message, ...]
    max_tokens: int = 96

    def options(self) -> GenerationOptions:
        """Greedy and seeded, so every runner and every repetition does the same work."""
        return GenerationOptions(max_tokens=self.max_tokens, temperature=0.0, seed=SEED)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One request as one runner served it."""

    runner: str
    prompt: str
    repetition: int
    wall_seconds: float
    prompt_tokens: int
    completion_tokens: int
    prompt_seconds: float
    generation_seconds: float
    finish_reason: str
    text: str

    @property
    def prompt_tokens_per_second(self) -> float:
        return self.prompt_tokens / self.prompt_seconds if self.prompt_seconds > 0 else 0.0

    @property
    def generation_tokens_per_second(self) -> float:
        if self.generation_seconds <= 0:
            return 0.0
        return self.completion_tokens / self.generation_seconds

    def as_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "prompt_tokens_per_second": round(self.prompt_tokens_per_second, 2),
            "generation_tokens_per_second": round(self.generation_tokens_per_second, 2),
        }


class Runner(Protocol):
    """Something that serves a ``BenchPrompt`` and says how it went."""

    @property
    def label(self) -> str: ...

    def run(self, prompt: BenchPrompt, repetition: int) -> Measurement: ...


class ServiceRunner:
    """Requests through officebot's model service: its queue, worker thread and backend."""

    def __init__(self, llm: LLM, label: str | None = None) -> None:
        self._llm = llm
        self._label = label

    @property
    def label(self) -> str:
        if self._label is None:
            backend = self._llm.backend()
            self._label = f"officebot/{backend.name}"
        return self._label

    def run(self, prompt: BenchPrompt, repetition: int) -> Measurement:
        started = time.perf_counter()
        completion = self._llm.complete_sync(
            prompt.messages, options=prompt.options(), priority=Priority.INTERACTIVE
        )
        wall = time.perf_counter() - started
        return Measurement(
            runner=self.label,
            prompt=prompt.name,
            repetition=repetition,
            wall_seconds=wall,
            prompt_tokens=completion.usage.evaluated_prompt_tokens,
            completion_tokens=completion.usage.completion_tokens,
            prompt_seconds=completion.prompt_seconds,
            generation_seconds=completion.generation_seconds,
            finish_reason=completion.finish_reason,
            text=completion.text,
        )


class DirectLlamaCpp:
    """The baseline: ``xllamacpp.Server.handle_chat_completions`` called directly.

    ``body`` builds the request (pass ``LlamaCppBackend.request_body`` so that both send the
    same bytes); the callback only collects the streamed chunks, as any caller must.
    """

    def __init__(
        self,
        server: Any,
        body: Callable[
            [Sequence[Message], GenerationOptions, dict[str, Any] | None], dict[str, Any]
        ],
        label: str = "xllamacpp",
    ) -> None:
        self._server = server
        self._body = body
        self._label = label

    @property
    def label(self) -> str:
        return self._label

    def run(self, prompt: BenchPrompt, repetition: int) -> Measurement:
        pieces: list[str] = []
        last: dict[str, Any] = {}

        def receive(chunk: Any) -> bool:
            if not isinstance(chunk, dict):
                return False
            for choice in chunk.get("choices") or ():
                content = (choice.get("delta") or {}).get("content")
                if content:
                    pieces.append(content)
                if choice.get("finish_reason"):
                    last["finish_reason"] = choice["finish_reason"]
            for key in ("usage", "timings", "error"):
                if chunk.get(key):
                    last[key] = chunk[key]
            return False

        body = self._body(prompt.messages, prompt.options(), None)
        started = time.perf_counter()
        result = self._server.handle_chat_completions(body, receive)
        wall = time.perf_counter() - started
        error = last.get("error") or (result.get("error") if isinstance(result, dict) else None)
        if error is not None:
            raise RuntimeError(f"llama.cpp refused the benchmark request: {error}")
        usage: dict[str, Any] = last.get("usage") or {}
        timings: dict[str, Any] = last.get("timings") or {}
        return Measurement(
            runner=self._label,
            prompt=prompt.name,
            repetition=repetition,
            wall_seconds=wall,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            prompt_seconds=float(timings.get("prompt_ms", 0.0)) / 1000,
            generation_seconds=float(timings.get("predicted_ms", 0.0)) / 1000,
            finish_reason=str(last.get("finish_reason", "")),
            text="".join(pieces),
        )


Progress = Callable[[Measurement], None]


def run_interleaved(
    runners: Sequence[Runner],
    prompts: Sequence[BenchPrompt],
    repeat: int,
    *,
    repeat_of: Mapping[str, int] | None = None,
    progress: Progress | None = None,
) -> list[Measurement]:
    """Each prompt through each runner, ``repeat`` times, the runners' order rotating each time.

    ``repeat_of`` lowers the count for slow runners (by label): they take part in the first
    repetitions only, still interleaved with the others.
    """
    limits = dict(repeat_of or {})
    results: list[Measurement] = []
    turn = 0
    for repetition in range(repeat):
        for prompt in prompts:
            active = [r for r in runners if repetition < limits.get(r.label, repeat)]
            if not active:
                continue
            shift = turn % len(active)
            turn += 1
            for runner in active[shift:] + active[:shift]:
                measurement = runner.run(prompt, repetition)
                results.append(measurement)
                if progress is not None:
                    progress(measurement)
    return results


def measure(
    llm: LLM, prompts: Sequence[BenchPrompt], repeat: int = 3, *, label: str | None = None
) -> list[Measurement]:
    """Every prompt through ``llm``, ``repeat`` times (load the model first: not timed here)."""
    return run_interleaved([ServiceRunner(llm, label)], prompts, repeat)


class _Instant:
    """A backend that answers at once, streaming ``max_tokens`` one-character pieces; token
    counting and limits are the real backend's. The service around it costs what it costs
    around any backend."""

    def __init__(self, real: Backend) -> None:
        self._real = real

    @property
    def name(self) -> str:
        return "instant"

    @property
    def model_name(self) -> str:
        return self._real.model_name

    @property
    def context_window(self) -> int:
        return self._real.context_window

    @property
    def supports_json_schema(self) -> bool:
        return self._real.supports_json_schema

    def complete(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        *,
        json_schema: dict[str, Any] | None = None,
        on_text: TextCallback | None = None,
    ) -> Completion:
        for _ in range(options.max_tokens):
            if on_text is not None and on_text("x"):
                break
        return Completion(
            text="x" * options.max_tokens,
            finish_reason="length",
            usage=Usage(1, options.max_tokens),
            backend=self.name,
            model=self.model_name,
        )

    def count_tokens(self, text: str) -> int:
        return self._real.count_tokens(text)

    def close(self) -> None:
        """The real backend belongs to the caller."""


def layer_cost(real: Backend, prompts: Sequence[BenchPrompt], repeat: int = 30) -> dict[str, float]:
    """Median seconds officebot's service adds to a request, per prompt, measured alone: the
    service (queue, worker thread, the context check's token count, per-piece callbacks) around
    a backend that answers at once. Far below the noise of paired wall times on a busy machine."""
    llm = LLM(lambda: _Instant(real), timeout=3600, max_output_tokens=32768)
    try:
        llm.complete_sync([user("warm up")], options=GenerationOptions(max_tokens=1))
        costs: dict[str, float] = {}
        for prompt in prompts:
            seconds = []
            for _ in range(repeat):
                started = time.perf_counter()
                llm.complete_sync(prompt.messages, options=prompt.options())
                seconds.append(time.perf_counter() - started)
            costs[prompt.name] = statistics.median(seconds)
        return costs
    finally:
        llm.close()


@dataclass(frozen=True, slots=True)
class Summary:
    """Medians of one runner on one prompt."""

    runner: str
    prompt: str
    runs: int
    wall_seconds: float
    prompt_tokens: int
    completion_tokens: int
    prompt_tokens_per_second: float
    generation_tokens_per_second: float

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def summarise(measurements: Iterable[Measurement]) -> list[Summary]:
    """One summary per (runner, prompt), in the order they first appear."""
    groups: dict[tuple[str, str], list[Measurement]] = {}
    for m in measurements:
        groups.setdefault((m.runner, m.prompt), []).append(m)
    return [
        Summary(
            runner=runner,
            prompt=prompt,
            runs=len(group),
            wall_seconds=statistics.median(m.wall_seconds for m in group),
            prompt_tokens=round(statistics.median(m.prompt_tokens for m in group)),
            completion_tokens=round(statistics.median(m.completion_tokens for m in group)),
            prompt_tokens_per_second=statistics.median(m.prompt_tokens_per_second for m in group),
            generation_tokens_per_second=statistics.median(
                m.generation_tokens_per_second for m in group
            ),
        )
        for (runner, prompt), group in groups.items()
    ]


def paired_ratios(
    measurements: Sequence[Measurement],
    numerator: str,
    denominator: str,
    value: Callable[[Measurement], float],
) -> dict[str, float]:
    """Median over requests of value(numerator) / value(denominator), pairing the two runners'
    requests of the same prompt and repetition; per prompt, and under "all" over every pair."""
    by_key = {(m.runner, m.prompt, m.repetition): m for m in measurements}
    ratios: dict[str, list[float]] = {}
    for (runner, prompt, repetition), top in by_key.items():
        bottom = by_key.get((denominator, prompt, repetition))
        if runner != numerator or bottom is None or value(bottom) <= 0:
            continue
        ratios.setdefault(prompt, []).append(value(top) / value(bottom))
    result = {prompt: statistics.median(values) for prompt, values in ratios.items()}
    everything = [r for values in ratios.values() for r in values]
    if everything:
        result["all"] = statistics.median(everything)
    return result


@dataclass(frozen=True, slots=True)
class MemoryUse:
    """This process's resident memory, from /proc/self/status (Linux), in bytes."""

    peak_resident: int  # VmHWM
    resident: int  # VmRSS
    anonymous: int  # RssAnon: heap, tensors, KV cache
    file_backed: int  # RssFile: mapped files (a memory-mapped model's pages count here)

    def as_json(self) -> dict[str, int]:
        return asdict(self)


def memory_use(status: Path = Path("/proc/self/status")) -> MemoryUse:
    fields: dict[str, int] = {}
    for line in status.read_text().splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB":
            fields[key] = int(parts[0]) * 1024
    return MemoryUse(
        peak_resident=fields.get("VmHWM", 0),
        resident=fields.get("VmRSS", 0),
        anonymous=fields.get("RssAnon", 0),
        file_backed=fields.get("RssFile", 0),
    )


# --- the standard prompts ---------------------------------------------------------------------

MEETING_TRANSCRIPT = """\
【会议记录】星河科技 · 产品周会 · 2025年3月12日（周三）14:00-15:10 · 线上 + 杭州三楼会议室
参会：王磊（产品负责人，主持）、陈静（前端）、Mike Johnson（后端，远程）、刘洋（测试）、\
Sarah Lee（客户成功，远程）、赵敏（设计）

王磊：好，我们开始吧。今天三件事：第一，3.8 版本的发布时间；第二，华东区客户反馈的导出超时问题；\
第三，下季度的钉钉集成排期。先说发布。刘洋，测试那边现在什么情况？

刘洋：回归测试跑完了百分之八十五。还有两个P1缺陷没关：一个是审批流在 iOS 上偶尔白屏，\
另一个是批量导入超过五千行的时候内存占用过高。白屏那个陈静在看，导入那个还没人认领。

陈静：白屏我定位到了，是 WebView 缓存的问题，今天下班前能提 PR，明天上午可以合进去。

Mike: For the bulk import issue, I can take it. I suspect we're loading the whole file into memory \
before validation. If I switch to streaming the rows, it should fix the memory spike, but I need \
about two days, plus a day for Liu Yang to retest. So realistically Friday next week.

王磊：那发布时间原定 3 月 18 日，是不是要往后推？

刘洋：如果导入的修复下周五才能测完，18 号肯定来不及。我建议推到 3 月 25 日，\
中间留一个周末做全量回归。

Sarah: From the customer side, 25th is fine. Only one customer, Hangzhou Lanxin, was promised \
the new approval templates by the end of March, and the 25th still works for them. But please \
don't slip beyond that; their contract renewal is on April 1st.

王磊：好，那就定了：3.8 版本发布日期改为 3 月 25 日，不能再晚。\
Mike 负责导入内存问题，下周三之前提交修复，刘洋周五前完成回归。陈静的白屏修复明天合入。

王磊：第二件事，导出超时。Sarah 你来说一下。

Sarah: Sure. Three customers in the East China region reported that exporting monthly reports \
times out after 60 seconds. All of them have more than 200,000 records per month. Lanxin is one of \
them, and they escalated it twice last week.

Mike: That's the synchronous export endpoint. The query itself takes about 40 seconds for large \
tenants, and then we generate the Excel file in the same request. The proper fix is to make \
exports asynchronous: put a job on the queue, generate the file in the background, and notify the \
user with a download link when it's ready. That's roughly a week of backend work.

赵敏：如果改成异步，前端需要一个“导出中”的状态和完成通知。我可以这周出设计稿，通知可以走站内信，\
也可以推到钉钉工作通知。

王磊：钉钉通知正好和第三件事有关。这个异步导出放在 3.9 版本做。\
短期内，Mike 能不能先把超时时间从 60 秒调到 180 秒，给大客户先用着？

Mike: Yes, that's a config change. I can ship it as a hotfix tomorrow. It's not a real fix, \
though: if a tenant grows past 500,000 records, it will time out again.

王磊：明白，先止血。Sarah 负责跟三家客户同步：明天热修复上线，异步导出预计 4 月中旬。

Sarah: I'll email them tomorrow after the hotfix is live, and I'll set up a call with Lanxin's \
ops manager on Friday.

王磊：第三件事，钉钉集成。老板的意思是下季度要把审批结果、导出完成这些通知都推到钉钉群里，\
还要支持在群里@机器人查询审批状态。赵敏，设计这边大概要多久？

赵敏：交互不复杂，主要是消息卡片的样式。一周左右。但需要先确认钉钉开放平台的卡片模板能不能满足我们的字段。

Mike: I looked at the DingTalk open platform last month. Interactive cards support what we need, \
but the robot callback has a strict timeout of about five seconds, so anything slow has to be \
answered asynchronously. I'd estimate three weeks for the backend, including the signature \
verification and the message queue.

王磊：好。钉钉集成排进 Q2，4 月 7 日启动。Mike 先写一页技术方案，3 月 21 日之前发出来；\
赵敏 3 月 28 日前给出卡片设计。预算方面，第三方消息推送的费用我去找财务申请，大概每月两千元。

王磊：还有别的吗？没有的话今天就到这。会议纪要我会发到群里。\
"""

SUMMARY_REQUEST = (
    "请用中文总结上面这次会议，分三部分：1. 决定事项；2. 待办事项（每项写明负责人和截止日期）；"
    "3. 风险。只依据会议记录的内容，不要编造。"
)


def standard_prompts(max_tokens: int = 96) -> list[BenchPrompt]:
    """A short Chinese and a short English chat turn, and a ~1,000-token bilingual meeting
    transcript to summarise (the instruction after the text, as the small models need)."""
    return [
        BenchPrompt("zh-chat", (user("请用三句话介绍一下杭州这座城市。"),), max_tokens=max_tokens),
        BenchPrompt(
            "en-chat",
            (user("Give three practical tips for running an effective weekly team meeting."),),
            max_tokens=max_tokens,
        ),
        BenchPrompt(
            "meeting-summary",
            (
                system("你是一名严谨的会议助理。"),
                user(MEETING_TRANSCRIPT + "\n\n" + SUMMARY_REQUEST),
            ),
            max_tokens=max_tokens,
        ),
    ]
