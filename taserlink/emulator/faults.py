"""Fault injection for the emulated USB device: what can go wrong, and when.

A :class:`FaultPlan` is a script of :class:`Fault`\\ s for one emulated device.  Each fault
names the 0-based index of the device's bulk transfer at which it strikes (OUT and IN
counted together, in the order the host makes them; every ``bulk_write``/``bulk_read`` that
reaches the device counts, including those that fail) and strikes on ``count`` consecutive
transfers from there.  The backend (:mod:`taserlink.emulator.usb`) applies them; this module
holds the plan and the pure byte manipulations.

What each kind does, at the transfer it strikes (see :class:`FaultKind`):

==============  =======================================================================
``STALL``       the endpoint halts: this and every later transfer on it raise
                ``USBError`` errno ``EPIPE`` until the host clears the halt
``TIMEOUT``     the transfer raises ``USBTimeoutError``; an OUT request is not delivered,
                an IN response stays pending (it was late, not lost)
``DROP``        an OUT request is swallowed (the write succeeds, the next read times out);
                an IN response is lost (the read times out)
``CORRUPT``     one byte of the frame is flipped (:func:`corrupt`): on IN the host gets a
                bad response, on OUT the device gets a bad request (it answers BAD_FRAME)
``SHORT_READ``  the frame is cut short (:func:`truncate`), in either direction
``DISCONNECT``  the device is unplugged: ``USBError`` errno ``ENODEV`` now and on every
                later call, and it leaves enumeration until re-attached
``SLOW``        the device waits ``delay_s`` before answering; longer than the host's
                timeout and the transfer times out (an IN response stays pending)
``CLOCK_RESET`` the device's clock cell fails at that moment
                (:meth:`~taserlink.emulator.firmware.SimulatedDevice.lose_power`)
``TAMPER``      a stored record is altered in the device's memory, CRC fixed up
                (:func:`tamper_record`): the transfer succeeds, verification must fail
==============  =======================================================================

What this does *not* model: faults at the level of USB packets (a transfer fails or
succeeds as a whole), babble, CRC errors that hardware retries invisibly, and faults on
control transfers (descriptors and clear-halt always work while the device is attached).

**Fault scripts.**  Faults for the devices of an emulated dock are written as text (the
commands' ``$TASERLINK_EMULATED_FAULTS``): comma-separated items
``WHO:KIND@AT[xCOUNT][/DELAY_S]`` (:class:`FaultSpec`), ``WHO`` a 1-based dock position or a
device serial (compared as :meth:`DEVICE_SCHEME.normalize
<taserlink.serials.SerialScheme.normalize>` reads input), ``KIND`` a :class:`FaultKind`
value (case and ``-``/``_`` ignored), ``AT`` the 0-based bulk transfer where it strikes,
``COUNT`` how many consecutive transfers (default 1), ``DELAY_S`` a ``slow`` device's
delay in seconds; numbers are ASCII digits.  Example: ``2:disconnect@8`` unplugs the second
device when the host sends its second ``READ_RECORDS`` (transfers 0–7 are ``IDENTIFY``,
certificates, base and the first chunk).  :func:`parse_fault_script` reads a script,
:func:`fault_script_text` writes one (the two round-trip), :func:`dock_fault_plans` turns
one into a :class:`FaultPlan` per device of a dock.
"""

from __future__ import annotations

import enum
import math
import random
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from taserlink.emulator.firmware import SimulatedDevice
from taserlink.errors import ScenarioError
from taserlink.format import RECORD_SIZE
from taserlink.serials import DEVICE_SCHEME

__all__ = [
    "RECOVERABLE",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "FaultSpec",
    "corrupt",
    "dock_fault_plans",
    "fault_script_text",
    "parse_fault_script",
    "tamper_record",
    "truncate",
]


class FaultKind(enum.Enum):
    """What goes wrong (see the module's table)."""

    STALL = "stall"
    TIMEOUT = "timeout"
    SHORT_READ = "short_read"
    DROP = "drop"
    CORRUPT = "corrupt"
    DISCONNECT = "disconnect"
    SLOW = "slow"
    CLOCK_RESET = "clock_reset"
    TAMPER = "tamper"


RECOVERABLE: tuple[FaultKind, ...] = (
    FaultKind.STALL,
    FaultKind.TIMEOUT,
    FaultKind.SHORT_READ,
    FaultKind.DROP,
    FaultKind.CORRUPT,
    FaultKind.SLOW,
)
"""Kinds a host recovers from by retrying on the same connection (no re-attach, and the
log stays as it was): the default for :meth:`FaultPlan.random`."""


@dataclass(frozen=True)
class Fault:
    """One fault: ``kind`` strikes at bulk transfers ``at`` … ``at + count - 1``.

    Args:
        kind: what goes wrong.
        at: 0-based index of the device's bulk transfer (OUT and IN counted together).
        count: how many consecutive transfers it strikes (at least 1).
        delay_s: for ``SLOW``, how long the device waits, in seconds.

    Raises:
        ScenarioError: a negative ``at`` or ``delay_s``, or ``count`` below 1.
    """

    kind: FaultKind
    at: int
    count: int = 1
    delay_s: float = 0.0

    def __post_init__(self) -> None:
        if self.at < 0 or self.count < 1 or self.delay_s < 0:
            raise ScenarioError(
                f"a fault needs at >= 0, count >= 1 and delay_s >= 0 (got {self!r})"
            )

    def strikes(self, index: int) -> bool:
        """Whether this fault strikes bulk transfer ``index``."""
        return self.at <= index < self.at + self.count


