"""Linkage: AFID reads → cartridge → ``DEPLOY`` event → officer, and what does not fit.

:func:`link` takes three things an examiner has after an incident:

- **images**: downloads (``.tdi``) of the devices concerned — several downloads of one
  device are normal; their records are merged by sequence number, so a ``DEPLOY`` seen in
  two downloads is one deployment;
- the **issue list** (:mod:`taserlink.forensics.issues`): which officer had which device
  and which cartridge, and when;
- the **match results** (:class:`~taserlink.forensics.results.MatchRow`, as
  ``taserlink match`` writes them): the cartridges the recovered AFID tags point to.

For each cartridge that an exhibit's reads point to (status ``match``; status
``ambiguous`` links its best serial as an **unconfirmed candidate**, flagged in every
output; ``none`` links nothing) it builds a :class:`LinkRow`: every ``DEPLOY`` record of
that serial in any image (:class:`Deployment`: device, sequence, bay, device time, UTC
corrected by the device's :class:`~taserlink.timeline.clock.ClockModel` with its ± bound,
the images holding the record and whether one of them verified), who held the device then
and to whom the cartridge was signed out then (:class:`Custody`, judged over the whole
± bound of the corrected time).  It also holds the cartridge's **history**: every
``CARTRIDGE_INSERT``, ``CARTRIDGE_REMOVE`` and ``DEPLOY`` record naming the serial in any
device's merged log (:class:`CartridgeEvent`, each with its corrected time and the officer
holding that device then), so a cartridge handed from one device to another can be
followed through the logs.

What does not fit is reported as :class:`LinkFinding` data (never raised), each with a
:class:`LinkKind` (stable string values), a severity, the serial, exhibits, device,
sequence and image concerned and one line of explanation.  ``error`` means the chain as
claimed is contradicted (or rests on an image that failed verification); ``warning`` that
it may hold but needs an examiner's explanation (an uncertain time, an unconfirmed match);
``info`` that something is worth knowing.  ``docs/linkage.md`` states every kind, its
severity and why.

Time rules: a corrected time ``utc ± bound`` stands for the closed interval
``[utc - bound, utc + bound]``; a question about it (was the cartridge out? which officer?
inside the incident window?) has a definite answer only when it has the same answer at
every instant of the interval, and otherwise is a warning.  A deployment whose device time
cannot be corrected (no download anchors its clock epoch) cannot be placed in time at all:
the time-dependent checks are not made and a warning says so.
"""

from __future__ import annotations

import dataclasses
import enum
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from taserlink.errors import LinkError, SerialError, TaserlinkError, TimelineError
from taserlink.forensics.issues import Issue, IssueList, officer_key
from taserlink.forensics.results import MatchRow, MatchStatus
from taserlink.format import EventCode, Image, payload_view, read_image
from taserlink.integrity import Severity, TrustStore, verify_image
from taserlink.serials import CARTRIDGE_SCHEME
from taserlink.timeline import ClockModel, ClockSettings, CorrectedTime, DeviceTimeline
from taserlink.timeline.times import device_time_text, utc_text

__all__ = [
    "IMAGE_SUFFIX",
    "CartridgeEvent",
    "Custody",
    "CustodyState",
    "Deployment",
    "DeviceSummary",
    "ImageSummary",
    "LinkFinding",
    "LinkKind",
    "LinkRow",
    "Linkage",
    "Severity",
    "Window",
    "image_paths",
    "link",
    "read_images",
]

IMAGE_SUFFIX: Final = ".tdi"
"""The suffix of dataport images (any case)."""


# -- the result's types -------------------------------------------------------------------


class LinkKind(enum.Enum):
    """What a linkage finding is about (stable string values; ``docs/linkage.md``)."""

    CARTRIDGE_NOT_ISSUED = "cartridge_not_issued"
    """The recovered cartridge's serial is nowhere in the issue list."""
    CARTRIDGE_NOT_OUT = "cartridge_not_out"
    """The cartridge is in the issue list but was not signed out when it was deployed
    (deployed before its issue, after its return, or between two issues)."""
    OTHER_OFFICER = "other_officer"
    """The cartridge was signed out to another officer than the one holding the device
    that deployed it."""
    DEVICE_NOT_LISTED = "device_not_listed"
    """The device that deployed the cartridge is nowhere in the issue list."""
    DEVICE_NOT_OUT = "device_not_out"
    """The device is in the issue list but was issued to nobody when it deployed."""
    DEPLOYED_TWICE = "deployed_twice"
    """Two or more distinct ``DEPLOY`` records name one cartridge serial."""
    OUTSIDE_WINDOW = "outside_window"
    """The deployment's corrected time lies outside the incident window (or its bound
    reaches outside it)."""
    UNCORRECTED_TIME = "uncorrected_time"
    """The deployment's device time cannot be corrected to UTC: it cannot be placed."""
    NO_DEPLOY = "no_deploy"
    """A recovered cartridge has no ``DEPLOY`` record in any image."""
    AMBIGUOUS_MATCH = "ambiguous_match"
    """An exhibit's reads fit several serials comparably: its link is a candidate only."""
    UNMATCHED_EXHIBIT = "unmatched_exhibit"
    """An exhibit's reads (or some of them) match no serial: nothing to link."""
    UNRECOVERED_DEPLOY = "unrecovered_deploy"
    """A ``DEPLOY`` that may lie in the incident window, of a cartridge no exhibit points to."""
    UNVERIFIED_IMAGE = "unverified_image"
    """An image failed integrity verification."""
    IMAGES_NOT_VERIFIED = "images_not_verified"
    """No trust store was given: no image was verified."""
    CLOCK_MODEL = "clock_model"
    """A device's clock model has a warning (anchors that disagree, a time jump)."""
    CARTRIDGE_MOVED = "cartridge_moved"
    """The logs show the recovered cartridge inserted into more than one device."""


