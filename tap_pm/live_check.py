"""`tap-pm --check-live`: does a live workspace fit the tap's schemas?

It reads the first page of each selected stream through the tap's own request machinery
(budget, retries, auth), shapes each record as a sync does (`shape_record`) and compares every
value, nested ones included, with the type the schema declares, by the rules of jsonschema
(formats included), as a validating target would. It prints a table per stream and sends no
Singer message. It fails when a value would not fit its declared type, naming each such field.

`SchemaProfile` is the reusable part: the types seen per field of any records against a schema.
"""

from __future__ import annotations

import json
import typing as t
from collections import Counter
from dataclasses import dataclass, field

import click
import msgspec
from singer_sdk.typing import DEFAULT_JSONSCHEMA_VALIDATOR

from tap_pm.client import PartitionGoneError, StreamUnavailableError
from tap_pm.errors import TapPMError, mask, redact
from tap_pm.opt_in import PerValueStream
from tap_pm.safe_json import KINDS

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_pm.client import RocketlaneStream

#: String formats whose values are told apart in the table (`string(date)`...).
DATE_FORMATS = ("date-time", "date")
#: jsonschema's own format checks; `date-time` comes from rfc3339-validator, a dependency.
FORMAT_CHECKER = DEFAULT_JSONSCHEMA_VALIDATOR.FORMAT_CHECKER
JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
EXAMPLE_LENGTH = 40
#: target-duckdb loads through a CSV file, whose lines DuckDB reads up to 2,000,000 bytes
#: (`max_line_size`, which the loader does not set): a longer row stops its load.
DUCKDB_LINE_BYTES = 2_000_000
#: Rows from half of that on are named, so the largest ones are seen before they stop a load.
NEAR_DUCKDB_LIMIT = DUCKDB_LINE_BYTES // 2
#: JSON types of decoded values, bool before int (it is one), an integral float an integer.
PYTHON_TYPES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (type(None), "null"),
    (bool, "boolean"),
    ((int, float), "integer"),
    (str, "string"),
    (list, "array"),
    (object, "object"),
)


class NoParentError(Exception):
    """A child stream has no partition to read: its parent's first page is empty."""


def declared_type(schema: dict[str, t.Any] | None) -> str:
    """A property's declared type as the table shows it: `string(date-time)|null`."""
    if schema is None:
        return "-"
    types = schema.get("type")
    if types is None or (isinstance(types, list) and JSON_TYPES - {"integer"} <= set(types)):
        return "any"
    types = [types] if isinstance(types, str) else types
    fmt = schema.get("format")
    return "|".join(f"{name}({fmt})" if name == "string" and fmt else name for name in types)


def value_type(value: object, fmt: str | None = None) -> str:
    """The JSON type of a value, as jsonschema sees it (1.0 is an integer).

    A string where the schema says `date`/`date-time` also tells which of them it is, if any.
    """
    if isinstance(value, float) and not value.is_integer():
        return "number"
    if isinstance(value, str) and fmt in DATE_FORMATS:
        for name in DATE_FORMATS:
            if FORMAT_CHECKER.conforms(value, name):
                return f"string({name})"
    return next(name for kind, name in PYTHON_TYPES if isinstance(value, kind))


