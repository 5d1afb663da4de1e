"""tap-pm: a Singer tap for Rocketlane, built with the Meltano Singer SDK."""

__version__ = "0.1.0"
