"""The SDK boundary, written down: every singer-sdk attribute tap-pm overrides or uses privately.

`tests/fixtures/sdk-contract.json` lists each with the installed SDK's signature. When an SDK
upgrade renames a hook, tap-pm's override stops being called without an error; here the hook
goes missing from the contract and the test fails, naming it. A changed signature fails the
same way. Every override also carries `@override`, so mypy (`explicit-override`) and readers
see which methods the SDK calls.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import inspect
import json
import pkgutil
from functools import cached_property
from pathlib import Path
from typing import Any

import tap_pm

CONTRACT = Path(__file__).parent / "fixtures" / "sdk-contract.json"
PACKAGE = Path(tap_pm.__file__).parent
# Class attributes the SDK declares for subclasses to set: data, not hooks.
DATA = {"_abc_impl"}


def project_classes() -> list[type]:
    classes = []
    for info in pkgutil.iter_modules([str(PACKAGE)]):
        if info.name == "__main__":
            continue
        module = importlib.import_module(f"tap_pm.{info.name}")
        classes += [
            value
            for value in vars(module).values()
            if inspect.isclass(value) and value.__module__ == module.__name__
        ]
    return classes


def sdk_bases(cls: type) -> list[type]:
    return [base for base in cls.__mro__ if base.__module__.startswith("singer_sdk")]


def signature(value: object) -> str:
    """What a caller relies on: parameters of a function, else the kind of attribute."""
    if value is INSTANCE:
        return "instance attribute"
    function = value
    if isinstance(value, (classmethod, staticmethod)):
        function = value.__func__
    elif isinstance(value, property):
        return "property"
    elif isinstance(value, cached_property):
        return "cached_property"
    if callable(function) and not inspect.isclass(function):
        try:
            return str(inspect.signature(function))
        except (TypeError, ValueError):
            return "callable"
    return "attribute"


def overrides() -> dict[str, tuple[type, str, object]]:
    """'<sdk class>.<name>' -> (the project's class, the name, the SDK's attribute)."""
    found = {}
    for cls in project_classes():
        for name in vars(cls):
            if (name.startswith("__") and name.endswith("__")) or name in DATA:
                continue
            for base in sdk_bases(cls):
                if name in vars(base):
                    found[f"{base.__module__}.{base.__qualname__}.{name}"] = (
                        cls,
                        name,
                        vars(base)[name],
                    )
                    break
    return found


def private_uses() -> dict[str, object]:
    """Private SDK names the package reaches: `self._x` the SDK defines, private modules."""
    own = {name for cls in project_classes() for name in vars(cls)}
    derived = {cls.__name__: sdk_bases(cls) for cls in project_classes() if sdk_bases(cls)}
    found: dict[str, object] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text())
        # Attributes are looked up only inside the classes built on the SDK's.
        scopes: list[tuple[ast.AST, list[type]]] = [(tree, [])] + [
            (node, derived[node.name])
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef) and node.name in derived
        ]
        for scope, sdk_classes in scopes:
            found.update(_private_in(scope, sdk_classes, own))
    return found


def _private_in(scope: ast.AST, sdk_classes: list[type], own: set[str]) -> dict[str, object]:
    found: dict[str, object] = {}
    for node in ast.walk(scope):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
            module = node.module or ""
            for alias in node.names:
                if "._" in f".{module}" or alias.name.startswith("_"):
                    target = importlib.import_module(module)
                    found[f"{module}.{alias.name}"] = getattr(target, alias.name)
        elif (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and node.attr not in own
        ):
            for base in sdk_classes:
                key = f"{base.__module__}.{base.__qualname__}.{node.attr}"
                if node.attr in vars(base):
                    found[key] = vars(base)[node.attr]
                    break
                if node.attr in instance_attributes(base):
                    found[key] = INSTANCE
                    break
    return found


INSTANCE = object()


def instance_attributes(cls: type) -> set[str]:
    """Private attributes an SDK class's `__init__` sets on the instance (`self._tap`, ...)."""
    init = vars(cls).get("__init__")
    if init is None:
        return set()
    tree = ast.parse(inspect.getsource(init).strip().replace("\n    ", "\n"))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
        and isinstance(node.ctx, ast.Store)
    }


def contract() -> dict[str, Any]:
    return {
        "sdk": importlib.metadata.version("singer-sdk"),
        "overridden": {key: signature(value) for key, (_, _, value) in sorted(overrides().items())},
        "used privately": {key: signature(value) for key, value in sorted(private_uses().items())},
    }


def test_the_sdk_still_has_every_hook_tap_pm_relies_on() -> None:
    expected = json.loads(CONTRACT.read_text())
    current = contract()
    # The version alone may move (a patch release); what is below must not.
    for part in ("overridden", "used privately"):
        missing = sorted(set(expected[part]) - set(current[part]))
        assert not missing, (
            f"the installed singer-sdk no longer has (or tap-pm no longer uses) {missing}: a "
            "renamed hook is silently not called. Find its new name in the SDK's changelog."
        )
        changed = {
            key: (expected[part][key], current[part][key])
            for key in expected[part]
            if expected[part][key] != current[part][key]
        }
        assert not changed, f"signatures changed (contract, installed): {changed}"
        new = sorted(set(current[part]) - set(expected[part]))
        assert not new, f"tap-pm now relies on {new}: add them to {CONTRACT.name}"


def test_every_override_says_so() -> None:
    unmarked = []
    for key, (cls, name, _) in overrides().items():
        value = vars(cls)[name]
        function = getattr(value, "fget", None) or getattr(value, "func", None) or value
        function = getattr(function, "__func__", function)
        is_hook = callable(function) and not inspect.isclass(function)  # a class is data here
        if is_hook and not getattr(function, "__override__", False):
            unmarked.append(f"{cls.__name__}.{name} ({key})")
    assert not unmarked, f"overrides without @override: {unmarked}"


if __name__ == "__main__":  # regenerate the contract after a deliberate SDK upgrade
    CONTRACT.write_text(json.dumps(contract(), indent=2) + "\n")
