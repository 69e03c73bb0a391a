"""Group-chat summary benchmark: how the cost grows from 100 to 1,000 to 10,000 messages.

The chats are the hand-written test chats (tests/data/chats: two Chinese, two English, 180
messages each with interleaved topics) repeated week after week up to the size asked for. Per
size it measures, on the same messages in the same run:

- **extractive**: the summary without the model (topics, TextRank points, patterns), median of
  ``--repeat`` runs; its baseline is **read** (numbering, jieba and topic segmentation alone,
  the work every summary does before anything else), so ``extractive/read`` is what the
  summarizing itself adds;
- **model** (sizes up to ``--model-max``, default 1,000): the summary with the shared model
  (default 1.5B, ``mode="model"``), once; its baseline is **prompt only**: the same requests
  with one token of output, which is what reading the chat costs the model, so
  ``model/prompt`` is what writing the drafts adds;
- **auto** at every size: what ``/summary`` does by default (the model within the token
  budget, the extractive path beyond it), and which it chose.

    .venv/bin/python bench/chat.py                       # 100, 1,000, 10,000; the 1.5B model
    .venv/bin/python bench/chat.py --llm qwen2.5-coder-0.5b --sizes 100 1000
    .venv/bin/python bench/chat.py --model-max 0         # extractive only, in seconds
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chat_summary.chat import (  # noqa: E402
    DEFAULT_BUDGET_TOKENS,
    DEFAULT_BUSY_QUEUE,
    extractive_reason,
    planned_requests,
    summarize_chat,
)
from chat_summary.conversation import prepare  # noqa: E402
from chat_summary.keywords import warm_up  # noqa: E402
from llm.config import LLMSettings  # noqa: E402
from llm.factory import create_llm  # noqa: E402
from llm.types import GenerationOptions  # noqa: E402
from tests.support.chats import long_chat  # noqa: E402

EXTRACTIVE_TARGET_S = 2.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(func: Any, repeat: int) -> tuple[float, Any]:
    """The median wall time of ``repeat`` calls, and the last result."""
    times = []
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def prompt_only(llm: Any, messages: list[Any]) -> tuple[float, int, int]:
    """The model's requests for these messages with one token of output: seconds, requests,
    prompt tokens."""
    requests = planned_requests(llm, prepare(messages))
    started = time.perf_counter()
    tokens = 0
    for prompt in requests:
        tokens += llm.prompt_tokens(prompt)
        llm.complete_sync(prompt, options=GenerationOptions(max_tokens=1, temperature=0.0))
    return time.perf_counter() - started, len(requests), tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000])
    parser.add_argument("--llm", default="qwen2.5-coder-1.5b")
    parser.add_argument(
        "--model-max", type=int, default=1000, help="largest size run with the model"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of the extractive path")
    parser.add_argument("--context", type=int, default=8192)
    parser.add_argument("--cache", type=Path, default=ROOT / "data" / "models")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    started = time.perf_counter()
    warm_up()
    print(f"jieba dictionary loaded in {time.perf_counter() - started:.2f} s (once per process)")
    llm = None
    if args.model_max > 0:
        llm = create_llm(
            LLMSettings(
                model=args.llm, cache_dir=args.cache, context_tokens=args.context, warm_up=False
            ),
            data_dir=args.cache,
        )
        started = time.perf_counter()
        llm.backend()
        print(f"{args.llm} loaded in {time.perf_counter() - started:.1f} s", flush=True)
    results: list[dict[str, Any]] = []
    for size in args.sizes:
        messages = long_chat(size)
        row: dict[str, Any] = {"messages": size}
        read_s, _ = timed(lambda m=messages: prepare(m), args.repeat)
        extractive_s, summary = timed(
            lambda m=messages: summarize_chat(None, m, mode="extractive"), args.repeat
        )
        row.update(
            read_s=round(read_s, 3),
            extractive_s=round(extractive_s, 3),
            extractive_per_read=round(extractive_s / read_s, 2),
            topics=len(summary.topics) + summary.minor_topics,
            todos=len(summary.todos),
        )
        print(
            f"\n{size:>6} messages: read {read_s:.3f} s, extractive {extractive_s:.3f} s "
            f"({extractive_s / read_s:.2f}x read; {size / extractive_s:,.0f} messages/s), "
            f"{row['topics']} topics, {row['todos']} to-dos; peak RSS {peak_rss_mb():.0f} MB",
            flush=True,
        )
        if llm is not None and size <= args.model_max:
            prompt_s, requests, tokens = prompt_only(llm, messages)
            model_s, modelled = timed(lambda m=messages: summarize_chat(llm, m, mode="model"), 1)
            row.update(
                model_s=round(model_s, 1),
                prompt_only_s=round(prompt_s, 1),
                model_per_prompt=round(model_s / prompt_s, 2),
                requests=requests,
                prompt_tokens=tokens,
                model_method=modelled.method,
                model_per_message_s=round(model_s / size, 3),
            )
            print(
                f"        model {model_s:.1f} s ({model_s / size:.2f} s a message, "
                f"{requests} requests, {tokens:,} prompt tokens); prompt only {prompt_s:.1f} s: "
                f"model/prompt {model_s / prompt_s:.2f}x; method {modelled.method}; "
                f"peak RSS {peak_rss_mb():.0f} MB",
                flush=True,
            )
        if llm is not None:
            reason = extractive_reason(
                llm, prepare(messages), "auto", DEFAULT_BUDGET_TOKENS, DEFAULT_BUSY_QUEUE
            )
            if reason is None and "model_s" in row:
                auto_s, method = row["model_s"], "model (the run above)"
            elif reason is None:
                auto_s, method = timed(lambda m=messages: summarize_chat(llm, m), 1)[0], "model"
            else:
                auto_s = timed(lambda m=messages: summarize_chat(llm, m), 1)[0]
                method = f"extractive ({reason})"
            row.update(auto_s=round(auto_s, 2), auto=method)
            print(
                f"        auto (budget {DEFAULT_BUDGET_TOKENS:,} tokens): {method} in "
                f"{auto_s:.2f} s",
                flush=True,
            )
        results.append(row)
    largest = max(results, key=lambda r: r["messages"])
    verdict = "met" if largest["extractive_s"] < EXTRACTIVE_TARGET_S else "MISSED"
    print(
        f"\nextractive path on {largest['messages']:,} messages: {largest['extractive_s']:.2f} s "
        f"(target under {EXTRACTIVE_TARGET_S:.0f} s: {verdict})"
    )
    modelled_rows = [r for r in results if "model_s" in r]
    if len(modelled_rows) >= 2:
        first, last = modelled_rows[0], modelled_rows[-1]
        growth = last["model_s"] / first["model_s"]
        print(
            f"model cost from {first['messages']:,} to {last['messages']:,} messages: "
            f"x{growth:.1f} for x{last['messages'] / first['messages']:.0f} the messages"
        )
    if llm is not None:
        llm.close()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"llm": args.llm, "results": results}, indent=1))


if __name__ == "__main__":
    main()
