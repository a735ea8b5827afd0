"""The simulated device: firmware model, scenarios, its protocol server and USB backend.

Shipped, not hidden in tests: maintenance scripts, training and demos use it.  Its keys are
TEST MATERIAL (:mod:`taserlink.emulator.pki`).  Host code (:mod:`taserlink.device`) never
imports this package; tests hand :class:`EmulatedBackend` to pyusb.
"""

from taserlink.emulator.clock import DeviceClock
from taserlink.emulator.faults import Fault, FaultKind, FaultPlan
from taserlink.emulator.firmware import DeviceSpec, HostInfo, SimulatedDevice
from taserlink.emulator.scenarios import SCENARIOS, ScenarioRun, run_scenario
from taserlink.emulator.server import DataportServer
from taserlink.emulator.usb import EmulatedBackend, EmulatedUsbDevice, Transfer

__all__ = [
    "SCENARIOS",
    "DataportServer",
    "DeviceClock",
    "DeviceSpec",
    "EmulatedBackend",
    "EmulatedUsbDevice",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "HostInfo",
    "ScenarioRun",
    "SimulatedDevice",
    "Transfer",
    "run_scenario",
]
