"""The retry policy (tap_pm/retries.py): quick jittered retries, the former total patience.

Time is simulated: the policy's clock and backoff's sleep advance one fake clock, so the
waits are exact and the tests take no time.
"""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING, Any

import pytest
import requests
from conftest import run_tap, tap_config
from singer_sdk.exceptions import RetriableAPIError

from tap_pm import retries
from tap_pm.retries import retry_waits, retry_window, with_retries

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from backoff.types import Details

    from rocketlane_emulator import Emulator


class FakeClock:
    """A clock that moves only when something sleeps (or a request takes time)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr("tap_pm.retries.time.monotonic", fake.monotonic)
    monkeypatch.setattr("backoff._sync.time.sleep", fake.sleep)
    return fake


class Stream:
    """The little of a stream the policy uses."""

    name = "tasks"

    def __init__(self, **config: float) -> None:
        self.config = config
        self.logged: list[Details] = []

    def backoff_handler(self, details: Details) -> None:
        self.logged.append(details)

    def describe(self, response: requests.Response) -> str:
        return f"HTTP {response.status_code}"


class FailedError(Exception):
    pass


def always_failing(
    clock: FakeClock, seconds_per_request: float = 0.0
) -> tuple[Callable[[requests.PreparedRequest, dict[str, Any] | None], None], list[float]]:
    calls: list[float] = []

    def request(prepared: requests.PreparedRequest, context: dict[str, Any] | None) -> None:
        assert prepared.path_url == "/api/1.0/tasks?pageSize=100"  # the request, every time
        assert context == {"projectId": 7}
        calls.append(clock.now)
        clock.now += seconds_per_request
        msg = "refused"
        raise requests.exceptions.ConnectionError(msg)

    return request, calls


def prepared() -> requests.PreparedRequest:
    return requests.Request("GET", "http://127.0.0.1/api/1.0/tasks?pageSize=100").prepare()


@pytest.mark.parametrize("attempt", range(20))
def test_first_retries_are_quick_and_jittered_the_last_completes_the_window(
    clock: FakeClock, attempt: int
) -> None:
    waits = retry_waits(factor=1, retries=3)
    next(waits)  # primed by backoff
    first, second = waits.send(None), waits.send(None)
    assert 0 <= first <= 0.125
    assert 0 <= second <= 0.25
    clock.now += first + second
    last = waits.send(None)
    assert first + second + last == pytest.approx(7.0)  # 1 + 2 + 4 s, as before


def test_waits_are_jittered() -> None:
    def first_wait() -> float:
        waits = retry_waits(factor=1, retries=3)
        next(waits)
        return waits.send(None)

    assert len({first_wait() for _ in range(10)}) > 1


@pytest.mark.parametrize(("max_retries", "factor"), [(3, 1), (1, 1), (2, 0.5), (6, 2)])
def test_an_outage_gets_as_many_retries_and_as_long_as_before(
    clock: FakeClock, max_retries: int, factor: float
) -> None:
    stream = Stream(max_retries=max_retries, retry_backoff_factor=factor)
    request, calls = always_failing(clock)
    send = with_retries(stream, request, FailedError)
    with pytest.raises(FailedError, match=f"tasks: giving up after {max_retries + 1} attempts: "):
        send(prepared(), {"projectId": 7})
    assert len(calls) == max_retries + 1
    assert len(stream.logged) == max_retries
    # The former schedule (factor, 2 factor, 4 factor, ...) waited exactly this long.
    assert calls[-1] - calls[0] == pytest.approx(retry_window(factor=factor, retries=max_retries))
    assert retry_window(factor=factor, retries=max_retries) == sum(
        factor * 2**n for n in range(max_retries)
    )


def test_slow_failures_still_get_every_retry(clock: FakeClock) -> None:
    stream = Stream(max_retries=3, retry_backoff_factor=1)
    request, calls = always_failing(clock, seconds_per_request=120)  # timeouts
    with pytest.raises(FailedError):
        with_retries(stream, request, FailedError)(prepared(), {"projectId": 7})
    assert len(calls) == 4
    assert clock.sleeps[-1] == 0  # the window is long past: the last retry goes at once


def test_giving_up_says_what_failed_on_one_line(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    request, _ = always_failing(clock)
    stream = Stream(max_retries=2, retry_backoff_factor=1)
    with caplog.at_level(logging.INFO, logger="backoff"), pytest.raises(FailedError) as caught:
        with_retries(stream, request, FailedError)(prepared(), {"projectId": 7})
    assert str(caught.value) == (
        "tasks: giving up after 3 attempts: "
        "ConnectionError on GET /api/1.0/tasks?pageSize=100 (refused)."
    )
    assert [d["tries"] for d in stream.logged] == [1, 2]  # each retry, to the stream's log
    assert not [r for r in caplog.records if r.name == "backoff"]  # and only there


def test_a_failure_is_described_by_its_answer_or_its_exception() -> None:
    stream = Stream()
    request = prepared()
    answered = requests.Response()
    answered.status_code = 502
    assert retries.describe_failure(stream, RetriableAPIError("HTTP 502", answered), request) == (
        "HTTP 502 — HTTP 502"
    )
    # Without an answer, or not an error of an answer: what was raised, on the request.
    assert retries.describe_failure(stream, RetriableAPIError("invalid JSON"), request) == (
        "RetriableAPIError on GET /api/1.0/tasks?pageSize=100 (invalid JSON)"
    )
    reset = ConnectionError("connection reset")  # Python's own: no `response` at all
    assert retries.describe_failure(stream, reset, request) == (
        "ConnectionError on GET /api/1.0/tasks?pageSize=100 (connection reset)"
    )
    timeout = requests.exceptions.ReadTimeout("read timed out", response=answered)
    assert retries.describe_failure(stream, timeout, request) == (
        "ReadTimeout on GET /api/1.0/tasks?pageSize=100 (read timed out)"
    )


def test_no_retries(clock: FakeClock) -> None:
    request, calls = always_failing(clock)
    with pytest.raises(FailedError, match="giving up after 1 attempts"):
        with_retries(Stream(max_retries=0), request, FailedError)(prepared(), {"projectId": 7})
    assert len(calls) == 1


def test_a_fault_costs_a_fraction_of_a_second(clock: FakeClock) -> None:
    counter = itertools.count()
    response = requests.Response()
    response.status_code = 503

    def flaky(prepared: requests.PreparedRequest, context: dict[str, Any] | None) -> str:
        if next(counter) == 0:
            msg = "HTTP 503"
            raise RetriableAPIError(msg, response)
        return "ok"

    stream = Stream()  # the defaults: 3 retries, factor 1
    assert with_retries(stream, flaky, FailedError)(prepared(), None) == "ok"
    assert len(clock.sleeps) == 1
    assert clock.sleeps[0] <= 0.125


def test_retries_count_against_the_request_budget(emulator: Emulator, tmp_path: Path) -> None:
    """Every attempt goes through the budget: the sync's request count includes the retries."""
    emulator.faults.error_rate = 0.2
    emulator.reset_log()
    run = run_tap(tmp_path, tap_config(emulator, max_retries=8, progress_interval_seconds=1))
    assert run.returncode == 0, run.stderr[-2000:]
    failed = sum(entry.status >= 500 for entry in emulator.request_log)
    assert failed > 0
    assert f"sync: {len(emulator.request_log)} requests made" in run.stderr


def test_giving_up_on_a_bad_answer_describes_the_answer(clock: FakeClock) -> None:
    answered = requests.Response()
    answered.status_code = 503

    def unavailable(prepared: requests.PreparedRequest, context: dict[str, Any] | None) -> None:
        msg = "HTTP 503"
        raise RetriableAPIError(msg, answered)

    with pytest.raises(FailedError) as caught:
        with_retries(Stream(max_retries=1), unavailable, FailedError)(prepared(), None)
    assert str(caught.value) == "tasks: giving up after 2 attempts: HTTP 503 — HTTP 503."
