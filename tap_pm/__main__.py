"""Run the tap as `python -m tap_pm`."""

from tap_pm.tap import TapPM

TapPM.cli()
