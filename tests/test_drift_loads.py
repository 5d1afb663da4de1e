"""Drift never stops a load: through Meltano, into PostgreSQL, Snowflake (fakesnow) and DuckDB.

On an emulator workspace with its drift option (one value of each unexpected kind, in six
streams), a full sync and then an incremental sync each load every row; each drifted value is
in its row (converted in its column, or as sent in `_drift`), and the run's log (Meltano
passes the tap's on) names each drifted field. The Meltano projects, the PostgreSQL server and
the fake Snowflake loader are test_meltano.py's and test_snowflake.py's.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from conftest import API_KEY
from test_meltano import (  # noqa: F401 - fixtures, used by name
    TABLES,
    Warehouse,
    meltano,
    postgres,
    read_duckdb,
    read_jsonl,
    touch_one_per_stream,
)
from test_snowflake import LOADER, snowflake  # noqa: F401 - a fixture, used by name

from rocketlane_emulator import Emulator, Scale

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from test_meltano import Meltano, Postgres
    from test_snowflake import FakeSnowflake

    from rocketlane_emulator import DriftedValue

DRIFT = "_drift"
SUFFIX = {"MELTANO_RUN_STATE_ID_SUFFIX": "drift"}  # its own state in the shared projects


@pytest.fixture
def drift_emulator() -> Iterator[Emulator]:
    with Emulator(seed=1, scale=Scale.default(), api_key=API_KEY, drift=True) as emu:
        yield emu


def as_json(value: object) -> Any:
    """JSON columns come back as text from DuckDB and Snowflake, parsed from PostgreSQL: the
    JSON value, whatever it holds (Any, as json.loads gives it)."""
    return json.loads(value) if isinstance(value, str) else value


def check_drift_landed(warehouse: Warehouse, emu: Emulator, log: str) -> None:
    """Every row is there; each drifted value is in its row; the log names each field."""
    for stream, table in TABLES.items():
        ids = warehouse.ids(table)
        assert set(ids) == emu.ids(stream), stream
        assert max(ids.values()) == 1, f"{table}: several rows for one id"
        assert (table, DRIFT) in warehouse.types, table
    drifted_rows = {(d.stream, d.record_id) for d in emu.drifted}
    for item in emu.drifted:
        table = TABLES[item.stream]
        row = warehouse.by_id(table)[item.record_id]
        drift = as_json(row[DRIFT]) or {}
        top, *nested = item.field.split(".")
        value = as_json(row.get(top.lower()))
        for name in nested:
            value = value[name]
        if item.kind == "number-as-text":  # converts without loss: in its column
            assert int(value) == int(item.value), item
            assert item.field not in drift, item
        else:
            assert value is None, (item, value)
            assert drift[item.field] == item.value, (item, drift)
        if item.kind == "unknown-property":
            assert (table, item.field.lower()) not in warehouse.types, "a column for it"
        assert_logged(log, item)
    for stream, table in TABLES.items():
        clean = [
            rid
            for rid, row in warehouse.by_id(table).items()
            if (stream, rid) not in drifted_rows and as_json(row[DRIFT]) is not None
        ]
        assert not clean, (table, clean[:5])


def assert_logged(log: str, item: DriftedValue) -> None:
    lines = [line for line in log.splitlines() if f"{item.stream}: 1 value of {item.field}" in line]
    assert len(lines) == 1, (item, lines)
    assert f"(e.g. id {item.record_id})" in lines[0], lines[0]


def touch_drifted(emu: Emulator) -> None:
    """Edit the drifted records too, so the incremental sync brings them (still drifted)."""
    touch_one_per_stream(emu)
    for item in emu.drifted:
        emu.touch(item.stream, item.record_id)


def full_then_incremental(emu: Emulator, load: Callable[[], tuple[Warehouse, str]]) -> None:
    for sync in ("full", "incremental"):
        if sync == "incremental":
            touch_drifted(emu)
        warehouse, log = load()
        check_drift_landed(warehouse, emu, log)


def test_drift_loads_into_postgres(
    meltano: Meltano,  # noqa: F811
    postgres: Postgres,  # noqa: F811
    drift_emulator: Emulator,
) -> None:
    env = {**postgres.loader_env(postgres.new_database("tap_pm_drift")), **SUFFIX}

    def load() -> tuple[Warehouse, str]:
        meltano.run("tap-pm", "target-postgres", drift_emulator, **env)
        log = meltano.last_stderr
        return postgres.read(env["TARGET_POSTGRES_DATABASE"]), log

    full_then_incremental(drift_emulator, load)


def test_drift_loads_into_duckdb(
    meltano: Meltano,  # noqa: F811
    drift_emulator: Emulator,
    tmp_path: Path,
) -> None:
    env = {"TARGET_DUCKDB_FILEPATH": str(tmp_path / "drift.duckdb"), **SUFFIX}

    def load() -> tuple[Warehouse, str]:
        meltano.run("tap-pm", "target-duckdb", drift_emulator, **env)
        log = meltano.last_stderr
        return read_duckdb(tmp_path / "drift.duckdb"), log

    full_then_incremental(drift_emulator, load)


def test_drift_loads_into_snowflake(
    snowflake: FakeSnowflake,  # noqa: F811
    drift_emulator: Emulator,
    tmp_path: Path,
) -> None:
    env = {**snowflake.env(tmp_path), **SUFFIX}

    def load() -> tuple[Warehouse, str]:
        snowflake.meltano.run("tap-pm", LOADER, drift_emulator, **env)
        log = snowflake.meltano.last_stderr
        [warehouse] = snowflake.read(tmp_path)
        return warehouse, log

    full_then_incremental(drift_emulator, load)


def test_drift_reaches_jsonl_lines(
    meltano: Meltano,  # noqa: F811
    drift_emulator: Emulator,
    tmp_path: Path,
) -> None:
    """target-jsonl writes what it gets: the drifted record's line carries `_drift`."""
    env = {"TARGET_JSONL_DESTINATION_PATH": str(tmp_path), **SUFFIX}
    meltano.run("tap-pm", "target-jsonl", drift_emulator, **env)
    lines = read_jsonl(tmp_path)
    for stream, table in TABLES.items():
        assert {r["id"] for r in lines[table]} == drift_emulator.ids(stream), stream
    for item in drift_emulator.drifted:
        [line] = [r for r in lines[TABLES[item.stream]] if r["id"] == item.record_id]
        if item.kind == "number-as-text":
            assert line[item.field] == int(item.value)
            assert DRIFT not in line
        else:
            assert line[DRIFT][item.field] == item.value
        assert_logged(meltano.last_stderr, item)
    drifted = {(d.stream, d.record_id) for d in drift_emulator.drifted}
    for stream, table in TABLES.items():
        assert all(DRIFT not in r for r in lines[table] if (stream, r["id"]) not in drifted)
