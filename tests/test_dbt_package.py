"""transform/ as a dbt package: a user's own dbt project installs it from git (`packages.yml`,
git plus `subdirectory`), points its vars at the loader's database and schema, and builds it.
"""

from __future__ import annotations

import shutil
import subprocess

import marts_expected as expected
import yaml
from test_dbt import (
    AS_OF,
    ROOT,
    WITH_OPT_IN,
    check_marts,
    check_money_and_people,
    dbt_meltano,  # noqa: F401 - the fixture
    run,
)
from test_meltano import clean_env, read_duckdb

# Settings dbt takes from the root project only: the package must not need them.
ROOT_ONLY = {"flags", "dispatch", "on-run-start", "on-run-end", "query-comment", "restrict-access"}


GIT_USER = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(repo, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        env={**clean_env(), **GIT_USER},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout.strip()


def test_a_root_project_installs_transform_from_git_and_builds_it(
    dbt_meltano,  # noqa: F811
    shared_emulator,
    tmp_path,
):
    project = yaml.safe_load((ROOT / "transform/dbt_project.yml").read_text())
    assert not ROOT_ONLY & set(project), "root-only settings in transform/dbt_project.yml"

    # The loader's tables in a schema of their own, which the root project's vars name.
    path = tmp_path / "warehouse.duckdb"
    run(
        dbt_meltano,
        shared_emulator,
        "--full-refresh",
        "--no-state-update",
        "tap-pm",
        "target-duckdb",
        TARGET_DUCKDB_FILEPATH=str(path),
        TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA="rocketlane_raw",
        **WITH_OPT_IN,
    )

    # A clone of this project: transform/ as committed (here, this working tree's).
    repo = tmp_path / "tap-pm"
    shutil.copytree(
        ROOT / "transform",
        repo / "transform",
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
    )
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "transform")
    revision = git(repo, "rev-parse", "HEAD")

    analytics = tmp_path / "acme_analytics"
    analytics.mkdir()
    (analytics / "dbt_project.yml").write_text(
        yaml.safe_dump(
            {
                "name": "acme_analytics",
                "version": "1.0.0",
                "config-version": 2,
                "profile": "acme",
                "vars": {
                    "rocketlane": {
                        "rocketlane_database": "warehouse",
                        "rocketlane_schema": "rocketlane_raw",
                    }
                },
            }
        )
    )
    (analytics / "packages.yml").write_text(
        yaml.safe_dump(
            {
                "packages": [
                    {"git": f"file://{repo}", "subdirectory": "transform", "revision": revision}
                ],
            }
        )
    )
    (analytics / "profiles.yml").write_text(
        yaml.safe_dump(
            {
                "acme": {
                    "target": "dev",
                    "outputs": {
                        "dev": {
                            "type": "duckdb",
                            "path": str(path),
                            "schema": "reporting",
                            "threads": 2,
                        }
                    },
                },
            }
        )
    )
    dbt = dbt_meltano.root / ".meltano/utilities/dbt-duckdb/venv/bin/dbt"
    env = {
        **{k: v for k, v in clean_env().items() if not k.startswith("DBT_")},
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_ROCKETLANE_AS_OF_DATE": AS_OF.isoformat(),
        "HOME": str(tmp_path),  # no ~/.dbt of the developer's
    }
    for command in (["deps"], ["build"]):
        proc = subprocess.run(
            [str(dbt), *command, "--profiles-dir", str(analytics)],
            cwd=analytics,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert (analytics / "dbt_packages/rocketlane/dbt_project.yml").exists()
    # The one warning: the emulator's time offs beyond a day's capacity, which the package flags.
    assert expected.time_offs_beyond_a_day(shared_emulator)
    assert "Completed with 1 warning" in proc.stdout, proc.stdout[-4000:]
    assert "Warning in test time_off_within_day_capacity_stg_rocketlane__time_offs" in proc.stdout
    assert "[WARNING]" not in proc.stdout, proc.stdout[-4000:]

    # The root project's target schema holds the marts; they match the emulator.
    marts = read_duckdb(path, "reporting")
    check_marts(marts, shared_emulator)
    check_money_and_people(marts, shared_emulator, opt_in=True)
    assert read_duckdb(path, "reporting_snapshots").tables["rocketlane__task_snapshot"]
