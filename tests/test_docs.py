"""What describes the tap stays in step with it: README settings, meltano.yml.

Also: the GitHub workflows pass actionlint, and say what they promise (matrix, publishing).
The Meltano Hub definition has its own tests, with the Hub's own rules: test_hub.py.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import TAP

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / ".tools" / "actionlint" / "bin" / "actionlint"


def about(fmt: str) -> str:
    proc = subprocess.run(
        [TAP, "--about", f"--format={fmt}"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def about_json() -> dict:
    return json.loads(about("json"))


@pytest.fixture(scope="module")
def meltano_yml() -> dict:
    return yaml.safe_load((ROOT / "meltano.yml").read_text())


def plugin(project: dict, kind: str, name: str) -> dict:
    [found] = [p for p in project["plugins"][kind] if p["name"] == name]
    return found


# ---------------------------------------------------------------------------- README
def table(lines: list[str]) -> list[str]:
    return [line.rstrip() for line in lines if line.startswith("|")]


def test_readme_settings_table_is_the_generated_one():
    text = README.read_text()
    start = text.index("<!-- settings:start")
    end = text.index("<!-- settings:end -->")
    readme = table(text[start:end].splitlines()[1:])
    generated = about("markdown").split("## Settings", 1)[1].splitlines()
    assert readme == table(generated), "regenerate with `tap-pm --about --format=markdown`"
    assert len(readme) > 20


# --------------------------------------------------------------------------- meltano.yml
def test_meltano_yml_has_an_extractor_per_workspace(meltano_yml):
    extractor = plugin(meltano_yml, "extractors", "tap-pm")
    acme = plugin(meltano_yml, "extractors", "tap-pm--acme")
    assert acme["inherit_from"] == "tap-pm"
    assert acme["load_schema"] != extractor["namespace"]


def test_meltano_yml_loaders_and_no_secrets(meltano_yml):
    loaders = {p["name"]: p for p in meltano_yml["plugins"]["loaders"]}
    assert set(loaders) == {"target-jsonl", "target-duckdb", "target-postgres", "target-snowflake"}
    assert loaders["target-postgres"]["variant"] == "meltanolabs"
    assert loaders["target-postgres"]["pip_url"].startswith("meltanolabs-target-postgres==")
    assert loaders["target-snowflake"]["variant"] == "meltanolabs"
    assert loaders["target-snowflake"]["pip_url"].startswith("meltanolabs-target-snowflake==")
    secrets = re.compile(r"password|token|secret|sqlalchemy_url|private_key(_passphrase)?")
    for name, loader in loaders.items():
        for setting in loader["settings"]:
            secret = bool(secrets.fullmatch(setting["name"]))
            assert bool(setting.get("sensitive")) == secret, (name, setting["name"])
            if secret:
                assert "value" not in setting, (name, setting["name"])
                assert setting["name"] not in loader.get("config", {}), (name, setting["name"])
    for extractor in meltano_yml["plugins"]["extractors"]:
        assert "api_key" not in extractor.get("config", {}), extractor["name"]
    assert meltano_yml["default_environment"] in {e["name"] for e in meltano_yml["environments"]}
    assert meltano_yml["send_anonymous_usage_stats"] is False
    assert ".env" in (ROOT / ".gitignore").read_text().split()


# ----------------------------------------------------------------------------- workflows
def actionlint(*files: Path) -> subprocess.CompletedProcess:
    assert ACTIONLINT.exists(), "run `make test` (it installs actionlint into .tools)"
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", *map(str, files)],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip


def test_workflows_pass_actionlint():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"test.yml", "lint.yml", "release.yml"}
    proc = actionlint(*files)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_finds_a_broken_workflow(tmp_path):
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ matrix.python-version }}\n"
    )
    proc = actionlint(broken)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "matrix" in proc.stdout


def test_test_workflow_covers_every_supported_python(about_json):
    workflow = yaml.safe_load((WORKFLOWS / "test.yml").read_text())
    [job] = workflow["jobs"].values()
    assert job["strategy"]["matrix"]["python-version"] == about_json["supported_python_versions"]
    assert any(step.get("run") == ".ci/run" for step in job["steps"])


def test_release_workflow_builds_checks_and_publishes_with_trusted_publishing():
    workflow = yaml.safe_load((WORKFLOWS / "release.yml").read_text())
    assert workflow[True]["push"]["tags"]  # PyYAML reads the key `on` as True
    runs = " ".join(s.get("run", "") for job in workflow["jobs"].values() for s in job["steps"])
    assert "python -m build" in runs
    assert "twine check" in runs
    [publish] = [
        job
        for job in workflow["jobs"].values()
        if any(s.get("uses", "").startswith("pypa/gh-action-pypi-publish@") for s in job["steps"])
    ]
    assert publish["permissions"] == {"id-token": "write"}
    assert workflow["permissions"] == {"contents": "read"}


def test_dependabot_watches_pip_and_actions():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert {u["package-ecosystem"] for u in config["updates"]} == {"pip", "github-actions"}