class FaultPlan:
    """The faults scripted for one emulated device, in any order.

    A plan is immutable and holds no state (which faults have struck is the device's
    :attr:`~taserlink.emulator.usb.EmulatedUsbDevice.history`), so one plan may serve many
    devices.  An empty plan (``FaultPlan()``) is a device that never fails.
    """

    __slots__ = ("_faults",)

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self._faults: tuple[Fault, ...] = tuple(faults)
        for fault in self._faults:
            if not isinstance(fault, Fault):
                raise ScenarioError(f"a fault plan holds Faults, not {type(fault).__name__}")

    @property
    def faults(self) -> tuple[Fault, ...]:
        return self._faults

    def at(self, index: int) -> tuple[Fault, ...]:
        """The faults that strike bulk transfer ``index``, in plan order."""
        return tuple(f for f in self._faults if f.strikes(index))

    @property
    def last_index(self) -> int:
        """The last transfer index any fault strikes (-1 for an empty plan)."""
        return max((f.at + f.count - 1 for f in self._faults), default=-1)

    @classmethod
    def random(
        cls,
        seed: int,
        *,
        transfers: int,
        rate: float,
        kinds: Sequence[FaultKind] = RECOVERABLE,
        delay_s: float = 0.002,
    ) -> FaultPlan:
        """A reproducible plan: each of the first ``transfers`` transfers is struck with
        probability ``rate`` by one fault of a kind drawn from ``kinds``.

        Args:
            seed: the same seed gives the same plan.
            transfers: how many transfers the plan covers.
            rate: probability (0–1) that a transfer is struck.
            kinds: kinds to draw from (default :data:`RECOVERABLE`).
            delay_s: the delay of ``SLOW`` faults, in seconds.

        Raises:
            ScenarioError: ``rate`` outside 0–1, negative ``transfers``, or no ``kinds``.
        """
        if not 0.0 <= rate <= 1.0 or transfers < 0 or not kinds:
            raise ScenarioError("a random plan needs 0 <= rate <= 1, transfers >= 0 and kinds")
        rng = random.Random(seed)
        faults = [
            Fault(rng.choice(kinds), index, delay_s=delay_s)
            for index in range(transfers)
            if rng.random() < rate
        ]
        return cls(faults)

    def __iter__(self) -> Iterator[Fault]:
        return iter(self._faults)

    def __len__(self) -> int:
        return len(self._faults)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FaultPlan) and self._faults == other._faults

    def __hash__(self) -> int:
        return hash(self._faults)

    def __repr__(self) -> str:
        return f"FaultPlan({list(self._faults)!r})"


# -- fault scripts ------------------------------------------------------------------------

_ITEM: Final = re.compile(
    r"""\s*(?P<who>[^:\s]+)\s*:\s*(?P<kind>[A-Za-z_-]+)\s*@\s*(?P<at>[0-9]+)
        (?:\s*[xX]\s*(?P<count>[0-9]+))?(?:\s*/\s*(?P<delay>[0-9]+(?:\.[0-9]*)?))?\s*""",
    re.VERBOSE,
)
_KINDS: Final[Mapping[str, FaultKind]] = {kind.value: kind for kind in FaultKind}
_FORM: Final = "WHO:KIND@AT[xCOUNT][/DELAY]"


