"""Local emulator of Rocketlane's REST API 1.0 list endpoints.

>>> from rocketlane_emulator import Emulator, Faults, Scale
>>> with Emulator(seed=1, scale=Scale.small()) as emu:   # doctest: +SKIP
...     requests.get(f"{emu.base_url}/tasks", headers={"api-key": emu.api_key})
"""

from .data import Scale
from .drift import DriftedValue
from .faults import Faults
from .query import ApiError
from .resources import ID_KEYS, OPT_IN_ID_KEYS, RESOURCES, ResourceSpec
from .server import Emulator, RequestLogEntry
from .workspace import generate

__all__ = [
    "ID_KEYS",
    "OPT_IN_ID_KEYS",
    "RESOURCES",
    "ApiError",
    "DriftedValue",
    "Emulator",
    "Faults",
    "RequestLogEntry",
    "ResourceSpec",
    "Scale",
    "generate",
]
