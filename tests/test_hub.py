"""The Meltano Hub definition passes the Hub's own rules and stays in step with the tap.

`hub/` holds what a pull request to meltano/hub adds, at the paths it has there. `hub/rules/`
holds the Hub's JSON Schemas and yamllint config, copied unchanged; the definition is checked
with them, not with a hand-made copy of what they say. Every check has a twin that shows it
fails on a broken copy.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import subprocess
import sys
from importlib.metadata import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

import pytest
import yaml
from conftest import TAP
from jsonschema import Draft7Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).parents[1]
HUB = ROOT / "hub"
DEFINITION = HUB / "_data" / "meltano" / "extractors" / "tap-pm" / "tap-pm.yml"
RULES = HUB / "rules"
YAMLLINT_CONFIG = RULES / ".yamllint.yaml"
# The reference copy of meltano/hub's rules the project was built against. It is not part of
# the repository (a clean clone, e.g. in CI, has no such directory): only the test comparing
# hub/rules with it needs it; everywhere else hub/rules/SHA256SUMS (made from it) stands in.
REFERENCE = Path("/work/shared/reference/meltano-hub")


# --------------------------------------------------------------------------- helpers
def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def hub_validator(schemas: Path = RULES / "schemas") -> Draft7Validator:
    """The extractor schema, its `$ref`s resolved by `$id` from every schema (as the Hub does)."""
    resources = []
    for path in sorted(schemas.rglob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], DRAFT7.create_resource(schema)))
    extractors = json.loads((schemas / "plugin_definitions" / "extractors.schema.json").read_text())
    return Draft7Validator(extractors, registry=Registry().with_resources(resources))


def schema_errors(definition: dict[str, Any]) -> list[str]:
    return sorted(
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in hub_validator().iter_errors(definition)
    )


def yamllint(*files: Path) -> subprocess.CompletedProcess[str]:
    """yamllint with the Hub's config; --strict also fails on warnings."""
    return subprocess.run(
        [sys.executable, "-m", "yamllint", "--strict", "--format", "parsable",
         "--config-file", str(YAMLLINT_CONFIG), *map(str, files)],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip


def hub_data_problems(hub: Path) -> list[str]:
    """What the Hub's CI requires besides the schema: the variant file at the path its name and
    variant make, a maintainer for the variant, a default variant, and the logo it shows."""
    definitions = sorted((hub / "_data" / "meltano" / "extractors").glob("*/*.yml"))
    if len(definitions) != 1:
        return [f"expected one definition, found {definitions}"]
    [path] = definitions
    definition = load(path)
    name, variant = definition["name"], definition["variant"]
    problems = []
    if (path.parent.name, path.stem) != (name, variant):
        problems.append(f"{path.name}: name {name!r}, variant {variant!r} do not match its path")

    maintainer = (load(hub / "_data" / "maintainers.yml") or {}).get(variant)
    if maintainer is None:
        problems.append(f"_data/maintainers.yml has no entry {variant!r}")
    elif (
        sorted(maintainer) != ["label", "name", "url"]
        or maintainer["name"] != variant
        or not maintainer["url"].startswith("https://")
    ):
        problems.append(f"_data/maintainers.yml: {variant!r} needs name, label and url")

    defaults = (load(hub / "_data" / "default_variants.yml") or {}).get("extractors") or {}
    if defaults.get(name) != variant:
        problems.append(f"_data/default_variants.yml: extractors.{name} is not {variant!r}")

    logo_url = definition.get("logo_url") or ""
    logo = hub / "static" / logo_url.lstrip("/")
    if not logo_url.startswith("/assets/logos/extractors/") or not logo.is_file():
        problems.append(f"logo_url {logo_url!r} is not a file under static/assets/logos/extractors")
    elif logo.suffix == ".svg":
        root = ET.fromstring(logo.read_bytes())  # noqa: S314 (our own file)
        if root.tag != "{http://www.w3.org/2000/svg}svg":
            problems.append(f"{logo.name} is not an SVG image")
    elif logo.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        problems.append(f"{logo.name} is neither an SVG nor a PNG image")
    return problems


def rule_files(root: Path) -> set[str]:
    """The rule files of a copy of meltano/hub's rules: all but README.md and examples/."""
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    ours = {"README.md", "SHA256SUMS"}
    return {f for f in files if f not in ours and not f.startswith("examples/")}


def rule_differences(vendored: Path, reference: Path) -> list[str]:
    ours, theirs = rule_files(vendored), rule_files(reference)
    return (
        [f"missing: {f}" for f in sorted(theirs - ours)]
        + [f"not in the reference: {f}" for f in sorted(ours - theirs)]
        + [
            f"differs: {f}"
            for f in sorted(ours & theirs)
            if (vendored / f).read_bytes() != (reference / f).read_bytes()
        ]
    )


def meltano_settings(properties: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
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


def json_types(schema: dict[str, Any]) -> set[str]:
    types = schema.get("type", [])
    return ({types} if isinstance(types, str) else set(types)) - {"null"}


def kinds_for(schema: dict[str, Any]) -> set[str]:
    """Meltano setting kinds that can carry values of this JSON schema."""
    if schema.get("secret"):
        return {"password"}
    if "enum" in schema:
        return {"options"}
    if "oneOf" in schema or "anyOf" in schema:
        alternatives = schema["oneOf"] if "oneOf" in schema else schema["anyOf"]
        return set().union(*(kinds_for(alt) for alt in alternatives))
    kinds: set[str] = set()
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


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return load(DEFINITION)


@pytest.fixture(scope="module")
def about_json() -> dict[str, Any]:
    proc = subprocess.run(
        [TAP, "--about", "--format=json"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    described: dict[str, Any] = json.loads(proc.stdout)
    return described


# ------------------------------------------------------------------- the Hub's schema
def test_definition_passes_the_hubs_schema(definition: dict[str, Any]) -> None:
    assert schema_errors(definition) == []


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda d: d.pop("quality"), ": 'quality' is a required property"),
        (lambda d: d.pop("variant"), ": 'variant' is a required property"),
        (lambda d: d.update(quality="platinum"), "quality: 'platinum' is not one of"),
        (
            lambda d: d.update(ext_repo=d["repo"]),
            ": Additional properties are not allowed ('ext_repo'",
        ),
        (lambda d: d.update(maintenance_status="stable"), "maintenance_status: 'stable' is not"),
        (lambda d: d["capabilities"].insert(0, "incremental"), "capabilities/0: 'incremental'"),
        (lambda d: d["settings"][0].update(kind="secret"), "settings/0/kind: 'secret' is not"),
        (lambda d: d["settings"][0].update(secret=True), "settings/0: Additional properties"),
        (lambda d: d["settings"][0].pop("name"), "settings/0: 'name' is a required property"),
        (lambda d: d.update(supported_python_versions=["3"]), "supported_python_versions/0: '3'"),
    ],
)
def test_hubs_schema_rejects_a_broken_definition(
    definition: dict[str, Any], change: Callable[[dict[str, Any]], object], error: str
) -> None:
    broken = copy.deepcopy(definition)
    change(broken)
    errors = schema_errors(broken)
    assert any(e.startswith(error) for e in errors), errors


def test_hubs_schema_does_not_require_a_label(definition: dict[str, Any]) -> None:
    assert schema_errors({k: v for k, v in definition.items() if k != "label"}) == []


# ----------------------------------------------------------------- the Hub's yamllint
def test_hub_files_pass_the_hubs_yamllint() -> None:
    files = [DEFINITION, HUB / "_data" / "maintainers.yml", HUB / "_data" / "default_variants.yml"]
    assert sorted(HUB.glob("_data/**/*.yml")) == sorted(files)
    proc = yamllint(*files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        ("name: tap-pm\nnamespace: tap_pm\n", "namespace: tap_pm\nname: tap-pm\n", "key-ordering"),
        (
            "  label: API key\n  name: api_key\n",
            "  name: api_key\n  label: API key\n",
            "key-ordering",
        ),
        ("capabilities:\n- about\n", "capabilities:\n  - about\n", "indentation"),
        ("name: tap-pm\n", "name: tap-pm\nname: tap-pm\n", "key-duplicates"),
    ],
)
def test_hubs_yamllint_finds_a_broken_definition(
    tmp_path: Path, old: str, new: str, rule: str
) -> None:
    text = DEFINITION.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    broken = tmp_path / DEFINITION.name
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    proc = yamllint(broken)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"({rule})" in proc.stdout, proc.stdout


