"""The main job: a Meltano pipeline, tap-pm -> target-duckdb -> dbt, and what the models say.

Without `TAP_PM_API_KEY` it starts the bundled emulator, loads its workspace into
`output/emulator.duckdb` from scratch and compares every table with the emulator's records
(exit 1 if they differ). With `TAP_PM_API_KEY` set (and optionally `TAP_PM_BASE_URL`) it loads
your real workspace into `output/warehouse.duckdb`, incrementally from Meltano's state. Either
way the same `meltano run` then builds the dbt models of transform/ (`dbt-duckdb:build`), and
the demo prints the five projects with the most hours logged and last week's utilisation.

`make demo` installs what this needs: the project venv and Meltano in `.tools/meltano`; Meltano
installs tap-pm, target-duckdb and dbt-duckdb into `.meltano/` on first use.
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
MARTS = "analytics"  # the dbt models' schema (dbt-duckdb's target_schema)
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
    """`meltano run tap-pm target-duckdb dbt-duckdb:build` in this project; seconds it took."""
    started = time.monotonic()
    blocks = ["tap-pm", "target-duckdb", "dbt-duckdb:build"]
    command = [str(MELTANO), f"--log-level={log_level}", "run", *options, *blocks]
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


ANSWER = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
marts = sys.argv[2]
top = con.execute(f'''
    select project_name, minutes_logged, minutes_billable, tasks_open, tasks_total,
           tasks_overdue, days_late
    from {marts}.rocketlane__projects
    order by minutes_logged desc, project_id limit 5''').fetchall()
# Last week: the latest ISO week before this one with time logged.
week = con.execute(f'''
    select max(week_start) from {marts}.rocketlane__weekly_utilisation
    where minutes_logged > 0 and week_start < date_trunc('week', current_date)''').fetchone()[0]
people = con.execute(f'''
    select person_name, capacity_minutes, time_off_minutes, minutes_billable,
           minutes_non_billable, utilisation, iso_year, iso_week
    from {marts}.rocketlane__weekly_utilisation
    where week_start = ? and capacity_minutes is not null
    order by utilisation desc nulls last, person_name''', [week]).fetchall()
print(json.dumps({"top": top, "week": week, "people": people}, default=str))
"""


def answer(path: Path) -> None:
    """The dbt marts' answer: most hours logged per project, last week's utilisation."""
    proc = subprocess.run(
        [str(TOOLS_PYTHON), "-c", ANSWER, str(path), MARTS],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        sys.exit(f"could not read the models from {path}: {proc.stderr}")
    data = json.loads(proc.stdout)
    print(f"\nThe five projects with the most hours logged ({MARTS}.rocketlane__projects):")
    print(
        f"  {'project':<40}{'hours':>7}{'billable':>9}{'open/tasks':>12}{'overdue':>8}{'late':>6}"
    )
    for name, minutes, billable, open_, total, overdue, late in data["top"]:
        late_text = "-" if late is None else f"{late}d"
        print(
            f"  {name[:38]:<40}{minutes / 60:>7.1f}{billable / 60:>9.1f}"
            f"{f'{open_}/{total}':>12}{overdue:>8}{late_text:>6}"
        )
    if not data["week"] or not data["people"]:
        print("\nNo time logged before this week: no utilisation to show.")
        return
    year, week = data["people"][0][6], data["people"][0][7]
    print(
        f"\nUtilisation in the week of {data['week'][:10]} ({year}-W{week:02d}), per person "
        f"({MARTS}.rocketlane__weekly_utilisation; capacity less time off):"
    )
    print(
        f"  {'person':<28}{'capacity h':>11}{'time off h':>11}{'billable h':>11}"
        f"{'other h':>9}{'use':>7}"
    )
    for name, capacity, off, billable, other, use, _, _ in data["people"]:
        use_text = "-" if use is None else f"{float(use):.0%}"
        print(
            f"  {(name or '?')[:26]:<28}{capacity / 60:>11.1f}{off / 60:>11.1f}"
            f"{billable / 60:>11.1f}{other / 60:>9.1f}{use_text:>7}"
        )


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
        env["TARGET_DUCKDB_FILEPATH"] = env["DBT_DUCKDB_PATH"] = str(path)
        print(f"Loading your Rocketlane workspace into {path.relative_to(ROOT)} with Meltano")
        seconds = meltano_run(env)
        print(f"meltano run tap-pm target-duckdb dbt-duckdb:build: {seconds:.0f} s")
        report(rows_per_table(path), None)
        answer(path)
        return

    path = OUTPUT / "emulator.duckdb"
    path.unlink(missing_ok=True)
    # Only the emulator's settings: none of the shell's TAP_PM_* or TARGET_DUCKDB_*.
    env = {k: v for k, v in env.items() if not k.startswith(("TAP_PM_", "TARGET_DUCKDB_", "DBT_"))}
    with Emulator(seed=1, scale=Scale.default(), api_key=DEMO_KEY) as emu:
        print(f"Loading the bundled Rocketlane emulator ({emu.base_url}) into DuckDB with Meltano")
        env.update(
            TAP_PM_API_KEY=DEMO_KEY,
            TAP_PM_BASE_URL=emu.base_url,
            TAP_PM_MAX_REQUESTS_PER_MINUTE="6000",  # the emulator has no rate limit
            TARGET_DUCKDB_FILEPATH=str(path),
            DBT_DUCKDB_PATH=str(path),
        )
        # From scratch, and leaving the state of your real workspace's pipeline alone.
        seconds = meltano_run(env, "--full-refresh", "--no-state-update", log_level="error")
        truth = {stream: len(emu.ids(stream)) for stream in STREAMS}
    print(
        f"meltano run tap-pm target-duckdb dbt-duckdb:build: {seconds:.0f} s,"
        f" into {path.relative_to(ROOT)}"
    )
    if not report(rows_per_table(path), truth):
        sys.exit("\nDuckDB differs from the emulator's records")
    print("\nEvery table holds exactly the emulator's records, one row per id.")
    answer(path)


if __name__ == "__main__":
    main()
