r"""Whatever JSON's grammar allows is read, and made safe for every loader.

msgspec reads a body when it can read it exactly (the fast path). A body it cannot, or one
with a value that no warehouse stores as sent, is read by Python's `json` instead, which keeps
each number's text; its records are then scrubbed (`scrub`):

- text with a lone UTF-16 surrogate (a text cut inside an emoji; also a byte that is not
  UTF-8) or a NUL character (PostgreSQL cannot store one): each such character becomes U+FFFD
  in place, and `_drift` keeps the text as sent, spelled as the body of a JSON string
  (`Launch \\ud83d`, `Alpha\\u0000Beta`): `json.loads('"' + spelled + '"')` gives back
  exactly what was sent;
- a number beyond what warehouses store (a whole number beyond 64 bits, BIGINT's range; a
  number beyond double, or so small that it would read as zero): null in place, and `_drift`
  keeps its text, which every loader stores;
- a value nested more than MAX_DEPTH levels deep: null in place, and `_drift` keeps its JSON
  text (ASCII, escapes spelled out);
- a property whose name has such characters: it leaves its object; `_drift` keeps its value
  under its path, the name quoted and spelled the same way (`["\\ud83d"]`, see `join`); a
  property the API names `_drift` goes the same way.

Only a body that is not JSON at all is an error, naming the byte offset where it stops being
JSON. Numbers are read as IEEE doubles, as RFC 8259 §6 describes for interoperability.
"""

from __future__ import annotations

import itertools
import json
import math
import operator
import re
import sys
import threading
import typing as t
from dataclasses import dataclass, field

import msgspec

if t.TYPE_CHECKING:
    from collections.abc import Callable

DRIFT = "_drift"
INT64 = (-(2**63), 2**63 - 1)
#: Levels of objects and arrays in a record (the record itself is 1). Every shipped loader
#: loads records this deep (tests/test_hostile_loads.py); target-postgres stopped near 975.
MAX_DEPTH = 800
_ENVELOPE = 2  # the page object and its `data` array, around each record
#: Python's own limit on the digits of an int it reads from text.
_MAX_INT_DIGITS = 4300
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_NONZERO = re.compile("[1-9]")
# What the fast path would read but a loader cannot store: a NUL, and 19 digits in a row
# (digits are mapped to `0` before the search; a whole number beyond 64 bits has them).
# Floats are checked as msgspec reads them (`_exact_float`); a property named `_drift`, in
# the records read (`needs_scrub`).
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19


@dataclass(frozen=True)
class RawNumber:
    """A JSON number no warehouse type holds as it is: its text as sent."""

    text: str


def _msgspec_depth_limit() -> int:
    """How deep msgspec reads (998 levels in 0.23, less the caller's Python frames)."""
    low, high = 1, 100_000
    while high - low > 1:
        middle = (low + high) // 2
        try:
            msgspec.json.decode(b"[" * middle + b"]" * middle)
            low = middle
        except RecursionError:
            high = middle
    return low


# msgspec fails on a body nested deeper than its limit; padded with PAD levels, it fails on
# records deeper than about MAX_DEPTH, at no cost to the fast path. Its limit counts the
# caller's Python frames, so a deeper call than this module's import only makes it stricter;
# the careful path then applies MAX_DEPTH exactly.
PAD = _msgspec_depth_limit() - MAX_DEPTH - _ENVELOPE
_OPEN, _CLOSE = b"[" * PAD, b"]" * PAD
_ZEROS = (0,) * PAD


def needs_care(body: bytes) -> bool:
    """Whether the body may have what msgspec reads but a loader cannot store."""
    return b"\\u0000" in body or _LONG_NUMBER in body.translate(_DIGITS_AS_ZERO)


class _InexactError(Exception):
    """A float msgspec would read as infinity or zero: the careful path keeps its text."""


def _exact_float(text: str) -> float:
    if isinstance(number := _float(text), RawNumber):
        raise _InexactError
    return number


_FAST = msgspec.json.Decoder(float_hook=_exact_float)


