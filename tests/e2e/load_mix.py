"""The client mix of the proof stages (issue 14): concurrent clients run a realistic mix of
requests against a live server and write every request into a ledger, which then proves that
nothing acknowledged was lost, nothing appeared that no request asked for, no read was stale
and every 412/409 was a real conflict.

Clients come in pairs sharing one account (two logins, as a phone and a laptop would): each
client writes todos of its own, and the pair contends for one shared todo; every client contends
for a few shared "hot" templates through the API key. Every create carries a title (or name) no
other request uses, which is how the final check tells which create made which document.

An outcome is *acknowledged* (2xx, or 304 for a read), *refused* (4xx: the contract says nothing
changed) or *uncertain* (a 5xx or no response at all: the write may or may not have happened).
"""

from __future__ import annotations

import itertools
import random
import re
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymongo
import requests

from tests.e2e.helpers import create_api_key
from tests.servers import LiveServer
from tests.support import LOGIN, REFRESH, REGISTER, TEMPLATES, TODOS, USERS, bearer

ETAG = re.compile(r'^"(?P<key>[^"]+)-(?P<version>[0-9]+)"$')
# What a todo's and a template's reads and writes are compared on.
FIELDS = {"todo": ("title", "description", "done", "tags"), "template": ("name", "description")}
WRITES = ("create", "update", "delete")
PASSWORD = "load-password-1"
HOT_TEMPLATES = 2
IDEMPOTENCY_KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
# The actions of one client step, with their weights.
ACTIONS = {
    "create_todo": 12,
    "update_todo": 12,
    "read_todo": 8,
    "delete_todo": 4,
    "update_shared_todo": 8,
    "list_todos": 4,
    "search_users": 8,
    "create_template": 5,
    "read_template": 10,
    "update_hot_template": 8,
    "refresh": 4,
    "login": 2,
}


@dataclass
class Call:
    """One HTTP request of the mix and what became of it."""

    client: int
    action: str
    method: str
    url: str
    sent: float
    received: float = 0.0
    status: int | None = None  # None: no response (timeout, connection reset)
    failure: str | None = None  # the exception when there was no response
    kind: str = "other"  # create, update, delete, read or other
    rtype: str | None = None  # "todo" or "template"
    rid: str | None = None  # the todo's id or the template's templateid
    label: str | None = None  # a create's unique title or name
    body: dict | None = None  # what a write asked for
    if_match: int | None = None
    version: int | None = None  # the version the response's ETag names
    response: Any = None  # the JSON body of an answer
    key: str | None = None  # the Idempotency-Key
    scope: str | None = None  # whose the key is: the account, or "apikey"
    replayed: bool = False

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and (200 <= self.status < 300 or self.status == 304)

    @property
    def refused(self) -> bool:
        return self.status is not None and 400 <= self.status < 500

    @property
    def uncertain(self) -> bool:
        return self.status is None or self.status >= 500

    @property
    def seconds(self) -> float:
        return self.received - self.sent

    def where(self) -> str:
        return f"client {self.client} {self.method} {self.url} -> {self.status or self.failure}"


