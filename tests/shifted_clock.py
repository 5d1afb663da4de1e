"""Run `tap-pm` with its clock shifted: `python tests/shifted_clock.py SECONDS TAP-ARGS...`.

Like `faketime -f +300s tap-pm ...`, without a system package: every clock the tap reads
(`time.time`, `datetime.now`) runs SECONDS ahead (negative: behind) and keeps ticking.
"""

import sys
from datetime import datetime, timedelta, timezone

import time_machine

from tap_pm.tap import TapPM

if __name__ == "__main__":
    offset = timedelta(seconds=float(sys.argv[1]))
    sys.argv = ["tap-pm", *sys.argv[2:]]
    with time_machine.travel(datetime.now(timezone.utc) + offset, tick=True):
        TapPM.cli()
