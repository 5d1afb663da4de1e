"""In-memory state: record tables, keyset pagination and page tokens.

All public methods take the store lock, so the HTTP threads and the test
thread (``touch``, ``delete_project``...) can use the store concurrently.
"""

from __future__ import annotations

import threading
import time
import uuid
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .query import (
    ApiError,
    Query,
    bad_request,
    make_predicate,
    make_projector,
    parse_page_size,
    parse_query,
)
from .resources import RESOURCES, dig, spec_for

if TYPE_CHECKING:
    from collections.abc import Callable

    from .resources import ResourceSpec

Record = dict[str, Any]
_T = TypeVar("_T")

# Resources whose records belong to one project (removed with it).
_PROJECT_CHILDREN = ("phases", "spaces", "space-documents", "tasks", "time-entries")
_PURGE_EVERY = 256  # token creations between sweeps of expired tokens


class Table:
    """Records of one resource, sorted by natural id, optionally indexed by project."""

    def __init__(
        self, spec: ResourceSpec, records: list[Record], owner: dict[int, int] | None = None
    ) -> None:
        self.spec = spec
        self.rows: dict[int, Record] = {r[spec.id_key]: r for r in records}
        self.ids: list[int] = sorted(self.rows)
        self.owner = owner  # record id -> project id
        self.by_project: dict[int, list[int]] = {}
        if owner is not None:
            for rid in self.ids:
                self.by_project.setdefault(owner[rid], []).append(rid)

    def candidates(self, project_id: int | None) -> list[int]:
        if project_id is None:
            return self.ids
        return self.by_project.get(project_id, [])

    def remove(self, record_id: int) -> None:
        """Hard-delete one record (unknown ids are ignored)."""
        if self.rows.pop(record_id, None) is None:
            return
        self.ids.remove(record_id)
        if self.owner is not None:
            project_id = self.owner.pop(record_id)
            self.by_project[project_id].remove(record_id)

    def add(self, record: Record, project_id: int | None) -> None:
        """Insert a record whose id is above every existing one (ids stay sorted)."""
        record_id = record[self.spec.id_key]
        self.rows[record_id] = record
        self.ids.append(record_id)
        if self.owner is not None and project_id is not None:
            self.owner[record_id] = project_id
            self.by_project.setdefault(project_id, []).append(record_id)

    def remove_project(self, project_id: int) -> None:
        gone = self.by_project.pop(project_id, [])
        if not gone:
            return
        for rid in gone:
            del self.rows[rid]
            if self.owner is not None:
                del self.owner[rid]
        gone_set = set(gone)
        self.ids = [rid for rid in self.ids if rid not in gone_set]


@dataclass
class _Token:
    query: Query
    last_id: int
    total: int
    created: float  # time.monotonic()
    next_token: str | None = None  # cached so a retried request returns the same nextPageToken


@dataclass(frozen=True)
class Page:
    """One served page: projected records plus pagination facts."""

    records: list[Record]
    page_size: int
    has_more: bool
    total: int
    next_token: str | None
    query: Query


