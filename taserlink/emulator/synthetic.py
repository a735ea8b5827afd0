"""Large generated dataport images, for benchmarks and tests.

:func:`synthetic_image` makes a valid image of any number of records in seconds (about 1.2 s
for a million).  Driving :class:`~taserlink.emulator.firmware.SimulatedDevice`
event by event encodes every record with construct, tens of microseconds each; here the
records are filled vectorised instead: a numpy array of
:data:`~taserlink.format.bulk.RECORD_DTYPE`, payload fields written through the
:data:`~taserlink.format.bulk.PAYLOAD_DTYPES` views of the same declarations, CRCs by
:func:`~taserlink.format.bulk.record_crcs`.  The hash chain, seals, signed base and download
statement follow the firmware model's rules, so the image verifies like a real download.

:func:`synthetic_device` puts the same generated log into a
:class:`~taserlink.emulator.firmware.SimulatedDevice` (a dock of 40 devices of 100,000
records each in seconds), so it can be downloaded through the emulated USB backend.

What the records hold: one device (serial from ``DEVICE_SCHEME``, key and certificates from
the TEST manufacturer PKI) working shifts — power on, spark test and battery report, a few
to a couple of dozen episodes (drawn and holstered, armed, red dot, warning arc, a
deployment with its connection and a cartridge change, a drive stun, a dry trigger pull,
battery reports, downloads, clock sets, firmware updates, faults), battery report, power
off — ending with the download that made the image (``USB_CONNECT``, ``DOWNLOAD``).  Every
payload is valid for its code: reserved bytes zero, cartridge serials valid in
``CARTRIDGE_SCHEME`` (a new cartridge for every insertion, deployments and removals naming
the cartridge in that bay), ``bays_loaded`` tracking which bays hold an unfired cartridge,
``armed_ms`` the time since the last ``ARM``, pulses and charge following the trigger's
duration, battery levels falling through each shift.

What it does *not* model: clock drift or resets (the device clock is true UTC and every
record's time is later than the one before), log wraps (the log starts at sequence 1 from
the genesis chain and the declared capacity is at least ``n_records``), and any episode
cut short by the end of the log.  Sequences of more than about five years are compressed:
gaps between episodes shrink so the last record stays within five years of the first.

All randomness comes from the seed: the same ``(n_records, seed, seal_interval)`` gives
byte-identical images on every machine (Ed25519 signatures are deterministic).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import random
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from taserlink.emulator.firmware import (
    DEFAULT_LOG_CAPACITY,
    DeviceSpec,
    HostInfo,
    SimulatedDevice,
)
from taserlink.emulator.pki import issue_device_credentials
from taserlink.emulator.signing import sign_fields, signed_statement
from taserlink.errors import ScenarioError
from taserlink.format import (
    DEVICE_EPOCH_UNIX_MS,
    NO_BAY,
    PAYLOAD_DTYPES,
    RECORD_DTYPE,
    SEAL_DTYPE,
    ClockSource,
    EventCode,
    FirmwareVersion,
    build_image,
    record_crcs,
)
from taserlink.format import layout as L
from taserlink.format.image import encode_identity
from taserlink.integrity import chain_records, genesis_chain
from taserlink.serials import CARTRIDGE_SCHEME, DEVICE_SCHEME

__all__ = [
    "DENSE",
    "DUTY",
    "SyntheticProfile",
    "SYNTHETIC_DEVICE_HEADROOM",
    "SYNTHETIC_START_UTC_MS",
    "SYNTHETIC_TOOL_VERSION",
    "synthetic_device",
    "synthetic_image",
]

E = EventCode
SECOND: Final = 1000
MINUTE: Final = 60 * SECOND
HOUR: Final = 60 * MINUTE
YEAR: Final = 365 * 24 * HOUR

SYNTHETIC_START_UTC_MS: Final = int(dt.datetime(2025, 6, 2, 6, 0, tzinfo=dt.UTC).timestamp() * 1000)
"""True UTC (Unix ms) when a synthetic device's log starts; its clock is true UTC."""
SYNTHETIC_TOOL_VERSION: Final = "taserlink-synthetic 0.1"
"""The acquisition's ``tool_version``: marks an image as generated, not downloaded."""
_SPAN_BUDGET_MS: Final = 5 * YEAR
"""Longest span from the first record to the last (longer runs are compressed)."""
_FIRST_FIRMWARE: Final = FirmwareVersion(3, 2, 0)

