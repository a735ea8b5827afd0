"""The linkage driver: images surveyed, devices' timelines built, rules run.

Two passes, each over independent pieces of work, so either can run in a pool of processes
(``workers``) and neither holds more than one device's downloads at a time:

1. **survey**, per image: read it (when given as a path), verify it against the trusted
   roots, keep its summary (:class:`ImageSummary`) and its device serial;
2. **device**, per device: read its downloads again, build its
   :class:`~taserlink.timeline.DeviceTimeline` (records merged once, clock model,
   provenance), and keep only the records that name a cartridge, corrected in one
   vectorised step, with who held the device then.

Then the rows of the recovered cartridges are formed and every rule of
:mod:`taserlink.forensics.link.checks` runs over them.  The result is the same whatever
``workers`` is (tested), in the order the images were given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TypeVar

import numpy as np

from taserlink.errors import ImageIOError, LinkError, SerialError, TaserlinkError, TimelineError
from taserlink.findings import Severity
from taserlink.forensics.issues import IssueList
from taserlink.forensics.link.checks import LinkContext, check_all
from taserlink.forensics.link.custody import custody_over
from taserlink.forensics.link.result import (
    HISTORY_EVENTS,
    CartridgeEvent,
    Deployment,
    DeviceSummary,
    ImageSummary,
    Linkage,
    LinkFinding,
    LinkKind,
    LinkRow,
    Window,
    sort_findings,
    span_of,
)
from taserlink.forensics.results import MatchRow, MatchStatus
from taserlink.format import EventCode, Image, payload_view, read_image
from taserlink.integrity import TrustStore, verify_image
from taserlink.serials import CARTRIDGE_SCHEME
from taserlink.timeline import ClockSettings, DeviceTimeline
from taserlink.workers import in_processes

__all__ = ["ImageSource", "link"]

ImageSource = Image | str | os.PathLike[str]
"""An image as parsed, or the path of its file (read when needed, then let go)."""

_T = TypeVar("_T")
_R = TypeVar("_R")


def link(
    images: Mapping[str, ImageSource],
    issues: IssueList,
    matches: Sequence[MatchRow],
    *,
    window: Window | None = None,
    trust: TrustStore | None = None,
    clock: ClockSettings | None = None,
    workers: int = 1,
) -> Linkage:
    """Link recovered cartridges to deployments, devices and officers (the package's
    docstring says how).

    Args:
        images: the device downloads by name (a path, for messages), each parsed or a path
            to read; any number of downloads per device.  Given as paths, at most one
            device's downloads are in memory at a time.
        issues: the issue list.
        matches: the match results (every row of ``OUT.csv``).
        window: the incident window, if known (enables ``outside_window`` and
            ``unrecovered_deploy``).
        trust: trusted roots to verify every image against; ``None`` verifies nothing
            (an ``images_not_verified`` warning says so).
        clock: the clock models' settings (default :class:`ClockSettings`: ± 100 ppm,
            hosts on UTC, host clock sets not taken as anchors).
        workers: processes to share the images and devices among (1: in this process).

    Raises:
        LinkError: no images; an image that cannot be read (named); two downloads of one
            device disagree about a record; a ``match`` or ``ambiguous`` row without a
            serial; ``workers`` below 1.
        FormatError: an image too damaged to verify (only when ``trust`` is given).
    """
    if not images:
        raise LinkError("no images to link against")
    if workers < 1:
        raise LinkError(f"workers must be at least 1, not {workers}")
    for match in matches:
        if match.status is not MatchStatus.NONE and not match.serial:
            raise LinkError(f"exhibit {match.exhibit!r}: a {match.status.value} row has no serial")
    settings = clock or ClockSettings()
    wanted = frozenset(
        CARTRIDGE_SCHEME.normalize(m.serial) for m in matches if m.status is not MatchStatus.NONE
    )
    surveyed = in_processes(_survey, (trust, images), list(images), workers)
    found: list[LinkFinding] = []
    if trust is None:
        found.append(
            LinkFinding(
                LinkKind.IMAGES_NOT_VERIFIED,
                Severity.WARNING,
                f"the {len(images)} image(s) were not verified (no trusted roots given): the "
                "chain rests on images whose integrity was not checked",
            )
        )
    found.extend(s.finding for s in surveyed if s.finding is not None)
    verified = {s.summary.name: s.summary.verified for s in surveyed}
    by_device: dict[str, list[str]] = {}
    for s in surveyed:
        by_device.setdefault(s.summary.device, []).append(s.summary.name)
    per_device = [(serial, by_device[serial]) for serial in sorted(by_device)]
    shared = _DeviceInputs(images, verified, settings, issues, wanted)
    devices: list[DeviceSummary] = []
    histories: dict[str, list[CartridgeEvent]] = {}
    for device, history, warnings in in_processes(_device, shared, per_device, workers):
        devices.append(device)
        for event in history:
            histories.setdefault(event.serial, []).append(event)
        found.extend(
            LinkFinding(
                LinkKind.CLOCK_MODEL,
                Severity.WARNING,
                f"clock model of {device.serial}: {warning}",
                device=device.serial,
            )
            for warning in warnings
        )
    by_serial: dict[str, list[Deployment]] = {}
    for device in devices:
        for deployment in device.deployments:
            by_serial.setdefault(deployment.serial, []).append(deployment)
    rows = _rows(matches, by_serial, histories, issues)
    context = LinkContext(issues, window, tuple(devices), by_serial)
    found.extend(check_all(context, rows, matches))
    return Linkage(
        rows=rows,
        findings=sort_findings(found),
        images=tuple(s.summary for s in surveyed),
        devices=tuple(devices),
        window=window,
        issues_source=issues.source,
        unmatched=tuple(r for r in matches if r.status is MatchStatus.NONE),
    )


# -- the passes -------------------------------------------------------------------------


def _read(name: str, source: ImageSource) -> Image:
    if isinstance(source, Image):
        return source
    try:
        return read_image(source)
    except ImageIOError as error:  # its message names the file
        raise LinkError(str(error)) from error
    except TaserlinkError as error:
        raise LinkError(f"{name}: {error}") from error


@dataclass(frozen=True)
class _Surveyed:
    summary: ImageSummary
    finding: LinkFinding | None


def _survey(inputs: tuple[TrustStore | None, Mapping[str, ImageSource]], name: str) -> _Surveyed:
    """One image read, verified (with the trust store of ``inputs``) and summarised."""
    trust, images = inputs
    image = _read(name, images[name])
    serial = image.identity.serial
    problems: tuple[str, ...] = ()
    ok: bool | None = None
    finding = None
    if trust is not None:
        report = verify_image(image, trust)
        ok = report.ok
        errors = report.by_severity(Severity.ERROR)
        problems = tuple(str(f) for f in errors)
        if not ok:
            kinds = sorted({f.kind.value for f in errors})
            finding = LinkFinding(
                LinkKind.UNVERIFIED_IMAGE,
                Severity.ERROR,
                f"image {name} (device {serial}) failed verification ({', '.join(kinds)}): "
                "what it says is not proven to be what the device wrote; run `taserlink "
                "verify` on it",
                device=serial,
                image=name,
            )
    records = image.records
    summary = ImageSummary(
        name=name,
        device=serial,
        records=len(records),
        first_seq=int(records["seq"].min()) if len(records) else None,
        last_seq=int(records["seq"].max()) if len(records) else None,
        deployments=int(np.count_nonzero(records["code"] == EventCode.DEPLOY)),
        acquired_ms=image.acquisition.host_utc_start_ms,
        verified=ok,
        problems=problems,
    )
    return _Surveyed(summary, finding)


@dataclass(frozen=True)
class _DeviceInputs:
    """What every device's pass needs besides its own serial and downloads' names."""

    images: Mapping[str, ImageSource]
    verified: Mapping[str, bool | None]
    settings: ClockSettings
    issues: IssueList
    wanted: frozenset[str]
    """The recovered cartridges' serials: the history kept is theirs."""


