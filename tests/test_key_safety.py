"""The API key goes to the configured origin and nowhere else, whatever a server answers.

Each case runs the real CLI against small servers on loopback addresses (tests/
hostile_servers.py): an honest one forwarding to the emulator, and the one it misbehaves
with. Each asserts where the key arrived (server side) and that it is in no byte of stdout,
stderr or state, and that the tap ended in one line, never a traceback.
"""

from __future__ import annotations

import gzip
import json
import time
from typing import TYPE_CHECKING, Any

import pytest
import trustme
from conftest import API_KEY, TapRun, discover, run_tap, select
from hostile_servers import Handler, HostileServer, Servers

from rocketlane_emulator import Emulator, Scale

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

LEVELS = ("INFO", "DEBUG")


@pytest.fixture(scope="module")
def upstream() -> Iterator[Emulator]:
    with Emulator(seed=3, scale=Scale.small(), api_key=API_KEY) as emu:
        yield emu


@pytest.fixture(scope="module")
def users_only(upstream: Emulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A catalog selecting `users`: one request per sync."""
    config = {"api_key": API_KEY, "base_url": upstream.base_url}
    return select(discover(tmp_path_factory.mktemp("catalog"), config), ("users",))


@pytest.fixture
def servers() -> Iterator[Servers]:
    started = Servers()
    yield started
    started.close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def origin(emu: Emulator) -> str:
    return f"http://{emu.host}:{emu.port}"


def config_for(base_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "api_key": API_KEY,
        "base_url": base_url,
        "max_retries": 1,
        "retry_backoff_factor": 0.01,
        "request_timeout": 10,
        "max_requests_per_minute": 100_000,
        **overrides,
    }


def sync(
    tmp_path: Path, config: dict[str, Any], catalog: dict[str, Any], *args: str, **kwargs: Any
) -> TapRun:
    return run_tap(tmp_path, config, *args, catalog=catalog, timeout=120, **kwargs)


def assert_one_line_failure(run: TapRun, *needles: str) -> str:
    assert run.returncode != 0
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, run.stderr[-3000:]
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def assert_key_only_at(servers: Servers, *allowed: HostileServer) -> None:
    for server in servers.started:
        if server not in allowed:
            assert server.keys_received() == [], f"the key reached {server.origin}"


# 1. Redirects to another host or port -------------------------------------------------


@pytest.mark.parametrize("status", [302, 307])
@pytest.mark.parametrize("elsewhere", ["127.0.0.2", "localhost"])
def test_a_redirect_to_another_origin_is_refused_without_the_key(
    upstream: Emulator,
    users_only: dict[str, Any],
    servers: Servers,
    tmp_path: Path,
    status: int,
    elsewhere: str,
) -> None:
    other = servers.add(HostileServer(elsewhere, upstream=origin(upstream)))
    home = servers.add(
        HostileServer(behave=lambda h: h.redirect(f"{other.origin}{h.path}", status))
    )
    run = sync(tmp_path, config_for(home.base_url), users_only)
    line = assert_one_line_failure(run, "users:", home.origin, other.origin, "does not follow")
    assert f"HTTP {status}" in line
    assert other.seen == [], "the tap followed a redirect to another origin"
    assert_key_only_at(servers, home)
    assert run.records("users") == []
    assert not any(m["type"] == "ACTIVATE_VERSION" for m in run.messages)


def test_a_redirect_within_the_origin_is_followed(
    upstream: Emulator, users_only: dict[str, Any], servers: Servers, tmp_path: Path
) -> None:
    def moved(h: Handler) -> bool:
        if h.path.startswith("/moved/"):
            h.path = h.path.removeprefix("/moved")
            return False  # the honest answer
        h.redirect(f"/moved{h.path}", 301)
        return True

    home = servers.add(HostileServer(upstream=origin(upstream), behave=moved))
    run = sync(tmp_path, config_for(home.base_url), users_only)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.ids("users") == upstream.ids("users")
    assert [s.path.split("?")[0] for s in home.seen] == ["/api/1.0/users", "/moved/api/1.0/users"]
    assert home.keys_received() == [API_KEY, API_KEY]


@pytest.mark.parametrize(
    ("location", "needle"),
    [
        (lambda h: h.path, "already named"),  # itself
        (
            lambda h: h.path.removesuffix("&n=1") if h.path.endswith("&n=1") else f"{h.path}&n=1",
            "already named",
        ),
        (lambda h: f"{h.path}&n={len(h.server.seen)}", "more than 5 times"),
        (lambda _: "file:///etc/passwd", "not an http(s) URL"),
        (lambda _: "gopher://127.0.0.1:70/x", "not an http(s) URL"),
    ],
    ids=["to-itself", "two-step-loop", "endless-chain", "file", "gopher"],
)
def test_redirect_loops_and_other_schemes_end_in_one_line(
    users_only: dict[str, Any],
    servers: Servers,
    tmp_path: Path,
    location: Callable[[Handler], str],
    needle: str,
) -> None:
    home = servers.add(HostileServer(behave=lambda h: h.redirect(location(h))))
    run = sync(tmp_path, config_for(home.base_url), users_only)
    assert_one_line_failure(run, "users:", needle)
    assert len(home.seen) <= 6  # one request and at most five hops: never a loop


# 2. From https to plain http ----------------------------------------------------------


@pytest.mark.parametrize("elsewhere", ["127.0.0.1", "127.0.0.2"])
def test_a_redirect_from_https_to_http_is_refused(
    upstream: Emulator,
    users_only: dict[str, Any],
    servers: Servers,
    tmp_path: Path,
    ca: trustme.CA,
    ca_file: str,
    elsewhere: str,
) -> None:
    plain = servers.add(HostileServer(elsewhere, upstream=origin(upstream)))
    home = servers.add(
        HostileServer(
            behave=lambda h: h.redirect(f"{plain.origin}{h.path}", 307),
            tls=ca.issue_cert("127.0.0.1"),
        )
    )
    run = sync(tmp_path, config_for(home.base_url), users_only, env={"REQUESTS_CA_BUNDLE": ca_file})
    assert_one_line_failure(run, "users:", home.origin, plain.origin)
    assert plain.seen == []
    assert_key_only_at(servers, home)


# 3. The key echoed in error answers ---------------------------------------------------


def echoing(status: int) -> Callable[[Handler], None]:
    """An error answer that echoes the request's headers, and a line break to forge a log."""

    def behave(h: Handler) -> None:
        headers = "; ".join(f"{k}: {v}" for k, v in h.headers.items())
        message = f"denied ({headers}) \nFORGED 2026-01-01 INFO all is well"
        h.reply(
            status,
            {"errors": [{"errorMessage": message, "field": json.dumps(dict(h.headers))}]},
            {"X-Request-Id": f"req-{API_KEY}\x85FORGED"},
        )

    return behave


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("status", [400, 401, 403, 404, 500])
def test_an_error_answer_that_echoes_the_key_prints_it_nowhere(
    users_only: dict[str, Any], servers: Servers, tmp_path: Path, status: int, level: str
) -> None:
    home = servers.add(HostileServer(behave=echoing(status)))
    run = sync(tmp_path, config_for(home.base_url), users_only, env={"TAP_PM_LOGLEVEL": level})
    line = assert_one_line_failure(run, "users:", f"HTTP {status}", "denied (")
    assert "***" in line  # the echoed key, hidden
    assert not any(row.startswith("FORGED") for row in run.stderr.splitlines())
    assert "\\n" in line  # the newline shown escaped, on the error's own line
    if status == 500:  # retried: the retry warning masks it too
        assert "retry 1 of 1" in run.stderr
    assert_key_only_at(servers, home)  # nothing else there; the text check is run_tap's


@pytest.mark.parametrize("mode", ["--test", "--check-live"])
def test_test_and_live_check_mask_an_echoed_key(
    users_only: dict[str, Any], servers: Servers, tmp_path: Path, mode: str
) -> None:
    home = servers.add(HostileServer(behave=echoing(403)))
    run = sync(tmp_path, config_for(home.base_url), users_only, mode)
    assert_one_line_failure(run, "HTTP 403", "***")
    assert not any(row.startswith("FORGED") for row in run.stderr.splitlines())


def test_a_huge_page_token_is_capped_in_the_error_line(
    users_only: dict[str, Any], servers: Servers, tmp_path: Path
) -> None:
    token = "t" * 100_000 + API_KEY

    def behave(h: Handler) -> None:
        if "pageToken" in h.path:
            h.reply(500, {"errors": [{"errorMessage": token}]})
        else:
            h.reply(200, {"data": [], "pagination": {"hasMore": True, "nextPageToken": token}})

    home = servers.add(HostileServer(behave=behave))
    config = config_for(home.base_url)
    run = sync(tmp_path, config, users_only)
    # The token comes back in the error line (this server refuses so long a URL: HTTP 414).
    line = assert_one_line_failure(run, "users:", "pageToken=ttt", "characters)")
    assert len(line) < 2_000
    assert len(run.stderr) < 50_000


# 4. A key pasted with a newline, and keys no header can carry -------------------------


def test_a_key_with_a_trailing_newline_is_stripped(
    upstream: Emulator, users_only: dict[str, Any], tmp_path: Path
) -> None:
    run = sync(tmp_path, config_for(upstream.base_url, api_key=f"{API_KEY}\n"), users_only)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.ids("users") == upstream.ids("users")
    assert "api_key had whitespace around it" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("bad", ["\x01", "\r\nX-Injected: 1", "é", "\u2028", " "])
def test_a_key_no_header_can_carry_is_refused_in_one_masked_line(
    users_only: dict[str, Any], tmp_path: Path, bad: str
) -> None:
    key = f"{API_KEY[:10]}{bad}{API_KEY[10:]}"
    run = sync(tmp_path, config_for("http://127.0.0.1:9/api/1.0", api_key=key), users_only)
    assert_one_line_failure(run, "api_key holds characters no HTTP header may carry")
    assert API_KEY[:10] not in run.stderr  # no part of the key either
    assert API_KEY[10:] not in run.stderr


# 5. A base_url two parsers read differently -------------------------------------------


def test_a_base_url_with_a_backslash_before_an_at_is_refused(
    upstream: Emulator, users_only: dict[str, Any], servers: Servers, tmp_path: Path
) -> None:
    approved = servers.add(HostileServer(upstream=origin(upstream)))
    other = servers.add(HostileServer("127.0.0.2", upstream=origin(upstream)))
    base_url = f"http://127.0.0.2:{other.port}\\@127.0.0.1:{approved.port}/api/1.0"
    run = sync(tmp_path, config_for(base_url), users_only)
    assert_one_line_failure(run, "base_url", "backslash")
    assert other.seen == []
    assert approved.seen == []


@pytest.mark.parametrize(
    "base_url",
    [
        "https://user:s3cret-pass@api.rocketlane.com/api/1.0",
        "http://user:s3cret-pass@127.0.0.1:9/api/1.0",
        "https://:s3cret-pass@api.rocketlane.com/api/1.0",
    ],
)
def test_a_base_url_with_credentials_is_refused_without_printing_them(
    users_only: dict[str, Any], tmp_path: Path, base_url: str
) -> None:
    run = sync(tmp_path, config_for(base_url), users_only)
    assert_one_line_failure(run, "base_url", "user name or password")
    assert "s3cret-pass" not in run.stderr + run.stdout


@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.2:9/api/1.0", "http://[::1]:9/api/1.0", "http://localhost:9/x"]
)
def test_plain_http_to_any_loopback_address_is_allowed(
    users_only: dict[str, Any], tmp_path: Path, base_url: str
) -> None:
    run = sync(tmp_path, config_for(base_url, max_retries=0), users_only)
    assert_one_line_failure(run, "giving up")  # it tried: nothing listens there


