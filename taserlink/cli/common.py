"""What every ``taserlink`` command shares: exit codes, error reporting, argument parsing,
opening input images and rendering times, bytes and text for output.

Exit codes (**contract**, design §8): :data:`EXIT_OK` success or a clean result,
:data:`EXIT_FINDINGS` findings or no match, :data:`EXIT_BAD_INPUT` bad input or usage,
:data:`EXIT_FAILURE` a device or I/O failure.  :func:`exit_code_for` is the one place that
maps a library error to one of them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any, Final, NoReturn

import numpy as np
import numpy.typing as npt

from taserlink.errors import (
    ClockModelError,
    ConfusionModelError,
    FormatError,
    ImageIOError,
    InputFileError,
    LinkError,
    MatchError,
    OutputPathError,
    ReadError,
    ScenarioError,
    SerialError,
    TaserlinkError,
    TrustStoreError,
)
from taserlink.format import CrcCheck, Image, read_image

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
    "add_output_options",
    "exit_code_for",
    "open_image",
    "device_time_iso",
    "device_times_iso",
    "utc_iso",
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
    (OutputPathError, EXIT_BAD_INPUT),
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

_DEVICE_EPOCH: Final = dt.datetime(2000, 1, 1)
"""Device time 0 on the device clock (no time zone)."""
_UNIX_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_DEVICE_TIME_LIMIT_MS: Final = (dt.datetime.max - _DEVICE_EPOCH) // dt.timedelta(milliseconds=1)
"""Largest device time (ms) that still has a four-digit-year ISO form."""
_DEVICE_EPOCH_NP: Final = np.datetime64("2000-01-01T00:00:00.000", "ms")


def device_time_iso(ms: int) -> str | None:
    """Device time (ms since 2000-01-01T00:00:00 on the device clock) as ISO 8601, no zone.

    Example: ``2026-03-02T06:40:00.000``.  ``None`` when it lies past year 9999 (a device
    time field the device never wrote sensibly).
    """
    if not 0 <= ms <= _DEVICE_TIME_LIMIT_MS:
        return None
    when = _DEVICE_EPOCH + dt.timedelta(milliseconds=ms)
    return when.isoformat(timespec="milliseconds")


def device_times_iso(ms: npt.NDArray[np.uint64]) -> list[str | None]:
    """:func:`device_time_iso` of every element, vectorised (numpy ``datetime64``)."""
    valid = ms <= _DEVICE_TIME_LIMIT_MS
    safe = np.where(valid, ms, 0).astype(np.int64).astype("timedelta64[ms]")
    text = np.datetime_as_string(_DEVICE_EPOCH_NP + safe, unit="ms").tolist()
    if valid.all():
        return list(text)
    return [t if ok else None for t, ok in zip(text, valid.tolist(), strict=True)]


def utc_iso(ms: int) -> str | None:
    """Host UTC (ms since the Unix epoch) as ISO 8601 with ``Z``, e.g.
    ``2026-03-02T06:40:00.000Z``; ``None`` outside years 1–9999."""
    try:
        when = _UNIX_EPOCH + dt.timedelta(milliseconds=ms)
    except OverflowError:
        return None
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
