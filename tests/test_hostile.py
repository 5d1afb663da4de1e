"""Nothing JSON allows stops the tap, and nothing it sends is lost (tap_pm/safe_json.py).

Lone surrogates, NUL, invalid UTF-8, numbers beyond 64 bits or double, deep nesting, odd
property names: unit tests of the reading, a property-based test of the whole response ->
record path of every stream, and the CLI on the emulator's hostile workspace. Opt-in lists a
workspace does not offer (403, 404) are skipped; a state of the previous release still works.
The loads into each warehouse are test_hostile_loads.py's.
"""

from __future__ import annotations

import copy
import json
import math
import re
import typing as t
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest
import requests
from conftest import (
    API_KEY,
    CHILDREN,
    OPT_IN,
    STREAMS,
    TapRun,
    discover,
    run_tap,
    select,
    streams_of,
    tap_config,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rocketlane_emulator import ID_KEYS, Emulator, Scale, generate
from rocketlane_emulator.hostile import (
    DEEP_ALLOWED_LEVELS,
    DEEP_LEVELS,
    HostileValue,
    RawJSON,
    dumps,
)
from tap_pm.client import MS_RANGE, ms_to_rfc3339
from tap_pm.safe_json import MAX_DEPTH, decode, spell
from tap_pm.tap import TapPM

if TYPE_CHECKING:
    from collections.abc import Iterator

SCHEMAS = resources.files("tap_pm") / "schemas"
ALL_STREAMS = sorted(p.name.removesuffix(".json") for p in SCHEMAS.iterdir())
FORMATS = jsonschema.Draft7Validator.FORMAT_CHECKER
DRIFT = "_drift"
INT64 = (-(2**63), 2**63 - 1)  # BIGINT, as PostgreSQL and Snowflake's NUMBER(19) hold it
FIXTURES = Path(__file__).parent / "fixtures"
BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def replaced(text: str) -> str:
    """What a warehouse column holds for text with lone surrogates or NUL: U+FFFD for each."""
    return BAD_TEXT.sub("\ufffd", text)


def as_sent(text: str) -> str:
    """The text as the body of a JSON string, lone surrogates spelled out: it reads back."""
    return "".join(_as_sent(char) for char in text)


def _as_sent(char: str) -> str:
    if char < "\x80":
        return json.dumps(char, ensure_ascii=False)[1:-1]  # quote, backslash, controls escaped
    return f"\\u{ord(char):04x}" if BAD_TEXT.match(char) else char


# ------------------------------------------------------------------------- reading a body
def test_a_lone_surrogate_escape_is_read() -> None:
    """msgspec rejects the whole page (`unexpected end of escaped utf-16 surrogate pair`)."""
    value, careful = decode(b'{"data": [{"taskName": "Launch \\ud83d"}]}')
    assert careful
    assert value["data"][0]["taskName"] == "Launch \ud83d"


def test_a_byte_that_is_not_utf8_reads_as_a_surrogate_of_that_byte() -> None:
    value, careful = decode(b'{"data": [{"name": "caf\xe9"}]}')
    assert careful
    assert value["data"][0]["name"] == "caf\udce9"  # Python's surrogateescape: byte 0xE9


@pytest.mark.parametrize(
    "number",
    ["100000000000000000000", "-9223372036854775809", "1e400", "-1E+400", "1e-400", "9" * 5000],
)
def test_a_number_no_warehouse_holds_keeps_its_text(number: str) -> None:
    value, careful = decode(f'{{"data": [{{"n": {number}}}]}}'.encode())
    assert careful
    assert value["data"][0]["n"].text == number


@pytest.mark.parametrize("number", ["9223372036854775807", "-9223372036854775808", "2.5e-300"])
def test_a_number_warehouses_hold_is_read_as_one(number: str) -> None:
    value, _ = decode(f'{{"data": [{{"n": {number}}}]}}'.encode())
    assert value["data"][0]["n"] == json.loads(number)


def test_nesting_deeper_than_python_reads_on_its_own_is_read() -> None:
    levels = 20_000
    value, careful = decode(b'{"data": [{"x": ' + b"[" * levels + b"]" * levels + b"}]}")
    assert careful
    depth, inner = 0, value["data"][0]["x"]
    while inner:
        depth, inner = depth + 1, inner[0]
    assert depth == levels - 1


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [{"taskId": 5000000000001, "name": "caf\xc3\xa9 \\u00e9", "rate": 2.5e-300}]}',
        # A page token's UUID has `e-` before digits, as an exponent has: it is not one.
        b'{"data": [], "pagination": {"nextPageToken": "b375ee81-7fe2-4dd4-b43e-12508f8848ce"}}',
    ],
)
def test_a_clean_body_takes_the_fast_path(body: bytes) -> None:
    value, careful = decode(body)
    assert not careful
    assert value == json.loads(body)


