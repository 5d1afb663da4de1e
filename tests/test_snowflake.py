"""Snowflake, offline: `meltano run tap-pm target-snowflake` into fakesnow.

fakesnow emulates Snowflake on DuckDB, in-process. A test-only loader, `target-snowflake-fake`,
inherits `target-snowflake` from meltano.yml (its pin, settings and config) and adds fakesnow and
the launcher in tests/fakesnow_target to its venv. The launcher runs the target's own code and
replaces only the steps that go through the user stage `@~`, which fakesnow lacks (PUT, the
MERGE or COPY reading the stage, REMOVE): see its docstring. The DuckDB file outlives the run,
so the tests read back, through fakesnow, what the target made of every stream.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from conftest import STREAMS, TapRun, assert_no_secret, expected_columns
from test_meltano import (
    EVERY_SYNC,
    MELTANO,
    TABLES,
    Meltano,
    Warehouse,
    assert_bookmarks_advanced,
    assert_second_run_is_incremental,
    check_changes_landed,
    check_deletions,
    check_warehouse,
    clean_env,
    copy_project,
    delete_as_in_the_issue,
    reloaded,
    to_ms,
    touch_one_per_stream,
)

if TYPE_CHECKING:
    from rocketlane_emulator import Emulator

LOADER = "target-snowflake-fake"
STATE_ID = f"dev:tap-pm-to-{LOADER}"
LAUNCHER = Path(__file__).parent / "fakesnow_target"  # pins fakesnow in its pyproject.toml
DATABASE = "ANALYTICS"
SCHEMA = "TAP_PM"  # the extractor's load_schema, upper-cased by the target
STAGE_SCHEMA = "USER_STAGE"  # the launcher's stand-in for `@~`: empty after every batch
CREDENTIALS = {"account": "fakesnow", "user": "fake", "password": "snow", "database": DATABASE}
# Column type per kind of value (spec_kinds; information_schema's `data_type`).
COLUMN_TYPES = {
    "date-time": "TIMESTAMP_NTZ",
    "date": "DATE",
    "object": "VARIANT",
    "array": "VARIANT",
    "integer": "NUMBER",
    "number": "FLOAT",
    "boolean": "BOOLEAN",
    "string": "TEXT",
}
METADATA_COLUMNS = {
    "_SDC_EXTRACTED_AT": "TIMESTAMP_NTZ",
    "_SDC_RECEIVED_AT": "TIMESTAMP_NTZ",
    "_SDC_BATCHED_AT": "TIMESTAMP_NTZ",
    "_SDC_DELETED_AT": "TIMESTAMP_NTZ",
    "_SDC_SEQUENCE": "NUMBER",
    "_SDC_TABLE_VERSION": "NUMBER",
    "_SDC_SYNC_STARTED_AT": "NUMBER",
}

READER = """
import json, sys, fakesnow, snowflake.connector
out = []
for db_path in sys.argv[2:]:
    with fakesnow.patch(db_path=db_path):
        cursor = snowflake.connector.connect(database=sys.argv[1]).cursor()
        cursor.execute(
            "select table_schema, table_name, column_name, data_type"
            " from information_schema.columns where table_schema <> 'INFORMATION_SCHEMA'"
            " order by table_schema, table_name, ordinal_position")
        columns, rows = cursor.fetchall(), {}
        for schema, table in {(s, t) for s, t, _, _ in columns}:
            cursor.execute(f'select * from "{schema}"."{table}"')
            names = [d[0] for d in cursor.description]
            rows[f"{schema}.{table}"] = [dict(zip(names, row)) for row in cursor.fetchall()]
    out.append({"columns": columns, "rows": rows})
