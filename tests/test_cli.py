"""Standard Singer/Meltano capabilities, each through the real CLI against the emulator."""

from __future__ import annotations

import gzip
import json
import math
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from conftest import STREAMS, TAP, discover, in_scope, run_tap, select, tap_config

from rocketlane_emulator import ID_KEYS, Emulator

SETTINGS = (
    "api_key", "base_url", "start_date", "page_size", "include_archived",
    "include_deleted_time_entries", "include_custom_fields", "project_ids", "user_agent",
    "max_requests_per_minute", "max_rate_limit_wait_seconds", "max_retries",
    "retry_backoff_factor", "request_timeout",
)  # fmt: skip


def about(fmt: str | None) -> str:
    args = [TAP, "--about"] + ([f"--format={fmt}"] if fmt else [])
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def test_about_lists_every_setting_in_all_formats() -> None:
    as_json = json.loads(about("json"))
    assert set(SETTINGS) <= set(as_json["settings"]["properties"])
    assert as_json["settings"]["required"] == ["api_key"]
    assert as_json["settings"]["properties"]["api_key"]["secret"] is True
    assert {"catalog", "state", "discover", "stream-maps", "schema-flattening", "batch"} <= set(
        as_json["capabilities"]
    )
    markdown = about("markdown")
    text = about(None)
    for setting in SETTINGS:
        assert f"| {setting} |" in markdown
        assert setting in text


def test_discover_lists_nine_streams(shared_emulator: Emulator, tmp_path: Path) -> None:
    run = run_tap(tmp_path, tap_config(shared_emulator), "--discover")
    assert run.returncode == 0
    catalog = json.loads(run.stdout)
    # The opt-in streams are listed too, not selected: test_opt_in_streams.py.
    entries = {s["tap_stream_id"]: s for s in catalog["streams"] if s["tap_stream_id"] in STREAMS}
    assert set(entries) == set(STREAMS)
    for stream, entry in entries.items():
        assert entry["key_properties"] == ["id"]
        assert ("replication_key" in entry) == (stream != "time-offs")


