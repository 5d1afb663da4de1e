"""Bookmarks follow Rocketlane's clock (its Date header), whatever the tap machine's clock says.

The tap runs with its clock shifted (tests/shifted_clock.py, like `faketime -f +300s`) against
the emulator, which stamps updatedAt and dates its responses with its own, correct clock.
"""

from __future__ import annotations

import calendar
import logging
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
import requests
from conftest import (
    API_KEY,
    STREAMS,
    assert_waited_as_told,
    discover,
    run_tap,
    select,
    tap_config,
)

from rocketlane_emulator import ID_KEYS, RESOURCES, Emulator
from tap_pm.clock import ApiClock, response_date, seconds_until
from tap_pm.errors import mask_secret

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

FIVE_MINUTES = 300
# An HTTP date (RFC 9110's example) and the same instant in epoch seconds, computed apart.
HTTP_DATE = "Sun, 06 Nov 1994 08:49:37 GMT"
AT = calendar.timegm((1994, 11, 6, 8, 49, 37))


def to_ms(value: str) -> int:
    return round(datetime.fromisoformat(value).timestamp() * 1000)


def bookmarks(state: dict[str, Any], stream: str) -> list[int]:
    entry = state["bookmarks"].get(stream, {})
    values = [p.get("replication_key_value") for p in entry.get("partitions", [])]
    values.append(entry.get("replication_key_value"))
    return [to_ms(v) for v in values if v]


def stream_starts(emu: Emulator) -> dict[str | None, float]:
    """Per resource, the emulator's clock (epoch ms) when its first request arrived."""
    starts: dict[str | None, float] = {}
    for entry in emu.request_log:
        starts.setdefault(entry.resource, entry.time * 1000)
    return starts