# --------------------------------------------------- maintainer, default variant, logo
def test_hub_data_has_maintainer_default_variant_and_logo(definition: dict[str, Any]) -> None:
    assert hub_data_problems(HUB) == []
    assert definition["variant"] == "tap-pm"
    assert load(HUB / "_data" / "default_variants.yml") == {"extractors": {"tap-pm": "tap-pm"}}
    assert list(load(HUB / "_data" / "maintainers.yml")) == ["tap-pm"]
    assert (HUB / "static" / definition["logo_url"].lstrip("/")).is_file()


def drop_maintainer(hub: Path) -> None:
    (hub / "_data" / "maintainers.yml").write_text("someone:\n  label: x\n  name: x\n  url: y\n")


def drop_default_variant(hub: Path) -> None:
    (hub / "_data" / "default_variants.yml").write_text("extractors:\n  tap-other: x\n")


def drop_logo(hub: Path) -> None:
    for logo in (hub / "static").rglob("*.*"):
        logo.unlink()


def misplace_definition(hub: Path) -> None:
    path = hub / DEFINITION.relative_to(HUB)
    path.rename(path.with_name("tap-pm-variant.yml"))


@pytest.mark.parametrize(
    ("breakage", "problem"),
    [
        (drop_maintainer, "_data/maintainers.yml has no entry 'tap-pm'"),
        (drop_default_variant, "_data/default_variants.yml: extractors.tap-pm is not 'tap-pm'"),
        (drop_logo, "logo_url '/assets/logos/extractors/"),
        (misplace_definition, "tap-pm-variant.yml: name 'tap-pm', variant 'tap-pm' do not"),
    ],
)
def test_hub_data_problems_are_found(
    tmp_path: Path, breakage: Callable[[Path], None], problem: str
) -> None:
    hub = tmp_path / "hub"
    shutil.copytree(HUB, hub, ignore=shutil.ignore_patterns("rules"))
    assert hub_data_problems(hub) == []
    breakage(hub)
    problems = hub_data_problems(hub)
    assert any(p.startswith(problem) for p in problems), problems


