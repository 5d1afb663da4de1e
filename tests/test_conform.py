"""Values of unexpected types never stop a load and lose nothing (tap_pm/conform.py).

Unit tests go through the cases one by one on a stream's real schema; the CLI tests run the
tap on an emulator workspace with its drift option and check what came out.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest
import requests
from conftest import (
    API_KEY,
    CHILDREN,
    STREAMS,
    TapRun,
    run_tap,
    streams_of,
    sync_in_process,
    tap_config,
)

from rocketlane_emulator import ID_KEYS, Emulator, Scale, generate
from tap_pm.conform import (
    DRIFT_PROPERTY,
    PATTERNS,
    Conformer,
    DriftSchemaDirectory,
    KeyMisfitError,
    _matcher,
    is_date,
    is_date_time,
    with_drift_column,
)
from tap_pm.safe_json import DRIFT
from tap_pm.tap import TapPM

if TYPE_CHECKING:
    from collections.abc import Iterator

SCHEMAS = resources.files("tap_pm") / "schemas"
ALL_STREAMS = sorted(p.name.removesuffix(".json") for p in SCHEMAS.iterdir())
FORMATS = jsonschema.Draft7Validator.FORMAT_CHECKER


def declared(stream: str) -> dict[str, Any]:
    return with_drift_column(json.loads((SCHEMAS / f"{stream}.json").read_text()))


def conform(stream: str, **values: object) -> dict[str, Any]:
    """One record of `stream` with these values, after conformance."""
    return Conformer(stream, declared(stream))({"id": 7, ID_KEYS.get(stream, "id"): 7, **values})


def assert_valid(stream: str, record: dict[str, Any]) -> None:
    validator = jsonschema.Draft7Validator(declared(stream), format_checker=FORMATS)
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(record)]
    assert not errors, errors


def test_the_drift_column_is_declared_on_every_stream() -> None:
    schema = json.loads((SCHEMAS / "tasks.json").read_text())
    declared_copy = json.loads(json.dumps(schema))
    with_drift = with_drift_column(schema)
    assert with_drift["properties"] == {**schema["properties"], DRIFT: DRIFT_PROPERTY}
    assert {k: v for k, v in with_drift.items() if k != "properties"} == {
        k: v for k, v in schema.items() if k != "properties"
    }
    assert schema == declared_copy  # the file's schema is left as it was
    tap = TapPM(config={"api_key": API_KEY}, validate_config=False)
    for name, stream in tap.streams.items():
        assert stream.schema["properties"][DRIFT] == DRIFT_PROPERTY, name
        assert set(stream.schema["properties"]) - {DRIFT} == set(declared(name)["properties"]) - {
            DRIFT
        }


def test_the_format_checker_checks_dates_and_date_times() -> None:
    """Without rfc3339-validator jsonschema skips `date-time`: the tests would prove nothing."""
    assert not FORMATS.conforms("2024-05-01 10:00", "date-time")
    assert FORMATS.conforms("2024-05-01T10:00:00.000+00:00", "date-time")
    assert not FORMATS.conforms("05/01/2024", "date")


# ------------------------------------------------------------------- a decimal for an integer
@pytest.mark.parametrize(
    ("sent", "column"),
    [
        (38.0, 38),
        ("480", 480),
        ("-3", -3),
        (2**40 + 0.0, 2**40),
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775808", -(2**63)),  # BIGINT's bounds
    ],
)
def test_a_whole_value_for_an_integer_stays_in_its_column(sent: object, column: object) -> None:
    record = conform("tasks", effortInMinutes=sent)
    assert record["effortInMinutes"] == column
    assert type(record["effortInMinutes"]) is int
    assert DRIFT not in record
    assert_valid("tasks", record)


@pytest.mark.parametrize(
    "sent",
    [
        37.5, "37.0", "0480", "-0", "1e3", " 480", True, 1e30, "x",
        "9223372036854775808", "-9223372036854775809", 2.0**63,  # beyond BIGINT
    ],
)  # fmt: skip
def test_a_value_that_is_not_an_exact_integer_goes_to_drift(sent: object) -> None:
    record = conform("tasks", effortInMinutes=sent)
    assert record["effortInMinutes"] is None
    assert record[DRIFT] == {"effortInMinutes": sent}
    assert_valid("tasks", record)


# ----------------------------------------------------------------------- a number as text
@pytest.mark.parametrize(("sent", "column"), [("37.5", 37.5), ("12", 12), ("-0.25", -0.25)])
def test_a_numeric_text_for_a_number_stays_in_its_column(sent: object, column: object) -> None:
    record = conform("projects", budgetedHours=sent)
    assert record["budgetedHours"] == column
    assert DRIFT not in record
    assert_valid("projects", record)


@pytest.mark.parametrize("sent", ["37.50", "1e3", "nan", "inf", "12 h", ""])
def test_a_text_that_does_not_read_back_the_same_goes_to_drift(sent: object) -> None:
    record = conform("projects", budgetedHours=sent)
    assert record["budgetedHours"] is None
    assert record[DRIFT] == {"budgetedHours": sent}
    assert_valid("projects", record)


def test_booleans_from_true_and_false_only() -> None:
    record = conform("tasks", atRisk="true", archived="false", billable=1)
    assert (record["atRisk"], record["archived"], record["billable"]) == (True, False, None)
    assert record[DRIFT] == {"billable": 1}
    assert_valid("tasks", record)


def test_a_number_or_boolean_for_a_string_becomes_its_json_text() -> None:
    record = conform("tasks", taskName=12, taskDescription=1.5, externalReferenceId=False)
    assert (record["taskName"], record["taskDescription"]) == ("12", "1.5")
    assert record["externalReferenceId"] == "false"
    assert DRIFT not in record
    record = conform("tasks", taskName={"en": "Kickoff"}, taskDescription=["a"])
    assert (record["taskName"], record["taskDescription"]) == (None, None)
    assert record[DRIFT] == {"taskName": {"en": "Kickoff"}, "taskDescription": ["a"]}
    assert_valid("tasks", record)


# ------------------------------------------------------------------- a string for an object
def test_a_string_where_an_object_is_expected_goes_to_drift() -> None:
    record = conform("phases", status="In progress", projectId=1)
    assert record["status"] is None
    assert record[DRIFT] == {"status": "In progress"}
    assert_valid("phases", record)


def test_nested_values_are_fitted_where_they_are() -> None:
    status = {"value": "x", "label": 5, "color": "red"}  # color: unknown, kept in place
    fields = [
        {"fieldId": 1, "fieldValue": {"any": "thing"}},
        "not an object",
        {"fieldId": "31", "fieldLabel": "Region"},
        {"fieldId": "thirty-one"},
        {"fieldId": "32", "fieldValue": ["any", 5]},  # repaired: its value of any type stays
    ]
    record = conform("tasks", status=status, fields=fields)
    assert record["status"] == {"value": None, "label": "5", "color": "red"}
    assert record["fields"] == [
        {"fieldId": 1, "fieldValue": {"any": "thing"}},
        {"fieldId": 31, "fieldLabel": "Region"},
        {"fieldId": None},
        {"fieldId": 32, "fieldValue": ["any", 5]},
    ]
    # Paths index the array as the API sent it.
    assert record[DRIFT] == {
        "status.value": "x",
        "fields[1]": "not an object",
        "fields[3].fieldId": "thirty-one",
    }
    assert_valid("tasks", record)


# ------------------------------------------------------------------ a date in another format
@pytest.mark.parametrize("sent", ["05/01/2024", "2024-5-1", "2024-02-30", "20240501", 20240501])
def test_a_date_in_another_format_goes_to_drift(sent: object) -> None:
    record = conform("tasks", startDate=sent)
    assert record["startDate"] is None
    assert record[DRIFT] == {"startDate": sent}
    assert_valid("tasks", record)


@pytest.mark.parametrize(
    "sent",
    ["2024-05-01 10:00:00", "2024-05-01T10:00:00", "2024-05-01", "2024-13-01T00:00:00Z", 17e11],
)
def test_a_date_time_that_is_not_rfc3339_goes_to_drift(sent: object) -> None:
    record = conform("tasks", updatedAt=sent)
    assert record["updatedAt"] is None
    assert record[DRIFT] == {"updatedAt": sent}
    assert_valid("tasks", record)


def test_date_checks_agree_with_jsonschema() -> None:
    samples = [
        "2024-02-29", "2023-02-29", "2024-12-31", "2024-00-10", "24-01-01", "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00.5+05:30", "2024-01-01t00:00:00z", "2024-01-01T24:00:00Z",
        "2024-01-01T00:00:00", "2024-04-31T00:00:00Z", "2024-01-01T00:00:00+0100",
        "2000-02-29", "1900-02-29", "2100-02-29", "0000-01-01", "0001-01-01", "2024-01-01\n",
        "2024-06-31", "2024-11-30", "1996-02-29T23:59:59.999-12:00", "2024-01-01T00:00:60Z",
    ]  # fmt: skip
    for text in samples:
        assert is_date(text) == FORMATS.conforms(text, "date"), text
        assert is_date_time(text) == FORMATS.conforms(text, "date-time"), text


# ---------------------------------------------------------------- a property the schema lacks
def test_an_unknown_property_goes_to_drift_under_its_name() -> None:
    record = conform("users", timeZone="Europe/Paris", badges=[1, 2], gone=None)
    assert "timeZone" not in record
    assert "gone" not in record  # a null has nothing to keep
    assert record[DRIFT] == {"timeZone": "Europe/Paris", "badges": [1, 2]}
    assert_valid("users", record)
    # A name a path cannot tell apart is quoted (docs/values.md), at the top level too.
    record = conform("users", **{"time.zone": "UTC", "": 1})
    assert record[DRIFT] == {'["time.zone"]': "UTC", '[""]': 1}


def test_a_record_that_fits_is_left_as_it_is() -> None:
    record = {"id": 1, "userId": 1, "email": "a@b.example", "fields": [], "role": None}
    same = dict(record)
    conformer = Conformer("users", declared("users"))
    assert conformer.fits(record)  # the fast path
    assert conformer(record) == same
    assert DRIFT not in record
    assert not conformer.fits({**record, "userId": "1"})


def test_a_key_that_cannot_be_read_stops_with_one_clear_line() -> None:
    with pytest.raises(KeyMisfitError) as caught:
        Conformer("tasks", declared("tasks"))({"id": 1, "taskId": "T-1"})
    assert caught.value.message == (
        "tasks: a record's taskId is 'T-1', which is not integer: without it the record has no "
        "row to load into. Please report this, with tap-pm's log, to tap-pm's issue tracker."
    )
    assert conform("tasks", taskId="8")["taskId"] == 8  # exact: stays


# ------------------------------------------------------------------------------ the log
def test_the_log_counts_per_field_with_one_example(caplog: pytest.LogCaptureFixture) -> None:
    conformer = Conformer("tasks", declared("tasks"))
    for rid, minutes in ((1, 30), (2, 37.5), (3, "480"), (4, 1.25), (5, "12")):
        conformer({"id": rid, "taskId": rid, "effortInMinutes": minutes, "mood": "ok"})
    with caplog.at_level(logging.INFO):
        conformer.report(logging.getLogger("tap-pm"))
        conformer.report(logging.getLogger("tap-pm"))  # once per sync: nothing new to say
    lines = [r.getMessage() for r in caplog.records]
    converted = "came as text and were converted to integer without loss (e.g. id 3)"
    kept = "did not fit integer and were kept in _drift (e.g. id 2)"
    unknown = "a property the schema does not have, were kept in _drift (e.g. id 1)"
    assert lines == [
        f"tasks: 2 values of effortInMinutes {converted}",
        f"tasks: 2 values of effortInMinutes {kept}",
        f"tasks: 5 values of mood, {unknown}",
    ]


# ------------------------------------------------------------------ nothing lost
def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def rebuilt(value: object, drift: dict[str, Any], path: str, schema: dict[str, Any]) -> object:
    """What the API sent, rebuilt from a conformed value and its record's `_drift`.

    A value that did not fit is null in place (nullable) or left out (an object's property,
    an array's item), and is in `_drift` under its path, the array index as sent.
    """
    if value is None and path in drift:
        return drift[path]
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        out = {
            k: rebuilt(v, drift, _child(path, k), properties.get(k, {})) for k, v in value.items()
        }
        prefix = _child(path, "")
        for key, sent in drift.items():
            name = key[len(prefix) :]
            if key.startswith(prefix) and name and not {".", "["} & set(name) and name not in out:
                out[name] = sent  # left out of the object
        return out
    if isinstance(value, list):
        items = schema.get("items") or {}
        nullable = "null" in (items.get("type") or [])
        out_items: list[object] = []
        kept = iter(value)
        index, left = 0, len(value)
        while left or (f"{path}[{index}]" in drift and not nullable):
            key = f"{path}[{index}]"
            if key in drift and not nullable:
                out_items.append(drift[key])  # left out of the array
            else:
                out_items.append(rebuilt(next(kept), drift, key, items))
                left -= 1
            index += 1
        return out_items
    return value


def same(sent: object, kept: object) -> bool:
    """Whether `kept` holds `sent` without loss: equal, or a conversion that reads back to it
    (its JSON text is the text sent, or the same number)."""
    if isinstance(sent, dict):
        return (
            isinstance(kept, dict)
            and kept.keys() <= sent.keys()
            and all(same(v, kept[k]) if k in kept else v is None for k, v in sent.items())
        )
    if isinstance(sent, list):
        return isinstance(kept, list) and len(sent) == len(kept) and all(map(same, sent, kept))
    if type(sent) is type(kept):
        return sent == kept
    scalars = (str, int, float, bool)
    if not (isinstance(sent, scalars) and isinstance(kept, scalars)):
        return False
    if isinstance(sent, float) and type(kept) is int:
        return sent == kept  # 38.0 kept as 38

    def text(v: object) -> str:
        return v if isinstance(v, str) else json.dumps(v)

    return text(sent) == text(kept)


def assert_nothing_lost(
    sent: dict[str, Any], record: dict[str, Any], schema: dict[str, Any]
) -> None:
    """Every value sent is in its column, as sent or converted without loss, or in `_drift`
    under its path: at every depth, in objects and arrays."""
    drift = record.get(DRIFT) or {}
    columns = {k: v for k, v in record.items() if k != DRIFT}
    back = rebuilt(columns, drift, "", schema)
    assert same(sent, back), (sent, record)


def test_the_log_says_what_happened_to_one_value_and_how_loud(
    caplog: pytest.LogCaptureFixture,
) -> None:
    conformer = Conformer("tasks", declared("tasks"))
    conformer({"id": 1, "taskId": 1, "effortInMinutes": 37.5, "gone": None, "mood": "ok"})
    conformer({"id": 2, "taskId": 2, "effortInMinutes": "480"})
    with caplog.at_level(logging.INFO):
        conformer.report(logging.getLogger("tap-pm"))
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.INFO,
            (
                "tasks: 1 value of effortInMinutes came as text and was converted to integer "
                "without loss (e.g. id 2)"
            ),
        ),
        (
            logging.WARNING,
            (
                "tasks: 1 value of effortInMinutes did not fit integer and was kept in _drift "
                "(e.g. id 1)"
            ),
        ),
        (
            logging.WARNING,
            (
                "tasks: 1 value of mood, a property the schema does not have, was kept in _drift "
                "(e.g. id 1)"
            ),
        ),
        (
            logging.INFO,
            (
                "tasks: 1 value of gone, a property the schema does not have, was null: nothing to "
                "keep (e.g. id 1)"
            ),
        ),
    ]


def test_unstorable_values_of_a_page_are_kept_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    conformer = Conformer("tasks", declared("tasks"))
    records = [
        {"id": 1, "taskId": 11, "taskName": "a\x00b"},
        {"id": 2, "taskId": 12, "taskName": "\ud800"},
        {"id": 3, "taskId": 13, "taskDescription": "x\x00"},
    ]
    conformer.scrub_page(records, "taskId")
    assert [r[DRIFT] for r in records] == [
        {"taskName": "a\\u0000b"},
        {"taskName": "\\ud800"},
        {"taskDescription": "x\\u0000"},
    ]
    with caplog.at_level(logging.INFO):
        conformer.report(logging.getLogger("tap-pm"))
    held = "held text no warehouse stores as sent (a lone UTF-16 surrogate or a NUL, now U+FFFD)"
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.WARNING,
            (
                f"tasks: 1 value of taskDescription {held}: as sent, it was kept in _drift "
                "(e.g. id 13)"
            ),
        ),
        (
            logging.WARNING,
            f"tasks: 2 values of taskName {held}: as sent, they were kept in _drift (e.g. id 11)",
        ),
    ]


@pytest.mark.parametrize(
    "kinds", [None, ["string", "number", "integer", "boolean", "object", "array", "null"]]
)
def test_a_property_of_any_type_keeps_whatever_comes(kinds: list[str] | None) -> None:
    """No type, or every JSON type: any value fits as it is, however big or deep."""
    anything = {} if kinds is None else {"type": kinds}
    schema = {
        "type": "object",
        "required": ["id"],
        "properties": {"id": {"type": "integer"}, "v": anything},
    }
    conformer = Conformer("tasks", schema)
    for value in (2**70, -1e308, "x", None, True, [1, {"a": [2**80]}], {"b": None}):
        record = conformer({"id": 1, "v": json.loads(json.dumps(value))})
        assert record == {"id": 1, "v": value}, value
        # The same where something else does not fit (the Python checks, not msgspec's).
        record = conformer({"id": 1, "v": json.loads(json.dumps(value)), "other": 1})
        assert record == {"id": 1, "v": value, DRIFT: {"other": 1}}, value


def test_an_integer_no_warehouse_holds_is_kept_as_its_text() -> None:
    # Python's checks alone (an unknown property sends the record past msgspec's).
    record = conform("tasks", effortInMinutes=2**70, mood="ok")
    assert record["effortInMinutes"] is None
    assert record[DRIFT] == {"effortInMinutes": str(2**70), "mood": "ok"}
    assert_valid("tasks", record)


def test_drift_from_reading_the_page_and_from_the_schema_together() -> None:
    conformer = Conformer("tasks", declared("tasks"))
    [record] = records = [{"id": 1, "taskId": 1, "taskName": "a\x00", "effortInMinutes": 37.5}]
    conformer.scrub_page(records, "taskId")
    conformer(record)
    assert record[DRIFT] == {"taskName": "a\\u0000", "effortInMinutes": 37.5}


def test_the_log_names_nested_fields_and_formats(caplog: pytest.LogCaptureFixture) -> None:
    conformer = Conformer("tasks", declared("tasks"))
    conformer({"id": 1, "taskId": 1, "fields": [{"fieldId": "x"}], "startDate": "05/01/2024"})
    with caplog.at_level(logging.INFO):
        conformer.report(logging.getLogger("tap-pm"))
    assert [r.getMessage() for r in caplog.records] == [
        "tasks: 1 value of fields[].fieldId did not fit integer and was kept in _drift (e.g. id 1)",
        "tasks: 1 value of startDate did not fit string (date) and was kept in _drift (e.g. id 1)",
    ]


def test_the_log_names_every_type_a_field_may_hold(caplog: pytest.LogCaptureFixture) -> None:
    schema = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "v": {"type": ["integer", "boolean", "null"]}},
    }
    conformer = Conformer("tasks", schema)
    assert conformer({"id": 1, "v": "many"}) == {"id": 1, "v": None, DRIFT: {"v": "many"}}
    with caplog.at_level(logging.INFO):
        conformer.report(logging.getLogger("tap-pm"))
    assert [r.getMessage() for r in caplog.records] == [
        "tasks: 1 value of v did not fit integer or boolean and was kept in _drift (e.g. id 1)",
    ]


def test_a_catalog_that_leaves_out_fields_in_process(capfd: pytest.CaptureFixture[str]) -> None:
    with Emulator(seed=1, scale=Scale.small(), api_key=API_KEY) as emu:
        config = tap_config(emu)
        catalog = TapPM(config=config).catalog_dict
        for entry in catalog["streams"]:
            for item in entry["metadata"]:
                if item["breadcrumb"] == []:
                    item["metadata"]["selected"] = entry["tap_stream_id"] == "users"
                elif entry["tap_stream_id"] == "users":
                    item["metadata"]["selected"] = item["breadcrumb"][-1] == "email"
        run = sync_in_process(capfd, config, catalog=catalog)
        emails = {u["userId"]: u["email"] for u in emu.truth("users")}
    records = [m for m in run.messages if m["type"] == "RECORD"]
    assert {m["stream"] for m in records} == {"users"}
    assert {m["record"]["id"]: m["record"]["email"] for m in records} == emails
    assert all(set(m["record"]) == {"id", "email", "updatedAt"} for m in records)
    assert all(m["time_extracted"] for m in records)


def test_date_patterns_match_whole_days_only() -> None:
    is_day = _matcher(PATTERNS["date"])
    assert is_day("2024-02-29")
    assert not is_day("2023-02-29")
    assert not is_day("2024-02-29T00:00:00Z")
    assert DriftSchemaDirectory(SCHEMAS).fetch_schema("tasks") == declared("tasks")


def test_a_sync_logs_drift_at_each_stream_end_and_declares_each_schema_once(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with Emulator(seed=1, scale=Scale.small(), api_key=API_KEY, drift=True) as emu:
        with caplog.at_level(logging.INFO):
            run = sync_in_process(capfd, tap_config(emu))
        drifted = emu.drifted
    assert drifted
    logged = [r.getMessage() for r in caplog.records]
    for item in drifted:
        assert [m for m in logged if f"{item.stream}: 1 value of {item.field}" in m], item
    declared_by = Counter(m["stream"] for m in run.messages if m["type"] == "SCHEMA")
    assert declared_by == dict.fromkeys(STREAMS, 1)


# ------------------------------------------------------------------ never fails its schema
WEIRD: list[object] = [
    None, True, False, 0, -1, 37.5, 38.0, 1e30, "", "480", "37.5", "true", "x", "2024-05-01",
    "05/01/2024", "2024-05-01T10:00:00Z", "2024-05-01 10:00", {}, {"a": 1}, [], [1, "a"], [{}],
]  # fmt: skip


def weird(schema: dict[str, Any], rng: random.Random, depth: int = 0) -> object:
    """A value for `schema`: anything, or of its shape with anything inside."""
    kinds = schema.get("type") or []
    if rng.random() < 0.5 or depth > 3:
        return rng.choice(WEIRD)
    if "object" in kinds and schema.get("properties"):
        props = schema["properties"]
        return {k: weird(v, rng, depth + 1) for k, v in props.items() if rng.random() < 0.7}
    if "array" in kinds and isinstance(schema.get("items"), dict):
        return [weird(schema["items"], rng, depth + 1) for _ in range(rng.randrange(4))]
    return rng.choice(WEIRD)


@pytest.mark.parametrize("stream", ALL_STREAMS)
def test_whatever_the_api_sends_every_record_fits_its_schema(stream: str) -> None:
    schema = declared(stream)
    conformer = Conformer(stream, schema)
    validator = jsonschema.Draft7Validator(schema, format_checker=FORMATS)
    rng = random.Random(stream)
    required = set(schema["required"])
    for rid in range(300):
        sent = {
            name: weird(prop, rng)
            for name, prop in schema["properties"].items()
            if name not in required and name != DRIFT
        }
        sent |= dict.fromkeys(required, rid) | {"extra": rng.choice(WEIRD)}
        before = json.loads(json.dumps(sent))
        fits = conformer.fits(sent)  # msgspec's check, in C
        record = conformer(sent)
        # msgspec accepts only what the Python checks leave unchanged.
        assert not fits or conformer.check(json.loads(json.dumps(before))) == before, before
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(record)]
        assert not errors, (stream, before, errors)
        assert_nothing_lost(before, record, schema)


# ------------------------------------------------------------ the CLI on a drifted workspace
@pytest.fixture(scope="module")
def drift_emulator() -> Iterator[Emulator]:
    with Emulator(seed=1, scale=Scale.default(), api_key=API_KEY, drift=True) as emu:
        yield emu


@pytest.fixture(scope="module")
def drift_sync(drift_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> TapRun:
    run = run_tap(tmp_path_factory.mktemp("drift"), tap_config(drift_emulator))
    assert run.returncode == 0, run.stderr[-3000:]
    return run


# What the tap makes of each kind of drifted value: (in its column, kept in `_drift`).
def expected(kind: str, value: object) -> tuple[object, bool]:
    return (int(value), False) if kind == "number-as-text" else (None, True)  # type: ignore[call-overload]


def column(record: dict[str, Any], path: str) -> object:
    for name in path.split("."):
        record = record.get(name)  # type: ignore[assignment]
    return record


def test_emulator_drifts_one_value_of_each_kind_over_five_streams(drift_emulator: Emulator) -> None:
    drifted = drift_emulator.drifted
    assert {d.kind for d in drifted} == {
        "decimal-for-integer", "number-as-text", "text-for-object", "date-format",
        "unknown-property", "nested-text",
    }  # fmt: skip
    assert len({d.stream for d in drifted}) >= 5
    for item in drifted:
        [truth] = [
            r
            for r in drift_emulator.truth(item.stream)
            if r[ID_KEYS[item.stream]] == item.record_id
        ]
        assert column(truth, item.field) == item.value
    with Emulator(seed=1, scale=Scale.default(), drift=True) as again:
        assert again.drifted == drifted  # deterministic


def test_drifted_values_reach_their_rows_and_every_record_fits(
    drift_sync: TapRun, drift_emulator: Emulator
) -> None:
    for stream, message in drift_sync.schemas().items():
        assert message["schema"]["properties"][DRIFT] == declared(stream)["properties"][DRIFT]
        validator = jsonschema.Draft7Validator(message["schema"], format_checker=FORMATS)
        records = drift_sync.records(stream)
        assert drift_sync.ids(stream) == drift_emulator.ids(stream), stream
        for record in records:
            assert not list(validator.iter_errors(record)), (stream, record["id"])
    for item in drift_emulator.drifted:
        [row] = [r for r in drift_sync.records(item.stream) if r["id"] == item.record_id]
        in_column, kept = expected(item.kind, item.value)
        assert column(row, item.field) == in_column, item
        assert (row.get(DRIFT) or {}).get(item.field, "absent") == (
            item.value if kept else "absent"
        )
        others = [r for r in drift_sync.records(item.stream) if r["id"] != item.record_id]
        assert not [r["id"] for r in others if DRIFT in r], item  # no `_drift` without drift


def test_the_log_names_each_drifted_field_once(
    drift_sync: TapRun, drift_emulator: Emulator
) -> None:
    for item in drift_emulator.drifted:
        lines = [
            line
            for line in drift_sync.stderr.splitlines()
            if f"{item.stream}: 1 value of {item.field}" in line
        ]
        assert len(lines) == 1, (item, lines)
        assert f"(e.g. id {item.record_id})" in lines[0]
        verb = "converted to integer" if item.kind == "number-as-text" else "kept in _drift"
        assert verb in lines[0]


def test_a_clean_workspace_has_no_drift(full_sync: TapRun) -> None:
    for stream in STREAMS:
        assert not [r["id"] for r in full_sync.records(stream) if DRIFT in r], stream
    assert "_drift" not in full_sync.stderr


@pytest.mark.parametrize("stream", STREAMS)
def test_one_value_off_in_a_real_record(stream: str) -> None:
    """Real records with one value replaced: msgspec's verdict agrees with the Python checks,
    and the record that comes out fits."""
    schema = declared(stream)
    conformer = Conformer(stream, schema)
    validator = jsonschema.Draft7Validator(schema, format_checker=FORMATS)
    tap = TapPM(config={"api_key": API_KEY}, validate_config=False)
    shaper = streams_of(tap)[stream]
    rng = random.Random(stream)
    fast = 0
    for raw in generate(1, Scale.small())[stream]:
        record = shaper.shape_record(raw, {"projectId": 1} if stream in CHILDREN else None)
        assert conformer.fits(json.loads(json.dumps(record))), record["id"]
        for _ in range(20):
            sent = json.loads(json.dumps(record))
            sent[rng.choice(sorted(sent.keys() - set(schema["required"])))] = rng.choice(WEIRD)
            before = json.loads(json.dumps(sent))
            if conformer.fits(sent):
                fast += 1
                assert conformer.check(sent) == before
            out = conformer(json.loads(json.dumps(before)))
            assert not list(validator.iter_errors(out)), (stream, before)
            assert_nothing_lost(before, out, schema)
    assert fast > 0


CONTEXTS = {"invoice-lines": {"invoiceId": 1}, "invoice-payments": {"invoiceId": 1}}
# Objects that live may send as bare text, which the tap wraps into the object (live-deviations).
WRAPPED = {"projects": {"currency": {"currencyCode": "x"}}}


@pytest.mark.parametrize("stream", ALL_STREAMS)
def test_what_the_tap_makes_of_a_record_survives_text_for_every_object(stream: str) -> None:
    """`shape_record` reads ids and times inside objects: text there must reach `_drift`."""
    tap = TapPM(config={"api_key": API_KEY}, validate_config=False)
    shaper = streams_of(tap)[stream]
    schema = declared(stream)
    properties = {n: p for n, p in schema["properties"].items() if n != DRIFT}
    objects = [n for n, p in properties.items() if {"object", "array"} & set(p["type"])]
    raw = {shaper.id_key: 1, **dict.fromkeys(objects, "x"), "createdAt": 17e11}
    context = CONTEXTS.get(stream, {"projectId": 1} if stream in CHILDREN else None)
    record = Conformer(stream, schema)(shaper.shape_record(raw, context))
    assert_valid(stream, record)
    wrapped = WRAPPED.get(stream, {})
    for name, value in wrapped.items():
        assert value.items() <= record[name].items(), name
    drifted = [n for n in objects if n not in wrapped]
    assert {k: v for k, v in record[DRIFT].items() if v == "x"} == dict.fromkeys(drifted, "x")


def test_emulator_command_line_drift_option() -> None:
    """`python -m rocketlane_emulator --drift` lists what it drifted and serves it."""
    root = Path(__file__).parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "rocketlane_emulator", "--port", "0", "--size", "small", "--drift"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().split(" on ", 1)[1].split(" ", 1)[0]
        with Emulator(seed=1, scale=Scale.small(), drift=True) as same:
            expected = same.drifted
        printed = [proc.stdout.readline().strip() for _ in expected]
        assert printed == [
            f"drifted: {d.stream} {d.record_id} {d.field} = {d.value!r}" for d in expected
        ]
        [user] = [d for d in expected if d.kind == "unknown-property"]
        answer = requests.get(f"{base_url}/users", headers={"api-key": "demo-key"}, timeout=10)
        [sent] = [u for u in answer.json()["data"] if u["userId"] == user.record_id]
        assert sent[user.field] == user.value
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    assert proc.returncode == 0


def test_each_stream_declares_its_schema_once(drift_sync: TapRun) -> None:
    """Once per run, with `_drift`: not again for each project a child stream visits."""
    declared_by = Counter(m["stream"] for m in drift_sync.messages if m["type"] == "SCHEMA")
    assert declared_by == dict.fromkeys(STREAMS, 1)