_KIND_ORDER: Final = {kind: index for index, kind in enumerate(LinkKind)}
_SEVERITY_ORDER: Final = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass(frozen=True)
class LinkFinding:
    """One thing linkage found.

    Attributes:
        kind: what it is about.
        severity: how much it matters (see the module docstring).
        message: one line for the examiner.
        serial: the cartridge serial concerned, if any.
        exhibits: the exhibits whose reads point to it (or the one exhibit concerned).
        device: the device serial concerned, if any.
        seq: the ``DEPLOY`` record's sequence number, if one record is concerned.
        image: the image concerned (its name), if one is.
    """

    kind: LinkKind
    severity: Severity
    message: str
    serial: str | None = None
    exhibits: tuple[str, ...] = ()
    device: str | None = None
    seq: int | None = None
    image: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The finding as a JSON object (keys as the attributes; enums as their values)."""
        return {
            "kind": self.kind.value,
            "severity": self.severity.value,
            "message": self.message,
            "serial": self.serial,
            "exhibits": list(self.exhibits),
            "device": self.device,
            "seq": self.seq,
            "image": self.image,
        }

    def __str__(self) -> str:
        return f"{self.severity.value}: {self.kind.value}: {self.message}"


@dataclass(frozen=True)
class Window:
    """The incident window: UTC ``start_ms`` to ``end_ms`` (Unix ms), both included.

    Raises:
        LinkError: the window ends before it starts.
    """

    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if self.end_ms < self.start_ms:
            raise LinkError(
                f"the incident window ends ({utc_text(self.end_ms)}) before it starts "
                f"({utc_text(self.start_ms)})"
            )

    def __str__(self) -> str:
        return f"{utc_text(self.start_ms)} to {utc_text(self.end_ms)}"


class CustodyState(enum.Enum):
    """What the issue list says about a serial over a deployment's time interval."""

    HELD = "held"
    """Out to one officer at every instant of the interval."""
    UNCERTAIN = "uncertain"
    """The interval straddles an issue or a return: ``officers`` may have had it (and at
    some instants perhaps nobody)."""
    NOT_OUT = "not_out"
    """In the issue list, but out to nobody at any instant of the interval."""
    NOT_LISTED = "not_listed"
    """Not in the issue list at all."""
    UNPLACED = "unplaced"
    """The time could not be corrected: ``officers`` are all who ever had it."""


@dataclass(frozen=True)
class Custody:
    """Who had a serial at a deployment, by the issue list.

    Attributes:
        state: see :class:`CustodyState`.
        officers: the officers who had it at some instant of the time's interval, in time
            order (for ``UNPLACED``: everyone it was ever issued to); empty for
            ``NOT_OUT`` and ``NOT_LISTED``.
        issues: the issues those officers had it on (for messages and reports).
    """

    state: CustodyState
    officers: tuple[str, ...] = ()
    issues: tuple[Issue, ...] = ()

    @property
    def officer(self) -> str | None:
        """The officer when the state is ``HELD``, else ``None``."""
        return self.officers[0] if self.state is CustodyState.HELD else None

    def __str__(self) -> str:
        names = " or ".join(self.officers)
        texts = {
            CustodyState.HELD: names,
            CustodyState.UNCERTAIN: f"uncertain: {names} (the time's bound straddles an issue)",
            CustodyState.NOT_OUT: "issued to nobody then",
            CustodyState.NOT_LISTED: "not in the issue list",
            CustodyState.UNPLACED: f"time not placed; ever issued to {names}",
        }
        return texts[self.state]

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state.value, "officers": list(self.officers)}


@dataclass(frozen=True)
class CartridgeEvent:
    """One record of a cartridge's history: inserted, removed or deployed.

    Attributes:
        event: ``CARTRIDGE_INSERT``, ``CARTRIDGE_REMOVE`` or ``DEPLOY``.
        device: the device serial whose log holds the record.
        seq: the record's sequence number.
        bay: the bay concerned.
        serial: the cartridge serial as the device recorded it (canonical when valid).
        time: the device time corrected to UTC by the device's clock model (``utc_ms`` /
            ``bound_ms`` ``None`` when it cannot be; ``time.note`` says why).
        images: the names of the images holding the record.
        verified: ``True`` when one of those images passed verification, ``False`` when
            none did, ``None`` when images were not verified.
        device_custody: who held the device then, by the issue list (over the ± bound).
    """

    event: EventCode
    device: str
    seq: int
    bay: int
    serial: str
    time: CorrectedTime
    images: tuple[str, ...]
    verified: bool | None
    device_custody: Custody

    @property
    def device_ms(self) -> int:
        """The device time of the record (ms since 2000-01-01 on the device clock)."""
        return self.time.device_ms

    @property
    def span(self) -> tuple[int, int] | None:
        """The closed UTC interval ``(earliest, latest)`` of the record, or ``None``."""
        return _span_of(self.time)

    def where(self) -> str:
        """``device D… seq N``."""
        return f"device {self.device} seq {self.seq}"

    def time_text(self) -> str:
        """``UTC <iso> ± <n> ms``, or the device time marked not corrected."""
        return _short_time(self.time)

    def full_time_text(self) -> str:
        """``UTC <iso> ± <n> ms (device time <iso>)``, or the device time and why it has no
        correction."""
        device = f"device time {device_time_text(self.device_ms)}"
        if self.time.utc_ms is None:
            return f"{device}, not corrected ({self.time.note})"
        return f"UTC {utc_text(self.time.utc_ms)} ± {self.time.bound_ms} ms ({device})"

    def sort_key(self) -> tuple[int, int, str, int]:
        """History order: by corrected UTC; uncorrected records last, by device and seq."""
        if self.time.utc_ms is None:
            return 1, 0, self.device, self.seq
        return 0, self.time.utc_ms, self.device, self.seq

    def as_dict(self) -> dict[str, Any]:
        span = self.span
        return {
            "event": self.event.name,
            "device": self.device,
            "seq": self.seq,
            "bay": self.bay,
            "serial": self.serial,
            "device_time": device_time_text(self.device_ms),
            "device_time_ms": self.device_ms,
            "utc": None if self.time.utc_ms is None else utc_text(self.time.utc_ms),
            "utc_ms": self.time.utc_ms,
            "bound_ms": self.time.bound_ms,
            "utc_earliest": None if span is None else utc_text(span[0]),
            "utc_latest": None if span is None else utc_text(span[1]),
            "epoch": self.time.epoch,
            "time_note": self.time.note,
            "images": list(self.images),
            "verified": self.verified,
            "device_custody": self.device_custody.as_dict(),
        }


