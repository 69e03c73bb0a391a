"""Long input within a context window: split on natural boundaries, then map and reduce.

``split_text`` cuts a text into chunks of at most ``max_tokens`` tokens at the strongest
boundary that fits: blank lines, then lines, then sentences, then clauses, then words, and
only then characters. Each piece is counted once and counts are added up, so a 100k-character
text costs a number of ``count_tokens`` calls proportional to its pieces, not its square;
each finished chunk is counted once more, because tokens at a junction can merge.

``map_reduce`` runs a prompt (``llm.prompts``) over a text of any length: one request when it
fits, else one ``map`` request per chunk and a ``reduce`` request over the partial results,
reducing in groups, level by level, while the partial results together do not fit either.
The plan is one generator shared by the sync function (for job threads) and the async one;
the async one also runs the planning (token counting) in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from llm.errors import LLMError
from llm.prompts import render
from llm.service import MESSAGE_OVERHEAD_TOKENS
from llm.types import Completion, GenerationOptions, Message, Priority

log = logging.getLogger(__name__)

TokenCounter = Callable[[str], int]
Progress = Callable[[str, float], None]
"""``progress(stage, percent)``: stage is "single", "map" or "reduce"; percent is 0-100."""

# Boundaries from strongest to weakest; each match ends a piece (the separator stays with the
# text before it, so the pieces join back into the text exactly).
_BOUNDARIES = (
    re.compile(r"\n[ \t\u3000]*\n\s*"),  # blank lines: paragraphs
    re.compile(r"\n\s*"),  # lines
    # sentences; the dot of a list number ("2. Release plan") ends none
    re.compile(
        r"[。！？；!?;…]+[”’\"'」』）)\]]*\s*"
        r"|(?<!^\d)(?<!^\d\d)(?<!\n\d)(?<!\n\d\d)\.+[”’\"')\]]*(?:\s+|$)"
    ),
    re.compile(r"[，、,：:](?=\s)\s*|[，、：]"),  # clauses
    re.compile(r"\s+"),  # words
)


# --- splitting -----------------------------------------------------------------------------


def split_text(
    text: str, max_tokens: int, count_tokens: TokenCounter, overlap_tokens: int = 0
) -> list[str]:
    """``text`` in order as chunks of at most ``max_tokens`` tokens (by ``count_tokens``).

    Chunks are cut at the strongest boundary that fits and stripped of surrounding
    whitespace; joined without overlap they give back the text, up to whitespace at the cuts.
    With ``overlap_tokens``, each chunk after the first starts with the last sentences (at
    most ``overlap_tokens`` tokens) of the chunk before it, for context; the new text of each
    chunk is then at most ``max_tokens - overlap_tokens`` tokens.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    if not 0 <= overlap_tokens <= max_tokens // 2:
        raise ValueError(
            f"overlap_tokens must be between 0 and half of max_tokens ({max_tokens // 2}), "
            f"got {overlap_tokens}"
        )
    if not text.strip():
        return []
    if count_tokens(text) <= max_tokens:
        return [text.strip()]
    budget = max_tokens - overlap_tokens
    pieces = _pieces(text, 0, budget, count_tokens)
    chunks = _pack(pieces, budget, count_tokens)
    if overlap_tokens:
        chunks = _with_overlap(chunks, overlap_tokens, max_tokens, count_tokens)
    return chunks


def _segments(text: str, boundary: re.Pattern[str]) -> list[str]:
    segments = []
    start = 0
    for match in boundary.finditer(text):
        if match.end() > start:
            segments.append(text[start : match.end()])
            start = match.end()
    if start < len(text):
        segments.append(text[start:])
    return segments


def _pieces(text: str, level: int, budget: int, count: TokenCounter) -> list[tuple[str, int]]:
    """``text`` as consecutive pieces of at most ``budget`` tokens each, with their counts."""
    if level == len(_BOUNDARIES):
        return _hard_split(text, budget, count)
    pieces: list[tuple[str, int]] = []
    for segment in _segments(text, _BOUNDARIES[level]):
        tokens = count(segment)
        if tokens <= budget:
            pieces.append((segment, tokens))
        else:
            pieces.extend(_pieces(segment, level + 1, budget, count))
    return pieces


