"""Every use the devices logged, held against the officers' accounts (design §8,
``taserlink reconcile``).

An account covers the use episodes of its device whose corrected interval, widened by the
episode's bound, overlaps the account's time widened by the tolerance (forms are written
after the event: ± 15 minutes by default, :attr:`ReconcileSettings.tolerance_ms`).  One
account may cover several episodes (a device drawn twice in one incident) and one episode
several accounts (two subjects, a report each): accounts and episodes joined by covering
form **groups**, and a group is compared as a whole — the device's highest use against the
highest any of its reports gives, the cartridges fired against those the reports list, the
cycles against the cycles they report — so that a second subject who was only aimed at
does not make the first report's firing look understated.

Findings (**contract**: kinds and severities of design §8), each naming the device, its
records, the report and the officer, with one line saying what the device shows against
what the account says:

==========================  ========  ================================================
``unaccounted``             error     a use episode no account covers
``understated_use``         error     the device logged a higher use than the reports'
                                      highest (aimed and angled drive stun are never
                                      device-visible, so never the device's)
``cartridge_differs``       error     the reports list cartridges, and not the ones the
                                      device fired
``other_officer``           error     the account's officer did not hold the device (by
                                      the register or the issue list)
``overstated_use``          warning   a report ticks a use the device would have logged
                                      (fired, drive stun, arced, red-dotted) and did not
``cycles_differ``           warning   the reports' cycles differ from the device's
``long_cycle``              warning   an energy application over 5 s (the message says
                                      whether the account said a cycle was extended)
``no_device_evidence``      warning   the downloads cover the account's time but hold no
                                      use episode then
``not_downloaded``          warning   no download covers the account's time
``corroborated``            info      an account with none of the above
==========================  ========  ================================================

Episodes of kind ``test`` (spark tests) and ``training`` are never uses: no account is
expected of them and none is matched to them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from taserlink.errors import ReconcileError
from taserlink.findings import Severity
from taserlink.forensics.issues import officer_key
from taserlink.forensics.link.result import Custody, CustodyState
from taserlink.postuse.accounts import Account
from taserlink.postuse.episodes import Episode, EpisodeKind
from taserlink.postuse.uses import SEVERITY, UseLevel
from taserlink.timeline.times import utc_text

__all__ = [
    "Coverage",
    "DeviceUse",
    "FindingKind",
    "Reconciliation",
    "ReconcileFinding",
    "ReconcileSettings",
    "reconcile",
]

MINUTE: Final = 60_000
VISIBLE_TICKS: Final = ("fired", "drive_stun", "arced", "red_dotted")
"""The uses an account may tick that a device logs when they happen."""
LONG_MS: Final = 5_000
"""An energy application longer than this is long (the IOPC's concern)."""


class FindingKind(enum.Enum):
    """The reconciliation's finding kinds (**contract**: design §8)."""

    UNACCOUNTED = "unaccounted"
    UNDERSTATED_USE = "understated_use"
    CARTRIDGE_DIFFERS = "cartridge_differs"
    OTHER_OFFICER = "other_officer"
    OVERSTATED_USE = "overstated_use"
    CYCLES_DIFFER = "cycles_differ"
    LONG_CYCLE = "long_cycle"
    NO_DEVICE_EVIDENCE = "no_device_evidence"
    NOT_DOWNLOADED = "not_downloaded"
    CORROBORATED = "corroborated"

    @property
    def severity(self) -> Severity:
        """The kind's severity (**contract**)."""
        return _SEVERITY[self]


_SEVERITY: Final = {
    FindingKind.UNACCOUNTED: Severity.ERROR,
    FindingKind.UNDERSTATED_USE: Severity.ERROR,
    FindingKind.CARTRIDGE_DIFFERS: Severity.ERROR,
    FindingKind.OTHER_OFFICER: Severity.ERROR,
    FindingKind.OVERSTATED_USE: Severity.WARNING,
    FindingKind.CYCLES_DIFFER: Severity.WARNING,
    FindingKind.LONG_CYCLE: Severity.WARNING,
    FindingKind.NO_DEVICE_EVIDENCE: Severity.WARNING,
    FindingKind.NOT_DOWNLOADED: Severity.WARNING,
    FindingKind.CORROBORATED: Severity.INFO,
}
_ORDER: Final = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass(frozen=True)
class ReconcileSettings:
    """How accounts are held against episodes.

    Attributes:
        tolerance_ms: how far (ms) an account's times may lie from the device's (forms
            are written after the event, times from memory): 15 minutes by default.
        period: only episodes and accounts overlapping ``(from_ms, to_ms)`` (UTC ms, the
            end exclusive), or everything.
    """

    tolerance_ms: int = 15 * MINUTE
    period: tuple[int, int] | None = None

    def within(self, start_ms: int | None, end_ms: int | None) -> bool:
        """Whether ``[start_ms, end_ms]`` (UTC ms; ``end_ms`` ``None``: an instant)
        overlaps the period; a time unknown (``None``) lies in no period."""
        if self.period is None:
            return True
        if start_ms is None:
            return False
        return (
            start_ms < self.period[1]
            and (end_ms if end_ms is not None else start_ms) >= (self.period[0])
        )


@dataclass(frozen=True)
class Coverage:
    """What one device's downloads cover: each download's first and last record, in
    corrected UTC (ms), or ``None`` where its clock could not be corrected."""

    device: str
    spans: tuple[tuple[int, int], ...]

    def covers(self, start_ms: int, end_ms: int) -> bool:
        """Whether a download holds the device's records over ``[start_ms, end_ms]``."""
        return any(lo <= start_ms and end_ms <= hi for lo, hi in self.spans)


@dataclass(frozen=True)
class DeviceUse:
    """An episode with who held the device and the reports that cover it."""

    episode: Episode
    custody: Custody
    reports: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The contract's episode object (design §8), with the detail after it."""
        return self.episode.as_dict(custody=self.custody, reports=self.reports)


@dataclass(frozen=True)
class ReconcileFinding:
    """One finding of the reconciliation (design §8 JSON fields, plus its time)."""

    kind: FindingKind
    device: str | None
    seq_first: int | None
    seq_last: int | None
    report: str | None
    """The report(s) concerned, ``;``-separated where a group holds several."""
    officer: str | None
    message: str
    utc_ms: int
    """When it happened (the episode's corrected start, else the account's start)."""

    @property
    def severity(self) -> Severity:
        return self.kind.severity

    def as_dict(self) -> dict[str, Any]:
        """The contract's finding object (design §8) and its time."""
        return {
            "kind": self.kind.value,
            "severity": self.severity.value,
            "device": self.device,
            "seq_first": self.seq_first,
            "seq_last": self.seq_last,
            "report": self.report,
            "officer": self.officer,
            "message": self.message,
            "utc": utc_text(self.utc_ms),
        }


@dataclass(frozen=True)
class Reconciliation:
    """The episodes with their reports and the findings, most urgent first."""

    uses: tuple[DeviceUse, ...]
    findings: tuple[ReconcileFinding, ...]
    settings: ReconcileSettings = field(default_factory=ReconcileSettings)

    def counts(self) -> dict[str, int]:
        """Findings by kind, in the contract's order (every kind, zero included)."""
        counted = {kind.value: 0 for kind in FindingKind}
        for finding in self.findings:
            counted[finding.kind.value] += 1
        return counted

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)

    def queue(self) -> tuple[ReconcileFinding, ...]:
        """What needs a person: the errors, then the warnings, each oldest first."""
        return tuple(f for f in self.findings if f.severity is not Severity.INFO)

    def as_dict(self) -> dict[str, Any]:
        """The contract's JSON (design §8): ``episodes`` and ``findings``, and ``counts``."""
        return {
            "episodes": [use.as_dict() for use in self.uses],
            "findings": [finding.as_dict() for finding in self.findings],
            "counts": self.counts(),
            "settings": {
                "tolerance_ms": self.settings.tolerance_ms,
                "from": None if self.settings.period is None else utc_text(self.settings.period[0]),
                "to": None if self.settings.period is None else utc_text(self.settings.period[1]),
            },
        }


