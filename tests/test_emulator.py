"""Tests of the Rocketlane emulator, the HTTP test double used by the tap's tests."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from rocketlane_emulator import ID_KEYS, Emulator, Faults, Scale
from rocketlane_emulator.data import END_MS, START_MS
from rocketlane_emulator.faults import FaultState
from rocketlane_emulator.workspace import generate

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO_ROOT = Path(__file__).resolve().parents[1]
KEY = "test-key"
UNAUTHORIZED = {
    "errors": [
        {"errorCode": "NOT_AUTHORIZED", "errorMessage": "Not Authorized: User not authorized"}
    ]
}
BAD_TOKEN = {
    "errors": [
        {
            "errorCode": "BAD_REQUEST",
            "errorMessage": "pageToken is invalid or has expired",
            "field": "pageToken",
        }
    ]
}
RATE_LIMITED = {
    "errors": [{"errorCode": "RATE_LIMIT_EXCEEDED", "errorMessage": "Rate limit exceeded"}]
}
TASK_DEFAULT_KEYS = {
    "taskId", "taskName", "taskDescription", "startDate", "dueDate", "archived",
    "effortInMinutes", "progress", "atRisk", "createdAt", "updatedAt", "createdBy", "updatedBy",
    "project", "status", "private",
}  # fmt: skip
EVERY_JSON_TYPE = {"str", "int", "float", "bool", "list[int]", "list[str]", "dict", "NoneType"}


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    """Shared emulator at default scale; tests using it must not change data or faults."""
    with Emulator(seed=1, scale=Scale.default(), api_key=KEY) as emulator:
        yield emulator


@pytest.fixture
def fresh() -> Iterator[Emulator]:
    """A private small emulator for tests that change data or faults."""
    with Emulator(seed=3, scale=Scale.small(), api_key=KEY) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["api-key"] = KEY
        yield session


@pytest.fixture(scope="module")
def truth(emu: Emulator) -> dict[str, list[dict[str, Any]]]:
    return {name: emu.truth(name) for name in ID_KEYS}


def get(
    session: requests.Session, emulator: Emulator, resource: str, **params: Any
) -> requests.Response:
    return session.get(f"{emulator.base_url}/{resource}", params=params, timeout=10)


def fetch_all(
    session: requests.Session, emulator: Emulator, resource: str, **params: Any
) -> list[dict[str, Any]]:
    """Follow nextPageToken to the end, checking the pagination envelope on the way."""
    records: list[dict[str, Any]] = []
    response = get(session, emulator, resource, **params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        records.extend(body["data"])
        pagination = body["pagination"]
        if not pagination["hasMore"]:
            assert "nextPageToken" not in pagination
            assert "nextPage" not in pagination
            return records
        token = pagination["nextPageToken"]
        assert f"pageToken={token}" in pagination["nextPage"]
        response = get(session, emulator, resource, pageToken=token)


def ids_of(resource: str, records: list[dict[str, Any]]) -> list[int]:
    return [r[ID_KEYS[resource]] for r in records]


def error_field(response: requests.Response) -> str:
    field: str = response.json()["errors"][0]["field"]
    return field


# ------------------------------------------------------------------ pagination
def test_paginates_all_tasks_in_id_order(
    emu: Emulator, http: requests.Session, truth: dict[str, list[dict[str, Any]]]
) -> None:
    expected = [r["taskId"] for r in truth["tasks"] if not r["archived"]]
    first = get(http, emu, "tasks", pageSize=100).json()["pagination"]
    assert first == {
        "pageSize": 100,
        "hasMore": True,
        "totalRecordCount": len(expected),
        "nextPageToken": first["nextPageToken"],
        "nextPage": first["nextPage"],
    }
    assert ids_of("tasks", fetch_all(http, emu, "tasks", pageSize=100)) == sorted(expected)
    assert len(expected) > 100


def test_next_page_url_is_directly_usable(emu: Emulator, http: requests.Session) -> None:
    body = get(http, emu, "users", pageSize=10).json()
    follow = http.get(body["pagination"]["nextPage"], timeout=10).json()
    assert follow["data"][0]["userId"] > body["data"][-1]["userId"]
    assert follow["pagination"]["pageSize"] == 10


def test_page_size_default_and_cap(emu: Emulator, http: requests.Session) -> None:
    for params in ({}, {"pageSize": 500}, {"pageSize": ""}):
        body = get(http, emu, "tasks", **params).json()
        assert len(body["data"]) == 100
        assert body["pagination"]["pageSize"] == 100


@pytest.mark.parametrize("size", ["0", "-1", "abc", "1.5"])
def test_invalid_page_size(emu: Emulator, http: requests.Session, size: str) -> None:
    response = get(http, emu, "tasks", pageSize=size)
    assert response.status_code == 400
    assert error_field(response) == "pageSize"


def test_token_reuse_returns_same_page(emu: Emulator, http: requests.Session) -> None:
    token = get(http, emu, "time-entries", pageSize=50).json()["pagination"]["nextPageToken"]
    first, second = (get(http, emu, "time-entries", pageToken=token).json() for _ in range(2))
    assert first == second
    assert len(first["data"]) == 50


def test_token_keeps_original_query(emu: Emulator, http: requests.Session) -> None:
    body = get(http, emu, "tasks", pageSize=5, includeFields="phase").json()
    token = body["pagination"]["nextPageToken"]
    # Parameters sent alongside a token are ignored, except pageSize.
    page = get(
        http, emu, "tasks", pageToken=token, includeFields="parent", **{"includeArchive.eq": "true"}
    ).json()
    phases = {t["taskId"]: t.get("phase") for t in emu.truth("tasks")}
    # Live, a task without a phase leaves the key out rather than sending null.
    assert all(r.get("phase") == phases[r["taskId"]] for r in page["data"])
    assert any("phase" in r for r in page["data"])
    assert not any("parent" in r for r in page["data"])
    assert page["pagination"]["totalRecordCount"] == body["pagination"]["totalRecordCount"]
    assert len(get(http, emu, "tasks", pageToken=token, pageSize=2).json()["data"]) == 2


def test_token_expiry_and_unknown_token(fresh: Emulator, http: requests.Session) -> None:
    fresh.faults.token_ttl_s = 0.2
    token = get(http, fresh, "tasks", pageSize=5).json()["pagination"]["nextPageToken"]
    assert get(http, fresh, "tasks", pageToken=token).status_code == 200
    time.sleep(0.3)
    response = get(http, fresh, "tasks", pageToken=token)
    assert response.status_code == 400
    assert response.json() == BAD_TOKEN
    assert get(http, fresh, "tasks", pageToken="not-a-token").json() == BAD_TOKEN


def test_token_of_other_resource_is_rejected(emu: Emulator, http: requests.Session) -> None:
    token = get(http, emu, "tasks", pageSize=5).json()["pagination"]["nextPageToken"]
    assert get(http, emu, "users", pageToken=token).status_code == 400


# -------------------------------------------------------- project-scoped lists
@pytest.mark.parametrize("resource", ["spaces", "phases", "space-documents"])
def test_project_id_required(emu: Emulator, http: requests.Session, resource: str) -> None:
    for params in ({}, {"projectId": "abc"}):
        response = get(http, emu, resource, **params)
        assert response.status_code == 400
        assert error_field(response) == "projectId"
    missing = get(http, emu, resource, projectId=123)
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["errorCode"] == "NOT_FOUND"


def test_children_per_project(
    emu: Emulator, http: requests.Session, truth: dict[str, list[dict[str, Any]]]
) -> None:
    counts = {}
    for pid in sorted(emu.ids("projects")):
        phases = fetch_all(http, emu, "phases", projectId=pid)
        assert all(p["project"]["projectId"] == pid for p in phases)
        spaces = fetch_all(http, emu, "spaces", projectId=pid)
        docs = fetch_all(http, emu, "space-documents", projectId=pid)
        assert {d["space"]["spaceId"] for d in docs} <= {s["spaceId"] for s in spaces}
        assert all(emu.project_of("space-documents", d["spaceDocumentId"]) == pid for d in docs)
        counts[pid] = (len(phases), len(spaces), len(docs))
    assert (0, 0, 0) in counts.values()
    assert any(min(c) > 100 for c in counts.values())
    for k, resource in enumerate(("phases", "spaces", "space-documents")):
        assert sum(c[k] for c in counts.values()) == len(truth[resource])


def test_empty_project_page(
    emu: Emulator, http: requests.Session, truth: dict[str, list[dict[str, Any]]]
) -> None:
    with_phases = {p["project"]["projectId"] for p in truth["phases"]}
    empty = next(pid for pid in emu.ids("projects") if pid not in with_phases)
    body = get(http, emu, "spaces", projectId=empty).json()
    assert body == {
        "data": [],
        "pagination": {"pageSize": 100, "hasMore": False, "totalRecordCount": 0},
    }


# -------------------------------------------------------------- auth & errors
def test_auth_errors(emu: Emulator) -> None:
    for headers in ({}, {"api-key": "wrong"}):
        response = requests.get(f"{emu.base_url}/tasks", headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED


def test_headers_and_unknown_paths(emu: Emulator, http: requests.Session) -> None:
    responses = [
        http.get(f"{emu.base_url}/nope", timeout=10),
        http.get(f"{emu.base_url}/tasks/1", timeout=10),
        http.post(f"{emu.base_url}/tasks", json={"taskName": "x"}, timeout=10),
        get(http, emu, "users"),
        get(http, emu, "users"),
    ]
    assert [r.status_code for r in responses] == [404, 404, 405, 200, 200]
    assert responses[0].json()["errors"][0]["errorCode"] == "NOT_FOUND"
    assert all(r.headers["Content-Type"] == "application/json" for r in responses)
    assert len({r.headers["X-Request-Id"] for r in responses}) == len(responses)


def test_timestamp_filter_validation(emu: Emulator, http: requests.Session) -> None:
    response = get(http, emu, "tasks", **{"updatedAt.gt": "yesterday"})
    assert response.status_code == 400
    assert error_field(response) == "updatedAt.gt"


# ------------------------------------------------------------ hidden records
HIDDEN_CASES = [
    ("tasks", "includeArchive.eq", "archived"),
    ("projects", "includeArchive.eq", "archived"),
    ("time-entries", "includeDeleted.eq", "deleted"),
]


@pytest.mark.parametrize("case", HIDDEN_CASES, ids=[c[0] for c in HIDDEN_CASES])
def test_hidden_records(
    emu: Emulator,
    http: requests.Session,
    truth: dict[str, list[dict[str, Any]]],
    case: tuple[str, str, str],
) -> None:
    resource, param, flag = case
    records = truth[resource]
    assert 0 < sum(r[flag] for r in records) < len(records)
    default = fetch_all(http, emu, resource)
    assert ids_of(resource, default) == ids_of(resource, [r for r in records if not r[flag]])
    everything = fetch_all(http, emu, resource, **{param: "true"})
    assert ids_of(resource, everything) == ids_of(resource, records)
    # The flag is returned when hidden records are requested, so they can be told apart.
    assert [r[flag] for r in everything] == [r[flag] for r in records]


def test_project_filter(
    emu: Emulator, http: requests.Session, truth: dict[str, list[dict[str, Any]]]
) -> None:
    pid = min(e["project"]["projectId"] for e in truth["time-entries"])  # one with time logged
    for resource in ("tasks", "time-entries"):
        got = fetch_all(http, emu, resource, **{"projectId.eq": pid})
        assert got
        assert all(r["project"]["projectId"] == pid for r in got)


# --------------------------------------------------------------- field shapes
def first(emu: Emulator, http: requests.Session, resource: str, **params: Any) -> dict[str, Any]:
    record: dict[str, Any] = get(http, emu, resource, pageSize=1, **params).json()["data"][0]
    return record


def test_task_include_fields(
    emu: Emulator, http: requests.Session, truth: dict[str, list[dict[str, Any]]]
) -> None:
    # The live API leaves null properties out: the first task's own (its description may be).
    sent = set(truth["tasks"][0])
    assert len(TASK_DEFAULT_KEYS - sent) <= 2
    assert set(first(emu, http, "tasks")) == TASK_DEFAULT_KEYS & sent
    some = first(emu, http, "tasks", includeFields="phase,financialsBudget,bogus")
    assert set(some) == (TASK_DEFAULT_KEYS | {"phase", "financialsBudgets"}) & sent
    everything = first(emu, http, "tasks", includeAllFields="true")
    assert set(everything) == set(truth["tasks"][0])
    assert "fields" in everything


def test_project_include_fields(emu: Emulator, http: requests.Session) -> None:
    project = first(emu, http, "projects")
    assert "metrics" not in project["financials"]
    assert "fields" not in project
    assert "currentPhases" not in project
    project = first(emu, http, "projects", includeFields="metrics,currentPhase")
    assert "metrics" in project["financials"]
    assert "currentPhases" in project


def test_time_entry_and_field_include_fields(emu: Emulator, http: requests.Session) -> None:
    entry = first(emu, http, "time-entries")
    assert "fields" in entry  # no includeAllFields on this endpoint: custom fields by default
    assert "notes" not in entry
    assert "deleted" not in entry
    page = get(http, emu, "time-entries", includeFields="notes,costRate").json()["data"]
    assert set(page[0]) - {"notes", "costRate"} == set(entry)
    assert any({"notes", "costRate"} <= set(r) for r in page)
    # Live, a field without options leaves fieldOptions out: look at the whole page.
    assert any(
        "fieldOptions" in r
        for r in get(http, emu, "fields", includeFields="options").json()["data"]
    )
    assert not any("fieldOptions" in r for r in get(http, emu, "fields").json()["data"])


@pytest.mark.parametrize("resource", ["tasks", "users", "projects", "fields", "time-offs"])
def test_include_all_fields_matches_truth(
    emu: Emulator, http: requests.Session, truth: dict[str, list[dict[str, Any]]], resource: str
) -> None:
    params = {"includeAllFields": "true", "includeArchive.eq": "true"}
    assert fetch_all(http, emu, resource, **params) == truth[resource]


# -------------------------------------------------------------- incremental
def test_updated_at_boundaries(
    emu: Emulator, http: requests.Session, truth: dict[str, list[dict[str, Any]]]
) -> None:
    tasks = truth["tasks"]
    top = max(r["updatedAt"] for r in tasks)
    at_top = {r["taskId"] for r in tasks if r["updatedAt"] == top}
    assert len(at_top) >= 2  # several records share the maximum millisecond
    every = {"includeArchive.eq": "true"}
    ge = fetch_all(http, emu, "tasks", **{"updatedAt.ge": top}, **every)
    assert set(ids_of("tasks", ge)) == at_top
    assert fetch_all(http, emu, "tasks", **{"updatedAt.gt": top}, **every) == []
    mid = sorted(r["updatedAt"] for r in tasks)[len(tasks) // 2]
    window = fetch_all(http, emu, "tasks", **{"updatedAt.gt": mid, "updatedAt.le": top}, **every)
    assert set(ids_of("tasks", window)) == {r["taskId"] for r in tasks if r["updatedAt"] > mid}


def test_touch(fresh: Emulator, http: requests.Session) -> None:
    before = {r["taskId"]: r for r in fresh.truth("tasks")}
    top = max(r["updatedAt"] for r in before.values())
    task_id = next(tid for tid, r in before.items() if not r["archived"])
    touched = fresh.touch("tasks", task_id)
    assert touched["updatedAt"] > before[task_id]["updatedAt"]
    assert touched["taskDescription"] != before[task_id]["taskDescription"]
    touched["taskName"] = "changing the copy does not change the emulator"
    assert fresh.truth("tasks") != list(before.values())
    changed = fetch_all(http, fresh, "tasks", **{"updatedAt.gt": top})
    assert ids_of("tasks", changed) == [task_id]
    assert changed[0]["taskName"] == before[task_id]["taskName"]
    assert fresh.touch("tasks", task_id)["updatedAt"] > touched["updatedAt"]


def test_touch_child_record(fresh: Emulator) -> None:
    phase = fresh.truth("phases")[0]
    touched = fresh.touch("phases", phase["phaseId"])
    assert touched["updatedAt"] > phase["updatedAt"]
    assert fresh.project_of("phases", phase["phaseId"]) == phase["project"]["projectId"]


# ------------------------------------------------------------------- faults
def test_rate_limit(fresh: Emulator, http: requests.Session) -> None:
    fresh.faults.rate_limit = (3, 30.0)  # a long window cannot expire on a slow machine
    assert [get(http, fresh, "users").status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = get(http, fresh, "users")
    assert limited.json() == RATE_LIMITED
    assert "X-Request-Id" in limited.headers
    retry_at_ms = int(limited.headers["X-Retry-After"])
    assert time.time() * 1000 < retry_at_ms <= (time.time() + 30.1) * 1000

    fresh.faults.retry_after_style = "retry-after-seconds"
    assert 1 <= int(get(http, fresh, "users").headers["Retry-After"]) <= 30
    fresh.faults.retry_after_style = "retry-after-date"
    when = parsedate_to_datetime(get(http, fresh, "users").headers["Retry-After"]).timestamp()
    assert time.time() < when <= time.time() + 31
    unauthenticated = requests.get(f"{fresh.base_url}/users", headers={"api-key": "x"}, timeout=10)
    assert unauthenticated.status_code == 401
    assert [e.fault for e in fresh.request_log].count("rate_limit") == 4

    # The window slides: once accepted requests are older than W, requests pass again.
    fresh.faults.rate_limit = (3, 0.3)
    time.sleep(0.35)
    assert get(http, fresh, "users").status_code == 200


class FakeClock:
    """The emulator's clock, moved by hand (epoch seconds)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_sliding_window_frees_one_slot_per_request_that_leaves_it() -> None:
    clock = FakeClock(1_000_010.0)
    state = FaultState(0, clock)
    for _ in range(3):  # at 10, 20 and 30 s past the minute
        assert state.admit(KEY, (3, 60.0), "sliding") is None
        clock.now += 10
    assert state.admit(KEY, (3, 60.0), "sliding") == 1_000_070.0  # the first one's expiry
    clock.now = 1_000_070.0
    assert state.admit(KEY, (3, 60.0), "sliding") is None
    assert state.admit(KEY, (3, 60.0), "sliding") == 1_000_080.0  # one slot, not three