class Ledger:
    """Every call of a run, in the order they were sent (list.append is atomic)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def __len__(self) -> int:
        return len(self.calls)

    def add(self, call: Call) -> Call:
        self.calls.append(call)
        return call

    def statuses(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for call in self.calls:
            counts[str(call.status or call.failure)] += 1
        return dict(sorted(counts.items()))

    def on(self, rtype: str, rid: str) -> list[Call]:
        return [c for c in self.calls if c.rtype == rtype and c.rid == rid]


@dataclass
class Account:
    username: str
    user_id: str


@dataclass
class Client:
    """One simulated client: its session, tokens and what it believes it wrote."""

    number: int
    account: Account
    rng: random.Random
    access: str = ""
    refresh: str = ""
    todos: dict[str, int] = field(default_factory=dict)  # id -> version last acknowledged
    templates: dict[str, int] = field(default_factory=dict)
    serial: itertools.count = field(default_factory=itertools.count)

    def label(self, prefix: str) -> str:
        return f"{prefix} c{self.number} #{next(self.serial)} {uuid.uuid4().hex[:8]}"


def version_of(response: requests.Response) -> int | None:
    match = ETAG.match(response.headers.get("ETag", ""))
    return int(match["version"]) if match else None


def if_match(rid: str, version: int) -> dict[str, str]:
    return {"If-Match": f'"{rid}-{version}"'}


class Mix:
    """A run of the mix against `server`: `setup()`, then `run(steps)` (or `run_until(stop)`),
    then the checks on `ledger`, with the server's database (`database()`) for the final state.

    `timeout` bounds every request: a request without an answer by then counts as no response.
    """

    def __init__(
        self,
        server: LiveServer,
        clients: int = 16,
        timeout: float = 15.0,
        seed: int = 14,
        base_url: Callable[[int], str] | None = None,
    ) -> None:
        self.server = server
        self.client_count = clients
        self.timeout = timeout
        self.seed = seed
        self.ledger = Ledger()
        self.clients: list[Client] = []
        self.shared_todos: dict[str, str] = {}  # account username -> todo id
        self.hot_templates: list[str] = []
        self.api_key = ""
        self.base_url = base_url or (lambda _client: server.url)

    # --- setup ------------------------------------------------------------------------------
    def setup(self, directory_users: int = 200) -> None:
        """Accounts (one per pair of clients), their logins, a shared todo per pair, the hot
        templates, an API key, and users for the directory to search."""
        seeded = self.server.flask("users", "seed", "--count", str(directory_users))
        assert seeded.returncode == 0, seeded.stderr
        self.api_key = create_api_key(self.server, owner="load-mix")
        pairs = (self.client_count + 1) // 2
        accounts = [self.register(f"load{pair}{uuid.uuid4().hex[:6]}") for pair in range(pairs)]
        for number in range(self.client_count):
            client = Client(number, accounts[number // 2], random.Random(self.seed + number))
            self.login(client)
            self.clients.append(client)
        for client in self.clients[::2]:
            created = self.create_todo(client)
            assert created.status == 201, created.where()
            self.shared_todos[client.account.username] = created.rid
            del client.todos[created.rid]  # the pair's, not one client's to delete
        for _ in range(HOT_TEMPLATES):
            created = self.create_template(self.clients[0])
            assert created.status == 201, created.where()
            self.hot_templates.append(created.rid)

    def register(self, username: str) -> Account:
        body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        response = requests.post(self.server.url + REGISTER, json=body, timeout=self.timeout)
        assert response.status_code == 201, response.text
        return Account(username, response.json()["id"])

    # --- running ------------------------------------------------------------------------------
    def run(self, steps: int) -> None:
        """Every client takes `steps` steps, all clients at once."""
        self.run_until(threading.Event(), steps)

    def run_until(self, stop: threading.Event, max_steps: int) -> None:
        """Every client steps until `stop` is set (or it took `max_steps`)."""

        def client_loop(client: Client) -> None:
            for _ in range(max_steps):
                if stop.is_set():
                    return
                action = client.rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
                getattr(self, action)(client)

        with ThreadPoolExecutor(max_workers=len(self.clients)) as pool:
            for done in pool.map(client_loop, self.clients):
                assert done is None

    def call(
        self,
        client: Client,
        action: str,
        method: str,
        path: str,
        *,
        auth: str = "user",
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> tuple[Call, requests.Response | None]:
        """Send one request, record it in the ledger, and return the record and the response."""
        sent_headers = dict(headers or {})
        if auth == "user":
            sent_headers.update(bearer(client.access))
        elif auth == "apikey":
            sent_headers["X-API-KEY"] = self.api_key
        elif auth == "refresh":
            sent_headers.update(bearer(client.refresh))
        url = self.base_url(client.number) + path
        call = Call(client.number, action, method, url, time.monotonic(), **fields)
        body = call.body if method in ("POST", "PUT", "PATCH") else None
        response = None
        try:
            # No session kept: the server closes every connection anyway (uwsgi.ini).
            response = requests.request(
                method, url, json=body, headers=sent_headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            call.failure = type(exc).__name__
        call.received = time.monotonic()
        if response is not None:
            call.status = response.status_code
            call.version = version_of(response)
            call.replayed = response.headers.get(REPLAYED) == "true"
            if response.content:
                try:
                    call.response = response.json()
                except ValueError:
                    call.response = response.text
        self.ledger.add(call)
        if call.status == 401 and auth in ("user", "refresh"):
            self.login(client)  # a login the refresh rotation ended (after a lost response)
        return call, response

    # --- auth ---------------------------------------------------------------------------------
    def login(self, client: Client) -> None:
        credentials = {"username": client.account.username, "password": PASSWORD}
        for _attempt in range(20):
            call, _ = self.call(client, "login", "POST", LOGIN, auth="none", body=credentials)
            if call.status == 200:
                client.access = call.response["access_token"]
                client.refresh = call.response["refresh_token"]
                return
            time.sleep(0.5)
        raise AssertionError(f"client {client.number} could not log in: {call.where()}")

    def refresh(self, client: Client) -> None:
        call, _ = self.call(client, "refresh", "POST", REFRESH, auth="refresh")
        if call.status == 200:
            client.access = call.response["access_token"]
            client.refresh = call.response["refresh_token"]

    # --- todos --------------------------------------------------------------------------------
    def create_todo(self, client: Client) -> Call:
        """A create, half of the time with an Idempotency-Key and its retry: the retry (and any
        retry after a lost answer) must replay the first todo."""
        body = {"title": client.label("todo"), "description": "new", "tags": ["load"]}
        key = str(uuid.uuid4()) if client.rng.random() < 0.5 else None
        headers = {IDEMPOTENCY_KEY: key} if key else {}
        retries = 2 if key else 0
        for _attempt in range(retries + 1):
            call, _ = self.call(
                client,
                "create_todo",
                "POST",
                TODOS,
                headers=headers,
                kind="create",
                rtype="todo",
                label=body["title"],
                body=body,
                key=key,
                scope=client.account.username,
            )
            if call.status == 201:
                call.rid = call.response["id"]
                client.todos[call.rid] = call.version
                if key and not call.replayed:
                    continue  # the retry of a client that never saw this answer
                return call
            if not call.uncertain and call.status != 409:
                return call
        return call

    def own_todo(self, client: Client) -> str | None:
        return client.rng.choice(sorted(client.todos)) if client.todos else None

    def update_todo(self, client: Client) -> None:
        todo_id = self.own_todo(client)
        if todo_id is None:
            return
        self.write_todo(client, todo_id, client.todos[todo_id], "update_todo")

    def write_todo(self, client: Client, todo_id: str, version: int, action: str) -> Call:
        body = {"description": client.label("rev"), "done": client.rng.random() < 0.5}
        method = "PATCH"
        if client.rng.random() < 0.25:
            method = "PUT"
            body["title"] = self.title_of(todo_id)
        call, _ = self.call(
            client,
            action,
            method,
            f"{TODOS}/{todo_id}",
            headers=if_match(todo_id, version),
            kind="update",
            rtype="todo",
            rid=todo_id,
            body=body,
            if_match=version,
        )
        if call.status == 200 and todo_id in client.todos:
            client.todos[todo_id] = call.version
        return call

    def title_of(self, todo_id: str) -> str:
        for call in self.ledger.calls:
            if call.rtype == "todo" and call.rid == todo_id and call.kind == "create":
                return call.body["title"]
        raise AssertionError(f"no create for todo {todo_id}")

    def read_todo(self, client: Client) -> Call | None:
        todo_id = self.own_todo(client)
        if todo_id is None:
            return None
        return self.read(client, "todo", todo_id, f"{TODOS}/{todo_id}", "user")

    def read(self, client: Client, rtype: str, rid: str, path: str, auth: str) -> Call:
        """A GET, sometimes conditional (`If-None-Match` with the version the client knows)."""
        known = (client.todos if rtype == "todo" else client.templates).get(rid)
        headers = {}
        if known and client.rng.random() < 0.3:
            headers = {"If-None-Match": f'"{rid}-{known}"'}
        call, _ = self.call(
            client,
            f"read_{rtype}",
            "GET",
            path,
            auth=auth,
            headers=headers,
            kind="read",
            rtype=rtype,
            rid=rid,
            if_match=known if headers else None,
        )
        if call.status == 304:
            call.version = known
        return call

    def delete_todo(self, client: Client) -> None:
        todo_id = self.own_todo(client)
        if todo_id is None:
            return
        call, _ = self.call(
            client,
            "delete_todo",
            "DELETE",
            f"{TODOS}/{todo_id}",
            headers=if_match(todo_id, client.todos[todo_id]),
            kind="delete",
            rtype="todo",
            rid=todo_id,
            if_match=client.todos[todo_id],
        )
        if call.status in (204, 404):
            del client.todos[todo_id]

    def update_shared_todo(self, client: Client) -> None:
        """Read the pair's shared todo, then write it with the ETag read: the partner may have
        written in between (a real 412)."""
        todo_id = self.shared_todos[client.account.username]
        read = self.read(client, "todo", todo_id, f"{TODOS}/{todo_id}", "user")
        if read.status == 200:
            self.write_todo(client, todo_id, read.version, "update_shared_todo")

    def list_todos(self, client: Client) -> None:
        self.call(client, "list_todos", "GET", f"{TODOS}?limit=10&done=false")

    # --- the directory ------------------------------------------------------------------------
    def search_users(self, client: Client) -> None:
        """A search of 1-2 letters, then its next page."""
        q = "".join(
            client.rng.choice("abcdefghijklmnoprstw") for _ in range(client.rng.randint(1, 2))
        )
        call, _ = self.call(client, "search_users", "GET", f"{USERS}?q={q}&limit=5")
        if call.status == 200 and call.response["links"].get("next"):
            self.call(client, "search_users", "GET", call.response["links"]["next"])

    # --- templates ----------------------------------------------------------------------------
    def create_template(self, client: Client) -> Call:
        """With the API key and an Idempotency-Key, retried while the answer is in doubt."""
        body = {"name": client.label("tpl"), "description": "new", "content": "Hello {{name}}"}
        key = str(uuid.uuid4())
        for _attempt in range(3):
            call, _ = self.call(
                client,
                "create_template",
                "POST",
                TEMPLATES,
                auth="apikey",
                headers={IDEMPOTENCY_KEY: key},
                kind="create",
                rtype="template",
                label=body["name"],
                body=body,
                key=key,
                scope="apikey",
            )
            if call.status == 201:
                call.rid = call.response["templateid"]
                client.templates[call.rid] = call.version
                return call
            if not call.uncertain and call.status != 409:
                return call
        return call

    def read_template(self, client: Client) -> None:
        choices = sorted(client.templates) + self.hot_templates
        templateid = client.rng.choice(choices)
        self.read(client, "template", templateid, f"{TEMPLATES}/{templateid}", "apikey")

    def update_hot_template(self, client: Client) -> None:
        templateid = client.rng.choice(self.hot_templates)
        read = self.read(client, "template", templateid, f"{TEMPLATES}/{templateid}", "apikey")
        if read.status != 200:
            return
        body = {"description": client.label("rev")}
        self.call(
            client,
            "update_hot_template",
            "PATCH",
            f"{TEMPLATES}/{templateid}",
            auth="apikey",
            headers=if_match(templateid, read.version),
            kind="update",
            rtype="template",
            rid=templateid,
            body=body,
            if_match=read.version,
        )

    # --- the final state ----------------------------------------------------------------------
    def database(self) -> pymongo.MongoClient:
        return pymongo.MongoClient(self.server.env["MONGO_URI"], serverSelectionTimeoutMS=10_000)

    def stored(self) -> dict[str, list[dict]]:
        """The todos of the mix's accounts and the templates of its API key, from MongoDB."""
        owners = {client.account.user_id for client in self.clients}
        with self.database() as client:
            db = client.get_default_database()
            todos = [
                {**todo, "id": str(todo["_id"])}
                for todo in db.todos.find()
                if str(todo["owner_id"]) in owners
            ]
            # The catalog is shared: the mix's templates are those its own API key created.
            key_id = self.api_key.split("_")[1]
            templates = [
                {**t, "id": t["templateid"]}
                for t in db.templates.find({"created_by.type": "api_key", "created_by.id": key_id})
            ]
        return {"todo": todos, "template": templates}


