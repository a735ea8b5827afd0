"""Linkage's consistency rules: each a function of one context, each yielding findings.

A rule never raises and never prints: what does not fit is a
:class:`~taserlink.forensics.link.result.LinkFinding` (``docs/linkage.md`` §5 states each
kind, its severity and why).  The rules of one recovered cartridge take a
:class:`RowCheck`, the rules of one ``DEPLOY`` record a :class:`DeploymentCheck`; both
reach what the whole linkage knows (the issue list, the incident window, the devices, the
deployments by serial) through :class:`LinkContext`.  :func:`check_all` runs them in the
order the report lists them before sorting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from taserlink.findings import Severity
from taserlink.forensics.issues import Issue, IssueList, officer_key
from taserlink.forensics.link.custody import points
from taserlink.forensics.link.result import (
    CartridgeEvent,
    Custody,
    CustodyState,
    Deployment,
    DeviceSummary,
    LinkFinding,
    LinkKind,
    LinkRow,
    Window,
)
from taserlink.forensics.results import MatchRow, MatchStatus
from taserlink.format import EventCode
from taserlink.serials import CARTRIDGE_SCHEME
from taserlink.timeline.times import utc_text

__all__ = [
    "DEPLOYMENT_RULES",
    "ROW_RULES",
    "DeploymentCheck",
    "LinkContext",
    "RowCheck",
    "check_all",
]


@dataclass(frozen=True)
class LinkContext:
    """What every rule may consult: the inputs and the deployments found."""

    issues: IssueList
    window: Window | None
    devices: tuple[DeviceSummary, ...]
    by_serial: Mapping[str, Sequence[Deployment]]
    """Every ``DEPLOY`` found, by cartridge serial."""


@dataclass(frozen=True)
class RowCheck:
    """One recovered cartridge (a :class:`LinkRow`) under check."""

    link: LinkContext
    row: LinkRow

    @property
    def candidate(self) -> str:
        """`` (an unconfirmed candidate)`` for an ambiguous-only row, else ``""``."""
        return "" if self.row.confirmed else " (an unconfirmed candidate)"


@dataclass(frozen=True)
class DeploymentCheck:
    """One ``DEPLOY`` record under check: of a recovered cartridge (``row``), or one no
    exhibit points to (``row`` ``None``)."""

    link: LinkContext
    deployment: Deployment
    row: LinkRow | None = None

    @property
    def span(self) -> tuple[int, int] | None:
        return self.deployment.span

    @cached_property
    def at(self) -> str:
        """``device D… seq N at <time>`` for messages."""
        return f"{self.deployment.where()} at {self.deployment.full_time_text()}"

    @cached_property
    def where(self) -> dict[str, Any]:
        """The finding's location: serial, exhibits, device, sequence."""
        d = self.deployment
        place: dict[str, Any] = {"serial": d.serial, "device": d.device, "seq": d.seq}
        if self.row is not None:
            place["exhibits"] = self.row.exhibits
        return place

    def finding(self, kind: LinkKind, severity: Severity, message: str) -> LinkFinding:
        return LinkFinding(kind, severity, message, **self.where)


# -- one recovered cartridge ------------------------------------------------------------


def ambiguous_match(check: RowCheck) -> Iterator[LinkFinding]:
    """``ambiguous_match``: each exhibit whose best serial is only an unconfirmed candidate."""
    for match in check.row.matches:
        if match.status is MatchStatus.AMBIGUOUS:
            yield LinkFinding(
                LinkKind.AMBIGUOUS_MATCH,
                Severity.WARNING,
                _ambiguous_text(match, check.link),
                serial=check.row.serial,
                exhibits=(match.exhibit,),
            )


def cartridge_not_issued(check: RowCheck) -> Iterator[LinkFinding]:
    """``cartridge_not_issued``: the serial is nowhere in the issue list."""
    row, issues = check.row, check.link.issues
    if not row.cartridge_issues:
        yield LinkFinding(
            LinkKind.CARTRIDGE_NOT_ISSUED,
            Severity.ERROR,
            f"cartridge {row.serial}{check.candidate} is not in the issue list "
            f"{issues.source}: it was never signed out to anyone",
            serial=row.serial,
            exhibits=row.exhibits,
        )


def no_deploy(check: RowCheck) -> Iterator[LinkFinding]:
    """``no_deploy``: no image holds a ``DEPLOY`` of the serial."""
    row = check.row
    if not row.deployments:
        yield LinkFinding(
            LinkKind.NO_DEPLOY,
            Severity.ERROR,
            _no_deploy_text(row.serial + check.candidate, check.link.devices),
            serial=row.serial,
            exhibits=row.exhibits,
        )


