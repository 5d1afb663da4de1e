"""The projects list and the visits to each project's children (tap_pm/projects.py), with the
tap run in this process.

test_large_workspaces.py and test_sync.py prove the schedule end to end through the CLI; these
run the same tap in the test's process, so that `make mutate` sees which tests reach the code.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest
from conftest import API_KEY, CHILDREN, select, sync_in_process, tap_config

from rocketlane_emulator import Emulator, Faults, Scale
from tap_pm.progress import SyncProgress
from tap_pm.tap import TapPM

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

HOUR = 3600
# The README's project_revisit_hours: "at least 20" unchanged projects re-read per sync.
DOCUMENTED_MIN_REVISITS = 20


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """30 small projects: more than a sync re-reads when nothing changed."""
    scale = Scale(
        users=6, projects=30, tasks=30, time_entries=10, time_offs=2, phases_per_project=1,
        spaces_per_project=1, documents_per_project=1, big_project=None,
    )  # fmt: skip
    with Emulator(seed=6, scale=scale, api_key=API_KEY, faults=Faults()) as emulator:
        yield emulator


def config(emu: Emulator, **settings: Any) -> dict[str, Any]:
    """Without the look-back, so a project comes again only when it changed."""
    return tap_config(emu, lookback_minutes=0, **settings)


@pytest.fixture
def plans(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every plan the sync made for its progress report: (parent stream, records to visit)."""
    made: list[tuple[str, int]] = []
    plan = SyncProgress.plan

    def spy(self: SyncProgress, parent: str, count: int) -> None:
        made.append((parent, count))
        plan(self, parent, count)

    monkeypatch.setattr(SyncProgress, "plan", spy)
    return made


def visited(emu: Emulator, stream: str = "phases") -> set[int]:
    """Projects whose `stream` was requested since the log was reset."""
    return {int(e.params["projectId"]) for e in emu.request_log if e.resource == stream}


def projects_requests(emu: Emulator) -> list[dict[str, str]]:
    return [e.params for e in emu.request_log if e.resource == "projects"]


def an_hour_ago(
    state: dict[str, Any], *, older: Mapping[int, float] | None = None
) -> dict[str, Any]:
    """The state as if its sync ran an hour ago (each project's visit `older` by some seconds)."""
    bookmarks = state["bookmarks"]
    bookmarks["projects"]["synced_at"] -= HOUR
    for stream in CHILDREN:
        for partition in bookmarks[stream]["partitions"]:
            project = partition["context"]["projectId"]
            partition["visited_at"] -= HOUR + (older or {}).get(project, 0)
    return state


def test_a_first_sync_lists_every_project_and_reads_all_children(
    emu: Emulator, capfd: pytest.CaptureFixture[str], plans: list[tuple[str, int]]
) -> None:
    emu.reset_log()
    started = int(time.time())
    run = sync_in_process(capfd, config(emu))
    projects = emu.ids("projects")
    assert run.ids("projects") == projects
    for stream in CHILDREN:
        assert visited(emu, stream) == projects, stream
        assert run.ids(stream) == emu.ids(stream), stream
    [listing] = projects_requests(emu)
    assert "updatedAt.ge" not in listing
    state = run.final_state["bookmarks"]["projects"]
    assert state["scope"] == {
        "project_ids": [],
        "include_archived": True,
        "children": sorted(CHILDREN),
    }
    assert started - 1 <= state["synced_at"] <= time.time()
    assert plans == [("projects", len(projects)), ("projects", len(projects))]