def test_fixed_window_returns_the_whole_allowance_at_the_next_clock_minute() -> None:
    minute = 16_667 * 60.0
    clock = FakeClock(minute + 50)
    state = FaultState(0, clock)
    for _ in range(3):  # the end of one clock minute
        assert state.admit(KEY, (3, 60.0), "fixed") is None
    assert state.admit(KEY, (3, 60.0), "fixed") == minute + 60
    clock.now = minute + 60  # the next: a full allowance at once, 10 s after the first three
    assert [state.admit(KEY, (3, 60.0), "fixed") for _ in range(4)] == [None] * 3 + [minute + 120]
    clock.now = minute + 200
    assert state.admit(KEY, (3, 60.0), "fixed") is None
    with pytest.raises(ValueError, match="rate window"):
        state.admit(KEY, (3, 60.0), "hourly")


def test_fixed_window_429_names_the_next_clock_minute(
    fresh: Emulator, http: requests.Session
) -> None:
    fresh.faults = Faults(rate_limit=(2, 60.0), rate_window="fixed")
    time.sleep(max(0.0, 2 - (60 - time.time() % 60)))  # not across a minute's end
    assert [get(http, fresh, "users").status_code for _ in range(3)] == [200, 200, 429]
    limited = get(http, fresh, "users")
    assert limited.json() == RATE_LIMITED
    retry_at_ms = int(limited.headers["X-Retry-After"])
    assert retry_at_ms % 60_000 == 0
    assert time.time() * 1000 < retry_at_ms <= (time.time() + 60) * 1000
    fresh.faults = Faults(rate_limit=(2, 60.0), rate_window="fixed")  # new faults, new windows
    assert get(http, fresh, "users").status_code == 200


