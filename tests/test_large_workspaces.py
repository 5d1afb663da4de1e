"""Large workspaces: incremental syncs that cost what changed, within a bound, and progress.

Hourly syncs are simulated by running the tap with its clock an hour further on each time
(tests/shifted_clock.py); the emulator keeps the real time.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING

import pytest
from conftest import API_KEY, TapRun, discover, run_tap, select, tap_config

from rocketlane_emulator import Emulator, Faults, Scale
from tap_pm.projects import choose_revisits

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

HOUR = 3600
# Unchanged projects re-read per sync at least (the README's project_revisit_hours: "at least
# 20"), so a small workspace stays exact every sync.
DOCUMENTED_MIN_REVISITS = 20


# ------------------------------------------------------------------- the schedule itself
def test_exact_mode_and_rare_syncs_read_every_project() -> None:
    last = dict.fromkeys(range(100), 0.0)
    assert choose_revisits(last, now=HOUR, since_last_sync=HOUR, hours=0) == sorted(last)
    assert choose_revisits(last, now=HOUR, since_last_sync=12 * HOUR, hours=24) == sorted(last)


def test_each_sync_reads_its_share_longest_unread_first() -> None:
    last = {p: float(p) for p in range(230)}  # project 0 unread the longest
    chosen = choose_revisits(last, now=HOUR, since_last_sync=HOUR, hours=24)
    assert chosen == list(
        range(DOCUMENTED_MIN_REVISITS)
    )  # a share of ceil(230 / 23) = 10, at least 20
    many = dict.fromkeys(range(3000), 0.0)
    assert len(choose_revisits(many, now=HOUR, since_last_sync=HOUR, hours=24)) == 131


def test_a_small_workspace_re_reads_every_project_every_sync() -> None:
    small = {p: float(p) for p in range(DOCUMENTED_MIN_REVISITS)}
    assert choose_revisits(small, now=HOUR, since_last_sync=HOUR, hours=24) == sorted(small)
    one_more = {p: float(p) for p in range(DOCUMENTED_MIN_REVISITS + 1)}
    chosen = choose_revisits(one_more, now=HOUR, since_last_sync=HOUR, hours=24)
    assert chosen == list(range(DOCUMENTED_MIN_REVISITS))


def test_projects_overdue_by_the_next_sync_are_all_read() -> None:
    last = {p: (0.0 if p < 50 else 20 * HOUR) for p in range(1000)}
    chosen = choose_revisits(last, now=23.5 * HOUR, since_last_sync=HOUR, hours=24)
    # 23.5 h unread, 24.5 h by the next sync: all 50, more than the share (ceil(1000 / 23)).
    assert chosen == list(range(50))
    # Exactly 24 h by the next sync is not overdue yet: only the share, the oldest first.
    last = {p: (HOUR / 2 if p < 50 else 20 * HOUR) for p in range(1000)}
    chosen = choose_revisits(last, now=23.5 * HOUR, since_last_sync=HOUR, hours=24)
    assert chosen == list(range(44))
    # 10 s past the bound by the next sync is overdue.
    last = {p: (HOUR / 2 - 10 if p < 50 else 20 * HOUR) for p in range(1000)}
    chosen = choose_revisits(last, now=23.5 * HOUR, since_last_sync=HOUR, hours=24)
    assert chosen == list(range(50))


def test_longest_unread_first_whatever_the_ids() -> None:
    last = {p: float(1000 - p) for p in range(100)}  # the highest id unread the longest
    chosen = choose_revisits(last, now=HOUR, since_last_sync=HOUR, hours=24)
    assert chosen == list(range(99, 79, -1))
    tied = dict.fromkeys((7, 3, 5), 0.0) | {1: 10.0}
    assert choose_revisits(tied, now=HOUR, since_last_sync=HOUR, hours=24) == [3, 5, 7, 1]


@pytest.mark.parametrize(
    ("since_last_sync", "hours", "everything"),
    [
        (HOUR, 2, True),  # syncs half the window apart: each must read all
        (HOUR, 3, False),  # a third: half of them (100 * 1 / 2)
        (24 * HOUR, 24, True),  # a missed day
        (-60, 0, True),  # exact mode, even with this machine's clock moved back
        (0.1, 0.9 / HOUR, False),  # a window under a second is still a window
    ],
)
def test_when_every_project_is_read(since_last_sync: float, hours: float, everything: bool) -> None:
    last = dict.fromkeys(range(100), 0.0)
    chosen = choose_revisits(last, now=0.0, since_last_sync=since_last_sync, hours=hours)
    assert (chosen == list(range(100))) is everything
    if not everything:
        assert len(chosen) <= 50


# ------------------------------------------------------------------------ end to end
def phases_read(emu: Emulator) -> Counter[int]:
    """Projects whose phases were requested, since the log was reset."""
    return Counter(int(e.params["projectId"]) for e in emu.request_log if e.resource == "phases")


@pytest.fixture
def workspace() -> Iterator[Emulator]:
    """120 small projects: enough for the share of a sync to be more than the minimum."""
    scale = Scale(
        users=6, projects=120, tasks=120, time_entries=20, time_offs=4, phases_per_project=2,
        spaces_per_project=1, documents_per_project=1, big_project=None,
    )  # fmt: skip
    with Emulator(seed=3, scale=scale, api_key=API_KEY, faults=Faults()) as emu:
        yield emu


def test_every_changed_child_arrives_within_the_bound(workspace: Emulator, tmp_path: Path) -> None:
    emu, bound_hours, rng = workspace, 4, random.Random(7)
    config = tap_config(emu, project_revisit_hours=bound_hours)
    catalog = select(discover(tmp_path, config), ("projects", "phases"))
    first = run_tap(tmp_path, config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-3000:]
    state = first.final_state
    last_read = dict.fromkeys(emu.ids("projects"), 0)
    pending: dict[int, int] = {}  # changed phase -> the hour it changed (just after a sync)
    visits = []
    for hour in range(1, 13):
        for phase in rng.sample(sorted(emu.ids("phases")), 3):  # projects stay unchanged
            emu.touch("phases", phase)
            pending.setdefault(phase, hour - 1)
        emu.reset_log()
        run = run_tap(tmp_path, config, catalog=catalog, state=state, clock_offset=hour * HOUR)
        assert run.returncode == 0, run.stderr[-3000:]
        state = run.final_state
        read = phases_read(emu)
        visits.append(len(read))
        for project in read:
            last_read[project] = hour
        # No project goes unread for longer than the bound.
        assert max(hour - h for h in last_read.values()) <= bound_hours, hour
        for phase in run.ids("phases") & pending.keys():
            assert hour - pending.pop(phase) <= bound_hours, phase
        assert all(hour - changed < bound_hours for changed in pending.values())
        assert "unchanged projects" in run.stderr
    # Even work, no stampede once the full sync ages: 120 * 1 / (4 - 1) = 40 projects a sync,
    # and the few the look-back lists as changed again.
    assert max(visits) - min(visits) <= 1, visits
    assert 40 <= min(visits) <= max(visits) <= 45, visits


def test_exact_mode_and_changed_projects(workspace: Emulator, tmp_path: Path) -> None:
    emu = workspace
    catalog = select(discover(tmp_path, tap_config(emu)), ("projects", "phases"))
    first = run_tap(tmp_path, tap_config(emu), catalog=catalog)
    assert first.returncode == 0, first.stderr[-3000:]
    # The default bound: an hourly sync reads the minimum share, and every changed project.
    changed = sorted(emu.ids("projects"))[-5:]
    for project in changed:
        emu.touch("projects", project)
    emu.reset_log()
    hourly = run_tap(
        tmp_path, tap_config(emu), catalog=catalog, state=first.final_state, clock_offset=HOUR
    )
    assert hourly.returncode == 0, hourly.stderr[-3000:]
    read = phases_read(emu)
    listed = hourly.ids("projects")  # the changed ones, and those the look-back lists again
    assert set(changed) <= listed <= set(read)
    assert len(read) == len(listed) + DOCUMENTED_MIN_REVISITS
    # Exact: every project, every sync.
    emu.reset_log()
    exact = run_tap(
        tmp_path, tap_config(emu, project_revisit_hours=0), catalog=catalog,
        state=hourly.final_state, clock_offset=2 * HOUR,
    )  # fmt: skip
    assert exact.returncode == 0, exact.stderr[-3000:]
    assert set(phases_read(emu)) == emu.ids("projects")


def test_a_project_not_read_keeps_its_rows_and_deletions_follow_within_the_bound(
    workspace: Emulator, tmp_path: Path
) -> None:
    from test_deletions import Warehouse  # noqa: PLC0415 - the model target

    emu, warehouse = workspace, Warehouse()
    config = tap_config(emu, project_revisit_hours=4)
    catalog = select(discover(tmp_path, config), ("projects", "phases"))
    first = run_tap(tmp_path, config, catalog=catalog)
    warehouse.load(first.messages)
    state = first.final_state
    owner = {phase: emu.project_of("phases", phase) for phase in emu.ids("phases")}
    gone = sorted(owner)[:: len(owner) // 6]  # phases of projects read at different hours
    for phase in gone:
        emu.delete("phases", phase)
    read: set[int] = set()
    for hour in range(1, 5):
        emu.reset_log()
        run = run_tap(tmp_path, config, catalog=catalog, state=state, clock_offset=hour * HOUR)
        assert run.returncode == 0, run.stderr[-3000:]
        warehouse.load(run.messages)
        state = run.final_state
        read |= set(phases_read(emu))
        assert warehouse.live("phases") >= emu.ids("phases"), hour  # nothing live lost
        # A deleted phase leaves at the first sync that reads its project, not before.
        still = {phase for phase in gone if phase in warehouse.live("phases")}
        assert still == {phase for phase in gone if owner[phase] not in read}, hour
        if hour == 1:
            assert gone[0] not in still  # the lowest ids are read first
            assert still, "some projects are read later"
    assert warehouse.live("phases") == emu.ids("phases")


# ------------------------------------------------------------------------------ progress
LINE = re.compile(r"^(\S+ \S+) .*Progress (\S+): (.*)$")


def progress_lines(stderr: str) -> list[tuple[datetime, str, str]]:
    lines = []
    for line in stderr.splitlines():
        if match := LINE.match(line):
            when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")  # noqa: DTZ007
            lines.append((when, match.group(2), match.group(3)))
    return lines


def test_progress_is_logged_at_most_once_an_interval_and_at_the_end(tmp_path: Path) -> None:
    faults = Faults(latency_s=0.05)
    with Emulator(seed=1, scale=Scale.default(), api_key=API_KEY, faults=faults) as emu:
        config = tap_config(emu, progress_interval_seconds=1, max_requests_per_minute=600)
        first = run_tap(tmp_path, config)
        assert first.returncode == 0, first.stderr[-3000:]
        lines = progress_lines(first.stderr)
        streams = {"projects", "spaces", "phases", "space-documents", "tasks", "time-entries"}
        streams |= {"users", "fields", "time-offs"}
        done = [(s, text) for _, s, text in lines if "(done)" in text]
        assert sorted(s for s, _ in done) == sorted(streams)  # one closing line each
        for stream in streams:
            times = [when for when, s, text in lines if s == stream and "(done)" not in text]
            gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
            assert all(gap >= 0.9 for gap in gaps), (stream, gaps)
        # Spaces ran long enough to report while under way: projects done of those in scope.
        assert any(s == "spaces" and "(done)" not in t for _, s, t in lines)
        closing = dict(done)
        assert closing["tasks"].startswith("600 of 600 records")
        phases = len(emu.ids("phases"))
        assert closing["phases"].startswith(f"projects 12 of 12, {phases} records")
        assert f"{len(emu.request_log)} requests made, about 0 to go" in done[-1][1]
        # With the state, the next sync is sized by this one's requests: an estimate, not a floor.
        second = run_tap(tmp_path, config, state=first.final_state)
        assert second.returncode == 0, second.stderr[-3000:]
        assert all("at least" not in text for _, _, text in progress_lines(second.stderr))
        assert "to go, about" in second.stderr


def test_state_goes_out_at_each_stream_end_not_after_every_project(
    full_sync: TapRun, shared_emulator: Emulator
) -> None:
    # The SDK would send the whole state after each of the 3 * 12 project partitions.
    states = [m for m in full_sync.messages if m["type"] == "STATE"]
    assert len(states) <= 2 * 9 + 1
    assert len(shared_emulator.ids("projects")) * 3 > 2 * 9 + 1
    final = states[-1]["value"]["bookmarks"]
    for stream in ("spaces", "phases", "space-documents"):  # every partition in the last one
        projects = {p["context"]["projectId"] for p in final[stream]["partitions"]}
        assert projects == shared_emulator.ids("projects"), stream
