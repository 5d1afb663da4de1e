"""The dbt project in transform/, end to end: `meltano run tap-pm <loader> dbt-<warehouse>:build`.

A sync of the emulator's default workspace through Meltano, then `dbt build` (models and their
own tests) on DuckDB and PostgreSQL; the marts' figures are checked against a computation in
Python from the emulator's records, and rows deleted in Rocketlane must be absent from every
model after a reconcile. Snowflake: the project compiles with dbt-snowflake (offline).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from conftest import API_KEY, STREAMS
from test_meltano import (
    MELTANO,
    TABLES,
    Meltano,
    Warehouse,
    clean_env,
    copy_project,
    delete_as_in_the_issue,
    postgres,  # noqa: F401 - the fixture
    read_duckdb,
)
from test_snowflake import CREDENTIALS as FAKE_CREDENTIALS
from test_snowflake import LAUNCHER as FAKE_LAUNCHER
from test_snowflake import LOADER as FAKE_LOADER

if TYPE_CHECKING:
    from rocketlane_emulator import Emulator

ROOT = Path(__file__).parents[1]
AS_OF = date(2025, 6, 30)  # "today" for overdue flags: inside the emulator's two years of data
MARTS, STAGING = "analytics", "analytics_staging"
COMPLETED = 3  # the status value the models count as done (var task_completed_status_values)
# Staging model and key per stream.
STAGING_KEYS = {
    "projects": ("stg_rocketlane__projects", "project_id"),
    "spaces": ("stg_rocketlane__spaces", "space_id"),
    "phases": ("stg_rocketlane__phases", "phase_id"),
    "space-documents": ("stg_rocketlane__space_documents", "space_document_id"),
    "tasks": ("stg_rocketlane__tasks", "task_id"),
    "time-entries": ("stg_rocketlane__time_entries", "time_entry_id"),
    "users": ("stg_rocketlane__users", "user_id"),
    "fields": ("stg_rocketlane__fields", "field_id"),
    "time-offs": ("stg_rocketlane__time_offs", "time_off_id"),
}
# The generic tests the issue asks `dbt build` to run.
TEST_KINDS = ("unique", "not_null", "relationships", "accepted_values")


@pytest.fixture(scope="session")
def dbt_meltano(tmp_path_factory) -> Meltano:
    """A copy of the project with transform/, the loaders and the dbt utilities installed."""
    assert MELTANO.exists(), "run `make test` (it installs Meltano into .tools/meltano)"
    root = copy_project(tmp_path_factory.mktemp("dbt") / "tap-pm")
    shutil.copytree(
        ROOT / "transform", root / "transform", ignore=shutil.ignore_patterns("target", "logs")
    )
    (root / "output").mkdir()
    env = {k: v for k, v in clean_env().items() if not k.startswith("DBT_")}
    project = Meltano(root, {**env, "DBT_ROCKETLANE_AS_OF_DATE": AS_OF.isoformat()})
    project("install", "tap-pm", "target-duckdb", "target-postgres", "dbt-duckdb", "dbt-postgres")
    return project


def run(meltano: Meltano, emu: Emulator, *blocks: str, **env: str) -> None:
    """`meltano run BLOCKS...` against the emulator."""
    emulator_env = {
        "TAP_PM_API_KEY": API_KEY,
        "TAP_PM_BASE_URL": emu.base_url,
        "TAP_PM_MAX_REQUESTS_PER_MINUTE": "100000",
    }
    meltano("run", *blocks, env={**emulator_env, **env})


def check_dbt_tests_ran(meltano: Meltano) -> None:
    """The last `dbt build` ran the models and the generic tests, every one passed."""
    results = json.loads((meltano.root / "transform/target/run_results.json").read_text())
    statuses = {r["unique_id"]: r["status"] for r in results["results"]}
    failed = {k: s for k, s in statuses.items() if s not in ("success", "pass", "warn")}
    assert not failed, failed
    tests = [k for k in statuses if k.startswith("test.")]
    for kind in TEST_KINDS:
        assert any(f".{kind}_" in k for k in tests), f"no {kind} test ran"
    assert sum(k.startswith("model.") for k in statuses) == 14


# -------------------------------------------------------------------- expectations
def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def live_time_entries(emu: Emulator) -> list[dict]:
    return [e for e in emu.truth("time-entries") if not e.get("deleted")]


def expected_projects(emu: Emulator) -> dict[int, dict[str, int]]:
    """Per project: task counts (completed = status 3, overdue = open and due before AS_OF)
    and minutes of the live time entries."""
    out = {
        pid: dict.fromkeys(
            ("tasks_total", "tasks_open", "tasks_completed", "tasks_overdue", "minutes_logged",
             "minutes_billable", "minutes_non_billable"), 0)
        for pid in emu.ids("projects")
    }  # fmt: skip
    for task in emu.truth("tasks"):
        row = out[task["project"]["projectId"]]
        done = (task.get("status") or {}).get("value") == COMPLETED
        due = task.get("dueDate")
        row["tasks_total"] += 1
        row["tasks_completed" if done else "tasks_open"] += 1
        row["tasks_overdue"] += bool(not done and due and date.fromisoformat(due) < AS_OF)
    for entry in live_time_entries(emu):
        row = out[entry["project"]["projectId"]]
        row["minutes_logged"] += entry["minutes"]
        row["minutes_billable" if entry.get("billable") else "minutes_non_billable"] += entry[
            "minutes"
        ]
    return out


def expected_weeks(emu: Emulator) -> dict[tuple[int, str], dict[str, int | None]]:
    """Per person and ISO week: capacity (capacityInMinutes), time off (minutes per day on each
    Monday-to-Friday of the time off), available, and minutes logged, billable and not."""
    users = {u["userId"]: u for u in emu.truth("users")}
    logged: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])
    for entry in live_time_entries(emu):
        key = (entry["user"]["userId"], week_of(date.fromisoformat(entry["date"])))
        logged[key][0] += entry["minutes"]
        logged[key][1] += entry["minutes"] if entry.get("billable") else 0
    time_off: dict[tuple[int, date], int] = defaultdict(int)
    for off in emu.truth("time-offs"):
        day, end = date.fromisoformat(off["startDate"]), date.fromisoformat(off["endDate"])
        while day <= end:
            if day.weekday() < 5:
                time_off[off["user"]["userId"], week_of(day)] += off["durationInMinutes"] or 0
            day += timedelta(days=1)
    weeks = {w for _, w in logged} | {w for _, w in time_off}
    with_capacity = {uid for uid, u in users.items() if u.get("capacityInMinutes") is not None}
    people = with_capacity | ({uid for uid, _ in logged} & set(users))
    out = {}
    for uid in people:
        capacity = users[uid].get("capacityInMinutes")
        for week in weeks:
            minutes, billable = logged.get((uid, week), (0, 0))
            off = time_off.get((uid, week), 0)
            out[uid, week.isoformat()] = {
                "capacity_minutes": capacity,
                "time_off_minutes": off,
                "available_minutes": None if capacity is None else max(capacity - off, 0),
                "minutes_logged": minutes,
                "minutes_billable": billable,
                "minutes_non_billable": minutes - billable,
            }
    return out


def as_int(value: object) -> int | None:
    return None if value is None else int(float(str(value)))


def check_marts(marts: Warehouse, emu: Emulator) -> None:
    projects = marts.tables["rocketlane__projects"]
    expected = expected_projects(emu)
    assert {r["project_id"] for r in projects} == set(expected)
    for row in projects:
        actual = {k: as_int(row[k]) for k in expected[row["project_id"]]}
        assert actual == expected[row["project_id"]], row["project_name"]
    assert sum(r["tasks_overdue"] for r in projects) > 0  # the check could fail

    tasks = {r["task_id"]: r for r in marts.tables["rocketlane__tasks"]}
    assert set(tasks) == emu.ids("tasks")
    per_task: dict[int, int] = defaultdict(int)
    for entry in live_time_entries(emu):
        if entry.get("task"):
            per_task[entry["task"]["taskId"]] += entry["minutes"]
    for task in emu.truth("tasks"):
        row = tasks[task["taskId"]]
        assert as_int(row["minutes_logged"]) == per_task[task["taskId"]], task["taskId"]
        assert row["assignee_count"] == len(task["assignees"]["members"]), task["taskId"]
        assert row["status_label"] == task["status"]["label"]
        assert row["project_name"] == task["project"]["projectName"]

    weeks = {
        (r["user_id"], str(r["week_start"])[:10]): r
        for r in marts.tables["rocketlane__weekly_utilisation"]
    }
    expected_w = expected_weeks(emu)
    assert set(weeks) == set(expected_w)
    for key, values in expected_w.items():
        actual = {k: as_int(weeks[key][k]) for k in values}
        assert actual == values, key
    assert sum(v["time_off_minutes"] for v in expected_w.values()) > 0


def staging_ids(staging: Warehouse, stream: str) -> set[int]:
    model, key = STAGING_KEYS[stream]
    return {int(r[key]) for r in staging.tables[model]}


def check_staging(staging: Warehouse, emu: Emulator) -> None:
    """Each staging model holds exactly the live records (no deleted time entry)."""
    for stream in STREAMS:
        expected = emu.ids(stream)
        if stream == "time-entries":
            expected = {e["timeEntryId"] for e in live_time_entries(emu)}
        assert staging_ids(staging, stream) == expected, stream
    values = staging.tables["stg_rocketlane__custom_field_values"]
    tasks_with_fields = {t["taskId"] for t in emu.truth("tasks") if t.get("fields")}
    assert {r["object_id"] for r in values if r["object_type"] == "TASK"} == tasks_with_fields


# ---------------------------------------------------------------------------- tests
def test_dbt_build_on_duckdb_matches_the_emulator(dbt_meltano, shared_emulator, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    run(
        dbt_meltano, shared_emulator, "--full-refresh", "--no-state-update",
        "tap-pm", "target-duckdb", "dbt-duckdb:build",
        TARGET_DUCKDB_FILEPATH=str(path), DBT_DUCKDB_PATH=str(path),
    )  # fmt: skip
    check_dbt_tests_ran(dbt_meltano)
    check_staging(read_duckdb(path, STAGING), shared_emulator)
    check_marts(read_duckdb(path, MARTS), shared_emulator)


def test_dbt_build_on_postgres_matches_the_emulator_then_drops_deleted_rows(
    dbt_meltano,
    emulator,
    postgres,  # noqa: F811
):
    """A full sync and `dbt build`: the marts match the emulator. Then test_meltano's deletions
    and a reconcile (soft delete: the loader marks rows `_sdc_deleted_at`) and `dbt build`
    again: no deleted row is left in any model, and the marts match again."""
    database = postgres.new_database("tap_pm_dbt")
    env = {**postgres.loader_env(database), "MELTANO_RUN_STATE_ID_SUFFIX": "dbt-postgres"}
    run(dbt_meltano, emulator, "tap-pm", "target-postgres", "dbt-postgres:build", **env)
    check_dbt_tests_ran(dbt_meltano)
    check_staging(postgres.read(database, STAGING), emulator)
    check_marts(postgres.read(database, MARTS), emulator)

    gone = delete_as_in_the_issue(emulator, [])
    run(
        dbt_meltano, emulator, "tap-pm", "target-postgres", "dbt-postgres:build",
        TAP_PM_RECONCILE="true", **env,
    )  # fmt: skip
    check_dbt_tests_ran(dbt_meltano)
    raw = postgres.read(database)
    marked = {t: {r["id"] for r in rows if r["_sdc_deleted_at"]} for t, rows in raw.tables.items()}
    for stream in STREAMS:  # the loader kept the rows, marked: the models must drop them
        assert gone[stream] <= marked[TABLES[stream]], stream
    staging, marts = postgres.read(database, STAGING), postgres.read(database, MARTS)
    check_staging(staging, emulator)
    for stream in STREAMS:
        assert not staging_ids(staging, stream) & gone[stream], stream
    project_ids = {r["project_id"] for r in marts.tables["rocketlane__projects"]}
    assert project_ids == emulator.ids("projects")
    assert {r["task_id"] for r in marts.tables["rocketlane__tasks"]} == emulator.ids("tasks")
    people = {r["user_id"] for r in marts.tables["rocketlane__weekly_utilisation"]}
    assert people <= emulator.ids("users")
    assert not people & gone["users"]
    live = {
        "PROJECT": emulator.ids("projects"),
        "TASK": emulator.ids("tasks"),
        "USER": emulator.ids("users"),
        "TIME_ENTRY": {e["timeEntryId"] for e in live_time_entries(emulator)},
    }
    for row in staging.tables["stg_rocketlane__custom_field_values"]:
        assert row["object_id"] in live[row["object_type"]], row
    assert {r["task_id"] for r in staging.tables["stg_rocketlane__task_assignees"]} <= live["TASK"]
    check_marts(marts, emulator)


# ------------------------------------------------------------------------ Snowflake
FAKESNOW = "fakesnow==0.12.1"  # as tests/fakesnow_target pins it
SNOWFLAKE_READER = """
import decimal, json, sys, fakesnow, snowflake.connector
def plain(value):
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
out = {}
with fakesnow.patch(db_path=sys.argv[1]):
    cursor = snowflake.connector.connect(database="ANALYTICS").cursor()
    for schema in ("ANALYTICS", "ANALYTICS_STAGING"):
        cursor.execute(  # fakesnow lists views apart
            "select table_name from information_schema.tables where table_schema = %s union"
            " select table_name from information_schema.views where table_schema = %s",
            (schema, schema))
        for (table,) in cursor.fetchall():
            cursor.execute(f'select * from ANALYTICS."{schema}"."{table}"')  # database too
            names = [d[0].lower() for d in cursor.description]
            out[f"{schema.lower()}.{table.lower()}"] = [
                {k: plain(v) for k, v in zip(names, row)} for row in cursor.fetchall()]
