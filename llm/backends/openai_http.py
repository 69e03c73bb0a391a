"""A backend for any OpenAI-compatible chat-completions server: vLLM, Ollama, llama.cpp's
``llama-server``, DashScope's compatible mode.

This is how officebot grows past one machine: the model runs on a GPU server and this backend
talks to it over HTTP from the LLM worker thread, hence a synchronous ``httpx.Client``.

Requests always stream, so a cancelled or timed-out request hangs up at the next piece of text
instead of waiting for the rest; a server that ignores ``stream`` and answers one JSON
completion works too. Network errors, 5xx and 429 are retried with exponential backoff, but
only until the first piece of text has reached the caller: text is never delivered twice.
Every answer is bounded in bytes, so a runaway server cannot fill memory.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

import httpx
from pydantic import SecretStr

from llm.backends.base import TextCallback
from llm.config import LLMSettings
from llm.errors import BackendError
from llm.types import Completion, FinishReason, GenerationOptions, Message, Usage

log = logging.getLogger(__name__)

TEXT_BYTES_PER_TOKEN = 32
"""A token is rarely more than 8 bytes of UTF-8; an answer longer than four times that per
requested token is a server ignoring ``max_tokens``, and is cut off."""

WIRE_BYTES_PER_TOKEN = 2048
"""Streamed chunks repeat id, model and timestamps around each token; this bounds the bytes read
(beyond ``WIRE_BYTES_FLOOR``) so that a server sending endless empty chunks is cut off too."""

WIRE_BYTES_FLOOR = 1 << 20
ERROR_BODY_BYTES = 4096
ERROR_MESSAGE_CHARS = 300
CONNECT_TIMEOUT_CAP_S = 10.0
"""A server that is up accepts a connection in milliseconds, however long it takes to answer."""

BASE_URL_SETTING = "OFFICEBOT_LLM__OPENAI_BASE_URL"
API_KEY_SETTING = "OFFICEBOT_LLM__OPENAI_API_KEY"
MODEL_SETTING = "OFFICEBOT_LLM__OPENAI_MODEL"
TIMEOUT_SETTING = "OFFICEBOT_LLM__OPENAI_TIMEOUT_S"
RETRIES_SETTING = "OFFICEBOT_LLM__OPENAI_MAX_RETRIES"


class _RetryableError(Exception):
    """A failure worth another try (network error, 5xx, 429), unless text was delivered."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _AnswerTooLargeError(Exception):
    """The server sent more bytes than the request's bound."""


@dataclass
class _Answer:
    """What one attempt has received so far."""

    on_text: TextCallback | None
    text_limit: int
    started: float = field(default_factory=time.perf_counter)
    pieces: list[str] = field(default_factory=list)
    text_bytes: int = 0
    first_text_at: float | None = None
    last_progress: float = field(default_factory=time.perf_counter)
    streamed: bool = True
    stopped: FinishReason | None = None
    server_finish: str | None = None
    usage: Usage | None = None
    ended: bool = False

    @property
    def delivered(self) -> bool:
        return bool(self.pieces)

    def add(self, text: str) -> bool:
        """Take one piece of text (cut at the byte bound); True when reading should stop."""
        now = time.perf_counter()
        self.last_progress = now
        if self.first_text_at is None:
            self.first_text_at = now
        encoded = text.encode()
        room = self.text_limit - self.text_bytes
        if len(encoded) > room:
            text = encoded[:room].decode(errors="ignore")
            encoded = text.encode()
            self.stopped = "length"
        if text:
            self.pieces.append(text)
            self.text_bytes += len(encoded)
            if self.on_text is not None and self.on_text(text) and self.stopped is None:
                self.stopped = "cancelled"
        return self.stopped is not None