def test_error_rate(fresh: Emulator, http: requests.Session) -> None:
    fresh.faults.error_rate = 1.0
    for _ in range(8):
        response = get(http, fresh, "tasks")
        assert response.status_code in {500, 502, 503, 504}
        assert response.json()["errors"][0]["errorCode"]
    fresh.faults.error_rate = 0.0
    assert get(http, fresh, "tasks").status_code == 200


def test_truncate_rate(fresh: Emulator, http: requests.Session) -> None:
    fresh.faults.truncate_rate = 1.0
    for _ in range(5):
        response = get(http, fresh, "tasks")
        assert response.status_code == 200
        assert len(response.content) == int(response.headers["Content-Length"])
        # A cut may split a multi-byte character, so decoding can fail before parsing.
        with pytest.raises((json.JSONDecodeError, UnicodeDecodeError)):
            json.loads(response.content)
        with pytest.raises(requests.JSONDecodeError):
            response.json()
    fresh.faults.truncate_rate = 0.0
    assert get(http, fresh, "tasks").json()["data"]  # the kept-alive connection still works


def test_latency(fresh: Emulator, http: requests.Session) -> None:
    fresh.faults.latency_s = 0.2
    started = time.perf_counter()
    get(http, fresh, "fields")
    assert time.perf_counter() - started >= 0.2


