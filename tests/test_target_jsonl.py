"""`tap-pm --config c.json | target-jsonl`: the pipe data engineers run."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from conftest import API_KEY, STREAMS, TAP, assert_no_secret, tap_config

if TYPE_CHECKING:
    from rocketlane_emulator import Emulator

ROOT = Path(__file__).parents[1]
TARGET_JSONL = os.environ.get("TARGET_JSONL", str(ROOT / ".tools/target-jsonl/bin/target-jsonl"))


def test_pipe_into_target_jsonl_writes_every_record(
    shared_emulator: Emulator, tmp_path: Path
) -> None:
    assert Path(TARGET_JSONL).exists(), "run `make test` (it installs target-jsonl)"
    (tmp_path / "config.json").write_text(json.dumps(tap_config(shared_emulator)))
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "target.json").write_text(json.dumps({"destination_path": str(out)}))
    command = (
        f"'{TAP}' --config '{tmp_path / 'config.json'}' "
        f"| '{TARGET_JSONL}' --config '{tmp_path / 'target.json'}' > '{tmp_path / 'state.jsonl'}'"
    )
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_no_secret(proc.stdout, proc.stderr)
    files = {p.name.rsplit("-", 1)[0]: p for p in out.glob("*.jsonl")}
    assert set(files) == set(STREAMS)
    for stream, path in files.items():
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        assert {r["id"] for r in lines} == shared_emulator.ids(stream), stream
        assert len(lines) == len(shared_emulator.ids(stream)), stream
    # target-jsonl echoes the tap's final state: a bookmark for every incremental stream.
    state = json.loads((tmp_path / "state.jsonl").read_text().splitlines()[-1])
    assert {s for s in STREAMS if s != "time-offs"} <= set(state["bookmarks"])
    assert API_KEY not in json.dumps(state)