print(json.dumps(out, default=str))
"""


@dataclass
class SnowflakeWarehouse(Warehouse):
    """The target schema's tables and columns by lower-case name, as for the other warehouses;
    also every column as Snowflake names it: (schema, table, column, data_type)."""

    columns: list[tuple[str, ...]] = field(default_factory=list)


@dataclass
class FakeSnowflake:
    """The test-only loader in a copy of the project, and a way to read what it loaded."""

    meltano: Meltano

    @property
    def bin(self) -> Path:
        return self.meltano.root / ".meltano" / "loaders" / LOADER / "venv" / "bin"

    @staticmethod
    def files_in(db: Path) -> dict[str, str]:
        """The DuckDB files go to `db`, and the temporary ones (fakesnow's stage) below it."""
        (db / "tmp").mkdir(exist_ok=True)
        return {"FAKESNOW_DB_PATH": str(db), "TMPDIR": str(db / "tmp")}

    def env(self, db: Path, *, hard_delete: bool = False) -> dict[str, str]:
        """target-snowflake's settings from the environment, as for the real one."""
        env = {f"TARGET_SNOWFLAKE_{k.upper()}": v for k, v in CREDENTIALS.items()}
        env["TARGET_SNOWFLAKE_HARD_DELETE"] = str(hard_delete).lower()
        return {**env, **self.files_in(db)}

    def run(self, emu: Emulator, db: Path, *, hard_delete: bool = False) -> str:
        """`meltano run tap-pm target-snowflake-fake` against the emulator."""
        return self.meltano.run("tap-pm", LOADER, emu, **self.env(db, hard_delete=hard_delete))

    def load(self, messages: list[dict[str, Any]], db: Path, *, hard_delete: bool) -> None:
        """Pipe Singer messages straight into the launcher, no Meltano."""
        config = db / "config.json"
        settings = {"default_target_schema": SCHEMA, "hard_delete": hard_delete}
        config.write_text(json.dumps({**CREDENTIALS, **settings}))
        proc = subprocess.run(
            [str(self.bin / LOADER), "--config", str(config)],
            input="".join(json.dumps(m) + "\n" for m in messages),
            env={**clean_env(), **self.files_in(db)},
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-6000:]

    def read(self, *dbs: Path) -> list[SnowflakeWarehouse]:
        """What is in each directory's database, read through fakesnow (one process)."""
        proc = subprocess.run(
            [str(self.bin / "python"), "-c", READER, DATABASE, *map(str, dbs)],
            env={**clean_env(), "TMPDIR": self.files_in(dbs[0])["TMPDIR"]},
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert_no_secret(proc.stdout, proc.stderr)
        assert proc.returncode == 0, proc.stderr[-3000:]
        warehouses = []
        for data in json.loads(proc.stdout):
            columns = [tuple(c) for c in data["columns"]]
            assert {c[0] for c in columns} <= {SCHEMA, STAGE_SCHEMA}, "tables in other schemas"
            tables = {}
            for name, rows in data["rows"].items():
                schema, table = name.split(".")
                if schema == SCHEMA:
                    tables[table.lower()] = [{k.lower(): v for k, v in r.items()} for r in rows]
            types = {(t.lower(), c.lower()): ty for s, t, c, ty in columns if s == SCHEMA}
            warehouses.append(SnowflakeWarehouse(tables, types, columns))
        return warehouses


@pytest.fixture(scope="session")
def snowflake(tmp_path_factory: pytest.TempPathFactory) -> FakeSnowflake:
    """A copy of the project with tap-pm and the fake loader installed (once per session)."""
    assert MELTANO.exists(), "run `make test` (it installs Meltano into .tools/meltano)"
    root = copy_project(tmp_path_factory.mktemp("snowflake") / "tap-pm")
    path = root / "meltano.yml"
    project = yaml.safe_load(path.read_text())
    loaders = project["plugins"]["loaders"]
    [target] = [p for p in loaders if p["name"] == "target-snowflake"]
    loaders.append({
        "name": LOADER,
        "inherit_from": "target-snowflake",  # its settings and config; its pin, plus fakesnow
        "pip_url": f"{target['pip_url']} {LAUNCHER}",
        "executable": LOADER,
    })  # fmt: skip
    path.write_text(yaml.safe_dump(project, sort_keys=False, allow_unicode=True))
    meltano = Meltano(root, clean_env())
    # Compiled now, once: with PYTHONDONTWRITEBYTECODE set, every process would compile
    # the target's imports again (5 s of each run).
    meltano("install", "tap-pm", LOADER, env={"UV_COMPILE_BYTECODE": "1"})
    return FakeSnowflake(meltano)


# -------------------------------------------------------------------- expectations
def check_snowflake_names_and_types(warehouse: SnowflakeWarehouse) -> None:
    """Upper-case tables and columns (Snowflake's unquoted names), typed per the spec."""
    columns = [(t, c, ty) for s, t, c, ty in warehouse.columns if s == SCHEMA]
    assert {t for t, _, _ in columns} == {t.upper() for t in TABLES.values()}
    for stream, table in TABLES.items():
        expected = {n.upper(): COLUMN_TYPES[k] for n, k in expected_columns(stream).items()}
        actual = {c: ty for t, c, ty in columns if t == table.upper()}
        assert actual == {**expected, **METADATA_COLUMNS}, table


def as_json(value: object, kind: str) -> object:
    """A value as the reader printed it, or as the tap sent it, in one comparable form."""
    if value is None:
        return None
    if kind == "date-time":
        return to_ms(str(value))
    if kind in {"object", "array"} and isinstance(value, str):
        return json.loads(value)  # VARIANT comes back as JSON text
    return value


def check_values_as_sent(warehouse: Warehouse, run: TapRun) -> None:
    """Every value the tap sent arrived intact: strings, numbers, dates, nested JSON."""
    for stream, table in TABLES.items():
        rows = warehouse.by_id(table)
        assert set(rows) == run.ids(stream), stream
        columns = expected_columns(stream)
        for record in run.records(stream):
            row = rows[record["id"]]
            for name, kind in columns.items():
                sent, landed = as_json(record.get(name), kind), as_json(row[name.lower()], kind)
                assert landed == sent, (table, record["id"], name, landed, sent)


def check_stage_removed(warehouse: SnowflakeWarehouse) -> None:
    """Every batch's REMOVE ran: no staging table is left."""
    assert not [c for c in warehouse.columns if c[0] == STAGE_SCHEMA]


# ---------------------------------------------------------------------------- tests
def test_meltano_run_into_snowflake_twice_keeps_one_row_per_id(
    snowflake: FakeSnowflake, emulator: Emulator, full_sync: TapRun, tmp_path: Path
) -> None:
    snowflake.run(emulator, tmp_path)
    [first] = snowflake.read(tmp_path)
    check_snowflake_names_and_types(first)
    check_warehouse(first, emulator, timestamp={"TIMESTAMP_NTZ"}, nested={"VARIANT"})
    check_values_as_sent(first, full_sync)  # the same workspace (seed) as `emulator`
    check_stage_removed(first)
    state = snowflake.meltano.state(STATE_ID)

    changed = touch_one_per_stream(emulator)
    snowflake.run(emulator, tmp_path)
    [second] = snowflake.read(tmp_path)
    check_warehouse(second, emulator, timestamp={"TIMESTAMP_NTZ"}, nested={"VARIANT"})
    check_changes_landed(second, changed)
    assert_second_run_is_incremental(reloaded(first, second), changed, state, emulator)
    assert_bookmarks_advanced(state, snowflake.meltano.state(STATE_ID), changed)
    check_stage_removed(second)
    # The tap's ACTIVATE_VERSIONs (for tables it listed in full) find nothing deleted upstream.
    for table, rows in second.tables.items():
        assert all(row["_sdc_deleted_at"] is None for row in rows), table


def full_table_sync(version: int, ids: list[int]) -> list[dict[str, Any]]:
    """One full-table sync as the SDK sends it: ACTIVATE_VERSION, its records, ACTIVATE_VERSION."""
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {}}}
    activate = {"type": "ACTIVATE_VERSION", "stream": "things", "version": version}
    records = [
        {"type": "RECORD", "stream": "things", "record": {"id": i, "name": f"v{version}"},
         "version": version}
        for i in ids
    ]  # fmt: skip
    return [
        {"type": "SCHEMA", "stream": "things", "schema": schema, "key_properties": ["id"]},
        activate,
        *records,
        activate,
    ]