def test_vanish_projects(fresh: Emulator, http: requests.Session) -> None:
    victim = min(fresh.ids("projects"))
    assert get(http, fresh, "phases", projectId=victim).status_code == 200
    fresh.faults.vanish_projects = {victim}
    assert victim in ids_of("projects", fetch_all(http, fresh, "projects"))
    assert victim not in fresh.ids("projects")
    for resource in ("phases", "spaces", "space-documents"):
        assert get(http, fresh, resource, projectId=victim).status_code == 404
    assert all(t["project"]["projectId"] != victim for t in fresh.truth("tasks"))


def test_faults_object_can_be_replaced(fresh: Emulator, http: requests.Session) -> None:
    fresh.faults = Faults(error_rate=1.0, fault_seed=5)
    assert get(http, fresh, "users").status_code >= 500
    fresh.faults = Faults()
    assert get(http, fresh, "users").status_code == 200


def test_request_log(fresh: Emulator, http: requests.Session) -> None:
    fresh.reset_log()
    get(http, fresh, "phases", projectId=1)
    (entry,) = fresh.request_log
    assert (entry.method, entry.path, entry.resource) == ("GET", "/api/1.0/phases", "phases")
    assert entry.status == 404
    assert entry.params == {"projectId": "1"}
    assert entry.request_id


