"""Benchmark the dbt models on DuckDB at the emulator's large size.

Loads the large workspace (300 projects, 60,000 tasks, 40,000 time entries, and the opt-in
invoices, invoice lines and resource allocations the models use) with `meltano run tap-pm
target-duckdb`, then times `meltano invoke dbt-duckdb build` (models, snapshots and their tests)
on it, twice: the first includes dbt's parse of the project and creates the snapshots, the second
reuses the parse and adds to the snapshots (nothing changed). Target: under a minute. Run from the
repository root (`make bench`); Meltano from .tools/meltano.

Usage: python bench/dbt_build.py [--out bench/results/dbt.json] [--warehouse FILE]
(`--warehouse`: time the build on a file an earlier run loaded, without loading again)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rocketlane_emulator import Emulator, Scale  # noqa: E402
from rocketlane_emulator.data import TODAY  # noqa: E402

KEY = "bench-key"
MELTANO = ROOT / ".tools" / "meltano" / "bin" / "meltano"
TARGET_SECONDS = 60
# The nine streams and the opt-in ones the models use (as `make demo` loads them).
STREAMS = (
    "projects", "spaces", "phases", "space-documents", "tasks", "time-entries", "users",
    "fields", "time-offs", "invoices", "invoice-lines", "resource-allocations",
)  # fmt: skip


def meltano(*args: str, env: dict[str, str]) -> float:
    """Run `meltano ARGS` in this project; seconds it took."""
    started = time.monotonic()
    proc = subprocess.run(
        [str(MELTANO), "--log-level=warning", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        sys.exit(f"meltano {' '.join(args)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/dbt.json")
    parser.add_argument("--warehouse", type=Path, help="a DuckDB file already loaded")
    args = parser.parse_args()
    if not MELTANO.exists():
        sys.exit("Meltano is not installed: run `make tools`")
    path = args.warehouse or Path(tempfile.mkdtemp(prefix="tap-pm-dbt-bench-")) / "warehouse.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_PM_", "TARGET_", "DBT_"))}
    env.update(
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        TARGET_DUCKDB_FILEPATH=str(path),
        DBT_DUCKDB_PATH=str(path),
    )
    meltano("install", "tap-pm", "target-duckdb", "dbt-duckdb", env=env)
    with Emulator(seed=1, scale=Scale.large(), api_key=KEY) as emu:
        env.update(
            TAP_PM_API_KEY=KEY,
            TAP_PM_BASE_URL=emu.base_url,
            TAP_PM_MAX_REQUESTS_PER_MINUTE="1000000",
            TAP_PM__SELECT=json.dumps([f"{stream}.*" for stream in STREAMS]),
            # The emulator's "today": its time logged and allocations ahead are around it.
            DBT_ROCKETLANE_AS_OF_DATE=TODAY.isoformat(),
        )
        records = {
            s: len(emu.ids(s))
            for s in (
                "projects",
                "tasks",
                "time-entries",
                "users",
                "invoices",
                "resource-allocations",
            )
        }
        load = 0.0  # with --warehouse, loaded before
        if not args.warehouse:
            load = meltano(
                "run", "--full-refresh", "--no-state-update", "tap-pm", "target-duckdb", env=env
            )
    first = meltano("invoke", "dbt-duckdb", "build", env=env)
    graph = json.loads((ROOT / "transform/target/run_results.json").read_text())["elapsed_time"]
    second = meltano("invoke", "dbt-duckdb", "build", env=env)
    results = {
        "records": records,
        "load_seconds": load,
        "dbt_build_seconds": first,
        "dbt_build_again_seconds": second,
        "dbt_graph_seconds": graph,  # models and tests, without dbt's start-up and parse
        "target_seconds": TARGET_SECONDS,
    }
    print(
        f"large workspace ({records['tasks']:,} tasks, {records['time-entries']:,} time entries):"
        f" load {load:.0f} s; `meltano invoke dbt-duckdb build` {first:.1f} s"
        f" ({second:.1f} s again; models and tests {graph:.1f} s), target < {TARGET_SECONDS} s"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
