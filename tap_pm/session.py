"""The HTTP session: one exchange with the API, bounded in time and size, the key kept home.

- **The key goes only to the configured origin** (scheme, host and port of `base_url`).
  requests follows a redirect with every custom header, so `api-key` would go to whatever
  host a `Location` names; requests strips only `Authorization`. The session follows
  redirects itself: within the origin (each hop through the request budget, at most
  `MAX_REDIRECTS`, never the same URL twice); to another origin, another scheme or plain
  http it refuses with one line naming both origins. Rocketlane's API does not redirect, so
  such an answer is a misconfigured proxy or an attack, and the data it would lead to is not
  Rocketlane's either.
- **A deadline for the whole exchange**: `timeout` bounds connecting, the headers and the
  body together (requests' own bounds only the gap between two bytes). In the main thread a
  timer signal interrupts a read that is still waiting; elsewhere the body is checked
  between chunks.
- **A cap on the body**, after decompression, read in chunks: a gzip bomb stops at the cap.
- **The standard environment**: proxies (`HTTP(S)_PROXY`, `NO_PROXY`) and CA bundles
  (`REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`, then `SSL_CERT_FILE`), as `requests.request`
  applies them; `Session.send`, which the SDK calls, applies neither by itself. They are
  resolved once per scheme and host: requests reads the whole environment again for every
  request (0.16 ms with 35 variables, several times that under Meltano). A certificate that
  does not verify is one line naming the host and the variable to set, not a retry.
"""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
import threading
import time
import typing as t
from urllib.parse import urljoin, urlsplit

import requests
from typing_extensions import override
from urllib3.util import parse_url

from tap_pm.errors import mask

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

#: Hops followed within the origin; Rocketlane itself never redirects.
MAX_REDIRECTS = 5
#: Bytes read at a time: a decompressed chunk is at most this (urllib3 >= 2.6 bounds it).
CHUNK_BYTES = 256 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}
#: Checked in this order; the first one set is the CA bundle (requests reads the first two).
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


class UnsafeAnswerError(Exception):
    """An answer the tap does not act on, whatever it is retried with: one line, no retry."""


class RedirectRefusedError(UnsafeAnswerError):
    """A redirect to another origin, to a non-http URL, or round in a loop."""


class ResponseTooLargeError(UnsafeAnswerError):
    """A body beyond the cap (`max_response_mb`), counted after decompression."""


class CertificateError(UnsafeAnswerError):
    """The server's TLS certificate did not verify."""