def decode(body: bytes) -> tuple[t.Any, bool]:
    """The body's JSON, and whether it was read the careful way (then `scrub` its records).

    Raises ValueError, naming the byte offset, for a body that is not JSON.
    """
    if not needs_care(body):
        try:
            value = _FAST.decode(_OPEN + body + _CLOSE)
            # Each padding level, outermost first, and the body's value last (in C: a loop in
            # Python here cost as much as the decoding).
            levels = list(itertools.accumulate(_ZEROS, operator.getitem, initial=value))
        except (msgspec.DecodeError, RecursionError, _InexactError, LookupError, TypeError):
            pass  # not JSON, nested too deep, a float that would read inexactly; or no body
        else:
            padding = levels[:-1]
            # One list of one item per level, or the body was not one JSON value (`1],[2`):
            # the careful reading says where it stops being JSON.
            if set(map(type, padding)) == {list} and set(map(len, padding)) == {1}:
                return levels[-1], False
    return in_deep_stack(careful_decode, body), True


def _float(text: str) -> float | RawNumber:
    number = float(text)
    if math.isinf(number) or (number == 0 and _NONZERO.search(text.lower().partition("e")[0])):
        return RawNumber(text)
    return number


def _int(text: str) -> int | RawNumber:
    if len(text) > _MAX_INT_DIGITS:
        return RawNumber(text)
    number = int(text)
    return number if INT64[0] <= number <= INT64[1] else RawNumber(text)


def careful_decode(body: bytes) -> t.Any:  # noqa: ANN401
    """Python's reading of the body, with every number's text kept where needed.

    A byte that is not UTF-8 is read as a lone surrogate (`surrogateescape`), so `scrub`
    treats it like one. `NaN` and `Infinity`, which Python writes and some servers copy,
    are kept as text too.
    """
    text = body.decode("utf-8", "surrogateescape")
    bom = len(text) - len(text := text.removeprefix("\ufeff"))
    try:
        return json.loads(
            text, parse_float=_float, parse_int=_int, parse_constant=RawNumber, strict=False
        )
    except json.JSONDecodeError as exc:
        offset = len(text[: exc.pos].encode("utf-8", "surrogateescape")) + 3 * bom
        msg = f"not JSON at byte {offset} of {len(body)}: {exc.msg}"
        raise ValueError(msg) from None


_DEEP_RECURSION_LIMIT = 200_000
_DEEP_STACK_BYTES = 512 * 1024 * 1024
_deep_lock = threading.Lock()


