"""The OpenAI-compatible backend against a real loopback server (tests/support/fake_openai.py):
streaming and plain JSON answers, early stop, structured output, retries, errors, timeouts,
and the LLM service driving it."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from llm.backends.base import Backend
from llm.backends.openai_http import OpenAICompatibleBackend
from llm.config import LLMSettings
from llm.errors import BackendError
from llm.factory import create_llm
from llm.service import LLM
from llm.types import GenerationOptions, Usage, system, user
from tests.support.fake_openai import FakeOpenAI, Reply

API_KEY = "sk-test-do-not-log-0123456789"
MODEL = "qwen2.5-7b-instruct"
HELLO = [system("你是办公助手。"), user("你好")]

NO_CA_CERTIFICATES = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
"""The fake speaks plain HTTP: spare each client the 50 ms of loading CA certificates."""

MakeBackend = Callable[..., OpenAICompatibleBackend]


class Received(list[str]):
    """An ``on_text`` that keeps every piece and never asks to stop."""

    def __call__(self, piece: str) -> bool:
        self.append(piece)
        return False


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def delays() -> list[float]:
    """The backoff delays the backend asked to sleep (it does not really sleep in tests)."""
    return []


@pytest.fixture
def make_backend(fake: FakeOpenAI, delays: list[float]) -> Iterator[MakeBackend]:
    made: list[OpenAICompatibleBackend] = []

    def make(**overrides: Any) -> OpenAICompatibleBackend:
        options: dict[str, Any] = {
            "base_url": fake.base_url,
            "model": MODEL,
            "timeout_s": 5.0,
            "sleep": delays.append,
            "transport": httpx.HTTPTransport(verify=NO_CA_CERTIFICATES),
        }
        options.update(overrides)
        backend = OpenAICompatibleBackend(options.pop("base_url"), options.pop("model"), **options)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


@pytest.fixture
def backend(make_backend: MakeBackend) -> OpenAICompatibleBackend:
    return make_backend()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- answers ---------------------------------------------------------------------------------


def test_it_is_a_backend(backend: OpenAICompatibleBackend) -> None:
    typed: Backend = backend
    assert (typed.name, typed.model_name) == ("openai", MODEL)
    assert typed.context_window == 32768
    assert typed.supports_json_schema


def test_streams_a_chinese_reply_piece_by_piece(
    backend: OpenAICompatibleBackend, fake: FakeOpenAI
) -> None:
    fake.script(Reply(pieces=("会议", "纪要", "已生成。")))
    received = Received()

    completion = backend.complete(HELLO, GenerationOptions(max_tokens=64), on_text=received)

    assert received == ["会议", "纪要", "已生成。"]
    assert completion.text == "会议纪要已生成。"
    assert completion.finish_reason == "stop"
    assert (completion.backend, completion.model) == ("openai", MODEL)
    assert completion.generation_seconds > 0
    [request] = fake.requests
    assert request.path == "/v1/chat/completions"
    assert request.body["model"] == MODEL
    assert request.body["messages"] == [
        {"role": "system", "content": "你是办公助手。"},
        {"role": "user", "content": "你好"},
    ]
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}
    assert request.body["max_tokens"] == 64
    assert "response_format" not in request.body


def test_english_reply_with_usage_and_length(
    backend: OpenAICompatibleBackend, fake: FakeOpenAI
) -> None:
    fake.script(
        Reply(
            pieces=("The meeting ", "ran long"),
            finish_reason="length",
            usage={"prompt_tokens": 21, "completion_tokens": 4},
        )
    )

    completion = backend.complete([user("Summarise")], GenerationOptions(stop=("\n\n",), seed=7))

    assert completion.text == "The meeting ran long"
    assert completion.finish_reason == "length"
    assert completion.usage == Usage(21, 4)
    assert fake.requests[0].body["stop"] == ["\n\n"]
    assert fake.requests[0].body["seed"] == 7


def test_usage_is_estimated_when_the_server_sends_none(
    backend: OpenAICompatibleBackend, fake: FakeOpenAI
) -> None:
    fake.script(Reply(pieces=("好的",), usage=None))

    completion = backend.complete(HELLO, GenerationOptions())

    prompt = backend.count_tokens("你是办公助手。") + backend.count_tokens("你好")
    assert completion.usage == Usage(prompt, 2)


def test_a_server_that_ignores_stream_answers_plain_json(
    backend: OpenAICompatibleBackend, fake: FakeOpenAI
) -> None:
    fake.script(Reply(pieces=("纯 JSON ", "answer"), stream=False, finish_reason="length"))
    received = Received()

    completion = backend.complete(HELLO, GenerationOptions(), on_text=received)

    assert completion.text == "纯 JSON answer"
    assert received == ["纯 JSON answer"]
    assert completion.finish_reason == "length"
    assert completion.usage == Usage(12, 3)
    assert fake.requests[0].body["stream"] is True


def test_sends_the_json_schema_as_response_format(
    backend: OpenAICompatibleBackend, fake: FakeOpenAI
) -> None:
    schema = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
    fake.script(Reply(pieces=('{"title": ', '"周会"}')))

    completion = backend.complete(HELLO, GenerationOptions(), json_schema=schema)

    assert completion.text == '{"title": "周会"}'
    assert fake.requests[0].body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "reply", "schema": schema, "strict": True},
    }


def test_stops_reading_when_on_text_says_stop(
    backend: OpenAICompatibleBackend, fake: FakeOpenAI
) -> None:
    fake.script(Reply(pieces=("one ", "two ", "three ", "four"), await_hangup=True))
    received: list[str] = []

    def on_text(piece: str) -> bool:
        received.append(piece)
        return len(received) == 2

    completion = backend.complete([user("count")], GenerationOptions(), on_text=on_text)

    assert received == ["one ", "two "]
    assert completion.text == "one two "
    assert completion.finish_reason == "cancelled"
    assert completion.usage.completion_tokens == backend.count_tokens("one two ")
    assert fake.hung_up.wait(2), "the backend kept the stream open after being told to stop"


def test_an_answer_past_its_byte_bound_is_cut_off(
    backend: OpenAICompatibleBackend, fake: FakeOpenAI
) -> None:
    fake.script(Reply(pieces=("x" * 100,) * 50, await_hangup=True))
    received = Received()

    completion = backend.complete(
        [user("go")],
        GenerationOptions(max_tokens=4),
        on_text=received,
    )

    assert completion.finish_reason == "length"
    assert completion.text == "x" * 128  # 4 tokens x 32 bytes
    assert "".join(received) == completion.text
    assert fake.hung_up.wait(2)


def test_a_cut_never_splits_a_character(backend: OpenAICompatibleBackend, fake: FakeOpenAI) -> None:
    fake.script(Reply(pieces=("字" * 20,)))  # 60 bytes; the bound is 32

    completion = backend.complete([user("go")], GenerationOptions(max_tokens=1))

    assert completion.text == "字" * 10
    assert completion.finish_reason == "length"


def test_a_stream_of_endless_filler_is_cut_off(
    backend: OpenAICompatibleBackend, fake: FakeOpenAI
) -> None:
    filler = b'data: {"choices":[{"index":0,"delta":{}}]}\n\n'
    fake.script(Reply(raw=filler * (1_200_000 // len(filler))))

    completion = backend.complete([user("go")], GenerationOptions(max_tokens=16))

    assert (completion.text, completion.finish_reason) == ("", "length")


def test_parses_lenient_event_streams(backend: OpenAICompatibleBackend, fake: FakeOpenAI) -> None:
    events = (
        b": a comment\r\n\r\n"
        b'data:{"choices":[{"index":0,"delta":{"content":"no space"}}]}\r\n\r\n'
        b"event: message\n"
        b'data: {"choices":[{"index":0,"delta":{"content":" / LF"},"finish_reason":"stop"}]}\n\n'
        b'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}\n\n'
    )
    fake.script(Reply(raw=events))

    completion = backend.complete([user("hi")], GenerationOptions())

    assert completion.text == "no space / LF"
    assert completion.finish_reason == "stop"
    assert completion.usage == Usage(5, 2)


def test_count_tokens_is_a_conservative_estimate(backend: OpenAICompatibleBackend) -> None:
    assert backend.count_tokens("") == 0
    assert backend.count_tokens("你好世界") == 4
    assert backend.count_tokens("hello world") == 4  # 11 / 3.5, rounded up
    assert backend.count_tokens("会议 notes") == 2 + 2


# --- the API key -----------------------------------------------------------------------------


def test_sends_the_key_and_never_logs_it(
    make_backend: MakeBackend, fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    backend = make_backend(api_key=SecretStr(API_KEY))
    fake.script(Reply(status=503), Reply(), Reply(status=401))

    backend.complete(HELLO, GenerationOptions())
    with pytest.raises(BackendError) as refused:
        backend.complete(HELLO, GenerationOptions())

    assert [r.headers["authorization"] for r in fake.requests] == [f"Bearer {API_KEY}"] * 3
    assert "OFFICEBOT_LLM__OPENAI_API_KEY" in refused.value.message
    assert API_KEY not in refused.value.message
    assert any("retrying" in record.getMessage() for record in caplog.records)
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
    assert API_KEY not in repr(backend.__dict__)


def test_no_authorization_header_without_a_key(
    backend: OpenAICompatibleBackend, fake: FakeOpenAI
) -> None:
    backend.complete(HELLO, GenerationOptions())
    assert "authorization" not in fake.requests[0].headers


def test_from_settings(fake: FakeOpenAI) -> None:
    settings = LLMSettings(
        backend="openai",
        openai_base_url=fake.base_url,
        openai_model=MODEL,
        openai_api_key=SecretStr(API_KEY),
        openai_max_retries=0,
    )
    backend = OpenAICompatibleBackend.from_settings(settings)
    try:
        fake.script(Reply(status=500))
        with pytest.raises(BackendError, match="gave up after 1 attempt"):
            backend.complete(HELLO, GenerationOptions())
        assert fake.requests[0].headers["authorization"] == f"Bearer {API_KEY}"
        assert backend.model_name == MODEL
    finally:
        backend.close()

    with pytest.raises(BackendError, match="OFFICEBOT_LLM__OPENAI_BASE_URL"):
        OpenAICompatibleBackend.from_settings(LLMSettings(backend="openai", openai_model=MODEL))


def test_refuses_a_base_url_that_is_not_http() -> None:
    with pytest.raises(BackendError, match="http://gpu-box:8000/v1"):
        OpenAICompatibleBackend("gpu-box:8000/v1", MODEL)


# --- failures and retries --------------------------------------------------------------------


def test_retries_5xx_429_and_dropped_connections_then_succeeds(
    make_backend: MakeBackend, fake: FakeOpenAI, delays: list[float]
) -> None:
    backend = make_backend(max_retries=4, backoff_s=0.5)
    fake.script(
        Reply(status=500),
        Reply(status=503),
        Reply(drop=True),
        Reply(status=429, headers={"retry-after": "7"}),
        Reply(pieces=("终于", "好了")),
    )
    received = Received()

    completion = backend.complete(HELLO, GenerationOptions(), on_text=received)

    assert completion.text == "终于好了"
    assert received == ["终于", "好了"]
    assert len(fake.requests) == 5
    assert delays == [0.5, 1.0, 2.0, 7.0]


def test_retry_after_is_capped(
    make_backend: MakeBackend, fake: FakeOpenAI, delays: list[float]
) -> None:
    backend = make_backend(max_backoff_s=3.0)
    fake.script(Reply(status=429, headers={"retry-after": "86400"}))

    assert backend.complete(HELLO, GenerationOptions()).text == "你好，世界"
    assert delays == [3.0]


def test_retry_after_may_be_an_http_date(
    make_backend: MakeBackend, fake: FakeOpenAI, delays: list[float]
) -> None:
    backend = make_backend(max_backoff_s=60.0)
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    fake.script(Reply(status=503, headers={"retry-after": when}))

    backend.complete(HELLO, GenerationOptions())

    [delay] = delays
    assert 15 < delay <= 20


def test_gives_up_after_max_retries_saying_what_the_server_answered(
    make_backend: MakeBackend, fake: FakeOpenAI
) -> None:
    backend = make_backend(max_retries=2)
    overloaded = Reply(status=503, error={"error": {"message": "engine overloaded"}})
    fake.script(overloaded, overloaded, overloaded)

    with pytest.raises(BackendError) as failed:
        backend.complete(HELLO, GenerationOptions())

    assert len(fake.requests) == 3
    assert "503: engine overloaded" in failed.value.message
    assert "gave up after 3 attempt(s)" in failed.value.message


def test_a_4xx_is_not_retried_and_says_what_the_server_answered(
    backend: OpenAICompatibleBackend, fake: FakeOpenAI, delays: list[float]
) -> None:
    message = "This model's maximum context length is 8192 tokens. " + "x" * 1000
    fake.script(Reply(status=400, error={"object": "error", "message": message}))

    with pytest.raises(BackendError) as rejected:
        backend.complete(HELLO, GenerationOptions())

    assert len(fake.requests) == 1
    assert delays == []
    assert "rejected the request (400: This model's maximum context length" in str(rejected.value)
    assert len(rejected.value.message) < 500


def test_a_wrong_base_url_says_so(make_backend: MakeBackend, fake: FakeOpenAI) -> None:
    backend = make_backend(base_url=fake.base_url.removesuffix("/v1"))

    with pytest.raises(BackendError, match="ends in /v1"):
        backend.complete(HELLO, GenerationOptions())


def test_an_unreachable_server_says_what_to_check(
    make_backend: MakeBackend, delays: list[float]
) -> None:
    backend = make_backend(base_url=f"http://127.0.0.1:{closed_port()}/v1", max_retries=1)

    with pytest.raises(BackendError) as failed:
        backend.complete(HELLO, GenerationOptions())

    assert failed.value.message.startswith("could not reach the model server at http://127.0.0.1")
    assert "is it running? (OFFICEBOT_LLM__OPENAI_BASE_URL)" in failed.value.message
    assert len(delays) == 1


def test_errors_never_show_the_password_of_a_base_url(make_backend: MakeBackend) -> None:
    port = closed_port()
    backend = make_backend(base_url=f"http://officebot:hunter2@127.0.0.1:{port}/v1", max_retries=0)

    with pytest.raises(BackendError) as failed:
        backend.complete(HELLO, GenerationOptions())

    assert f"http://127.0.0.1:{port}/v1" in failed.value.message
    assert "hunter2" not in failed.value.message


def test_a_stream_broken_after_text_is_not_retried(
    backend: OpenAICompatibleBackend, fake: FakeOpenAI
) -> None:
    fake.script(Reply(pieces=("半", "句"), drop_after=1))
    received = Received()

    with pytest.raises(BackendError, match="not retried"):
        backend.complete(HELLO, GenerationOptions(), on_text=received)

    assert received == ["半"]
    assert len(fake.requests) == 1


def test_a_stream_broken_before_any_text_is_retried(
    backend: OpenAICompatibleBackend, fake: FakeOpenAI
) -> None:
    fake.script(Reply(drop_after=0), Reply(pieces=("完整",), done=False))
    received = Received()

    completion = backend.complete(HELLO, GenerationOptions(), on_text=received)

    assert received == ["完整"]
    assert completion.text == "完整"
    assert len(fake.requests) == 2


def test_an_error_event_mid_stream_is_reported(
    backend: OpenAICompatibleBackend, fake: FakeOpenAI
) -> None:
    fake.script(Reply(raw=b'data: {"error": {"message": "CUDA out of memory"}}\n\n'))

    with pytest.raises(BackendError, match="mid-answer: CUDA out of memory"):
        backend.complete(HELLO, GenerationOptions())


def test_a_silent_server_times_out_quickly_without_retrying(
    make_backend: MakeBackend, fake: FakeOpenAI, delays: list[float]
) -> None:
    backend = make_backend(timeout_s=0.2)
    fake.script(Reply(hold=True))

    started = time.monotonic()
    with pytest.raises(BackendError, match=r"sent nothing for 0\.2 s"):
        backend.complete(HELLO, GenerationOptions())

    assert time.monotonic() - started < 5  # 0.2 s, with room for a busy test machine
    assert len(fake.requests) == 1
    assert delays == []


def test_a_server_that_stalls_mid_answer_times_out(
    make_backend: MakeBackend, fake: FakeOpenAI
) -> None:
    backend = make_backend(timeout_s=0.2)
    fake.script(Reply(pieces=("开始", "……"), hold_after=1))

    with pytest.raises(BackendError, match="OFFICEBOT_LLM__OPENAI_TIMEOUT_S"):
        backend.complete(HELLO, GenerationOptions())


def test_keep_alive_comments_alone_do_not_keep_a_request_going(
    make_backend: MakeBackend, fake: FakeOpenAI
) -> None:
    backend = make_backend(timeout_s=0.2)
    fake.script(Reply(keepalive_s=0.02))

    started = time.monotonic()
    with pytest.raises(BackendError, match=r"sent no text for 0\.2 s"):
        backend.complete(HELLO, GenerationOptions())

    assert time.monotonic() - started < 5


# --- through the LLM service -----------------------------------------------------------------


@pytest.fixture
def service(fake: FakeOpenAI) -> Iterator[LLM]:
    llm = LLM(lambda: OpenAICompatibleBackend(fake.base_url, MODEL, timeout_s=5.0))
    yield llm
    llm.close()


async def test_the_service_chats_and_streams_through_the_backend(
    service: LLM, fake: FakeOpenAI
) -> None:
    fake.script(
        Reply(pieces=("本周", "三项", "待办")), Reply(pieces=("Three ", "action ", "items"))
    )

    assert await service.chat(HELLO) == "本周三项待办"
    pieces = [piece async for piece in service.stream([user("Summarise the week")])]

    assert pieces == ["Three ", "action ", "items"]
    stats = service.stats()
    assert (stats.backend, stats.model, stats.served) == ("openai", MODEL, 2)


async def test_leaving_a_stream_early_hangs_up_on_the_server(
    service: LLM, fake: FakeOpenAI
) -> None:
    fake.script(Reply(pieces=("第一段", "第二段", "第三段"), hold_after=1, await_hangup=True))

    # LLM.stream is typed AsyncIterator, though it is an async generator (it has aclose).
    async with contextlib.aclosing(service.stream(HELLO)) as pieces:  # type: ignore[type-var]
        async for piece in pieces:
            assert piece == "第一段"
            break
    fake.resume.set()  # the server goes on; the backend stops at the next piece

    assert await asyncio.to_thread(fake.hung_up.wait, 2)
    await asyncio.to_thread(service.close)  # the cancelled request finishes while the loop runs
    assert service.stats().failed == 1


async def test_the_factory_builds_it_from_settings(fake: FakeOpenAI, tmp_path: Path) -> None:
    settings = LLMSettings(backend="openai", openai_base_url=fake.base_url, openai_model=MODEL)
    llm = create_llm(settings, data_dir=tmp_path, allowed_hosts=["127.0.0.1"])
    try:
        assert await llm.chat(HELLO) == "你好，世界"
        assert llm.stats().backend == "openai"
    finally:
        await asyncio.to_thread(llm.close)