def test_an_hourly_sync_reads_changed_projects_and_its_share_of_the_rest(
    emu: Emulator,
    capfd: pytest.CaptureFixture[str],
    plans: list[tuple[str, int]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = sync_in_process(capfd, config(emu))
    ordered = sorted(emu.ids("projects"))
    changed = ordered[0]
    emu.touch("projects", changed)
    # The longest unread are the highest ids: each project's visit k seconds older.
    older = {project: k for k, project in enumerate(ordered)}
    state = an_hour_ago(first.final_state, older=older)
    emu.reset_log()
    with caplog.at_level(logging.INFO):
        second = sync_in_process(capfd, config(emu), state=state)
    # Listed: the changed one, and those updated in the bookmark's own millisecond (`>=`).
    listed = second.ids("projects")
    assert changed in listed
    assert len(listed) < len(ordered) - DOCUMENTED_MIN_REVISITS
    [listing] = projects_requests(emu)
    assert "updatedAt.ge" in listing
    unchanged = [p for p in ordered if p not in listed]
    revisited = set(unchanged[-DOCUMENTED_MIN_REVISITS:])  # the 20 longest unread
    for stream in CHILDREN:
        assert visited(emu, stream) == listed | revisited, stream
    notes = [r.getMessage() for r in caplog.records if "unchanged projects" in r.getMessage()]
    assert notes == [
        (
            f"projects: re-reading the children of 20 of {len(unchanged)} unchanged projects (each "
            "at least every 24 hours)"
        )
    ]
    # At the first listed project: those listed, and this sync's share; the same once done.
    assert plans[-2:] == [("projects", len(listed) + 20)] * 2
    # Children of projects not read this time keep their state, with their old visit.
    partitions = {
        p["context"]["projectId"]: p
        for p in second.final_state["bookmarks"]["phases"]["partitions"]
    }
    assert set(partitions) == set(ordered)
    assert (
        second.final_state["bookmarks"]["projects"]["synced_at"]
        > state["bookmarks"]["projects"]["synced_at"]
    )


def test_a_project_unread_longest_by_any_child_list_goes_first(
    emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    first = sync_in_process(capfd, config(emu))
    ordered = sorted(emu.ids("projects"))
    state = an_hour_ago(first.final_state, older=dict.fromkeys(ordered[-20:], 100))
    # The lowest id was read as long ago as the others, but its spaces a day before.
    low = ordered[0]
    for partition in state["bookmarks"]["spaces"]["partitions"]:
        if partition["context"]["projectId"] == low:
            partition["visited_at"] -= 24 * HOUR
    emu.reset_log()
    second = sync_in_process(capfd, config(emu), state=state)
    listed = second.ids("projects")
    assert low not in listed
    # Longest unread first: the lowest id (by its spaces), then those 100 s older, by id.
    unchanged = sorted(
        (p for p in ordered if p not in listed),
        key=lambda p: (p != low, p not in ordered[-20:], p),
    )
    assert visited(emu) == listed | set(unchanged[:DOCUMENTED_MIN_REVISITS])


def test_exact_mode_reads_every_project_every_sync(
    emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    first = sync_in_process(capfd, config(emu, project_revisit_hours=0))
    emu.reset_log()
    sync_in_process(
        capfd, config(emu, project_revisit_hours=0), state=an_hour_ago(first.final_state)
    )
    assert visited(emu) == emu.ids("projects")


def bookmark_ms(state: dict[str, Any]) -> int:
    value = state["bookmarks"]["projects"]["replication_key_value"]
    return round(datetime.fromisoformat(value).timestamp() * 1000)


def test_a_new_scope_lists_every_project_again(
    emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    first = sync_in_process(capfd, config(emu))
    mark = bookmark_ms(first.final_state)
    changed = min(emu.ids("projects"))
    emu.touch("projects", changed)
    # Updated since the bookmark (`>=`): the changed one and those of the bookmark's millisecond.
    since = {p["projectId"] for p in emu.truth("projects") if p["updatedAt"] >= mark}
    assert changed in since
    assert len(since) < len(emu.ids("projects"))
    live = {p["projectId"] for p in emu.truth("projects") if not p.get("archived")}
    assert live < emu.ids("projects")
    for settings, scope in (
        ({"project_ids": sorted(emu.ids("projects"))}, emu.ids("projects")),
        ({"include_archived": False}, live),
    ):
        emu.reset_log()
        run = sync_in_process(capfd, config(emu, **settings), state=first.final_state)
        [listing] = projects_requests(emu)
        assert "updatedAt.ge" not in listing, settings
        # Every project's children are read; only the changed projects are records again.
        for stream in CHILDREN:
            assert visited(emu, stream) == scope, (settings, stream)
        assert run.ids("projects") == since & scope, settings


def test_a_reconcile_emits_every_project(emu: Emulator, capfd: pytest.CaptureFixture[str]) -> None:
    first = sync_in_process(capfd, config(emu))
    emu.reset_log()
    run = sync_in_process(capfd, config(emu, reconcile=True), state=first.final_state)
    assert "updatedAt.ge" not in projects_requests(emu)[0]
    assert visited(emu) == emu.ids("projects")
    assert run.ids("projects") == emu.ids("projects")  # the projects table is activated
    assert "projects" in {m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"}


def test_a_small_workspace_re_reads_every_project_without_saying_so(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with Emulator(seed=4, scale=Scale.small(), api_key=API_KEY) as small:
        first = sync_in_process(capfd, config(small))
        small.reset_log()
        with caplog.at_level(logging.INFO):
            sync_in_process(capfd, config(small), state=an_hour_ago(first.final_state))
        assert visited(small) == small.ids("projects")
    assert not [r for r in caplog.records if "unchanged projects" in r.getMessage()]


def test_a_project_any_child_list_knows_is_visited(
    emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    first = sync_in_process(capfd, config(emu))
    state = an_hour_ago(first.final_state)
    mark = bookmark_ms(first.final_state)  # not listed again as changed: known from the state
    project = max(p["projectId"] for p in emu.truth("projects") if p["updatedAt"] < mark)
    for stream in ("phases", "space-documents"):  # known to the spaces list alone
        partitions = state["bookmarks"][stream]["partitions"]
        partitions[:] = [p for p in partitions if p["context"]["projectId"] != project]
    emu.reset_log()
    sync_in_process(capfd, config(emu, project_revisit_hours=0), state=state)
    for stream in CHILDREN:
        assert project in visited(emu, stream), stream


def test_children_are_activated_only_when_every_project_was_listed_since(
    emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    first = sync_in_process(capfd, config(emu))
    state = an_hour_ago(first.final_state)
    # A project this sync does not re-read (neither listed as changed nor among the 20 it
    # re-reads: ties go by id, so the highest stay), its partition from before versions were
    # kept.
    mark = bookmark_ms(first.final_state)
    project = max(p["projectId"] for p in emu.truth("projects") if p["updatedAt"] < mark)
    for partition in state["bookmarks"]["phases"]["partitions"]:
        if partition["context"]["projectId"] == project:
            del partition["version"]
    emu.reset_log()
    second = sync_in_process(capfd, config(emu), state=state)
    assert project not in visited(emu)
    activated = {m["stream"] for m in second.messages if m["type"] == "ACTIVATE_VERSION"}
    assert not activated & set(CHILDREN)  # 10 projects' children were not listed again
    assert {"users", "fields", "time-offs"} <= activated


def test_project_ids_read_only_those_projects(
    emu: Emulator, capfd: pytest.CaptureFixture[str], plans: list[tuple[str, int]]
) -> None:
    wanted = sorted(emu.ids("projects"))[3:5]
    emu.reset_log()
    run = sync_in_process(capfd, config(emu, project_ids=wanted))
    assert run.ids("projects") == set(wanted)
    for stream in CHILDREN:
        assert visited(emu, stream) == set(wanted), stream
    scope = run.final_state["bookmarks"]["projects"]["scope"]
    assert scope["project_ids"] == wanted
    assert plans == [("projects", 2), ("projects", 2)]
    # Later syncs visit them again (children of unchanged projects), and only them.
    emu.reset_log()
    sync_in_process(capfd, config(emu, project_ids=wanted), state=an_hour_ago(run.final_state))
    assert visited(emu) == set(wanted)


def test_a_deleted_project_leaves_with_its_children(
    emu: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    first = sync_in_process(capfd, config(emu))
    victim = min(emu.ids("projects"))  # the first an hourly sync re-reads (ties: by id)
    children = {s: {r for r in emu.ids(s) if emu.project_of(s, r) == victim} for s in CHILDREN}
    emu.delete("projects", victim)
    second = sync_in_process(capfd, config(emu), state=an_hour_ago(first.final_state))
    gone = {
        m["stream"]: m["record"]["id"]
        for m in second.messages
        if m["type"] == "RECORD" and m["record"].get("_sdc_deleted_at")
    }
    assert gone.get("projects") == victim
    tombstones: dict[str, set[int]] = {}
    for m in second.messages:
        if m["type"] == "RECORD" and m["record"].get("_sdc_deleted_at"):
            tombstones.setdefault(m["stream"], set()).add(m["record"]["id"])
    assert tombstones == {"projects": {victim}, **children}
    [project_tombstone] = [
        m["record"]
        for m in second.messages
        if m["type"] == "RECORD"
        and m["stream"] == "projects"
        and m["record"].get("_sdc_deleted_at")
    ]
    assert set(project_tombstone) == {"id", "projectId", "_sdc_deleted_at"}
    assert project_tombstone["projectId"] == victim
    for stream in CHILDREN:
        partitions = second.final_state["bookmarks"][stream]["partitions"]
        assert victim not in {p["context"]["projectId"] for p in partitions}, stream
    # Gone from a full listing too, where it is simply not listed.
    other = max(emu.ids("projects"))
    kids = {s: {r for r in emu.ids(s) if emu.project_of(s, r) == other} for s in CHILDREN}
    emu.delete("projects", other)
    # And one whose children's ids were never kept (a state from before): nothing to mark.
    third_gone = sorted(emu.ids("projects"))[1]
    state = second.final_state
    for stream in CHILDREN:
        for partition in state["bookmarks"][stream]["partitions"]:
            if partition["context"]["projectId"] == third_gone:
                del partition["ids"]
    emu.delete("projects", third_gone)
    third = sync_in_process(capfd, config(emu, reconcile=True), state=state)
    tombstones = {}
    for m in third.messages:
        if m["type"] == "RECORD" and m["record"].get("_sdc_deleted_at"):
            tombstones.setdefault(m["stream"], set()).add(m["record"]["id"])
    assert tombstones == {s: ids for s, ids in kids.items() if ids}
    assert "projects" in {m["stream"] for m in third.messages if m["type"] == "ACTIVATE_VERSION"}


def test_projects_alone_read_no_children(emu: Emulator, capfd: pytest.CaptureFixture[str]) -> None:
    catalog = select(TapPM(config=config(emu)).catalog_dict, ("projects",))
    emu.reset_log()
    run = sync_in_process(capfd, config(emu), catalog=catalog)
    assert run.ids("projects") == emu.ids("projects")
    assert {e.resource for e in emu.request_log} == {"projects"}
    assert set(run.record_counts()) == {"projects"}
