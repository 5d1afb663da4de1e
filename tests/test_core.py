"""The Singer SDK's standard tap tests, run against the emulator."""

from __future__ import annotations

import atexit

from conftest import API_KEY
from singer_sdk.testing import get_tap_test_class

from rocketlane_emulator import Emulator, Faults, Scale
from tap_pm.tap import TapPM

# The SDK builds the test class at import time, so the emulator must already run.
# Default size: live responses leave null properties out, and the SDK checks that every schema
# property occurs in some record, which a small workspace does not guarantee.
_EMULATOR = Emulator(seed=2, scale=Scale.default(), api_key=API_KEY, faults=Faults())
_EMULATOR.start()
atexit.register(_EMULATOR.stop)

TestTapPM = get_tap_test_class(
    tap_class=TapPM,
    config={
        "api_key": API_KEY,
        "base_url": _EMULATOR.base_url,
        "max_requests_per_minute": 100_000,
    },
)
