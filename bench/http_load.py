"""A bounded HTTP load generator for the benchmarks, and what a server process spent meanwhile.

`run_load` sends a fixed number of requests from a fixed number of connection slots (threads),
each request on a fresh connection (`Connection: close`, as our uwsgi answers every request), to
127.0.0.1 only. Requests are written and read on raw sockets: the client does as little as it can,
so that on a small machine it takes as little CPU from the servers it measures as possible (its
own CPU time is reported beside theirs).

A slot is an object with `next_request()` and `answered(reply)`: stateful scenarios (a refresh
token chain, ETags for `If-Match`) keep their state there. Any answer but the expected status
stops the run: a benchmark of errors measures nothing.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # sent as JSON when not None
    expect: int = 200

    def encode(self, port: int) -> bytes:
        head = [f"{self.method} {self.path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
        head.append("Connection: close")
        payload = b""
        if self.body is not None:
            payload = json.dumps(self.body).encode()
            head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        head += [f"{name}: {value}" for name, value in self.headers.items()]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


@dataclass
class Reply:
    status: int
    head: bytes
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode()
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == wanted:
                return value.strip().decode()
        return None

    def json(self) -> Any:
        return json.loads(self.body)


class Slot(Protocol):
    def next_request(self) -> Request: ...

    def answered(self, reply: Reply) -> None: ...


class Repeat:
    """A stateless slot: the requests of `make(i)` for i = 0, 1, 2, ..."""

    def __init__(self, make: Callable[[int], Request]) -> None:
        self.make, self.count = make, 0

    def next_request(self) -> Request:
        self.count += 1
        return self.make(self.count - 1)

    def answered(self, reply: Reply) -> None:
        pass


class LoadError(RuntimeError):
    pass


def exchange(port: int, request: Request, timeout: float = 120.0) -> Reply:
    """One request on a fresh connection, read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request.encode(port))
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/"):
        raise LoadError(f"{request.method} {request.path}: no HTTP answer ({data[:80]!r})")
    return Reply(int(head[9:12]), head, body)


@dataclass
class ProcessTimes:
    """CPU seconds and resident memory of a process tree (a uwsgi master and its workers)."""

    cpu_seconds: float
    rss_bytes: dict[int, int]


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
    except OSError:
        return 0


def process_times(pid: int) -> ProcessTimes:
    """The tree under `pid`: CPU of the root and its children, RSS of each child (the workers;
    the root alone when it has none, e.g. redis-server)."""
    workers = _children(pid)
    cpu = _cpu_seconds(pid) + sum(_cpu_seconds(child) for child in workers)
    return ProcessTimes(cpu, {child: _rss_bytes(child) for child in workers or [pid]})


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies_ms: list[float]
    client_cpu_s: float
    server_cpu_s: float
    worker_rss_mib: float
    extra_cpu_s: dict[str, float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.latencies_ms)

        def at(fraction: float) -> float:
            return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]

        summary = {
            "rps": round(self.rate, 1),
            "p50_ms": round(at(0.50), 2),
            "p99_ms": round(at(0.99), 2),
            "cpu_ms_per_req": round(self.server_cpu_s * 1000 / self.requests, 3),
            "client_cpu_ms_per_req": round(self.client_cpu_s * 1000 / self.requests, 3),
            "worker_rss_mib": round(self.worker_rss_mib, 1),
            "n": self.requests,
        }
        for name, seconds in self.extra_cpu_s.items():
            summary[f"{name}_cpu_ms_per_req"] = round(seconds * 1000 / self.requests, 3)
        return summary


def run_load(
    port: int,
    server_pid: int,
    slots: Sequence[Slot],
    total: int,
    also_watch: dict[str, int] | None = None,
) -> LoadResult:
    """Send `total` requests from `len(slots)` concurrent connections (each slot its share)."""
    share = [total // len(slots) + (1 if i < total % len(slots) else 0) for i in range(len(slots))]
    latencies: list[list[float]] = [[] for _ in slots]
    failures: list[BaseException] = []
    start = threading.Barrier(len(slots) + 1)

    def work(index: int) -> None:
        slot, samples = slots[index], latencies[index]
        start.wait()
        try:
            for _ in range(share[index]):
                request = slot.next_request()
                began = time.perf_counter()
                reply = exchange(port, request)
                samples.append((time.perf_counter() - began) * 1000)
                if reply.status != request.expect:
                    raise LoadError(
                        f"{request.method} {request.path} -> {reply.status} "
                        f"(expected {request.expect}): {reply.body[:200]!r}"
                    )
                slot.answered(reply)
        except BaseException as error:  # reported by the caller, after every thread stopped
            failures.append(error)

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(slots))]
    for thread in threads:
        thread.start()
    watched = also_watch or {}
    server_before = process_times(server_pid)
    extra_before = {name: _cpu_seconds(pid) for name, pid in watched.items()}
    client_before = time.process_time()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    client_cpu = time.process_time() - client_before
    server_after = process_times(server_pid)
    if failures:
        raise LoadError(str(failures[0])) from failures[0]
    return LoadResult(
        requests=sum(len(samples) for samples in latencies),
        seconds=seconds,
        latencies_ms=[ms for samples in latencies for ms in samples],
        client_cpu_s=client_cpu,
        server_cpu_s=server_after.cpu_seconds - server_before.cpu_seconds,
        worker_rss_mib=max(server_after.rss_bytes.values()) / 2**20,
        extra_cpu_s={name: _cpu_seconds(pid) - extra_before[name] for name, pid in watched.items()},
    )
