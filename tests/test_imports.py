"""The module graph has no cycle, and the design notes' map of tap_pm is the graph as it is."""

from __future__ import annotations

import re
from pathlib import Path

from tools.imports import PACKAGES, cycle, graph, render

NOTES = Path(__file__).parents[1] / "docs" / "design-notes.md"


def test_no_package_imports_itself_in_a_cycle() -> None:
    for package in PACKAGES:
        edges = graph(package)
        assert len(edges) > 10, package  # the graph is really read
        assert cycle(edges) is None, f"{package}: import cycle {cycle(edges)}"


def test_a_cycle_is_found() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_the_design_notes_map_is_the_graph() -> None:
    text = NOTES.read_text()
    match = re.search(r"<!-- imports: tap_pm -->\n```text\n(.*?)\n```", text, re.DOTALL)
    assert match, "docs/design-notes.md has no map of tap_pm's imports"
    assert match.group(1) == render(graph("tap_pm")), (
        "the map in docs/design-notes.md is out of date: paste `python -m tests.tools.imports`"
    )
