"""Findings: what verification found, as data an examiner can cite.

Every finding has a kind (**contract**: the names below), a severity, the range of sequence
numbers it concerns, the byte offset in the image where it shows, and a one-line
explanation.  A :class:`Report` holds all of them — never only the first — and the coverage
window: which records are verified, chained, sealed and covered by the statement.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from taserlink.findings import FindingsResult, Severity

__all__ = ["Kind", "Severity", "Finding", "Coverage", "Report", "DEFAULT_SEVERITY"]


class Kind(enum.Enum):
    """What a finding is about (**contract**: these names)."""

    CRC = "crc"
    """A record's CRC does not match its bytes."""
    GAP = "gap"
    """Sequence numbers are missing."""
    REORDER = "reorder"
    """A record stands before one with a lower sequence number."""
    DUPLICATE = "duplicate"
    """A sequence number appears more than once."""
    TRUNCATED = "truncated"
    """The image ends before the sections it declares."""
    CHAIN = "chain"
    """The hash chain does not lead from the base to a seal or the statement."""
    SIGNATURE = "signature"
    """A base, seal or statement signature does not verify, or is missing; or (format
    version 2) the download workstation's signature over the acquisition does not verify."""
    CERTIFICATE = "certificate"
    """The device certificate (or, in format version 2, the download workstation's) is
    invalid: chain, validity, key usage, serial or workstation name."""
    UNTRUSTED_ROOT = "untrusted_root"
    """A certificate chain (the device's, or the download workstation's) does not lead to a
    trusted root."""
    CERTIFICATE_CONFORMANCE = "certificate_conformance"
    """The certificate library warned about a certificate of the chain (it departs from
    RFC 5280 in a way the library still reads, e.g. a serial number that is not positive)."""
    STALE_STATEMENT = "stale_statement"
    """The statement's nonce is not this acquisition's: it was made for another download."""
    CLOCK_JUMP = "clock_jump"
    """Device time goes backwards with no ``CLOCK_SET`` to explain it."""
    CLOCK_SET = "clock_set"
    """The device's clock was set (``CLOCK_SET``)."""
    LOG_WRAP = "log_wrap"
    """The device deleted its oldest records (``LOG_WRAP``, a re-based log)."""
    ACQUISITION_HASH = "acquisition_hash"
    """The acquisition's SHA-256 of the device sections, or its closing digest, is wrong
    (an error); or, as a warning in every format-version-1 image, the acquisition's host
    fields are protected by these keyless digests only."""
    CONTINUITY = "continuity"
    """An archive's next download does not continue the last one."""


DEFAULT_SEVERITY: dict[Kind, Severity] = {
    Kind.CRC: Severity.ERROR,
    Kind.GAP: Severity.ERROR,
    Kind.REORDER: Severity.ERROR,
    Kind.DUPLICATE: Severity.ERROR,
    Kind.TRUNCATED: Severity.ERROR,
    Kind.CHAIN: Severity.ERROR,
    Kind.SIGNATURE: Severity.ERROR,
    Kind.CERTIFICATE: Severity.ERROR,
    Kind.UNTRUSTED_ROOT: Severity.ERROR,
    Kind.CERTIFICATE_CONFORMANCE: Severity.WARNING,
    Kind.STALE_STATEMENT: Severity.ERROR,
    Kind.CLOCK_JUMP: Severity.WARNING,
    Kind.CLOCK_SET: Severity.INFO,
    Kind.LOG_WRAP: Severity.INFO,
    Kind.ACQUISITION_HASH: Severity.ERROR,
    Kind.CONTINUITY: Severity.ERROR,
}
"""The severity each kind has unless a check says otherwise."""


@dataclass(frozen=True)
class Finding:
    """One thing verification found.

    Attributes:
        kind: what it is about.
        severity: how much it matters.
        seq_first, seq_last: the sequence numbers concerned (``None`` when none are).
        offset: byte offset in the image where it shows (``None`` for the whole image).
        message: one line for the examiner.
    """

    kind: Kind
    severity: Severity
    seq_first: int | None
    seq_last: int | None
    offset: int | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        """The finding as the JSON object of ``taserlink verify --json``."""
        return {
            "kind": self.kind.value,
            "severity": self.severity.value,
            "seq_first": self.seq_first,
            "seq_last": self.seq_last,
            "offset": self.offset,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = []
        if self.seq_first is not None:
            span = (
                f"seq {self.seq_first}"
                if self.seq_last in (None, self.seq_first)
                else f"seq {self.seq_first}–{self.seq_last}"
            )
            where.append(span)
        if self.offset is not None:
            where.append(f"offset {self.offset}")
        location = f" ({', '.join(where)})" if where else ""
        return f"{self.severity.value}: {self.kind.value}{location}: {self.message}"


@dataclass(frozen=True)
class Coverage:
    """Which records the verification vouches for, and how.

    Attributes:
        first_seq, last_seq: the records present (``None`` when there are none).
        verified: number of records whose CRC holds.
        chained: the base's signature holds and the chain from it reaches every valid seal
            and the statement (where there is one) without a break.
        sealed_up_to: the highest sequence with a valid seal that the chain reaches, without
            a break, from the base.
        statement_covers: the statement's last sequence, when its signature is valid and the
            records chain from the base to its chain value without a break.
    """

    first_seq: int | None
    last_seq: int | None
    verified: int
    chained: bool
    sealed_up_to: int | None
    statement_covers: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "verified": self.verified,
            "chained": self.chained,
            "sealed_up_to": self.sealed_up_to,
            "statement_covers": self.statement_covers,
        }

    def __str__(self) -> str:
        if self.first_seq is None or self.last_seq is None:
            return "no records"
        parts = [f"records {self.first_seq}–{self.last_seq} ({self.verified} with valid CRC)"]
        parts.append("chained to the base" if self.chained else "chain broken")
        parts.append(
            f"sealed up to {self.sealed_up_to}"
            if self.sealed_up_to is not None
            else "no valid seal"
        )
        parts.append(
            f"statement covers {self.statement_covers}"
            if self.statement_covers is not None
            else "no valid statement the records chain to"
        )
        return ", ".join(parts)


@dataclass(frozen=True)
class Report(FindingsResult[Kind, Finding]):
    """The outcome of verifying one image: every finding (``ok``, ``by_severity``,
    ``kinds`` and ``counts`` from :class:`~taserlink.findings.FindingsResult`) and the
    coverage."""

    findings: tuple[Finding, ...]
    coverage: Coverage
