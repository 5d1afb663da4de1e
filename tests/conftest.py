"""Shared fixtures: the Rocketlane emulator and a way to run the real `tap-pm` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from rocketlane_emulator import ID_KEYS, Emulator, Faults, Scale
from tap_pm.tap import TapPM

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_pm.client import RocketlaneStream

API_KEY = "rl-test-key-7f3c9a1e5d"  # distinctive, so a leak is easy to find
TAP = str(Path(sys.executable).parent / "tap-pm")
SHIFTED_CLOCK = str(Path(__file__).parent / "shifted_clock.py")
STREAMS = (
    "projects", "spaces", "phases", "space-documents", "tasks",
    "time-entries", "users", "fields", "time-offs",
)  # fmt: skip
INCREMENTAL = tuple(s for s in STREAMS if s != "time-offs")
CHILDREN = ("spaces", "phases", "space-documents")
# Listed in full by every sync, to find deletions: each visited project's children, time-offs,
# and users and fields while one page holds them (at the emulator's default size, they do).
LISTED_IN_FULL = (*CHILDREN, "time-offs", "users", "fields")
# Only what changed (and the look-back window) comes again; deletions wait for a reconcile.
CHANGES_ONLY = ("projects", "tasks", "time-entries")
# The look-back tests that check what comes again give the tap (`lookback_minutes`): not the
# default (5), so a tap that ignored the setting would show.
LOOKBACK_MINUTES = 3


SPEC = json.loads((Path(__file__).parents[1] / "spec" / "rocketlane-openapi.json").read_text())
# Lists whose path is not /1.0/<stream>.
SPEC_PATHS = {
    "invoice-lines": "/1.0/invoices/{invoiceId}/lines",
    "invoice-payments": "/1.0/invoices/{invoiceId}/payments",
    "time-entry-categories": "/1.0/time-entries/categories",
}
# Where live responses differ from the spec, the schema follows them: path -> the live type.
LIVE_TYPES = {"projects.currency": "object"}


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def spec_item(stream: str) -> dict[str, Any]:
    """The spec's schema of one record of a list."""
    path = SPEC_PATHS.get(stream, f"/1.0/{stream}")
    content = SPEC["paths"][path]["get"]["responses"]["200"]["content"]
    body = resolve(next(iter(content.values()))["schema"])
    return resolve(resolve(body["properties"]["data"])["items"])


def spec_kinds(stream: str) -> dict[str, str]:
    """What each property of a stream's records holds, by the spec (and live-deviations.md):
    "date-time" for an epoch-ms time (an int64 `...At`, which a Singer tap sends as RFC 3339),
    "date" for a text documented as YYYY-MM-DD, else its JSON type."""
    kinds = {}
    for name, prop in spec_item(stream)["properties"].items():
        spec = resolve(prop)
        kind = spec.get("type") or ("object" if "properties" in spec else "any")
        if kind == "integer" and spec.get("format") == "int64" and name.endswith("At"):
            kind = "date-time"
        elif kind == "string" and "YYYY-MM-DD" in (spec.get("description") or ""):
            kind = "date"
        kinds[name] = LIVE_TYPES.get(f"{stream}.{name}", kind)
    return kinds


# Columns the tap adds to the spec's properties: `id` (the natural id's copy), `_drift`
# (conform.py), `projectId` on whatever belongs to a project, and `_sdc_deleted_at` on the
# tables that get tombstones (versions.py).
PROJECT_OWNED = ("projects", *CHILDREN, "tasks", "time-entries")
TOMBSTONED = ("projects", *CHILDREN)


def expected_columns(stream: str) -> dict[str, str]:
    """A stream's columns and what each holds (spec_kinds), from the spec and the columns the
    tap documents adding, not from the tap's schema files."""
    added = {"id": "integer", "_drift": "object"}
    if stream in PROJECT_OWNED:
        added["projectId"] = "integer"
    if stream in TOMBSTONED:
        added["_sdc_deleted_at"] = "date-time"
    return {**spec_kinds(stream), **added}


def in_lookback_window(mark_ms: int, updated_ms: int) -> bool:
    """Whether an unchanged record comes again with LOOKBACK_MINUTES (`>=` the window)."""
    return mark_ms - LOOKBACK_MINUTES * 60_000 <= updated_ms <= mark_ms


def ms(moment: str) -> int:
    return int(datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp() * 1000)


def in_scope(emu: Emulator, start: str) -> dict[str, set[int]]:
    """Per stream, the live records a sync from `start` holds: updated at or after it (children:
    of projects in scope too); time-offs have no `updatedAt` and are all in scope. A record live
    sends without `updatedAt` (an invited user) matches no `updatedAt` filter, so is out of it."""
    since = ms(start)
    scope = {}
    for stream in STREAMS:
        key = ID_KEYS[stream]
        records = emu.truth(stream)
        if stream == "time-offs":
            scope[stream] = {r[key] for r in records}
            continue
        scope[stream] = {r[key] for r in records if r.get("updatedAt", since - 1) >= since}
    for stream in CHILDREN:
        scope[stream] = {c for c in scope[stream] if emu.project_of(stream, c) in scope["projects"]}
    return scope


