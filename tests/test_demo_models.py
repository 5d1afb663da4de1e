"""`make demo` (scripts/demo.py) in a copy of the project, as a fresh clone runs it.

On the bundled emulator it prints the three answers: the running projects by budget burn with
their margin, this week's utilisation, and who is over-allocated this week and in the next four
(checked against a computation from the emulator's records), and writes output/report.html:
a real headless Chromium (Debian's `chromium`) opens it, takes a screenshot, and the charts it
drew and the numbers in the page must equal the marts. With `TAP_PM_API_KEY` set (here: the
emulator as "your workspace"), a second run syncs incrementally into the same warehouse and adds
to the history.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import marts_expected as expected
import pytest
import report_page
from conftest import API_KEY
from rich.cells import cell_len
from test_meltano import MELTANO, TOOLS_PYTHON, clean_env, copy_demo_project, read_duckdb

from rocketlane_emulator import Emulator, Scale
from rocketlane_emulator.data import TODAY

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """The project's files a clone has, with this checkout's tools (.tools: Meltano)."""
    assert MELTANO.exists(), "run `make test` (it installs Meltano into .tools/meltano)"
    return copy_demo_project(tmp_path_factory.mktemp("demo") / "tap-pm")


def demo(clone: Path, **env: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(clone / "scripts/demo.py")],
        cwd=clone,
        env={**{k: v for k, v in clean_env().items() if not k.startswith("DBT_")}, **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert API_KEY not in proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def section(stdout: str, heading: str) -> list[str]:
    """The lines printed under the heading that starts with `heading`."""
    text = stdout.split("\n" + heading, 1)[1]
    return text.split("\n\n", 1)[0].splitlines()[1:]


@pytest.fixture(scope="module")
def emulator_demo(clone: Path) -> str:
    """One `make demo` on the emulator (its output), which the tests below read."""
    return demo(clone)


def test_demo_on_the_emulator_prints_the_three_answers(clone, emulator_demo):
    stdout = emulator_demo
    assert "Every table holds exactly the emulator's records" in stdout
    for stream in ("invoices", "invoice-lines", "resource-allocations"):  # loaded for the models
        assert f"\n{stream} " in stdout, stream
    burn = section(stdout, "Running projects (In progress) by budget burn, as of 2025-12-12")
    week = section(stdout, "Utilisation this week (2025-12-08)")
    over = section(stdout, "Over-allocated this week and the next four")
    with Emulator(seed=1, scale=Scale.default(), api_key=API_KEY) as emu:
        users = {u["userId"]: u for u in emu.truth("users")}
        team = {
            uid
            for uid, u in users.items()
            if u["status"] == "ACTIVE" and u["type"] in ("TEAM_MEMBER", "PARTNER")
        }
        money = expected.project_money(emu, invoices=True)
        archived = {p["projectId"] for p in emu.truth("projects") if p.get("archived")}
        names = {p["projectId"]: p["projectName"] for p in emu.truth("projects")}
        plan = expected.weeks_ahead(emu, TODAY, allocations=True)
        per_project = expected.weeks_ahead_allocations(emu, TODAY)
    # Burn: the projects In progress (not archived, with a budget), fastest first.
    running = sorted(
        (-row["budget_burn"], pid)
        for pid, row in money.items()
        if row["_text"]["is_running"] and pid not in archived and row["budget_burn"] is not None
    )
    assert running
    assert len(burn) == 1 + min(5, len(running))  # header and the projects
    for line, (ratio, pid) in zip(burn[1:], running, strict=False):
        assert line.startswith(f"  {names[pid]} "), (line, names[pid])
        assert f" {-ratio:.0%} " in line, line
        assert "In progress" in line
    # Over-allocated: active people this week (0) and the next four, on projects neither
    # Completed nor Cancelled, hard and soft apart, above the available time.
    open_plan: dict[tuple[int, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for (uid, week_start, _), row in per_project.items():
        if not row["_text"]["project_is_closed"] and row["weeks_ahead"] <= 4:
            open_plan[uid, week_start][0] += row["hard_allocated_minutes"]
            open_plan[uid, week_start][1] += row["soft_allocated_minutes"]
    wanted = {
        (name(users[uid]), week_start, f"{hard / 60:.1f}", f"{soft / 60:.1f}")
        for (uid, week_start), (hard, soft) in open_plan.items()
        if users[uid]["status"] == "ACTIVE"
        and plan[uid, week_start]["available_minutes"] is not None
        and hard + soft > plan[uid, week_start]["available_minutes"]
    }
    assert wanted
    printed = set()
    for line in over[1:]:
        *person, week_start, hard, soft, _available, _projects = line.split()
        printed.add((" ".join(person), week_start, hard, soft))
    assert printed == wanted
    assert len(over) == 1 + len(wanted)
    assert len(week) == 1 + len(team)
    uses = [line.rsplit(None, 1)[1] for line in week[1:]]
    uses = [int(use.rstrip("%")) for use in uses if use != "-"]
    assert sum(60 <= use <= 90 for use in uses) > len(uses) / 2  # most of the team at 60-90%
    # Aligned by display width: the last column is right-aligned, so every line of a table
    # ends at the same cell, whatever scripts or emoji its names hold.
    for table in (burn, week, over):
        assert len({cell_len(line) for line in table}) == 1, table
    assert any(cell_len(line) != len(line) for line in (*burn, *week, *over))  # wide names
    assert f"The page with their charts: {clone / 'output/report.html'}" in stdout


# Debian's `chromium`, headless. Without the background-networking flags it hangs on a closed
# network; a new empty profile each time.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--virtual-time-budget=20000",  # the page's scripts run to the end before the dump
)  # fmt: skip


def chromium(profile: Path, *args: str) -> str:
    profile.mkdir()
    proc = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def pct(ratio: object) -> str:
    return "-" if ratio is None else f"{float(str(ratio)) * 100:.1f}%"


def hrs(minutes: object) -> str:
    return f"{float(str(minutes or 0)) / 60:.1f}"


def page_from_marts(marts: dict[str, list[dict]]) -> dict[str, list[list[str]]]:
    """The numbers the page must show, read from the marts (not from the demo's queries):
    burn of the running projects, this week's utilisation of the delivery team, and per week
    ahead (0-4) the active people's available time and hard and soft allocations on projects
    neither Completed nor Cancelled."""
    users = {u["user_id"]: u for u in marts["rocketlane__users"]}
    running = sorted(
        (r for r in marts["rocketlane__projects"]
         if r["is_running"] and not r["is_archived"] and r["budget_burn"] is not None),
        key=lambda r: (-float(str(r["budget_burn"])), r["project_id"]),
    )  # fmt: skip
    burn = [
        [r["project_name"], pct(r["budget_burn"]), pct(r["budget_burn_submitted"]),
         pct(r["budget_burn_approved"]), f"{float(str(r['hours_logged'])):.1f}",
         f"{float(str(r['budgeted_hours'])):.1f}"]
        for r in running
    ]  # fmt: skip
    week = expected.week_of(TODAY).isoformat()
    team = sorted(
        (r for r in marts["rocketlane__weekly_utilisation"]
         if str(r["week_start"])[:10] == week and r["capacity_minutes"] is not None
         and users[r["user_id"]]["user_status"] == "ACTIVE"
         and users[r["user_id"]]["user_type"] in ("TEAM_MEMBER", "PARTNER")),
        key=lambda r: (r["utilisation"] is None, -float(str(r["utilisation"] or 0)),
                       r["person_name"]),
    )  # fmt: skip
    utilisation = [
        [r["person_name"], pct(r["utilisation"]), hrs(r["available_minutes"]),
         hrs(r["minutes_logged"])]
        for r in team
    ]  # fmt: skip
    weeks: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    people = {
        (r["user_id"], str(r["week_start"])[:10])
        for r in marts["rocketlane__weeks_ahead"]
        if r["weeks_ahead"] <= 4 and r["user_status"] == "ACTIVE"
        and r["available_minutes"] is not None
    }  # fmt: skip
    for r in marts["rocketlane__weeks_ahead"]:
        if (r["user_id"], str(r["week_start"])[:10]) in people:
            weeks[str(r["week_start"])[:10]][0] += float(str(r["available_minutes"]))
    for r in marts["rocketlane__weeks_ahead_allocations"]:
        key = (r["user_id"], str(r["week_start"])[:10])
        if key in people and not r["project_is_closed"]:
            weeks[key[1]][1] += float(str(r["hard_allocated_minutes"]))
            weeks[key[1]][2] += float(str(r["soft_allocated_minutes"]))
    ahead = [[w, *(hrs(v) for v in values)] for w, values in sorted(weeks.items())]
    return {"burn": burn, "utilisation": utilisation, "ahead": ahead}


def test_the_page_draws_the_marts_in_chromium(clone, emulator_demo, tmp_path):
    """Headless Chromium opens output/report.html from the file (offline: nothing from the
    internet), takes a screenshot, and each chart drew its bars with the marts' numbers: the
    bars' labels and the tables under the charts equal the marts, row by row."""
    page_path = clone / "output/report.html"
    assert f"The page with their charts: {page_path}" in emulator_demo
    url = page_path.as_uri()
    shot = tmp_path / "report.png"
    chromium(tmp_path / "shot", f"--screenshot={shot}", "--window-size=1200,2400", url)
    assert shot.stat().st_size > 50_000  # a page with three charts, not a blank one
    shutil.copyfile(shot, clone / "output/report.png")  # to look at
    page = report_page.read(chromium(tmp_path / "dom", "--dump-dom", url))
    assert not page.scripts_from  # every script and style is inline
    assert "dbt-docs/index.html" in page.links
    assert (clone / "output/dbt-docs/index.html").stat().st_size > 100_000
    marts = read_duckdb(clone / "output/emulator.duckdb", "analytics").tables
    want = page_from_marts(marts)
    assert all(want.values())
    series = {"burn": 3, "utilisation": 1, "ahead": 3}  # bars per row: one per series
    assert set(page.charts) == set(series)
    for chart, per_row in series.items():
        drawn = page.charts[chart]
        assert drawn.svgs, f"{chart}: Plotly drew nothing"
        assert page.tables[chart] == want[chart], chart  # the rows (the header has no td)
        assert len(drawn.bars) == per_row * len(want[chart]), chart
        assert all(d.startswith("M") for d in drawn.bars), chart
        numbers = [cell for row in want[chart] for cell in row[1 : 1 + per_row]]
        assert sorted(drawn.labels) == sorted(numbers), chart


DOCTOR = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute(sys.argv[2])
"""


def demo_module(clone: Path) -> Any:
    """scripts/demo.py of the clone, imported (for its ANSWER query)."""
    sys.path.insert(0, str(clone / "scripts"))
    try:
        spec = importlib.util.spec_from_file_location(
            "demo_of_the_clone", clone / "scripts/demo.py"
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(clone / "scripts"))
    return module


def test_over_allocation_counts_active_people_on_open_projects_this_week_included(
    clone, emulator_demo, tmp_path
):
    """The demo's third answer on a copy of its warehouse with three allocations added this
    week: an active person's SOFT one on a Cancelled or Completed project and an INACTIVE
    person's on a running one (a lead counts neither), and an active person's HARD one on a
    running project, over their available time (a lead sees it, this week included)."""
    path = tmp_path / "doctored.duckdb"
    shutil.copyfile(clone / "output/emulator.duckdb", path)
    marts = read_duckdb(path, "analytics").tables
    this_week = [
        r for r in marts["rocketlane__weeks_ahead"]
        if r["weeks_ahead"] == 0 and r["available_minutes"] and not r["is_over_allocated"]
    ]  # fmt: skip
    active = sorted(r["user_id"] for r in this_week if r["user_status"] == "ACTIVE")
    [inactive, *_] = sorted(r["user_id"] for r in this_week if r["user_status"] == "INACTIVE")
    projects = marts["rocketlane__projects"]
    [closed, *_] = sorted(p["project_id"] for p in projects if p["is_closed"])
    [running, *_] = sorted(p["project_id"] for p in projects if p["is_running"])
    week = expected.week_of(TODAY).isoformat()
    added = [(active[0], closed, 0, 6000, True), (inactive, running, 6000, 0, False),
             (active[1], running, 6000, 0, False)]  # fmt: skip
    values = ", ".join(
        f"({uid}, date '{week}', 0, {pid}, {hard + soft}, {hard}, {soft}, {is_closed})"
        for uid, pid, hard, soft, is_closed in added
    )
    columns = (
        "user_id, week_start, weeks_ahead, project_id, allocated_minutes,"
        " hard_allocated_minutes, soft_allocated_minutes, project_is_closed"
    )
    sql = f"insert into analytics.rocketlane__weeks_ahead_allocations ({columns}) values {values}"  # noqa: S608
    subprocess.run([str(TOOLS_PYTHON), "-c", DOCTOR, str(path), sql], check=True, timeout=120)
    proc = subprocess.run(
        [str(TOOLS_PYTHON), "-c", demo_module(clone).ANSWER, str(path), "analytics",
         TODAY.isoformat()],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    over = {(r["user_id"], r["week_start"][:10]) for r in json.loads(proc.stdout)["over"]}
    assert (active[1], week) in over  # this week, active, a running project
    assert (active[0], week) not in over  # a closed project's allocation counts for none
    assert (inactive, week) not in over  # nor an inactive person's


def name(user: dict) -> str:
    return f"{user['firstName']} {user.get('lastName') or ''}".strip()


def test_demo_again_on_your_workspace_syncs_incrementally_and_adds_history(clone):
    with Emulator(seed=1, scale=Scale.default(), api_key=API_KEY) as emu:
        env = {
            "TAP_PM_API_KEY": API_KEY,
            "TAP_PM_BASE_URL": emu.base_url,
            "TAP_PM_MAX_REQUESTS_PER_MINUTE": "100000",
        }
        demo(clone, **env)
        warehouse = clone / "output/warehouse.duckdb"
        first = read_duckdb(warehouse, "analytics_snapshots").tables["rocketlane__task_snapshot"]
        assert len(first) == len(emu.ids("tasks"))

        task = sorted(emu.ids("tasks"))[7]
        store = emu._store  # noqa: SLF001 - the test changes what the API answers
        with store.lock:
            old = store.tables["tasks"].rows[task]["status"]["value"]
            store.tables["tasks"].rows[task]["status"] = {"value": old % 4 + 1, "label": "Next"}
        emu.touch("tasks", task)
        emu.reset_log()
        demo(clone, **env)
        tasks_listed = [e for e in emu.request_log if e.resource == "tasks"]
        assert tasks_listed
        assert all("updatedAt.ge" in e.params for e in tasks_listed)  # from Meltano's state

    history = read_duckdb(warehouse, "analytics").tables["rocketlane__task_status_history"]
    stretches = sorted(
        (r["status_number"], r["status_value"]) for r in history if r["task_id"] == task
    )
    assert stretches == [(1, old), (2, old % 4 + 1)]
    assert len(history) == len(first) + 1  # one new stretch: nothing else changed
