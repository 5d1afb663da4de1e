"""The SDK's REST stream with the tap it belongs to typed: the one place streams reach the tap.

The SDK keeps a stream's tap as `_tap`, typed as a plain `Tap`; tap-pm's streams share the
request budget, progress, Rocketlane's clock and the deletion bookkeeping through it.
"""

from __future__ import annotations

import typing as t

from singer_sdk.streams import RESTStream

if t.TYPE_CHECKING:
    from tap_pm.tap import TapPM


class TapPMStream(RESTStream["str | None"]):
    """A REST stream of tap-pm's."""

    @property
    def tap(self) -> TapPM:
        """The tap this stream belongs to."""
        return t.cast("TapPM", self._tap)
