"""The main job: a Meltano pipeline, tap-pm -> target-duckdb, and rows per stream from DuckDB.

Without `TAP_PM_API_KEY` it starts the bundled emulator, loads its workspace into
`output/emulator.duckdb` from scratch and compares every table with the emulator's records
(exit 1 if they differ). With `TAP_PM_API_KEY` set (and optionally `TAP_PM_BASE_URL`) it loads
your real workspace into `output/warehouse.duckdb`, incrementally from Meltano's state.

`make demo` installs what this needs: the project venv and Meltano in `.tools/meltano`; Meltano
installs tap-pm and target-duckdb into `.meltano/` on first use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rocketlane_emulator import Emulator, Scale  # noqa: E402
from tap_pm.tap import STREAM_TYPES  # noqa: E402

MELTANO = ROOT / ".tools" / "meltano" / "bin" / "meltano"
TOOLS_PYTHON = ROOT / ".tools" / "meltano" / "bin" / "python"  # has DuckDB
OUTPUT = ROOT / "output"
SCHEMA = "tap_pm"
DEMO_KEY = "demo-key"
# The streams a sync reads unless told otherwise (meltano.yml selects these): not the opt-in ones.
STREAMS = [stream.name for stream in STREAM_TYPES if stream.selected_by_default]

COUNT_ROWS = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
tables = [t for (t,) in con.execute(
    "select table_name from information_schema.tables where table_schema = ?", [sys.argv[2]]
).fetchall()]
print(json.dumps({
    t: con.execute(f'select count(*), count(distinct id) from "{sys.argv[2]}"."{t}"').fetchall()[0]
    for t in tables
}))
"""


def table(stream: str) -> str:
    """meltano.yml aliases `time-entries` to `time_entries` etc. for SQL loaders."""
    return stream.replace("-", "_")


def meltano_run(env: dict[str, str], *options: str, log_level: str = "warning") -> float:
    """`meltano run tap-pm target-duckdb` in this project; seconds it took."""
    started = time.monotonic()
    command = [str(MELTANO), f"--log-level={log_level}", "run", *options, "tap-pm", "target-duckdb"]
    if subprocess.run(command, cwd=ROOT, env=env, check=False).returncode:
        sys.exit("meltano run failed; see the messages above")
    return time.monotonic() - started


def rows_per_table(path: Path) -> dict[str, tuple[int, int]]:
    """Rows and distinct ids per table of the tap's schema, read back from DuckDB."""
    proc = subprocess.run(
        [str(TOOLS_PYTHON), "-c", COUNT_ROWS, str(path), SCHEMA],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        sys.exit(f"could not read {path}: {proc.stderr}")
    return {name: (rows, ids) for name, (rows, ids) in json.loads(proc.stdout).items()}


def report(counts: dict[str, tuple[int, int]], truth: dict[str, int] | None) -> bool:
    """Print rows per stream (and the emulator's count); True when they all agree."""
    header = f"{'stream':<18}{'DuckDB table':<24}{'rows':>7}"
    print(f"\n{header}" + ("" if truth is None else f"{'emulator':>10}"))
    agree = True
    for stream in STREAMS:
        rows, ids = counts.get(table(stream), (0, 0))
        line = f"{stream:<18}{SCHEMA + '.' + table(stream):<24}{rows:>7}"
        if truth is not None:
            same = rows == ids == truth[stream]
            agree &= same
            line += f"{truth[stream]:>10}" + ("" if same else "  <- differs")
        print(line)
    return agree


def main() -> None:
    """Load a Rocketlane workspace into DuckDB with Meltano and print rows per stream."""
    if not MELTANO.exists():
        sys.exit("Meltano is not installed: run `make demo`")
    OUTPUT.mkdir(exist_ok=True)
    env = {**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"}
    if os.environ.get("TAP_PM_API_KEY"):
        path = OUTPUT / "warehouse.duckdb"
        env["TARGET_DUCKDB_FILEPATH"] = str(path)
        print(f"Loading your Rocketlane workspace into {path.relative_to(ROOT)} with Meltano")
        seconds = meltano_run(env)
        print(f"meltano run tap-pm target-duckdb: {seconds:.0f} s")
        report(rows_per_table(path), None)
        return

    path = OUTPUT / "emulator.duckdb"
    path.unlink(missing_ok=True)
    # Only the emulator's settings: none of the shell's TAP_PM_* or TARGET_DUCKDB_*.
    env = {k: v for k, v in env.items() if not k.startswith(("TAP_PM_", "TARGET_DUCKDB_"))}
    with Emulator(seed=1, scale=Scale.default(), api_key=DEMO_KEY) as emu:
        print(f"Loading the bundled Rocketlane emulator ({emu.base_url}) into DuckDB with Meltano")
        env.update(
            TAP_PM_API_KEY=DEMO_KEY,
            TAP_PM_BASE_URL=emu.base_url,
            TAP_PM_MAX_REQUESTS_PER_MINUTE="6000",  # the emulator has no rate limit
            TARGET_DUCKDB_FILEPATH=str(path),
        )
        # From scratch, and leaving the state of your real workspace's pipeline alone.
        seconds = meltano_run(env, "--full-refresh", "--no-state-update", log_level="error")
        truth = {stream: len(emu.ids(stream)) for stream in STREAMS}
    print(f"meltano run tap-pm target-duckdb: {seconds:.0f} s, into {path.relative_to(ROOT)}")
    if not report(rows_per_table(path), truth):
        sys.exit("\nDuckDB differs from the emulator's records")
    print("\nEvery table holds exactly the emulator's records, one row per id.")


if __name__ == "__main__":
    main()
