"""Deleting an account while its owner's other requests are still running, under uwsgi with two
workers: nothing of the account survives, whichever way the requests interleave."""

from __future__ import annotations

import threading

import pymongo
import requests
from bson import ObjectId

from tests.e2e.helpers import API, bearer, login, register

ROUNDS = 12


def create_todos_until_refused(url: str, headers: dict[str, str], started: threading.Event) -> None:
    """POST todos back to back until the account's deletion stops them."""
    while True:
        response = requests.post(url, json={"title": "racing"}, headers=headers, timeout=15)
        started.set()
        if response.status_code != 201:
            return


def test_todos_created_while_the_account_is_deleted_do_not_survive_it(live_server, http):
    with pymongo.MongoClient(live_server.env["MONGO_URI"], serverSelectionTimeoutMS=3000) as client:
        todos = client.get_default_database().todos
        for _round in range(ROUNDS):
            account = register(http, live_server)
            headers = bearer(login(http, live_server, account)["access_token"])
            started = threading.Event()
            writers = [
                threading.Thread(
                    target=create_todos_until_refused,
                    args=(f"{live_server.url}{API}/todos", headers, started),
                )
                for _ in range(2)
            ]
            for writer in writers:
                writer.start()
            assert started.wait(timeout=15)
            deleted = http.delete(f"{live_server.url}{API}/users/{account['id']}", headers=headers)
            for writer in writers:
                writer.join(timeout=30)
            assert deleted.status_code == 204
            assert todos.count_documents({"owner_id": ObjectId(account["id"])}) == 0
