"""The projects list and the visits to each project's spaces, phases and documents.

Those lists need a request per project, and a project's children can change while it does
not. Re-reading every project every sync made an incremental sync of 300 projects cost 900
requests (15 minutes at 60 a minute). So each sync reads the children of every changed project,
and of its share of the unchanged ones, longest unread first, so that each is re-read at
least every `project_revisit_hours`.
"""

from __future__ import annotations

import math
import typing as t

from typing_extensions import override

from tap_pm.client import VISITED_AT, RocketlaneStream

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context


DEFAULT_REVISIT_HOURS = 24
#: Unchanged projects re-read per sync at least: a small workspace stays exact every sync.
MIN_REVISITS = 20
#: Projects stream state: when the last sync that visited projects started (epoch s).
SYNCED_AT = "synced_at"


def choose_revisits(
    last_read: dict[int, float], *, now: float, since_last_sync: float, hours: float
) -> list[int]:
    """The unchanged projects whose children this sync re-reads, longest unread first.

    With syncs `since_last_sync` apart, a round of all `n` projects must fit in the window
    less one interval, so none is older than the window when the next sync comes:
    n * interval / (window - interval) per sync, evenly. Any that would be older by then
    are read too (after a missed sync), and never fewer than MIN_REVISITS.
    """
    window = hours * 3600
    if window <= 0 or since_last_sync >= window / 2:
        return sorted(last_read)
    ordered = sorted(last_read, key=lambda p: (last_read[p], p))
    share = math.ceil(len(ordered) * since_last_sync / (window - since_last_sync))
    overdue = sum(1 for p in ordered if now - last_read[p] + since_last_sync > window)
    return ordered[: max(share, overdue, MIN_REVISITS)]


class ParentStream(RocketlaneStream):
    """The projects list, whose records are the partitions of the project-scoped lists.

    Spaces, phases and documents can change while their project does not, so every
    project in scope must be visited. The first sync lists every project; it then records
    its scope, and later syncs with the same scope list only projects changed since the
    bookmark and visit the rest from the children's per-project state.
    """

    _known: set[int] | None = None
    tombstones_children = True

    def _scope(self) -> dict[str, t.Any]:
        return {
            "project_ids": sorted(self.config.get("project_ids") or ()),
            "include_archived": self.config.get("include_archived", True),
            "children": sorted(c.name for c in self._children),
        }

    def _known_projects(self, context: Context | None) -> set[int] | None:
        """Projects the last sync visited, if it had this scope; else None (list them all)."""
        bookmark = self.get_context_state(context).get("replication_key_value")
        if not bookmark or self.reconciling or self.stream_state.get("scope") != self._scope():
            return None
        known: set[int] = set()
        for child in self._children:
            partitions = child.state_manager.get_state_partitions() or []
            known |= {p["context"]["projectId"] for p in partitions}
        return known

    @override
    def start_ms(self, context: Context | None) -> int | None:
        """Without a known set of projects, list all in scope: unchanged ones have children too."""
        if self._children and self._known is None:
            return self.scope_start or None
        return super().start_ms(context)

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """Projects in scope and changed since the bookmark (all at a reconcile); children too.

        Children of an unchanged project are read without emitting the project: all of them
        when every project is listed, else this sync's share (`_revisits`).
        """
        wanted = set(self.config.get("project_ids") or ())
        children = bool(self._children)
        full = self.lists_in_full(context)
        self._known = self._known_projects(context) if children and not full else None
        since = None
        if children and self._known is None and not full:
            since = super().start_ms(context)
        listed: set[int] = set()
        for record in super().get_records(context):
            project_id = record[self.id_key]
            if wanted and project_id not in wanted:
                continue
            if not listed and children:
                self._plan(wanted)
            listed.add(project_id)
            if since is not None and (record.get("updatedAt") or 0) < since:
                # The SDK syncs children only of emitted records, so visit these here.
                self._sync_children(self.get_child_context(record, context))
                continue
            yield record
        if not children:
            return
        rest = {p for p in (self._known or set()) - listed if not wanted or p in wanted}
        revisits = self._revisits(rest)
        self.progress.plan(self.name, len(listed) + len(revisits))
        for project_id in revisits:
            self._sync_children(self.get_child_context({self.id_key: project_id}, context))
        self._forget_projects(listed if self._known is None and not wanted else None)
        self.stream_state["scope"] = self._scope()
        self.stream_state[SYNCED_AT] = self._now
        for child in self._children:
            child.activate_partitions()

    @property
    def _now(self) -> int:
        return self.tap.initialized_at // 1000

    def _plan(self, wanted: set[int]) -> None:
        """Projects to visit, as far as known at the first page: for the progress report."""
        listed = len(wanted) if wanted and self._known is None else self.listing_total or 0
        revisits = len(self._revisits(self._known, quiet=True)) if self._known else 0
        self.progress.plan(self.name, listed + revisits)

    def _revisits(self, unchanged: set[int], *, quiet: bool = False) -> list[int]:
        """This sync's share of the unchanged projects (all, with `project_revisit_hours` 0)."""
        last_read: dict[int, float] = dict.fromkeys(unchanged, 0)
        for child in self._children:
            for partition in child.state_manager.get_state_partitions() or []:
                project_id = partition["context"]["projectId"]
                if project_id in last_read:
                    read = partition.get(VISITED_AT) or 0
                    last_read[project_id] = min(last_read[project_id] or read, read)
        hours = float(self.config.get("project_revisit_hours", DEFAULT_REVISIT_HOURS))
        since_last_sync = self._now - (self.stream_state.get(SYNCED_AT) or 0)
        chosen = choose_revisits(
            last_read, now=self._now, since_last_sync=since_last_sync, hours=hours
        )
        if len(chosen) < len(unchanged) and not quiet:
            self.logger.info(
                "projects: re-reading the children of %d of %d unchanged projects (each at "
                "least every %g hours)",
                len(chosen),
                len(unchanged),
                hours,
            )
        return chosen

    def _forget_projects(self, in_scope: set[int] | None) -> None:
        """Drop the partitions of deleted projects (404), and of projects no longer listed.

        `in_scope` is given when every project in scope was listed, so any other is gone.
        Their rows are gone too: tombstones for them, and for a project that answered 404.
        """
        deleted: set[int] = set()
        for child in self._children:
            partitions = child.stream_state.get("partitions")
            if not partitions:
                continue
            gone = child.gone_parents
            deleted |= gone
            kept = []
            for partition in partitions:
                project_id = partition["context"].get("projectId")
                if project_id in gone or (in_scope is not None and project_id not in in_scope):
                    child.forget_partition(partition)
                else:
                    kept.append(partition)
            child.stream_state["partitions"] = kept
        for project_id in sorted(deleted):
            self.found_deleted([project_id], {"projectId": project_id})

    @override
    def get_child_context(
        self,
        record: dict[str, t.Any],
        context: Context | None,
    ) -> dict[str, t.Any]:
        """Children are listed per project."""
        return {"projectId": record[self.id_key]}