# ---------------------------------------------------------------- the vendored rules
def checksum_differences(rules: Path) -> list[str]:
    """Rule files whose SHA-256 is not the one recorded when they were copied from the Hub."""
    lines = (rules / "SHA256SUMS").read_text().splitlines()
    recorded = {name: digest for digest, name in (line.split("  ", 1) for line in lines)}
    actual = {f: hashlib.sha256((rules / f).read_bytes()).hexdigest() for f in rule_files(rules)}
    return sorted(f for f in recorded.keys() | actual.keys() if recorded.get(f) != actual.get(f))


def test_vendored_rules_are_the_hubs_unchanged(tmp_path: Path) -> None:
    assert checksum_differences(RULES) == []
    if REFERENCE.is_dir():  # the copy they were taken from; a clean clone has only the sums
        assert rule_differences(RULES, REFERENCE) == []
    edited = tmp_path / "rules"
    shutil.copytree(RULES, edited)
    with (edited / ".yamllint.yaml").open("a") as config:
        config.write("# edited\n")
    assert checksum_differences(edited) == [".yamllint.yaml"]


def test_vendored_rules_are_complete() -> None:
    assert {".yamllint.yaml", "LICENSE", "schemas/plugin_definitions/extractors.schema.json"} <= (
        rule_files(RULES)
    )
    assert "Apache License" in (RULES / "LICENSE").read_text()
    assert "key-ordering: enable" in YAMLLINT_CONFIG.read_text()