def appended(values: list[int]) -> list[dict[str, Any]]:
    """A stream without a key: the target loads it with COPY INTO, not MERGE; all of it."""
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    return [
        {"type": "SCHEMA", "stream": "events", "schema": schema, "key_properties": []},
        *({"type": "RECORD", "stream": "events", "record": {"n": n}} for n in values),
    ]


def test_launcher_alone_activate_version_and_copy(snowflake: FakeSnowflake, tmp_path: Path) -> None:
    """Sync 1 sends ids 1-3, sync 2 only 1 and 2: with hard_delete 3 goes, without it is marked.

    Two syncs are two runs: the target applies an ACTIVATE_VERSION before it loads the records
    it still holds, so within one run it would come before the rows it should act on.
    """
    first = tmp_path / "sync-1"
    first.mkdir()
    snowflake.load([*full_table_sync(1, [1, 2, 3]), *appended([1, 1, 2])], first, hard_delete=False)
    dbs = {flag: tmp_path / f"hard_delete-{flag}" for flag in (True, False)}
    for hard_delete, db in dbs.items():
        shutil.copytree(first, db)
        snowflake.load(full_table_sync(2, [1, 2]), db, hard_delete=hard_delete)
    warehouses = snowflake.read(*dbs.values())
    hard, soft = (w.by_id("things") for w in warehouses)
    assert set(hard) == {1, 2}
    assert set(soft) == {1, 2, 3}
    assert soft[3]["_sdc_deleted_at"] is not None
    assert soft[3]["_sdc_table_version"] == 1
    for rows in (hard, soft):
        for rid in (1, 2):
            assert rows[rid]["_sdc_deleted_at"] is None
            assert (rows[rid]["name"], rows[rid]["_sdc_table_version"]) == ("v2", 2)
    assert sorted(row["n"] for row in warehouses[0].tables["events"]) == [1, 1, 2]
    for warehouse in warehouses:
        check_stage_removed(warehouse)