@pytest.mark.parametrize(
    ("body", "offset"),
    [(b'{"data": [1,', 12), (b'{"data": [1,]}', 12), (b"<html>", 0), (b"", 0), (b'{"a": 1}x', 8)],
)
def test_a_body_that_is_not_json_names_the_byte_where_it_stops(body: bytes, offset: int) -> None:
    with pytest.raises(ValueError, match=rf"^not JSON at byte {offset} of {len(body)}: "):
        decode(body)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=())))
def test_text_as_sent_spells_out_what_no_warehouse_stores_and_reads_back(text: str) -> None:
    spelled = spell(text)
    assert json.loads(f'"{spelled}"') == text
    assert not BAD_TEXT.search(spelled)
    spelled.encode("utf-8")  # valid UTF-8


# ----------------------------------------------------------- the response -> record path
CONFIG = {"api_key": API_KEY, "base_url": "http://127.0.0.1:9/api/1.0"}


def tap() -> TapPM:
    """A tap with every stream selected, opt-in ones too."""
    catalog = TapPM(config=CONFIG).catalog_dict
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = True
    return TapPM(config=CONFIG, catalog=catalog)


#: A path in a record: keys and array indexes.
Steps = tuple[str | int, ...]
CONTEXTS = {"invoice-lines": {"invoiceId": 1}, "invoice-payments": {"invoiceId": 1}}
# Set by the tap from the request or the natural id, or reshaped on purpose (test_conform.py).
SHAPED = {"id", "projectId", "invoiceId", "currency", "attachments"}
EPOCH_MS = {"createdAt", "updatedAt", "submittedAt", "approvedAt", "rejectedAt"}


def through_the_tap(
    stream_name: str, records: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[bytes]]:
    """A page of `records` (as dumps writes bodies) through the stream as a sync reads it:
    validation, parsing, shaping, conformance, the SDK's record message. Returns the records
    as a target reads them, and the output lines."""
    stream = STREAM_OBJECTS[stream_name]
    response = requests.Response()
    response.status_code = 200
    response._content = dumps({"data": records, "pagination": {"hasMore": False}})  # noqa: SLF001
    response.request = requests.Request(
        "GET", f"http://127.0.0.1:9/api/1.0/{stream_name}"
    ).prepare()
    stream.validate_response(response)
    context = CONTEXTS.get(stream_name, {"projectId": 1} if stream_name in CHILDREN else None)
    writer = stream._tap.message_writer  # noqa: SLF001 - the tap's own serializer
    lines = [
        bytes(writer.serialize_message(message))
        for raw in stream.parse_response(response)
        # post_process drops no record of these streams: the record it shapes, never None.
        for message in stream._generate_record_messages(  # noqa: SLF001
            t.cast("dict[str, Any]", stream.post_process(raw, context))
        )
    ]
    # Strict UTF-8 (a lone surrogate would not decode), then JSON.
    return [json.loads(line.decode("utf-8"))["record"] for line in lines], lines


