"""The whole generated workspace: the nine resources (data.py), the opt-in lists (extra.py)
and the live API's shapes (live.py), in that order.

It sits above the three so that each of them imports only downward.
"""

from __future__ import annotations

from .data import Record, Scale, _Generator
from .extra import add_opt_in_resources
from .live import LIVE_ID_OFFSET, SHAPES, apply_live_shapes


def generate(seed: int, scale: Scale, shapes: str = "live") -> dict[str, list[Record]]:
    """Return ``{resource: [records sorted by natural id]}`` in full shape.

    ``shapes``: "live" (what the live API sends, see spec/live-deviations.md) or "spec" (the
    OpenAPI spec's shapes). Both draw the same random numbers; each resource draws from
    generators of its own (``_Generator.stream``), seeded from (seed, resource).
    """
    if shapes not in SHAPES:
        message = f"unknown shapes {shapes!r}; expected one of {', '.join(SHAPES)}"
        raise ValueError(message)
    gen = _Generator(seed, scale, LIVE_ID_OFFSET if shapes == "live" else 0)
    gen.users()
    gen.fields()
    gen.user_records()
    gen.projects()
    gen.project_children()
    gen.tasks()
    gen.time_offs()  # before the time entries: people log no time while off
    gen.time_entries()
    add_opt_in_resources(gen)
    if shapes == "live":
        apply_live_shapes(gen, seed)
    return gen.out