print(json.dumps(out, default=str))
"""


@pytest.fixture(scope="session")
def dbt_snowflake(dbt_meltano) -> Meltano:
    """dbt_meltano's project with test_snowflake's fake loader (target-snowflake on fakesnow) and
    a test-only dbt utility: dbt-snowflake run under fakesnow (`fakesnow -d DIR dbt ...`)."""
    path = dbt_meltano.root / "meltano.yml"
    project = yaml.safe_load(path.read_text())
    plugins = project["plugins"]
    [target] = [p for p in plugins["loaders"] if p["name"] == "target-snowflake"]
    [dbt] = [p for p in plugins["utilities"] if p["name"] == "dbt-snowflake"]
    plugins["loaders"].append({
        "name": FAKE_LOADER, "inherit_from": "target-snowflake",
        "pip_url": f"{target['pip_url']} {FAKE_LAUNCHER}", "executable": FAKE_LOADER,
    })  # fmt: skip
    plugins["utilities"].append({
        "name": "dbt-snowflake-fake", "inherit_from": "dbt-snowflake",
        "pip_url": f"{dbt['pip_url']} {FAKESNOW}", "executable": "fakesnow",
    })  # fmt: skip
    path.write_text(yaml.safe_dump(project, sort_keys=False, allow_unicode=True))
    dbt_meltano("install", FAKE_LOADER, "dbt-snowflake-fake", env={"UV_COMPILE_BYTECODE": "1"})
    return dbt_meltano


def test_dbt_build_on_fakesnow_matches_the_emulator(dbt_snowflake, shared_emulator, tmp_path):
    """target-snowflake (on fakesnow) loads, then dbt-snowflake builds and tests every model
    through fakesnow: Snowflake's SQL (VARIANT paths, LATERAL FLATTEN, LISTAGG, ISO weeks)
    translated to DuckDB. What fakesnow cannot tell is in docs/loaders.md (Snowflake)."""
    db = tmp_path / "db"
    (db / "tmp").mkdir(parents=True)
    files = {"FAKESNOW_DB_PATH": str(db), "TMPDIR": str(db / "tmp")}
    loader_env = {f"TARGET_SNOWFLAKE_{k.upper()}": v for k, v in FAKE_CREDENTIALS.items()}
    run(
        dbt_snowflake, shared_emulator, "--full-refresh", "--no-state-update",
        "tap-pm", FAKE_LOADER, **loader_env, **files,
    )  # fmt: skip
    venv = dbt_snowflake.root / ".meltano/utilities/dbt-snowflake-fake/venv/bin"
    # One thread: fakesnow attaches the database file once per connection.
    dbt_snowflake(
        "invoke", "dbt-snowflake-fake", "-d", str(db), str(venv / "dbt"), "build", "--threads", "1",
        env={**loader_env, "DBT_ROCKETLANE_SCHEMA": "TAP_PM", "TMPDIR": str(db / "tmp")},
    )  # fmt: skip
    check_dbt_tests_ran(dbt_snowflake)
    proc = subprocess.run(
        [str(venv / "python"), "-c", SNOWFLAKE_READER, str(db)],
        env={**clean_env(), "TMPDIR": str(db / "tmp")},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout)
    tables = {schema: {} for schema in (MARTS, STAGING)}
    for name, rows in data.items():
        schema, table = name.split(".")
        tables[schema][table] = rows
    check_staging(Warehouse(tables[STAGING], {}), shared_emulator)
    check_marts(Warehouse(tables[MARTS], {}), shared_emulator)


def test_dbt_utilities_are_pinned_and_keep_no_secret():
    """Each warehouse's dbt utility pins dbt-core and its adapter, runs `dbt` with the project's
    commands, and takes a password only from the environment (a `$VARIABLE`, never a value)."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    utilities = {p["name"]: p for p in project["plugins"]["utilities"]}
    assert set(utilities) == {"dbt-duckdb", "dbt-postgres", "dbt-snowflake"}
    for name, utility in utilities.items():
        packages = utility["pip_url"].split()
        assert all("==" in p for p in packages), name
        assert any(p.startswith(f"{name}==") for p in packages), name
        assert utility["executable"] == "dbt"
        assert {"build", "run", "test", "compile"} <= set(utility["commands"]), name
        for setting in utility["settings"]:
            if setting.get("sensitive"):
                assert str(setting.get("value", "$")).startswith("$"), (name, setting["name"])
    # dbt-duckdb reads target-duckdb's file: the same DuckDB.
    [loader] = [p for p in project["plugins"]["loaders"] if p["name"] == "target-duckdb"]
    pin = next(p for p in loader["pip_url"].split() if p.startswith("duckdb=="))
    assert pin in utilities["dbt-duckdb"]["pip_url"].split()
    jobs = {j["name"]: j["tasks"] for j in project["jobs"]}
    assert jobs["rocketlane-to-duckdb"] == ["tap-pm target-duckdb dbt-duckdb:build"]
