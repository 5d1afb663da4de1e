"""Every record fits the schema it declares, whatever the API sends, and no value is lost.

Targets such as target-postgres and target-snowflake validate each record and stop the whole
load at the first one that does not fit. So each stream compiles a conformer once from its
schema, and each record passes through it after `shape_record`:

- A value of the declared type stays as it is (the fast path: msgspec checks the record in C).
- A value that converts without loss stays in its column, converted: `"480"` or `38.0` for an
  integer (a text must read back to the same text: not `"0480"` or `"37.0"`; a float must be
  whole: not `37.5`; integers within 64 bits, what warehouses store), a numeric text for a
  number (`"37.5"`, not `"37.50"`), `"true"`/`"false"` for a boolean, a number or a boolean
  for a string (its JSON text: `12` → `"12"`, `true` → `"true"`).
- A value that does not convert becomes `null`, and the value the API sent goes, unchanged,
  into the record's one JSON object column `_drift`, under the field's path: `estimatedHours`,
  `status.value`, `fields[2].fieldValue` (the index in the array the API sent). An array item
  that is not what the schema says leaves the array (it is under its path in `_drift`).
- A top-level property the schema does not have goes into `_drift` under its name (a `null`
  has no value to keep and is only logged). Unknown properties inside objects stay where they
  are: targets store objects as JSON, so they reach the warehouse as they came.
- Integers stay within 64 bits and numbers within double, on the fast path as on the slow one:
  a value beyond goes to `_drift` as its text, which every loader stores.
- Values no warehouse stores as sent (lone surrogates, NUL, numbers beyond 64 bits or double,
  deep nesting) were already replaced when the page was read (safe_json.py, `scrub`); what
  was sent is in `_drift`, and the log counts them here with the rest.
- A record with nothing to keep has no `_drift` key: its column is NULL in every warehouse
  (PostgreSQL's loader writes a JSON `null`: the staging models read that as none).
- Strings with `format: date` must be `YYYY-MM-DD`, and `date-time` RFC 3339, as JSON
  Schema's format checker (and a target parsing them) expects; another format is kept in
  `_drift`.

At the end of each stream the log says, per field, how many values were converted or kept in
`_drift`, with one example record id. Only a key the schema requires (`id`, the natural id, a
parent's id) that cannot be read stops the sync: there is no row to put it in.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import sys
import typing as t
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property

import click
import msgspec
import singer_sdk.singerlib as singer
from singer_sdk import SchemaDirectory, Stream
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from typing_extensions import override

from tap_pm.errors import mask
from tap_pm.safe_json import DRIFT, INT64, KINDS, in_deep_stack, join, scrub, unstorable

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Generator

DRIFT_PROPERTY: dict[str, t.Any] = {
    "description": (
        "Values the API sent that do not fit this schema, by field path (`estimatedHours`, "
        "`status.value`, `fields[2].fieldValue`), as sent; their columns are null. Also the "
        "properties the schema does not have. Absent when there are none."
    ),
    "type": ["object", "null"],
}
#: Doubles: a number column holds finite ones.
DOUBLE = (-sys.float_info.max, sys.float_info.max)
JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
    "object": (dict,),
    "array": (list,),
}
_TYPE_NAMES = {str: "text", int: "an integer", float: "a decimal", bool: "a boolean"}
_INTEGER_TEXT = re.compile(r"-?[0-9]+")
# Dates as JSON Schema's format checker and the targets accept them: real calendar days (leap
# years included), year 0001 on, RFC 3339 date-times with their offset. Whole regular
# expressions, so msgspec checks them too (`fast_type`).
_YEAR = r"(?!0000)[0-9]{4}"
_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_LEAP_DAY = (  # years divisible by 4, centuries by 400
    r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)-02-29"
)
_DAY = f"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_DAY})"
_TIME = (
    r"[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
PATTERNS = {"date": rf"^{_DAY}\Z", "date-time": rf"^{_DAY}{_TIME}\Z"}


class KeyMisfitError(click.ClickException):
    """A key the schema requires has a value that cannot be read: the record has no row."""


def with_drift_column(schema: dict[str, t.Any]) -> dict[str, t.Any]:
    """The schema with the `_drift` column added (the schema files do not declare it)."""
    return {**schema, "properties": {**schema["properties"], DRIFT: DRIFT_PROPERTY}}


class DriftSchemaDirectory(SchemaDirectory):
    """Stream schemas from their JSON files, each with the `_drift` column."""

    @override
    def fetch_schema(self, key: str) -> dict[str, t.Any]:
        """The file's schema plus `_drift` (fetched once per stream: the SDK caches it)."""
        return with_drift_column(super().fetch_schema(key))