_FIRE: Final = (
    E.UNHOLSTER, E.ARM, E.LASER_ON, E.TRIGGER, E.DEPLOY, E.CONNECTION,
    E.SAFE, E.HOLSTER, E.CARTRIDGE_REMOVE, E.CARTRIDGE_INSERT,
)  # fmt: skip
_FIRE_TWICE: Final = (
    E.UNHOLSTER, E.ARM, E.LASER_ON, E.TRIGGER, E.DEPLOY, E.CONNECTION, E.TRIGGER,
    E.CONNECTION, E.SAFE, E.HOLSTER, E.CARTRIDGE_REMOVE, E.CARTRIDGE_INSERT,
)  # fmt: skip
_DRY_TRIGGER: Final = (E.ARM, E.TRIGGER, E.SAFE)
_DOWNLOAD: Final = (E.USB_CONNECT, E.DOWNLOAD)

# Template 0 opens a shift, 1 closes it, 2 is the final download; the rest are episodes.
_SHIFT_START: Final = 0
_SHIFT_END: Final = 1
_FINAL_DOWNLOAD: Final = 2
_DRY_TEMPLATE: Final = 3
_TEMPLATES: Final[tuple[tuple[EventCode, ...], ...]] = (
    (E.POWER_ON, E.FUNCTION_TEST, E.BATTERY),
    (E.BATTERY, E.POWER_OFF),
    _DOWNLOAD,
    _DRY_TRIGGER,
    (E.UNHOLSTER, E.HOLSTER),
    (E.UNHOLSTER, E.ARM, E.SAFE, E.HOLSTER),
    (E.UNHOLSTER, E.ARM, E.LASER_ON, E.SAFE, E.HOLSTER),
    (E.UNHOLSTER, E.ARM, E.LASER_ON, E.WARNING_ARC, E.SAFE, E.HOLSTER),
    _FIRE,
    _FIRE_TWICE,
    (E.UNHOLSTER, E.ARM, E.DRIVE_STUN, E.SAFE, E.HOLSTER),
    (E.BATTERY,),
    (E.CARTRIDGE_REMOVE, E.CARTRIDGE_INSERT),
    _DOWNLOAD,
    (E.USB_CONNECT, E.CLOCK_SET, E.DOWNLOAD),
    (E.USB_CONNECT, E.FIRMWARE_UPDATE, E.POWER_OFF, E.POWER_ON),
    (E.FAULT,),
)


@dataclasses.dataclass(frozen=True)
class SyntheticProfile:
    """How a generated device works its shifts.

    Attributes:
        weights: how often each template opens an episode inside a shift (0: never), in
            the order of the templates (shift start, shift end, final download, dry
            trigger pull, drawn, armed, red dot, warning arc, fire, fire twice, drive stun,
            battery report, cartridge change, download, clock set, firmware update, fault).
        episodes_per_shift: episodes in a shift, uniform in this half-open range.
    """

    weights: tuple[float, ...]
    episodes_per_shift: tuple[int, int]


DENSE: Final = SyntheticProfile(
    (0, 0, 0, 2, 30, 12, 12, 5, 2, 1, 1, 10, 2, 3, 1, 0.03, 0.5), (4, 25)
)
"""Dense with activity (the default): every kind of record in every log, for parsers,
verification and linkage at scale."""
DUTY: Final = SyntheticProfile(
    (0, 0, 0, 0.002, 0.05, 0.005, 0.01, 0.002, 0.002, 0.0005, 0.0005, 30, 0.005, 0.2, 0.1,
     0.001, 0.05),
    (6, 13),
)  # fmt: skip
"""A device on daily duty: a spark test at every shift's start, battery reports through it,
a use of force in about one shift in forty (the post-use benchmark's force-year)."""
_FAULT_CODES: Final = np.array([0x0101, 0x0102, 0x0201, 0x0300], dtype=np.uint16)

