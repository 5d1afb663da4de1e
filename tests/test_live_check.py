"""`tap-pm --check-live`: a live workspace against the schemas, end to end through the CLI."""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING, Any

from conftest import API_KEY, STREAMS, UNREACHABLE_CONFIG, discover, run_tap, select, tap_config

from rocketlane_emulator import Emulator, Faults, Scale
from tap_pm.live_check import SchemaProfile, declared_type, value_type

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conftest import TapRun


CHECK = "--check-live"
HEADER = re.compile(r"^== (\S+): (\d+) record\(s\)", re.MULTILINE)


def check(tmp_path: Path, config: dict[str, Any], **kwargs: Any) -> TapRun:
    run = run_tap(tmp_path, config, CHECK, **kwargs)
    assert not run.messages, "the live check sent Singer messages"
    return run


def tables(stdout: str) -> dict[str, int]:
    """Stream -> records checked, from the table headers."""
    return {name: int(count) for name, count in HEADER.findall(stdout)}


def row(stdout: str, stream: str, path: str) -> str:
    """The table row of one field of one stream."""
    section = stdout.split(f"== {stream}:", 1)[1].split("\n== ", 1)[0]
    [line] = [line for line in section.splitlines() if line.split()[:1] == [path]]
    return line


def failure_line(run: TapRun) -> str:
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    [line] = [line for line in run.stderr.splitlines() if line.startswith("Error: ")]
    return line


def drift(
    emu: Emulator,
    resource: str,
    change: Callable[[dict[str, Any]], None],
    project: int | None = None,
) -> None:
    """Change a record the first page lists (the lowest id; of `project`, if given) in place.

    The emulator serves shallow copies of its records, so this is what the API sends next.
    """
    store = emu._store  # noqa: SLF001 - the test changes what the API answers
    with store.lock:
        table = store.tables[resource]
        ids = table.ids if project is None else table.by_project[project]
        change(table.rows[min(ids)])