class Store:
    """Thread-safe owner of all records and page tokens."""

    def __init__(self, data: dict[str, list[Record]], clock: Callable[[], float]) -> None:
        self.lock = threading.RLock()
        self._clock = clock  # the emulator's clock, which stamps updatedAt
        space_project = {s["spaceId"]: s["project"]["projectId"] for s in data["spaces"]}
        self.tables: dict[str, Table] = {}
        for name, spec in RESOURCES.items():
            records = data[name]
            owner = None
            if name == "space-documents":
                owner = {r[spec.id_key]: space_project[r["space"]["spaceId"]] for r in records}
            elif name in _PROJECT_CHILDREN:
                owner = {r[spec.id_key]: r["project"]["projectId"] for r in records}
            elif spec.owner:
                owner = {r[spec.id_key]: cast("int", dig(r, spec.owner)) for r in records}
            self.tables[name] = Table(spec, records, owner)
        self._tokens: dict[str, _Token] = {}
        self._created_since_purge = 0
        self._edits = 0

    # ------------------------------------------------------------------ paging
    def list_page(
        self, resource: str, params: dict[str, str], token_ttl_s: float, parent: int | None = None
    ) -> Page:
        """Serve one page of ``resource`` for the given query parameters (raises ApiError).

        ``parent`` is the id in the path of a nested list (``invoices/{id}/lines``).
        """
        spec = spec_for(resource)
        table = self.tables[resource]
        with self.lock:
            raw_token = params.get("pageToken")
            state: _Token | None = None
            if raw_token:
                state = self._tokens.get(raw_token)
                if (
                    state is None
                    or state.query.resource != resource
                    or (spec.parent and state.query.project_id != parent)
                    or self._expired(state, token_ttl_s)
                ):
                    message = "pageToken is invalid or has expired"
                    raise bad_request(message, "pageToken")
                query = state.query
                page_size = (
                    parse_page_size(params["pageSize"]) if "pageSize" in params else query.page_size
                )
            else:
                query = parse_query(spec, params, parent)
                page_size = query.page_size

            if spec.project_scoped and query.project_id not in self.tables["projects"].rows:
                message = f"Not Found: Project {query.project_id} not found"
                raise ApiError(404, "NOT_FOUND", message, "projectId")
            if spec.parent and query.project_id not in self.tables[spec.parent].rows:
                kind = spec.parent.rstrip("s").capitalize()
                message = f"Not Found: {kind} {query.project_id} not found"
                raise ApiError(404, "NOT_FOUND", message)

            candidates = table.candidates(query.project_id)
            predicate = make_predicate(spec, query)
            rows = table.rows
            if state is None:
                total = (
                    len(candidates)
                    if predicate is None
                    else sum(1 for rid in candidates if predicate(rows[rid]))
                )
                start = 0
            else:
                total = state.total
                start = bisect_right(candidates, state.last_id)

            matches, has_more = _scan(rows, candidates, start, predicate, page_size)
            next_token = None
            if has_more:
                next_token = self._next_token(
                    state, query, matches[-1][spec.id_key], total, token_ttl_s
                )
            project = make_projector(query)
            # Shallow copies taken under the lock; nested objects are never mutated.
            records = [project(r) for r in matches]
        return Page(records, page_size, has_more, total, next_token, query)

    def _expired(self, state: _Token, ttl_s: float) -> bool:
        return time.monotonic() - state.created > ttl_s

    def _next_token(
        self, state: _Token | None, query: Query, last_id: int, total: int, ttl_s: float
    ) -> str:
        if state is not None and state.next_token is not None:
            cached = self._tokens.get(state.next_token)
            if (
                cached is not None
                and cached.last_id == last_id
                and not self._expired(cached, ttl_s)
            ):
                return state.next_token
        token = str(uuid.uuid4())
        self._tokens[token] = _Token(query, last_id, total, time.monotonic())
        if state is not None:
            state.next_token = token
        self._created_since_purge += 1
        if self._created_since_purge >= _PURGE_EVERY:
            self._created_since_purge = 0
            now = time.monotonic()
            self._tokens = {k: v for k, v in self._tokens.items() if now - v.created <= ttl_s}
        return token

    # --------------------------------------------------------------- mutation
    def touch(self, resource: str, record_id: int, at_ms: int | None = None) -> Record:
        """Mark a record as edited now (or stamped ``at_ms``); return a copy of its full shape."""
        spec = spec_for(resource)
        with self.lock:
            record = self.tables[resource].rows[record_id]
            if spec.has_updated_at and at_ms is not None:
                record["updatedAt"] = at_ms
            elif spec.has_updated_at:
                now_ms = int(self._clock() * 1000)
                record["updatedAt"] = max(now_ms, record.get("updatedAt", 0) + 1)
            self._edits += 1
            old = record.get(spec.touch_field)
            record[spec.touch_field] = (
                f"{old} (edit {self._edits})" if old else f"edit {self._edits}"
            )
            return _deep_copy(record)

    def create(self, resource: str, like: int) -> Record:
        """Add a record shaped like record ``like`` (same project), created now; return a copy."""
        spec = spec_for(resource)
        with self.lock:
            table = self.tables[resource]
            record = dict(table.rows[like])
            record_id = max(table.ids) + 1
            record[spec.id_key] = record_id
            if spec.has_updated_at:
                now_ms = int(self._clock() * 1000)
                record["createdAt"] = record["updatedAt"] = now_ms
            table.add(record, None if table.owner is None else table.owner[like])
            return _deep_copy(record)

    def delete(self, resource: str, record_id: int) -> None:
        """Hard-delete a record: gone from lists and from GET; a project takes its contents."""
        spec_for(resource)
        if resource == "projects":
            self.delete_project(record_id)
            return
        with self.lock:
            self.tables[resource].remove(record_id)
            for name, child in RESOURCES.items():  # an invoice takes its lines and payments
                if child.parent == resource:
                    self.tables[name].remove_project(record_id)

    def get(self, resource: str, record_id: int, params: dict[str, str]) -> Record | None:
        """One record as ``GET /1.0/<resource>/<id>`` returns it, or None if there is none."""
        spec = spec_for(resource)
        with self.lock:
            record = self.tables[resource].rows.get(record_id)
            if record is None:
                return None
            query = parse_query(spec, {k: v for k, v in params.items() if k != "pageSize"})
            return make_projector(query)(record)

    def delete_project(self, project_id: int) -> None:
        """Delete a project and everything that belongs to it; unknown ids are ignored."""
        with self.lock:
            self.tables["projects"].rows.pop(project_id, None)
            projects = self.tables["projects"]
            projects.ids = [pid for pid in projects.ids if pid != project_id]
            for name in _PROJECT_CHILDREN:
                self.tables[name].remove_project(project_id)
            for name, spec in RESOURCES.items():  # allocations, conversations
                if spec.owner and not spec.parent:
                    self.tables[name].remove_project(project_id)

    # ------------------------------------------------------------------ views
    def truth(self, resource: str) -> list[Record]:
        spec_for(resource)
        with self.lock:
            table = self.tables[resource]
            return _deep_copy([table.rows[rid] for rid in table.ids])

    def ids(self, resource: str) -> set[int]:
        spec_for(resource)
        with self.lock:
            return set(self.tables[resource].rows)

    def project_of(self, resource: str, record_id: int) -> int:
        spec_for(resource)
        with self.lock:
            table = self.tables[resource]
            if record_id not in table.rows:
                message = f"{resource} {record_id} does not exist"
                raise KeyError(message)
            if resource == "projects":
                return record_id
            if table.owner is None:
                message = f"{resource} records do not belong to a project"
                raise ValueError(message)
            return table.owner[record_id]