# --------------------------------------------------------------------- data
def test_data_is_deterministic() -> None:
    assert generate(7, Scale.small()) == generate(7, Scale.small())
    assert generate(7, Scale.small()) != generate(8, Scale.small())


@pytest.mark.parametrize("resource", sorted(ID_KEYS))
def test_ids_and_timestamps(truth: dict[str, list[dict[str, Any]]], resource: str) -> None:
    ids = ids_of(resource, truth[resource])
    assert ids == sorted(set(ids))
    for record in truth[resource]:
        assert START_MS <= record["createdAt"] <= END_MS
        assert record.get("updatedAt", END_MS) >= record["createdAt"]
        assert record.get("updatedAt", START_MS) <= END_MS


def test_references(emu: Emulator, truth: dict[str, list[dict[str, Any]]]) -> None:
    task_ids, user_ids, project_ids = (emu.ids(n) for n in ("tasks", "users", "projects"))
    for entry in truth["time-entries"]:
        assert entry["user"]["userId"] in user_ids
        assert entry["project"]["projectId"] in project_ids
        assert entry.get("task") is None or entry["task"]["taskId"] in task_ids
    for task in truth["tasks"]:
        assert task["project"]["projectId"] in project_ids
        assert task.get("parent") is None or task["parent"]["taskId"] in task_ids


