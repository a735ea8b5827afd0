"""Use episodes: each time a device left the holster, as its own log tells it.

Every time a device leaves the holster the officer owes an account (the post-use
procedure); reconciliation sets each **episode** the device logged against the accounts.
:func:`episodes` finds them in a :class:`~taserlink.timeline.DeviceTimeline` (every
download of one device, merged) and says, for each, what the device saw.

**Where an episode begins and ends** (the rule, applied per device, in sequence order):

1. *Holster sensor.*  A device whose merged log holds at least one ``UNHOLSTER`` or
   ``HOLSTER`` record has the sensor.  On such a device an episode runs from an
   ``UNHOLSTER`` to the next ``HOLSTER`` (both included; ``bounded_by`` ``holster``).
2. *No sensor.*  A device whose log holds no holster record (an older device, a model
   without the sensor) is read by its safety instead: an episode runs from an ``ARM`` to
   the next ``SAFE`` (``bounded_by`` ``arm``).  On a device with the sensor, the records
   *outside* every holster episode are read the same way, each stretch between two holster
   episodes on its own: energy there (``ARM`` without ``UNHOLSTER``) is never lost.
3. *Neither.*  What is still outside every episode and is device activity (``LASER_ON``,
   ``WARNING_ARC``, ``TRIGGER``, ``CONNECTION``, ``DEPLOY``, ``DRIVE_STUN``,
   ``FUNCTION_TEST``) forms episodes of its own: each run of such records with no other
   record between them is one episode (``bounded_by`` ``none``; two such records with
   nothing logged between them are one run however far apart in time).  The firmware model
   logs a daily spark test this way — a ``FUNCTION_TEST`` between other records — so each
   is a one-record episode of kind ``test``.

Missing bounding events, and the ends of the log, are flagged rather than guessed at:

- an opening event (``UNHOLSTER``, ``ARM``) followed by another opening event before any
  closing one ends at the record before the second, **open at its end** (``open_end``:
  a ``HOLSTER`` / ``SAFE`` was not logged);
- an opening event with no closing event after it ends at the last record of its stretch
  — the log's last record when the log ends inside it (downloaded while drawn) — **open at
  its end**;
- a closing event with no opening event since the previous closing event (the log starts
  inside the episode after a wrap deleted its oldest quarter, or at the first download; or
  the opening event was not logged) closes an episode that begins at the record after that
  previous closing event (or at the first record of its stretch, the log's first record
  for the first one), **open at its start** (``open_start``): every record since the device
  was last seen put away belongs to it;
- episodes bounded by ``none`` have no bounding events by nature and are never flagged
  open; ``bounded_by`` says what they are.

Episodes never overlap, and every ``UNHOLSTER``, ``HOLSTER``, ``ARM``, ``SAFE`` and
activity record belongs to one.

**What the device saw** in an episode: armed time (the sum of its ``SAFE`` records'
``armed_ms``), laser shown, warning arcs, energy applications (``TRIGGER`` and
``DRIVE_STUN`` with their durations; any over :data:`LONG_APPLICATION_MS` is *long*),
cycles (applications with interrupted ones joined, below), connections (``CONNECTION``:
circuit made or missed, per bay), cartridges deployed (``DEPLOY`` serials in order, each
with the trigger pulls on its bay after it: *repeats* on one cartridge) and function
tests.

**Interrupted cycles.**  A standard cycle is :data:`STANDARD_CYCLE_MS` (5 s); interrupted
power can split one into several logged activations.  An application shorter than a
standard cycle, followed — next among the episode's applications — by one of the same
event (and, for trigger pulls, the same bay) starting within :data:`INTERRUPTED_GAP_MS`
(1 s either way) of its end on the device clock, is the same cycle: the two are joined
(chains join in turn).  The gap is a choice, stated so it can be argued with: longer than a
break in the power circuit should last, shorter than the pause in which an officer assesses
the subject before a deliberate second pull.  Every application keeps its own start and
duration, so an examiner can apply another gap.

**Highest use** (:class:`UseLevel`, the Home Office severity): ``fired`` ← ``DEPLOY``,
``drive_stun`` ← ``DRIVE_STUN``, ``arced`` ← ``WARNING_ARC``, ``red_dotted`` ←
``LASER_ON``, ``drawn`` ← any bounding event (``UNHOLSTER`` or ``HOLSTER``; ``ARM`` or
``SAFE``, which on a device without the sensor is all that says it was drawn).  So every
bounded episode is at least ``drawn``; an unbounded one has the highest of its energy
events, or ``None`` (spark tests alone, a stray trigger pull or connection).  ``aimed``
and ``angle_drive_stun`` are never device-visible: they come only from accounts.

**Kind** (:class:`EpisodeKind`), the first that applies:

- ``test``: the episode holds a ``FUNCTION_TEST`` and no ``LASER_ON``, ``WARNING_ARC``,
  ``TRIGGER``, ``DEPLOY`` or ``DRIVE_STUN`` (a spark test in the store room or at shift
  start; the firmware model logs one as a bare ``FUNCTION_TEST``, a real device may take it
  out of the holster and arm it first — both are tests, and never a use);
- ``training``: the caller says the device is a training device (``training_device``:
  nothing in a log or its identity marks one), or the episode deployed at least one
  cartridge, every cartridge it deployed is an inert training cartridge (type letter
  ``T``, :data:`~taserlink.serials.CARTRIDGE_TYPES`), and it holds no drive stun (contact
  energy that no training cartridge makes inert);
- ``use``: everything else.

**Times**: each episode's first and last records corrected to UTC by the timeline's clock
model, with the **worse** (larger) of the two ends' ± bounds.  A device time the model
cannot correct gives ``None``.

**Who held the device**: :func:`holders` (from the issue list, over the whole corrected
interval ± bound).

The per-record work is numpy over whole columns (grouping by cumulative sums and
``searchsorted``, counts by ``bincount``); Python runs once per episode, and per detail
record only for the few records that need one (arcs, energy, connections, cartridges).
``docs/postuse.md`` states the rules for examiners.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from taserlink.forensics.issues import IssueList
from taserlink.forensics.link.custody import custody_over
from taserlink.forensics.link.result import Custody, CustodyState
from taserlink.format import NO_BAY, EventCode, payload_view
from taserlink.postuse.uses import UseLevel
from taserlink.timeline import DeviceTimeline
from taserlink.timeline.times import device_time_iso, utc_iso

__all__ = [
    "INTERRUPTED_GAP_MS",
    "LONG_APPLICATION_MS",
    "STANDARD_CYCLE_MS",
    "TRAINING_TYPE",
    "Application",
    "Arc",
    "Bounds",
    "Connection",
    "Cycle",
    "DeployedCartridge",
    "Episode",
    "EpisodeKind",
    "UseLevel",
    "episodes",
    "holder",
    "holders",
]

STANDARD_CYCLE_MS: Final = 5_000
"""A standard cycle of energy: 5 seconds."""
LONG_APPLICATION_MS: Final = 5_000
"""An energy application longer than this (ms) is *long* (the IOPC's concern: over 5 s)."""
INTERRUPTED_GAP_MS: Final = 1_000
"""Largest gap (ms, device clock) between a short application's end and the next one's
start for the two to be one interrupted cycle."""
TRAINING_TYPE: Final = "T"
"""The cartridge type letter of an inert training cartridge."""
_SEPARATORS: Final = str.maketrans("", "", "- \t")


class EpisodeKind(enum.Enum):
    """What an episode was (see the module docstring for the rule)."""

    USE = "use"
    TEST = "test"
    TRAINING = "training"


class Bounds(enum.Enum):
    """Which events bound an episode (see the module docstring)."""

    HOLSTER = "holster"
    """``UNHOLSTER`` to ``HOLSTER``: the device has the holster sensor."""
    ARM = "arm"
    """``ARM`` to ``SAFE``: a device without the sensor, or activity outside the holster
    episodes of one with it."""
    NONE = "none"
    """No bounding event: a run of activity records outside any other episode."""


@dataclass(frozen=True, slots=True)
class Arc:
    """One warning arc (``WARNING_ARC``): record ``seq`` at device time ``device_ms``,
    ``duration_ms`` long."""

    seq: int
    device_ms: int
    duration_ms: int

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "duration_ms": self.duration_ms}


