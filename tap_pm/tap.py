"""tap-pm: the Singer tap for the Rocketlane REST API 1.0."""

from __future__ import annotations

import io
import ipaddress
import json
import logging
import typing as t
from datetime import date
from functools import cached_property

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.singerlib import Catalog
from singer_sdk.tap_base import CliTestOptionValue
from typing_extensions import override
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from tap_pm import streams
from tap_pm.budget import RequestBudget
from tap_pm.client import (
    DEFAULT_LOOKBACK_MINUTES,
    DEFAULT_MAX_RESPONSE_MB,
    DEFAULT_REQUEST_TIMEOUT,
    parse_rfc3339,
)
from tap_pm.clock import ApiClock
from tap_pm.errors import (
    TapPMError,
    mask_secret,
    one_line_errors,
    redact_every_log_record,
    register_secret,
)
from tap_pm.live_check import OPTION as CHECK_LIVE_OPTION
from tap_pm.live_check import check_live as run_live_check
from tap_pm.opt_in import DEFAULT_ALLOCATIONS_DAYS_AHEAD, DEFAULT_ALLOCATIONS_START
from tap_pm.progress import LAST_REQUESTS, SyncProgress
from tap_pm.projects import DEFAULT_REVISIT_HOURS, MIN_REVISITS
from tap_pm.retries import DEFAULT_BACKOFF_FACTOR, DEFAULT_MAX_RETRIES
from tap_pm.versions import deletion_notices

if t.TYPE_CHECKING:
    import click

    from tap_pm.client import RocketlaneStream
    from tap_pm.versions import VersionedStream

DEFAULT_BASE_URL = "https://api.rocketlane.com/api/1.0"
#: Characters an `api-key` header may carry: visible ASCII (RFC 9110 field values; requests
#: and http.client refuse control characters, and non-ASCII would be sent as Latin-1).
KEY_CHARACTERS = frozenset(chr(code) for code in range(0x21, 0x7F))

STREAM_TYPES: list[type[RocketlaneStream]] = [
    streams.ProjectsStream,
    streams.SpacesStream,
    streams.PhasesStream,
    streams.SpaceDocumentsStream,
    streams.TasksStream,
    streams.TimeEntriesStream,
    streams.UsersStream,
    streams.FieldsStream,
    streams.TimeOffsStream,
    # Opt-in: not selected by default.
    streams.InvoicesStream,
    streams.InvoiceLinesStream,
    streams.InvoicePaymentsStream,
    streams.ResourceAllocationsStream,
    streams.TimeEntryCategoriesStream,
    streams.ConversationsStream,
    streams.CommentsStream,
    streams.CompaniesStream,
]


class _DropUnsortedNotice(logging.Filter):
    """Drop the SDK's per-partition "progress is not resumable" warning.

    It is logged once per stream and per project (900 times at 300 projects) and misleads:
    bookmarks here advance per completed stream or project, so a sync resumes.
    """

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        return "progress is not resumable" not in record.getMessage()


logging.getLogger("singer_sdk").addFilter(_DropUnsortedNotice())
redact_every_log_record()


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine: `localhost`, 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def base_url_problem(base_url: str) -> str | None:
    r"""What is wrong with `base_url`, read as urllib3 reads it to connect, or None.

    Userinfo and backslashes are refused outright: parsers disagree on where such a URL's
    host is (`http://a\@b/` is host b to one, a to another), and the key must reach the host
    this check approved. The text shown never includes a password.
    """
    try:
        parts = parse_url(base_url)
    except LocationParseError:
        return "base_url is not a URL"
    shown = parts._replace(auth="***" if parts.auth else None).url
    if "\\" in base_url:
        return f"base_url {shown!r} has a backslash; write the URL without it"
    if parts.auth or "@" in (parts.netloc or ""):
        return (
            f"base_url {shown!r} has a user name or password in it; the API key is the only "
            "credential it needs"
        )
    if parts.scheme not in {"http", "https"} or not parts.host:
        return f"base_url {shown!r} is not an https:// URL"
    if parts.scheme == "http" and not is_loopback(parts.host):
        return (
            f"base_url {shown!r} is plain http to a remote host; use https:// "
            "(the API key would travel in clear text)"
        )
    return None


