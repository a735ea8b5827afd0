"""The firmware model: a simulated conducted energy device that keeps a dataport log.

:class:`SimulatedDevice` holds what a device holds — a clock (:class:`DeviceClock`), a
bounded event log that deletes its oldest quarter when full, a hash chain over every record,
periodic signed seals, a device key with its certificate chain, and bays of smart
cartridges — and answers what a host asks of it: identity, certificates, base, records from
a sequence number, seals, and a statement signed over a host nonce.

Time is simulated: the model has a true UTC clock (:attr:`SimulatedDevice.utc_ms`) that
only moves when told (:meth:`SimulatedDevice.advance`), so a scenario run with the same
seed gives byte-identical images.

What it does *not* model: battery chemistry (levels are what the scenario says), real
electrical output, probe spread, or firmware behaviour beyond the log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from taserlink.emulator.clock import DeviceClock
from taserlink.emulator.pki import DeviceCredentials, issue_device_credentials
from taserlink.emulator.signing import signed_base, signed_seal, signed_statement
from taserlink.errors import ScenarioError
from taserlink.format import (
    NO_BAY,
    RECORD_SIZE,
    Acquisition,
    Base,
    ClockSource,
    EventCode,
    FirmwareVersion,
    Identity,
    Statement,
    build_image,
    encode_record,
)
from taserlink.format import layout as L
from taserlink.format.image import encode_identity
from taserlink.integrity import WorkstationKey, chain_records, chain_step, genesis_chain
from taserlink.serials import CARTRIDGE_SCHEME, DEVICE_SCHEME

__all__ = ["DeviceSpec", "HostInfo", "SimulatedDevice", "TOOL_VERSION"]

TOOL_VERSION = "taserlink-emulator 0.1"
DEFAULT_LOG_CAPACITY = 16384
"""Records a device keeps (current devices keep in the order of 16,000 events)."""
DEFAULT_SEAL_INTERVAL = 256
"""A seal is written after every record whose sequence is a multiple of this.  Sealing is
by count alone so that a log's signature work is bounded (one verification per interval);
the tail after the last seal is covered by the download statement."""


@dataclass(frozen=True)
class DeviceSpec:
    """What kind of device to simulate."""

    serial: str
    model: str = "TL-10 (simulated)"
    hardware_revision: str = "C"
    firmware: FirmwareVersion = field(default_factory=lambda: FirmwareVersion(3, 2, 0))
    log_capacity: int = DEFAULT_LOG_CAPACITY
    seal_interval: int = DEFAULT_SEAL_INTERVAL
    bays: int = 2
    manufactured: dt.datetime = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)

    def __post_init__(self) -> None:
        DEVICE_SCHEME.validate(self.serial)
        if self.log_capacity < 8:
            raise ScenarioError("log capacity must be at least 8 records")
        if not 1 <= self.seal_interval <= 0xFFFF or not 1 <= self.bays <= 8:
            raise ScenarioError(
                "seal interval must be 1..65535 (the statement's u16) and bays 1..8"
            )


@dataclass(frozen=True)
class HostInfo:
    """Who downloads, from where, and how the host's clock is kept.

    With a ``workstation_key`` the host signs its acquisitions (format version 2); its
    certificate's common name should be ``workstation``.
    """

    operator: str = "PC 0000 (simulated)"
    workstation: str = "DOCK-SIM-01"
    clock_source: str = "simulated UTC"
    tool_version: str = TOOL_VERSION
    workstation_key: WorkstationKey | None = None

    def acquisition(
        self, nonce: bytes, start_utc_ms: int, end_utc_ms: int, statement_utc_ms: int
    ) -> Acquisition:
        """The acquisition record this host writes for a download (digests left to
        :func:`~taserlink.format.build_image`)."""
        return Acquisition(
            nonce=nonce,
            host_utc_start_ms=start_utc_ms,
            host_utc_end_ms=end_utc_ms,
            statement_utc_ms=statement_utc_ms,
            clock_source=self.clock_source,
            tool_version=self.tool_version,
            operator=self.operator,
            workstation=self.workstation,
        )


@dataclass
class _Cartridge:
    serial: str
    fired: bool = False


@dataclass
class SimulatedDevice:
    """A simulated device's state; events are appended by the methods named after them.

    Args:
        spec: the kind of device.
        utc_ms: the simulation's true UTC now (Unix ms).
        clock: the device clock; by default correct at ``utc_ms``.
        credentials: key and certificates; by default issued by the test manufacturer PKI.
    """

    spec: DeviceSpec
    utc_ms: int
    clock: DeviceClock | None = None
    credentials: DeviceCredentials | None = None
    battery_pct: int = 100
    firmware: FirmwareVersion = field(init=False)
    _records: bytearray = field(init=False, default_factory=bytearray)
    _seals: bytearray = field(init=False, default_factory=bytearray)
    _base: Base = field(init=False)
    _head: bytes = field(init=False)
    _next_seq: int = field(init=False, default=1)
    _bays: list[_Cartridge | None] = field(init=False)
    _armed_at: int | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.clock is None:
            self.clock = DeviceClock.true_utc(self.utc_ms)
        if self.credentials is None:
            self.credentials = issue_device_credentials(self.spec.serial, self.spec.manufactured)
        self.firmware = self.spec.firmware
        self._head = genesis_chain(self.spec.serial)
        self._base = self._signed_base(1, self._head)
        self._bays = [None] * self.spec.bays

    # -- what the device knows ------------------------------------------------------------
    @property
    def key(self) -> Ed25519PrivateKey:
        assert self.credentials is not None
        return self.credentials.key

    @property
    def now_ms(self) -> int:
        """The device clock now (ms since 2000-01-01, device time)."""
        assert self.clock is not None
        return self.clock.device_ms(self.utc_ms)

    @property
    def identity(self) -> Identity:
        return Identity(
            serial=self.spec.serial,
            model=self.spec.model,
            hardware_revision=self.spec.hardware_revision,
            firmware=self.firmware,
            log_capacity=self.spec.log_capacity,
        )

    @property
    def certificates(self) -> tuple[bytes, ...]:
        assert self.credentials is not None
        return self.credentials.certificates

    @property
    def base(self) -> Base:
        return self._base

    @property
    def first_seq(self) -> int:
        return self._base.first_seq

    @property
    def last_seq(self) -> int:
        """Sequence of the newest record (``first_seq - 1`` when the log is empty)."""
        return self._next_seq - 1

    @property
    def record_count(self) -> int:
        return len(self._records) // RECORD_SIZE

    @property
    def chain_head(self) -> bytes:
        """Chain value after the newest record."""
        return self._head

    def records_bytes(self, from_seq: int | None = None, count: int | None = None) -> bytes:
        """Retained records from ``from_seq`` (default: the first retained), at most ``count``."""
        start = 0 if from_seq is None else max(0, from_seq - self.first_seq)
        stop = self.record_count if count is None else min(self.record_count, start + count)
        return bytes(self._records[start * RECORD_SIZE : stop * RECORD_SIZE])

    def seals_bytes(self) -> bytes:
        return bytes(self._seals)

    def loaded_bays(self) -> int:
        """Bit mask of bays holding an unfired cartridge (bit 0 = bay 1)."""
        return sum(1 << i for i, c in enumerate(self._bays) if c is not None and not c.fired)

    def cartridge(self, bay: int) -> str | None:
        """Serial of the cartridge in ``bay`` (1-based), or ``None``."""
        cartridge = self._bays[self._bay_index(bay)]
        return None if cartridge is None else cartridge.serial

    # -- time -------------------------------------------------------------------------------
    def advance(self, ms: int) -> None:
        """Let ``ms`` milliseconds of true time pass."""
        if ms < 0:
            raise ScenarioError("time only moves forward")
        self.utc_ms += ms

    # -- the log --------------------------------------------------------------------------
    def log(self, code: EventCode, **payload: Any) -> int:
        """Append one event at the current device time; returns its sequence number."""
        if self.record_count >= self.spec.log_capacity:
            self._wrap()
        return self._append(code, payload)

    def _append(self, code: EventCode, payload: dict[str, Any]) -> int:
        seq = self._next_seq
        record = encode_record(seq, self.now_ms, code, **payload)
        self._records += record
        self._head = chain_step(self._head, record)
        self._next_seq += 1
        if seq % self.spec.seal_interval == 0:
            self._seal(seq)
        return seq

    def _seal(self, seq: int) -> None:
        self._seals += signed_seal(self.key, self.spec.serial, seq, self._head, self.now_ms)

    def _signed_base(self, first_seq: int, chain_before: bytes) -> Base:
        return signed_base(self.key, self.spec.serial, first_seq, chain_before, self.now_ms)

    def _wrap(self) -> None:
        """Delete the oldest quarter of the log, re-sign the base, log ``LOG_WRAP``."""
        deleted = max(1, self.spec.log_capacity // 4)
        first_deleted = self.first_seq
        cut = deleted * RECORD_SIZE
        chain_before = chain_records(self._base.chain_before, bytes(self._records[:cut]))
        del self._records[:cut]
        self._base = self._signed_base(first_deleted + deleted, chain_before)
        keep_from = 0
        while keep_from < len(self._seals):
            seq = int.from_bytes(self._seals[keep_from : keep_from + 4], "little")
            if seq >= self._base.first_seq:
                break
            keep_from += L.SEAL_SIZE
        del self._seals[:keep_from]
        self._append(EventCode.LOG_WRAP, {"first_deleted": first_deleted, "deleted": deleted})

    # -- events a scenario drives -----------------------------------------------------------
    def _bay_index(self, bay: int) -> int:
        if not 1 <= bay <= self.spec.bays:
            raise ScenarioError(f"bay {bay} does not exist (the device has {self.spec.bays})")
        return bay - 1

    def _energy(self) -> dict[str, int]:
        return {"battery_pct": self.battery_pct, "bays_loaded": self.loaded_bays()}

    def power_on(self, *, rtc_valid: bool = True) -> int:
        return self.log(EventCode.POWER_ON, battery_pct=self.battery_pct, rtc_valid=int(rtc_valid))

    def power_off(self) -> int:
        return self.log(EventCode.POWER_OFF, battery_pct=self.battery_pct)

    def lose_power(self) -> int:
        """The battery and clock cell fail; power returns with the clock at 2000-01-01."""
        assert self.clock is not None
        self.clock.lose_power(self.utc_ms)
        return self.power_on(rtc_valid=False)

    def unholster(self) -> int:
        return self.log(EventCode.UNHOLSTER)

    def holster(self) -> int:
        return self.log(EventCode.HOLSTER)

    def arm(self) -> int:
        self._armed_at = self.now_ms
        return self.log(EventCode.ARM, **self._energy())

    def safe(self) -> int:
        if self._armed_at is None:
            raise ScenarioError("SAFE without ARM")
        armed_ms = max(0, self.now_ms - self._armed_at)
        self._armed_at = None
        return self.log(EventCode.SAFE, armed_ms=armed_ms, **self._energy())

    def laser_on(self) -> int:
        return self.log(EventCode.LASER_ON)

    def warning_arc(self, duration_ms: int) -> int:
        seq = self.log(EventCode.WARNING_ARC, duration_ms=duration_ms, **self._energy())
        self.advance(duration_ms)
        return seq

    def insert_cartridge(self, bay: int, serial: str) -> int:
        serial = CARTRIDGE_SCHEME.validate(serial)
        index = self._bay_index(bay)
        if self._bays[index] is not None:
            raise ScenarioError(f"bay {bay} already holds a cartridge")
        self._bays[index] = _Cartridge(serial)
        return self.log(EventCode.CARTRIDGE_INSERT, bay=bay, serial=serial)

    def remove_cartridge(self, bay: int) -> int:
        index = self._bay_index(bay)
        cartridge = self._bays[index]
        if cartridge is None:
            raise ScenarioError(f"bay {bay} is empty")
        self._bays[index] = None
        return self.log(EventCode.CARTRIDGE_REMOVE, bay=bay, serial=cartridge.serial)

    def fire(
        self, bay: int, duration_ms: int = 5000, *, circuit: bool = True, pulses_per_s: int = 19
    ) -> tuple[int, int, int]:
        """Pull the trigger on ``bay``: ``TRIGGER``, ``DEPLOY``, ``CONNECTION``.

        Returns the three sequence numbers.  A bay with a spent cartridge re-energises
        instead (see :meth:`reenergise`).
        """
        index = self._bay_index(bay)
        cartridge = self._bays[index]
        if cartridge is None or cartridge.fired:
            raise ScenarioError(f"bay {bay} has no live cartridge to fire")
        trigger = self.log(EventCode.TRIGGER, duration_ms=duration_ms, bay=bay, **self._energy())
        cartridge.fired = True
        deploy = self.log(EventCode.DEPLOY, bay=bay, serial=cartridge.serial)
        connection = self._connection(bay, duration_ms, circuit, pulses_per_s)
        self.advance(duration_ms)
        return trigger, deploy, connection

    def reenergise(
        self, bay: int, duration_ms: int = 5000, *, circuit: bool = True, pulses_per_s: int = 19
    ) -> tuple[int, int]:
        """Pull the trigger again through probes already out: ``TRIGGER``, ``CONNECTION``."""
        trigger = self.log(EventCode.TRIGGER, duration_ms=duration_ms, bay=bay, **self._energy())
        connection = self._connection(bay, duration_ms, circuit, pulses_per_s)
        self.advance(duration_ms)
        return trigger, connection

    def dry_trigger(self, duration_ms: int = 5000) -> int:
        """A trigger pull with no bay selected (no cartridge, no arc display)."""
        return self.log(EventCode.TRIGGER, duration_ms=duration_ms, bay=NO_BAY, **self._energy())

    def _connection(self, bay: int, duration_ms: int, circuit: bool, pulses_per_s: int) -> int:
        pulses = duration_ms * pulses_per_s // 1000 if circuit else 0
        return self.log(
            EventCode.CONNECTION,
            bay=bay,
            circuit=int(circuit),
            pulses=pulses,
            charge_uc=pulses * 63,
        )

    def drive_stun(self, duration_ms: int) -> int:
        seq = self.log(EventCode.DRIVE_STUN, duration_ms=duration_ms, **self._energy())
        self.advance(duration_ms)
        return seq

    def function_test(self, duration_ms: int = 5000, result: int = 0) -> int:
        seq = self.log(
            EventCode.FUNCTION_TEST,
            duration_ms=duration_ms,
            battery_pct=self.battery_pct,
            result=result,
        )
        self.advance(duration_ms)
        return seq

    def battery_report(self, temperature_c: int, voltage_mv: int) -> int:
        return self.log(
            EventCode.BATTERY,
            battery_pct=self.battery_pct,
            temperature_c=temperature_c,
            voltage_mv=voltage_mv,
        )

    def set_clock(self, device_ms: int, source: ClockSource = ClockSource.HOST) -> int:
        """Set the clock to ``device_ms``; the device logs ``CLOCK_SET`` with the old time."""
        assert self.clock is not None
        old = self.clock.set(self.utc_ms, device_ms)
        return self.log(EventCode.CLOCK_SET, old_time_ms=old, source=int(source))

    def update_firmware(self, version: FirmwareVersion) -> int:
        old, self.firmware = self.firmware, version
        return self.log(EventCode.FIRMWARE_UPDATE, old_version=vars(old), new_version=vars(version))

    def fault(self, code: int) -> int:
        return self.log(EventCode.FAULT, fault_code=code)

    # -- what a host asks for -------------------------------------------------------------
    def usb_connect(self) -> int:
        return self.log(EventCode.USB_CONNECT)

    def sign_statement(self, nonce: bytes) -> Statement:
        """Log ``DOWNLOAD`` and sign a statement over ``nonce`` covering every record."""
        if len(nonce) != L.NONCE_SIZE:
            raise ScenarioError(f"a host nonce is {L.NONCE_SIZE} bytes")
        self.log(EventCode.DOWNLOAD, nonce_prefix=nonce[:8])
        return signed_statement(
            self.key,
            self.spec.serial,
            nonce,
            self.first_seq,
            self.last_seq,
            self._head,
            self.now_ms,
            self.spec.seal_interval,
            hashlib.sha256(encode_identity(self.identity)).digest(),
        )

    def download(
        self,
        nonce: bytes,
        host: HostInfo = HostInfo(),
        *,
        transfer_ms: int = 1200,
    ) -> bytes:
        """A whole download as a host would make it, without USB: the image's bytes.

        The device logs ``USB_CONNECT`` and ``DOWNLOAD``; the transfer takes ``transfer_ms``
        of simulated time, the statement arriving at its end.  A ``host`` with a workstation
        key writes format version 2 (a signed acquisition), else version 1.
        """
        start = self.utc_ms
        self.usb_connect()
        self.advance(transfer_ms)
        statement = self.sign_statement(nonce)
        statement_utc = self.utc_ms
        self.advance(50)
        acquisition = host.acquisition(nonce, start, self.utc_ms, statement_utc)
        return build_image(
            identity=self.identity,
            certificates=self.certificates,
            base=self._base,
            records=self.records_bytes(),
            seals=self.seals_bytes(),
            statement=statement,
            acquisition=acquisition,
            signer=host.workstation_key,
        )
