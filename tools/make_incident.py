#!/usr/bin/env python3
"""Regenerate the worked example ``captures/incident/`` byte for byte from a seed.

    python tools/make_incident.py            # rewrite captures/incident/
    python tools/make_incident.py --check    # write nothing; exit 1 naming the files that differ
    python tools/make_incident.py --out DIR  # write it somewhere else

One incident scene: three officers of one late shift, their devices (run through the
firmware model of :mod:`taserlink.emulator` and downloaded in the store room after the
shift), the force's issue list for the day, a register export of some 5,000 cartridge
serials, the scene examiner's AFID reads (drawn with
:func:`taserlink.forensics.simulate.simulate_reads` with ``indels=False``: no character
skipped or added, the random stream the scene was first drawn with), the truth behind them
and — once the ``match`` and ``link`` commands exist — the outputs an examiner's run must
reproduce.
``captures/incident/README.md`` tells the story; this script writes it too, with the
SHA-256 of every other file.

All randomness comes from ``random.Random("incident/<seed>/<purpose>")``, all time from the
simulation, and the test PKI signs deterministically, so the files are byte-identical on
every machine.  The expected outputs are made by running the commands in-process
(:func:`taserlink.cli.main`) in the scene folder, exactly as the README tells an examiner
to: they change whenever the matcher or linkage changes, and must then be regenerated on
purpose.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import hashlib
import io
import json
import math
import random
import sys
import tempfile
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from taserlink.atomic import stale_files, update_files
from taserlink.emulator.firmware import HostInfo, SimulatedDevice
from taserlink.emulator.pki import test_roots_pem
from taserlink.emulator.scenarios import new_device
from taserlink.forensics.confusion import ConfusionModel
from taserlink.forensics.reads import UNREADABLE, parse_read
from taserlink.forensics.reference import alignments
from taserlink.forensics.simulate import simulate_reads
from taserlink.format import DEVICE_EPOCH_UNIX_MS, read_image
from taserlink.serials import CARTRIDGE_SCHEME, DEVICE_SCHEME

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "captures" / "incident"

SEED = 1
"""The seed of the bundled scene."""
DATE = dt.date(2026, 3, 6)
"""The day of the incident, a Friday.  In March the United Kingdom keeps GMT, so local
time is UTC."""
WINDOW = ("2026-03-06T19:40:00Z", "2026-03-06T19:55:00Z")
"""The incident window (UTC): from the first officers' arrival to the subject's detention."""
REGISTER_SIZE = 5000
"""Cartridge serials in the register export ``serials.txt``."""
P_TORN = 0.2
"""Share of the scene's tags that are torn (only a fragment of the serial survives)."""
MINUTE = 60_000
HOUR = 60 * MINUTE
HOST = HostInfo(
    operator="PS 4127 (store room)",
    workstation="STORE-DOCK-02",
    clock_source="NTP (chrony), synchronised",
)
"""The store-room host that downloads the devices after the shift."""
CONFUSABLE_ALTERNATIVES = {
    "0": "DQ",
    "D": "0Q",
    "Q": "0D",
    "1": "7",
    "7": "1",
    "2": "Z",
    "Z": "2",
    "5": "S",
    "S": "5",
    "6": "G",
    "G": "6",
    "3": "8B",
    "8": "3B",
    "B": "38",
}
"""Serial-alphabet characters and the serial-alphabet characters they are confused with."""
DECOY_POSITION = 8
"""0-based position at which the decoy differs from A's first cartridge (the last body
character; the check character, recomputed, differs too)."""
MATCH_MARGIN = 0.9999
"""The scene's own check: a ``match`` exhibit's posterior under this script's rough scorer."""


# -- time ------------------------------------------------------------------------------------
def utc(clock: str) -> int:
    """``"HH:MM:SS"`` on :data:`DATE` → Unix milliseconds."""
    t = dt.time.fromisoformat(clock)
    return int(dt.datetime.combine(DATE, t, tzinfo=dt.UTC).timestamp() * 1000)


