"""Benchmark of `GET /api/v1/users` at 10k / 100k / 1M users: ours vs python-eve vs bare Flask.

Run by hand (`make bench`), never by the test suite. Point it at any MongoDB-wire server:

    MONGO_URI=mongodb://127.0.0.1:27017/ python bench/users_search.py \
        [--sizes 10000,100000,1000000] [--after-load "command to run after each bulk load"]

For each size it seeds a database `bench_users_<size>` with `services.seeding` (kept between
runs; only the missing users are added), then starts, on free local ports, a redis-server and
three uwsgi servers with 2 workers each over that database:

- ours: the app itself (run:app, uwsgi.ini), RATELIMIT_ENABLED=false, a real login token;
- eve: python-eve from its own venv (bench/.work/venv, created on first run), its default
  skip/limit pagination with a count per request (bench/eve_app.py);
- bare: a minimal Flask view issuing our exact find (bench/bare_app.py), the floor.

It measures p50/p95 latency over HTTP (a fresh connection per request) of the first page, of
the page 1,000 cursor steps deep (20,000 items in; the cursor a client would hold there is
minted with the app's own signing), and of page mode at the window edge (page 500 of 20), for
no `q` and for `q` of 1-3 letters. It also records the find each request issues (captured with
a pymongo command listener in an in-process app) and what `explain` says it reads. Writes
bench/results/users_search.md, users_search.json and users_search.png.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymongo
import pymongo.errors
import pymongo.monitoring
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BENCH_VENV, HERE, REPO, RESULTS, WORK, ensure_bench_venv

SEED = 1
DB_PREFIX = "bench_users_"
PAGE = 20
DEEP_STEPS = 1000  # cursor steps: the page that starts 20,000 items in
WINDOW_PAGE = 500  # page mode's last page of 20 (page * per_page = 10,000)
QUERIES = [None, "m", "ma", "mar"]
PLOT_DEPTHS = [1, 10, 100, 500, 1000]
LONG_OPERATION_S = 3600  # index builds and counts at 1M outlast the app's request timeouts
SECRETS = {
    "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
    "JWT_SECRET_KEY": "bench-jwt-secret-key-0123456789abcdef01234567",
}


def database_for(size: int) -> str:
    return f"{DB_PREFIX}{size}"


def uri_for(mongo_uri: str, database: str) -> str:
    base, _, options = mongo_uri.partition("?")
    base = base.rstrip("/")
    if base.count("/") > 2:  # the URI names a database already: replace it
        base = base.rsplit("/", 1)[0]
    return f"{base}/{database}" + (f"?{options}" if options else "")


def app_config(mongo_uri: str, redis_url: str | None = None) -> dict[str, Any]:
    return {
        "APP_ENV": "development",
        "MONGO_URI": mongo_uri,
        "REDIS_URL": redis_url,
        "RATELIMIT_ENABLED": False,
        **SECRETS,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- seeding -----------------------------------------------------------------------------------


def seed_size(mongo_uri: str, size: int, after_load: str | None) -> dict[str, Any]:
    """Grow the size's database to `size` seeded users; returns the seeding record."""
    from app import create_app
    from db import ensure_indexes, get_db
    from services.seeding import seed_users

    database = database_for(size)
    app = create_app(app_config(uri_for(mongo_uri, database)))
    record_file = WORK / f"seeding-{database}.json"
    with app.app_context(), pymongo.timeout(LONG_OPERATION_S):
        db = get_db()
        ensure_indexes(db)
        present = db.users.count_documents({})
        if present < size:
            print(f"seeding {database}: {present} -> {size}", flush=True)
            report = seed_users(db.users, size - present, SEED, 10_000, start=present)
            record = {
                "database": database,
                "seeded": report.inserted,
                "duplicates": report.duplicates,
                "seconds": round(report.seconds, 1),
                "users_per_second": round(report.rate),
                "batch": 10_000,
                "indexes": sorted(db.users.index_information()),
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            WORK.mkdir(exist_ok=True)
            record_file.write_text(json.dumps(record, indent=1))
            if after_load:
                subprocess.run(shlex.split(after_load), check=True)
        adaptations = adapt_multikey_indexes(db)
        if adaptations and after_load:
            subprocess.run(shlex.split(after_load), check=True)
    record = json.loads(record_file.read_text()) if record_file.exists() else {}
    if adaptations:
        record["adaptations"] = record.get("adaptations", []) + adaptations
        record_file.write_text(json.dumps(record, indent=1))
    return record


def adapt_multikey_indexes(db) -> list[str]:
    """Rebuild the multikey search indexes where the engine fails sorted queries on them.

    DocumentDB (FerretDB 2) builds indexes with its "composite term" opclass by default, which
    lets it walk a compound index in sort order; on a multikey (array) field it then fails the
    query ("Cannot push down order by on path with arrays") instead of sorting. The same index
    without that opclass answers correctly, by an index lookup on the prefix and a sort of the
    matches. MongoDB never takes this branch: the probe succeeds there.
    """
    from pymongo.errors import OperationFailure

    from db import INDEXES

    notes = []
    for model in INDEXES["users"]:
        spec = model.document
        keys = list(spec["key"].items())
        if keys[0][0] != "search_prefixes":
            continue
        probe = db.users.find({"search_prefixes": "a"}).sort(keys[1:]).hint(spec["name"])
        try:
            list(probe.limit(1))
            continue
        except OperationFailure as error:
            if "push down order by on path with arrays" not in str(error):
                raise
        began = time.perf_counter()
        db.users.drop_index(spec["name"])
        db.users.create_index(keys, name=spec["name"], enableCompositeTerm=False)
        notes.append(
            f"{spec['name']} rebuilt without DocumentDB's composite-term opclass "
            f"({time.perf_counter() - began:.0f} s): with it, sorted queries on this multikey "
            "index fail"
        )
    return notes


# --- servers -----------------------------------------------------------------------------------


def uwsgi_binary() -> str:
    found = shutil.which("uwsgi", path=str(Path(sys.executable).parent)) or shutil.which("uwsgi")
    if not found:
        sys.exit("uwsgi not found: install requirements.txt")
    return found


class Server:
    """A child process on a free port, stopped by its pid when done."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], port: int, log: Path):
        self.name, self.command, self.env, self.port, self.log = name, command, env, port, log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str | None) -> Server:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                env={**os.environ, **self.env},
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"{self.name} exited; see {self.log}")
            with contextlib.suppress(OSError):
                if ready_path is None:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return self
                if requests.get(self.url + ready_path, timeout=5).status_code < 500:
                    return self
            time.sleep(0.2)
        self.stop()
        sys.exit(f"{self.name} did not start; see {self.log}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def uwsgi_command(port: int, *app_options: str) -> list[str]:
    return [
        uwsgi_binary(),
        "--http-socket",
        f"127.0.0.1:{port}",
        "--processes",
        "2",
        "--master",
        "--lazy-apps",
        "--enable-threads",
        "--need-app",
        "--die-on-term",
        "--single-interpreter",
        "--disable-logging",
        "--buffer-size",
        "32768",
        *app_options,
    ]


@contextlib.contextmanager
def servers(mongo_uri: str, logs: Path) -> Iterator[dict[str, Server]]:
    redis_port, ours_port, eve_port, bare_port = (free_port() for _ in range(4))
    redis = Server(
        "redis",
        [
            "redis-server",
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(logs),
        ],
        {},
        redis_port,
        logs / "redis.log",
    )
    ours_env = {
        **{k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in SECRETS.items()},
        "APP_ENV": "development",
        "MONGO_URI": mongo_uri,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "RATELIMIT_ENABLED": "false",
        "PORT": str(ours_port),
        "WEB_CONCURRENCY": "2",
        "LOG_LEVEL": "WARNING",
    }
    ours = Server(
        "ours",
        [uwsgi_binary(), "--ini", str(REPO / "uwsgi.ini")],
        ours_env,
        ours_port,
        logs / "ours.log",
    )
    eve = Server(
        "eve",
        uwsgi_command(
            eve_port,
            "--virtualenv",
            str(BENCH_VENV),
            "--wsgi-file",
            str(HERE / "eve_app.py"),
            "--callable",
            "app",
        ),
        {"MONGO_URI": mongo_uri},
        eve_port,
        logs / "eve.log",
    )
    bare = Server(
        "bare",
        uwsgi_command(
            bare_port,
            "--wsgi-file",
            str(HERE / "bare_app.py"),
            "--callable",
            "app",
            "--chdir",
            str(REPO),
            "--pythonpath",
            str(REPO),
        ),
        {"MONGO_URI": mongo_uri},
        bare_port,
        logs / "bare.log",
    )
    started = []
    try:
        for server, ready in ((redis, None), (ours, "/health"), (eve, "/"), (bare, None)):
            started.append(server.start(ready))
        yield {"ours": ours, "eve": eve, "bare": bare, "redis": redis}
    finally:
        for server in reversed(started):
            server.stop()


# --- measuring ---------------------------------------------------------------------------------


def timed_get(url: str, headers: dict[str, str] | None = None) -> tuple[float, requests.Response]:
    began = time.perf_counter()
    response = requests.get(url, headers=headers, timeout=120)
    return (time.perf_counter() - began) * 1000, response


def measure(
    url: str, headers: dict[str, str] | None, count: int, budget_s: float
) -> dict[str, Any]:
    """p50/p95 of `count` GETs after 2 warm-ups, stopping early once `budget_s` is spent."""
    for _ in range(2):
        _, response = timed_get(url, headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} -> {response.status_code}: {response.text[:300]}")
    samples: list[float] = []
    began = time.monotonic()
    while len(samples) < count and (len(samples) < 5 or time.monotonic() - began < budget_s):
        elapsed, response = timed_get(url, headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} -> {response.status_code}")
        samples.append(elapsed)
    samples.sort()
    return {
        "p50": round(statistics.median(samples), 2),
        "p95": round(samples[max(0, round(0.95 * len(samples)) - 1)], 2),
        "n": len(samples),
    }


def encode_param(value: Any) -> str:
    from bson import json_util

    return json_util.dumps(value)


class Scenario:
    """The URLs of one (q, depth) cell on each server, with the keyset bound at that depth."""

    def __init__(self, app, db, q: str | None, sort_name: str = "username") -> None:
        from stores.user_search import search_filter, sorts_for

        self.app, self.db, self.q, self.sort_name = app, db, q, sort_name
        self.sort = sorts_for(q)[sort_name]
        self.filter = search_filter(q) if q else {}

    def nth(self, index: int) -> dict[str, Any] | None:
        """The item at position `index` (0-based) in sort order, read straight from MongoDB."""
        found = list(
            self.db.users.find(self.filter, {self.sort.field: 1})
            .sort(self.sort.mongo_sort)
            .hint(self.sort.index)
            .skip(index)
            .limit(1)
        )
        return found[0] if found else None

    def args(self, **extra: Any) -> dict[str, str]:
        args = {"sort": self.sort_name, **({"q": self.q} if self.q else {})}
        return {**args, **{k: str(v) for k, v in extra.items()}}

    def ours(self, base: str, depth: int = 0, page: int | None = None) -> str | None:
        from urllib.parse import urlencode

        from flask import request

        from web.pagination import encode_cursor

        if page is not None:
            return f"{base}/api/v1/users?{urlencode(self.args(page=page, per_page=PAGE))}"
        args = self.args(limit=PAGE)
        if depth:
            last = self.nth(depth * PAGE - 1)
            if last is None:
                return None
            with self.app.test_request_context("/api/v1/users", query_string=args):
                args["cursor"] = encode_cursor(self.sort_name, self.sort, last, request.args)
        return f"{base}/api/v1/users?{urlencode(args)}"

    def bare(self, base: str, depth: int = 0, page: int | None = None) -> str | None:
        from urllib.parse import urlencode

        args = self.args(limit=PAGE)
        if page is not None:
            args.update(skip=str((page - 1) * PAGE), count="1")
        elif depth:
            last = self.nth(depth * PAGE - 1)
            if last is None:
                return None
            args.update(after=encode_param(last[self.sort.field]), after_id=str(last["_id"]))
        return f"{base}/users?{urlencode(args)}"

    def eve(self, base: str, depth: int = 0, page: int | None = None) -> str | None:
        from urllib.parse import urlencode

        number = page if page is not None else depth + 1
        if depth and self.nth(depth * PAGE - 1) is None:
            return None
        direction = "-" if self.sort.direction < 0 else ""
        args = {"max_results": str(PAGE), "page": str(number)}
        args["sort"] = f"{direction}{self.sort.field}"
        if self.q:
            args["where"] = json.dumps({"search_prefixes": self.q})
        return f"{base}/users?{urlencode(args)}"


def items_of(name: str, response: requests.Response) -> list[str]:
    body = response.json()
    return [item["username"] for item in body["_items" if name == "eve" else "items"]]


def check_same_pages(scenario: Scenario, urls: dict[str, str], token: dict[str, str]) -> None:
    """The three servers must return the same users for a cell, or the comparison is void."""
    pages = {
        name: items_of(name, requests.get(url, headers=token, timeout=120))
        for name, url in urls.items()
    }
    if len({tuple(page) for page in pages.values()}) != 1:
        raise RuntimeError(f"servers disagree for q={scenario.q!r}: {pages}")


def walk_check(scenario: Scenario, ours: Server, token: dict[str, str], steps: int) -> None:
    """Follow next links `steps` times and compare with the minted deep cursor's page."""
    response = requests.get(scenario.ours(ours.url), headers=token, timeout=120)
    for _ in range(steps):
        response = requests.get(
            ours.url + response.json()["links"]["next"], headers=token, timeout=120
        )
    minted = requests.get(scenario.ours(ours.url, depth=steps), headers=token, timeout=120)
    if items_of("ours", response) != items_of("ours", minted):
        raise RuntimeError(f"minted cursor at depth {steps} differs from a real walk")


# --- query shapes and explain ------------------------------------------------------------------


class FindRecorder(pymongo.monitoring.CommandListener):
    """A pymongo CommandListener keeping the find / aggregate / count commands the app sends."""

    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []

    def started(self, event) -> None:
        if event.command_name in ("find", "aggregate", "count"):
            self.commands.append(dict(event.command))

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass


def plan_summary(plan: dict[str, Any]) -> str:
    """A PostgreSQL-style plan (DocumentDB) as one line: Limit > Index Scan name (ordered)."""
    parts = []
    while plan:
        part = plan["Node Type"]
        if plan.get("Index Name"):
            part += f" {plan['Index Name']}"
            part += " (ordered)" if plan.get("Order By") else " (filter only)"
        parts.append(part)
        plan = (plan.get("Plans") or [None])[0]
    return " > ".join(parts)


def explain_find(db, command: dict[str, Any]) -> dict[str, Any]:
    """What the server says a find reads: MongoDB's counters, or a plan summary elsewhere."""
    find = {
        k: v
        for k, v in command.items()
        if k in ("find", "filter", "sort", "projection", "hint", "skip", "limit")
    }
    explained = db.command("explain", find, verbosity="executionStats")
    stats = explained.get("executionStats")
    if stats:
        return {
            "docs_examined": stats.get("totalDocsExamined"),
            "keys_examined": stats.get("totalKeysExamined"),
            "returned": stats.get("nReturned"),
            "plan": explained.get("queryPlanner", {}).get("winningPlan", {}).get("stage"),
        }
    plan = explained.get("queryPlanner", {}).get("Plan")
    if not plan:
        return {"plan": "explain not available"}
    summary = plan_summary(plan)
    window = int(find.get("skip", 0)) + int(find.get("limit", 0))
    if "Sort" in summary or "Seq Scan" in summary:
        # Everything the filter matches is read, then sorted.
        hint = {"hint": find["hint"]} if "hint" in find else {}
        rows = db[find["find"]].count_documents(find.get("filter", {}), **hint)
        return {"plan": summary, "rows_read": rows, "how": "all matches, then sorted"}
    return {"plan": summary, "rows_read": window, "how": "ordered index scan, skip + limit"}


RECORDER = FindRecorder()


def query_shapes(app, db, token: dict[str, str], cases: dict[str, str]) -> dict[str, Any]:
    """Run each case's request in-process and record the finds it issued, with explain."""
    recorder = RECORDER
    client = app.test_client()
    shapes = {}
    for label, path in cases.items():
        recorder.commands.clear()
        response = client.get(path, headers=token)
        if response.status_code != 200:
            raise RuntimeError(f"{path} -> {response.status_code}")
        issued = []
        # Copied first: explain's own commands would otherwise join the list.
        for command in list(recorder.commands):
            shown = {
                k: v
                for k, v in command.items()
                if k in ("find", "filter", "sort", "hint", "skip", "limit", "pipeline")
            }
            if "find" in command:
                shown["explain"] = explain_find(db, command)
            issued.append(shown)
        shapes[label] = issued
    return shapes


# --- report ------------------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    return f"{os.cpu_count()} cores ({cpu}){memory}, {platform.system()} {platform.release()}"


def server_description(db) -> str:
    info = db.client.admin.command("buildInfo")
    if "ferretdb" in info:
        version = info["ferretdb"].get("version", "")
        backend = ", on PostgreSQL + DocumentDB" if version.startswith("v2") else ""
        return f"FerretDB {version} (MongoDB wire {info.get('version')}{backend})"
    if "ferretdbVersion" in info:
        return f"FerretDB {info['ferretdbVersion']}"
    return f"MongoDB {info.get('version')}"


def fmt(cell: dict[str, Any] | None) -> str:
    if not cell:
        return "n/a"
    return f"{cell['p50']:.1f} / {cell['p95']:.1f}"


def ratio(a: dict | None, b: dict | None) -> str:
    if not a or not b:
        return "n/a"
    return f"{b['p50'] / a['p50']:.1f}x"


def headline(data: dict[str, Any]) -> list[str]:
    """The few numbers that answer "does it stay fast at the largest size"."""
    size = max(data["sizes"], key=int)
    rows = data["sizes"][size]["latency"]
    plain = rows["(none)"]
    seeded = [r for r in data["seeding"] if r.get("database", "").endswith(f"_{size}")]
    lines = ["## Headline", ""]
    if seeded:
        lines.append(
            f"- Seeding: {seeded[0]['users_per_second']:,} users/s "
            f"({int(size):,} users in {seeded[0]['seconds'] / 60:.0f} min, all indexes in place)."
        )
    lines.append(
        f"- {int(size):,} users, no q, p50: first page {plain['first_ours']['p50']:.1f} ms, "
        f"page 1,000 cursor steps deep {plain['deep_ours']['p50']:.1f} ms; eve "
        f"{ratio(plain['first_ours'], plain['first_eve'])} / "
        f"{ratio(plain['deep_ours'], plain['deep_eve'])} slower, bare Flask "
        f"{plain['first_bare']['p50']:.1f} / {plain['deep_bare']['p50']:.1f} ms."
    )
    for q, row in rows.items():
        if q == "(none)" or "first_ours" not in row:
            continue
        lines.append(
            f"- q={q} ({row['matches']:,} matches) p50: first page {row['first_ours']['p50']:.0f} ms"
            f" (eve {ratio(row['first_ours'], row['first_eve'])} slower, bare "
            f"{ratio(row['first_ours'], row['first_bare'])} of ours)"
            + (f", deep {row['deep_ours']['p50']:.0f} ms" if row.get("deep_ours") else "")
            + ": on this engine a search reads and sorts every match (see below)."
        )
    return [*lines, ""]


def write_report(data: dict[str, Any]) -> None:
    lines = [
        "# GET /api/v1/users at scale: ours vs python-eve vs bare Flask",
        "",
        f"Run: {data['when']} by `bench/users_search.py` (`make bench`).",
        f"Server: {data['server']}. Machine: {data['machine']}.",
        "Client and servers on the same machine; every request on a fresh connection.",
        "Each server: uwsgi, 2 workers, same database and collection.",
        "Latencies in ms as p50 / p95 (n requests after 2 warm-ups, fewer when a cell",
        "exceeds its time budget). Page size 20; sort `username` unless said otherwise.",
        "",
        "- ours: the app (JWT check, Redis blocklist lookup, signed cursors, rendering);",
        "  rate limits off.",
        "- eve: python-eve " + data.get("eve_version", "") + " with its defaults: `?page=P`",
        "  (skip + limit) and a count of all matches in every response; public (no auth).",
        "- bare: a bare Flask view issuing our exact find (same filter, sort, hint, limit),",
        "  no auth: the floor for this query on this server.",
        "",
        "deep = the page 1,000 cursor steps in (items 20,001-20,020): ours by its cursor, bare by",
        "the same keyset bound, eve by `page=1001` (skip 20,000). window edge = page mode",
        "`page=500&per_page=20` (skip 9,980; bare counts as ours does).",
        "",
    ]
    adaptations = [
        f"{record['database']}: {note}"
        for record in data["seeding"]
        for note in record.get("adaptations", [])
    ]
    if adaptations:
        lines += ["Engine adaptations made by the bench (not by the app):", ""]
        lines += [f"- {note}" for note in adaptations]
        lines.append("")
    lines += headline(data)
    lines += data.get("notes", [])
    lines += DESIGN_NOTES.format(prefixes_per_user=data.get("prefixes_per_user", "?")).splitlines()
    if data.get("index_sizes"):
        lines += ["", "Index sizes at the largest size (collStats, MiB):", ""]
        lines += ["| index | MiB |", "|---|---|"]
        for name, size in data["index_sizes"].items():
            lines.append(f"| {name} | {size / 2**20:,.1f} |")
    lines += ["", "## Seeding", ""]
    lines += ["| database | users seeded | seconds | users/s |", "|---|---|---|---|"]
    for record in data["seeding"]:
        if record:
            lines.append(
                f"| {record['database']} | {record['seeded']:,} | {record['seconds']} "
                f"| {record['users_per_second']:,} |"
            )
    for size, result in data["sizes"].items():
        lines += ["", f"## {int(size):,} users", ""]
        lines += [
            "| q | matches | first page: ours | eve | bare | deep: ours | eve | bare "
            "| window edge: ours | eve | bare |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for q, row in result["latency"].items():
            cells = [
                row.get(f"{where}_{name}")
                for where in ("first", "deep", "window")
                for name in ("ours", "eve", "bare")
            ]
            lines.append(f"| {q} | {row['matches']:,} | " + " | ".join(map(fmt, cells)) + " |")
        lines += ["", "Ratios of p50 (eve / ours, bare / ours):", ""]
        lines += ["| q | first page | deep | window edge |", "|---|---|---|---|"]
        for q, row in result["latency"].items():
            lines.append(
                f"| {q} | "
                + " | ".join(
                    f"{ratio(row.get(f'{w}_ours'), row.get(f'{w}_eve'))}, "
                    f"{ratio(row.get(f'{w}_ours'), row.get(f'{w}_bare'))}"
                    for w in ("first", "deep", "window")
                )
                + " |"
            )
        if result.get("sorts"):
            lines += ["", "Every sort, no q, ours (first page / deep):", ""]
            lines += ["| sort | first page | deep |", "|---|---|---|"]
            for sort_name, row in result["sorts"].items():
                lines.append(f"| {sort_name} | {fmt(row['first'])} | {fmt(row['deep'])} |")
    if data.get("depth_curve"):
        lines += ["", "## Latency vs depth", "", f"![latency vs depth]({data['plot']})", ""]
        lines += ["| series | " + " | ".join(f"page {d}" for d in PLOT_DEPTHS) + " |"]
        lines += ["|---|" + "---|" * len(PLOT_DEPTHS)]
        for series, points in data["depth_curve"].items():
            lines.append(
                f"| {series} | " + " | ".join(fmt(points.get(str(d))) for d in PLOT_DEPTHS) + " |"
            )
    lines += ["", "## Query shapes and what they read", ""]
    lines += [
        "The finds each request of ours issues (captured from the driver), and `explain`.",
        "On MongoDB the counters are totalDocsExamined / totalKeysExamined; DocumentDB's",
        "explain gives the PostgreSQL plan only, so rows read are derived from it: an ordered",
        "index scan under the Limit reads skip + limit rows; a Sort reads every match",
        "(counted).",
        "",
    ]
    for label, issued in data["shapes"].items():
        lines += [f"### {label}", "", "```"]
        for command in issued:
            explain = command.pop("explain", None)
            lines.append(json.dumps(command, default=str))
            if explain:
                lines.append(f"  -> {json.dumps(explain, default=str)}")
        lines += ["```", ""]
    (RESULTS / "users_search.md").write_text("\n".join(lines) + "\n")


DESIGN_NOTES = """
## Index design, and the alternatives measured

Every user document stores `search_prefixes`: each prefix, up to 16 characters, of
`username_lc` and of every name word ({prefixes_per_user} per user on average here). A search is
one *equality* on that array; the compound indexes `search_username` (search_prefixes,
username_lc) and `search_created_id` (search_prefixes, created, _id) then hold the matches in
sort order. On MongoDB that is an index scan with bounds [q, q] on the first key, walked
forwards or backwards, reading limit + 1 keys; a cursor page narrows the second key
(`username_lc > last`, or `created >= last` with the ties already seen excluded), so depth does
not matter and no count is made in cursor mode. Without `q`, each sort order hints its own
index (`username_lc_id`, `username_lc_id_desc`, `created_id`, `created_id_desc`).

Why not the obvious designs (measured on this engine during design, 200,000 users, pymongo
directly, limit 21, median of 15; ms for q = m / ma / mar):

| design | sort username | sort created |
|---|---|---|
| `$or` of prefix ranges on `username_lc` and `name_words`, indexes (username_lc), (name_words, username_lc), (username_lc, created, _id), (name_words, created, _id) | 359 / 321 / 502 | 424 / 352 / 583 |
| stored prefixes, equality + sort (this design; on this engine an index lookup, then a sort of the matches) | 128 / 96 / 67 | same shape |
| scalar (prefix, sort key, user id) rows in a side collection, then the users by id (50,000 users) | 0.7 / 1.0 / 0.8 for the ids, plus a second query | 0.9 / 1.1 / 2.0, same |

The side collection is the only shape this engine walks in order, but it costs 22 extra
documents per user (loading ran at 500 users/s against 1,070 without it), two queries per page,
and a second collection that every write path (sign-up, name change, deletion) must keep in
step without transactions; on MongoDB it buys nothing over the stored prefixes. Rejected.

A *range* on the leading key of a compound index never comes out ordered by the next key, and
a range on a multikey field never does on any engine: the `$or` design makes MongoDB sort every
match of the name-word branch (or walk the username index filtering, unbounded for a rare
prefix). Equality on a stored prefix is what lets the index hand out a sorted page. The cost is
write amplification: about {prefixes_per_user} keys per user in each of the two search indexes
(index sizes below), paid at sign-up and name change, rare events for a users collection.

What this engine (DocumentDB) does differently from MongoDB, and what follows:

- It walks an index in order only forwards and never from a unique index: hence one
  non-unique index per listing sort order (on MongoDB the `_desc` twins are redundant, kept for
  portability; users are written rarely).
- It cannot return a multikey compound index in the order of its second key. With its default
  opclass such a sorted query fails; the bench rebuilds the two search indexes without it (see
  above), and a search is then an index lookup of the matches plus a sort of them: latency
  grows with the number of matches (a one-letter `q` matches ~20% of users). The query shape
  is the one MongoDB walks in order; the search rows below are this engine's, not MongoDB's.
- A keyset bound on the second key of a multikey index (`username_lc > last`) is applied by
  this engine while it scans the prefix's index entries, and costs more than it saves: deep
  search pages take longer than the first one here. eve's unhinted query instead gets the
  planner's walk of the username index with a filter, quick for a dense prefix like `ma` and
  unbounded for a rare one (the plan a hint exists to rule out on MongoDB).
- Its explain gives the PostgreSQL plan without row counts: rows read are derived (see the
  query shapes section).
"""


PLOT_SCRIPT = """
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
data = json.load(open(sys.argv[1]))
fig, ax = plt.subplots(figsize=(8, 5))
for series, points in data["depth_curve"].items():
    xs = [int(d) for d in points if points[d]]
    ys = [points[str(d)]["p50"] for d in xs]
    ax.plot(xs, ys, marker="o", label=series)
ax.set_xscale("log"); ax.set_yscale("log")
ax.set_xlabel("page number (20 items per page)"); ax.set_ylabel("p50 latency, ms")
ax.set_title(data["plot_title"])
ax.grid(True, which="both", alpha=0.3); ax.legend()
fig.tight_layout(); fig.savefig(sys.argv[2], dpi=110)
"""


# --- main --------------------------------------------------------------------------------------


def login(ours: Server) -> dict[str, str]:
    from services.seeding import SEED_PASSWORD, FakeUsers

    username = FakeUsers(SEED).fields(0)[0]
    response = requests.post(
        f"{ours.url}/api/v1/auth/login",
        json={"username": username, "password": SEED_PASSWORD},
        timeout=60,
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def bench_size(mongo_uri: str, size: int, args, logs: Path, largest: bool) -> dict[str, Any]:
    from app import create_app
    from db import get_db

    uri = uri_for(mongo_uri, database_for(size))
    app = create_app(app_config(uri))
    result: dict[str, Any] = {"latency": {}, "sorts": {}}
    with app.app_context(), pymongo.timeout(LONG_OPERATION_S), servers(uri, logs) as running:
        db = get_db()
        ours, eve, bare = running["ours"], running["eve"], running["bare"]
        token = login(ours)
        bases = {"ours": ours.url, "eve": eve.url, "bare": bare.url}
        for q in QUERIES:
            scenario = Scenario(app, db, q)
            label = repr(q) if q else "(none)"
            print(f"  {size}: q={label}", flush=True)
            matches = db.users.count_documents(scenario.filter) if q else size
            row: dict[str, Any] = {"matches": matches}
            depth = DEEP_STEPS
            cells = {"first": {}, "deep": {"depth": depth}, "window": {"page": WINDOW_PAGE}}
            for where, options in cells.items():
                urls = {
                    name: getattr(scenario, name)(base, **options) for name, base in bases.items()
                }
                if any(url is None for url in urls.values()):
                    continue
                if where == "window" and matches < WINDOW_PAGE * PAGE - PAGE + 1:
                    continue
                check_same_pages(scenario, urls, token)
                for name, url in urls.items():
                    headers = token if name == "ours" else None
                    row[f"{where}_{name}"] = measure(url, headers, args.requests, args.budget)
            result["latency"][label] = row
        if size == min(args.sizes):
            walk_check(Scenario(app, db, "ma"), ours, token, 5)
            walk_check(Scenario(app, db, None), ours, token, 50)
        for sort_name in ("username", "-username", "created", "-created"):
            scenario = Scenario(app, db, None, sort_name)
            deep_url = scenario.ours(ours.url, depth=DEEP_STEPS)
            result["sorts"][sort_name] = {
                "first": measure(scenario.ours(ours.url), token, args.requests, args.budget),
                "deep": deep_url and measure(deep_url, token, args.requests, args.budget),
            }
        if largest:
            sample = list(db.users.find({}, {"search_prefixes": 1}).limit(10_000))
            result["prefixes_per_user"] = round(
                statistics.mean(len(doc["search_prefixes"]) for doc in sample), 1
            )
            with contextlib.suppress(pymongo.errors.PyMongoError):
                result["index_sizes"] = db.command("collStats", "users").get("indexSizes", {})
            curve: dict[str, dict[str, Any]] = {}
            for q in (None, "ma"):
                scenario = Scenario(app, db, q)
                for name in ("ours", "eve", "bare"):
                    series = f"{name}, q={q or '(none)'}"
                    curve[series] = {}
                    for page in PLOT_DEPTHS:
                        url = getattr(scenario, name)(bases[name], depth=page - 1)
                        if url:
                            headers = token if name == "ours" else None
                            curve[series][str(page)] = measure(
                                url, headers, min(args.requests, 15), args.budget
                            )
            result["depth_curve"] = curve
        deep_q = Scenario(app, db, "ma")
        deep_none = Scenario(app, db, None)
        shape_cases = {
            "first page, no q": deep_none.ours(""),
            "first page, q=ma": deep_q.ours(""),
            "first page, q=ma, sort=-created": Scenario(app, db, "ma", "-created").ours(""),
            "deep page, no q, sort=-created": Scenario(app, db, None, "-created").ours(
                "", depth=min(DEEP_STEPS, size // PAGE - 1)
            ),
            "page mode window edge, q=ma": deep_q.ours("", page=WINDOW_PAGE),
        }
        deep_q_url = deep_q.ours("", depth=DEEP_STEPS)
        if deep_q_url:
            shape_cases["deep page, q=ma"] = deep_q_url
        result["shapes"] = query_shapes(app, db, token, shape_cases)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--after-load", help="command run after each bulk load (e.g. ANALYZE)")
    parser.add_argument("--requests", type=int, default=30, help="requests per cell")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per cell, at most")
    parser.add_argument("--seed-only", action="store_true", help="seed the sizes and stop")
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the report from users_search.json"
    )
    args = parser.parse_args()
    if args.report_only:
        data = json.loads((RESULTS / "users_search.json").read_text())
        write_report(data)
        return
    args.sizes = [int(s) for s in args.sizes.split(",")]
    mongo_uri = os.environ.get("MONGO_URI")
    if not mongo_uri:
        sys.exit("set MONGO_URI to the MongoDB server to measure")
    if not shutil.which("redis-server"):
        sys.exit("redis-server is needed (apt-get install redis-server)")

    pymongo.monitoring.register(RECORDER)
    seeding = [seed_size(mongo_uri, size, args.after_load) for size in args.sizes]
    if args.seed_only:
        print(json.dumps(seeding, indent=1))
        return
    bench_python = ensure_bench_venv()
    RESULTS.mkdir(exist_ok=True)
    from pymongo import MongoClient

    with MongoClient(mongo_uri) as client:
        server = server_description(client[database_for(args.sizes[0])])
    eve_version = subprocess.run(
        [str(bench_python), "-c", "import eve; print(eve.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    data: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "server": server,
        "machine": machine(),
        "eve_version": eve_version,
        "seeding": seeding,
        "sizes": {},
        "notes": [],
    }
    with tempfile.TemporaryDirectory(prefix="bench-users-") as logs:
        for size in args.sizes:
            print(f"measuring {size} users", flush=True)
            result = bench_size(mongo_uri, size, args, Path(logs), size == max(args.sizes))
            for key in ("depth_curve", "prefixes_per_user", "index_sizes"):
                if key in result:
                    data[key] = result.pop(key)
            data.setdefault("shapes", {})
            data["shapes"].update(
                {
                    f"{label} ({size:,} users)": issued
                    for label, issued in result.pop("shapes").items()
                }
            )
            data["sizes"][str(size)] = result
    data["plot"] = "users_search.png"
    data["plot_title"] = f"GET users, {max(args.sizes):,} users, {server}"
    (RESULTS / "users_search.json").write_text(json.dumps(data, indent=1, default=str))
    if data.get("depth_curve"):
        subprocess.run(
            [
                str(bench_python),
                "-c",
                PLOT_SCRIPT,
                str(RESULTS / "users_search.json"),
                str(RESULTS / "users_search.png"),
            ],
            check=True,
        )
    write_report(data)
    print(f"wrote {RESULTS / 'users_search.md'}")


if __name__ == "__main__":
    main()