def deployed_twice(check: RowCheck) -> Iterator[LinkFinding]:
    """``deployed_twice``: two or more distinct ``DEPLOY`` records name the serial."""
    row = check.row
    if len(row.deployments) > 1:
        listed = "; ".join(f"{d.where()} at {d.full_time_text()}" for d in row.deployments)
        yield LinkFinding(
            LinkKind.DEPLOYED_TWICE,
            Severity.ERROR,
            f"cartridge {row.serial}{check.candidate} has {len(row.deployments)} DEPLOY "
            f"records: {listed}; a cartridge fires once",
            serial=row.serial,
            exhibits=row.exhibits,
        )


def cartridge_moved(check: RowCheck) -> Iterator[LinkFinding]:
    """``cartridge_moved``: the history shows the cartridge inserted into several devices."""
    row = check.row
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
    yield LinkFinding(
        LinkKind.CARTRIDGE_MOVED,
        Severity.INFO,
        f"cartridge {row.serial}{check.candidate} was inserted into {len(devices)} devices "
        f"({', '.join(devices)}): " + "; ".join(steps),
        serial=row.serial,
        exhibits=row.exhibits,
    )


# -- one DEPLOY record ------------------------------------------------------------------


def device_not_listed(check: DeploymentCheck) -> Iterator[LinkFinding]:
    """``device_not_listed``: the deploying device is nowhere in the issue list."""
    d, issues = check.deployment, check.link.issues
    if d.device not in issues:
        yield check.finding(
            LinkKind.DEVICE_NOT_LISTED,
            Severity.ERROR,
            f"cartridge {d.serial} was deployed by device {d.device}, which is not in the "
            f"issue list {issues.source} ({check.at})",
        )


def uncorrected_time(check: DeploymentCheck) -> Iterator[LinkFinding]:
    """``uncorrected_time``: the ``DEPLOY`` cannot be placed in UTC (the time rules below
    are then not applied)."""
    if check.span is None:
        yield check.finding(
            LinkKind.UNCORRECTED_TIME,
            Severity.WARNING,
            f"the DEPLOY of {check.deployment.serial} ({check.at}) cannot be placed in UTC: "
            "who held the device and the cartridge then, and the incident window, are not "
            "checked",
        )


def cartridge_not_out(check: DeploymentCheck) -> Iterator[LinkFinding]:
    """``cartridge_not_out``: the cartridge was not signed out at its use."""
    d = check.deployment
    yield from _not_out(check, d.serial, "cartridge", d.cartridge_custody)


def device_not_out(check: DeploymentCheck) -> Iterator[LinkFinding]:
    """``device_not_out``: the device was issued to nobody at its use."""
    d = check.deployment
    yield from _not_out(check, d.device, "device", d.device_custody)


def other_officer(check: DeploymentCheck) -> Iterator[LinkFinding]:
    """``other_officer``: the cartridge was signed out to another officer than the one
    holding the device (an error when at every instant of the bound, else a warning)."""
    span, row, d = check.span, check.row, check.deployment
    if span is None or row is None:
        return
    issues = check.link.issues
    pairs = []
    for p in points(issues, [d.serial, d.device], *span):
        held, signed = issues.holder_at(d.device, p), issues.holder_at(d.serial, p)
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
    yield check.finding(
        LinkKind.OTHER_OFFICER,
        Severity.WARNING if partly else Severity.ERROR,
        f"cartridge {d.serial} was signed out to {signed.officer!r} ({signed.where()}) but "
        f"device {d.device} was held by {held.officer!r} ({held.where()}) {when} "
        f"({check.at})" + _movement_text(row, d, signed.officer),
    )


def outside_window(check: DeploymentCheck) -> Iterator[LinkFinding]:
    """``outside_window``: the deployment lies outside the incident window (an error), or
    its bound reaches past an edge (a warning)."""
    span, window = check.span, check.link.window
    if span is None or window is None:
        return
    lo, hi = span
    what = f"the DEPLOY of {check.deployment.serial} ({check.at})"
    if hi < window.start_ms or lo > window.end_ms:
        yield check.finding(
            LinkKind.OUTSIDE_WINDOW,
            Severity.ERROR,
            f"{what} lies outside the incident window {window}",
        )
    elif lo < window.start_ms or hi > window.end_ms:
        yield check.finding(
            LinkKind.OUTSIDE_WINDOW,
            Severity.WARNING,
            f"{what} may lie outside the incident window {window}: its bound reaches past an edge",
        )


