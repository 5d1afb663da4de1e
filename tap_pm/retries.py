"""How a failed request is retried: 5xx answers, invalid bodies, connection errors, timeouts.

A 5xx is usually one bad answer: a bare loop asks again at once, and the tap's former first
wait of a whole second made each of them cost more than the fault itself. An outage is
different: the tap must keep trying as long as it always has. So with `max_retries` n and
`retry_backoff_factor` f, the tap makes n retries (n + 1 attempts, each through the request
budget like any request):

- the first n - 1 come quickly: after up to f/8, f/4, f/2, ... seconds (backoff's full
  jitter, so many failing clients do not retry in step);
- the last one waits until f * (2^n - 1) seconds have passed since the first failure, which
  is how long the former schedule (f, 2f, 4f, ...) kept retrying: 7 s by default.

429s are not retries: the client waits as the API asks (budget.py).
"""

from __future__ import annotations

import time
import typing as t

import backoff
import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_pm.errors import mask

if t.TYPE_CHECKING:
    from collections.abc import Callable, Generator

    from backoff.types import Details

DEFAULT_MAX_RETRIES = 3
#: Seconds; retry n of the former schedule waited factor * 2^(n-1), i.e. 1, 2, 4 s.
DEFAULT_BACKOFF_FACTOR = 1
#: The quick retries start at this share of the factor (at most 125 ms by default).
FIRST_RETRY_SHARE = 1 / 8
RETRIABLE_ERRORS = (
    RetriableAPIError,
    ConnectionError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


def retry_window(*, factor: float, retries: int) -> float:
    """Seconds the tap keeps retrying one request: as long as the former schedule did."""
    return float(factor * (2**retries - 1))


def retry_waits(*, factor: float, retries: int) -> Generator[float, t.Any, None]:
    """A backoff wait generator: quick jittered waits, then the last until the window's end."""
    yield 0.0  # backoff primes the generator before the first attempt; not a wait
    started = time.monotonic()  # the first failure: backoff asks for its first wait now
    quick = backoff.expo(factor=factor * FIRST_RETRY_SHARE)
    next(quick)  # primed the same way
    for _ in range(retries - 1):
        yield backoff.full_jitter(next(quick))
    window = retry_window(factor=factor, retries=retries)
    yield max(0.0, window - (time.monotonic() - started))


class RetryingStream(t.Protocol):
    """What the retry policy needs from a stream."""

    name: str

    @property
    def config(self) -> t.Mapping[str, t.Any]:
        """The tap's settings."""

    def backoff_handler(self, details: Details) -> None:
        """Log one retry."""

    def describe(self, response: requests.Response) -> str:
        """One line about an HTTP answer."""


def with_retries(
    stream: RetryingStream, func: Callable[..., t.Any], error: type[Exception]
) -> Callable[..., t.Any]:
    """`func` (the stream's request) retried per the policy above.

    When retries run out, `error` is raised with one line saying what failed.
    """
    retries = int(stream.config.get("max_retries", DEFAULT_MAX_RETRIES))
    factor = float(stream.config.get("retry_backoff_factor", DEFAULT_BACKOFF_FACTOR))
    retrying = backoff.on_exception(
        retry_waits,
        RETRIABLE_ERRORS,
        max_tries=retries + 1,
        jitter=None,  # retry_waits jitters the quick retries and keeps the last one whole
        on_backoff=stream.backoff_handler,
        logger=None,
        factor=factor,
        retries=retries,
    )(func)

    def send(request: requests.PreparedRequest, context: t.Any) -> t.Any:  # noqa: ANN401
        try:
            return retrying(request, context)
        except RETRIABLE_ERRORS as exc:
            msg = (
                f"{stream.name}: giving up after {retries + 1} attempts: "
                f"{describe_failure(stream, exc, request)}."
            )
            raise error(msg) from exc

    return send


def describe_failure(
    stream: RetryingStream, exc: BaseException, request: requests.PreparedRequest
) -> str:
    """What went wrong with a request, on one line (the key is a header, never shown)."""
    response = getattr(exc, "response", None)
    if isinstance(exc, RetriableAPIError) and response is not None:
        return f"{mask(exc)} — {stream.describe(response)}"
    return f"{type(exc).__name__} on {request.method} {mask(request.path_url)} ({mask(exc)})"
