"""The one base stream: URL, auth, query parameters; each request through budget.py, retries.py."""

from __future__ import annotations

import math
import time
import typing as t
from datetime import datetime, timedelta, timezone
from functools import cached_property
from importlib import resources

import requests
from singer_sdk import StreamSchema
from singer_sdk.authenticators import APIKeyAuthenticator
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from tap_pm import __version__
from tap_pm.budget import RateLimitedError, retry_after_seconds
from tap_pm.conform import ConformedStream, DriftSchemaDirectory
from tap_pm.errors import TapPMError, mask
from tap_pm.pagination import PageTokenPaginator, PaginationError, json_payload, read_carefully
from tap_pm.progress import LAST_REQUESTS, SyncProgress
from tap_pm.retries import DEFAULT_MAX_RETRIES, describe_failure, with_retries
from tap_pm.safe_json import needs_scrub
from tap_pm.session import Session, UnsafeAnswerError
from tap_pm.versions import VersionedStream

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from backoff.types import Details
    from singer_sdk.helpers.types import Context

    from tap_pm.budget import RequestBudget
    from tap_pm.clock import ApiClock

SCHEMAS = resources.files("tap_pm") / "schemas"
EPOCH_MS_FIELDS = ("createdAt", "updatedAt", "submittedAt", "approvedAt", "rejectedAt")
MAX_TOKEN_RESTARTS = 5
DEFAULT_LOOKBACK_MINUTES = 5
STATE_INTERVAL_SECONDS = 30
#: Seconds for a whole exchange: a page of Rocketlane's takes under two.
DEFAULT_REQUEST_TIMEOUT = 60
#: Megabytes of one body, decompressed: a page of 100 records is well under one.
DEFAULT_MAX_RESPONSE_MB = 64
#: A bookmark is "later than the API's clock" beyond this: before the first answer our clock
#: stands in, and differences below clock.py's skew warning are normal noise.
FUTURE_BOOKMARK_TOLERANCE_MS = 5_000
#: Child partition state: when the parent's children were last read (epoch s, tap clock).
VISITED_AT = "visited_at"


class PageTokenExpiredError(Exception):
    """HTTP 400 on a page token: it expired, so the partition must start over."""


class PartitionGoneError(Exception):
    """HTTP 404 on a child list: its project was deleted during the sync."""


class StreamUnavailableError(Exception):
    """An opt-in list this workspace does not offer (HTTP 403, or 404 if undocumented)."""

    def __init__(self, status: int, described: str) -> None:
        """Remember the answer, for the warning."""
        super().__init__(described)
        self.status = status


#: Epoch ms of the first and last instants a timestamp can name (years 1 to 9999).
MS_RANGE = (-62_135_596_800_000, 253_402_300_799_999)


_EPOCH = datetime(1970, 1, 1)  # noqa: DTZ001 - UTC, written as +00:00 below


def ms_to_rfc3339(value: float) -> str:
    """Epoch milliseconds as an RFC 3339 UTC string with millisecond precision.

    Integer arithmetic (no division into float seconds, which rounded far dates a
    millisecond off) and a naive datetime: twice as fast on the hot path, the same text.
    """
    return (_EPOCH + timedelta(0, 0, 0, value)).isoformat("T", "milliseconds") + "+00:00"


def parse_rfc3339(value: str) -> datetime:
    """An RFC 3339 date-time (`Z` accepted on Python 3.10 too); ValueError if it is not one."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def to_epoch_ms(value: datetime) -> int:
    """A datetime as whole epoch milliseconds, rounded down."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    delta = value - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


