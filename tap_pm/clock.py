"""Rocketlane's clock, read from the `Date` header: bookmarks and 429 waits follow it.

A bookmark must never pass the moment its stream started, or a change made during the sync
(stamped by Rocketlane's clock) could fall behind it and never be read. Our own clock may be
minutes off (laptops after sleep, VMs, containers), so the cap comes from the API's.
"""

from __future__ import annotations

import threading
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

    import requests

#: Skew below this is normal network and rounding noise, not worth a warning.
SKEW_WARNING_SECONDS = 5.0
#: `Date` has whole seconds, floored: the API's clock may be up to this much later.
DATE_RESOLUTION_SECONDS = 1.0


def response_date(response: requests.Response) -> float | None:
    """The response's `Date` header as epoch seconds, or None if absent or unreadable."""
    value = response.headers.get("Date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


class ApiClock:
    """What one tap run knows about Rocketlane's clock: one warning about skew, at most."""

    def __init__(self, logger: logging.Logger) -> None:
        """Nothing is known until the first response."""
        self._logger = logger
        self._lock = threading.Lock()
        self._reported = False
        #: The API's clock less ours (s), from the last `Date`; 0 until one is read.
        self._offset = 0.0

    def stream_start(self, response: requests.Response) -> float:
        """A moment (epoch s, API clock) no later than when `response`'s request was sent.

        The header is floored to whole seconds and the API may stamp writes on another
        machine than the one that dates responses, so one second comes off, and so does
        the round trip, which covers the time between sending the request and the `Date`.
        """
        received = time.time()
        round_trip = response.elapsed.total_seconds()
        date = response_date(response)
        if date is None:
            self._report(None)
            return received - round_trip - DATE_RESOLUTION_SECONDS
        skew = date + DATE_RESOLUTION_SECONDS / 2 - received
        self._offset = skew if abs(skew) > DATE_RESOLUTION_SECONDS else 0.0
        self._report(skew)
        return date - DATE_RESOLUTION_SECONDS - round_trip

    def now(self) -> float:
        """The API's clock now (epoch s), as far as its answers tell; ours before the first.

        Ours when the two agree to `Date`'s whole second: it is the more precise then.
        """
        return time.time() + self._offset

    def _report(self, skew: float | None) -> None:
        """Say once per run how far our clock is from the API's, when it matters."""
        with self._lock:
            if self._reported:
                return
            self._reported = True
        if skew is None:
            self._logger.warning(
                "The API sent no Date header: bookmarks are capped with this machine's clock, "
                "so keep it in sync (NTP)."
            )
        elif abs(skew) > SKEW_WARNING_SECONDS:
            self._logger.warning(
                "This machine's clock is %.0f s %s Rocketlane's (its Date header); bookmarks "
                "follow Rocketlane's clock, so no change is lost, but check the clock (NTP).",
                abs(skew),
                "ahead of" if skew < 0 else "behind",
            )


def seconds_until(response: requests.Response, resume_at: float) -> float:
    """Seconds from the response to `resume_at` (epoch s, API clock), measured on the API's clock.

    `Date` has whole seconds, floored: measured from it, a wait a second away could take two.
    So our clock measures when it agrees with `Date` to that second (or there is no `Date`),
    and `Date` only when our clock is off.
    """
    now = time.time()
    date = response_date(response)
    if date is None or abs(date + DATE_RESOLUTION_SECONDS / 2 - now) <= DATE_RESOLUTION_SECONDS:
        return resume_at - now
    return resume_at - date
