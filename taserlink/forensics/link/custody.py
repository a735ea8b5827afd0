"""Who held a device or a cartridge over the interval a corrected time stands for.

A question about ``utc ± bound`` has a definite answer only when it has the same answer at
every instant of the interval; holders change only at issues and returns, so the interval
is sampled at its ends and at each issue or return inside it (:func:`points`).
"""

from __future__ import annotations

from collections.abc import Iterable

from taserlink.forensics.issues import Issue, IssueList, officer_key
from taserlink.forensics.link.result import Custody, CustodyState

__all__ = ["custody_over", "officers_of", "points"]


def points(issues: IssueList, serials: Iterable[str], lo: int, hi: int) -> list[int]:
    """Instants of ``[lo, hi]`` at which every holder of ``serials`` is sampled: the ends
    and each issue or return strictly inside (holders are constant between them)."""
    inner = {e for s in serials for e in issues.edges(s) if lo < e < hi}
    return sorted({lo, hi} | inner)


def custody_over(issues: IssueList, serial: str, span: tuple[int, int] | None) -> Custody:
    history = issues.of(serial)
    if not history:
        return Custody(CustodyState.NOT_LISTED)
    if span is None:
        return Custody(CustodyState.UNPLACED, officers_of(history), history)
    holders = [issues.holder_at(serial, p) for p in points(issues, [serial], *span)]
    present = tuple(dict.fromkeys(h for h in holders if h is not None))
    if not present:
        return Custody(CustodyState.NOT_OUT)
    officers = officers_of(present)
    if len(officers) == 1 and all(h is not None for h in holders):
        return Custody(CustodyState.HELD, officers, present)
    return Custody(CustodyState.UNCERTAIN, officers, present)


def officers_of(issues: Iterable[Issue]) -> tuple[str, ...]:
    """Distinct officers (by :func:`officer_key`), first spelling kept, in order."""
    seen: dict[str, str] = {}
    for issue in issues:
        seen.setdefault(officer_key(issue.officer), issue.officer)
    return tuple(seen.values())