# --- the checks -----------------------------------------------------------------------------
def error_shape_problems(calls: Iterable[Call]) -> list[str]:
    """Every 4xx/5xx answer in the one error shape."""
    problems = []
    for call in calls:
        if call.status is None or call.status < 400:
            continue
        error = call.response.get("error") if isinstance(call.response, dict) else None
        if not (isinstance(error, dict) and isinstance(error.get("code"), str)):
            problems.append(f"not the error shape: {call.where()}: {call.response!r}")
    return problems


def same_fields(rtype: str, left: dict, right: dict, only: Iterable[str] | None = None) -> bool:
    names = [name for name in FIELDS[rtype] if only is None or name in only]
    return all(left.get(name) == right.get(name) for name in names)


def conflict_problems(ledger: Ledger) -> list[str]:
    """Every 412 and 409 explained by another request:

    - a 412 for `If-Match: v` needs another write on the same object, sent before the 412 was
      received, that acknowledged a version above v or deleted it, or whose outcome is unknown;
    - a 409 `request_in_progress` needs another request with the same Idempotency-Key (same
      caller) in flight at the same time (or sent before it, its outcome unknown);
    - a 409 `conflict` (a write lock held too long) needs another write on the same object in
      flight at the same time.
    """
    problems = []
    for call in ledger.calls:
        if call.status == 412:
            others = [
                other
                for other in ledger.on(call.rtype, call.rid)
                if other is not call
                and other.kind in ("update", "delete")
                and other.sent < call.received
                and (
                    other.uncertain
                    or (other.acknowledged and other.kind == "delete")
                    or (other.acknowledged and (other.version or 0) > call.if_match)
                )
            ]
            if not others:
                problems.append(f"412 without a conflicting write: {call.where()}")
        elif call.status == 409:
            code = call.response["error"]["code"]
            if code == "request_in_progress":
                others = [
                    other
                    for other in ledger.calls
                    if other is not call
                    and other.key == call.key
                    and other.scope == call.scope
                    and other.sent < call.received
                    and (other.uncertain or other.received > call.sent)
                ]
            else:
                others = [
                    other
                    for other in ledger.on(call.rtype, call.rid)
                    if other is not call
                    and other.kind in WRITES
                    and other.sent < call.received
                    and (other.uncertain or other.received > call.sent)
                ]
            if not others:
                problems.append(f"409 {code} without a concurrent request: {call.where()}")
    return problems


