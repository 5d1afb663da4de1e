"""Values of unexpected types, as live APIs send them: the emulator's `drift` option.

With ``Emulator(drift=True)`` (``--drift`` on the command line) the generated workspace carries
one drifted value of each kind seen from real APIs, each in another stream:

=====================  ===============  =============================  ========================
kind                   stream           field                          sent
=====================  ===============  =============================  ========================
decimal-for-integer    tasks            effortInMinutes                the minutes + 0.5
number-as-text         time-entries     minutes                        the minutes as text
text-for-object        phases           status                         the status's label
date-format            projects         dueDate                        MM/DD/YYYY
unknown-property       users            timeZone                       "Europe/Paris"
nested-text            space-documents  createdBy.userId               "user-<id>"
=====================  ===============  =============================  ========================

Each goes to the first record its list shows (the lowest id; for a project's children, of the
first project), so a one-page look meets them all; it is deterministic for a seed and a size.
`Emulator.drifted` lists what was changed, for tests to look for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

Record = dict[str, Any]


@dataclass(frozen=True)
class DriftedValue:
    """One value the emulator sends in a shape other than the spec's."""

    kind: str
    stream: str
    record_id: int
    field: str  # a path: `status`, `createdBy.userId`
    value: Any  # as sent


def _us_date(value: object) -> str:
    day = date.fromisoformat(str(value)) if value else date(2026, 1, 20)
    return day.strftime("%m/%d/%Y")


# kind -> (stream, id key, field path, the value sent given the value the spec shape has)
KINDS: dict[str, tuple[str, str, str, Any]] = {
    "decimal-for-integer": (
        "tasks", "taskId", "effortInMinutes", lambda v: (v if isinstance(v, int) else 37) + 0.5,
    ),
    "number-as-text": ("time-entries", "timeEntryId", "minutes", lambda v: str(v or 480)),
    "text-for-object": (
        "phases", "phaseId", "status", lambda v: (v or {}).get("label") or "In progress",
    ),
    "date-format": ("projects", "projectId", "dueDate", _us_date),
    "unknown-property": ("users", "userId", "timeZone", lambda _: "Europe/Paris"),
    "nested-text": (
        "space-documents", "spaceDocumentId", "createdBy.userId", lambda v: f"user-{v}",
    ),
}  # fmt: skip


def project_of(data: dict[str, list[Record]], record: Record) -> int | None:
    if project := record.get("project"):
        return int(project["projectId"])
    if space := record.get("space"):  # a space document: its space's project
        spaces = {s["spaceId"]: s for s in data["spaces"]}
        return project_of(data, spaces[space["spaceId"]])
    return None


def _first_listed(data: dict[str, list[Record]], stream: str, id_key: str) -> Record:
    """The record a first page shows: the lowest id (of the first project, for its children),
    so a one-page look such as `tap-pm --check-live` meets every drifted value."""
    records = data[stream]
    if stream in {"phases", "space-documents"}:
        first_project = min(p["projectId"] for p in data["projects"])
        records = [r for r in records if project_of(data, r) == first_project]
    return min(records, key=lambda r: r[id_key])


def apply_drift(data: dict[str, list[Record]]) -> list[DriftedValue]:
    """Put one drifted value of each kind into the generated records; return them."""
    drifted = []
    for kind, (stream, id_key, path, make) in KINDS.items():
        record = _first_listed(data, stream, id_key)
        *parents, name = path.split(".")
        holder = record
        for parent in parents:
            # Nested objects may be shared between generated records: change a copy.
            holder[parent] = dict(holder.get(parent) or {})
            holder = holder[parent]
        holder[name] = make(holder.get(name))
        drifted.append(DriftedValue(kind, stream, record[id_key], path, holder[name]))
    return drifted