def _scan(
    rows: dict[int, Record],
    candidates: list[int],
    start: int,
    predicate: Callable[[Record], bool] | None,
    limit: int,
) -> tuple[list[Record], bool]:
    """First ``limit`` matches from ``candidates[start:]`` and whether another match exists."""
    if predicate is None:
        chunk = candidates[start : start + limit]
        return [rows[rid] for rid in chunk], start + limit < len(candidates)
    out: list[Record] = []
    for index in range(start, len(candidates)):
        record = rows[candidates[index]]
        if predicate(record):
            if len(out) == limit:
                return out, True
            out.append(record)
    return out, False


def _deep_copy(value: _T, memo: dict[int, Any] | None = None) -> _T:
    """Copy dicts and lists (strings and numbers are immutable and shared).

    Like ``copy.deepcopy`` on the whole result, objects shared inside the
    emulator are copied once and stay shared within the returned value;
    nothing returned is shared with the emulator's state.  Much faster than
    ``copy.deepcopy`` or a JSON round trip on 60k records.
    """
    if memo is None:
        memo = {}
    if isinstance(value, dict):
        copied = memo.get(id(value))
        if copied is None:
            copied = memo[id(value)] = {k: _deep_copy(v, memo) for k, v in value.items()}
        return cast("_T", copied)
    if isinstance(value, list):
        copied = memo.get(id(value))
        if copied is None:
            copied = memo[id(value)] = [_deep_copy(v, memo) for v in value]
        return cast("_T", copied)
    return value
