"""Verify a dataport image: every finding, not only the first, and the coverage window.

:func:`verify_image` checks, in this order, and reports what each check finds:

1. the acquisition's two digests (``acquisition_hash``); in a format-version-2 image, the
   download workstation's certificate chain against the same trusted roots (``certificate``,
   ``untrusted_root``) and its signature over the acquisition (``signature``: a re-timed
   download is an error); a version-1 image, whose host fields only keyless digests
   protect, gets one ``acquisition_hash`` *warning* saying so;
2. the certificates against the trusted roots (``certificate``, ``untrusted_root``), and that
   each certificate's own signature is whole bytes (a padded BIT STRING would let a byte the
   issuer did not sign change unnoticed); a certificate ``cryptography`` cannot read is a
   ``certificate`` finding, never an exception;
3. the signatures of the base, every seal and the statement (``signature``), and that the
   statement vouches for this identity and that no seal it promises is missing;
4. record CRCs (``crc``) and sequence numbers (``gap``, ``duplicate``, ``reorder``);
5. the hash chain from the signed base through every record, compared at every seal and at
   the statement (``chain``); a mismatch is located between two seals;
6. the statement's nonce against the acquisition's (``stale_statement``);
7. device time: backwards steps with no ``CLOCK_SET`` (``clock_jump``), clock sets and
   clock resets, log wraps (``clock_set``, ``log_wrap``).

Only the verifying path is used: records are read with the bulk path for speed, but every
CRC is checked and every chain link recomputed; nothing is taken on trust from the fast
path.  A truncated image gives a ``truncated`` finding; any other malformed image raises
:class:`~taserlink.errors.FormatError` (it cannot be verified at all).

No byte is uncovered: any single-byte change to an image is unreadable or an ``error``
finding, and so is any change to sections 2–7 or the acquisition nonce by someone who
recomputes the keyless acquisition digests — and, in a version-2 image, any change at all
(``tests/test_no_uncovered_byte.py``, ``tools/mutation_sweep.py``).  Work and memory grow
with the image's size, never with the values in it: gaps are found from the sequence numbers
present, not by listing every number up to the largest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from taserlink.errors import TruncatedError
from taserlink.format import (
    EventCode,
    Image,
    Statement,
    crc_mismatches,
    payload_view,
    read_image,
)
from taserlink.format import layout as L
from taserlink.format.image import acquisition_signed_fields, encode_base, encode_statement
from taserlink.integrity.chain import chain_records, genesis_chain
from taserlink.integrity.findings import (
    DEFAULT_SEVERITY,
    Coverage,
    Finding,
    Kind,
    Report,
    Severity,
)
from taserlink.integrity.trust import (
    BAD_CERTIFICATE,
    ChainResult,
    TrustStore,
    check_chain,
    check_workstation_chain,
)

__all__ = ["verify_image", "verify_continuity", "MAX_FINDINGS_PER_KIND", "UNSIGNED_ACQUISITION"]

MAX_FINDINGS_PER_KIND = 200
"""Past this many findings of one kind, one more finding says how many were left out."""

_UNSIGNED = slice(None, -L.SIGNATURE_SIZE)
UNSIGNED_ACQUISITION = (
    "format version 1: the download host's times, clock source, tool, operator and "
    "workstation are protected only by keyless digests, which anyone holding the file can "
    "recompute (no workstation signature): corroborate them from outside the image"
)
"""The message of the ``acquisition_hash`` warning every version-1 image gets."""


class _Findings:
    """Collects findings, bounded per kind so a scrambled log cannot exhaust memory."""

    def __init__(self) -> None:
        self.items: list[Finding] = []
        self._counts: dict[Kind, int] = {}

    def add(
        self,
        kind: Kind,
        message: str,
        *,
        seq: tuple[int, int] | int | None = None,
        offset: int | None = None,
        severity: Severity | None = None,
    ) -> None:
        count = self._counts.get(kind, 0) + 1
        self._counts[kind] = count
        if count > MAX_FINDINGS_PER_KIND:
            return
        first, last = (seq, seq) if isinstance(seq, int) else seq if seq else (None, None)
        self.items.append(
            Finding(kind, severity or DEFAULT_SEVERITY[kind], first, last, offset, message)
        )

    def close(self) -> tuple[Finding, ...]:
        for kind, count in self._counts.items():
            if count > MAX_FINDINGS_PER_KIND:
                left = count - MAX_FINDINGS_PER_KIND
                self.items.append(
                    Finding(
                        kind,
                        DEFAULT_SEVERITY[kind],
                        None,
                        None,
                        None,
                        f"{left} more {kind.value} findings not listed",
                    )
                )
        return tuple(self.items)

    def skip(self, kind: Kind, count: int) -> None:
        """Count ``count`` more findings of ``kind`` without listing them (call after
        adding the first ``MAX_FINDINGS_PER_KIND``)."""
        self._counts[kind] = self._counts.get(kind, 0) + count


def _missing_runs(
    present: npt.NDArray[np.int64], first: int, last: int
) -> Iterator[tuple[int, int]]:
    """Runs of the integers ``first``…``last`` absent from ``present`` (sorted, distinct).

    Works from the gaps between the values present, never materialising the range: a
    sequence number changed to 4,000,000,000 costs nothing more than any other.
    """
    inside = present[(present >= first) & (present <= last)]
    edges = np.concatenate(([first - 1], inside, [last + 1])).astype(np.int64)
    gaps = np.flatnonzero(np.diff(edges) > 1)
    starts = (edges[gaps] + 1).tolist()
    ends = (edges[gaps + 1] - 1).tolist()
    yield from zip(starts, ends, strict=True)


def _runs(values: npt.NDArray[np.int64]) -> Iterator[tuple[int, int]]:
    """Consecutive runs in sorted integers: [3,4,5,9] → (3,5), (9,9)."""
    if len(values) == 0:
        return
    breaks = np.flatnonzero(np.diff(values) != 1)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(values) - 1]))
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        yield int(values[start]), int(values[end])


def _verify(key: Ed25519PublicKey | None, signature: bytes, message: bytes) -> bool:
    if key is None:
        return False
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _utc(ms: int) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return dt.datetime.max.replace(tzinfo=dt.UTC)


def verify_image(
    source: Image | bytes | bytearray | memoryview | str | os.PathLike[str],
    trust: TrustStore,
) -> Report:
    """Verify one image against the trusted manufacturer roots in ``trust``.

    Args:
        source: a parsed :class:`~taserlink.format.Image`, its bytes, or a path.
        trust: the roots the device certificate must chain to.

    Returns:
        A :class:`~taserlink.integrity.findings.Report` with every finding and the coverage.

    Raises:
        ImageIOError: the file cannot be read.
        FormatError: the image is malformed in a way that is not a truncation.
    """
    if isinstance(source, Image):
        image = source
    else:
        try:
            image = read_image(source)
        except TruncatedError as error:
            finding = Finding(
                Kind.TRUNCATED, Severity.ERROR, None, None, error.offset, error.reason
            )
            return Report((finding,), Coverage(None, None, 0, False, None, None))
    return _Verifier(image, trust).run()


class _Verifier:
    def __init__(self, image: Image, trust: TrustStore) -> None:
        self.image = image
        self.trust = trust
        self.found = _Findings()
        self.serial = image.identity.serial
        self.records = image.records
        self.seq = image.records["seq"].astype(np.int64)
        self.view = memoryview(image.data)  # sections are sliced from it without copies
        # The verifier checks every CRC itself, whatever the reader was told to do.
        self.crc_failures = crc_mismatches(image.records).astype(np.int64)
        self.statement_missing = image.statement is None
        # Sequence numbers that strictly increase (the usual case) need no sorting.
        self.increasing = bool(np.all(self.seq[1:] > self.seq[:-1]))
        self._unique = self._unique_seq()
        self.key: Ed25519PublicKey | None = None
        self.base_ok = False
        self.statement_ok = False
        self.good_seals: dict[int, bytes] = {}
        self.sealed_up_to: int | None = None
        self.statement_covers: int | None = None
        self.chained = False

    def run(self) -> Report:
        self.check_acquisition()
        self.check_certificates()
        self.check_signatures()
        self.check_records()
        self.check_chain()
        self.check_clock()
        verified = len(self.records) - len(self.crc_failures)
        coverage = Coverage(
            int(self.seq[0]) if len(self.seq) else None,
            int(self.seq[-1]) if len(self.seq) else None,
            verified,
            self.chained,
            self.sealed_up_to,
            self.statement_covers,
        )
        findings = sorted(
            self.found.close(),
            key=lambda f: (f.offset if f.offset is not None else -1, f.kind.value),
        )
        return Report(tuple(findings), coverage)

    # -- 1. acquisition ---------------------------------------------------------------------
    def check_acquisition(self) -> None:
        image, view = self.image, self.view
        span = image.spans["acquisition"]
        closing_at = span.end - L.DIGEST_SIZE
        signed = image.acquisition.workstation_signature is not None
        device_at = closing_at - L.DIGEST_SIZE - (L.SIGNATURE_SIZE if signed else 0)
        running = hashlib.sha256(view[: span.offset])  # one pass over the image for both
        device = running.digest()
        running.update(view[span.offset : closing_at])
        if device != image.acquisition.device_sha256:
            self.found.add(
                Kind.ACQUISITION_HASH,
                "the SHA-256 of sections 1–7 is not the one recorded at acquisition",
                offset=device_at,
            )
        if running.digest() != image.acquisition.closing_sha256:
            self.found.add(
                Kind.ACQUISITION_HASH,
                "the closing SHA-256 over the image does not match: bytes were changed",
                offset=closing_at,
            )
        if signed:
            self.check_workstation(device_at + L.DIGEST_SIZE)
        else:
            self.found.add(
                Kind.ACQUISITION_HASH,
                UNSIGNED_ACQUISITION,
                offset=span.offset + L.NONCE_SIZE,
                severity=Severity.WARNING,
            )

    def check_workstation(self, signature_at: int) -> None:
        """A version-2 acquisition: the workstation's certificates and its signature."""
        image = self.image
        acquisition = image.acquisition
        signing = acquisition.workstation_signature
        assert signing is not None
        span = image.spans["acquisition"]
        strings = (
            acquisition.clock_source,
            acquisition.tool_version,
            acquisition.operator,
            acquisition.workstation,
        )
        algorithm_at = span.offset + L.NONCE_SIZE + 24 + sum(1 + len(t.encode()) for t in strings)
        certificates_at = algorithm_at + 1
        at = _utc(acquisition.host_utc_end_ms)
        try:
            result = check_workstation_chain(
                signing.certificates, acquisition.workstation, at, self.trust
            )
        except BAD_CERTIFICATE as error:  # a backstop: the checks report these themselves
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            result = ChainResult(
                None,
                (("certificate", f"a workstation certificate is malformed ({reason})", None),),
            )
        starts = [certificates_at + 1]
        for der in signing.certificates:
            starts.append(starts[-1] + 2 + len(der))
        for kind, message, index in result.problems:
            where = certificates_at if index is None else starts[index] + 2
            self.found.add(Kind(kind), message, offset=where)
        key = result.key
        if signing.algorithm != L.SIGNATURE_ED25519:
            self.found.add(
                Kind.SIGNATURE,
                f"unknown workstation signature algorithm {signing.algorithm}",
                offset=algorithm_at,
            )
            key = None
        signed = L.signed_message("acquisition", self.serial, acquisition_signed_fields(image))
        if not _verify(key, signing.signature, signed):
            reason = (
                "does not verify with the workstation's key: the host's times, nonce, clock "
                "source, tool, operator, workstation or the SHA-256 of sections 1–7 were "
                "changed after it signed"
                if key is not None
                else "cannot be checked: no usable workstation key"
            )
            self.found.add(
                Kind.SIGNATURE,
                f"the workstation's signature over the acquisition {reason}",
                offset=signature_at,
            )

    # -- 2. certificates --------------------------------------------------------------------
    def check_certificates(self) -> None:
        image = self.image
        at = _utc(image.acquisition.statement_utc_ms)
        offset = image.spans["certificates"].offset
        try:
            result = check_chain(image.certificates, self.serial, at, self.trust)
        except BAD_CERTIFICATE as error:  # a backstop: check_chain reports these itself
            self.key = None
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            self.found.add(
                Kind.CERTIFICATE,
                f"a certificate is malformed ({reason}): the device key cannot be trusted",
                offset=offset,
            )
        else:
            self.key = result.key
            starts = [offset + 1]  # count byte, then each certificate: u16 length, DER
            for der in image.certificates:
                starts.append(starts[-1] + 2 + len(der))
            for kind, message, index in result.problems:
                where = offset if index is None else starts[index] + 2
                self.found.add(Kind(kind), message, offset=where)
        if image.identity.signature_algorithm != L.SIGNATURE_ED25519:
            self.found.add(
                Kind.SIGNATURE,
                f"unknown signature algorithm {image.identity.signature_algorithm}",
                offset=image.spans["identity"].offset,
            )
            self.key = None

    # -- 3. signatures ----------------------------------------------------------------------
    def check_signatures(self) -> None:
        image = self.image
        base = image.base
        base_span = image.spans["base"]
        message = L.signed_message("base", self.serial, encode_base(base)[_UNSIGNED])
        self.base_ok = _verify(self.key, base.signature, message)
        if not self.base_ok:
            self.found.add(
                Kind.SIGNATURE,
                "the base signature does not verify with the device key",
                seq=base.first_seq,
                offset=base_span.offset + L.BASE_SIZE - L.SIGNATURE_SIZE,
            )
        self.check_seal_signatures()
        self.check_statement_signature()

    def check_seal_signatures(self) -> None:
        image = self.image
        start = image.spans["seals"].offset
        raw = image.section_bytes("seals")
        bad: list[int] = []
        for index in range(len(image.seals)):
            at = index * L.SEAL_SIZE
            fields = raw[at : at + L.SEAL_SIZE - L.SIGNATURE_SIZE]
            signature = raw[at + L.SEAL_SIZE - L.SIGNATURE_SIZE : at + L.SEAL_SIZE]
            seq = int(image.seals["seq"][index])
            if _verify(self.key, signature, L.signed_message("seal", self.serial, fields)):
                self.good_seals.setdefault(seq, bytes(image.seals["chain"][index]))
            else:
                bad.append(index)
        for first, last in _runs(np.asarray(bad, dtype=np.int64)):
            seqs = image.seals["seq"][first : last + 1]
            count = last - first + 1
            self.found.add(
                Kind.SIGNATURE,
                f"{count} seal signature(s) do not verify with the device key",
                seq=(int(seqs.min()), int(seqs.max())),
                offset=start + first * L.SEAL_SIZE,
            )

    def check_statement_signature(self) -> None:
        image, statement = self.image, self.image.statement
        span = image.spans["statement"]
        if statement is None:
            return  # reported by check_chain, which knows which records no seal covers
        message = L.signed_message("statement", self.serial, encode_statement(statement)[_UNSIGNED])
        self.statement_ok = _verify(self.key, statement.signature, message)
        if not self.statement_ok:
            self.found.add(
                Kind.SIGNATURE,
                "the statement signature does not verify with the device key",
                seq=(statement.first_seq, statement.last_seq),
                offset=span.offset + L.STATEMENT_SIZE - L.SIGNATURE_SIZE,
            )
        identity = hashlib.sha256(image.section_bytes("identity")).digest()
        if identity != statement.identity_sha256:
            self.found.add(
                Kind.SIGNATURE,
                "the identity section is not the one the device signed in its statement",
                offset=image.spans["identity"].offset,
            )
        if statement.nonce != image.acquisition.nonce:
            self.found.add(
                Kind.STALE_STATEMENT,
                "the statement answers another download's nonce: it is not this acquisition's",
                offset=span.offset,
            )
        self.check_promised_seals(statement.seal_interval, statement.first_seq, statement.last_seq)

    def check_promised_seals(self, interval: int, first: int, last: int) -> None:
        if interval <= 0:
            return
        # Checkpoint k is the seal after seq k × interval; work in k, never listing them all.
        first_k, last_k = -(-first // interval), last // interval
        present = self.image.seals["seq"].astype(np.int64)
        on_grid = present % interval == 0
        sealed_k = np.unique(present[on_grid] // interval)
        offset = self.image.spans["seals"].offset
        for run_first, run_last in _missing_runs(sealed_k, first_k, last_k):
            self.found.add(
                Kind.SIGNATURE,
                f"the device seals every {interval} records, but seals for "
                f"{run_last - run_first + 1} checkpoint(s) are missing",
                seq=(run_first * interval, run_last * interval),
                offset=offset,
            )
        extra = np.unique(
            present[~on_grid | (present < first_k * interval) | (present > last_k * interval)]
        )
        for value in extra[:MAX_FINDINGS_PER_KIND].tolist():
            self.found.add(
                Kind.SIGNATURE,
                f"a seal at seq {value} the device's seal interval {interval} does not explain",
                seq=int(value),
                offset=offset,
            )
        if len(extra) > MAX_FINDINGS_PER_KIND:
            self.found.skip(Kind.SIGNATURE, len(extra) - MAX_FINDINGS_PER_KIND)

    def _unique_seq(
        self,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The distinct sequence numbers, sorted; each one's first position; its count.

        ``np.unique`` sorts; when the sequence numbers already increase strictly (a device's
        log as written) the answer is known without sorting a million values.
        """
        seq = self.seq
        if self.increasing:
            return seq, np.arange(len(seq), dtype=np.int64), np.ones(len(seq), dtype=np.int64)
        values, first_index, counts = np.unique(seq, return_index=True, return_counts=True)
        return values, first_index.astype(np.int64), counts.astype(np.int64)

    # -- 4. CRCs and sequence numbers -------------------------------------------------------
    def check_records(self) -> None:
        image, seq = self.image, self.seq
        for first, last in _runs(self.crc_failures):
            count = last - first + 1
            self.found.add(
                Kind.CRC,
                f"{count} record(s) fail their CRC",
                seq=(int(seq[first]), int(seq[last])),
                offset=image.record_offset(first),
            )
        first_expected = image.base.first_seq
        statement = image.statement
        if len(seq) == 0:
            if statement is not None and statement.last_seq >= first_expected:
                self.found.add(
                    Kind.GAP,
                    "the log holds no records, but the statement covers some",
                    seq=(first_expected, statement.last_seq),
                    offset=image.spans["records"].offset,
                )
            return
        values, first_index, counts = self._unique
        repeated_values = values[counts > 1]
        for value in repeated_values[:MAX_FINDINGS_PER_KIND].tolist():
            where = np.flatnonzero(seq == value)
            self.found.add(
                Kind.DUPLICATE,
                f"sequence {value} appears {len(where)} times",
                seq=int(value),
                offset=image.record_offset(int(where[1])),
            )
        if len(repeated_values) > MAX_FINDINGS_PER_KIND:
            self.found.skip(Kind.DUPLICATE, len(repeated_values) - MAX_FINDINGS_PER_KIND)
        below = values[values < first_expected]
        if len(below):
            self.found.add(
                Kind.CHAIN,
                f"{len(below)} record(s) are numbered before the base's first sequence "
                f"{first_expected}",
                seq=(int(below[0]), int(below[-1])),
                offset=image.record_offset(int(first_index[0])),
            )
        last_expected = int(values[-1])
        if statement is not None and self.statement_ok:
            last_expected = max(last_expected, statement.last_seq)
        for run_first, run_last in _missing_runs(values, first_expected, last_expected):
            after = np.searchsorted(seq, run_first) if self.increasing else 0
            offset = image.record_offset(int(min(after, len(seq))))
            self.found.add(
                Kind.GAP,
                f"{run_last - run_first + 1} record(s) missing",
                seq=(run_first, run_last),
                offset=offset,
            )
        running = np.maximum.accumulate(seq)
        late = np.flatnonzero(seq[1:] < running[:-1]) + 1
        repeated = np.zeros(len(seq), dtype=bool)
        repeated[first_index] = True
        late = late[repeated[late]]  # a later copy of a sequence is a duplicate, not a reorder
        for first, last in _runs(late.astype(np.int64)):
            self.found.add(
                Kind.REORDER,
                "record(s) out of order: sequence numbers below ones already seen",
                seq=(int(seq[first]), int(seq[last])),
                offset=image.record_offset(first),
            )

    def _first_positions(self, wanted: list[int]) -> list[int | None]:
        """Index of the first record with each sequence number in ``wanted`` (``None``: none)."""
        values, first_index, _ = self._unique
        if len(values) == 0:
            return [None] * len(wanted)
        query = np.asarray(wanted, dtype=np.int64)
        at = np.minimum(np.searchsorted(values, query), len(values) - 1)
        hits = (values[at] == query).tolist()
        return [
            int(index) if hit else None
            for index, hit in zip(first_index[at].tolist(), hits, strict=True)
        ]

    # -- 5. the hash chain ------------------------------------------------------------------
    def check_chain(self) -> None:
        image = self.image
        base = image.base
        records = image.spans["records"]
        raw = self.view[records.offset : records.end]
        if base.first_seq == 1 and base.chain_before != genesis_chain(self.serial):
            self.found.add(
                Kind.CHAIN,
                "the base starts the log at sequence 1 but not from this device's genesis value",
                seq=1,
                offset=image.spans["base"].offset + 4,
            )
        # Checkpoints: file positions after which a chain value is known from a valid seal,
        # and the statement's at the end.
        sealed = sorted(self.good_seals.items())
        checkpoints: list[tuple[int, int, bytes, str]] = []
        for (seq, chain), where in zip(
            sealed, self._first_positions([seq for seq, _ in sealed]), strict=True
        ):
            if where is not None:
                checkpoints.append((where + 1, seq, chain, "seal"))
            elif seq >= base.first_seq:
                self.found.add(
                    Kind.CHAIN,
                    f"a seal covers sequence {seq}, which is not in the log",
                    seq=seq,
                    offset=image.spans["seals"].offset,
                )
        statement = image.statement
        if statement is not None and self.statement_ok:
            (where,) = self._first_positions([statement.last_seq])
            end = len(self.seq) if where is None else where + 1
            checkpoints.append((end, statement.last_seq, statement.chain, "statement"))
            beyond = self.seq[end:]
            if len(beyond):
                self.found.add(
                    Kind.CHAIN,
                    f"{len(beyond)} record(s) after the statement's last sequence "
                    f"{statement.last_seq}: no signature covers them",
                    seq=(int(beyond.min()), int(beyond.max())),
                    offset=image.record_offset(end),
                )
        value = base.chain_before
        start = 0
        unbroken = self.base_ok
        for end, seq, expected, what in sorted(
            checkpoints, key=lambda c: (c[0], c[3] == "statement")
        ):
            value = chain_records(value, raw[start * L.RECORD_SIZE : end * L.RECORD_SIZE])
            if value == expected:
                if what == "seal":
                    self.sealed_up_to = seq if unbroken else self.sealed_up_to
                else:
                    self.statement_covers = seq if unbroken else None
            else:
                unbroken = False
                first_seq = int(self.seq[start]) if start < len(self.seq) else seq
                self.found.add(
                    Kind.CHAIN,
                    f"the records do not chain to the {what} at sequence {seq}: "
                    "a record in this range was changed, added or removed",
                    seq=(first_seq, seq),
                    offset=image.record_offset(start),
                )
                value = expected  # re-anchor on the signed value to localise further breaks
            start = end
        if statement is not None and self.statement_ok and statement.first_seq != base.first_seq:
            unbroken = False
            self.found.add(
                Kind.CHAIN,
                f"the statement starts at sequence {statement.first_seq}, "
                f"the base at {base.first_seq}",
                offset=image.spans["statement"].offset,
            )
        if self.statement_missing:
            tail = self.seq[self.seq > (self.sealed_up_to or 0)] if len(self.seq) else self.seq
            uncovered = (
                f": records {int(tail.min())}–{int(tail.max())} are covered by no signature"
                if len(tail)
                else ""
            )
            self.found.add(
                Kind.SIGNATURE,
                "no download statement: the download's completeness and freshness are unproven"
                + uncovered,
                seq=(int(tail.min()), int(tail.max())) if len(tail) else None,
                offset=image.spans["statement"].offset,
            )
        self.chained = unbroken

    # -- 7. device time ---------------------------------------------------------------------
    def check_clock(self) -> None:
        image, records = self.image, self.records
        codes = records["code"]
        times = records["time_ms"]  # u8: compared unsigned, differences as Python ints
        resets = np.zeros(len(records), dtype=bool)
        power_on = codes == EventCode.POWER_ON
        resets[power_on] = payload_view(records, EventCode.POWER_ON)["rtc_valid"] == 0
        clock_set = codes == EventCode.CLOCK_SET
        backwards = np.flatnonzero(times[1:] < times[:-1]) + 1
        for index in backwards[~(clock_set[backwards] | resets[backwards])].tolist():
            step = (int(times[index - 1]) - int(times[index])) / 1000
            self.found.add(
                Kind.CLOCK_JUMP,
                f"device time goes back {step:.3f} s with no CLOCK_SET",
                seq=int(self.seq[index]),
                offset=image.record_offset(index),
            )
        for index in np.flatnonzero(resets).tolist():
            self.found.add(
                Kind.CLOCK_JUMP,
                "the device clock lost power and restarted at 2000-01-01 (the device says so)",
                seq=int(self.seq[index]),
                offset=image.record_offset(index),
            )
        sets = payload_view(records, EventCode.CLOCK_SET)
        set_at = np.flatnonzero(clock_set).tolist()
        for index, old in zip(set_at, sets["old_time_ms"].tolist(), strict=True):
            delta = (int(times[index]) - int(old)) / 1000
            self.found.add(
                Kind.CLOCK_SET,
                f"clock set by {delta:+.3f} s",
                seq=int(self.seq[index]),
                offset=image.record_offset(index),
            )
        self.check_wraps()

    def check_wraps(self) -> None:
        image, records = self.image, self.records
        wraps = np.flatnonzero(records["code"] == EventCode.LOG_WRAP)
        view = payload_view(records, EventCode.LOG_WRAP)
        for index, first, deleted in zip(
            wraps.tolist(), view["first_deleted"].tolist(), view["deleted"].tolist(), strict=True
        ):
            self.found.add(
                Kind.LOG_WRAP,
                f"the log was full: the device deleted records {first}–{first + deleted - 1}",
                seq=int(self.seq[index]),
                offset=image.record_offset(index),
            )
        if image.base.first_seq > 1 and len(wraps) == 0:
            self.found.add(
                Kind.LOG_WRAP,
                f"the log starts at sequence {image.base.first_seq}: earlier records were deleted "
                "by the device",
                seq=image.base.first_seq,
                offset=image.spans["base"].offset,
            )


def verify_continuity(earlier: Image, later: Image) -> tuple[Finding, ...]:
    """``continuity`` findings between two downloads of one device, earlier first.

    The later download must continue the earlier one: the same device, no records lost
    between them (unless the device says it wrapped), any record both hold the same, the
    later chain passing through the value the earlier statement signed, and (a warning) the
    same device certificate.
    """
    found = _Findings()
    offset = later.spans["records"].offset
    if earlier.identity.serial != later.identity.serial:
        found.add(Kind.CONTINUITY, "the two images are of different devices")
        return found.close()
    before, after = earlier.statement, later.statement
    if before is None or after is None:
        return found.close()
    if after.last_seq < before.last_seq:
        found.add(
            Kind.CONTINUITY,
            f"the later download ends at {after.last_seq}, "
            f"before the earlier one ({before.last_seq})",
            offset=later.spans["statement"].offset,
        )
    if later.base.first_seq > before.last_seq + 1:
        wrapped = bool(np.any(later.records["code"] == EventCode.LOG_WRAP))
        if not wrapped:
            found.add(
                Kind.CONTINUITY,
                f"records {before.last_seq + 1}–{later.base.first_seq - 1} between the downloads "
                "are missing and the device logged no wrap",
                seq=(before.last_seq + 1, later.base.first_seq - 1),
                offset=offset,
            )
    common = np.intersect1d(earlier.records["seq"], later.records["seq"])
    if len(common):
        a = earlier.records[np.isin(earlier.records["seq"], common)]
        b = later.records[np.isin(later.records["seq"], common)]
        if len(a) == len(b):
            for first, last in _runs(_differing(a, b)):
                found.add(
                    Kind.CONTINUITY,
                    "records both downloads hold differ between them",
                    seq=(int(a["seq"][first]), int(a["seq"][last])),
                    offset=offset,
                )
    _check_chain_continues(found, before, later)
    if earlier.certificates[:1] != later.certificates[:1]:
        found.add(
            Kind.CONTINUITY,
            "the device certificate changed between the downloads (re-issued, or a key "
            "certified by a compromised CA)",
            offset=later.spans["certificates"].offset,
            severity=Severity.WARNING,
        )
    return found.close()


def _check_chain_continues(found: _Findings, before: Statement, later: Image) -> None:
    """The later log's chain passes through the value the earlier statement signed."""
    seq = later.records["seq"].astype(np.int64)
    where = np.flatnonzero(seq == before.last_seq)
    if later.base.first_seq == before.last_seq + 1:
        value, end = later.base.chain_before, 0
    elif len(where):
        end = int(where[0]) + 1
        records = later.spans["records"]
        raw = memoryview(later.data)[records.offset : records.offset + end * L.RECORD_SIZE]
        value = chain_records(later.base.chain_before, raw)
    else:
        return  # the earlier end is not in the later log: nothing to compare
    if value != before.chain:
        found.add(
            Kind.CONTINUITY,
            f"the later log's chain does not pass through the value the earlier statement "
            f"signed after sequence {before.last_seq}: the history was rewritten",
            seq=before.last_seq,
            offset=later.record_offset(end) if end else later.spans["base"].offset,
        )


def _differing(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    raw_a = np.ascontiguousarray(a).view(np.uint8).reshape(len(a), -1)
    raw_b = np.ascontiguousarray(b).view(np.uint8).reshape(len(b), -1)
    return np.flatnonzero(np.any(raw_a != raw_b, axis=1)).astype(np.int64)