def test_catalog_selects_streams_and_fields(shared_emulator: Emulator, tmp_path: Path) -> None:
    discovered = json.loads(run_tap(tmp_path, tap_config(shared_emulator), "--discover").stdout)
    for entry in discovered["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] in {"users", "phases"}
            elif item["breadcrumb"][-1] in {"email", "phaseName", "projectId"} or entry[
                "tap_stream_id"
            ] not in {"users", "phases"}:
                item["metadata"]["selected"] = True
            else:
                item["metadata"]["selected"] = False
    run = run_tap(tmp_path, tap_config(shared_emulator), catalog=discovered)
    assert run.returncode == 0, run.stderr[-2000:]
    assert set(run.record_counts()) == {"users", "phases"}
    # Every record once, with exactly the selected fields (and the key and bookmark), as sent.
    expected = {
        "users": {"id", "email", "updatedAt"},
        "phases": {"id", "phaseName", "projectId", "updatedAt"},
    }
    for stream, fields in expected.items():
        truth = {r[ID_KEYS[stream]]: r for r in shared_emulator.truth(stream)}
        records = run.records(stream)
        assert len(records) == len(truth), stream
        assert {r["id"] for r in records} == set(truth), stream
        for record in records:
            assert set(record) == fields, (stream, record)
            sent = truth[record["id"]]
            for name in fields - {"id", "updatedAt", "projectId"}:
                assert record[name] == sent[name], (stream, record["id"], name)
                assert record[name], (stream, record["id"], name)  # the check could fail
    for record in run.records("phases"):
        assert record["projectId"] == shared_emulator.project_of("phases", record["id"])


def test_connection_test_makes_one_request(emulator: Emulator, tmp_path: Path) -> None:
    emulator.reset_log()
    run = run_tap(tmp_path, tap_config(emulator), "--test")
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(emulator.request_log) == 1
    assert emulator.request_log[0].status == 200


def test_stream_maps_transform_and_filter(shared_emulator: Emulator, tmp_path: Path) -> None:
    config = tap_config(
        shared_emulator,
        stream_maps={
            "users": {"email": "md5(email) if email else None", "__filter__": "userId % 2 == 0"},
            "tasks": None,
        },
    )
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "tasks" not in run.record_counts()
    users = run.records("users")
    expected = {u for u in shared_emulator.ids("users") if u % 2 == 0}
    assert {u["userId"] for u in users} == expected
    assert all(u["email"] is None or len(u["email"]) == 32 for u in users)


def test_alias_on_a_deselected_stream(shared_emulator: Emulator, tmp_path: Path) -> None:
    # meltano.yml aliases hyphenated streams for SQL targets; deselecting one must still work.
    config = tap_config(shared_emulator, stream_maps={"time-offs": {"__alias__": "time_offs"}})
    catalog = select(discover(tmp_path, config), ("users",))
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert set(run.record_counts()) == {"users"}
    everything = run_tap(tmp_path, config)
    assert everything.ids("time_offs") == shared_emulator.ids("time-offs")


def test_schema_flattening(shared_emulator: Emulator, tmp_path: Path) -> None:
    config = tap_config(shared_emulator, flattening_enabled=True, flattening_max_depth=1)
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr[-2000:]
    properties = run.schemas()["phases"]["schema"]["properties"]
    assert "project__projectId" in properties
    assert "project" not in properties
    record = run.records("phases")[0]
    assert record["project__projectId"] == record["projectId"]


def test_batch_messages_carry_every_record(shared_emulator: Emulator, tmp_path: Path) -> None:
    batch_dir = tmp_path / "batches"
    batch_dir.mkdir()
    config = tap_config(
        shared_emulator,
        batch_config={
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": f"file://{batch_dir}", "prefix": "rl-"},
        },
    )
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr[-2000:]
    batches = [m for m in run.messages if m["type"] == "BATCH"]
    assert {b["stream"] for b in batches} == set(STREAMS)
    ids: dict[str, set[int]] = {s: set() for s in STREAMS}
    for batch in batches:
        for url in batch["manifest"]:
            with gzip.open(Path(url.removeprefix("file://")), "rt") as handle:
                ids[batch["stream"]] |= {json.loads(line)["id"] for line in handle}
    for stream in STREAMS:
        assert ids[stream] == shared_emulator.ids(stream), stream


def test_page_size_sets_request_count(emulator: Emulator, tmp_path: Path) -> None:
    emulator.reset_log()
    run = run_tap(tmp_path, tap_config(emulator, page_size=7))
    assert run.returncode == 0, run.stderr[-2000:]
    users = [e for e in emulator.request_log if e.resource == "users"]
    assert len(users) == math.ceil(len(emulator.ids("users")) / 7)
    assert all(e.params.get("pageSize") == "7" for e in users)


def test_project_ids_restrict_projects_and_their_records(
    shared_emulator: Emulator, tmp_path: Path
) -> None:
    projects = sorted(shared_emulator.ids("projects"))[:2]
    run = run_tap(tmp_path, tap_config(shared_emulator, project_ids=projects))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.ids("projects") == set(projects)
    for stream in ("tasks", "time-entries", "spaces", "phases", "space-documents"):
        expected = {
            r[ID_KEYS[stream]]
            for r in shared_emulator.truth(stream)
            if shared_emulator.project_of(stream, r[ID_KEYS[stream]]) in projects
        }
        assert run.ids(stream) == expected, stream
    assert run.ids("users") == shared_emulator.ids("users")


def test_switches_off_leave_out_archived_deleted_and_custom_fields(
    shared_emulator: Emulator, tmp_path: Path
) -> None:
    config = tap_config(
        shared_emulator,
        include_archived=False,
        include_deleted_time_entries=False,
        include_custom_fields=False,
    )
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr[-2000:]
    live_tasks = {t["taskId"] for t in shared_emulator.truth("tasks") if not t.get("archived")}
    assert run.ids("tasks") == live_tasks
    live_entries = {
        e["timeEntryId"] for e in shared_emulator.truth("time-entries") if not e.get("deleted")
    }
    assert run.ids("time-entries") == live_entries
    assert all(not r.get("fields") for r in run.records("tasks"))
    # Standard optional properties are still requested.
    assert any(r.get("assignees") for r in run.records("tasks"))


def test_start_date_limits_the_first_sync(shared_emulator: Emulator, tmp_path: Path) -> None:
    tasks = sorted(shared_emulator.truth("tasks"), key=lambda t: t["updatedAt"])
    pivot = tasks[len(tasks) // 2]["updatedAt"]
    start = datetime.fromtimestamp(pivot / 1000, tz=timezone.utc).isoformat()
    run = run_tap(tmp_path, tap_config(shared_emulator, start_date=start))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.ids("tasks") == {t["taskId"] for t in tasks if t["updatedAt"] >= pivot}
    # Children of the projects in scope, filtered by their own updatedAt (docs/deletions.md).
    assert run.ids("phases") == in_scope(shared_emulator, start)["phases"]
