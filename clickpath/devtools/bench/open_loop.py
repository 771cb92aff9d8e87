"""A lean open-loop HTTP driver, run in its own process: `python -m clickpath.devtools.bench.open_loop`.

Why not httpx in the benchmark process: at 500 requests/s httpx spends about 1 ms of CPU per
request, half a core on a two-core machine, which the service under test then lacks. Why not
Debian's `wrk`: it is closed-loop (a connection sends its next request only after the answer,
so a slow answer hides the queue behind it), and `wrk2`, which paces, is not packaged.

So: raw asyncio protocols on keep-alive connections, one prepared GET written per request and
the answer parsed just enough to check it (status, Location, Content-Length). Request i is due
at `began + i / rate`; it goes out on an idle connection, or waits for one, and its latency
counts from when it was due, not from when it was sent, so neither a slow answer nor a busy
driver can hide queueing (no coordinated omission). Every answer is checked: a status other
than the expected one, a missing Location on a redirect, a closed connection or no answer in
time is a counted failure. Prints one JSON object: the offered and achieved rates, p50/p90/
p99/p99.9/max in ms, the failures and the driver's own CPU seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0 < q < 100, fractions allowed), inclusive method; None if empty."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=1000, method="inclusive")
    return cuts[min(int(round(q * 10)), 1000) - 1]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)

    def fail(self, why: str) -> None:
        self.failures[why] = self.failures.get(why, 0) + 1


class Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self, on_idle: Any, on_lost: Any, tally: Tally, expect: int) -> None:
        self._on_idle = on_idle
        self._on_lost = on_lost
        self._tally = tally
        self._expect = expect
        self._buf = b""
        self._transport: Any = None  # set by create_connection (uvloop's is no asyncio.Transport)
        self.due: float | None = None  # the scheduled time of the request in flight
        self.counted = True
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def send(self, request: bytes, due: float, counted: bool = True) -> None:
        self.due, self.counted = due, counted
        self._transport.write(request)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        self._buf += data
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self._buf[:end]
        length = 0
        location = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"location":
                location = bool(value.strip())
        if len(self._buf) < end + 4 + length:
            return  # the body is still coming
        self._buf = self._buf[end + 4 + length :]
        status = int(head[9:12])
        due, self.due = self.due, None
        if due is not None and self.counted:
            if status != self._expect:
                self._tally.fail(str(status))
            elif status in (301, 302, 303, 307, 308) and not location:
                self._tally.fail("no_location")
            else:
                self._tally.latencies.append(time.perf_counter() - due)
        self._on_idle(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.due is not None and self.counted:
            self._tally.fail("connection_lost")
            self._on_lost()
        self.due = None
        if not self.closed.done():
            self.closed.set_result(None)


async def drive(
    url: str, rate: float, seconds: float, connections: int = 64, expect: int = 302,
    drain_s: float = 30.0,
) -> dict[str, Any]:
    """GET `url` at `rate` requests/s for `seconds`, open loop; the result as a dict."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: clickpath-bench\r\n"
        "Accept: */*\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    tally = Tally()
    idle: deque[Connection] = deque()
    waiting: deque[float] = deque()  # due times of requests that found no idle connection
    in_flight = 0  # requests due and not yet answered (sent or waiting)

    def on_idle(conn: Connection) -> None:
        nonlocal in_flight
        if conn.counted:
            in_flight -= 1
        if waiting:
            conn.send(request, waiting.popleft())
        else:
            idle.append(conn)

    def on_lost() -> None:
        nonlocal in_flight
        in_flight -= 1

    conns: list[Connection] = []
    for _ in range(connections):
        transport, conn = await loop.create_connection(
            lambda: Connection(on_idle, on_lost, tally, expect), host, port
        )
        conn.connection_made(transport)  # uvloop may call it only on the next loop turn
        conns.append(conn)
    # Warm-up, not counted: every connection answers once (and the service sends its first
    # click to the broker) before the clock starts.
    closed = [c.closed for c in conns]
    for conn in conns:
        conn.send(request, time.perf_counter(), counted=False)
    deadline = time.perf_counter() + drain_s
    while len(idle) < connections and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    if len(idle) < connections:
        raise RuntimeError(f"warm-up: {connections - len(idle)} connections did not answer")

    cpu_before = _cpu_s()
    total = int(rate * seconds)
    began = time.perf_counter()
    i = 0
    while i < total:
        now = time.perf_counter()
        while i < total and began + i / rate <= now:  # everything due by now goes out
            due = began + i / rate
            i += 1
            in_flight += 1
            if idle:
                idle.popleft().send(request, due)
            else:
                waiting.append(due)
        if i < total:
            await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
    sent_by = time.perf_counter()
    deadline = sent_by + drain_s
    while (in_flight or waiting) and time.perf_counter() < deadline:
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - began
    cpu = _cpu_s() - cpu_before
    if in_flight:
        tally.failures["no_answer_in_time"] = in_flight
    for conn in conns:
        conn.close()
    await asyncio.wait(closed, timeout=2)
    lat = tally.latencies
    return {
        "offered_per_s": rate, "achieved_per_s": round(len(lat) / elapsed),
        "requests": len(lat), "connections": connections, "failures": tally.failures,
        "p50_ms": _ms(percentile(lat, 50)), "p90_ms": _ms(percentile(lat, 90)),
        "p99_ms": _ms(percentile(lat, 99)), "p999_ms": _ms(percentile(lat, 99.9)),
        "max_ms": _ms(max(lat) if lat else None),
        "send_lag_ms": round((sent_by - (began + seconds)) * 1000, 1),
        "driver_cpu_ms_per_request": round(cpu * 1000 / max(len(lat), 1), 3),
    }


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, required=True, help="requests/s offered")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--expect", type=int, default=302, help="the status every answer must have")
    args = parser.parse_args(argv)
    runner = _runner()
    result = runner(drive(args.url, args.rate, args.seconds, args.connections, args.expect))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


def _runner() -> Any:
    """uvloop when it is installed (less CPU per request in the driver), else asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


if __name__ == "__main__":
    main()