@dataclass(frozen=True)
class Deployment(CartridgeEvent):
    """One ``DEPLOY`` record (``event`` is ``DEPLOY``), its corrected time and who had the
    device and the cartridge then.

    Attributes:
        cartridge_custody: to whom the cartridge was signed out then (the other attributes
            are :class:`CartridgeEvent`'s).
    """

    cartridge_custody: Custody

    def as_dict(self) -> dict[str, Any]:
        fields = super().as_dict()
        del fields["event"]
        return {**fields, "cartridge_custody": self.cartridge_custody.as_dict()}


def _span_of(time: CorrectedTime) -> tuple[int, int] | None:
    if time.utc_ms is None or time.bound_ms is None:
        return None
    return time.utc_ms - time.bound_ms, time.utc_ms + time.bound_ms


def _short_time(time: CorrectedTime) -> str:
    """``UTC <iso> ± <n> ms``, or ``device time <iso> (not corrected)``."""
    if time.utc_ms is None:
        return f"device time {device_time_text(time.device_ms)} (not corrected)"
    return f"UTC {utc_text(time.utc_ms)} ± {time.bound_ms} ms"


HISTORY_EVENTS: Final = (EventCode.CARTRIDGE_INSERT, EventCode.CARTRIDGE_REMOVE, EventCode.DEPLOY)
"""The record kinds a cartridge's history is made of (each names the cartridge's serial)."""


@dataclass(frozen=True)
class LinkRow:
    """One recovered cartridge and its chain.

    Attributes:
        serial: the cartridge serial (canonical).
        status: ``MATCH`` when some exhibit's reads match it, else ``AMBIGUOUS`` (it is
            only the best of several comparable serials: an unconfirmed candidate).
        exhibits: the exhibits whose reads point to it, in input order.
        score: the highest score any of those rows gives it.
        matches: the match rows it comes from.
        deployments: every ``DEPLOY`` record of the serial in the images, by device and
            sequence (more than one is a ``deployed_twice`` finding).
        cartridge_issues: the cartridge's issues in the issue list, earliest first.
        history: every ``CARTRIDGE_INSERT``, ``CARTRIDGE_REMOVE`` and ``DEPLOY`` record
            naming the serial in any device's merged log (a record in two downloads of one
            device once), by corrected UTC; records whose time cannot be corrected last, by
            device and sequence.
    """

    serial: str
    status: MatchStatus
    exhibits: tuple[str, ...]
    score: float | None
    matches: tuple[MatchRow, ...]
    deployments: tuple[Deployment, ...]
    cartridge_issues: tuple[Issue, ...]
    history: tuple[CartridgeEvent, ...] = ()

    @property
    def confirmed(self) -> bool:
        """True when some exhibit's reads *match* the serial (not merely ambiguous)."""
        return self.status is MatchStatus.MATCH

    def as_dict(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "status": self.status.value,
            "confirmed": self.confirmed,
            "score": self.score,
            "exhibits": list(self.exhibits),
            "deployments": [d.as_dict() for d in self.deployments],
            "cartridge_issues": [_issue_dict(i) for i in self.cartridge_issues],
            "history": [CartridgeEvent.as_dict(e) for e in self.history],
        }

    def devices_inserted(self) -> tuple[str, ...]:
        """The devices the history shows the cartridge inserted into, in history order."""
        return tuple(
            dict.fromkeys(e.device for e in self.history if e.event is EventCode.CARTRIDGE_INSERT)
        )


def _issue_dict(issue: Issue) -> dict[str, Any]:
    return {
        "officer": issue.officer,
        "issued_at": utc_text(issue.issued_ms),
        "returned_at": None if issue.returned_ms is None else utc_text(issue.returned_ms),
        "line": issue.line,
    }


