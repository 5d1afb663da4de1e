"""The workspace's request budget: one rate window for every stream, and what a 429 teaches it.

Rocketlane counts a workspace's list requests in a one-minute window (60 of them). The budget is
pyrate-limiter's sliding-window log with that one rate: a sync spends the window's allowance at
once, then each request waits until one of a minute ago leaves the window. So a sync of n
requests takes ceil(n / 60) - 1 minutes plus the transfer time of the last window.

Whether the API counts a sliding minute or a fixed clock minute is not documented. A log that
never holds more than `max_requests_per_minute` in any minute holds no more in any clock minute
either, so the same pacing fits both, as long as our clock and the API's agree on when a
request happened: entries stay in our window `MARGIN_MS` longer than in the API's.

A 429 means someone else spent part of the window (another integration, an earlier run), the
setting is above the API's limit, or another of Rocketlane's limiters (a shorter window, one of
concurrent requests) refused. The API says when to come back (`X-Retry-After`), and the budget
believes it: the refused request goes again exactly then, and so may every request the tap cannot
account for; its own stay in the window at the times it made them, so the minute's pacing holds.
It never waits longer than the API said: if more was spent elsewhere than freed then, a further
429 says so, and is waited out the same way (at most one per request spent elsewhere). The former
budget counted the rest of its minute as spent instead, which against an API of 8 requests a
second made each 2-second 429 cost 61 s (issue 28).

Rocketlane is also said to count per-hour windows, with no documented number. The budget has no
hour rate, since any number would be a guess; a 429 of an hour window waits as it says (up to
`max_rate_limit_wait_seconds`), and then the whole allowance returns, as none of it is spent.
"""

from __future__ import annotations

import math
import typing as t
from email.utils import parsedate_to_datetime

from pyrate_limiter import Duration, InMemoryBucket, Limiter, Rate, RateItem

from tap_pm.clock import seconds_until

if t.TYPE_CHECKING:
    import requests

DEFAULT_RATE_LIMIT_WAIT = 60.0
MIN_RATE_LIMIT_WAIT = 0.1  # a 429 whose resume time has passed must not become a hot loop
#: Rocketlane's documented rate window.
WINDOW_MS = int(Duration.MINUTE)
#: A request reaches the API some time after it leaves the budget, and that time varies; an
#: entry stays this much longer in our window than in the API's, so a variation of up to this
#: between the first request of one window and the first of the next provokes no 429.
MARGIN_MS = 1_000
_NAME = "rocketlane"


class RateLimitedError(Exception):
    """HTTP 429: wait `wait_seconds`, then send the same request again."""

    def __init__(self, wait_seconds: float) -> None:
        """Remember how long the API asked us to wait."""
        super().__init__(f"rate limited for {wait_seconds:.1f}s")
        self.wait_seconds = wait_seconds


def retry_after_seconds(response: requests.Response) -> float:
    """Seconds to wait after a 429, from `X-Retry-After` (epoch ms) or `Retry-After`.

    Resume times are on the API's clock, so they are measured from the response's `Date`.
    """
    if value := response.headers.get("X-Retry-After"):
        try:
            return max(MIN_RATE_LIMIT_WAIT, seconds_until(response, int(value) / 1000))
        except ValueError:
            pass
    if value := response.headers.get("Retry-After"):
        if value.strip().isdigit():
            return max(MIN_RATE_LIMIT_WAIT, float(value))
        try:
            resume_at = parsedate_to_datetime(value).timestamp()
            return max(MIN_RATE_LIMIT_WAIT, seconds_until(response, resume_at))
        except (TypeError, ValueError):
            pass
    return DEFAULT_RATE_LIMIT_WAIT


class RequestBudget:
    """The workspace's request allowance, shared by every stream of one tap run."""

    def __init__(
        self, *, max_per_minute: int, max_wait_seconds: float, error: type[Exception]
    ) -> None:
        """`max_per_minute` requests in any window; `error` when 429s ask for too long a wait."""
        self.max_per_minute = max_per_minute
        self._rate = Rate(max_per_minute, WINDOW_MS + MARGIN_MS)
        self._bucket = InMemoryBucket([self._rate])
        self._limiter = Limiter(self._bucket, buffer_ms=0)
        self.max_wait_seconds = max_wait_seconds
        self.waited_seconds = 0.0
        self._error = error

    def acquire(self) -> None:
        """Block until one more request fits in the window."""
        self._limiter.try_acquire(_NAME)

    def rate_limited(self, seconds: float, what: str) -> None:
        """The last request met a 429: it and the rest wait `seconds`, no more (see above).

        Fails instead if that would exceed the total allowed wait.
        """
        if self.waited_seconds + seconds > self.max_wait_seconds:
            msg = (
                f"{what}: still rate limited (HTTP 429) after waiting "
                f"{self.waited_seconds:.0f}s in total; the API asks for {seconds:.0f}s "
                "more. Raise max_rate_limit_wait_seconds or lower max_requests_per_minute "
                "(another client may share the workspace's limit)."
            )
            raise self._error(msg)
        self.waited_seconds += seconds
        now = int(self._bucket.now())  # type: ignore[no-untyped-call] # pyrate-limiter leaves it untyped
        resume = now + math.ceil(seconds * 1000)
        window = self._rate.interval
        # The API frees nothing before `resume`, so ours still in the window count until then
        # at least; the refused one (the latest) not at all.
        earliest = resume - window
        counted = [
            item.timestamp for item in self._bucket.items[:-1] if item.timestamp >= now - window
        ]
        keep = counted[max(0, len(counted) - self.max_per_minute + 1) :]
        own = [max(stamp, earliest) for stamp in keep]
        unknown = self.max_per_minute - 1 - len(own)
        # What else the API counts, the tap cannot know: it frees at `resume`, as the API says.
        # A further 429 says if it frees later (one per request spent elsewhere, at most).
        stamps = [(earliest, 1), *((stamp, 1) for stamp in own), (earliest, unknown)]
        self._bucket.flush()
        for stamp, weight in sorted(stamps):
            if weight:
                self._bucket.put(RateItem(_NAME, stamp, weight=weight))
