"""The main job: a Meltano pipeline, tap-pm -> target-duckdb -> dbt, and what the models say.

Without `TAP_PM_API_KEY` it starts the bundled emulator, loads its workspace into
`output/emulator.duckdb` from scratch and compares every table with the emulator's records
(exit 1 if they differ). With `TAP_PM_API_KEY` set (and optionally `TAP_PM_BASE_URL`) it loads
your real workspace into `output/warehouse.duckdb`, incrementally from Meltano's state; a
warehouse that is new (deleted to start over) or lacks a table is loaded in full, and the state
that sync leaves serves the next incremental one. Either way the same `meltano run` then builds
the dbt models of transform/ (`dbt-duckdb:build`), and the demo prints three answers: the
running projects (In progress) by budget burn with their margin, this week's utilisation,
and who is over-allocated this week and in the next four (active people, projects neither
Completed nor Cancelled, hard and soft allocations apart); it writes `output/report.html`, their
charts (scripts/report.py), with the dbt docs beside it (`output/dbt-docs/`). The emulator's
workspace has its own "today" (rocketlane_emulator.data.TODAY); your workspace's is the current
date. When a step fails, the demo prints that step's own error (the dbt tests that failed, the
loader's or the tap's message); Meltano's whole log is in `output/meltano.log`.

`make demo` installs what this needs: the project venv and Meltano in `.tools/meltano`; Meltano
installs tap-pm, target-duckdb and dbt-duckdb into `.meltano/` on first use.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict, deque
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import report  # noqa: E402 - scripts/report.py, beside this file
from rich.console import Console  # noqa: E402
from rich.padding import Padding  # noqa: E402
from rich.table import Table  # noqa: E402

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
DOCS_LINK = "dbt-docs/index.html"  # the dbt docs, beside the report (relative to output/)
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

def rows(sql, params=()):
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]

# Owed per project, a currency on every amount: outstanding per currency of its invoices.
owed = {}
for row in rows(f'''
        select project_id, currency_code, outstanding_amount
        from {marts}.rocketlane__project_currency_amounts
        where outstanding_amount is not null and round(outstanding_amount) <> 0
        order by project_id, currency_code'''):
    owed.setdefault(row["project_id"], []).append([row["currency_code"], row["outstanding_amount"]])
# The running projects (In progress: is_running) whose hours burn their budget fastest.
burn_chart = rows(f'''
    select project_id, project_name, status_label, hours_logged, hours_submitted, hours_approved,
           budgeted_hours, budget_burn, budget_burn_submitted, budget_burn_approved,
           progress_percentage, actual_revenue, actual_margin_percent, actual_profit,
           currency_code
    from {marts}.rocketlane__projects
    where is_running and not is_archived and budget_burn is not null
    order by budget_burn desc, project_id''')
burn = burn_chart[:5]
for row in burn:
    row["owed"] = owed.get(row["project_id"], [])
# This week: the delivery team (active team members and partners).
week = con.execute(
    "select cast(date_trunc('week', cast(? as date)) as date)", [today]).fetchone()[0]
people = rows(f'''
    select w.person_name, w.capacity_minutes, w.time_off_minutes, w.available_minutes,
           w.minutes_logged, w.minutes_billable, w.minutes_non_billable, w.utilisation
    from {marts}.rocketlane__weekly_utilisation as w
    join {marts}.rocketlane__users as u using (user_id)
    where w.week_start = ? and w.capacity_minutes is not null
      and u.user_status = 'ACTIVE' and u.user_type in ('TEAM_MEMBER', 'PARTNER')
    order by w.utilisation desc nulls last, w.person_name''', [week])
# This week and the next four: active people, allocations on projects that are not over
# (Completed or Cancelled), hard and soft apart, against the available time.
ahead_people = f'''
    with open_allocations as (
        select user_id, week_start, sum(hard_allocated_minutes) as hard_allocated_minutes,
               sum(soft_allocated_minutes) as soft_allocated_minutes,
               count(distinct project_id) as projects_allocated
        from {marts}.rocketlane__weeks_ahead_allocations
        where not coalesce(project_is_closed, false) and weeks_ahead between 0 and 4
        group by user_id, week_start
    )
    select w.user_id, w.person_name, cast(w.week_start as varchar) as week_start, w.weeks_ahead,
           w.available_minutes, coalesce(a.hard_allocated_minutes, 0) as hard_allocated_minutes,
           coalesce(a.soft_allocated_minutes, 0) as soft_allocated_minutes,
           coalesce(a.projects_allocated, 0) as projects_allocated
    from {marts}.rocketlane__weeks_ahead as w
    left join open_allocations as a using (user_id, week_start)
    where w.weeks_ahead between 0 and 4 and w.user_status = 'ACTIVE'
      and w.available_minutes is not null'''
over = rows(f'''
    select * from ({ahead_people})
    where hard_allocated_minutes + soft_allocated_minutes > available_minutes
    order by week_start, hard_allocated_minutes + soft_allocated_minutes - available_minutes desc,
             person_name''')
ahead = rows(f'''
    select week_start, sum(available_minutes) as available_minutes,
           sum(hard_allocated_minutes) as hard_allocated_minutes,
           sum(soft_allocated_minutes) as soft_allocated_minutes
    from ({ahead_people}) group by week_start order by week_start''')
print(json.dumps({"burn": burn, "burn_chart": burn_chart, "week": week, "people": people,
                  "people_chart": people, "over": over, "ahead": ahead}, default=str))
"""


def money(amount: object, currency: str | None) -> str:
    """An amount with its currency (every amount the demo prints carries one)."""
    return "-" if amount is None else f"{float(str(amount)):,.0f} {currency or '(no currency)'}"


