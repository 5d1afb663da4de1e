"""Table versions: how a record deleted in Rocketlane leaves the warehouse.

The API has no deletion feed; a deleted record just vanishes from its list. Only a complete
listing proves absence, and Singer's way to say "the table is now exactly this" is
`ACTIVATE_VERSION v`: SQL targets then delete (`hard_delete`) or mark (`_sdc_deleted_at`) the
rows whose `_sdc_table_version` is lower than v. So:

- Every record carries a version. A listing that is complete gets this sync's version, a new,
  higher one; records of an incremental listing carry the table's current version.
- A listing is complete when it has no `updatedAt` filter, reads every page, and covers the
  table's whole scope: never with `start_date`, nor with `project_ids` for project-owned tables.
- Which listings are complete is each stream's `listing` policy: every sync (time-offs, and the
  spaces, phases and documents of each visited project), when one page holds the whole list
  (users, fields), or at a reconcile (tasks, time entries, projects: `reconcile`, or no state).
- A child table is versioned per project; it activates the oldest of its projects' versions,
  so a project not visited in this sync never loses rows.
- Activation waits until the whole sync has succeeded: a failed or killed sync deletes nothing.
"""

from __future__ import annotations

import enum
import typing as t
from functools import cached_property

from singer_sdk.streams import RESTStream

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

#: State keys: the version a table was last activated at, the version of a project's last
#: complete listing (in child partitions), and how many records that listing had.
TABLE_VERSION = "table_version"
PARTITION_VERSION = "version"
LISTED = "listed"


class Listing(enum.Enum):
    """When a stream lists its records in full, which is what proves deletions."""

    EVERY_SYNC = "every sync"
    WHEN_ONE_PAGE = "every sync while one page holds the list, else at a reconcile"
    ON_RECONCILE = "at a reconcile"


class VersionedStream(RESTStream["str | None"]):
    """A stream whose records carry their table's version, activated after a complete listing."""

    listing: t.ClassVar[Listing] = Listing.ON_RECONCILE
    #: Whether the table's rows belong to projects, so `project_ids` narrows it.
    project_owned: t.ClassVar[bool] = True

    @property
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
        if self.replication_key and self.config.get("start_date"):
            return False
        return not (self.project_owned and self.config.get("project_ids"))

    @cached_property
    def sync_version(self) -> int:
        """This sync's version: its start (epoch s), above every version this table had."""
        state = self.stream_state
        versions = [state.get(TABLE_VERSION) or 0]
        versions += [p.get(PARTITION_VERSION) or 0 for p in state.get("partitions") or []]
        return max(self._tap.initialized_at // 1000, max(versions) + 1)

    def lists_in_full(self, context: Context | None) -> bool:
        """Whether this stream (or partition) is listed without an `updatedAt` filter."""
        if not self.replication_key:
            return True
        if not self.tracks_deletions or self.config.get("start_date"):
            return False
        state = self.get_context_state(context)
        if not state.get("replication_key_value") or self.listing is Listing.EVERY_SYNC:
            return True
        if self.config.get("reconcile"):
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

    def end_listing(self, context: Context | None, records: int) -> None:
        """A complete listing finished: remember its version, and activate it at the end."""
        if not self.tracks_deletions:
            return
        state = self.get_context_state(context)
        if self.parent_stream_type:
            state[PARTITION_VERSION] = self.sync_version
            return
        state[LISTED] = records
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
        return self._tap.activations  # type: ignore[attr-defined]

    def activate(self, version: int) -> None:
        """Tell the target that rows of versions below `version` are gone."""
        self.logger.info("%s: activating table version %d", self.name, version)
        self._write_activate_version_message(version)