def _device(
    inputs: _DeviceInputs, job: tuple[str, list[str]]
) -> tuple[DeviceSummary, list[CartridgeEvent], tuple[str, ...]]:
    """One device's timeline: its summary (every ``DEPLOY`` with custody), the history
    events of the wanted serials, and its clock model's warnings.

    Raises:
        LinkError: two of its downloads disagree about a record.
    """
    serial, names = job
    issues = inputs.issues
    named = [(name, _read(name, inputs.images[name])) for name in names]
    try:
        timeline = DeviceTimeline.from_images(
            named, settings=inputs.settings, verified=inputs.verified
        )
    except TimelineError as error:
        raise LinkError(str(error)) from error
    events = _cartridge_events(timeline, issues)
    deployments = tuple(_deployment(e, issues) for e in events if e.event is EventCode.DEPLOY)
    others = (e for e in events if e.event is not EventCode.DEPLOY)
    history = [e for e in (*deployments, *others) if e.serial in inputs.wanted]
    first_seq = int(timeline.seq[0]) if len(timeline) else None
    clock = timeline.clock
    summary = DeviceSummary(serial, tuple(names), clock, deployments, first_seq)
    return summary, history, () if clock is None else clock.warnings


def _serial_text(raw: bytes) -> str:
    """A cartridge record's serial field as text: canonical when valid, else as stored
    (NUL padding dropped, undecodable bytes replaced)."""
    text = raw.rstrip(b"\0").decode("ascii", "replace")
    try:
        return CARTRIDGE_SCHEME.validate(text)
    except SerialError:
        return text


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
        seqs = timeline.records["seq"][picked].tolist()
        for row, seq, bay, raw in zip(
            picked.tolist(),
            seqs,
            payloads["bay"].tolist(),
            payloads["serial"].tolist(),
            strict=True,
        ):
            time = next(times)
            events.append(
                CartridgeEvent(
                    event=code,
                    device=timeline.serial,
                    seq=seq,
                    bay=bay,
                    serial=_serial_text(raw),
                    time=time,
                    images=timeline.holders(row),
                    verified=timeline.verified_at(row),
                    device_custody=custody_over(issues, timeline.serial, span_of(time)),
                )
            )
    return events


def _deployment(event: CartridgeEvent, issues: IssueList) -> Deployment:
    """``event`` (a ``DEPLOY``) with the cartridge's custody over its time."""
    values = {f.name: getattr(event, f.name) for f in fields(event)}
    return Deployment(**values, cartridge_custody=custody_over(issues, event.serial, event.span))


def _rows(
    matches: Sequence[MatchRow],
    by_serial: Mapping[str, list[Deployment]],
    histories: Mapping[str, list[CartridgeEvent]],
    issues: IssueList,
) -> tuple[LinkRow, ...]:
    """One row per recovered cartridge, in the order the match rows first name them."""
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
