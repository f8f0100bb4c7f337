"""HTTP load for the benchmarks: N keep-alive connections against a running server.

``measure(url, method, headers, body_factory, concurrency, duration) -> Stats``
sends requests for ``duration`` seconds (after ``warmup`` seconds that are not
counted) over ``concurrency`` keep-alive connections, each sending its next
request as soon as the previous answer is in (a closed loop: the latencies are
those of a server kept busy by ``concurrency`` clients). ``Stats`` has the
requests per second, the p50, p90 and p99 latency, the errors (a transport
error or a status of 400 or more), and the CPU time the server process and the
load generator used, so that a run can show which side was the bottleneck.

``url`` and ``body_factory`` may vary per request: ``url`` may be a function of
the request number, and so may the body. ``distinct`` requests are made up
front (the generators then cycle through them), so no request is built while
the clock runs.

The load is generated in other processes than this one, by ``wrk`` when it is
installed (``apt-get install wrk``; a compiled generator that costs the machine
little per request), else by this module's asyncio generator (``--worker``),
a minimal HTTP/1.1 client on raw sockets, in ``processes`` processes.
``Stats.generator`` says which one produced the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
WRK_SCRIPT = HERE / "http_load.lua"
WRK_TIMEOUT = "30s"  # wrk's default (2 s) would count a slow answer as an error


@dataclass(frozen=True)
class Stats:
    """One measured run."""

    generator: str  # "wrk 4.1.0" or "python-asyncio xN"
    method: str
    url: str  # the first request's URL
    concurrency: int
    duration_s: float
    requests: int  # answers received in the measured time (errors included)
    errors: int
    error_kinds: dict[str, int]  # status code or transport error -> count
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_percent: float | None = None  # of one core, over the measured time
    server_cpu_ms_per_request: float | None = None
    generator_cpu_percent: float | None = None  # of one core, warm-up included
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        cpu = (
            f", server {self.server_cpu_percent:.0f}% CPU"
            if self.server_cpu_percent is not None
            else ""
        )
        return (
            f"{self.method} {self.url}: {self.requests_per_s:,.0f} req/s, "
            f"p50 {self.p50_ms:.1f} ms, p90 {self.p90_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, "
            f"{self.errors} errors ({self.generator}, {self.concurrency} connections{cpu})"
        )


@dataclass(frozen=True)
class _Plan:
    host: str
    port: int
    method: str
    headers: dict[str, str]
    targets: list[tuple[str, bytes]]  # (path and query, body)

    @property
    def first_url(self) -> str:
        return f"http://{self.host}:{self.port}{self.targets[0][0]}"


def measure(
    url: str | Callable[[int], str],
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body_factory: Callable[[int], bytes] | None = None,
    concurrency: int = 32,
    duration: float = 10.0,
    *,
    warmup: float = 2.0,
    distinct: int = 10_000,
    requests: int | None = None,
    generator: str = "auto",
    processes: int = 1,
    server_pid: int | None = None,
) -> Stats:
    """Load ``url`` and measure it; see the module's docstring.

    ``requests``: stop after this many answers instead of after ``duration``
    (the Python generator only: wrk runs for a time). ``generator``: ``"auto"``
    (wrk if installed), ``"wrk"`` or ``"python"``. ``server_pid``: the server
    process, whose CPU time is then reported.
    """
    plan = _plan(url, method, headers or {}, body_factory, distinct)
    chosen = _choose(generator, requests)
    cpu_before = _process_cpu(server_pid)
    with tempfile.TemporaryDirectory(prefix="http-load-") as scratch:
        if chosen == "wrk":
            run = _run_wrk(plan, Path(scratch), concurrency, duration, warmup)
        else:
            run = _run_python(
                plan, Path(scratch), concurrency, duration, warmup, requests, processes
            )
    cpu_after = _process_cpu(server_pid)
    server_cpu = None
    if cpu_before is not None and cpu_after is not None:
        # Warm-up and start-up are in this window too: CPU per request is an upper bound.
        server_cpu = cpu_after - cpu_before
    return _stats(plan, concurrency, run, server_cpu)


@dataclass
class _Run:
    generator: str
    duration_s: float
    wall_s: float  # the whole run, warm-up and start-up included
    answers: int
    errors: Counter[str]
    p50_s: float
    p90_s: float
    p99_s: float
    max_s: float
    generator_cpu_s: float


def _stats(plan: _Plan, concurrency: int, run: _Run, server_cpu_s: float | None) -> Stats:
    per_second = run.answers / run.duration_s if run.duration_s else 0.0
    return Stats(
        generator=run.generator,
        method=plan.method,
        url=plan.first_url,
        concurrency=concurrency,
        duration_s=round(run.duration_s, 2),
        requests=run.answers,
        errors=sum(run.errors.values()),
        error_kinds=dict(run.errors),
        requests_per_s=round(per_second, 1),
        p50_ms=round(run.p50_s * 1000, 2),
        p90_ms=round(run.p90_s * 1000, 2),
        p99_ms=round(run.p99_s * 1000, 2),
        max_ms=round(run.max_s * 1000, 2),
        server_cpu_percent=None
        if server_cpu_s is None
        else round(100 * server_cpu_s / run.wall_s, 1),
        server_cpu_ms_per_request=None
        if server_cpu_s is None or not run.answers
        else round(1000 * server_cpu_s / run.answers, 3),
        generator_cpu_percent=round(100 * run.generator_cpu_s / run.wall_s, 1),
    )


def _plan(
    url: str | Callable[[int], str],
    method: str,
    headers: Mapping[str, str],
    body_factory: Callable[[int], bytes] | None,
    distinct: int,
) -> _Plan:
    count = distinct if callable(url) or body_factory is not None else 1
    urls = [url(n) if callable(url) else url for n in range(count)]
    bodies = [body_factory(n) if body_factory else b"" for n in range(count)]
    first = urlsplit(urls[0])
    if {urlsplit(u)[:2] for u in urls} != {("http", first.netloc)}:
        raise ValueError(f"every URL must be http:// on one host (the first is {urls[0]!r})")
    targets = [(_target(u), body) for u, body in zip(urls, bodies, strict=True)]
    return _Plan(first.hostname or "", first.port or 80, method.upper(), dict(headers), targets)


def _target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _choose(generator: str, requests: int | None) -> str:
    if generator not in ("auto", "wrk", "python"):
        raise ValueError(f"generator must be auto, wrk or python, not {generator!r}")
    if generator == "wrk" and shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    if generator == "auto":
        return "wrk" if shutil.which("wrk") and requests is None else "python"
    if generator == "wrk" and requests is not None:
        raise ValueError("wrk runs for a duration; use the python generator for a request count")
    return generator


def idle_cpu_percent(pid: int, seconds: float = 3.0) -> float | None:
    """A process's CPU use while no request is sent, in % of one core.

    For the server, that is its background jobs: near zero once they have caught up.
    """
    before = _process_cpu(pid)
    time.sleep(seconds)
    after = _process_cpu(pid)
    if before is None or after is None:
        return None
    return round(100 * (after - before) / seconds, 1)


def _process_cpu(pid: int | None) -> float | None:
    """User + system CPU seconds of a process (all its threads), from /proc."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------- wrk


