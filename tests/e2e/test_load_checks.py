"""The ledger checks of the proof stages (tests/e2e/load_mix.py) catch what they claim to: on
hand-made ledgers, a lost write, a document no request asked for, a duplicate create, an old
value, a stale read and a 412 or 409 no other request explains are each reported, and a clean
history is not. (No server: these prove the load, fault and two-instance stages can fail.)"""

from __future__ import annotations

import itertools

import pytest

from tests.e2e.load_mix import (
    Call,
    Ledger,
    conflict_problems,
    final_state_problems,
    read_problems,
    replay_problems,
)

pytestmark = pytest.mark.proof

TODO_ID = "a" * 24
clock = itertools.count(1)


def call(kind: str, status: int | None, version: int | None = None, **fields) -> Call:
    """A call on the todo TODO_ID, sent and answered one tick after the previous one."""
    sent = float(next(clock))
    made = Call(0, kind, "X", "/todos", sent, sent + 0.5, status, None, kind, "todo", TODO_ID)
    made.version = version
    for name, value in fields.items():
        setattr(made, name, value)
    return made


def todo(version: int, description: str) -> dict:
    return {
        "title": "t1",
        "description": description,
        "done": False,
        "tags": [],
        "version": version,
        "id": TODO_ID,
    }


def created(**fields) -> Call:
    body = {"title": "t1", "description": "new", "done": False, "tags": []}
    fields.setdefault("response", body)
    return call("create", 201, 1, label="t1", body=body, **fields)


def updated(version: int, description: str, status: int | None = 200, **fields) -> Call:
    fields.setdefault("response", todo(version, description) if status == 200 else None)
    return call("update", status, version, body={"description": description}, **fields)


def ledger(*calls: Call) -> Ledger:
    history = Ledger()
    for one in calls:
        history.add(one)
    return history


def test_a_clean_history_has_no_problems():
    history = ledger(created(), updated(2, "v2"), call("read", 200, 2, response=todo(2, "v2")))
    assert final_state_problems(history, {"todo": [todo(2, "v2")]}) == []
    assert read_problems(history) == []


def test_a_lost_acknowledged_write_is_reported():
    history = ledger(created(), updated(2, "v2"))
    assert final_state_problems(history, {"todo": []}) == [
        f"todo {TODO_ID} was lost (acknowledged, never deleted)"
    ]
    assert final_state_problems(history, {"todo": [todo(1, "new")]}) == [
        f"todo {TODO_ID} is at v1, below acknowledged v2"
    ]
    assert "does not hold" in final_state_problems(history, {"todo": [todo(2, "other")]})[0]


def test_a_write_whose_answer_was_lost_may_or_may_not_have_happened():
    history = ledger(created(), updated(None, "v2", status=None))
    assert final_state_problems(history, {"todo": [todo(1, "new")]}) == []
    assert final_state_problems(history, {"todo": [todo(2, "v2")]}) == []
    assert "no request explains" in final_state_problems(history, {"todo": [todo(2, "v9")]})[0]


def test_documents_no_request_asked_for_or_made_twice_are_reported():
    history = ledger(created(), call("create", 422, label="refused", body={"title": "refused"}))
    invented = {**todo(1, "new"), "id": "b" * 24, "title": "refused"}
    twice = {**todo(1, "new"), "id": "c" * 24}
    problems = final_state_problems(history, {"todo": [todo(1, "new"), invented, twice]})
    assert any("created by no request" in problem for problem in problems)
    assert any("exists twice" in problem for problem in problems)


def test_stale_and_invented_reads_are_reported():
    stale = ledger(created(), updated(2, "v2"), call("read", 200, 1, response=todo(1, "new")))
    assert "stale read" in read_problems(stale)[0]
    invented = ledger(created(), call("read", 200, 2, response=todo(2, "v2")))
    assert "no write made" in read_problems(invented)[0]
    different = ledger(created(), updated(2, "v2"), call("read", 200, 2, response=todo(2, "x")))
    assert "differs" in read_problems(different)[0]


def test_a_412_or_409_without_a_conflicting_request_is_reported():
    refused = {"error": {"code": "precondition_failed", "message": "-"}}
    explained = ledger(
        created(), updated(2, "v2"), updated(None, "v3", status=412, if_match=1, response=refused)
    )
    assert conflict_problems(explained) == []
    unexplained = ledger(created(), updated(None, "v3", status=412, if_match=1, response=refused))
    assert "412 without" in conflict_problems(unexplained)[0]
    busy = {"error": {"code": "request_in_progress", "message": "-"}}
    alone = ledger(created(key="k", scope="u"), created(key="k2", scope="u", response=busy))
    alone.calls[-1].status = 409
    assert "409 request_in_progress without" in conflict_problems(alone)[0]


def test_one_key_that_made_two_objects_is_reported():
    first, second = created(key="k", scope="u"), created(key="k", scope="u")
    second.rid = "d" * 24
    assert "one key, several objects" in replay_problems(ledger(first, second))[0]
    second.rid, second.replayed = TODO_ID, True
    assert replay_problems(ledger(first, second)) == []