def test_time_entry_statuses(truth: dict[str, list[dict[str, Any]]]) -> None:
    entries = truth["time-entries"]
    assert {e["status"] for e in entries} == {"NOT_SUBMITTED", "SUBMITTED", "APPROVED", "REJECTED"}
    for entry in entries:
        assert (entry.get("approvedAt") is not None) == (entry["status"] == "APPROVED")
        assert (entry.get("rejectedAt") is not None) == (entry["status"] == "REJECTED")
        assert (entry.get("submittedAt") is None) == (entry["status"] == "NOT_SUBMITTED")


def test_nulls_unicode_and_long_text(truth: dict[str, list[dict[str, Any]]]) -> None:
    tasks = truth["tasks"]
    for key in ("parent", "dueDate", "phase", "taskDescription"):
        assert any(t.get(key) is None for t in tasks), key
        assert any(t.get(key) is not None for t in tasks), key
    assert any(u.get("company") is None for u in truth["users"])
    long_html = [len(t.get("taskDescription") or "") for t in tasks]
    assert 5_000 <= max(length for length in long_html if length >= 5_000) <= 21_000
    text = json.dumps(truth, ensure_ascii=False)
    for sample in ("🚀", "数据", "العقد", "בדיקת", "é", "👩‍💻"):
        assert sample in text


def test_field_definitions(truth: dict[str, list[dict[str, Any]]]) -> None:
    fields = truth["fields"]
    assert len(fields) == 22
    assert len({f["fieldType"] for f in fields}) == 11
    for field in fields:
        assert bool(field.get("fieldOptions")) == field["fieldType"].endswith("_CHOICE")