def path_of(steps: Steps) -> str:
    """A path as `_drift` and the log name it: `a.b`, `a[0]`, odd names quoted: `a["x.y"]`."""
    text = ""
    for step in steps:
        if isinstance(step, int):
            text += f"[{step}]"
        elif step and not re.search('[.\\[\\]"]', step) and not BAD_TEXT.search(step):
            text += f".{step}" if text else step
        else:
            text += f'["{as_sent(step)}"]'
    return text


def leaves(value: object, steps: Steps = ()) -> list[tuple[Steps, object]]:
    """(path steps, value) of every scalar and empty container in a value."""
    if isinstance(value, dict) and value:
        return [leaf for key, item in value.items() for leaf in leaves(item, (*steps, key))]
    if isinstance(value, list) and value:
        return [leaf for i, item in enumerate(value) for leaf in leaves(item, (*steps, i))]
    return [(steps, value)]


def stored_as(leaf: object) -> list[object]:
    """The forms a value sent may take in a record: itself, or as a warehouse holds it."""
    if isinstance(leaf, RawJSON):
        text = leaf.text.decode()
        number = float(text)  # a number doubles hold exactly enough: a zero is a zero
        zero = not re.search("[1-9]", text.lower().split("e")[0])
        return [number, text] if math.isfinite(number) and (number != 0 or zero) else [text]
    if isinstance(leaf, str):  # text no warehouse stores: only `_drift` keeps it as sent
        return [as_sent(leaf)] if BAD_TEXT.search(leaf) else [leaf]
    if isinstance(leaf, int) and not isinstance(leaf, bool) and not INT64[0] <= leaf <= INT64[1]:
        return [str(leaf)]
    return [leaf]


def same(column: object, leaf: object) -> bool:
    """Whether a column holds the value sent, as is or converted without loss (conform.py)."""
    for form in stored_as(leaf):
        if type(column) is type(form) and column == form:
            return True
        if isinstance(form, (int, float)) and not isinstance(form, bool):
            numeric = isinstance(column, (int, float)) and not isinstance(column, bool)
            if (numeric and column == form) or column == str(form) or column == repr(form):
                return True
        if isinstance(form, bool) and column == ("true" if form else "false"):
            return True
        if isinstance(form, str) and form in {"true", "false"} and column is (form == "true"):
            return True
        if isinstance(form, str) and isinstance(column, (int, float)) and str(column) == form:
            return True
    return False


def at(value: object, steps: Steps) -> list[object]:
    """The values at `steps` in a record, any index where an array item may have moved."""
    found = [value]
    for step in steps:
        nxt = []
        for item in found:
            if isinstance(step, int) and isinstance(item, list):
                nxt += item  # an item that did not fit left the array: others moved up
            elif isinstance(step, str) and isinstance(item, dict) and step in item:
                nxt.append(item[step])
        found = nxt
    return found


def in_drift(drift: dict[str, Any], steps: Steps, leaf: object) -> bool:
    """Whether `_drift` keeps the value under its path, or inside a value kept whole.

    Paths can coincide (a property named `[0]`, and item 0 of one named ``): any may hold it.
    """
    for cut in range(len(steps), 0, -1):
        path = path_of(steps[:cut])
        if path not in drift:
            continue
        kept, rest = drift[path], steps[cut:]
        if isinstance(kept, str) and rest:  # nested too deep: kept whole as JSON text, as sent
            inside = at(json.loads(kept), rest)  # ASCII JSON; numbers kept as text are strings
            raw = leaf.text.decode() if isinstance(leaf, RawJSON) else leaf
            if isinstance(raw, str):
                raw = t.cast("str", as_json_reads(raw))
            if any(value == raw and type(value) is type(raw) for value in inside):
                return True
        elif any(same(value, leaf) for value in at(kept, rest)):
            return True
    return False


