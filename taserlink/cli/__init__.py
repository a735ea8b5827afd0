"""The ``taserlink`` command: ``taserlink <command> ...`` (design §8).

Each command is a module with ``NAME``, ``register(subparsers)`` (adds its parser and
returns it) and ``run(args) -> int`` (its exit code); list it in :data:`COMMANDS`.
:func:`main` parses the command line, runs the command and turns every error into one line
on stderr and an exit code (see :mod:`taserlink.cli.common`): a command raises library
errors and never prints them itself.  An exception that is not a
:class:`~taserlink.errors.TaserlinkError` (nor an output that cannot be written) is a bug
and is let through with its traceback.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Sequence
from typing import Any, Final, Protocol

from taserlink import __version__
from taserlink.cli import (
    clock,
    devices,
    download,
    home_office,
    link,
    match,
    reconcile,
    register,
    report,
    scrutiny,
    show,
    verify,
)
from taserlink.cli.common import (
    EXIT_FAILURE,
    ArgumentParser,
    ParserExit,
    exit_code_for,
    printable,
)
from taserlink.errors import TaserlinkError

__all__ = ["COMMANDS", "PROG", "Command", "build_parser", "main"]

PROG: Final = "taserlink"


class Command(Protocol):
    """What a command module provides."""

    @property
    def NAME(self) -> str:
        """The command's name on the command line."""

    def register(self, subparsers: Any) -> argparse.ArgumentParser:
        """Add the command's parser to ``subparsers`` and return it."""

    def run(self, args: argparse.Namespace) -> int:
        """Do the command; return its exit code (raise library errors, never print them)."""


COMMANDS: Final[tuple[Command, ...]] = (
    show,
    verify,
    devices,
    download,
    clock,
    match,
    link,
    register,
    reconcile,
    home_office,
    scrutiny,
    report,
)
"""The command modules, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The ``taserlink`` parser with every command of :data:`COMMANDS`.

    ``args.run`` is the chosen command's ``run``.  Usage errors raise
    :class:`~taserlink.cli.common.UsageError`; ``--help`` and ``--version`` raise
    :class:`~taserlink.cli.common.ParserExit` (nothing exits the interpreter).
    """
    parser = ArgumentParser(
        prog=PROG,
        description=(
            "Conducted-energy-device data forensics: read, check and link dataport images. "
            "Exit codes: 0 success, 1 findings or no match, 2 bad input or usage, "
            "3 device or I/O failure."
        ),
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    subparsers.required = True
    for command in COMMANDS:
        command.register(subparsers).set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``taserlink`` with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Errors are reported as ``taserlink: error: <message>`` on one line of stderr: a
    malformed image as ``taserlink: error: <path>: at offset N: ...``.  Text that stdout's
    encoding cannot hold is written with backslash escapes rather than failing.
    """
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        args = build_parser().parse_args(argv)
        return int(args.run(args))
    except ParserExit as done:
        return done.status
    except TaserlinkError as error:
        _report(str(error))
        return exit_code_for(error)
    except BrokenPipeError:
        _silence_stdout()  # the reader went away (e.g. `| head`): nothing left to say
        return EXIT_FAILURE
    except OSError as error:  # an output that cannot be written (disk full, device gone)
        _report(f"I/O failure: {error}")
        return EXIT_FAILURE


def _report(message: str) -> None:
    """``message`` on one line of stderr (line breaks and control characters escaped)."""
    print(f"{PROG}: error: {printable(message)}", file=sys.stderr)


def _silence_stdout() -> None:
    """Point stdout at the null device so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (captured in-process): nothing will flush to a closed pipe
