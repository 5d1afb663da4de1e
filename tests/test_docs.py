"""What describes the tap stays in step with it: README settings, Hub definition, meltano.yml.

Also: the GitHub workflows pass actionlint, and say what they promise (matrix, publishing).
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
HUB_DEFINITION = ROOT / "hub" / "extractors" / "tap-pm" / "tap-pm.yml"
WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / ".tools" / "actionlint" / "bin" / "actionlint"

# The Meltano Hub's schema for extractor definitions: top-level keys, setting keys and kinds,
# capabilities and maintenance statuses it accepts.
HUB_KEYS = {
    "name", "pip_url", "variant", "namespace", "label", "description", "executable", "settings",
    "docs", "repo", "logo_url", "hidden", "settings_group_validation", "commands",
    "capabilities", "metadata", "schema", "select", "maintenance_status", "domain_url",
    "keywords", "requires", "definition", "next_steps", "settings_preamble", "usage", "prereq",
    "quality", "ext_repo",
}  # fmt: skip
HUB_REQUIRED = {"name", "namespace", "variant", "label"}
HUB_SETTING_KEYS = {
    "name", "aliases", "label", "value", "placeholder", "kind", "description", "tooltip",
    "documentation", "env", "value_processor", "value_post_processor", "oauth", "options",
    "docs", "hidden", "sensitive",
}  # fmt: skip
HUB_KINDS = {
    "oauth", "hidden", "password", "date_iso8601", "file", "email", "integer", "options",
    "object", "array", "boolean", "string", "decimal",
}  # fmt: skip
HUB_CAPABILITIES = {
    "properties", "catalog", "discover", "state", "about", "stream-maps", "schema-flattening",
    "activate-version", "batch", "test", "log-based", "structured-logging",
}  # fmt: skip
MAINTENANCE = {"active", "beta", "development", "inactive", "unknown"}


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
def hub() -> dict:
    return yaml.safe_load(HUB_DEFINITION.read_text())


@pytest.fixture(scope="module")
def meltano_yml() -> dict:
    return yaml.safe_load((ROOT / "meltano.yml").read_text())


def plugin(project: dict, kind: str, name: str) -> dict:
    [found] = [p for p in project["plugins"][kind] if p["name"] == name]
    return found


def meltano_settings(properties: dict, prefix: str = "") -> dict[str, dict]:
    """Settings as Meltano names them: nested objects by their leaves (`batch_config.storage.
    root`), maps whose keys are the user's (`stream_maps`) and free-form objects as a whole."""
    settings = {}
    for name, schema in properties.items():
        is_map = isinstance(schema.get("additionalProperties"), dict)
        if schema.get("properties") and not is_map:
            settings.update(meltano_settings(schema["properties"], f"{prefix}{name}."))
        else:
            settings[prefix + name] = schema
    return settings


def json_types(schema: dict) -> set[str]:
    types = schema.get("type", [])
    return ({types} if isinstance(types, str) else set(types)) - {"null"}


def kinds_for(schema: dict) -> set[str]:
    """Meltano setting kinds that can carry values of this JSON schema."""
    if schema.get("secret"):
        return {"password"}
    if "enum" in schema:
        return {"options"}
    if "oneOf" in schema or "anyOf" in schema:
        return set().union(*(kinds_for(alt) for alt in schema.get("oneOf", schema.get("anyOf"))))
    kinds = set()
    for json_type in json_types(schema):
        if json_type == "string":
            dated = schema.get("format") in {"date-time", "date"}
            kinds.add("date_iso8601" if dated else "string")
        else:
            kinds.add(
                {"integer": "integer", "number": "decimal", "boolean": "boolean"}.get(
                    json_type, json_type
                )
            )
    return kinds


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


# ----------------------------------------------------------------------- Hub definition
def test_hub_definition_has_the_hub_form(hub):
    assert HUB_REQUIRED <= set(hub) <= HUB_KEYS, set(hub) - HUB_KEYS
    assert hub["maintenance_status"] in MAINTENANCE
    assert set(hub["capabilities"]) <= HUB_CAPABILITIES
    assert all(isinstance(k, str) for k in hub["keywords"])
    for key in ("pip_url", "repo", "docs", "description", "domain_url"):
        assert isinstance(hub[key], str), key
        assert hub[key], key
    for setting in hub["settings"]:
        assert set(setting) <= HUB_SETTING_KEYS, setting["name"]
        assert {"name", "kind", "label", "description"} <= set(setting), setting["name"]
        assert setting["kind"] in HUB_KINDS, setting["name"]


def test_hub_definition_matches_about(hub, about_json):
    assert hub["name"] == about_json["name"] == "tap-pm"
    assert hub["namespace"] == "tap_pm"
    assert hub["executable"] == "tap-pm"
    assert sorted(hub["capabilities"]) == sorted(about_json["capabilities"])
    assert hub["settings_group_validation"] == [sorted(about_json["settings"]["required"])]

    expected = meltano_settings(about_json["settings"]["properties"])
    assert [s["name"] for s in hub["settings"]] == list(expected)
    for setting in hub["settings"]:
        schema = expected[setting["name"]]
        assert setting["kind"] in kinds_for(schema), (setting["name"], setting["kind"])
        assert setting["label"] == schema["title"], setting["name"]
        assert setting["description"] == schema["description"], setting["name"]
        assert setting.get("value") == schema.get("default"), setting["name"]
        assert bool(setting.get("sensitive")) == bool(schema.get("secret")), setting["name"]
        if "enum" in schema:
            assert [o["value"] for o in setting["options"]] == schema["enum"], setting["name"]
    [api_key] = [s for s in hub["settings"] if s["name"] == "api_key"]
    assert api_key["kind"] == "password"
    assert api_key["sensitive"] is True


# --------------------------------------------------------------------------- meltano.yml
def test_meltano_yml_extractor_is_the_hub_definition(meltano_yml, hub):
    extractor = plugin(meltano_yml, "extractors", "tap-pm")
    assert extractor["namespace"] == hub["namespace"]
    assert extractor["pip_url"] == "-e ."
    assert extractor["executable"] == hub["executable"]
    assert extractor["capabilities"] == hub["capabilities"]
    assert extractor["settings_group_validation"] == hub["settings_group_validation"]
    # Meltano 4 spells `kind: password` as `kind: string` + `sensitive: true`.
    normalised = [
        {**s, "kind": "string"} if s["kind"] == "password" else s for s in hub["settings"]
    ]
    assert extractor["settings"] == normalised

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
