"""LLM benchmark: officebot's model layer against bare xllamacpp, and the transformers backend.

In one run, on the same GGUF file and the same fixed prompts (a short Chinese and a short English
chat turn, and a ~1,000-token bilingual meeting transcript to summarise), greedy with a fixed
``max_tokens`` and seed:

* ``direct``: ``xllamacpp.Server.handle_chat_completions`` called with the request body that
  ``LlamaCppBackend`` sends, nothing of officebot around it: the baseline;
* ``llamacpp``: the same server behind officebot's ``LLM`` service and ``LlamaCppBackend``
  (queue, worker thread, token counting, streaming callbacks);
* ``transformers``: the ``TransformersBackend`` behind the same service.

direct and llamacpp share one llama.cpp server, with prompt caching off so that every request
processes its whole prompt. Requests are interleaved, the order rotating from one to the next, and
officebot's overhead is the median over requests of wall(officebot) / wall(direct) - 1, each pair
being the same prompt in the same repetition. Peak resident memory (VmHWM) is measured in a
subprocess that loads only the default llamacpp path through ``llm.factory.create_llm`` and serves
one request, so neither torch nor a second model counts.

    .venv/bin/python bench/llm.py [--model qwen2.5-coder-1.5b|qwen2.5-coder-0.5b]
        [--backends direct,llamacpp,transformers] [--repeat 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# This file is llm.py: its own folder, first on sys.path, would shadow the llm package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from llm.backends.llamacpp import LlamaCppBackend  # noqa: E402
from llm.benchmark import (  # noqa: E402
    BenchPrompt,
    DirectLlamaCpp,
    Measurement,
    Runner,
    ServiceRunner,
    Summary,
    layer_cost,
    memory_use,
    paired_ratios,
    run_interleaved,
    standard_prompts,
    summarise,
)
from llm.config import LLMSettings  # noqa: E402
from llm.service import LLM  # noqa: E402
from llm.types import user  # noqa: E402
from llm.weights import MODELS, ensure_weights, model_spec  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BACKENDS = ("direct", "llamacpp", "transformers")
DIRECT, OFFICEBOT, TRANSFORMERS = "xllamacpp", "officebot/llamacpp", "officebot/transformers"
OVERHEAD_TARGET = 0.05
MEMORY_TARGET = 2.5e9
GB = 1e9
WARM_UP = BenchPrompt("warm-up", (user("你好，请用一句话介绍你自己。"),), max_tokens=8)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--model", choices=sorted(MODELS), default=LLMSettings().model)
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated, of: direct, llamacpp, transformers (default: all three)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of each prompt")
    parser.add_argument(
        "--transformers-repeat",
        type=int,
        default=2,
        help="repetitions for transformers (the first ones, interleaved); it is ~3x slower",
    )
    parser.add_argument("--max-tokens", type=int, default=96, help="output tokens per request")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    parser.add_argument("--context-tokens", type=int, default=LLMSettings().context_tokens)
    parser.add_argument(
        "--transformers-dtype", choices=("auto", "bfloat16", "float32"), default="auto"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=REPO / "data" / "models",
        help="where the weights are assembled (default: data/models, as `officebot serve`)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory probe")
    parser.add_argument("--rss-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(args.backends) - set(BACKENDS))
    if unknown or not args.backends:
        parser.error(f"unknown backends {unknown}; choose from {', '.join(BACKENDS)}")
    return args


def llama_server(weights: Path, args: argparse.Namespace) -> tuple[Any, float]:
    """A llama.cpp server set up as ``LlamaCppBackend`` sets it up, minus prompt caching."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(weights)
    params.n_ctx = args.context_tokens
    params.n_parallel = 1
    params.verbosity = 0
    params.warmup = False
    threads = args.threads or os.cpu_count() or 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.cache_prompt = False  # each repetition processes its whole prompt
    params.cache_ram_mib = 0
    started = time.perf_counter()
    server = xllamacpp.Server(params)
    return server, time.perf_counter() - started


def rss_probe(args: argparse.Namespace) -> None:
    """Child process: the default path (create_llm, llamacpp), one request, VmHWM as JSON."""
    from llm.factory import create_llm

    settings = LLMSettings(
        model=args.model,
        cache_dir=args.cache_dir,
        context_tokens=args.context_tokens,
        threads=args.threads,
        warm_up=False,
    )
    llm = create_llm(settings, data_dir=args.cache_dir)
    started = time.perf_counter()
    backend = llm.backend()
    loaded = time.perf_counter() - started
    prompt = standard_prompts(args.max_tokens)[-1]
    completion = llm.complete_sync(prompt.messages, options=prompt.options())
    memory = memory_use()
    llm.close()
    result = {
        "backend": backend.name,
        "model": args.model,
        "load_seconds": round(loaded, 2),
        "prompt_tokens": completion.usage.prompt_tokens,
        "completion_tokens": completion.usage.completion_tokens,
        "torch_imported": "torch" in sys.modules,
        **memory.as_json(),
    }
    print(json.dumps(result))


