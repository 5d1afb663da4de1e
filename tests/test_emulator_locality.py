"""The emulator's changes stay local: each resource draws from generators of its own.

A new field in one resource changes that resource's records and those of the resources that
read its values (written out by hand below), no other: not their records, not their counts,
not any id. The check is shown to catch the old design (one random stream for everything).
What does change, the record counts, the docs quote from one generated page, kept in step here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from random import Random
from typing import TYPE_CHECKING, Any

import pytest

from rocketlane_emulator import ID_KEYS, OPT_IN_ID_KEYS, counts, data
from rocketlane_emulator.data import Scale, _Generator
from rocketlane_emulator.workspace import generate

if TYPE_CHECKING:
    from collections.abc import Callable

Workspace = dict[str, list[dict[str, Any]]]
SEED = 1

# What reads a resource's values once it is built: what else may change when its draws do.
# Written from the design (docs/design-notes.md), not from a run.
READERS: dict[str, set[str]] = {
    "fields": set(),  # others hold field ids and labels, which draw nothing of fields' values
    # Who logs time and how much (status, capacity); projects' figures add up the time;
    # allocations plan people at their capacity, with their role.
    "users": {"time-entries", "projects", "resource-allocations"},
    # Start days, status, currency and contract: phases start with their project, tasks within
    # it, time is logged on running projects, invoices bill billable ones (their lines and
    # payments add up), allocations plan running projects.
    "projects": {
        "phases",
        "tasks",
        "time-entries",
        "invoices",
        "invoice-lines",
        "invoice-payments",
        "resource-allocations",
    },
    # A project lists its current phases; tasks and time entries hold phase names.
    "phases": {"projects", "tasks", "time-entries"},
    "spaces": {"space-documents"},  # a document holds its space's name
    "space-documents": set(),
    # Time entries hold a task's name, type and phase; allocations a task's name.
    "tasks": {"time-entries", "resource-allocations"},
    "time-offs": {"time-entries", "projects"},  # no time logged while off; projects add it up
    "time-entries": {"projects"},  # a project's tracked time, budget burn and financials
    "invoices": {"invoice-lines", "invoice-payments"},  # the projects billed, the issue date
    "invoice-lines": {"invoices", "invoice-payments"},  # amounts add up, payments pay them
    "invoice-payments": {"invoices"},  # paid, written off, outstanding, status
    "resource-allocations": set(),
    "conversations": set(),  # comments hold conversation ids, which come from a stream apart
    "comments": set(),
    "companies": set(),
}


def _generate(stream: Callable[[_Generator, str], Random] | None = None) -> Workspace:
    """The default workspace, with ``stream`` in place of ``_Generator.stream`` if given."""
    with pytest.MonkeyPatch.context() as patch:
        if stream is not None:
            patch.setattr(_Generator, "stream", stream)
        return generate(SEED, Scale.default())


def _changed(before: Workspace, after: Workspace) -> set[str]:
    assert before.keys() == after.keys()
    return {name for name in before if before[name] != after[name]}


def _reseeded(target: str) -> Callable[[_Generator, str], Random]:
    """``_Generator.stream`` with ``target``'s draws all different: any change to it at worst."""
    original = _Generator.stream

    def stream(gen: _Generator, name: str) -> Random:
        rng = original(gen, name)
        if name == target:
            rng.seed(f"{gen.seed}:{name}:changed")
        return rng

    return stream


@pytest.fixture(scope="module")
def baseline() -> Workspace:
    return _generate()


@pytest.fixture(scope="module")
def asked() -> Counter[str]:
    """The names of the generators one workspace asks for, with how often."""
    names: Counter[str] = Counter()
    original = _Generator.stream

    def stream(gen: _Generator, name: str) -> Random:
        names[name] += 1
        return original(gen, name)

    _generate(stream)
    return names


