"""Meltano for real: `meltano run tap-pm <loader>` against the emulator, with state in between.

Meltano runs from its own venv (.tools/meltano, made by `make tools`) in a copy of the project,
so the tests leave no `.meltano/` behind; it installs the plugins of meltano.yml once per
session. Loads go to JSONL files, DuckDB and a real PostgreSQL server (started by `.ci/run`,
or here when it is not running).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from conftest import (
    API_KEY,
    CHANGES_ONLY,
    INCREMENTAL,
    LISTED_IN_FULL,
    LOOKBACK_MINUTES,
    OPT_IN,
    STREAMS,
    assert_no_secret,
    expected_columns,
    in_lookback_window,
    in_scope,
    opt_in_ids,
)

from rocketlane_emulator import ID_KEYS, RESOURCES, Emulator

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Mapping

ROOT = Path(__file__).parents[1]
TOOLS = ROOT / ".tools" / "meltano" / "bin"
MELTANO = TOOLS / "meltano"
TOOLS_PYTHON = TOOLS / "python"  # has the DuckDB that target-duckdb writes with
HUB_DEFINITION = ROOT / "hub" / "_data" / "meltano" / "extractors" / "tap-pm" / "tap-pm.yml"
PROJECT_FILES = ("meltano.yml", "pyproject.toml", "README.md", "LICENSE", "tap_pm")
# Variables from the developer's shell that would change what Meltano or a plugin does.
HERMETIC_PREFIXES = ("TAP_PM", "TARGET_", "MELTANO_", "PG")
SCHEMA = "tap_pm"  # the extractor's namespace, which meltano.yml makes the target schema
# meltano.yml aliases the hyphenated streams, so SQL loaders give each its own table.
TABLES = {stream: stream.replace("-", "_") for stream in STREAMS}
CHILDREN = ("spaces", "phases", "space-documents")


# --------------------------------------------------------------------------- Meltano
@dataclass
class Meltano:
    """The `meltano` CLI in one project directory, with a clean environment."""

    root: Path
    env: dict[str, str]
    #: What the last command logged (`meltano run`: the plugins' logs too).
    last_stderr: str = ""

    def __call__(self, *args: str, env: dict[str, str] | None = None, succeed: bool = True) -> str:
        proc = subprocess.run(
            [str(MELTANO), *args],
            cwd=self.root,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert_no_secret(proc.stdout, proc.stderr)
        self.last_stderr = proc.stderr
        if not succeed:
            assert proc.returncode != 0, f"meltano {' '.join(args)} should have failed"
            return proc.stderr
        assert proc.returncode == 0, f"meltano {' '.join(args)} failed:\n{proc.stderr[-6000:]}"
        return proc.stdout

    def run(self, tap: str, target: str, emu: Emulator, **env: str) -> str:
        """`meltano run TAP TARGET` against the emulator; settings come from the environment."""
        return self._run(tap, target, emu, env, succeed=True)

    def run_failing(self, tap: str, target: str, emu: Emulator, **env: str) -> str:
        """`run` that must fail (a `succeed` flag next to `**env: str` would type as a str)."""
        return self._run(tap, target, emu, env, succeed=False)

    def _run(
        self, tap: str, target: str, emu: Emulator, env: Mapping[str, str], *, succeed: bool
    ) -> str:
        emulator_env = {
            "TAP_PM_API_KEY": API_KEY,
            "TAP_PM_BASE_URL": emu.base_url,
            "TAP_PM_MAX_REQUESTS_PER_MINUTE": "100000",  # the emulator has no limit
            "TAP_PM_LOOKBACK_MINUTES": str(LOOKBACK_MINUTES),  # what may come again (at_bookmark)
        }
        return self("run", tap, target, env={**emulator_env, **env}, succeed=succeed)

    def state(self, state_id: str) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self("state", "get", state_id))["singer_state"]
        return state


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(HERMETIC_PREFIXES)}
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["NO_COLOR"] = "1"
    return env


def copy_project(root: Path) -> Path:
    """The files a Meltano project of tap-pm needs, copied to `root` (made here)."""
    root.mkdir()
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / name)
    return root


def copy_demo_project(root: Path) -> Path:
    """What a clone has for `make demo` (the project, the demo, the emulator, the models),
    copied to `root`, with this checkout's tools (.tools: Meltano)."""
    copy_project(root)
    ignore = shutil.ignore_patterns("__pycache__", "target", "logs", "dbt_packages")
    for name in ("scripts", "rocketlane_emulator", "transform"):
        shutil.copytree(ROOT / name, root / name, ignore=ignore)
    (root / ".tools").symlink_to((ROOT / ".tools").resolve())
    return root


