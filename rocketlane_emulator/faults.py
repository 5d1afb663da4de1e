"""Switchable misbehaviour: rate limiting, server errors, truncated bodies, latency."""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate
from random import Random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

RETRY_AFTER_STYLES = ("x-retry-after", "retry-after-seconds", "retry-after-date")
#: How a rate window counts: "sliding" (any W seconds) or "fixed" (clock windows: W = 60 is
#: each clock minute, on the emulator's clock). Rocketlane documents a per-minute window, not
#: which kind it is.
RATE_WINDOWS = ("sliding", "fixed")
SERVER_ERRORS = (
    (
        500,
        "INTERNAL_SERVER_ERROR",
        "Server Error: Something went wrong on our end. Could not perform the requested action.",
    ),
    (502, "BAD_GATEWAY", "Bad Gateway: The upstream service returned an invalid response."),
    (503, "SERVICE_UNAVAILABLE", "Service Unavailable: Please try again later."),
    (504, "GATEWAY_TIMEOUT", "Gateway Timeout: The upstream service did not respond in time."),
)


@dataclass
class Faults:
    """Fault switches; fields may be changed at any time while the server runs."""

    # At most N accepted requests per window of W seconds per api key.
    rate_limit: tuple[int, float] | None = None
    # "sliding": in any W seconds; a 429 says to come back when the oldest accepted request
    # leaves the window. "fixed": in each clock window [k*W, (k+1)*W) of the emulator's clock;
    # a 429 says to come back when the next one starts.
    rate_window: str = "sliding"
    # How a 429 says when to come back: "x-retry-after" (Rocketlane: epoch ms),
    # "retry-after-seconds" (Retry-After: <int>) or "retry-after-date" (Retry-After: HTTP-date).
    retry_after_style: str = "x-retry-after"
    error_rate: float = 0.0  # fraction of requests answered with a random 500/502/503/504
    truncate_rate: float = 0.0  # fraction of 200 responses cut short
    latency_s: float = 0.0  # delay added to every request
    token_ttl_s: float = 900.0  # page token lifetime
    vanish_projects: set[int] = field(
        default_factory=set
    )  # deleted right after a /projects page shows them
    fault_seed: int = 0


class FaultState:
    """Runtime state behind :class:`Faults`: the seeded RNG and the rate-limit windows."""

    def __init__(self, seed: int, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._rng = Random(seed)
        self._windows: dict[str, deque[float]] = {}
        self._fixed: dict[str, tuple[int, int]] = {}  # api key -> (clock window, accepted)

    def reset_windows(self) -> None:
        """Forget every accepted request: each api key starts with its whole allowance."""
        with self._lock:
            self._windows.clear()
            self._fixed.clear()

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._rng = Random(seed)

    def chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def server_error(self) -> tuple[int, str, str]:
        with self._lock:
            return self._rng.choice(SERVER_ERRORS)

    def cut_point(self, length: int) -> int:
        """A truncation length in [1, length - 1] (may split a multi-byte UTF-8 character)."""
        with self._lock:
            return self._rng.randrange(1, max(2, length))

    def admit(
        self, api_key: str, limit: tuple[int, float] | None, kind: str = "sliding"
    ) -> float | None:
        """Record a request; return None if accepted, else the epoch time it would be."""
        if limit is None:
            return None
        if kind not in RATE_WINDOWS:
            message = f"unknown rate window {kind!r}; expected one of {', '.join(RATE_WINDOWS)}"
            raise ValueError(message)
        max_requests, window = limit
        now = self._clock()
        with self._lock:
            if kind == "fixed":
                index = math.floor(now / window)
                current, accepted_in = self._fixed.get(api_key, (index, 0))
                if current != index:
                    accepted_in = 0
                if accepted_in < max_requests:
                    self._fixed[api_key] = (index, accepted_in + 1)
                    return None
                return (index + 1) * window
            accepted = self._windows.setdefault(api_key, deque())
            while accepted and accepted[0] <= now - window:
                accepted.popleft()
            if len(accepted) < max_requests:
                accepted.append(now)
                return None
            return accepted[0] + window if accepted else now + window


def retry_after_headers(style: str, retry_at: float, now: float) -> dict[str, str]:
    """Headers telling a rate-limited client when to retry (times in the emulator's clock)."""
    if style == "retry-after-seconds":
        return {"Retry-After": str(max(1, math.ceil(retry_at - now)))}
    if style == "retry-after-date":
        return {"Retry-After": formatdate(math.ceil(retry_at), usegmt=True)}
    return {"X-Retry-After": str(math.ceil(retry_at * 1000))}