def _digest_elsewhere(hash_seed: str) -> str:
    """The small workspace's digest, generated in a process with its own str hash salt."""
    code = (
        "import hashlib, json; from rocketlane_emulator import Scale, generate; "
        "print(hashlib.sha256(json.dumps(generate(1, Scale.small()), sort_keys=True)"
        ".encode()).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return proc.stdout.strip()


def test_streams_are_stable_across_processes() -> None:
    # A text seed goes through SHA-512, not hash(), which is salted per process.
    assert data.stream_of(1, "tasks").random() == 0.343648735307014
    here = generate(1, Scale.small())
    digest = hashlib.sha256(json.dumps(here, sort_keys=True).encode()).hexdigest()
    assert _digest_elsewhere("1") == _digest_elsewhere("2") == digest


def test_each_generator_is_asked_for_once_and_belongs_to_a_resource(
    asked: Counter[str], baseline: Workspace
) -> None:
    assert set(asked.values()) == {1}
    owners = {name.split(":")[0] for name in asked} - {"custom-fields"}
    assert owners == set(READERS)
    assert set(READERS) == set(baseline) - {"time-entry-categories"}  # the one that draws nothing
    assert {name.split(":")[1] for name in asked if name.startswith("custom-fields:")} == {
        "USER", "PROJECT", "TASK"
    }  # fmt: skip


@pytest.mark.parametrize("resource", sorted(READERS))
def test_a_resource_draws_change_only_itself_and_its_readers(
    baseline: Workspace, resource: str
) -> None:
    after = _generate(_reseeded(resource))
    assert _changed(baseline, after) == {resource} | READERS[resource]


@pytest.mark.parametrize("part", ["timestamps", "updated", "live"])
def test_timestamps_and_live_shapes_change_only_their_resource(
    asked: Counter[str], baseline: Workspace, part: str
) -> None:
    names = sorted(name for name in asked if name.endswith(f":{part}"))
    assert len(names) >= 3
    for name in names:
        assert _changed(baseline, _generate(_reseeded(name))) == {name.split(":")[0]}, name


def test_a_new_task_field_changes_no_other_resource_and_no_id(
    baseline: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One more property per task, drawn where tasks draw theirs."""
    describe = _Generator._task_description  # noqa: SLF001 - where tasks draw a property

    def with_new_field(gen: _Generator, rng: Random, long: list[str]) -> str | None:
        rng.random()  # the new property's value
        return describe(gen, rng, long)

    monkeypatch.setattr(_Generator, "_task_description", with_new_field)
    after = generate(SEED, Scale.default())
    assert _changed(baseline, after) == {"tasks"} | READERS["tasks"]
    # Every list keeps its records' count and ids: references elsewhere stay valid and equal.
    keys = {**ID_KEYS, **OPT_IN_ID_KEYS}
    for name, records in baseline.items():
        key = keys[name]
        assert [r[key] for r in records] == [r[key] for r in after[name]], name


def _one_stream(target: str | None = None) -> Callable[[_Generator, str], Random]:
    """The old design: one generator for the whole workspace, changed from ``target`` on."""
    shared: dict[int, Random] = {}

    def stream(gen: _Generator, name: str) -> Random:
        rng = shared.setdefault(id(gen), Random(gen.seed))
        if name == target:
            rng.seed(f"{gen.seed}:{name}:changed")
        return rng

    return stream


@pytest.mark.parametrize("resource", ["fields", "time-offs"])
def test_one_shared_stream_would_fail_the_check(resource: str) -> None:
    """With one generator for everything, the same change reaches resources that do not read
    ``resource`` at all (those built after it): the checks above would go red."""
    before = _generate(_one_stream())
    assert _changed(before, _generate(_one_stream())) == set()  # still deterministic
    beyond = _changed(before, _generate(_one_stream(resource))) - {resource} - READERS[resource]
    assert {"comments", "conversations", "companies", "invoices"} <= beyond


# ------------------------------------------------------------------- the counts the docs quote
ROOT = Path(__file__).parents[1]
# A workspace's record count as the README and docs quote it: followed by a link to the page.
QUOTED = re.compile(r"([\d,]+) records \(\[[^\]]*\]\((?:docs/)?emulator-workspaces\.md\)\)")


def test_the_counts_page_is_the_generated_one() -> None:
    page = ROOT / "docs" / "emulator-workspaces.md"
    assert page.read_text(encoding="utf-8") == counts.page(), (
        "the emulator's data changed: run `python -m rocketlane_emulator.counts`"
    )


def test_counts_do_not_depend_on_the_shapes() -> None:
    live = generate(counts.SEED, Scale.default())
    assert {name: len(records) for name, records in live.items()} == counts.counts(Scale.default())


def test_the_counts_the_readme_and_docs_quote_are_the_pages() -> None:
    per_scale = [counts.counts(scale) for _, scale in counts.SCALES]
    nine = {sum(c[name] for name in counts.NINE) for c in per_scale}
    totals = nine | {sum(c.values()) for c in per_scale}
    quoted = {
        (page.name, int(number.replace(",", "")))
        for page in (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
        for number in QUOTED.findall(page.read_text(encoding="utf-8"))
    }
    large = counts.counts(Scale.large())
    # The README quotes the benchmark's workspace: the nine streams at the large size.
    assert ("README.md", sum(large[name] for name in counts.NINE)) in quoted
    assert {number for _, number in quoted} <= totals, quoted
