"""History across syncs: dbt's snapshots (transform/snapshots) and the history marts over them.

Three syncs into PostgreSQL, each followed by `dbt build`, with changes in Rocketlane in
between: each changed task lists exactly the statuses it had, stamped with the times Rocketlane
stamped the changes; a task touched without a status change, and every task the syncs sent
again unchanged, has one row; a deleted task or phase closes its history.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import date, timedelta
from typing import TYPE_CHECKING

from test_dbt import MARTS, dbt_meltano, run  # noqa: F401 - the fixture
from test_meltano import Warehouse, postgres, to_ms  # noqa: F401 - the fixture

if TYPE_CHECKING:
    from rocketlane_emulator import Emulator

HOUR_MS = 3_600_000


def change(emu: Emulator, resource: str, record_id: int, **values: object) -> dict:
    """Set top-level values of a record, then edit it now (updatedAt moves); return a copy."""
    store = emu._store  # noqa: SLF001 - the test changes what the API answers
    with store.lock:
        store.tables[resource].rows[record_id].update(values)
    return emu.touch(resource, record_id)


def status(value: int) -> dict:
    return {"value": value, "label": f"Status {value}"}


def later(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


def by_key(rows: list[dict], key: str) -> dict[int, list[dict]]:
    """Rows per record, in the order of their stretch or version."""
    out: dict[int, list[dict]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r[key], to_ms(r.get("entered_at") or r["valid_from"]))):
        out[row[key]].append(row)
    return out


def stretches(rows: list[dict]) -> list[tuple[int, int, int | None]]:
    """(status value, entered at, left at) of a record's status history, in epoch ms."""
    return [
        (r["status_value"], to_ms(r["entered_at"]), r["left_at"] and to_ms(r["left_at"]))
        for r in rows
    ]


def test_three_syncs_give_each_changed_task_its_statuses_with_times(
    dbt_meltano,  # noqa: F811
    emulator,
    postgres,  # noqa: F811
):
    database = postgres.new_database("tap_pm_history")
    env = {**postgres.loader_env(database), "MELTANO_RUN_STATE_ID_SUFFIX": "history"}
    tasks = {t["taskId"]: t for t in emulator.truth("tasks")}
    projects = {p["projectId"]: p for p in emulator.truth("projects")}
    phases = {p["phaseId"]: p for p in emulator.truth("phases")}
    ids = sorted(tasks)
    a, b, c, d = ids[10], ids[20], ids[30], ids[40]  # changed tasks
    dated = next(t for t in ids[60:] if tasks[t].get("dueDate"))
    p, q = sorted(projects)[2], next(i for i in sorted(projects)[3:] if projects[i].get("dueDate"))
    x, y = sorted(phases)[5], sorted(phases)[6]
    first = {i: (t["status"]["value"], t["updatedAt"]) for i, t in tasks.items()}
    run(dbt_meltano, emulator, "tap-pm", "target-postgres", "dbt-postgres:build", **env)

    # Between the first and second syncs: statuses, a due date, a touch that changes no status.
    s0 = first[a][0]
    one = {
        a: change(emulator, "tasks", a, status=status(s0 % 4 + 1))["updatedAt"],
        b: change(emulator, "tasks", b, status=status(first[b][0] % 4 + 1))["updatedAt"],
    }
    emulator.touch("tasks", c)
    change(emulator, "tasks", dated, dueDate=later(tasks[dated]["dueDate"], 3))
    project_changed = change(
        emulator, "projects", p, status=status(projects[p]["status"]["value"] % 5 + 1)
    )
    change(emulator, "projects", q, dueDate=later(projects[q]["dueDate"], 10))
    phase_changed = change(
        emulator, "phases", x, status=status(phases[x]["status"]["value"] % 3 + 1)
    )
    run(dbt_meltano, emulator, "tap-pm", "target-postgres", "dbt-postgres:build", **env)

    # Between the second and third: task a again; task d and phase y deleted. The third sync
    # is a reconcile: every task comes again, and deleted ones are marked in the warehouse.
    two = change(emulator, "tasks", a, status=status((s0 % 4 + 1) % 4 + 1))["updatedAt"]
    emulator.delete("tasks", d)
    emulator.touch("projects", emulator.project_of("phases", y))  # visited: its phases listed
    emulator.delete("phases", y)
    deleting = time.time() * 1000
    run(
        dbt_meltano, emulator, "tap-pm", "target-postgres", "dbt-postgres:build",
        TAP_PM_RECONCILE="true", **env,
    )  # fmt: skip
    done = time.time() * 1000
    marts = postgres.read(database, MARTS)

    history = by_key(marts.tables["rocketlane__task_status_history"], "task_id")
    assert stretches(history[a]) == [
        (s0, first[a][1], one[a]),
        (s0 % 4 + 1, one[a], two),
        ((s0 % 4 + 1) % 4 + 1, two, None),
    ]
    closed = history[a][0]
    assert abs(float(closed["hours_in_status"]) - (one[a] - first[a][1]) / HOUR_MS) < 1e-6
    assert [r["status_number"] for r in history[a]] == [1, 2, 3]
    assert [r["is_current"] for r in history[a]] == [False, False, True]
    assert stretches(history[b]) == [
        (first[b][0], first[b][1], one[b]),
        (first[b][0] % 4 + 1, one[b], None),
    ]
    # Unchanged, touched, re-synced: one stretch from the first capture, still current.
    for task_id in set(tasks) - {a, b, d}:
        assert stretches(history[task_id]) == [(first[task_id][0], first[task_id][1], None)]
        current = history[task_id][0]
        expected_hours = (done - first[task_id][1]) / HOUR_MS
        assert expected_hours - 0.5 < float(current["hours_in_status"]) <= expected_hours + 0.01
    # Deleted: its one stretch closed when the build no longer found it.
    [gone] = history[d]
    assert gone["is_deleted"]
    assert not gone["is_current"]
    assert deleting - 60_000 < to_ms(gone["left_at"]) < done + 60_000
    assert not any(r["is_deleted"] for t, rows in history.items() if t != d for r in rows)

    versions = by_key(marts.tables["rocketlane__task_history"], "task_id")
    check_task_versions(versions, tasks=len(tasks), a=a, c=c, dated=dated)

    check_projects_and_phases(
        marts, projects=projects, phases=phases, p=p, q=q, x=x, y=y,
        p_new=project_changed, x_new=phase_changed,
    )  # fmt: skip