def assert_waited_as_told(emu: Emulator, limit: tuple[int, float], margin: float = 5.0) -> int:
    """After each 429, the tap's next request came no sooner than the emulator would accept
    one, and not much later; returns how many 429s there were.

    When that was follows from the log and the emulator's rule, a sliding window of `limit`
    (requests, seconds) accepted requests: a 429 comes when the window is full, and the next
    request is accepted once its oldest one leaves it. `margin` covers the headers' whole
    seconds and a loaded machine.
    """
    max_requests, window = limit
    log = sorted(emu.request_log, key=lambda entry: entry.time)
    accepted: deque[float] = deque()
    limited = 0
    for index, entry in enumerate(log):
        while accepted and accepted[0] <= entry.time - window:
            accepted.popleft()
        if entry.status != 429:
            accepted.append(entry.time)
            continue
        limited += 1
        assert len(accepted) == max_requests, "a 429 with room in the window"
        resume = accepted[0] + window
        after = log[index + 1].time if index + 1 < len(log) else None
        assert after is not None, "the sync ended on a 429"
        assert after >= resume - 0.01, f"retried {resume - after:.2f}s before the API allowed"
        assert after <= resume + margin, f"waited {after - resume:.2f}s longer than asked"
    return limited


@dataclass
class TapRun:
    """What one `tap-pm` process printed."""

    returncode: int
    stdout: str
    stderr: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def ids(self, stream: str) -> set[int]:
        return {r["id"] for r in self.records(stream)}

    def record_counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for m in self.messages:
            if m["type"] == "RECORD":
                counts[m["stream"]] += 1
        return dict(counts)

    def schemas(self) -> dict[str, dict[str, Any]]:
        return {m["stream"]: m for m in self.messages if m["type"] == "SCHEMA"}

    @property
    def final_state(self) -> dict[str, Any]:
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else {}


def parse_messages(stdout: str) -> list[dict[str, Any]]:
    """Singer messages, one per complete line (a killed process may leave half a line)."""
    messages = []
    for line in stdout.splitlines():
        try:
            messages.append(json.loads(line))
        except ValueError:
            continue
    return messages


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert API_KEY not in text, "the API key leaked into the tap's output"


# A base URL nothing answers on (the discard port), with quick retries.
UNREACHABLE_CONFIG = {
    "api_key": API_KEY,
    "base_url": "http://127.0.0.1:9/api/1.0",
    "max_retries": 1,
    "retry_backoff_factor": 0.01,
    "request_timeout": 2,
}


def tap_config(emu: Emulator, **overrides: Any) -> dict[str, Any]:
    config = {
        "api_key": API_KEY,
        "base_url": emu.base_url,
        "max_requests_per_minute": 100_000,
        "retry_backoff_factor": 0.05,
    }
    config.update(overrides)
    return config


def run_tap(
    tmp_path: Path,
    config: dict[str, Any],
    *args: str,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    timeout: float = 300,
    env: dict[str, str] | None = None,
    clock_offset: float | None = None,
) -> TapRun:
    """Run the installed `tap-pm` console script and collect its messages.

    With `clock_offset`, the tap's clock runs that many seconds ahead (negative: behind).
    """
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    tap = [TAP] if clock_offset is None else [sys.executable, SHIFTED_CLOCK, str(clock_offset)]
    command = [*tap, "--config", str(config_file), *args]
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        command += ["--state", str(tmp_path / "state.json")]
    if catalog is not None:
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        command += ["--catalog", str(tmp_path / "catalog.json")]
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert_no_secret(proc.stdout, proc.stderr)
    return TapRun(proc.returncode, proc.stdout, proc.stderr, parse_messages(proc.stdout))


def sync_in_process(
    capfd: pytest.CaptureFixture[str],
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
) -> TapRun:
    """One sync by the tap in the test's own process: what it printed, as a TapRun.

    For tests that mutation testing (`make mutate`) must see reach the code: it cannot see
    into the tap processes the CLI tests start.
    """
    capfd.readouterr()
    TapPM(config=config, state=state, catalog=catalog).sync_all()
    out, err = capfd.readouterr()
    assert_no_secret(out, err)
    return TapRun(0, out, err, parse_messages(out))


def streams_of(tap: TapPM) -> dict[str, RocketlaneStream]:
    """The tap's streams by name, as what they are: the SDK types `Tap.streams` as plain Streams."""
    return cast("dict[str, RocketlaneStream]", tap.streams)