@dataclass(frozen=True, slots=True)
class Application:
    """One energy application: a trigger pull (``TRIGGER``) or a drive stun
    (``DRIVE_STUN``).

    Attributes:
        seq: the record's sequence number.
        event: ``EventCode.TRIGGER`` or ``EventCode.DRIVE_STUN``.
        device_ms: its start, device time (ms since 2000-01-01 on the device clock).
        duration_ms: how long energy was delivered (ms).
        bay: the bay a trigger pull fired; ``None`` for a drive stun or a pull with no bay
            (``NO_BAY``).
    """

    seq: int
    event: EventCode
    device_ms: int
    duration_ms: int
    bay: int | None

    @property
    def long(self) -> bool:
        """Longer than :data:`LONG_APPLICATION_MS`."""
        return self.duration_ms > LONG_APPLICATION_MS

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "event": self.event.name,
            "duration_ms": self.duration_ms,
            "bay": self.bay,
        }


@dataclass(frozen=True, slots=True)
class Cycle:
    """A cycle as delivered: one application, or several joined as one interrupted cycle.

    Attributes:
        seqs: the applications' sequence numbers, in order.
        event: ``EventCode.TRIGGER`` or ``EventCode.DRIVE_STUN``.
        bay: as :attr:`Application.bay`.
        duration_ms: the applications' durations added up (the gaps not counted).
    """

    seqs: tuple[int, ...]
    event: EventCode
    bay: int | None
    duration_ms: int

    @property
    def interrupted(self) -> bool:
        """Logged as more than one activation."""
        return len(self.seqs) > 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "seqs": list(self.seqs),
            "event": self.event.name,
            "bay": self.bay,
            "duration_ms": self.duration_ms,
        }