@dataclass(frozen=True)
class ImageSummary:
    """One image as linkage used it.

    Attributes:
        name: the name it was given under (the CLI: its path).
        device: the device serial in its identity.
        records: number of records it holds; ``first_seq``/``last_seq`` their range
            (``None`` when it holds none).
        deployments: number of ``DEPLOY`` records in it.
        acquired_ms: host UTC at the start of the download (Unix ms).
        verified: ``True`` passed verification (no ``error`` finding), ``False`` failed,
            ``None`` not verified (no trust store given).
        problems: the verification's ``error`` findings, one line each.
    """

    name: str
    device: str
    records: int
    first_seq: int | None
    last_seq: int | None
    deployments: int
    acquired_ms: int
    verified: bool | None
    problems: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "device": self.device,
            "records": self.records,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "deployments": self.deployments,
            "acquired": utc_text(self.acquired_ms),
            "verified": self.verified,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class DeviceSummary:
    """One device: its images, its clock model and every ``DEPLOY`` in its log.

    ``clock`` is ``None`` when its images hold no record at all.
    """

    serial: str
    images: tuple[str, ...]
    clock: ClockModel | None
    deployments: tuple[Deployment, ...]
    first_seq: int | None
    """The oldest record any of its images holds (above 1: older records were deleted)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "images": list(self.images),
            "first_seq": self.first_seq,
            "deployments": len(self.deployments),
            "clock_model": None if self.clock is None else self.clock.describe().splitlines(),
            "clock_warnings": [] if self.clock is None else list(self.clock.warnings),
        }


@dataclass(frozen=True)
class Linkage:
    """What :func:`link` found.

    Attributes:
        rows: one per recovered cartridge (status ``match`` or ``ambiguous``), in the
            order the match rows first name them.
        findings: every finding, errors first, then warnings, then info.
        images: the images, in the order given.
        devices: the devices, by serial.
        window: the incident window, if one was given.
        issues_source: where the issue list came from.
        unmatched: the match rows of status ``none``.
    """

    rows: tuple[LinkRow, ...]
    findings: tuple[LinkFinding, ...]
    images: tuple[ImageSummary, ...]
    devices: tuple[DeviceSummary, ...]
    window: Window | None
    issues_source: str
    unmatched: tuple[MatchRow, ...]

    @property
    def ok(self) -> bool:
        """True when no finding is an ``error``."""
        return not any(f.severity is Severity.ERROR for f in self.findings)

    def by_severity(self, severity: Severity) -> tuple[LinkFinding, ...]:
        return tuple(f for f in self.findings if f.severity is severity)

    def kinds(self) -> set[LinkKind]:
        return {f.kind for f in self.findings}

    def counts(self) -> dict[str, int]:
        """Findings per severity value (``error``, ``warning``, ``info``)."""
        return {s.value: len(self.by_severity(s)) for s in _SEVERITY_ORDER}

    def row(self, serial: str) -> LinkRow | None:
        """The row of ``serial`` (canonical), if it was linked."""
        return next((r for r in self.rows if r.serial == serial), None)

    def as_dict(self) -> dict[str, Any]:
        """The whole result as JSON-ready values (what ``taserlink link --json`` writes)."""
        window = self.window
        return {
            "ok": self.ok,
            "counts": self.counts(),
            "window": None
            if window is None
            else {
                "from": utc_text(window.start_ms),
                "to": utc_text(window.end_ms),
                "from_ms": window.start_ms,
                "to_ms": window.end_ms,
            },
            "issues": self.issues_source,
            "images": [i.as_dict() for i in self.images],
            "devices": [d.as_dict() for d in self.devices],
            "links": [r.as_dict() for r in self.rows],
            "unmatched": [
                {"exhibit": r.exhibit, "reads": r.reads, "explanation": r.explanation}
                for r in self.unmatched
            ],
            "findings": [f.as_dict() for f in self.findings],
        }


# -- images -------------------------------------------------------------------------------


def image_paths(directory: str | os.PathLike[str]) -> list[Path]:
    """Every ``*.tdi`` file directly in ``directory`` (suffix in any case), by name.

    Raises:
        LinkError: ``directory`` is not a directory, or holds no image.
    """
    folder = Path(directory)
    try:
        paths = sorted(
            p for p in folder.iterdir() if p.suffix.lower() == IMAGE_SUFFIX and p.is_file()
        )
    except OSError as error:
        raise LinkError(f"{directory}: cannot list images: {error.strerror or error}") from None
    if not paths:
        raise LinkError(f"{directory}: no {IMAGE_SUFFIX} images in it")
    return paths


def read_images(directory: str | os.PathLike[str]) -> dict[str, Image]:
    """Every image of :func:`image_paths`, by its path as text.

    Raises:
        LinkError: no directory, no image, or an image that cannot be read or parsed
            (naming it; a cut download too — re-download it or leave it out).
        ImageIOError: an image file cannot be read (its message names it).
    """
    images: dict[str, Image] = {}
    for path in image_paths(directory):
        try:
            images[str(path)] = read_image(path)
        except TaserlinkError as error:
            if isinstance(error, OSError):
                raise
            raise LinkError(f"{path}: {error}") from error
    return images


# -- linking ------------------------------------------------------------------------------


def _serial_text(raw: bytes) -> str:
    """A cartridge record's serial field as text: canonical when valid, else as stored
    (NUL padding dropped, undecodable bytes replaced)."""
    text = raw.rstrip(b"\0").decode("ascii", "replace")
    try:
        return CARTRIDGE_SCHEME.validate(text)
    except SerialError:
        return text


def _points(issues: IssueList, serials: Iterable[str], lo: int, hi: int) -> list[int]:
    """Instants of ``[lo, hi]`` at which every holder of ``serials`` is sampled: the ends
    and each issue or return strictly inside (holders are constant between them)."""
    inner = {e for s in serials for e in issues.edges(s) if lo < e < hi}
    return sorted({lo, hi} | inner)


def _custody(issues: IssueList, serial: str, span: tuple[int, int] | None) -> Custody:
    history = issues.of(serial)
    if not history:
        return Custody(CustodyState.NOT_LISTED)
    if span is None:
        return Custody(CustodyState.UNPLACED, _officers(history), history)
    holders = [issues.holder_at(serial, p) for p in _points(issues, [serial], *span)]
    present = tuple(dict.fromkeys(h for h in holders if h is not None))
    if not present:
        return Custody(CustodyState.NOT_OUT)
    officers = _officers(present)
    if len(officers) == 1 and all(h is not None for h in holders):
        return Custody(CustodyState.HELD, officers, present)
    return Custody(CustodyState.UNCERTAIN, officers, present)


def _officers(issues: Iterable[Issue]) -> tuple[str, ...]:
    """Distinct officers (by :func:`officer_key`), first spelling kept, in order."""
    seen: dict[str, str] = {}
    for issue in issues:
        seen.setdefault(officer_key(issue.officer), issue.officer)
    return tuple(seen.values())


class _Findings:
    def __init__(self) -> None:
        self.items: list[LinkFinding] = []

    def add(self, kind: LinkKind, severity: Severity, message: str, **where: Any) -> None:
        self.items.append(LinkFinding(kind, severity, message, **where))

    def sorted(self) -> tuple[LinkFinding, ...]:
        return tuple(
            sorted(
                self.items,
                key=lambda f: (
                    _SEVERITY_ORDER[f.severity],
                    _KIND_ORDER[f.kind],
                    f.serial or "",
                    f.exhibits,
                    f.device or "",
                    -1 if f.seq is None else f.seq,
                    f.image or "",
                ),
            )
        )


def link(
    images: Mapping[str, Image],
    issues: IssueList,
    matches: Sequence[MatchRow],
    *,
    window: Window | None = None,
    trust: TrustStore | None = None,
    clock: ClockSettings | None = None,
) -> Linkage:
    """Link recovered cartridges to deployments, devices and officers (module docstring).

    Args:
        images: the device downloads, by name (a path, for messages); any number of
            downloads per device.
        issues: the issue list.
        matches: the match results (every row of ``OUT.csv``).
        window: the incident window, if known (enables ``outside_window`` and
            ``unrecovered_deploy``).
        trust: trusted roots to verify every image against; ``None`` verifies nothing
            (an ``images_not_verified`` warning says so).
        clock: the clock models' settings (default :class:`ClockSettings`: ± 100 ppm,
            hosts on UTC, host clock sets not taken as anchors).

    Raises:
        LinkError: no images; two downloads of one device disagree about a record; a
            ``match`` or ``ambiguous`` row without a serial; clock-model settings out of
            range.
        FormatError: an image too damaged to verify (only when ``trust`` is given).
    """
    if not images:
        raise LinkError("no images to link against")
    for match in matches:
        if match.status is not MatchStatus.NONE and not match.serial:
            raise LinkError(f"exhibit {match.exhibit!r}: a {match.status.value} row has no serial")
    found = _Findings()
    summaries, verified = _verify(images, trust, found)
    devices: list[DeviceSummary] = []
    wanted = {
        CARTRIDGE_SCHEME.normalize(m.serial) for m in matches if m.status is not MatchStatus.NONE
    }
    histories: dict[str, list[CartridgeEvent]] = {}
    for timeline in _timelines(images, verified, clock or ClockSettings()):
        events = _cartridge_events(timeline, issues)
        deployments = tuple(_deployment(e, issues) for e in events if e.event is EventCode.DEPLOY)
        for event in (*deployments, *(e for e in events if e.event is not EventCode.DEPLOY)):
            if event.serial in wanted:
                histories.setdefault(event.serial, []).append(event)
        first_seq = int(timeline.seq[0]) if len(timeline) else None
        names = tuple(d.name for d in timeline.downloads)
        devices.append(
            DeviceSummary(timeline.serial, names, timeline.clock, deployments, first_seq)
        )
        for warning in () if timeline.clock is None else timeline.clock.warnings:
            found.add(
                LinkKind.CLOCK_MODEL,
                Severity.WARNING,
                f"clock model of {timeline.serial}: {warning}",
                device=timeline.serial,
            )
    by_serial: dict[str, list[Deployment]] = {}
    for device in devices:
        for deployment in device.deployments:
            by_serial.setdefault(deployment.serial, []).append(deployment)
    rows = _rows(matches, by_serial, histories, issues)
    for row in rows:
        _check_row(row, issues, window, devices, by_serial, found)
    unmatched = tuple(r for r in matches if r.status is MatchStatus.NONE)
    for r in unmatched:
        found.add(
            LinkKind.UNMATCHED_EXHIBIT,
            Severity.INFO,
            f"exhibit {r.exhibit}: {r.reads} read(s) match no serial of the list; nothing to link",
            exhibits=(r.exhibit,),
        )
    if window is not None:
        linked = {row.serial for row in rows}
        for device in devices:
            for deployment in device.deployments:
                if deployment.serial not in linked:
                    _check_unrecovered(deployment, window, found)
    return Linkage(
        rows=rows,
        findings=found.sorted(),
        images=summaries,
        devices=tuple(devices),
        window=window,
        issues_source=issues.source,
        unmatched=unmatched,
    )


def _verify(
    images: Mapping[str, Image], trust: TrustStore | None, found: _Findings
) -> tuple[tuple[ImageSummary, ...], dict[str, bool | None]]:
    summaries: list[ImageSummary] = []
    verified: dict[str, bool | None] = {}
    if trust is None:
        found.add(
            LinkKind.IMAGES_NOT_VERIFIED,
            Severity.WARNING,
            f"the {len(images)} image(s) were not verified (no trusted roots given): the "
            "chain rests on images whose integrity was not checked",
        )
    for name, image in images.items():
        problems: tuple[str, ...] = ()
        ok: bool | None = None
        if trust is not None:
            report = verify_image(image, trust)
            ok = report.ok
            problems = tuple(str(f) for f in report.by_severity(Severity.ERROR))
            if not ok:
                kinds = sorted({f.kind.value for f in report.by_severity(Severity.ERROR)})
                found.add(
                    LinkKind.UNVERIFIED_IMAGE,
                    Severity.ERROR,
                    f"image {name} (device {image.identity.serial}) failed verification "
                    f"({', '.join(kinds)}): what it says is not proven to be what the device "
                    "wrote; run `taserlink verify` on it",
                    device=image.identity.serial,
                    image=name,
                )
        verified[name] = ok
        records = image.records
        summaries.append(
            ImageSummary(
                name=name,
                device=image.identity.serial,
                records=len(records),
                first_seq=int(records["seq"].min()) if len(records) else None,
                last_seq=int(records["seq"].max()) if len(records) else None,
                deployments=int(np.count_nonzero(records["code"] == EventCode.DEPLOY)),
                acquired_ms=image.acquisition.host_utc_start_ms,
                verified=ok,
                problems=problems,
            )
        )
    return tuple(summaries), verified


def _timelines(
    images: Mapping[str, Image], verified: Mapping[str, bool | None], settings: ClockSettings
) -> list[DeviceTimeline]:
    """One timeline per device (by serial), from all of its images.

    Raises:
        LinkError: two downloads of one device disagree about a record.
    """
    grouped: dict[str, list[tuple[str, Image]]] = {}
    for name, image in images.items():
        grouped.setdefault(image.identity.serial, []).append((name, image))
    try:
        return [
            DeviceTimeline.from_images(grouped[serial], settings=settings, verified=verified)
            for serial in sorted(grouped)
        ]
    except TimelineError as error:
        raise LinkError(str(error)) from error


def _cartridge_events(timeline: DeviceTimeline, issues: IssueList) -> list[CartridgeEvent]:
    """Every record of ``timeline`` naming a cartridge, in the order of
    :data:`HISTORY_EVENTS` then by sequence, with its corrected time (one vectorised
    correction for all of them) and who held the device then."""
    chosen = [(code, timeline.rows_of([code])) for code in HISTORY_EVENTS]
    rows = np.concatenate([r for _, r in chosen])
    if len(rows) == 0:
        return []
    times = iter(timeline.corrected_times(rows))
    events = []
    for code, picked in chosen:
        payloads = payload_view(timeline.records[picked], code)
        for row, bay, raw in zip(
            picked.tolist(), payloads["bay"].tolist(), payloads["serial"].tolist(), strict=True
        ):
            time = next(times)
            events.append(
                CartridgeEvent(
                    event=code,
                    device=timeline.serial,
                    seq=int(timeline.records["seq"][row]),
                    bay=bay,
                    serial=_serial_text(raw),
                    time=time,
                    images=timeline.holders(row),
                    verified=timeline.verified_at(row),
                    device_custody=_custody(issues, timeline.serial, _span_of(time)),
                )
            )
    return events


def _deployment(event: CartridgeEvent, issues: IssueList) -> Deployment:
    """``event`` (a ``DEPLOY``) with the cartridge's custody over its time."""
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    return Deployment(**fields, cartridge_custody=_custody(issues, event.serial, event.span))


