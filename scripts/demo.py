"""The main job: a Meltano pipeline, tap-pm -> target-duckdb -> dbt, and what the models say.

Without `TAP_PM_API_KEY` it starts the bundled emulator, loads its workspace into
`output/emulator.duckdb` from scratch and compares every table with the emulator's records
(exit 1 if they differ). With `TAP_PM_API_KEY` set (and optionally `TAP_PM_BASE_URL`) it loads
your real workspace into `output/warehouse.duckdb`, incrementally from Meltano's state; a
warehouse that is new (deleted to start over) or lacks a table is loaded in full, and the state
that sync leaves serves the next incremental one. Either way the same `meltano run` then builds
the dbt models of transform/ (`dbt-duckdb:build`), and the demo prints the five projects with
the most hours logged and last week's utilisation. When a step fails, the demo prints that
step's own error (the dbt tests that failed, the loader's or the tap's message); Meltano's whole
log is in `output/meltano.log`.

`make demo` installs what this needs: the project venv and Meltano in `.tools/meltano`; Meltano
installs tap-pm, target-duckdb and dbt-duckdb into `.meltano/` on first use.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict, deque
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


LOG = OUTPUT / "meltano.log"
LEVELS = ("debug", "info", "warning", "error", "critical")
BLOCKS = ("tap-pm", "target-duckdb", "dbt-duckdb:build")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
DBT_TIME = re.compile(r"^\d\d:\d\d:\d\d( {2}|$)")  # dbt's own time stamp on each line


def meltano_run(env: dict[str, str], *options: str, log_level: str = "warning") -> float:
    """`meltano run tap-pm target-duckdb dbt-duckdb:build` in this project; seconds it took.

    Meltano logs JSON (all of it to `output/meltano.log`); events at `log_level` or above are
    shown as they come. If a step fails, the demo exits with that step's own error.
    """
    started = time.monotonic()
    command = [str(MELTANO), "--log-level=info", "--log-format=json", "run", *options, *BLOCKS]
    shown = LEVELS[LEVELS.index(log_level) :]
    output: dict[str, deque[str]] = defaultdict(lambda: deque(maxlen=400))  # plugin -> lines
    failed: list[dict] = []
    with (
        LOG.open("w") as log,
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        ) as proc,
    ):
        assert proc.stderr is not None
        for line in proc.stderr:
            log.write(line)
            try:
                event = json.loads(line)
            except ValueError:
                print(line, end="", file=sys.stderr)  # not Meltano's: e.g. an installer's
                continue
            text = ANSI.sub("", str(event.get("event", "")))
            if plugin := event.get("name"):
                output[plugin].append(text)
            if text == "Block run completed" and not event.get("success", True):
                failed.append(event)
            elif event.get("level") in shown:
                print(f"{event['level']}: {plugin or 'meltano'}: {text}", file=sys.stderr)
    if proc.returncode:
        sys.exit(failure(failed, output))
    return time.monotonic() - started


def failure(failed: list[dict], output: dict[str, deque[str]]) -> str:
    """What went wrong, in the words of the step that failed."""
    lines = []
    for block in failed or [{"err": "see the log"}]:
        err = str(block.get("err") or "")
        if err.startswith("`dbt"):
            lines += [f"dbt-duckdb:build failed: {err}", *dbt_errors(output["dbt-duckdb"])]
            continue
        steps = [("Extractor", "tap-pm"), ("Loader", "target-duckdb")]
        for kind, plugin in steps:
            if kind in err:
                lines += [f"{plugin} failed: {plugin_error(output[plugin])}"]
        if not any(kind in err for kind, _ in steps):
            lines += [f"meltano run failed: {err}"]
    lines.append(f"(Meltano's whole log: {LOG.relative_to(ROOT)})")
    return "\n".join(lines)


def dbt_errors(lines: deque[str]) -> list[str]:
    """The summary dbt gives of what failed (tests, models, and why), else its last lines."""
    text = [DBT_TIME.sub("", line).rstrip() for line in lines]
    starts = [i for i, line in enumerate(text) if line.startswith("Completed with")]
    summary = text[starts[-1] :] if starts else text[-15:]
    return [f"  {line.strip()}" for line in summary if line.strip()]


def plugin_error(lines: deque[str]) -> str:
    """A plugin's own error: a tap's one-line `Error: ...`, else its last line (an exception)."""
    text = [line.strip() for line in lines if line.strip()]
    errors = [line for line in text if line.startswith("Error: ")]
    if errors:
        return errors[-1].removeprefix("Error: ")
    return text[-1] if text else "no message; see the log"


def missing_tables(path: Path) -> list[str]:
    """Tables of the default streams that the warehouse lacks (all of them if it is new)."""
    tables = rows_per_table(path) if path.exists() else {}
    return [table(stream) for stream in STREAMS if table(stream) not in tables]


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
        options = []
        if missing := missing_tables(path):
            # Meltano's state is the pipeline's, not the warehouse's: an incremental sync would
            # load only what changed since, into a warehouse that has nothing else.
            what = "is new" if len(missing) == len(STREAMS) else f"lacks {', '.join(missing)}"
            print(f"{path.relative_to(ROOT)} {what}: a full sync; the next ones are incremental")
            options.append("--full-refresh")
        seconds = meltano_run(env, *options)
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