def show(title: str, columns: list[tuple[str, str]], rows: list[list[str]]) -> None:
    """A table aligned by display width (rich).

    A character of a Japanese or Chinese name, or an emoji, takes two cells of the terminal:
    rich measures them so, and the columns after it stay in line.
    """
    print(f"\n{title}")
    table = Table(box=None, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    for header, justify in columns:
        table.add_column(header, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*row)
    console = Console(width=400, color_system=None, highlight=False, emoji=False, markup=False)
    with console.capture() as captured:
        console.print(Padding(table, (0, 0, 0, 2)))
    print("\n".join(line.rstrip() for line in captured.get().splitlines()))


def percent(value: object) -> str:
    return "-" if value is None else f"{float(str(value)):.0%}"


def burn_rows(burn: list[dict]) -> list[list[str]]:
    rows = []
    for row in burn:
        billed = row["actual_revenue"] is not None and float(row["actual_revenue"]) != 0
        margin = row["actual_margin_percent"]
        owed = " + ".join(money(amount, currency) for currency, amount in row["owed"])
        rows.append(
            [
                row["project_name"],
                row["status_label"] or "-",
                f"{float(row['hours_logged']):.0f}",
                f"{float(row['hours_approved']):.0f}",
                f"{float(row['budgeted_hours']):.0f}",
                percent(row["budget_burn"]),
                percent(row["budget_burn_approved"]),
                "-" if row["progress_percentage"] is None else f"{row['progress_percentage']}%",
                f"{float(margin):.0f}%" if billed and margin is not None else "-",
                money(row["actual_profit"], row["currency_code"]),
                owed or "-",
            ]
        )
    return rows


def answer(path: Path, today: str) -> None:
    """Print the three answers of the dbt marts, as of `today` (YYYY-MM-DD), and write the page.

    The running projects by budget burn with their margin, this week's utilisation, and who is
    over-allocated this week and in the next four; then output/report.html with their charts
    and the dbt docs beside it.
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
    title = (
        f"Running projects (In progress) by budget burn, as of {today} ({MARTS}.rocketlane__"
        "projects; burn counts all hours logged, as Rocketlane does):"
    )
    if not data["burn"]:
        print(f"\n{title}\n  (no project in progress with a budget)")
    else:
        show(
            title,
            [
                ("project", "left"),
                ("status", "left"),
                ("hours", "right"),
                ("approved h", "right"),
                ("budget h", "right"),
                ("burn", "right"),
                ("approved", "right"),
                ("done", "right"),
                ("margin", "right"),
                ("profit", "right"),
                ("owed", "right"),
            ],
            burn_rows(data["burn"]),
        )
    title = (
        f"Utilisation this week ({data['week']}), the delivery team "
        f"({MARTS}.rocketlane__weekly_utilisation; capacity less time off):"
    )
    if not data["people"]:
        print(f"\n{title}\n  No time logged or time off this week yet.")
    else:
        show(
            title,
            [
                ("person", "left"),
                ("capacity h", "right"),
                ("time off h", "right"),
                ("billable h", "right"),
                ("other h", "right"),
                ("use", "right"),
            ],
            [
                [
                    row["person_name"] or "?",
                    f"{row['capacity_minutes'] / 60:.1f}",
                    f"{row['time_off_minutes'] / 60:.1f}",
                    f"{row['minutes_billable'] / 60:.1f}",
                    f"{row['minutes_non_billable'] / 60:.1f}",
                    percent(row["utilisation"]),
                ]
                for row in data["people"]
            ],
        )
    title = (
        "Over-allocated this week and the next four (active people; projects neither Completed"
        f" nor Cancelled; {MARTS}.rocketlane__weeks_ahead and _allocations):"
    )
    if not data["over"]:
        print(f"\n{title}\n  Nobody: every allocation fits its person's available capacity.")
    else:
        show(
            title,
            [
                ("person", "left"),
                ("week of", "left"),
                ("hard h", "right"),
                ("soft h", "right"),
                ("available h", "right"),
                ("projects", "right"),
            ],
            [
                [
                    row["person_name"] or "?",
                    row["week_start"][:10],
                    f"{float(row['hard_allocated_minutes']) / 60:.1f}",
                    f"{float(row['soft_allocated_minutes']) / 60:.1f}",
                    f"{float(row['available_minutes']) / 60:.1f}",
                    str(row["projects_allocated"]),
                ]
                for row in data["over"]
            ],
        )
    page = OUTPUT / "report.html"
    report.write(page, data, today=today, docs=DOCS_LINK if (OUTPUT / DOCS_LINK).exists() else None)
    print(f"\nThe page with their charts: {page}")


def dbt_docs(env: dict[str, str]) -> None:
    """`dbt docs generate --static` on the warehouse, copied beside the report.

    One self-contained page (the manifest and catalog inside, so it opens from a file):
    output/dbt-docs/index.html.
    """
    proc = subprocess.run(
        [str(MELTANO), "invoke", "dbt-duckdb", "docs", "generate", "--static"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        sys.exit(f"dbt docs generate failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    target = OUTPUT / DOCS_LINK
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(ROOT / "transform/target/static_index.html", target)


def rows_report(counts: dict[str, tuple[int, int]], truth: dict[str, int] | None) -> bool:
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
        rows_report(rows_per_table(path), None)
        dbt_docs(env)
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
    if not rows_report(rows_per_table(path), truth):
        sys.exit("\nDuckDB differs from the emulator's records")
    print("\nEvery table holds exactly the emulator's records, one row per id.")
    dbt_docs(env)
    answer(path, TODAY.isoformat())


if __name__ == "__main__":
    main()
