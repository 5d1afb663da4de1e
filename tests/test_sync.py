"""End to end through the CLI: a full sync, schemas, and incremental syncs from STATE."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import jsonschema
from conftest import (
    API_KEY,
    CHANGES_ONLY,
    CHILDREN,
    INCREMENTAL,
    LISTED_IN_FULL,
    LOOKBACK_MINUTES,
    STREAMS,
    TapRun,
    discover,
    in_lookback_window,
    run_tap,
    select,
    spec_kinds,
    tap_config,
)

from rocketlane_emulator import ID_KEYS, Emulator, Scale

if TYPE_CHECKING:
    from pathlib import Path


def test_full_sync_emits_every_record_of_every_stream(
    full_sync: TapRun, shared_emulator: Emulator
) -> None:
    for stream in STREAMS:
        assert full_sync.ids(stream) == shared_emulator.ids(stream), stream
        # Each record exactly once in a clean sync.
        assert len(full_sync.records(stream)) == len(shared_emulator.ids(stream)), stream


def test_archived_deleted_and_custom_fields_arrive_by_default(full_sync: TapRun) -> None:
    assert any(r["archived"] for r in full_sync.records("tasks"))
    assert any(r["archived"] for r in full_sync.records("projects"))
    assert any(r["deleted"] for r in full_sync.records("time-entries"))
    assert all("fields" in r for r in full_sync.records("tasks"))
    values = [f["fieldValue"] for r in full_sync.records("projects") for f in r["fields"] or []]
    assert {type(v).__name__ for v in values} >= {"str", "int", "float", "bool", "list", "dict"}
    assert None in values


def test_records_carry_id_and_project(full_sync: TapRun, shared_emulator: Emulator) -> None:
    for stream in STREAMS:
        for record in full_sync.records(stream):
            assert record["id"] == record[ID_KEYS[stream]]
    for stream in CHILDREN:
        for record in full_sync.records(stream):
            assert record["projectId"] == shared_emulator.project_of(stream, record["id"])


def test_schema_messages_key_and_replication(full_sync: TapRun) -> None:
    schemas = full_sync.schemas()
    assert set(schemas) == set(STREAMS)
    for stream, message in schemas.items():
        assert message["key_properties"] == ["id"], stream
        expected = [] if stream == "time-offs" else ["updatedAt"]
        assert message.get("bookmark_properties", []) == expected, stream


def test_every_record_validates_against_its_schema(full_sync: TapRun) -> None:
    checker = jsonschema.Draft7Validator.FORMAT_CHECKER
    failures = []
    for stream, message in full_sync.schemas().items():
        validator = jsonschema.Draft7Validator(message["schema"], format_checker=checker)
        for record in full_sync.records(stream):
            failures += [
                f"{stream} {record['id']}: {e.message}" for e in validator.iter_errors(record)
            ]
    assert not failures, failures[:10]


def test_timestamps_are_rfc3339_utc_and_dates_are_dates(
    full_sync: TapRun, shared_emulator: Emulator
) -> None:
    """Every record of every stream: the spec's epoch-ms times arrive as RFC 3339 UTC at the
    same millisecond, its YYYY-MM-DD dates as those dates, and the SCHEMA messages say so."""
    for stream in STREAMS:
        kinds = spec_kinds(stream)
        times = [name for name, kind in kinds.items() if kind == "date-time"]
        dates = [name for name, kind in kinds.items() if kind == "date"]
        declared = full_sync.schemas()[stream]["schema"]["properties"]
        for name in times:
            assert declared[name].get("format") == "date-time", (stream, name)
        for name in dates:
            assert declared[name].get("format") == "date", (stream, name)
        key = ID_KEYS[stream]
        truth = {r[key]: r for r in shared_emulator.truth(stream)}
        records = full_sync.records(stream)
        assert {r["id"] for r in records} == set(truth), stream
        filled: Counter[str] = Counter()
        for record in records:
            sent = truth[record["id"]]
            for name in times:
                if sent.get(name) is None:
                    assert record.get(name) is None, (stream, record["id"], name)
                    continue
                assert record[name].endswith("+00:00"), (stream, record["id"], name)
                assert to_ms(record[name]) == sent[name], (stream, record["id"], name)
                filled[name] += 1
            for name in dates:
                assert record.get(name) == sent.get(name), (stream, record["id"], name)
                if sent.get(name) is not None:
                    assert date.fromisoformat(record[name]).isoformat() == record[name]
                    filled[name] += 1
        # The checks could fail: each stream has values of each kind it declares.
        assert {"createdAt", *dates} <= set(filled), (stream, filled)


def test_second_sync_from_state_emits_exactly_the_changes(
    emulator: Emulator, tmp_path: Path
) -> None:
    config = tap_config(emulator, lookback_minutes=LOOKBACK_MINUTES)
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr[-3000:]
    state = first.final_state
    assert state["bookmarks"]

    # Change one record per incremental stream; for a child stream pick a project
    # whose own record does not change, so only the child reveals it.
    changed: dict[str, set[int]] = {}
    for stream in INCREMENTAL:
        records = sorted(emulator.truth(stream), key=lambda r: r[ID_KEYS[stream]])
        if stream in CHILDREN:  # a child whose project does not change
            [project] = changed["projects"]
            records = [
                r for r in records if emulator.project_of(stream, r[ID_KEYS[stream]]) != project
            ]
        target = records[len(records) // 2][ID_KEYS[stream]]
        emulator.touch(stream, target)
        changed[stream] = {target}

    second = run_tap(tmp_path, config, state=state)
    assert second.returncode == 0, second.stderr[-3000:]
    for stream in CHANGES_ONLY:
        emitted = second.ids(stream)
        assert changed[stream] <= emitted, stream
        extra = emitted - changed[stream]
        # Only records in the look-back window before a bookmark may come again.
        allowed = set()
        for record in emulator.truth(stream):
            rid = record[ID_KEYS[stream]]
            if rid in extra and _is_at_bookmark(state, stream, record, emulator):
                allowed.add(rid)
        assert extra == allowed, (stream, sorted(extra - allowed)[:5])
    # Lists read in full to find deletions come again in full, changes included.
    truth = {s: {r[ID_KEYS[s]]: r for r in emulator.truth(s)} for s in INCREMENTAL}
    for stream in LISTED_IN_FULL:
        assert second.ids(stream) == emulator.ids(stream), stream
        assert len(second.records(stream)) == len(emulator.ids(stream)), stream
        for rid in changed.get(stream, ()):
            [row] = [r for r in second.records(stream) if r["id"] == rid]
            assert to_ms(row["updatedAt"]) == truth[stream][rid]["updatedAt"], stream


def to_ms(value: str) -> int:
    return round(datetime.fromisoformat(value).timestamp() * 1000)


def _is_at_bookmark(
    state: dict[str, Any], stream: str, record: dict[str, Any], emu: Emulator
) -> bool:
    """Whether `record` is in the look-back window of its bookmark, so it may come again."""
    bookmarks = state["bookmarks"].get(stream, {})
    if "partitions" in bookmarks:
        project = emu.project_of(stream, record[ID_KEYS[stream]])
        entries = [p for p in bookmarks["partitions"] if p["context"].get("projectId") == project]
        values = [p.get("replication_key_value") for p in entries]
    else:
        values = [bookmarks.get("replication_key_value")]
    return any(value and in_lookback_window(to_ms(value), record["updatedAt"]) for value in values)


def requests_per_resource(emu: Emulator) -> dict[str | None, int]:
    counts: dict[str | None, int] = {}
    for entry in emu.request_log:
        counts[entry.resource] = counts.get(entry.resource, 0) + 1
    return counts


def full_listing_requests(emu: Emulator, stream: str, page_size: int) -> int:
    """Requests to list every project's children: one per page, at least one per project."""
    per_project = Counter(emu.project_of(stream, rid) for rid in emu.ids(stream))
    return sum(max(1, math.ceil(per_project[p] / page_size)) for p in emu.ids("projects"))


