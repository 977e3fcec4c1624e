"""Every endpoint under load, side by side: ours vs python-eve vs the floors (`make bench-endpoints`).

Run by hand, never by the test suite. Point it at any MongoDB-wire server:

    MONGO_URI=mongodb://127.0.0.1:27017/ python bench/endpoints.py [--rounds 3] [--users 100000]
        [--ref REF ...] [--variants] [--profile] [--after-load "command run after a bulk load"]

or, for correctness rather than figures, on a throwaway FerretDB 1.24 (the test suite's binary;
it scans a collection for most queries, so keep the data small):

    python bench/endpoints.py --ferretdb --users 3000 --todos 100 --templates 2000 \
        --deep-steps 100 --connections 2 --rounds 1 --requests 32 --list-requests 16 \
        --search-requests 8 --write-requests 16 --login-requests 4 --depth-requests 20 \
        --name endpoints_ferretdb

It seeds the database `bench_endpoints` (kept between runs; only what is missing is added):
`--users` users from services.seeding, 1,000 todos for each of 32 of them (16 whose todos are
read, 16 whose todos are written), and 40,000 templates. Then it starts, on free local ports, a
redis-server and uwsgi servers with 2 workers each over that one database:

- ours: the app as deployed (uwsgi.ini, APP_ENV=production): JWT and blocklist check, rate
  limiting on (a budget no run reaches, so each request still counts), Prometheus multiprocess
  metrics, the JSON request log, the default argon2 profile;
- eve: python-eve 2.3 on the same collections, its auth on where ours has auth (our access
  tokens, verified with the same library and secret) (bench/eve_app.py);
- floor: bare Flask views issuing the one query each endpoint needs, and constant JSON
  (bench/bare_app.py, extended by bench/floors.py);
- with `--ref REF` (repeatable): ours as of that git revision (before/after in one run);
- with `--variants`: ours without one of its costs (no metrics, no request log, no rate
  limiter), to price each.

The refs and the variants run on LEAN_CELLS only (every cell for the refs with
`--ref-all-cells`).

A round runs every cell (endpoint) on every server, the servers' order rotating, so that load
from anything else on the machine falls on all alike; each cell is a fixed number of requests
from 16 connections, each request on its own connection (bench/http_load.py). The report takes
the median of the rounds: req/s, p50/p99 latency, server CPU per request (uwsgi master and
workers; redis-server's apart), worker RSS, and the ratios ours/eve and ours/floor. Before the
first round every read cell is checked to answer the same documents on every server.
`--profile` records ours' workers under `GET /users/<id>` with py-spy (flame graph, and the
samples grouped by what they were doing). Writes bench/results/<name>.md, .json and .png.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pymongo
from bson import ObjectId, json_util

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BENCH_VENV,
    REPO,
    RESULTS,
    SECRETS,
    WORK,
    Server,
    app_server,
    bench_tool,
    ensure_bench_venv,
    eve_server,
    floor_server,
    free_port,
    plot,
    redis_server,
    tree_at,
    uri_for,
    uwsgi_binary,
)
from bench.http_load import LoadResult, Repeat, Reply, Request, exchange, run_load

DATABASE = "bench_endpoints"
SEED = 1
# Settings `main` may change from the command line (--connections, --todos, --templates).
CONNECTIONS = 16
READERS = range(0, 16)  # seeded users whose todos are read
WRITERS = range(16, 32)  # whose todos are written (by every server alike)
REFRESHERS = range(32, 48)  # whose logins' refresh tokens are exchanged
TODOS_PER_USER = 1000
TEMPLATES = 40_000
# Seeded todos are dated from here, one a minute; the todos the write cells create are dated now.
SEEDED_TODOS_FROM = datetime(2025, 1, 1)
TAGS = ("work", "home", "errand", "later")
PAGE = 20
DEEP_STEPS = 1000  # the users page 20,000 items in (`--deep-steps`)
HOT_TEMPLATES = 64
PATCHED_PER_WRITER = 20
LONG_OPERATION_S = 3600
API = "/api/v1"
# Ours without one of its costs, to price each (`--variants`).
VARIANTS = {
    "ours-no-metrics": {"PROMETHEUS_ENABLED": "false"},
    "ours-no-log": {"LOG_LEVEL": "WARNING"},
    "ours-no-limiter": {"RATELIMIT_ENABLED": "false"},
}
# The cells the refs (`--ref`) and the variants run on (every cell with `--ref-all-cells`).
LEAN_CELLS = ("user_item", "todo_item", "user_list", "template_hit")
PLOT_SERVERS = ("ours", "eve", "floor")


def app_config(mongo_uri: str) -> dict[str, Any]:
    return {"APP_ENV": "development", "MONGO_URI": mongo_uri, **SECRETS}


# --- data --------------------------------------------------------------------------------------


def seed(mongo_uri: str, users: int, after_load: str | None) -> dict[str, Any]:
    """Grow the bench database to `users` users, the bench users' todos and the templates."""
    from app import create_app
    from db import ensure_indexes, get_db
    from services.seeding import FakeUsers, seed_users
    from stores.templates import build_template_document
    from stores.todos import build_todo_document
    from stores.user_prefixes import build_rows_if_missing

    app = create_app(app_config(uri_for(mongo_uri, DATABASE)))
    record: dict[str, Any] = {}
    with app.app_context(), pymongo.timeout(LONG_OPERATION_S):
        db = get_db()
        ensure_indexes(db)
        loaded = False
        began = time.perf_counter()
        if build_rows_if_missing(db):  # users seeded before search had its own rows
            record["search_rows_built_seconds"] = round(time.perf_counter() - began)
            loaded = True
        present = db.users.count_documents({})
        if present < users:
            print(f"seeding users: {present:,} -> {users:,}", flush=True)
            report = seed_users(db.users, users - present, SEED, 10_000, start=present)
            record["users_per_second"] = round(report.rate)
            loaded = True
        fake = FakeUsers(SEED)
        names = [fake.fields(number)[0] for number in range(REFRESHERS.stop)]
        bench_users = {
            user["username"]: user
            for user in db.users.find({"username": {"$in": names}}, {"username": 1})
        }
        for number in itertools.chain(READERS, WRITERS):
            user = bench_users[names[number]]
            if db.todos.count_documents(seeded_todos(user["_id"])) >= TODOS_PER_USER:
                continue
            db.todos.delete_many({"owner_id": user["_id"]})
            documents = []
            for i in range(TODOS_PER_USER):
                fields = {
                    "title": f"Todo {i:04d} of {user['username']}",
                    "done": i % 3 == 0,
                    "tags": [TAGS[i % len(TAGS)], TAGS[(i // 7) % len(TAGS)]],
                }
                document = build_todo_document(user["_id"], user["username"], fields)
                document["created"] = document["updated"] = SEEDED_TODOS_FROM + timedelta(minutes=i)
                documents.append(document)
            db.todos.insert_many(documents)
            loaded = True
        present = db.templates.count_documents({})
        if present < TEMPLATES:
            print(f"seeding templates: {present:,} -> {TEMPLATES:,}", flush=True)
            by = {"type": "user", "id": "bench", "username": "bench"}
            documents = [
                build_template_document(
                    {"name": f"Template {i:05d}", "content": "Hello {{name}}, " * 20}, by
                )
                for i in range(present, TEMPLATES)
            ]
            for start in range(0, len(documents), 10_000):
                db.templates.insert_many(documents[start : start + 10_000])
            loaded = True
        if loaded and after_load:
            subprocess.run(after_load, shell=True, check=True)  # noqa: S602 - the operator's own
        record["counts"] = {
            name: db[name].estimated_document_count() for name in ("users", "todos", "templates")
        }
    return record


def seeded_todos(owner_id: ObjectId) -> dict[str, Any]:
    """The filter of the owner's seeded todos (not those the write cells created)."""
    return {"owner_id": owner_id, "created": {"$lt": datetime(SEEDED_TODOS_FROM.year + 1, 1, 1)}}


@dataclass
class Fixture:
    """What the cells address: ids read from the database and tokens from logins."""

    names: list[str]
    user_ids: dict[int, str]  # seeded user number -> id
    sample_user_ids: list[str]
    todo_ids: dict[int, list[str]]  # reader or writer number -> its todos, newest first
    todo_created: dict[int, list[datetime]]  # the same todos' `created`
    template_ids: list[str]
    access: dict[int, str] = field(default_factory=dict)
    refresh: dict[int, str] = field(default_factory=dict)
    deep_users: dict[str, Any] = field(default_factory=dict)
    todo_page_two: dict[int, dict[str, Any]] = field(default_factory=dict)


def load_fixture(mongo_uri: str) -> Fixture:
    from services.seeding import FakeUsers

    fake = FakeUsers(SEED)
    names = [fake.fields(number)[0] for number in range(REFRESHERS.stop)]
    with pymongo.MongoClient(uri_for(mongo_uri, DATABASE)) as client:
        db = client.get_default_database()
        by_name = {
            user["username"]: str(user["_id"])
            for user in db.users.find({"username": {"$in": names}}, {"username": 1})
        }
        user_ids = {number: by_name[name] for number, name in enumerate(names)}
        every_id = [str(user["_id"]) for user in db.users.find({}, {"_id": 1})]
        sample = random.Random(SEED).sample(every_id, min(4096, len(every_id)))
        todo_ids, todo_created = {}, {}
        for number in itertools.chain(READERS, WRITERS):
            cursor = db.todos.find(seeded_todos(ObjectId(user_ids[number])), {"created": 1})
            todos = list(cursor.sort([("created", -1), ("_id", -1)]).limit(TODOS_PER_USER))
            todo_ids[number] = [str(todo["_id"]) for todo in todos]
            todo_created[number] = [todo["created"] for todo in todos]
        templates = sorted(t["templateid"] for t in db.templates.find({}, {"templateid": 1}))
    random.Random(SEED).shuffle(templates)
    return Fixture(names, user_ids, sample, todo_ids, todo_created, templates)


# --- servers -----------------------------------------------------------------------------------


def ours_server(name: str, mongo_uri: str, redis_url: str, logs: Path, root=REPO, **env) -> Server:
    settings = {
        **SECRETS,
        "APP_ENV": "production",
        "MONGO_URI": mongo_uri,
        "REDIS_URL": redis_url,
        # Limiting on, with a budget no run reaches: every request still counts.
        "DEFAULT_RATE_LIMIT": "1000000000",
        "JWT_ACCESS_TOKEN_EXPIRES": "86400",
        "PROMETHEUS_MULTIPROC_DIR": str(logs / f"prometheus-{name}"),
        **env,
    }
    return app_server(name, settings, logs, root)


@contextmanager
def servers(mongo_uri: str, args, logs: Path) -> Iterator[dict[str, Server]]:
    uri = uri_for(mongo_uri, DATABASE)
    redis = redis_server(free_port(), logs)
    redis_url = f"redis://127.0.0.1:{redis.port}/0"
    started: dict[str, Server] = {}
    eve = eve_server(uri, logs, JWT_SECRET_KEY=SECRETS["JWT_SECRET_KEY"])
    floor = floor_server(uri, logs)
    candidates = [
        (redis, None),
        (ours_server("ours", uri, redis_url, logs), "/health"),
        (eve, "/"),
        (floor, "/const"),
    ]
    for ref in args.ref:
        root, sha = tree_at(ref)
        name = f"ours@{sha}"
        args.ref_names.append(name)
        args.ref_subjects[name] = subprocess.run(
            ["git", "log", "-1", "--format=%s", sha], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        candidates.append((ours_server(name, uri, redis_url, logs, root), "/health"))
    if args.variants:
        for name, env in VARIANTS.items():
            candidates.append((ours_server(name, uri, redis_url, logs, **env), "/health"))
    try:
        for server, ready in candidates:
            started[server.name] = server.start(ready)
        yield started
    finally:
        for server in reversed(list(started.values())):
            server.stop()


# --- cells -------------------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def where(**fields: Any) -> str:
    """Eve's `?where=` filter."""
    return quote(json.dumps(fields, separators=(",", ":")))


def eve_search(q: str) -> str:
    """What an eve user writes for our `q` (bench/eve_app.py): an anchored `$regex` on the
    username or a name word."""
    anchored = {"$regex": f"^{q}"}
    either = {"$or": [{"username_lc": anchored}, {"name_words": anchored}]}
    return "where=" + quote(json.dumps(either, separators=(",", ":")))


def kind_of(server: str) -> str:
    """`ours` for every server running our app (the ref and the variants too)."""
    return server if server in ("eve", "floor") else "ours"


class EtagChain:
    """A slot that PATCHes its todos in turn with `If-Match`, keeping each new ETag."""

    def __init__(self, port: int, paths: list[str], headers: dict[str, str]) -> None:
        self.paths, self.headers, self.turn, self.current = paths, headers, 0, ""
        # The current versions, read once before the run (not timed).
        self.etags = {
            path: exchange(port, Request("GET", path, headers)).header("ETag") for path in paths
        }

    def next_request(self) -> Request:
        self.current = self.paths[self.turn % len(self.paths)]
        self.turn += 1
        body = {"done": self.turn % 2 == 0}
        return Request(
            "PATCH", self.current, {**self.headers, "If-Match": self.etags[self.current]}, body
        )

    def answered(self, reply: Reply) -> None:
        self.etags[self.current] = reply.header("ETag")


class RefreshChain:
    """A slot exchanging its login's refresh token, then the one it got back, and so on."""

    def __init__(self, token: str) -> None:
        self.token = token

    def next_request(self) -> Request:
        return Request("POST", f"{API}/auth/refresh", bearer(self.token))

    def answered(self, reply: Reply) -> None:
        self.token = reply.json()["refresh_token"]


Slots = Callable[[str, int, int], list]  # (server, port, round) -> one slot per connection


@dataclass
class Cell:
    """One endpoint: requests per run, the kinds of server it runs on and their slots."""

    name: str
    label: str
    requests: int
    kinds: tuple[str, ...]
    slots: Slots
    compare: bool = False  # check that every server answers the same documents


def stateless(make: Callable[[str, int, int, int], Request]) -> Slots:
    """One slot per connection; slot s's request i of round r on a server of kind k: make(k, s, r, i)."""

    def slots(server: str, _port: int, rnd: int) -> list:
        kind = kind_of(server)
        return [Repeat(lambda i, s=s: make(kind, s, rnd, i)) for s in range(CONNECTIONS)]

    return slots


def ids_of(kind: str, reply: Reply) -> list[str]:
    """The ids a read answered, whatever the server's envelope."""
    body = reply.json()
    if kind == "eve":
        return [str(item["_id"]) for item in body.get("_items", [body])]
    if kind == "floor":
        return [(item.get("id") or item["_id"])["$oid"] for item in body.get("items", [body])]
    return [item["id"] for item in body.get("items", [body])]


EVERY_KIND = ("ours", "eve", "floor")


def paths(ours: str, eve: str | None = None, floor: str | None = None) -> dict[str, str]:
    """Each kind of server's path for one request (eve's and the floor's default to ours)."""
    return {"ours": ours, "eve": eve or ours, "floor": floor or ours}


def build_cells(fx: Fixture, args) -> list[Cell]:
    readers, writers = list(READERS), list(WRITERS)
    hot = fx.template_ids[:HOT_TEMPLATES]
    cold = fx.template_ids[HOT_TEMPLATES:]

    def read(kind: str, s: int, where_to: dict[str, str]) -> Request:
        """GET: ours under /api/v1 and eve with reader s's token, the floor bare."""
        if kind == "floor":
            return Request("GET", where_to["floor"])
        prefix = API if kind == "ours" else ""
        return Request("GET", prefix + where_to[kind], bearer(fx.access[readers[s]]))

    def reads(name: str, label: str, where_to, requests: int = 0, compare: bool = True) -> Cell:
        """A cell of GETs: `where_to(s, r, i)` gives each kind of server its path."""
        make = stateless(lambda k, s, r, i: read(k, s, where_to(s, r, i)))
        return Cell(name, label, requests or args.requests, EVERY_KIND, make, compare)

    def user(s: int, rnd: int, i: int) -> str:
        return fx.sample_user_ids[(rnd * 997 + s * 256 + i) % len(fx.sample_user_ids)]

    def todo(s: int, i: int) -> str:
        ids = fx.todo_ids[readers[s]]
        return ids[(i * 37 + s) % len(ids)]

    def owner(s: int, numbers=readers) -> str:
        return f"owner={fx.user_ids[numbers[s]]}"

    miss_runs = itertools.count()

    def misses(server: str, port: int, rnd: int) -> list:
        # Every run its own slice of templates that no run has read before, on any server.
        run = next(miss_runs)

        def make(k: str, s: int, r: int, i: int) -> Request:
            templateid = cold[(run * args.requests + i * CONNECTIONS + s) % len(cold)]
            return read(k, s, paths(f"/templates/{templateid}"))

        return stateless(make)(server, port, rnd)

    def search(q: str) -> Cell:
        return reads(
            f"user_q{len(q)}",
            f"GET /users?q={q}",
            lambda s, r, i: paths(
                f"/users?q={q}&limit=20", f"/users?{eve_search(q)}&max_results=20"
            ),
            args.search_requests,
        )

    def create(kind: str, s: int, rnd: int, i: int) -> Request:
        body = {"title": f"bench {kind} {rnd}.{s}.{i}", "tags": ["bench"]}
        if kind == "floor":
            return Request("POST", f"/todos?{owner(s, writers)}", body=body, expect=201)
        prefix = API if kind == "ours" else ""
        return Request("POST", f"{prefix}/todos", bearer(fx.access[writers[s]]), body, 201)

    def patches(server: str, port: int, _rnd: int) -> list:
        kind, chains = kind_of(server), []
        for s in range(CONNECTIONS):
            ids = fx.todo_ids[writers[s]][:PATCHED_PER_WRITER]
            if kind == "floor":
                chains.append(EtagChain(port, [f"/todos/{t}?{owner(s, writers)}" for t in ids], {}))
                continue
            prefix = API if kind == "ours" else ""
            paths_ = [f"{prefix}/todos/{t}" for t in ids]
            chains.append(EtagChain(port, paths_, bearer(fx.access[writers[s]])))
        return chains

    def refreshes(server: str, port: int, rnd: int) -> list:
        if kind_of(server) == "floor":
            return stateless(lambda k, s, r, i: Request("GET", "/const"))(server, port, rnd)
        logins = [login(port, fx.names[number]) for number in REFRESHERS[:CONNECTIONS]]
        return [RefreshChain(pair["refresh_token"]) for pair in logins]

    def log_in(kind: str, s: int, rnd: int, i: int) -> Request:
        name = fx.names[(i * CONNECTIONS + s) % len(fx.names)]
        path = f"{API}/auth/login" if kind == "ours" else "/login"
        return Request("POST", path, body={"username": name, "password": PASSWORD})

    page2 = fx.todo_page_two
    return [
        reads("user_item", "GET /users/<id>", lambda s, r, i: paths(f"/users/{user(s, r, i)}")),
        reads(
            "user_list",
            "GET /users (no q)",
            lambda s, r, i: paths("/users?limit=20", "/users?max_results=20"),
            args.list_requests,
        ),
        reads(
            "user_deep",
            f"GET /users, {args.deep_steps:,} cursor steps deep",
            lambda s, r, i: paths(
                f"/users?limit=20&cursor={fx.deep_users['cursor']}",
                f"/users?max_results=20&page={args.deep_steps + 1}",
                f"/users?limit=20&{fx.deep_users['floor']}",
            ),
            args.list_requests,
        ),
        *(search(q) for q in ("m", "ma", "mar")),
        reads(
            "todo_item",
            "GET /todos/<id>",
            lambda s, r, i: paths(f"/todos/{todo(s, i)}", floor=f"/todos/{todo(s, i)}?{owner(s)}"),
        ),
        reads(
            "todo_list",
            "GET /todos?done=false&tag=work",
            lambda s, r, i: paths(
                "/todos?done=false&tag=work&limit=20",
                f"/todos?where={where(done=False, tags='work')}&max_results=20",
                f"/todos?{owner(s)}&done=false&tag=work&limit=20",
            ),
        ),
        reads(
            "todo_cursor",
            "GET /todos, page 2 by cursor",
            lambda s, r, i: paths(
                f"/todos?limit=20&cursor={page2[s]['cursor']}",
                "/todos?max_results=20&page=2",
                f"/todos?{owner(s)}&limit=20&{page2[s]['floor']}",
            ),
        ),
        Cell("todo_create", "POST /todos", args.write_requests, EVERY_KIND, stateless(create)),
        Cell(
            "todo_patch", "PATCH /todos/<id> (If-Match)", args.write_requests, EVERY_KIND, patches
        ),
        reads(
            "template_hit",
            "GET /templates/<id> (cache hit)",
            lambda s, r, i: paths(f"/templates/{hot[(i + s) % len(hot)]}"),
            compare=False,
        ),
        Cell(
            "template_miss", "GET /templates/<id> (cache miss)", args.requests, EVERY_KIND, misses
        ),
        Cell("refresh", "POST /auth/refresh", args.write_requests, ("ours", "floor"), refreshes),
        Cell(
            "login", "POST /auth/login", args.login_requests, ("ours", "floor"), stateless(log_in)
        ),
        Cell(
            "const",
            "constant JSON",
            args.requests,
            ("floor",),
            stateless(lambda k, s, r, i: Request("GET", "/const")),
        ),
    ]


PASSWORD = ""  # the seeded users' shared password (services.seeding), set in main()


def login(port: int, username: str) -> dict[str, Any]:
    credentials = {"username": username, "password": PASSWORD}
    reply = exchange(port, Request("POST", f"{API}/auth/login", body=credentials))
    if reply.status != 200:
        raise RuntimeError(f"login of {username} -> {reply.status}: {reply.body[:200]!r}")
    return reply.json()


def prepare(fx: Fixture, ours_port: int, deep_steps: int) -> None:
    """Tokens, the users cursor `deep_steps` steps deep and each reader's page-two cursor."""
    for number in itertools.chain(READERS, WRITERS):
        fx.access[number] = login(ours_port, fx.names[number])["access_token"]
    headers = bearer(fx.access[READERS[0]])
    cursor = ""
    for _ in range(deep_steps):  # follow `next_cursor` as a client would
        body = exchange(
            ours_port, Request("GET", f"{API}/users?limit={PAGE}{cursor}", headers)
        ).json()
        cursor = f"&cursor={body['meta']['next_cursor']}"
    last = body["items"][-1]
    fx.deep_users["cursor"] = cursor.removeprefix("&cursor=")
    fx.deep_users["floor"] = urlencode(
        {"after": json_util.dumps(last["username"].lower()), "after_id": last["id"]}
    )
    for s, number in enumerate(READERS):
        first = exchange(
            ours_port, Request("GET", f"{API}/todos?limit={PAGE}", bearer(fx.access[number]))
        )
        fx.todo_page_two[s] = {
            "cursor": first.json()["meta"]["next_cursor"],
            "floor": urlencode(
                {
                    "after": json_util.dumps(fx.todo_created[number][PAGE - 1]),
                    "after_id": fx.todo_ids[number][PAGE - 1],
                }
            ),
        }


# --- running -----------------------------------------------------------------------------------


def check_same_answers(cells: list[Cell], running: dict[str, Server]) -> list[str]:
    """Every comparable read answers the same ids on ours, eve and the floor (first request of
    slot 0 and slot 7, or the last); returns what was checked."""
    checked = []
    for cell in cells:
        if not cell.compare:
            continue
        for s in sorted({0, min(7, CONNECTIONS - 1)}):
            answers = {}
            for server in ("ours", "eve", "floor"):
                slot = cell.slots(server, running[server].port, 0)[s]
                request = slot.next_request()
                reply = exchange(running[server].port, request)
                if reply.status != request.expect:
                    sys.exit(f"{cell.name} on {server}: {reply.status} {reply.body[:300]!r}")
                answers[server] = ids_of(server, reply)
            if len({tuple(ids) for ids in answers.values()}) != 1:
                sys.exit(f"{cell.name}: the servers disagree: {answers}")
            if not answers["ours"]:
                sys.exit(f"{cell.name}: no documents; the check would prove nothing")
        checked.append(f"{cell.name}: {len(answers['ours'])} ids alike on ours, eve and floor")
    return checked


def depth_cost(fx: Fixture, running: dict[str, Server], requests: int = 200) -> dict[str, Any]:
    """Page one and the deep page of the users listing, one request at a time and alternating,
    so that both see the same load (in the cells they are minutes apart): p50 of each, by server
    (ours by its cursor, the floor by the same keyset bound, eve by its skip)."""
    pairs = {
        "ours": (f"{API}/users?limit=20", f"{API}/users?limit=20&cursor={fx.deep_users['cursor']}"),
        "floor": ("/users?limit=20", f"/users?limit=20&{fx.deep_users['floor']}"),
    }
    headers = bearer(fx.access[READERS[0]])
    found = {}
    for server, (first, deep) in pairs.items():
        port = running[server].port
        samples: dict[str, list[float]] = {"first": [], "deep": []}
        for _ in range(requests):
            for name, path in (("first", first), ("deep", deep)):
                began = time.perf_counter()
                reply = exchange(port, Request("GET", path, headers if server == "ours" else {}))
                samples[name].append((time.perf_counter() - began) * 1000)
                if reply.status != 200:
                    sys.exit(f"depth check on {server}: {reply.status}")
        first_ms, deep_ms = (round(statistics.median(samples[n]), 2) for n in ("first", "deep"))
        found[server] = {"first_p50_ms": first_ms, "deep_p50_ms": deep_ms, "n": requests}
    return found


def servers_for(cell: Cell, running: dict[str, Server], args) -> list[str]:
    """Ours, eve and the floor where the cell applies; the refs and variants on LEAN_CELLS."""
    names = [name for name in running if name != "redis" and kind_of(name) in cell.kinds]
    if cell.name in LEAN_CELLS:
        return names
    return [
        name
        for name in names
        if name in PLOT_SERVERS or (args.ref_all_cells and name in args.ref_names)
    ]


def run_cell(cell: Cell, server: Server, rnd: int, redis: Server, requests: int) -> LoadResult:
    slots = cell.slots(server.name, server.port, rnd)
    watch = {"redis": redis.pid} if kind_of(server.name) == "ours" else {}
    return run_load(server.port, server.pid, slots, requests, watch)


def measure(cells: list[Cell], running: dict[str, Server], args) -> dict[str, Any]:
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    redis = running["redis"]
    print("warming up", flush=True)
    for cell in cells:
        for name in servers_for(cell, running, args):
            run_cell(cell, running[name], -1, redis, min(cell.requests, 10 * CONNECTIONS))
    for rnd in range(args.rounds):
        for cell in cells:
            names = servers_for(cell, running, args)
            shift = rnd % len(names)
            for name in names[shift:] + names[:shift]:  # who goes first rotates
                result = run_cell(cell, running[name], rnd, redis, cell.requests)
                results.setdefault(cell.name, {}).setdefault(name, []).append(result.summary())
            line = "  ".join(
                f"{name} {results[cell.name][name][-1]['rps']:.0f}/s" for name in names
            )
            print(f"round {rnd + 1}/{args.rounds} {cell.name}: {line}", flush=True)
    return {
        cell: {server: medians(rounds) for server, rounds in by_server.items()}
        for cell, by_server in results.items()
    }


def medians(rounds: list[dict[str, float]]) -> dict[str, Any]:
    keys = rounds[0].keys()
    summary = {key: round(statistics.median(r[key] for r in rounds), 3) for key in keys}
    summary["worker_rss_mib"] = max(r["worker_rss_mib"] for r in rounds)
    summary["rounds_rps"] = [r["rps"] for r in rounds]
    return summary


# --- profile -----------------------------------------------------------------------------------

# What a sample of a worker was doing: the part of the innermost frame that belongs to one (a
# view runs inside Flask-JWT-Extended's decorator, but its find_one is MongoDB's time).
PROFILE_PARTS = [
    ("blocklist check (blacklist.py)", ("blacklist.py",)),
    ("JWT decode and verify", ("flask_jwt_extended/", "(jwt/")),
    ("rate limiter (Flask-Limiter, limits)", ("flask_limiter/", "(limits/")),
    ("Redis client (redis-py)", ("(redis/",)),
    ("Prometheus metrics", ("prometheus",)),
    ("request log line", ("request_log.py", "(logging/")),
    ("marshmallow dump", ("marshmallow/",)),
    ("MongoDB find_one (pymongo, bson)", ("(pymongo/", "(bson/")),
    ("Flask-RESTful dispatch", ("flask_restful/",)),
    ("CORS, compression, security headers", ("flask_cors/", "flask_compress/", "security_headers")),
]
OTHER_PART = "Flask, Werkzeug, uwsgi and the rest"


def part_of(stack: str) -> str:
    for frame in reversed(stack.split(";")):
        for part, marks in PROFILE_PARTS:
            if any(mark in frame for mark in marks):
                return part
    return OTHER_PART


def profile_parts(raw: str) -> dict[str, float]:
    """Share of samples per part of the request path, from py-spy's collapsed stacks (request
    handling only, not the workers' background threads)."""
    counts: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if "Flask.wsgi_app" in stack:
            counts[part_of(stack)] += int(count)
    total = sum(counts.values()) or 1
    return {part: round(100 * n / total, 1) for part, n in counts.most_common()}


def profile(cells: list[Cell], running: dict[str, Server], args) -> dict[str, Any]:
    """py-spy on ours' workers under `GET /users/<id>`: a flame graph (in the results) and the
    parts' shares, from the raw stacks of a second recording (kept in bench/.work)."""
    cell = next(cell for cell in cells if cell.name == "user_item")
    ours = running["ours"]
    flame_graph, raw = RESULTS / f"{args.name}_profile.svg", WORK / f"{args.name}_profile.txt"
    for fmt, out in (("flamegraph", flame_graph), ("raw", raw)):
        command = [bench_tool("py-spy"), "record", "--pid", str(ours.pid), "--subprocesses"]
        command += ["--rate", "250", "--format", fmt, "--output", str(out)]
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(2)  # attached
        run_cell(cell, ours, 0, running["redis"], args.requests * 4)
        spy.send_signal(2)  # SIGINT: write the output and stop
        spy.wait(timeout=120)
    shares = profile_parts(raw.read_text())
    return {"flame_graph": f"{args.name}_profile.svg", "parts_percent": shares}


# --- report ------------------------------------------------------------------------------------


def environment(mongo_uri: str, running: dict[str, Server]) -> dict[str, Any]:
    from importlib.metadata import version

    from argon2 import profiles

    from config import DEFAULT_HASH_PROFILE

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    with pymongo.MongoClient(mongo_uri) as client:
        build = client.admin.command("buildInfo")
    engine = f"MongoDB wire {build.get('version')}"
    if "ferretdb" in json.dumps(build, default=str).lower():
        ferret = build.get("ferretdb") or {}
        named = f"FerretDB {ferret['version']}" if ferret.get("version") else "FerretDB"
        engine = f"{named} (wire {build.get('version')})"
    redis_version = subprocess.run(
        [running["redis"].command[0], "--version"], capture_output=True, text=True
    ).stdout.split()[2]
    eve_version = subprocess.run(
        [str(BENCH_VENV / "bin" / "python"), "-c", "import eve; print(eve.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    uwsgi_version = subprocess.run([uwsgi_binary(), "--version"], capture_output=True, text=True)
    hash_profile = getattr(profiles, DEFAULT_HASH_PROFILE)
    return {
        "machine": f"{os.cpu_count()} cores ({cpu}), {memory_kib / 2**20:.0f} GiB RAM, "
        f"Linux {platform.release()}",
        "python": platform.python_version(),
        "uwsgi": uwsgi_version.stdout.strip(),
        "packages": {
            name: version(name)
            for name in (
                "Flask",
                "Flask-RESTful",
                "Flask-JWT-Extended",
                "Flask-Limiter",
                "pymongo",
                "redis",
                "marshmallow",
                "prometheus-flask-exporter",
            )
        },
        "eve": eve_version,
        "engine": engine,
        "redis_server": redis_version,
        "password_hash": f"argon2id, {DEFAULT_HASH_PROFILE}: time_cost={hash_profile.time_cost}, "
        f"memory_cost={hash_profile.memory_cost} KiB, parallelism={hash_profile.parallelism}",
        "load_average": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def target_lines(results: dict[str, Any]) -> list[str]:
    def rps(cell: str, server: str) -> float | None:
        return results.get(cell, {}).get(server, {}).get("rps")

    def p50(cell: str, server: str) -> float | None:
        return results.get(cell, {}).get(server, {}).get("p50_ms")

    rows = [
        (
            "authenticated GET /users/<id> >= 0.8x the find_one floor",
            rps("user_item", "ours"),
            rps("user_item", "floor"),
            0.8,
            True,
        ),
        (
            "authenticated GET /users/<id> >= 1.2x python-eve's item",
            rps("user_item", "ours"),
            rps("user_item", "eve"),
            1.2,
            True,
        ),
        (
            "GET /users (no q) >= 0.8x the list floor",
            rps("user_list", "ours"),
            rps("user_list", "floor"),
            0.8,
            True,
        ),
        (
            "cursor page 1,000 steps deep <= 1.1x page one (p50)",
            p50("user_deep", "ours"),
            p50("user_list", "ours"),
            1.1,
            False,
        ),
    ]
    lines = ["| target | measured | met |", "|---|---|---|"]
    for label, a, b, bound, at_least in rows:
        if not (a and b):
            continue
        value = a / b
        met = value >= bound if at_least else value <= bound
        lines.append(f"| {label} | {value:.2f}x | {'yes' if met else '**no**'} |")
    deep, first = p50("user_deep", "floor"), p50("user_list", "floor")
    if deep and first:
        lines += [
            "",
            "The deep page and page one are separate cells, measured minutes apart: the floor's "
            f"own deep page is {deep / first:.2f}x its page one there, whatever the load was then.",
        ]
    return lines


def depth_lines(depth: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Page one and the deep page, alternating (one request at a time)",
        "",
        "| server | page one p50 ms | deep page p50 ms | deep / page one |",
        "|---|---|---|---|",
    ]
    for server, m in depth.items():
        lines.append(
            f"| {server} | {m['first_p50_ms']} | {m['deep_p50_ms']} | "
            f"{m['deep_p50_ms'] / m['first_p50_ms']:.2f}x |"
        )
    return lines


def lean_lines(data: dict[str, Any]) -> list[str]:
    """The lean pass: ours as of each ref (oldest first), as it is, and without each cost."""
    steps = [*data["args"]["ref_names"], "ours", *VARIANTS]
    subjects = {**data["args"]["ref_subjects"], "ours": "this tree"}
    subjects.update({name: f"this tree, {env}" for name, env in VARIANTS.items()})
    lines = [
        "",
        "## The request path, step by step (same run)",
        "",
        "| endpoint | server | what | req/s | x floor | p50 ms | CPU ms/req | redis CPU ms/req |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for cell in LEAN_CELLS:
        by_server = data["results"].get(cell, {})
        floor = by_server.get("floor", {}).get("rps")
        for step in steps:
            m = by_server.get(step)
            if not m:
                continue
            lines.append(
                f"| {data['labels'][cell]} | {step} | {subjects[step][:70]} | {m['rps']} | "
                f"{ratio(m['rps'], floor)} | {m['p50_ms']} | {m['cpu_ms_per_req']} | "
                f"{m.get('redis_cpu_ms_per_req', '-')} |"
            )
    return lines if len(lines) > 5 else []


def write_report(data: dict[str, Any], name: str) -> None:
    results, env = data["results"], data["environment"]
    servers = ["ours", *data["args"]["ref_names"], "eve", "floor"]
    lines = [
        f"# Every endpoint under load: ours vs python-eve vs the floors ({data['when'][:10]})",
        "",
        f"Run {data['when']} by `bench/endpoints.py` ({data['minutes']} min of measuring), "
        f"{data['args']['rounds']} rounds, median per cell. "
        f"{data['args']['users']:,} users; {data['args'].get('connections', CONNECTIONS)} connections, a fresh "
        "connection per request, "
        "fixed request counts; every server uwsgi with 2 workers, the same database and data.",
        "",
        f"- Machine: {env['machine']}; load average at the end {env['load_average']}.",
        f"- Database: {env['engine']} at MONGO_URI. {data['args'].get('engine_note') or ''}",
        f"- redis-server {env['redis_server']}; Python {env['python']}; {env['uwsgi'] and 'uWSGI ' + env['uwsgi']}; "
        + ", ".join(f"{k} {v}" for k, v in env["packages"].items())
        + f"; python-eve {env['eve']}.",
        f"- Login hashing: {env['password_hash']}.",
        "",
        "ours = the app as deployed (APP_ENV=production, rate limiting on with a budget no run "
        "reaches, Prometheus multiprocess metrics, the JSON request log to a file); eve = "
        "python-eve with its defaults and our access tokens; floor = a bare Flask view doing "
        "the endpoint's one query (bench/floors.py). Rounds run every cell on every server "
        "in turn, who goes first rotating, so that other load on the machine (the database "
        "server is shared) falls on all alike. CPU = uwsgi master + workers per request; "
        "redis CPU = redis-server's, for ours.",
        "",
        "## Ratios (req/s)",
        "",
        "| endpoint | ours | eve | floor | ours/eve | ours/floor |",
        "|---|---|---|---|---|---|",
    ]
    for cell, by_server in results.items():
        if cell in ("login", "const"):
            continue
        r = {s: by_server.get(s, {}).get("rps") for s in ("ours", "eve", "floor")}
        lines.append(
            f"| {data['labels'][cell]} | {r['ours'] or '-'} | {r['eve'] or '-'} | "
            f"{r['floor'] or '-'} | {ratio(r['ours'], r['eve'])} | {ratio(r['ours'], r['floor'])} |"
        )
    lines += ["", "## Targets (issue 14)", "", *target_lines(results)]
    if "depth" in data:
        lines += depth_lines(data["depth"])
    lines += ["", "## Every cell", ""]
    lines += [
        "| endpoint | server | req/s | p50 ms | p99 ms | CPU ms/req | redis CPU ms/req | worker RSS MiB | req/s per round |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for cell, by_server in results.items():
        for server, m in by_server.items():
            lines.append(
                f"| {data['labels'][cell]} | {server} | {m['rps']} | {m['p50_ms']} | "
                f"{m['p99_ms']} | {m['cpu_ms_per_req']} | {m.get('redis_cpu_ms_per_req', '-')} | "
                f"{m['worker_rss_mib']} | {', '.join(f'{x:.0f}' for x in m['rounds_rps'])} |"
            )
    lines += lean_lines(data)
    login = results.get("login", {})
    if login:
        lines += [
            "",
            "## Login, apart",
            "",
            f"`POST /auth/login` is the password hash's cost ({env['password_hash']}): "
            f"ours {login.get('ours', {}).get('rps')} req/s (p50 "
            f"{login.get('ours', {}).get('p50_ms')} ms), the floor (one find_one and one "
            f"argon2 verification, same parameters) {login.get('floor', {}).get('rps')} req/s.",
        ]
    if "profile" in data:
        lines += [
            "",
            "## Where an authenticated GET /users/<id> spends its time (py-spy)",
            "",
            f"Flame graph: [{data['profile']['flame_graph']}]({data['profile']['flame_graph']}) "
            "(py-spy 0.4.3, 250 Hz, both workers). Samples of request handling by the part of "
            "the innermost frame that has one. py-spy cannot tell a uwsgi worker blocked in a "
            "socket read from one computing, so the MongoDB and Redis shares are mostly waiting "
            "for their answers; the variants above price each part in CPU.",
            "",
            "| part | % of samples |",
            "|---|---|",
            *(f"| {part} | {share} |" for part, share in data["profile"]["parts_percent"].items()),
        ]
    lines += ["", "## Checks", "", *(f"- {check}" for check in data["checks"])]
    lines += ["", f"![req/s per endpoint]({name}.png)", ""]
    (RESULTS / f"{name}.md").write_text("\n".join(lines))
    plot(
        PLOT_SCRIPT,
        {
            "results": results,
            "labels": data["labels"],
            "servers": servers,
            "title": f"{data['args']['users']:,} users, {env['engine']}",
        },
        RESULTS / f"{name}.png",
    )


PLOT_SCRIPT = """
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
data = json.load(open(sys.argv[1]))
cells = [c for c in data["results"] if c != "const"]
servers = data["servers"]
fig, ax = plt.subplots(figsize=(11, 6))
width = 0.8 / len(servers)
for n, server in enumerate(servers):
    values = [data["results"][c].get(server, {}).get("rps", 0) for c in cells]
    ax.barh([i + n * width for i in range(len(cells))], values, width, label=server)
ax.set_yticks([i + width * (len(servers) - 1) / 2 for i in range(len(cells))])
ax.set_yticklabels([data["labels"][c] for c in cells])
ax.invert_yaxis(); ax.set_xscale("log")
ax.set_xlabel("requests per second (median of rounds, log scale)")
ax.set_title(data["title"]); ax.grid(True, axis="x", which="both", alpha=0.3); ax.legend()
fig.tight_layout(); fig.savefig(sys.argv[2], dpi=110)
"""


def main() -> None:
    global PASSWORD, CONNECTIONS, TODOS_PER_USER, TEMPLATES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1500, help="per read cell and run")
    parser.add_argument("--list-requests", type=int, default=240, help="per list cell and run")
    parser.add_argument("--write-requests", type=int, default=800)
    parser.add_argument("--search-requests", type=int, default=160)
    parser.add_argument("--login-requests", type=int, default=48)
    parser.add_argument("--deep-steps", type=int, default=DEEP_STEPS)
    parser.add_argument(
        "--depth-requests", type=int, default=200, help="alternating page one / deep page pairs"
    )
    parser.add_argument("--connections", type=int, default=CONNECTIONS, choices=range(1, 17))
    parser.add_argument("--todos", type=int, default=TODOS_PER_USER, help="per bench user")
    parser.add_argument("--templates", type=int, default=TEMPLATES)
    parser.add_argument("--cells", help="comma-separated cell names (default: all)")
    parser.add_argument(
        "--ref", action="append", default=[], help="also run ours as of this git revision"
    )
    parser.add_argument("--ref-all-cells", action="store_true", help="the ref on every cell")
    parser.add_argument("--variants", action="store_true", help="ours without each of its costs")
    parser.add_argument("--profile", action="store_true", help="py-spy on ours, GET /users/<id>")
    parser.add_argument("--after-load", help="command run after a bulk load (e.g. ANALYZE)")
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite the report from <name>.json"
    )
    parser.add_argument("--name", default="endpoints", help="report name in bench/results")
    parser.add_argument("--engine-note", default="", help="what the report says of the server")
    parser.add_argument(
        "--ferretdb",
        action="store_true",
        help="on a throwaway FerretDB 1.24 (the test suite's), for correctness, not figures",
    )
    args = parser.parse_args()
    if args.report_only:
        write_report(json.loads((RESULTS / f"{args.name}.json").read_text()), args.name)
        return
    args.ref_names, args.ref_subjects = [], {}
    CONNECTIONS, TODOS_PER_USER, TEMPLATES = args.connections, args.todos, args.templates
    from services.seeding import SEED_PASSWORD

    PASSWORD = SEED_PASSWORD
    if args.ferretdb and not args.engine_note:
        args.engine_note = FERRETDB_NOTE
    with ExitStack() as stack:
        mongo_uri = (
            stack.enter_context(ferretdb()) if args.ferretdb else os.environ.get("MONGO_URI")
        )
        if not mongo_uri:
            sys.exit("set MONGO_URI to the MongoDB server to measure (or pass --ferretdb)")
        run(mongo_uri, args)


FERRETDB_NOTE = (
    "The test suite's FerretDB 1.24 (SQLite), for correctness only: it scans a collection for "
    "most queries, so these figures say nothing of the app; the checks below are the point."
)


@contextmanager
def ferretdb() -> Iterator[str]:
    """A throwaway FerretDB, the test suite's binary (tests/servers.py)."""
    from tests.servers import FerretDBServer, ferretdb_cache_path, find_binary

    with tempfile.TemporaryDirectory(prefix="bench-ferretdb-") as workdir:
        binary = find_binary("FERRETDB_BIN", ferretdb_cache_path(), "ferretdb")
        with FerretDBServer(binary, Path(workdir)) as server:
            yield server.uri


def run(mongo_uri: str, args) -> None:
    seeding = seed(mongo_uri, args.users, args.after_load)
    print(json.dumps(seeding), flush=True)
    if args.seed_only:
        return
    ensure_bench_venv()
    fx = load_fixture(mongo_uri)
    with tempfile.TemporaryDirectory(prefix="bench-endpoints-") as logs, ExitStack() as stack:
        running = stack.enter_context(servers(mongo_uri, args, Path(logs)))
        prepare(fx, running["ours"].port, args.deep_steps)
        cells = build_cells(fx, args)
        if args.cells:
            wanted = args.cells.split(",")
            cells = [cell for cell in cells if cell.name in wanted]
        checks = check_same_answers(cells, running)
        began = time.monotonic()
        results = measure(cells, running, args)
        data = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "minutes": round((time.monotonic() - began) / 60, 1),
            "args": {k: v for k, v in vars(args).items() if k not in ("after_load",)},
            "seeding": seeding,
            "checks": checks,
            "results": results,
            "labels": {cell.name: cell.label for cell in cells},
            "requests": {cell.name: cell.requests for cell in cells},
            "environment": environment(mongo_uri, running),
        }
        if {"user_list", "user_deep"} <= {cell.name for cell in cells}:
            data["depth"] = depth_cost(fx, running, args.depth_requests)
        if args.profile:
            data["profile"] = profile(cells, running, args)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(data, indent=1, default=str))
    write_report(data, args.name)
    print(f"wrote {RESULTS / args.name}.md")


if __name__ == "__main__":
    main()
