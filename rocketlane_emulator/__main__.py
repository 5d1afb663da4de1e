"""Command line: ``python -m rocketlane_emulator --port 8765 --size default``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import TYPE_CHECKING

from .data import Scale
from .faults import RATE_WINDOWS, Faults
from .server import Emulator

if TYPE_CHECKING:
    from types import FrameType

SIZES = {"small": Scale.small, "default": Scale.default, "large": Scale.large}


def _rate_limit(text: str) -> tuple[int, float]:
    try:
        count, window = text.split("/", 1)
        return int(count), float(window)
    except ValueError:
        message = "expected N/W, e.g. 60/60 (N requests per W seconds)"
        raise argparse.ArgumentTypeError(message) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rocketlane_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--size", choices=sorted(SIZES), default="default")
    parser.add_argument(
        "--projects", type=int, default=None, metavar="N",
        help="the large size with N projects (e.g. 3000) instead of --size",
    )  # fmt: skip
    parser.add_argument("--api-key", default="demo-key")
    parser.add_argument("--rate-limit", type=_rate_limit, default=None, metavar="N/W")
    parser.add_argument(
        "--rate-window", choices=RATE_WINDOWS, default="sliding",
        help="how --rate-limit counts: any W seconds (sliding) or clock windows (fixed)",
    )  # fmt: skip
    parser.add_argument("--error-rate", type=float, default=0.0, metavar="F")
    parser.add_argument("--truncate-rate", type=float, default=0.0, metavar="F")
    parser.add_argument("--latency", type=float, default=0.0, metavar="S")
    parser.add_argument("--token-ttl", type=float, default=900.0, metavar="S")
    parser.add_argument(
        "--clock-offset", type=float, default=0.0, metavar="S",
        help="shift the emulator's clock (updatedAt, Date, X-Retry-After) by S seconds",
    )  # fmt: skip
    parser.add_argument(
        "--shapes", choices=("live", "spec"), default="live",
        help="the live API's shapes (default; see spec/live-deviations.md) or the spec's",
    )  # fmt: skip
    parser.add_argument(
        "--drift", action="store_true",
        help="send one value of each unexpected type (drift.py); they are listed at start",
    )  # fmt: skip
    parser.add_argument(
        "--hostile", action="store_true",
        help="send one value of each kind JSON allows that stops naive pipelines (hostile.py)",
    )  # fmt: skip
    parser.add_argument(
        "--unavailable", action="append", default=[], metavar="LIST=STATUS",
        help="answer this list with 403 (feature off) or 404 (withdrawn), e.g. companies=404",
    )  # fmt: skip
    return parser


def _unavailable(pairs: list[str]) -> dict[str, int]:
    try:
        return {name: int(status) for name, status in (p.split("=", 1) for p in pairs)}
    except ValueError:
        message = "--unavailable takes LIST=STATUS, e.g. companies=404"
        raise SystemExit(message) from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    faults = Faults(
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        error_rate=args.error_rate,
        truncate_rate=args.truncate_rate,
        latency_s=args.latency,
        token_ttl_s=args.token_ttl,
    )
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    emulator = Emulator(
        seed=args.seed,
        scale=Scale.large(args.projects) if args.projects else SIZES[args.size](),
        api_key=args.api_key,
        faults=faults,
        host=args.host,
        port=args.port,
        clock_offset_s=args.clock_offset,
        shapes=args.shapes,
        drift=args.drift,
        hostile=args.hostile,
        unavailable=_unavailable(args.unavailable),
    )
    emulator.start()
    banner = f"Rocketlane emulator listening on {emulator.base_url} (api key: {args.api_key})"
    print(banner, flush=True)  # noqa: T201 - the one line callers wait for
    for item in emulator.drifted:
        print(f"drifted: {item.stream} {item.record_id} {item.field} = {item.value!r}", flush=True)  # noqa: T201
    for value in emulator.hostile:
        shown = repr(value.value)[:60]
        print(f"hostile: {value.kind}: {value.stream} {value.record_id} {value.field} = {shown}")  # noqa: T201
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
