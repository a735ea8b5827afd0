"""Generated images: valid, equal to the construct reference, chained, signed, repeatable."""

from __future__ import annotations

import hashlib
import random
from typing import Any

import numpy as np
import pytest
from cryptography import x509

from taserlink.emulator.firmware import DeviceSpec, SimulatedDevice
from taserlink.emulator.scenarios import START
from taserlink.emulator.synthetic import _seals, synthetic_image
from taserlink.errors import ScenarioError
from taserlink.format import (
    NO_BAY,
    RECORD_DTYPE,
    SEAL_DTYPE,
    CrcCheck,
    EventCode,
    Image,
    decode_payload,
    payload_view,
    read_image,
)
from taserlink.format import layout as L
from taserlink.integrity import chain_records, chain_step, genesis_chain
from taserlink.serials import CARTRIDGE_SCHEME, DEVICE_SCHEME
from tests.checks import assert_signed

N = 20_000
SEED = 11


@pytest.fixture(scope="module")
def data() -> bytes:
    return synthetic_image(N, SEED)


@pytest.fixture(scope="module")
def image(data: bytes) -> Image:
    return read_image(data, crc=CrcCheck.RAISE)


def _row(row: Any) -> Any:
    """A structured-array element as decode_payload returns it (dicts, str serials)."""
    if row.dtype.names is None:
        value = row.item()
        return (
            value.decode("ascii") if isinstance(value, bytes) and row.dtype.kind == "S" else value
        )
    return {name: _row(row[name]) for name in row.dtype.names if name != "reserved"}


def test_parses_with_every_crc_good(image: Image, data: bytes) -> None:
    assert len(image.records) == N
    assert len(read_image(data, crc=CrcCheck.REPORT).crc_failures) == 0
    assert DEVICE_SCHEME.is_valid(image.identity.serial)
    assert image.identity.log_capacity >= N
    assert np.array_equal(image.records["seq"], np.arange(1, N + 1))
    assert (np.diff(image.records["time_ms"].astype(np.int64)) > 0).all()
    assert image.base.first_seq == 1
    assert image.base.device_time_ms < int(image.records["time_ms"][0])
    # a plausible mix: every event this format defines, except a wrap of a log that never fills
    assert set(np.unique(image.records["code"]).tolist()) == {
        int(c) for c in EventCode if c is not EventCode.LOG_WRAP
    }


def test_records_equal_the_construct_reference(image: Image) -> None:
    raw = image.section_bytes("records")
    records = image.records
    for i in range(N):
        parsed = L.RECORD.parse(raw[i * L.RECORD_SIZE : (i + 1) * L.RECORD_SIZE])  # checks CRC
        body = parsed.body.value
        assert (body.seq, body.time_ms, body.code, parsed.crc) == (
            int(records["seq"][i]),
            int(records["time_ms"][i]),
            int(records["code"][i]),
            int(records["crc"][i]),
        )
    for code in EventCode:
        rows = np.flatnonzero(records["code"] == code)
        view = payload_view(records, code)
        for row, fields in zip(rows, view, strict=True):
            assert decode_payload(int(code), records["payload"][row].tobytes()) == _row(fields)


def test_chain_and_seals_match_a_recomputation(image: Image) -> None:
    assert image.statement is not None
    raw = image.section_bytes("records")
    assert image.base.chain_before == genesis_chain(image.identity.serial)
    assert chain_records(image.base.chain_before, raw) == image.statement.chain
    assert (image.statement.first_seq, image.statement.last_seq) == (1, N)
    head = image.base.chain_before
    after: dict[int, bytes] = {}
    for i in range(N):
        head = chain_step(head, raw[i * L.RECORD_SIZE : (i + 1) * L.RECORD_SIZE])
        after[i + 1] = head
    # seals by count alone: after every 256th record, in order, and nowhere else
    assert image.seals["seq"].tolist() == list(range(256, N + 1, 256))
    # the log holds POWER_OFFs off the count, so the line above shows they add no seal
    power_off = image.records["seq"][image.records["code"] == EventCode.POWER_OFF]
    assert (power_off % 256 != 0).any()
    for seal in image.seals:
        assert seal["chain"].tobytes() == after[int(seal["seq"])]
        assert seal["device_time_ms"] == image.records["time_ms"][int(seal["seq"]) - 1]


def test_signatures_verify_with_the_device_certificate(image: Image, data: bytes) -> None:
    serial = image.identity.serial
    certificate = x509.load_der_x509_certificate(image.certificates[0])
    assert serial in certificate.subject.rfc4514_string()
    assert_signed(image)
    assert image.statement is not None
    acquisition = image.acquisition
    assert acquisition.nonce == image.statement.nonce
    assert (
        acquisition.device_sha256
        == hashlib.sha256(data[: image.spans["acquisition"].offset]).digest()
    )
    assert acquisition.closing_sha256 == hashlib.sha256(data[: -L.DIGEST_SIZE]).digest()


