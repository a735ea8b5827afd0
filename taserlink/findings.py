"""What every check of taserlink reports: findings with a kind and a severity.

Findings are data, never exceptions: a verifier's :class:`~taserlink.integrity.Report` and
linkage's :class:`~taserlink.forensics.link.Linkage` (and the results built on them) each
hold every finding they made, and share what a reader asks of them here
(:class:`FindingsResult`): is the result clean (``ok``), the findings of one severity, the
kinds present, the count per severity.  Each result keeps its own kinds (the names are each
command's **contract**).
"""

from __future__ import annotations

import enum
from typing import Any, Final, Generic, Protocol, TypeVar

__all__ = ["SEVERITY_ORDER", "FindingsResult", "Severity"]


class Severity(enum.Enum):
    """How much a finding matters to the evidence (**contract**: these values)."""

    ERROR = "error"
    """The evidence is compromised, or the claim it supports is contradicted."""
    WARNING = "warning"
    """Needs an examiner's explanation before the evidence is relied on."""
    INFO = "info"
    """Worth knowing (normal device behaviour such as a log wrap or a clock set)."""


SEVERITY_ORDER: Final = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
"""The order findings are listed in: errors first."""

K = TypeVar("K", bound=enum.Enum, covariant=True)


class _Finding(Protocol[K]):
    @property
    def kind(self) -> K: ...

    @property
    def severity(self) -> Severity: ...


F = TypeVar("F", bound=_Finding[Any])
KindT = TypeVar("KindT", bound=enum.Enum)


class FindingsResult(Generic[KindT, F]):
    """What a result holding ``findings`` answers (mixed into frozen dataclasses that have
    a ``findings`` field)."""

    findings: tuple[F, ...]

    @property
    def ok(self) -> bool:
        """True when no finding is an ``error``."""
        return not any(f.severity is Severity.ERROR for f in self.findings)

    def by_severity(self, severity: Severity) -> tuple[F, ...]:
        """The findings of one severity, in order."""
        return tuple(f for f in self.findings if f.severity is severity)

    def kinds(self) -> set[KindT]:
        """The kinds present."""
        return {f.kind for f in self.findings}

    def counts(self) -> dict[str, int]:
        """Findings per severity value (``error``, ``warning``, ``info``), every severity
        present as a key."""
        return {s.value: len(self.by_severity(s)) for s in SEVERITY_ORDER}