@pytest.mark.parametrize("offset", [FIVE_MINUTES, -FIVE_MINUTES], ids=["ahead", "behind"])
def test_a_change_made_during_a_sync_arrives_in_the_next(
    emulator: Emulator, tmp_path: Path, offset: int
) -> None:
    config = tap_config(emulator, page_size=5)
    catalog = select(discover(tmp_path, config), ("tasks",))
    first = run_tap(tmp_path, config, catalog=catalog, clock_offset=offset)
    assert first.returncode == 0, first.stderr[-3000:]

    # Ten changed tasks: the incremental listing has two pages of five (sorted by id).
    changed = sorted(emulator.ids("tasks"))[:10]
    for task in changed:
        emulator.touch("tasks", task)
    early, late = changed[0], changed[7]  # R on page 1, Q on page 2
    fired: list[str] = []

    def between_pages(resource: str | None, params: dict[str, str]) -> None:
        if resource == "tasks" and "pageToken" in params and not fired:
            fired.append("yes")
            emulator.touch("tasks", early)  # R changes after it was emitted
            time.sleep(0.005)
            emulator.touch("tasks", late)  # then Q changes before it is read

    emulator.hooks.append(between_pages)
    second = run_tap(
        tmp_path, config, catalog=catalog, state=first.final_state, clock_offset=offset
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert fired
    assert set(changed) <= second.ids("tasks")
    emitted = {r["id"]: r for r in second.records("tasks")}
    assert emitted[late]["updatedAt"] > emitted[early]["updatedAt"]  # R's edit is older than Q's
    direction = "ahead of" if offset > 0 else "behind"
    assert f"clock is {FIVE_MINUTES} s {direction} Rocketlane's" in second.stderr
    assert second.stderr.count("clock is") == 1  # one warning per run

    emulator.hooks.clear()
    third = run_tap(
        tmp_path, config, catalog=catalog, state=second.final_state, clock_offset=offset
    )
    assert third.returncode == 0, third.stderr[-3000:]
    truth = {t["taskId"]: t for t in emulator.truth("tasks")}
    [early_row] = [r for r in third.records("tasks") if r["id"] == early]
    field = RESOURCES["tasks"].touch_field
    assert early_row[field] == truth[early][field]  # R's change was not lost
    assert to_ms(early_row["updatedAt"]) == truth[early]["updatedAt"]


def test_bookmarks_never_pass_the_api_clock_at_the_stream_start(
    emulator: Emulator, tmp_path: Path
) -> None:
    """With the tap 5 minutes ahead, a record changed mid-stream cannot push a bookmark past it."""
    config = tap_config(emulator, page_size=5)
    touched: dict[str, int] = {}

    def touch_the_last_page(resource: str | None, params: dict[str, str]) -> None:
        # On each list's second page, change the record it will serve last (highest id).
        if resource and "pageToken" in params and resource not in touched:
            key = ID_KEYS[resource]
            record = max(emulator.truth(resource), key=lambda r: r[key])
            touched[resource] = record[key]
            emulator.touch(resource, record[key])

    emulator.hooks.append(touch_the_last_page)
    first = run_tap(tmp_path, config, clock_offset=FIVE_MINUTES)
    assert first.returncode == 0, first.stderr[-3000:]
    emulator.hooks.clear()
    starts = stream_starts(emulator)
    incremental = [s for s in STREAMS if s != "time-offs"]
    assert set(incremental) <= set(touched)
    for stream in incremental:
        marks = bookmarks(first.final_state, stream)
        assert marks, stream
        assert max(marks) <= starts[stream], stream

    second = run_tap(tmp_path, config, state=first.final_state, clock_offset=FIVE_MINUTES)
    assert second.returncode == 0, second.stderr[-3000:]
    for stream in incremental:
        assert touched[stream] in second.ids(stream), stream


@pytest.mark.parametrize("offset", [FIVE_MINUTES, -FIVE_MINUTES], ids=["ahead", "behind"])
def test_a_429_waits_by_the_api_clock(emulator: Emulator, tmp_path: Path, offset: int) -> None:
    # X-Retry-After is on Rocketlane's clock: measured on a clock 5 minutes slow, every wait
    # would last 5 minutes more (and on a fast one, not at all). The last of the 5 pages of
    # users is refused until the first leaves a 3-second window.
    emulator.faults.rate_limit = (4, 3.0)
    config = tap_config(emulator, page_size=5, max_retries=0, max_rate_limit_wait_seconds=60)
    catalog = select(discover(tmp_path, config), ("users",))
    emulator.reset_log()
    started = time.monotonic()
    run = run_tap(tmp_path, config, catalog=catalog, clock_offset=offset, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.ids("users") == emulator.ids("users")
    # Each retry came when the API allowed it, by its clock: not sooner, not minutes later.
    assert assert_waited_as_told(emulator, emulator.faults.rate_limit) > 0
    assert time.monotonic() - started < 60


def test_look_back_re_reads_exactly_its_window(emulator: Emulator, tmp_path: Path) -> None:
    catalog = select(discover(tmp_path, tap_config(emulator)), ("tasks",))
    first = run_tap(tmp_path, tap_config(emulator), catalog=catalog)
    assert first.returncode == 0, first.stderr[-3000:]
    [mark] = bookmarks(first.final_state, "tasks")
    # Two edits that an API with lagging lists shows only after the bookmark was taken,
    # stamped 2 and 10 minutes before it.
    inside, outside = sorted(emulator.ids("tasks"))[:2]
    emulator.touch("tasks", inside, at_ms=mark - 2 * 60_000)
    emulator.touch("tasks", outside, at_ms=mark - 10 * 60_000)

    def window(minutes: int) -> set[int]:
        since = mark - minutes * 60_000
        return {t["taskId"] for t in emulator.truth("tasks") if t["updatedAt"] >= since}

    default = run_tap(tmp_path, tap_config(emulator), catalog=catalog, state=first.final_state)
    assert default.returncode == 0, default.stderr[-3000:]
    assert default.ids("tasks") == window(5)
    assert inside in window(5)
    assert outside not in window(5)
    assert len(default.records("tasks")) == len(window(5))

    off = run_tap(
        tmp_path, tap_config(emulator, lookback_minutes=0), catalog=catalog, state=first.final_state
    )
    assert off.returncode == 0, off.stderr[-3000:]
    assert off.ids("tasks") == window(0)
    assert inside not in off.ids("tasks")


def test_masking_a_short_key_leaves_the_message_readable(
    emulator: Emulator, tmp_path: Path
) -> None:
    assert mask_secret("http://example.com with key x", "x") == "http://example.com with key ***"
    assert mask_secret("key 'x-y' and x-ray", "x-y") == "key '***' and x-ray"
    assert mask_secret(f"url?k={API_KEY}&a=1 {API_KEY}x", API_KEY) == "url?k=***&a=1 ***x"
    run = run_tap(tmp_path, tap_config(emulator, api_key="x", base_url="ftp://example.com/api"))
    assert run.returncode != 0
    assert "base_url 'ftp://example.com/api' is not an https:// URL" in run.stderr


# ------------------------------------------------------------- the API's clock, unit by unit
def answer(date: str | None = HTTP_DATE, round_trip: float = 0.25) -> requests.Response:
    response = requests.Response()
    if date is not None:
        response.headers["Date"] = date
    response.elapsed = timedelta(seconds=round_trip)
    return response


@pytest.fixture
def our_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Sets this machine's clock (time.time) to a given epoch second."""

    def set_to(now: float) -> None:
        monkeypatch.setattr("tap_pm.clock.time.time", lambda: now)

    return set_to


def test_the_date_header_is_read_in_epoch_seconds_or_not_at_all() -> None:
    assert response_date(answer()) == AT
    assert response_date(answer("Sun, 06 Nov 1994 08:49:37 +0100")) == AT - 3600
    for unreadable in (None, "", "yesterday", "Sun, 06 Nov 1994 25:61:00 GMT"):
        assert response_date(answer(unreadable)) is None, unreadable


def test_a_resume_time_is_measured_on_the_api_clock(our_clock: Callable[[float], None]) -> None:
    our_clock(AT + FIVE_MINUTES)  # whatever this machine says
    assert seconds_until(answer(), AT + 7.5) == 7.5
    assert seconds_until(answer(None), AT + FIVE_MINUTES + 2) == 2  # no Date: ours stands in


def test_a_resume_time_a_second_away_is_measured_on_our_clock_when_it_agrees(
    our_clock: Callable[[float], None],
) -> None:
    """`Date` is floored to its second: from it, 1 s (issue 28's 8-a-second API) took up to 2."""
    our_clock(AT + 0.9)  # in step with the API, late in the Date's second
    assert seconds_until(answer(), AT + 1.9) == pytest.approx(1.0)
    our_clock(AT - 1.6)  # more than the Date's second apart: the API's clock, from Date
    assert seconds_until(answer(), AT + 1.9) == pytest.approx(1.9)


def test_a_stream_starts_before_its_request_by_the_api_clock(
    our_clock: Callable[[float], None], caplog: pytest.LogCaptureFixture
) -> None:
    our_clock(AT + 0.4)  # in step: the Date is floored to its second
    api = ApiClock(logging.getLogger("tap-pm-test"))
    # The Date less its one-second resolution, less the round trip.
    assert api.stream_start(answer(round_trip=0.25)) == AT - 1 - 0.25
    assert api.stream_start(answer(round_trip=0)) == AT - 1
    our_clock(AT + 10)
    assert ApiClock(logging.getLogger("t")).stream_start(answer(None, 0.25)) == AT + 10 - 0.25 - 1
    assert not [r for r in caplog.records if r.name == "tap-pm-test"]


@pytest.mark.parametrize(
    ("ours", "said"),
    [
        (AT + FIVE_MINUTES + 0.5, "300 s ahead of"),
        (AT - 6.5, "7 s behind"),
        (AT + 5.5, None),  # 5 s: network and rounding noise
        (AT - 4.5, None),
        (AT + 0.5, None),
    ],
)
def test_skew_is_reported_once_when_it_matters(
    our_clock: Callable[[float], None],
    caplog: pytest.LogCaptureFixture,
    ours: float,
    said: str | None,
) -> None:
    our_clock(ours)
    api = ApiClock(logging.getLogger("tap-pm-test"))
    with caplog.at_level(logging.INFO, logger="tap-pm-test"):
        api.stream_start(answer())
        api.stream_start(answer(round_trip=0))
        api.stream_start(answer(None))
    warnings = [r.getMessage() for r in caplog.records if r.name == "tap-pm-test"]
    if said is None:
        assert warnings == []
    else:
        skew = (
            f"This machine's clock is {said} Rocketlane's (its Date header); bookmarks follow "
            "Rocketlane's clock, so no change is lost, but check the clock (NTP)."
        )
        assert warnings == [skew]
        assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == "tap-pm-test")


def test_a_missing_date_header_is_reported_once(
    our_clock: Callable[[float], None], caplog: pytest.LogCaptureFixture
) -> None:
    our_clock(AT)
    api = ApiClock(logging.getLogger("tap-pm-test"))
    with caplog.at_level(logging.INFO, logger="tap-pm-test"):
        for _ in range(3):
            api.stream_start(answer(None))
        api.stream_start(answer(date=HTTP_DATE.replace("08:49", "09:49")))  # skew after: quiet
    no_date = (
        "The API sent no Date header: bookmarks are capped with this machine's clock, "
        "so keep it in sync (NTP)."
    )
    logged = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "tap-pm-test"]
    assert logged == [(logging.WARNING, no_date)]
