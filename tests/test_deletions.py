"""Deletions reach the warehouse: table versions and ACTIVATE_VERSION, end to end via the CLI.

A small model of an SDK SQL target stands in for the warehouse here (test_meltano.py proves
the same with target-postgres): RECORDs upsert on `id` with their version, and
`ACTIVATE_VERSION v` deletes (or marks) every row of that table whose version is below v or
missing, as target-postgres does.
"""

from __future__ import annotations

import json
import signal
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
from conftest import (
    CHANGES_ONLY,
    STREAMS,
    TAP,
    TapRun,
    discover,
    parse_messages,
    run_tap,
    select,
    tap_config,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from rocketlane_emulator import Emulator

# Deletions every sync finds, without extra requests.
EVERY_SYNC = ("spaces", "phases", "space-documents", "users", "fields", "time-offs")


@dataclass
class Warehouse:
    """Rows per table: id -> (version, deleted?), loaded the way SDK SQL targets load."""

    hard_delete: bool = True
    tables: dict[str, dict[int, tuple[int | None, bool]]] = field(default_factory=dict)

    def load(self, messages: list[dict]) -> None:
        for message in messages:
            table = self.tables.setdefault(message.get("stream", ""), {})
            if message["type"] == "RECORD":
                table[message["record"]["id"]] = (message.get("version"), False)
            elif message["type"] == "ACTIVATE_VERSION":
                for rid, (version, _) in list(table.items()):
                    if version is None or version < message["version"]:
                        if self.hard_delete:
                            del table[rid]
                        else:
                            table[rid] = (version, True)

    def live(self, stream: str) -> set[int]:
        return {rid for rid, (_, deleted) in self.tables.get(stream, {}).items() if not deleted}


def activations(run: TapRun) -> dict[str, int]:
    return {m["stream"]: m["version"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}


def sync(tmp_path: Path, emu: Emulator, warehouse: Warehouse, state: dict | None, **settings):
    run = run_tap(tmp_path, tap_config(emu, **settings), state=state)
    assert run.returncode == 0, run.stderr[-3000:]
    warehouse.load(run.messages)
    return run


def test_records_carry_their_table_version_and_tables_activate_after_the_sync(emulator, tmp_path):
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


def test_deletions_reach_the_warehouse_every_sync_or_at_the_reconcile(emulator, tmp_path):
    warehouse = Warehouse()
    first = sync(tmp_path, emulator, warehouse, None)
    # Records added after the full sync, loaded by an incremental one.
    added = {
        "tasks": [emulator.create("tasks", t)["taskId"] for t in sorted(emulator.ids("tasks"))[:4]],
        "phases": [emulator.create("phases", min(emulator.ids("phases")))["phaseId"]],
        "users": [emulator.create("users", min(emulator.ids("users")))["userId"]],
    }
    second = sync(tmp_path, emulator, warehouse, first.final_state)
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


def test_soft_delete_marks_exactly_the_deleted_rows(emulator, tmp_path):
    warehouse = Warehouse(hard_delete=False)
    first = sync(tmp_path, emulator, warehouse, None)
    gone = {"users": min(emulator.ids("users")), "phases": max(emulator.ids("phases"))}
    for stream, rid in gone.items():
        emulator.delete(stream, rid)
    sync(tmp_path, emulator, warehouse, first.final_state)
    for stream in STREAMS:
        marked = {rid for rid, (_, deleted) in warehouse.tables[stream].items() if deleted}
        assert marked == ({gone[stream]} if stream in gone else set()), stream


def test_a_sync_without_state_reconciles(emulator, tmp_path):
    warehouse = Warehouse()
    sync(tmp_path, emulator, warehouse, None)
    task = min(emulator.ids("tasks"))
    emulator.delete("tasks", task)
    sync(tmp_path, emulator, warehouse, None)  # e.g. `meltano run --full-refresh`
    assert warehouse.live("tasks") == emulator.ids("tasks")


@pytest.mark.parametrize(
    ("settings", "activated"),
    [
        ({"project_ids": [5_000_000_001, 5_000_000_002]}, {"users", "fields", "time-offs"}),
        ({"start_date": "2024-01-01T00:00:00Z"}, {"time-offs"}),
        ({"emit_activate_version_messages": False}, set()),
    ],
    ids=["project_ids", "start_date", "off"],
)
def test_narrowed_syncs_delete_only_what_they_can_prove(emulator, tmp_path, settings, activated):
    warehouse = Warehouse()
    first = sync(tmp_path, emulator, warehouse, None, **settings)
    assert set(activations(first)) == activated
    emulator.delete("tasks", min(emulator.ids("tasks")))
    emulator.delete("phases", min(emulator.ids("phases")))
    second = sync(tmp_path, emulator, warehouse, first.final_state, reconcile=True, **settings)
    assert set(activations(second)) == activated
    if not activated:
        assert all("version" not in m for m in second.messages if m["type"] == "RECORD")


def test_a_deselected_parent_is_not_activated(emulator, tmp_path):
    config = tap_config(emulator)
    catalog = select(discover(tmp_path, config), ("phases",))
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert set(activations(run)) == {"phases"}


DELETED_BEFORE_A_FAILURE = ("users", "phases", "time-offs")


def loaded_then_deleted(tmp_path: Path, emu: Emulator) -> tuple[Warehouse, dict, dict]:
    """A full sync loaded, then a record deleted from each of DELETED_BEFORE_A_FAILURE.

    Returns the warehouse, the sync's state and every table's live rows at that point.
    """
    warehouse = Warehouse()
    first = sync(tmp_path, emu, warehouse, None)
    before = {stream: warehouse.live(stream) for stream in STREAMS}
    for stream in DELETED_BEFORE_A_FAILURE:
        emu.delete(stream, min(emu.ids(stream)))
    return warehouse, first.final_state, before


def at_the_last_list(emu: Emulator, action: Callable[[], object]) -> None:
    """Do `action` when time-offs, the last list, is asked for: all others are complete."""
    emu.hooks.append(lambda resource, _params: action() if resource == "time-offs" else None)


def test_a_sync_whose_retries_run_out_deletes_nothing(emulator, tmp_path):
    warehouse, state, before = loaded_then_deleted(tmp_path, emulator)
    at_the_last_list(emulator, lambda: setattr(emulator.faults, "error_rate", 1.0))
    run = run_tap(tmp_path, tap_config(emulator, max_retries=1), state=state)
    assert run.returncode != 0
    assert "giving up after 2 attempts" in run.stderr
    assert activations(run) == {}
    warehouse.load(run.messages)
    for stream in STREAMS:
        assert warehouse.live(stream) == before[stream], stream


def test_a_killed_sync_deletes_nothing(emulator, tmp_path):
    warehouse, state, before = loaded_then_deleted(tmp_path, emulator)
    (tmp_path / "config.json").write_text(json.dumps(tap_config(emulator)))
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
    warehouse.load(killed)
    for stream in STREAMS:
        assert warehouse.live(stream) == before[stream], stream
    # The next sync, from the last state the killed one printed, finds the deletions.
    states = [m["value"] for m in killed if m["type"] == "STATE"]
    sync(tmp_path, emulator, warehouse, states[-1])
    for stream in DELETED_BEFORE_A_FAILURE:
        assert warehouse.live(stream) == emulator.ids(stream), stream
