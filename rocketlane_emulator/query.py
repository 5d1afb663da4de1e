"""Query-string parsing, filtering and response projection.

A :class:`Query` is the validated, immutable form of a first-page request.  It
is stored with each page token so that follow-up pages use exactly the same
filters and field selection, whatever the follow-up request carries.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .resources import TIMESTAMP_OPS, dig

if TYPE_CHECKING:
    from collections.abc import Callable

    from .resources import ResourceSpec

Record = dict[str, Any]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 100
_INT = re.compile(r"-?\d+", re.ASCII)
_DIGITS = re.compile(r"\d+", re.ASCII)

_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
}


class ApiError(Exception):
    """An error answered with Rocketlane's ``{"errors": [...]}`` envelope."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"errorCode": self.code, "errorMessage": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"errors": [error]}


def bad_request(message: str, field: str) -> ApiError:
    return ApiError(400, "BAD_REQUEST", message, field)


def parse_int(value: str, name: str) -> int:
    if not _INT.fullmatch(value.strip()):
        message = f"Bad Request: {name} must be an integer"
        raise bad_request(message, name)
    return int(value)


def parse_bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        message = f"Bad Request: {name} must be true or false"
        raise bad_request(message, name)
    return lowered == "true"


def parse_page_size(value: str | None) -> int:
    """Default 100; larger values are capped at 100; non-integers and values < 1 are rejected."""
    if value is None or value == "":
        return DEFAULT_PAGE_SIZE
    value = value.strip()
    if not _DIGITS.fullmatch(value) or int(value) < 1:
        message = "Bad Request: pageSize must be a positive integer"
        raise bad_request(message, "pageSize")
    return min(int(value), MAX_PAGE_SIZE)


@dataclass(frozen=True)
class Query:
    """Validated filters and field selection of one list request."""

    resource: str
    page_size: int
    project_id: int | None  # ``projectId`` (child endpoints) or ``projectId.eq``
    bounds: tuple[tuple[str, str, int], ...]  # (property, operator, epoch ms)
    show_hidden: bool  # includeArchive.eq / includeDeleted.eq
    excluded: frozenset[str]  # top-level properties removed from each record
    excluded_nested: tuple[tuple[str, str], ...]  # (parent, child) removed from nested objects
    params: tuple[tuple[str, str], ...]  # original parameters, echoed in ``nextPage``
    equal: tuple[tuple[tuple[str, ...], str], ...] = ()  # (record path, text) of eq filters
    window: tuple[str | None, str | None] = (None, None)  # ResourceSpec.window's dates


# The live API parses query parameters as filter expressions (`<property>.<operator>`) beside
# a few plain ones; anything else (e.g. `limit`) fails there with HTTP 500.
FILTER_OPERATORS = frozenset(("eq", "neq", "gt", "ge", "lt", "le", "cn", "nc", "oneOf", "noneOf"))
_PLAIN_PARAMS = ("pageSize", "pageToken", "sortBy", "sortOrder", "match")


def unknown_params(spec: ResourceSpec, params: dict[str, str]) -> list[str]:
    """Query parameters the live API could not parse for this list (it answers 500)."""
    known = {*_PLAIN_PARAMS, *spec.required, *spec.choices, *spec.eq_filters, *(spec.window or ())}
    if spec.optional:
        known.add("includeFields")
    if spec.include_all_param:
        known.add("includeAllFields")
    if spec.project_scoped:
        known.add("projectId")
    return [
        name
        for name in params
        if name not in known and name.rpartition(".")[2] not in FILTER_OPERATORS
    ]