def iso_ms(unix_ms: int) -> str:
    """Unix ms → ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    stamp = dt.datetime.fromtimestamp(unix_ms / 1000, dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{unix_ms % 1000:03d}Z"


def iso_s(unix_ms: int) -> str:
    """Unix ms → ``YYYY-MM-DDTHH:MM:SSZ`` (the issue list's precision)."""
    return dt.datetime.fromtimestamp(unix_ms // 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def device_iso(device_ms: int) -> str:
    """Device time (ms since 2000-01-01, no zone) → ``YYYY-MM-DDTHH:MM:SS.mmm``."""
    return iso_ms(device_ms + DEVICE_EPOCH_UNIX_MS)[:-1]


def _rng(seed: int, purpose: str) -> random.Random:
    return random.Random(f"incident/{seed}/{purpose}")


def _jitter(rng: random.Random, ms: int) -> int:
    """``ms`` give or take 10 %."""
    return ms + rng.randint(-ms // 10, ms // 10)


# -- the people and their kit ----------------------------------------------------------------
@dataclass(frozen=True)
class SceneOfficer:
    """An officer at the scene and how their device's clock is off."""

    key: str
    officer: str
    offset_ms: int
    """Device clock minus UTC when the device is switched on for the shift (ms)."""
    drift_ppm: float
    """The clock's rate error (parts per million, positive runs fast)."""
    issued: str
    returned: str
    power_on: str


OFFICERS = (
    SceneOfficer("A", "PC 2231", 38_412, 19.0, "14:02:41", "22:30:10", "14:08:20"),
    SceneOfficer("B", "PC 3067", -371_540, -71.0, "14:04:12", "22:32:25", "14:09:45"),
    SceneOfficer("C", "PC 1148", 2_604, 4.0, "14:05:37", "22:34:02", "14:11:02"),
)
"""A fires one cartridge; B fires both bays (the second a cartridge signed out to C); C
draws and red-dots but does not fire.  B's clock was last set weeks ago and runs slow."""

OTHER_OFFICERS = (
    ("PC 4410", "06:48:10", "15:06:40"),
    ("PC 0392", "06:51:02", "15:09:15"),
    ("PC 2980", "14:07:30", "22:38:50"),
    ("PS 1724", "21:52:20", ""),
)
"""The force's other issues that day: the early shift, a late-shift officer elsewhere and
the night-shift sergeant, still out when the list was exported."""


@dataclass
class Kit:
    """What one officer signed out: a device and two cartridges (bay 1 S, bay 2 X)."""

    officer: str
    device: str
    cartridges: tuple[str, str]
    issued_ms: int
    returned_ms: int | None


@dataclass
class Deployment:
    """One cartridge fired, as the simulation knows it."""

    cartridge: str
    device: str
    officer: str
    bay: int
    seq: int
    device_ms: int
    utc_ms: int
    circuit: bool


@dataclass
class Scene:
    """Everything the scene holds before it is written to files."""

    seed: int
    kits: dict[str, Kit]
    """By officer key (A, B, C) and collar number for the others."""
    images: dict[str, bytes]
    """Device serial → image bytes."""
    devices: dict[str, dict[str, Any]]
    deployments: list[Deployment]
    swaps: list[dict[str, Any]]
    register: list[str]
    decoy: str
    outsider: str
    reads: list[tuple[str, str, str, str]]
    """(exhibit, tag, read, confidence) rows of reads.csv."""
    tag_truth: dict[str, dict[str, str]]
    issue_rows: list[tuple[str, str, str, str]] = field(default_factory=list)


def _cartridge(rng: random.Random, letter: str, taken: set[str]) -> str:
    while True:
        serial = CARTRIDGE_SCHEME.generate(rng, letter)
        if serial not in taken:
            taken.add(serial)
            return serial


def _first_cartridge_of_a(rng: random.Random, taken: set[str]) -> str:
    """A standard cartridge whose last body character has a confusable in the alphabet."""
    while True:
        serial = CARTRIDGE_SCHEME.generate(rng, "S")
        if serial[DECOY_POSITION] in CONFUSABLE_ALTERNATIVES and serial not in taken:
            taken.add(serial)
            return serial


def _decoy_of(serial: str, rng: random.Random) -> str:
    """``serial`` with its character at :data:`DECOY_POSITION` swapped for a confusable and
    the check character recomputed."""
    prefix = serial[:DECOY_POSITION] + rng.choice(CONFUSABLE_ALTERNATIVES[serial[DECOY_POSITION]])
    prefix += serial[DECOY_POSITION + 1 : -1]
    return prefix + CARTRIDGE_SCHEME.check_character(prefix)


# -- the devices -----------------------------------------------------------------------------
@dataclass
class _Shift:
    """One device through the shift: scripted events at given times, and between them the
    device's own hourly battery report (now and then with a holster check)."""

    device: SimulatedDevice
    rng: random.Random
    next_report: int = 0

    def start(self, kit: Kit) -> None:
        """Switched on, battery report, spark test, both cartridges loaded."""
        device, rng = self.device, self.rng
        device.power_on()
        device.advance(_jitter(rng, 90_000))
        device.battery_report(rng.randint(14, 19), rng.randint(8100, 8300))
        device.function_test(_jitter(rng, 5000))
        device.advance(_jitter(rng, 40_000))
        device.insert_cartridge(1, kit.cartridges[0])
        device.advance(_jitter(rng, 9000))
        device.insert_cartridge(2, kit.cartridges[1])
        self.next_report = device.utc_ms + _jitter(rng, HOUR)

    def at(self, clock: str) -> SimulatedDevice:
        """Let true time run to ``clock`` (HH:MM:SS on the day, plus up to a second), with
        the hourly reports that fall due before it; returns the device."""
        device, rng = self.device, self.rng
        target = utc(clock) + rng.randint(0, 999)
        if target < device.utc_ms:
            raise RuntimeError(f"the script goes back in time at {clock}")
        while self.next_report < target - 2 * MINUTE:
            device.advance(self.next_report - device.utc_ms)
            device.battery_pct = max(5, device.battery_pct - rng.randint(0, 2))
            device.battery_report(rng.randint(8, 15), 7400 + 8 * device.battery_pct)
            if rng.random() < 0.25:  # a check in the station, back in the holster
                device.unholster()
                device.advance(_jitter(rng, 20_000))
                device.holster()
            self.next_report += _jitter(rng, HOUR)
        device.advance(target - device.utc_ms)
        return device


def _fire(
    device: SimulatedDevice, kit: Kit, bay: int, *, circuit: bool, deployments: list[Deployment]
) -> None:
    serial = device.cartridge(bay)
    assert serial is not None
    device_ms, utc_ms = device.now_ms, device.utc_ms
    _, deploy, _ = device.fire(bay, 5000, circuit=circuit)
    deployments.append(
        Deployment(serial, device.spec.serial, kit.officer, bay, deploy, device_ms, utc_ms, circuit)
    )


def _simulate(
    seed: int, kits: dict[str, Kit]
) -> tuple[dict[str, SimulatedDevice], list[Deployment], list[dict[str, Any]]]:
    """Run the three devices through the shift; each keeps its own true clock."""
    shifts: dict[str, _Shift] = {}
    for o in OFFICERS:
        rng = _rng(seed, f"device/{o.key}")
        device = new_device(
            rng, utc(o.power_on) + rng.randint(0, 999), offset_ms=o.offset_ms, drift_ppm=o.drift_ppm
        )
        kits[o.key].device = device.spec.serial
        shifts[o.key] = _Shift(device, rng)
        shifts[o.key].start(kits[o.key])
    a, b, c = shifts["A"], shifts["B"], shifts["C"]
    deployments: list[Deployment] = []

    # The rendezvous: B's bay-2 cartridge has been dropped and cracked; C gives B his.
    b.at("19:37:12").remove_cartridge(2)
    c_seq = c.at("19:37:20").remove_cartridge(2)
    b_seq = b.at("19:37:41").insert_cartridge(2, kits["C"].cartridges[1])
    swap = {
        "cartridge": kits["C"].cartridges[1],
        "signed_out_to": kits["C"].officer,
        "removed_from": {"device": c.device.spec.serial, "bay": 2, "seq": c_seq},
        "inserted_into": {"device": b.device.spec.serial, "bay": 2, "seq": b_seq},
        "utc": iso_ms(b.device.utc_ms),
    }

    # A: a warning arc, then one cartridge that connects; the subject pulls a probe out.
    a.at("19:41:10").unholster()
    a.at("19:41:14").arm()
    a.at("19:41:16").laser_on()
    a.at("19:41:24").warning_arc(_jitter(a.rng, 1200))
    _fire(a.at("19:41:37"), kits["A"], 1, circuit=True, deployments=deployments)
    a.at("19:41:49").reenergise(1, 5000, circuit=False)  # a probe pulled out: no circuit
    a.at("19:42:40").safe()
    a.at("19:43:12").holster()

    # B: bay 1 misses, bay 2 (C's cartridge) connects.
    b.at("19:41:05").unholster()
    b.at("19:41:09").arm()
    b.at("19:41:10").laser_on()
    _fire(b.at("19:42:06"), kits["B"], 1, circuit=False, deployments=deployments)
    _fire(b.at("19:42:12"), kits["B"], 2, circuit=True, deployments=deployments)
    b.at("19:42:55").safe()
    b.at("19:43:30").holster()

    # C: drawn and red-dotted, not fired.
    c.at("19:41:02").unholster()
    c.at("19:41:20").arm()
    c.at("19:41:22").laser_on()
    c.at("19:42:50").safe()
    c.at("19:43:20").holster()

    # Back at the station the spent cartridges go to the supervisor; nobody reloads.
    a.at("20:36:05").remove_cartridge(1)
    b.at("20:38:20").remove_cartridge(1)
    b.at("20:38:31").remove_cartridge(2)
    a.at("22:29:30").power_off()
    b.at("22:31:40").power_off()
    c.at("22:33:05").power_off()
    return {k: s.device for k, s in shifts.items()}, deployments, [swap]


def _download(devices: dict[str, SimulatedDevice], seed: int) -> dict[str, bytes]:
    """The store room downloads the returned devices one after another."""
    rng = _rng(seed, "store-room")
    images: dict[str, bytes] = {}
    for key, clock in (("A", "22:41:10"), ("B", "22:43:40"), ("C", "22:46:05")):
        device = devices[key]
        device.advance(utc(clock) + rng.randint(0, 999) - device.utc_ms)
        images[device.spec.serial] = device.download(rng.randbytes(32), HOST)
    return images


# -- the register ----------------------------------------------------------------------------
def _far(serial: str, others: Sequence[str], distance: int) -> bool:
    """True when ``serial`` differs from each of ``others`` in at least ``distance`` places."""
    return all(sum(x != y for x, y in zip(serial, o, strict=True)) >= distance for o in others)


def _register(rng: random.Random, issued: Sequence[str], decoy: str, outsider: str) -> list[str]:
    """:data:`REGISTER_SIZE` serials, sorted: the issued ones, the decoy and fillers that
    differ from every scene serial in four places or more."""
    protected = [*issued, decoy, outsider]
    serials = {*issued, decoy}
    letters, weights = ("S", "X", "T", "C"), (55, 30, 10, 5)
    while len(serials) < REGISTER_SIZE:
        candidate = CARTRIDGE_SCHEME.generate(rng, rng.choices(letters, weights)[0])
        if candidate not in serials and _far(candidate, protected, 4):
            serials.add(candidate)
    return sorted(serials)


# -- the reads, and this script's own check of them ------------------------------------------
def _placements(text: str, model: ConfusionModel) -> list[tuple[tuple[int, str], ...]]:
    """Every placement of a read's segments (the reference's alignments: a torn part stands
    for zero or more characters), as (position, read character) pairs: one character a
    position, as the scene's reads are drawn (no skip or insertion).

    Raises:
        ValueError: the read fits no serial that way (a read with a character skipped or
            added, which this rough check does not model).
    """
    found = alignments(parse_read(text), CARTRIDGE_SCHEME.length, model) or []
    if not found or any(a.events for a in found):
        raise ValueError(f"read {text!r} does not fit a serial one character a position")
    return [a.covered for a in found]


class _Scorer:
    """A rough, vectorised version of the matcher's likelihoods, used only to be sure the
    scene says what it is meant to (E1 and E2 clear matches, E3 honestly ambiguous, E4
    nothing).  It is not the matcher: ``taserlink match`` gives the expected outputs."""

    def __init__(self, serials: Sequence[str], model: ConfusionModel) -> None:
        self.serials = list(serials)
        self.model = model
        alphabet = model.alphabet
        self.codes = np.array([[alphabet.index(c) for c in s] for s in serials], dtype=np.intp)
        self.log_matrix = np.log(model.matrix)
        self.column = {c: j for j, c in enumerate(model.read_characters)}
        first = [alphabet.index(t) for t in CARTRIDGE_SCHEME.type_letters]
        self.log_background = [
            np.log(model.matrix[first].mean(axis=0)),
            np.log(model.matrix.mean(axis=0)),
        ]

    def log_likelihoods(self, text: str, confidence: float) -> tuple[np.ndarray, float]:
        """log L(read | serial) for every serial, and log L(read | a random serial)."""
        placements = _placements(text, self.model)
        terms = np.zeros((len(placements), len(self.serials)))
        background = np.zeros(len(placements))
        for p, placement in enumerate(placements):
            for position, char in placement:
                j = self.column[char]
                terms[p] += self.log_matrix[self.codes[:, position], j]
                background[p] += self.log_background[min(position, 1)][j]
        log_m = math.log(len(placements))
        ll = np.logaddexp.reduce(terms, axis=0) - log_m
        ll0 = float(np.logaddexp.reduce(background)) - log_m
        if confidence < 1.0:
            ll = np.logaddexp(math.log(confidence) + ll, math.log(1 - confidence) + ll0)
        return ll, ll0

    def posteriors(self, rows: Sequence[tuple[str, float]]) -> tuple[np.ndarray, float]:
        """Posterior of each serial, and of "another serial", for reads of one cartridge."""
        total = np.zeros(len(self.serials))
        other = 0.0
        for text, confidence in rows:
            ll, ll0 = self.log_likelihoods(text, confidence)
            total += ll
            other += ll0
        logs = total + math.log(0.99 / len(self.serials))
        z = float(np.logaddexp.reduce(np.append(logs, other)))
        return np.exp(logs - z), math.exp(other - z)


def _styled(rng: random.Random, read: str) -> str:
    """How an examiner wrote the read: as is, in groups of four, or in lower case."""
    roll = rng.random()
    if roll < 0.25:
        return "-".join(read[i : i + 4] for i in range(0, len(read), 4))
    if roll < 0.35:
        return " ".join(read[i : i + 4] for i in range(0, len(read), 4))
    if roll < 0.5:
        return read.lower()
    return read


def _confidence(rng: random.Random, share: float, values: Sequence[str]) -> str:
    return rng.choice(values) if rng.random() < share else ""


def _readable_window(text: str, width: int = 4) -> bool:
    """True when the read has ``width`` consecutive readable characters (the candidate rule
    of the matcher needs one)."""
    return any(
        width * "x" in "".join("." if c == UNREADABLE else "x" for c in segment)
        for segment in parse_read(text).segments
    )


Draw = list[tuple[str, str, str]]
"""(true serial, read as written, confidence) for each tag of an exhibit."""


def _draw(
    rng: random.Random,
    model: ConfusionModel,
    truths: Sequence[str],
    *,
    p_torn: float,
    confidences: tuple[float, Sequence[str]],
    accept: Callable[[Draw], bool],
) -> Draw:
    """Reads of ``truths`` drawn again and again until ``accept`` takes them."""
    for _ in range(10_000):
        reads = simulate_reads(list(truths), model, rng, p_torn=p_torn, indels=False)
        draw = [
            (t, _styled(rng, r), _confidence(rng, *confidences))
            for t, r in zip(truths, reads, strict=True)
        ]
        if accept(draw):
            return draw
    raise RuntimeError("no acceptable draw of reads: change the seed")


def _as_float(confidence: str) -> float:
    return float(confidence) if confidence else 1.0


def _reads(
    seed: int, register: list[str], a1: str, decoy: str, b1: str, c2: str, outsider: str
) -> tuple[list[tuple[str, str, str, str]], dict[str, dict[str, str]]]:
    model = ConfusionModel.default(CARTRIDGE_SCHEME)
    scorer = _Scorer(register, model)
    index = {s: i for i, s in enumerate(register)}
    slack = math.log(20.0) + 0.5  # the matcher's grouping factor, with room to spare

    def assigned(draw: Draw, own: str, rival: str | None = None) -> bool:
        for truth, text, confidence in draw:
            if truth != own:
                continue
            ll, ll0 = scorer.log_likelihoods(text, _as_float(confidence))
            mine = ll[index[own]]
            if mine < ll.max() - slack + 1.0 or mine < ll0 + 1.0:
                return False
            if rival is not None and ll[index[rival]] > mine - slack:
                return False
        return True

    def posterior(draw: Draw, own: str) -> tuple[np.ndarray, float]:
        rows = [(text, _as_float(c)) for truth, text, c in draw if truth == own]
        return scorer.posteriors(rows)

    def clear_match(draw: Draw, own: str, rival: str | None = None) -> bool:
        if not assigned(draw, own, rival):
            return False
        post, _ = posterior(draw, own)
        return bool(post[index[own]] > MATCH_MARGIN)

    def e2_ok(draw: Draw) -> bool:
        return clear_match(draw, b1, c2) and clear_match(draw, c2, b1)

    def e3_ok(draw: Draw) -> bool:
        if not all(_readable_window(text) for _, text, _ in draw):
            return False
        if not assigned(draw, a1):
            return False
        post, other = posterior(draw, a1)
        order = np.argsort(-post)
        top = {register[int(order[0])], register[int(order[1])]}
        return (
            top == {a1, decoy}
            and 0.3 < post[index[a1]] < 0.7
            and float(post[order[2]]) < 1e-3
            and other < 1e-3
        )

    def e4_ok(draw: Draw) -> bool:
        for _, text, confidence in draw:
            ll, ll0 = scorer.log_likelihoods(text, _as_float(confidence))
            if ll.max() > ll0 - 1.0:
                return False
        _, other = posterior(draw, outsider)
        return other > 0.999

    draws = {
        "E1": _draw(
            _rng(seed, "reads/E1"),
            model,
            [a1] * 12,
            p_torn=P_TORN,
            confidences=(0.25, ("0.9", "0.95", "0.8")),
            accept=lambda d: clear_match(d, a1),
        ),
        "E2": _draw(
            _rng(seed, "reads/E2"),
            model,
            _rng(seed, "reads/E2/order").sample([b1] * 8 + [c2] * 6, 14),
            p_torn=P_TORN,
            confidences=(0.25, ("0.9", "0.95", "0.8")),
            accept=e2_ok,
        ),
        "E3": _draw(
            _rng(seed, "reads/E3"),
            model,
            [a1] * 3,
            p_torn=1.0,
            confidences=(1.0, ("0.6", "0.7")),
            accept=e3_ok,
        ),
        "E4": _draw(
            _rng(seed, "reads/E4"),
            model,
            [outsider] * 2,
            p_torn=P_TORN,
            confidences=(0.5, ("0.9",)),
            accept=e4_ok,
        ),
    }
    rows: list[tuple[str, str, str, str]] = []
    truth: dict[str, dict[str, str]] = {}
    for exhibit, draw in draws.items():
        for n, (serial, text, confidence) in enumerate(draw, start=1):
            tag = f"T{n:02d}"
            rows.append((exhibit, tag, text, confidence))
            truth.setdefault(exhibit, {})[tag] = serial
    return rows, truth


# -- the scene -------------------------------------------------------------------------------
def build_scene(seed: int = SEED) -> Scene:
    """Simulate the shift, the register and the reads."""
    crng = _rng(seed, "cartridges")
    taken: set[str] = set()
    kits: dict[str, Kit] = {}
    for o in OFFICERS:
        first = _first_cartridge_of_a(crng, taken) if o.key == "A" else _cartridge(crng, "S", taken)
        kits[o.key] = Kit(
            o.officer, "", (first, _cartridge(crng, "X", taken)), utc(o.issued), utc(o.returned)
        )
    for officer, issued, returned in OTHER_OFFICERS:
        kits[officer] = Kit(
            officer,
            "",
            (_cartridge(crng, "S", taken), _cartridge(crng, "X", taken)),
            utc(issued),
            utc(returned) if returned else None,
        )
    decoy = _decoy_of(kits["A"].cartridges[0], crng)
    outsider = _cartridge(crng, "S", taken | {decoy})
    devices, deployments, swaps = _simulate(seed, kits)
    images = _download(devices, seed)
    other_devices = _rng(seed, "other-devices")
    for officer, _, _ in OTHER_OFFICERS:
        kits[officer].device = DEVICE_SCHEME.generate(other_devices, "D")

    signed_out = [c for kit in kits.values() for c in kit.cartridges]
    register = _register(_rng(seed, "register"), signed_out, decoy, outsider)
    if outsider in register or not _far(outsider, register, 4):
        raise RuntimeError("the outsider serial is too near the register: change the seed")
    a1, b1, c2 = kits["A"].cartridges[0], kits["B"].cartridges[0], kits["C"].cartridges[1]
    reads, tag_truth = _reads(seed, register, a1, decoy, b1, c2, outsider)

    clocks: dict[str, dict[str, Any]] = {}
    for o in OFFICERS:
        device = devices[o.key]
        assert device.clock is not None
        at_download = device.clock.device_ms(device.utc_ms) - (device.utc_ms - DEVICE_EPOCH_UNIX_MS)
        clocks[device.spec.serial] = {
            "officer": o.officer,
            "key": o.key,
            "offset_ms_at_power_on": o.offset_ms,
            "drift_ppm": o.drift_ppm,
            "offset_ms_at_download": at_download,
        }
    scene = Scene(
        seed, kits, images, clocks, deployments, swaps, register, decoy, outsider, reads, tag_truth
    )
    scene.issue_rows = _issue_rows(scene)
    return scene


def _issue_rows(scene: Scene) -> list[tuple[str, str, str, str]]:
    """The issue list: each officer's device and cartridges, in order of issue."""
    spent = {d.cartridge for d in scene.deployments}
    rows: list[tuple[int, str, str, str, str]] = []
    rng = _rng(scene.seed, "issue-list")
    for kit in scene.kits.values():
        out = kit.returned_ms
        rows.append((kit.issued_ms, kit.device, kit.officer, iso_s(kit.issued_ms), _iso_or(out)))
        for n, cartridge in enumerate(kit.cartridges):
            issued = kit.issued_ms + (n + 1) * rng.randint(15_000, 40_000)
            back = None if cartridge in spent or out is None else out + rng.randint(5_000, 60_000)
            rows.append((issued, cartridge, kit.officer, iso_s(issued), _iso_or(back)))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [r[1:] for r in rows]


def _iso_or(unix_ms: int | None) -> str:
    return "" if unix_ms is None else iso_s(unix_ms)


# -- files -----------------------------------------------------------------------------------
def _csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _truth(scene: Scene) -> dict[str, Any]:
    kits = scene.kits
    a1 = kits["A"].cartridges[0]
    c2 = kits["C"].cartridges[1]
    b_device = kits["B"].device
    swap = scene.swaps[0]
    return {
        "seed": scene.seed,
        "window": {"from": WINDOW[0], "to": WINDOW[1]},
        "officers": {
            o.key: {
                "officer": o.officer,
                "device": kits[o.key].device,
                "cartridges": list(kits[o.key].cartridges),
            }
            for o in OFFICERS
        },
        "devices": scene.devices,
        "deployments": [
            {
                "cartridge": d.cartridge,
                "device": d.device,
                "device_officer": d.officer,
                "signed_out_to": next(
                    k.officer for k in kits.values() if d.cartridge in k.cartridges
                ),
                "bay": d.bay,
                "seq": d.seq,
                "device_time": device_iso(d.device_ms),
                "utc": iso_ms(d.utc_ms),
                "circuit": d.circuit,
            }
            for d in scene.deployments
        ],
        "exhibits": scene.tag_truth,
        "expected": {
            "E1": [{"status": "match", "serial": a1}],
            "E2": [
                {"status": "match", "serial": kits["B"].cartridges[0]},
                {"status": "match", "serial": c2},
            ],
            "E3": [{"status": "ambiguous", "serials": sorted([a1, scene.decoy])}],
            "E4": [{"status": "none"}],
        },
        "decoy": {
            "serial": scene.decoy,
            "near": a1,
            "position": DECOY_POSITION + 1,
            "note": "in the register, never issued: differs from A's first cartridge by one "
            "confusable character and the recomputed check character",
        },
        "outsider": {
            "serial": scene.outsider,
            "note": "the cartridge of exhibit E4: not in the register",
        },
        "planted": {
            "kind": "issued to another officer",
            "cartridge": c2,
            "signed_out_to": kits["C"].officer,
            "fired_by_device": b_device,
            "device_issued_to": kits["B"].officer,
            "swap": swap,
            "note": "B dropped and cracked his bay-2 cartridge at the rendezvous; C gave B his "
            "own bay-2 cartridge and nobody recorded the swap",
        },
    }


def scene_files(scene: Scene) -> dict[str, bytes]:
    """The scene's input files and truth, by path relative to the scene folder."""
    files = {f"images/{serial}.tdi": data for serial, data in sorted(scene.images.items())}
    files["issues.csv"] = _csv(("serial", "officer", "issued_at", "returned_at"), scene.issue_rows)
    files["serials.txt"] = "".join(f"{s}\n" for s in scene.register).encode()
    files["reads.csv"] = _csv(("exhibit", "tag", "read", "confidence"), scene.reads)
    files["truth.json"] = (json.dumps(_truth(scene), indent=2) + "\n").encode()
    files.update(_store_room(scene))
    return files


STATION = "Ripley"
NAMES = ("A. Kerr", "B. Doyle", "C. Marsh", "D. Okafor", "E. Hale", "F. Ward", "G. Patel")
"""The names of the scene's officers and of the others who drew kit that day, in order."""
LAPSED = ("PC 1187", "H. Lowe", dt.date(2024, 1, 2), dt.date(2025, 1, 2))
"""An officer whose authority lapsed on 2026-01-02 (last refresher 2025-01-02): the store
room's walk-through shows the register refusing him a device."""
SPARE_DEVICES = 3
"""Devices in the store that nobody drew that day."""


def _store_room(scene: Scene) -> dict[str, bytes]:
    """The station's store-room files (README "Store-room files"): its officers with their
    courses, its devices (the scene's three with the model and firmware their images carry,
    the others' and the spares) and every cartridge in the register export, each lot with
    its expiry (the lot of a few old cartridges has expired)."""
    rng = _rng(scene.seed, "store-room")
    officers = []
    drew = [o.officer for o in OFFICERS] + [o for o, _, _ in OTHER_OFFICERS]
    for officer, name in zip(drew, NAMES, strict=True):
        refresher = DATE - dt.timedelta(days=rng.randrange(20, 330))
        initial = refresher - dt.timedelta(days=365 * rng.randrange(1, 5) + rng.randrange(0, 60))
        officers.append((officer, name, STATION, initial.isoformat(), refresher.isoformat(), ""))
    officer, name, initial, refresher = LAPSED
    officers.append((officer, name, STATION, initial.isoformat(), refresher.isoformat(), ""))
    device_rows = []
    scene_devices = {serial: read_image(data).identity for serial, data in scene.images.items()}
    for serial, identity in sorted(scene_devices.items()):
        fw = identity.firmware
        device_rows.append((serial, identity.model, f"{fw.major}.{fw.minor}.{fw.patch}"))
    others = [scene.kits[o].device for o, _, _ in OTHER_OFFICERS]
    spare_rng = _rng(scene.seed, "spare-devices")
    spares = [DEVICE_SCHEME.generate(spare_rng, "D") for _ in range(SPARE_DEVICES)]
    model = device_rows[0][1:]
    device_rows += [(serial, *model) for serial in sorted(others + spares)]
    lots = {
        "S": [("S-2409", "2027-09-30"), ("S-2502", "2028-02-29"), ("S-1911", "2026-01-31")],
        "X": [("X-2410", "2027-10-31"), ("X-2503", "2028-03-31")],
        "C": [("C-2501", "2028-01-31")],
        "T": [("T-2406", "2029-06-30")],
    }
    out = {c for kit in scene.kits.values() for c in kit.cartridges}
    cartridge_rows = []
    for serial in sorted(scene.register):
        choices = lots[serial[0]]
        if serial in out:  # a cartridge drawn that day had not expired
            choices = [lot for lot in choices if lot[1] > DATE.isoformat()]
        lot, expires = choices[rng.randrange(len(choices))]
        cartridge_rows.append((serial, lot, expires))
    return {
        "store-room/officers.csv": _csv(
            ("officer", "name", "station", "initial_course", "last_refresher", "suspended"),
            officers,
        ),
        "store-room/devices.csv": _csv(("serial", "model", "firmware"), device_rows),
        "store-room/cartridges.csv": _csv(("serial", "lot", "expires"), cartridge_rows),
    }


MATCH_ARGS = (
    "match",
    "--reads",
    "reads.csv",
    "--serials",
    "serials.txt",
    "--out",
    "expected-matches.csv",
)
"""``taserlink match`` as the examiner runs it: the CSV and its provenance file
(``expected-matches.csv.provenance.json``) written beside the scene."""
LINK_ARGS = (
    "link",
    "--images",
    "images",
    "--issues",
    "issues.csv",
    "--matches",
    "expected-matches.csv",
    "--window",
    *WINDOW,
    "--roots",
    "../test-root.pem",
)
"""``taserlink link`` as the examiner runs it.  The TEST root is named so that the images
verify and the report is about linkage (without roots every image is ``untrusted_root``),
and so that the output does not depend on ``$TASERLINK_ROOTS``."""


REPORT_ARGS = (
    "report",
    *LINK_ARGS[1:],
    "--out",
    "report",
    "--case",
    "report/case.jsonld",
)
"""``taserlink report`` as the examiner runs it, on the same inputs as ``link``: the report
for court (``report/report.html``, ``report/report.pdf``) and the CASE/UCO file."""
REPORT_FILES = (
    "report/report.html",
    "report/report.pdf",
    "report/provenance.json",
    "report/case.jsonld",
)
"""What ``taserlink report`` writes, kept in the scene."""


def run_taserlink(folder: Path, argv: Sequence[str]) -> tuple[int, bytes]:
    """``taserlink argv`` run in-process in ``folder``: its exit code and stdout.

    Raises:
        RuntimeError: the command exited with anything but 0 or 1 (its stderr quoted).
    """
    from taserlink.cli import main as taserlink

    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(folder), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = taserlink(list(argv))
    if code not in (0, 1):
        raise RuntimeError(f"taserlink {' '.join(argv)} exited {code}: {err.getvalue().strip()}")
    return code, out.getvalue().encode()


def expected_outputs(folder: Path) -> tuple[dict[str, bytes], dict[str, int]]:
    """Run ``match`` and then ``link`` on the scene written in ``folder``: the expected
    outputs by name, and each run's exit code."""
    files: dict[str, bytes] = {}
    codes: dict[str, int] = {}
    codes["match"], _ = run_taserlink(folder, MATCH_ARGS)
    for name in ("expected-matches.csv", "expected-matches.csv.provenance.json"):
        files[name] = (folder / name).read_bytes()
    codes["link"], files["expected-link.txt"] = run_taserlink(folder, LINK_ARGS)
    codes["link --json"], files["expected-link.json"] = run_taserlink(
        folder, (*LINK_ARGS, "--json")
    )
    codes["report"], _ = run_taserlink(folder, REPORT_ARGS)
    for name in REPORT_FILES:
        files[name] = (folder / name).read_bytes()
    return files, codes


def expected_files(seed: int = SEED) -> dict[str, bytes]:
    """Every file this script writes, by path relative to the scene folder."""
    scene = build_scene(seed)
    files = scene_files(scene)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "incident"  # beside the test root, as in captures/
        (Path(tmp) / "test-root.pem").write_bytes(test_roots_pem())
        for name, data in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        outputs, codes = expected_outputs(folder)
    files.update(outputs)
    files["README.md"] = readme(scene, files, codes).encode()
    return files


# -- the README ------------------------------------------------------------------------------
def _kit_table(scene: Scene) -> str:
    lines = [
        "| officer | role | device | clock at switch-on | drift | set to UTC | bay 1 | bay 2 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    roles = {"A": "fires bay 1", "B": "fires bay 1 and bay 2", "C": "draws, does not fire"}
    for o in OFFICERS:
        kit = scene.kits[o.key]
        days = o.offset_ms / 1000 / (o.drift_ppm * 1e-6) / 86_400
        lines.append(
            f"| {o.key} `{o.officer}` | {roles[o.key]} | `{kit.device}` | "
            f"{o.offset_ms / 1000:+.3f} s | {o.drift_ppm:+g} ppm | {days:.0f} days before | "
            f"`{kit.cartridges[0]}` | `{kit.cartridges[1]}` |"
        )
    return "\n".join(lines)


def _deploy_table(scene: Scene) -> str:
    lines = [
        "| cartridge | device (officer) | bay | seq | device time | true UTC | circuit |",
        "|---|---|---:|---:|---|---|---|",
    ]
    for d in scene.deployments:
        lines.append(
            f"| `{d.cartridge}` | `{d.device}` ({d.officer}) | {d.bay} | {d.seq} | "
            f"{device_iso(d.device_ms)} | {iso_ms(d.utc_ms)} | "
            f"{'made' if d.circuit else 'miss'} |"
        )
    return "\n".join(lines)


def readme(scene: Scene, files: dict[str, bytes], codes: dict[str, int]) -> str:
    """``captures/incident/README.md``: the story, the files, the commands, the digests."""
    kits = scene.kits
    a1, a2 = kits["A"].cartridges
    b1, b2 = kits["B"].cartridges
    c1, c2 = kits["C"].cartridges
    b_raw = next(d for d in scene.deployments if d.cartridge == b1)
    digests = "\n".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}" for name, data in sorted(files.items())
    )
    n_issues = len(scene.issue_rows)
    n_reads = len(scene.reads)
    made = [
        f"`expected-matches.csv` is what `taserlink match --out` wrote (exit {codes['match']})",
        "`expected-link.txt` and `expected-link.json` are what `taserlink link` printed "
        f"(exit {codes['link']}), as text and with `--json`",
        "`report/` is what `taserlink report` wrote on the same inputs "
        f"(exit {codes['report']}): the report for court as `report.html` and `report.pdf`, "
        "`provenance.json` naming their inputs and both files by SHA-256, and "
        "`case.jsonld`, the acquisition and the analysis as CASE/UCO",
    ]
    expected = "; ".join(made) + "."
    expected = textwrap.fill(expected[0].upper() + expected[1:], width=92)
    window = f"{WINDOW[0]} {WINDOW[1]}"
    clocks = {o.key: scene.devices[kits[o.key].device]["offset_ms_at_download"] for o in OFFICERS}
    return f"""# captures/incident — a worked example

An incident scene for the examiner's main job: link recovered AFID tags to a cartridge, the
device that fired it, the time (clock-corrected) and the officer who signed it out. Every
file here is made by `tools/make_incident.py` (seed {scene.seed}) and is TEST MATERIAL: the
devices are simulated and signed by the test PKI (`../test-root.pem`; anyone can derive its
keys).

## The story

Friday 6 March 2026, late shift (the UK keeps GMT in March: local time is UTC). Three
officers are each issued a device and two cartridges (bay 1 standard `S`, bay 2 extended
`X`) at about 14:03 and switch their devices on at about 14:10. Their device clocks were
last set to UTC some days before and have drifted since:

{_kit_table(scene)}

- **19:37, the rendezvous.** B has dropped his bay-2 cartridge `{b2}` and cracked it. C
  takes his own bay-2 cartridge `{c2}` out of his device and gives it to B, who loads it in
  bay 2; B keeps the cracked one and hands it in at the end of the shift. Nobody records the
  swap, but both devices log it (`CARTRIDGE_REMOVE`, `CARTRIDGE_INSERT`).
- **19:40, the incident** — window **{WINDOW[0]}** to **{WINDOW[1]}**, from the officers'
  arrival to the subject's detention. A draws, arms, red-dots, gives a warning arc and
  fires bay 1: the probes connect, and the subject pulls one out during a second cycle. B
  fires bay 1 — a miss — then bay 2, which connects. C draws and red-dots but does not fire.
- **After.** The spent cartridges go to the supervisor; nobody reloads. At about 22:30 the
  devices come back to the store room, where `{HOST.operator}` downloads them one after
  another on `{HOST.workstation}` (host clock: {HOST.clock_source}).

The cartridges fired, as the simulation knows them (the examiner has only the images):

{_deploy_table(scene)}

At the downloads the clocks read {clocks["A"] / 1000:+.3f} s (A), {clocks["B"] / 1000:+.3f} s
(B) and {clocks["C"] / 1000:+.3f} s (C) off UTC. B's first `DEPLOY` carries device time
{device_iso(b_raw.device_ms)}, *before* the incident window opens; it happened at
{iso_ms(b_raw.utc_ms)}, inside it, and only a corrected time says so.

## The exhibits

The scene examiner recovered AFID tags in four exhibits and read each under magnification
(`reads.csv`, {n_reads} reads in the project's AFID read notation; some written in groups or
in lower case, some torn, some with the examiner's confidence):

- **E1** — 12 tags from the hallway where A fired.
- **E2** — 14 tags from the front garden where B fired twice: two cartridges' tags mixed.
- **E3** — three torn, poorly legible tags picked off the subject's jacket in custody.
- **E4** — two weathered tags from under the stairwell mat: not from this incident.

## The files

- `images/<device serial>.tdi` — the three store-room downloads (dataport images).
- `issues.csv` — the force's issue list for the day, {n_issues} rows, columns
  `serial, officer, issued_at, returned_at` (ISO 8601 UTC; `returned_at` is empty while
  still out: the spent cartridges were seized, and the night sergeant's kit is out). It
  holds the three officers here and four who were not at the scene.
- `serials.txt` — the register export: {len(scene.register)} cartridge serials, one a line,
  sorted, every issued one among them.
- `reads.csv` — the reads: `exhibit, tag, read, confidence`.
- `store-room/officers.csv`, `store-room/devices.csv`, `store-room/cartridges.csv` — the
  {STATION} store room's spreadsheets (README "Store-room files"): the seven officers who
  drew kit that day and one whose authority lapsed on 2026-01-02 ({LAPSED[0]}), every
  device ({len(scene.images)} downloaded here, {len(OTHER_OFFICERS)} drawn elsewhere, \
{SPARE_DEVICES} spare) and every cartridge of
  the register export with its lot and expiry. The top-level README's store-room
  walk-through imports them into a register.
- `truth.json` — what really happened: the true serial of every tag, each `DEPLOY` with its
  true UTC, the device clocks, the decoy and the planted inconsistency.
- `expected-matches.csv`, `expected-link.txt`, `expected-link.json` — what an examiner's
  run prints; `expected-matches.csv.provenance.json` — what `match --out` writes beside
  its CSV: the reads and serials by size and SHA-256, the model and settings, and the CSV's
  SHA-256, which `link` checks (docs/provenance.md).

{expected}

## An examiner's run

From the repository's top folder, in a scratch copy (this folder stays as generated; the
TEST root goes beside it):

```sh
mkdir -p /tmp/case && cp -r captures/incident captures/test-root.pem /tmp/case/
cd /tmp/case/incident
taserlink verify images/*.tdi --roots ../test-root.pem
taserlink show images/{kits["B"].device}.tdi
taserlink match --reads reads.csv --serials serials.txt --out matches.csv
taserlink link --images images --issues issues.csv --matches matches.csv \\
    --window {window} --roots ../test-root.pem
taserlink report --images images --issues issues.csv --matches matches.csv \\
    --window {window} --roots ../test-root.pem --out report --case report/case.jsonld
```

The last writes the report for court — open `report/report.html` in a browser, or
`report/report.pdf` — and the CASE/UCO file (docs/report.md, docs/case.md).

In this folder or the copy, the same commands reproduce the expected outputs byte for byte:

```sh
taserlink match --reads reads.csv --serials serials.txt | diff - expected-matches.csv
sha256sum reads.csv serials.txt expected-matches.csv  # = expected-matches.csv.provenance.json
taserlink link --images images --issues issues.csv --matches expected-matches.csv \\
    --window {window} --roots ../test-root.pem \\
    | diff - expected-link.txt
taserlink link --images images --issues issues.csv --matches expected-matches.csv \\
    --window {window} --roots ../test-root.pem --json \\
    | diff - expected-link.json
taserlink report --images images --issues issues.csv --matches expected-matches.csv \\
    --window {window} --roots ../test-root.pem --out /tmp/again --case /tmp/again/case.jsonld
cmp /tmp/again/report.html report/report.html && cmp /tmp/again/report.pdf report/report.pdf
```

(`case.jsonld` names its output files by path, so one written to another folder differs in
those names only. The PDF is the same bytes with the same WeasyPrint and fonts: this one
was made with those `pip install -e '.[dev]'` installs and Debian's DejaVu fonts.)

## What the examiner should find

(Read this after your own run; `truth.json` holds the same answers.)

- **E1** matches A's cartridge `{a1}`. The register also holds `{scene.decoy}`, which
  differs from it only in character {DECOY_POSITION + 1} (a confusable) and the check
  character; E1's whole tags read those characters and rule it out.
- **E2** gives two matches: `{b1}` (B's) and `{c2}`.
- **E3** is **ambiguous** between `{a1}` and `{scene.decoy}`: none of its torn fragments
  reaches the characters where they differ. The tags cannot tell them apart; the device
  logs can (only `{a1}` was deployed, and `{scene.decoy}` was never issued).
- **E4** is **none**: its cartridge, `{scene.outsider}`, is not in the register.
- **Linkage.** `{a1}` was fired by A's device, issued to A, inside the window. `{b1}` and
  `{c2}` were fired by B's device, inside the window once its clock is corrected — but
  **`{c2}` was signed out to C** (`{kits["C"].officer}`), not to B: the swap at the
  rendezvous, and the one error `taserlink link` reports. The logs explain it: `{c2}`'s
  history shows it removed from C's device `{kits["C"].device}` and inserted into B's
  `{kits["B"].device}` at 19:37; the error's message says so and a `cartridge_moved` note
  lists the movement (the issue list stays wrong). B's bay-1 cartridge missed (its
  `CONNECTION` says no circuit), yet its tags are in E2: the tags fly whether or not the
  probes connect. A's spare `{a2}`, C's `{c1}` and the cracked `{b2}` were returned unfired.

## Regenerating

```sh
python tools/make_incident.py            # rewrite this folder
python tools/make_incident.py --check    # write nothing; exit 1 naming the files that differ
```

`tests/test_incident_example.py` regenerates the scene, checks the digests below, checks
`truth.json` against the images and runs the examiner's commands.

## SHA-256

Every other file of this folder (`sha256sum -c` takes these lines as they are):

```
{digests}
```
"""


# -- main ------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--out", type=Path, default=OUT, help="folder (default captures/incident/)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"seed (default {SEED})")
    args = parser.parse_args(argv)
    files = expected_files(args.seed)
    changed = update_files(args.out, files, check=args.check)
    stale = stale_files(args.out, files)
    verb = "differ" if args.check else "written"
    print(f"{len(changed)} file(s) {verb}: {', '.join(changed) or '-'}")
    if stale:
        print(f"{len(stale)} file(s) not made by this script: {', '.join(stale)}")
    return 1 if args.check and (changed or stale) else 0


if __name__ == "__main__":
    sys.exit(main())
