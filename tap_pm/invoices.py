"""Invoices, and the visits to each invoice's lines and payments (opt-in streams).

The invoices list has no `updatedAt` filter, so every sync lists it in full, and lines and
payments can only be listed one invoice at a time: `GET /invoices/{invoiceId}/lines` and
`.../payments`, two requests per invoice and sync. Like spaces, phases and documents of a
project, each invoice's lines and payments are a partition with their own state, paced by the
tap-wide request budget; a table version per invoice carries their deletions to the warehouse.
"""

from __future__ import annotations

import typing as t

from typing_extensions import override

from tap_pm.client import RocketlaneStream
from tap_pm.versions import Listing

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context


class InvoicesParent(RocketlaneStream):
    """The invoices list, whose records are the partitions of their lines and payments."""

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """Every invoice; the SDK reads each one's children as it is emitted.

        Once all are read, the children forget invoices that are gone and activate their
        tables: every invoice still there was listed in full by this sync.
        """
        listed: set[int] = set()
        for record in super().get_records(context):
            if not listed:
                self.progress.plan(self.name, self.listing_total or 0)
            listed.add(record[self.id_key])
            yield record
        for child in self._children:
            t.cast("InvoiceChildStream", child).keep_invoices(listed)
            child.activate_partitions()

    @override
    def get_child_context(
        self,
        record: dict[str, t.Any],
        context: Context | None,
    ) -> dict[str, t.Any]:
        """Lines and payments are listed per invoice."""
        return {"invoiceId": record[self.id_key]}


class InvoiceChildStream(RocketlaneStream):
    """A list of one invoice, `/invoices/{invoiceId}/<name>`: a partition per invoice.

    Neither list has `updatedAt`, so each invoice's is read in full every sync.
    """

    listing = Listing.EVERY_SYNC
    project_owned = False
    all_fields_param = False
    #: The last part of the path, after `/invoices/{invoiceId}/`.
    list_name: t.ClassVar[str]

    @property
    @override
    def path(self) -> str:  # type: ignore[override]
        """`/invoices/{invoiceId}/<list_name>`; the SDK fills in the invoice from the context."""
        return f"/invoices/{{invoiceId}}/{self.list_name}"

    def keep_invoices(self, listed: set[int]) -> None:
        """Drop the partitions of invoices no longer listed, or deleted during the sync."""
        if partitions := self.stream_state.get("partitions"):
            keep = listed - self.gone_parents
            self.stream_state["partitions"] = [
                p for p in partitions if p["context"].get("invoiceId") in keep
            ]

    @override
    def shape_record(self, row: dict[str, t.Any], context: Context | None) -> dict[str, t.Any]:
        """The record also names its invoice, which the API leaves out."""
        processed = super().shape_record(row, context)
        if context:
            processed["invoiceId"] = context["invoiceId"]
        return processed
