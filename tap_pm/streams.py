"""The Rocketlane streams; each reads like its row in the README's stream table.

The nine default streams, then the opt-in ones (`selected_by_default = False`).
"""

from __future__ import annotations

import typing as t

from typing_extensions import override

from tap_pm.client import RocketlaneStream
from tap_pm.invoices import InvoiceChildStream, InvoicesParent
from tap_pm.opt_in import AttachmentsStream, PerValueStream, SourcedStream, WindowedStream
from tap_pm.projects import ParentStream
from tap_pm.versions import Listing

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class ProjectsStream(ParentStream):
    """Projects, archived included by default; the parent of spaces, phases, documents."""

    name = "projects"
    id_key = "projectId"
    replication_key = "updatedAt"
    switches: t.ClassVar[dict[str, str]] = {"includeArchive.eq": "include_archived"}
    optional_fields = (
        "annualizedRecurringRevenue", "projectFee", "allocatedHours", "allocatedMinutes",
        "budgetedHours", "percentageBudgetedHoursConsumed", "percentageBudgetConsumed",
        "billableHours", "billableMinutes", "nonBillableHours", "nonBillableMinutes",
        "trackedHours", "trackedMinutes", "progressPercentage", "startDateActual",
        "dueDateActual", "currentPhase", "autoAllocation", "sources", "inferredProgress",
        "plannedDuration", "projectAgeInDays", "customersInvited", "customersJoined",
        "externalReferenceId", "metrics", "remainingMinutes", "remainingHours",
    )  # fmt: skip

    @override
    def shape_record(self, row: dict[str, t.Any], context: Context | None) -> dict[str, t.Any]:
        """`currency` is always the live object; the spec's bare code is wrapped into it."""
        processed = super().shape_record(row, context)
        if isinstance(code := processed.get("currency"), str):
            processed["currency"] = {
                "currencyCode": code,
                "currencyName": None,
                "currencySymbol": None,
            }
        return processed


class _ProjectChildStream(RocketlaneStream):
    """A list that requires `projectId`: one partition and one bookmark per project."""

    parent_stream_type = ProjectsStream
    project_param = "projectId"
    replication_key = "updatedAt"
    listing = Listing.EVERY_SYNC


class SpacesStream(_ProjectChildStream):
    """Spaces of each project."""

    name = "spaces"
    id_key = "spaceId"
    all_fields_param = False


class PhasesStream(_ProjectChildStream):
    """Phases of each project."""

    name = "phases"
    id_key = "phaseId"
    optional_fields = ("startDateActual", "dueDateActual")


class SpaceDocumentsStream(_ProjectChildStream):
    """Documents in the spaces of each project."""

    name = "space-documents"
    id_key = "spaceDocumentId"
    all_fields_param = False


class TasksStream(RocketlaneStream):
    """Tasks, archived included by default."""

    name = "tasks"
    id_key = "taskId"
    replication_key = "updatedAt"
    project_param = "projectId.eq"
    switches: t.ClassVar[dict[str, str]] = {"includeArchive.eq": "include_archived"}
    optional_fields = (
        "startDateActual", "dueDateActual", "type", "phase", "assignees", "followers",
        "dependencies", "billable", "csatEnabled", "priority", "timeEntryCategory",
        "financialsBudget", "taskPrivateNote", "parent", "externalReferenceId",
    )  # fmt: skip


class TimeEntriesStream(RocketlaneStream):
    """Time entries, deleted ones included by default (`deleted: true`)."""

    name = "time-entries"
    id_key = "timeEntryId"
    replication_key = "updatedAt"
    project_param = "projectId.eq"
    all_fields_param = False
    switches: t.ClassVar[dict[str, str]] = {"includeDeleted.eq": "include_deleted_time_entries"}
    optional_fields = (
        "notes", "sourceType", "deleted", "status", "submittedBy", "submittedAt",
        "approvedBy", "approvedAt", "rejectedBy", "rejectedAt", "costRate", "billRate",
    )  # fmt: skip