@pytest.fixture(scope="session")
def meltano(tmp_path_factory: pytest.TempPathFactory) -> Meltano:
    """A copy of the project with the plugins the tests use installed (once per session)."""
    assert MELTANO.exists(), "run `make test` (it installs Meltano into .tools/meltano)"
    root = copy_project(tmp_path_factory.mktemp("meltano") / "tap-pm")
    (root / "output").mkdir()
    project = Meltano(root, clean_env())
    project("install", "tap-pm", "target-jsonl", "target-duckdb", "target-postgres")
    return project


# -------------------------------------------------------------------- expectations
def to_ms(value: str) -> int:
    """Epoch ms of an RFC 3339 string or a timezone-less warehouse timestamp (UTC)."""
    # Python 3.10 parses fractions of 3 or 6 digits only; PostgreSQL drops trailing zeros.
    text = re.sub(r"\.(\d{1,6})", lambda m: "." + m.group(1).ljust(6, "0"), value)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return round(moment.timestamp() * 1000)


def touch_one_per_stream(emu: Emulator) -> dict[str, dict[int, dict[str, Any]]]:
    """Edit one record of every stream; a child's project stays unchanged, so only it tells."""
    changed: dict[str, dict[int, dict[str, Any]]] = {}
    for stream in STREAMS:
        key = ID_KEYS[stream]
        records = sorted(emu.truth(stream), key=lambda r: r[key])
        if stream in CHILDREN:
            project = next(iter(changed["projects"]))
            records = [r for r in records if emu.project_of(stream, r[key]) != project]
        record = emu.touch(stream, records[len(records) // 2][key])
        changed[stream] = {record[key]: record}
    return changed


def at_bookmark(state: dict[str, Any], stream: str, emu: Emulator) -> set[int]:
    """Ids of records in a bookmark's look-back window: these may come again (`>=`)."""
    mark = to_ms(state["bookmarks"][stream]["replication_key_value"])
    key = ID_KEYS[stream]
    return {r[key] for r in emu.truth(stream) if in_lookback_window(mark, r["updatedAt"])}


def assert_second_run_is_incremental(
    emitted: dict[str, set[int]],
    changed: dict[str, dict[int, dict[str, Any]]],
    state: dict[str, Any],
    emu: Emulator,
) -> None:
    """The second run brought each change; beyond it only what `>=` and the look-back allow,
    except for the lists read in full every sync to find deletions."""
    for stream in CHANGES_ONLY:
        assert set(changed[stream]) <= emitted[stream], stream
        extra = emitted[stream] - set(changed[stream])
        assert extra <= at_bookmark(state, stream, emu), (stream, sorted(extra)[:5])
        assert len(emitted[stream]) < len(emu.ids(stream)), f"{stream} was synced in full"
    for stream in LISTED_IN_FULL:
        assert emitted[stream] == emu.ids(stream), stream


def assert_bookmarks_advanced(
    before: dict[str, Any], after: dict[str, Any], changed: dict[str, dict[int, dict[str, Any]]]
) -> None:
    for stream in ("projects", "tasks", "time-entries", "users", "fields"):
        new = changed[stream][next(iter(changed[stream]))]["updatedAt"]
        value = after["bookmarks"][stream]["replication_key_value"]
        assert to_ms(value) == new, stream
        assert value > before["bookmarks"][stream]["replication_key_value"], stream


# ----------------------------------------------------------------------- warehouses
@dataclass
class Warehouse:
    """What a SQL loader left behind: rows as dicts (lower-case keys) and column types."""

    tables: dict[str, list[dict[str, Any]]]
    types: dict[tuple[str, str], str]  # (table, lower-case column) -> type

    def ids(self, table: str) -> Counter[int]:
        return Counter(row["id"] for row in self.tables[table])

    def by_id(self, table: str) -> dict[int, dict[str, Any]]:
        return {row["id"]: row for row in self.tables[table]}


DUCKDB_READER = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
schema = sys.argv[2]
tables = [t for (t,) in con.execute(
    "select table_name from information_schema.tables where table_schema = ?", [schema]
).fetchall()]
out = {"tables": {}, "types": con.execute(
    "select table_name, column_name, data_type from information_schema.columns"
    " where table_schema = ?", [schema]).fetchall()}
for table in tables:
    cursor = con.execute(f'select * from "{schema}"."{table}"')
    names = [d[0] for d in cursor.description]
    out["tables"][table] = [dict(zip(names, row)) for row in cursor.fetchall()]
print(json.dumps(out, default=str))
"""


def read_duckdb(path: Path, schema: str = SCHEMA) -> Warehouse:
    proc = subprocess.run(
        [str(TOOLS_PYTHON), "-c", DUCKDB_READER, str(path), schema],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout)
    tables = {
        table: [{k.lower(): v for k, v in row.items()} for row in rows]
        for table, rows in data["tables"].items()
    }
    return Warehouse(tables, {(t, c.lower()): ty for t, c, ty in data["types"]})


@dataclass
class Postgres:
    """A PostgreSQL server the tests may create databases on."""

    host: str
    port: int
    user: str
    password: str
    database: str
    psql_path: str
    databases: list[str] = field(default_factory=list)

    def psql(self, sql: str, database: str | None = None) -> list[str]:
        proc = subprocess.run(
            [
                self.psql_path, "-X", "-At", "-v", "ON_ERROR_STOP=1",
                "-h", self.host, "-p", str(self.port), "-U", self.user,
                "-d", database or self.database, "-c", sql,
            ],
            env={**clean_env(), "PGPASSWORD": self.password, "PGCONNECT_TIMEOUT": "10"},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, f"psql failed: {proc.stderr[-2000:]}"
        return proc.stdout.splitlines()

    def new_database(self, name: str) -> str:
        name = f"{name}_{os.getpid()}_{len(self.databases)}"
        self.psql(f'create database "{name}"')
        self.databases.append(name)
        return name

    def loader_env(self, database: str) -> dict[str, str]:
        return {
            "TARGET_POSTGRES_HOST": self.host,
            "TARGET_POSTGRES_PORT": str(self.port),
            "TARGET_POSTGRES_USER": self.user,
            "TARGET_POSTGRES_PASSWORD": self.password,
            "TARGET_POSTGRES_DATABASE": database,
        }

    def read(self, database: str, schema: str = SCHEMA) -> Warehouse:
        types = {}
        columns = (
            "select table_name, column_name, data_type, udt_name from information_schema.columns"
        )
        query = f"{columns} where table_schema = '{schema}'"
        for line in self.psql(query, database):
            table, column, data_type, udt = line.split("|")
            types[table, column.lower()] = udt if data_type == "ARRAY" else data_type
        tables = {}
        for table in {t for t, _ in types}:
            query = f'select row_to_json(t) from "{schema}"."{table}" t'  # noqa: S608 - ours
            rows = self.psql(query, database)
            tables[table] = [{k.lower(): v for k, v in json.loads(r).items()} for r in rows]
        return Warehouse(tables, types)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, **kwargs
    )


def _start_local_postgres(workdir: Path) -> tuple[Postgres | None, list[list[str]], str]:
    """Start a throwaway cluster from Debian's packages, as `.ci/run` does.

    Returns the server, the command that stops it, and why there is none.
    """
    initdbs = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_major_version)
    found = str(initdbs[-1]) if initdbs else shutil.which("initdb")
    if not found:
        return None, [], "PostgreSQL is not installed (Debian: apt-get install postgresql)"
    bindir = Path(found).parent
    psql = shutil.which("psql") or str(bindir / "psql")
    as_owner: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        runuser = shutil.which("runuser")
        if not runuser:
            return None, [], "running as root, and no `runuser` to start PostgreSQL as postgres"
        as_owner = [runuser, "-u", "postgres", "--"]
    password = os.urandom(16).hex()
    pwfile = workdir / "pwfile"
    pwfile.write_text(password + "\n")
    if as_owner:
        for path in (workdir, pwfile):
            shutil.chown(path, "postgres", "postgres")
    data, port = workdir / "data", _free_port()
    proc = _run([
        *as_owner, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
        f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256",
        "-E", "UTF8", "--no-locale",
    ])  # fmt: skip
    if proc.returncode:
        return None, [], f"initdb failed: {proc.stderr[-1000:]}"
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = [*as_owner, str(bindir / "pg_ctl"), "-D", str(data)]
    proc = _run(
        [*pg_ctl, "-l", str(workdir / "server.log"), "-w", "-t", "60", "-o", options, "start"]
    )
    if proc.returncode:
        return None, [], f"pg_ctl start failed: {proc.stderr[-1000:]}"
    server = Postgres("127.0.0.1", port, "postgres", password, "postgres", psql)
    return server, [[*pg_ctl, "-m", "immediate", "stop"]], ""


def _major_version(initdb: Path) -> int:
    version = initdb.parent.parent.name
    return int(version) if version.isdigit() else 0


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """`.ci/run`'s server (TAP_PM_TEST_PG_*), else a throwaway one started here.

    Skips only outside CI when no server can be started; in CI that is a failure.
    """
    workdir: Path | None = None
    stop: list[list[str]] = []
    if host := os.environ.get("TAP_PM_TEST_PG_HOST"):
        server: Postgres | None = Postgres(
            host,
            int(os.environ.get("TAP_PM_TEST_PG_PORT", "5432")),
            os.environ.get("TAP_PM_TEST_PG_USER", "postgres"),
            os.environ.get("TAP_PM_TEST_PG_PASSWORD", ""),
            os.environ.get("TAP_PM_TEST_PG_DATABASE", "postgres"),
            shutil.which("psql") or "psql",
        )
        reason = ""
    else:
        workdir = Path(tempfile.mkdtemp(prefix="tap-pm-pg-"))
        server, stop, reason = _start_local_postgres(workdir)
    try:
        if server is None:
            message = f"no PostgreSQL server for the target-postgres tests: {reason}"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        server.psql("select 1")
        yield server
        for name in server.databases:
            server.psql(f'drop database if exists "{name}" with (force)')
    finally:
        for command in stop:
            _run(command)
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------------- tests
def read_jsonl(directory: Path) -> dict[str, list[dict[str, Any]]]:
    files: dict[str, list[dict[str, Any]]] = {}
    for path in directory.glob("*.jsonl"):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        files.setdefault(path.name.rsplit("-", 1)[0], []).extend(rows)
    return files


def test_meltano_run_into_jsonl_then_only_the_changes(
    meltano: Meltano, emulator: Emulator, tmp_path: Path
) -> None:
    meltano.run(
        "tap-pm", "target-jsonl", emulator, TARGET_JSONL_DESTINATION_PATH=str(tmp_path / "1")
    )
    first = read_jsonl(tmp_path / "1")
    assert set(first) == set(TABLES.values())
    for stream, table in TABLES.items():
        assert Counter(r["id"] for r in first[table]) == Counter(emulator.ids(stream)), stream
    state = meltano.state("dev:tap-pm-to-target-jsonl")
    assert set(INCREMENTAL) <= set(state["bookmarks"])
    assert API_KEY not in json.dumps(state)

    changed = touch_one_per_stream(emulator)
    meltano.run(
        "tap-pm", "target-jsonl", emulator, TARGET_JSONL_DESTINATION_PATH=str(tmp_path / "2")
    )
    second = read_jsonl(tmp_path / "2")
    emitted = {s: {r["id"] for r in second.get(TABLES[s], [])} for s in STREAMS}
    assert_second_run_is_incremental(emitted, changed, state, emulator)
    for stream, records in changed.items():
        [(rid, record)] = records.items()
        [row] = [r for r in second[TABLES[stream]] if r["id"] == rid]
        touch_field = RESOURCES[stream].touch_field
        assert row[touch_field] == record[touch_field], stream
    assert_bookmarks_advanced(state, meltano.state("dev:tap-pm-to-target-jsonl"), changed)


def check_warehouse(
    warehouse: Warehouse, emu: Emulator, timestamp: set[str], nested: set[str]
) -> None:
    """Every stream's table, one row per id as in the truth, timestamps and JSON typed."""
    assert set(warehouse.tables) == set(TABLES.values())
    for stream, table in TABLES.items():
        ids = warehouse.ids(table)
        assert set(ids) == emu.ids(stream), stream
        assert max(ids.values()) == 1, f"{table}: {ids.most_common(1)} rows for one id"
        truth = {r[ID_KEYS[stream]]: r for r in emu.truth(stream)}
        for rid, row in warehouse.by_id(table).items():
            assert to_ms(row["createdat"]) == truth[rid]["createdAt"], (table, rid)
            if "updatedAt" in truth[rid]:
                assert to_ms(row["updatedat"]) == truth[rid]["updatedAt"], (table, rid)
        for name, kind in expected_columns(stream).items():
            if name.startswith("_sdc_"):  # also the loader's own metadata column: its type
                continue
            column_type = warehouse.types[table, name.lower()]
            if kind == "date-time":
                assert column_type in timestamp, (table, name, column_type)
            elif kind == "object":
                assert column_type in nested, (table, name, column_type)


def reloaded(before: Warehouse, after: Warehouse) -> dict[str, set[int]]:
    """Per stream, the ids whose row the second run loaded again (its batch time moved)."""
    out = {}
    for stream, table in TABLES.items():
        old = {rid: row["_sdc_batched_at"] for rid, row in before.by_id(table).items()}
        out[stream] = {
            rid for rid, row in after.by_id(table).items() if old.get(rid) != row["_sdc_batched_at"]
        }
    return out


def check_changes_landed(
    warehouse: Warehouse, changed: dict[str, dict[int, dict[str, Any]]]
) -> None:
    for stream, records in changed.items():
        [(rid, record)] = records.items()
        row = warehouse.by_id(TABLES[stream])[rid]
        touch_field = RESOURCES[stream].touch_field
        assert row[touch_field.lower()] == record[touch_field], stream


def test_meltano_run_into_duckdb_twice_keeps_one_row_per_id(
    meltano: Meltano, emulator: Emulator, tmp_path: Path
) -> None:
    env = {
        "TARGET_DUCKDB_FILEPATH": str(tmp_path / "warehouse.duckdb"),
        "TARGET_DUCKDB_ADD_METADATA_COLUMNS": "true",  # _sdc_batched_at shows what reloaded
    }
    meltano.run("tap-pm", "target-duckdb", emulator, **env)
    first = read_duckdb(tmp_path / "warehouse.duckdb")
    check_warehouse(first, emulator, timestamp={"TIMESTAMP"}, nested={"JSON"})
    state = meltano.state("dev:tap-pm-to-target-duckdb")

    changed = touch_one_per_stream(emulator)
    meltano.run("tap-pm", "target-duckdb", emulator, **env)
    second = read_duckdb(tmp_path / "warehouse.duckdb")
    check_warehouse(second, emulator, timestamp={"TIMESTAMP"}, nested={"JSON"})
    check_changes_landed(second, changed)
    assert_second_run_is_incremental(reloaded(first, second), changed, state, emulator)
    assert_bookmarks_advanced(state, meltano.state("dev:tap-pm-to-target-duckdb"), changed)


def test_meltano_run_into_postgres_twice_keeps_one_row_per_id(
    meltano: Meltano, emulator: Emulator, postgres: Postgres
) -> None:
    env = postgres.loader_env(postgres.new_database("tap_pm_test"))
    database = env["TARGET_POSTGRES_DATABASE"]
    meltano.run("tap-pm", "target-postgres", emulator, **env)
    first = postgres.read(database)
    timestamp, nested = {"timestamp without time zone", "timestamp with time zone"}, {"jsonb"}
    check_warehouse(first, emulator, timestamp, nested)
    # Arrays of objects become jsonb[]; scalars get their own types.
    assert first.types["tasks", "fields"] == "_jsonb"
    assert first.types["tasks", "id"] == "bigint"
    assert first.types["tasks", "archived"] == "boolean"
    state = meltano.state("dev:tap-pm-to-target-postgres")

    changed = touch_one_per_stream(emulator)
    meltano.run("tap-pm", "target-postgres", emulator, **env)
    second = postgres.read(database)
    check_warehouse(second, emulator, timestamp, nested)
    check_changes_landed(second, changed)
    assert_second_run_is_incremental(reloaded(first, second), changed, state, emulator)
    assert_bookmarks_advanced(state, meltano.state("dev:tap-pm-to-target-postgres"), changed)
    # The full-table stream's ACTIVATE_VERSION soft-deletes rows it did not send again: none.
    for table, rows in second.tables.items():
        assert all(row["_sdc_deleted_at"] is None for row in rows), table


def test_one_tap_per_workspace_through_plugin_inheritance(
    meltano: Meltano, shared_emulator: Emulator, tmp_path: Path
) -> None:
    meltano.run(
        "tap-pm--acme",
        "target-duckdb",
        shared_emulator,
        TAP_PM_API_KEY="key-of-another-workspace",  # tap-pm's; tap-pm--acme has its own
        TAP_PM__ACME_API_KEY=API_KEY,
        TARGET_DUCKDB_FILEPATH=str(tmp_path / "acme.duckdb"),
    )
    warehouse = read_duckdb(tmp_path / "acme.duckdb", schema="tap_pm_acme")
    # Its own schema (load_schema) and its own selection: no custom fields, neither the
    # definitions nor the values; tap-pm's settings and stream maps otherwise.
    assert set(warehouse.tables) == set(TABLES.values()) - {"fields"}
    for stream, table in TABLES.items():
        if stream != "fields":
            assert set(warehouse.ids(table)) == shared_emulator.ids(stream), stream
    for table in ("projects", "tasks", "time_entries", "users"):
        assert (table, "fields") not in warehouse.types, table
        assert (table, "updatedat") in warehouse.types, table
    states = meltano("state", "list").split()
    assert "dev:tap-pm--acme-to-target-duckdb" in states


def test_hub_definition_adds_the_extractor_to_a_new_project(
    meltano: Meltano, tmp_path: Path
) -> None:
    env = clean_env()
    init = Meltano(tmp_path, env)
    init("init", "--no_usage_stats", "fresh")
    fresh = Meltano(tmp_path / "fresh", env)
    fresh("add", "tap-pm", "--from-ref", str(HUB_DEFINITION), "--no-install")
    project = yaml.safe_load((tmp_path / "fresh" / "meltano.yml").read_text())
    [extractor] = project["plugins"]["extractors"]
    hub = yaml.safe_load(HUB_DEFINITION.read_text())
    assert [s["name"] for s in extractor["settings"]] == [s["name"] for s in hub["settings"]]
    listing = fresh("config", "list", "tap-pm")
    assert "api_key [env: TAP_PM_API_KEY]" in listing
    assert "Required settings: api_key" in listing


@pytest.mark.parametrize(
    ("loader", "secret_setting"),
    [
        ("target-postgres", "password"),
        ("target-snowflake", "private_key"),
        ("target-duckdb", "token"),
    ],
)
def test_loader_secrets_come_from_the_environment_and_redacted(
    meltano: Meltano, loader: str, secret_setting: str
) -> None:
    prefix = loader.upper().replace("-", "_")
    secret = "s3cr3t-from-env-" + loader
    printed = meltano("config", "print", loader, env={f"{prefix}_{secret_setting.upper()}": secret})
    assert secret not in printed
    assert json.loads(printed)[secret_setting] == "*****"
    unsafe = meltano(
        "config", "--unsafe", "print", loader, env={f"{prefix}_{secret_setting.upper()}": secret}
    )
    assert json.loads(unsafe)[secret_setting] == secret


# ------------------------------------------------------------------------ deletions
# The deletions that every regular sync carries to the warehouse; the rest wait for a reconcile.
EVERY_SYNC = ("spaces", "phases", "space-documents", "users", "fields", "time-offs")


def delete_as_in_the_issue(emu: Emulator, added_tasks: list[int]) -> dict[str, set[int]]:
    """10 tasks (3 added after the full sync), 2 phases, 1 space document, 1 user, 1 field,
    1 time-off and 1 project with everything in it. Returns every id that went, per stream."""
    before = {stream: emu.ids(stream) for stream in STREAMS}
    victim = sorted(emu.ids("projects"))[3]
    tasks = [t for t in sorted(emu.ids("tasks")) if emu.project_of("tasks", t) != victim]
    for rid in [*added_tasks[:3], *tasks[20:27]]:
        emu.delete("tasks", rid)
    for stream, count in (("phases", 2), ("space-documents", 1)):
        rows = [r for r in sorted(emu.ids(stream)) if emu.project_of(stream, r) != victim]
        for rid in rows[5 : 5 + count]:
            emu.delete(stream, rid)
    for stream in ("users", "fields", "time-offs"):
        emu.delete(stream, sorted(emu.ids(stream))[4])
    emu.delete("projects", victim)
    return {stream: before[stream] - emu.ids(stream) for stream in STREAMS}


def check_deletions(
    warehouse: Warehouse,
    emu: Emulator,
    streams: Collection[str],
    gone: Mapping[str, set[int]],
    *,
    hard: bool,
    tombstones_kept: bool = False,
    start_date: str | None = None,
) -> None:
    """`streams` equal the emulator (its records in `start_date`'s scope); in every table, no
    live row is missing.

    `tombstones_kept`: under hard delete, rows marked by this sync's tombstones may remain
    until the table's next activation (targets that activate before writing their batch).
    """
    scope = in_scope(emu, start_date) if start_date else {s: emu.ids(s) for s in STREAMS}
    for stream, table in TABLES.items():
        rows = warehouse.by_id(table)
        live = {rid for rid, row in rows.items() if row.get("_sdc_deleted_at") is None}
        assert live >= scope[stream], (stream, sorted(scope[stream] - live)[:5])
        if stream not in streams:
            continue
        assert live == scope[stream], (stream, sorted(live - scope[stream])[:5])
        marked = set(rows) - live
        if hard and tombstones_kept:
            assert marked <= gone.get(stream, set()), stream
            continue
        assert marked == (set() if hard else gone.get(stream, set()) & set(rows)), stream


# As Meltano users set it: the scope (here every record that has `updatedAt`), not an off switch.
START_DATE = "2024-01-01T00:00:00Z"


@pytest.mark.parametrize("hard", [True, False], ids=["hard-delete", "soft-delete"])
def test_deletions_reach_postgres(
    meltano: Meltano, emulator: Emulator, postgres: Postgres, hard: bool
) -> None:
    database = postgres.new_database("tap_pm_deletions")
    env = {
        **postgres.loader_env(database),
        "TARGET_POSTGRES_HARD_DELETE": str(hard).lower(),
        "MELTANO_RUN_STATE_ID_SUFFIX": f"deletions-{hard}",  # its own state
        "TAP_PM_START_DATE": START_DATE,
    }
    check = partial(check_deletions, hard=hard, start_date=START_DATE)
    meltano.run("tap-pm", "target-postgres", emulator, **env)  # the full sync
    check(postgres.read(database), emulator, STREAMS, {})

    # Records added, then loaded by an incremental sync.
    added = [emulator.create("tasks", t)["taskId"] for t in sorted(emulator.ids("tasks"))[:5]]
    emulator.create("phases", min(emulator.ids("phases")))
    emulator.create("users", min(emulator.ids("users")))
    meltano.run("tap-pm", "target-postgres", emulator, **env)
    check(postgres.read(database), emulator, STREAMS, {})

    gone = delete_as_in_the_issue(emulator, added)
    meltano.run("tap-pm", "target-postgres", emulator, **env)  # a regular incremental sync
    check(postgres.read(database), emulator, EVERY_SYNC, gone)
    assert gone["tasks"] <= set(postgres.read(database).by_id("tasks"))  # not proven yet

    # A reconcile whose retries run out at its last list deletes nothing.
    before = postgres.read(database)
    emulator.hooks.append(
        lambda resource, _: setattr(emulator.faults, "error_rate", float(resource == "time-offs"))
    )
    meltano.run_failing(
        "tap-pm", "target-postgres", emulator,
        TAP_PM_RECONCILE="true", TAP_PM_MAX_RETRIES="0", **env,
    )  # fmt: skip
    emulator.hooks.clear()
    emulator.faults.error_rate = 0.0
    after = postgres.read(database)
    for table in TABLES.values():
        rows, old = after.by_id(table), before.by_id(table)
        assert rows.keys() == old.keys(), table
        live = {rid for rid, row in rows.items() if row.get("_sdc_deleted_at") is None}
        assert live == {rid for rid, row in old.items() if row.get("_sdc_deleted_at") is None}

    meltano.run("tap-pm", "target-postgres", emulator, TAP_PM_RECONCILE="true", **env)
    check(postgres.read(database), emulator, STREAMS, gone)


# ------------------------------------------------------------------------ opt-in streams
def test_opt_in_streams_load_into_duckdb_and_postgres(
    meltano: Meltano, shared_emulator: Emulator, postgres: Postgres, tmp_path: Path
) -> None:
    """Selected through Meltano (`TAP_PM__SELECT`, so the shared project is left as it is), the
    opt-in streams load into their own tables, aliased where hyphenated, one row per id."""
    env = {
        "TAP_PM__SELECT": json.dumps([f"{stream}.*" for stream in OPT_IN]),
        "MELTANO_RUN_STATE_ID_SUFFIX": "opt-in",  # its own state
    }
    tables = {stream: stream.replace("-", "_") for stream in OPT_IN}
    database = postgres.new_database("tap_pm_opt_in")
    duckdb_file = tmp_path / "opt-in.duckdb"
    meltano.run(
        "tap-pm", "target-duckdb", shared_emulator, TARGET_DUCKDB_FILEPATH=str(duckdb_file), **env
    )
    meltano.run(
        "tap-pm", "target-postgres", shared_emulator, **postgres.loader_env(database), **env
    )
    for warehouse in (read_duckdb(duckdb_file), postgres.read(database)):
        assert set(warehouse.tables) == set(tables.values())  # the nine were not selected
        for stream, table in tables.items():
            ids = warehouse.ids(table)
            assert set(ids) == opt_in_ids(shared_emulator, stream), stream
            assert max(ids.values()) == 1, stream
        lines = warehouse.by_id("invoice_lines")
        truth = {
            r["invoiceLineItemId"]: r["invoiceId"] for r in shared_emulator.truth("invoice-lines")
        }
        assert {rid: int(row["invoiceid"]) for rid, row in lines.items()} == truth
    states = meltano("state", "list").split()
    assert "dev:tap-pm-to-target-postgres:opt-in" in states
    assert "dev:tap-pm-to-target-duckdb:opt-in" in states
