"""Servers that answer like Rocketlane, then misbehave at the protocol level (issue 28).

Each case runs the real CLI against a small loopback server of this file, reading `users`:
a listing ends only when the API proves it complete, pagination without progress stops, and
every malformed answer ends in one line (never a traceback) with no deletion sent.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import API_KEY, discover, ms, run_tap, select, tap_config
from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from conftest import TapRun

    from rocketlane_emulator import Emulator

    #: The `sync_users` fixture: one sync against a server's pages, the run and its requests.
    SyncUsers = Callable[..., tuple[TapRun, list[dict[str, str]]]]


def user(uid: int) -> dict[str, Any]:
    return {"userId": uid, "email": f"u{uid}@example.com", "updatedAt": 1_700_000_000_000 + uid}


class Server:
    """A loopback HTTP server answering every GET with `pages(query, index)` as JSON."""

    def __init__(self, pages: Callable[[dict[str, str], int], Any]) -> None:
        self.pages = pages
        self.requests: list[dict[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                index = len(owner.requests)
                owner.requests.append(query)
                answer = owner.pages(query, index)
                status, answer = answer if isinstance(answer, tuple) else (200, answer)
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            @override
            def log_message(self, *_: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/api/1.0"

    def __enter__(self) -> Server:  # noqa: PYI034 - Python 3.10 has no typing.Self
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def users_catalog(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The discovered catalog (no request needed) with only `users` selected."""
    config = {"api_key": API_KEY, "base_url": "http://127.0.0.1:9/api/1.0"}
    found = run_tap(tmp_path_factory.mktemp("discover"), config, "--discover")
    assert found.returncode == 0, found.stderr[-2000:]
    catalog: dict[str, Any] = json.loads(found.stdout)
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] == "users"
    return catalog


@pytest.fixture
def sync_users(tmp_path: Path, users_catalog: dict[str, Any]) -> SyncUsers:
    """One CLI sync of `users` against `pages`: the run and the server's request log."""

    def sync(
        pages: Callable[[dict[str, str], int], Any], **settings: Any
    ) -> tuple[TapRun, list[dict[str, str]]]:
        with Server(pages) as server:
            config = {
                "api_key": API_KEY,
                "base_url": server.base_url,
                "max_retries": 0,
                "max_requests_per_minute": 100_000,
                "page_size": 2,
                **settings,
            }
            run = run_tap(tmp_path, config, catalog=users_catalog, timeout=60)
        return run, server.requests

    return sync