class RocketlaneStream(ConformedStream, VersionedStream):
    """A Rocketlane list endpoint: `GET /1.0/<name>`."""

    schema = StreamSchema(DriftSchemaDirectory(SCHEMAS))  # schemas/<name>.json, plus `_drift`
    primary_keys: t.ClassVar[tuple[str, ...]] = ("id",)
    is_sorted = False  # the API cannot sort by updatedAt
    # API values are already JSON types, so the SDK's per-value conformance (the
    # largest per-record cost) is skipped; post_process fits records to the schema (conform.py).
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    #: The record's natural id, copied to `id`.
    id_key: t.ClassVar[str]
    #: The endpoint's `includeFields` values: properties sent only on request.
    optional_fields: t.ClassVar[tuple[str, ...]] = ()
    #: Whether the endpoint takes `includeAllFields` (custom fields).
    all_fields_param: t.ClassVar[bool] = True
    #: Query parameter that scopes the list to one project, if any.
    project_param: t.ClassVar[str | None] = None
    #: Extra switches sent when their setting is on: {query parameter: setting}.
    switches: t.ClassVar[dict[str, str]] = {}
    #: Whether the API's spec documents the list (an undocumented one may be withdrawn).
    documented: t.ClassVar[bool] = True
    #: Whether the API sends `id_key` in every record (else the tap makes it: allocations).
    id_from_api: t.ClassVar[bool] = True

    @property
    @override
    def path(self) -> str:  # type: ignore[override]
        """`/<name>`, relative to `base_url`."""
        return f"/{self.name}"

    @property
    @override
    def url_base(self) -> str:
        """The `base_url` setting."""
        return str(self.config["base_url"]).rstrip("/")

    @cached_property
    @override
    def requests_session(self) -> Session:
        """The key only to `base_url`'s origin; each exchange bounded in time and size."""
        return Session(
            base_url=self.url_base,
            max_body_bytes=int(self.config.get("max_response_mb", DEFAULT_MAX_RESPONSE_MB) * 2**20),
            before_hop=self._before_request,
        )

    def _before_request(self) -> None:
        """Every request and every redirect hop takes its place in the budget."""
        self.budget.acquire()
        self.progress.request(self.name)

    @cached_property
    @override
    def authenticator(self) -> APIKeyAuthenticator:
        """Send the key in the `api-key` header."""
        # Stripped: a pasted file's newline is no part of a key (tap.py says so once).
        return APIKeyAuthenticator(key="api-key", value=str(self.config["api_key"]).strip())

    @property
    @override
    def user_agent(self) -> str:
        """The `user_agent` setting, else `tap-pm/<version>`."""
        return self.config.get("user_agent") or f"tap-pm/{__version__}"

    @property
    @override
    def timeout(self) -> float:  # type: ignore[override]
        """The `request_timeout` setting."""
        return float(self.config.get("request_timeout", DEFAULT_REQUEST_TIMEOUT))

    @property
    def budget(self) -> RequestBudget:
        """The tap-wide request budget."""
        return self.tap.budget

    @property
    def progress(self) -> SyncProgress:
        """The tap-wide progress report."""
        return self.tap.progress

    @property
    def api_clock(self) -> ApiClock:
        """The tap-wide view of Rocketlane's clock."""
        return self.tap.api_clock

    #: When this stream started, on the API's clock (epoch s): set by its first response.
    _started_at: float | None = None

    @override
    def get_replication_key_signpost(self, context: Context | None = None) -> str | None:
        """Bookmarks never pass the stream's start on the API's clock (known after a response)."""
        if not self.replication_key or self._started_at is None:
            return None
        return ms_to_rfc3339(math.floor(self._started_at * 1000))

    def _cap_bookmark(self, context: Context | None) -> None:
        """Apply the signpost to a partition whose first request preceded it."""
        if signpost := self.get_replication_key_signpost(context):
            self._write_replication_key_signpost(context, signpost)

    @property
    def _children(self) -> list[RocketlaneStream]:
        """Child streams that will sync (selected, or parents of selected ones)."""
        return [
            t.cast("RocketlaneStream", c)
            for c in self.child_streams
            if c.selected or c.has_selected_descendents
        ]

    @property
    @override
    def partitions(self) -> list[dict[str, t.Any]] | None:
        """With `project_ids`, project-scoped lists are read one project at a time."""
        if self.parent_stream_type:
            return super().partitions
        if self.project_param and (ids := self.config.get("project_ids")):
            return [{"projectId": project_id} for project_id in ids]
        return None

    @override
    def get_new_paginator(self) -> PageTokenPaginator:
        """Follow `nextPageToken` until the listing is proven complete (pagination.py)."""
        return PageTokenPaginator(self.id_key, int(self.config.get("page_size", 100)))

    #: Whether the listing under way is complete (no `updatedAt` filter); see versions.py.
    _full_listing = False

    def start_ms(self, context: Context | None) -> int | None:
        """The `updatedAt` filter, epoch ms: the bookmark less the look-back, within the scope.

        The scope's start (`start_date`, see versions.py) alone filters a complete listing.
        """
        if not self.replication_key:
            return None
        scope = self.scope_start or None
        bookmark = self.get_context_state(context).get("replication_key_value")
        if self._full_listing or self.tap.scope_widened or not bookmark:
            return scope
        lookback_ms = int(self.config.get("lookback_minutes", DEFAULT_LOOKBACK_MINUTES) * 60_000)
        since = self._bookmark_ms(context, bookmark) - lookback_ms
        return since if scope is None else max(since, scope)

    def _bookmark_ms(self, context: Context | None, bookmark: object) -> int:
        """The state's bookmark in epoch ms, checked against the API's clock (docs/reliability.md).

        One later than the API's now would filter out every change until that date: it counts
        as the API's now (so the look-back is read again), and the state says so from now on.
        """
        where = f" (partition {dict(context)})" if context else ""
        try:
            mark = to_epoch_ms(parse_rfc3339(t.cast("str", bookmark)))
        except (AttributeError, TypeError, ValueError):
            msg = (
                f"{self.name}{where}: the state's bookmark {mask(repr(bookmark), limit=80)} is not "
                "an RFC 3339 "
                "date-time. Fix or remove it in the --state file, or sync without state."
            )
            raise TapPMError(msg) from None
        now = math.floor(self.api_clock.now() * 1000)
        if mark <= now + FUTURE_BOOKMARK_TOLERANCE_MS:
            return mark
        self.logger.warning(
            "%s%s: the state's bookmark %s is later than Rocketlane's clock, %s (a state from "
            "elsewhere, or a clock that ran ahead); syncing from Rocketlane's now less the "
            "look-back, so no change since is skipped.",
            self.name, where, bookmark, ms_to_rfc3339(now),
        )  # fmt: skip
        # Stored, so each page asks for the same filter and later syncs do not warn again.
        self.get_context_state(context)["replication_key_value"] = ms_to_rfc3339(now)
        return now

    @override
    def get_url_params(
        self,
        context: Context | None,
        next_page_token: str | None,
    ) -> dict[str, t.Any]:
        """Page size and token, field selection, switches, project scope, bookmark."""
        config = self.config
        params: dict[str, t.Any] = {"pageSize": config.get("page_size", 100)}
        if next_page_token:
            params["pageToken"] = next_page_token
        if self.all_fields_param and config.get("include_custom_fields", True):
            params["includeAllFields"] = "true"
        elif self.optional_fields:
            params["includeFields"] = ",".join(self.optional_fields)
        for param, setting in self.switches.items():
            if config.get(setting, True):
                params[param] = "true"
        if self.project_param and context and "projectId" in context:
            params[self.project_param] = context["projectId"]
        # >= so a record updated in the bookmark's own millisecond is not lost.
        if (since := self.start_ms(context)) is not None:
            params["updatedAt.ge"] = since
        return params

    @override
    def validate_response(self, response: requests.Response) -> None:
        """Sort answers into: wait (429), retry (5xx, bad JSON), restart, skip, fail."""
        if self._started_at is None:
            self._started_at = self.api_clock.stream_start(response)
        status = response.status_code
        if status == requests.codes.too_many_requests:
            raise RateLimitedError(retry_after_seconds(response))
        if status >= requests.codes.internal_server_error:
            msg = f"HTTP {status}"
            raise RetriableAPIError(msg, response)
        if status >= requests.codes.bad_request:
            raise self.client_error(response)
        try:
            payload = json_payload(response)
        except ValueError as exc:
            msg = f"invalid JSON body ({exc})"
            raise RetriableAPIError(msg, response) from exc
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            msg = "the body has no `data` list"
            raise RetriableAPIError(msg, response)

    def client_error(self, response: requests.Response) -> Exception:
        """What a 4xx answer means: skip the list, restart, skip a partition, or fail."""
        status = response.status_code
        if status in self.unavailable_statuses:
            return StreamUnavailableError(status, self.describe(response))
        if status in {requests.codes.unauthorized, requests.codes.forbidden}:
            msg = (
                f"{self.name}: Rocketlane refused the API key ({self.describe(response)}). "
                "Check api_key: it must be a valid key of this workspace."
            )
            return TapPMError(msg)
        if status == requests.codes.bad_request and "pageToken=" in (response.request.url or ""):
            return PageTokenExpiredError()
        if status == requests.codes.not_found and self.parent_stream_type:
            return PartitionGoneError()
        msg = f"{self.name}: the API rejected the request ({self.describe(response)})."
        return TapPMError(msg)

    @property
    def unavailable_statuses(self) -> frozenset[int]:
        """Answers that mean an opt-in list is not there for this workspace: skip it.

        403: a feature off in the workspace's plan (invoices without billing). 404: an
        undocumented list withdrawn. A default stream fails on either: there they mean a
        wrong key or `base_url`.
        """
        if self.selected_by_default:
            return frozenset()
        statuses = {requests.codes.forbidden}
        if not self.documented:
            statuses.add(requests.codes.not_found)
        return frozenset(statuses)

    #: Set when the list answered as `unavailable_statuses` say: the stream is skipped.
    unavailable = False

    def skip_unavailable(self, error: StreamUnavailableError) -> None:
        """Warn once, naming the stream and what to do; the stream is skipped from now on."""
        self.unavailable = True
        reason = (
            "the workspace's plan or the key's role does not include it"
            if error.status == requests.codes.forbidden
            else "the list is not in the API's spec and this workspace does not have it"
        )
        self.logger.warning(
            "%s: skipped, %s (%s). Its table keeps what it has; the other streams sync as "
            "usual. Deselect %s to stop this warning, or ask Rocketlane to enable it.",
            self.name, reason, error, self.name,
        )  # fmt: skip

    @staticmethod
    def describe(response: requests.Response) -> str:
        """Status, request path and query (the key is a header, never in the URL), id."""
        request = response.request
        detail = ""
        try:
            errors = json_payload(response).get("errors") or []
            detail = "; ".join(str(error.get("errorMessage")) for error in errors)
        except (ValueError, AttributeError, TypeError):  # not JSON, or `errors` not a list
            pass
        request_id = mask(response.headers.get("X-Request-Id", "-"), limit=80)
        return (
            f"HTTP {response.status_code} on {request.method} {mask(request.path_url)}, "
            f"X-Request-Id {request_id}" + (f": {mask(detail)}" if detail else "")
        )

    @override
    def _request(
        self,
        prepared_request: requests.PreparedRequest,
        context: Context | None,
    ) -> requests.Response:
        """Send within the budget; a 429 waits as told and does not count as a retry."""
        while True:
            self._before_request()
            try:
                return super()._request(prepared_request, context)
            except UnsafeAnswerError as exc:
                msg = f"{self.name}: {exc}."
                raise TapPMError(msg) from None
            except RateLimitedError as exc:
                self.logger.warning(
                    "%s: rate limited (HTTP 429); waiting %.1fs as the API asks",
                    self.name,
                    exc.wait_seconds,
                )
                self.budget.rate_limited(exc.wait_seconds, self.name)

    @override
    def request_decorator(self, func: Callable[..., t.Any]) -> Callable[..., t.Any]:
        """Retry errors as retries.py says; when retries run out, say what failed."""
        return with_retries(self, func, TapPMError)

    @override
    def backoff_handler(self, details: Details) -> None:
        """Log each retry on one line."""
        exc = details.get("exception")
        request = details["args"][0]
        self.logger.warning(
            "%s: retry %d of %s in %.2fs after %s",
            self.name,
            details["tries"],
            self.config.get("max_retries", DEFAULT_MAX_RETRIES),
            details.get("wait") or 0.0,
            describe_failure(self, exc, request) if exc else "an error",
        )

    @override
    def parse_response(self, response: requests.Response) -> Iterable[dict[str, t.Any]]:
        """The records of one page (the body was parsed once, in validation)."""
        payload = json_payload(response)
        records = t.cast("list[dict[str, t.Any]]", payload["data"])
        for record in records:
            if not isinstance(record, dict):
                msg = (
                    f"{self.name}: the API listed {mask(repr(record), limit=80)}, which is not a "
                    f"record (an object), on {mask(response.request.path_url)}. Please report "
                    "this, with tap-pm's log, to tap-pm's issue tracker."
                )
                raise TapPMError(msg)
            if self.id_from_api and self.id_key not in record:
                msg = (
                    f"{self.name}: the API listed a record without its id field "
                    f"{self.id_key!r} ({mask(repr(record), limit=80)}) on "
                    f"{mask(response.request.path_url)}; "
                    "the tap cannot tell it apart from others, so it stops. Please report "
                    "this, with tap-pm's log, to tap-pm's issue tracker."
                )
                raise TapPMError(msg)
        if needs_scrub(records, careful=read_carefully(response)):
            self.conformer.scrub_page(records, self.id_key)
        pagination = payload.get("pagination")  # not an object: the paginator says so
        total = pagination.get("totalRecordCount") if isinstance(pagination, dict) else None
        first = "pageToken=" not in (response.request.url or "")
        if first:
            self.listing_total = total if isinstance(total, int) else None
        self.progress.page(self.name, records=len(records), total=self.listing_total, first=first)
        return records

    #: `totalRecordCount` of the listing under way, from its first page.
    listing_total: int | None = None

    @override
    def finalize_state_progress_markers(self, state: dict[str, t.Any] | None = None) -> None:
        """At the stream's end: progress, its cost for the next estimate, and its STATE."""
        if state is None and self.selected:
            if stream := self.progress.streams.get(self.name):
                self.stream_state[LAST_REQUESTS] = stream.requests
            self.progress.finish(self.name)
            self.report_drift()
        super().finalize_state_progress_markers(state)
        self._write_state_message(force=True)

    @override
    def _write_state_message(self, *, force: bool = False) -> None:
        """Send STATE at most every STATE_INTERVAL_SECONDS while a stream runs.

        The SDK sends the whole state after every partition: 9,000 project partitions of a
        3,000-project workspace, each message the size of the state (1.6 MB by then), would
        be gigabytes. STATE is cumulative, so skipping some loses nothing; a killed sync only
        resumes from a slightly older one.
        """
        now = time.monotonic()
        if force or now - self.tap.state_sent_at >= STATE_INTERVAL_SECONDS:
            was_flushed = self.state_manager.is_flushed
            super()._write_state_message()
            if not was_flushed:
                self.tap.state_sent_at = now

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """Records of one partition; an expired page token restarts it from the bookmark."""
        emitted: set[t.Any] = set()
        restarts = 0
        if self.unavailable:
            return
        self._full_listing = self.begin_listing(context)
        while True:
            try:
                for record in self.request_records(context):
                    # Each record once, though a restarted listing repeats them (inline: this
                    # runs for every record).
                    key = record.get(self.id_key)
                    try:
                        if key in emitted:
                            continue
                        emitted.add(key)
                    except TypeError:  # an object for an id: conform.py says it has no row
                        pass
                    restarts = 0  # progress: only fruitless restarts count
                    yield record
            except PageTokenExpiredError:
                restarts += 1
                self._restart_listing(restarts, context)
                continue
            except PartitionGoneError:
                self._skip_gone_partition(context)
                return
            except StreamUnavailableError as exc:
                self.skip_unavailable(exc)
                return
            except PaginationError as exc:
                where = f" (partition {dict(context)})" if context else ""
                msg = (
                    f"{self.name}{where}: {exc}. The sync stops before it deletes anything; "
                    "run it again, and if this persists, report it with tap-pm's log."
                )
                raise TapPMError(msg) from exc
            self._finish_listing(context, emitted)
            return

    def _restart_listing(self, restarts: int, context: Context | None) -> None:
        """A page token expired: start the partition over, unless that keeps happening."""
        if restarts > MAX_TOKEN_RESTARTS:
            msg = (
                f"{self.name}: page tokens expired {restarts} times without progress; "
                "the sync is too slow for the API's 15-minute token lifetime."
            )
            raise TapPMError(msg) from None
        self.logger.warning(
            "%s: page token expired; restarting %s from its bookmark",
            self.name,
            f"partition {dict(context)}" if context else "the stream",
        )

    def _finish_listing(self, context: Context | None, emitted: set[t.Any]) -> None:
        """The partition was listed to its end: bookmark, version, visit."""
        self._cap_bookmark(context)
        if self._full_listing:
            self.end_listing(context, emitted)
        if self.parent_stream_type and context:
            self.get_context_state(context)[VISITED_AT] = self.tap.initialized_at // 1000
            self.progress.parent_done(self.name)

    def _skip_gone_partition(self, context: Context | None) -> None:
        """The partition's parent answered 404: deleted since it was listed."""
        # The partition is one parent record: {"projectId": …} or {"invoiceId": …}.
        key, parent_id = next(iter((context or {}).items()))
        self.logger.warning(
            "%s: %s %s no longer exists (HTTP 404); skipping it",
            self.name,
            key.removesuffix("Id"),
            parent_id,
        )
        self.gone_parents.add(parent_id)
        self.progress.parent_done(self.name)

    @cached_property
    def gone_parents(self) -> set[int]:
        """Parents (projects, invoices) whose list answered 404 in this sync: deleted."""
        return set()

    @override
    def post_process(
        self,
        row: dict[str, t.Any],
        context: Context | None = None,
    ) -> dict[str, t.Any] | None:
        """The record in the tap's shape (`shape_record`), fitted to its schema, marked live.

        Marked here: `_generate_record_messages` is conform.py's, which replaces the SDK's.
        """
        return self.mark_live(self.conform(self.shape_record(row, context)))

    def shape_record(self, row: dict[str, t.Any], context: Context | None) -> dict[str, t.Any]:
        """Copy the natural id to `id`; epoch-ms timestamps become RFC 3339 strings.

        What the tap itself makes of an API record, before it is checked against the schema;
        streams that add to a record (its parent's id, nested times) extend this.
        """
        row["id"] = row[self.id_key]
        if self.replication_key:
            # Live, an invited user comes without updatedAt: the SDK's bookmark needs the key.
            row.setdefault(self.replication_key, None)
        for key in EPOCH_MS_FIELDS:
            value = row.get(key)
            # Any other value is not a time: conform.py keeps it in `_drift`.
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                row[key] = ms_to_rfc3339(value) if MS_RANGE[0] <= value <= MS_RANGE[1] else value
        if context and "projectId" in context:
            row["projectId"] = context["projectId"]
        elif self.project_param:
            project = row.get("project")  # not an object: conform keeps it in `_drift`
            row["projectId"] = project.get("projectId") if isinstance(project, dict) else None
        return row