IntArray = npt.NDArray[np.int64]


@dataclasses.dataclass(frozen=True)
class _Layout:
    """Which template and shift each record belongs to, and its place in them."""

    codes: npt.NDArray[np.uint16]
    template: IntArray
    slot: IntArray
    """Index of the record's episode (template instance), in order."""
    first_in_slot: npt.NDArray[np.bool_]
    pos_in_shift: IntArray
    shift: IntArray


def _layout(n_records: int, rng: np.random.Generator, profile: SyntheticProfile = DENSE) -> _Layout:
    """Event codes for ``n_records`` records: whole shifts, cut to fit, then the download."""
    flat = np.array([int(c) for t in _TEMPLATES for c in t], dtype=np.uint16)
    lengths = np.array([len(t) for t in _TEMPLATES], dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    raw = np.array(profile.weights, dtype=np.float64)
    weights = raw / raw.sum()
    mean_episode = float(weights @ lengths)
    mean_shift = (
        lengths[_SHIFT_START]
        + lengths[_SHIFT_END]
        + mean_episode * (sum(profile.episodes_per_shift) - 1) / 2
    )
    tail_length = min(n_records, len(_DOWNLOAD))
    body = n_records - tail_length

    templates = np.empty(0, dtype=np.int64)
    episodes = np.empty(0, dtype=np.int64)
    while int(lengths[templates].sum()) < body:
        shifts = int(body / mean_shift * 1.1) + 2
        episodes = rng.integers(*profile.episodes_per_shift, size=shifts)
        per_shift = episodes + 2
        starts = np.cumsum(per_shift) - per_shift
        templates = rng.choice(len(_TEMPLATES), size=int(per_shift.sum()), p=weights)
        templates[starts] = _SHIFT_START
        templates[starts + per_shift - 1] = _SHIFT_END
        mean_shift *= 0.9  # too few drawn (rare): draw again, more of them
    shift_of_slot = np.repeat(np.arange(len(episodes)), episodes + 2)

    slot_lengths = lengths[templates]
    slot_first = np.cumsum(slot_lengths) - slot_lengths
    slot = np.repeat(np.arange(len(templates)), slot_lengths)[:body]
    pos_in_slot = np.arange(body) - slot_first[slot]
    template = templates[slot]
    shift = shift_of_slot[slot]
    # the image's own download: one more slot, in the last shift
    last_slot = int(slot[-1]) + 1 if body else 0
    last_shift = int(shift[-1]) if body else 0
    tail_pos = np.arange(len(_DOWNLOAD) - tail_length, len(_DOWNLOAD))
    slot = np.concatenate([slot, np.full(tail_length, last_slot)])
    pos_in_slot = np.concatenate([pos_in_slot, tail_pos])
    template = np.concatenate([template, np.full(tail_length, _FINAL_DOWNLOAD)])
    shift = np.concatenate([shift, np.full(tail_length, last_shift)])

    codes = flat[offsets[template] + pos_in_slot]
    first_of_shift = np.flatnonzero(np.diff(shift, prepend=-1) != 0)
    shift_first_row = np.repeat(first_of_shift, np.diff(np.append(first_of_shift, n_records)))
    return _Layout(
        codes=codes,
        template=template,
        slot=slot,
        first_in_slot=pos_in_slot == 0,
        pos_in_shift=np.arange(n_records) - shift_first_row,
        shift=shift,
    )


def _last_index(mask: npt.NDArray[np.bool_]) -> IntArray:
    """For each position, the index of the last ``True`` at or before it (``-1``: none)."""
    rows = np.arange(len(mask), dtype=np.int64)
    return np.maximum.accumulate(np.where(mask, rows, -1))


def _cartridge_serials(count: int, rng: np.random.Generator) -> npt.NDArray[np.bytes_]:
    """``count`` cartridge serials valid in ``CARTRIDGE_SCHEME`` (standard or extended)."""
    scheme = CARTRIDGE_SCHEME
    alphabet = np.frombuffer(scheme.alphabet.encode("ascii"), dtype=np.uint8)
    letters = [t for t in ("S", "X") if t in scheme.type_letters] or list(scheme.type_letters)
    letter_codes = np.frombuffer("".join(letters).encode("ascii"), dtype=np.uint8)
    prefix = np.empty((count, scheme.length - 1), dtype=np.uint8)
    prefix[:, 0] = letter_codes[rng.integers(0, len(letter_codes), size=count)]
    prefix[:, 1:] = alphabet[rng.integers(0, len(alphabet), size=(count, scheme.length - 2))]
    serials = [
        (p + scheme.check_character(p)).encode("ascii")
        for p in prefix.view(f"S{scheme.length - 1}").ravel().astype(str)
    ]
    return np.array(serials, dtype=f"S{scheme.length}")


def _times(
    layout: _Layout, durations: IntArray, rng: np.random.Generator, start_ms: int
) -> tuple[IntArray, IntArray]:
    """Device times (ms since 2000) of every record, and each ``CLOCK_SET``'s correction.

    A record follows the one before by a short step (a few ms inside a deployment's
    TRIGGER–DEPLOY–CONNECTION burst, else 0.3–4 s), plus the energy duration of the event
    before it, plus — when it opens an episode — a gap of minutes, or hours when it opens a
    shift.  A ``CLOCK_SET`` comes ``correction`` later than its step: the clock was slow.
    """
    codes = layout.codes
    n = len(codes)
    burst = (codes == E.DEPLOY) | (codes == E.CONNECTION)
    step = np.where(burst, rng.integers(1, 40, size=n), rng.integers(300, 4000, size=n))
    correction = np.where(codes == E.CLOCK_SET, rng.integers(1, 4 * MINUTE, size=n), 0)
    step += correction
    # energy: the device counts the event's duration before its next event
    ends = np.flatnonzero(durations > 0)
    after = np.append(codes, [0, 0])
    ends = ends + (after[ends + 1] == E.CONNECTION)
    ends = ends + ((after[ends + 1] == E.DEPLOY) & (after[ends + 2] == E.CONNECTION)) * 2
    inside = ends + 1 < n
    step[ends[inside] + 1] += durations[durations > 0][inside]

    opens_shift = layout.first_in_slot & (layout.template == _SHIFT_START)
    pause = np.where(
        opens_shift,
        8 * HOUR + rng.exponential(8 * HOUR, size=n),
        rng.exponential(45 * MINUTE, size=n),
    )
    pause = np.where(layout.first_in_slot, pause, 0).astype(np.int64)
    pause[0] = 0
    spare = _SPAN_BUDGET_MS - int(step.sum())
    total_pause = int(pause.sum())
    if total_pause > spare:
        pause = (pause * (max(spare, 0) / total_pause)).astype(np.int64)
    return start_ms + np.cumsum(step + pause), correction


def _fill_payloads(
    records: npt.NDArray[Any], layout: _Layout, rng: np.random.Generator
) -> tuple[FirmwareVersion, IntArray]:
    """Write every record's payload; returns the firmware after the last update and the
    energy duration of each record (0 for events without one)."""
    codes = layout.codes
    n = len(codes)
    rows = {code: np.flatnonzero(codes == code) for code in EventCode}

    def put(code: EventCode, field: str, values: Any, subfield: str | None = None) -> None:
        view = records["payload"].view(PAYLOAD_DTYPES[code])[field]
        if subfield is not None:
            view = view[subfield]
        view[rows[code]] = values

    def draw(code: EventCode, low: int, high: int) -> IntArray:
        return rng.integers(low, high, size=len(rows[code]))

    # battery: each shift starts charged to 60–100 % and drains a little with every event
    shifts = int(layout.shift[-1]) + 1
    charge = rng.integers(60, 101, size=shifts)
    drain = rng.uniform(0.05, 0.8, size=shifts)
    battery = np.clip(
        charge[layout.shift] - layout.pos_in_shift * drain[layout.shift], 5, 100
    ).astype(np.uint8)

    # energy durations (ms): 5 s cycles mostly, sometimes cut short or held on
    durations = np.zeros(n, dtype=np.int64)
    trigger = rows[E.TRIGGER]
    durations[trigger] = np.where(
        rng.random(len(trigger)) < 0.7, 5000, rng.integers(300, 12_000, size=len(trigger))
    )
    durations[rows[E.WARNING_ARC]] = draw(E.WARNING_ARC, 500, 5001)
    durations[rows[E.DRIVE_STUN]] = draw(E.DRIVE_STUN, 1000, 8001)
    durations[rows[E.FUNCTION_TEST]] = 5000

    # bays and cartridges: each deployment or cartridge change concerns one bay
    slot_bay = rng.integers(1, 3, size=int(layout.slot[-1]) + 1)
    bay = slot_bay[layout.slot].astype(np.uint8)
    inserted = codes == E.CARTRIDGE_INSERT
    serials = _cartridge_serials(int(inserted.sum()) + 2, rng)  # 0, 1: loaded before the log
    serial_of_insert = np.cumsum(inserted) + 1
    in_bay = np.zeros(n, dtype=np.int64)
    loaded = np.zeros(n, dtype=np.uint8)
    for b in (1, 2):
        last_insert = _last_index(inserted & (bay == b))
        last_deploy = _last_index((codes == E.DEPLOY) & (bay == b))
        here = bay == b
        in_bay[here] = np.where(last_insert >= 0, serial_of_insert[last_insert], b - 1)[here]
        loaded |= ((last_deploy <= last_insert) * (1 << (b - 1))).astype(np.uint8)
    serial = serials[in_bay]

    for code in (E.ARM, E.SAFE, E.WARNING_ARC, E.TRIGGER, E.DRIVE_STUN):
        put(code, "battery_pct", battery[rows[code]])
        put(code, "bays_loaded", loaded[rows[code]])
    for code in (E.POWER_ON, E.POWER_OFF, E.FUNCTION_TEST, E.BATTERY):
        put(code, "battery_pct", battery[rows[code]])
    put(E.POWER_ON, "rtc_valid", 1)
    for code in (E.WARNING_ARC, E.TRIGGER, E.DRIVE_STUN, E.FUNCTION_TEST):
        put(code, "duration_ms", durations[rows[code]])
    dry = layout.template[trigger] == _DRY_TEMPLATE
    put(E.TRIGGER, "bay", np.where(dry, NO_BAY, bay[trigger]))
    for code in (E.DEPLOY, E.CARTRIDGE_INSERT, E.CARTRIDGE_REMOVE, E.CONNECTION):
        put(code, "bay", bay[rows[code]])
    for code in (E.DEPLOY, E.CARTRIDGE_REMOVE, E.CARTRIDGE_INSERT):
        put(code, "serial", serial[rows[code]])

    connection = rows[E.CONNECTION]
    last_trigger = _last_index(codes == E.TRIGGER)[connection]
    circuit = (rng.random(len(connection)) < 0.8) & (last_trigger >= 0)
    pulses = np.where(circuit, durations[np.maximum(last_trigger, 0)] * 19 // 1000, 0)
    put(E.CONNECTION, "circuit", circuit.astype(np.uint8))
    put(E.CONNECTION, "pulses", pulses)
    put(E.CONNECTION, "charge_uc", pulses * 63)

    passed = rng.random(len(rows[E.FUNCTION_TEST])) < 0.98
    put(E.FUNCTION_TEST, "result", np.where(passed, 0, draw(E.FUNCTION_TEST, 1, 4)))
    level = battery[rows[E.BATTERY]].astype(np.int64)
    temperature = np.clip(rng.normal(18, 7, size=len(level)), -20, 50).astype(np.int8)
    put(E.BATTERY, "temperature_c", temperature)
    put(E.BATTERY, "voltage_mv", 6400 + 20 * level + draw(E.BATTERY, -40, 41))
    put(E.CLOCK_SET, "source", int(ClockSource.HOST))
    put(E.FAULT, "fault_code", _FAULT_CODES[draw(E.FAULT, 0, len(_FAULT_CODES))])
    nonces = rng.integers(0, 256, size=(len(rows[E.DOWNLOAD]), 8), dtype=np.uint8)
    put(E.DOWNLOAD, "nonce_prefix", nonces.view("V8").ravel())

    # firmware: the k-th update moves from version k to k + 1 (patch, then minor, rolls)
    updates = len(rows[E.FIRMWARE_UPDATE])
    first = _FIRST_FIRMWARE
    number = np.arange(updates + 1) + first.patch
    minor = first.minor + number // 100
    parts = {"major": first.major + minor // 256, "minor": minor % 256, "patch": number % 100}
    for name, part in parts.items():
        put(E.FIRMWARE_UPDATE, "old_version", part[:-1], name)
        put(E.FIRMWARE_UPDATE, "new_version", part[1:], name)
    final = FirmwareVersion(
        int(first.major + minor[-1] // 256), int(minor[-1] % 256), int(number[-1] % 100)
    )
    return final, durations


def _seals(
    key: Ed25519PrivateKey,
    serial: str,
    records: bytes,
    rows: Sequence[int] | IntArray,
    times: IntArray,
) -> tuple[npt.NDArray[Any], bytes]:
    """Signed seals after each record index in ``rows``, and the chain after all records.

    A seal holds the record's sequence, the chain value after it and the device time when
    it was written (the record's own), signed as ``SimulatedDevice`` signs its seals.
    """
    view = memoryview(records)
    head = genesis_chain(serial)
    chains = []
    start = 0
    for row in rows:
        head = chain_records(head, view[start * L.RECORD_SIZE : (int(row) + 1) * L.RECORD_SIZE])
        chains.append(head)
        start = int(row) + 1
    head = chain_records(head, view[start * L.RECORD_SIZE :])
    seals = np.zeros(len(chains), dtype=SEAL_DTYPE)
    seals["seq"] = np.asarray(rows) + 1
    seals["chain"] = np.frombuffer(b"".join(chains), dtype=f"V{L.DIGEST_SIZE}")
    seals["device_time_ms"] = times[np.asarray(rows, dtype=np.int64)]
    raw = seals.tobytes()
    unsigned = L.SEAL_SIZE - L.SIGNATURE_SIZE
    signatures = b"".join(
        sign_fields(key, "seal", serial, raw[at : at + unsigned])
        for at in range(0, len(raw), L.SEAL_SIZE)
    )
    seals["signature"] = np.frombuffer(signatures, dtype=f"V{L.SIGNATURE_SIZE}")
    return seals, head


@dataclasses.dataclass(frozen=True)
class _Generated:
    """A generated log and the device that kept it (what both public functions build on)."""

    device: SimulatedDevice
    """The firmware model at the log's start: genesis base signed, no record logged yet."""
    firmware: FirmwareVersion
    """The firmware after the log's last update."""
    records: bytes
    times: IntArray
    """Device time (ms since 2000-01-01) of every record."""
    seals: npt.NDArray[Any]
    head: bytes
    """Chain value after the last record."""
    nonce: bytes
    """The nonce of the log's final download (its last record carries the prefix)."""


def _generate(
    n_records: int,
    seed: int,
    seal_interval: int,
    log_capacity: int,
    profile: SyntheticProfile = DENSE,
) -> _Generated:
    """Records, seals and chain head of a generated log (see :func:`synthetic_image`)."""
    if n_records < 1:
        raise ScenarioError("a synthetic image needs at least one record")
    rng = np.random.default_rng([abs(seed), int(seed < 0), 0x7A5E])
    serial = DEVICE_SCHEME.generate(random.Random(f"synthetic/{seed}"), "D")
    spec = DeviceSpec(
        serial,
        firmware=_FIRST_FIRMWARE,
        log_capacity=log_capacity,
        seal_interval=seal_interval,
    )
    credentials = issue_device_credentials(serial, spec.manufactured)
    # the firmware model signs the genesis base, at the device time the log starts
    device = SimulatedDevice(spec, SYNTHETIC_START_UTC_MS, credentials=credentials)
    start_ms = device.now_ms

    layout = _layout(n_records, rng, profile)
    records = np.zeros(n_records, dtype=RECORD_DTYPE)
    firmware, durations = _fill_payloads(records, layout, rng)
    times, correction = _times(layout, durations, rng, start_ms)
    clock_set = layout.codes == E.CLOCK_SET
    records["payload"].view(PAYLOAD_DTYPES[E.CLOCK_SET])["old_time_ms"][clock_set] = (
        times - correction
    )[clock_set]
    safe = np.flatnonzero(layout.codes == E.SAFE)
    last_arm = _last_index(layout.codes == E.ARM)[safe]
    armed = np.where(last_arm >= 0, times[safe] - times[np.maximum(last_arm, 0)], 0)
    records["payload"].view(PAYLOAD_DTYPES[E.SAFE])["armed_ms"][safe] = armed
    records["seq"] = np.arange(1, n_records + 1)
    records["time_ms"] = times
    records["code"] = layout.codes
    nonce = rng.integers(0, 256, size=L.NONCE_SIZE, dtype=np.uint8).tobytes()
    download = records["payload"][-1:].view(PAYLOAD_DTYPES[E.DOWNLOAD])
    download["nonce_prefix"] = np.frombuffer(nonce[:8], dtype="V8")
    records["crc"] = record_crcs(records)

    sequences = records["seq"].astype(np.int64)
    sealed = np.flatnonzero(sequences % seal_interval == 0)
    record_bytes = records.tobytes()
    seals, head = _seals(credentials.key, serial, record_bytes, sealed, times)
    return _Generated(device, firmware, record_bytes, times, seals, head, nonce)


def synthetic_image(
    n_records: int,
    seed: int = 0,
    *,
    seal_interval: int = 256,
    profile: SyntheticProfile = DENSE,
) -> bytes:
    """A valid dataport image of ``n_records`` generated records (see the module docstring).

    The device's log runs from sequence 1 (base: the genesis chain, signed) to
    ``n_records``, its last two records the ``USB_CONNECT`` and ``DOWNLOAD`` of the download
    that made the image; the statement covers every record and signs a nonce drawn from the
    seed.  Seals follow the firmware model's rule: after every record whose sequence is a
    multiple of ``seal_interval``.  A million records take about 1.2 s (most of it the
    hash chain).  ``profile`` says how busy the device is (:data:`DENSE`, the default, or
    :data:`DUTY`); the default's images are those of every earlier version, byte for byte.

    Raises:
        ScenarioError: ``n_records`` < 1 or ``seal_interval`` outside 1..65535.
    """
    generated = _generate(
        n_records, seed, seal_interval, max(DEFAULT_LOG_CAPACITY, n_records), profile
    )
    device, times, nonce = generated.device, generated.times, generated.nonce
    credentials = device.credentials
    assert credentials is not None
    serial = device.spec.serial
    statement_ms = int(times[-1])
    identity = dataclasses.replace(device.identity, firmware=generated.firmware)
    statement = signed_statement(
        credentials.key,
        serial,
        nonce,
        1,
        n_records,
        generated.head,
        statement_ms,
        seal_interval,
        hashlib.sha256(encode_identity(identity)).digest(),
    )
    host = HostInfo(tool_version=SYNTHETIC_TOOL_VERSION)
    start_utc = int(times[-min(n_records, len(_DOWNLOAD))]) + DEVICE_EPOCH_UNIX_MS
    statement_utc = statement_ms + DEVICE_EPOCH_UNIX_MS
    acquisition = host.acquisition(nonce, start_utc, statement_utc + 50, statement_utc)
    return build_image(
        identity=identity,
        certificates=credentials.certificates,
        base=device.base,
        records=generated.records,
        seals=generated.seals,
        statement=statement,
        acquisition=acquisition,
    )


SYNTHETIC_DEVICE_HEADROOM: Final = 4096
"""Records a :func:`synthetic_device` can log, by default, before its log wraps."""


def synthetic_device(
    n_records: int,
    seed: int = 0,
    *,
    seal_interval: int = 256,
    log_capacity: int | None = None,
    idle_ms: int = MINUTE,
) -> SimulatedDevice:
    """A :class:`~taserlink.emulator.firmware.SimulatedDevice` whose log already holds the
    ``n_records`` records of ``synthetic_image(n_records, seed, seal_interval=...)``.

    Built in about the time :func:`synthetic_image` takes (0.1 s for 100,000 records), where
    logging them event by event would take tens of microseconds a record; for docks of
    large emulated devices (benchmarks, load tests).  The records, seals, base, serial, key
    and certificates are those of the image; the model's chain head, next sequence and
    firmware version follow its last record, so whatever it logs next (``USB_CONNECT``,
    ``DOWNLOAD`` …) chains on and a download of it verifies.  Its true time stands
    ``idle_ms`` after the last record (its clock is true UTC, as in the image).

    What it does *not* carry over: the cartridges in the bays (the model's bays are empty
    whatever the log says) and the battery level (the model's default), and its identity's
    ``log_capacity`` differs from the image's (see ``log_capacity``).

    Args:
        n_records, seed, seal_interval: as for :func:`synthetic_image`.
        log_capacity: the device's log capacity, at least ``n_records``; by default
            ``max(16384, n_records + SYNTHETIC_DEVICE_HEADROOM)``, so that downloads do not
            wrap the log (give ``n_records`` for a device whose next event wraps it).
        idle_ms: true time between the last record and the model's now, in ms (≥ 0).

    Raises:
        ScenarioError: ``n_records`` < 1, ``seal_interval`` outside 1..65535, a
            ``log_capacity`` below ``n_records`` or ``idle_ms`` < 0.
    """
    capacity = (
        max(DEFAULT_LOG_CAPACITY, n_records + SYNTHETIC_DEVICE_HEADROOM)
        if log_capacity is None
        else log_capacity
    )
    if capacity < n_records:
        raise ScenarioError(f"a log of {capacity} records cannot hold {n_records}")
    if idle_ms < 0:
        raise ScenarioError("time only moves forward")
    generated = _generate(n_records, seed, seal_interval, capacity)
    device = generated.device
    _load_log(device, generated)
    device.advance(int(generated.times[-1]) + DEVICE_EPOCH_UNIX_MS + idle_ms - device.utc_ms)
    return device


def _load_log(device: SimulatedDevice, generated: _Generated) -> None:
    """Put a generated log into a fresh model (nothing logged yet, genesis base).

    This sets the model's private log state directly — the firmware model has no public way
    to restore a log — so it must follow :class:`SimulatedDevice`'s fields: ``_records``
    (the retained records), ``_seals``, ``_head`` (chain after the newest record) and
    ``_next_seq``.
    """
    if device.record_count or device.last_seq != 0 or device.first_seq != 1:
        raise ScenarioError("a log can be loaded only into a device that has logged nothing")
    count = len(generated.records) // L.RECORD_SIZE
    device._records = bytearray(generated.records)
    device._seals = bytearray(generated.seals.tobytes())
    device._head = generated.head
    device._next_seq = count + 1
    device.firmware = generated.firmware