class TapPM(Tap):
    """Singer tap for a Rocketlane workspace."""

    name = "tap-pm"
    # The SDK's msgspec writer encodes RECORD messages several times faster.
    message_writer_class = MsgSpecWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_key",
            th.StringType(min_length=1),
            required=True,
            secret=True,
            title="API key",
            description="Rocketlane API key (Settings → API), sent in the `api-key` header.",
        ),
        th.Property(
            "base_url",
            th.URIType,
            default=DEFAULT_BASE_URL,
            title="Base URL",
            description=(
                "API root including the version. Must be https://, except http:// to a "
                "loopback host (127.0.0.0/8, localhost, ::1) for the emulator; no user name or "
                "password in it. The key is sent only to this origin."
            ),
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            title="Start date",
            description=(
                "Only sync records updated at or after this instant (RFC 3339): the scope of "
                "every table, deletions included. Moved later, a state keeps the earlier start "
                "(nothing loaded leaves; a sync without state narrows); moved earlier, the next "
                "sync lists everything from it, as a reconcile. `time-offs` and the opt-in "
                "streams (no `updatedAt` filter) are always synced in full."
            ),
        ),
        th.Property(
            "emit_activate_version_messages",
            th.BooleanType,
            default=True,
            title="Emit ACTIVATE_VERSION messages (deletions)",
            description=(
                "Carry deletions to the warehouse: every record has its table's version, and "
                "after a sync that listed a table completely, ACTIVATE_VERSION tells the target "
                "to delete (`hard_delete`) or mark (`_sdc_deleted_at`) rows Rocketlane no longer "
                "has; deleted spaces, phases and documents also come as records with "
                "`_sdc_deleted_at`. Only after a successful sync, and for project lists never "
                "with `project_ids`."
            ),
        ),
        th.Property(
            "reconcile",
            th.BooleanType,
            default=False,
            title="Reconcile",
            description=(
                "List projects, tasks and time entries in full this sync, so their deletions "
                "reach the warehouse (the other streams find theirs every sync). Costs a full "
                "listing of those three; schedule it, e.g. weekly. A sync without state "
                "(`--full-refresh`) reconciles too."
            ),
        ),
        th.Property(
            "project_revisit_hours",
            th.IntegerType(minimum=0),
            default=DEFAULT_REVISIT_HOURS,
            title="Project revisit (hours)",
            description=(
                "Spaces, phases and documents of projects that did not change are re-read at "
                "least this often. Each sync re-reads its share of them, longest unread first: "
                "their number times the hours since the last sync divided by this (at least "
                f"{MIN_REVISITS}), so the work is spread evenly over syncs. Changed projects are "
                "always read. 0 re-reads every project every sync (exact, and as costly as a "
                "request per project and list)."
            ),
        ),
        th.Property(
            "progress_interval_seconds",
            th.IntegerType(minimum=1),
            default=60,
            title="Progress interval (s)",
            description=(
                "Each stream logs its progress (records, projects, requests and time left) at "
                "most this often, and once at its end."
            ),
        ),
        th.Property(
            "lookback_minutes",
            th.IntegerType(minimum=0),
            default=DEFAULT_LOOKBACK_MINUTES,
            title="Look-back (minutes)",
            description=(
                "Incremental syncs also re-read changes made this many minutes before the "
                "bookmark, in case the API lists a change later than it stamps it. Costs no "
                "extra request unless a list had over a page of changes in that window; "
                "targets merge the records again on `id`. 0 turns it off."
            ),
        ),
        th.Property(
            "page_size",
            th.IntegerType(minimum=1, maximum=100),
            default=100,
            title="Page size",
            description="Records per request (1-100). 100 uses the fewest requests.",
        ),
        th.Property(
            "include_archived",
            th.BooleanType,
            default=True,
            title="Include archived",
            description="Also sync archived projects and tasks (`includeArchive.eq`).",
        ),
        th.Property(
            "include_deleted_time_entries",
            th.BooleanType,
            default=True,
            title="Include deleted time entries",
            description=(
                "Also sync deleted time entries (`includeDeleted.eq`); they keep `deleted: true`."
            ),
        ),
        th.Property(
            "include_custom_fields",
            th.BooleanType,
            default=True,
            title="Include custom fields",
            description="Request every field, custom fields included (`includeAllFields`).",
        ),
        th.Property(
            "project_ids",
            th.ArrayType(th.IntegerType),
            title="Project IDs",
            description=(
                "Only sync these projects, and their tasks, time entries, spaces, phases, "
                "space documents, resource allocations and conversations. The other streams "
                "are workspace-wide."
            ),
        ),
        th.Property(
            "resource_allocations_start_date",
            th.DateType,
            default=DEFAULT_ALLOCATIONS_START,
            title="Resource allocations from",
            description=(
                "First day of the `resource-allocations` window: allocations starting on or "
                "after it (YYYY-MM-DD). A fixed date, so the window only grows and a row leaves "
                "the warehouse only when Rocketlane deletes the allocation. The default is "
                "before Rocketlane's first workspaces."
            ),
        ),
        th.Property(
            "resource_allocations_days_ahead",
            th.IntegerType(minimum=0),
            default=DEFAULT_ALLOCATIONS_DAYS_AHEAD,
            title="Resource allocations days ahead",
            description=(
                "Last day of the `resource-allocations` window, in days after today (UTC): "
                "allocations ending on or before it. Allocations are planned into the future; "
                "365 covers a year of planning."
            ),
        ),
        th.Property(
            "user_agent",
            th.StringType,
            title="User agent",
            description="User-Agent header sent with every request.",
        ),
        th.Property(
            "max_requests_per_minute",
            th.IntegerType(minimum=1),
            default=60,
            title="Max requests per minute",
            description=(
                "Requests allowed in any minute, shared by all streams: a sync spends them at "
                "once, then waits for the window. Rocketlane allows 60 list requests per minute "
                "per workspace; lower it when other integrations share the workspace."
            ),
        ),
        th.Property(
            "max_rate_limit_wait_seconds",
            th.IntegerType(minimum=0),
            default=1800,
            title="Max rate-limit wait (s)",
            description=(
                "Total seconds the tap may spend waiting on HTTP 429 answers before it fails."
            ),
        ),
        th.Property(
            "max_retries",
            th.IntegerType(minimum=0),
            default=DEFAULT_MAX_RETRIES,
            title="Max retries",
            description=(
                "Retries of a request after a 5xx answer, a connection error, a timeout or "
                "invalid JSON. Each counts against `max_requests_per_minute`."
            ),
        ),
        th.Property(
            "retry_backoff_factor",
            th.NumberType(minimum=0),
            default=DEFAULT_BACKOFF_FACTOR,
            title="Retry backoff factor (s)",
            description=(
                "The tap retries a failing request for factor * (2^max_retries - 1) seconds "
                "(7 s by default): all retries but the last come quickly, after up to "
                "factor/8, factor/4, ... seconds (random jitter); the last waits out the rest."
            ),
        ),
        th.Property(
            "request_timeout",
            th.NumberType(minimum=1),
            default=DEFAULT_REQUEST_TIMEOUT,
            title="Request timeout (s)",
            description=(
                "Seconds for a whole request: connecting, the headers and the whole body. A "
                "request not answered in full by then is retried like a 5xx."
            ),
        ),
        th.Property(
            "max_response_mb",
            th.IntegerType(minimum=1),
            default=DEFAULT_MAX_RESPONSE_MB,
            title="Max response size (MB)",
            description=(
                "Largest body the tap reads, after decompression; a larger one stops the sync "
                "with an error naming the stream. A page of Rocketlane's is well under 1 MB."
            ),
        ),
    ).to_dict()

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Validate the config; problems become one clear line without the key."""
        try:
            errors = super()._validate_config(raise_errors=True)
        except ConfigValidationError as exc:
            errors = list(exc.errors)
        start_date = self.config.get("start_date")
        if isinstance(start_date, str):
            try:
                parse_rfc3339(start_date)
            except ValueError:
                errors.append(
                    f"start_date {start_date!r} is not an RFC 3339 date-time "
                    "(e.g. 2025-01-31T00:00:00Z)"
                )
        allocations_start = self.config.get("resource_allocations_start_date")
        if isinstance(allocations_start, str):
            try:
                date.fromisoformat(allocations_start)
            except ValueError:
                errors.append(
                    f"resource_allocations_start_date {allocations_start!r} is not a date "
                    "(e.g. 2024-01-31)"
                )
        base_url = self.config.get("base_url") or DEFAULT_BASE_URL
        if isinstance(base_url, str) and (problem := base_url_problem(base_url)):
            errors.append(problem)
        errors += self._check_api_key()
        if errors and raise_errors:
            message = mask_secret("; ".join(errors), str(self.config.get("api_key") or ""))
            msg = f"Invalid configuration: {message}. Fix the setting(s) named above."
            raise TapPMError(msg)
        return errors

    def _check_api_key(self) -> list[str]:
        """Strip whitespace around the key (a pasted file's newline); refuse unsendable ones.

        Stripped rather than refused: `cat key.txt` leaves a newline no key has, and the
        intent is plain. Whatever else no header may carry is refused, without the key.
        """
        key = self.config.get("api_key")
        if not isinstance(key, str):
            return []
        register_secret(key)
        stripped = key.strip()
        if stripped != key:
            register_secret(stripped)  # the authenticator sends the key stripped
            self.logger.warning(
                "api_key had whitespace around it (a pasted file's newline?); it was stripped"
            )
        bad = sorted({f"U+{ord(char):04X}" for char in stripped if char not in KEY_CHARACTERS})
        if bad:
            problem = (
                f"api_key holds characters no HTTP header may carry ({', '.join(bad[:5])}); "
                "copy the key again from Rocketlane (Settings → API)"
            )
            return [problem]
        return []

    @cached_property
    def budget(self) -> RequestBudget:
        """The request budget and 429 allowance shared by every stream."""
        return RequestBudget(
            max_per_minute=self.config.get("max_requests_per_minute", 60),
            max_wait_seconds=self.config.get("max_rate_limit_wait_seconds", 1800),
            error=TapPMError,
        )

    #: When a STATE message was last sent (time.monotonic); see the streams' throttle.
    state_sent_at = 0.0

    @cached_property
    def activations(self) -> dict[str, tuple[VersionedStream, int]]:
        """Table versions to activate once every stream has synced: stream name -> version."""
        return {}

    @cached_property
    def versioned_streams(self) -> list[VersionedStream]:
        """Streams this sync reads (selected, or parents of selected ones)."""
        return [
            t.cast("VersionedStream", s)
            for s in self.streams.values()
            if s.selected or s.has_selected_descendents
        ]

    @cached_property
    def scope_widened(self) -> bool:
        """`start_date` moved earlier than a table was listed from: this sync lists it all."""
        return any(s.scope_moved_earlier for s in self.versioned_streams if s.replication_key)

    # The SDK marks sync_all final, but it has no hook after the last stream; activations
    # must come only then, so this wraps it and still runs the SDK's own.
    @override  # type: ignore[misc]
    def sync_all(self) -> None:
        """Sync every stream; only then send tombstones and activate complete listings.

        A sync that fails or is killed part-way therefore deletes nothing in the warehouse.
        """
        for notice in deletion_notices(self.versioned_streams, self.config):
            self.logger.warning(notice)
        for stream in self.versioned_streams:
            stream.tombstone_version  # noqa: B018 - read before this sync activates anything
            self.progress.expect(
                stream.name,
                parent=getattr(stream.parent_stream_type, "name", None),
                last_requests=stream.stream_state.get(LAST_REQUESTS),
            )
        super().sync_all()
        for stream in self.versioned_streams:
            stream.send_tombstones()
        for stream, version in self.activations.values():
            stream.activate(version)
        for stream in self.versioned_streams:
            stream.record_scope()
        self.state_writer.write_state(self.state)

    @cached_property
    def progress(self) -> SyncProgress:
        """Requests and records so far, and the time left, logged per stream."""
        return SyncProgress(
            self.logger,
            per_minute=self.config.get("max_requests_per_minute", 60),
            interval=float(self.config.get("progress_interval_seconds", 60)),
            page_size=self.config.get("page_size", 100),
        )

    @cached_property
    def api_clock(self) -> ApiClock:
        """Rocketlane's clock as its responses tell it, shared by every stream."""
        return ApiClock(self.logger)

    @override
    def setup_mapper(self) -> None:
        """Register stream maps for every stream, deselected ones with their properties.

        The SDK registers a deselected stream with no properties, so a stream map on it
        (such as meltano.yml's aliases for SQL targets) fails for want of its key.
        """
        super(Tap, self).setup_mapper()  # the plugin's mapper, without Tap's registration
        catalog = Catalog.from_dict(self.catalog.to_dict())
        for entry in catalog.streams:
            entry.metadata.root.selected = True
        self.mapper.register_raw_streams_from_catalog(catalog)

    @override
    def discover_streams(self) -> list[RocketlaneStream]:
        """Return the nine Rocketlane streams."""
        return [stream_type(tap=self) for stream_type in STREAM_TYPES]

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """`--test`: check the key and URL with a single request (one page of users)."""
        if value != CliTestOptionValue.All.value:
            super().cb_test(ctx, param, value)
            return
        given = ctx.params.get("config")  # the SDK's parsed --config input, if any
        with one_line_errors(cls.logger):
            tap = cls(
                config=getattr(given, "config", None),
                parse_env_config=getattr(given, "parse_env", False),
            )
            tap.run_sync_dry_run(dry_run_record_limit=1, streams=[tap.streams["users"]])
        ctx.exit()

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        """The SDK's command, with `--check-live` (live_check.py)."""
        command = super().get_singer_command()
        command.params.append(CHECK_LIVE_OPTION)
        return command

    @classmethod
    @override
    def invoke(
        cls,
        *,
        check_live: bool = False,
        **kwargs: t.Any,
    ) -> None:
        """Sync, or with `--check-live` check the selected streams (`--catalog`) instead.

        Either way a fault is one line (errors.py), never a traceback.
        """
        with one_line_errors(cls.logger):
            for option in ("state", "catalog"):
                if kwargs.get(option) is not None:
                    kwargs[option] = _checked_json_file(option, kwargs[option])
            if not check_live or kwargs.get("about"):
                super().invoke(**kwargs)
                return
            given = kwargs.get("config")  # the SDK's parsed --config input, if any
            catalog = kwargs.get("catalog")
            tap = cls(
                config=getattr(given, "config", None),
                catalog=json.loads(catalog.read()) if catalog else None,
                parse_env_config=getattr(given, "parse_env", False),
            )
            run_live_check(tap)


def _checked_json_file(option: str, given: t.IO[str]) -> t.IO[str]:
    """The `--state` or `--catalog` file, read again by the SDK; one line if it cannot be used.

    The SDK would end in a JSONDecodeError (or AttributeError) traceback.
    """
    name = getattr(given, "name", "-")
    text = given.read()
    what = "an earlier sync's STATE (Meltano keeps it), or leave --state out to sync from scratch"
    if option == "catalog":
        what = "a catalog from `tap-pm --discover`"
    problem: str | None
    try:
        value = json.loads(text)
    except ValueError as exc:
        problem = f"is not valid JSON ({exc})"
    else:
        problem = _state_problem(value) if option == "state" else _catalog_problem(value)
        if problem is None:
            return io.StringIO(text)
    msg = f"--{option} {name} {problem}. Point --{option} at {what}."
    raise TapPMError(msg)


def _state_problem(value: object) -> str | None:
    """What keeps a parsed state from loading, or None."""
    if not isinstance(value, dict):
        return f"holds a JSON {type(value).__name__}, not a state object"
    bookmarks = value.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        return f"has `bookmarks` {type(bookmarks).__name__}, not an object of streams"
    for stream, stream_state in bookmarks.items():
        if not isinstance(stream_state, dict):
            return f"has a bookmark for {stream} that is a {type(stream_state).__name__}"
    return None


def _catalog_problem(value: object) -> str | None:
    """What keeps a parsed catalog from loading, or None."""
    if not isinstance(value, dict) or not isinstance(value.get("streams"), list):
        return "has no `streams` list"
    return None


if __name__ == "__main__":
    TapPM.cli()
