"""The linkage driver: images surveyed, devices' timelines built, rules run.

The work is shared among ``workers`` forked processes, one image per job, and no process
holds more than one device's downloads at a time:

1. **survey**, per image: read it (when given as a path), verify it against the trusted
   roots, keep its summary (:class:`ImageSummary`), and build its device's
   :class:`~taserlink.timeline.DeviceTimeline` from it alone — records, clock model,
   provenance — keeping only the cartridge records linkage reports on, corrected in one
   vectorised step, with who held the device then.  A device downloaded once (the usual
   case) is then done: one read, one job;
2. **device**, per device downloaded several times: its downloads read again and merged
   into one timeline, the same way.

Then the rows of the recovered cartridges are formed and every rule of
:mod:`taserlink.forensics.link.checks` runs over them.  The result is the same whatever
``workers`` is (tested), in the order the images were given.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

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
from taserlink.format import CrcCheck, EventCode, Image, payload_view, read_image
from taserlink.integrity import TrustStore, verify_image
from taserlink.serials import CARTRIDGE_SCHEME
from taserlink.timeline import ClockSettings, DeviceTimeline
from taserlink.workers import in_processes

__all__ = ["ImageSource", "link"]

ImageSource = Image | str | os.PathLike[str]
"""An image as parsed, or the path of its file (read when needed, then let go)."""


def link(
    images: Mapping[str, ImageSource],
    issues: IssueList,
    matches: Sequence[MatchRow],
    *,
    window: Window | None = None,
    trust: TrustStore | None = None,
    clock: ClockSettings | None = None,
    workers: int = 1,
    findings: Iterable[LinkFinding] = (),
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
        findings: findings made about the inputs before linkage, kept with its own (e.g.
            the match file checked against its provenance:
            :func:`taserlink.forensics.provenance.check_matches`).

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
    named = wanted | {CARTRIDGE_SCHEME.normalize(m.runner_up) for m in matches if m.runner_up}
    inputs = _Inputs(images, trust, settings, issues, wanted, named, window)
    surveyed = in_processes(_survey, inputs, list(images), workers)
    found: list[LinkFinding] = list(findings)
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
    alone = {s.summary.device: s.alone for s in surveyed if len(by_device[s.summary.device]) == 1}
    several = [
        (serial, [(name, verified[name]) for name in names])
        for serial, names in sorted(by_device.items())
        if len(names) > 1
    ]
    outcomes = in_processes(_device, inputs, several, workers)
    redone = {serial: outcome for (serial, _), outcome in zip(several, outcomes, strict=True)}
    devices: list[DeviceSummary] = []
    histories: dict[str, list[CartridgeEvent]] = {}
    for serial in sorted(by_device):
        device, history, warnings = alone[serial] if serial in alone else redone[serial]
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
        return read_image(source, crc=CrcCheck.SKIP)  # the verifier checks every CRC itself
    except ImageIOError as error:  # its message names the file
        raise LinkError(str(error)) from error
    except TaserlinkError as error:
        raise LinkError(f"{name}: {error}") from error


@dataclass(frozen=True)
class _Inputs:
    """What every job of a linkage shares (it reaches workers by the fork, unpickled)."""

    images: Mapping[str, ImageSource]
    trust: TrustStore | None
    settings: ClockSettings
    issues: IssueList
    wanted: frozenset[str]
    """The recovered cartridges' serials: the history kept is theirs."""
    named: frozenset[str]
    """Those and the ambiguous matches' runner-ups: their ``DEPLOY`` records are kept."""
    window: Window | None
    """With a window, the ``DEPLOY`` records that lie or may lie in it are kept too."""


_DeviceOutcome = tuple[DeviceSummary, list[CartridgeEvent], tuple[str, ...]]
"""A device's summary, the history events of the wanted serials, its clock's warnings."""


@dataclass(frozen=True)
class _Surveyed:
    summary: ImageSummary
    finding: LinkFinding | None
    alone: _DeviceOutcome
    """The device's outcome were this its only download (used when it is: one read)."""


def _survey(inputs: _Inputs, name: str) -> _Surveyed:
    """One image read, verified, summarised, and its device's outcome from it alone."""
    trust = inputs.trust
    image = _read(name, inputs.images[name])
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
    data = image.data
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
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),  # hashed in memory: the file is read once
    )
    return _Surveyed(summary, finding, _device_of(inputs, serial, [(name, image)], {name: ok}))


def _device(inputs: _Inputs, job: tuple[str, list[tuple[str, bool | None]]]) -> _DeviceOutcome:
    """The outcome of a device with several downloads (names and verification outcomes):
    its downloads read again and merged."""
    serial, downloads = job
    named = [(name, _read(name, inputs.images[name])) for name, _ in downloads]
    return _device_of(inputs, serial, named, dict(downloads))


