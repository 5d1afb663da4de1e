"""The projects list and the visits to each project's spaces, phases and documents."""

from __future__ import annotations

import typing as t

from tap_pm.client import RocketlaneStream

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context


class ParentStream(RocketlaneStream):
    """The projects list, whose records are the partitions of the project-scoped lists.

    Spaces, phases and documents can change while their project does not, so every
    project in scope must be visited. The first sync lists every project; it then records
    its scope, and later syncs with the same scope list only projects changed since the
    bookmark and visit the rest from the children's per-project state.
    """

    _known: set[int] | None = None

    @property
    def _children(self) -> list[RocketlaneStream]:
        """Child streams that will sync (selected, or parents of selected ones)."""
        return [
            t.cast("RocketlaneStream", c)
            for c in self.child_streams
            if c.selected or c.has_selected_descendents
        ]

    def _scope(self) -> dict[str, t.Any]:
        return {
            "project_ids": sorted(self.config.get("project_ids") or ()),
            "include_archived": self.config.get("include_archived", True),
            "children": sorted(c.name for c in self._children),
        }

    def _known_projects(self, context: Context | None) -> set[int] | None:
        """Projects the last sync visited, if it had this scope; else None (list them all)."""
        if super().start_ms(context) is None or self.stream_state.get("scope") != self._scope():
            return None
        known: set[int] = set()
        for child in self._children:
            partitions = child.state_manager.get_state_partitions() or []
            known |= {p["context"]["projectId"] for p in partitions}
        return known

    def start_ms(self, context: Context | None) -> int | None:
        """Without a known set of projects, list them all: unchanged ones have children too."""
        if self._children and self._known is None:
            return None
        return super().start_ms(context)

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """Projects in scope and changed since the bookmark (all at a reconcile); children of all.

        Children of an unchanged project are visited without emitting the project.
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
            listed.add(project_id)
            if since is not None and (record.get("updatedAt") or 0) < since:
                # The SDK syncs children only of emitted records, so visit these here.
                self._sync_children(self.get_child_context(record, context))
                continue
            yield record
        for project_id in sorted((self._known or set()) - listed):
            if not wanted or project_id in wanted:
                self._sync_children(self.get_child_context({self.id_key: project_id}, context))
        if children:
            self._forget_projects(listed if self._known is None and not wanted else None)
            self.stream_state["scope"] = self._scope()
            for child in self._children:
                child.activate_partitions()

    def _forget_projects(self, in_scope: set[int] | None) -> None:
        """Drop the partitions of deleted projects (404), and of projects no longer listed.

        `in_scope` is given when every project in scope was listed, so any other is gone.
        """
        for child in self._children:
            partitions = child.stream_state.get("partitions")
            if not partitions:
                continue
            gone = child.gone_projects
            child.stream_state["partitions"] = [
                p
                for p in partitions
                if p["context"].get("projectId") not in gone
                and (in_scope is None or p["context"].get("projectId") in in_scope)
            ]

    def get_child_context(self, record: dict, context: Context | None) -> dict:  # noqa: ARG002
        """Children are listed per project."""
        return {"projectId": record[self.id_key]}