def _is_number(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also takes other scripts' digits)."""
    return text.isascii() and text.isdigit()


@dataclass(frozen=True)
class FaultSpec:
    """One item of a fault script: which device of a dock, and the fault scripted for it.

    Args:
        who: a 1-based dock position, or a device serial as written (a text of no
            ``:``, ``,`` or white space that is not all digits).
        fault: what strikes, and when.

    Raises:
        ScenarioError: a position below 1, a serial text the script form cannot hold, or a
            delay that is not a finite number of seconds.
    """

    who: int | str
    fault: Fault

    def __post_init__(self) -> None:
        if isinstance(self.who, int):
            if self.who < 1:
                raise ScenarioError(f"no device at dock position {self.who} (they start at 1)")
        elif not re.fullmatch(r"[^:,\s]+", self.who) or _is_number(self.who):
            raise ScenarioError(f"{self.who!r} cannot name a device in a fault script")
        if not math.isfinite(self.fault.delay_s):
            raise ScenarioError(f"DELAY {self.fault.delay_s} is not a number of seconds")

    @classmethod
    def parse(cls, item: str) -> FaultSpec:
        """The spec one script item writes (``WHO:KIND@AT[xCOUNT][/DELAY_S]``, white
        space around its parts ignored).

        Raises:
            ScenarioError: naming ``item`` and its bad part: not of the form, an unknown
                kind, dock position 0, a count of 0, a delay too large to be a number of
                seconds.
        """
        shown = item.strip()
        match = _ITEM.fullmatch(item)
        if match is None:
            raise ScenarioError(f"{shown!r} is not {_FORM}")
        kind = _KINDS.get(match["kind"].lower().replace("-", "_"))
        if kind is None:
            raise ScenarioError(
                f"{shown!r}: unknown fault {match['kind']!r}; one of: {', '.join(_KINDS)}"
            )
        count = int(match["count"] or 1)
        if count < 1:
            raise ScenarioError(f"{shown!r}: COUNT must be at least 1")
        who = match["who"]
        fault = Fault(kind, int(match["at"]), count, float(match["delay"] or 0.0))
        try:
            return cls(int(who) if _is_number(who) else who, fault)
        except ScenarioError as error:
            raise ScenarioError(f"{shown!r}: {error}") from None

    @property
    def text(self) -> str:
        """The item that writes this spec: ``2:disconnect@8``, ``DPV2FPABQN:slow@7x3/0.5``
        (``xCOUNT`` only when above 1, ``/DELAY_S`` only when not 0)."""
        fault = self.fault
        text = f"{self.who}:{fault.kind.value}@{fault.at}"
        if fault.count != 1:
            text += f"x{fault.count}"
        if fault.delay_s:
            text += f"/{Decimal(repr(fault.delay_s)):f}"
        return text


def parse_fault_script(text: str) -> tuple[FaultSpec, ...]:
    """The specs of a comma-separated fault script, in order; empty items are ignored.

    Raises:
        ScenarioError: an item that is not a spec (:meth:`FaultSpec.parse`).
    """
    return tuple(FaultSpec.parse(item) for item in text.split(",") if item.strip())


def fault_script_text(specs: Iterable[FaultSpec]) -> str:
    """The script of ``specs``: their :attr:`FaultSpec.text`, comma-separated (what
    :func:`parse_fault_script` reads back as ``specs``)."""
    return ",".join(spec.text for spec in specs)


def dock_fault_plans(specs: Iterable[FaultSpec], serials: Sequence[str]) -> dict[str, FaultPlan]:
    """A fault plan for each device of a dock that ``specs`` names, by its serial.

    Args:
        specs: the script's specs; a device's faults keep their order in it.
        serials: the serials of the dock's devices, in dock order (position 1 first).

    Raises:
        ScenarioError: a position past the dock's last, or a serial no device of the dock
            has.
    """
    by_serial = {DEVICE_SCHEME.normalize(serial): serial for serial in serials}
    faults: dict[str, list[Fault]] = {}
    for spec in specs:
        if isinstance(spec.who, int):
            if spec.who > len(serials):
                raise ScenarioError(
                    f"no device at dock position {spec.who} (the dock holds {len(serials)})"
                )
            serial = serials[spec.who - 1]
        else:
            found = by_serial.get(DEVICE_SCHEME.normalize(spec.who))
            if found is None:
                raise ScenarioError(f"no device {spec.who!r} in the emulated dock")
            serial = found
        faults.setdefault(serial, []).append(spec.fault)
    return {serial: FaultPlan(items) for serial, items in faults.items()}


def corrupt(frame: bytes) -> bytes:
    """``frame`` with one byte flipped (all eight bits of the byte in its middle).

    A frame's CRC-32 detects any change confined to one byte, so a receiver that checks
    it always notices.  An empty frame is returned unchanged.
    """
    if not frame:
        return frame
    data = bytearray(frame)
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


def truncate(frame: bytes) -> bytes:
    """The first half of ``frame`` (rounded down): a short transfer."""
    return frame[: len(frame) // 2]


_TIME_OFFSET = 4
"""Offset of a record's ``time_ms`` (after ``seq`` u32)."""
_CRC_OFFSET = RECORD_SIZE - 4


def tamper_record(device: SimulatedDevice, index: int | None = None) -> int | None:
    """Alter one stored record of ``device`` as a careful tamperer would.

    The lowest bit of the record's device time is flipped (the time moves by 1 ms) and the
    record's CRC is recomputed, so the record is well formed and the transfer carries it
    without complaint; only the hash chain (checked against the signed seals and
    statement) can tell.

    Args:
        device: the firmware model; its stored log is changed in place.
        index: which retained record (0 = the oldest); default the middle one.

    Returns:
        The tampered record's sequence number, or ``None`` if the log is empty.

    Raises:
        ScenarioError: ``index`` is outside the retained log.
    """
    count = device.record_count
    if count == 0:
        return None
    if index is None:
        index = count // 2
    if not 0 <= index < count:
        raise ScenarioError(f"record index {index} outside the retained log of {count}")
    # The firmware model has no API for altering its memory -- no device has one; this
    # reaches into its store the way an attacker with a chip programmer would.
    records = device._records
    start = index * RECORD_SIZE
    records[start + _TIME_OFFSET] ^= 0x01
    body = bytes(records[start : start + _CRC_OFFSET])
    records[start + _CRC_OFFSET : start + RECORD_SIZE] = zlib.crc32(body).to_bytes(4, "little")
    return int.from_bytes(records[start : start + 4], "little")