def _device_of(
    inputs: _Inputs,
    serial: str,
    named: list[tuple[str, Image]],
    verified: Mapping[str, bool | None],
) -> _DeviceOutcome:
    """One device's timeline from its downloads: its summary (the ``DEPLOY`` records
    linkage reports on, with custody), the history events of the wanted serials, and its
    clock model's warnings.

    Raises:
        LinkError: two of its downloads disagree about a record.
    """
    try:
        timeline = DeviceTimeline.from_images(named, settings=inputs.settings, verified=verified)
    except TimelineError as error:
        raise LinkError(str(error)) from error
    issues = inputs.issues
    events = _cartridge_events(timeline, inputs)
    deployments = tuple(_deployment(e, issues) for e in events if e.event is EventCode.DEPLOY)
    others = (e for e in events if e.event is not EventCode.DEPLOY)
    history = [e for e in (*deployments, *others) if e.serial in inputs.wanted]
    first_seq = int(timeline.seq[0]) if len(timeline) else None
    clock = timeline.clock
    count = len(timeline.rows_of([EventCode.DEPLOY]))
    names = tuple(name for name, _ in named)
    summary = DeviceSummary(serial, names, clock, deployments, first_seq, count)
    return summary, history, () if clock is None else clock.warnings


def _serial_texts(stored: list[bytes]) -> list[str]:
    """Cartridge records' serial fields as text: canonical when valid, else as stored (NUL
    padding dropped, undecodable bytes replaced).  Canonical valid serials, what devices
    write, are recognised in one vectorised check; only the others go one by one."""
    texts = [raw.rstrip(b"\0").decode("ascii", "replace") for raw in stored]
    _, valid = CARTRIDGE_SCHEME.encode(texts)
    return [
        text if ok else _serial_text(text) for text, ok in zip(texts, valid.tolist(), strict=True)
    ]


def _serial_text(text: str) -> str:
    try:
        return CARTRIDGE_SCHEME.validate(text)
    except SerialError:
        return text


def _cartridge_events(timeline: DeviceTimeline, inputs: _Inputs) -> list[CartridgeEvent]:
    """The records of ``timeline`` naming a cartridge that linkage reports on — the
    ``DEPLOY`` records of :attr:`_Inputs.named` serials or in the window, the inserts
    and removes of the wanted ones — in the order of :data:`HISTORY_EVENTS` then by
    sequence, with their corrected times (vectorised) and who held the device then.  Each
    distinct stored serial is read once."""
    chosen = []
    for code in HISTORY_EVENTS:
        rows = timeline.rows_of([code])
        stored, which = np.unique(
            payload_view(timeline.records[rows], code)["serial"], return_inverse=True
        )
        texts = _serial_texts(stored.tolist())
        kept = inputs.named if code is EventCode.DEPLOY else inputs.wanted
        keep = np.array([text in kept for text in texts], dtype=np.bool_)[which]
        if code is EventCode.DEPLOY and inputs.window is not None:
            keep |= _may_lie_in(timeline, rows, inputs.window)
        rows, which = rows[keep], which[keep]
        chosen.append((code, rows, [texts[k] for k in which.tolist()]))
    rows = np.concatenate([r for _, r, _ in chosen])
    if len(rows) == 0:
        return []
    times = iter(timeline.corrected_times(rows))
    events = []
    for code, picked, serials in chosen:
        payloads = payload_view(timeline.records[picked], code)
        seqs = timeline.records["seq"][picked].tolist()
        for row, seq, bay, serial in zip(
            picked.tolist(), seqs, payloads["bay"].tolist(), serials, strict=True
        ):
            time = next(times)
            events.append(
                CartridgeEvent(
                    event=code,
                    device=timeline.serial,
                    seq=seq,
                    bay=bay,
                    serial=serial,
                    time=time,
                    images=timeline.holders(row),
                    verified=timeline.verified_at(row),
                    device_custody=custody_over(inputs.issues, timeline.serial, span_of(time)),
                )
            )
    return events


def _may_lie_in(
    timeline: DeviceTimeline, rows: npt.NDArray[np.intp], window: Window
) -> npt.NDArray[np.bool_]:
    """Which records at ``rows`` lie or may lie in ``window``: their corrected interval
    meets it, or they cannot be placed in UTC at all."""
    utc, bound, _, _ = timeline.corrected(rows)
    with np.errstate(invalid="ignore"):  # NaN: not placed, compares False
        meets = (utc + bound >= window.start_ms) & (utc - bound <= window.end_ms)
    return np.asarray(meets | np.isnan(utc))


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
