"""`make demo` (scripts/demo.py) in a copy of the project, as a fresh clone runs it.

On the bundled emulator it prints the three answers: projects by budget burn with their margin,
this week's utilisation, and who is over-allocated in the next four weeks (checked against a
computation from the emulator's records). With `TAP_PM_API_KEY` set (here: the emulator as "your
workspace"), a second run syncs incrementally into the same warehouse and adds to the history.
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import marts_expected as expected
import pytest
from conftest import API_KEY
from test_meltano import MELTANO, clean_env, copy_demo_project, read_duckdb

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


def test_demo_on_the_emulator_prints_the_three_answers(clone):
    stdout = demo(clone)
    assert "Every table holds exactly the emulator's records" in stdout
    for stream in ("invoices", "invoice-lines", "resource-allocations"):  # loaded for the models
        assert f"\n{stream} " in stdout, stream
    burn = section(stdout, "Projects by budget burn, as of 2025-12-12")
    assert len(burn) == 1 + 5  # header and five projects
    week = section(stdout, "Utilisation this week (2025-12-08)")
    with Emulator(seed=1, scale=Scale.default(), api_key=API_KEY) as emu:
        users = {u["userId"]: u for u in emu.truth("users")}
        team = {
            uid
            for uid, u in users.items()
            if u["status"] == "ACTIVE" and u["type"] in ("TEAM_MEMBER", "PARTNER")
        }
        plan = expected.weeks_ahead(emu, TODAY, allocations=True)
    assert len(week) == 1 + len(team)
    uses = [line.rsplit(None, 1)[1] for line in week[1:]]
    uses = [int(use.rstrip("%")) for use in uses if use != "-"]
    assert sum(60 <= use <= 90 for use in uses) > len(uses) / 2  # most of the team at 60-90%
    over = section(stdout, "Over-allocated in the next four weeks")
    printed = {(line[2:30].strip(), line.split(" week of ")[1][:10]) for line in over}
    wanted = {
        (name(users[uid])[:26], week)
        for (uid, week), row in plan.items()
        if 1 <= row["weeks_ahead"] <= 4 and row["_text"]["is_over_allocated"]
    }
    assert wanted
    assert printed == wanted
    assert len(over) == len(wanted)


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
