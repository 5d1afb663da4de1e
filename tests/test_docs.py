"""What describes the tap stays in step with it: the README and docs/, meltano.yml.

The README is short and true: its links and anchors resolve (and those of docs/), its settings
table is `--about`'s, its set-up commands are the Makefile's and CI's, and the commands of its
quick start run as written against the emulator. Also: the GitHub workflows pass actionlint, and
say what they promise (matrix, publishing). The Meltano Hub definition has its own tests, with
the Hub's own rules: test_hub.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import pytest
import yaml
from conftest import API_KEY, OPT_IN, STREAMS, TAP, assert_no_secret
from test_meltano import (
    MELTANO,
    check_warehouse,
    clean_env,
    copy_project,
    read_duckdb,
)

if TYPE_CHECKING:
    from rocketlane_emulator import Emulator

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
# The pages behind the README: one per capability, and the streams in depth.
PAGES = (
    "deletions", "values", "large-workspaces", "models", "live-check", "loaders",
    "reliability", "performance", "design-notes", "streams", "emulator-workspaces",
)  # fmt: skip
MAX_README_LINES = 300
WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / ".tools" / "actionlint" / "bin" / "actionlint"


def about(fmt: str) -> str:
    proc = subprocess.run(
        [TAP, "--about", f"--format={fmt}"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def about_json() -> dict[str, Any]:
    described: dict[str, Any] = json.loads(about("json"))
    return described


@pytest.fixture(scope="module")
def meltano_yml() -> dict[str, Any]:
    project: dict[str, Any] = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return project


def plugin(project: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    found: dict[str, Any]
    [found] = [p for p in project["plugins"][kind] if p["name"] == name]
    return found


# ---------------------------------------------------------------------------- README
def table(lines: list[str]) -> list[str]:
    return [line.rstrip() for line in lines if line.startswith("|")]


def test_readme_settings_table_is_the_generated_one() -> None:
    text = README.read_text()
    start = text.index("<!-- settings:start")
    end = text.index("<!-- settings:end -->")
    readme = table(text[start:end].splitlines()[1:])
    generated = about("markdown").split("## Settings", 1)[1].splitlines()
    assert readme == table(generated), "regenerate with `tap-pm --about --format=markdown`"
    assert len(readme) > 20


def test_readme_is_a_front_door_to_every_docs_page() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_README_LINES, "move the depth to a page in docs/"
    linked = {Path(target.split("#")[0]).stem for target, _ in links(text) if "docs/" in target}
    pages = {page.stem for page in DOCS.glob("*.md")}
    assert pages == set(PAGES), "a page was added or removed: update PAGES and the README"
    assert linked == pages, f"pages the README does not link: {sorted(pages - linked)}"


# ------------------------------------------------------------------------ links, anchors
FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n.*?^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+).+?\1", re.DOTALL)
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
INLINE_LINK = re.compile(r"\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?", re.MULTILINE)
HTML_LINK = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""")
HTML_ANCHOR = re.compile(r"""<a\s[^>]*\b(?:name|id)\s*=\s*["']([^"']+)["']""")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
SCHEME = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")


def blank(match: re.Match[str]) -> str:
    """The matched text as blanks, its lines kept (so line numbers still hold)."""
    return re.sub(r"[^\n]", " ", match[0])


def prose(text: str) -> str:
    """Markdown without code blocks and HTML comments: where links and headings count."""
    return FENCE.sub(blank, COMMENT.sub(blank, text))


def links(text: str) -> list[tuple[str, int]]:
    """(target, line) of every link, image and reference outside code, in that order."""
    text = CODE_SPAN.sub(blank, prose(text))
    return [
        (match[1], text.count("\n", 0, match.start()) + 1)
        for pattern in (INLINE_LINK, REFERENCE, HTML_LINK)
        for match in pattern.finditer(text)
    ]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text, lower case, without punctuation or symbols
    (hyphens and underscores stay), each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link reads as its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    kept = (
        ch for ch in text.strip().lower() if ch in "-_ " or unicodedata.category(ch)[0] in "LNM"
    )
    return "".join(kept).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors GitHub gives a page: one per heading (repeats get -1, -2, ...), and HTML's."""
    seen: dict[str, int] = {}
    found = set(HTML_ANCHOR.findall(text))
    for match in HEADING.finditer(prose(text)):
        base = slug(match[2])
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def repository_files() -> set[str] | None:
    """Files GitHub would show (tracked, or new and not ignored); None outside a git checkout."""
    proc = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return set(proc.stdout.splitlines()) if proc.returncode == 0 else None


