"""``taserlink link --images DIR --issues ISSUES.csv --matches OUT.csv [--window FROM TO]
[--host-set-anchors]``: link recovered cartridges to deployments, devices and officers.

Inputs: every ``*.tdi`` directly in ``DIR`` (several downloads of one device are merged),
the issue list (:mod:`taserlink.forensics.issues`: ``serial, officer, issued_at,
returned_at``, ISO 8601 UTC times) and the match results of ``taserlink match``
(:func:`taserlink.forensics.matchfiles.read_matches`).  ``--window FROM TO`` is the
incident window (UTC, the issue list's time forms).  Every image is verified against the
trusted roots, found as ``taserlink verify`` finds them (``--roots``, else
``$TASERLINK_ROOTS``, else none: every image then fails with ``untrusted_root``).  The
linkage and its findings are :func:`taserlink.forensics.link.link`'s; ``docs/linkage.md``
explains them.

``--host-set-anchors`` (off by default) makes every ``CLOCK_SET`` made by a host over USB
(``source=HOST``, as ``taserlink clock --set`` makes) an anchor of its device's clock
model too: its new time read as UTC, ± 1,000 ms (``host_sets`` of
:meth:`taserlink.timeline.clock.ClockModel.from_images`).  A deployment in a clock epoch
that no download reaches (after a clock reset and a host set, with no later download) then
gets a corrected time.  The log cannot show that the setting host was on UTC, so this is
the examiner's choice and the output says it was made: the text's clock models start with
an ``option`` line, and each model's description (text, and ``clock_model`` in
``--json``'s ``devices``) names the option and lists such anchors as ``host clock set``.
Sets made from the device's menu never anchor.

Output:

- text (default): the inputs, each image (verified or not), each device's clock model,
  one block per recovered cartridge — its match status (an ``ambiguous`` one marked as an
  UNCONFIRMED CANDIDATE), each ``DEPLOY`` with device, sequence, bay, device time,
  corrected UTC ± bound, the officer holding the device and the one the cartridge was
  signed out to, and the images holding the record — and its history: one line per
  ``CARTRIDGE_INSERT``, ``CARTRIDGE_REMOVE`` and ``DEPLOY`` record naming it in any device's
  log (device, sequence, bay, corrected UTC ± bound, who held the device), by corrected UTC
  — then the findings by severity and a line of counts;
- ``--csv``: one row per cartridge deployment (a cartridge with none: one row with the
  deployment columns empty), columns :data:`CSV_COLUMNS`; list values are joined with
  ``"; "``; ``findings`` lists ``kind:severity`` of the findings about that cartridge and
  deployment.  Findings about no recovered cartridge (images, unmatched exhibits, other
  deployments) are not in the CSV: use ``--json`` for the whole result;
- ``--json``: one object, :meth:`taserlink.forensics.link.Linkage.as_dict` with the
  ``matches`` path and ``provenance`` added (keys :data:`JSON_KEYS`):
  :func:`taserlink.forensics.provenance.link_provenance` — every image, the issue list (or
  the register's identity and ledger length), the match file and its provenance file, each
  with size and SHA-256; the window, clock settings and trusted roots' fingerprints.

The match file is checked against ``OUT.csv.provenance.json`` beside it when there is one
(:func:`taserlink.forensics.provenance.check_matches`): an edited or truncated match file is
a ``matches_changed`` error finding, an unreadable provenance file ``matches_bad_provenance``
(warning), none at all ``matches_no_provenance`` (info).

Exit codes: 0 no ``error`` finding; 1 some ``error`` finding; 2 bad input or usage (a
directory with no image, an image or table that cannot be read or is malformed — the
message names the file and line —, two downloads of one device that disagree, roots that
cannot be loaded, a bad window); 3 the output cannot be written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any, Final, TextIO

from taserlink.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FINDINGS,
    EXIT_OK,
    CommandError,
    add_clock_options,
    add_output_options,
    add_roots_option,
    add_workers_option,
    clock_settings,
    printable,
    trusted_roots,
    workers_of,
)
from taserlink.cli.custody import add_custody_options, add_window_option, read_custody, window_of
from taserlink.errors import InputFileError
from taserlink.forensics.link import (
    CartridgeEvent,
    Deployment,
    Linkage,
    LinkFinding,
    LinkRow,
    Severity,
    image_paths,
    link,
)
from taserlink.forensics.matchfiles import format_score, read_matches
from taserlink.forensics.provenance import (
    check_matches,
    link_provenance,
    matches_findings,
)
from taserlink.forensics.results import MatchStatus
from taserlink.spreadsheet import csv_writer
from taserlink.timeline.times import device_time_text, utc_text

__all__ = ["NAME", "CSV_COLUMNS", "JSON_KEYS", "register", "run", "write_text", "write_csv"]

NAME: Final = "link"
CSV_COLUMNS: Final = (
    "serial",
    "status",
    "confirmed",
    "score",
    "exhibits",
    "device",
    "seq",
    "bay",
    "device_time",
    "utc",
    "bound_ms",
    "utc_earliest",
    "utc_latest",
    "device_custody",
    "device_officers",
    "cartridge_custody",
    "cartridge_officers",
    "images",
    "verified",
    "findings",
)
"""Columns of ``--csv`` output, in order."""
JSON_KEYS: Final = (
    "ok",
    "counts",
    "window",
    "issues",
    "matches",
    "images",
    "devices",
    "links",
    "unmatched",
    "findings",
    "provenance",
)
"""Keys of the ``--json`` object."""

_SEVERITIES: Final = (
    (Severity.ERROR, "error", "errors"),
    (Severity.WARNING, "warning", "warnings"),
    (Severity.INFO, "info", "info"),
)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``link`` to the ``taserlink`` subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="link recovered cartridges to deployments, devices and officers",
        description=(
            "Link each cartridge the match results point to with its DEPLOY records in the "
            "device downloads (device, corrected UTC ± bound), the officer holding the "
            "device then and the officer the cartridge was signed out to, and report what "
            "does not fit: a cartridge never issued or not out, another officer, a device "
            "not in the issue list or not out, a cartridge deployed twice, a deployment "
            "outside the incident window or whose time cannot be corrected, a recovered "
            "cartridge with no DEPLOY, images that fail verification; and each cartridge's "
            "history (every insert, remove and deploy naming it in the logs, noting a "
            "cartridge moved between devices). Ambiguous matches "
            "link as unconfirmed candidates. Roots as for 'taserlink verify'. Exit 0 no "
            "error finding, 1 an error finding, 2 bad input or usage, 3 output failure."
        ),
    )
    parser.add_argument(
        "--images", metavar="DIR", required=True, help="directory of dataport images (*.tdi)"
    )
    add_custody_options(parser, required=True, what="")
    parser.add_argument(
        "--matches", metavar="OUT.csv", required=True, help="match results of 'taserlink match'"
    )
    add_window_option(parser)
    add_roots_option(parser)
    add_clock_options(parser, "deployments")
    add_workers_option(parser, "images and devices")
    add_output_options(parser, "one CSV row per cartridge deployment: " + ",".join(CSV_COLUMNS))
    return parser


def run(args: argparse.Namespace) -> int:
    """Link, write the result on stdout in ``args.output`` form, return the exit code.

    Raises:
        UsageError: a bad ``--window``.
        InputError / InputFileError / LinkError: an input that cannot be read or used.
        TrustStoreError: the roots cannot be loaded.
    """
    window = window_of(args)
    images = {str(path): path for path in image_paths(args.images)}
    custody = read_custody(args)
    checked = check_matches(args.matches)
    try:
        matches = read_matches(args.matches)
    except InputFileError as error:
        changed = [f.message for f in checked.findings if f.severity is Severity.ERROR]
        if not changed:
            raise
        raise CommandError(f"{error}; {changed[0]}", EXIT_BAD_INPUT) from None
    trust = trusted_roots(args)
    clock = clock_settings(args)
    result = link(
        images,
        custody.issues,
        matches,
        window=window,
        trust=trust,
        clock=clock,
        workers=workers_of(args),
        findings=matches_findings(checked),
    )
    if args.output == "json":
        data = result.as_dict()
        data["matches"] = args.matches
        provenance = link_provenance(
            result, checked, trust=trust, clock=clock, **custody.provenance()
        )
        data["provenance"] = provenance.as_dict()
        sys.stdout.write(json.dumps({key: data[key] for key in JSON_KEYS}, indent=1) + "\n")
    elif args.output == "csv":
        write_csv(result, sys.stdout)
    else:
        write_text(result, args.matches, sys.stdout)
    return EXIT_OK if result.ok else EXIT_FINDINGS


# -- text -----------------------------------------------------------------------------------


def _status_text(row: LinkRow) -> str:
    score = "" if row.score is None else f", score {format_score(row.score)}"
    if row.confirmed:
        return f"match{score}"
    return f"ambiguous{score} — UNCONFIRMED CANDIDATE, not a match"


def _exhibits_text(row: LinkRow) -> str:
    """The exhibits, each whose reads only ambiguously point here marked so."""
    matched = {m.exhibit for m in row.matches if m.status is MatchStatus.MATCH}
    return ", ".join(e if e in matched else f"{e} (ambiguous)" for e in row.exhibits)


def _verified_text(state: bool | None) -> str:
    return {True: "verified", False: "NOT VERIFIED", None: "not verified (no check)"}[state]


def _deployment_lines(deployment: Deployment) -> list[str]:
    lines = [f"    DEPLOY {deployment.where()} bay {deployment.bay}"]
    device_time = device_time_text(deployment.device_ms)
    if deployment.time.utc_ms is None:
        lines.append(f"      device time {device_time} → UTC unknown ({deployment.time.note})")
    else:
        lines.append(
            f"      device time {device_time} → UTC {utc_text(deployment.time.utc_ms)} "
            f"± {deployment.time.bound_ms} ms ({deployment.time.note})"
        )
    lines.append(f"      device held by: {deployment.device_custody}")
    lines.append(f"      cartridge signed out to: {deployment.cartridge_custody}")
    lines.append(f"      in {', '.join(deployment.images)} ({_verified_text(deployment.verified)})")
    return lines


def _history_lines(history: tuple[CartridgeEvent, ...]) -> list[str]:
    """The ``history`` block of a cartridge: one line per record naming it."""
    if not history:
        return ["    history: no CARTRIDGE_INSERT, CARTRIDGE_REMOVE or DEPLOY record names it"]
    devices = len({event.device for event in history})
    lines = [f"    history ({len(history)} record(s) in {devices} device(s))"]
    width = max(len(event.event.name) for event in history)
    for event in history:
        lines.append(
            f"      {event.event.name:<{width}}  {event.device} seq {event.seq} bay "
            f"{event.bay}  {event.time_text()}  held by: {event.device_custody}"
        )
    return lines


def _finding_where(finding: LinkFinding) -> str:
    parts = []
    if finding.serial:
        parts.append(finding.serial)
    if finding.exhibits:
        parts.append("exhibit " + ", ".join(finding.exhibits))
    if finding.device:
        parts.append(finding.device if finding.seq is None else f"{finding.device}#{finding.seq}")
    if finding.image:
        parts.append(finding.image)
    return " ".join(parts) or "-"


def text_lines(result: Linkage, matches_source: str) -> Iterator[str]:
    """The text report, line by line (unescaped)."""
    yield (
        f"linkage of {len(result.images)} image(s) of {len(result.devices)} device(s); "
        f"issue list {result.issues_source}; match results {matches_source}"
    )
    yield (
        "incident window: no window given"
        if result.window is None
        else f"incident window: {result.window}"
    )
    yield ""
    yield "images"
    for image in result.images:
        seqs = (
            "no records" if image.first_seq is None else f"seq {image.first_seq}–{image.last_seq}"
        )
        yield (
            f"  {image.name}  device {image.device}, {seqs}, downloaded "
            f"{utc_text(image.acquired_ms)}: {_verified_text(image.verified)}"
        )
        for problem in image.problems:
            yield f"    {problem}"
    yield ""
    yield "clock models"
    if any(device.clock is not None and device.clock.host_sets for device in result.devices):
        yield "  option: --host-set-anchors: host clock sets taken as UTC anchors"
    for device in result.devices:
        if device.clock is None:
            yield f"  {device.serial}: no records, no clock model"
            continue
        for line in device.clock.describe().splitlines():
            yield f"  {line}"
    yield ""
    confirmed = sum(row.confirmed for row in result.rows)
    yield (
        f"cartridges ({len(result.rows)}: {confirmed} matched, "
        f"{len(result.rows) - confirmed} unconfirmed candidates)"
    )
    for row in result.rows:
        yield f"  {row.serial}  {_status_text(row)}; exhibits {_exhibits_text(row)}"
        if not row.deployments:
            yield "    no DEPLOY in any image"
        for deployment in row.deployments:
            yield from _deployment_lines(deployment)
        yield from _history_lines(row.history)
    for none in result.unmatched:
        yield f"  exhibit {none.exhibit}: no serial matches its {none.reads} read(s)"
    yield ""
    yield "findings"
    if not result.findings:
        yield "  none"
    for severity, _, many in _SEVERITIES:
        group = result.by_severity(severity)
        if not group:
            continue
        yield f"  {many} ({len(group)})"
        for finding in group:
            yield f"    {finding.kind.value}  {_finding_where(finding)}"
            yield f"      {finding.message}"
    counts = result.counts()
    yield (
        f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info: "
        + ("no error finding" if result.ok else "the chain has errors")
    )


def write_text(result: Linkage, matches_source: str, out: TextIO) -> None:
    """The text report (every line escaped by :func:`printable`)."""
    for line in text_lines(result, matches_source):
        out.write(printable(line) + "\n")


# -- csv ------------------------------------------------------------------------------------


def _findings_of(result: Linkage, row: LinkRow, deployment: Deployment | None) -> str:
    chosen = []
    for finding in result.findings:
        if finding.serial != row.serial:
            continue
        if finding.seq is not None and (
            deployment is None
            or (finding.device, finding.seq) != (deployment.device, deployment.seq)
        ):
            continue
        chosen.append(f"{finding.kind.value}:{finding.severity.value}")
    return "; ".join(chosen)


def _csv_values(result: Linkage, row: LinkRow, deployment: Deployment | None) -> list[Any]:
    head = [
        row.serial,
        row.status.value,
        "true" if row.confirmed else "false",
        format_score(row.score),
        "; ".join(row.exhibits),
    ]
    if deployment is None:
        middle: list[Any] = [""] * (len(CSV_COLUMNS) - len(head) - 1)
    else:
        span = deployment.span
        utc = deployment.time.utc_ms
        verified = deployment.verified
        middle = [
            deployment.device,
            deployment.seq,
            deployment.bay,
            device_time_text(deployment.device_ms),
            "" if utc is None else utc_text(utc),
            "" if deployment.time.bound_ms is None else deployment.time.bound_ms,
            "" if span is None else utc_text(span[0]),
            "" if span is None else utc_text(span[1]),
            deployment.device_custody.state.value,
            "; ".join(deployment.device_custody.officers),
            deployment.cartridge_custody.state.value,
            "; ".join(deployment.cartridge_custody.officers),
            "; ".join(deployment.images),
            "" if verified is None else ("true" if verified else "false"),
        ]
    return [*head, *middle, _findings_of(result, row, deployment)]


def write_csv(result: Linkage, out: TextIO) -> None:
    """One row per cartridge deployment, columns :data:`CSV_COLUMNS`."""
    writer = csv_writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in result.rows:
        for deployment in row.deployments or (None,):
            writer.writerow(_csv_values(result, row, deployment))