def _run_wrk(plan: _Plan, scratch: Path, concurrency: int, duration: float, warmup: float) -> _Run:
    requests_file = scratch / "requests.tsv"
    with requests_file.open("w") as out:
        for target, body in plan.targets:
            if "\t" in target or "\n" in target:
                raise ValueError(f"a request target with a tab or a newline: {target!r}")
            out.write(f"{target}\t{body.hex()}\n")
    base = f"http://{plan.host}:{plan.port}/"
    header_args = [arg for k, v in plan.headers.items() for arg in ("-H", f"{k}: {v}")]

    def wrk(seconds: float) -> dict[str, Any]:
        command = [
            *("wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s"),
            *("--timeout", WRK_TIMEOUT, "-s", str(WRK_SCRIPT), *header_args, base),
            *("--", str(requests_file), plan.method),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        summary = [line for line in result.stdout.splitlines() if line.startswith("{")]
        if result.returncode != 0 or not summary:
            raise RuntimeError(
                f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        found: dict[str, Any] = json.loads(summary[-1])
        return found

    started, cpu = time.perf_counter(), _children_cpu()
    if warmup > 0:
        wrk(warmup)
    summary = wrk(duration)
    errors: Counter[str] = Counter()
    for kind in ("connect", "read", "write", "timeout"):
        if summary[kind]:
            errors[kind] = summary[kind]
    if summary["status"]:
        errors["status>=400"] = summary["status"]
    return _Run(
        generator=_wrk_version(),
        duration_s=summary["duration_us"] / 1e6,
        wall_s=time.perf_counter() - started,
        answers=summary["requests"],
        errors=errors,
        p50_s=summary["p50_us"] / 1e6,
        p90_s=summary["p90_us"] / 1e6,
        p99_s=summary["p99_us"] / 1e6,
        max_s=summary["max_us"] / 1e6,
        generator_cpu_s=_children_cpu() - cpu,
    )


def _wrk_version() -> str:
    result = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    words = (result.stdout + result.stderr).split()
    return " ".join(words[:2]) if len(words) >= 2 else "wrk"


# --------------------------------------------------------------------------- the Python generator


def _run_python(
    plan: _Plan,
    scratch: Path,
    concurrency: int,
    duration: float,
    warmup: float,
    requests: int | None,
    processes: int,
) -> _Run:
    processes = max(1, min(processes, concurrency))
    requests_file = scratch / "requests.bin"
    raw = [_request_bytes(plan, target, body) for target, body in plan.targets]
    requests_file.write_bytes(json.dumps([r.decode("latin-1") for r in raw]).encode())
    start_at = time.time() + 0.5 + 0.2 * processes  # every worker is up before it starts
    started, cpu = time.perf_counter(), _children_cpu()
    workers = []
    for number in range(processes):
        share = concurrency // processes + (number < concurrency % processes)
        quota = (
            None if requests is None else requests // processes + (number < requests % processes)
        )
        out = scratch / f"worker-{number}.json"
        command = [
            *(sys.executable, str(Path(__file__).resolve()), "--worker"),
            *("--host", plan.host, "--port", str(plan.port), "--requests-file", str(requests_file)),
            *("--connections", str(share), "--duration", str(duration), "--warmup", str(warmup)),
            *("--start-at", repr(start_at), "--offset", str(number * 7919), "--out", str(out)),
            *(("--requests", str(quota)) if quota is not None else ()),
        ]
        workers.append((subprocess.Popen(command), out))
    results = []
    for process, out in workers:
        if process.wait() != 0:
            raise RuntimeError(f"load worker exited with {process.returncode}")
        results.append(json.loads(out.read_text()))
    latencies = sorted(x for r in results for x in r["latencies"])
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r["errors"])
    return _Run(
        generator=f"python-asyncio x{processes}",
        duration_s=max(r["duration_s"] for r in results),
        wall_s=time.perf_counter() - started,
        answers=len(latencies),
        errors=errors,
        p50_s=_percentile(latencies, 50),
        p90_s=_percentile(latencies, 90),
        p99_s=_percentile(latencies, 99),
        max_s=latencies[-1] if latencies else 0.0,
        generator_cpu_s=_children_cpu() - cpu,
    )


def _percentile(ordered: Sequence[float], percent: float) -> float:
    """Nearest rank, as wrk reports them."""
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def _request_bytes(plan: _Plan, target: str, body: bytes) -> bytes:
    lines = [f"{plan.method} {target} HTTP/1.1", f"Host: {plan.host}:{plan.port}"]
    lines += [f"{k}: {v}" for k, v in plan.headers.items()]
    if body or plan.method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Worker:
    """One process of the Python generator: ``connections`` asyncio connections.

    It waits for the common start time, sends for ``warmup`` seconds without
    counting, then counts the answers to requests sent from then on, until
    ``duration`` seconds are over (or ``requests`` answers are in).
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.host, self.port = args.host, args.port
        raw = json.loads(Path(args.requests_file).read_bytes())
        self.requests = [r.encode("latin-1") for r in raw]
        self.quota: int | None = args.requests
        self.start_at: float = args.start_at
        self.warmup: float = args.warmup
        self.duration: float = args.duration
        self.latencies = array("d")
        self.errors: Counter[str] = Counter()
        self.measure_from = self.measure_until = self.last_answer = 0.0
        self.sent = 0  # requests sent after the warm-up (counts against ``quota``)

    async def run(self, connections: int, offset: int) -> float:
        """The measured time, in seconds."""
        await asyncio.sleep(max(0.0, self.start_at - time.time()))
        self.measure_from = time.perf_counter() + self.warmup
        self.measure_until = self.measure_from + self.duration
        self.last_answer = self.measure_from
        await asyncio.gather(*(self._connection(offset + n * 101) for n in range(connections)))
        if self.quota is not None:
            return self.last_answer - self.measure_from
        return self.duration

    def _done(self) -> bool:
        if self.quota is not None:
            return self.sent >= self.quota
        return time.perf_counter() >= self.measure_until

    async def _connection(self, position: int) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            while not self._done():
                request = self.requests[position % len(self.requests)]
                position += 1
                sent = time.perf_counter()
                self.sent += sent >= self.measure_from
                try:
                    writer.write(request)
                    status, keep_alive = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                    self._count(sent, type(error).__name__)
                    keep_alive = False
                else:
                    self._count(sent, str(status) if status >= 400 else None)
                if not keep_alive:
                    writer.close()
                    reader, writer = await asyncio.open_connection(self.host, self.port)
        finally:
            writer.close()

    def _count(self, sent: float, error: str | None) -> None:
        answered = time.perf_counter()
        in_time = self.quota is not None or answered <= self.measure_until
        if sent < self.measure_from or not in_time:
            return  # warm-up, or answered after the end
        self.last_answer = max(self.last_answer, answered)
        self.latencies.append(answered - sent)
        if error is not None:
            self.errors[error] += 1


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, chunked, keep_alive = 0, False, True
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            keep_alive = False
    if chunked:
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")
    elif length:
        await reader.readexactly(length)
    return status, keep_alive


def _worker_main(args: argparse.Namespace) -> None:
    worker = _Worker(args)
    duration = asyncio.run(worker.run(args.connections, args.offset))
    document = {
        "duration_s": duration,
        "latencies": list(worker.latencies),
        "errors": dict(worker.errors),
    }
    Path(args.out).write_text(json.dumps(document))


def main() -> None:
    parser = argparse.ArgumentParser(description="A load worker of http_load (internal).")
    parser.add_argument("--worker", action="store_true", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests-file", required=True)
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--warmup", type=float, default=0.0)
    parser.add_argument("--start-at", type=float, required=True)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--requests", type=int)
    parser.add_argument("--out", required=True)
    _worker_main(parser.parse_args())


if __name__ == "__main__":
    main()
