"""What every ``taserlink`` command shares: exit codes, error reporting, argument parsing
and the option groups several commands take (trusted roots, output form), opening input
images and rendering times, bytes and text for output.

Exit codes (**contract**, design §8): :data:`EXIT_OK` success or a clean result,
:data:`EXIT_FINDINGS` findings or no match, :data:`EXIT_BAD_INPUT` bad input or usage,
:data:`EXIT_FAILURE` a device or I/O failure.  :func:`exit_code_for` is the one place that
maps a library error to one of them.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Final, NoReturn

from taserlink.errors import (
    ClockModelError,
    ConfusionModelError,
    FormatError,
    ImageIOError,
    InputFileError,
    LinkError,
    MatchError,
    MissingExtraError,
    OutputPathError,
    ReadError,
    ReconcileError,
    RefusedError,
    RegisterDatabaseError,
    RegisterError,
    ReturnError,
    ScenarioError,
    SerialError,
    TaserlinkError,
    TrustStoreError,
)
from taserlink.format import CrcCheck, Image, read_image
from taserlink.integrity import TrustStore
from taserlink.integrity.roots import ROOTS_ENV, RootPaths
from taserlink.timeline import DEFAULT_HOST_SET_BOUND_MS, DEFAULT_MAX_DRIFT_PPM, ClockSettings
from taserlink.workers import usable_cores

__all__ = [
    "EXIT_OK",
    "EXIT_FINDINGS",
    "EXIT_BAD_INPUT",
    "EXIT_FAILURE",
    "CommandError",
    "UsageError",
    "InputError",
    "ParserExit",
    "ArgumentParser",
    "add_json_option",
    "add_output_options",
    "add_roots_option",
    "root_paths",
    "trusted_roots",
    "exit_code_for",
    "open_image",
    "printable",
    "plain_value",
    "stderr_line",
]

EXIT_OK: Final = 0
"""Success, or a clean result."""
EXIT_FINDINGS: Final = 1
"""The command ran and found something (findings, no match)."""
EXIT_BAD_INPUT: Final = 2
"""Bad input or usage: a malformed, missing or unreadable input, a wrong argument."""
EXIT_FAILURE: Final = 3
"""A device or I/O failure (a device that does not answer, an output that cannot be written)."""

_EXIT_CODES: Final[tuple[tuple[type[TaserlinkError], int], ...]] = (
    (RefusedError, EXIT_FINDINGS),
    (RegisterDatabaseError, EXIT_FAILURE),
    (RegisterError, EXIT_BAD_INPUT),
    (FormatError, EXIT_BAD_INPUT),
    (SerialError, EXIT_BAD_INPUT),
    (ScenarioError, EXIT_BAD_INPUT),
    (TrustStoreError, EXIT_BAD_INPUT),
    (InputFileError, EXIT_BAD_INPUT),
    (ReadError, EXIT_BAD_INPUT),
    (ConfusionModelError, EXIT_BAD_INPUT),
    (ClockModelError, EXIT_BAD_INPUT),
    (MatchError, EXIT_BAD_INPUT),
    (LinkError, EXIT_BAD_INPUT),
    (ReconcileError, EXIT_BAD_INPUT),
    (ReturnError, EXIT_BAD_INPUT),
    (OutputPathError, EXIT_BAD_INPUT),
    (MissingExtraError, EXIT_BAD_INPUT),
    (ImageIOError, EXIT_FAILURE),
)
"""Library error → exit code, first match wins; anything else is a device or I/O failure.
An input file that cannot be read is bad input: :class:`InputError` says so for it."""


def exit_code_for(error: TaserlinkError) -> int:
    """The exit code for ``error``: a :class:`CommandError`'s own, else :data:`_EXIT_CODES`'s."""
    if isinstance(error, CommandError):
        return error.exit_code
    for kind, code in _EXIT_CODES:
        if isinstance(error, kind):
            return code
    return EXIT_FAILURE


class CommandError(TaserlinkError):
    """An error a command reports as it is: a one-line message and an exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        self.exit_code = exit_code
        super().__init__(message)