def measure_memory(args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--rss-probe",
        "--model",
        args.model,
        "--cache-dir",
        str(args.cache_dir),
        "--context-tokens",
        str(args.context_tokens),
        "--max-tokens",
        str(args.max_tokens),
    ]
    if args.threads:
        command += ["--threads", str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"the memory probe failed:\n{done.stderr[-3000:]}")
    probe: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return probe


def environment(args: argparse.Namespace) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for package in ("xllamacpp", "torch", "transformers"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "model": args.model,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": args.threads or os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
        "max_tokens": args.max_tokens,
        "context_tokens": args.context_tokens,
        "repeat": args.repeat,
        "load_average_before": os.getloadavg(),
    }


def show(measurement: Measurement) -> None:
    print(
        f"  rep {measurement.repetition + 1}  {measurement.runner:<24} {measurement.prompt:<16}"
        f" {measurement.wall_seconds:7.2f} s  prompt {measurement.prompt_tokens:5d} tok @"
        f" {measurement.prompt_tokens_per_second:6.1f}/s  output {measurement.completion_tokens:4d}"
        f" tok @ {measurement.generation_tokens_per_second:5.1f}/s",
        flush=True,
    )


def table(summaries: list[Summary]) -> str:
    header = (
        f"{'backend':<24} {'prompt':<16} {'runs':>4} {'wall s':>8} {'prompt tok':>10}"
        f" {'prompt tok/s':>12} {'out tok':>7} {'gen tok/s':>9}"
    )
    lines = [header, "-" * len(header)]
    for s in summaries:
        lines.append(
            f"{s.runner:<24} {s.prompt:<16} {s.runs:>4} {s.wall_seconds:>8.2f}"
            f" {s.prompt_tokens:>10} {s.prompt_tokens_per_second:>12.1f}"
            f" {s.completion_tokens:>7} {s.generation_tokens_per_second:>9.1f}"
        )
    return "\n".join(lines)


def percent(ratios: dict[str, float]) -> str:
    return ", ".join(f"{prompt} {100 * (r - 1):+.2f} %" for prompt, r in ratios.items())


