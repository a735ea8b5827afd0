"""``taserlink report --images DIR (--issues CSV | --register URL) --matches OUT.csv
[--window FROM TO] [--roots DIR] --out DIR [--case FILE.jsonld]``: the examiner's report
for court (design §8; **contract** for these options and the file names).

Writes into ``DIR`` (made if missing), each atomically and byte for byte the same from the
same inputs: ``report.html`` (self-contained: plots inline, nothing loaded from elsewhere)
and ``report.pdf`` (the same page printed, by WeasyPrint: the ``pdf`` extra); with ``--case
FILE.jsonld``, the acquisition of each download and the analysis (the match and the
linkage) as CASE/UCO (:mod:`taserlink.report.case`, docs/case.md). ``provenance.json``
beside them names every input by SHA-256, the settings and both files (docs/provenance.md).
The report is :mod:`taserlink.report.court`'s: the summary, the chain of each recovered
cartridge with its evidence, device timelines around the incident, each download's
integrity, the clock models, the consistency findings, the method and its limits, and the
provenance (docs/report.md). Images, custody, match results and the window are read exactly
as ``taserlink link`` reads them.

Output on stdout: the summary's lines and the files written.

Exit codes: 0 the chain has no ``error`` finding; 1 it has; 2 bad input or usage (as
``taserlink link``; the PDF renderer not installed — checked before any work); 3 an output
that cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Final

from taserlink.atomic import make_folder, write_atomic
from taserlink.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    add_clock_options,
    add_roots_option,
    add_workers_option,
    clock_settings,
    root_paths,
    trusted_roots,
    workers_of,
)
from taserlink.cli.custody import add_custody_options, add_window_option, read_custody, window_of
from taserlink.forensics.link import image_paths
from taserlink.provenance import write_folder_provenance
from taserlink.report.case import CaseFile, LinkStep, MatchStep, case_jsonld, root_files
from taserlink.report.court import court_report, report_html, summary_lines
from taserlink.report.pdf import pdf_of, require_pdf

__all__ = ["HTML_NAME", "NAME", "PDF_NAME", "register", "run"]

NAME: Final = "report"
HTML_NAME: Final = "report.html"
PDF_NAME: Final = "report.pdf"


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``report`` to the ``taserlink`` subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="the examiner's report for court: report.html and report.pdf",
        description=(
            "Write the examiner's report: for each recovered cartridge the chain to its "
            "DEPLOY record, device, corrected UTC ± bound and officers with every step's "
            "evidence, a timeline of each device around the incident, each download's "
            "integrity, the clock models, the findings, the method and its limits, and the "
            "inputs' SHA-256. Writes report.html (self-contained) and report.pdf. Exit 0 no "
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
    parser.add_argument("--out", metavar="DIR", required=True, help="folder to write into")
    parser.add_argument(
        "--case",
        metavar="FILE.jsonld",
        help="also write the acquisition and the analysis as CASE/UCO JSON-LD (docs/case.md)",
    )
    add_roots_option(parser)
    add_clock_options(parser, "deployments")
    add_workers_option(parser, "images and devices")
    return parser


def run(args: argparse.Namespace) -> int:
    """Gather the report, write report.html and report.pdf, print the summary."""
    require_pdf()
    window = window_of(args)
    paths = image_paths(args.images)
    custody = read_custody(args)
    report = court_report(
        paths,
        custody.issues,
        args.matches,
        custody=custody.file,
        register=custody.register,
        window=window,
        trust=trusted_roots(args),
        roots=[str(p) for p in root_paths(args).paths],
        clock=clock_settings(args),
        workers=workers_of(args),
    )
    html = report_html(report)
    pdf = pdf_of(html)
    folder = make_folder(args.out)
    write_atomic(folder / HTML_NAME, html)
    write_atomic(folder / PDF_NAME, pdf)
    if args.case is not None:
        listed = None  # the issue list as hashed when read (none for a register)
        if custody.file is not None:
            f = custody.file
            listed = CaseFile(f.path, f.size, f.sha256, "issue list")
        step = LinkStep(
            report.linkage,
            issues=listed,
            roots=root_files(report.roots),
            outputs=(
                CaseFile.of_bytes(str(folder / HTML_NAME), html, "report"),
                CaseFile.of_bytes(str(folder / PDF_NAME), pdf, "report"),
            ),
            settings={"clock drift bound": f"{report.settings.max_drift_ppm:g} ppm"},
        )
        images = {image.name: image.name for image in report.images}
        graph = case_jsonld(images, match=MatchStep.from_file(args.matches), link=step)
        write_atomic(args.case, graph)
    for line in summary_lines(report):
        sys.stdout.write(line + "\n")
    written = [str(folder / HTML_NAME), str(folder / PDF_NAME)]
    written.append(write_folder_provenance(report.provenance, folder, (HTML_NAME, PDF_NAME)))
    written += [] if args.case is None else [args.case]
    sys.stdout.write(f"wrote {', '.join(written)}\n")
    return EXIT_OK if report.ok else EXIT_FINDINGS
