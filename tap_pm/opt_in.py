"""What some opt-in lists need beyond the base stream (invoices are in invoices.py).

- `resource-allocations` requires a date window, and its records have no id.
- `comments` is listed once per source type, as the spec leaves open what the list
  returns without one.
- `conversations` and `invoice-lines` name their project as a source, not as `project`.
- `invoices` and `comments` have attachments, stamped in epoch ms like the records.
"""

from __future__ import annotations

import typing as t
from datetime import date, datetime, timedelta, timezone
from functools import cached_property

from typing_extensions import override

from tap_pm.client import RocketlaneStream, ms_to_rfc3339
from tap_pm.errors import TapPMError

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    import requests
    from singer_sdk.helpers.types import Context

# Before Rocketlane's first workspaces (2020), so by default the window has every allocation
# made so far; a fixed start means the window only grows, and a row leaves the warehouse only
# when Rocketlane deletes the allocation.
DEFAULT_ALLOCATIONS_START = "2020-01-01"
# Allocations are planned ahead; a year covers the usual planning horizon.
DEFAULT_ALLOCATIONS_DAYS_AHEAD = 365


def _object(value: object) -> dict[str, t.Any]:
    """The value if it is an object, else an empty one (conform.py keeps it in `_drift`)."""
    return value if isinstance(value, dict) else {}


def allocation_key(record: dict[str, t.Any]) -> str:
    """A key for an allocation, which the API sends without an id.

    What an allocation is for (project, member or placeholder), when it starts and when it
    was created (epoch ms): an edit of its hours or end date keeps the key.
    """
    project = _object(record.get("project")).get("projectId")
    if member := record.get("member"):
        who = f"member:{_object(member).get('userId')}"
    else:
        who = f"placeholder:{_object(record.get('placeholder')).get('placeholderId')}"
    return f"{project}:{who}:{record.get('startDate')}:{record.get('createdAt')}"


class WindowedStream(RocketlaneStream):
    """A list that requires a date window, `startDate` and `endDate` (YYYY-MM-DD).

    The window runs from a fixed date to a number of days ahead of today, so it only grows:
    a listing of it is complete, and rows leave the warehouse only when Rocketlane deletes
    them (or when the window setting is narrowed).
    """

    @cached_property
    def window(self) -> tuple[str, str]:
        """The `resource_allocations_*` settings as (startDate, endDate); today is UTC.

        Taken once, so every page of a sync asks for the same window, even past midnight.
        """
        setting = self.config.get("resource_allocations_start_date") or DEFAULT_ALLOCATIONS_START
        start = date.fromisoformat(str(setting)).isoformat()  # validated with the settings
        ahead = self.config.get("resource_allocations_days_ahead", DEFAULT_ALLOCATIONS_DAYS_AHEAD)
        end = (datetime.now(timezone.utc).date() + timedelta(days=ahead)).isoformat()
        if start > end:
            msg = (
                f"{self.name}: resource_allocations_start_date {start} is after the window's "
                f"end, {end} (today + resource_allocations_days_ahead)."
            )
            raise TapPMError(msg)
        return start, end

    @override
    def get_url_params(
        self,
        context: Context | None,
        next_page_token: str | None,
    ) -> dict[str, t.Any]:
        """The base stream's parameters and the window."""
        params = super().get_url_params(context, next_page_token)
        params["startDate"], params["endDate"] = self.window
        return params

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, t.Any]]:
        """The page's records, each with its key as `id` (made before timestamps convert)."""
        records = list(super().parse_response(response))
        for record in records:
            record["id"] = allocation_key(record)
        return records


class PerValueStream(RocketlaneStream):
    """A list read in full once per value of a parameter (`per_value`), in one sync.

    Together the listings are complete; a sync that fails in any of them activates nothing.
    """

    #: The parameter and every value it takes.
    per_value: t.ClassVar[tuple[str, tuple[str, ...]]]
    _value: str | None = None

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """The records of each value's listing, one listing after the other."""
        for value in self.per_value[1]:
            self._value = value
            yield from super().get_records(context)

    @override
    def get_url_params(
        self,
        context: Context | None,
        next_page_token: str | None,
    ) -> dict[str, t.Any]:
        """The base stream's parameters and the value being listed."""
        params = super().get_url_params(context, next_page_token)
        params[self.per_value[0]] = self._value
        return params


class SourcedStream(RocketlaneStream):
    """A list whose records name their project as a source: `sourceId` of `sourceType`."""

    #: (the object holding sourceId and sourceType, None for the record itself; the type
    #: whose sourceId is a project).
    project_source: t.ClassVar[tuple[str | None, str]]

    @override
    def shape_record(self, row: dict[str, t.Any], context: Context | None) -> dict[str, t.Any]:
        """`projectId` is the source's id when the source is a project, else null."""
        processed = super().shape_record(row, context)
        holder, project_type = self.project_source
        source = _object(processed.get(holder) if holder else processed)
        is_project = source.get("sourceType") == project_type
        processed["projectId"] = source.get("sourceId") if is_project else None
        return processed


class AttachmentsStream(RocketlaneStream):
    """A list whose records have `attachments`, each with its `createdAt` in epoch ms."""

    @override
    def shape_record(self, row: dict[str, t.Any], context: Context | None) -> dict[str, t.Any]:
        """Attachment times become RFC 3339 strings too, as the schema says."""
        processed = super().shape_record(row, context)
        attachments = processed.get("attachments")
        for attachment in attachments if isinstance(attachments, list) else ():
            value = _object(attachment).get("createdAt")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                attachment["createdAt"] = ms_to_rfc3339(value)
        return processed