def json_type(value: object) -> str:
    if isinstance(value, list):
        return f"list[{type(value[0]).__name__}]"
    return type(value).__name__


@pytest.mark.parametrize("resource", ["projects", "tasks", "time-entries", "users"])
def test_custom_field_value_types(truth: dict[str, list[dict[str, Any]]], resource: str) -> None:
    kinds = {json_type(f["fieldValue"]) for r in truth[resource] for f in r["fields"]}
    assert kinds == ({"str", "NoneType"} if resource == "users" else EVERY_JSON_TYPE)


# ---------------------------------------------------------------------- CLI
def test_cli_prints_url_and_stops_on_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-m", "rocketlane_emulator", "--port", "0", "--size", "small"]
    proc = subprocess.Popen(
        [*cmd, "--api-key", "cli-key", "--rate-limit", "100/60", "--rate-window", "fixed"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("Rocketlane emulator listening on http://127.0.0.1:")
        assert line.endswith("/api/1.0 (api key: cli-key)")
        base_url = line.split(" on ", 1)[1].split(" ", 1)[0]
        response = requests.get(f"{base_url}/users", headers={"api-key": "cli-key"}, timeout=10)
        assert response.status_code == 200
        assert response.json()["data"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert stderr == ""


# ------------------------------------------------------------------- live shapes
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def nulls_outside_custom_fields(value: object, path: str = "") -> list[str]:
    """Paths of null values, custom-field entries (`fields[]`) aside."""
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [
            found
            for key, item in value.items()
            if key != "fields"
            for found in nulls_outside_custom_fields(item, f"{path}.{key}")
        ]
    if isinstance(value, list):
        return [found for item in value for found in nulls_outside_custom_fields(item, path)]
    return []


def test_live_shapes_are_the_default(
    emu: Emulator, http: requests.Session, truth: dict[str, list[dict[str, Any]]]
) -> None:
    projects = get(http, emu, "projects", includeAllFields="true").json()["data"]
    currencies = [p["currency"] for p in projects]
    assert all(set(c) == {"currencyCode", "currencyName", "currencySymbol"} for c in currencies)
    assert {"currencyCode": "USD", "currencyName": "US Dollar", "currencySymbol": "$"} in currencies
    # Optional properties are left out, never null (custom-field values aside).
    for name, records in truth.items():
        assert not [n for r in records for n in nulls_outside_custom_fields(r)][:1], name
    assert any("dueDate" not in t for t in truth["tasks"])
    # The last page has neither token key; other pages link with http://.
    paged = get(http, emu, "users", pageSize=10).json()["pagination"]
    assert paged["nextPage"].startswith("http://")
    last = get(http, emu, "users", pageToken=paged["nextPageToken"], pageSize=100).json()
    assert last["pagination"]["hasMore"] is False
    assert not {"nextPageToken", "nextPage"} & set(last["pagination"])
    # 13-digit ids everywhere.
    for name, key in ID_KEYS.items():
        assert all(len(str(r[key])) == 13 for r in truth[name]), name
    # Some records were created through the API: a UUID for an e-mail, a creator not in /users.
    creators = [t["createdBy"] for t in truth["tasks"]]
    api_made = [c for c in creators if re.fullmatch(UUID_RE, c["emailId"])]
    assert api_made
    assert len(api_made) < len(creators) / 4
    assert {c["userId"] for c in api_made}.isdisjoint(emu.ids("users"))
    assert all("lastName" not in c for c in api_made)
    # Task status 5, "on hold", beside the spec's four; an invited user has no updatedAt.
    assert {t["status"]["value"] for t in truth["tasks"]} == {1, 2, 3, 4, 5}
    assert {"value": 5, "label": "on hold"} in [t["status"] for t in truth["tasks"]]
    invited = [u for u in truth["users"] if u["status"] == "INVITED"]
    assert invited
    assert all("updatedAt" not in u for u in invited)
    assert any("lastName" not in u for u in truth["users"])


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"limit": "1"}, 500),  # the live API reads it as a malformed filter
        ({"pageSize": "1", "projectName.eq": "x"}, 200),  # a filter expression
        ({"sortBy": "createdAt", "sortOrder": "ASC"}, 200),
        ({"updatedAt.after": "1"}, 500),  # no such operator
    ],
)
def test_an_unknown_parameter_answers_500(
    emu: Emulator, http: requests.Session, params: dict[str, str], status: int
) -> None:
    response = get(http, emu, "projects", **params)
    assert response.status_code == status, response.text
    if status == 500:
        [error] = response.json()["errors"]
        assert error["errorCode"] == "INTERNAL_SERVER_ERROR"