def reconcile(
    episodes: Sequence[Episode],
    custody: Sequence[Custody],
    coverage: Iterable[Coverage],
    accounts: Iterable[Account],
    settings: ReconcileSettings | None = None,
) -> Reconciliation:
    """Hold ``accounts`` against the devices' ``episodes`` (module docstring).

    Args:
        episodes: every device's episodes (:func:`~taserlink.postuse.episodes.episodes`).
        custody: who held the device over each episode, in the same order
            (:func:`~taserlink.postuse.episodes.holders`).
        coverage: what each device's downloads cover.
        accounts: the officers' accounts; rows without a device (no CED) are left out.
        settings: the tolerance and the period.

    Raises:
        ReconcileError: ``custody`` and ``episodes`` of different lengths.
    """
    settings = settings or ReconcileSettings()
    if len(custody) != len(episodes):
        raise ReconcileError(f"{len(custody)} custodies for {len(episodes)} episodes: one each")
    covered = {c.device: c for c in coverage}
    chosen = [
        (e, c)
        for e, c in zip(episodes, custody, strict=True)
        if settings.within(e.utc_start_ms, e.utc_end_ms)
    ]
    uses = [(e, c) for e, c in chosen if e.kind is EpisodeKind.USE]
    wanted = [a for a in accounts if a.device is not None and settings.within(a.start_ms, a.end_ms)]
    by_device: dict[str, list[int]] = {}
    for n, (episode, _) in enumerate(uses):
        by_device.setdefault(episode.device, []).append(n)
    parent = list(range(len(uses) + len(wanted)))

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    covering: dict[int, list[int]] = {}
    for k, account in enumerate(wanted):
        lo = account.start_ms - settings.tolerance_ms
        hi = (account.end_ms or account.start_ms) + settings.tolerance_ms
        for n in by_device.get(account.device or "", []):
            episode = uses[n][0]
            span = _span(episode)
            if span is not None and span[0] <= hi and lo <= span[1]:
                covering.setdefault(n, []).append(k)
                parent[find(len(uses) + k)] = find(n)
    findings: list[ReconcileFinding] = []
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for n in range(len(uses)):
        groups.setdefault(find(n), ([], []))[0].append(n)
    for k in range(len(wanted)):
        root = find(len(uses) + k)
        if root < len(uses):
            groups[root][1].append(k)
        else:
            findings.append(_unmatched(wanted[k], covered.get(wanted[k].device or "")))
    for members, reports in groups.values():
        group_uses = [uses[n] for n in members]
        group_accounts = [wanted[k] for k in reports]
        if not group_accounts:
            findings.extend(_unaccounted(e, c) for e, c in group_uses)
        else:
            findings.extend(_compare(group_uses, group_accounts))
    findings.sort(key=_urgency)
    described = tuple(
        DeviceUse(e, c, tuple(wanted[k].report for k in covering.get(n, [])))
        for n, (e, c) in enumerate(uses)
    )
    others = tuple(DeviceUse(e, c) for e, c in chosen if e.kind is not EpisodeKind.USE)
    everything = sorted(described + others, key=lambda u: (u.episode.device, u.episode.seq_first))
    return Reconciliation(tuple(everything), tuple(findings), settings)