# ----------------------------------------------------------------------------- formats
def _matcher(pattern: str) -> Callable[[str], bool]:
    match = re.compile(pattern).match
    return lambda text: match(text) is not None


FORMATS: dict[str, Callable[[str], bool]] = {k: _matcher(p) for k, p in PATTERNS.items()}
is_date, is_date_time = FORMATS["date"], FORMATS["date-time"]


# ------------------------------------------------------------------------- conversions
MISFIT: t.Any = object()  # "does not convert"


def _to_integer(value: object) -> t.Any:  # noqa: ANN401
    whole_float = isinstance(value, float) and value.is_integer()
    whole_text = isinstance(value, str) and _INTEGER_TEXT.fullmatch(value) is not None
    if not (whole_float or whole_text):
        return MISFIT
    number = int(value)  # type: ignore[call-overload]
    if whole_text and str(number) != value:  # "0480", "-0": would not read back the same
        return MISFIT
    return number if INT64[0] <= number <= INT64[1] else MISFIT


def _to_number(value: object) -> t.Any:  # noqa: ANN401
    if not isinstance(value, str):
        return MISFIT
    if _INTEGER_TEXT.fullmatch(value):
        return _to_integer(value)
    try:
        number = float(value)
    except ValueError:
        return MISFIT
    return number if math.isfinite(number) and repr(number) == value else MISFIT


def _to_boolean(value: object) -> t.Any:  # noqa: ANN401
    return {"true": True, "false": False}.get(value, MISFIT) if isinstance(value, str) else MISFIT


def _to_string(value: object) -> t.Any:  # noqa: ANN401
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back to the same number
    return MISFIT


CONVERSIONS: dict[str, Callable[[object], t.Any]] = {
    "integer": _to_integer,
    "number": _to_number,
    "boolean": _to_boolean,
    "string": _to_string,
}


# ---------------------------------------------------------------------- compiled schema
def _always(_value: object) -> bool:
    return True


def _within_int64(value: int) -> bool:
    return INT64[0] <= value <= INT64[1]


#: What warehouses store: integers within 64 bits (BIGINT), finite doubles.
_BOUNDS: dict[str, dict[type, Callable[[t.Any], bool]]] = {
    "integer": {int: _within_int64},
    "number": {int: _within_int64, float: math.isfinite},
}


@dataclass
class Node:
    """One schema node, compiled: what fits as it is, and how to check the rest."""

    kinds: tuple[str, ...]  # declared JSON types, in schema order; empty: anything
    label: str  # for the log: "integer", "string (date)"
    nullable: bool
    #: Python types that fit without looking further (None: `fits` must be called).
    plain: frozenset[type] | None
    fits: Callable[[object], bool]
    properties: dict[str, Node] = field(default_factory=dict)
    items: Node | None = None


def _object_check(properties: dict[str, Node]) -> Callable[[dict[str, t.Any]], bool] | None:
    """A check of an object's known properties (unknown ones fit: they stay as JSON)."""
    plain = {name: node.plain for name, node in properties.items() if node.plain is not None}
    deep = {
        name: node.fits
        for name, node in properties.items()
        if node.plain is None and node.fits is not _always
    }
    if not deep and not plain:
        return None

    def check(value: dict[str, t.Any]) -> bool:
        for name, item in value.items():
            types = plain.get(name)
            if types is not None:
                if type(item) not in types:
                    return False
            else:
                deeper = deep.get(name)
                if deeper is not None and not deeper(item):
                    return False
        return True

    return check