def times(ratios: dict[str, float]) -> str:
    return ", ".join(f"{prompt} {r:.2f}x" for prompt, r in ratios.items())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.rss_probe:
        rss_probe(args)
        return 0
    spec = model_spec(args.model)
    weights = ensure_weights(spec, args.cache_dir)
    prompts = standard_prompts(args.max_tokens)
    env = environment(args)
    print(
        f"model {args.model} ({weights.name}), {env['cpu']}, {env['threads']} threads,"
        f" load average {env['load_average_before'][0]:.2f}; {args.repeat} repetitions,"
        f" max_tokens {args.max_tokens}, greedy",
        flush=True,
    )

    runners: list[Runner] = []
    services: list[LLM] = []
    load_seconds: dict[str, float] = {}
    if "direct" in args.backends or "llamacpp" in args.backends:
        server, load_seconds["llama.cpp server"] = llama_server(weights, args)
        backend = LlamaCppBackend(
            weights, model_name=spec.name, context_tokens=args.context_tokens, server=server
        )
        if "direct" in args.backends:
            runners.append(DirectLlamaCpp(server, backend.request_body, label=DIRECT))
        if "llamacpp" in args.backends:
            services.append(LLM(lambda: backend, timeout=3600, max_output_tokens=32768))
            runners.append(ServiceRunner(services[-1], OFFICEBOT))
    if "transformers" in args.backends:
        from llm.backends.transformers import TransformersBackend

        def load_transformers() -> TransformersBackend:
            return TransformersBackend(
                weights,
                model_name=spec.name,
                context_tokens=args.context_tokens,
                threads=args.threads,
                dtype=args.transformers_dtype,
            )

        service = LLM(load_transformers, timeout=3600, max_output_tokens=32768)
        started = time.perf_counter()
        loaded = service.backend()
        load_seconds["transformers"] = time.perf_counter() - started
        env["transformers_dtype"] = getattr(loaded, "dtype", None)
        services.append(service)
        runners.append(ServiceRunner(service, TRANSFORMERS))
    print("loaded: " + ", ".join(f"{k} {v:.1f} s" for k, v in load_seconds.items()), flush=True)

    for runner in runners:  # first-request effects (the token counter's tokenizer, caches)
        runner.run(WARM_UP, -1)
    started = time.perf_counter()
    measurements = run_interleaved(
        runners,
        prompts,
        args.repeat,
        repeat_of={TRANSFORMERS: min(args.transformers_repeat, args.repeat)},
        progress=show,
    )
    measuring = time.perf_counter() - started
    env["load_average_after"] = os.getloadavg()
    for service in services:
        service.close()

    summaries = summarise(measurements)
    print()
    print(table(summaries))
    print()
    report: dict[str, Any] = {
        "environment": env,
        "load_seconds": load_seconds,
        "measuring_seconds": measuring,
        "summaries": [s.as_json() for s in summaries],
        "measurements": [m.as_json() for m in measurements],
    }
    labels = {r.label for r in runners}
    if {DIRECT, OFFICEBOT} <= labels:
        wall = paired_ratios(measurements, OFFICEBOT, DIRECT, lambda m: m.wall_seconds)
        same = _identical(measurements, OFFICEBOT, DIRECT)
        verdict = "met" if wall["all"] - 1 < OVERHEAD_TARGET else "NOT met"
        print(
            f"officebot overhead vs bare xllamacpp (median of paired wall times): "
            f"{percent(wall)}; target < {OVERHEAD_TARGET:.0%}: {verdict}"
        )
        print(f"  identical outputs in {same[0]} of {same[1]} pairs (greedy, same server)")
        direct_wall = {s.prompt: s.wall_seconds for s in summaries if s.runner == DIRECT}
        cost = layer_cost(backend, prompts)
        print(
            "  the service alone, around a backend that answers at once: "
            + ", ".join(
                f"{name} {1000 * seconds:.2f} ms ({100 * seconds / direct_wall[name]:.3f} %)"
                for name, seconds in cost.items()
            )
        )
        report["overhead"] = {
            "wall_ratio": wall,
            "identical_outputs": same,
            "verdict": verdict,
            "service_seconds_alone": cost,
        }
    if {OFFICEBOT, TRANSFORMERS} <= labels:
        ratios = {
            "generation_tokens_per_second": paired_ratios(
                measurements, TRANSFORMERS, OFFICEBOT, lambda m: m.generation_tokens_per_second
            ),
            "prompt_tokens_per_second": paired_ratios(
                measurements, TRANSFORMERS, OFFICEBOT, lambda m: m.prompt_tokens_per_second
            ),
            "wall": paired_ratios(measurements, TRANSFORMERS, OFFICEBOT, lambda m: m.wall_seconds),
        }
        print(
            f"transformers ({env.get('transformers_dtype')}) / llama.cpp, paired medians:"
            f"\n  generation speed {times(ratios['generation_tokens_per_second'])}"
            f"\n  prompt speed     {times(ratios['prompt_tokens_per_second'])}"
            f"\n  wall time        {times(ratios['wall'])}"
        )
        report["transformers_vs_llamacpp"] = ratios
    if not args.no_memory:
        probe = measure_memory(args)
        verdict = "met" if probe["peak_resident"] < MEMORY_TARGET else "NOT met"
        print(
            f"peak resident memory, officebot + llamacpp + {args.model}, one request "
            f"({probe['prompt_tokens']} prompt tokens): {probe['peak_resident'] / GB:.2f} GB"
            f" (anonymous {probe['anonymous'] / GB:.2f} GB, mapped file"
            f" {probe['file_backed'] / GB:.2f} GB at the end); target < {MEMORY_TARGET / GB} GB:"
            f" {verdict}"
        )
        report["memory"] = {**probe, "verdict": verdict}
    print(
        f"load average {env['load_average_before'][0]:.2f} before, "
        f"{env['load_average_after'][0]:.2f} after ({os.cpu_count()} cores); "
        f"measuring took {measuring:.0f} s"
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))
        print(f"wrote {args.json}")
    return 0


def _identical(measurements: list[Measurement], first: str, second: str) -> tuple[int, int]:
    texts: dict[tuple[str, str, int], str] = {
        (m.runner, m.prompt, m.repetition): m.text for m in measurements
    }
    pairs = [
        (text, texts.get((second, prompt, repetition)))
        for (runner, prompt, repetition), text in texts.items()
        if runner == first
    ]
    return sum(1 for a, b in pairs if a == b), sum(1 for _, b in pairs if b is not None)


if __name__ == "__main__":
    raise SystemExit(main())