def test_fake_loader_has_target_snowflakes_settings(
    snowflake: FakeSnowflake, tmp_path: Path
) -> None:
    """What the Meltano tests load with is target-snowflake's config, hard_delete from env."""
    env = snowflake.env(tmp_path, hard_delete=True)
    config = json.loads(snowflake.meltano("config", "--unsafe", "print", LOADER, env=env))
    assert config["hard_delete"] is True  # False in meltano.yml
    assert config["load_method"] == "upsert"
    assert config["add_record_metadata"] is True
    assert config["timestamp_type"] == "TIMESTAMP_NTZ"
    assert {k: config[k] for k in CREDENTIALS} == CREDENTIALS


@pytest.mark.parametrize("hard", [True, False], ids=["hard-delete", "soft-delete"])
def test_deletions_reach_snowflake(
    snowflake: FakeSnowflake, emulator: Emulator, tmp_path: Path, hard: bool
) -> None:
    """The deletion flow of test_meltano.py's PostgreSQL test, into Snowflake."""

    def run(**env: str) -> SnowflakeWarehouse:
        suffix = {"MELTANO_RUN_STATE_ID_SUFFIX": f"deletions-{hard}"}  # its own state
        settings = {**snowflake.env(tmp_path, hard_delete=hard), **suffix, **env}
        snowflake.meltano.run("tap-pm", LOADER, emulator, **settings)
        [warehouse] = snowflake.read(tmp_path)
        return warehouse

    check_deletions(run(), emulator, STREAMS, {}, hard=hard)  # the full sync
    added = [emulator.create("tasks", t)["taskId"] for t in sorted(emulator.ids("tasks"))[:5]]
    emulator.create("phases", min(emulator.ids("phases")))
    check_deletions(run(), emulator, STREAMS, {}, hard=hard)  # an incremental sync loads them
    gone = delete_as_in_the_issue(emulator, added)
    # The SDK's SQL sink applies ACTIVATE_VERSION before writing the records still in its batch
    # (target-postgres writes them first), so under hard delete a row this sync's tombstone
    # marked stays, marked, until the table's next activation: the reconcile below.
    check_deletions(run(), emulator, EVERY_SYNC, gone, hard=hard, tombstones_kept=True)
    check_deletions(run(TAP_PM_RECONCILE="true"), emulator, STREAMS, gone, hard=hard)
