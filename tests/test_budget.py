"""Narrow unit tests of the request budget on a hand-moved clock (the end-to-end tests, against
the emulator's windows of both kinds, are in test_reliability.py)."""

from __future__ import annotations

import pyrate_limiter.limiter
import pytest
from pyrate_limiter import MonotonicClock
from typing_extensions import override

from tap_pm.budget import MARGIN_MS, WINDOW_MS, RequestBudget


class FakeClock(MonotonicClock):
    """Milliseconds that move only when the limiter sleeps."""

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    @override
    def now(self) -> int:
        return self.now_ms

    def sleep(self, seconds: float) -> None:
        self.now_ms += round(seconds * 1000)


class BudgetError(Exception):
    pass


START = 1_000_000  # ms
WINDOW = WINDOW_MS + MARGIN_MS


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(START)
    monkeypatch.setattr(pyrate_limiter.limiter, "sleep", fake.sleep)
    return fake


def budget(clock: FakeClock, per_minute: int, max_wait: float = 3600) -> RequestBudget:
    made = RequestBudget(max_per_minute=per_minute, max_wait_seconds=max_wait, error=BudgetError)
    made._bucket._clock = clock  # noqa: SLF001 - the budget's own pyrate-limiter bucket
    return made


def acquired_at(clock: FakeClock, made: RequestBudget, count: int) -> list[int]:
    """When each of `count` more requests leaves the budget (ms after START)."""
    times: list[int] = []
    for _ in range(count):
        made.acquire()
        times.append(clock.now_ms - START)
    return times


def test_a_window_is_spent_at_once_then_a_minute_later(clock: FakeClock) -> None:
    made = budget(clock, per_minute=3)
    # The fourth waits until the first leaves the window (plus the margin): not a third
    # of a minute, as a budget paced evenly would.
    assert acquired_at(clock, made, 7) == [
        0,
        0,
        0,
        WINDOW + 1,
        WINDOW + 1,
        WINDOW + 1,
        2 * WINDOW + 2,
    ]


def test_after_a_429_the_request_goes_again_exactly_when_the_api_says(clock: FakeClock) -> None:
    made = budget(clock, per_minute=3)
    assert acquired_at(clock, made, 2) == [0, 0]  # the first is accepted, the second refused
    made.rate_limited(5.0, "tasks")
    # The refused request at the API's time, and what the tap cannot account for with it: no
    # longer than the API said (a further 429 would say so). Its own request counts where it is.
    assert acquired_at(clock, made, 3) == [5_001, 5_001, WINDOW + 1]
    assert made.waited_seconds == 5.0


def test_a_429_counts_the_tap_s_own_requests_where_they_are(clock: FakeClock) -> None:
    made = budget(clock, per_minute=4)
    acquired_at(clock, made, 1)
    clock.now_ms += 10_000
    acquired_at(clock, made, 2)  # someone else made one more: the API refuses the third
    clock.now_ms += 1_000
    made.rate_limited(2.0, "tasks")
    # The refused one at 13 s, in the slot the API names, and the one left unknown with it;
    # ours leave the window a window after they were made.
    assert acquired_at(clock, made, 4) == [13_001, 13_001, WINDOW + 1, 10_000 + WINDOW + 1]


def test_a_429_of_a_short_window_waits_what_it_names_not_the_rest_of_a_minute(
    clock: FakeClock,
) -> None:
    """Issue 28, case 6: an API allowing 8 a second, the setting 600 a minute."""
    made = budget(clock, per_minute=600)
    acquired_at(clock, made, 9)  # 8 accepted, the ninth refused: back in 1 s
    made.rate_limited(1.0, "tasks")
    assert acquired_at(clock, made, 9) == [1_001] * 9
    assert made.waited_seconds == 1.0


def test_a_429_of_an_hour_window_returns_the_whole_allowance_at_its_end(clock: FakeClock) -> None:
    made = budget(clock, per_minute=3)
    acquired_at(clock, made, 2)
    made.rate_limited(1800.0, "tasks")
    assert acquired_at(clock, made, 4) == [1_800_001] * 3 + [1_800_001 + WINDOW + 1]


def test_429_waits_beyond_the_allowance_fail(clock: FakeClock) -> None:
    made = budget(clock, per_minute=3, max_wait=10)
    acquired_at(clock, made, 1)
    made.rate_limited(6.0, "tasks")
    acquired_at(clock, made, 1)
    with pytest.raises(
        BudgetError, match=r"tasks: still rate limited \(HTTP 429\) after waiting 6s"
    ):
        made.rate_limited(6.0, "tasks")