def test_unchanged_workspace_costs_one_request_per_list_and_project(
    emulator: Emulator, tmp_path: Path
) -> None:
    page_size = 5  # several pages of projects; users and fields no longer fit in one page
    config = tap_config(emulator, page_size=page_size, lookback_minutes=LOOKBACK_MINUTES)
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr[-3000:]
    emulator.reset_log()
    second = run_tap(tmp_path, config, state=first.final_state)
    assert second.returncode == 0, second.stderr[-3000:]
    sent = requests_per_resource(emulator)
    for stream in INCREMENTAL:
        if stream in CHILDREN:  # each project's children listed in full: as many pages
            assert sent[stream] == full_listing_requests(emulator, stream, page_size), stream
            assert second.ids(stream) == emulator.ids(stream), stream
            continue
        assert sent[stream] == 1, stream
        # Nothing changed: only records in the look-back window before a bookmark come again.
        truth = {r[ID_KEYS[stream]]: r for r in emulator.truth(stream)}
        for record in second.records(stream):
            assert _is_at_bookmark(first.final_state, stream, truth[record["id"]], emulator)
    # A child changed in an unchanged project still arrives, with its change.
    phase = max(emulator.ids("phases"))
    touched = emulator.touch("phases", phase)
    third = run_tap(tmp_path, config, state=second.final_state)
    [row] = [r for r in third.records("phases") if r["id"] == phase]
    assert row["phaseName"] == touched["phaseName"]