@dataclass(frozen=True, slots=True)
class Connection:
    """One ``CONNECTION`` record: whether the probes from ``bay`` made a circuit
    (``pulses`` delivered, ``charge_uc`` microcoulombs) or missed."""

    seq: int
    bay: int
    circuit: bool
    pulses: int
    charge_uc: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "bay": self.bay,
            "circuit": self.circuit,
            "pulses": self.pulses,
            "charge_uc": self.charge_uc,
        }


@dataclass(frozen=True, slots=True)
class DeployedCartridge:
    """One ``DEPLOY`` record: the cartridge ``serial`` (as the smart cartridge reported it)
    fired from ``bay``.

    ``repeat_pulls`` counts the trigger pulls on that bay after the ``DEPLOY`` in the same
    episode, until the bay's next ``DEPLOY``, ``CARTRIDGE_INSERT`` or ``CARTRIDGE_REMOVE``:
    each re-energised the probes already out (a *repeat* on one cartridge).  The pull that
    fired the cartridge comes before its ``DEPLOY`` and is not counted.
    """

    seq: int
    bay: int
    serial: str
    repeat_pulls: int

    @property
    def training(self) -> bool:
        """An inert training cartridge: its type letter (the first character, read as
        :meth:`~taserlink.serials.SerialScheme.normalize` reads it: separators dropped, case
        ignored) is :data:`TRAINING_TYPE`."""
        return _training_serial(self.serial)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "bay": self.bay,
            "serial": self.serial,
            "training": self.training,
            "repeat_pulls": self.repeat_pulls,
        }


def _training_serial(serial: str) -> bool:
    """``CARTRIDGE_SCHEME.normalize(serial)`` starts with :data:`TRAINING_TYPE` (no alias
    of the scheme stands for a type letter), a few times faster."""
    return serial.translate(_SEPARATORS)[:1].upper() == TRAINING_TYPE


