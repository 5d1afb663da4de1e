"""Hostile values reach every warehouse meltano.yml ships a loader for, and stop none of them.

On an emulator workspace with its hostile option (a lone surrogate, NUL, a byte that is not
UTF-8, numbers beyond 64 bits or double, deep nesting, an odd property name, a 2 MiB text),
a full sync and then an incremental one, through Meltano with the shipped settings, load
every row into PostgreSQL, Snowflake (fakesnow), DuckDB and JSONL. Each value is in its row
(U+FFFD or null in its column, as sent in `_drift`), and the log names each field.

target-duckdb cannot load a row over 2,000,000 bytes (DuckDB's CSV line limit, which it
does not let one raise): its workspace has every kind but the long text, which the live
check warns about instead (test_hostile.py). The Meltano projects, the PostgreSQL server and
the fake Snowflake loader are test_meltano.py's and test_snowflake.py's.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest
from conftest import API_KEY, STREAMS
from test_drift_loads import as_json
from test_hostile import (
    BAD_TEXT,
    as_sent,
    assert_named_once,
    column,
    drift_path,
    expected,
    sent_now,
)
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
from rocketlane_emulator.hostile import KINDS

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from test_meltano import Meltano, Postgres
    from test_snowflake import FakeSnowflake

DRIFT = "_drift"
SUFFIX = {"MELTANO_RUN_STATE_ID_SUFFIX": "hostile"}  # its own state in the shared projects


def hostile_emulator(kinds: set[str]) -> Emulator:
    return Emulator(seed=1, scale=Scale.default(), api_key=API_KEY, hostile=kinds)


def in_row(row: dict[str, Any], path: str) -> object:
    """The value at a path in a warehouse row: its column, then inside the JSON there."""
    top, *steps = re.findall(r"[^.\[\]]+", path)
    value = row.get(top.lower())
    for step in steps:
        inner: Any = as_json(value)
        value = inner[int(step)] if step.isdigit() else inner.get(step)
    return value


def check_landed(warehouse: Warehouse, emu: Emulator, log: str) -> None:
    """Every row is there; each hostile value is in its row; the log names each field."""
    for stream, table in TABLES.items():
        ids = warehouse.ids(table)
        assert set(ids) == emu.ids(stream), stream
        assert max(ids.values()) == 1, f"{table}: several rows for one id"
    for item in emu.hostile:
        row = warehouse.by_id(TABLES[item.stream])[item.record_id]
        value = sent_now(emu, item.stream, item.record_id, item.field)
        in_column, kept = expected(item.kind, value)
        drift = as_json(row[DRIFT]) or {}
        assert drift.get(drift_path(item.field)) == kept, (item.kind, drift)
        if item.kind == "odd-key":
            assert not any(BAD_TEXT.search(name) for name in row), row.keys()
        else:
            assert in_row(row, item.field) == in_column, item.kind
        if kept is not None:
            assert_named_once(log, item)


def full_then_incremental(emu: Emulator, load: Callable[[], tuple[Warehouse, str]]) -> None:
    for sync in ("full", "incremental"):
        if sync == "incremental":
            touch_one_per_stream(emu)
            for item in emu.hostile:
                emu.touch(item.stream, item.record_id)
        warehouse, log = load()
        check_landed(warehouse, emu, log)


EVERY_KIND = set(KINDS)


def test_hostile_values_load_into_postgres(meltano: Meltano, postgres: Postgres) -> None:  # noqa: F811
    """Before: `bigint out of range` on the integer beyond 64 bits, and `PostgreSQL text fields
    cannot contain NUL (0x00) bytes` on the NUL: each stopped the load."""
    env = {**postgres.loader_env(postgres.new_database("tap_pm_hostile")), **SUFFIX}
    with hostile_emulator(EVERY_KIND) as emu:

        def load() -> tuple[Warehouse, str]:
            meltano.run("tap-pm", "target-postgres", emu, **env)
            log = meltano.last_stderr
            return postgres.read(env["TARGET_POSTGRES_DATABASE"]), log

        full_then_incremental(emu, load)


def test_hostile_values_load_into_snowflake(snowflake: FakeSnowflake, tmp_path: Path) -> None:  # noqa: F811
    env = {**snowflake.env(tmp_path), **SUFFIX}
    with hostile_emulator(EVERY_KIND) as emu:

        def load() -> tuple[Warehouse, str]:
            snowflake.meltano.run("tap-pm", LOADER, emu, **env)
            log = snowflake.meltano.last_stderr
            [warehouse] = snowflake.read(tmp_path)
            return warehouse, log

        full_then_incremental(emu, load)


def test_hostile_values_load_into_duckdb(meltano: Meltano, tmp_path: Path) -> None:  # noqa: F811
    env = {"TARGET_DUCKDB_FILEPATH": str(tmp_path / "hostile.duckdb"), **SUFFIX}
    with hostile_emulator(EVERY_KIND - {"long-text"}) as emu:

        def load() -> tuple[Warehouse, str]:
            meltano.run("tap-pm", "target-duckdb", emu, **env)
            log = meltano.last_stderr
            return read_duckdb(tmp_path / "hostile.duckdb"), log

        full_then_incremental(emu, load)


def test_hostile_values_reach_jsonl_lines(meltano: Meltano, tmp_path: Path) -> None:  # noqa: F811
    with hostile_emulator(EVERY_KIND) as emu:
        for sync in ("full", "incremental"):
            if sync == "incremental":
                for item in emu.hostile:
                    emu.touch(item.stream, item.record_id)
            out = tmp_path / sync
            env = {"TARGET_JSONL_DESTINATION_PATH": str(out), **SUFFIX}
            meltano.run("tap-pm", "target-jsonl", emu, **env)
            lines = read_jsonl(out)
            for item in emu.hostile:
                [line] = [r for r in lines[TABLES[item.stream]] if r["id"] == item.record_id]
                value = sent_now(emu, item.stream, item.record_id, item.field)
                in_column, kept = expected(item.kind, value)
                assert line[DRIFT].get(drift_path(item.field)) == kept, item.kind
                if item.kind != "odd-key":
                    assert column(line, item.field) == in_column, item.kind
            for path in out.glob("*.jsonl"):
                path.read_bytes().decode("utf-8")  # strict: no lone surrogate was written
            if sync == "full":
                for stream, table in TABLES.items():
                    assert {r["id"] for r in lines[table]} == emu.ids(stream), stream


def test_the_checks_here_notice_a_value_that_did_not_land() -> None:
    """check_landed fails on a warehouse that lost the text as sent."""
    with hostile_emulator({"nul"}) as emu:
        [item] = emu.hostile
        rows: dict[str, list[dict[str, Any]]] = {
            TABLES[s]: [{"id": i, DRIFT: None} for i in emu.ids(s)] for s in STREAMS
        }
        value = sent_now(emu, item.stream, item.record_id, item.field)
        for row in rows[TABLES[item.stream]]:
            if row["id"] == item.record_id:
                row[item.field.lower()] = str(value).replace("\x00", "\ufffd")
        warehouse = Warehouse(rows, {})
        with pytest.raises(AssertionError):
            check_landed(warehouse, emu, f"{item.stream}: 1 value of {item.field} (e.g. id 1)")
        assert as_sent(str(value)) != str(value)
