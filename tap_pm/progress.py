"""Progress of a long sync: per stream, at most one line a minute and one at its end.

A sync of a large workspace takes as long as its requests at the workspace's limit (60 a
minute), so the time left is estimated from the requests still to make: the rest of the
current listing (from `totalRecordCount`), the projects still to visit, and for streams not yet
started the requests they took last time (kept in the state), or at least one.
"""

from __future__ import annotations

import math
import threading
import time
import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    import logging

#: State key: requests a stream made in its last sync, to size it before it starts.
LAST_REQUESTS = "last_requests"


@dataclass
class StreamProgress:
    """What one stream has done so far in this sync."""

    name: str
    parent: str | None  # listed per record of this stream (per project, per invoice)
    estimate: int  # requests expected, before it starts
    lower_bound: bool  # whether `estimate` is only a floor (no earlier sync to go by)
    started: bool = False
    done: bool = False
    requests: int = 0
    records: int = 0
    total: int = 0  # totalRecordCount of the listings begun so far
    left_in_listing: int = 0  # records of the current listing not yet read
    parents_done: int = 0
    last_logged: float = 0.0


class SyncProgress:
    """Counts requests and records across every stream of one tap run, and reports them."""

    def __init__(
        self, logger: logging.Logger, *, per_minute: int, interval: float, page_size: int
    ) -> None:
        """Estimates use the request budget (`per_minute`); lines are `interval` s apart."""
        self._logger = logger
        self._per_minute = per_minute
        self._interval = interval
        self._page_size = page_size
        self._lock = threading.Lock()
        self.streams: dict[str, StreamProgress] = {}
        self.planned: dict[str, int] = {}  # parent stream -> records whose children are read
        self.requests = 0

    def expect(self, name: str, *, parent: str | None, last_requests: int | None) -> None:
        """Register a stream that will sync, sized by its last sync when known."""
        self.streams.setdefault(
            name,
            StreamProgress(
                name, parent, max(1, last_requests or 0), lower_bound=last_requests is None
            ),
        )

    def plan(self, parent: str, count: int) -> None:
        """How many of `parent`'s records (projects, invoices) this sync reads children of."""
        self.planned[parent] = count

    def request(self, name: str) -> None:
        """One request was sent for stream `name`."""
        with self._lock:
            self.requests += 1
            if stream := self.streams.get(name):
                stream.requests += 1
                if not stream.started:  # the first line comes an interval after the start
                    stream.started = True
                    stream.last_logged = time.monotonic()

    def page(self, name: str, *, records: int, total: int | None, first: bool) -> None:
        """A page of `records` arrived; on a listing's first page, `total` is its size."""
        stream = self.streams.get(name)
        if stream is None:
            return
        with self._lock:
            if first and total is not None:
                stream.total += total
                stream.left_in_listing = total
            stream.records += records
            stream.left_in_listing = max(0, stream.left_in_listing - records)
        self._maybe_log(stream)

    def parent_done(self, name: str) -> None:
        """One parent's (project's, invoice's) listing of child stream `name` is complete."""
        if stream := self.streams.get(name):
            stream.parents_done += 1

    def finish(self, name: str) -> None:
        """The stream is done: its closing line."""
        if (stream := self.streams.get(name)) and not stream.done:
            stream.done = True
            self._log(stream)

    def requests_left(self) -> tuple[int, bool]:
        """Requests still to make in this sync, and whether that is only a lower bound."""
        left, floor = 0, False
        for stream in self.streams.values():
            if stream.done:
                continue
            if not stream.started:
                left += stream.estimate
                floor = floor or stream.lower_bound
            elif stream.parent:
                planned = self.planned.get(stream.parent)
                if planned is None:
                    floor = True
                    continue
                per_parent = stream.requests / max(1, stream.parents_done)
                left += math.ceil(max(0, planned - stream.parents_done) * per_parent)
            else:
                left += math.ceil(stream.left_in_listing / self._page_size)
        return left, floor

    def _maybe_log(self, stream: StreamProgress) -> None:
        if time.monotonic() - stream.last_logged >= self._interval:
            self._log(stream)

    def _log(self, stream: StreamProgress) -> None:
        stream.last_logged = time.monotonic()
        if stream.parent:
            planned = self.planned.get(stream.parent)
            done = f"{stream.parents_done:,} of {'?' if planned is None else f'{planned:,}'}"
            what = f"{stream.parent} {done}, {stream.records:,} records"
        else:
            what = f"{stream.records:,} of {stream.total:,} records"
        left, floor = self.requests_left()
        about = "at least" if floor else "about"
        minutes = left / self._per_minute
        self._logger.info(
            "Progress %s: %s%s; sync: %s requests made, %s %s to go, %s %s left at %s requests/min",
            stream.name,
            what,
            " (done)" if stream.done else "",
            f"{self.requests:,}",
            about,
            f"{left:,}",
            about,
            _duration(minutes),
            f"{self._per_minute:,}",
        )


def _duration(minutes: float) -> str:
    if minutes < 1:
        return f"{max(0, round(minutes * 60))} s"
    if minutes < 120:  # noqa: PLR2004 - two hours read better as minutes
        return f"{round(minutes)} min"
    return f"{minutes / 60:.1f} h"