@dataclass(frozen=True, slots=True)
class Episode:
    """One episode of one device (the rules are the module docstring's).

    Attributes:
        device: the device serial.
        seq_first, seq_last: sequence numbers of its first and last records.
        records: how many records it spans.
        device_start_ms, device_end_ms: device times of its first and last records (ms
            since 2000-01-01 on the device clock).
        utc_start_ms, utc_end_ms: those records corrected to UTC (Unix ms), ``None`` where
            the clock model has no answer.
        bound_ms: ± bound of the corrected times: the worse (larger) of the two ends';
            ``None`` unless both ends are corrected.
        bounded_by: which events bound it.
        open_start: its opening event is not in the log (the log starts inside it, or the
            ``UNHOLSTER`` / ``ARM`` was not logged): it began earlier than ``seq_first``.
        open_end: its closing event is not in the log (the log ends inside it — downloaded
            while drawn — or the ``HOLSTER`` / ``SAFE`` was not logged).
        kind: use, test or training.
        highest_use: the highest device-visible use, or ``None`` when its records show none.
        armed_ms: the sum of its ``SAFE`` records' ``armed_ms`` (an ``ARM`` whose ``SAFE``
            is not in the episode adds nothing).
        laser_shown: how many ``LASER_ON`` records.
        function_tests: how many ``FUNCTION_TEST`` records.
        arcs: its warning arcs, in order.
        applications: its energy applications (trigger pulls and drive stuns), in order.
        cycles: :attr:`applications` with interrupted cycles joined, in order.
        connections: its ``CONNECTION`` records, in order.
        cartridges: the cartridges it deployed, in order.
    """

    device: str
    seq_first: int
    seq_last: int
    records: int
    device_start_ms: int
    device_end_ms: int
    utc_start_ms: int | None
    utc_end_ms: int | None
    bound_ms: int | None
    bounded_by: Bounds
    open_start: bool
    open_end: bool
    kind: EpisodeKind
    highest_use: UseLevel | None
    armed_ms: int
    laser_shown: int
    function_tests: int
    arcs: tuple[Arc, ...]
    applications: tuple[Application, ...]
    cycles: tuple[Cycle, ...]
    connections: tuple[Connection, ...]
    cartridges: tuple[DeployedCartridge, ...]

    # -- derived ----------------------------------------------------------------------
    @property
    def trigger_pulls(self) -> tuple[Application, ...]:
        """The trigger pulls (``TRIGGER``), in order."""
        return tuple(a for a in self.applications if a.event is EventCode.TRIGGER)

    @property
    def drive_stuns(self) -> tuple[Application, ...]:
        """The drive stuns (``DRIVE_STUN``), in order."""
        return tuple(a for a in self.applications if a.event is EventCode.DRIVE_STUN)

    @property
    def long_applications(self) -> tuple[Application, ...]:
        """Applications longer than :data:`LONG_APPLICATION_MS`."""
        return tuple(a for a in self.applications if a.long)

    @property
    def interrupted_cycles(self) -> tuple[Cycle, ...]:
        """Cycles logged as more than one activation."""
        return tuple(c for c in self.cycles if c.interrupted)

    @property
    def repeats(self) -> tuple[DeployedCartridge, ...]:
        """Cartridges re-energised after their deployment (``repeat_pulls`` > 0)."""
        return tuple(c for c in self.cartridges if c.repeat_pulls)

    @property
    def serials(self) -> tuple[str, ...]:
        """The serials of the cartridges deployed, in order."""
        return tuple(c.serial for c in self.cartridges)

    def connections_by_bay(self) -> dict[int, tuple[int, int]]:
        """Per bay: (circuits made, misses), bays in ascending order."""
        counts: dict[int, list[int]] = {}
        for c in self.connections:
            counts.setdefault(c.bay, [0, 0])[0 if c.circuit else 1] += 1
        return {bay: (made, missed) for bay, (made, missed) in sorted(counts.items())}

    @property
    def span(self) -> tuple[int, int] | None:
        """The closed UTC interval the episode may have occupied: from its earlier corrected
        end minus the bound to its later plus the bound (Unix ms), or ``None`` when either
        end has no corrected time."""
        if self.utc_start_ms is None or self.utc_end_ms is None or self.bound_ms is None:
            return None
        lo, hi = sorted((self.utc_start_ms, self.utc_end_ms))
        return lo - self.bound_ms, hi + self.bound_ms

    def as_dict(
        self, *, custody: Custody | None = None, reports: Iterable[str] = ()
    ) -> dict[str, Any]:
        """The episode as the JSON object of ``taserlink reconcile --json`` (design §8).

        The contract's keys come first — ``device``, ``seq_first``, ``seq_last``,
        ``utc_start``, ``utc_end`` (ISO 8601 UTC with ``Z``, ``null`` when not corrected),
        ``bound_ms``, ``officer`` (the holder by ``custody``, ``null`` when nobody or
        several held it, or no custody is given), ``kind``, ``highest_use`` (``null`` when
        the device saw none), ``reports`` (the ids given) — then the detail: ``custody``
        (its state and officers), the bounds and flags, device times (ISO 8601, no zone),
        and what the device saw.
        """
        return {
            "device": self.device,
            "seq_first": self.seq_first,
            "seq_last": self.seq_last,
            "utc_start": None if self.utc_start_ms is None else utc_iso(self.utc_start_ms),
            "utc_end": None if self.utc_end_ms is None else utc_iso(self.utc_end_ms),
            "bound_ms": self.bound_ms,
            "officer": None if custody is None else custody.officer,
            "kind": self.kind.value,
            "highest_use": None if self.highest_use is None else self.highest_use.value,
            "reports": list(reports),
            "custody": None if custody is None else custody.as_dict(),
            "records": self.records,
            "bounded_by": self.bounded_by.value,
            "open_start": self.open_start,
            "open_end": self.open_end,
            "device_start": device_time_iso(self.device_start_ms),
            "device_end": device_time_iso(self.device_end_ms),
            "armed_ms": self.armed_ms,
            "laser_shown": self.laser_shown,
            "warning_arcs": [a.as_dict() for a in self.arcs],
            "trigger_pulls": [a.as_dict() for a in self.trigger_pulls],
            "drive_stuns": [a.as_dict() for a in self.drive_stuns],
            "long_applications": [a.seq for a in self.long_applications],
            "cycles": [c.as_dict() for c in self.cycles],
            "interrupted_cycles": len(self.interrupted_cycles),
            "connections": [c.as_dict() for c in self.connections],
            "connections_by_bay": {
                str(bay): {"made": made, "missed": missed}
                for bay, (made, missed) in self.connections_by_bay().items()
            },
            "cartridges": [c.as_dict() for c in self.cartridges],
            "function_tests": self.function_tests,
        }


# -- grouping records into episodes ---------------------------------------------------