def test_companies_are_paged_and_match_the_references(
    emu: Emulator, http: requests.Session
) -> None:
    first_page = get(http, emu, "companies", pageSize=4).json()
    pagination = first_page["pagination"]
    assert pagination["hasMore"] is True
    rest = get(http, emu, "companies", pageToken=pagination["nextPageToken"], pageSize=100).json()
    records = first_page["data"] + rest["data"]
    assert len(records) == pagination["totalRecordCount"] == len(emu.ids("companies"))
    assert {r["companyType"] for r in records} == {"VENDOR", "CUSTOMER"}
    [vendor] = [r for r in records if r["companyType"] == "VENDOR"]
    assert "createdBy" not in vendor
    assert "updatedBy" not in vendor
    assert all("createdBy" in r for r in records if r["companyType"] == "CUSTOMER")
    assert {"companyId", "companyName", "companyType", "createdAt", "updatedAt"} <= set(vendor)
    customers = {r["companyId"] for r in records if r["companyType"] == "CUSTOMER"}
    referenced = {p["customer"]["companyId"] for p in emu.truth("projects") if "customer" in p}
    assert referenced <= customers


def test_spec_shapes_stay_available() -> None:
    with (
        Emulator(seed=1, scale=Scale.small(), api_key=KEY, shapes="spec") as spec,
        Emulator(seed=1, scale=Scale.small(), api_key=KEY) as live,
        requests.Session() as session,
    ):
        session.headers["api-key"] = KEY
        projects = get(session, spec, "projects", includeAllFields="true").json()["data"]
        assert all(isinstance(p["currency"], str) for p in projects)
        assert any(p["dueDateActual"] is None for p in projects)  # null, not left out
        assert all(len(str(p["projectId"])) < 13 for p in projects)
        paged = get(session, spec, "tasks", pageSize=30).json()["pagination"]
        assert paged["nextPage"].startswith("https://")
        last = get(session, spec, "tasks", pageToken=paged["nextPageToken"]).json()["pagination"]
        assert last["nextPageToken"] is None
        assert last["nextPage"] is None
        assert {t["status"]["value"] for t in spec.truth("tasks")} == {1, 2, 3, 4}
        assert get(session, spec, "projects", limit="1").status_code == 200
        # The same workspace otherwise: as many records, same names, same order.
        for name in ID_KEYS:
            assert len(spec.truth(name)) == len(live.truth(name)), name
        live_projects = get(session, live, "projects", includeAllFields="true").json()["data"]
        assert [p["projectName"] for p in projects] == [p["projectName"] for p in live_projects]
    with pytest.raises(ValueError, match="shapes"):
        Emulator(shapes="draft")


def test_live_generation_is_deterministic_per_seed() -> None:
    assert generate(2, Scale.small()) == generate(2, Scale.small())
    assert generate(2, Scale.small()) != generate(3, Scale.small())
    assert generate(2, Scale.small(), "spec") == generate(2, Scale.small(), "spec")


def test_cli_takes_a_shapes_flag() -> None:
    from rocketlane_emulator.__main__ import build_parser  # noqa: PLC0415

    assert build_parser().parse_args([]).shapes == "live"
    assert build_parser().parse_args(["--shapes", "spec"]).shapes == "spec"


def emulator_imports() -> dict[str, set[str]]:
    """Per module of the emulator, the sibling modules it imports (at any depth of its code)."""
    import ast  # noqa: PLC0415

    package = REPO_ROOT / "rocketlane_emulator"
    graph: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        siblings = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    siblings.add(node.module.split(".")[0])
                else:
                    siblings.update(alias.name for alias in node.names)
        graph[path.stem] = siblings
    return graph


def test_emulator_modules_import_without_a_cycle() -> None:
    graph = emulator_imports()
    assert graph["workspace"] >= {"data", "extra", "live"}  # the graph is really read
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        if module in done:
            return
        for imported in graph.get(module, ()):
            visit(imported, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())