def replay_problems(ledger: Ledger) -> list[str]:
    """One Idempotency-Key, one object: every acknowledged create sent with a key names the same
    object, and all but the first say `Idempotent-Replayed`."""
    by_key: dict[tuple[str, str], list[Call]] = defaultdict(list)
    for call in ledger.calls:
        if call.kind == "create" and call.key and call.acknowledged:
            by_key[(call.scope, call.key)].append(call)
    problems = []
    for calls in by_key.values():
        if len({c.rid for c in calls}) != 1 or sum(not c.replayed for c in calls) != 1:
            problems.append(f"one key, several objects: {[c.where() for c in calls]}")
    return problems


def read_problems(ledger: Ledger) -> list[str]:
    """No stale read and no invented one: a read answers at least the newest version
    acknowledged before it was sent, at most one some write could have made by the time it was
    answered, and, at a version a write acknowledged, that write's fields."""
    problems = []
    by_object: dict[tuple[str, str], list[Call]] = defaultdict(list)
    for call in ledger.calls:
        if call.rtype and call.rid:
            by_object[(call.rtype, call.rid)].append(call)
    for (rtype, _rid), calls in by_object.items():
        # A replayed create made nothing: the version it names is its first answer's.
        writes = [c for c in calls if c.kind in WRITES and not c.refused and not c.replayed]
        acked_bodies = {c.version: c.response for c in writes if c.acknowledged and c.version}
        for read in calls:
            if read.kind != "read" or not read.acknowledged:
                if read.kind == "read" and read.status == 404:
                    deleted = [w for w in writes if w.kind == "delete" and w.sent < read.received]
                    if not deleted:
                        problems.append(f"404 for an object never deleted: {read.where()}")
                continue
            newest = max(
                (w.version or 0 for w in writes if w.acknowledged and w.received < read.sent),
                default=0,
            )
            possible = sum(1 for w in writes if w.kind != "delete" and w.sent < read.received)
            if read.version is None or read.version < newest:
                problems.append(f"stale read (v{read.version} < v{newest}): {read.where()}")
            elif read.version > possible:
                problems.append(f"read of a version no write made: {read.where()}")
            elif (
                read.status == 200
                and read.version in acked_bodies
                and not same_fields(rtype, read.response, acked_bodies[read.version])
            ):
                problems.append(f"read differs from its acknowledged write: {read.where()}")
    return problems


