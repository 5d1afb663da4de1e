"""The main job: a Meltano pipeline, tap-pm -> target-duckdb -> dbt, and what the models say.

Without `TAP_PM_API_KEY` it starts the bundled emulator, loads its workspace into
`output/emulator.duckdb` from scratch and compares every table with the emulator's records
(exit 1 if they differ). With `TAP_PM_API_KEY` set (and optionally `TAP_PM_BASE_URL`) it loads
your real workspace into `output/warehouse.duckdb`, incrementally from Meltano's state; a
warehouse that is new (deleted to start over) or lacks a table is loaded in full, and the state
that sync leaves serves the next incremental one. Either way the same `meltano run` then builds
the dbt models of transform/ (`dbt-duckdb:build`), and the demo prints three answers: the
running projects by budget burn with their margin, this week's utilisation, and who is
over-allocated in the next four weeks. The emulator's workspace has its own "today"
(rocketlane_emulator.data.TODAY); your workspace's is the current date. When a step fails, the
demo prints that step's own error (the dbt tests that failed, the loader's or the tap's
message); Meltano's whole log is in `output/meltano.log`.

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
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rocketlane_emulator import Emulator, Scale  # noqa: E402
from rocketlane_emulator.data import TODAY  # noqa: E402
from tap_pm.tap import STREAM_TYPES  # noqa: E402

MELTANO = ROOT / ".tools" / "meltano" / "bin" / "meltano"
TOOLS_PYTHON = ROOT / ".tools" / "meltano" / "bin" / "python"  # has DuckDB
OUTPUT = ROOT / "output"
SCHEMA = "tap_pm"
MARTS = "analytics"  # the dbt models' schema (dbt-duckdb's target_schema)
DEMO_KEY = "demo-key"
# The streams a sync reads unless told otherwise (meltano.yml selects these), and the opt-in
# ones the models use (money per project, the weeks ahead): the demo selects them all.
STREAMS = [stream.name for stream in STREAM_TYPES if stream.selected_by_default]
OPT_IN = ["invoices", "invoice-lines", "resource-allocations"]
SELECT = json.dumps([f"{stream}.*" for stream in (*STREAMS, *OPT_IN)])

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
marts, today = sys.argv[2], sys.argv[3]
# Projects with time logged whose hours burn their budget fastest, with Rocketlane's margin.
burn = con.execute(f'''
    select project_name, status_label, hours_logged, budgeted_hours, budget_hours_used_ratio,
           progress_percentage, actual_revenue, actual_margin_percent, actual_margin,
           currency_code, outstanding_amount
    from {marts}.rocketlane__projects
    where not is_archived and minutes_logged > 0 and budget_hours_used_ratio is not null
    order by budget_hours_used_ratio desc, project_id limit 5''').fetchall()
# This week: the delivery team (active team members and partners).
week = con.execute(
    "select cast(date_trunc('week', cast(? as date)) as date)", [today]).fetchone()[0]
people = con.execute(f'''
    select w.person_name, w.capacity_minutes, w.time_off_minutes, w.minutes_billable,
           w.minutes_non_billable, w.utilisation, w.iso_year, w.iso_week
    from {marts}.rocketlane__weekly_utilisation as w
    join {marts}.rocketlane__users as u using (user_id)
    where w.week_start = ? and w.capacity_minutes is not null
      and u.user_status = 'ACTIVE' and u.user_type in ('TEAM_MEMBER', 'PARTNER')
    order by w.utilisation desc nulls last, w.person_name''', [week]).fetchall()
over = con.execute(f'''
    select person_name, week_start, allocated_minutes, available_minutes, projects_allocated
    from {marts}.rocketlane__weeks_ahead
    where weeks_ahead between 1 and 4 and is_over_allocated
    order by week_start, allocated_minutes - available_minutes desc, person_name''').fetchall()
print(json.dumps({"burn": burn, "week": week, "people": people, "over": over}, default=str))
"""


