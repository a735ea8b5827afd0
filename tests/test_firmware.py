"""The firmware model: clock, bounded log, chain, seals, signatures, cartridges."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from taserlink.emulator import DeviceClock, DeviceSpec, SimulatedDevice, run_scenario
from taserlink.emulator.scenarios import (
    DOCK_ROTATION,
    SCENARIOS,
    START,
    dock_device,
    new_device,
    service_days,
)
from taserlink.errors import ScenarioError, SerialError
from taserlink.format import (
    DEVICE_EPOCH_UNIX_MS,
    RECORD_SIZE,
    EventCode,
    payload_view,
    read_image,
)
from taserlink.format.bulk import records_from_buffer
from taserlink.integrity import chain_records, chain_step, genesis_chain
from tests.checks import assert_signed


def _device(**spec: object) -> SimulatedDevice:
    rng = random.Random(7)
    return new_device(rng, **spec)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_images_are_chained_and_signed(name: str) -> None:
    image = read_image(run_scenario(name, 3).image)
    assert image.statement is not None
    records = image.section_bytes("records")
    assert chain_records(image.base.chain_before, records) == image.statement.chain
    if image.base.first_seq == 1:
        assert image.base.chain_before == genesis_chain(image.identity.serial)
    # Every seal's chain value is the chain after its sequence.
    value = image.base.chain_before
    by_seq = {}
    for i in range(len(image.records)):
        value = chain_step(value, records[32 * i : 32 * i + 32])
        by_seq[int(image.records["seq"][i])] = value
    for seal in image.seal_list:
        assert by_seq[seal.seq] == seal.chain
    assert len(image.seal_list) == len(image.seals)
    assert_signed(image)
    assert image.acquisition.nonce == image.statement.nonce


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenarios_are_deterministic_per_seed(name: str) -> None:
    assert run_scenario(name, 5).image == run_scenario(name, 5).image
    assert run_scenario(name, 5).image != run_scenario(name, 6).image


def test_unknown_scenario_is_a_clear_error() -> None:
    with pytest.raises(ScenarioError, match="no scenario 'nope'"):
        run_scenario("nope")


ROUTINE = {
    EventCode.POWER_ON,
    EventCode.POWER_OFF,
    EventCode.BATTERY,
    EventCode.FUNCTION_TEST,
    EventCode.UNHOLSTER,
    EventCode.HOLSTER,
    EventCode.LOG_WRAP,
}
"""What a routine day of an emulated dock's device logs (a small log also deletes its
oldest quarter)."""


@pytest.mark.parametrize("index", range(7))
def test_a_dock_device_is_its_scenario_then_routine_days(index: int) -> None:
    """Position ``index + 1`` runs ``DOCK_ROTATION``'s scenario with the next seed every
    round, then its routine days add only routine events, about 17 a day, the same every
    time."""
    scenario = run_scenario(DOCK_ROTATION[index % 5], 1 + index // 5).device
    docked = dock_device(index)
    assert docked.spec == scenario.spec
    if scenario.first_seq == 1:  # the wrapped-log device deletes what routine days push out
        assert docked.records_bytes(1, scenario.record_count) == scenario.records_bytes()
    tail = docked.records_bytes(scenario.last_seq + 1)
    added = records_from_buffer(tail, 0, len(tail) // RECORD_SIZE)
    assert {EventCode(int(code)) for code in added["code"]} <= ROUTINE
    assert 12 * service_days(index) <= docked.last_seq - scenario.last_seq
    assert docked.last_seq - scenario.last_seq <= 22 * service_days(index)
    again = dock_device(index)
    assert again.records_bytes() == docked.records_bytes()
    assert again.utc_ms == docked.utc_ms


def test_dock_devices_differ_and_a_negative_index_is_refused() -> None:
    assert len({dock_device(i).spec.serial for i in range(10)}) == 10
    assert {service_days(i) for i in range(29)} == set(range(16, 45))
    with pytest.raises(ScenarioError, match="dock index -1"):
        dock_device(-1)


@given(
    offset=st.integers(-(10**9), 10**9),
    ppm=st.floats(-200, 200),
    elapsed=st.integers(0, 400 * 86_400_000),
)
def test_clock_drifts_as_stated(offset: int, ppm: float, elapsed: int) -> None:
    clock = DeviceClock.true_utc(START, offset_ms=offset, drift_ppm=ppm)
    assert clock.device_ms(START) == START - DEVICE_EPOCH_UNIX_MS + offset
    drifted = clock.device_ms(START + elapsed) - clock.device_ms(START) - elapsed
    assert abs(drifted - elapsed * ppm / 1e6) <= 1


def test_clock_set_logs_the_old_time() -> None:
    device = _device(drift_ppm=90.0)
    device.advance(30 * 86_400_000)
    before = device.now_ms
    target = device.utc_ms - DEVICE_EPOCH_UNIX_MS
    seq = device.set_clock(target)
    image = read_image(device.download(bytes(32)))
    index = int(np.flatnonzero(image.records["seq"] == seq)[0])
    assert int(image.records["time_ms"][index]) == target
    old = int(payload_view(image.records, EventCode.CLOCK_SET)["old_time_ms"][0])
    assert old == before
    assert abs((before - target) - 30 * 86_400_000 * 90 / 1_000_000) <= 1  # 233.28 s fast


def test_power_loss_restarts_the_clock_at_2000() -> None:
    device = _device()
    device.advance(1000)
    device.lose_power()
    image = read_image(device.download(bytes(32)))
    power = payload_view(image.records, EventCode.POWER_ON)
    assert power["rtc_valid"].tolist() == [0]
    index = int(np.flatnonzero(image.records["code"] == EventCode.POWER_ON)[0])
    assert int(image.records["time_ms"][index]) == 0


@given(capacity=st.integers(8, 64), events=st.integers(0, 300), interval=st.integers(1, 40))
def test_log_stays_bounded_and_verifiable(capacity: int, events: int, interval: int) -> None:
    device = _device(log_capacity=capacity, seal_interval=interval)
    for i in range(events):
        device.advance(1000)
        device.battery_report(20, 8000 - i % 100)
    image = read_image(device.download(bytes(range(32))))
    assert len(image.records) <= capacity
    assert image.statement is not None
    assert image.statement.last_seq - image.base.first_seq + 1 == len(image.records)
    assert chain_records(image.base.chain_before, image.section_bytes("records")) == (
        image.statement.chain
    )
    wraps = payload_view(image.records, EventCode.LOG_WRAP)
    if image.base.first_seq > 1:
        assert len(wraps) >= 1
        assert int(wraps["first_deleted"][-1]) + int(wraps["deleted"][-1]) == image.base.first_seq
    assert all(int(s) >= image.base.first_seq for s in image.seals["seq"])
    assert_signed(image)


def test_cartridges_follow_the_bays() -> None:
    device = _device()
    with pytest.raises(ScenarioError, match="no live cartridge"):
        device.fire(1)
    device.insert_cartridge(1, "S4K7P2M9QB")
    assert device.loaded_bays() == 0b01
    with pytest.raises(ScenarioError, match="already holds"):
        device.insert_cartridge(1, "S4K7P2M9QB")
    with pytest.raises(SerialError):
        device.insert_cartridge(2, "S4K7P2M9QC")
    with pytest.raises(ScenarioError, match="bay 3 does not exist"):
        device.insert_cartridge(3, "S4K7P2M9QB")
    device.arm()
    device.fire(1)
    assert device.loaded_bays() == 0
    with pytest.raises(ScenarioError):
        device.fire(1)
    device.safe()
    with pytest.raises(ScenarioError, match="SAFE without ARM"):
        device.safe()
    device.remove_cartridge(1)
    image = read_image(device.download(bytes(32)))
    codes = [EventCode(int(c)) for c in image.records["code"]]
    assert codes[:7] == [
        EventCode.CARTRIDGE_INSERT,
        EventCode.ARM,
        EventCode.TRIGGER,
        EventCode.DEPLOY,
        EventCode.CONNECTION,
        EventCode.SAFE,
        EventCode.CARTRIDGE_REMOVE,
    ]
    arm = payload_view(image.records, EventCode.ARM)
    assert arm["bays_loaded"].tolist() == [1]
    deploy = payload_view(image.records, EventCode.DEPLOY)
    assert deploy["serial"].tolist() == [b"S4K7P2M9QB"]


def test_device_spec_is_checked() -> None:
    with pytest.raises(SerialError):
        DeviceSpec("S4K7P2M9QB")
    with pytest.raises(ScenarioError):
        DeviceSpec(_device().spec.serial, log_capacity=2)
    device = _device()
    with pytest.raises(ScenarioError):
        device.advance(-1)
    with pytest.raises(ScenarioError, match="nonce"):
        device.sign_statement(b"short")