def broken_links(page: Path, root: Path, files: set[str] | None) -> list[str]:
    """Each relative link of a Markdown page whose file or #anchor does not exist."""
    text = page.read_text(encoding="utf-8")
    broken = []
    for target, line in links(text):
        if not target or SCHEME.match(target):
            continue
        path, _, anchor = unquote(target).partition("#")
        where = f"{page.relative_to(root)}:{line}: {target}"
        dest = (page.parent / path).resolve() if path else page
        if not dest.is_relative_to(root):
            broken.append(f"{where} (outside the repository)")
            continue
        name = dest.relative_to(root).as_posix()
        in_repo = dest.exists() and (
            files is None or name in files or any(f.startswith(f"{name}/") for f in files)
        )
        if not in_repo:
            broken.append(f"{where} (no such file in the repository)")
        elif anchor and dest.suffix == ".md":
            if anchor not in anchors(dest.read_text(encoding="utf-8")):
                broken.append(f"{where} (no heading with that anchor)")
        elif anchor and not re.fullmatch(r"L\d+(-L\d+)?", anchor):
            broken.append(f"{where} (an anchor into a file that has none)")
    return broken


@pytest.mark.parametrize(
    "page", [README, *sorted(DOCS.glob("*.md"))], ids=lambda p: p.relative_to(ROOT).as_posix()
)
def test_relative_links_and_anchors_resolve(page: Path) -> None:
    assert page.exists()
    assert broken_links(page, ROOT, repository_files()) == []


def test_anchors_follow_githubs_rules() -> None:
    text = (
        "# Set-up (fresh clone)\n## `start_date` sets the scope; it does not turn deletions off\n"
    )
    text += "## Cost at 300 and 3,000 projects\n## Notes\n```bash\n# not a heading\n```\n## Notes\n"
    text += "### [Models](docs/models.md) — **marts** ≤ 300 \u00d7 2\n<a id='custom'></a>\n"
    assert anchors(text) == {
        "set-up-fresh-clone",
        "start_date-sets-the-scope-it-does-not-turn-deletions-off",
        "cost-at-300-and-3000-projects",
        "notes",
        "notes-1",
        "models--marts--300--2",
        "custom",
    }