def field_path(parts: Iterable[str | int]) -> str:
    """`status.value`, `assignees[].userId`: object keys joined by dots, `[]` for an item."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += "[]"
        else:
            path = f"{path}.{part}" if path else part
    return path


@dataclass
class FieldProfile:
    """What one field (a property path) declares and what the records had in it."""

    path: str
    schema: dict[str, t.Any] | None  # None: the schema does not have this property
    seen: Counter[str] = field(default_factory=Counter)
    misfits: int = 0
    example: str = ""  # a misfit: the record's id and the value

    @property
    def declared(self) -> str:
        """The declared type, `-` when undeclared."""
        return declared_type(self.schema)

    @property
    def verdict(self) -> str:
        """`ok`, `DOES NOT FIT`, `undeclared` or `never seen`."""
        if self.misfits:
            return f"DOES NOT FIT: {self.misfits} value(s), e.g. {self.example}"
        if self.schema is None:
            return "undeclared (not in the schema)"
        if not self.seen:
            return "never seen"
        return "ok"


class SchemaProfile:
    """The types seen in each field of a stream's records, against its schema."""

    def __init__(self, schema: dict[str, t.Any]) -> None:
        """Every declared field, nested ones too, starts unseen."""
        self.schema = schema
        self.records = 0
        self.fields: dict[str, FieldProfile] = {}
        self._declare(schema, "")
        self._validator = DEFAULT_JSONSCHEMA_VALIDATOR(schema, format_checker=FORMAT_CHECKER)

    def _declare(self, schema: dict[str, t.Any], path: str) -> None:
        for key, child in (schema.get("properties") or {}).items():
            self._add(child, f"{path}.{key}" if path else key)
        if isinstance(items := schema.get("items"), dict) and path:
            self._add(items, f"{path}[]")

    def _add(self, schema: dict[str, t.Any], path: str) -> None:
        self.fields[path] = FieldProfile(path, schema)
        self._declare(schema, path)

    def _field(self, path: str, schema: dict[str, t.Any] | None) -> FieldProfile:
        if (profile := self.fields.get(path)) is None:
            profile = self.fields[path] = FieldProfile(path, schema)
        return profile

    def observe(self, record: dict[str, t.Any]) -> None:
        """Count the types of every value of one record, and the values that do not fit."""
        self.records += 1
        self._visit_object(record, self.schema, "")
        misfits: dict[str, object] = {}
        for error in self._validator.iter_errors(record):
            misfits.setdefault(field_path(error.absolute_path), error.instance)
        for path, value in misfits.items():
            profile = self._field(path, None)
            profile.misfits += 1
            if not profile.example:
                shown = json.dumps(value, ensure_ascii=False)
                if len(shown) > EXAMPLE_LENGTH:
                    shown = shown[: EXAMPLE_LENGTH - 1] + "…"
                shown = f"id {record.get('id')}: {shown}"
                profile.example = mask(shown, limit=EXAMPLE_LENGTH + 40)

    def _visit_object(self, value: dict[str, t.Any], schema: dict[str, t.Any], path: str) -> None:
        properties = schema.get("properties") or {}
        for key, child in value.items():
            self._visit(child, properties.get(key), f"{path}.{key}" if path else key)

    def _visit(self, value: object, schema: dict[str, t.Any] | None, path: str) -> None:
        self._field(path, schema).seen[value_type(value, (schema or {}).get("format"))] += 1
        if schema is None:
            return  # an undeclared property: its own contents are its own business
        if isinstance(value, dict) and schema.get("properties"):
            self._visit_object(value, schema, path)
        elif isinstance(value, list) and isinstance(items := schema.get("items"), dict):
            for item in value:
                self._visit(item, items, f"{path}[]")

    @property
    def misfits(self) -> list[FieldProfile]:
        """Fields with a value that does not fit the declared type."""
        return [f for f in self.fields.values() if f.misfits]

    @property
    def undeclared(self) -> list[FieldProfile]:
        """Properties the records have and the schema does not."""
        return [f for f in self.fields.values() if f.schema is None and f.seen]

    def table(self) -> list[tuple[str, str, str, str]]:
        """Rows (field, declared, seen, verdict): declared fields in schema order, then others."""
        rows = sorted(self.fields.values(), key=lambda f: f.schema is None)
        return [
            (
                f.path,
                f.declared,
                ", ".join(f"{name} {count}" for name, count in f.seen.most_common()) or "-",
                f.verdict,
            )
            for f in rows
        ]


@dataclass
class StreamCheck:
    """One stream's first page, profiled, and the request that read it (or why none did)."""

    name: str
    profile: SchemaProfile
    request: str = ""
    #: What a sync would keep in `_drift` as sent, and rows near a loader's limit.
    notes: list[str] = field(default_factory=list)


def first_page(
    stream: RocketlaneStream, context: Context | None
) -> tuple[str, list[dict[str, t.Any]]]:
    """One request, as a sync sends it (budget, auth, retries, validation): path and records."""
    request = stream.prepare_request(context, next_page_token=None)
    send = stream.request_decorator(stream._request)  # noqa: SLF001 - the SDK's request hook
    records = list(stream.parse_response(send(request, context)))
    return f"GET {request.path_url}", records


