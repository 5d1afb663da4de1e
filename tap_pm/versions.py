"""Table versions and tombstones: how a record deleted in Rocketlane leaves the warehouse.

The API has no deletion feed; a deleted record just vanishes from its list. Only a complete
listing proves absence. Two Singer ways say so:

- `ACTIVATE_VERSION v`, for a whole table: SQL targets delete (`hard_delete`) or mark
  (`_sdc_deleted_at`) the rows whose `_sdc_table_version` is lower than v.
  - Every record carries a version. A complete listing gets this sync's version, a new,
    higher one; records of an incremental listing carry the table's current version.
  - A listing is complete when it has no bookmark filter, reads every page, and covers the
    table's scope: never with `project_ids` for project-owned tables. `start_date` sets the
    scope, not a gap: every row the warehouse holds was updated at or after it, and
    `updatedAt` only grows, so a listing filtered only by it is complete (see `scope_start`).
  - Which listings are complete is each stream's `listing` policy: every sync (time-offs, and
    the spaces, phases and documents of each visited project), when one page holds the whole
    list (users, fields), or at a reconcile (tasks, time entries, projects: `reconcile`, no
    state, or a `start_date` moved earlier).
  - A child table is versioned per project; it activates the oldest of its projects' versions,
    so a project not visited in this sync never loses rows.
- A tombstone, for one row: a RECORD carrying `_sdc_deleted_at`, as log-based taps send.
  Each project's child partition keeps the ids of its last listing; an id missing from the
  next one, and every child of a project that answers 404, gets a tombstone (so does the
  project). SQL targets upsert it with `_sdc_deleted_at` set in both delete modes, so the row
  counts as gone at once; it carries the table's last activated version, so under
  `hard_delete` the table's next activation removes it.

Nothing is deleted until the whole sync has succeeded: activations and tombstones go out only
then (pending tombstones wait in the state), so a failed or killed sync deletes nothing.
"""

from __future__ import annotations

import enum
import typing as t
from datetime import datetime, timezone
from functools import cached_property

from typing_extensions import override

from tap_pm.stream_base import TapPMStream

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from singer_sdk.helpers.types import Context

#: State keys: the version a table was last activated at, the version of a project's last
#: complete listing (in child partitions), and how many records that listing had.
TABLE_VERSION = "table_version"
PARTITION_VERSION = "version"
LISTED = "listed"
#: Child partition state: the ids of the project's last complete listing.
LISTED_IDS = "ids"
#: Stream state: records found deleted, whose tombstones go out once the sync succeeds.
PENDING = "deleted"
#: Stream state: the `start_date` (epoch ms, 0 for none) the table's rows were listed from.
SCOPE_START = "scope_start"
DELETED_AT = "_sdc_deleted_at"


class Listing(enum.Enum):
    """When a stream lists its records in full, which is what proves deletions."""

    EVERY_SYNC = "every sync"
    WHEN_ONE_PAGE = "every sync while one page holds the list, else at a reconcile"
    ON_RECONCILE = "at a reconcile"


def configured_start(config: Mapping[str, t.Any]) -> int:
    """The `start_date` setting in epoch ms, 0 without one."""
    value = config.get("start_date")
    if not value:
        return 0
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def ms_text(value: int) -> str:
    """Epoch ms as an RFC 3339 instant, for messages."""
    if not value:
        return "the beginning"
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z")