def discover(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    run = run_tap(tmp_path, config, "--discover")
    assert run.returncode == 0, run.stderr[-2000:]
    catalog: dict[str, Any] = json.loads(run.stdout)
    return catalog


def select(catalog: dict[str, Any], streams: tuple[str, ...]) -> dict[str, Any]:
    """Select whole streams in a discovered catalog, deselect the rest."""
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


@pytest.fixture(autouse=True)
def _no_key_in_any_output(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """Whatever a test printed or logged, in-process or not, must not contain the key."""
    yield
    out, err = capfd.readouterr()
    assert_no_secret(out, err, caplog.text)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh default-size emulator per test, so tests may mutate it."""
    with Emulator(seed=1, scale=Scale.default(), api_key=API_KEY, faults=Faults()) as emu:
        yield emu


@pytest.fixture(scope="session")
def shared_emulator() -> Iterator[Emulator]:
    """A read-only default-size emulator shared by tests that do not mutate data."""
    with Emulator(seed=1, scale=Scale.default(), api_key=API_KEY, faults=Faults()) as emu:
        yield emu


@pytest.fixture(scope="session")
def full_sync(shared_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> TapRun:
    """One full sync of the shared emulator with default settings."""
    run = run_tap(tmp_path_factory.mktemp("full"), tap_config(shared_emulator))
    assert run.returncode == 0, run.stderr[-3000:]
    return run


# The opt-in streams: discovered, but not selected unless a catalog or `select` asks for them.
OPT_IN = (
    "invoices", "invoice-lines", "invoice-payments", "resource-allocations",
    "time-entry-categories", "conversations", "comments", "companies",
)  # fmt: skip
# Lists the spec does not document: their schemas follow a live capture (spec/live-deviations.md).
UNDOCUMENTED = ("companies",)


def allocation_key(record: dict[str, Any]) -> str:
    """The key tap-pm gives a resource allocation (the API sends none), from the emulator's."""
    who = (
        f"member:{record['member']['userId']}"
        if record.get("member")  # live, an absent member is left out rather than null
        else f"placeholder:{record['placeholder']['placeholderId']}"
    )
    return f"{record['project']['projectId']}:{who}:{record['startDate']}:{record['createdAt']}"


def opt_in_ids(emu: Emulator, stream: str) -> set[int] | set[str]:
    """The ids tap-pm should emit for an opt-in stream: the key it makes for allocations."""
    if stream == "resource-allocations":
        return {allocation_key(r) for r in emu.truth(stream)}
    return emu.ids(stream)


def statuses(emu: Emulator) -> list[int]:
    return [entry.status for entry in emu.request_log]


def failure_line(run: TapRun) -> str:
    """The one line a failed run explains itself with (no traceback, non-zero exit)."""
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    [line] = [line for line in run.stderr.splitlines() if line.startswith("Error: ")]
    return line


def assert_complete(run: TapRun, emu: Emulator, *, streams: tuple[str, ...] = STREAMS) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    for stream in streams:
        assert run.ids(stream) == emu.ids(stream), stream


# ----------------------------------------------------------------------------- test layers
# Three layers, marked on every test at collection (pyproject.toml registers them):
# - `unit`: in this process only: no tap, Meltano or dbt process, no warehouse;
# - `e2e`: runs the tap's CLI (`run_tap`, `discover`, a subprocess), against the emulator or
#   small loopback servers;
# - `warehouse`: loads a warehouse or builds the dbt models (Meltano, dbt, a target).
# A test is e2e when its code, a helper it calls or a fixture it uses reaches one of
# `E2E_NAMES`; the warehouse layer is its files'. `make test-fast` runs the unit layer.
E2E_NAMES = frozenset({"run_tap", "discover", "subprocess", "TAP", "full_sync"})
WAREHOUSE_FILES = frozenset({
    "test_dbt.py", "test_dbt_history.py", "test_dbt_package.py", "test_demo.py",
    "test_demo_models.py", "test_drift_loads.py", "test_hostile_loads.py", "test_meltano.py",
    "test_snowflake.py", "test_target_jsonl.py", "test_report.py", "test_loads.py",
})  # fmt: skip


def _reaches(function: Any, names: frozenset[str], seen: set[int]) -> bool:
    """Whether `function`, or a function of its module it calls, names one of `names`."""
    code = getattr(function, "__code__", None)
    if code is None or id(code) in seen:
        return False
    seen.add(id(code))
    codes = [code]
    while codes:  # nested functions and comprehensions have code objects of their own
        current = codes.pop()
        if names & set(current.co_names):
            return True
        codes += [c for c in current.co_consts if hasattr(c, "co_names")]
        for name in current.co_names:
            called = function.__globals__.get(name)
            if callable(called) and _reaches(called, names, seen):
                return True
    return False


def layer_of(item: pytest.Function) -> str:
    if Path(str(item.fspath)).name in WAREHOUSE_FILES:
        return "warehouse"
    if E2E_NAMES & set(item.fixturenames):
        return "e2e"
    seen: set[int] = set()
    definitions = item._fixtureinfo.name2fixturedefs  # noqa: SLF001 - pytest has no public one
    functions = [item.function]
    functions += [d.func for name in item.fixturenames for d in definitions.get(name, ())]
    return "e2e" if any(_reaches(f, E2E_NAMES, seen) for f in functions) else "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(item, pytest.Function):
            item.add_marker(layer_of(item))