def _hard_split(text: str, budget: int, count: TokenCounter) -> list[tuple[str, int]]:
    """Character cuts for text with no usable boundary (a very long word, URL or CJK run)."""
    pieces: list[tuple[str, int]] = []
    start = 0
    while start < len(text):
        rest = text[start:]
        # The longest prefix within budget: widen a window until it no longer fits (so no call
        # counts much more than a chunk's worth of text), then bisect on its length.
        high = min(len(rest), 4 * budget)
        while high < len(rest) and count(rest[:high]) <= budget:
            high = min(len(rest), 2 * high)
        if high == len(rest) and (tokens := count(rest)) <= budget:
            pieces.append((rest, tokens))
            break
        low = 1
        while low < high:
            middle = (low + high + 1) // 2
            if count(rest[:middle]) <= budget:
                low = middle
            else:
                high = middle - 1
        end = low
        while end > 1 and _splits_glyph(rest, end):
            end -= 1
        piece = rest[:end]
        pieces.append((piece, count(piece)))
        start += end
    return pieces


def _splits_glyph(text: str, position: int) -> bool:
    char = text[position] if position < len(text) else ""
    return bool(char) and (
        char == "\u200d"
        or text[position - 1] == "\u200d"
        or 0xFE00 <= ord(char) <= 0xFE0F
        or 0x1F3FB <= ord(char) <= 0x1F3FF
        or 0xDC00 <= ord(char) <= 0xDFFF
    )


def _pack(pieces: list[tuple[str, int]], budget: int, count: TokenCounter) -> list[str]:
    """Consecutive pieces joined greedily into chunks of at most ``budget`` tokens."""
    chunks: list[str] = []
    index = 0
    while index < len(pieces):
        end = index
        total = 0
        while end < len(pieces) and total + pieces[end][1] <= budget:
            total += pieces[end][1]
            end += 1
        end = max(end, index + 1)
        # Tokens can merge across a junction either way: check the chunk, give back pieces.
        while end > index + 1 and count(_join(pieces[index:end]).strip()) > budget:
            end -= 1
        chunk = _join(pieces[index:end]).strip()
        if chunk:
            chunks.append(chunk)
        index = end
    return chunks


def _join(pieces: Sequence[tuple[str, int]]) -> str:
    return "".join(piece for piece, _ in pieces)


def _with_overlap(
    chunks: list[str], overlap: int, max_tokens: int, count: TokenCounter
) -> list[str]:
    result = [chunks[0]]
    for previous, chunk in itertools.pairwise(chunks):
        tail = _tail(previous, overlap, count)
        joined = f"{tail}\n{chunk}" if tail else chunk
        result.append(joined if count(joined) <= max_tokens else chunk)
    return result


def _tail(text: str, overlap: int, count: TokenCounter) -> str:
    """The last whole sentences of ``text`` within ``overlap`` tokens (else its last words)."""
    sentences = _segments(text, _BOUNDARIES[2])
    taken = ""
    for sentence in reversed(sentences):
        candidate = sentence + taken
        if count(candidate.strip()) > overlap:
            break
        taken = candidate
    if taken.strip():
        return taken.strip()
    low, high = 0, min(len(text), overlap * 8)
    while low < high:  # the longest suffix within the overlap, by bisection
        middle = (low + high + 1) // 2
        if count(text[-middle:]) <= overlap:
            low = middle
        else:
            high = middle - 1
    return text[len(text) - low :].strip() if low else ""


# --- map and reduce ------------------------------------------------------------------------