def final_state_problems(ledger: Ledger, stored: dict[str, list[dict]]) -> list[str]:
    """Nothing lost, nothing invented, in what MongoDB holds after the run:

    - every document was asked for by a create (its unique title or name), by one that was not
      refused, and no create made two documents (idempotent retries replay);
    - every object an acknowledged create made is there unless a delete of it was acknowledged,
      or was sent and its outcome is unknown;
    - each one holds the fields of its last acknowledged write, or, at a later version, those of
      a write whose outcome is unknown.
    """
    problems = []
    for rtype, documents in stored.items():
        label_field = FIELDS[rtype][0]
        creates = [c for c in ledger.calls if c.rtype == rtype and c.kind == "create"]
        by_label: dict[str, list[Call]] = defaultdict(list)
        for create in creates:
            by_label[create.label].append(create)
        seen_labels: dict[str, str] = {}
        present = {doc["id"]: doc for doc in documents}
        for doc in documents:
            label = doc[label_field]
            asked = [c for c in by_label.get(label, []) if not c.refused]
            # A PUT rewrites the title with the same value: the create still names the todo.
            if not asked:
                problems.append(f"{rtype} {doc['id']} ({label!r}) was created by no request")
            if label in seen_labels:
                problems.append(
                    f"{rtype} {label!r} exists twice: {seen_labels[label]}, {doc['id']}"
                )
            seen_labels[label] = doc["id"]
        made = {c.rid for c in creates if c.acknowledged}
        for rid in made:
            calls = ledger.on(rtype, rid)
            deletes = [c for c in calls if c.kind == "delete" and not c.refused]
            if any(c.acknowledged for c in deletes):
                if rid in present:
                    problems.append(f"{rtype} {rid} is back after an acknowledged delete")
                continue
            if rid not in present:
                if not deletes:
                    problems.append(f"{rtype} {rid} was lost (acknowledged, never deleted)")
                continue
            problems.extend(latest_value_problems(rtype, present[rid], calls))
    return problems


