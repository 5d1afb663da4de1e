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
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import marts_expected as expected
import pytest
import yaml
from conftest import API_KEY, STREAMS, opt_in_ids
from test_meltano import (
    MELTANO,
    TABLES,
    Meltano,
    Postgres,
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

from rocketlane_emulator.data import TODAY

if TYPE_CHECKING:
    from rocketlane_emulator import Emulator

ROOT = Path(__file__).parents[1]
AS_OF = TODAY  # "today" of the models (overdue flags, the weeks ahead): the emulator's today
MARTS, STAGING = "analytics", "analytics_staging"
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
# The opt-in streams the models use; loaded with the nine (meltano's TAP_PM__SELECT).
MODELS_OPT_IN = ("invoices", "invoice-lines", "resource-allocations")
WITH_OPT_IN = {"TAP_PM__SELECT": json.dumps([f"{s}.*" for s in (*STREAMS, *MODELS_OPT_IN)])}
OPT_IN_STAGING = {
    "invoices": ("stg_rocketlane__invoices", "invoice_id"),
    "invoice-lines": ("stg_rocketlane__invoice_lines", "invoice_line_id"),
    "resource-allocations": ("stg_rocketlane__resource_allocations", "allocation_key"),
}
# Every model and snapshot of transform/: `dbt build` runs them all.
MODELS = {p.stem for p in (ROOT / "transform/models").rglob("*.sql")}
SNAPSHOTS = {p.stem for p in (ROOT / "transform/snapshots").glob("*.sql")}
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


def dangling_references(emu: Emulator) -> dict[tuple[str, str], bool]:
    """Per (staging model, column) of a warn-severity relationship test, whether the emulator's
    live records give it something to warn about: a live time entry or a time off naming a
    task or a user that is no longer there, an invoice line billing a deleted project. A new
    warn-level test fails check_dbt_tests_ran until it has its entry here."""
    tasks, users = emu.ids("tasks"), emu.ids("users")
    entries = live_time_entries(emu)

    def ids(records: list[dict], ref: str, key: str) -> set[int]:
        return {r[ref][key] for r in records if (r.get(ref) or {}).get(key) is not None}

    return {
        ("stg_rocketlane__time_entries", "task_id"): bool(ids(entries, "task", "taskId") - tasks),
        ("stg_rocketlane__time_entries", "user_id"): bool(ids(entries, "user", "userId") - users),
        # Time off beyond a day's capacity: the emulator has some (FULL_DAY 480 min for a
        # capacity of 1,200 a week), flagged and counted for a day's capacity.
        ("stg_rocketlane__time_offs", "minutes_per_day"): bool(
            expected.time_offs_beyond_a_day(emu)
        ),
        ("stg_rocketlane__time_offs", "user_id"): bool(
            ids(emu.truth("time-offs"), "user", "userId") - users
        ),
        # A line bills the project its PROJECT source names (tap-pm's projectId).
        ("stg_rocketlane__invoice_lines", "project_id"): bool(
            {
                line["sourceId"]
                for line in emu.truth("invoice-lines")
                if line.get("sourceType") == "PROJECT"
            }
            - emu.ids("projects")
        ),
    }


def check_dbt_tests_ran(meltano: Meltano, emu: Emulator) -> None:
    """The last `dbt build` ran the models and the generic tests, every one passed; the three
    that only warn (references to deleted tasks or users) warned exactly when the emulator's
    records give them a dangling reference."""
    target = meltano.root / "transform/target"
    results = json.loads((target / "run_results.json").read_text())
    statuses = {r["unique_id"]: r["status"] for r in results["results"]}
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    warns = dangling_references(emu)
    expected_status = {}
    for unique_id in statuses:
        node = nodes.get(unique_id, {})
        if node.get("config", {}).get("severity", "").lower() == "warn":
            model = node["attached_node"].rsplit(".", 1)[-1]
            where = (model, node["test_metadata"]["kwargs"]["column_name"])
            assert where in warns, f"{where}: a warn-level test dangling_references lacks"
            expected_status[unique_id] = "warn" if warns.pop(where) else "pass"
    assert not warns, f"warn-severity tests that did not run: {warns}"
    failed = {
        k: s for k, s in statuses.items() if s not in {expected_status.get(k, "pass"), "success"}
    }
    assert not failed, failed
    tests = [k for k in statuses if k.startswith("test.")]
    for kind in TEST_KINDS:
        assert any(f".{kind}_" in k for k in tests), f"no {kind} test ran"
    ran = {k.split(".")[-1] for k in statuses if k.startswith(("model.", "snapshot."))}
    assert ran == MODELS | SNAPSHOTS


# -------------------------------------------------------------------- expectations
def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def live_time_entries(emu: Emulator) -> list[dict]:
    return [e for e in emu.truth("time-entries") if not e.get("deleted")]


def expected_projects(emu: Emulator) -> dict[int, dict[str, int]]:
    """Per project: task counts (completed: labelled so, overdue: open and due before AS_OF)
    and minutes of the live time entries."""
    out = {
        pid: dict.fromkeys(
            ("tasks_total", "tasks_open", "tasks_completed", "tasks_overdue", "minutes_logged",
             "minutes_billable", "minutes_non_billable"), 0)
        for pid in emu.ids("projects")
    }  # fmt: skip
    for task in emu.truth("tasks"):
        row = out[task["project"]["projectId"]]
        done = (task.get("status") or {}).get("label") == expected.COMPLETED
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
    time_off: dict[tuple[int, date], float] = defaultdict(float)
    for (user_id, day), minutes in expected.time_off_by_day(emu).items():
        time_off[user_id, week_of(day)] += minutes  # each day's at most a day's capacity
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


def check_money_and_people(marts: Warehouse, emu: Emulator, *, opt_in: bool) -> None:
    """rocketlane__projects' money, rocketlane__users and rocketlane__weeks_ahead against the
    emulator's records; with `opt_in` (invoices and allocations loaded) their columns too, else
    NULL."""
    projects = {r["project_id"]: r for r in marts.tables["rocketlane__projects"]}
    money = expected.project_money(emu, invoices=opt_in)
    assert set(projects) == set(money)
    for project_id, values in money.items():
        text = values.pop("_text")
        expected.check_numbers(projects[project_id], values, project_id)
        for column, value in text.items():
            assert projects[project_id][column] == value, (project_id, column)
    # The checks could fail: money on both sides.
    assert sum(float(r["time_cost"] or 0) for r in projects.values()) > 0
    assert sum(float(r["actual_profit"] or 0) for r in projects.values()) != 0
    check_per_currency(marts, emu, opt_in=opt_in)
    if opt_in:
        assert sum(float(r["invoiced_amount"] or 0) for r in projects.values()) > 0
        assert sum(float(r["outstanding_amount"] or 0) for r in projects.values()) > 0
        # Invoices in several currencies: NULL, not summed (the per-currency mart has them).
        mixed = [r for r in projects.values() if (r["invoice_currency_count"] or 0) > 1]
        assert mixed
        assert all(r["invoiced_amount"] is None and r["outstanding_amount"] is None for r in mixed)

    users = {r["user_id"]: r for r in marts.tables["rocketlane__users"]}
    people = expected.users(emu)
    assert set(users) == set(people)
    for user_id, values in people.items():
        text = values.pop("_text")
        expected.check_numbers(users[user_id], values, user_id)
        for column, value in text.items():
            assert (str(users[user_id][column])[:10] if value else users[user_id][column]) == value

    weeks = {
        (r["user_id"], str(r["week_start"])[:10]): r
        for r in marts.tables["rocketlane__weeks_ahead"]
    }
    plan = expected.weeks_ahead(emu, AS_OF, allocations=opt_in)
    assert set(weeks) == set(plan)
    for key, values in plan.items():
        text = values.pop("_text")
        expected.check_numbers(weeks[key], values, key)
        for column, value in text.items():
            assert weeks[key][column] == value, (key, column)
    if opt_in:  # this week and the next few: some people over their capacity
        over = {key for key, row in weeks.items() if row["is_over_allocated"]}
        assert 0 < len(over) < len(weeks) // 4
    check_allocations_per_project(marts, emu, opt_in=opt_in)

    for object_type, mart, stream, key in (
        ("PROJECT", "rocketlane__projects", "projects", "project_id"),
        ("TASK", "rocketlane__tasks", "tasks", "task_id"),
        ("USER", "rocketlane__users", "users", "user_id"),
    ):
        id_key = {"projects": "projectId", "tasks": "taskId", "users": "userId"}[stream]
        values = expected.custom_field_values(emu, emu.truth(stream), object_type, id_key)
        expected.check_custom_fields(marts.tables[mart], values, key)
        assert any(v is not None for row in values.values() for v in row.values())


def check_per_currency(marts: Warehouse, emu: Emulator, *, opt_in: bool) -> None:
    """rocketlane__project_currency_amounts: each project's amounts per currency."""
    amounts = {
        (r["project_id"], r["currency_code"]): r
        for r in marts.tables["rocketlane__project_currency_amounts"]
    }
    per_currency = expected.currency_amounts(emu, invoices=opt_in)
    assert set(amounts) == set(per_currency)
    for key, values in per_currency.items():
        expected.check_numbers(amounts[key], values, key)
    assert len({currency for _, currency in amounts}) > 1


def check_allocations_per_project(marts: Warehouse, emu: Emulator, *, opt_in: bool) -> None:
    """rocketlane__weeks_ahead_allocations: per person, week and project, hard and soft."""
    per_project = {
        (r["user_id"], str(r["week_start"])[:10], r["project_id"]): r
        for r in marts.tables["rocketlane__weeks_ahead_allocations"]
    }
    plan_per_project = expected.weeks_ahead_allocations(emu, AS_OF) if opt_in else {}
    assert set(per_project) == set(plan_per_project)
    for key, values in plan_per_project.items():
        text = values.pop("_text")
        expected.check_numbers(per_project[key], values, key)
        assert per_project[key]["project_is_closed"] == text["project_is_closed"], key
    if opt_in:  # some allocations on projects that are over: the demo leaves them out
        assert 0 < sum(r["project_is_closed"] for r in per_project.values()) < len(per_project)


def check_marts(marts: Warehouse, emu: Emulator) -> None:
    projects = marts.tables["rocketlane__projects"]
    expected = expected_projects(emu)
    assert {r["project_id"] for r in projects} == set(expected)
    for row in projects:
        actual = {k: as_int(row[k]) for k in expected[row["project_id"]]}
        assert actual == expected[row["project_id"]], row["project_name"]
    assert sum(r["tasks_overdue"] for r in projects) > 0  # the check could fail
    assert sum(r["tasks_completed"] for r in projects) > 0

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


def check_staging(
    staging: Warehouse, emu: Emulator, *, opt_in: bool = False, custom_fields: bool = True
) -> None:
    """Each staging model holds exactly the live records (no deleted time entry); the opt-in
    ones theirs when loaded, else none."""
    for stream, (model, key) in OPT_IN_STAGING.items():
        ids = {str(r[key]) for r in staging.tables[model]}
        truth = {str(i) for i in opt_in_ids(emu, stream)} if opt_in else set()
        assert ids == truth, stream
    for stream in STREAMS:
        live = emu.ids(stream)
        if stream == "time-entries":
            live = {e["timeEntryId"] for e in live_time_entries(emu)}
        if stream == "fields" and not custom_fields:
            live = set()
        assert staging_ids(staging, stream) == live, stream
    for stream in STREAMS:  # a clean workspace: nothing kept as sent, in any warehouse
        model, _ = STAGING_KEYS[stream]
        if stream != "fields":
            assert all(r["drift"] is None for r in staging.tables[model]), model
    values = staging.tables["stg_rocketlane__custom_field_values"]
    tasks_with_fields = {t["taskId"] for t in emu.truth("tasks") if t.get("fields")}
    if not custom_fields:
        tasks_with_fields = set()
    assert {r["object_id"] for r in values if r["object_type"] == "TASK"} == tasks_with_fields


def check_drift_reads_as_sql_null(postgres: Postgres, database: str) -> None:  # noqa: F811
    """target-postgres writes a JSON `null` where a record has no `_drift`, so `where _drift is
    not null` is every raw row; the staging models' `drift` is NULL there, an object where kept.
    Before: staging had no such column, and `_drift is not null` held every row."""

    def query(sql: str) -> list[str]:
        return postgres.psql(sql, database)

    model = f"{STAGING}.stg_rocketlane__tasks"
    raw = query("select count(*) from tap_pm.tasks where _drift is not null")
    assert int(raw[0]) == len(query("select id from tap_pm.tasks")) > 0
    assert query(f"select count(*) from {model} where drift is not null") == ["0"]  # noqa: S608
    [task] = query("select min(id) from tap_pm.tasks")
    # A view: a row with something kept shows at once.
    query(f"""update tap_pm.tasks set _drift = '{{"x": 1}}' where id = {task}""")  # noqa: S608
    kept = query(f"select task_id, drift from {model} where drift is not null")  # noqa: S608
    assert kept == [f'{task}|{{"x": 1}}'], kept
    query(f"update tap_pm.tasks set _drift = 'null' where id = {task}")  # noqa: S608


# ---------------------------------------------------------------------------- tests
def test_dbt_build_on_duckdb_matches_the_emulator(dbt_meltano, shared_emulator, tmp_path):
    """The nine streams and the opt-in ones the models use: every mart's figures."""
    path = tmp_path / "warehouse.duckdb"
    run(
        dbt_meltano, shared_emulator, "--full-refresh", "--no-state-update",
        "tap-pm", "target-duckdb", "dbt-duckdb:build",
        TARGET_DUCKDB_FILEPATH=str(path), DBT_DUCKDB_PATH=str(path), **WITH_OPT_IN,
    )  # fmt: skip
    check_dbt_tests_ran(dbt_meltano, shared_emulator)
    check_staging(read_duckdb(path, STAGING), shared_emulator, opt_in=True)
    marts = read_duckdb(path, MARTS)
    check_marts(marts, shared_emulator)
    check_money_and_people(marts, shared_emulator, opt_in=True)
    check_columns_described(marts, shared_emulator)
    check_source_freshness(dbt_meltano, shared_emulator, path)


# The raw tables' time stamp of `dbt source freshness` (loaded_at_field in _sources.yml).
FRESHNESS_FIELD = {"time-offs": "createdAt", "invoice-lines": None}


def check_source_freshness(meltano: Meltano, emu: Emulator, path: Path) -> None:
    """`dbt source freshness` checks every raw table but invoice_lines (no time stamp): the
    newest time stamp it found is the emulator's newest `updatedAt` (`createdAt` of time offs),
    and the emulator's workspace, months old, warns (no error: a quiet workspace is no failure)."""
    meltano("invoke", "dbt-duckdb", "source", "freshness", env={"DBT_DUCKDB_PATH": str(path)})
    results = json.loads((meltano.root / "transform/target/sources.json").read_text())["results"]
    found = {r["unique_id"].rsplit(".", 1)[-1]: r for r in results}
    for stream in (*STREAMS, *MODELS_OPT_IN):
        field = FRESHNESS_FIELD.get(stream, "updatedAt")
        table = TABLES.get(stream, stream.replace("-", "_"))
        if field is None:
            assert table not in found, table
            continue
        newest = max(r[field] for r in emu.truth(stream) if r.get(field))
        result = found[table]
        assert result["status"] == "warn", (table, result["status"])
        want = datetime.fromtimestamp(newest / 1000, tz=timezone.utc)  # the API's epoch ms
        got = datetime.fromisoformat(result["max_loaded_at"]).replace(tzinfo=timezone.utc)
        assert abs((got - want).total_seconds()) < 1, (table, got, want)


def check_columns_described(marts: Warehouse, emu: Emulator) -> None:
    """_marts.yml describes every column of every mart but the custom field ones (whose names
    come from the workspace: the models' descriptions say how)."""
    described = {
        model["name"]: {c["name"] for c in model.get("columns", []) if c.get("description")}
        for model in yaml.safe_load((ROOT / "transform/models/marts/_marts.yml").read_text())[
            "models"
        ]
    }
    custom = {
        "rocketlane__projects": "PROJECT", "rocketlane__tasks": "TASK", "rocketlane__users": "USER"
    }  # fmt: skip
    assert set(described) == set(marts.tables)
    for table, rows in marts.tables.items():
        columns = set(rows[0])
        if table in custom:
            columns -= set(expected.custom_field_columns(emu, custom[table]))
        assert columns == described[table], table


RENAME_FIELDS = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
for field_id, label in zip(sys.argv[2::2], sys.argv[3::2]):
    con.execute("update tap_pm.fields set fieldlabel = ? where id = ?", [label, int(field_id)])
"""


def test_custom_field_columns_follow_the_vars(dbt_meltano, shared_emulator, tmp_path):
    """A pinned name survives a renamed label; a label that a mart's own column has gets the
    field's id; include and exclude (ids or labels) choose the fields."""
    path = tmp_path / "warehouse.duckdb"
    run(
        dbt_meltano, shared_emulator, "--full-refresh", "--no-state-update",
        "tap-pm", "target-duckdb", TARGET_DUCKDB_FILEPATH=str(path),
    )  # fmt: skip
    ids = {f["fieldLabel"]: f["fieldId"] for f in shared_emulator.truth("fields")}
    region, tier = ids["Région"], ids["Customer tier"]
    subprocess.run(
        [str(MELTANO.parent / "python"), "-c", RENAME_FIELDS, str(path),
         str(region), "Sales territory", str(tier), "Project name"],
        check=True, timeout=120, capture_output=True,
    )  # fmt: skip

    def columns(dbt_vars: dict) -> set[str]:
        dbt_meltano(
            "invoke", "dbt-duckdb", "run", "--select", "+rocketlane__projects",
            "--vars", json.dumps(dbt_vars), env={"DBT_DUCKDB_PATH": str(path)},
        )  # fmt: skip
        return set(read_duckdb(path, MARTS).tables["rocketlane__projects"][0])

    every = set(expected.custom_field_columns(shared_emulator, "PROJECT"))
    renamed = columns({})
    assert "sales_territory" in renamed
    assert f"project_name_{tier}" in renamed  # not the mart's own project_name
    assert not {"region", "customer_tier"} & renamed
    pinned = columns({"custom_field_column_names": {str(region): "region"}})
    assert "region" in pinned
    assert "sales_territory" not in pinned
    # The prefixed names (1.1.0) and, for one release, the old ones (pinned, included) work.
    excluded = columns({"rocketlane_custom_fields_exclude": ["mrr", ids["Modules"]]})
    assert not {"mrr", "modules"} & excluded
    assert every - {"mrr", "modules", "region", "customer_tier"} <= excluded
    included = columns({"custom_fields_include": ["Signed SOW", str(ids["Stakeholders"])]})
    assert included & every == {"signed_sow", "stakeholders", "stakeholders_user_ids"}
    rows = read_duckdb(path, MARTS).tables["rocketlane__projects"]
    values = expected.custom_field_values(shared_emulator, shared_emulator.truth("projects"),
                                          "PROJECT", "projectId")  # fmt: skip
    for row in rows:
        assert row["signed_sow"] is values[row["project_id"]]["signed_sow"]


def test_dbt_build_without_opt_in_streams_or_custom_fields(dbt_meltano, shared_emulator, tmp_path):
    """tap-pm--acme loads neither the opt-in streams nor custom fields (no `fields` table, no
    `fields` columns): every model builds, the invoice and allocation columns are NULL, the
    marts have no custom field column, and the other figures still match."""
    path = tmp_path / "acme.duckdb"
    run(
        dbt_meltano, shared_emulator, "--full-refresh", "--no-state-update",
        "tap-pm--acme", "target-duckdb", "dbt-duckdb:build",
        TAP_PM__ACME_API_KEY=API_KEY, TARGET_DUCKDB_FILEPATH=str(path), DBT_DUCKDB_PATH=str(path),
        DBT_DUCKDB_SOURCE_SCHEMA="tap_pm_acme",  # dbt-duckdb's setting for DBT_ROCKETLANE_SCHEMA
    )  # fmt: skip
    check_dbt_tests_ran(dbt_meltano, shared_emulator)
    assert "fields" not in read_duckdb(path, "tap_pm_acme").tables
    staging = read_duckdb(path, STAGING)
    check_staging(staging, shared_emulator, opt_in=False, custom_fields=False)
    marts = read_duckdb(path, MARTS)
    check_marts(marts, shared_emulator)
    for table, key in (("rocketlane__projects", "project_id"), ("rocketlane__tasks", "task_id"),
                       ("rocketlane__users", "user_id")):  # fmt: skip
        columns = set(marts.tables[table][0])
        for name in expected.FIELD_COLUMNS.values():
            assert name is None or name not in columns or name == "start_date", (table, name)
        assert not {c for c in columns if c.startswith("field_")}, table
        assert marts.tables[table], key
    projects = marts.tables["rocketlane__projects"]
    assert all(r["invoiced_amount"] is None and r["invoice_count"] is None for r in projects)
    weeks = marts.tables["rocketlane__weeks_ahead"]
    assert weeks
    assert all(r["allocated_minutes"] is None and r["is_over_allocated"] is None for r in weeks)
    assert any(r["available_minutes"] for r in weeks)


def test_dbt_build_on_postgres_matches_the_emulator_then_drops_deleted_rows(
    dbt_meltano,
    emulator,
    postgres,  # noqa: F811
):
    """A full sync and `dbt build`: the marts match the emulator. Then test_meltano's deletions
    and a reconcile (soft delete: the loader marks rows `_sdc_deleted_at`) and `dbt build`
    again: no deleted row is left in any model, and the marts match again."""
    database = postgres.new_database("tap_pm_dbt")
    env = {
        **postgres.loader_env(database),
        "MELTANO_RUN_STATE_ID_SUFFIX": "dbt-postgres",
        **WITH_OPT_IN,
    }
    run(dbt_meltano, emulator, "tap-pm", "target-postgres", "dbt-postgres:build", **env)
    check_dbt_tests_ran(dbt_meltano, emulator)
    check_staging(postgres.read(database, STAGING), emulator, opt_in=True)
    marts = postgres.read(database, MARTS)
    check_marts(marts, emulator)
    check_money_and_people(marts, emulator, opt_in=True)
    check_drift_reads_as_sql_null(postgres, database)

    gone = delete_as_in_the_issue(emulator, [])
    run(
        dbt_meltano, emulator, "tap-pm", "target-postgres", "dbt-postgres:build",
        TAP_PM_RECONCILE="true", **env,
    )  # fmt: skip
    check_dbt_tests_ran(dbt_meltano, emulator)
    raw = postgres.read(database)
    marked = {t: {r["id"] for r in rows if r["_sdc_deleted_at"]} for t, rows in raw.tables.items()}
    for stream in STREAMS:  # the loader kept the rows, marked: the models must drop them
        assert gone[stream] <= marked[TABLES[stream]], stream
    staging, marts = postgres.read(database, STAGING), postgres.read(database, MARTS)
    check_staging(staging, emulator, opt_in=True)
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
    check_money_and_people(marts, emulator, opt_in=True)


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
        "tap-pm", FAKE_LOADER, **loader_env, **files, **WITH_OPT_IN,
    )  # fmt: skip
    venv = dbt_snowflake.root / ".meltano/utilities/dbt-snowflake-fake/venv/bin"
    # One thread: fakesnow attaches the database file once per connection.
    dbt_snowflake(
        "invoke", "dbt-snowflake-fake", "-d", str(db), str(venv / "dbt"), "build", "--threads", "1",
        env={**loader_env, "DBT_ROCKETLANE_SCHEMA": "TAP_PM", "TMPDIR": str(db / "tmp")},
    )  # fmt: skip
    check_dbt_tests_ran(dbt_snowflake, shared_emulator)
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
    check_staging(Warehouse(tables[STAGING], {}), shared_emulator, opt_in=True)
    marts = Warehouse(tables[MARTS], {})
    check_marts(marts, shared_emulator)
    check_money_and_people(marts, shared_emulator, opt_in=True)


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