def _rows(
    matches: Sequence[MatchRow],
    by_serial: Mapping[str, list[Deployment]],
    histories: Mapping[str, list[CartridgeEvent]],
    issues: IssueList,
) -> tuple[LinkRow, ...]:
    grouped: dict[str, list[MatchRow]] = {}
    for row in matches:
        if row.status is not MatchStatus.NONE:
            grouped.setdefault(CARTRIDGE_SCHEME.normalize(row.serial), []).append(row)
    rows = []
    for serial, group in grouped.items():
        scores = [r.score for r in group if r.score is not None]
        confirmed = any(r.status is MatchStatus.MATCH for r in group)
        rows.append(
            LinkRow(
                serial=serial,
                status=MatchStatus.MATCH if confirmed else MatchStatus.AMBIGUOUS,
                exhibits=tuple(dict.fromkeys(r.exhibit for r in group)),
                score=max(scores) if scores else None,
                matches=tuple(group),
                deployments=tuple(by_serial.get(serial, ())),
                cartridge_issues=issues.of(serial),
                history=tuple(sorted(histories.get(serial, ()), key=CartridgeEvent.sort_key)),
            )
        )
    return tuple(rows)


def _check_row(
    row: LinkRow,
    issues: IssueList,
    window: Window | None,
    devices: Sequence[DeviceSummary],
    by_serial: Mapping[str, list[Deployment]],
    found: _Findings,
) -> None:
    serial, exhibits = row.serial, row.exhibits
    candidate = "" if row.confirmed else " (an unconfirmed candidate)"
    for match in row.matches:
        if match.status is MatchStatus.AMBIGUOUS:
            found.add(
                LinkKind.AMBIGUOUS_MATCH,
                Severity.WARNING,
                _ambiguous_text(match, by_serial, issues),
                serial=serial,
                exhibits=(match.exhibit,),
            )
    if not row.cartridge_issues:
        found.add(
            LinkKind.CARTRIDGE_NOT_ISSUED,
            Severity.ERROR,
            f"cartridge {serial}{candidate} is not in the issue list {issues.source}: it was "
            "never signed out to anyone",
            serial=serial,
            exhibits=exhibits,
        )
    if not row.deployments:
        found.add(
            LinkKind.NO_DEPLOY,
            Severity.ERROR,
            _no_deploy_text(serial + candidate, devices),
            serial=serial,
            exhibits=exhibits,
        )
    if len(row.deployments) > 1:
        listed = "; ".join(f"{d.where()} at {d.full_time_text()}" for d in row.deployments)
        found.add(
            LinkKind.DEPLOYED_TWICE,
            Severity.ERROR,
            f"cartridge {serial}{candidate} has {len(row.deployments)} DEPLOY records: "
            f"{listed}; a cartridge fires once",
            serial=serial,
            exhibits=exhibits,
        )
    for deployment in row.deployments:
        _check_deployment(row, deployment, issues, window, found)
    _check_moved(row, found)