class DeadlineExceededError(Exception):
    """Raised by the timer signal inside a read; becomes requests' Timeout."""


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of `url`, read by the parser urllib3 connects with."""
    parts = parse_url(url)
    scheme = (parts.scheme or "").lower()
    return scheme, (parts.host or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)


def show_origin(where: tuple[str, str, int | None]) -> str:
    """An origin as `scheme://host:port`, safe to print."""
    scheme, host, port = where
    return mask(f"{scheme}://{host}:{port}", limit=120)


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise DeadlineExceededError in whatever the main thread waits on after `seconds`."""
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise DeadlineExceededError

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, t.cast("float", seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _certificate_failed(exc: BaseException) -> bool:
    """Whether an SSL error is a certificate that did not verify (not a dropped connection)."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        item = pending.pop()
        if id(item) in seen or not isinstance(item, BaseException):
            continue
        seen.add(id(item))
        if isinstance(item, ssl.SSLCertVerificationError):
            return True
        pending += [*item.args, item.__cause__, item.__context__, getattr(item, "reason", None)]
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


class Session(requests.Session):
    """A requests session for one API origin (see the module docstring)."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        max_body_bytes: int | None = None,
        before_hop: Callable[[], None] | None = None,
    ) -> None:
        """The origin the key may go to, the body cap, and what to do before each hop."""
        super().__init__()
        self.origin = origin(base_url) if base_url else None
        self.max_body_bytes = max_body_bytes
        self.before_hop = before_hop
        self._environments: dict[tuple[str, str], dict[str, t.Any]] = {}

    def environment(self, url: str) -> dict[str, t.Any]:
        """Proxies and CA bundle of the environment for `url`'s scheme and host, once each."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._environments:
            merged = self.merge_environment_settings(url, {}, None, None, None)
            verify = merged["verify"]
            if verify is True and (bundle := os.environ.get("SSL_CERT_FILE")):
                verify = bundle
            self._environments[key] = {
                "proxies": merged["proxies"],
                "verify": verify,
                "cert": merged["cert"],
            }
        return self._environments[key]

    @override
    def send(self, request: requests.PreparedRequest, **kwargs: t.Any) -> requests.Response:
        """Send, following redirects within the origin, in time, within the size cap."""
        timeout = kwargs.pop("timeout", None)
        kwargs.pop("allow_redirects", None)
        visited = {request.url}
        for hop in range(MAX_REDIRECTS + 1):
            response = self._exchange(request, timeout, kwargs)
            if not response.is_redirect:
                return response
            target = self._redirect_target(request, response, visited, hop)
            response.close()
            if self.before_hop:
                self.before_hop()
            request = request.copy()
            request.prepare_url(target, None)
            visited.add(request.url)
        raise AssertionError  # pragma: no cover - the loop returns or raises

    def _redirect_target(
        self,
        request: requests.PreparedRequest,
        response: requests.Response,
        visited: set[str | None],
        hop: int,
    ) -> str:
        """Where a redirect leads, if the key may go there; else RedirectRefusedError."""
        source = request.url or ""
        target = urljoin(source, self.get_redirect_target(response) or "")
        shown = mask(target, limit=200)
        here = self.origin or origin(source)
        there = origin(target)
        if there[0] not in DEFAULT_PORTS:
            status = response.status_code
            msg = f"the API answered HTTP {status} redirecting to {shown}, not an http(s) URL"
            raise RedirectRefusedError(msg)
        if there != here:
            msg = (
                f"the API answered HTTP {response.status_code} redirecting from "
                f"{show_origin(here)} to {show_origin(there)}; tap-pm sends the API key only to "
                "base_url's origin, so it does not follow. Rocketlane's API does not redirect: "
                "check base_url and any proxy in between"
            )
            raise RedirectRefusedError(msg)
        if hop >= MAX_REDIRECTS or target in visited:
            msg = (
                f"the API redirected {hop + 1} times, back to a URL it had already named "
                f"({shown})" if target in visited else
                f"the API redirected more than {MAX_REDIRECTS} times (last to {shown})"
            )  # fmt: skip
            raise RedirectRefusedError(msg)
        return target

    def _exchange(
        self, request: requests.PreparedRequest, timeout: float | None, kwargs: dict[str, t.Any]
    ) -> requests.Response:
        """One request and its whole body, within `timeout` seconds in all."""
        settings = {**self.environment(request.url or ""), **kwargs}
        started = time.monotonic()
        try:
            with deadline(timeout):
                response = super().send(
                    request, timeout=timeout, allow_redirects=False, stream=True, **settings
                )
                if not response.is_redirect:
                    self._read_body(response, None if timeout is None else started + timeout)
        except DeadlineExceededError:
            msg = f"no complete answer within {timeout:g}s (request_timeout)"
            raise requests.exceptions.Timeout(msg, request=request) from None
        except requests.exceptions.SSLError as exc:
            if not _certificate_failed(exc):
                raise
            host = mask(urlsplit(request.url or "").hostname or "?", limit=120)
            msg = (
                f"the TLS certificate of {host} did not verify ({mask(exc, limit=200)}). Behind a "
                "TLS-inspecting proxy, point REQUESTS_CA_BUNDLE (or SSL_CERT_FILE) at a CA "
                "bundle that includes your organisation's CA"
            )
            raise CertificateError(msg) from None
        return response

    def _read_body(self, response: requests.Response, deadline_at: float | None) -> None:
        """Read the body into `response.content`, in chunks, stopping at the cap or deadline."""
        cap = self.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(CHUNK_BYTES):
            size += len(chunk)
            if cap is not None and size > cap:
                response.close()
                msg = (
                    f"the answer to {mask(response.request.path_url, limit=120)} passed "
                    f"{cap / 2**20:g} MB (decompressed) and was not read further; no page of "
                    "Rocketlane's comes near that. Raise max_response_mb if this one is genuine"
                )
                raise ResponseTooLargeError(msg)
            if deadline_at is not None and time.monotonic() > deadline_at:
                response.close()
                raise DeadlineExceededError
            chunks.append(chunk)
        response._content = b"".join(chunks)  # noqa: SLF001 - as requests' own `content` does