def compile_node(schema: dict[str, t.Any]) -> Node:
    """Compile a JSON schema node into its checks."""
    declared = schema.get("type")
    kinds = (declared,) if isinstance(declared, str) else tuple(declared or ())
    fmt = schema.get("format") if "string" in kinds else None
    label = " or ".join(k for k in kinds if k != "null") + (f" ({fmt})" if fmt else "")
    if not kinds or set(kinds) >= JSON_TYPES:
        return Node(kinds, label or "any", nullable=True, plain=None, fits=_always)
    properties = {k: compile_node(v) for k, v in (schema.get("properties") or {}).items()}
    items = compile_node(schema["items"]) if isinstance(schema.get("items"), dict) else None
    obj_check = _object_check(properties) if "object" in kinds else None
    item_check = items.fits if items and "array" in kinds and items.fits is not _always else None
    fmt_check = FORMATS.get(fmt) if fmt else None
    deep: dict[type, Callable[[t.Any], bool]] = {}
    if obj_check:
        deep[dict] = obj_check
    if item_check:
        item_types = items.plain if items else None
        if item_types is not None:
            deep[list] = lambda values: all(type(v) in item_types for v in values)
        else:
            deep[list] = lambda values: all(map(item_check, values))
    if fmt_check:
        deep[str] = fmt_check
    for kind in kinds:
        deep.update(_BOUNDS.get(kind, {}))
    plain = frozenset(
        python for kind in kinds for python in _PYTHON_TYPES[kind] if python not in deep
    )
    node = Node(
        kinds, label, "null" in kinds, plain if not deep else None, _always, properties, items
    )
    if deep:

        def fits(value: object) -> bool:
            kind = type(value)
            if kind in plain:
                return True
            check = deep.get(kind)
            return check is not None and check(value)

        node.fits = fits
    else:
        node.fits = lambda value: type(value) in plain
    return node


_names = itertools.count()
_INT64_TYPE = t.Annotated[int, msgspec.Meta(ge=INT64[0], le=INT64[1])]
_DOUBLE_TYPE = t.Annotated[float, msgspec.Meta(ge=DOUBLE[0], le=DOUBLE[1])]


def fast_type(schema: dict[str, t.Any]) -> t.Any:  # noqa: ANN401 - a type expression
    """The schema as a msgspec type, which checks a whole record in C.

    It accepts exactly what the compiled checks accept (`compile_node`): bool is not an
    integer, an integer is a number, integers within 64 bits and finite numbers, the same
    date patterns; properties it does not name
    (inside objects) are ignored.
    """
    declared = schema.get("type")
    kinds = (declared,) if isinstance(declared, str) else tuple(declared or ())
    if not kinds or set(kinds) >= JSON_TYPES:
        return t.Any
    parts: dict[object, t.Any] = {}  # one part per Python type: msgspec takes one int
    for kind in kinds:
        if kind == "string" and (pattern := PATTERNS.get(schema.get("format", ""))):
            parts[str] = t.Annotated[str, msgspec.Meta(pattern=pattern)]
        elif kind == "object" and schema.get("properties"):
            fields = {name: fast_type(prop) for name, prop in schema["properties"].items()}
            parts[dict] = t.TypedDict(f"Fits{next(_names)}", fields, total=False)  # type: ignore[operator]
        elif kind == "array" and isinstance(schema.get("items"), dict):
            parts[list] = list[fast_type(schema["items"])]  # type: ignore[misc]
        elif kind in {"integer", "number"}:
            parts[int] = _INT64_TYPE
            if kind == "number":
                parts[float] = _DOUBLE_TYPE
        else:
            python = {"string": str, "boolean": bool, "null": None, "object": dict, "array": list}
            parts[python[kind]] = python[kind]
    types = tuple(parts.values())
    return t.Union[types] if len(types) > 1 else types[0]  # noqa: UP007


# ----------------------------------------------------------------------------- the log
@dataclass
class Tally:
    """How often one thing happened to one field in this sync, and one record it happened to."""

    count: int = 0
    example: object = None


_REMOVE: t.Any = object()  # a non-nullable nested value that does not fit: leave it out