def _check_moved(row: LinkRow, found: _Findings) -> None:
    """A ``cartridge_moved`` note when the history shows the cartridge in several devices."""
    devices = row.devices_inserted()
    if len(devices) < 2:
        return
    steps = []
    for event in row.history:
        if event.event is EventCode.CARTRIDGE_INSERT:
            verb = "inserted into"
        elif event.event is EventCode.CARTRIDGE_REMOVE:
            verb = "removed from"
        else:
            continue
        steps.append(
            f"{verb} {event.where()} bay {event.bay} (held by {event.device_custody}) at "
            f"{event.time_text()}"
        )
    candidate = "" if row.confirmed else " (an unconfirmed candidate)"
    found.add(
        LinkKind.CARTRIDGE_MOVED,
        Severity.INFO,
        f"cartridge {row.serial}{candidate} was inserted into {len(devices)} devices "
        f"({', '.join(devices)}): " + "; ".join(steps),
        serial=row.serial,
        exhibits=row.exhibits,
    )


def _movement_text(row: LinkRow, deployment: Deployment, signed_officer: str) -> str:
    """What the history shows of the cartridge reaching the deploying device from a device
    held by ``signed_officer``: the last insert into the deploying device before the
    ``DEPLOY`` and the latest remove, from another device held by that officer, that may
    precede it; ``""`` when the logs show no such movement (or cannot place it in time)."""
    inserts = [
        e
        for e in row.history
        if e.event is EventCode.CARTRIDGE_INSERT
        and e.device == deployment.device
        and e.seq < deployment.seq
    ]
    if not inserts:
        return ""
    insert = max(inserts, key=lambda e: e.seq)
    insert_span = insert.span
    if insert_span is None:
        return ""
    key = officer_key(signed_officer)
    removes = [
        e
        for e in row.history
        if e.event is EventCode.CARTRIDGE_REMOVE
        and e.device != deployment.device
        and e.span is not None
        and e.span[0] <= insert_span[1]
        and e.device_custody.state in (CustodyState.HELD, CustodyState.UNCERTAIN)
        and key in {officer_key(o) for o in e.device_custody.officers}
    ]
    if not removes:
        return ""
    remove = max(removes, key=CartridgeEvent.sort_key)
    return (
        f"; the logs show it removed from {remove.device} (held by {remove.device_custody}) "
        f"at {remove.time_text()} and inserted into {insert.device} (held by "
        f"{insert.device_custody}) at {insert.time_text()}"
    )


