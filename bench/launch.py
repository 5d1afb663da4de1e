"""Run commands on request: one JSON line in, one JSON line out.

Peak RSS survives exec, so a child forked from the benchmark (which holds the emulator's
data) would report the benchmark's size as its own. This small process, started first,
launches the measured commands instead: wall seconds and the child's own peak RSS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

for line in sys.stdin:
    request = json.loads(line)
    stderr = request.get("stderr") or os.devnull
    with open(request["stdout"] or os.devnull, "wb") as out, open(stderr, "wb") as err:  # noqa: PTH123
        started = time.perf_counter()
        child = subprocess.Popen(request["command"], stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    answer = {
        "seconds": seconds,
        "max_rss_mb": usage.ru_maxrss / 1024,
        "exit_code": os.waitstatus_to_exitcode(status),
    }
    print(json.dumps(answer), flush=True)