class VersionedStream(TapPMStream):
    """A stream whose records carry their table's version, activated after a complete listing."""

    listing: t.ClassVar[Listing] = Listing.ON_RECONCILE
    #: Whether the table's rows belong to projects, so `project_ids` narrows it.
    project_owned: t.ClassVar[bool] = True
    #: Whether this parent's child partitions keep their ids, to send tombstones (projects).
    tombstones_children: t.ClassVar[bool] = False

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        """Never the SDK's way: it activates before listing, so a failed sync would delete."""
        return False

    @property
    def tracks_deletions(self) -> bool:
        """The standard `emit_activate_version_messages` setting, on by default here."""
        return bool(self.config.get("emit_activate_version_messages", True))

    @property
    def may_activate(self) -> bool:
        """Whether this sync's complete listings cover the table's whole scope."""
        if not self.selected or not self.tracks_deletions:
            return False
        return not (self.project_owned and self.config.get("project_ids"))

    @property
    def sends_tombstones(self) -> bool:
        """Whether this table's deleted rows get tombstones (a project's children)."""
        parent = self.parent_stream_type
        return bool(parent and getattr(parent, "tombstones_children", False))

    # ------------------------------------------------------------------------- scope
    @cached_property
    def scope_start(self) -> int:
        """Epoch ms this sync lists the table from (0: all of it).

        `start_date`, unless this state's rows were listed from an earlier one: moving
        `start_date` later then changes nothing (a sync without state narrows the table).
        """
        configured = configured_start(self.config)
        stored = self.stream_state.get(SCOPE_START)
        return configured if stored is None else min(int(stored), configured)

    @property
    def scope_moved_earlier(self) -> bool:
        """`start_date` is earlier than this state's rows were listed from: list it all again."""
        stored = self.stream_state.get(SCOPE_START)
        return stored is not None and configured_start(self.config) < int(stored)

    @property
    def reconciling(self) -> bool:
        """Whether this sync lists everything in its scope (`reconcile`, or a wider scope)."""
        return bool(self.config.get("reconcile")) or self.tap.scope_widened

    def record_scope(self) -> None:
        """The sync succeeded: its listings cover the scope from `scope_start` on."""
        if self.replication_key:
            self.stream_state[SCOPE_START] = self.scope_start

    # ---------------------------------------------------------------------- versions
    @cached_property
    def sync_version(self) -> int:
        """This sync's version: its start, above every version this table had.

        In epoch milliseconds, as the SDK's own versions: a sync without state knows no earlier
        version, so its start must pass the last one's, even when syncs follow within a second.
        """
        state = self.stream_state
        versions = [state.get(TABLE_VERSION) or 0]
        versions += [p.get(PARTITION_VERSION) or 0 for p in state.get("partitions") or []]
        return max(self.tap.initialized_at, max(versions) + 1)

    @cached_property
    def tombstone_version(self) -> int:
        """The table's last activated version, read before this sync activates a newer one.

        Every later activation is higher, so under `hard_delete` it removes the tombstone.
        """
        state = self.stream_state
        partitions = [p.get(PARTITION_VERSION) for p in state.get("partitions") or []]
        return int(state.get(TABLE_VERSION) or min(filter(None, partitions), default=1))

    def lists_in_full(self, context: Context | None) -> bool:
        """Whether this stream (or partition) is listed without a bookmark filter."""
        if not self.replication_key:
            return True
        if not self.tracks_deletions:
            return False
        state = self.get_context_state(context)
        if not state.get("replication_key_value") or self.listing is Listing.EVERY_SYNC:
            return True
        if self.reconciling:
            return True
        listed = state.get(LISTED)
        return (
            self.listing is Listing.WHEN_ONE_PAGE
            and listed is not None
            and listed <= self.config.get("page_size", 100)
        )

    def begin_listing(self, context: Context | None) -> bool:
        """Stamp the records about to be emitted; return whether the listing is complete."""
        full = self.lists_in_full(context)
        if self.tracks_deletions:
            current = self.stream_state.get(TABLE_VERSION) or self.sync_version
            self._stream_version = self.sync_version if full else current
        return full

    def end_listing(self, context: Context | None, ids: set[t.Any]) -> None:
        """A complete listing finished: remember its version (and ids), activate it at the end."""
        if not self.tracks_deletions:
            return
        state = self.get_context_state(context)
        if self.parent_stream_type:
            state[PARTITION_VERSION] = self.sync_version
            if self.sends_tombstones and context:
                before = state.get(LISTED_IDS)
                if before is not None:
                    self.found_deleted(set(before) - ids, context)
                state[LISTED_IDS] = sorted(ids)
            return
        state[LISTED] = len(ids)
        if self.may_activate and context is None:
            self.stream_state[TABLE_VERSION] = self.sync_version
            self._activations[self.name] = (self, self.sync_version)

    def activate_partitions(self) -> None:
        """A child table is complete up to its least recently listed project."""
        if not self.may_activate:
            return
        versions = [p.get(PARTITION_VERSION) for p in self.stream_state.get("partitions") or []]
        if not versions or None in versions:
            return
        version = min(t.cast("list[int]", versions))
        if version > (self.stream_state.get(TABLE_VERSION) or 0):
            self.stream_state[TABLE_VERSION] = version
            self._activations[self.name] = (self, version)

    @property
    def _activations(self) -> dict[str, tuple[VersionedStream, int]]:
        return self.tap.activations

    def activate(self, version: int) -> None:
        """Tell the target that rows of versions below `version` are gone."""
        self.logger.info("%s: activating table version %d", self.name, version)
        self._write_activate_version_message(version)

    # -------------------------------------------------------------------- tombstones
    @cached_property
    def _marks_deletions(self) -> bool:
        return DELETED_AT in self.schema.get("properties", {})

    def mark_live(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        """Every record of a table that gets tombstones says whether it is one (null: live)."""
        if self._marks_deletions:
            record.setdefault(DELETED_AT, None)
        return record

    def found_deleted(self, ids: Iterable[t.Any], context: Mapping[str, t.Any]) -> None:
        """Rows gone from Rocketlane: their tombstones wait in the state until the sync ends."""
        if not self.selected or not self.tracks_deletions:
            return
        self.tombstone_version  # noqa: B018 - read now, before an activation moves it
        id_key = getattr(self, "id_key", "id")
        pending = self.stream_state.setdefault(PENDING, [])
        pending += [{"id": rid, id_key: rid, **context} for rid in sorted(ids)]

    def forget_partition(self, partition: Mapping[str, t.Any]) -> None:
        """A project's partition is dropped (deleted, or out of scope): its rows are gone."""
        if self.sends_tombstones and partition.get(LISTED_IDS):
            self.found_deleted(partition[LISTED_IDS], partition["context"])

    def send_tombstones(self) -> None:
        """The sync succeeded: send the pending tombstones, before any activation."""
        pending = self.stream_state.pop(PENDING, None)
        if not pending:
            return
        self._stream_version = self.tombstone_version
        deleted_at = ms_text(self.tap.initialized_at)
        for record in pending:
            self._write_record_message({**record, DELETED_AT: deleted_at})
        self.logger.info(
            "%s: %d records deleted in Rocketlane sent with %s (table version %d)",
            self.name,
            len(pending),
            DELETED_AT,
            self.tombstone_version,
        )


def deletion_notices(streams: Iterable[VersionedStream], config: Mapping[str, t.Any]) -> list[str]:
    """What the settings do to deletions this sync, naming the tables: logged at its start."""
    synced = sorted((s for s in streams if s.selected), key=lambda s: s.name)
    names = ", ".join
    notices = []
    if not config.get("emit_activate_version_messages", True):
        notices.append(
            "Deletions are off (emit_activate_version_messages: false): rows deleted in "
            f"Rocketlane stay in {names(s.name for s in synced)}."
        )
        return notices
    if config.get("project_ids"):
        never = [s.name for s in synced if s.project_owned and not s.sends_tombstones]
        marked = [s.name for s in synced if s.sends_tombstones]
        if never:
            notices.append(
                "project_ids narrows deletions: rows deleted in Rocketlane are never removed "
                f"from {names(never)}"
                + (
                    f"; in {names(marked)} they are marked {DELETED_AT} but kept, even "
                    "with hard_delete."
                    if marked
                    else "."
                )
            )
    configured = configured_start(config)
    stored = {
        int(s.stream_state[SCOPE_START])
        for s in synced
        if s.replication_key and s.stream_state.get(SCOPE_START) is not None
    }
    if stored and configured > min(stored):
        start = ms_text(min(stored))
        notices.append(
            f"start_date {ms_text(configured)} is later than {start}, the start these tables "
            f"were listed from: syncs keep listing from {start}, so no row already loaded "
            "leaves. To narrow them to the new start_date, run once without state "
            "(meltano run --full-refresh)."
        )
    if stored and configured < max(stored):
        notices.append(
            f"start_date moved earlier, to {ms_text(configured)}: this sync lists every table "
            "from there, as a reconcile does."
        )
    return notices