class WorkspaceCheck:
    """The first page of each selected stream of one tap, profiled."""

    def __init__(self, tap: Tap) -> None:
        """Nothing is read until `run`."""
        self.tap = tap
        self.pages: dict[str, list[dict[str, t.Any]]] = {}
        self.requests: dict[str, str] = {}

    def stream(self, stream_type: type) -> RocketlaneStream:
        """The tap's instance of a stream class."""
        return next(
            t.cast("RocketlaneStream", s)
            for s in self.tap.streams.values()
            if isinstance(s, stream_type)
        )

    def page(self, stream: RocketlaneStream) -> list[dict[str, t.Any]]:
        """The stream's first page (read once; a parent's serves its children too)."""
        if stream.name not in self.pages:
            try:
                context = self.context(stream)
            except NoParentError:
                self.pages[stream.name] = []
                return []
            if isinstance(stream, PerValueStream):
                # One listing per value; the first value's first page stands for the stream.
                stream._value = stream.per_value[1][0]  # noqa: SLF001
            try:
                self.requests[stream.name], self.pages[stream.name] = first_page(stream, context)
            except PartitionGoneError:
                self.requests[stream.name] = "HTTP 404: its parent was deleted meanwhile"
                self.pages[stream.name] = []
            except StreamUnavailableError as exc:
                self.requests[stream.name] = f"none, the workspace does not offer it ({exc})"
                self.pages[stream.name] = []
        return self.pages[stream.name]

    def context(self, stream: RocketlaneStream) -> Context | None:
        """The partition to read: the first listed parent (project, invoice), if any."""
        if stream.parent_stream_type is None:
            partitions = stream.partitions
            return partitions[0] if partitions else None
        parent = self.stream(stream.parent_stream_type)
        rows = self.page(parent)
        wanted = list(self.tap.config.get("project_ids") or ()) if parent.name == "projects" else []
        chosen = next((r for r in rows if not wanted or r.get(parent.id_key) in wanted), None)
        if chosen is None and wanted:
            chosen = {parent.id_key: wanted[0]}
        if chosen is None:
            self.requests[stream.name] = f"none: the first page of {parent.name} is empty"
            raise NoParentError
        return parent.get_child_context(chosen, None)

    def run(self) -> list[StreamCheck]:
        """Read and profile every selected stream, parents first."""
        checks = []
        for each in self.tap.streams.values():
            stream = t.cast("RocketlaneStream", each)
            if not stream.selected:
                continue
            rows = self.page(stream)
            profile = SchemaProfile(stream.schema)
            context = self.context(stream) if rows else None
            check = StreamCheck(stream.name, profile, self.requests.get(stream.name, ""))
            for row in rows:
                # A copy: a parent's rows are read again for its children's context. Through
                # msgspec, in C: `copy.deepcopy` recursed past Python's limit on deep values.
                record = stream.shape_record(msgspec.json.decode(msgspec.json.encode(row)), context)
                profile.observe(record)
                check.notes += near_duckdb_limit(stream.name, record)
            check.notes += kept_as_sent(stream)
            checks.append(check)
        return checks


def kept_as_sent(stream: RocketlaneStream) -> list[str]:
    """Fields whose values no warehouse stores as sent (safe_json.py): a sync keeps them."""
    return [
        f"{stream.name}.{pattern}: {tally.count} value(s) held {KINDS[detail]}; a sync keeps "
        f"them as sent in _drift (e.g. id {tally.example})"
        for (what, pattern, detail), tally in sorted(stream.conformer.tallies.items())
        if what == "unstorable"
    ]


def near_duckdb_limit(name: str, record: dict[str, t.Any]) -> list[str]:
    """A warning for a row that target-duckdb may not load (DUCKDB_LINE_BYTES)."""
    size = len(json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    if size < NEAR_DUCKDB_LIMIT:
        return []
    warning = (
        f"warning: {name} id {record.get('id')} is {size:,} bytes as JSON; target-duckdb "
        f"cannot load a row of more than {DUCKDB_LINE_BYTES:,} bytes (DuckDB's CSV line "
        "limit), other loaders can"
    )
    return [warning]


def render(checks: Sequence[StreamCheck]) -> str:
    """The tables, one per stream."""
    lines: list[str] = []
    header = ("field", "declared", "seen", "check")
    for check in checks:
        profile = check.profile
        lines.append(f"== {check.name}: {profile.records} record(s); request: {check.request}")
        rows = [header, *profile.table()]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for row in rows:
            cells = [row[i].ljust(widths[i]) for i in range(3)]
            lines.append(f"  {'  '.join(cells)}  {row[3]}".rstrip())
        lines.append("")
    return "\n".join(lines)


def summary(checks: Sequence[StreamCheck]) -> tuple[str, bool]:
    """One line naming each field that does not fit and each undeclared one; whether all fit."""
    misfits = [f"{c.name}.{f.path}" for c in checks for f in c.profile.misfits]
    undeclared = [f"{c.name}.{f.path}" for c in checks for f in c.profile.undeclared]
    records = sum(c.profile.records for c in checks)
    scope = f"{len(checks)} stream(s), {records} record(s)"
    extra = f"; not in the schema: {', '.join(undeclared)}" if undeclared else ""
    if misfits:
        line = (
            f"live check: {len(misfits)} field(s) have values that do not fit their declared "
            f"type: {', '.join(misfits)}{extra} ({scope})"
        )
        return line, False
    return f"live check: every value fits its declared type ({scope}){extra}", True


OPTION = click.Option(
    ["--check-live"],
    is_flag=True,
    help=(
        "Check the workspace against the schemas: read the first page of each selected "
        "stream, print the types declared and seen per field, and fail if a value does not "
        "fit. Sends no Singer messages."
    ),
)


def check_live(tap: Tap) -> None:
    """Run the check and print it; raise a one-line error if a value does not fit."""
    checks = WorkspaceCheck(tap).run()
    click.echo(redact(render(checks)))
    for note in (note for check in checks for note in check.notes):
        click.echo(redact(note))
    line, fits = summary(checks)
    line = redact(line)
    if not fits:
        raise TapPMError(line)
    click.echo(line)
