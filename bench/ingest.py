"""Ingest benchmark: signed DingTalk callbacks per second, officebot against a bare FastAPI app.

Starts two servers one after the other, each as its own process on a loopback port and under the
same uvicorn settings: the real officebot (``officebot serve``, SQLite in a temporary data dir, a
real DingTalk AppSecret) and a baseline FastAPI app whose one POST endpoint parses the JSON body
and answers ``{}``. This process is the load generator (so it never shares a server's GIL): HTTP/1.1
keep-alive over several connections, hand-written requests, every one a correctly signed DingTalk
callback with a unique msgId and a plain (non-command) Chinese or English text.

Each server gets a short warm-up, then two phases:

* closed loop: every connection sends its next request as soon as the previous answer arrives;
  the completion rate is the maximum throughput;
* open loop: requests follow a fixed timetable at ``--rate`` per second and latency is measured
  from the scheduled send time, so a server that falls behind is charged for the queue it causes
  (no coordinated omission).

The ratios officebot/baseline are what to compare across runs and machines: both servers run on
the same noisy cores in the same run. After officebot stops, the rows in its ``messages`` table
must equal the 200 answers it gave (every event is committed before the webhook answers).

    .venv/bin/python bench/ingest.py [--rate 1000] [--duration 10] [--connections 32] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import platform
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PATH = "/webhooks/dingtalk"
TARGET_P99_MS = 50.0
RATE_TOLERANCE = 0.99
"""The open-loop phase "keeps up" when it completes at least 99 % of the timetable's rate: the
last requests of the timetable finish a few milliseconds after its end."""

TEXTS = (
    "明天上午十点开周会，请大家准时参加。",
    "The quarterly report draft is in the shared folder; please review it by Friday.",
    "收到，我下午把方案发给大家。",
    "Can someone check why the staging deploy failed last night?",
    "这个需求下周再讨论，先把线上的 bug 修完。",
    "Lunch at 12:30 today at the new noodle place downstairs 🍜",
    "客户反馈登录页面在 iPhone 上显示不正常，麻烦前端同学看一下。",
    "Meeting notes: 1) budget approved 2) hiring two engineers 3) launch moved to May.",
    "周五团建改到下午三点，地点不变，记得带工牌。",
    "Thanks everyone, great work on the release! 大家辛苦了",
)
GROUPS = 8
SENDERS = 40


# --------------------------------------------------------------------------- servers


def baseline_app() -> FastAPI:
    """The bare endpoint officebot is compared with: parse the JSON body, answer ``{}``."""
    app = FastAPI()

    @app.post(PATH)
    async def receive(request: Request) -> Response:
        orjson.loads(await request.body())
        return Response(orjson.dumps({}), media_type="application/json")

    return app


def serve_baseline(port: int) -> None:
    """Serve the baseline exactly as ``officebot serve`` serves officebot (see bot/cli.py)."""
    import logging

    import uvicorn

    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        baseline_app(), host=HOST, port=port, log_level="info", access_log=False, log_config=None
    )


def die_with_parent() -> None:
    """Linux: the server gets SIGTERM when the bench dies, even by SIGKILL (no orphans)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    command: list[str]
    env: dict[str, str]
    cwd: Path
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
            try:
                # uvicorn binds its socket only after the app's startup has finished.
                with socket.create_connection((HOST, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start within {timeout:.0f} s:\n{self.log_tail()}")

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the server process, all threads (Linux only)."""
        if self.process is None:
            return None
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown: lifespan stops
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def officebot_server(workdir: Path, secret: str) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFICEBOT_")}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
            "OFFICEBOT_ENVIRONMENT": "test",
            "OFFICEBOT_DATA_DIR": str(workdir / "data"),
            "OFFICEBOT_WEBHOOKS": '["dingtalk"]',
            "OFFICEBOT_DINGTALK_APP_SECRET": secret,
            "OFFICEBOT_API_TOKEN": secrets.token_urlsafe(24),
            # Ingest is measured alone: the model is not loaded during the run.
            "OFFICEBOT_LLM__WARM_UP": "false",
        }
    )
    port = free_port()
    # `python -m bot.cli` is the `officebot` console script; cwd is the temp dir so that no
    # developer .env is read.
    command = [sys.executable, "-m", "bot.cli", "serve", "--host", HOST, "--port", str(port)]
    return Server("officebot", command, env, workdir, port, workdir / "officebot.log")


def baseline_server(workdir: Path) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFICEBOT_")}
    port = free_port()
    command = [sys.executable, str(Path(__file__).resolve()), "--serve-baseline", str(port)]
    return Server("baseline", command, env, workdir, port, workdir / "baseline.log")


def count_stored_messages(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        row = conn.execute("SELECT count(*) FROM messages").fetchone()
    return int(row[0])


# --------------------------------------------------------------------------- load


def dingtalk_sign(timestamp_ms: str, secret: str) -> str:
    """Written from DingTalk's documentation, independently of bot/adapters/signing.py."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


class Callbacks:
    """Signed DingTalk robot callbacks as raw HTTP/1.1 requests, each with a unique msgId."""

    def __init__(self, port: int, secret: str) -> None:
        self._secret = secret
        self._run = secrets.token_hex(4)
        self._count = 0
        self._host = f"{HOST}:{port}"
        self._signed_at = 0.0
        self._auth = b""

    @property
    def made(self) -> int:
        return self._count

    def next_request(self) -> bytes:
        now = time.time()
        if now - self._signed_at > 60:  # a timestamp stays valid for an hour
            timestamp = str(int(now * 1000))
            sign = dingtalk_sign(timestamp, self._secret)
            self._auth = f"timestamp: {timestamp}\r\nsign: {sign}\r\n".encode()
            self._signed_at = now
        n = self._count
        self._count += 1
        group = n % GROUPS
        sender = (n * 7) % SENDERS
        body = json.dumps(
            {
                "msgtype": "text",
                "text": {"content": f" {TEXTS[n % len(TEXTS)]}"},
                "msgId": f"msgbench{self._run}{n:09d}",
                "createAt": int(now * 1000),
                "conversationType": "2",
                "conversationId": f"cidBenchGroup{group}==",
                "conversationTitle": f"压测群 {group}",
                "senderId": f"$:LWCP_v1:$bench{sender}",
                "senderNick": f"同事{sender}",
                "senderStaffId": f"staff{sender:03d}",
                "senderCorpId": "dingbenchcorp",
                "chatbotCorpId": "dingbenchcorp",
                "chatbotUserId": "$:LWCP_v1:$benchbot",
                "robotCode": "dingbenchrobot",
                "isAdmin": False,
                "isInAtList": True,
                "atUsers": [{"dingtalkId": "$:LWCP_v1:$benchbot"}],
                "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=bench",
                "sessionWebhookExpiredTime": int(now * 1000) + 3_600_000,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        return (
            f"POST {PATH} HTTP/1.1\r\nHost: {self._host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode()
            + self._auth
            + b"\r\n"
            + body
        )


BROKEN_RESPONSE = (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError)
"""What a refused connection or a malformed answer raises; counted as an error by its type."""


class Connection:
    """One keep-alive HTTP/1.1 connection; one request in flight at a time."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.busy = False

    async def post(self, request: bytes) -> int:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(HOST, self._port)
        assert self._reader is not None
        self.busy = True
        try:
            self._writer.write(request)
            head = (await self._reader.readuntil(b"\r\n\r\n")).lower()
            status = int(head[9:12])
            start = head.find(b"content-length:")
            if start < 0:
                raise ConnectionError("response without Content-Length")
            length = int(head[start + 15 : head.index(b"\r\n", start)])
            await self._reader.readexactly(length)
            if b"connection: close" in head:
                self.close()
            return status
        except BaseException:
            self.close()
            raise
        finally:
            self.busy = False

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


@dataclass
class Phase:
    """What one phase sent and got back. Latencies are in seconds."""

    name: str
    target_rate: float | None
    duration: float
    sent: int = 0
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    dropped: int = 0
    """Open loop: requests of the timetable never sent because the phase hit its hard stop."""
    abandoned: int = 0
    """Requests still waiting for their answer at the hard stop."""
    latencies: list[float] = field(default_factory=list)
    send_lags: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    server_cpu_s: float | None = None
    client_cpu_s: float = 0.0

    def record(self, status: int, latency: float) -> None:
        self.latencies.append(latency)
        if status == 200:
            self.ok += 1
        else:
            self.errors[str(status)] += 1

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def summary(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "phase": self.name,
            "target_rate": self.target_rate,
            "duration_s": self.duration,
            "elapsed_s": round(self.elapsed, 3),
            "sent": self.sent,
            "ok": self.ok,
            "errors": dict(self.errors),
            "dropped": self.dropped,
            "abandoned": self.abandoned,
            "rate": round(self.rate, 1),
            "latency_ms": latency_stats(self.latencies),
            "server_cpu_s": None if self.server_cpu_s is None else round(self.server_cpu_s, 3),
            "server_cpu_us_per_request": (
                round(self.server_cpu_s / self.sent * 1e6, 1)
                if self.server_cpu_s is not None and self.sent
                else None
            ),
            "client_cpu_s": round(self.client_cpu_s, 3),
        }
        if self.send_lags:
            result["generator_send_lag_ms"] = latency_stats(self.send_lags)
        return result


def percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def latency_stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "p99": None, "p999": None, "max": None}
    ordered = sorted(values)
    return {
        "p50": round(percentile(ordered, 0.50) * 1000, 3),
        "p90": round(percentile(ordered, 0.90) * 1000, 3),
        "p99": round(percentile(ordered, 0.99) * 1000, 3),
        "p999": round(percentile(ordered, 0.999) * 1000, 3),
        "max": round(ordered[-1] * 1000, 3),
    }


def hard_stop_after(duration: float) -> float:
    """How long a phase may overrun to collect late answers before it is cut off."""
    return min(10.0, max(2.0, duration / 2))


async def run_phase(
    phase: Phase,
    worker: Callable[[Connection], Any],
    connections: list[Connection],
    server: Server,
) -> None:
    cpu_before = server.cpu_seconds()
    client_before = time.process_time()
    tasks = [asyncio.ensure_future(worker(conn)) for conn in connections]
    _, pending = await asyncio.wait(tasks, timeout=phase.duration + hard_stop_after(phase.duration))
    phase.abandoned = sum(conn.busy for conn in connections)
    for task in pending:
        task.cancel()
    for outcome in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(outcome, Exception):  # a bug in the generator, not a server error
            raise outcome
    cpu_after = server.cpu_seconds()
    if cpu_before is not None and cpu_after is not None:
        phase.server_cpu_s = cpu_after - cpu_before
    phase.client_cpu_s = time.process_time() - client_before


async def closed_loop(
    name: str, server: Server, callbacks: Callbacks, connections: list[Connection], duration: float
) -> Phase:
    phase = Phase(name, None, duration)
    started = time.perf_counter()
    stop_at = started + duration
    last_done = started

    async def worker(conn: Connection) -> None:
        nonlocal last_done
        while time.perf_counter() < stop_at:
            request = callbacks.next_request()
            sent_at = time.perf_counter()
            phase.sent += 1
            try:
                status = await conn.post(request)
            except BROKEN_RESPONSE as exc:
                phase.errors[type(exc).__name__] += 1
                await asyncio.sleep(0.01)
                continue
            last_done = time.perf_counter()
            phase.record(status, last_done - sent_at)

    await run_phase(phase, worker, connections, server)
    phase.elapsed = last_done - started
    return phase


async def open_loop(
    server: Server,
    callbacks: Callbacks,
    connections: list[Connection],
    duration: float,
    rate: float,
) -> Phase:
    phase = Phase(f"open {rate:g}/s", rate, duration)
    total = int(duration * rate)
    interval = 1.0 / rate
    next_index = 0
    started = time.perf_counter() + 0.05
    last_done = started

    async def worker(conn: Connection) -> None:
        nonlocal next_index, last_done
        while next_index < total:
            scheduled = started + next_index * interval
            next_index += 1
            wait = scheduled - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            request = callbacks.next_request()
            sent_at = time.perf_counter()
            phase.sent += 1
            phase.send_lags.append(max(0.0, sent_at - scheduled))
            try:
                status = await conn.post(request)
            except BROKEN_RESPONSE as exc:
                phase.errors[type(exc).__name__] += 1
                continue
            last_done = time.perf_counter()
            phase.record(status, last_done - scheduled)

    await run_phase(phase, worker, connections, server)
    phase.dropped = total - phase.sent
    phase.elapsed = max(duration, last_done - started)
    return phase


async def load_server(server: Server, secret: str, args: argparse.Namespace) -> list[Phase]:
    callbacks = Callbacks(server.port, secret)
    connections = [Connection(server.port) for _ in range(args.connections)]
    try:
        phases = []
        if args.warmup > 0:
            phases.append(await closed_loop("warm-up", server, callbacks, connections, args.warmup))
        phases.append(
            await closed_loop("closed loop", server, callbacks, connections, args.duration)
        )
        await asyncio.sleep(0.5)
        phases.append(await open_loop(server, callbacks, connections, args.duration, args.rate))
        return phases
    finally:
        for conn in connections:
            conn.close()


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


# --------------------------------------------------------------------------- report


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_table(results: dict[str, Any]) -> None:
    header = (
        f"{'server':<10} {'phase':<12} {'sent':>8} {'ok':>8} {'err':>5} {'drop':>5} "
        f"{'ok/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'cpu µs/req':>10}"
    )
    print()
    print(header)
    print("-" * len(header))
    for name in ("baseline", "officebot"):
        for phase in results["servers"].get(name, {}).get("phases", []):
            if phase["phase"] == "warm-up":
                continue
            lat = phase["latency_ms"]
            errors = sum(phase["errors"].values()) + phase["abandoned"]
            print(
                f"{name:<10} {phase['phase']:<12} {phase['sent']:>8,} {phase['ok']:>8,} "
                f"{errors:>5} {phase['dropped']:>5} {phase['rate']:>8,.0f} "
                f"{fmt(lat['p50'], 2):>8} {fmt(lat['p99'], 2):>8} {fmt(lat['max'], 1):>8} "
                f"{fmt(phase['server_cpu_us_per_request'], 0):>10}"
            )
    ratios = results.get("ratios")
    if ratios:
        print()
        print(
            "officebot/baseline: closed-loop throughput "
            f"{fmt(ratios['closed_loop_throughput'], 2)}x, "
            f"server CPU per request {fmt(ratios['server_cpu_per_request'], 2)}x; "
            f"open loop p50 {fmt(ratios['open_loop_p50'], 2)}x, "
            f"p99 {fmt(ratios['open_loop_p99'], 2)}x"
        )
    for name in ("baseline", "officebot"):
        phases = results["servers"].get(name, {}).get("phases", [])
        lags = [p["generator_send_lag_ms"] for p in phases if "generator_send_lag_ms" in p]
        if lags:
            print(
                f"load generator lag behind the timetable ({name}): "
                f"p50 {fmt(lags[0]['p50'], 2)} ms, p99 {fmt(lags[0]['p99'], 2)} ms"
            )
    check = results.get("stored_check")
    if check:
        verdict = "OK" if check["match"] else "MISMATCH"
        print(
            f"stored rows: {check['stored']:,} in messages; 200 answers: {check['successes']:,} "
            f"-> {verdict}"
            + (
                f" ({check['abandoned']} request(s) abandoned in flight)"
                if check["abandoned"]
                else ""
            )
        )
    target = results.get("target")
    if target:
        print(
            f"target: >= {target['rate']:g} stored msg/s with p99 < {TARGET_P99_MS:g} ms: "
            + ("MET" if target["met"] else "NOT MET")
            + f" (achieved {fmt(target['achieved_rate'], 0)}/s, p99 {fmt(target['p99_ms'], 2)} ms,"
            f" errors {target['errors']}, dropped {target['dropped']})"
        )


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def summarize(results: dict[str, Any], rate: float) -> None:
    servers = results["servers"]

    def phase(name: str, label: str) -> dict[str, Any] | None:
        for item in servers.get(name, {}).get("phases", []):
            if item["phase"] == label:
                return item  # type: ignore[no-any-return]
        return None

    open_label = f"open {rate:g}/s"
    bot_closed, base_closed = phase("officebot", "closed loop"), phase("baseline", "closed loop")
    bot_open, base_open = phase("officebot", open_label), phase("baseline", open_label)
    if bot_closed and base_closed and bot_open and base_open:
        results["ratios"] = {
            "closed_loop_throughput": ratio(bot_closed["rate"], base_closed["rate"]),
            "server_cpu_per_request": ratio(
                bot_closed["server_cpu_us_per_request"], base_closed["server_cpu_us_per_request"]
            ),
            "open_loop_p50": ratio(bot_open["latency_ms"]["p50"], base_open["latency_ms"]["p50"]),
            "open_loop_p99": ratio(bot_open["latency_ms"]["p99"], base_open["latency_ms"]["p99"]),
        }
    if bot_open:
        errors = sum(bot_open["errors"].values()) + bot_open["abandoned"]
        p99 = bot_open["latency_ms"]["p99"]
        results["target"] = {
            "rate": rate,
            "achieved_rate": bot_open["rate"],
            "p99_ms": p99,
            "errors": errors,
            "dropped": bot_open["dropped"],
            "met": bool(
                bot_open["rate"] >= RATE_TOLERANCE * rate
                and p99 is not None
                and p99 < TARGET_P99_MS
                and errors == 0
                and bot_open["dropped"] == 0
            ),
        }


# --------------------------------------------------------------------------- main


def benchmark(server: Server, secret: str, args: argparse.Namespace) -> dict[str, Any]:
    print(f"starting {server.name} on {HOST}:{server.port} ...", file=sys.stderr)
    server.start()
    assert server.process is not None
    print(f"{server.name} is up (pid {server.process.pid}); loading it", file=sys.stderr)
    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            phases = runner.run(load_server(server, secret, args))
    finally:
        server.stop()
    return {"port": server.port, "phases": [p.summary() for p in phases]}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Signed DingTalk callbacks per second: officebot against a bare FastAPI app."
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="open-loop target requests/s")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per server")
    parser.add_argument(
        "--only", choices=("officebot", "baseline"), help="benchmark one server only"
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the results here")
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.connections < 1:
        parser.error("--rate and --duration must be positive, --connections at least 1")
    return args


@contextlib.contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into SystemExit so the servers are stopped on the way out."""

    def exit_now(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, exit_now)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_baseline is not None:
        serve_baseline(args.serve_baseline)
        return 0
    secret = secrets.token_urlsafe(32)
    results: dict[str, Any] = {
        "config": {
            "rate": args.rate,
            "duration_s": args.duration,
            "connections": args.connections,
            "warmup_s": args.warmup,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "database": "sqlite (WAL)",
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
        "servers": {},
    }
    names = [args.only] if args.only else ["baseline", "officebot"]
    code = 0
    with tempfile.TemporaryDirectory(prefix="officebot-bench-") as tmp, terminate_on_sigterm():
        workdir = Path(tmp)
        for name in names:
            server = (
                officebot_server(workdir, secret)
                if name == "officebot"
                else baseline_server(workdir)
            )
            try:
                results["servers"][name] = benchmark(server, secret, args)
            finally:
                server.stop()
            if name == "officebot":
                phases = results["servers"][name]["phases"]
                stored = count_stored_messages(workdir / "data" / "officebot.db")
                successes = sum(p["ok"] for p in phases)
                results["stored_check"] = {
                    "stored": stored,
                    "successes": successes,
                    "abandoned": sum(p["abandoned"] for p in phases),
                    "match": stored == successes,
                }
                if stored != successes:
                    code = 2
    summarize(results, args.rate)
    print_table(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        print(f"results written to {args.json}")
    return code


if __name__ == "__main__":
    sys.exit(main())
