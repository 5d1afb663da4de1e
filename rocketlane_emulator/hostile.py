"""Values JSON allows that stop naive pipelines: the emulator's `hostile` option.

With ``Emulator(hostile=True)`` (``--hostile`` on the command line) the generated workspace
carries one value of each kind below, each on the second record its list shows (the first is
the drift option's; the first if there is only one), so a one-page look meets them all.
``hostile`` may also name the kinds to send.

==============  ===============  =====================  ===================================
kind            stream           field                  sent
==============  ===============  =====================  ===================================
lone-surrogate  tasks            taskName               the name cut inside an emoji
big-integer     tasks            effortInMinutes        100000000000000000000
long-text       tasks            taskDescription        2 MiB of rich text, an inline image
deep-nesting    tasks            fields[0].fieldValue   a list nested 1,000 levels deep
deep-allowed    tasks            fields[1].fieldValue   797 levels: the task is 800 deep
huge-number     projects         budgetedHours          1e400
tiny-number     time-entries     costRate.rate          1e-400
nul             spaces           spaceName              a NUL inside the name
invalid-utf8    space-documents  url                    a byte that is not UTF-8
odd-key         users            a property named \\ud83d  "cut"
==============  ===============  =====================  ===================================

Bodies are written by `dumps`: a lone surrogate as its escape (as Java servers send it), and
a `RawJSON` value as its bytes, for what Python's `json` cannot write (1e400, a bad byte).
`Emulator.hostile` lists what was changed, for tests to look for.
"""

from __future__ import annotations

import base64
import json
import random
import re
from dataclasses import dataclass
from typing import Any

from .drift import project_of

Record = dict[str, Any]

LONG_TEXT_BYTES = 2 * 1024 * 1024
DEEP_LEVELS = 1000
#: A task (1) with `fields` (2) of objects (3) then these levels: 800, as deep as tap-pm loads.
DEEP_ALLOWED_LEVELS = 797
ODD_KEY = "\ud83d"


@dataclass(frozen=True)
class RawJSON:
    """A value written into the body as these bytes, exactly."""

    text: bytes


@dataclass(frozen=True)
class HostileValue:
    """One value of a hostile kind the emulator sends."""

    kind: str
    stream: str
    record_id: int
    field: str  # a path: `taskName`, `costRate.rate`, `fields[0].fieldValue`
    value: Any  # as the client reads it (Python's `json` with its defaults); RawJSON: bytes


def _long_text(seed: int) -> str:
    image = base64.b64encode(random.Random(seed).randbytes(LONG_TEXT_BYTES)).decode()
    head = "<p>Design review: the mock-up below replaces the one from last week.</p>"
    head += '<p><img src="data:image/png;base64,'
    tail = '"></p>'
    return head + image[: LONG_TEXT_BYTES - len(head) - len(tail)] + tail


def _deep(levels: int) -> RawJSON:
    # As bytes: Python would need more recursion than it allows to copy or write the lists.
    return RawJSON(b"[" * levels + b'"leaf"' + b"]" * levels)


def _cut_in_emoji(name: object) -> str:
    return f"{name or 'Launch'} \ud83d"  # the first half of 🚀's surrogate pair, alone


def _bad_byte(url: object) -> RawJSON:
    text = json.dumps(str(url or "https://docs.example/plan"), ensure_ascii=False).encode()
    return RawJSON(text[:-1] + b'#caf\xe9"')  # Latin-1's é, sent as one byte


# kind -> (stream, id key, field path, the value sent given the value the record has)
KINDS: dict[str, tuple[str, str, str, Any]] = {
    "lone-surrogate": ("tasks", "taskId", "taskName", _cut_in_emoji),
    "big-integer": ("tasks", "taskId", "effortInMinutes", lambda _: 10**20),
    "long-text": ("tasks", "taskId", "taskDescription", None),  # by seed, below
    "deep-nesting": ("tasks", "taskId", "fields[0].fieldValue", lambda _: _deep(DEEP_LEVELS)),
    "deep-allowed": (
        "tasks", "taskId", "fields[1].fieldValue", lambda _: _deep(DEEP_ALLOWED_LEVELS),
    ),
    "huge-number": ("projects", "projectId", "budgetedHours", lambda _: RawJSON(b"1e400")),
    "tiny-number": ("time-entries", "timeEntryId", "costRate.rate", lambda _: RawJSON(b"1e-400")),
    "nul": ("spaces", "spaceId", "spaceName", lambda v: f"{v or 'Alpha'}\x00Beta"),
    "invalid-utf8": ("space-documents", "spaceDocumentId", "url", _bad_byte),
    "odd-key": ("users", "userId", ODD_KEY, lambda _: "cut"),
}  # fmt: skip


def _second_listed(data: dict[str, list[Record]], stream: str, id_key: str) -> Record:
    records = data[stream]
    if stream in {"spaces", "space-documents"}:  # a project's children: of the first project
        first = min(p["projectId"] for p in data["projects"])
        records = [r for r in records if project_of(data, r) == first]
    if stream == "tasks":  # one with custom fields, for `fields[0]`
        records = [r for r in records if r.get("fields")]
    listed = sorted(records, key=lambda r: r[id_key])
    return listed[1] if len(listed) > 1 else listed[0]


def _set(record: Record, path: str, make: Any) -> Any:  # noqa: ANN401
    """Set the value at a dotted path (with `[0]` steps), copying shared nested objects."""
    holder: Any = record
    steps = re.sub(r"\[(\d+)\]", r".\1", path).split(".")
    for step in steps[:-1]:
        key: Any = int(step) if step.isdigit() else step
        inner = holder[key] if isinstance(holder, list) else holder.get(key)
        inner = list(inner) if isinstance(inner, list) else dict(inner or {})
        holder[key] = inner
        holder = inner
    last: Any = int(steps[-1]) if steps[-1].isdigit() else steps[-1]
    old = holder[last] if isinstance(holder, list) else holder.get(last)
    holder[last] = make(old)
    return holder[last]


def apply_hostile(data: dict[str, list[Record]], kinds: set[str], seed: int) -> list[HostileValue]:
    """Put one value of each kind into the generated records; return them."""
    unknown = kinds - set(KINDS)
    if unknown:
        message = f"unknown hostile kinds {sorted(unknown)}; expected some of {', '.join(KINDS)}"
        raise ValueError(message)
    sent = []
    for kind, (stream, id_key, path, make) in KINDS.items():
        if kind not in kinds:
            continue
        record = _second_listed(data, stream, id_key)
        maker = (lambda _: _long_text(seed)) if kind == "long-text" else make
        value = _set(record, path, maker)
        sent.append(HostileValue(kind, stream, record[id_key], path, value))
    return sent


def dumps(value: object) -> bytes:
    """A JSON body: real UTF-8 where it can be (clients' decoding is exercised), a lone
    surrogate as its escape, a RawJSON value as its bytes."""
    raw: list[bytes] = []

    def placeholder(item: object) -> str:
        if not isinstance(item, RawJSON):
            raise TypeError(type(item).__name__)
        raw.append(item.text)
        return f"\x01{len(raw) - 1}\x01"

    try:
        body = json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), default=placeholder
        ).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: written as its escape
        raw.clear()
        body = json.dumps(
            value, ensure_ascii=True, separators=(",", ":"), default=placeholder
        ).encode("ascii")
    for index, text in enumerate(raw):
        body = body.replace(b'"\\u0001%d\\u0001"' % index, text, 1)
    return body