def test_rule_differences_are_found(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    shutil.copytree(RULES, reference)
    (reference / "examples").mkdir()
    (reference / "examples" / "tap-x.yml").write_text("name: tap-x\n")  # not a rule: ignored
    assert rule_differences(RULES, reference) == []
    schema = reference / "schemas" / "common" / "base_setting.schema.json"
    schema.write_bytes(schema.read_bytes().replace(b'"oauth",', b'"oauth", "secret",', 1))
    (reference / ".yamllint.yaml").unlink()
    (reference / "schemas" / "new.schema.json").write_text("{}")
    assert rule_differences(RULES, reference) == [
        "missing: schemas/new.schema.json",
        "not in the reference: .yamllint.yaml",
        "differs: schemas/common/base_setting.schema.json",
    ]


# ---------------------------------------------------- in step with the tap and the project
def test_definition_matches_about(definition: dict[str, Any], about_json: dict[str, Any]) -> None:
    assert definition["name"] == about_json["name"] == "tap-pm"
    assert definition["namespace"] == "tap_pm"
    assert definition["executable"] == "tap-pm"
    assert sorted(definition["capabilities"]) == sorted(about_json["capabilities"])
    assert definition["supported_python_versions"] == about_json["supported_python_versions"]
    assert definition["settings_group_validation"] == [sorted(about_json["settings"]["required"])]

    expected = meltano_settings(about_json["settings"]["properties"])
    names = [s["name"] for s in definition["settings"]]
    assert names == sorted(expected), "one setting per --about setting, sorted by name"
    for setting in definition["settings"]:
        schema = expected[setting["name"]]
        assert setting["kind"] in kinds_for(schema), (setting["name"], setting["kind"])
        assert setting["label"] == schema["title"], setting["name"]
        assert setting["description"] == schema["description"], setting["name"]
        assert setting.get("value") == schema.get("default"), setting["name"]
        assert bool(setting.get("sensitive")) == bool(schema.get("secret")), setting["name"]
        if "enum" in schema:
            assert [o["value"] for o in setting["options"]] == schema["enum"], setting["name"]
    [api_key] = [s for s in definition["settings"] if s["name"] == "api_key"]
    assert api_key["kind"] == "password"
    assert api_key["sensitive"] is True


def test_definition_describes_the_project(definition: dict[str, Any]) -> None:
    [repository] = [
        url.split(", ", 1)[1]
        for url in metadata("tap-pm").get_all("Project-URL", [])
        if url.startswith("Repository, ")
    ]
    assert definition["repo"] == repository == "https://github.com/tap-pm/tap-pm"
    assert definition["pip_url"] == f"git+{repository}.git"
    assert definition["docs"].startswith(repository)
    assert definition["variant"] == repository.split("/")[-2]  # the GitHub organisation
    # The Hub's rating for a connector it has no usage data for yet; its maintainers rate it.
    assert definition["quality"] == "unknown"
    for key in ("description", "domain_url", "label", "maintenance_status", "settings_preamble"):
        assert isinstance(definition[key], str), key
        assert definition[key].strip(), key


def test_meltano_yml_extractor_is_the_hub_definition(definition: dict[str, Any]) -> None:
    project = load(ROOT / "meltano.yml")
    [extractor] = [p for p in project["plugins"]["extractors"] if p["name"] == "tap-pm"]
    assert extractor["namespace"] == definition["namespace"]
    assert extractor["pip_url"] == "-e ."
    assert extractor["executable"] == definition["executable"]
    assert extractor["label"] == definition["label"]
    assert extractor["capabilities"] == definition["capabilities"]
    assert extractor["settings_group_validation"] == definition["settings_group_validation"]
    # Meltano 4 spells `kind: password` as `kind: string` + `sensitive: true`; meltano.yml keeps
    # the settings in --about's order, the Hub sorts them by name.
    normalised = [
        {**s, "kind": "string"} if s["kind"] == "password" else s for s in definition["settings"]
    ]
    assert sorted(extractor["settings"], key=lambda s: s["name"]) == normalised


def test_docs_hub_paths_exist() -> None:
    """The publishing steps (docs/loaders.md) name files that exist."""
    page = (ROOT / "docs" / "loaders.md").read_text(encoding="utf-8")
    paths = set(re.findall(r"\bhub/[\w./-]*\w", page))
    assert {"hub/_data/meltano/extractors/tap-pm/tap-pm.yml", "hub/rules/.yamllint.yaml"} <= paths
    assert [p for p in sorted(paths) if not (ROOT / p).exists()] == []
    assert "## Publishing on Meltano Hub" in page
