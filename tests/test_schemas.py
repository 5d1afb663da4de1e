"""The schema files follow the official OpenAPI spec, property by property, except where live
responses differ (spec/live-deviations.md)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import LIVE_TYPES, OPT_IN, STREAMS, UNDOCUMENTED, resolve, spec_item

EPOCH_MS = {"createdAt", "updatedAt", "submittedAt", "approvedAt", "rejectedAt"}
DOCUMENTED = [s for s in (*STREAMS, *OPT_IN) if s not in UNDOCUMENTED]
DEVIATIONS = Path(__file__).parents[1] / "spec" / "live-deviations.md"


def ours(stream: str) -> dict[str, Any]:
    path = resources.files("tap_pm") / "schemas" / f"{stream}.json"
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def types_of(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def compare(path: str, spec: dict[str, Any], mine: dict[str, Any], problems: list[str]) -> None:
    spec = resolve(spec)
    name = path.rsplit(".", 1)[-1]
    if name == "fieldValue":  # custom field values can be any JSON type
        if not types_of(mine) >= {"string", "number", "boolean", "object", "array", "null"}:
            problems.append(f"{path}: custom field value must accept any JSON type")
        return
    expected = spec.get("type") or ("object" if "properties" in spec else None)
    if name in EPOCH_MS and expected == "integer":
        if mine.get("format") != "date-time" or "string" not in types_of(mine):
            problems.append(f"{path}: epoch ms should be emitted as a date-time string")
        return
    expected = LIVE_TYPES.get(path, expected)
    if expected not in types_of(mine):
        problems.append(f"{path}: spec says {expected}, schema says {mine.get('type')}")
    if expected == "object":
        for key, sub in spec.get("properties", {}).items():
            if key not in mine.get("properties", {}):
                problems.append(f"{path}.{key}: missing")
            else:
                compare(f"{path}.{key}", sub, mine["properties"][key], problems)
    if expected == "array":
        compare(f"{path}[]", spec.get("items", {}), mine.get("items", {}), problems)


@pytest.mark.parametrize("stream", DOCUMENTED)
def test_schema_has_every_spec_property_with_its_type(stream: str) -> None:
    problems: list[str] = []
    compare(stream, spec_item(stream), ours(stream), problems)
    assert not problems


@pytest.mark.parametrize("stream", [*STREAMS, *OPT_IN])
def test_schema_is_valid_json_schema_keyed_on_id(stream: str) -> None:
    schema = ours(stream)
    jsonschema.Draft7Validator.check_schema(schema)
    # Allocations have no id in the API: the tap makes a text key.
    kind = "string" if stream == "resource-allocations" else "integer"
    assert schema["properties"]["id"]["type"] == kind
    assert "id" in schema["required"]


def test_optional_values_are_nullable() -> None:
    for stream in (*STREAMS, *OPT_IN):
        schema = ours(stream)
        for key, prop in schema["properties"].items():
            if key not in schema["required"]:
                assert "null" in types_of(prop), f"{stream}.{key} must be nullable"


def test_live_deviations_are_documented_with_their_source() -> None:
    text = DEVIATIONS.read_text()
    for path in LIVE_TYPES:
        assert f"`{path}`" in text, path
    for stream in UNDOCUMENTED:
        assert f"`GET /{stream}`" in text, stream
        assert "live-deviations.md" in ours(stream)["description"], stream
    assert "Plansync" in text
    assert "rl-api-contract.json" in text


def test_currency_takes_the_live_object_and_no_bare_string() -> None:
    schema = ours("projects")["properties"]["currency"]
    validator = jsonschema.Draft7Validator(schema)
    live = {"currencyCode": "USD", "currencyName": "US Dollar", "currencySymbol": "$"}
    assert validator.is_valid(live)
    assert validator.is_valid(None)
    assert not validator.is_valid("USD")  # the tap wraps it: one shape in the warehouse


def test_companies_schema_takes_the_captured_records() -> None:
    # Two records of the live capture (inba-2299/Plansync agent/rl-api-contract.json), with
    # their times as the tap emits them.
    dev = {
        "emailId": "dev@example.com",
        "userId": 5000000027049,
        "firstName": "dev",
        "lastName": "",
    }
    captured = [
        {"companyId": 5000000031297, "companyName": "Inbaraj B", "companyType": "VENDOR",
         "createdAt": "2026-04-13T11:44:05.163Z", "updatedAt": "2026-04-13T11:44:05.163Z"},
        {"companyId": 5000000031298, "companyName": "Acme", "companyType": "CUSTOMER",
         "createdAt": "2026-04-13T11:44:24.730Z", "updatedAt": "2026-04-13T11:44:29.988Z",
         "createdBy": dev, "updatedBy": dev},
    ]  # fmt: skip
    schema = ours("companies")
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    for record in captured:
        record["id"] = record["companyId"]
        assert not list(validator.iter_errors(record)), record
        assert set(record) <= set(schema["properties"])
    assert set(schema["properties"]) == {"id", *captured[1]}