# ---------------------------------------------------------------------------- clean
def test_a_clean_workspace_fits_and_every_selected_stream_is_shown(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.reset_log()
    run = check(tmp_path, tap_config(emulator))
    assert run.returncode == 0, run.stderr[-3000:]
    shown = tables(run.stdout)
    assert set(shown) == set(STREAMS)  # the default selection: no opt-in stream
    first_project = min(emulator.ids("projects"))
    for stream, count in shown.items():
        if stream in {"spaces", "phases", "space-documents"}:
            expected = sum(1 for _ in _of_project(emulator, stream, first_project))
        else:
            expected = min(100, len(emulator.truth(stream)))
        assert count == expected, stream
        assert count > 0, stream
    assert "DOES NOT FIT" not in run.stdout
    assert "live check: every value fits its declared type (9 stream(s)" in run.stdout
    # Declared type, types seen, nested fields and formats, as a sync shapes the records.
    assert row(run.stdout, "tasks", "status.value").split()[1:3] == ["integer|null", "integer"]
    assert "string(date-time)" in row(run.stdout, "tasks", "updatedAt").split()[2]
    assert row(run.stdout, "phases", "projectId").split()[1:3] == ["integer", "integer"]
    # One request per stream, the children's of the first project listed.
    log = emulator.request_log
    assert Counter(entry.resource for entry in log) == dict.fromkeys(STREAMS, 1)
    for entry in log:
        assert "pageToken" not in entry.params
        if entry.resource in {"spaces", "phases", "space-documents"}:
            assert entry.params["projectId"] == str(first_project)


def _of_project(emu: Emulator, stream: str, project: int) -> list[dict[str, Any]]:
    if stream == "space-documents":
        spaces = {s["spaceId"] for s in emu.truth("spaces") if s["project"]["projectId"] == project}
        return [d for d in emu.truth(stream) if d["space"]["spaceId"] in spaces]
    return [r for r in emu.truth(stream) if r["project"]["projectId"] == project]


# ---------------------------------------------------------------------------- drift
def test_drifted_values_are_named_and_the_check_fails(emulator: Emulator, tmp_path: Path) -> None:
    first_project = min(emulator.ids("projects"))

    def tasks(record: dict[str, Any]) -> None:
        record["effortInMinutes"] = 37.5  # a decimal where the schema says integer
        record["status"] = {**(record["status"] or {}), "value": "2"}  # nested: a string

    drift(emulator, "tasks", tasks)
    drift(emulator, "time-entries", lambda r: r.update(minutes="480"))  # a number as a string
    drift(emulator, "phases", lambda r: r.update(status="Active"), project=first_project)
    drift(emulator, "time-offs", lambda r: r.update(startDate="03/01/2025"))  # another format
    drift(emulator, "fields", lambda r: r.update(createdAt="2025-01-31 10:00:00"))
    drift(emulator, "users", lambda r: r.update(favouriteColour="teal"))  # unknown property

    run = check(tmp_path, tap_config(emulator))
    line = failure_line(run)
    misfits = (
        "tasks.effortInMinutes", "tasks.status.value", "time-entries.minutes",
        "phases.status", "time-offs.startDate", "fields.createdAt",
    )  # fmt: skip
    for name in misfits:
        assert name in line
        stream, path = name.split(".", 1)
        assert "DOES NOT FIT: 1 value(s)" in row(run.stdout, stream, path), name
    assert "6 field(s)" in line
    assert "not in the schema: users.favouriteColour" in line
    assert "undeclared" in row(run.stdout, "users", "favouriteColour")
    # What was seen, beside what is declared.
    assert row(run.stdout, "tasks", "effortInMinutes").split()[1] == "integer|null"
    assert "number 1" in row(run.stdout, "tasks", "effortInMinutes")
    assert "string 1" in row(run.stdout, "time-entries", "minutes")
    assert '"480"' in row(run.stdout, "time-entries", "minutes")
    assert "string 1" in row(run.stdout, "phases", "status")
    assert "string 1" in row(run.stdout, "time-offs", "startDate")
    assert row(run.stdout, "fields", "createdAt").split()[1] == "string(date-time)|null"
    assert "string 1" in row(run.stdout, "fields", "createdAt")
    # Only the drifted fields are named.
    assert run.stdout.count("DOES NOT FIT") == len(misfits)


def test_the_emulators_drift_option_is_reported_field_by_field(tmp_path: Path) -> None:
    """`Emulator(drift=True)` (`--drift`): every drifted field is named; the check fails."""
    with Emulator(
        seed=1, scale=Scale.default(), api_key=API_KEY, faults=Faults(), drift=True
    ) as emu:
        run = check(tmp_path, tap_config(emu))
        line = failure_line(run)
        assert len(emu.drifted) >= 5
        for value in emu.drifted:
            named = f"{value.stream}.{value.field}"
            if value.kind == "unknown-property":  # reported, but not a value that fails a type
                assert f"not in the schema: {named}" in run.stdout + run.stderr, named
                assert named not in line.split("not in the schema")[0], named
            else:
                assert named in line, named


def test_only_undeclared_properties_still_pass(emulator: Emulator, tmp_path: Path) -> None:
    drift(emulator, "users", lambda r: r.update(favouriteColour="teal"))
    run = check(tmp_path, tap_config(emulator))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "every value fits its declared type" in run.stdout
    assert "not in the schema: users.favouriteColour" in run.stdout


# ------------------------------------------------------------------ selection, errors
def test_the_catalog_chooses_the_streams_opt_in_ones_too(
    emulator: Emulator, tmp_path: Path
) -> None:
    config = tap_config(emulator)
    chosen = ("phases", "invoice-lines", "comments", "resource-allocations")
    catalog = select(discover(tmp_path, config), chosen)
    emulator.reset_log()
    run = check(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    assert set(tables(run.stdout)) == set(chosen)
    # A parent is read for its first record (not shown); every stream once.
    log = emulator.request_log
    assert Counter(entry.resource for entry in log) == dict.fromkeys(
        ("projects", "invoices", *chosen), 1
    )
    [lines] = [entry for entry in log if entry.resource == "invoice-lines"]
    assert lines.path.endswith(f"/invoices/{min(emulator.ids('invoices'))}/lines")
    assert all(count > 0 for count in tables(run.stdout).values())


def test_a_wrong_key_fails_with_one_line(emulator: Emulator, tmp_path: Path) -> None:
    wrong = "rl-wrong-key-0b1c2d3e4f"
    run = check(tmp_path, tap_config(emulator, api_key=wrong))
    line = failure_line(run)
    assert "refused the API key" in line
    assert wrong not in run.stdout + run.stderr
    assert API_KEY not in run.stdout + run.stderr


def test_project_ids_choose_the_project_read(emulator: Emulator, tmp_path: Path) -> None:
    wanted = sorted(emulator.ids("projects"))[1]  # not the first listed
    emulator.reset_log()
    run = check(tmp_path, tap_config(emulator, project_ids=[wanted]))
    assert run.returncode == 0, run.stderr[-3000:]
    assert set(tables(run.stdout)) == set(STREAMS)
    params = {entry.resource: entry.params for entry in emulator.request_log}
    assert len(emulator.request_log) == len(STREAMS)
    for stream in ("spaces", "phases", "space-documents"):
        assert params[stream]["projectId"] == str(wanted)
    assert params["tasks"]["projectId.eq"] == str(wanted)
    assert params["time-entries"]["projectId.eq"] == str(wanted)


def test_an_unreachable_api_fails_with_one_line(tmp_path: Path) -> None:
    line = failure_line(check(tmp_path, UNREACHABLE_CONFIG))
    assert "giving up after 2 attempts" in line
    assert "ConnectionError" in line


# ----------------------------------------------------------------------- the profile
def test_the_profile_follows_jsonschema_formats_included() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "minutes": {"type": ["integer", "null"]},
            "due": {"type": ["string", "null"], "format": "date"},
            "at": {"type": ["string", "null"], "format": "date-time"},
            "tags": {"type": ["array", "null"], "items": {"type": "integer"}},
            "status": {"type": ["object", "null"], "properties": {"value": {"type": "integer"}}},
        },
    }
    profile = SchemaProfile(schema)
    profile.observe({"id": 1, "minutes": 3.0, "due": "2025-01-31", "at": "2025-01-31T00:00:00Z"})
    assert not profile.misfits  # 3.0 is an integer to jsonschema
    profile.observe({"id": 2, "minutes": "480", "due": "2025-01-31T00:00:00Z", "tags": [1, "2"]})
    assert {f.path for f in profile.misfits} == {"minutes", "due", "tags[]"}
    assert profile.fields["due"].seen == {"string(date)": 1, "string(date-time)": 1}
    assert profile.fields["minutes"].example == 'id 2: "480"'
    assert profile.fields["at"].verdict == "ok"
    profile.observe({"id": 3, "at": "2025-01-31 10:00:00", "tags": None, "extra": {"a": 1}})
    assert profile.fields["at"].misfits == 1  # not RFC 3339: jsonschema checks date-time too
    assert [f.path for f in profile.undeclared] == ["extra"]
    assert profile.fields["tags"].seen == {"array": 1, "null": 1}
    profile.observe({"id": 4, "status": {"value": 1, "colour": "red"}})
    assert [f.path for f in profile.undeclared] == ["extra", "status.colour"]
    assert profile.fields["status.value"].seen == {"integer": 1}
    assert declared_type(schema["properties"]["at"]) == "string(date-time)|null"
    assert value_type(True) == "boolean"
    assert value_type(1.5) == "number"
