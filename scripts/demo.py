"""The main job: sync a Rocketlane workspace into local JSONL files and count the rows.

Without `TAP_PM_API_KEY` it starts the bundled emulator and syncs its workspace; with
the variable set (and optionally `TAP_PM_BASE_URL`) it syncs your real workspace.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rocketlane_emulator import Emulator, Scale  # noqa: E402

OUTPUT = ROOT / "output"
TAP = Path(sys.executable).parent / "tap-pm"
TARGET = ROOT / ".tools" / "target-jsonl" / "bin" / "target-jsonl"
DEMO_KEY = "demo-key"


def sync(config: dict) -> dict[str, int]:
    """Run `tap-pm | target-jsonl` into ./output and count the lines per stream."""
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir()
    with tempfile.TemporaryDirectory() as tmp:
        tap_config = Path(tmp) / "tap.json"
        tap_config.write_text(json.dumps(config))
        target_config = Path(tmp) / "target.json"
        target_config.write_text(json.dumps({"destination_path": str(OUTPUT)}))
        tap = subprocess.Popen([TAP, "--config", tap_config], stdout=subprocess.PIPE)
        target = subprocess.run(
            [TARGET, "--config", target_config],
            stdin=tap.stdout,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        if tap.wait() or target.returncode:
            sys.exit("the sync failed; see the messages above")
    counts: dict[str, int] = {}
    for path in sorted(OUTPUT.glob("*.jsonl")):
        stream = path.name.rsplit("-", 1)[0]
        with path.open() as handle:
            counts[stream] = counts.get(stream, 0) + sum(1 for _ in handle)
    return counts


def main() -> None:
    """Sync the emulator (or a real workspace) and print rows per stream."""
    if key := os.environ.get("TAP_PM_API_KEY"):
        config = {"api_key": key}
        if base_url := os.environ.get("TAP_PM_BASE_URL"):
            config["base_url"] = base_url
        counts, truth = sync(config), None
    else:
        with Emulator(seed=1, scale=Scale.default(), api_key=DEMO_KEY) as emu:
            print(f"Syncing the bundled Rocketlane emulator at {emu.base_url}", flush=True)
            config = {"api_key": DEMO_KEY, "base_url": emu.base_url}
            config["max_requests_per_minute"] = 6000  # the emulator has no limit
            counts = sync(config)
            truth = {stream: len(emu.ids(stream)) for stream in counts}
    print(f"\n{'stream':<18}{'records':>9}" + ("" if truth is None else f"{'emulator':>10}"))
    for stream, count in counts.items():
        check = "" if truth is None else f"{truth[stream]:>10}"
        print(f"{stream:<18}{count:>9}{check}")
    print(f"\nFiles in {OUTPUT.relative_to(ROOT)}/")
    if truth is not None and counts != truth:
        sys.exit("record counts differ from the emulator's")


if __name__ == "__main__":
    main()