def test_plain_http_to_a_remote_host_is_refused(users_only: dict[str, Any], tmp_path: Path) -> None:
    run = sync(tmp_path, config_for("http://api.rocketlane.com/api/1.0"), users_only)
    assert_one_line_failure(run, "plain http to a remote host")


# 6. The standard TLS environment ------------------------------------------------------


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"])
def test_a_custom_ca_bundle_from_the_environment_is_used(
    upstream: Emulator,
    users_only: dict[str, Any],
    servers: Servers,
    tmp_path: Path,
    ca: trustme.CA,
    ca_file: str,
    variable: str,
) -> None:
    home = servers.add(HostileServer(upstream=origin(upstream), tls=ca.issue_cert("127.0.0.1")))
    env = {"REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": "", "SSL_CERT_FILE": "", variable: ca_file}
    run = sync(tmp_path, config_for(home.base_url), users_only, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.ids("users") == upstream.ids("users")


def test_a_certificate_that_does_not_verify_is_one_line_and_not_retried(
    upstream: Emulator, users_only: dict[str, Any], servers: Servers, tmp_path: Path, ca: trustme.CA
) -> None:
    home = servers.add(HostileServer(upstream=origin(upstream), tls=ca.issue_cert("127.0.0.1")))
    env = {"REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": "", "SSL_CERT_FILE": ""}
    run = sync(tmp_path, config_for(home.base_url, max_retries=3), users_only, env=env)
    assert_one_line_failure(run, "127.0.0.1", "REQUESTS_CA_BUNDLE", "did not verify")
    assert "retry" not in run.stderr
    assert home.connections == 1


# Deadlines and caps (issue 28): a slow or huge answer ends in one line ------------------


def test_a_body_that_trickles_is_cut_at_the_request_timeout(
    users_only: dict[str, Any], servers: Servers, tmp_path: Path
) -> None:
    def trickle(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", "1000")
        h.end_headers()
        for _ in range(1000):
            h.wfile.write(b" ")
            h.wfile.flush()
            time.sleep(0.5)

    home = servers.add(HostileServer(behave=trickle))
    started = time.monotonic()
    run = sync(tmp_path, config_for(home.base_url, request_timeout=2, max_retries=1), users_only)
    took = time.monotonic() - started
    assert_one_line_failure(run, "users: giving up after 2 attempts", "within 2s")
    assert len(home.seen) == 2
    assert took < 60  # two attempts of 2 s, not 1,000 half-seconds each


def test_headers_that_trickle_are_cut_at_the_request_timeout(
    users_only: dict[str, Any], servers: Servers, tmp_path: Path
) -> None:
    def trickle(h: Handler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for n in range(1000):
            h.wfile.write(f"X-Slow-{n}: 1\r\n".encode())
            h.wfile.flush()
            time.sleep(0.5)

    home = servers.add(HostileServer(behave=trickle))
    run = sync(tmp_path, config_for(home.base_url, request_timeout=2, max_retries=0), users_only)
    assert_one_line_failure(run, "users: giving up after 1 attempts", "within 2s")


def test_a_gzip_bomb_stops_at_the_size_cap(
    users_only: dict[str, Any], servers: Servers, tmp_path: Path
) -> None:
    bomb = gzip.compress(b'{"data": [' + b" " * (32 * 2**20) + b"]}", compresslevel=9)

    def behave(h: Handler) -> None:
        h.reply(200, bomb, {"Content-Encoding": "gzip"})

    home = servers.add(HostileServer(behave=behave))
    run = sync(tmp_path, config_for(home.base_url, max_response_mb=2), users_only)
    assert_one_line_failure(run, "users:", "passed 2 MB (decompressed)", "max_response_mb")
    assert len(home.seen) == 1  # not retried: the same answer would come again