def unrecovered_deploy(check: DeploymentCheck) -> Iterator[LinkFinding]:
    """``unrecovered_deploy``: a ``DEPLOY`` no exhibit points to that lies (or may lie) in
    the incident window."""
    span, window, d = check.span, check.link.window, check.deployment
    if window is None:
        return
    if span is None:
        yield check.finding(
            LinkKind.UNRECOVERED_DEPLOY,
            Severity.INFO,
            f"cartridge {d.serial} was deployed ({check.at}); no exhibit points to it and "
            "its time cannot be placed, so it may lie in the incident window",
        )
    elif span[1] >= window.start_ms and span[0] <= window.end_ms:
        yield check.finding(
            LinkKind.UNRECOVERED_DEPLOY,
            Severity.INFO,
            f"cartridge {d.serial} was deployed in the incident window ({check.at}) but no "
            "exhibit points to it",
        )


def unmatched_exhibit(match: MatchRow) -> Iterator[LinkFinding]:
    """``unmatched_exhibit``: an exhibit whose reads match no serial of the list."""
    if match.status is MatchStatus.NONE:
        yield LinkFinding(
            LinkKind.UNMATCHED_EXHIBIT,
            Severity.INFO,
            f"exhibit {match.exhibit}: {match.reads} read(s) match no serial of the list; "
            "nothing to link",
            exhibits=(match.exhibit,),
        )


ROW_RULES: tuple[Callable[[RowCheck], Iterator[LinkFinding]], ...] = (
    ambiguous_match,
    cartridge_not_issued,
    no_deploy,
    deployed_twice,
)
"""The rules of a recovered cartridge made before its deployments' (``cartridge_moved``
comes after them)."""
DEPLOYMENT_RULES: tuple[Callable[[DeploymentCheck], Iterator[LinkFinding]], ...] = (
    device_not_listed,
    uncorrected_time,
    cartridge_not_out,
    device_not_out,
    other_officer,
    outside_window,
)
"""The rules of each ``DEPLOY`` of a recovered cartridge, in order."""


def check_all(
    context: LinkContext, rows: Sequence[LinkRow], matches: Sequence[MatchRow]
) -> list[LinkFinding]:
    """Every rule over every recovered cartridge, its deployments, the unmatched exhibits
    and (with a window) the deployments no exhibit points to, in that order."""
    found: list[LinkFinding] = []
    for row in rows:
        check = RowCheck(context, row)
        for rule in ROW_RULES:
            found.extend(rule(check))
        for deployment in row.deployments:
            on = DeploymentCheck(context, deployment, row)
            for deployment_rule in DEPLOYMENT_RULES:
                found.extend(deployment_rule(on))
        found.extend(cartridge_moved(check))
    for match in matches:
        found.extend(unmatched_exhibit(match))
    if context.window is not None:
        linked = {row.serial for row in rows}
        for device in context.devices:
            for deployment in device.deployments:
                if deployment.serial not in linked:
                    found.extend(unrecovered_deploy(DeploymentCheck(context, deployment)))
    return found


# -- the texts --------------------------------------------------------------------------


def _not_out(
    check: DeploymentCheck, serial: str, what: str, custody: Custody
) -> Iterator[LinkFinding]:
    span = check.span
    if span is None:
        return
    issues = check.link.issues
    kind = LinkKind.CARTRIDGE_NOT_OUT if what == "cartridge" else LinkKind.DEVICE_NOT_OUT
    verb = "signed out" if what == "cartridge" else "issued"
    if custody.state is CustodyState.NOT_OUT:
        yield check.finding(
            kind,
            Severity.ERROR,
            f"{what} {serial} was not {verb} to anyone at its use ({check.at}): "
            f"{_outside_text(issues.of(serial), span)}",
        )
    elif custody.state is CustodyState.UNCERTAIN:
        lo, hi = span
        if any(issues.holder_at(serial, p) is None for p in points(issues, [serial], lo, hi)):
            yield check.finding(
                kind,
                Severity.WARNING,
                f"{what} {serial} may not have been {verb} at its use ({check.at}): the "
                "time's bound straddles its issue or return",
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


def _ambiguous_text(match: MatchRow, context: LinkContext) -> str:
    by_serial, issues = context.by_serial, context.issues
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
