"""Static description of the emulated list endpoints: the nine, then the opt-in ones.

Everything the query engine needs to know about an endpoint lives in one
:class:`ResourceSpec`, so adding an endpoint means adding one entry here plus a
generator in :mod:`rocketlane_emulator.data` (:mod:`rocketlane_emulator.extra` for the
opt-in ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TIMESTAMP_OPS = ("gt", "ge", "lt", "le", "eq")


@dataclass(frozen=True)
class ResourceSpec:
    """How one ``GET /1.0/<name>`` endpoint behaves."""

    name: str
    id_key: str
    # includeFields enum value -> property path ("a" or "parent.child") it unlocks.
    optional: dict[str, str] = field(default_factory=dict)
    # Whether the endpoint accepts includeAllFields (spec parameter list).
    include_all_param: bool = False
    # When the custom-field array ``fields`` is returned:
    #   "include_all" -> only with includeAllFields=true, "always", or None (no custom fields).
    custom_fields: str | None = None
    # Timestamp properties filterable with <prop>.<op> (epoch ms integers).
    timestamp_filters: tuple[str, ...] = ("createdAt", "updatedAt")
    # Requires the ``projectId`` query parameter (project-scoped child endpoints).
    project_scoped: bool = False
    # Supports the ``projectId.eq`` filter.
    project_filter: bool = False
    # Boolean record flag hidden unless the named ``<param>.eq=true`` is sent.
    hidden_flag: tuple[str, str] | None = None  # (query param, record property)
    # Text property that :meth:`Emulator.touch` edits.
    touch_field: str = ""
    has_updated_at: bool = True
    # --- used by the opt-in lists (data from extra.py) ---
    # Path under /1.0/ when it is not the name; ``{id}`` stands for the parent's id.
    path: str = ""
    # Resource whose id the path carries (``invoices/{id}/lines``): an unknown one answers 404.
    parent: str | None = None
    # Record path to the id of the owner (the parent, else a project), which indexes records.
    owner: tuple[str, ...] = ()
    # Record properties the API never sends: the emulator's bookkeeping.
    internal: tuple[str, ...] = ()
    # Query parameters without which the list answers 400.
    required: tuple[str, ...] = ()
    # Equality filters: query parameter -> record path, compared as text.
    eq_filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Values an enumerated query parameter accepts; any other answers 400.
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Date window (start, end): records starting on or after ``start`` and ending on or before
    # ``end``, query parameters and record properties alike (YYYY-MM-DD).
    window: tuple[str, str] | None = None
    # Whether ``GET /1.0/<name>/<id>`` exists.
    gettable: bool = True


_TASK_OPTIONAL = {
    name: name
    for name in (
        "startDateActual",
        "dueDateActual",
        "type",
        "phase",
        "assignees",
        "followers",
        "dependencies",
        "billable",
        "csatEnabled",
        "priority",
        "timeEntryCategory",
        "taskPrivateNote",
        "parent",
        "externalReferenceId",
    )
}
_TASK_OPTIONAL["financialsBudget"] = "financialsBudgets"

_PROJECT_OPTIONAL = {
    name: name
    for name in (
        "annualizedRecurringRevenue",
        "projectFee",
        "allocatedHours",
        "allocatedMinutes",
        "budgetedHours",
        "percentageBudgetedHoursConsumed",
        "percentageBudgetConsumed",
        "billableHours",
        "billableMinutes",
        "nonBillableHours",
        "nonBillableMinutes",
        "trackedHours",
        "trackedMinutes",
        "progressPercentage",
        "startDateActual",
        "dueDateActual",
        "autoAllocation",
        "sources",
        "inferredProgress",
        "projectAgeInDays",
        "customersInvited",
        "customersJoined",
        "externalReferenceId",
        "remainingMinutes",
        "remainingHours",
    )
}
_PROJECT_OPTIONAL.update(
    {
        "currentPhase": "currentPhases",
        "plannedDuration": "plannedDurationInDays",
        "metrics": "financials.metrics",
    }
)

_TIME_ENTRY_OPTIONAL = {
    name: name
    for name in (
        "notes",
        "sourceType",
        "deleted",
        "status",
        "submittedBy",
        "submittedAt",
        "approvedBy",
        "approvedAt",
        "rejectedBy",
        "rejectedAt",
        "costRate",
        "billRate",
    )
}

_SPECS = (
    ResourceSpec(
        "tasks",
        "taskId",
        optional=_TASK_OPTIONAL,
        include_all_param=True,
        custom_fields="include_all",
        project_filter=True,
        hidden_flag=("includeArchive.eq", "archived"),
        touch_field="taskDescription",
    ),
    ResourceSpec(
        "users",
        "userId",
        optional={
            n: n
            for n in (
                "role",
                "company",
                "permission",
                "holidayCalendar",
                "capacityInMinutes",
                "profilePictureUrl",
            )
        },
        include_all_param=True,
        custom_fields="include_all",
        touch_field="lastName",
    ),
    ResourceSpec(
        "projects",
        "projectId",
        optional=_PROJECT_OPTIONAL,
        include_all_param=True,
        custom_fields="include_all",
        hidden_flag=("includeArchive.eq", "archived"),
        touch_field="projectName",
    ),
    ResourceSpec(
        "fields",
        "fieldId",
        optional={"options": "fieldOptions"},
        include_all_param=True,
        touch_field="fieldDescription",
    ),
    ResourceSpec(
        "time-offs",
        "timeOffId",
        optional={"note": "note", "notifyUsers": "notifyUsers"},
        include_all_param=True,
        timestamp_filters=(),
        touch_field="note",
        has_updated_at=False,
    ),
    ResourceSpec("spaces", "spaceId", project_scoped=True, touch_field="spaceName"),
    ResourceSpec(
        "phases",
        "phaseId",
        optional={"startDateActual": "startDateActual", "dueDateActual": "dueDateActual"},
        include_all_param=True,
        project_scoped=True,
        touch_field="phaseName",
    ),
    ResourceSpec(
        "time-entries",
        "timeEntryId",
        optional=_TIME_ENTRY_OPTIONAL,
        custom_fields="always",
        project_filter=True,
        hidden_flag=("includeDeleted.eq", "deleted"),
        touch_field="notes",
    ),
    ResourceSpec(
        "space-documents",
        "spaceDocumentId",
        project_scoped=True,
        touch_field="spaceDocumentName",
    ),
)

# The opt-in lists: not among the tap's default streams.
_OPT_IN_SPECS = (
    ResourceSpec(
        "invoices",
        "invoiceId",
        optional={"notes": "notes", "attachments": "attachments"},
        include_all_param=True,
        custom_fields="include_all",
        timestamp_filters=("createdAt",),  # no updatedAt filter
        touch_field="notes",
    ),
    ResourceSpec(
        "invoice-lines",
        "invoiceLineItemId",
        timestamp_filters=(),
        touch_field="description",
        has_updated_at=False,
        path="invoices/{id}/lines",
        parent="invoices",
        owner=("invoiceId",),
        internal=("invoiceId",),
        gettable=False,
    ),
    ResourceSpec(
        "invoice-payments",
        "paymentId",
        timestamp_filters=(),
        touch_field="notes",
        has_updated_at=False,
        path="invoices/{id}/payments",
        parent="invoices",
        owner=("invoiceId",),
        internal=("invoiceId",),
        gettable=False,
    ),
    ResourceSpec(
        "resource-allocations",
        "allocationId",
        optional={
            "member": "member",
            "task": "tasks",
            "placeholder": "placeholder",
            "duration": "duration",
        },
        include_all_param=True,
        timestamp_filters=(),
        touch_field="allocationType",
        owner=("project", "projectId"),
        internal=("allocationId",),
        required=("startDate", "endDate"),
        eq_filters={
            "projectId.eq": ("project", "projectId"),
            "memberId.eq": ("member", "userId"),
            "placeholderId.eq": ("placeholder", "placeholderId"),
        },
        window=("startDate", "endDate"),
        gettable=False,
    ),
    ResourceSpec(
        "time-entry-categories",
        "categoryId",
        timestamp_filters=(),
        touch_field="categoryName",
        has_updated_at=False,
        path="time-entries/categories",
        gettable=False,
    ),
    ResourceSpec(
        "conversations",
        "conversationId",
        optional={"members": "members"},
        include_all_param=True,
        timestamp_filters=(),
        touch_field="description",
        has_updated_at=False,
        owner=("source", "sourceId"),
        eq_filters={"sourceId.eq": ("source", "sourceId")},
    ),
    ResourceSpec(
        "comments",
        "commentId",
        optional={"attachments": "attachments"},
        include_all_param=True,
        timestamp_filters=("createdAt",),
        touch_field="content",
        has_updated_at=False,
        eq_filters={"sourceType": ("source", "sourceType")},
        choices={"sourceType": ("TASK", "PROJECT_CONVERSATIONS")},
    ),
    # Not in the spec: in the shape of a live capture (spec/live-deviations.md).
    ResourceSpec(
        "companies",
        "companyId",
        timestamp_filters=(),  # no capture shows a filter
        touch_field="companyName",
        gettable=False,
    ),
)

RESOURCES: dict[str, ResourceSpec] = {spec.name: spec for spec in (*_SPECS, *_OPT_IN_SPECS)}

#: Natural primary key of every resource of the nine default streams.
ID_KEYS: dict[str, str] = {spec.name: spec.id_key for spec in _SPECS}

#: Natural primary key of every opt-in resource (`allocationId` is the emulator's own: the API
#: gives allocations no id).
OPT_IN_ID_KEYS: dict[str, str] = {spec.name: spec.id_key for spec in _OPT_IN_SPECS}


def route(path: str) -> tuple[str | None, int | None, int | None]:
    """(resource, record id of a GET by id, parent id) of a path under /1.0/; None if unknown.

    Ids that are not numbers become -1, which no record has (so: 404).
    """
    parts = path.strip("/").split("/")
    for spec in RESOURCES.values():
        template = spec.path.split("/")
        if spec.path and len(template) == len(parts):
            pairs = list(zip(template, parts, strict=True))
            if all(t in ("{id}", p) for t, p in pairs):
                ids = [_id(p) for t, p in pairs if t == "{id}"]
                return spec.name, None, ids[0] if ids else None
    listed = RESOURCES.get(parts[0])
    if listed is None or listed.path or len(parts) > 2:
        return None, None, None
    if len(parts) == 1:
        return listed.name, None, None
    return (listed.name, _id(parts[1]), None) if listed.gettable else (None, None, None)


def _id(text: str) -> int:
    return int(text) if text.isdigit() else -1


def url_path(spec: ResourceSpec, parent: int | None) -> str:
    """The path under /1.0/ of a list, its parent's id filled in."""
    return spec.path.replace("{id}", str(parent)) if spec.path else spec.name


def dig(record: dict[str, Any], path: tuple[str, ...]) -> object:
    """The value at ``path`` in a record (None if a step is missing or null)."""
    value: object = record
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def spec_for(resource: str) -> ResourceSpec:
    """Return the spec of ``resource`` or raise ``KeyError`` with a helpful message."""
    try:
        return RESOURCES[resource]
    except KeyError:
        message = f"unknown resource {resource!r}; expected one of {sorted(RESOURCES)}"
        raise KeyError(message) from None
