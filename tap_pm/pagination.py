"""Rocketlane's pageToken pagination, and the proof that a listing is complete.

Deletions follow from complete listings (versions.py), so a listing ends only when the API says
it is complete: `hasMore: false`, or no `hasMore`, no token and `totalRecordCount` reached.
Anything else (a token without `hasMore`, a count the pages cannot reach, an envelope that is
not an object) is a `PaginationError`, and so is pagination that makes no progress: a page with
more to come that brings no id the listing has not had, or more requests than the count can
explain (`max_pages`: why that bound, in docs/design-notes.md).
"""

from __future__ import annotations

import math
import typing as t

from singer_sdk.pagination import BaseAPIPaginator
from typing_extensions import override

from tap_pm.errors import mask
from tap_pm.safe_json import decode

if t.TYPE_CHECKING:
    import requests

_PAYLOAD = "_tap_pm_payload"
_VERDICT = "_tap_pm_has_more"
#: Pages of a listing beyond ceil(totalRecordCount / pageSize): the count is taken when the
#: listing starts and records created meanwhile add pages; 2x the count's pages, plus these,
#: is "far beyond" any listing that still progresses.
SPARE_PAGES = 2
#: Pages in a row, each with more to come, that bring no new id: one may be empty (a page
#: boundary where records were deleted), two are a loop.
MAX_FRUITLESS_PAGES = 2


def _decoded(response: requests.Response) -> tuple[t.Any, bool]:
    cache = response.__dict__
    if _PAYLOAD not in cache:
        cache[_PAYLOAD] = decode(response.content)
    return t.cast("tuple[t.Any, bool]", cache[_PAYLOAD])


def json_payload(response: requests.Response) -> t.Any:  # noqa: ANN401
    """Return the parsed JSON body, parsing it only once per response.

    Raises ValueError, naming the byte offset, when the body is not JSON (safe_json.py).
    """
    return _decoded(response)[0]


def read_carefully(response: requests.Response) -> bool:
    """Whether the body had values no warehouse stores as sent: its records need `scrub`."""
    return _decoded(response)[1]


class PaginationError(RuntimeError):
    """The API's pagination envelope contradicts itself, or pages make no progress."""


def max_pages(total: int, page_size: int) -> int:
    """Requests a listing of `total` records may take before it counts as a loop."""
    return 2 * math.ceil(total / max(1, page_size)) + SPARE_PAGES


def _shown(value: object) -> str:
    """A value from the API, masked (errors.py) and short enough for a one-line error."""
    return mask(repr(value), limit=60)


class PageTokenPaginator(BaseAPIPaginator["str | None"]):
    """Follow `pagination.nextPageToken` until the API proves the listing complete."""

    def __init__(self, id_key: str = "id", page_size: int = 100) -> None:
        """Start before the first page of a listing whose records carry `id_key`."""
        super().__init__(None)
        self._seen: set[str] = set()
        self._ids: set[t.Any] = set()
        self._id_key = id_key
        self._page_size = page_size
        self._listed = 0
        self._pages = 0
        self._total: int | None = None
        self._fruitless = 0

    @override
    def has_more(self, response: requests.Response) -> bool:
        """Whether another page follows; a page that proves neither is a PaginationError.

        Checked once per page (the SDK asks twice for an empty one).
        """
        cache = response.__dict__
        if _VERDICT not in cache:
            cache[_VERDICT] = self._check(response)
        return bool(cache[_VERDICT])

    def _check(self, response: requests.Response) -> bool:
        payload = json_payload(response)
        pagination = payload.get("pagination")
        if not isinstance(pagination, dict):
            msg = (
                f"the API sent `pagination` {_shown(pagination)}, not an object, on "
                f"{mask(response.request.path_url)}, so the listing cannot be proven complete"
            )
            raise PaginationError(msg)
        self._pages += 1
        records = payload["data"]
        self._listed += len(records)
        new = self._count_new(records)
        if self._pages == 1:
            total = pagination.get("totalRecordCount")
            self._total = total if isinstance(total, int) and not isinstance(total, bool) else None
            size = pagination.get("pageSize")
            if isinstance(size, int) and not isinstance(size, bool) and size > 0:
                self._page_size = min(self._page_size, size)  # the pages it counts in
        more = pagination.get("hasMore")
        token = pagination.get("nextPageToken")
        if more is False:
            return False
        if more is None and token is None:
            if self._total is not None and self._listed >= self._total:
                return False
            msg = (
                f"the API sent no hasMore and no nextPageToken after {self._listed} records of "
                f"the {self._total if self._total is not None else 'unknown'} its "
                "totalRecordCount gives; the listing is not complete"
            )
            raise PaginationError(msg)
        if more is None:
            msg = (
                f"the API sent nextPageToken {_shown(token)} without hasMore; only hasMore "
                "true or false says whether the listing is complete"
            )
            raise PaginationError(msg)
        if more is not True:
            msg = (
                f"the API sent hasMore {_shown(more)} with nextPageToken {_shown(token)}; only "
                "hasMore true or false says whether the listing is complete"
            )
            raise PaginationError(msg)
        self._fruitless = 0 if new else self._fruitless + 1
        self._check_progress()
        return True

    def _count_new(self, records: list[t.Any]) -> int:
        """How many of the page's records have an id this listing has not had."""
        before = len(self._ids)
        for record in records:
            key = record.get(self._id_key) if isinstance(record, dict) else None
            if isinstance(key, (str, int, float)):  # an object for an id: conform.py's case
                self._ids.add(key)
        return len(self._ids) - before

    def _check_progress(self) -> None:
        """Pages with more to come must bring new ids, within the count's number of pages."""
        if self._fruitless >= MAX_FRUITLESS_PAGES:
            msg = (
                f"the API answered hasMore=true on page {self._pages} but {self._fruitless} "
                "pages in a row brought no record the listing had not had "
                f"({self._listed} records listed, {len(self._ids)} distinct); stopping a "
                "pagination that makes no progress"
            )
            raise PaginationError(msg)
        if self._total is None:
            return
        needed = math.ceil(self._total / max(1, self._page_size))
        if self._pages >= (bound := max_pages(self._total, self._page_size)):
            msg = (
                f"the API answered hasMore=true on page {self._pages}, though its "
                f"totalRecordCount {self._total} at page size {self._page_size} needs "
                f"{needed}; stopping at {bound} pages"
            )
            raise PaginationError(msg)

    @override
    def continue_if_empty(self, response: requests.Response) -> bool:
        """An empty page with `hasMore` is not the end (it still has to bring progress)."""
        return self.has_more(response)

    @override
    def get_next(self, response: requests.Response) -> str:
        """Return the next token; a missing, malformed or repeated token is an error."""
        token = json_payload(response)["pagination"].get("nextPageToken")
        if token is None or token == "":
            msg = "the API answered hasMore=true without a nextPageToken"
            raise PaginationError(msg)
        if not isinstance(token, (str, int)) or isinstance(token, bool):
            msg = (
                f"the API sent nextPageToken {_shown(token)}, a {type(token).__name__}, not "
                "a text the next request can send"
            )
            raise PaginationError(msg)
        token = str(token)
        if token in self._seen:
            msg = f"the API returned page token {_shown(token)} twice; stopping to avoid a loop"
            raise PaginationError(msg)
        self._seen.add(token)
        return token
