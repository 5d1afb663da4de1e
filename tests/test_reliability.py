"""Rate limits, retries, expiring tokens, bad input and resumable syncs, end to end."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from conftest import (
    API_KEY,
    CHILDREN,
    STREAMS,
    TAP,
    UNREACHABLE_CONFIG,
    assert_complete,
    assert_no_secret,
    assert_waited_as_told,
    discover,
    failure_line,
    parse_messages,
    run_tap,
    select,
    statuses,
    tap_config,
)

from rocketlane_emulator import Emulator, Faults, Scale

if TYPE_CHECKING:
    from pathlib import Path


CHILDREN_AND_PROJECTS = ("projects", *CHILDREN)


@pytest.mark.parametrize("style", ["x-retry-after", "retry-after-seconds", "retry-after-date"])
def test_429_waits_as_told_and_loses_nothing(
    emulator: Emulator, tmp_path: Path, style: str
) -> None:
    # A budget far above the API's limit, so the API has to push back: the last of the 5
    # pages of users waits until the first leaves a 3-second window.
    emulator.faults.rate_limit = (4, 3.0)
    emulator.faults.retry_after_style = style
    config = tap_config(emulator, max_retries=0, page_size=5)
    catalog = select(discover(tmp_path, config), ("users",))
    emulator.reset_log()
    run = run_tap(tmp_path, config, catalog=catalog, timeout=600)
    assert_complete(run, emulator, streams=("users",))
    log = emulator.request_log
    assert [entry.status for entry in log] == [200] * 4 + [429, 200]
    resume = log[0].time + 3.0
    assert resume <= log[-1].time < resume + 2  # whole seconds: Date, Retry-After
    assert assert_waited_as_told(emulator, emulator.faults.rate_limit) == 1
    assert "rate limited (HTTP 429)" in run.stderr


def test_429_wait_is_capped(emulator: Emulator, tmp_path: Path) -> None:
    emulator.faults.rate_limit = (3, 30.0)
    run = run_tap(tmp_path, tap_config(emulator, max_rate_limit_wait_seconds=1))
    line = failure_line(run)
    assert "429" in line
    assert "max_rate_limit_wait_seconds" in line


def test_server_errors_and_truncated_bodies_are_retried(emulator: Emulator, tmp_path: Path) -> None:
    emulator.faults.error_rate = 0.15
    emulator.faults.truncate_rate = 0.1
    emulator.reset_log()
    run = run_tap(tmp_path, tap_config(emulator, max_retries=8))
    assert_complete(run, emulator)
    assert any(s >= 500 for s in statuses(emulator))
    assert "retry 1 of 8" in run.stderr


def test_retries_run_out_with_a_clear_message(emulator: Emulator, tmp_path: Path) -> None:
    emulator.faults.error_rate = 1.0
    emulator.reset_log()
    run = run_tap(tmp_path, tap_config(emulator, max_retries=2))
    line = failure_line(run)
    assert "giving up after 3 attempts" in line
    assert "/api/1.0/" in line
    assert "pageSize=100" in line  # the query, to reproduce it
    assert "HTTP 5" in line
    request_id = emulator.request_log[-1].request_id
    assert f"X-Request-Id {request_id}" in line
    assert len(emulator.request_log) == 3


def test_slow_answers_time_out_and_are_retried(emulator: Emulator, tmp_path: Path) -> None:
    emulator.faults.latency_s = 1.5
    emulator.reset_log()
    run = run_tap(tmp_path, tap_config(emulator, request_timeout=1, max_retries=1))
    line = failure_line(run)
    assert "Timeout" in line
    assert "no complete answer within 1s (request_timeout)" in line
    assert "giving up after 2 attempts" in line
    time.sleep(emulator.faults.latency_s)  # the emulator logs a request once answered
    assert len(emulator.request_log) == 2


def test_wrong_key_fails_once_without_retry(emulator: Emulator, tmp_path: Path) -> None:
    emulator.reset_log()
    config = tap_config(emulator, api_key="definitely-not-the-key")
    run = run_tap(tmp_path, config)
    line = failure_line(run)
    assert "check api_key" in line.lower()
    assert "401" in line
    assert "definitely-not-the-key" not in run.stderr + run.stdout
    assert len(emulator.request_log) == 1


def test_deleted_project_is_skipped_with_a_warning(emulator: Emulator, tmp_path: Path) -> None:
    victim = sorted(emulator.ids("projects"))[3]
    emulator.faults.vanish_projects = {victim}
    expected = {s: emulator.ids(s) for s in STREAMS}
    run = run_tap(tmp_path, tap_config(emulator))
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"project {victim} no longer exists" in run.stderr
    for stream in ("spaces", "phases", "space-documents"):
        survivors = {i for i in expected[stream] if i in emulator.ids(stream)}
        assert run.ids(stream) == survivors, stream
        assert survivors < expected[stream] or not expected[stream]


def test_expired_page_tokens_restart_without_loss(emulator: Emulator, tmp_path: Path) -> None:
    # Projects are paged 4 at a time and each page's children (12 requests or more, answered
    # in 0.15 s each) take longer than a token lives, so the projects list must restart;
    # nothing may be lost or doubled.
    emulator.faults.token_ttl_s = 1.5
    emulator.faults.latency_s = 0.15
    config = tap_config(emulator, page_size=4, max_requests_per_minute=600)
    catalog = select(discover(tmp_path, config), CHILDREN_AND_PROJECTS)
    emulator.reset_log()
    run = run_tap(tmp_path, config, catalog=catalog)
    assert_complete(run, emulator, streams=CHILDREN_AND_PROJECTS)
    expired = [e for e in emulator.request_log if e.status == 400]
    assert expired
    assert all("pageToken" in e.params for e in expired)
    assert "page token expired; restarting" in run.stderr
    assert len(run.records("projects")) == len(emulator.ids("projects"))


def test_soak_under_every_fault_at_once(tmp_path: Path) -> None:
    # The sync takes about 600 requests (pages of 5): two windows of 450 a minute, the
    # setting to match. Tokens live 2 s, so the listing under way while the second window
    # waits outlives its token; 450 is more than its longest listing (time entries, about
    # 330 pages), so the restarted one completes in the second window.
    faults = Faults(
        rate_limit=(450, 60.0),
        error_rate=0.05,
        truncate_rate=0.02,
        token_ttl_s=2.0,
        fault_seed=7,
    )
    with Emulator(seed=3, scale=Scale.default(), api_key=API_KEY, faults=faults) as emu:
        started = time.monotonic()
        run = run_tap(
            tmp_path,
            tap_config(emu, max_requests_per_minute=450, max_retries=6, page_size=5),
            timeout=175,
        )
        assert_complete(run, emu)
        elapsed = time.monotonic() - started
        assert elapsed < 175
        assert elapsed > 60  # a window's allowance was not enough
        assert 429 not in statuses(emu)
        fired = {entry.fault for entry in emu.request_log}
        assert {"error", "truncate"} <= fired
        assert any(e.status == 400 and "pageToken" in e.params for e in emu.request_log)
        assert "page token expired" in run.stderr


def _spawn(tmp_path: Path, config: dict[str, Any]) -> subprocess.Popen[bytes]:
    (tmp_path / "config.json").write_text(json.dumps(config))
    command = [TAP, "--config", str(tmp_path / "config.json")]
    with (tmp_path / "out.jsonl").open("w") as out, (tmp_path / "err.log").open("w") as err:
        return subprocess.Popen[bytes](command, stdout=out, stderr=err)


def _bookmarked(state: dict[str, Any], stream: str) -> bool:
    return bool(state.get("bookmarks", {}).get(stream, {}).get("replication_key_value"))


def _kill_after_state(tap: subprocess.Popen[bytes], out: Path, stream: str, delay: float) -> None:
    """SIGKILL `tap` `delay` seconds after it printed a STATE with a bookmark for `stream`."""
    deadline = time.monotonic() + 120
    try:
        # Read as bytes: the tap may be half-way through writing a character of a record.
        while not any(
            m["type"] == "STATE" and _bookmarked(m["value"], stream)
            for m in parse_messages(out.read_bytes().decode("utf-8", "replace"))
        ):
            assert tap.poll() is None, "the sync ended before the STATE to kill it after"
            assert time.monotonic() < deadline, f"no STATE with a {stream} bookmark in 120 s"
            time.sleep(0.01)
        time.sleep(delay)
    finally:
        tap.send_signal(signal.SIGKILL)
    # Killed, not finished: a run that ended on its own would prove nothing about resuming.
    assert tap.wait() == -signal.SIGKILL


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_killed_sync_resumes_from_its_last_state_without_loss(tmp_path: Path, seed: int) -> None:
    """Killed at a seeded moment after a STATE that bookmarks tasks (so a resumed run has
    something to skip), the next run from the last STATE makes fewer requests than a full
    sync and, with the killed run's records, brings every record."""
    rng = random.Random(seed)
    # Answers take 0.05 s, so the sync lasts a few seconds and the kill falls within it.
    faults = Faults(latency_s=0.05)
    with Emulator(seed=seed, scale=Scale.default(), api_key=API_KEY, faults=faults) as emu:
        config = tap_config(emu, page_size=40)
        first = _spawn(tmp_path, config)
        _kill_after_state(first, tmp_path / "out.jsonl", "tasks", rng.uniform(0, 0.2))
        # A killed tap may have left half a character at the end.
        out = (tmp_path / "out.jsonl").read_bytes().decode("utf-8", "replace")
        assert_no_secret(out, (tmp_path / "err.log").read_text())
        messages = parse_messages(out)
        states = [m["value"] for m in messages if m["type"] == "STATE"]
        assert _bookmarked(states[-1], "tasks")
        seen: dict[str, set[int]] = {s: set() for s in STREAMS}
        for m in messages:
            if m["type"] == "RECORD":
                seen[m["stream"]].add(m["record"]["id"])
        # A record changed while the first run was down must arrive too.
        emu.touch("tasks", min(emu.ids("tasks")))

        emu.reset_log()
        second = run_tap(tmp_path, config, state=states[-1])
        assert second.returncode == 0, second.stderr[-3000:]
        resumed = Counter(entry.resource for entry in emu.request_log)
        for stream in STREAMS:
            assert seen[stream] | second.ids(stream) == emu.ids(stream), stream
        assert min(emu.ids("tasks")) in second.ids("tasks")

        emu.reset_log()
        full = run_tap(tmp_path, config)
        assert full.returncode == 0, full.stderr[-3000:]
        full_requests = Counter(entry.resource for entry in emu.request_log)
        # Resumed from its bookmark, tasks were not listed in full again.
        assert resumed["tasks"] < full_requests["tasks"], (resumed, full_requests)
        assert resumed.total() < full_requests.total(), (resumed, full_requests)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"api_key": None}, "api_key"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": "many"}, "page_size"),
        ({"start_date": "last tuesday"}, "start_date"),
        ({"base_url": "http://api.example.com/api/1.0"}, "base_url"),
        ({"base_url": "ftp://127.0.0.1/api"}, "base_url"),
        ({"project_ids": "12,13"}, "project_ids"),
        ({"max_requests_per_minute": 0}, "max_requests_per_minute"),
    ],
)
def test_bad_settings_fail_with_one_line_naming_them(
    shared_emulator: Emulator, tmp_path: Path, overrides: dict[str, Any], named: str
) -> None:
    config = tap_config(shared_emulator)
    config.update(overrides)
    config = {k: v for k, v in config.items() if v is not None}
    shared_before = len(shared_emulator.request_log)
    run = run_tap(tmp_path, config)
    line = failure_line(run)
    assert named in line
    assert not run.messages
    if "base_url" in overrides:  # refused before any request could carry the key
        assert len(shared_emulator.request_log) == shared_before