_ACTIVITY: Final = (
    EventCode.LASER_ON,
    EventCode.WARNING_ARC,
    EventCode.TRIGGER,
    EventCode.CONNECTION,
    EventCode.DEPLOY,
    EventCode.DRIVE_STUN,
    EventCode.FUNCTION_TEST,
)
"""Codes that form an unbounded episode (rule 3) when outside every other episode."""
_COUNTED: Final = (
    EventCode.UNHOLSTER,
    EventCode.HOLSTER,
    EventCode.ARM,
    EventCode.SAFE,
    *_ACTIVITY,
)
"""Codes counted per episode: column ``i + 1`` of the count table (column 0: any other)."""
_COLUMN: Final = np.zeros(1 << 16, np.intp)
_COLUMN[[int(c) for c in _COUNTED]] = np.arange(1, len(_COUNTED) + 1)
_C: Final = {code: i + 1 for i, code in enumerate(_COUNTED)}
_DETAIL: Final = (
    EventCode.WARNING_ARC,
    EventCode.TRIGGER,
    EventCode.DRIVE_STUN,
    EventCode.CONNECTION,
    EventCode.DEPLOY,
    EventCode.CARTRIDGE_INSERT,
    EventCode.CARTRIDGE_REMOVE,
)
"""Codes whose records are looked at one by one (few: energy, arcs, cartridges)."""
_USE_CODES: Final = (
    EventCode.LASER_ON,
    EventCode.WARNING_ARC,
    EventCode.TRIGGER,
    EventCode.DEPLOY,
    EventCode.DRIVE_STUN,
)
"""Codes that make an episode holding a function test more than a test."""
_BOUNDS: Final = (Bounds.HOLSTER, Bounds.ARM, Bounds.NONE)
_KINDS: Final = (EpisodeKind.USE, EpisodeKind.TEST, EpisodeKind.TRAINING)
_LEVELS: Final = (
    None,
    UseLevel.DRAWN,
    UseLevel.RED_DOTTED,
    UseLevel.ARCED,
    UseLevel.DRIVE_STUN,
    UseLevel.FIRED,
)
"""Highest use by the index :func:`_highest` gives (0: none)."""

_IntArray = npt.NDArray[np.int64]
_BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class _Groups:
    """Episodes as index arrays over a log's records, ordered by first record."""

    first: _IntArray
    last: _IntArray
    bounds: _IntArray
    """Index into ``_BOUNDS``."""
    open_start: _BoolArray
    open_end: _BoolArray

    @classmethod
    def of(
        cls, parts: Sequence[tuple[_IntArray, _IntArray, int, _BoolArray, _BoolArray]]
    ) -> _Groups:
        first = np.concatenate([p[0] for p in parts]).astype(np.int64)
        order = np.argsort(first, kind="stable")
        return cls(
            first[order],
            np.concatenate([p[1] for p in parts]).astype(np.int64)[order],
            np.concatenate([np.full(len(p[0]), p[2], np.int64) for p in parts])[order],
            np.concatenate([p[3] for p in parts]).astype(np.bool_)[order],
            np.concatenate([p[4] for p in parts]).astype(np.bool_)[order],
        )

    def covered(self, n: int) -> _BoolArray:
        """Per record of ``n``: inside an episode."""
        return _covered(self.first, self.last, n)


def _covered(first: _IntArray, last: _IntArray, n: int) -> _BoolArray:
    """Per record: inside one of the disjoint closed intervals ``[first, last]``."""
    depth = np.zeros(n + 1, np.int64)
    depth[first] += 1
    depth[last + 1] -= 1
    return np.asarray(np.cumsum(depth[:n]) > 0)