# -- the comparisons -----------------------------------------------------------------------


def _compare(
    uses: list[tuple[Episode, Custody]], accounts: list[Account]
) -> list[ReconcileFinding]:
    """The findings of one group: its use episodes and the accounts covering them."""
    episodes = [e for e, _ in uses]
    device = episodes[0].device
    first = min(e.seq_first for e in episodes)
    last = max(e.seq_last for e in episodes)
    at = min(_start(e) for e in episodes)
    reports = ";".join(a.report for a in accounts)
    officers = ";".join(dict.fromkeys(a.officer for a in accounts))
    where = f"device {device} seq {first}–{last}"
    shows = _shows(episodes)
    out: list[ReconcileFinding] = []

    def add(
        kind: FindingKind, message: str, report: str = reports, officer: str = officers
    ) -> None:
        out.append(ReconcileFinding(kind, device, first, last, report, officer, message, at))

    device_highest = max(
        (e.highest_use for e in episodes if e.highest_use is not None),
        key=lambda u: u.rank,
        default=None,
    )
    claimed = [a.highest_use for a in accounts if a.highest_use is not None]
    account_highest = max(claimed, key=SEVERITY.__getitem__, default=None)
    said = f"account {reports}: highest use {_said(account_highest)}"
    if device_highest is not None and device_highest.rank > (
        SEVERITY[account_highest] if account_highest else 0
    ):
        add(FindingKind.UNDERSTATED_USE, f"{said}; {where} {shows}")
    ticked = [t for t in VISIBLE_TICKS if any(getattr(a, t) is True for a in accounts)]
    unseen = [t for t in ticked if not _logged(episodes, t)]
    if unseen:
        add(
            FindingKind.OVERSTATED_USE,
            f"account {reports} ticks {', '.join(_name(t) for t in unseen)}; {where} "
            f"logged none ({shows})",
        )
    fired = [s for e in episodes for s in e.serials]
    listed = list(dict.fromkeys(s for a in accounts for s in a.cartridges))
    if listed and set(listed) != set(fired):
        add(
            FindingKind.CARTRIDGE_DIFFERS,
            f"account {reports} lists cartridge(s) {', '.join(listed)}; {where} fired "
            f"{', '.join(fired) or 'no cartridge'}",
        )
    stated = [a.cycles for a in accounts]
    cycles = sum(len(e.cycles) for e in episodes)
    if stated and all(c is not None for c in stated):
        total = sum(c for c in stated if c is not None)
        if total != cycles:
            add(
                FindingKind.CYCLES_DIFFER,
                f"account {reports}: {total} cycle(s); {where} logged {cycles} "
                f"({_cycles(episodes)})",
            )
    long = [a for e in episodes for a in e.applications if a.duration_ms > LONG_MS]
    if long:
        extended = [a.cycle_extended for a in accounts]
        says = (
            "says no cycle was extended"
            if extended and all(x is False for x in extended)
            else "says a cycle was extended"
            if any(x is True for x in extended)
            else "does not say whether a cycle was extended"
        )
        longest = max(a.duration_ms for a in long)
        add(
            FindingKind.LONG_CYCLE,
            f"account {reports} {says}; {where} logged {len(long)} energy application(s) "
            f"over 5 s, the longest {longest / 1000:.1f} s (seq "
            f"{', '.join(str(a.seq) for a in long)})",
        )
    holders = {
        officer_key(o): o
        for _, c in uses
        if c.state in (CustodyState.HELD, CustodyState.UNCERTAIN)
        for o in c.officers
    }
    for account in accounts:
        if officer_key(account.officer) not in holders:
            held = ", ".join(holders.values()) or "nobody, by the issue list"
            add(
                FindingKind.OTHER_OFFICER,
                f"account {account.report} is {account.officer}'s; {where} was held by {held}",
                account.report,
                account.officer,
            )
    named = {r for f in out if f.severity is not Severity.INFO for r in (f.report or "").split(";")}
    for account in accounts:
        if account.report not in named:
            add(
                FindingKind.CORROBORATED,
                f"account {account.report}: highest use {_said(account.highest_use)}; "
                f"{where} {shows}",
                account.report,
                account.officer,
            )
    return out