class UsageError(CommandError):
    """The command line is wrong (an unknown option, a missing argument): exit 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_BAD_INPUT)


class InputError(CommandError):
    """A library error about one named input (``source``: a path as the user gave it).

    The message is ``<source>: <error>`` (an ``ImageIOError`` names the path itself).  A
    missing or unreadable input is bad input (exit 2), not an I/O failure: the user named
    something that is not there.
    """

    def __init__(self, source: str, error: TaserlinkError) -> None:
        self.source = source
        self.error = error
        if isinstance(error, ImageIOError):  # its message names the path already
            super().__init__(str(error), EXIT_BAD_INPUT)
        else:
            super().__init__(f"{source}: {error}", exit_code_for(error))


class ParserExit(Exception):
    """``--help`` or ``--version`` was answered: stop with ``status`` (not a failure)."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(status)


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser that raises instead of exiting the interpreter.

    A usage error becomes :class:`UsageError` (so ``main`` prints it as one line, exit 2);
    ``--help`` and ``--version`` become :class:`ParserExit`.  Subparsers are made of this
    class too (argparse uses the parent parser's class).
    """

    def error(self, message: str) -> NoReturn:
        """Raise :class:`UsageError` with ``message`` and where to find help."""
        raise UsageError(f"{message} (see '{self.prog} --help')")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        """Print ``message`` (if any) on stderr and raise :class:`ParserExit`."""
        if message:
            self._print_message(message)
        raise ParserExit(status)


def open_image(path: str, *, crc: CrcCheck = CrcCheck.REPORT) -> Image:
    """Read the image at ``path`` for a command.

    Raises:
        InputError: the file is missing, unreadable or not a well-formed image (exit 2);
            the message starts with ``path`` and names the byte offset of a format error.
    """
    try:
        return read_image(path, crc=crc)
    except TaserlinkError as error:
        raise InputError(path, error) from error


# -- rendering ----------------------------------------------------------------------------


def printable(text: str, also: str = "") -> str:
    """``text`` with every non-printable character (and any in ``also``) escaped.

    Strings in an image are the device's or the acquiring host's: they are shown, never
    obeyed, so a control sequence in a model name cannot reach the terminal and a line
    break cannot split a one-line message.  Escapes are ``\\xNN``, ``\\uNNNN`` or
    ``\\UNNNNNNNN`` (the form Python's ``backslashreplace`` gives undecodable bytes).
    """
    if text.isprintable() and not any(c in text for c in also):
        return text
    return "".join(c if c.isprintable() and c not in also else _escape(c) for c in text)


def stderr_line(level: str, message: str) -> None:
    """``taserlink: <level>: <message>`` on one line of stderr (``level`` e.g. ``error``,
    ``note``); line breaks and control characters in ``message`` are escaped.

    For what a command reports and carries on after (one unreadable image among many, a
    default it fell back to); an error that ends the command is raised, not printed.
    """
    print(f"taserlink: {level}: {printable(message)}", file=sys.stderr)


def _escape(c: str) -> str:
    n = ord(c)
    if n < 0x100:
        return f"\\x{n:02x}"
    return f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def plain_value(value: Any) -> Any:
    """``value`` for JSON: bytes as lowercase hex, tuples as lists, the rest as is."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [plain_value(v) for v in value]
    return value


def add_output_options(parser: argparse.ArgumentParser, csv_help: str) -> None:
    """``--csv`` / ``--json`` (one of them; text by default) as ``args.output``: ``"text"``,
    ``"csv"`` or ``"json"``."""
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--csv", dest="output", action="store_const", const="csv", default="text", help=csv_help
    )
    output.add_argument(
        "--json", dest="output", action="store_const", const="json", help="one JSON object"
    )


def add_json_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``--json`` (a flag; text by default) as ``args.json``, for a command whose only other
    form is text; ``help`` says what the JSON holds."""
    parser.add_argument("--json", action="store_true", help=help)


# -- trusted roots ------------------------------------------------------------------------


def add_roots_option(
    parser: argparse.ArgumentParser,
    *,
    purpose: str = "",
    otherwise: str = "no trusted root",
) -> None:
    """``--roots DIR`` (repeatable) as ``args.roots`` (``None`` when not given): trusted
    root certificates, found as :class:`~taserlink.integrity.roots.RootPaths` finds them.

    Args:
        parser: the command's parser.
        purpose: what the roots are for, after "trusted manufacturer root certificates"
            (e.g. " to verify the images with").
        otherwise: what happens with neither ``--roots`` nor ``$TASERLINK_ROOTS``.
    """
    parser.add_argument(
        "--roots",
        metavar="DIR",
        action="append",
        help=(
            f"trusted manufacturer root certificates{purpose}: a PEM/DER file or a "
            f"directory of them (repeatable; default: ${ROOTS_ENV}, else {otherwise})"
        ),
    )


def root_paths(args: argparse.Namespace) -> RootPaths:
    """The roots ``args.roots`` names, else those of ``$TASERLINK_ROOTS``; messages about
    them name ``--roots`` or the variable."""
    return RootPaths.configured(args.roots, given_origin="--roots")


def trusted_roots(args: argparse.Namespace) -> TrustStore:
    """The trust store of :func:`root_paths`; with no root configured, an empty store and
    a note on stderr that every image will be ``untrusted_root``.

    Raises:
        TrustStoreError: a path is missing or holds no certificate (exit 2), the message
            naming ``--roots`` or ``$TASERLINK_ROOTS``.
    """
    roots = root_paths(args)
    if not roots.paths:
        stderr_line(
            "note",
            f"no trusted roots configured (--roots or ${ROOTS_ENV}): every image's "
            "certificate chain is reported as untrusted_root",
        )
    return roots.load()


# -- clock model and workers ----------------------------------------------------------


def add_clock_options(parser: argparse.ArgumentParser, corrects: str) -> None:
    """The clock model's options, the same on every command that corrects device times:
    ``--max-drift-ppm PPM`` and ``--host-set-anchors``; read them back with
    :func:`clock_settings`.  ``corrects`` names what the host-set anchors correct (for
    the help text), e.g. ``"events"``."""
    parser.add_argument(
        "--max-drift-ppm",
        metavar="PPM",
        type=_drift,
        default=DEFAULT_MAX_DRIFT_PPM,
        help=f"largest device clock drift assumed (default {DEFAULT_MAX_DRIFT_PPM:g} ppm)",
    )
    parser.add_argument(
        "--host-set-anchors",
        action="store_true",
        help=(
            "also take each clock set made by a host over USB (CLOCK_SET source=HOST) as "
            f"a UTC anchor, ±{DEFAULT_HOST_SET_BOUND_MS} ms: corrects {corrects} no "
            "download anchors, assuming the setting host was on UTC (the log cannot show "
            "it; the output says the option was used). Off by default; menu sets never "
            "anchor"
        ),
    )


def clock_settings(args: argparse.Namespace) -> ClockSettings:
    """The :class:`ClockSettings` of :func:`add_clock_options`' options."""
    return ClockSettings(max_drift_ppm=args.max_drift_ppm, host_sets=args.host_set_anchors)


def _drift(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1e6:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and 1e6 ppm")
    return value


def add_workers_option(parser: argparse.ArgumentParser, shares: str) -> None:
    """``--workers N`` (default: the cores usable here), checked by :func:`workers_of`;
    ``shares`` says what the processes share out (for the help), e.g. ``"images"``."""
    parser.add_argument(
        "--workers",
        type=int,
        default=usable_cores(),
        metavar="N",
        help=f"processes sharing out the {shares}; the output is the same whatever N "
        "(default: the cores usable here, %(default)s)",
    )


def workers_of(args: argparse.Namespace) -> int:
    """``args.workers``, checked.

    Raises:
        UsageError: below 1 (exit 2).
    """
    workers: int = args.workers
    if workers < 1:
        raise UsageError(f"--workers {workers}: at least 1")
    return workers
