"""The live API's shapes, where public captures show they differ from the spec.

Each change is one row of spec/live-deviations.md, which names its source. They are applied
to the generated workspace after generation, with random generators of their own (one per
resource), so the spec's shapes (``shapes="spec"``) and the live ones share every other value.
"""

from __future__ import annotations

import uuid
from random import Random
from typing import TYPE_CHECKING, Any

from .data import ID_BASES, TASK_STATUSES

if TYPE_CHECKING:
    from .data import _Generator

Record = dict[str, Any]

SHAPES = ("live", "spec")

#: Added to every id: live workspaces have 13-digit ids (`5000000072364`).
LIVE_ID_OFFSET = 5_000_000_000_000

#: `projects.currency` is an object live; the spec's string is its `currencyCode`.
CURRENCY_DETAILS = {
    "USD": ("US Dollar", "$"),
    "EUR": ("Euro", "€"),
    "GBP": ("British Pound", "£"),
    "INR": ("Indian Rupee", "₹"),
    "JPY": ("Japanese Yen", "¥"),
    "AUD": ("Australian Dollar", "A$"),
}

#: A task status beyond the spec's four, lower-case as captured.
ON_HOLD = (5, "on hold")
#: Task status labels differ per workspace (values stay); one set is picked per seed.
TASK_LABELS = (
    {1: "To do", 2: "In progress", 3: "Completed", 4: "Blocked"},
    {1: "Not started", 2: "Working on it", 3: "Completed", 4: "Stuck"},
    {1: "Open", 2: "In progress", 3: "Done", 4: "Waiting on customer"},
)
ON_HOLD_SHARE = 0.06

#: Records created through the API name the API key as their creator: its `emailId` is a
#: UUID, its `firstName` the key's name, and it has no `lastName` nor a row in `/users`.
API_KEY_NAME = "Project from CSV to RL"
API_CREATED_SHARE = 0.08
API_CREATED = ("projects", "phases", "tasks")

# Custom-field entries keep their nulls: no capture shows a custom field without a value.
_KEEP_NULLS = "fields"


def api_key_user(seed: int, id_offset: int) -> Record:
    """The reference to the API key that creates records through the API."""
    rng = Random(f"api-key-{seed}")
    email = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return {
        "emailId": email,
        "userId": id_offset + ID_BASES["users"] - 7,
        "firstName": API_KEY_NAME,
    }


def apply_live_shapes(gen: _Generator, seed: int) -> None:
    """Turn the spec-shaped workspace in ``gen.out`` into the live shapes, in place."""
    out = gen.out
    currencies = {
        code: {"currencyCode": code, "currencyName": name, "currencySymbol": symbol}
        for code, (name, symbol) in CURRENCY_DETAILS.items()
    }
    for project in out["projects"]:
        if isinstance(project.get("currency"), str):
            project["currency"] = currencies[project["currency"]]

    labels = TASK_LABELS[seed % len(TASK_LABELS)]
    statuses = {value: {"value": value, "label": labels[value]} for value, _ in TASK_STATUSES}
    statuses[ON_HOLD[0]] = {"value": ON_HOLD[0], "label": ON_HOLD[1]}
    rngs = {name: gen.stream(f"{name}:live") for name in API_CREATED}
    for task in out["tasks"]:
        value = ON_HOLD[0] if rngs["tasks"].random() < ON_HOLD_SHARE else task["status"]["value"]
        task["status"] = statuses[value]

    api_user = api_key_user(seed, gen.id_offset)
    for name in API_CREATED:
        for record in out[name]:
            if rngs[name].random() < API_CREATED_SHARE:
                record["createdBy"] = record["updatedBy"] = api_user

    # An invited user has no updatedAt yet (captured); some users have no last name.
    for user in out["users"]:
        if user["status"] == "INVITED":
            del user["updatedAt"]
    nameless = {ref["userId"] for i, ref in enumerate(gen.user_refs) if i % 6 == 5}

    memo: dict[int, Any] = {}
    originals = dict(out)  # alive until the end: memo's keys are their objects' ids
    for name, records in originals.items():
        out[name] = [_without_nulls(record, nameless, memo) for record in records]
    del originals


def _without_nulls(record: Record, nameless: set[int], memo: dict[int, Any]) -> Record:
    """``record`` with null properties left out, at every depth, as the live API sends it.

    Shared sub-objects stay shared (``memo``); a user in ``nameless`` loses its lastName.
    Only dicts and lists of them are visited: 60k tasks take a few seconds, not a minute.
    """
    copied: Record | None = memo.get(id(record))
    if copied is not None:
        return copied
    drop_last = record.get("userId") in nameless
    copied = {}
    for key, item in record.items():
        if item is None or (drop_last and key == "lastName"):
            continue
        kind = type(item)
        if key == _KEEP_NULLS:
            copied[key] = item
        elif kind is dict:
            copied[key] = _without_nulls(item, nameless, memo)
        elif kind is list and item and type(item[0]) is dict:
            copied[key] = _list_without_nulls(item, nameless, memo)
        else:
            copied[key] = item
    memo[id(record)] = copied
    return copied


def _list_without_nulls(
    items: list[Record], nameless: set[int], memo: dict[int, Any]
) -> list[Record]:
    copied: list[Record] | None = memo.get(id(items))
    if copied is None:
        copied = memo[id(items)] = [_without_nulls(item, nameless, memo) for item in items]
    return copied
