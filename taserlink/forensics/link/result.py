"""Linkage's result: the chain from a recovered cartridge to a ``DEPLOY`` record, a device
and officers, and every finding, as frozen dataclasses (``as_dict`` gives the JSON form of
``taserlink link --json``)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from taserlink.errors import LinkError
from taserlink.findings import SEVERITY_ORDER, FindingsResult, Severity
from taserlink.forensics.issues import Issue
from taserlink.forensics.results import MatchRow, MatchStatus
from taserlink.format import EventCode
from taserlink.timeline import ClockModel, CorrectedTime
from taserlink.timeline.times import device_time_text, utc_text

__all__ = [
    "HISTORY_EVENTS",
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
    "Window",
    "sort_findings",
    "span_of",
]


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
    MATCHES_CHANGED = "matches_changed"
    """The match file is not the one ``taserlink match`` made: its SHA-256 differs from
    the one its provenance file (``OUT.csv.provenance.json``) records (edited, truncated
    or replaced since)."""
    MATCHES_BAD_PROVENANCE = "matches_bad_provenance"
    """The match file's provenance file cannot be read: the file cannot be checked."""
    MATCHES_NO_PROVENANCE = "matches_no_provenance"
    """The match file has no provenance file beside it: it cannot be checked against how
    it was made (made by hand, redirected from stdout, or by an older taserlink)."""


_KIND_ORDER: Final = {kind: index for index, kind in enumerate(LinkKind)}


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
        return span_of(self.time)

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


def span_of(time: CorrectedTime) -> tuple[int, int] | None:
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
        "ledger_entry": issue.entry,
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
        size: the image's size in bytes.
        sha256: the SHA-256 of its bytes (hex, hashed from the bytes surveyed), for the
            provenance.
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
    size: int = 0
    sha256: str = ""

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
    """One device: its images, its clock model, how many ``DEPLOY`` records its log holds,
    and those linkage reports on.

    ``clock`` is ``None`` when its images hold no record at all.
    """

    serial: str
    images: tuple[str, ...]
    clock: ClockModel | None
    deployments: tuple[Deployment, ...]
    """The ``DEPLOY`` records linkage reports on, by sequence: those of a recovered
    cartridge or of an ambiguous match's runner-up, and (with an incident window) those
    that lie or may lie in the window.  A force's device logs hold thousands of others;
    they are counted in :attr:`deployment_count`, not kept."""
    first_seq: int | None
    """The oldest record any of its images holds (above 1: older records were deleted)."""
    deployment_count: int = 0
    """Every ``DEPLOY`` record in its log."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "images": list(self.images),
            "first_seq": self.first_seq,
            "deployments": self.deployment_count,
            "clock_model": None if self.clock is None else self.clock.describe().splitlines(),
            "clock_warnings": [] if self.clock is None else list(self.clock.warnings),
        }


@dataclass(frozen=True)
class Linkage(FindingsResult[LinkKind, LinkFinding]):
    """What :func:`~taserlink.forensics.link.link` found (``ok``, ``by_severity``,
    ``kinds`` and ``counts`` from :class:`~taserlink.findings.FindingsResult`).

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


def sort_findings(findings: Iterable[LinkFinding]) -> tuple[LinkFinding, ...]:
    """Findings in the order reports list them: errors, warnings, info; then by kind (in
    :class:`LinkKind`'s order), serial, exhibits, device, sequence and image (stable, so
    findings equal on all of these keep the order the rules made them in)."""
    return tuple(
        sorted(
            findings,
            key=lambda f: (
                SEVERITY_ORDER[f.severity],
                _KIND_ORDER[f.kind],
                f.serial or "",
                f.exhibits,
                f.device or "",
                -1 if f.seq is None else f.seq,
                f.image or "",
            ),
        )
    )
