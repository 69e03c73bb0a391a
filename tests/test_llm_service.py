"""The shared model with the real Qwen2.5-Coder-0.5B: answers, streaming, structured output,
priorities, timeouts, context limits and exact token counts."""

from __future__ import annotations

import asyncio
import time
from enum import StrEnum
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from llm.backends.base import Backend
from llm.errors import LLMTimeoutError
from llm.service import LLM, InputTooLongError
from llm.structured import bounded_schema, extract_json
from llm.types import GenerationOptions, Priority, user

pytestmark = pytest.mark.slow
SHORT = GenerationOptions(max_tokens=24, temperature=0.0)


async def test_answers_chinese_and_english(small_llm: LLM) -> None:
    chinese = await small_llm.chat([user("中国的首都是哪个城市？")], options=SHORT)
    english = await small_llm.chat(
        [user("What is the capital of France? Answer with the city name only.")], options=SHORT
    )
    assert "北京" in chinese
    assert "Paris" in english


async def test_stream_yields_the_same_text_piece_by_piece(small_llm: LLM) -> None:
    messages = [user("List three colours, comma separated.")]
    pieces = [piece async for piece in small_llm.stream(messages, options=SHORT)]
    assert len(pieces) > 3
    assert "".join(pieces) == await small_llm.chat(messages, options=SHORT)


class Urgency(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Task(BaseModel):
    owner: str = Field(max_length=40)
    task: str = Field(max_length=200)
    urgency: Urgency


class ActionPlan(BaseModel):
    title: str = Field(max_length=100)
    tasks: list[Task] = Field(min_length=1, max_length=5)
    tags: list[str] = Field(max_length=5)


NOTES_ZH = (
    "周一产品例会纪要：张伟负责在周五前完成登录页面改版，非常紧急；"
    "李娜下周整理用户反馈，优先级中等；王强有空时更新部署文档。"
)
NOTES_EN = (
    "Weekly sync: Alice must fix the payment bug today, it is urgent. Bob will draft the Q3 "
    "roadmap next week (medium). Carol can tidy the wiki when she has time."
)


@pytest.mark.parametrize(
    ("notes", "instruction"),
    [
        (NOTES_ZH, "把上面会议纪要里的任务整理成行动计划。"),
        (NOTES_EN, "Turn the tasks in these notes into an action plan."),
    ],
    ids=["zh", "en"],
)
async def test_structured_output_with_nested_lists_and_enums(
    small_llm: LLM, notes: str, instruction: str
) -> None:
    plan = await small_llm.structured(
        [user(f"{notes}\n\n{instruction}")],
        ActionPlan,
        options=GenerationOptions(max_tokens=300, temperature=0.0),
    )
    assert isinstance(plan, ActionPlan)
    assert plan.tasks
    assert all(isinstance(task.urgency, Urgency) for task in plan.tasks)
    owners = " ".join(task.owner for task in plan.tasks)
    assert any(name in owners for name in ("张伟", "李娜", "王强", "Alice", "Bob", "Carol"))


class _WithoutSchemas:
    """The real backend with constrained decoding switched off: the prompt-and-validate path."""

    def __init__(self, inner: Backend) -> None:
        self._inner = inner
        self.name = inner.name
        self.model_name = inner.model_name
        self.context_window = inner.context_window
        self.supports_json_schema = False
        self.complete = inner.complete
        self.count_tokens = inner.count_tokens

    def close(self) -> None:
        pass


async def test_structured_output_without_constrained_decoding(small_llm: LLM) -> None:
    unconstrained = LLM(lambda: _WithoutSchemas(small_llm.backend()))  # type: ignore[arg-type,return-value]
    try:
        plan = await unconstrained.structured(
            [user(f"{NOTES_EN}\n\nTurn the tasks in these notes into an action plan.")],
            ActionPlan,
            options=GenerationOptions(max_tokens=300, temperature=0.0),
            retries=3,
        )
    finally:
        unconstrained.close()
    assert plan.tasks


def test_schemas_sent_to_the_model_bound_every_list_and_string() -> None:
    class Loose(BaseModel):
        names: list[str]
        note: str
        urgency: Urgency

    schema = bounded_schema(Loose, max_items=7, max_length=99)
    properties = schema["properties"]
    assert properties["names"]["maxItems"] == 7
    assert properties["names"]["items"]["maxLength"] == 99
    assert properties["note"]["maxLength"] == 99
    assert "maxLength" not in schema["$defs"]["Urgency"]  # enums are bounded already


def test_json_is_found_in_chatter() -> None:
    text = '好的，结果如下：\n```json\n{"a": "含 } 的字符串", "b": {"c": [1, 2]}}\n```\n希望有帮助'
    assert extract_json(text) == '{"a": "含 } 的字符串", "b": {"c": [1, 2]}}'


async def test_interactive_requests_overtake_queued_background_work(small_llm: LLM) -> None:
    finished: list[str] = []
    options = GenerationOptions(max_tokens=12, temperature=0.0)

    def submit(name: str, priority: Priority) -> asyncio.Future[object]:
        future = small_llm.submit(
            [user(f"Say the word {name}.")], options=options, priority=priority
        )
        future.add_done_callback(lambda _: finished.append(name))
        return asyncio.wrap_future(future)

    futures = [submit(f"background{n}", Priority.BACKGROUND) for n in range(3)]
    futures.append(submit("interactive", Priority.INTERACTIVE))
    await asyncio.gather(*futures)
    # background0 may already be running when the others arrive; nothing else goes first.
    assert finished.index("interactive") <= 1
    assert finished.index("interactive") < finished.index("background1")
    assert finished.index("interactive") < finished.index("background2")


async def test_a_request_past_its_timeout_stops_and_frees_the_model(small_llm: LLM) -> None:
    long_answer = [user("Write a long story about a cat, at least 500 words.")]
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError, match="timeout"):
        await small_llm.chat(long_answer, options=GenerationOptions(max_tokens=800), timeout=0.5)
    assert time.monotonic() - started < 5
    assert "Paris" in await small_llm.chat(
        [user("What is the capital of France? Answer with the city name only.")], options=SHORT
    )


