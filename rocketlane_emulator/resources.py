"""Static description of the nine emulated list endpoints.

Everything the query engine needs to know about an endpoint lives in one
:class:`ResourceSpec`, so adding an endpoint means adding one entry here plus a
generator in :mod:`rocketlane_emulator.data`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

RESOURCES: dict[str, ResourceSpec] = {spec.name: spec for spec in _SPECS}

#: Natural primary key of every resource.
ID_KEYS: dict[str, str] = {spec.name: spec.id_key for spec in _SPECS}


def spec_for(resource: str) -> ResourceSpec:
    """Return the spec of ``resource`` or raise ``KeyError`` with a helpful message."""
    try:
        return RESOURCES[resource]
    except KeyError:
        message = f"unknown resource {resource!r}; expected one of {sorted(RESOURCES)}"
        raise KeyError(message) from None