def latest_value_problems(rtype: str, doc: dict, calls: list[Call]) -> list[str]:
    writes = [c for c in calls if c.kind in ("create", "update") and not c.refused]
    acked = [c for c in writes if c.acknowledged and c.version]
    last = max(acked, key=lambda c: c.version)
    if doc["version"] == last.version:
        if not same_fields(rtype, doc, last.response):
            return [
                f"{rtype} {doc['id']} does not hold its last acknowledged write v{last.version}"
            ]
        return []
    doubtful = [c for c in writes if c.uncertain]
    if doc["version"] < last.version:
        return [f"{rtype} {doc['id']} is at v{doc['version']}, below acknowledged v{last.version}"]
    if doc["version"] - last.version > len(doubtful) or not any(
        same_fields(rtype, doc, c.body, only=c.body) for c in doubtful
    ):
        return [f"{rtype} {doc['id']} at v{doc['version']} holds a write no request explains"]
    return []


def all_problems(mix: Mix) -> list[str]:
    return (
        error_shape_problems(mix.ledger.calls)
        + conflict_problems(mix.ledger)
        + replay_problems(mix.ledger)
        + read_problems(mix.ledger)
        + final_state_problems(mix.ledger, mix.stored())
    )


# --- the workers' memory ----------------------------------------------------------------------
def rss_kib(pid: int) -> int:
    """A process's resident set size (VmRSS), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")