async def test_an_abandoned_stream_stops_generating(small_llm: LLM) -> None:
    before = small_llm.stats().failed
    stream = small_llm.stream(
        [user("Count from 1 to 300, one number per line.")],
        options=GenerationOptions(max_tokens=900),
    )
    async for _ in stream:
        break
    await stream.aclose()
    started = time.monotonic()
    await small_llm.chat([user("Say OK.")], options=SHORT)
    assert time.monotonic() - started < 5  # the counting did not run to 900 tokens first
    assert small_llm.stats().failed == before + 1


async def test_input_beyond_the_context_window_is_refused_clearly(model_cache: Path) -> None:
    from llm.config import LLMSettings
    from llm.factory import create_llm

    tiny = create_llm(
        LLMSettings(model="qwen2.5-coder-0.5b", cache_dir=model_cache, context_tokens=512),
        data_dir=model_cache,
    )
    try:
        with pytest.raises(InputTooLongError, match="does not fit the 512-token context window"):
            await tiny.chat([user("会议记录。" * 400)], options=SHORT)
    finally:
        tiny.close()


@pytest.mark.parametrize(
    "text",
    [
        "你好，世界！Hello world.",
        "下周三前把预算表发给我 @李四, by Friday 3pm.\n\n  indented   code\tx=1",
        "Q3 revenue grew 12.5% to ¥3,400万; 2026-03-15 截止。",
    ],
)
def test_token_counts_match_llama_cpp(small_llm: LLM, text: str) -> None:
    backend = small_llm.backend()
    raw = backend._server.handle_completions({"prompt": text, "n_predict": 0})  # type: ignore[attr-defined]
    assert small_llm.count_tokens(text) == raw["usage"]["prompt_tokens"]


async def test_stats_report_queue_and_speed(small_llm: LLM) -> None:
    await small_llm.chat([user("Say hi.")], options=SHORT)
    stats = small_llm.stats()
    assert (stats.backend, stats.model, stats.loaded) == ("llamacpp", "qwen2.5-coder-0.5b", True)
    assert stats.queue_depth == 0
    assert stats.generation_tokens_per_second > 1
    assert stats.as_json()["served"] >= 1
