"""What tracking deletions costs, and what a 5xx costs: issue 16's figures, before and after.

Usage (from the repository root, with the project's venv):
    python bench/deletions.py [--python PATH] [--projects 300 3000] [--skip-flaky] [--shapes spec]
`--python` runs the tap-pm of another venv (e.g. main's `.venv/bin/python`) on the same data;
`--shapes spec` serves the spec's shapes, for a tap older than the live ones.

For each size: a full sync, then a nothing-changed incremental sync an hour later (the
default `project_revisit_hours`): its requests, and the size of the state the tap leaves.
Then 5% 5xx answers, no rate limit: tap-pm's wall time beside a bare
requests loop's (bench/raw_loop.py), in the same run, each meeting the seeded faults.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import bench  # noqa: E402 - starts the launcher while this process is small
from bench import KEY, SHIFTED_CLOCK, final_state, run  # noqa: E402
from rocketlane_emulator import Emulator, Faults, Scale  # noqa: E402


def tap(  # noqa: PLR0913 - a command line, spelled out
    python: str,
    emu: Emulator,
    tmp: Path,
    name: str,
    *,
    state: dict | None = None,
    previous_start: float = 0,
) -> bench.Run:
    """Run a venv's tap-pm; with `state`, as the sync an hour after the one that left it.

    An hour after `previous_start` exactly, whatever the previous sync took on this machine:
    the revisit share depends on the time between the two syncs' starts.
    """
    settings = {"api_key": KEY, "base_url": emu.base_url, "max_requests_per_minute": 10**6}
    (tmp / f"{name}.json").write_text(json.dumps(settings))
    args = [str(Path(python).parent / "tap-pm")]
    if state is not None:
        offset = 3600 - (time.time() - previous_start)
        args = [python, str(SHIFTED_CLOCK), str(offset)]
        (tmp / f"{name}-state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp / f"{name}-state.json")]
    args += ["--config", str(tmp / f"{name}.json")]
    return run(args, tmp / f"{name}.out", tmp / f"{name}.err")


def sizes(python: str, projects: int, tmp: Path) -> dict:
    with Emulator(
        seed=1, scale=Scale.large(projects=projects), api_key=KEY, shapes=SHAPES[0]
    ) as emu:
        emu.reset_log()
        started = time.time()
        full = tap(python, emu, tmp, f"full-{projects}")
        full_requests = len(emu.request_log)
        state = final_state(tmp / f"full-{projects}.out")
        emu.reset_log()
        tap(python, emu, tmp, f"incremental-{projects}", state=state, previous_start=started)
        after = final_state(tmp / f"incremental-{projects}.out")
        return {
            "full_requests": full_requests,
            "full_seconds": round(full.seconds, 1),
            "incremental_requests": len(emu.request_log),
            "state_bytes_after_full": len(json.dumps(state)),
            "state_bytes_after_incremental": len(json.dumps(after)),
        }


#: The default workspace with 100 projects: ~330 requests, so 5% of them is ~16 faults (the
#: default size makes 54 requests, too few for 5% to mean anything).
FLAKY_SCALE = Scale(projects=100)


#: The emulator's shapes (`--shapes`).
SHAPES = ["live"]


def flaky(python: str, tmp: Path) -> dict:
    """5% 5xx, default retry settings: tap-pm, then the bare loop on the same seeded faults."""
    result: dict = {}
    with Emulator(seed=1, scale=FLAKY_SCALE, api_key=KEY, shapes=SHAPES[0]) as emu:
        # Without faults first: what the faults add is the difference.
        result["tap_clean_seconds"] = round(tap(python, emu, tmp, "clean").seconds, 2)
        result["raw_clean_seconds"] = round(
            run([sys.executable, str(ROOT / "bench/raw_loop.py"), emu.base_url, KEY], None).seconds,
            2,
        )
        emu.faults = Faults(error_rate=0.05)
        emu.reset_log()
        result["tap_seconds"] = round(tap(python, emu, tmp, "flaky").seconds, 2)
        result["tap_5xx"] = sum(entry.status >= 500 for entry in emu.request_log)
        result["requests"] = len(emu.request_log)
        emu.faults = Faults(error_rate=0.05)
        emu.reset_log()
        raw = run([sys.executable, str(ROOT / "bench/raw_loop.py"), emu.base_url, KEY], None)
        result["raw_seconds"] = round(raw.seconds, 2)
        result["raw_5xx"] = sum(entry.status >= 500 for entry in emu.request_log)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--projects", type=int, nargs="*", default=[300, 3000])
    parser.add_argument("--skip-flaky", action="store_true")
    parser.add_argument("--shapes", choices=("live", "spec"), default="live")
    args = parser.parse_args()
    SHAPES[0] = args.shapes
    tmp = Path(tempfile.mkdtemp(prefix="tap-pm-deletions-"))
    results: dict = {"python": args.python}
    if not args.skip_flaky:
        results["flaky"] = flaky(args.python, tmp)
        print(json.dumps({"flaky": results["flaky"]}), flush=True)
    for projects in args.projects:
        results[f"projects_{projects}"] = sizes(args.python, projects, tmp)
        print(json.dumps({projects: results[f"projects_{projects}"]}), flush=True)
    bench.LAUNCHER.communicate()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
