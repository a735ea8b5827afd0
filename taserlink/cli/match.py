"""``taserlink match --reads READS.csv --serials SERIALS [--out OUT.csv]``: AFID reads to
cartridge serials (**contract**, project README "Match files").

The files are those of :mod:`taserlink.forensics.matchfiles` (formats, columns, what is
refused); matching is :func:`taserlink.forensics.match.match_reads` over the cartridge
serial scheme, with a stated confusion model (``--model MODEL.json``, a
:class:`~taserlink.forensics.confusion.ConfusionModel` file; the default model otherwise)
and stated settings (``--p-outside``, ``--match-threshold``; see
:class:`~taserlink.forensics.results.MatchSettings`).

Output:

- ``OUT.csv`` (columns :data:`~taserlink.forensics.matchfiles.MATCH_COLUMNS`) to ``--out``,
  written atomically (an existing file is replaced only once the new one is complete, and
  only a regular file: :mod:`taserlink.atomic`), or to stdout without ``--out``; cells
  spreadsheet-safe either way (:mod:`taserlink.spreadsheet`); with ``--out``, also
  ``OUT.csv.provenance.json`` beside it (**contract**, design §8): the reads, serials and
  model file with sizes and SHA-256s, the model and settings, and ``output`` — ``OUT.csv``'s
  path as given and SHA-256 (:func:`taserlink.forensics.provenance.match_provenance`,
  docs/provenance.md);
- ``--json``: one JSON object on stdout, ``{"model", "settings", "rows", "provenance"}`` —
  the model's note, the settings (``p_outside``, ``match_threshold``, ``grouping_factor``),
  one object per row with the keys of ``OUT.csv`` (scores as full-precision numbers or null,
  ``reads`` a number) and the provenance block (without ``output``).  With ``--out`` too,
  the CSV still goes to ``--out``;
- on stderr, one line: exhibits, rows by status, exhibits without a match, the model's
  note and the settings.

Exit codes (**contract**): 0 every exhibit has at least one ``match``; 1 otherwise; 2 bad
input or usage (a malformed file — the message names the file and line —, a model that
cannot be read or is for another alphabet, settings out of range, ``--out`` naming an
input, or a link, device node, FIFO, folder or ``.tdi`` image); 3 the output cannot be
written.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, Final

from taserlink.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_FINDINGS,
    EXIT_OK,
    CommandError,
    InputError,
    UsageError,
    add_json_option,
    stderr_line,
)
from taserlink.errors import ConfusionModelError, MatchError
from taserlink.forensics.confusion import ConfusionModel
from taserlink.forensics.match import match_reads
from taserlink.forensics.matchfiles import (
    read_reads,
    read_serials,
    row_as_dict,
    write_matches,
)
from taserlink.forensics.provenance import match_provenance
from taserlink.forensics.results import (
    DEFAULT_MATCH_THRESHOLD,
    DEFAULT_P_OUTSIDE,
    MatchRow,
    MatchSettings,
    MatchStatus,
    TagRead,
)
from taserlink.serials import CARTRIDGE_SCHEME
from taserlink.workers import usable_cores

__all__ = ["NAME", "JSON_KEYS", "exit_code", "register", "run", "summary"]

NAME: Final = "match"
JSON_KEYS: Final = ("model", "settings", "rows", "provenance")
"""Keys of the ``--json`` object."""
SCHEME: Final = CARTRIDGE_SCHEME
"""The serial scheme matched against."""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``match`` to the ``taserlink`` subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="match AFID tag reads to cartridge serials",
        description=(
            "Match the AFID tag reads of READS.csv (columns exhibit, tag, read, optional "
            "confidence) to the cartridge serials of SERIALS (one a line, or a CSV with a "
            "serial column) and write OUT.csv: one row per cartridge an exhibit's reads "
            "point to (exhibit, serial, status match/ambiguous/none, score, reads, "
            "runner_up, runner_up_score, explanation). Scores are posterior probabilities "
            "under a stated confusion model and settings, both reported. Exit 0 when every "
            "exhibit has a match, 1 otherwise, 2 bad input (file:line named), 3 when the "
            "output cannot be written."
        ),
    )
    parser.add_argument("--reads", required=True, metavar="READS.csv", help="the tag reads")
    parser.add_argument(
        "--serials", required=True, metavar="SERIALS", help="the candidate cartridge serials"
    )
    parser.add_argument(
        "--out", metavar="OUT.csv", help="write the results here (atomically); default stdout"
    )
    parser.add_argument(
        "--model",
        metavar="MODEL.json",
        help="a confusion model file (default: the built-in stated model)",
    )
    parser.add_argument(
        "--p-outside",
        type=float,
        default=DEFAULT_P_OUTSIDE,
        metavar="P",
        help=(
            "prior probability that a cartridge's serial is not in SERIALS, 0 < P < 1 "
            f"(default {DEFAULT_P_OUTSIDE})"
        ),
    )
    parser.add_argument(
        "--match-threshold",
        type=float,
        default=DEFAULT_MATCH_THRESHOLD,
        metavar="T",
        help=f"posterior needed for status match, 0.5 < T < 1 (default {DEFAULT_MATCH_THRESHOLD})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=usable_cores(),
        metavar="N",
        help="threads matching exhibits at once; the answers are the same whatever N "
        "(default: the cores usable here, %(default)s)",
    )
    add_json_option(
        parser, "JSON on stdout: the model's note, the settings and the rows (OUT.csv's keys)"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    """Read, match, write; return :func:`exit_code` of the rows.

    Raises:
        InputFileError: a malformed READS or SERIALS file (exit 2, ``file:line``).
        CommandError: bad settings, a model that cannot be used, ``--out`` naming an input
            (exit 2); the output cannot be written (exit 3).
        OutputPathError: ``--out`` is a path :mod:`taserlink.atomic` refuses (exit 2).
    """
    settings = _settings(args.p_outside, args.match_threshold)
    if args.workers < 1:
        raise UsageError(f"--workers {args.workers}: at least 1")
    if args.out is not None:
        _refuse_overwriting_inputs(args.out, (args.reads, args.serials, args.model))
    model = _model(args.model)
    reads = read_reads(args.reads)
    serials = read_serials(args.serials, SCHEME)
    rows = match_reads(
        reads, serials, scheme=SCHEME, model=model, settings=settings, workers=args.workers
    )
    provenance = None
    if args.out is not None or args.json:  # the CSV on stdout carries none: nothing to hash
        provenance = match_provenance(
            args.reads,
            args.serials,
            model=model,
            model_file=args.model,
            settings=settings,
            scheme=SCHEME,
        )
    if args.out is not None:
        try:
            write_matches(rows, args.out, provenance=provenance)
        except OSError as error:
            raise CommandError(
                f"cannot write {args.out}: {error.strerror or error}", EXIT_FAILURE
            ) from None
    if args.json:
        document = {
            "model": model.note,
            "settings": dataclasses.asdict(settings),
            "rows": [row_as_dict(row) for row in rows],
            "provenance": None if provenance is None else provenance.as_dict(),
        }
        sys.stdout.write(json.dumps(document, indent=1) + "\n")
    elif args.out is None:
        write_matches(rows, sys.stdout)
    stderr_line("note", summary(reads, rows, model, settings))
    return exit_code(reads, rows)


def _settings(p_outside: float, match_threshold: float) -> MatchSettings:
    try:
        return MatchSettings(p_outside=p_outside, match_threshold=match_threshold)
    except MatchError as error:
        raise UsageError(f"--p-outside/--match-threshold: {error}") from None


def _model(path: str | None) -> ConfusionModel:
    """The model of ``path``, checked against the scheme; the default without a path."""
    if path is None:
        return ConfusionModel.default(SCHEME)
    model = ConfusionModel.load(path)  # its errors name the path
    try:
        model.check_scheme(SCHEME)
    except ConfusionModelError as error:
        raise InputError(path, error) from None
    return model


def _refuse_overwriting_inputs(out: str, inputs: Sequence[str | None]) -> None:
    """``--out`` must not name an input: writing it would destroy the evidence read."""
    target = os.path.realpath(out)
    for given in inputs:
        if given is not None and (os.path.realpath(given) == target or _same_file(given, out)):
            raise CommandError(
                f"--out {out} is also an input ({given}): refusing to overwrite it",
                EXIT_BAD_INPUT,
            )


def _same_file(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` both exist and are one file (hard links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _exhibits(reads: Sequence[TagRead]) -> list[str]:
    return list(dict.fromkeys(read.exhibit for read in reads))


def _unmatched(reads: Sequence[TagRead], rows: Sequence[MatchRow]) -> list[str]:
    matched = {row.exhibit for row in rows if row.status is MatchStatus.MATCH}
    return [exhibit for exhibit in _exhibits(reads) if exhibit not in matched]


def exit_code(reads: Sequence[TagRead], rows: Sequence[MatchRow]) -> int:
    """0 when every exhibit of ``reads`` has at least one ``match`` row, else 1."""
    return EXIT_FINDINGS if _unmatched(reads, rows) else EXIT_OK


def summary(
    reads: Sequence[TagRead],
    rows: Sequence[MatchRow],
    model: ConfusionModel,
    settings: MatchSettings,
) -> str:
    """The one-line summary written to stderr."""
    counts = {status: 0 for status in MatchStatus}
    for row in rows:
        counts[row.status] += 1
    exhibits = len(_exhibits(reads))
    unmatched = len(_unmatched(reads, rows))
    by_status = ", ".join(f"{n} {status.value}" for status, n in counts.items())
    return (
        f"{exhibits} exhibit{'' if exhibits == 1 else 's'}, {len(reads)} reads, "
        f"{len(rows)} rows ({by_status}); {unmatched} exhibit"
        f"{'' if unmatched == 1 else 's'} without a match; model: {model.note or '(no note)'}; "
        f"settings: {settings.describe()}"
    )