def _unaccounted(episode: Episode, custody: Custody) -> ReconcileFinding:
    holder = ", ".join(custody.officers) or None
    return ReconcileFinding(
        FindingKind.UNACCOUNTED,
        episode.device,
        episode.seq_first,
        episode.seq_last,
        None,
        holder,
        f"no account covers device {episode.device} seq {episode.seq_first}–"
        f"{episode.seq_last} {_shows([episode])}"
        + (f", held by {holder}" if holder else ", held by nobody by the issue list"),
        _start(episode),
    )


def _unmatched(account: Account, coverage: Coverage | None) -> ReconcileFinding:
    end = account.end_ms or account.start_ms
    device = account.device or ""
    if coverage is not None and coverage.covers(account.start_ms, end):
        kind = FindingKind.NO_DEVICE_EVIDENCE
        message = (
            f"account {account.report}: highest use {_said(account.highest_use)} at "
            f"{utc_text(account.start_ms)}; the downloads of device {device} cover that time "
            "and hold no use episode then"
        )
    else:
        kind = FindingKind.NOT_DOWNLOADED
        message = (
            f"account {account.report}: highest use {_said(account.highest_use)} at "
            f"{utc_text(account.start_ms)}; no download of device {device} covers that time"
        )
    return ReconcileFinding(
        kind, device, None, None, account.report, account.officer, message, account.start_ms
    )


# -- words -----------------------------------------------------------------------------------


def _shows(episodes: Sequence[Episode]) -> str:
    """What the device shows, in a few words: the highest use, the cartridges fired with
    their corrected times, the energy applications."""
    parts = []
    for episode in episodes:
        level = episode.highest_use
        when = (
            f"at {utc_text(episode.utc_start_ms)} ± {_seconds(episode.bound_ms)}"
            if episode.utc_start_ms is not None
            else "(time uncorrected)"
        )
        if level is UseLevel.FIRED:
            parts.append(f"fired cartridge {', '.join(episode.serials)} {when}")
        elif level is None:
            parts.append(f"logged no use {when}")
        else:
            parts.append(f"{_name(level.value)} {when}")
    return "; ".join(parts)


def _cycles(episodes: Sequence[Episode]) -> str:
    lengths = [c.duration_ms for e in episodes for c in e.cycles]
    return ", ".join(f"{ms / 1000:.1f} s" for ms in lengths) or "none"


def _logged(episodes: Sequence[Episode], tick: str) -> bool:
    if tick == "fired":
        return any(e.cartridges for e in episodes)
    if tick == "drive_stun":
        return any(e.drive_stuns for e in episodes)
    if tick == "arced":
        return any(e.arcs for e in episodes)
    return any(e.laser_shown for e in episodes)


_NAMES: Final = {
    "red_dotted": "red-dotted",
    "drive_stun": "drive stun",
    "angle_drive_stun": "angled drive stun",
}


def _name(use: str) -> str:
    return _NAMES.get(use, use)


def _said(use: str | None) -> str:
    return "not stated" if use is None else _name(use)


def _seconds(ms: int | None) -> str:
    return "?" if ms is None else f"{ms / 1000:.1f} s"


def _span(episode: Episode) -> tuple[int, int] | None:
    if episode.utc_start_ms is None or episode.utc_end_ms is None:
        return None
    bound = episode.bound_ms or 0
    return episode.utc_start_ms - bound, episode.utc_end_ms + bound


def _start(episode: Episode) -> int:
    return episode.utc_start_ms if episode.utc_start_ms is not None else 0


def _urgency(f: ReconcileFinding) -> tuple[int, int, str, int, str]:
    return (_ORDER[f.severity], f.utc_ms, f.device or "", f.seq_first or 0, f.report or "")
