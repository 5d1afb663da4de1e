"""The module graph of tap_pm and of the emulator, and whether it has a cycle.

`python -m tests.tools.imports` prints, per package, each module and the sibling modules it
imports when it runs (imports for type checkers only are left out: they never run), and exits
1 on a cycle. docs/design-notes.md carries tap_pm's graph as printed; tests/test_imports.py
keeps the two in step.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("tap_pm", "rocketlane_emulator")


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of the module but those under `if TYPE_CHECKING:`."""
    found: list[ast.AST] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        found.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                pending.extend(child.orelse)
            else:
                pending.append(child)
    return found


def graph(package: str) -> dict[str, set[str]]:
    """Module -> the sibling modules it imports at run time."""
    folder = ROOT / package
    modules = {path.stem for path in folder.glob("*.py")} - {"__main__"}
    edges: dict[str, set[str]] = {}
    for module in sorted(modules):
        tree = ast.parse((folder / f"{module}.py").read_text())
        imported: set[str] = set()
        for node in _runtime_nodes(tree):
            if isinstance(node, ast.ImportFrom):
                name = node.module or ""
                if node.level == 1:  # from .x import y / from . import x
                    imported |= {name.split(".")[0]} if name else {a.name for a in node.names}
                elif name == package:  # from tap_pm import x
                    imported |= {a.name for a in node.names}
                elif name.startswith(f"{package}."):
                    imported.add(name.split(".")[1])
            elif isinstance(node, ast.Import):
                imported |= {
                    a.name.split(".")[1] for a in node.names if a.name.startswith(f"{package}.")
                }
        edges[module] = (imported & modules) - {module}
    return edges


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for target in sorted(edges.get(module, ())):
            if found := visit(target, (*path, module)):
                return found
        done.add(module)
        return None

    for module in sorted(edges):
        if found := visit(module, ()):
            return found
    return None


def render(edges: dict[str, set[str]]) -> str:
    """One line per module: `module -> what it imports`."""
    width = max(map(len, edges))
    return "\n".join(
        f"{module:<{width}} -> {', '.join(sorted(targets)) or '(nothing of the package)'}"
        for module, targets in sorted(edges.items())
    )


def main() -> int:
    status = 0
    for package in PACKAGES:
        edges = graph(package)
        print(f"{package}:")
        print(render(edges))
        if found := cycle(edges):
            print(f"import cycle: {' -> '.join(found)}")
            status = 1
        print()
    return status


if __name__ == "__main__":
    sys.exit(main())