def assert_findable(stream: str, sent: dict[str, Any], record: dict[str, Any]) -> None:
    drift = record.get(DRIFT) or {}
    for steps, leaf in leaves(sent):
        if leaf is None or steps[0] in SHAPED:
            continue  # a null has nothing to keep
        if steps[0] in EPOCH_MS and len(steps) == 1 and isinstance(record.get(steps[0]), str):
            continue  # epoch ms as a date-time: test_sync.py
        if isinstance(leaf, RawJSON) and leaf.text.startswith(b"["):
            assert deep_found(record, drift, steps, leaf), (stream, path_of(steps))
            continue
        in_column = any(same(v, leaf) for v in at(record, steps))
        assert in_column or in_drift(drift, steps, leaf), (stream, path_of(steps), leaf, record)


def nested(levels: int) -> RawJSON:
    """A list nested `levels` deep, as JSON text: Python recurses into lists this deep."""
    return RawJSON(b"[" * levels + b'"leaf"' + b"]" * levels)


def depth_of(value: object) -> tuple[int, object]:
    """How deep a list of one list of ... goes, and what is innermost."""
    depth = 0
    while isinstance(value, list) and len(value) == 1:
        depth, value = depth + 1, value[0]
    return depth, value


def deep_found(record: dict[str, Any], drift: dict[str, Any], steps: Steps, leaf: RawJSON) -> bool:
    """A nested list sent: in its column as it was, or in `_drift` at its path or at the path
    of an inner list (an item that did not fit its array left it), as a list or JSON text."""
    levels = leaf.text.count(b"[")
    if (levels, "leaf") in map(depth_of, at(record, steps)):
        return True
    path = path_of(steps)
    for inner in range(levels + 1):
        kept = drift.get(path + "[0]" * inner)
        text = "[" * (levels - inner) + '"leaf"' + "]" * (levels - inner)
        if kept == text or depth_of(kept) == (levels - inner, "leaf"):
            return True
    return False


HOSTILE_CHARS = ["a", " ", "é", "😀", "\ud83d", "\ude00", "\udcff", "\x00", '"', "\\", "\x01"]
texts = st.one_of(st.text(max_size=8), st.text(st.sampled_from(HOSTILE_CHARS), max_size=6))
RAW_NUMBERS = ["1e400", "-1e400", "1E+999", "1e-400", "-2.5e-999", "0.0e-999", "1" + "0" * 40]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
    st.sampled_from(RAW_NUMBERS).map(lambda text: RawJSON(text.encode())),
)
names = st.one_of(st.text(max_size=5), st.sampled_from(["", "a.b", "[0]", "_drift", "\ud83d"]))
json_values = st.one_of(
    st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(names, inner, max_size=3)
        ),
        max_leaves=10,
    ),
    st.integers(MAX_DEPTH - 5, MAX_DEPTH + 20).map(nested),
)


def as_json_reads(value: object) -> object:
    """The value as JSON text means it: two surrogates that make a pair are one character."""
    if isinstance(value, str):
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    if isinstance(value, list):
        return [as_json_reads(item) for item in value]
    if isinstance(value, dict):
        return {as_json_reads(k): as_json_reads(v) for k, v in value.items()}
    return value


def base_record(stream: str) -> dict[str, Any]:
    return copy.deepcopy(generate(1, Scale.small())[stream][0])


BASES = {stream: base_record(stream) for stream in ALL_STREAMS}
STREAM_OBJECTS = streams_of(tap())