def test_unreachable_host_fails_cleanly(tmp_path: Path) -> None:
    run = run_tap(tmp_path, UNREACHABLE_CONFIG)
    line = failure_line(run)
    assert "ConnectionError" in line
    assert "giving up after 2 attempts" in line


def test_key_never_logged_even_at_debug(emulator: Emulator, tmp_path: Path) -> None:
    emulator.faults.error_rate = 0.2
    run = run_tap(
        tmp_path,
        tap_config(emulator, max_retries=6),
        env={"TAP_PM_LOGLEVEL": "DEBUG"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "DEBUG" in run.stderr
    assert_no_secret(run.stdout, run.stderr, json.dumps(run.final_state))


def test_key_not_in_about_or_discover(shared_emulator: Emulator, tmp_path: Path) -> None:
    """Discovery at DEBUG and `--about` in every format, all given the key: each succeeds,
    prints what it is for, and never the key."""
    env = {"TAP_PM_LOGLEVEL": "DEBUG"}
    run = run_tap(tmp_path, tap_config(shared_emulator), "--discover", env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    catalog = json.loads(run.stdout)
    assert {entry["tap_stream_id"] for entry in catalog["streams"]} >= set(STREAMS)
    assert "DEBUG" in run.stderr
    outputs = [run.stdout, run.stderr]
    for fmt in ("json", "markdown", None):
        about = subprocess.run(
            [TAP, "--about", *([f"--format={fmt}"] if fmt else []),
             "--config", str(tmp_path / "config.json")],
            capture_output=True, text=True, check=True, env={**os.environ, **env},
        )  # fmt: skip
        assert "api_key" in about.stdout, fmt
        outputs += [about.stdout, about.stderr]
    assert json.loads(outputs[2])["settings"]["properties"]["api_key"]["secret"] is True
    assert_no_secret(*outputs)