def test_link_check_finds_what_is_broken(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("# Page\n\n## A section\n", encoding="utf-8")
    (tmp_path / "code.py").write_text("x = 1\n", encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Title\n\n[ok](docs/page.md) [ok](docs/page.md#a-section) [ok](#title) [ok](docs/)\n"
        "[ok](code.py) [web](https://example.com/x#y) `[code](missing.md)`\n"
        "```md\n[in a block](missing.md)\n```\n"
        "[gone](docs/missing.md) [anchor](docs/page.md#no-such-section) [here](#nowhere)\n"
        "[out](../elsewhere.md) [into code](code.py#section)\n\n[ref]: docs/gone.md\n",
        encoding="utf-8",
    )
    problems = broken_links(readme, tmp_path, None)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "docs/missing.md (no such file in the repository)",
        "docs/page.md#no-such-section (no heading with that anchor)",
        "#nowhere (no heading with that anchor)",
        "../elsewhere.md (outside the repository)",
        "code.py#section (an anchor into a file that has none)",
        "docs/gone.md (no such file in the repository)",
    ]
    assert problems[0].startswith("README.md:8: ")  # where to look
    # A file on disk that git would not show (ignored, e.g. output/) is no link for GitHub.
    hidden = broken_links(readme, tmp_path, {"README.md", "docs/page.md"})
    assert "code.py (no such file in the repository)" in [p.split(": ", 1)[1] for p in hidden]


# --------------------------------------------------------------------- set-up, quick start
def section(text: str, heading: str) -> str:
    """The text under a `## heading` of the README, up to the next `## `."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def commands(block: str) -> list[str]:
    """A block's command lines, without their comments."""
    lines = (line.split(" #", 1)[0].strip() for line in block.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_setup_commands_are_makefile_targets_and_ci_runs_the_test_one() -> None:
    [block] = shell_blocks(section(README.read_text(encoding="utf-8"), "Set-up (fresh clone)"))
    assert commands(block) == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    for command in commands(block):
        target = command.removeprefix("make ")
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), (
            f"the Makefile has no target {target}"
        )
    ci = commands((ROOT / ".ci" / "run").read_text())
    assert ci[-1] == commands(block)[-1], (
        "`.ci/run` must end with exactly the README's test command"
    )


def quick_start() -> dict[str, str]:
    """The quick start's shell blocks, by what runs them: each one is run by a test below."""
    blocks = shell_blocks(section(README.read_text(encoding="utf-8"), "Quick start"))
    by_kind = {"meltano" if "meltano run" in block else "alone": block for block in blocks}
    assert len(by_kind) == len(blocks) == 2, "each quick start block needs a test that runs it"
    return by_kind


def run_block(block: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A README block as a bash script, as written: the first failing command stops it."""
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert_no_secret(proc.stdout, proc.stderr)
    assert proc.returncode == 0, f"the quick start failed:\n{block}\n{proc.stderr[-6000:]}"
    return proc


def test_quick_start_with_meltano_runs_as_written(
    shared_emulator: Emulator, tmp_path: Path
) -> None:
    """A clone's quick start: the key stored with the README's command, then its block."""
    assert MELTANO.exists(), "run `make test` (it installs Meltano into .tools/meltano)"
    root = copy_project(tmp_path / "clone")
    shutil.copy2(ROOT / "Makefile", root / "Makefile")
    shutil.copytree(
        ROOT / "transform", root / "transform", ignore=shutil.ignore_patterns("target", "logs")
    )
    (root / ".tools").symlink_to(ROOT / ".tools")  # installed already: `make tools` keeps them
    env = {k: v for k, v in clean_env().items() if not k.startswith("DBT_")}
    env |= {  # the emulator instead of Rocketlane; it has no rate limit
        "TAP_PM_BASE_URL": shared_emulator.base_url,
        "TAP_PM_MAX_REQUESTS_PER_MINUTE": "100000",
    }
    # The README's way to keep the key in .env, the key in place of its "…".
    text = section(README.read_text(encoding="utf-8"), "Quick start")
    [store_key] = re.findall(r"`meltano (config [^`]*api_key[^`]*)`", text)
    stored = subprocess.run(
        [str(MELTANO), *shlex.split(store_key.replace("…", API_KEY))],
        cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert stored.returncode == 0, stored.stderr[-3000:]
    assert_no_secret(stored.stdout, stored.stderr)
    assert f"TAP_PM_API_KEY='{API_KEY}'" in (root / ".env").read_text()
    assert API_KEY not in (root / "meltano.yml").read_text()

    proc = run_block(quick_start()["meltano"], root, env)

    warehouse = root / "output" / "warehouse.duckdb"
    check_warehouse(read_duckdb(warehouse), shared_emulator, {"TIMESTAMP"}, {"JSON"})
    marts = read_duckdb(warehouse, "analytics")
    projects = {row["project_id"] for row in marts.tables["rocketlane__projects"]}
    assert projects == shared_emulator.ids("projects")
    state = json.loads(proc.stdout.strip().splitlines()[-1])["singer_state"]
    assert set(state["bookmarks"]) == set(STREAMS)


def test_quick_start_on_its_own_runs_as_written(shared_emulator: Emulator, tmp_path: Path) -> None:
    """The tap alone into target-jsonl: a config.json as the README says, then its block."""
    target_jsonl = ROOT / ".tools" / "target-jsonl" / "bin"
    assert (target_jsonl / "target-jsonl").exists(), "run `make test` (it installs target-jsonl)"
    config: dict[str, Any] = {"api_key": API_KEY, "base_url": shared_emulator.base_url}
    config["max_requests_per_minute"] = 100_000  # the emulator has no rate limit
    (tmp_path / "config.json").write_text(json.dumps(config))
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(TAP).parent), str(target_jsonl),
                                                   os.environ["PATH"]])}  # fmt: skip
    env = {k: v for k, v in env.items() if not k.startswith("TAP_PM")}

    run_block(quick_start()["alone"], tmp_path, env)

    catalog = json.loads((tmp_path / "catalog.json").read_text())
    assert {s["tap_stream_id"] for s in catalog["streams"]} == {*STREAMS, *OPT_IN}
    loaded: dict[str, set[int]] = {}
    for path in tmp_path.glob("*.jsonl"):
        stream = re.sub(r"-\d{8}T\d{6}$", "", path.stem)
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        loaded.setdefault(stream, set()).update(row["id"] for row in rows)
    assert loaded == {stream: shared_emulator.ids(stream) for stream in STREAMS}
    state = json.loads((tmp_path / "state.json").read_text())
    assert set(state["bookmarks"]) == set(STREAMS)
    assert not (tmp_path / "new-state.json").exists()


# --------------------------------------------------------------------------- meltano.yml
def test_meltano_yml_has_an_extractor_per_workspace(meltano_yml: dict[str, Any]) -> None:
    extractor = plugin(meltano_yml, "extractors", "tap-pm")
    acme = plugin(meltano_yml, "extractors", "tap-pm--acme")
    assert acme["inherit_from"] == "tap-pm"
    assert acme["load_schema"] != extractor["namespace"]


def test_meltano_yml_loaders_and_no_secrets(meltano_yml: dict[str, Any]) -> None:
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
def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    assert ACTIONLINT.exists(), "run `make test` (it installs actionlint into .tools)"
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", *map(str, files)],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip


def test_workflows_pass_actionlint() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"test.yml", "lint.yml", "release.yml"}
    proc = actionlint(*files)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_finds_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ matrix.python-version }}\n"
    )
    proc = actionlint(broken)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "matrix" in proc.stdout


def test_test_workflow_covers_every_supported_python(about_json: dict[str, Any]) -> None:
    workflow = yaml.safe_load((WORKFLOWS / "test.yml").read_text())
    [job] = workflow["jobs"].values()
    assert job["strategy"]["matrix"]["python-version"] == about_json["supported_python_versions"]
    assert any(step.get("run") == ".ci/run" for step in job["steps"])


def test_release_workflow_builds_checks_and_publishes_with_trusted_publishing() -> None:
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


def test_dependabot_watches_pip_and_actions() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert {u["package-ecosystem"] for u in config["updates"]} == {"pip", "github-actions"}
