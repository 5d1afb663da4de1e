"""Rocketlane's pageToken pagination."""

from __future__ import annotations

import typing as t

from singer_sdk.pagination import BaseAPIPaginator

from tap_pm.safe_json import decode

if t.TYPE_CHECKING:
    import requests

_PAYLOAD = "_tap_pm_payload"


def _decoded(response: requests.Response) -> tuple[t.Any, bool]:
    cache = response.__dict__
    if _PAYLOAD not in cache:
        cache[_PAYLOAD] = decode(response.content)
    return cache[_PAYLOAD]


def json_payload(response: requests.Response) -> t.Any:  # noqa: ANN401
    """Return the parsed JSON body, parsing it only once per response.

    Raises ValueError, naming the byte offset, when the body is not JSON (safe_json.py).
    """
    return _decoded(response)[0]


def read_carefully(response: requests.Response) -> bool:
    """Whether the body had values no warehouse stores as sent: its records need `scrub`."""
    return _decoded(response)[1]


class PaginationError(RuntimeError):
    """The API's pagination envelope contradicts itself."""


class PageTokenPaginator(BaseAPIPaginator["str | None"]):
    """Follow `pagination.nextPageToken` until `pagination.hasMore` is false."""

    def __init__(self) -> None:
        """Start before the first page."""
        super().__init__(None)
        self._seen: set[str] = set()

    def has_more(self, response: requests.Response) -> bool:
        """Whether the API says another page follows."""
        return bool(json_payload(response).get("pagination", {}).get("hasMore"))

    def continue_if_empty(self, response: requests.Response) -> bool:
        """An empty page with `hasMore` is not the end."""
        return self.has_more(response)

    def get_next(self, response: requests.Response) -> str:
        """Return the next token; a missing or repeated token is an error, not a loop."""
        token = json_payload(response).get("pagination", {}).get("nextPageToken")
        if not token:
            msg = "the API answered hasMore=true without a nextPageToken"
            raise PaginationError(msg)
        if token in self._seen:
            msg = f"the API returned page token {token!r} twice; stopping to avoid a loop"
            raise PaginationError(msg)
        self._seen.add(token)
        return str(token)
