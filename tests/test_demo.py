"""`make demo` (scripts/demo.py) on a workspace of one's own (`TAP_PM_API_KEY` set): syncs into
`output/warehouse.duckdb` that survive starting over, and failures that name their step and cause.

The demo runs in a copy of the project (its own `output/` and Meltano state) against the
emulator, with the Meltano of `.tools`; the plugins are installed once per module.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from typing import TYPE_CHECKING

import pytest
from conftest import API_KEY, STREAMS, assert_no_secret
from test_meltano import (
    MELTANO,
    TOOLS_PYTHON,
    Meltano,
    clean_env,
    copy_demo_project,
    read_duckdb,
)

from rocketlane_emulator import Emulator, Scale

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

JOB = "dev:tap-pm-to-target-duckdb"  # the demo's pipeline: Meltano keeps its state under this
FULL_SYNC = "is new: a full sync"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Meltano:
    """A copy of the project with what the demo needs, its plugins installed."""
    assert MELTANO.exists(), "run `make test` (it installs Meltano into .tools/meltano)"
    root = copy_demo_project(tmp_path_factory.mktemp("demo") / "tap-pm")
    env = {k: v for k, v in clean_env().items() if not k.startswith("DBT_")}
    meltano = Meltano(root, env)
    meltano("install", "tap-pm", "target-duckdb", "dbt-duckdb")
    return meltano


@pytest.fixture
def workspace(project: Meltano) -> Iterator[Emulator]:
    """A workspace to sync, from a clean slate: no warehouse, no Meltano state."""
    shutil.rmtree(project.root / "output", ignore_errors=True)
    subprocess.run(
        [str(MELTANO), "state", "clear", "--force", JOB],
        cwd=project.root, env=project.env, capture_output=True, timeout=300, check=False,
    )  # fmt: skip
    with Emulator(seed=2, scale=Scale.default(), api_key=API_KEY) as emu:
        yield emu


def demo(project: Meltano, emu: Emulator, **env: str) -> subprocess.CompletedProcess:
    """`make demo`'s script with the workspace's key and URL in the environment."""
    settings = {
        "TAP_PM_API_KEY": API_KEY,
        "TAP_PM_BASE_URL": emu.base_url,
        "TAP_PM_MAX_REQUESTS_PER_MINUTE": "100000",  # the emulator has no limit
    }
    proc = subprocess.run(
        [sys.executable, str(project.root / "scripts" / "demo.py")],
        cwd=project.root, env={**project.env, **settings, **env},
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert_no_secret(proc.stdout, proc.stderr)
    return proc


def warehouse(project: Meltano) -> Path:
    return project.root / "output" / "warehouse.duckdb"


def assert_equal_to_workspace(project: Meltano, emu: Emulator) -> None:
    """Every table holds the workspace's records, one row each."""
    tables = read_duckdb(warehouse(project))
    for stream in STREAMS:
        ids = tables.ids(stream.replace("-", "_"))
        assert ids == Counter(emu.ids(stream)), stream


def duckdb(project: Meltano, sql: str) -> None:
    code = f"import duckdb; duckdb.connect({str(warehouse(project))!r}).execute({sql!r})"
    subprocess.run([str(TOOLS_PYTHON), "-c", code], check=True, timeout=120)


def test_a_deleted_warehouse_is_loaded_in_full_and_the_state_serves_the_next_sync(
    project, workspace
):
    first = demo(project, workspace)
    assert first.returncode == 0, first.stderr[-3000:]
    assert FULL_SYNC in first.stdout  # no warehouse yet

    # Starting over: Meltano's state is still there, the warehouse is not.
    changed = workspace.touch("tasks", min(workspace.ids("tasks")))
    warehouse(project).unlink()
    workspace.reset_log()
    second = demo(project, workspace)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert FULL_SYNC in second.stdout
    assert_equal_to_workspace(project, workspace)
    full_sync = len(workspace.request_log)

    # The state the full sync left serves the next one: only changes, into the same tables.
    later = workspace.touch("tasks", max(workspace.ids("tasks")))
    workspace.reset_log()
    third = demo(project, workspace)
    assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-3000:]
    assert "full sync" not in third.stdout
    assert len(workspace.request_log) < full_sync
    assert_equal_to_workspace(project, workspace)
    tasks = read_duckdb(warehouse(project)).by_id("tasks")
    for task in (changed, later):
        assert tasks[task["taskId"]]["taskname"] == task["taskName"]


def test_a_failed_dbt_test_is_named(project, workspace):
    assert demo(project, workspace).returncode == 0
    # A project gone from the warehouse (deleted by hand, say) and unchanged in Rocketlane:
    # the next sync does not send it again, and dbt's relationship tests fail.
    duckdb(
        project,
        "delete from tap_pm.projects"
        " where id = (select id from tap_pm.projects order by updatedat limit 1)",
    )
    failed = demo(project, workspace)
    assert failed.returncode != 0
    assert "dbt-duckdb:build failed" in failed.stderr
    named = r"Failure in test relationships_stg_\w+_project_id__ref_stg_rocketlane__projects_ "
    assert re.search(named, failed.stderr), failed.stderr[-3000:]
    assert "configured to fail if != 0" in failed.stderr


def test_a_failed_loader_says_why(project, workspace):
    # The warehouse's path leads nowhere the loader can write.
    warehouse(project).parent.mkdir()
    warehouse(project).symlink_to("/nonexistent/tap-pm-demo/warehouse.duckdb")
    failed = demo(project, workspace)
    assert failed.returncode != 0
    [line] = [line for line in failed.stderr.splitlines() if line.startswith("target-duckdb")]
    assert "failed: " in line
    assert "Cannot open file" in line
    assert "output/warehouse.duckdb" in line


def test_a_failed_tap_says_why(project, workspace):
    failed = demo(project, workspace, TAP_PM_API_KEY="not-the-workspace-key")
    assert failed.returncode != 0
    [line] = [line for line in failed.stderr.splitlines() if line.startswith("tap-pm failed")]
    assert "Rocketlane refused the API key" in line