def test_a_new_child_selection_lists_every_project_again(
    emulator: Emulator, tmp_path: Path
) -> None:
    config = tap_config(emulator, page_size=5)
    catalog = select(discover(tmp_path, config), ("projects", "phases"))
    first = run_tap(tmp_path, config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-3000:]
    emulator.reset_log()
    both = select(discover(tmp_path, config), ("projects", "phases", "spaces"))
    second = run_tap(tmp_path, config, catalog=both, state=first.final_state)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.ids("spaces") == emulator.ids("spaces")
    assert requests_per_resource(emulator)["projects"] > 1


def test_deleted_project_is_forgotten(emulator: Emulator, tmp_path: Path) -> None:
    first = run_tap(tmp_path, tap_config(emulator))
    assert first.returncode == 0, first.stderr[-3000:]
    victim = sorted(emulator.ids("projects"))[2]
    emulator.delete_project(victim)
    second = run_tap(tmp_path, tap_config(emulator), state=first.final_state)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"project {victim} no longer exists" in second.stderr
    for stream in CHILDREN:
        partitions = second.final_state["bookmarks"][stream]["partitions"]
        assert victim not in {p["context"]["projectId"] for p in partitions}
    emulator.reset_log()
    third = run_tap(tmp_path, tap_config(emulator), state=second.final_state)
    assert third.returncode == 0, third.stderr[-3000:]
    assert 404 not in {entry.status for entry in emulator.request_log}


def test_live_currency_objects_arrive_as_sent(full_sync: TapRun, shared_emulator: Emulator) -> None:
    truth = {p["projectId"]: p["currency"] for p in shared_emulator.truth("projects")}
    projects = full_sync.records("projects")
    assert all(isinstance(truth[p["id"]], dict) for p in projects)
    assert all(p["currency"] == truth[p["id"]] for p in projects)


def test_invited_users_without_updated_at_arrive(
    full_sync: TapRun, shared_emulator: Emulator
) -> None:
    # Live, an invited user has no updatedAt: the record still arrives, its bookmark column null.
    invited = {u["userId"] for u in shared_emulator.truth("users") if "updatedAt" not in u}
    assert invited
    users = {u["id"]: u for u in full_sync.records("users")}
    assert invited <= set(users)
    assert all(users[i]["updatedAt"] is None for i in invited)


def test_a_bare_currency_code_is_wrapped_into_the_live_object(tmp_path: Path) -> None:
    """The spec's shape (a string) becomes the live object: a warehouse sees one shape."""
    with Emulator(seed=1, scale=Scale.small(), api_key=API_KEY, shapes="spec") as emu:
        config = tap_config(emu)
        run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), ("projects",)))
        codes = {p["projectId"]: p["currency"] for p in emu.truth("projects")}
    assert run.returncode == 0, run.stderr[-3000:]
    projects = run.records("projects")
    assert projects
    assert all(isinstance(code, str) for code in codes.values())
    for project in projects:
        assert project["currency"] == {
            "currencyCode": codes[project["id"]],
            "currencyName": None,
            "currencySymbol": None,
        }
    schema = run.schemas()["projects"]["schema"]
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    assert not [e.message for p in projects for e in validator.iter_errors(p)][:3]
