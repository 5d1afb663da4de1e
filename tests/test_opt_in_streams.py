"""The opt-in streams, end to end through the CLI against the emulator.

Invoices with their lines and payments, resource allocations, time-entry categories,
conversations and comments: discovered but not selected, complete when selected, read in
full every sync (no list has an `updatedAt` filter), and their deletions reach the warehouse.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest
import requests
import yaml
from conftest import (
    API_KEY,
    OPT_IN,
    STREAMS,
    allocation_key,
    discover,
    opt_in_ids,
    run_tap,
    select,
    tap_config,
)
from test_deletions import Warehouse, activations

from rocketlane_emulator import OPT_IN_ID_KEYS, Emulator, Faults, Scale, generate
from rocketlane_emulator.data import END_MS, START_MS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from conftest import TapRun

    from rocketlane_emulator import RequestLogEntry

    #: The `http` fixture: GET a path of the shared emulator with query parameters.
    Get = Callable[..., requests.Response]

ROOT = Path(__file__).parents[1]
# Lists read once per invoice; the rest once per sync (comments once per source type).
PER_INVOICE = ("invoice-lines", "invoice-payments")


def requests_per_resource(emu: Emulator) -> Counter[str | None]:
    return Counter(entry.resource for entry in emu.request_log)


def pages(count: int, page_size: int = 100) -> int:
    """Requests to list `count` records: one per page, at least one."""
    return max(1, math.ceil(count / page_size))


def sync_opt_in(
    tmp_path: Path, emu: Emulator, state: dict[str, Any] | None = None, **settings: Any
) -> TapRun:
    config = tap_config(emu, **settings)
    catalog = select(discover(tmp_path, config), OPT_IN)
    run = run_tap(tmp_path, config, catalog=catalog, state=state)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def opt_in_sync(
    shared_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> tuple[TapRun, list[RequestLogEntry]]:
    """One sync of every opt-in stream (and nothing else) from the shared emulator, and the
    requests it made."""
    before = len(shared_emulator.request_log)
    run = sync_opt_in(tmp_path_factory.mktemp("opt-in"), shared_emulator)
    return run, shared_emulator.request_log[before:]


# ------------------------------------------------------------------ the default stays
def test_discover_lists_them_deselected(shared_emulator: Emulator, tmp_path: Path) -> None:
    catalog = discover(tmp_path, tap_config(shared_emulator))
    entries = {entry["tap_stream_id"]: entry for entry in catalog["streams"]}
    assert set(entries) == {*STREAMS, *OPT_IN}
    root = {
        stream: next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
        for stream, entry in entries.items()
    }
    assert {stream for stream, meta in root.items() if meta["selected"]} == set(STREAMS)
    for stream in OPT_IN:
        assert root[stream]["selected-by-default"] is False, stream
        assert entries[stream]["key_properties"] == ["id"], stream
        assert "replication_key" not in entries[stream], stream  # full table: no updatedAt filter


def test_a_default_sync_is_the_nine_at_the_same_cost(emulator: Emulator, tmp_path: Path) -> None:
    run = run_tap(tmp_path, tap_config(emulator))
    assert run.returncode == 0, run.stderr[-3000:]
    assert set(run.record_counts()) == set(STREAMS)
    assert not set(run.schemas()) & set(OPT_IN)
    # One request per page of each list, and of each project's spaces, phases and documents.
    expected = {stream: pages(len(emulator.ids(stream))) for stream in STREAMS}
    for stream in ("spaces", "phases", "space-documents"):
        per_project = Counter(emulator.project_of(stream, rid) for rid in emulator.ids(stream))
        expected[stream] = sum(pages(per_project[p]) for p in emulator.ids("projects"))
    assert requests_per_resource(emulator) == expected


# ------------------------------------------------------------------------ a full sync
def test_every_record_of_every_opt_in_stream_once(
    opt_in_sync: tuple[TapRun, list[RequestLogEntry]], shared_emulator: Emulator
) -> None:
    run, _ = opt_in_sync
    assert set(run.record_counts()) == set(OPT_IN)
    for stream in OPT_IN:
        expected = opt_in_ids(shared_emulator, stream)
        assert run.ids(stream) == expected, stream
        assert len(run.records(stream)) == len(expected), stream
        assert len(expected) > 3, stream


def test_records_are_valid_against_their_schemas(
    opt_in_sync: tuple[TapRun, list[RequestLogEntry]],
) -> None:
    run, _ = opt_in_sync
    schemas = run.schemas()
    checker = jsonschema.Draft7Validator.FORMAT_CHECKER
    for stream in OPT_IN:
        message = schemas[stream]
        assert message["key_properties"] == ["id"], stream
        assert message.get("bookmark_properties", []) == [], stream
        validator = jsonschema.Draft7Validator(message["schema"], format_checker=checker)
        for record in run.records(stream):
            errors = [e.message for e in validator.iter_errors(record)]
            assert not errors, (stream, record["id"], errors[:3])
            assert set(record) <= set(message["schema"]["properties"]), stream


def test_timestamps_become_rfc3339_down_to_attachments(
    opt_in_sync: tuple[TapRun, list[RequestLogEntry]], shared_emulator: Emulator
) -> None:
    run, _ = opt_in_sync
    for stream in ("invoices", "comments"):
        truth = {r[OPT_IN_ID_KEYS[stream]]: r for r in shared_emulator.truth(stream)}
        attached = [r for r in run.records(stream) if r["attachments"]]
        assert attached, stream
        for record in attached:
            stamp = record["attachments"][0]["createdAt"]
            assert to_ms(stamp) == truth[record["id"]]["attachments"][0]["createdAt"], stream
        for record in run.records(stream):
            assert to_ms(record["createdAt"]) == truth[record["id"]]["createdAt"], stream


def to_ms(value: str) -> int:
    return round(datetime.fromisoformat(value).timestamp() * 1000)


def test_records_name_their_invoice_and_project(
    opt_in_sync: tuple[TapRun, list[RequestLogEntry]], shared_emulator: Emulator
) -> None:
    run, _ = opt_in_sync
    for stream in PER_INVOICE:
        truth = {r[OPT_IN_ID_KEYS[stream]]: r for r in shared_emulator.truth(stream)}
        for record in run.records(stream):
            assert record["invoiceId"] == truth[record["id"]]["invoiceId"], stream
    lines = run.records("invoice-lines")
    for line in lines:
        project = line.get("sourceId") if line.get("sourceType") == "PROJECT" else None
        assert line["projectId"] == project
    assert {line["projectId"] is None for line in lines} == {True, False}
    for conversation in run.records("conversations"):
        assert conversation["projectId"] == conversation["source"]["sourceId"]
        assert conversation["projectId"] in shared_emulator.ids("projects")
    for allocation in run.records("resource-allocations"):
        assert allocation["projectId"] == allocation["project"]["projectId"]
    # Opt-in fields come with every record: the tap asks for all of them.
    assert any(r["members"] for r in run.records("conversations"))
    assert all(r.get("member") or r.get("placeholder") for r in run.records("resource-allocations"))


def test_requests_two_per_invoice_and_one_per_page(
    opt_in_sync: tuple[TapRun, list[RequestLogEntry]], shared_emulator: Emulator
) -> None:
    run, log = opt_in_sync
    sent = Counter(entry.resource for entry in log)
    invoices = shared_emulator.ids("invoices")
    per_invoice = {
        stream: Counter(r["invoiceId"] for r in shared_emulator.truth(stream))
        for stream in PER_INVOICE
    }
    comments = Counter(r["source"]["sourceType"] for r in shared_emulator.truth("comments"))
    assert sent == {
        "invoices": pages(len(invoices)),
        **{s: sum(pages(per_invoice[s][i]) for i in invoices) for s in PER_INVOICE},
        "resource-allocations": pages(len(shared_emulator.ids("resource-allocations"))),
        "time-entry-categories": 1,
        "conversations": pages(len(shared_emulator.ids("conversations"))),
        "comments": pages(comments["TASK"]) + pages(comments["PROJECT_CONVERSATIONS"]),
        "companies": pages(len(shared_emulator.ids("companies"))),
    }
    assert max(per_invoice["invoice-lines"].values()) > 100  # an invoice with two pages
    assert sent["comments"] > pages(sum(comments.values()))  # both types, one listing each
    assert len(run.final_state["bookmarks"]["invoice-lines"]["partitions"]) == len(invoices)


def test_the_lists_get_the_parameters_the_spec_asks_for(
    opt_in_sync: tuple[TapRun, list[RequestLogEntry]], shared_emulator: Emulator
) -> None:
    _, log = opt_in_sync
    firsts = [e for e in log if "pageToken" not in e.params]
    windows = {
        (e.params["startDate"], e.params["endDate"])
        for e in firsts
        if e.resource == "resource-allocations"
    }
    today = datetime.now(timezone.utc).date()
    ends = {(day + timedelta(days=365)).isoformat() for day in (today, today - timedelta(days=1))}
    [window] = windows  # one window for every page
    assert window in {("2020-01-01", end) for end in ends}  # the defaults; past midnight too
    source_types = [e.params["sourceType"] for e in firsts if e.resource == "comments"]
    assert sorted(source_types) == ["PROJECT_CONVERSATIONS", "TASK"]
    lines = {e.path for e in firsts if e.resource == "invoice-lines"}
    assert lines == {f"/api/1.0/invoices/{i}/lines" for i in shared_emulator.ids("invoices")}


# ------------------------------------------------------------------------- deletions
def test_each_sync_lists_in_full_and_carries_deletions(emulator: Emulator, tmp_path: Path) -> None:
    warehouse = Warehouse()
    first = sync_opt_in(tmp_path, emulator)
    assert set(activations(first)) == set(OPT_IN)
    warehouse.load(first.messages)

    # Deletions of every kind, and records added since.
    invoices = sorted(emulator.ids("invoices"))
    gone_invoice = invoices[2]
    lines_of = Counter(r["invoiceId"] for r in emulator.truth("invoice-lines"))
    paid = Counter(r["invoiceId"] for r in emulator.truth("invoice-payments"))
    keep = [i for i in invoices if i != gone_invoice and lines_of[i] > 1 and paid[i] > 1]
    for stream in ("invoice-lines", "invoice-payments"):  # one of an invoice that stays
        key = OPT_IN_ID_KEYS[stream]
        emulator.delete(
            stream, min(r[key] for r in emulator.truth(stream) if r["invoiceId"] == keep[0])
        )
    emulator.delete("invoices", gone_invoice)  # with its lines and payments
    for stream in ("resource-allocations", "time-entry-categories", "conversations", "companies"):
        emulator.delete(stream, sorted(emulator.ids(stream))[1])
    for source_type in ("TASK", "PROJECT_CONVERSATIONS"):
        comments = [
            r for r in emulator.truth("comments") if r["source"]["sourceType"] == source_type
        ]
        emulator.delete("comments", comments[3]["commentId"])
    for stream in ("invoices", "resource-allocations", "conversations", "comments", "companies"):
        emulator.create(stream, min(emulator.ids(stream)))

    second = sync_opt_in(tmp_path, emulator, state=first.final_state)
    # Every list is read in full again (no `updatedAt` filter), so every table activates.
    assert set(activations(second)) == set(OPT_IN)
    for stream in OPT_IN:
        assert second.ids(stream) == opt_in_ids(emulator, stream), stream
    warehouse.load(second.messages)
    for stream in OPT_IN:
        assert warehouse.live(stream) == opt_in_ids(emulator, stream), stream
        assert warehouse.live(stream) != first.ids(stream), stream
    for stream in PER_INVOICE:
        partitions = second.final_state["bookmarks"][stream]["partitions"]
        assert {p["context"]["invoiceId"] for p in partitions} == emulator.ids("invoices"), stream
        assert {p["version"] for p in partitions} == {activations(second)[stream]}, stream


def test_an_invoice_deleted_mid_sync_is_skipped(emulator: Emulator, tmp_path: Path) -> None:
    victim = max(emulator.ids("invoices"))  # its lines are read last

    def delete_at_the_first_lines(resource: str | None, _params: dict[str, str]) -> None:
        if resource == "invoice-lines" and victim in emulator.ids("invoices"):
            emulator.delete("invoices", victim)

    emulator.hooks.append(delete_at_the_first_lines)
    warehouse = Warehouse()
    run = sync_opt_in(tmp_path, emulator)
    warehouse.load(run.messages)
    assert f"invoice {victim} no longer exists" in run.stderr
    assert set(activations(run)) == set(OPT_IN)
    for stream in PER_INVOICE:
        assert warehouse.live(stream) == emulator.ids(stream), stream
        partitions = run.final_state["bookmarks"][stream]["partitions"]
        assert victim not in {p["context"]["invoiceId"] for p in partitions}, stream
    assert victim in warehouse.live("invoices")  # listed before it went: the next sync drops it
    second = sync_opt_in(tmp_path, emulator, state=run.final_state)
    warehouse.load(second.messages)
    assert warehouse.live("invoices") == emulator.ids("invoices")


def test_a_deselected_parent_is_read_but_not_emitted_nor_activated(
    emulator: Emulator, tmp_path: Path
) -> None:
    config = tap_config(emulator)
    catalog = select(discover(tmp_path, config), ("invoice-payments",))
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert set(run.record_counts()) == {"invoice-payments"}
    assert run.ids("invoice-payments") == emulator.ids("invoice-payments")
    assert set(activations(run)) == {"invoice-payments"}
    assert requests_per_resource(emulator)["invoices"] == 1


# ----------------------------------------------------------------- allocation window
def test_allocations_come_from_the_window_of_the_settings(
    emulator: Emulator, tmp_path: Path
) -> None:
    # The tap's clock at 2025-06-01, so "30 days ahead" ends on 2025-07-01 whenever this runs.
    today = datetime(2025, 6, 1, 12, tzinfo=timezone.utc)
    offset = (today - datetime.now(timezone.utc)).total_seconds()
    settings = {
        "resource_allocations_start_date": "2025-01-01",
        "resource_allocations_days_ahead": 30,
    }
    config = tap_config(emulator, **settings)
    catalog = select(discover(tmp_path, config), ("resource-allocations",))
    run = run_tap(tmp_path, config, catalog=catalog, clock_offset=offset)
    assert run.returncode == 0, run.stderr[-3000:]
    truth = emulator.truth("resource-allocations")
    inside = {
        allocation_key(r)
        for r in truth
        if r["startDate"] >= "2025-01-01" and r["endDate"] <= "2025-07-01"
    }
    # An allocation's id is the text key tap-pm makes (TapRun.ids says int: every other's is).
    assert run.ids("resource-allocations") == inside  # type: ignore[comparison-overlap]
    assert any(r["startDate"] < "2025-01-01" for r in truth)  # left out: before the start
    assert any(r["startDate"] >= "2025-01-01" and r["endDate"] > "2025-07-01" for r in truth)
    assert inside
    [entry] = [e for e in emulator.request_log if e.resource == "resource-allocations"]
    assert (entry.params["startDate"], entry.params["endDate"]) == ("2025-01-01", "2025-07-01")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"resource_allocations_start_date": "last year"}, "resource_allocations_start_date"),
        ({"resource_allocations_days_ahead": -1}, "resource_allocations_days_ahead"),
    ],
)
def test_bad_window_settings_fail_with_one_line(
    shared_emulator: Emulator, tmp_path: Path, settings: Any, message: str
) -> None:
    run = run_tap(tmp_path, tap_config(shared_emulator, **settings))
    assert run.returncode != 0
    [line] = [line for line in run.stderr.splitlines() if line.startswith("Error: ")]
    assert message in line
    assert not run.messages


def test_a_window_that_ends_before_it_starts_fails_before_asking(
    emulator: Emulator, tmp_path: Path
) -> None:
    config = tap_config(emulator, resource_allocations_start_date="2999-01-01")
    run = run_tap(
        tmp_path, config, catalog=select(discover(tmp_path, config), ("resource-allocations",))
    )
    assert run.returncode != 0
    assert "is after the window's end" in run.stderr
    assert "Traceback" not in run.stderr
    assert "resource-allocations" not in requests_per_resource(emulator)


# ------------------------------------------------------------------ project_ids, faults
def test_project_ids_narrow_allocations_and_conversations(
    emulator: Emulator, tmp_path: Path
) -> None:
    wanted = sorted(emulator.ids("projects"))[:3]
    run = sync_opt_in(tmp_path, emulator, project_ids=wanted)
    allocations = emulator.truth("resource-allocations")
    assert run.ids("resource-allocations") == {  # type: ignore[comparison-overlap]  # text keys
        allocation_key(r) for r in allocations if r["project"]["projectId"] in wanted
    }
    assert run.ids("conversations") == {
        r["conversationId"]
        for r in emulator.truth("conversations")
        if r["source"]["sourceId"] in wanted
    }
    assert 0 < len(run.ids("conversations")) < len(emulator.ids("conversations"))
    filtered = {
        (e.resource, e.params.get("projectId.eq") or e.params.get("sourceId.eq"))
        for e in emulator.request_log
        if e.resource in {"resource-allocations", "conversations"}
    }
    assert filtered == {
        (s, str(p)) for s in ("resource-allocations", "conversations") for p in wanted
    }
    # Only part of those two tables was listed: no deletions for them; the rest are whole.
    assert set(activations(run)) == set(OPT_IN) - {"resource-allocations", "conversations"}
    assert run.ids("invoices") == emulator.ids("invoices")


def as_sent(records: list[dict[str, Any]]) -> Counter[str]:
    """Records as comparable text, counted: a duplicate or a changed value shows."""
    return Counter(json.dumps(record, sort_keys=True) for record in records)


def test_faults_and_rate_limits_lose_nothing(emulator: Emulator, tmp_path: Path) -> None:
    clean = sync_opt_in(tmp_path, emulator)
    # About 60 requests against a window of 40 a minute: one 429, then the rest a minute later.
    emulator.faults = Faults(
        rate_limit=(40, 60.0), error_rate=0.1, truncate_rate=0.05, fault_seed=4
    )
    emulator.reset_log()
    run = sync_opt_in(tmp_path, emulator, max_retries=8)
    for stream in OPT_IN:
        assert run.ids(stream) == opt_in_ids(emulator, stream), stream
        # Each record once, and each exactly as the sync without faults sent it.
        assert len(run.records(stream)) == len(run.ids(stream)), stream
        assert as_sent(run.records(stream)) == as_sent(clean.records(stream)), stream
    faults = {(e.resource, e.fault) for e in emulator.request_log if e.fault}
    assert {fault for _, fault in faults} == {"rate_limit", "error", "truncate"}
    assert {resource for resource, _ in faults} >= set(PER_INVOICE)


# ------------------------------------------------------------------------ the emulator
@pytest.fixture(scope="module")
def http(shared_emulator: Emulator) -> Iterator[Get]:
    with requests.Session() as session:
        session.headers["api-key"] = shared_emulator.api_key
        yield lambda path, **params: session.get(
            f"{shared_emulator.base_url}/{path}", params=params, timeout=10
        )


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("resource-allocations", {}, 400, "startDate"),
        ("resource-allocations", {"startDate": "2025-01-01"}, 400, "endDate"),
        (
            "resource-allocations",
            {"startDate": "2025-02-30", "endDate": "2025-03-01"},
            400,
            "startDate",
        ),
        (
            "resource-allocations",
            {"startDate": "2025-03-01", "endDate": "2025-01-01"},
            400,
            "startDate",
        ),
        ("comments", {"sourceType": "SPACE"}, 400, "sourceType"),
        ("invoices/1/lines", {}, 404, None),
        ("invoices/1/payments", {}, 404, None),
        ("resource-allocations/1", {}, 404, None),
    ],
)
def test_emulator_rejects_what_the_api_rejects(
    http: Get, path: str, params: dict[str, str], status: int, field: str | None
) -> None:
    response = http(path, **params)
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    assert error.get("field") == field


def test_emulator_pages_nested_lists_and_hides_its_bookkeeping(
    http: Get, shared_emulator: Emulator
) -> None:
    lines_of = Counter(r["invoiceId"] for r in shared_emulator.truth("invoice-lines"))
    invoice, count = lines_of.most_common(1)[0]
    first = http(f"invoices/{invoice}/lines", pageSize=60).json()
    assert first["pagination"]["totalRecordCount"] == count
    follow = requests.get(
        first["pagination"]["nextPage"], headers={"api-key": shared_emulator.api_key}, timeout=10
    ).json()
    assert len(first["data"]) + len(follow["data"]) == count
    assert "invoiceId" not in first["data"][0]  # the API's lines do not name their invoice
    window = {"startDate": "2020-01-01", "endDate": "2030-12-31", "includeAllFields": "true"}
    [allocation] = http("resource-allocations", pageSize=1, **window).json()["data"]
    assert "allocationId" not in allocation
    categories = http("time-entries/categories").json()["data"]
    assert {c["categoryId"] for c in categories} == shared_emulator.ids("time-entry-categories")


@pytest.mark.parametrize("resource", sorted(OPT_IN_ID_KEYS))
def test_emulator_ids_ascend_and_times_are_in_range(
    shared_emulator: Emulator, resource: str
) -> None:
    records = shared_emulator.truth(resource)
    ids = [r[OPT_IN_ID_KEYS[resource]] for r in records]
    assert ids == sorted(set(ids))
    for record in records:  # categories, lines and payments have no timestamps
        if "createdAt" in record:
            assert START_MS <= record["createdAt"] <= record.get("updatedAt", END_MS) <= END_MS


def test_scale_sizes_the_opt_in_data() -> None:
    sized = {
        "invoices": "invoices",
        "resource-allocations": "resource_allocations",
        "conversations": "conversations",
        "comments": "comments",
    }
    for scale in (Scale.small(), Scale.default()):
        data = generate(1, scale)
        for resource, field in sized.items():
            assert len(data[resource]) == getattr(scale, field), resource
    small, default, large = Scale.small(), Scale.default(), Scale.large()
    for field in sized.values():
        assert getattr(small, field) < getattr(default, field) < getattr(large, field), field


# -------------------------------------------------------------- Meltano configuration
def test_meltano_yml_selects_the_nine_and_aliases_every_hyphenated_stream() -> None:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    [tap] = [p for p in project["plugins"]["extractors"] if p["name"] == "tap-pm"]
    assert tap["select"] == [f"{stream}.*" for stream in STREAMS]
    hyphenated = {s for s in (*STREAMS, *OPT_IN) if "-" in s}
    aliases = tap["config"]["stream_maps"]
    assert {s: aliases[s]["__alias__"] for s in hyphenated} == {
        s: s.replace("-", "_") for s in hyphenated
    }
    hub = yaml.safe_load(
        (ROOT / "hub" / "_data" / "meltano" / "extractors" / "tap-pm" / "tap-pm.yml").read_text()
    )
    assert hub["select"] == tap["select"]


# ------------------------------------------------------------- live: no unknown parameter
# Every switch, both ways, and what else changes the parameters sent.
SETTINGS: tuple[dict[str, Any], ...] = (
    {},
    {"include_archived": False, "include_deleted_time_entries": False,
     "include_custom_fields": False, "page_size": 7, "reconcile": True},
    {"start_date": "2025-06-01T00:00:00Z", "emit_activate_version_messages": False,
     "resource_allocations_start_date": "2025-01-01", "resource_allocations_days_ahead": 30},
)  # fmt: skip


def test_no_setting_makes_the_tap_send_a_parameter_live_would_reject(tmp_path: Path) -> None:
    """The live API answers 500 to a query parameter it cannot parse (so does the emulator)."""
    with Emulator(seed=5, scale=Scale.small(), api_key=API_KEY, faults=Faults()) as emu:
        catalog = select(discover(tmp_path, tap_config(emu)), (*STREAMS, *OPT_IN))
        state = None
        for settings in (
            *SETTINGS,
            {**SETTINGS[1], "project_ids": sorted(emu.ids("projects"))[:2]},
        ):
            run = run_tap(tmp_path, tap_config(emu, **settings), catalog=catalog, state=state)
            assert run.returncode == 0, (settings, run.stderr[-3000:])
            state = run.final_state  # the next one is incremental: updatedAt.ge is sent too
        log = emu.request_log
    assert {entry.resource for entry in log} == {*STREAMS, *OPT_IN}
    assert any("updatedAt.ge" in entry.params for entry in log)
    assert any("pageToken" in entry.params for entry in log)
    assert not [(e.path, e.params) for e in log if e.status == 500][:3]
