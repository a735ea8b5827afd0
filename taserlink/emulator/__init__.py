"""The simulated device: firmware model, scenarios, and (later) its USB backend.

Shipped, not hidden in tests: maintenance scripts, training and demos use it.  Its keys are
TEST MATERIAL (:mod:`taserlink.emulator.pki`).
"""

from taserlink.emulator.clock import DeviceClock
from taserlink.emulator.firmware import DeviceSpec, HostInfo, SimulatedDevice
from taserlink.emulator.scenarios import SCENARIOS, ScenarioRun, run_scenario

__all__ = [
    "SCENARIOS",
    "DeviceClock",
    "DeviceSpec",
    "HostInfo",
    "ScenarioRun",
    "SimulatedDevice",
    "run_scenario",
]