def one_line_error(run: TapRun) -> str:
    """The failed run's one line: non-zero exit, no traceback, no deletion sent."""
    assert run.returncode != 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert not [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"]
    [line] = [line for line in run.stderr.splitlines() if line.startswith("Error: ")]
    assert line.startswith("Error: users"), line
    return line


def envelope(records: Sequence[object], **pagination: Any) -> dict[str, Any]:
    return {"data": records, "pagination": pagination}


# ------------------------------------------------------------- complete only when proven
def token_without_has_more(query: dict[str, str], _: int) -> dict[str, Any]:
    """Issue 28, case 1: page 1 has a token and the count, but no `hasMore`."""
    if "pageToken" not in query:
        return envelope([user(1), user(2)], nextPageToken="t1", totalRecordCount=4)
    return envelope([user(3), user(4)], hasMore=False, totalRecordCount=4)


def test_a_token_without_has_more_is_not_the_end_of_the_listing(sync_users: SyncUsers) -> None:
    run, requests = sync_users(token_without_has_more)
    line = one_line_error(run)
    assert "without hasMore" in line
    assert len(requests) == 1
    # Nor does the bookmark move: the listing's other records were never emitted.
    assert "replication_key_value" not in run.final_state.get("bookmarks", {}).get("users", {})


def test_a_listing_proven_complete_is_activated(sync_users: SyncUsers) -> None:
    """The control: the same listing with `hasMore` on each page syncs and activates."""

    def pages(query: dict[str, str], _: int) -> dict[str, Any]:
        if "pageToken" not in query:
            return envelope([user(1), user(2)], hasMore=True, nextPageToken="t1")
        return envelope([user(3), user(4)], hasMore=False)

    run, _ = sync_users(pages)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.ids("users") == {1, 2, 3, 4}
    assert [m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"] == ["users"]


def test_no_has_more_no_token_and_the_count_reached_is_complete(sync_users: SyncUsers) -> None:
    def pages(query: dict[str, str], _: int) -> dict[str, Any]:
        if "pageToken" not in query:
            return envelope(
                [user(1), user(2)], hasMore=True, nextPageToken="t1", totalRecordCount=3
            )
        return envelope([user(3)], totalRecordCount=3)

    run, _ = sync_users(pages)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.ids("users") == {1, 2, 3}


def test_a_count_the_pages_do_not_reach_is_an_error(sync_users: SyncUsers) -> None:
    def pages(query: dict[str, str], _: int) -> dict[str, Any]:
        if "pageToken" not in query:
            return envelope(
                [user(1), user(2)], hasMore=True, nextPageToken="t1", totalRecordCount=5
            )
        return envelope([user(3)], totalRecordCount=5)

    line = one_line_error(sync_users(pages)[0])
    assert "after 3 records of the 5" in line


# ------------------------------------------------------- pagination that makes no progress
def fresh_tokens(
    records: Callable[[int], list[dict[str, Any]]],
) -> Callable[[dict[str, str], int], dict[str, Any]]:
    """Issue 28, case 2: a new token on every page, `hasMore` always, a count of 2."""
    tokens = count(1)

    def pages(_: dict[str, str], index: int) -> dict[str, Any]:
        return envelope(
            records(index), hasMore=True, nextPageToken=f"t{next(tokens)}", totalRecordCount=2
        )

    return pages


@pytest.mark.parametrize(
    ("records", "pages_made", "said"),
    [
        pytest.param(
            lambda _: [user(1), user(2)], 3, "no record the listing had not had", id="same"
        ),
        pytest.param(lambda i: [user(1), user(2)] if i == 0 else [], 3, "no record", id="empty"),
        # New ids every page: progress, but far more pages than a count of 2 can explain.
        pytest.param(lambda i: [user(2 * i), user(2 * i + 1)], 4, "totalRecordCount 2", id="new"),
    ],
)
def test_pagination_without_progress_stops_with_one_line(
    sync_users: SyncUsers,
    records: Callable[[int], list[dict[str, Any]]],
    pages_made: int,
    said: str,
) -> None:
    started = time.monotonic()
    run, requests = sync_users(fresh_tokens(records))
    line = one_line_error(run)
    assert said in line
    assert len(requests) == pages_made
    assert time.monotonic() - started < 30


# ------------------------------------------------ malformed envelopes: one line, no traceback
MALFORMED: dict[str, Callable[[dict[str, str], int], Any]] = {
    "pagination null": lambda _q, _i: {"data": [user(1)], "pagination": None},
    "pagination a list": lambda _q, _i: {"data": [user(1)], "pagination": [1, 2]},
    "pagination absent": lambda _q, _i: {"data": [user(1)]},
    "a record without its id": lambda _q, _i: envelope([{"email": "x@y.z"}], hasMore=False),
    "a page token that is an object": lambda _q, _i: envelope(
        [user(1)], hasMore=True, nextPageToken={"cursor": 2}
    ),
    "a page token that is a list": lambda _q, _i: envelope(
        [user(1)], hasMore=True, nextPageToken=["t"]
    ),
    "hasMore a string": lambda _q, _i: envelope([user(1)], hasMore="yes", nextPageToken="t"),
    "hasMore true, no token": lambda _q, _i: envelope([user(1)], hasMore=True),
    "a record that is a list": lambda _q, _i: envelope([[1, 2]], hasMore=False),
    "totalRecordCount a string": lambda _q, _i: envelope([user(1)], totalRecordCount="1"),
    "an error whose `errors` is a number": lambda _q, _i: (400, {"errors": 5}),
    "a body that is a list": lambda _q, _i: [user(1)],
    "`data` an object": lambda _q, _i: {"data": {"userId": 1}, "pagination": {}},
}


@pytest.mark.parametrize("case", MALFORMED)
def test_every_malformed_envelope_is_one_line_never_a_traceback(
    sync_users: SyncUsers, case: str
) -> None:
    line = one_line_error(sync_users(MALFORMED[case])[0])
    assert any(what in line for what in ("report", "run it again", "rejected", "giving up")), line


# ------------------------------------------------------------------ a state it cannot use
@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("{bad", "is not valid JSON"),
        ("[]", "holds a JSON list, not a state object"),
        ('{"bookmarks": []}', "has `bookmarks` list"),
        ('{"bookmarks": {"tasks": 3}}', "has a bookmark for tasks that is a int"),
    ],
)
def test_an_unreadable_state_file_is_one_line_naming_it(
    emulator: Emulator, tmp_path: Path, text: str, said: str
) -> None:
    state = tmp_path / "broken-state.json"
    state.write_text(text)
    run = run_tap(tmp_path, tap_config(emulator), "--state", str(state))
    assert run.returncode != 0
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    [line] = [line for line in run.stderr.splitlines() if line.startswith("Error: ")]
    assert f"--state {state} {said}" in line
    assert "leave --state out" in line
    assert not emulator.request_log


def test_a_bookmark_that_is_not_a_time_is_one_line(emulator: Emulator, tmp_path: Path) -> None:
    config = tap_config(emulator)
    catalog = select(discover(tmp_path, config), ("tasks",))
    state = {"bookmarks": {"tasks": {"replication_key": "updatedAt", "replication_key_value": 7}}}
    run = run_tap(tmp_path, config, catalog=catalog, state=state)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert "Error: tasks: the state's bookmark 7 is not an RFC 3339 date-time" in run.stderr


def test_a_bookmark_ahead_of_the_api_clock_syncs_from_the_api_s_now(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Issue 28, case 7: a bookmark in 2031 filtered out every change until then, silently."""
    config = tap_config(emulator, lookback_minutes=3)
    catalog = select(discover(tmp_path, config), ("tasks",))
    first = run_tap(tmp_path, config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-3000:]
    state = first.final_state
    future = "2031-01-01T00:00:00.000+00:00"
    state["bookmarks"]["tasks"]["replication_key_value"] = future
    task_id = min(emulator.ids("tasks"))
    emulator.touch("tasks", task_id)
    before = emulator.now()
    run = run_tap(tmp_path, config, catalog=catalog, state=state)
    assert run.returncode == 0, run.stderr[-3000:]
    assert task_id in run.ids("tasks")
    [warning] = [line for line in run.stderr.splitlines() if "later than Rocketlane" in line]
    assert f"tasks: the state's bookmark {future} is later than Rocketlane's clock, " in warning
    api_now = warning.split("Rocketlane's clock, ")[1].split(" ")[0]
    assert abs(ms(api_now) - before * 1000) < 10_000
    [request] = [e for e in emulator.request_log if e.resource == "tasks"][-1:]
    assert int(request.params["updatedAt.ge"]) == ms(api_now) - 3 * 60_000
    # The state no longer points past the API's clock: the next sync does not warn again.
    mark = run.final_state["bookmarks"]["tasks"]["replication_key_value"]
    assert ms(mark) <= emulator.now() * 1000
