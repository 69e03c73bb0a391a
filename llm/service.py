"""One model per process, behind a priority queue.

Two CPU cores decode one sequence at full speed; two sequences at once only thrash. So every
request goes through one queue served by one worker thread that owns the backend: requests
with a lower ``Priority`` (someone waiting in a chat) are taken before background work, and
within a priority first come, first served. Each request has a timeout covering its wait and
its run; a request that runs out of time stops generating at the next token.

The backend loads lazily, in the worker thread, on the first request (or ``warm_up``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from llm.backends.base import Backend
from llm.errors import BackendError, LLMError, LLMTimeoutError
from llm.types import Completion, GenerationOptions, Message, Priority

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
BackendFactory = Callable[[], Backend]
TextSink = Callable[[str], None]


class RequestCancelledError(LLMError):
    """The caller gave up on the request (it stopped at the next token)."""

    code = "llm_cancelled"


class InputTooLongError(LLMError):
    """The prompt and the requested output do not fit the model's context window."""

    code = "llm_input_too_long"


class RequestFuture(concurrent.futures.Future[Completion]):
    """The future of one request; ``cancel_request`` stops it even while it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.stop_requested = threading.Event()

    def cancel_request(self) -> None:
        self.stop_requested.set()


@dataclass(order=True)
class _Request:
    priority: int
    sequence: int
    messages: Sequence[Message] = field(compare=False)
    options: GenerationOptions = field(compare=False)
    json_schema: dict[str, Any] | None = field(compare=False)
    sink: TextSink | None = field(compare=False)
    deadline: float = field(compare=False)
    timeout: float = field(compare=False)
    submitted: float = field(compare=False)
    future: RequestFuture = field(compare=False, default_factory=RequestFuture)

    @property
    def cancelled(self) -> threading.Event:
        return self.future.stop_requested


@dataclass(frozen=True, slots=True)
class LLMStats:
    """What ``GET /api/status`` shows about the model."""

    backend: str | None
    model: str | None
    loaded: bool
    busy: bool
    queue_depth: int
    queued_interactive: int
    queued_background: int
    served: int
    failed: int
    generation_tokens_per_second: float
    prompt_tokens_per_second: float

    def as_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "model": self.model,
            "loaded": self.loaded,
            "busy": self.busy,
            "queue_depth": self.queue_depth,
            "queued_interactive": self.queued_interactive,
            "queued_background": self.queued_background,
            "served": self.served,
            "failed": self.failed,
            "generation_tokens_per_second": round(self.generation_tokens_per_second, 2),
            "prompt_tokens_per_second": round(self.prompt_tokens_per_second, 2),
        }


class LLM:
    """The shared model. Thread-safe; async methods never block the event loop."""

    def __init__(
        self,
        backend_factory: BackendFactory,
        *,
        timeout: float = 300.0,
        max_output_tokens: int = 1024,
        describe: tuple[str, str] | None = None,
    ) -> None:
        self._factory = backend_factory
        self._timeout = timeout
        self._max_output_tokens = max_output_tokens
        self._describe = describe
        self._backend: Backend | None = None
        self._load_lock = threading.Lock()
        self._queue: queue.PriorityQueue[_Request] = queue.PriorityQueue()
        self._sequence = itertools.count()
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()
        self._closed = False
        self._busy = False
        self._served = 0
        self._failed = 0
        self._recent: deque[Completion] = deque(maxlen=20)

    # --- the backend -------------------------------------------------------------------------

    def backend(self) -> Backend:
        """The loaded backend (loading it now if needed; blocks while it loads)."""
        if self._backend is None:
            with self._load_lock:
                if self._backend is None:
                    self._backend = self._factory()
        return self._backend

    def warm_up(self) -> concurrent.futures.Future[None]:
        """Load the backend in the background, so the first request does not wait for it."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()

        def load() -> None:
            try:
                self.backend()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(None)

        threading.Thread(target=load, name="llm-warm-up", daemon=True).start()
        return future

    def count_tokens(self, text: str) -> int:
        return self.backend().count_tokens(text)

    @property
    def context_window(self) -> int:
        return self.backend().context_window

    @property
    def supports_json_schema(self) -> bool:
        return self.backend().supports_json_schema

    # --- submitting --------------------------------------------------------------------------

    def submit(
        self,
        messages: Sequence[Message],
        *,
        options: GenerationOptions | None = None,
        json_schema: dict[str, Any] | None = None,
        priority: Priority = Priority.INTERACTIVE,
        timeout: float | None = None,
        sink: TextSink | None = None,
    ) -> RequestFuture:
        """Queue a request; the future resolves with its ``Completion`` (thread-safe)."""
        if self._closed:
            raise LLMError("the model has been closed")
        if not messages:
            raise ValueError("a request needs at least one message")
        options = options or GenerationOptions()
        if options.max_tokens > self._max_output_tokens:
            options = dataclasses.replace(options, max_tokens=self._max_output_tokens)
        limit = timeout if timeout is not None else self._timeout
        now = time.monotonic()
        request = _Request(
            priority=int(priority),
            sequence=next(self._sequence),
            messages=tuple(messages),
            options=options,
            json_schema=json_schema,
            sink=sink,
            deadline=now + limit,
            timeout=limit,
            submitted=now,
        )
        self._ensure_worker()
        self._queue.put(request)
        return request.future

    def complete_sync(self, messages: Sequence[Message], **kwargs: Any) -> Completion:
        """For worker threads (job handlers): submit and wait; background priority unless told
        otherwise. Never call it from the event loop."""
        kwargs.setdefault("priority", Priority.BACKGROUND)
        return self.submit(messages, **kwargs).result()

    async def complete(self, messages: Sequence[Message], **kwargs: Any) -> Completion:
        future = self.submit(messages, **kwargs)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel_request()
            raise

    async def chat(self, messages: Sequence[Message], **kwargs: Any) -> str:
        """The reply's text."""
        return (await self.complete(messages, **kwargs)).text

    async def stream(self, messages: Sequence[Message], **kwargs: Any) -> AsyncGenerator[str, None]:
        """The reply as it is generated, piece by piece.

        Leaving the loop early stops generation once the generator is closed: use
        ``contextlib.aclosing`` (or ``aclose()``) to stop it at once.
        """
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str | None] = asyncio.Queue()

        def deliver(item: str | None) -> None:
            # The caller's loop may be gone (it stopped listening): nothing to deliver to.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(pieces.put_nowait, item)

        future = self.submit(messages, sink=deliver, **kwargs)
        future.add_done_callback(lambda _: deliver(None))
        try:
            while (piece := await pieces.get()) is not None:
                yield piece
            future.result()  # raises the request's error, if any
        finally:
            if not future.done():
                future.cancel_request()

    async def structured(
        self, messages: Sequence[Message], model: type[ModelT], **kwargs: Any
    ) -> ModelT:
        """A validated ``model`` instance (see ``llm.structured``)."""
        from llm.structured import structured

        return await structured(self, messages, model, **kwargs)

    def structured_sync(
        self, messages: Sequence[Message], model: type[ModelT], **kwargs: Any
    ) -> ModelT:
        """The same, for worker threads."""
        from llm.structured import structured_sync

        return structured_sync(self, messages, model, **kwargs)

    # --- the worker --------------------------------------------------------------------------

    def _ensure_worker(self) -> None:
        with self._worker_lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="llm-worker", daemon=True)
                self._worker.start()

    def _work(self) -> None:
        while True:
            request = self._queue.get()
            if request.sequence < 0:  # the close() sentinel
                return
            if not request.future.set_running_or_notify_cancel():
                continue
            self._busy = True
            try:
                completion = self._run(request)
            except BaseException as exc:
                self._busy = False
                self._failed += 1
                request.future.set_exception(exc)
            else:
                self._busy = False
                self._served += 1
                self._recent.append(completion)
                request.future.set_result(completion)

    def _run(self, request: _Request) -> Completion:
        started = time.monotonic()
        waited = started - request.submitted
        if request.cancelled.is_set():
            raise RequestCancelledError("the request was cancelled before it ran")
        if started >= request.deadline:
            raise LLMTimeoutError(
                f"the request waited {waited:.0f} s for the model, past its {request.timeout:.0f} s"
                " timeout (the model is busy; try again, or raise OFFICEBOT_LLM__REQUEST_TIMEOUT_S)"
            )
        try:
            backend = self.backend()
        except LLMError:
            raise
        except Exception as exc:
            raise BackendError(f"the model could not be loaded: {exc}") from exc
        self._check_fits(backend, request)
        timed_out = False

        def on_text(piece: str) -> bool:
            nonlocal timed_out
            if request.cancelled.is_set():
                return True
            if request.sink is not None:
                request.sink(piece)
            if time.monotonic() >= request.deadline:
                timed_out = True
                return True
            return False

        completion = backend.complete(
            request.messages, request.options, json_schema=request.json_schema, on_text=on_text
        )
        if timed_out:
            raise LLMTimeoutError(
                f"the model ran past the request's {request.timeout:.0f} s timeout and was stopped"
            )
        if request.cancelled.is_set():
            raise RequestCancelledError("the request was cancelled while it ran")
        return dataclasses.replace(completion, queued_seconds=waited)

    def prompt_tokens(self, messages: Sequence[Message]) -> int:
        """Tokens ``messages`` take in the model's context, chat-template markers included
        (loads the backend: call it from a thread, not the event loop)."""
        return _prompt_tokens(self.backend(), messages)

    def _check_fits(self, backend: Backend, request: _Request) -> None:
        prompt = _prompt_tokens(backend, request.messages)
        needed = prompt + request.options.max_tokens
        if needed > backend.context_window:
            raise InputTooLongError(
                f"the input is {prompt} tokens; with {request.options.max_tokens} tokens of "
                f"output it does not fit the {backend.context_window}-token context window "
                "(split it with llm.longtext, or raise OFFICEBOT_LLM__CONTEXT_TOKENS)"
            )

    # --- status and shutdown -----------------------------------------------------------------

    def stats(self) -> LLMStats:
        pending = list(self._queue.queue)
        recent = list(self._recent)
        generated = sum(c.usage.completion_tokens for c in recent)
        generating = sum(c.generation_seconds for c in recent)
        prompted = sum(c.usage.evaluated_prompt_tokens for c in recent)
        prompting = sum(c.prompt_seconds for c in recent)
        backend = self._backend
        names = (backend.name, backend.model_name) if backend else (self._describe or (None, None))
        return LLMStats(
            backend=names[0],
            model=names[1],
            loaded=backend is not None,
            busy=self._busy,
            queue_depth=len(pending),
            queued_interactive=sum(1 for r in pending if r.priority < Priority.BACKGROUND),
            queued_background=sum(1 for r in pending if r.priority >= Priority.BACKGROUND),
            served=self._served,
            failed=self._failed,
            generation_tokens_per_second=generated / generating if generating else 0.0,
            prompt_tokens_per_second=prompted / prompting if prompting else 0.0,
        )

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking requests, fail the queued ones, and free the model."""
        self._closed = True
        while True:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                break
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                request.future.set_exception(LLMError("the model was shut down"))
        if self._worker is not None:
            self._queue.put(
                _Request(
                    priority=-1,
                    sequence=-1,
                    messages=(),
                    options=GenerationOptions(),
                    json_schema=None,
                    sink=None,
                    deadline=0,
                    timeout=0,
                    submitted=0,
                )
            )
            self._worker.join(timeout)
        if self._backend is not None:
            self._backend.close()
            self._backend = None


MESSAGE_OVERHEAD_TOKENS = 8
"""What the chat template adds around each message (role markers, separators), at most."""


def _prompt_tokens(backend: Backend, messages: Sequence[Message]) -> int:
    return sum(backend.count_tokens(m.content) + MESSAGE_OVERHEAD_TOKENS for m in messages)