def _ambiguous_text(
    match: MatchRow, by_serial: Mapping[str, list[Deployment]], issues: IssueList
) -> str:
    score = "" if match.score is None else f" (score {match.score:.6f})"
    text = (
        f"exhibit {match.exhibit}: {match.serial}{score} is only the best of comparable "
        "serials: an unconfirmed candidate, not a match"
    )
    if match.runner_up:
        other = "" if match.runner_up_score is None else f" ({match.runner_up_score:.6f})"
        runner_up = CARTRIDGE_SCHEME.normalize(match.runner_up)
        deployed = by_serial.get(runner_up, [])
        said = (
            "has a DEPLOY on " + ", ".join(d.where() for d in deployed)
            if deployed
            else "has no DEPLOY in these images"
        )
        issued = "is in the issue list" if runner_up in issues else "was never issued"
        text += f"; runner-up {match.runner_up}{other} {said} and {issued}"
    return text


def _no_deploy_text(serial: str, devices: Sequence[DeviceSummary]) -> str:
    serials = ", ".join(d.serial for d in devices)
    text = (
        f"cartridge {serial} has no DEPLOY record in any image (devices {serials}): the "
        "device that fired it was not downloaded, or its record was deleted"
    )
    wrapped = [d for d in devices if d.first_seq is not None and d.first_seq > 1]
    if wrapped:
        starts = ", ".join(f"{d.serial} from seq {d.first_seq}" for d in wrapped)
        text += f" (logs that no longer start at seq 1: {starts})"
    return text


