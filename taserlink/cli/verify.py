"""``taserlink verify IMAGE... [--json] [--roots DIR]``: check dataport images for tampering.

Every image is verified with :func:`taserlink.integrity.verify_image` against one trust
store, loaded once for the whole call.  When several images are downloads of one device
(the same device serial), each is also checked against the one before it
(:func:`taserlink.integrity.verify_continuity`, downloads ordered by the acquisition's host
UTC start, then by their place on the command line); those ``continuity`` findings are
reported under the later image, their message naming the earlier one.

Trusted roots (**contract**): ``--roots PATH`` (repeatable; a PEM/DER certificate file or a
directory of ``*.pem``, ``*.crt``, ``*.cer``, ``*.der``).  Without it, the paths in
``$TASERLINK_ROOTS`` (separated by ``os.pathsep``), and without that **no** root — every
image then gets ``untrusted_root`` and a note says so on stderr
(:class:`taserlink.integrity.roots.RootPaths`).  The emulator's TEST root is never trusted
unless named.

Output:

- text (default): per image its path and ``OK`` / ``NOT OK``, the device and acquisition
  time, the coverage window, the findings grouped by severity (errors, warnings, info) —
  kind, sequence range, byte offset, message — and a line of counts; a last line totals
  every image;
- ``--json``: one JSON object ``{"images", "provenance"}``: ``images`` one object per image
  in command-line order (one a line), ``provenance`` the provenance block
  (:func:`taserlink.forensics.provenance.verify_provenance`: each image's path, size and
  SHA-256 and the trusted roots' fingerprints; docs/provenance.md).  Each image is
  ``{"path", "ok", "coverage", "findings"}`` where ``coverage`` is
  :meth:`~taserlink.integrity.Coverage.as_dict` plus its one-line ``summary`` and each
  finding is :meth:`~taserlink.integrity.Finding.as_dict` (``kind``, ``severity``,
  ``seq_first``, ``seq_last``, ``offset``, ``message``).  An image that cannot be read at
  all is ``{"path", "ok": false, "coverage": null, "findings": [], "error": {"message",
  "offset"}}`` — the only object with an ``error`` key.

A truncated image (a cut download) *is* verified: it is a ``truncated`` finding (exit 1),
not unreadable input.  An image that cannot be read at all (missing, not a dataport image,
an unknown format version) is reported as one line on stderr and in the output, and the
other images are still verified.

Exit codes: 0 no image has an ``error`` finding; 1 some image has one; 2 some image could
not be read, or bad usage, or the roots could not be loaded (then nothing is verified).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, Final, TextIO

from taserlink.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    EXIT_OK,
    add_json_option,
    add_roots_option,
    add_workers_option,
    printable,
    stderr_line,
    trusted_roots,
    workers_of,
)
from taserlink.forensics.provenance import verify_provenance
from taserlink.integrity import (
    Finding,
    Severity,
)
from taserlink.integrity.batch import Outcome, verify_files
from taserlink.integrity.roots import ROOTS_ENV
from taserlink.provenance import Provenance
from taserlink.timeline.times import utc_iso

__all__ = [
    "NAME",
    "DOCUMENT_KEYS",
    "JSON_KEYS",
    "FINDING_KEYS",
    "Outcome",
    "register",
    "run",
]

NAME: Final = "verify"
DOCUMENT_KEYS: Final = ("images", "provenance")
"""Keys of the ``--json`` object."""
JSON_KEYS: Final = ("path", "ok", "coverage", "findings")
"""Keys of each ``--json`` object for an image that was verified (**contract**)."""
FINDING_KEYS: Final = ("kind", "severity", "seq_first", "seq_last", "offset", "message")
"""Keys of each finding in ``--json`` output (**contract**)."""

_SEVERITIES: Final = (
    (Severity.ERROR, "error", "errors"),
    (Severity.WARNING, "warning", "warnings"),
    (Severity.INFO, "info", "info"),
)
"""Severities in the order text output groups them, with singular and plural names."""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``verify`` to the ``taserlink`` subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="verify dataport images: CRCs, chain, signatures, certificates, continuity",
        description=(
            "Verify dataport images (.tdi): record CRCs, sequence numbers, the hash chain, "
            "base, seal and statement signatures, the certificate chain against trusted "
            "roots, the acquisition digests and device time; downloads of one device are "
            "also checked to continue each other (ordered by acquisition time). Every "
            "finding is reported with its kind, severity, sequence range and byte offset. "
            f"Roots: --roots, else the paths in ${ROOTS_ENV} (separated by "
            f"'{os.pathsep}'), else none (every image is then untrusted_root). "
            "Exit 0 no error finding, 1 an error finding in some image, 2 an image that "
            "cannot be read (the others are still verified), roots that cannot be loaded, "
            "or bad usage."
        ),
    )
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="dataport images to verify")
    add_json_option(
        parser,
        "one JSON object {images, provenance}: images an object per image: path, ok, "
        "coverage, findings (kind, severity, seq_first, seq_last, offset, message), an "
        "unreadable image with ok false, coverage null, no findings and an error "
        "{message, offset}; provenance each image's size and SHA-256 and the roots' "
        "fingerprints",
    )
    add_roots_option(parser)
    add_workers_option(parser, "images")
    return parser


def run(args: argparse.Namespace) -> int:
    """Verify ``args.images`` against the roots of ``args.roots``, shared among
    ``args.workers`` processes; write the report.

    Returns:
        :data:`EXIT_BAD_INPUT` if an image could not be read, else :data:`EXIT_FINDINGS`
        if an image has an ``error`` finding, else :data:`EXIT_OK`.

    Raises:
        TrustStoreError: the roots could not be loaded (exit 2; nothing is verified).
        UsageError: ``--workers`` below 1.
    """
    trust = trusted_roots(args)
    outcomes = verify_files(args.images, trust, workers=workers_of(args))
    for outcome in outcomes:
        if outcome.error_line is not None:
            stderr_line("error", outcome.error_line)
    if args.json:
        write_json(outcomes, sys.stdout, provenance=verify_provenance(outcomes, trust))
    else:
        write_text(outcomes, sys.stdout)
    return exit_code(outcomes)


def exit_code(outcomes: Sequence[Outcome]) -> int:
    """2 if any image was unreadable, else 1 if any has an ``error`` finding, else 0."""
    if any(o.report is None for o in outcomes):
        return EXIT_BAD_INPUT
    if not all(o.ok for o in outcomes):
        return EXIT_FINDINGS
    return EXIT_OK


# -- text ---------------------------------------------------------------------------------


def _seq_text(finding: Finding) -> str:
    first, last = finding.seq_first, finding.seq_last
    if first is None:
        return "-"
    return str(first) if last in (None, first) else f"{first}–{last}"


def _counts_text(counts: dict[Severity, int]) -> str:
    return ", ".join(
        f"{counts[severity]} {one if counts[severity] == 1 else many}"
        for severity, one, many in _SEVERITIES
    )


def _severity_counts(findings: Sequence[Finding]) -> dict[Severity, int]:
    counts = dict.fromkeys(Severity, 0)
    for finding in findings:
        counts[finding.severity] += 1
    return counts


def image_text(outcome: Outcome) -> list[str]:
    """The text block of one image, as lines."""
    path = printable(outcome.path)
    report = outcome.report
    if report is None:
        return [f"{path}: UNREADABLE", f"  {printable(str(outcome.error))}"]
    lines = [f"{path}: {'OK' if report.ok else 'NOT OK'}"]
    if outcome.device is not None and outcome.started_ms is not None:
        started = utc_iso(outcome.started_ms) or "an impossible time"
        serial = printable(outcome.device)
        lines.append(f"  device    {serial}, download started {started} (host UTC)")
    lines.append(f"  coverage  {report.coverage}")
    if not report.findings:
        lines.append("  no findings")
    for severity, _, many in _SEVERITIES:
        group = report.by_severity(severity)
        if not group:
            continue
        lines.append(f"  {many} ({len(group)})")
        seq_width = max(len(_seq_text(f)) for f in group)
        offset_width = max(len("-" if f.offset is None else str(f.offset)) for f in group)
        for finding in group:
            offset = "-" if finding.offset is None else str(finding.offset)
            lines.append(
                f"    {finding.kind.value:<16}  seq {_seq_text(finding):<{seq_width}}  "
                f"offset {offset:>{offset_width}}  {printable(finding.message)}"
            )
    lines.append(f"  {_counts_text(_severity_counts(report.findings))}")
    return lines


def write_text(outcomes: Sequence[Outcome], out: TextIO) -> None:
    """Every image's block, a blank line between them, then one line totalling them."""
    for outcome in outcomes:
        out.write("\n".join(image_text(outcome)) + "\n\n")
    verified = [o.report for o in outcomes if o.report is not None]
    good = sum(report.ok for report in verified)
    totals = _severity_counts([f for report in verified for f in report.findings])
    images = "image" if len(outcomes) == 1 else "images"
    out.write(
        f"{len(outcomes)} {images}: {good} OK, {len(verified) - good} NOT OK, "
        f"{len(outcomes) - len(verified)} unreadable; findings: {_counts_text(totals)}\n"
    )


# -- json ---------------------------------------------------------------------------------


def image_json(outcome: Outcome) -> dict[str, Any]:
    """The ``--json`` object of one image (see the module docstring)."""
    report = outcome.report
    if report is None:
        return {
            "path": outcome.path,
            "ok": False,
            "coverage": None,
            "findings": [],
            "error": {"message": outcome.error, "offset": outcome.error_offset},
        }
    return {
        "path": outcome.path,
        "ok": report.ok,
        "coverage": {**report.coverage.as_dict(), "summary": str(report.coverage)},
        "findings": [finding.as_dict() for finding in report.findings],
    }


def write_json(
    outcomes: Sequence[Outcome], out: TextIO, *, provenance: Provenance | None = None
) -> None:
    """One JSON object: ``images``, an object per image, one image a line; then
    ``provenance`` (``null`` when none is given)."""
    images = ",\n".join(json.dumps(image_json(o)) for o in outcomes)
    block = json.dumps(None if provenance is None else provenance.as_dict())
    out.write('{"images": [\n' + images + '\n],\n"provenance": ' + block + "}\n")