def test_the_log_ends_with_the_download_that_made_it(image: Image) -> None:
    assert image.statement is not None
    codes = image.records["code"][-2:].tolist()
    assert codes == [EventCode.USB_CONNECT, EventCode.DOWNLOAD]
    prefix = payload_view(image.records[-1:], EventCode.DOWNLOAD)["nonce_prefix"][0].tobytes()
    assert prefix == image.statement.nonce[:8]
    assert image.statement.device_time_ms == int(image.records["time_ms"][-1])
    acquisition = image.acquisition
    assert (
        acquisition.host_utc_start_ms <= acquisition.statement_utc_ms < acquisition.host_utc_end_ms
    )


def test_events_tell_a_consistent_story(image: Image) -> None:
    """A record-by-record replay of device state agrees with every payload."""
    bays: dict[int, str | None] = {1: None, 2: None}  # serial in the bay, None: loaded before
    fired: set[int] = set()
    armed_at: int | None = None
    last_trigger_ms = 0
    seen_serials = 0
    for record in image.records:
        code = EventCode(int(record["code"]))
        time = int(record["time_ms"])
        fields = decode_payload(int(code), record["payload"].tobytes())
        loaded = sum(1 << (b - 1) for b in bays if b not in fired)
        if "bays_loaded" in fields:
            assert fields["bays_loaded"] == loaded, (int(record["seq"]), code.name)
        if "battery_pct" in fields:
            assert 5 <= fields["battery_pct"] <= 100
        if code is EventCode.ARM:
            armed_at = time
        elif code is EventCode.SAFE:
            assert armed_at is not None
            assert fields["armed_ms"] == time - armed_at
            armed_at = None
        elif code is EventCode.TRIGGER:
            last_trigger_ms = fields["duration_ms"]
            assert fields["bay"] in (1, 2, NO_BAY)
        elif code is EventCode.CONNECTION:
            assert fields["pulses"] == (last_trigger_ms * 19 // 1000 if fields["circuit"] else 0)
            assert fields["charge_uc"] == fields["pulses"] * 63
        elif code is EventCode.DEPLOY:
            assert fields["bay"] not in fired
            assert bays[fields["bay"]] in (None, fields["serial"])
            fired.add(fields["bay"])
        elif code is EventCode.CARTRIDGE_REMOVE:
            assert bays[fields["bay"]] in (None, fields["serial"])
        elif code is EventCode.CARTRIDGE_INSERT:
            bays[fields["bay"]] = fields["serial"]
            fired.discard(fields["bay"])
            seen_serials += 1
        elif code is EventCode.CLOCK_SET:
            assert fields["old_time_ms"] < time
        if "serial" in fields:
            assert CARTRIDGE_SCHEME.is_valid(fields["serial"]), fields["serial"]
    assert seen_serials > 10


def test_same_seed_same_bytes(data: bytes) -> None:
    assert synthetic_image(N, SEED) == data
    assert synthetic_image(N, SEED + 1) != data
    assert synthetic_image(N, -SEED) != data


@pytest.mark.parametrize("n", [1, 2, 3, 257, 1000])
def test_small_images(n: int) -> None:
    image = read_image(synthetic_image(n, 2, seal_interval=64), crc=CrcCheck.RAISE)
    assert image.statement is not None
    assert len(image.records) == n == image.statement.last_seq
    assert int(image.records["code"][-1]) == EventCode.DOWNLOAD
    assert chain_records(image.base.chain_before, image.section_bytes("records")) == (
        image.statement.chain
    )
    # seals by count alone, a POWER_OFF adds none
    assert image.seals["seq"].tolist() == list(range(64, n + 1, 64))


@pytest.mark.parametrize(("n", "interval"), [(0, 256), (-5, 256), (10, 0)])
def test_bad_arguments(n: int, interval: int) -> None:
    with pytest.raises(ScenarioError):
        synthetic_image(n, seal_interval=interval)


def test_signing_is_the_firmware_models() -> None:
    """The bulk seal writer gives byte for byte the seals SimulatedDevice writes."""
    serial = DEVICE_SCHEME.generate(random.Random(3), "D")
    device = SimulatedDevice(DeviceSpec(serial, seal_interval=5), START)
    device.power_on()
    for _ in range(7):
        device.advance(1500)
        device.unholster()
        device.advance(800)
        device.holster()
    device.power_off()
    statement = device.sign_statement(bytes(range(32)))
    records = device.records_bytes()
    stored = np.frombuffer(device.seals_bytes(), dtype=SEAL_DTYPE)
    times = np.frombuffer(records, dtype=RECORD_DTYPE)["time_ms"].astype(np.int64)
    rows = stored["seq"].astype(np.int64) - 1
    codes = np.frombuffer(records, dtype=RECORD_DTYPE)["code"]
    assert int(codes[15]) == EventCode.POWER_OFF and len(codes) == 17  # then the DOWNLOAD
    assert stored["seq"].tolist() == [5, 10, 15]  # by count; the POWER_OFF (16) is not sealed
    seals, head = _seals(device.key, serial, records, rows, times)
    assert seals.tobytes() == device.seals_bytes()
    assert head == statement.chain