def check_projects_and_phases(marts: Warehouse, *, projects, phases, p, q, x, y, p_new, x_new):
    """Project p's status changed once, project q's due date moved 10 days later; phase x's
    status changed once, phase y was deleted; no other project or phase changed."""
    projects_history = by_key(marts.tables["rocketlane__project_status_history"], "project_id")
    assert stretches(projects_history[p]) == [
        (projects[p]["status"]["value"], projects[p]["updatedAt"], p_new["updatedAt"]),
        (projects[p]["status"]["value"] % 5 + 1, p_new["updatedAt"], None),
    ]
    assert all(len(projects_history[i]) == 1 for i in projects if i != p)
    slipped = by_key(marts.tables["rocketlane__project_history"], "project_id")[q]
    assert [v["due_date_shift_days"] for v in slipped] == [None, 10]

    phases_history = by_key(marts.tables["rocketlane__phase_status_history"], "phase_id")
    assert stretches(phases_history[x]) == [
        (phases[x]["status"]["value"], phases[x]["updatedAt"], x_new["updatedAt"]),
        (phases[x]["status"]["value"] % 3 + 1, x_new["updatedAt"], None),
    ]
    assert phases_history[y][-1]["is_deleted"]
    assert all(len(phases_history[i]) == 1 for i in phases if i != x)


def check_task_versions(versions: dict[int, list[dict]], *, tasks: int, a, c, dated) -> None:
    """Task a's status changed twice, `dated`'s due date moved 3 days later, c was only touched;
    with task b's status change, four versions beyond one per task."""
    assert len(versions[c]) == 1  # a touch that changed nothing tracked adds no version
    moved = versions[dated]
    assert [v["due_date_changed"] for v in moved] == [False, True]
    assert [v["due_date_shift_days"] for v in moved] == [None, 3]
    assert [v["status_changed"] for v in versions[a]] == [False, True, True]
    assert sum(len(rows) for rows in versions.values()) == tasks + 4