def in_deep_stack(func: Callable[..., t.Any], *args: t.Any) -> t.Any:  # noqa: ANN401
    """`func(*args)`, in a thread whose stack holds any nesting Python's `json` meets.

    Python reads and writes JSON recursively: nesting deeper than about 1,000 levels is a
    RecursionError on the main thread. Used only on the careful path, which is rare; never
    a retry after a RecursionError, as `func` may have changed its arguments by then.
    """
    outcome: dict[str, t.Any] = {}

    def run() -> None:
        try:
            outcome["value"] = func(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = exc

    with _deep_lock:
        limit, size = sys.getrecursionlimit(), threading.stack_size()
        sys.setrecursionlimit(_DEEP_RECURSION_LIMIT)
        threading.stack_size(_DEEP_STACK_BYTES)
        try:
            worker = threading.Thread(target=run, name="tap-pm-deep-json")
            worker.start()
            worker.join()
        finally:
            threading.stack_size(size)
            sys.setrecursionlimit(limit)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


# ------------------------------------------------------------------------------ scrub
_PLAIN_NAME = re.compile('[^.\\[\\]"\x00\ud800-\udfff]+')


def join(path: str, name: str) -> str:
    """The path of property `name` inside `path` (`_drift`'s keys, the log's fields).

    `a.b`; `a[0]` for an array's item; a name a path cannot tell apart (empty, or with `.`,
    `[`, `]`, `"`, a NUL or a lone surrogate) quoted and spelled: `a["x.y"]`, `[""]`.
    """
    if _PLAIN_NAME.fullmatch(name):
        return f"{path}.{name}" if path else name
    return f'{path}["{spell(name)}"]'


def spell(text: str) -> str:
    """The text as the body of a JSON string, with lone surrogates and NUL spelled out."""
    return _SURROGATE.sub(_escape, json.dumps(text, ensure_ascii=False)[1:-1])


_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _json_text(value: object) -> str:
    """A value's JSON text, ASCII only; numbers kept as text are written as strings."""
    return json.dumps(value, default=lambda raw: raw.text, separators=(",", ":"))


def unstorable(value: object) -> tuple[str, str, object] | None:
    """For a scalar no warehouse stores as sent: (kind, its text as sent, what takes its place)."""
    if isinstance(value, str):
        return (
            ("text", spell(value), _BAD_TEXT.sub("\ufffd", value))
            if _BAD_TEXT.search(value)
            else None
        )
    if isinstance(value, RawNumber):
        return "number", value.text, None
    int64 = isinstance(value, int) and (isinstance(value, bool) or INT64[0] <= value <= INT64[1])
    if isinstance(value, int) and not int64:
        return "number", str(value), None
    if isinstance(value, float) and not math.isfinite(value):
        return "number", repr(value), None
    return None


#: What a scrubbed value held, for the log.
KINDS = {
    "text": "text no warehouse stores as sent (a lone UTF-16 surrogate or a NUL, now U+FFFD)",
    "number": "a number beyond 64-bit integers or doubles (now null)",
    "deep": f"a value nested deeper than {MAX_DEPTH} levels (now null)",
    "name": "a property whose name no warehouse stores as sent (the property is left out)",
    "drift": f"a property named {DRIFT}, the tap's own column (the property is left out)",
}


@dataclass
class Scrub:
    """One record being scrubbed: what `_drift` keeps, and what happened (kind, pattern)."""

    drift: dict[str, t.Any] = field(default_factory=dict)
    notes: list[tuple[str, str]] = field(default_factory=list)

    def keep(self, kind: str, path: str, pattern: str, as_sent: object) -> None:
        """Keep what a value held as sent under its path (the first kept there wins)."""
        self.drift.setdefault(path, as_sent)
        self.notes.append((kind, pattern))

    def value(self, value: object, path: str, pattern: str, depth: int) -> t.Any:  # noqa: ANN401
        """The value made storable; what it held as sent goes to `drift` under `path`.

        `depth` is the level of the object or array that holds the value.
        """
        if isinstance(value, dict):
            return self.object(value, path, pattern, depth + 1)
        if isinstance(value, list):
            return [
                self.value(item, f"{path}[{index}]", f"{pattern}[]", depth + 1)
                for index, item in enumerate(value)
            ]
        if (found := unstorable(value)) is None:
            return value
        kind, as_sent, clean = found
        self.keep(kind, path, pattern, as_sent)
        return clean

    def object(
        self, value: dict[str, t.Any], path: str, pattern: str, depth: int
    ) -> dict[str, t.Any]:
        """The object (at level `depth`) with each property made storable.

        A property nested too deep is kept whole, as JSON text; one with an odd name leaves.
        """
        for name in list(value):
            item = value[name]
            odd = _BAD_TEXT.search(name) is not None
            is_drift = depth == 1 and name == DRIFT
            inner, inner_pattern = join(path, name), join(pattern, name)
            if depth + _own_nesting(item) > MAX_DEPTH:
                self.keep("deep", inner, inner_pattern, _json_text(item))
                clean = None
            else:
                clean = self.value(item, inner, inner_pattern, depth)
            if odd or is_drift:
                del value[name]
                self.keep("name" if odd else "drift", inner, inner_pattern, clean)
            else:
                value[name] = clean
        return value


def _own_nesting(value: object) -> int:
    """Levels of objects and arrays a property's value adds before its own properties.

    An object's properties are checked (and kept whole if too deep) one by one, so the
    innermost property that makes a record too deep is the one kept as text.
    """
    if isinstance(value, list):
        return 1 + max(map(_own_nesting, value), default=0)
    return 1 if isinstance(value, dict) else 0


def needs_scrub(records: list[dict[str, t.Any]], *, careful: bool) -> bool:
    """Whether a page's records need `scrub`: read the careful way, or one has a `_drift`."""
    return careful or any(DRIFT in record for record in records)


def scrub(record: dict[str, t.Any]) -> Scrub:
    """Make the record storable in place; the returned `Scrub` has its drift and notes.

    Call it through `in_deep_stack` for records read the careful way, which may nest deeply.
    """
    scrubbed = Scrub()
    scrubbed.object(record, "", "", 1)
    return scrubbed