def _runs(mask: _BoolArray) -> tuple[_IntArray, _IntArray]:
    """First and last index of each maximal run of ``True``."""
    step = np.diff(mask.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    return np.flatnonzero(step == 1), np.flatnonzero(step == -1) - 1


def _pair(
    opening: _BoolArray,
    closing: _BoolArray,
    stretch: _IntArray,
    stretch_first: _IntArray,
    stretch_last: _IntArray,
) -> tuple[_IntArray, _IntArray, _BoolArray, _BoolArray]:
    """Episodes from opening and closing events, each stretch of records on its own.

    ``opening`` / ``closing`` mark the events (``False`` outside every stretch);
    ``stretch[i]`` is record ``i``'s stretch (read only where an event is), whose first and
    last records are ``stretch_first`` / ``stretch_last``.  Returns ``(first, last,
    open_start, open_end)`` (the rules of the module docstring).
    """
    events = np.flatnonzero(opening | closing)
    m = len(events)
    where = stretch[events]
    opens = opening[events]
    same_next = np.zeros(m, np.bool_)
    same_next[:-1] = where[1:] == where[:-1]
    same_prev = np.zeros(m, np.bool_)
    same_prev[1:] = same_next[:-1]
    next_event = np.zeros(m, np.int64)
    next_event[:-1] = events[1:]
    prev_event = np.zeros(m, np.int64)
    prev_event[1:] = events[:-1]
    next_opens = np.zeros(m, np.bool_)
    next_opens[:-1] = opens[1:]
    prev_opens = np.zeros(m, np.bool_)
    prev_opens[1:] = opens[:-1]

    k = np.flatnonzero(opens)
    closed = same_next[k] & ~next_opens[k]
    cut = same_next[k] & next_opens[k]
    opened_last = np.where(
        closed, next_event[k], np.where(cut, next_event[k] - 1, stretch_last[where[k]])
    )
    j = np.flatnonzero(~opens & ~(same_prev & prev_opens))
    orphan_first = np.where(same_prev[j], prev_event[j] + 1, stretch_first[where[j]])
    return (
        np.concatenate([events[k], orphan_first]),
        np.concatenate([opened_last, events[j]]),
        np.concatenate([np.zeros(len(k), np.bool_), np.ones(len(j), np.bool_)]),
        np.concatenate([~closed, np.zeros(len(j), np.bool_)]),
    )


def _group(codes: npt.ArrayLike) -> _Groups:
    """The episodes of a log whose records have event ``codes`` (in sequence order), as
    index arrays: the module docstring's rules, vectorised.  Any order of any codes is
    accepted (unknown codes are neither bounds nor activity)."""
    code = np.asarray(codes, dtype=np.int64)
    n = len(code)
    parts: list[tuple[_IntArray, _IntArray, int, _BoolArray, _BoolArray]] = []
    free = np.ones(n, np.bool_)
    if np.any((code == EventCode.UNHOLSTER) | (code == EventCode.HOLSTER)):
        whole = np.zeros(n, np.int64)
        ends = np.array([0], np.int64), np.array([n - 1], np.int64)
        first, last, o_start, o_end = _pair(
            code == EventCode.UNHOLSTER, code == EventCode.HOLSTER, whole, *ends
        )
        parts.append((first, last, 0, o_start, o_end))
        free = ~_covered(first, last, n)
    s_first, s_last = _runs(free)
    marks = np.zeros(n, np.int64)
    marks[s_first] = 1
    stretch = np.cumsum(marks) - 1
    first, last, o_start, o_end = _pair(
        free & (code == EventCode.ARM), free & (code == EventCode.SAFE), stretch, s_first, s_last
    )
    parts.append((first, last, 1, o_start, o_end))
    free &= ~_covered(first, last, n)
    first, last = _runs(free & np.isin(code, [int(c) for c in _ACTIVITY]))
    none = np.zeros(len(first), np.bool_)
    parts.append((first, last, 2, none, none))
    return _Groups.of(parts)


def _highest(counts: _IntArray) -> _IntArray:
    """Per episode (rows of the count table): the index into ``_LEVELS`` of its highest use."""
    drawn = counts[:, [_C[c] for c in _COUNTED[:4]]].sum(axis=1) > 0
    conditions = [
        counts[:, _C[EventCode.DEPLOY]] > 0,
        counts[:, _C[EventCode.DRIVE_STUN]] > 0,
        counts[:, _C[EventCode.WARNING_ARC]] > 0,
        counts[:, _C[EventCode.LASER_ON]] > 0,
        drawn,
    ]
    return np.asarray(np.select(conditions, [5, 4, 3, 2, 1], 0), np.int64)


@dataclass(frozen=True)
class _Detail:
    """The detail records inside episodes, as Python lists (one entry per record)."""

    code: list[int]
    seq: list[int]
    device_ms: list[int]
    duration: list[int]
    bay: list[int]
    circuit: list[int]
    pulses: list[int]
    charge: list[int]
    serial: list[str]


def _detail(records: npt.NDArray[Any], rows: _IntArray) -> _Detail:
    """The fields :func:`_energy` reads of the records at ``rows`` (all of ``_DETAIL``)."""
    chosen = records[rows]
    code = np.asarray(chosen["code"], np.int64)
    k = len(rows)
    duration = np.zeros(k, np.int64)
    bay = np.zeros(k, np.int64)
    circuit = np.zeros(k, np.int64)
    pulses = np.zeros(k, np.int64)
    charge = np.zeros(k, np.int64)
    serial = [""] * k
    for event in _DETAIL:
        at = np.flatnonzero(code == event)
        if not len(at):
            continue
        view = payload_view(chosen[at], event)
        names = view.dtype.names or ()
        if "duration_ms" in names:
            duration[at] = view["duration_ms"]
        if "bay" in names:
            bay[at] = view["bay"]
        if event is EventCode.CONNECTION:
            circuit[at] = view["circuit"]
            pulses[at] = view["pulses"]
            charge[at] = view["charge_uc"]
        if event is EventCode.DEPLOY:
            for i, raw in zip(at.tolist(), view["serial"].tolist(), strict=True):
                serial[i] = raw.decode("ascii", "backslashreplace")
    return _Detail(
        code.tolist(),
        np.asarray(chosen["seq"], np.int64).tolist(),
        np.asarray(chosen["time_ms"], np.uint64).tolist(),
        duration.tolist(),
        bay.tolist(),
        circuit.tolist(),
        pulses.tolist(),
        charge.tolist(),
        serial,
    )


_Energy = tuple[
    tuple[Arc, ...],
    tuple[Application, ...],
    tuple[Cycle, ...],
    tuple[Connection, ...],
    tuple[DeployedCartridge, ...],
]


def _energy(d: _Detail, lo: int, hi: int) -> _Energy:
    """Arcs, applications, cycles, connections and cartridges of one episode, from its
    detail records ``lo:hi``."""
    arcs: list[Arc] = []
    applications: list[Application] = []
    connections: list[Connection] = []
    deployed: list[list[Any]] = []  # [seq, bay, serial, repeat pulls, still counting]
    for i in range(lo, hi):
        code, seq = d.code[i], d.seq[i]
        if code == EventCode.WARNING_ARC:
            arcs.append(Arc(seq, d.device_ms[i], d.duration[i]))
        elif code == EventCode.TRIGGER or code == EventCode.DRIVE_STUN:
            trigger = code == EventCode.TRIGGER
            bay = d.bay[i] if trigger and d.bay[i] != NO_BAY else None
            event = EventCode.TRIGGER if trigger else EventCode.DRIVE_STUN
            applications.append(Application(seq, event, d.device_ms[i], d.duration[i], bay))
            if bay is not None:
                for cartridge in deployed:
                    if cartridge[4] and cartridge[1] == d.bay[i]:
                        cartridge[3] += 1
        elif code == EventCode.CONNECTION:
            connections.append(
                Connection(seq, d.bay[i], bool(d.circuit[i]), d.pulses[i], d.charge[i])
            )
        else:  # DEPLOY, CARTRIDGE_INSERT, CARTRIDGE_REMOVE: the bay's cartridge changes
            for cartridge in deployed:
                if cartridge[1] == d.bay[i]:
                    cartridge[4] = False
            if code == EventCode.DEPLOY:
                deployed.append([seq, d.bay[i], d.serial[i], 0, True])
    return (
        tuple(arcs),
        tuple(applications),
        _cycles(applications),
        tuple(connections),
        tuple(DeployedCartridge(s, b, serial, n) for s, b, serial, n, _ in deployed),
    )


def _cycles(applications: Sequence[Application]) -> tuple[Cycle, ...]:
    """Applications with interrupted cycles joined (the module docstring's rule)."""
    cycles: list[Cycle] = []
    previous: Application | None = None
    for a in applications:
        if (
            previous is not None
            and previous.duration_ms < STANDARD_CYCLE_MS
            and a.event is previous.event
            and a.bay == previous.bay
            and abs(a.device_ms - (previous.device_ms + previous.duration_ms)) <= INTERRUPTED_GAP_MS
        ):
            last = cycles[-1]
            cycles[-1] = Cycle(
                (*last.seqs, a.seq), last.event, last.bay, last.duration_ms + a.duration_ms
            )
        else:
            cycles.append(Cycle((a.seq,), a.event, a.bay, a.duration_ms))
        previous = a
    return tuple(cycles)


def episodes(timeline: DeviceTimeline, *, training_device: bool = False) -> tuple[Episode, ...]:
    """The use episodes of one device, in sequence order (rules: the module docstring).

    Args:
        timeline: the device's merged log and clock model.
        training_device: the device is a training device (nothing in a log says so; a
            caller that knows, from a register or a force's list, says it here): every
            episode that is not a test is ``training``.

    Returns:
        Every episode; empty for a log with none.  Never raises for any order of records:
        malformed orders are flagged (``open_start`` / ``open_end``), not refused.
    """
    records = timeline.records
    n = len(records)
    if n == 0:
        return ()
    code = np.asarray(records["code"], np.int64)
    groups = _group(code)
    e = len(groups.first)
    if e == 0:
        return ()

    # Which episode each record is in (-1: none), and counts of each counted code.
    inside = groups.covered(n)
    marks = np.zeros(n, np.int64)
    marks[groups.first] = 1
    owner = np.where(inside, np.cumsum(marks) - 1, -1)
    column = _COLUMN[code]
    counted = inside & (column > 0)
    width = len(_COUNTED) + 1
    counts = np.bincount(owner[counted] * width + column[counted], minlength=e * width).reshape(
        e, width
    )
    safe_rows = np.flatnonzero(inside & (code == EventCode.SAFE))
    armed = np.bincount(
        owner[safe_rows],
        weights=payload_view(records[safe_rows], EventCode.SAFE)["armed_ms"].astype(np.float64),
        minlength=e,
    )
    highest = _highest(counts)
    use_events = counts[:, [_C[c] for c in _USE_CODES]].sum(axis=1)
    test = (counts[:, _C[EventCode.FUNCTION_TEST]] > 0) & (use_events == 0)

    # Times of the first and last records.
    utc, bound, _, _ = timeline.corrected(np.concatenate([groups.first, groups.last]))
    seq = np.asarray(records["seq"], np.int64)
    device_ms = np.asarray(records["time_ms"], np.uint64)

    # The detail records, by episode: Python only for the episodes that have any.
    detail_rows = np.flatnonzero(inside & np.isin(code, [int(c) for c in _DETAIL]))
    detail = _detail(records, detail_rows)
    detail_owner = owner[detail_rows]
    numbers = np.arange(e)
    detail_lo = np.searchsorted(detail_owner, numbers, "left")
    detail_hi = np.searchsorted(detail_owner, numbers, "right")
    kinds = [_KINDS[k] for k in np.where(test, 1, 2 if training_device else 0).tolist()]
    energy: list[list[Any]] = [[()] * e for _ in range(5)]
    stuns = counts[:, _C[EventCode.DRIVE_STUN]]
    for k in np.flatnonzero(detail_hi > detail_lo).tolist():
        seen = _energy(detail, int(detail_lo[k]), int(detail_hi[k]))
        for held, value in zip(energy, seen, strict=True):
            held[k] = value
        cartridges = seen[4]
        if (
            kinds[k] is EpisodeKind.USE
            and cartridges
            and not stuns[k]
            and all(c.training for c in cartridges)
        ):
            kinds[k] = EpisodeKind.TRAINING

    ends = e + numbers
    return tuple(
        map(
            Episode,
            itertools.repeat(timeline.serial, e),
            seq[groups.first].tolist(),
            seq[groups.last].tolist(),
            (groups.last - groups.first + 1).tolist(),
            device_ms[groups.first].tolist(),
            device_ms[groups.last].tolist(),
            _whole(utc[:e]),
            _whole(utc[ends]),
            _whole(np.maximum(bound[:e], bound[ends])),  # NaN when either end has none
            [_BOUNDS[b] for b in groups.bounds.tolist()],
            groups.open_start.tolist(),
            groups.open_end.tolist(),
            kinds,
            [_LEVELS[level] for level in highest.tolist()],
            np.rint(armed).astype(np.int64).tolist(),
            counts[:, _C[EventCode.LASER_ON]].tolist(),
            counts[:, _C[EventCode.FUNCTION_TEST]].tolist(),
            *energy,
        )
    )


def _whole(values: npt.NDArray[np.float64]) -> list[int | None]:
    """Whole numbers as ``int``, NaN as ``None``."""
    missing = np.isnan(values)
    out: list[int | None] = list(np.where(missing, 0, values).astype(np.int64).tolist())
    for i in np.flatnonzero(missing).tolist():
        out[i] = None
    return out


# -- who held the device --------------------------------------------------------------


def holder(episode: Episode, issues: IssueList) -> Custody:
    """Who held the episode's device over its whole :attr:`~Episode.span`, by the issue
    list (:func:`~taserlink.forensics.link.custody.custody_over`, the rule linkage uses).

    ``custody.officer`` is the holder when one officer held the device at every instant of
    the span (state ``held``); it is ``None`` when nobody did (``not_out``), when several
    did or the holder changed within it (``uncertain``: ``custody.officers`` names them),
    when the device is not in the list (``not_listed``), or when the episode has no
    corrected time (``unplaced``).  A register's custody comes as an issue list through
    :func:`taserlink.forensics.issues.issues_from_register`.
    """
    return custody_over(issues, episode.device, episode.span)


def holders(episodes: Iterable[Episode], issues: IssueList) -> tuple[Custody, ...]:
    """:func:`holder` of each episode, in order — the same answers, found faster: per
    device, each span is placed among that device's issues by ``searchsorted``; a span
    inside one issue (``held``) or outside all (``not_out``) is answered there, and only a
    span that straddles an issue or a return, or has no corrected time, is asked of
    :func:`~taserlink.forensics.link.custody.custody_over`."""
    chosen = list(episodes)
    out: list[Custody | None] = [None] * len(chosen)
    by_device: dict[str, list[int]] = {}
    for i, episode in enumerate(chosen):
        by_device.setdefault(episode.device, []).append(i)
    far = np.iinfo(np.int64).max
    for device, indices in by_device.items():
        history = issues.of(device)
        spans = [chosen[i].span for i in indices]
        placed = [i for i, s in zip(indices, spans, strict=True) if s is not None]
        if history and placed:
            issued = np.array([h.issued_ms for h in history], np.int64)
            returned = np.array(
                [far if h.returned_ms is None else h.returned_ms for h in history], np.int64
            )
            lo = np.array([s[0] for s in spans if s is not None], np.int64)
            hi = np.array([s[1] for s in spans if s is not None], np.int64)
            first = np.searchsorted(returned, lo, "right")  # first issue still out at lo
            last = np.searchsorted(issued, hi, "right") - 1  # last issue out by hi
            inside = (first == last) & (issued[np.minimum(first, len(history) - 1)] <= lo)
            inside &= hi < returned[np.minimum(first, len(history) - 1)]
            for i, j, before, within in zip(
                placed, first.tolist(), (last < first).tolist(), inside.tolist(), strict=True
            ):
                if before:
                    out[i] = Custody(CustodyState.NOT_OUT)
                elif within:
                    out[i] = Custody(CustodyState.HELD, (history[j].officer,), (history[j],))
    return tuple(
        found if found is not None else custody_over(issues, e.device, e.span)
        for found, e in zip(out, chosen, strict=True)
    )