class Conformer:
    """Fits one stream's records to its schema; tallies what it changed for the log."""

    def __init__(self, stream_name: str, schema: dict[str, t.Any]) -> None:
        """Compile the schema's checks once."""
        self.stream_name = stream_name
        self.root = compile_node(schema)
        self.required = frozenset(schema.get("required") or ())
        props = self.root.properties
        self._plain = {n: node.plain for n, node in props.items() if node.plain is not None}
        self._deep = {n: node.fits for n, node in props.items() if node.plain is None}
        #: (what happened, field pattern, detail) -> tally; reported and cleared by `report`.
        self.tallies: dict[tuple[str, str, str], Tally] = {}
        self._known = frozenset(props)
        self._fast: Callable[..., object] | None = None
        try:
            fast = fast_type(schema)
            msgspec.convert({}, fast)  # compiles the type: TypeError if msgspec cannot
            self._fast = functools.partial(msgspec.convert, type=fast)
        except (TypeError, msgspec.ValidationError):  # a schema msgspec cannot express
            self._fast = None

    def __call__(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        """The record, fitted to the schema in place (the hot path: `fits`)."""
        return record if self.fits(record) else self.check(record)

    def fits(self, record: dict[str, t.Any]) -> bool:
        """Whether the record fits as it is: no unknown property, every value its type.

        msgspec checks it in C. False only means: let `check` look.
        """
        if self._fast is None or not record.keys() <= self._known:
            return False
        try:
            self._fast(record)
        except msgspec.ValidationError:
            return False
        return True

    def scrub_page(self, records: list[dict[str, t.Any]], id_key: str) -> None:
        """Make the records of a page read the careful way storable (safe_json.py), in place.

        What each value held as sent goes to the record's `_drift`; the log counts them.
        """
        in_deep_stack(self._scrub_records, records, id_key)

    def _scrub_records(self, records: list[dict[str, t.Any]], id_key: str) -> None:
        for record in records:
            scrubbed = scrub(record)
            if scrubbed.drift:
                record[DRIFT] = scrubbed.drift
            for kind, pattern in scrubbed.notes:
                self.note("unstorable", pattern, kind, record.get(id_key))

    def check(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        """The record, fitted to the schema in place, by Python alone."""
        plain, deep = self._plain, self._deep
        misfits = None
        for name, value in record.items():
            types = plain.get(name)
            if types is not None:
                if type(value) in types:
                    continue
            else:
                check = deep.get(name)
                if check is not None and check(value):
                    continue
            if misfits is None:
                misfits = [name]
            else:
                misfits.append(name)
        if misfits is not None:
            self._repair_record(record, misfits)
        return record

    # -------------------------------------------------------------- the slow path
    def note(self, what: str, pattern: str, detail: str, record_id: object) -> None:
        """Count one thing that happened to a field (`what`: converted, kept, unknown...)."""
        tally = self.tallies.setdefault((what, pattern, detail), Tally(example=record_id))
        tally.count += 1

    def _repair_record(self, record: dict[str, t.Any], names: list[str]) -> None:
        visit = _Visit(self, record.get("id"))
        properties = self.root.properties
        for name in names:
            value = record[name]
            node = properties.get(name)
            if node is None:  # a property the schema does not have
                del record[name]
                path = join("", name)
                if value is None:
                    self.note("unknown-null", path, "", visit.record_id)
                else:
                    visit.drift[path] = value
                    self.note("unknown", path, "", visit.record_id)
                continue
            fixed = visit.repair(node, value, name, name)
            if fixed is not _REMOVE:
                record[name] = fixed
            elif name in self.required:
                shown = mask(repr(value), limit=80)
                msg = (
                    f"{self.stream_name}: a record's {name} is {shown}, which is not "
                    f"{node.label}: without it the record has no row to load into. "
                    "Please report this, with tap-pm's log, to tap-pm's issue tracker."
                )
                raise KeyMisfitError(msg)
            else:
                del record[name]
        if visit.drift:  # what the page's scrub kept (safe_json.py) is the value as sent
            record[DRIFT] = {**visit.drift, **record.get(DRIFT, {})}

    def report(self, logger: logging.Logger) -> None:
        """Log what this sync changed, once per field, then start counting afresh."""
        for (what, pattern, detail), tally in sorted(self.tallies.items()):
            count = tally.count
            values, were = (f"{count} values", "were") if count > 1 else ("1 value", "was")
            # The pattern holds property names, the example an id: both the server's text.
            said = f"{self.stream_name}: {values} of {mask(pattern)}"
            example = f"(e.g. id {mask(tally.example, limit=80)})"
            if what == "kept":
                logger.warning(
                    "%s did not fit %s and %s kept in %s %s", said, detail, were, DRIFT, example
                )
            elif what == "unstorable":
                logger.warning(
                    "%s held %s: as sent, %s kept in %s %s",
                    said, KINDS[detail], "they were" if count > 1 else "it was", DRIFT, example,
                )  # fmt: skip
            elif what == "converted":
                source, target = detail.split("|")
                logger.info(
                    "%s came as %s and %s converted to %s without loss %s",
                    said, source, were, target, example,
                )  # fmt: skip
            elif what == "unknown":
                logger.warning(
                    "%s, a property the schema does not have, %s kept in %s %s",
                    said, were, DRIFT, example,
                )  # fmt: skip
            else:
                logger.info(
                    "%s, a property the schema does not have, %s null: nothing to keep %s",
                    said, were, example,
                )  # fmt: skip
        self.tallies.clear()


@dataclass
class _Visit:
    """One record being repaired: where its drift goes, and its id for the log."""

    conformer: Conformer
    record_id: object
    drift: dict[str, t.Any] = field(default_factory=dict)

    def repair(self, node: Node, value: object, path: str, pattern: str) -> t.Any:  # noqa: ANN401
        """The value fitted to `node`: as it is, repaired inside, converted, else null.

        What cannot be kept in place goes to `drift` under `path` (`pattern` is the path
        without array indexes, which the log counts by).
        """
        if node.fits(value):
            return value
        if isinstance(value, dict) and "object" in node.kinds:
            for name, item in list(value.items()):
                if (child := node.properties.get(name)) is not None:
                    fixed = self.repair(child, item, f"{path}.{name}", f"{pattern}.{name}")
                    if fixed is _REMOVE:
                        del value[name]
                    else:
                        value[name] = fixed
            return value
        if isinstance(value, list) and "array" in node.kinds and node.items is not None:
            items = node.items
            fixed_items = (
                self.repair(items, item, f"{path}[{index}]", f"{pattern}[]")
                for index, item in enumerate(value)
            )
            return [item for item in fixed_items if item is not _REMOVE]
        if value is not None:
            for target in node.kinds:
                convert = CONVERSIONS.get(target)
                converted = convert(value) if convert else MISFIT
                if converted is not MISFIT and node.fits(converted):
                    source = _TYPE_NAMES.get(type(value), type(value).__name__)
                    self.conformer.note("converted", pattern, f"{source}|{target}", self.record_id)
                    return converted
        found = unstorable(value)  # text for a number no warehouse column holds
        self.drift[path] = value if found is None else found[1]
        self.conformer.note("kept", pattern, node.label, self.record_id)
        return None if node.nullable else _REMOVE


class ConformedStream(Stream):
    """A stream whose records are fitted to its schema (`conform`) before they are written."""

    @cached_property
    def conformer(self) -> Conformer:
        """This stream's conformer, compiled once from the schema it declares."""
        return Conformer(self.name, self.schema)

    def conform(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        """The record fitted to the schema: converted, nulled, unknowns in `_drift`."""
        return self.conformer(record)

    def report_drift(self) -> None:
        """Log what conformance changed in this sync (at the stream's end)."""
        self.conformer.report(self.logger)

    _schema_sent = False

    @override
    def _write_schema_message(self) -> None:
        """The SCHEMA message, once per run.

        The SDK sends it again each time a child stream starts a parent's partition: 900
        identical messages at 300 projects, each a deep copy of the schema.
        """
        if not self._schema_sent:
            self._schema_sent = True
            super()._write_schema_message()

    @cached_property
    def _deselects(self) -> bool:
        """Whether the catalog deselects any property (usually not)."""
        return not all(self.mask.values())

    @override
    def _generate_record_messages(
        self, record: dict[str, t.Any]
    ) -> Generator[singer.RecordMessage, None, None]:
        """The SDK's, without its per-record walk when nothing is deselected.

        That walk (`pop_deselected_record_properties`) looks up every nested key in the
        selection mask: the largest per-record cost of a sync, spent finding nothing to remove.
        Type conformance is ours (`conform`), so the SDK's is off (`TYPE_CONFORMANCE_LEVEL`).
        """
        if self._deselects:
            pop_deselected_record_properties(record, self.schema, self.mask)
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield singer.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=datetime.now(timezone.utc),
                )