class OpenAICompatibleBackend:
    """A model served over HTTP by an OpenAI-compatible ``/chat/completions`` endpoint."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: SecretStr | str | None = None,
        context_window: int = 32768,
        timeout_s: float = 120.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``base_url`` is the API root, e.g. ``http://gpu-box:8000/v1``. ``backoff_s`` doubles
        with each retry; it and any Retry-After the server sends are capped at
        ``max_backoff_s``. ``timeout_s`` bounds connecting (at most 10 s) and each wait for
        the next piece of text, not the whole answer (the LLM service's request timeout does
        that). ``transport`` and ``sleep`` are for tests."""
        self._display_url = _without_userinfo(base_url.rstrip("/"))
        try:
            url = httpx.URL(base_url.rstrip("/") + "/chat/completions")
        except httpx.InvalidURL as exc:
            raise BackendError(
                f"{BASE_URL_SETTING} is not a valid address ({exc}): {self._display_url!r}"
            ) from None
        if url.scheme not in ("http", "https") or not url.host:
            raise BackendError(
                f"{BASE_URL_SETTING} must be an http(s) address like http://gpu-box:8000/v1, "
                f"got {self._display_url!r}"
            )
        if not model:
            raise BackendError(f"{MODEL_SETTING} must name a model the server serves")
        if context_window < 1 or timeout_s <= 0 or max_retries < 0:
            raise ValueError("context_window and timeout_s must be positive, max_retries >= 0")
        self._url = url
        self._model = model
        self._context = context_window
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_CAP_S))
        headers = {"accept": "text/event-stream, application/json", "user-agent": "officebot"}
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        if key:
            headers["authorization"] = f"Bearer {key}"
        self._client: httpx.Client | None = httpx.Client(
            timeout=self._timeout, headers=headers, transport=transport, follow_redirects=False
        )

    @classmethod
    def from_settings(cls, settings: LLMSettings) -> OpenAICompatibleBackend:
        if not settings.openai_base_url or not settings.openai_model:
            raise BackendError(
                f"the openai backend needs {BASE_URL_SETTING} (e.g. http://gpu-box:8000/v1) "
                f"and {MODEL_SETTING}"
            )
        return cls(
            settings.openai_base_url,
            settings.openai_model,
            api_key=settings.openai_api_key,
            timeout_s=settings.openai_timeout_s,
            max_retries=settings.openai_max_retries,
        )

    @property
    def name(self) -> str:
        return "openai"

    @property
    def model_name(self) -> str:
        return self._model

    @property
    def context_window(self) -> int:
        return self._context

    @property
    def supports_json_schema(self) -> bool:
        return True

    def request_body(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        json_schema: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._model,
            "messages": [message.model_dump() for message in messages],
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
            "top_p": options.top_p,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if options.stop:
            body["stop"] = list(options.stop)
        if options.seed is not None:
            body["seed"] = options.seed
        if json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": json_schema, "strict": True},
            }
        return body

    def complete(
        self,
        messages: Sequence[Message],
        options: GenerationOptions,
        *,
        json_schema: dict[str, Any] | None = None,
        on_text: TextCallback | None = None,
    ) -> Completion:
        body = self.request_body(messages, options, json_schema)
        text_limit = options.max_tokens * TEXT_BYTES_PER_TOKEN
        wire_limit = WIRE_BYTES_FLOOR + options.max_tokens * WIRE_BYTES_PER_TOKEN
        attempts = self._max_retries + 1
        attempt = 1
        while True:
            answer = _Answer(on_text, text_limit)
            try:
                self._exchange(body, answer, wire_limit)
            except _RetryableError as exc:
                if answer.delivered:
                    raise BackendError(
                        f"{exc.reason}; the answer broke off after {answer.text_bytes} bytes had "
                        "been delivered, so it was not retried"
                    ) from exc
                if attempt >= attempts:
                    raise BackendError(
                        f"{exc.reason} (gave up after {attempts} attempt(s); {RETRIES_SETTING})"
                    ) from exc
                delay = self._delay(attempt, exc.retry_after)
                log.warning(
                    "%s; retrying in %.1f s (attempt %d of %d)",
                    exc.reason,
                    delay,
                    attempt + 1,
                    attempts,
                )
                self._sleep(delay)
                attempt += 1
                continue
            return self._completion(messages, answer)

    def count_tokens(self, text: str) -> int:
        """An estimate, not a count: a remote model's tokenizer is unknown here.

        It errs high, since it decides whether a prompt fits the context window: each non-ASCII
        character counts as one token (a CJK character is about one token in Qwen-style
        vocabularies; accented or Cyrillic letters rarely take less), ASCII text one token per
        3.5 characters, rounded up (English averages about four).
        """
        ascii_chars = len(text.encode("ascii", "ignore"))
        return (len(text) - ascii_chars) + -(-ascii_chars * 2 // 7)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- one attempt -------------------------------------------------------------------------

    def _exchange(self, body: dict[str, Any], answer: _Answer, wire_limit: int) -> None:
        if self._client is None:
            raise BackendError("the openai backend has been closed")
        where = f"the model server at {self._display_url}"
        try:
            with self._client.stream("POST", self._url, json=body) as response:
                if not response.is_success:
                    self._refuse(response)
                content_type = response.headers.get("content-type", "").lower()
                if "text/event-stream" in content_type:
                    self._read_events(response, answer, wire_limit)
                elif "json" in content_type:
                    self._read_json(response, answer, wire_limit)
                else:
                    raise BackendError(
                        f"{where} answered with {content_type or 'no content type'}, not a chat "
                        f"completion; check {BASE_URL_SETTING} (it usually ends in /v1)"
                    )
        except httpx.ReadTimeout as exc:
            # Not retried: the server is up but slow, and a retry would only add to its queue.
            raise BackendError(
                f"{where} sent nothing for {self._timeout.read:g} s; it may be overloaded "
                f"(or raise {TIMEOUT_SETTING})"
            ) from exc
        except httpx.ConnectTimeout as exc:
            raise _RetryableError(
                f"{where} did not accept a connection within {self._timeout.connect:g} s; "
                f"is it running? ({BASE_URL_SETTING})"
            ) from exc
        except httpx.ConnectError as exc:
            raise _RetryableError(
                f"could not reach {where}: {_reason(exc)}; is it running? ({BASE_URL_SETTING})"
            ) from exc
        except httpx.TransportError as exc:
            raise _RetryableError(f"the connection to {where} failed: {_reason(exc)}") from exc

    def _refuse(self, response: httpx.Response) -> NoReturn:
        """Raise the error that a non-2xx answer means."""
        status = response.status_code
        detail = f"{status}: {_error_message(_read_some(response, ERROR_BODY_BYTES))}"
        where = f"the model server at {self._display_url}"
        retry_after = _retry_after(response.headers.get("retry-after"))
        if status == 429:
            raise _RetryableError(f"{where} is rate-limiting requests ({detail})", retry_after)
        if status >= 500:
            raise _RetryableError(f"{where} failed ({detail})", retry_after)
        if status in (401, 403):
            raise BackendError(f"{where} refused the request ({detail}); check {API_KEY_SETTING}")
        if status == 404:
            raise BackendError(
                f"{where} has no chat completions for this request ({detail}); check that "
                f"{BASE_URL_SETTING} ends in /v1 and that {MODEL_SETTING} names a model it serves"
            )
        if 300 <= status < 400:
            location = response.headers.get("location", "elsewhere")
            raise BackendError(
                f"{where} redirected the request to {_without_userinfo(location)} ({status}); "
                f"set {BASE_URL_SETTING} to the final address"
            )
        raise BackendError(f"{where} rejected the request ({detail})")

    def _read_events(self, response: httpx.Response, answer: _Answer, wire_limit: int) -> None:
        where = f"the model server at {self._display_url}"
        chunks = self._watched(response.iter_bytes(), answer, wire_limit)
        try:
            for data in _sse_data(chunks):
                if data.strip() == "[DONE]":
                    answer.ended = True
                    return
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise BackendError(
                        f"{where} sent a stream event that is not JSON: {data[:100]!r}"
                    ) from None
                if not isinstance(chunk, dict):
                    continue
                if chunk.get("error"):
                    raise BackendError(
                        f"{where} reported an error mid-answer: {_error_message(chunk)}"
                    )
                if (usage := _usage(chunk.get("usage"))) is not None:
                    answer.usage = usage
                for choice in chunk.get("choices") or ():
                    if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                        continue
                    delta = choice.get("delta")
                    content = delta.get("content") if isinstance(delta, dict) else None
                    if isinstance(content, str) and content and answer.add(content):
                        return
                    if choice.get("finish_reason"):
                        answer.server_finish = str(choice["finish_reason"])
        except _AnswerTooLargeError:
            answer.stopped = "length"
            return
        if not answer.ended and answer.server_finish is None:
            raise _RetryableError(f"the stream from {where} ended before the answer was complete")

    def _watched(self, chunks: Iterable[bytes], answer: _Answer, limit: int) -> Iterator[bytes]:
        """``chunks``, bounded in bytes, failing when the server sends bytes but no text (SSE
        comments, empty deltas) for longer than the read timeout."""
        received = 0
        idle_limit = self._timeout.read
        for chunk in chunks:
            received += len(chunk)
            if received > limit:
                raise _AnswerTooLargeError
            if idle_limit is not None and time.perf_counter() - answer.last_progress > idle_limit:
                raise BackendError(
                    f"the model server at {self._display_url} sent no text for {idle_limit:g} s; "
                    f"it may be overloaded (or raise {TIMEOUT_SETTING})"
                )
            yield chunk

    def _read_json(self, response: httpx.Response, answer: _Answer, wire_limit: int) -> None:
        """A server that ignored ``stream`` and answered one JSON completion."""
        where = f"the model server at {self._display_url}"
        answer.streamed = False
        raw = _read_some(response, wire_limit + 1)
        if len(raw) > wire_limit:
            answer.stopped = "length"
            return
        try:
            payload = json.loads(raw)
        except ValueError:
            raise BackendError(
                f"{where} answered with JSON that does not parse: {raw[:100]!r}"
            ) from None
        if not isinstance(payload, dict):
            raise BackendError(f"{where} answered with JSON that is not a chat completion")
        if payload.get("error"):
            raise BackendError(f"{where} reported an error: {_error_message(payload)}")
        choices = payload.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else None
        message = first.get("message") if isinstance(first, dict) else None
        if not isinstance(first, dict) or not isinstance(message, dict):
            raise BackendError(f"{where} answered with JSON that has no choices[0].message")
        answer.usage = _usage(payload.get("usage"))
        if first.get("finish_reason"):
            answer.server_finish = str(first["finish_reason"])
        content = message.get("content")
        if isinstance(content, str) and content:
            answer.add(content)
        answer.ended = True

    # --- results -----------------------------------------------------------------------------

    def _completion(self, messages: Sequence[Message], answer: _Answer) -> Completion:
        finished = time.perf_counter()
        text = "".join(answer.pieces)
        usage = answer.usage
        if usage is None:  # stopped early, or the server does not report usage
            prompt = sum(self.count_tokens(message.content) for message in messages)
            usage = Usage(prompt, self.count_tokens(text))
        if answer.streamed and answer.first_text_at is not None:
            # Time to first text stands in for prompt processing (it includes the network).
            prompt_seconds = answer.first_text_at - answer.started
            generation_seconds = finished - answer.first_text_at
        else:
            prompt_seconds, generation_seconds = 0.0, finished - answer.started
        return Completion(
            text=text,
            finish_reason=answer.stopped
            or ("length" if answer.server_finish == "length" else "stop"),
            usage=usage,
            prompt_seconds=prompt_seconds,
            generation_seconds=generation_seconds,
            backend=self.name,
            model=self._model,
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._max_backoff_s)
        return min(self._backoff_s * 2.0 ** (attempt - 1), self._max_backoff_s)


def _sse_data(chunks: Iterable[bytes]) -> Iterator[str]:
    """The data of each Server-Sent Event in ``chunks``; other fields and comments are skipped.

    Lines end in LF or CRLF; ``data:`` may lack the space after the colon; several data lines
    of one event are joined with newlines, as the spec says.
    """
    buffer = b""
    data: list[str] = []
    for chunk in chunks:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r").decode(errors="replace")
            if not line:
                if data:
                    yield "\n".join(data)
                    data = []
                continue
            name, _, value = line.partition(":")
            if name == "data":
                data.append(value.removeprefix(" "))
    if data:  # complete lines without the closing blank line; a cut-off line is dropped
        yield "\n".join(data)


def _read_some(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of the body (the rest is left unread)."""
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) >= limit:
            break
    return bytes(body[:limit])


def _error_message(raw: bytes | dict[str, Any]) -> str:
    """What the server said went wrong, from the usual error shapes, truncated."""
    payload: Any = raw
    if isinstance(raw, bytes):
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = raw.decode(errors="replace")
    message: Any = payload
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            message = error.get("message") or error
        elif error:
            message = error
        else:
            message = payload.get("message") or payload.get("detail") or payload
    text = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
    text = " ".join(text.split()) or "no details"
    if len(text) > ERROR_MESSAGE_CHARS:
        text = text[:ERROR_MESSAGE_CHARS] + "…"
    return text


def _usage(value: Any) -> Usage | None:
    if not isinstance(value, dict):
        return None
    prompt, completion = value.get("prompt_tokens"), value.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return Usage(prompt, completion)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _without_userinfo(url: str) -> str:
    """``url`` without any ``user:password@`` (an address shown in errors and logs)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"