def _check_deployment(
    row: LinkRow,
    deployment: Deployment,
    issues: IssueList,
    window: Window | None,
    found: _Findings,
) -> None:
    serial, device = row.serial, deployment.device
    where: dict[str, Any] = {
        "serial": serial,
        "exhibits": row.exhibits,
        "device": device,
        "seq": deployment.seq,
    }
    at = f"{deployment.where()} at {deployment.full_time_text()}"
    if device not in issues:
        found.add(
            LinkKind.DEVICE_NOT_LISTED,
            Severity.ERROR,
            f"cartridge {serial} was deployed by device {device}, which is not in the issue "
            f"list {issues.source} ({at})",
            **where,
        )
    span = deployment.span
    if span is None:
        found.add(
            LinkKind.UNCORRECTED_TIME,
            Severity.WARNING,
            f"the DEPLOY of {serial} ({at}) cannot be placed in UTC: who held the device and "
            "the cartridge then, and the incident window, are not checked",
            **where,
        )
        return
    _check_out(serial, "cartridge", deployment.cartridge_custody, issues, span, at, where, found)
    _check_out(device, "device", deployment.device_custody, issues, span, at, where, found)
    _check_officers(row, deployment, issues, span, at, where, found)
    if window is not None:
        _check_window(f"the DEPLOY of {serial} ({at})", span, window, where, found)


def _check_out(
    serial: str,
    what: str,
    custody: Custody,
    issues: IssueList,
    span: tuple[int, int],
    at: str,
    where: dict[str, Any],
    found: _Findings,
) -> None:
    kind = LinkKind.CARTRIDGE_NOT_OUT if what == "cartridge" else LinkKind.DEVICE_NOT_OUT
    verb = "signed out" if what == "cartridge" else "issued"
    if custody.state is CustodyState.NOT_OUT:
        found.add(
            kind,
            Severity.ERROR,
            f"{what} {serial} was not {verb} to anyone at its use ({at}): "
            f"{_outside_text(issues.of(serial), span)}",
            **where,
        )
    elif custody.state is CustodyState.UNCERTAIN:
        lo, hi = span
        gaps = any(issues.holder_at(serial, p) is None for p in _points(issues, [serial], lo, hi))
        if gaps:
            found.add(
                kind,
                Severity.WARNING,
                f"{what} {serial} may not have been {verb} at its use ({at}): the time's "
                "bound straddles its issue or return",
                **where,
            )


def _outside_text(history: Sequence[Issue], span: tuple[int, int]) -> str:
    lo, hi = span
    before = [i for i in history if i.returned_ms is not None and i.returned_ms <= lo]
    after = [i for i in history if i.issued_ms > hi]
    if before and not after:
        last = before[-1]
        return f"deployed after its return at {utc_text(last.returned_ms or 0)} ({last.where()})"
    if after and not before:
        first = after[0]
        return f"deployed before its issue at {utc_text(first.issued_ms)} ({first.where()})"
    last, first = before[-1], after[0]
    return (
        f"deployed between its return at {utc_text(last.returned_ms or 0)} ({last.where()}) "
        f"and its next issue at {utc_text(first.issued_ms)} ({first.where()})"
    )


def _check_officers(
    row: LinkRow,
    deployment: Deployment,
    issues: IssueList,
    span: tuple[int, int],
    at: str,
    where: dict[str, Any],
    found: _Findings,
) -> None:
    serial, device = row.serial, deployment.device
    pairs = []
    for p in _points(issues, [serial, device], *span):
        held, signed = issues.holder_at(device, p), issues.holder_at(serial, p)
        if held is not None and signed is not None:
            pairs.append((held, signed))
    if not pairs:
        return
    same = [officer_key(a.officer) == officer_key(b.officer) for a, b in pairs]
    if all(same):
        return
    held, signed = next((a, b) for (a, b), s in zip(pairs, same, strict=True) if not s)
    partly = any(same)
    when = "at some instants of the bound of its use" if partly else "at its use"
    found.add(
        LinkKind.OTHER_OFFICER,
        Severity.WARNING if partly else Severity.ERROR,
        f"cartridge {serial} was signed out to {signed.officer!r} ({signed.where()}) but "
        f"device {device} was held by {held.officer!r} ({held.where()}) {when} ({at})"
        + _movement_text(row, deployment, signed.officer),
        **where,
    )


def _check_window(
    what: str,
    span: tuple[int, int],
    window: Window,
    where: dict[str, Any],
    found: _Findings,
) -> None:
    lo, hi = span
    if hi < window.start_ms or lo > window.end_ms:
        found.add(
            LinkKind.OUTSIDE_WINDOW,
            Severity.ERROR,
            f"{what} lies outside the incident window {window}",
            **where,
        )
    elif lo < window.start_ms or hi > window.end_ms:
        found.add(
            LinkKind.OUTSIDE_WINDOW,
            Severity.WARNING,
            f"{what} may lie outside the incident window {window}: its bound reaches past an edge",
            **where,
        )


def _check_unrecovered(deployment: Deployment, window: Window, found: _Findings) -> None:
    span = deployment.span
    at = f"{deployment.where()} at {deployment.full_time_text()}"
    where: dict[str, Any] = {
        "serial": deployment.serial,
        "device": deployment.device,
        "seq": deployment.seq,
    }
    if span is None:
        found.add(
            LinkKind.UNRECOVERED_DEPLOY,
            Severity.INFO,
            f"cartridge {deployment.serial} was deployed ({at}); no exhibit points to it and "
            "its time cannot be placed, so it may lie in the incident window",
            **where,
        )
    elif span[1] >= window.start_ms and span[0] <= window.end_ms:
        found.add(
            LinkKind.UNRECOVERED_DEPLOY,
            Severity.INFO,
            f"cartridge {deployment.serial} was deployed in the incident window ({at}) but no "
            "exhibit points to it",
            **where,
        )