def answer(path: Path, today: str) -> None:
    """Print the three answers of the dbt marts, as of `today` (YYYY-MM-DD).

    The running projects by budget burn with their margin, this week's utilisation, and who is
    over-allocated in the next four weeks.
    """
    proc = subprocess.run(
        [str(TOOLS_PYTHON), "-c", ANSWER, str(path), MARTS, today],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        sys.exit(f"could not read the models from {path}: {proc.stderr}")
    data = json.loads(proc.stdout)
    print(f"\nProjects by budget burn, as of {today} ({MARTS}.rocketlane__projects):")
    print(
        f"  {'project':<30}{'status':<13}{'hours':>7}{'budget h':>9}{'burn':>6}{'done':>6}"
        f"{'margin':>8}{'profit':>14}{'owed':>10}"
    )
    for row in data["burn"]:
        name, status, hours, budget, ratio, done, revenue, margin, profit, currency, owed = row
        billed = revenue is not None and float(revenue) != 0
        margin_text = f"{float(margin):.0f}%" if billed and margin is not None else "-"
        profit_text = "-" if profit is None else f"{float(profit):,.0f} {currency or ''}"
        owed_text = "-" if owed is None else f"{float(owed):,.0f}"
        done_text = "-" if done is None else f"{done}%"
        print(
            f"  {name[:28]:<30}{(status or '-')[:12]:<13}{float(hours):>7.0f}{float(budget):>9.0f}"
            f"{float(ratio):>6.0%}{done_text:>6}{margin_text:>8}{profit_text:>14}{owed_text:>10}"
        )
    if not data["burn"]:
        print("  (no project with time logged and a budget)")
    print(
        f"\nUtilisation this week ({data['week']}), the delivery team "
        f"({MARTS}.rocketlane__weekly_utilisation; capacity less time off):"
    )
    if not data["people"]:
        print("  No time logged or time off this week yet.")
    else:
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
    print(f"\nOver-allocated in the next four weeks ({MARTS}.rocketlane__weeks_ahead):")
    if not data["over"]:
        print("  Nobody: every allocation fits its person's available capacity.")
    for name, week_start, allocated, available, projects in data["over"]:
        print(
            f"  {(name or '?')[:26]:<28}week of {week_start[:10]}: {float(allocated) / 60:.1f} h"
            f" allocated on {projects} project(s), {float(available) / 60:.1f} h available"
        )


def report(counts: dict[str, tuple[int, int]], truth: dict[str, int] | None) -> bool:
    """Print rows per stream (and the emulator's count); True when they all agree."""
    header = f"{'stream':<22}{'DuckDB table':<30}{'rows':>7}"
    print(f"\n{header}" + ("" if truth is None else f"{'emulator':>10}"))
    agree = True
    for stream in (*STREAMS, *OPT_IN):
        rows, ids = counts.get(table(stream), (0, 0))
        line = f"{stream:<22}{SCHEMA + '.' + table(stream):<30}{rows:>7}"
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
    env = {**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "TAP_PM__SELECT": SELECT}
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
        today = datetime.now(timezone.utc).date().isoformat()
        answer(path, os.environ.get("DBT_ROCKETLANE_AS_OF_DATE") or today)
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
            TAP_PM__SELECT=SELECT,
            DBT_ROCKETLANE_AS_OF_DATE=TODAY.isoformat(),  # "today" in the emulator's workspace
        )
        # From scratch, and leaving the state of your real workspace's pipeline alone.
        seconds = meltano_run(env, "--full-refresh", "--no-state-update", log_level="error")
        truth = {stream: len(emu.ids(stream)) for stream in (*STREAMS, *OPT_IN)}
    print(
        f"meltano run tap-pm target-duckdb dbt-duckdb:build: {seconds:.0f} s,"
        f" into {path.relative_to(ROOT)}"
    )
    if not report(rows_per_table(path), truth):
        sys.exit("\nDuckDB differs from the emulator's records")
    print("\nEvery table holds exactly the emulator's records, one row per id.")
    answer(path, TODAY.isoformat())


if __name__ == "__main__":
    main()
