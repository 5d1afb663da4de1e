"""Table versions and tombstones (tap_pm/versions.py), with the tap run in this process.

test_deletions.py proves deletions end to end through the CLI; these run the same tap in the
test's process on a small workspace, so that `make mutate` sees which tests reach the code.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import pytest
from conftest import API_KEY, CHILDREN, STREAMS, TapRun, select, sync_in_process, tap_config

from rocketlane_emulator import ID_KEYS, Emulator, Scale
from tap_pm.tap import TapPM
from tap_pm.versions import configured_start, deletion_notices, ms_text

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_pm.versions import VersionedStream

# Lists read in full every sync in a small workspace (one page of users and fields).
EVERY_SYNC = (*CHILDREN, "users", "fields", "time-offs")
CHANGES_ONLY = ("projects", "tasks", "time-entries")
TOMBSTONED = ("projects", *CHILDREN)


def epoch_ms(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def stand_in(**attributes: Any) -> VersionedStream:
    """A stream as far as deletion_notices reads one: those attributes, nothing else."""
    return cast("VersionedStream", SimpleNamespace(**attributes))


# ------------------------------------------------------------------------ the settings
@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (None, 0),
        ("", 0),
        ("2025-06-01T00:00:00Z", 1_748_736_000_000),
        ("2025-06-01T02:00:00+02:00", 1_748_736_000_000),
        ("2025-06-01T00:00:00", 1_748_736_000_000),  # no offset: UTC
        ("2025-06-01T00:00:00.250Z", 1_748_736_000_250),
    ],
)
def test_start_date_in_epoch_ms(setting: str | None, expected: int) -> None:
    assert configured_start({"start_date": setting} if setting is not None else {}) == expected


def test_a_start_date_without_offset_is_utc_whatever_the_local_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert configured_start({"start_date": "2025-06-01T00:00:00"}) == 1_748_736_000_000
    finally:
        monkeypatch.undo()
        time.tzset()


def test_instants_in_messages() -> None:
    assert ms_text(0) == "the beginning"
    assert ms_text(1_748_736_000_000) == "2025-06-01T00:00:00Z"
    assert ms_text(1_748_736_000_250) == "2025-06-01T00:00:00.250000Z"


def stream(name: str, **state: Any) -> VersionedStream:
    """What deletion_notices reads of a stream (a stand-in with only those attributes)."""
    children = name in CHILDREN
    return stand_in(
        name=name,
        selected=True,
        project_owned=name not in ("users", "fields", "time-offs"),
        sends_tombstones=children,
        replication_key=None if name == "time-offs" else "updatedAt",
        stream_state=state,
    )


def test_deletion_notices_name_what_the_settings_do() -> None:
    streams = [stream(name) for name in STREAMS]
    assert deletion_notices(streams, {}) == []
    assert deletion_notices(streams, {"emit_activate_version_messages": False}) == [
        (
            "Deletions are off (emit_activate_version_messages: false): rows deleted in Rocketlane "
            "stay in fields, phases, projects, space-documents, spaces, tasks, time-entries, "
            "time-offs, users."
        )
    ]
    narrowed = (
        "project_ids narrows deletions: rows deleted in Rocketlane are never removed from "
        "projects, tasks, time-entries"
    )
    assert deletion_notices(streams, {"project_ids": [1]}) == [
        (
            f"{narrowed}; in phases, space-documents, spaces they are marked _sdc_deleted_at but "
            "kept, even with hard_delete."
        )
    ]
    unmarked = [s for s in streams if s.name not in CHILDREN]
    assert deletion_notices(unmarked, {"project_ids": [1]}) == [f"{narrowed}."]
    # Only tables this sync reads are named; none owned by a project: nothing to say.
    users = [stream("users")]
    assert deletion_notices(users, {"project_ids": [1]}) == []
    deselected = [*users, stand_in(**{**vars(stream("tasks")), "selected": False})]
    assert deletion_notices(deselected, {"emit_activate_version_messages": False}) == [
        (
            "Deletions are off (emit_activate_version_messages: false): rows deleted in Rocketlane "
            "stay in users."
        )
    ]


def test_deletion_notices_when_start_date_moves() -> None:
    june, september = "2025-06-01T00:00:00Z", "2025-09-01T00:00:00Z"
    listed = [
        stream("tasks", scope_start=configured_start({"start_date": june})),
        stream("users", scope_start=configured_start({"start_date": september})),
        stream("time-offs", scope_start=0),  # no updatedAt: no scope of its own
    ]
    later = deletion_notices(listed, {"start_date": "2025-10-01T00:00:00Z"})
    assert later == [
        (
            "start_date 2025-10-01T00:00:00Z is later than 2025-06-01T00:00:00Z, the start these "
            "tables were listed from: syncs keep listing from 2025-06-01T00:00:00Z, so no row "
            "already loaded leaves. To narrow them to the new start_date, run once without state "
            "(meltano run --full-refresh)."
        )
    ]
    earlier = deletion_notices(listed, {"start_date": "2025-01-01T00:00:00Z"})
    assert earlier == [
        (
            "start_date moved earlier, to 2025-01-01T00:00:00Z: this sync lists every table from "
            "there, as a reconcile does."
        )
    ]
    between = deletion_notices(listed, {"start_date": "2025-07-01T00:00:00Z"})
    assert len(between) == 2  # later than tasks' start, earlier than users'
    assert deletion_notices(listed, {"start_date": june})[:1] == [
        (
            "start_date moved earlier, to 2025-06-01T00:00:00Z: this sync lists every table from "
            "there, as a reconcile does."
        )
    ]
    assert deletion_notices(listed[:1], {"start_date": june}) == []
    assert deletion_notices([stream("tasks")], {"start_date": september}) == []  # no state


# ------------------------------------------------------------- syncs, in this process
@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(seed=4, scale=Scale.small(), api_key=API_KEY) as emulator:
        yield emulator


def versions(run: TapRun, stream: str) -> set[int | None]:
    return {
        m.get("version")
        for m in run.messages
        if m["type"] == "RECORD" and m["stream"] == stream and not tombstone(m)
    }


def activations(run: TapRun) -> dict[str, int]:
    found: dict[str, int] = {}
    for m in run.messages:
        if m["type"] == "ACTIVATE_VERSION":
            assert m["stream"] not in found, f"{m['stream']} activated twice"
            found[m["stream"]] = m["version"]
    return found


def tombstone(message: dict[str, Any]) -> bool:
    return message["type"] == "RECORD" and message["record"].get("_sdc_deleted_at") is not None


def tombstones(run: TapRun) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for m in run.messages:
        if tombstone(m):
            found.setdefault(m["stream"], set()).add(m["record"]["id"])
    return found


def test_a_first_sync_versions_every_record_and_activates_each_table_last(
    emu: Emulator, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    started = datetime.now(timezone.utc).timestamp() * 1000
    with caplog.at_level(logging.INFO):
        run = sync_in_process(capfd, tap_config(emu))
    ended = datetime.now(timezone.utc).timestamp() * 1000
    activated = activations(run)
    assert set(activated) == set(STREAMS)
    [version] = set(activated.values())  # the sync's start, in epoch ms
    assert started - 1000 <= version <= ended
    logged = {r.getMessage() for r in caplog.records}
    assert {f"{name}: activating table version {version}" for name in STREAMS} <= logged
    for name in STREAMS:
        assert versions(run, name) == {version}, name
        records = run.records(name)
        assert {r["id"] for r in records} == emu.ids(name), name
        # Live rows of the four tables that get tombstones (docs/deletions.md) say so (null);
        # other tables have no such column.
        marked = [r["_sdc_deleted_at"] for r in records if "_sdc_deleted_at" in r]
        assert marked == ([None] * len(records) if name in {"projects", *CHILDREN} else []), name
    kinds = [m["type"] for m in run.messages]
    first = kinds.index("ACTIVATE_VERSION")
    assert "RECORD" not in kinds[first:]
    assert "STATE" in kinds[:first]
    bookmarks = run.final_state["bookmarks"]
    for name in STREAMS:
        assert bookmarks[name]["table_version"] == version, name
    for name in ("users", "fields", "time-offs", "tasks", "projects", "time-entries"):
        assert bookmarks[name]["listed"] == len(emu.ids(name)), name
    for name in CHILDREN:
        partitions = {p["context"]["projectId"]: p for p in bookmarks[name]["partitions"]}
        assert set(partitions) == emu.ids("projects"), name
        for project, partition in partitions.items():
            assert partition["version"] == version, name
            owned = {r for r in emu.ids(name) if emu.project_of(name, r) == project}
            assert partition["ids"] == sorted(owned), (name, project)


def test_a_later_sync_activates_only_what_it_listed_in_full(
    emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    first = sync_in_process(capfd, tap_config(emu))
    [v1] = set(activations(first).values())
    touched = {name: min(emu.ids(name)) for name in CHANGES_ONLY}
    for name, rid in touched.items():
        emu.touch(name, rid)
    second = sync_in_process(capfd, tap_config(emu), state=first.final_state)
    activated = activations(second)
    assert set(activated) == set(EVERY_SYNC)
    [v2] = set(activated.values())
    assert v2 > v1
    for name in CHANGES_ONLY:  # an incremental listing: the table's current version
        assert touched[name] in second.ids(name), name
        assert versions(second, name) == {v1}, name
        assert second.final_state["bookmarks"][name]["table_version"] == v1, name
    for name in EVERY_SYNC:
        assert versions(second, name) == {v2}, name
        assert second.ids(name) == emu.ids(name), name
        assert second.final_state["bookmarks"][name]["table_version"] == v2, name
    assert tombstones(second) == {}
    third = sync_in_process(capfd, tap_config(emu, reconcile=True), state=second.final_state)
    assert set(activations(third)) == set(STREAMS)
    assert min(activations(third).values()) > v2


def test_a_list_over_a_page_waits_for_a_reconcile(
    emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    users, fields = len(emu.ids("users")), len(emu.ids("fields"))
    assert users < fields
    config = tap_config(emu, page_size=users - 1)
    first = sync_in_process(capfd, config)
    assert {"users", "fields"} <= set(activations(first))  # no state: full listings
    second = sync_in_process(capfd, config, state=first.final_state)
    assert not {"users", "fields"} & set(activations(second))
    # The last listing fits a page now (`<=`): listed in full again, so activated.
    third = sync_in_process(capfd, tap_config(emu, page_size=users), state=second.final_state)
    assert "users" in activations(third)
    assert "fields" not in activations(third)


def test_deleted_rows_leave_by_tombstones_once_the_sync_succeeds(
    emu: Emulator, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    first = sync_in_process(capfd, tap_config(emu))
    [v1] = set(activations(first).values())
    project = max(emu.ids("projects"))
    owned = {
        name: {r for r in emu.ids(name) if emu.project_of(name, r) == project} for name in CHILDREN
    }
    other = min(r for r in emu.ids("phases") if emu.project_of("phases", r) != project)
    other_project = emu.project_of("phases", other)
    emu.delete("phases", other)
    emu.delete("projects", project)
    with caplog.at_level(logging.INFO):
        second = sync_in_process(capfd, tap_config(emu), state=first.final_state)
    [v2] = set(activations(second).values())
    expected = {"projects": {project}, **owned}
    expected["phases"] = owned["phases"] | {other}
    assert tombstones(second) == expected
    for m in second.messages:
        if tombstone(m):
            record = m["record"]
            # The table's last activated version, so its next activation removes it; the
            # time it was found gone: this sync's start.
            assert m["version"] == v1
            assert epoch_ms(record["_sdc_deleted_at"]) == v2
            key = ID_KEYS[m["stream"]]
            assert record[key] == record["id"]
            assert set(record) == {"id", key, "projectId", "_sdc_deleted_at"}, record
            if m["stream"] != "projects":  # with its partition's context
                assert record["projectId"] == (other_project if record["id"] == other else project)
    logged = {r.getMessage() for r in caplog.records}
    for name, ids in expected.items():
        assert (
            f"{name}: {len(ids)} records deleted in Rocketlane sent with _sdc_deleted_at "
            f"(table version {v1})"
        ) in logged, name
    kinds = [m["type"] for m in second.messages]
    last_record = max(i for i, m in enumerate(second.messages) if m["type"] == "RECORD")
    assert tombstone(second.messages[last_record])
    assert kinds.index("ACTIVATE_VERSION") > last_record
    for name in CHILDREN:  # the deleted project's partitions are gone
        partitions = second.final_state["bookmarks"][name]["partitions"]
        assert project not in {p["context"]["projectId"] for p in partitions}
    assert "deleted" not in second.final_state["bookmarks"]["phases"]
    third = sync_in_process(capfd, tap_config(emu), state=second.final_state)
    assert tombstones(third) == {}


def test_deletions_off_send_no_version_and_no_tombstone(
    emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    config = tap_config(emu, emit_activate_version_messages=False)
    first = sync_in_process(capfd, config)
    emu.delete("phases", min(emu.ids("phases")))
    emu.delete("projects", max(emu.ids("projects")))  # its children answer 404
    second = sync_in_process(capfd, config, state=first.final_state)
    for name in ("tasks", "time-entries"):  # without deletions to find, none listed in full
        assert len(second.records(name)) < len(emu.ids(name)), name
    for run in (first, second):
        assert activations(run) == {}
        assert tombstones(run) == {}
        assert all("version" not in m for m in run.messages if m["type"] == "RECORD")


def test_project_ids_activate_no_table_a_project_owns(
    emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    wanted = sorted(emu.ids("projects"))[:2]
    config = tap_config(emu, project_ids=wanted)
    first = sync_in_process(capfd, config)
    assert set(activations(first)) == {"users", "fields", "time-offs"}
    phase = min(r for r in emu.ids("phases") if emu.project_of("phases", r) in wanted)
    emu.delete("phases", phase)
    second = sync_in_process(
        capfd, tap_config(emu, project_ids=wanted, reconcile=True), state=first.final_state
    )
    assert set(activations(second)) == {"users", "fields", "time-offs"}
    assert tombstones(second) == {"phases": {phase}}


def test_start_date_is_the_scope_each_sync_lists_from(
    emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    tasks = sorted(r["updatedAt"] for r in emu.truth("tasks"))
    pivot = tasks[len(tasks) // 2]
    start = ms_text(pivot)
    first = sync_in_process(capfd, tap_config(emu, start_date=start))
    assert first.ids("tasks") == {
        r["taskId"] for r in emu.truth("tasks") if r["updatedAt"] >= pivot
    }
    for name in STREAMS:
        expected = None if name == "time-offs" else pivot
        assert first.final_state["bookmarks"][name].get("scope_start") == expected, name
    assert "tasks" in activations(first)


def test_project_ids_list_each_project_incrementally(
    emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    wanted = sorted(emu.ids("projects"))[:2]
    first = sync_in_process(capfd, tap_config(emu, project_ids=wanted, lookback_minutes=0))
    tasks = {t for t in emu.ids("tasks") if emu.project_of("tasks", t) in wanted}
    assert first.ids("tasks") == tasks
    task = min(tasks)
    emu.touch("tasks", task)
    second = sync_in_process(
        capfd, tap_config(emu, project_ids=wanted, lookback_minutes=0), state=first.final_state
    )
    # Each project's tasks from its own bookmark: the change, and what shares its millisecond.
    assert task in second.ids("tasks")
    assert len(second.ids("tasks")) < len(tasks)


def test_project_ids_that_match_no_project(
    emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    run = sync_in_process(capfd, tap_config(emu, project_ids=[5_000_000_001]))
    assert not run.records("projects")
    assert set(activations(run)) == {"users", "fields", "time-offs"}


def test_invoice_lines_leave_by_their_table_version_not_tombstones(
    emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    config = tap_config(emu)
    catalog = select(TapPM(config=config).catalog_dict, ("invoices", "invoice-lines"))
    first = sync_in_process(capfd, config, catalog=catalog)
    partitions = first.final_state["bookmarks"]["invoice-lines"]["partitions"]
    assert partitions
    assert all("ids" not in p for p in partitions)  # ids are kept for a project's children only
    emu.delete("invoice-lines", min(emu.ids("invoice-lines")))
    second = sync_in_process(capfd, config, catalog=catalog, state=first.final_state)
    assert tombstones(second) == {}
    assert activations(second)["invoice-lines"] > activations(first)["invoice-lines"]
    assert second.ids("invoice-lines") == emu.ids("invoice-lines")