@pytest.mark.parametrize("stream", ALL_STREAMS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_json_in_any_field_is_loadable_and_findable(stream: str, data: st.DataObject) -> None:
    """Arbitrary JSON in every field of a real record of every stream: nothing raises, the
    output is valid UTF-8 JSON, each record validates against its schema with formats, and
    every value sent is in its column or, as sent, in `_drift`."""
    base = BASES[stream]
    id_key = STREAM_OBJECTS[stream].id_key
    fields = sorted(set(base) - {id_key} - SHAPED)
    chosen = data.draw(st.lists(st.sampled_from(fields), max_size=len(fields), unique=True))
    sent = {name: data.draw(json_values, label=name) for name in chosen}
    sent |= data.draw(st.dictionaries(names, json_values, max_size=2), label="unknown")
    sent.pop(id_key, None)
    record_sent = t.cast("dict[str, Any]", as_json_reads({**base, **sent}))
    [record], _ = through_the_tap(stream, [copy.deepcopy(record_sent)])
    schema = STREAM_OBJECTS[stream].schema
    errors = list(jsonschema.Draft7Validator(schema, format_checker=FORMATS).iter_errors(record))
    assert not errors, [e.message for e in errors]
    if id_key in base:  # allocations have none: the tap makes their key (test_opt_in_streams)
        assert record["id"] == base[id_key]
    assert_findable(stream, {k: v for k, v in record_sent.items() if k != id_key}, record)


def test_the_findability_check_notices_a_lost_value() -> None:
    """The property test's check fails when a value is neither in its column nor in `_drift`."""
    with pytest.raises(AssertionError):
        assert_findable("tasks", {"taskName": "Launch \ud83d"}, {"taskName": "Launch \ufffd"})
    with pytest.raises(AssertionError):
        assert_findable("tasks", {"effortInMinutes": 10**20}, {"effortInMinutes": None})
    assert_findable(
        "tasks",
        {"effortInMinutes": 10**20},
        {"effortInMinutes": None, DRIFT: {"effortInMinutes": "100000000000000000000"}},
    )


@pytest.mark.parametrize(
    ("field", "sent", "column", "kept"),
    [
        ("effortInMinutes", 2**63, None, str(2**63)),
        ("effortInMinutes", -(2**63) - 1, None, str(-(2**63) - 1)),
        ("effortInMinutes", 2**63 - 1, 2**63 - 1, None),
        ("taskName", "Alpha\x00Beta", "Alpha\ufffdBeta", "Alpha\\u0000Beta"),
        ("taskName", "Launch \ud83d", "Launch \ufffd", "Launch \\ud83d"),
        ("taskName", "Launch 🚀", "Launch 🚀", None),
    ],
)
def test_integers_stay_within_64_bits_and_text_is_storable(
    field: str, sent: object, column: object, kept: str | None
) -> None:
    """A value already of its column's type but beyond what warehouses store is kept as text:
    the fast path (msgspec, in C) enforces the bounds of the slow one."""
    base = BASES["tasks"]
    [record], _ = through_the_tap("tasks", [{**base, field: sent}])
    assert record[field] == column
    assert (record.get(DRIFT) or {}).get(field) == kept


# ------------------------------------------------------------------ the CLI, end to end
HOSTILE_STREAMS = ("tasks", "projects", "time-entries", "spaces", "space-documents", "users")


@pytest.fixture(scope="module")
def hostile_emulator() -> Iterator[Emulator]:
    with Emulator(seed=1, scale=Scale.default(), api_key=API_KEY, hostile=True) as emu:
        yield emu


@pytest.fixture(scope="module")
def hostile_sync(hostile_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> TapRun:
    run = run_tap(tmp_path_factory.mktemp("hostile"), tap_config(hostile_emulator))
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def expected(kind: str, value: object) -> tuple[object, object]:
    """(what the column holds, what `_drift` keeps) for a hostile value, as the spec of
    safe_json.py says, computed here on its own."""
    if isinstance(value, RawJSON):
        return _expected_raw(kind, value.text.decode("utf-8", "surrogateescape"))
    if kind == "big-integer":
        return None, str(value)
    if kind == "odd-key":
        return None, value
    if isinstance(value, str) and BAD_TEXT.search(value):
        return replaced(value), as_sent(value)
    return value, None


def _expected_raw(kind: str, text: str) -> tuple[object, object]:
    if kind == "invalid-utf8":
        sent = json.loads(text)
        return replaced(sent), as_sent(sent)
    if kind == "deep-allowed":
        return json.loads(text), None
    return None, text  # a number or a nesting no warehouse holds: its text


def column(record: dict[str, Any], path: str) -> object:
    value: Any = record
    for step in re.findall(r"[^.\[\]]+", path):
        value = value[int(step)] if step.isdigit() else value.get(step)
    return value


def drift_path(path: str) -> str:
    """The hostile value's path in `_drift` (its odd property name quoted)."""
    return f'["{as_sent(path)}"]' if BAD_TEXT.search(path) else path


def sent_now(emu: Emulator, stream: str, record_id: int, path: str) -> object:
    """The value the emulator sends now (an edit appends to some texts)."""
    [record] = [r for r in emu.truth(stream) if r[ID_KEYS[stream]] == record_id]
    return column(record, path) if path in record or "." in path or "[" in path else None


def assert_hostile_landed(
    emu: Emulator, records: dict[str, dict[int, dict[str, Any]]], log: str
) -> None:
    for item in emu.hostile:
        record = records[item.stream][item.record_id]
        value = sent_now(emu, item.stream, item.record_id, item.field)
        in_column, kept = expected(item.kind, value)
        if item.kind != "odd-key":
            assert column(record, item.field) == in_column, item.kind
        assert (record.get(DRIFT) or {}).get(drift_path(item.field)) == kept, item.kind
        if kept is not None:
            assert_named_once(log, item)


def assert_named_once(log: str, item: HostileValue) -> None:
    """The log names the value's field once, with its record as the example."""
    pattern = re.sub(r"\[\d+\]", "[]", drift_path(item.field))
    lines = [line for line in log.splitlines() if f"{item.stream}: 1 value of {pattern} " in line]
    assert len(lines) == 1, (item.kind, lines)
    assert f"(e.g. id {item.record_id})" in lines[0]


def test_the_deep_kinds_sit_on_either_side_of_the_deepest_record_loaded() -> None:
    """A task (1), its `fields` (2) of objects (3), then the value's own levels."""
    assert 3 + DEEP_ALLOWED_LEVELS == MAX_DEPTH
    assert 3 + DEEP_LEVELS > MAX_DEPTH


def test_emulator_sends_each_hostile_kind(hostile_emulator: Emulator) -> None:
    kinds = {h.kind for h in hostile_emulator.hostile}
    assert kinds == {
        "lone-surrogate", "big-integer", "long-text", "deep-nesting", "deep-allowed",
        "huge-number", "tiny-number", "nul", "invalid-utf8", "odd-key",
    }  # fmt: skip
    query: dict[str, str | int] = {"pageSize": 2, "includeAllFields": "true"}
    body = requests.get(
        f"{hostile_emulator.base_url}/tasks",
        params=query,
        headers={"api-key": API_KEY},
        timeout=30,
    ).content
    assert b"\\ud83d" in body  # the escape, as a Java server sends it
    assert b"100000000000000000000" in body
    assert len(body) > 2 * 1024 * 1024
    body = requests.get(
        f"{hostile_emulator.base_url}/projects",
        params={"includeAllFields": "true"},
        headers={"api-key": API_KEY},
        timeout=30,
    ).content
    assert b'"budgetedHours":1e400' in body


def test_a_sync_of_the_hostile_workspace_loses_nothing(
    hostile_sync: TapRun, hostile_emulator: Emulator
) -> None:
    """Before: msgspec rejected the task page (`unexpected end of escaped utf-16 surrogate
    pair`) and the sync failed after 4 attempts, every hour."""
    run = hostile_sync
    for stream in STREAMS:
        assert run.ids(stream) == hostile_emulator.ids(stream), stream
    run.stdout.encode("utf-8")
    schemas = {name: m["schema"] for name, m in run.schemas().items()}
    for stream in HOSTILE_STREAMS:
        validator = jsonschema.Draft7Validator(schemas[stream], format_checker=FORMATS)
        for record in run.records(stream):
            assert not list(validator.iter_errors(record)), (stream, record["id"])
    records = {s: {r["id"]: r for r in run.records(s)} for s in STREAMS}
    assert_hostile_landed(hostile_emulator, records, run.stderr)


def test_an_incremental_sync_brings_hostile_records_again(
    hostile_sync: TapRun, hostile_emulator: Emulator, tmp_path: Path
) -> None:
    for item in hostile_emulator.hostile:
        hostile_emulator.touch(item.stream, item.record_id)
    run = run_tap(tmp_path, tap_config(hostile_emulator), state=hostile_sync.final_state)
    assert run.returncode == 0, run.stderr[-3000:]
    records = {s: {r["id"]: r for r in run.records(s)} for s in STREAMS}
    for item in hostile_emulator.hostile:
        assert item.record_id in records[item.stream], item.kind
    assert_hostile_landed(hostile_emulator, records, run.stderr)
    assert len(run.records("tasks")) < len(hostile_sync.records("tasks"))


def test_the_live_check_reads_hostile_values_and_warns_of_duckdbs_limit(tmp_path: Path) -> None:
    """Before, the check failed as the sync did; and nothing said a 2 MiB text would stop
    target-duckdb, whose CSV lines DuckDB reads up to 2,000,000 bytes."""
    with Emulator(seed=1, scale=Scale.default(), api_key=API_KEY, hostile=True) as emu:
        run = run_tap(tmp_path, tap_config(emu), "--check-live")
    hostile_emulator = emu
    assert run.returncode == 0, run.stderr[-2000:]
    long_text = next(h for h in hostile_emulator.hostile if h.kind == "long-text")
    warnings = [line for line in run.stdout.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1, warnings
    assert f"tasks id {long_text.record_id} is " in warnings[0]
    assert "2,000,000 bytes" in warnings[0]
    for item in hostile_emulator.hostile:
        if expected(item.kind, item.value)[1] is not None:
            pattern = re.sub(r"\[\d+\]", "[]", drift_path(item.field))
            assert f"{item.stream}.{pattern}: 1 value(s) held " in run.stdout, item.kind


# --------------------------------------------------- lists a workspace does not offer
UNAVAILABLE = {"companies": 404, "invoices": 403, "conversations": 403}


@pytest.fixture
def partial_emulator() -> Iterator[Emulator]:
    with Emulator(seed=1, scale=Scale.small(), api_key=API_KEY, unavailable=UNAVAILABLE) as emu:
        yield emu


def test_opt_in_lists_the_workspace_does_not_offer_are_skipped(
    partial_emulator: Emulator, tmp_path: Path
) -> None:
    """Before: `companies` answering 404 (it is undocumented) failed the whole sync, and with
    it the deletions of every other table; an invoice list off in the plan (403) too."""
    config = tap_config(partial_emulator)
    catalog = select(discover(tmp_path, config), (*STREAMS, *OPT_IN))
    first = run_tap(tmp_path, config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-3000:]
    for name, status in UNAVAILABLE.items():
        warnings = [line for line in first.stderr.splitlines() if f"{name}: skipped" in line]
        assert len(warnings) == 1, (name, warnings)
        assert f"HTTP {status}" in warnings[0]
        assert f"Deselect {name}" in warnings[0]
        assert not first.records(name)
    assert not first.records("invoice-lines")  # their parent's list is off: nothing to read
    for stream in STREAMS:
        assert first.ids(stream) == partial_emulator.ids(stream), stream

    # The next sync still carries deletions of every other table.
    user = min(partial_emulator.ids("users"))
    time_off = min(partial_emulator.ids("time-offs"))
    partial_emulator.delete("users", user)
    partial_emulator.delete("time-offs", time_off)
    second = run_tap(tmp_path, config, catalog=catalog, state=first.final_state)
    assert second.returncode == 0, second.stderr[-3000:]
    activated = {m["stream"] for m in second.messages if m["type"] == "ACTIVATE_VERSION"}
    assert {"users", "time-offs", "fields", "resource-allocations", "comments"} <= activated
    assert not activated & {"companies", "invoices", "conversations", "invoice-lines"}
    assert user not in second.ids("users")
    assert time_off not in second.ids("time-offs")


@pytest.mark.parametrize(
    ("unavailable", "stream"),
    [({"tasks": 404}, "tasks"), ({"tasks": 403}, "tasks"), ({"invoices": 404}, "invoices")],
)
def test_a_documented_list_that_answers_404_or_a_default_one_403_still_fails(
    unavailable: dict[str, int], stream: str, tmp_path: Path
) -> None:
    """There a 404 means a wrong base_url, and a 403 a key without access: the user must act."""
    with Emulator(seed=1, scale=Scale.small(), api_key=API_KEY, unavailable=unavailable) as emu:
        config = tap_config(emu, max_retries=0)
        catalog = select(discover(tmp_path, config), (stream,))
        run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode != 0
    assert "skipped" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith(("Error", "error"))]
    assert any(stream in line for line in errors), run.stderr[-1500:]


# ------------------------------------------------------------------ an upgrade keeps state
def test_a_state_of_the_previous_release_carries_an_incremental_sync_and_a_reconcile(
    tmp_path: Path,
) -> None:
    """tests/fixtures/state-480c5d1.json: the final STATE of a full sync by tap-pm at commit
    480c5d1 (the release before safe_json.py), of this workspace (seed 1, default size)."""
    state = json.loads((FIXTURES / "state-480c5d1.json").read_text())
    with Emulator(seed=1, scale=Scale.default(), api_key=API_KEY) as emu:
        touched = {stream: min(emu.ids(stream)) for stream in ("projects", "tasks", "users")}
        for stream, record_id in touched.items():
            emu.touch(stream, record_id)
        config = tap_config(emu)
        incremental = run_tap(tmp_path, config, state=state)
        assert incremental.returncode == 0, incremental.stderr[-3000:]
        for stream, record_id in touched.items():
            assert record_id in incremental.ids(stream), stream
        assert len(incremental.records("tasks")) < len(emu.ids("tasks")) / 2
        assert not [m for m in incremental.messages if m["type"] == "ACTIVATE_VERSION"
                    and m["stream"] in ("projects", "tasks", "time-entries")]  # fmt: skip

        emu.delete("tasks", max(emu.ids("tasks")))
        reconcile = run_tap(
            tmp_path, tap_config(emu, reconcile=True), state=incremental.final_state
        )
    assert reconcile.returncode == 0, reconcile.stderr[-3000:]
    for stream in STREAMS:
        assert reconcile.ids(stream) == emu.ids(stream), stream
    activated = {
        m["stream"]: m["version"] for m in reconcile.messages if m["type"] == "ACTIVATE_VERSION"
    }
    old_version = state["bookmarks"]["tasks"]["table_version"]
    assert activated["tasks"] > old_version  # the deleted task's row goes


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=MS_RANGE[0], max_value=MS_RANGE[1]))
def test_every_epoch_ms_a_timestamp_can_name_converts_exactly(epoch_ms: int) -> None:
    text = ms_to_rfc3339(epoch_ms)
    assert FORMATS.conforms(text, "date-time")
    moment = datetime.fromisoformat(text)
    since = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert since // timedelta(milliseconds=1) == epoch_ms


@pytest.mark.parametrize("epoch_ms", [MS_RANGE[1] + 1, MS_RANGE[0] - 1, 10**18, -(10**18)])
def test_an_epoch_ms_beyond_any_date_goes_to_drift(epoch_ms: int) -> None:
    """Before, `datetime.fromtimestamp` raised on it and stopped the sync."""
    [record], _ = through_the_tap("tasks", [{**BASES["tasks"], "createdAt": epoch_ms}])
    assert record["createdAt"] is None
    assert record[DRIFT]["createdAt"] == epoch_ms