def _parse_date(value: str, name: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        message = f"Bad Request: {name} must be a date (YYYY-MM-DD)"
        raise bad_request(message, name) from None


def _check_required(spec: ResourceSpec, params: dict[str, str]) -> None:
    """Required parameters and enumerated values, as the API checks them (400)."""
    for name in spec.required:
        if not params.get(name):
            message = f"Bad Request: {name} is required"
            raise bad_request(message, name)
    for name, allowed in spec.choices.items():
        if name in params and params[name] not in allowed:
            message = f"Bad Request: {name} must be one of {', '.join(allowed)}"
            raise bad_request(message, name)


def _window(spec: ResourceSpec, params: dict[str, str]) -> tuple[str | None, str | None]:
    if spec.window is None:
        return None, None
    start, end = (
        _parse_date(params[name], name) if params.get(name) else None for name in spec.window
    )
    if start and end and start > end:
        message = f"Bad Request: {spec.window[0]} must be on or before {spec.window[1]}"
        raise bad_request(message, spec.window[0])
    return start, end


def parse_query(spec: ResourceSpec, params: dict[str, str], parent: int | None = None) -> Query:
    """Validate a first-page request (one without pageToken); ``parent``: the path's id."""
    _check_required(spec, params)
    show_hidden = False
    if spec.hidden_flag and params.get(spec.hidden_flag[0]):
        show_hidden = parse_bool(params[spec.hidden_flag[0]], spec.hidden_flag[0])
    excluded, nested = _excluded_properties(spec, params, show_hidden=show_hidden)
    return Query(
        resource=spec.name,
        page_size=parse_page_size(params.get("pageSize")),
        project_id=parent if spec.parent else _project_id(spec, params),
        bounds=tuple(
            (prop, op, parse_int(params[f"{prop}.{op}"], f"{prop}.{op}"))
            for prop in spec.timestamp_filters
            for op in TIMESTAMP_OPS
            if f"{prop}.{op}" in params
        ),
        show_hidden=show_hidden,
        excluded=excluded,
        excluded_nested=nested,
        params=tuple((k, v) for k, v in params.items() if k != "pageToken"),
        equal=tuple(
            (path, params[name]) for name, path in spec.eq_filters.items() if name in params
        ),
        window=_window(spec, params),
    )


def _project_id(spec: ResourceSpec, params: dict[str, str]) -> int | None:
    if spec.project_scoped:
        raw = params.get("projectId")
        if not raw:
            message = "Bad Request: projectId is required"
            raise bad_request(message, "projectId")
        return parse_int(raw, "projectId")
    if spec.project_filter and params.get("projectId.eq"):
        return parse_int(params["projectId.eq"], "projectId.eq")
    return None


def _excluded_properties(
    spec: ResourceSpec, params: dict[str, str], *, show_hidden: bool
) -> tuple[frozenset[str], tuple[tuple[str, str], ...]]:
    """Optional properties the request did not ask for: (top-level, (parent, child) pairs)."""
    include_all = False
    if spec.include_all_param and params.get("includeAllFields"):
        include_all = parse_bool(params["includeAllFields"], "includeAllFields")
    # Unknown includeFields names are ignored rather than rejected.
    requested = {name.strip() for name in params.get("includeFields", "").split(",")}
    if spec.hidden_flag and show_hidden:
        # Hidden records are only distinguishable if the flag itself is returned.
        requested.add(spec.hidden_flag[1])

    excluded: set[str] = set(spec.internal)
    nested: list[tuple[str, str]] = []
    for name, path in spec.optional.items():
        if include_all or name in requested:
            continue
        if "." in path:
            parent, child = path.split(".", 1)
            nested.append((parent, child))
        else:
            excluded.add(path)
    if spec.custom_fields == "include_all" and not include_all:
        excluded.add("fields")
    return frozenset(excluded), tuple(nested)


def make_predicate(spec: ResourceSpec, query: Query) -> Callable[[Record], bool] | None:
    """Return a record filter, or None when every candidate matches."""
    checks: list[Callable[[Record], bool]] = []
    if spec.hidden_flag and not query.show_hidden:
        flag = spec.hidden_flag[1]
        checks.append(lambda r: not r[flag])
    for prop, op, value in query.bounds:
        compare = _COMPARE[op]
        # A record without the property (an invited user's updatedAt) matches no bound.
        checks.append(lambda r, p=prop, c=compare, v=value: r.get(p) is not None and c(r[p], v))  # type: ignore[misc]
    for path, text in query.equal:
        checks.append(lambda r, p=path, v=text: str(dig(r, p)) == v)  # type: ignore[misc]
    start, end = query.window
    if spec.window and start:
        checks.append(lambda r, k=spec.window[0], v=start: r[k] >= v)  # type: ignore[misc]
    if spec.window and end:
        checks.append(lambda r, k=spec.window[1], v=end: r[k] <= v)  # type: ignore[misc]
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    return lambda r: all(check(r) for check in checks)


def make_projector(query: Query) -> Callable[[Record], Record]:
    """Return a function producing the response shape (a shallow copy) of a full record."""
    excluded, nested = query.excluded, query.excluded_nested

    def project(record: Record) -> Record:
        out = {k: v for k, v in record.items() if k not in excluded}
        for parent, child in nested:
            value = out.get(parent)
            if isinstance(value, dict):
                out[parent] = {k: v for k, v in value.items() if k != child}
        return out

    return project