class UsersStream(RocketlaneStream):
    """Users of the workspace."""

    name = "users"
    id_key = "userId"
    replication_key = "updatedAt"
    listing = Listing.WHEN_ONE_PAGE
    project_owned = False
    optional_fields = (
        "role", "company", "permission", "holidayCalendar", "capacityInMinutes",
        "profilePictureUrl",
    )  # fmt: skip


class FieldsStream(RocketlaneStream):
    """Custom field definitions."""

    name = "fields"
    id_key = "fieldId"
    replication_key = "updatedAt"
    listing = Listing.WHEN_ONE_PAGE
    project_owned = False
    optional_fields = ("options",)


class TimeOffsStream(RocketlaneStream):
    """Time-offs: full table, the list has no `updatedAt`."""

    name = "time-offs"
    id_key = "timeOffId"
    listing = Listing.EVERY_SYNC
    project_owned = False
    optional_fields = ("note", "notifyUsers")


# ---------------------------------------------------------------- opt-in streams
# None of these lists has an `updatedAt` filter: each is read in full every sync, and its
# deletions reach the warehouse every sync.


class InvoicesStream(AttachmentsStream, InvoicesParent):
    """Invoices; the parent of their lines and payments."""

    name = "invoices"
    id_key = "invoiceId"
    selected_by_default = False
    listing = Listing.EVERY_SYNC
    project_owned = False  # an invoice may bill several projects
    optional_fields = ("notes", "attachments")


class _InvoiceListStream(InvoiceChildStream):
    """A list that requires an invoice: one partition per invoice."""

    parent_stream_type = InvoicesStream


class InvoiceLinesStream(SourcedStream, _InvoiceListStream):
    """Lines of each invoice; `projectId` when a line bills a project."""

    name = "invoice-lines"
    list_name = "lines"
    id_key = "invoiceLineItemId"
    selected_by_default = False
    project_source = (None, "PROJECT")


class InvoicePaymentsStream(_InvoiceListStream):
    """Payments and write-offs of each invoice."""

    name = "invoice-payments"
    list_name = "payments"
    id_key = "paymentId"
    selected_by_default = False


class ResourceAllocationsStream(WindowedStream):
    """Resource allocations in the window of the `resource_allocations_*` settings."""

    name = "resource-allocations"
    id_key = "id"  # the API sends allocations without an id: the tap makes one
    id_from_api = False
    selected_by_default = False
    listing = Listing.EVERY_SYNC
    project_param = "projectId.eq"
    optional_fields = ("member", "task", "placeholder", "duration")


class TimeEntryCategoriesStream(RocketlaneStream):
    """Time-entry categories (`GET /time-entries/categories`)."""

    name = "time-entry-categories"
    path = "/time-entries/categories"
    id_key = "categoryId"
    selected_by_default = False
    listing = Listing.EVERY_SYNC
    project_owned = False
    all_fields_param = False


class ConversationsStream(SourcedStream):
    """Project conversations; a conversation's source is its project."""

    name = "conversations"
    id_key = "conversationId"
    selected_by_default = False
    listing = Listing.EVERY_SYNC
    project_param = "sourceId.eq"
    project_source = ("source", "PROJECT_CONVERSATION")
    optional_fields = ("members",)


class CommentsStream(AttachmentsStream, PerValueStream):
    """Comments on tasks and in conversations, listed once per source type."""

    name = "comments"
    id_key = "commentId"
    selected_by_default = False
    listing = Listing.EVERY_SYNC
    project_owned = False
    per_value = ("sourceType", ("TASK", "PROJECT_CONVERSATIONS"))
    optional_fields = ("attachments",)


class CompaniesStream(RocketlaneStream):
    """Companies (`GET /companies`, not in the spec): the workspace's own and its customers."""

    name = "companies"
    id_key = "companyId"
    selected_by_default = False
    documented = False  # so a 404 skips it with a warning: the list may be withdrawn
    # No capture shows a filter on this list: it is read in full every sync.
    listing = Listing.EVERY_SYNC
    project_owned = False
    all_fields_param = False