class TextModel(Protocol):
    """What ``map_reduce`` needs of a model; ``llm.service.LLM`` is one."""

    @property
    def context_window(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def complete_sync(self, messages: Sequence[Message], **kwargs: Any) -> Completion: ...

    async def complete(self, messages: Sequence[Message], **kwargs: Any) -> Completion: ...


@dataclass(frozen=True, slots=True)
class _Call:
    messages: list[Message]
    stage: str
    percent: float
    """Progress once this call is done."""


_Plan = Generator[_Call, str, str]
MAP_SHARE = 90.0
"""Percent of the progress given to the map stage; reducing takes the rest."""


def map_reduce(
    llm: TextModel,
    text: str,
    *,
    lang: str,
    map_task: str = "summarize_chunk",
    reduce_task: str = "summarize_merge",
    max_output_tokens: int = 512,
    priority: Priority = Priority.BACKGROUND,
    progress: Progress | None = None,
    options: GenerationOptions | None = None,
    variables: Mapping[str, Any] | None = None,
) -> str:
    """``text`` through ``map_task`` (chunk by chunk) and ``reduce_task``; for job threads.

    ``map_task`` templates read ``text``, ``part`` and ``parts`` (``parts`` is 1 when the
    whole text fits one request, which then is the only one); ``reduce_task`` templates read
    ``summaries`` (a list of str). ``variables`` go to both (e.g. a meeting's title).
    ``options`` sets sampling; its ``max_tokens`` is replaced by ``max_output_tokens``.
    Never call this on the event loop: use ``map_reduce_async`` there.
    """
    plan = _plan(llm, text, lang, map_task, reduce_task, max_output_tokens, variables)
    request = _options(options, max_output_tokens)
    try:
        step = _advance(plan, None)
        while isinstance(step, _Call):
            reply = llm.complete_sync(step.messages, options=request, priority=priority)
            if progress is not None:
                progress(step.stage, step.percent)
            step = _advance(plan, reply.text)
        return step.result
    finally:
        plan.close()


async def map_reduce_async(
    llm: TextModel,
    text: str,
    *,
    lang: str,
    map_task: str = "summarize_chunk",
    reduce_task: str = "summarize_merge",
    max_output_tokens: int = 512,
    priority: Priority = Priority.BACKGROUND,
    progress: Progress | None = None,
    options: GenerationOptions | None = None,
    variables: Mapping[str, Any] | None = None,
) -> str:
    """``map_reduce`` for async callers: requests are awaited, and token counting and
    splitting run in a worker thread, so the event loop never blocks."""
    plan = _plan(llm, text, lang, map_task, reduce_task, max_output_tokens, variables)
    request = _options(options, max_output_tokens)
    try:
        step = await asyncio.to_thread(_advance, plan, None)
        while isinstance(step, _Call):
            reply = await llm.complete(step.messages, options=request, priority=priority)
            if progress is not None:
                progress(step.stage, step.percent)
            step = await asyncio.to_thread(_advance, plan, reply.text)
        return step.result
    finally:
        with contextlib.suppress(ValueError):  # still running in a thread when cancelled
            plan.close()


@dataclass(frozen=True, slots=True)
class _Done:
    result: str


def _advance(plan: _Plan, reply: str | None) -> _Call | _Done:
    """The plan's next call, or its result (a StopIteration must not cross a thread's future)."""
    try:
        return next(plan) if reply is None else plan.send(reply)
    except StopIteration as done:
        return _Done(done.value)


def _options(options: GenerationOptions | None, max_output_tokens: int) -> GenerationOptions:
    return replace(options or GenerationOptions(), max_tokens=max_output_tokens)


@dataclass(frozen=True, slots=True)
class Budget:
    """How many tokens of text one request of a task may carry."""

    context_window: int
    prompt_tokens: int
    output_tokens: int
    margin: int

    @property
    def text_tokens(self) -> int:
        return self.context_window - self.prompt_tokens - self.output_tokens - self.margin


def safety_margin(context_window: int) -> int:
    """Tokens kept free for tokenization differences at the junctions of a rendered prompt."""
    return max(16, context_window // 32)


def prompt_tokens(messages: Sequence[Message], count_tokens: TokenCounter) -> int:
    """Tokens ``messages`` take in a request, with the chat template's markers."""
    return sum(count_tokens(m.content) + MESSAGE_OVERHEAD_TOKENS for m in messages)


def _plan(
    llm: TextModel,
    text: str,
    lang: str,
    map_task: str,
    reduce_task: str,
    max_output_tokens: int,
    variables: Mapping[str, Any] | None,
) -> _Plan:
    """The requests of one map-reduce run: yields each call, receives its reply's text."""
    extra = dict(variables or {})
    reserved = sorted(extra.keys() & {"text", "part", "parts", "summaries"})
    if reserved:
        raise ValueError(f"variables must not set {', '.join(reserved)}: map_reduce sets them")
    if not text.strip():
        return ""
    count = llm.count_tokens
    window = llm.context_window
    margin = safety_margin(window)

    def budget_for(messages: list[Message]) -> Budget:
        return Budget(window, prompt_tokens(messages, count), max_output_tokens, margin)

    def map_call(chunk: str, part: int, parts: int) -> list[Message]:
        return render(map_task, lang, **extra, text=chunk, part=part, parts=parts)

    def reduce_call(summaries: list[str]) -> list[Message]:
        return render(reduce_task, lang, **extra, summaries=summaries)

    map_budget = budget_for(map_call("", 99, 99))
    _require_room(map_budget, map_task)
    whole = map_call(text, 1, 1)
    if prompt_tokens(whole, count) + max_output_tokens + margin <= window:
        return (yield _Call(whole, "single", 100.0)).strip()

    chunks = split_text(text, map_budget.text_tokens, count)
    log.info("map-reduce over %d chunks of at most %d tokens", len(chunks), map_budget.text_tokens)
    partials = []
    for part, chunk in enumerate(chunks, start=1):
        reply = yield _Call(
            map_call(chunk, part, len(chunks)), "map", MAP_SHARE * part / len(chunks)
        )
        partials.append(reply.strip())

    empty_reduce = budget_for(reduce_call([]))
    item_overhead = prompt_tokens(reduce_call(["x"]), count) - empty_reduce.prompt_tokens
    _require_room(empty_reduce, reduce_task, per_item=item_overhead)
    room = empty_reduce.text_tokens
    percent = MAP_SHARE
    while True:
        partials = [p for p in partials if p]
        if not partials:
            return ""
        sizes = [count(p) + item_overhead for p in partials]
        if sum(sizes) <= room:
            return (yield _Call(reduce_call(partials), "reduce", 100.0)).strip()
        merged = []
        for group in _group(partials, sizes, room, count, item_overhead):
            if len(group) == 1:
                merged.append(group[0])
                continue
            percent += (99.0 - percent) / 2  # the number of levels is not known in advance
            merged.append((yield _Call(reduce_call(group), "reduce", percent)).strip())
        partials = merged


def _require_room(budget: Budget, task: str, per_item: int = 0) -> None:
    needed = max(64, 2 * (budget.output_tokens + per_item))
    if budget.text_tokens < needed:
        raise LLMError(
            f"the {budget.context_window}-token context window leaves {budget.text_tokens} "
            f"tokens of text for task {task!r} (its prompt takes {budget.prompt_tokens}, the "
            f"output {budget.output_tokens}, the margin {budget.margin}); at least {needed} are "
            "needed: lower max_output_tokens or raise OFFICEBOT_LLM__CONTEXT_TOKENS"
        )


def _group(
    partials: list[str], sizes: list[int], room: int, count: TokenCounter, item_overhead: int
) -> list[list[str]]:
    """Consecutive partial results in groups that fit ``room``, never a group of one
    oversized partial result next to others: one that alone takes more than half the room is
    cut to half (this only happens when a reply runs far past ``max_output_tokens``)."""
    partials, sizes = list(partials), list(sizes)
    half = room // 2 - item_overhead - 4  # room for the "…"
    for index, size in enumerate(sizes):
        if size > room // 2:
            log.warning("a partial result of %d tokens is cut to %d to reduce it", size, half)
            partials[index] = split_text(partials[index], half, count)[0] + "…"
            sizes[index] = count(partials[index]) + item_overhead
    groups: list[list[str]] = [[]]
    total = 0
    for partial, size in zip(partials, sizes, strict=True):
        if groups[-1] and total + size > room:
            groups.append([])
            total = 0
        groups[-1].append(partial)
        total += size
    return groups
