"""Deletions reach the warehouse: table versions, ACTIVATE_VERSION and tombstones, via the CLI.

A small model of an SDK SQL target stands in for the warehouse here (test_meltano.py proves
the same with target-postgres): RECORDs upsert on `id` with their version (a tombstone, one
with `_sdc_deleted_at`, upserts a marked row in both modes), and `ACTIVATE_VERSION v` deletes
(or marks) every row of that table whose version is below v or missing, as target-postgres does.
"""

from __future__ import annotations

import json
import signal
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from conftest import (
    API_KEY,
    CHANGES_ONLY,
    STREAMS,
    TAP,
    TapRun,
    discover,
    in_scope,
    parse_messages,
    run_tap,
    select,
    tap_config,
)

from rocketlane_emulator import Emulator, Faults, Scale

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterator
    from pathlib import Path

# Deletions every sync finds, without extra requests.
EVERY_SYNC = ("spaces", "phases", "space-documents", "users", "fields", "time-offs")


@dataclass
class Warehouse:
    """Rows per table: id -> (version, deleted?), loaded the way SDK SQL targets load."""

    hard_delete: bool = True
    tables: dict[str, dict[int, tuple[int | None, bool]]] = field(default_factory=dict)

    def load(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            table = self.tables.setdefault(message.get("stream", ""), {})
            if message["type"] == "RECORD":
                record = message["record"]
                deleted = record.get("_sdc_deleted_at") is not None
                table[record["id"]] = (message.get("version"), deleted)
            elif message["type"] == "ACTIVATE_VERSION":
                for rid, (version, _) in list(table.items()):
                    if version is None or version < message["version"]:
                        if self.hard_delete:
                            del table[rid]
                        else:
                            table[rid] = (version, True)

    def live(self, stream: str) -> set[int]:
        return {rid for rid, (_, deleted) in self.tables.get(stream, {}).items() if not deleted}


def tombstone(message: dict[str, Any]) -> bool:
    """A RECORD saying its row was deleted (live records carry `_sdc_deleted_at: null`)."""
    return (message.get("record") or {}).get("_sdc_deleted_at") is not None


def activations(run: TapRun) -> dict[str, int]:
    return {m["stream"]: m["version"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}


def sync(
    tmp_path: Path,
    emu: Emulator,
    warehouse: Warehouse,
    state: dict[str, Any] | None,
    **settings: Any,
) -> TapRun:
    run = run_tap(tmp_path, tap_config(emu, **settings), state=state)
    assert run.returncode == 0, run.stderr[-3000:]
    warehouse.load(run.messages)
    return run


def test_records_carry_their_table_version_and_tables_activate_after_the_sync(
    emulator: Emulator, tmp_path: Path
) -> None:
    run = sync(tmp_path, emulator, Warehouse(), None)
    records = [m for m in run.messages if m["type"] == "RECORD"]
    assert all(isinstance(m.get("version"), int) for m in records)
    # A sync without state lists everything in full: every table is activated...
    activated = activations(run)
    assert set(activated) == set(STREAMS)
    for stream, version in activated.items():
        assert {m["version"] for m in records if m["stream"] == stream} == {version}, stream
    # ...and only once everything else is out: after the last record and the final state.
    kinds = [m["type"] for m in run.messages]
    first_activation = kinds.index("ACTIVATE_VERSION")
    assert "RECORD" not in kinds[first_activation:]
    assert "STATE" in kinds[:first_activation]


def test_deletions_reach_the_warehouse_every_sync_or_at_the_reconcile(
    emulator: Emulator, tmp_path: Path
) -> None:
    warehouse = Warehouse()
    first = sync(tmp_path, emulator, warehouse, None)
    # Records added after the full sync, loaded by an incremental one.
    added = {
        "tasks": [emulator.create("tasks", t)["taskId"] for t in sorted(emulator.ids("tasks"))[:4]],
        "phases": [emulator.create("phases", min(emulator.ids("phases")))["phaseId"]],
        "users": [emulator.create("users", min(emulator.ids("users")))["userId"]],
    }
    second = sync(tmp_path, emulator, warehouse, first.final_state)
    ids: Collection[int]
    for stream, ids in added.items():
        assert set(ids) <= warehouse.live(stream), stream

    victim = sorted(emulator.ids("projects"))[3]
    tasks = [t for t in sorted(emulator.ids("tasks")) if emulator.project_of("tasks", t) != victim]
    deleted = {
        "tasks": set(added["tasks"][:3] + tasks[10:17]),  # 10, some added after the full sync
        "phases": {added["phases"][0], sorted(emulator.ids("phases"))[5]},
        "space-documents": {sorted(emulator.ids("space-documents"))[7]},
        "users": {sorted(emulator.ids("users"))[2]},
        "fields": {sorted(emulator.ids("fields"))[2]},
        "time-offs": {sorted(emulator.ids("time-offs"))[2]},
    }
    for stream, ids in deleted.items():
        for rid in ids:
            emulator.delete(stream, rid)
    emulator.delete("projects", victim)  # with its spaces, phases, documents, tasks, entries

    third = sync(tmp_path, emulator, warehouse, second.final_state)
    assert set(activations(third)) == set(EVERY_SYNC)
    for stream in EVERY_SYNC:
        assert warehouse.live(stream) == emulator.ids(stream), stream
    for stream in CHANGES_ONLY:  # not proven yet: nothing live is missing, nothing deleted
        assert warehouse.live(stream) >= emulator.ids(stream), stream
    assert deleted["tasks"] <= warehouse.live("tasks")

    reconcile = sync(tmp_path, emulator, warehouse, third.final_state, reconcile=True)
    assert set(activations(reconcile)) == set(STREAMS)
    for stream in STREAMS:
        assert warehouse.live(stream) == emulator.ids(stream), stream


def test_soft_delete_marks_exactly_the_deleted_rows(emulator: Emulator, tmp_path: Path) -> None:
    warehouse = Warehouse(hard_delete=False)
    first = sync(tmp_path, emulator, warehouse, None)
    gone = {"users": min(emulator.ids("users")), "phases": max(emulator.ids("phases"))}
    for stream, rid in gone.items():
        emulator.delete(stream, rid)
    sync(tmp_path, emulator, warehouse, first.final_state)
    for stream in STREAMS:
        marked = {rid for rid, (_, deleted) in warehouse.tables[stream].items() if deleted}
        assert marked == ({gone[stream]} if stream in gone else set()), stream


def test_a_sync_without_state_reconciles(emulator: Emulator, tmp_path: Path) -> None:
    warehouse = Warehouse()
    sync(tmp_path, emulator, warehouse, None)
    task = min(emulator.ids("tasks"))
    emulator.delete("tasks", task)
    sync(tmp_path, emulator, warehouse, None)  # e.g. `meltano run --full-refresh`
    assert warehouse.live("tasks") == emulator.ids("tasks")


NARROWED = {
    "project_ids": {"users", "fields", "time-offs"},  # tables no project owns
    "off": set(),
}


@pytest.mark.parametrize("case", NARROWED)
def test_narrowed_syncs_delete_only_what_they_can_prove(
    emulator: Emulator, tmp_path: Path, case: str
) -> None:
    """A warehouse loaded in full, then narrowed syncs: `project_ids` lists two real projects
    and proves only deletions in what it lists in full (tables no project owns, each listed
    project's children); with deletions off, nothing leaves. Every other row stays."""
    warehouse = Warehouse()
    sync(tmp_path, emulator, warehouse, None)
    loaded = {stream: warehouse.live(stream) for stream in STREAMS}
    assert all(loaded[stream] == emulator.ids(stream) for stream in STREAMS)
    wanted = set(sorted(emulator.ids("projects"))[:2])
    settings = (
        {"project_ids": sorted(wanted)}
        if case == "project_ids"
        else {"emit_activate_version_messages": False}
    )

    first = sync(tmp_path, emulator, warehouse, None, **settings)
    assert set(activations(first)) == NARROWED[case]
    if case == "project_ids":
        assert first.ids("projects") == wanted
        for stream in ("spaces", "phases", "space-documents", "tasks", "time-entries"):
            owned = {r for r in emulator.ids(stream) if emulator.project_of(stream, r) in wanted}
            assert first.ids(stream) == owned, stream
            assert 0 < len(owned) < len(emulator.ids(stream)), stream
    for stream in STREAMS:  # a sync without state that lists less removes nothing
        assert warehouse.live(stream) == loaded[stream], stream

    def first_of(stream: str, *, listed: bool) -> int:
        return min(
            r for r in emulator.ids(stream) if (emulator.project_of(stream, r) in wanted) == listed
        )

    # A task and a phase of a listed project and of another one, and a user.
    listed = {stream: first_of(stream, listed=True) for stream in ("tasks", "phases")}
    other = {stream: first_of(stream, listed=False) for stream in ("tasks", "phases")}
    user = min(emulator.ids("users"))
    for stream in ("tasks", "phases"):
        emulator.delete(stream, listed[stream])
        emulator.delete(stream, other[stream])
    emulator.delete("users", user)
    second = sync(tmp_path, emulator, warehouse, first.final_state, reconcile=True, **settings)
    assert set(activations(second)) == NARROWED[case]
    # Proven gone with project_ids: the user (users are listed in full) and the listed
    # project's phase (a tombstone). A listed project's task is not: tasks are never activated.
    proven = {"users": {user}, "phases": {listed["phases"]}} if case == "project_ids" else {}
    for stream in STREAMS:
        assert warehouse.live(stream) == loaded[stream] - proven.get(stream, set()), stream
    if case == "off":
        assert all("version" not in m for m in second.messages if m["type"] == "RECORD")
        assert not [m for m in second.messages if tombstone(m)]


NOTICES: dict[str, tuple[dict[str, Any], str]] = {
    "off": (
        {"emit_activate_version_messages": False},
        (
            "Deletions are off (emit_activate_version_messages: false): rows deleted in Rocketlane "
            "stay in fields, phases, projects, space-documents, spaces, tasks, time-entries, "
            "time-offs, users."
        ),
    ),
    "project_ids": (
        {"project_ids": [5_000_000_001]},
        (
            "project_ids narrows deletions: rows deleted in Rocketlane are never removed from "
            "projects, tasks, time-entries; in phases, space-documents, spaces they are marked "
            "_sdc_deleted_at but kept, even with hard_delete."
        ),
    ),
}


@pytest.mark.parametrize("case", NOTICES)
def test_a_sync_says_once_at_its_start_when_deletions_are_off_or_narrowed(
    shared_emulator: Emulator, tmp_path: Path, case: str
) -> None:
    settings, notice = NOTICES[case]
    run = run_tap(tmp_path, tap_config(shared_emulator, **settings))
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stderr.splitlines()
    assert sum(notice in line for line in lines) == 1
    [at] = [i for i, line in enumerate(lines) if notice in line]
    assert not any("Progress" in line for line in lines[:at])  # before any stream's work
    default = run_tap(tmp_path, tap_config(shared_emulator))
    assert "Deletions are off" not in default.stderr
    assert "narrows deletions" not in default.stderr


# --------------------------------------------------------------------- start_date, the scope
START = "2025-06-01T00:00:00Z"
LATER = "2025-09-01T00:00:00Z"
CHILD_STREAMS = ("spaces", "phases", "space-documents")


def test_start_date_sets_the_scope_and_deletions_reach_it(
    emulator: Emulator, tmp_path: Path
) -> None:
    warehouse = Warehouse()
    first = sync(tmp_path, emulator, warehouse, None, start_date=START)
    assert set(activations(first)) == set(STREAMS)
    scope = in_scope(emulator, START)
    for stream in STREAMS:
        assert warehouse.live(stream) == scope[stream], stream
        assert scope[stream] < emulator.ids(stream) or stream == "time-offs", stream

    deleted = {stream: sorted(scope[stream])[1] for stream in STREAMS}
    for stream, rid in deleted.items():
        emulator.delete(stream, rid)
    second = sync(tmp_path, emulator, warehouse, first.final_state, start_date=START)
    scope = in_scope(emulator, START)
    for stream in (*EVERY_SYNC,):
        assert warehouse.live(stream) == scope[stream], stream
    for stream in CHANGES_ONLY:  # not proven yet: nothing live is missing, nothing deleted
        assert warehouse.live(stream) >= scope[stream], stream

    reconcile = sync(
        tmp_path, emulator, warehouse, second.final_state, start_date=START, reconcile=True
    )
    assert set(activations(reconcile)) == set(STREAMS)
    for stream in STREAMS:
        assert warehouse.live(stream) == scope[stream], stream
    for message in reconcile.messages:  # every listing was filtered by start_date alone
        assert (
            message["type"] != "RECORD"
            or tombstone(message)
            or (message["record"].get("updatedAt") or START) >= START
        )


def test_moving_start_date_later_keeps_what_was_loaded_until_a_sync_without_state(
    emulator: Emulator, tmp_path: Path
) -> None:
    warehouse = Warehouse()
    first = sync(tmp_path, emulator, warehouse, None, start_date=START)
    wide = in_scope(emulator, START)
    narrow = in_scope(emulator, LATER)
    assert narrow["tasks"] < wide["tasks"]
    later = sync(tmp_path, emulator, warehouse, first.final_state, start_date=LATER, reconcile=True)
    notices = [line for line in later.stderr.splitlines() if "is later than" in line]
    assert len(notices) == 1
    assert "2025-09-01T00:00:00Z" in notices[0]
    assert "2025-06-01T00:00:00Z" in notices[0]
    assert "--full-refresh" in notices[0]
    for stream in STREAMS:  # the reconcile listed from the earlier start: nothing left
        assert warehouse.live(stream) == wide[stream], stream
    again = sync(tmp_path, emulator, warehouse, later.final_state, start_date=LATER)
    assert "is later than" in again.stderr  # the state keeps the earlier start
    # A sync without state lists from the new start_date: older rows leave the tables.
    sync(tmp_path, emulator, warehouse, None, start_date=LATER)
    for stream in STREAMS:
        assert warehouse.live(stream) == narrow[stream], stream


def test_moving_start_date_earlier_fills_in_the_gap_and_reconciles(
    emulator: Emulator, tmp_path: Path
) -> None:
    warehouse = Warehouse()
    first = sync(tmp_path, emulator, warehouse, None, start_date=LATER)
    emulator.delete("tasks", min(in_scope(emulator, LATER)["tasks"]))
    earlier = sync(tmp_path, emulator, warehouse, first.final_state, start_date=START)
    assert "start_date moved earlier, to 2025-06-01T00:00:00Z" in earlier.stderr
    assert set(activations(earlier)) == set(STREAMS)
    wide = in_scope(emulator, START)
    for stream in STREAMS:
        assert warehouse.live(stream) == wide[stream], stream
    # The next sync is a regular incremental one again.
    after = sync(tmp_path, emulator, warehouse, earlier.final_state, start_date=START)
    assert "moved earlier" not in after.stderr
    assert "tasks" not in activations(after)


# ------------------------------------------------------- children, whatever the revisit schedule
HOUR = 3600


@pytest.fixture
def many_projects() -> Iterator[Emulator]:
    """60 small projects: an hourly sync re-reads 20 of the unchanged ones, not all."""
    scale = Scale(
        users=6, projects=60, tasks=60, time_entries=10, time_offs=4, phases_per_project=2,
        spaces_per_project=1, documents_per_project=1, big_project=None,
    )  # fmt: skip
    with Emulator(seed=5, scale=scale, api_key=API_KEY, faults=Faults()) as emu:
        yield emu


def check_listed_projects(
    emu: Emulator, warehouse: Warehouse, loaded: dict[str, dict[int, int]], listed: set[int]
) -> None:
    """Children of every project listed so far equal the live ones; none live is missing."""
    for stream in CHILD_STREAMS:
        live = emu.ids(stream)
        for project in listed:
            in_project = {i for i, p in loaded[stream].items() if p == project}
            assert warehouse.live(stream) & in_project == live & in_project, (stream, project)
        assert warehouse.live(stream) >= live, stream


@pytest.mark.parametrize("hard", [True, False], ids=["hard-delete", "soft-delete"])
def test_a_deleted_child_leaves_at_the_next_sync_that_lists_its_project(
    many_projects: Emulator, tmp_path: Path, hard: bool
) -> None:
    emu = many_projects
    warehouse = Warehouse(hard_delete=hard)
    loaded: dict[str, dict[int, int]] = {
        stream: {} for stream in CHILD_STREAMS
    }  # id -> its project, as loaded
    first = sync(tmp_path, emu, warehouse, None, start_date="2024-01-01T00:00:00Z")
    for stream in CHILD_STREAMS:
        loaded[stream] = {i: emu.project_of(stream, i) for i in emu.ids(stream)}
    deleted_project = min(emu.ids("projects"))  # the longest unread: visited first
    emu.delete("projects", deleted_project)
    for stream in CHILD_STREAMS:  # one child of every project
        for project in emu.ids("projects"):
            if ids := sorted(i for i, p in loaded[stream].items() if p == project):
                emu.delete(stream, ids[0])
    state, seen = first.final_state, set()
    for hour in (1, 2, 3, 4):
        emu.reset_log()
        run = run_tap(
            tmp_path,
            tap_config(emu, start_date="2024-01-01T00:00:00Z"),
            state=state,
            clock_offset=hour * HOUR,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        warehouse.load(run.messages)
        state = run.final_state
        listed = {int(e.params["projectId"]) for e in emu.request_log if e.resource == "phases"}
        assert len(listed) < len(emu.ids("projects")) or hour > 1  # not every project
        seen |= listed
        check_listed_projects(emu, warehouse, loaded, seen)
        if hour == 1:
            assert deleted_project in seen  # answered 404: its children and itself went
            assert deleted_project not in warehouse.live("projects")
            for stream in CHILD_STREAMS:
                of_deleted = {i for i, p in loaded[stream].items() if p == deleted_project}
                assert not of_deleted & warehouse.live(stream), stream
    assert seen == emu.ids("projects") | {deleted_project}
    for stream in CHILD_STREAMS:
        assert warehouse.live(stream) == emu.ids(stream), stream
        marked = set(warehouse.tables[stream]) - warehouse.live(stream)
        # hard_delete: the tombstones are gone once every project was listed again.
        assert marked == (set() if hard else set(loaded[stream]) - emu.ids(stream)), stream


def test_a_deselected_parent_is_not_activated(emulator: Emulator, tmp_path: Path) -> None:
    config = tap_config(emulator)
    catalog = select(discover(tmp_path, config), ("phases",))
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert set(activations(run)) == {"phases"}


DELETED_BEFORE_A_FAILURE = ("users", "phases", "time-offs")


def loaded_then_deleted(
    tmp_path: Path, emu: Emulator, settings: dict[str, Any]
) -> tuple[Warehouse, dict[str, Any], dict[str, Any]]:
    """A full sync loaded, then a record deleted from each of DELETED_BEFORE_A_FAILURE.

    Returns the warehouse, the sync's state and every table's live rows at that point.
    """
    warehouse = Warehouse()
    first = sync(tmp_path, emu, warehouse, None, **settings)
    before = {stream: warehouse.live(stream) for stream in STREAMS}
    for stream in DELETED_BEFORE_A_FAILURE:
        emu.delete(stream, min(emu.ids(stream)))
    return warehouse, first.final_state, before


def at_the_last_list(emu: Emulator, action: Callable[[], object]) -> None:
    """Do `action` when time-offs, the last list, is asked for: all others are complete."""

    def hook(resource: str | None, _params: dict[str, str]) -> None:
        if resource == "time-offs":
            action()

    emu.hooks.append(hook)


# Every record of the emulator is updated after this start_date: the scope is the whole workspace.
WITH_AND_WITHOUT_START_DATE = pytest.mark.parametrize(
    "settings", [{}, {"start_date": "2024-01-01T00:00:00Z"}], ids=["", "start_date"]
)


@WITH_AND_WITHOUT_START_DATE
def test_a_sync_whose_retries_run_out_deletes_nothing(
    emulator: Emulator, tmp_path: Path, settings: Any
) -> None:
    warehouse, state, before = loaded_then_deleted(tmp_path, emulator, settings)
    at_the_last_list(emulator, lambda: setattr(emulator.faults, "error_rate", 1.0))
    run = run_tap(tmp_path, tap_config(emulator, max_retries=1, **settings), state=state)
    assert run.returncode != 0
    assert "giving up after 2 attempts" in run.stderr
    assert activations(run) == {}
    assert not any(tombstone(m) for m in run.messages)
    warehouse.load(run.messages)
    for stream in STREAMS:
        assert warehouse.live(stream) == before[stream], stream


@WITH_AND_WITHOUT_START_DATE
def test_a_killed_sync_deletes_nothing(emulator: Emulator, tmp_path: Path, settings: Any) -> None:
    warehouse, state, before = loaded_then_deleted(tmp_path, emulator, settings)
    (tmp_path / "config.json").write_text(json.dumps(tap_config(emulator, **settings)))
    (tmp_path / "state.json").write_text(json.dumps(state))
    files = {"--config": tmp_path / "config.json", "--state": tmp_path / "state.json"}
    command = [TAP, *(part for option, path in files.items() for part in (option, str(path)))]
    with (tmp_path / "out.jsonl").open("w") as out:
        tap = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL)
        at_the_last_list(emulator, lambda: tap.send_signal(signal.SIGKILL))
        assert tap.wait(timeout=300) == -signal.SIGKILL
    emulator.hooks.clear()
    killed = parse_messages((tmp_path / "out.jsonl").read_text())
    assert any(m["type"] == "RECORD" for m in killed)
    assert not any(m["type"] == "ACTIVATE_VERSION" for m in killed)
    assert not any(tombstone(m) for m in killed)
    warehouse.load(killed)
    for stream in STREAMS:
        assert warehouse.live(stream) == before[stream], stream
    # The next sync, from the last state the killed one printed, finds the deletions.
    states = [m["value"] for m in killed if m["type"] == "STATE"]
    sync(tmp_path, emulator, warehouse, states[-1], **settings)
    start = settings.get("start_date")
    for stream in DELETED_BEFORE_A_FAILURE:
        live = in_scope(emulator, start)[stream] if start else emulator.ids(stream)
        assert warehouse.live(stream) == live, stream


def test_live_records_of_tables_with_tombstones_say_they_are_live(full_sync: TapRun) -> None:
    """Their `_sdc_deleted_at` is null, not absent: a loader then stores NULL, and the SDK's
    every-field-seen test sees the field (before, conform.py's record messages left it out)."""
    marked = [
        name for name, message in full_sync.schemas().items()
        if "_sdc_deleted_at" in message["schema"]["properties"]
    ]  # fmt: skip
    assert set(marked) >= {"spaces", "phases", "space-documents"}
    for stream in marked:
        records = full_sync.records(stream)
        assert records, stream
        assert all(r.get("_sdc_deleted_at", "absent") is None for r in records), stream
