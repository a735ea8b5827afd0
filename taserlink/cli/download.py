"""``taserlink download``: download every attached device at once, verify, summarise.

``taserlink download [--emulated N] [--out DIR] [--operator NAME] [--workstation NAME]
[--clock-source TEXT] [--workstation-key KEY.pem [--workstation-cert CERT.pem]]
[--roots DIR] [--json]``

Every attached dataport device (real USB, or the emulated dock of :mod:`taserlink.cli.dock`)
is downloaded concurrently, one thread per device, with
:func:`taserlink.device.download`: into ``--out`` (default ``./downloads``), as
``<serial>-<UTC>.tdi``, never replacing an image (a second download gets a new file),
continuing a partial download left in ``<serial>.partial/`` by an earlier run that failed.
Each finished image is then verified (:func:`taserlink.integrity.verify_image`) against the
trusted roots, resolved as ``verify`` resolves them (``--roots``, else
``$TASERLINK_ROOTS``); without roots the images are *not verified* and a note says so.

The acquisition section of each image records ``--operator`` (default
``$TASERLINK_OPERATOR``, else the login name), ``--workstation`` (default the host name) and
``--clock-source``, which says how the host clock is kept (default ``host system clock``:
taserlink does not know whether the host synchronises it; say ``NTP (chrony)`` or the like
when it does).

``--workstation-key KEY.pem`` signs every acquisition with the download workstation's own
Ed25519 key (PKCS#8 PEM; encrypted with the passphrase in
``$TASERLINK_WORKSTATION_PASSPHRASE``, or not): the images are format version 2, whose host
times, nonce, clock source, tool, operator and workstation cannot be changed without an
``error`` finding.  The workstation's certificate (issued by the force's CA; then any
intermediates) is read from ``--workstation-cert CERT.pem``, else from KEY.pem itself (one
PEM holding the key and its certificates).  The recorded workstation is the certificate's
common name (``--workstation``, if given, must be the same).  A key that does not match its
certificate, is not Ed25519, or whose certificate is not valid now, not for digital
signatures or not for document signing (id-kp-documentSigning) is refused before anything is
downloaded (exit 2): an image signed so would only give ``error`` findings.  Without a key the
images are format version 1 (keyless digests only; ``verify`` warns of it), and a note on
stderr says so.

Progress goes to stderr, one line per device: redrawn in place when stderr is a terminal,
else a plain line per device now and then (and when it finishes or fails); none with
``--json``.  At the end a table on stdout: serial, records, resumed from (the first
sequence this run read, when it continued a partial), seconds, image path and verification
(``ok``, ``findings``, ``not verified`` or ``FAILED: <reason>``).  A device that fails —
unplugged, not answering, refusing — gets its one-line error in its row (and on stderr) and
its partial download is kept for the next run; the other devices carry on.

``--json`` prints one object instead of the table: ``out``, ``operator``, ``workstation``,
``clock_source``, ``roots`` (the root paths, or ``null``), ``verified`` (whether roots were
available), ``provenance`` (design §8: no input file; the roots' fingerprints) and
``devices``, one object per device in dock order with the keys of
:data:`DEVICE_KEYS` (``verification`` is ``ok``, ``findings``, ``not verified`` or
``failed``; ``error`` says why it failed, else ``null``; ``findings`` are the verifier's
finding objects, ``null`` when not verified).

Exit codes: 0 every device downloaded and every image verified without ``error`` findings
(or not verified); 1 an image has ``error`` findings; 3 a device failed, an image could not
be written or re-read, another download holds a device's partial, or no device is attached
(nothing was downloaded: a script that goes on to mark devices as collected must not take
that for success); 2 bad usage, roots that cannot be loaded (then nothing is downloaded),
or an output path refused by :mod:`taserlink.atomic`'s rule (``--out`` not a folder, a
partial folder that is a link or a device node: that device is not downloaded).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import getpass
import json
import os
import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TextIO

from taserlink.atomic import make_folder
from taserlink.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_FINDINGS,
    EXIT_OK,
    CommandError,
    UsageError,
    add_json_option,
    add_roots_option,
    printable,
    root_paths,
    stderr_line,
)
from taserlink.cli.dock import Dock, add_dock_arguments, device_label, failure_text, open_dock
from taserlink.device import DownloadResult, UsbDeviceInfo, download, load_partial
from taserlink.device.download import PARTIAL_SUFFIX
from taserlink.errors import ImageIOError, OutputPathError, RegisterError, WorkstationKeyError
from taserlink.forensics.provenance import roots_settings
from taserlink.integrity import Report, Severity, TrustStore, WorkstationKey, verify_image
from taserlink.integrity.roots import ROOTS_ENV
from taserlink.provenance import make_provenance
from taserlink.register import open_register
from taserlink.register.archive import archive_folder

__all__ = [
    "NAME",
    "OPERATOR_ENV",
    "DEFAULT_OUT",
    "DEFAULT_CLOCK_SOURCE",
    "JSON_KEYS",
    "DEVICE_KEYS",
    "Row",
    "ProgressBoard",
    "register",
    "run",
]

NAME: Final = "download"
OPERATOR_ENV: Final = "TASERLINK_OPERATOR"
"""Environment variable naming the operator when ``--operator`` is not given."""
DEFAULT_OUT: Final = "downloads"
DEFAULT_CLOCK_SOURCE: Final = "host system clock"
JSON_KEYS: Final = (
    "out",
    "operator",
    "workstation",
    "clock_source",
    "roots",
    "verified",
    "devices",
    "provenance",
)
"""Keys of the ``--json`` object (**contract**)."""
DEVICE_KEYS: Final = (
    "position",
    "serial",
    "bus",
    "address",
    "records",
    "first_seq",
    "last_seq",
    "resumed_from",
    "seconds",
    "image",
    "sha256",
    "verification",
    "findings",
    "coverage",
    "error",
)
"""Keys of each device's object in ``--json`` output (**contract**)."""

_FIELD_LIMIT: Final = 255
"""Operator, workstation and clock source are stored with a one-byte length (UTF-8)."""

Verification = Literal["ok", "findings", "not verified", "failed"]


# -- one device's outcome ---------------------------------------------------------------


@dataclass
class Row:
    """What happened to one device of the dock.

    Attributes:
        position: 1-based place in the dock (enumeration order).
        serial: the device serial (the USB serial string; the identity's once read), or a
            ``bus B address A`` label when neither is known.
        bus, address: where the device is plugged in (``None`` if the backend does not say).
        seconds: wall time spent on the device (download only, host monotonic clock).
        result: the download, when it finished.
        report: the verification report, when the image was verified.
        error: why the device (or the check of its image) failed; ``None`` otherwise.
        partial_records: after a failure, the records kept in the partial download.
        refused: the failure was an output path refused (:mod:`taserlink.atomic`'s rule).
    """

    position: int
    serial: str
    bus: int | None
    address: int | None
    seconds: float = 0.0
    result: DownloadResult | None = None
    report: Report | None = None
    error: str | None = None
    partial_records: int | None = None
    refused: bool = False

    @property
    def verification(self) -> Verification:
        """``failed`` (download or verification failed), ``not verified`` (no roots),
        ``findings`` (an ``error`` finding) or ``ok``."""
        if self.error is not None or self.result is None:
            return "failed"
        if self.report is None:
            return "not verified"
        return "ok" if self.report.ok else "findings"

    def verification_text(self) -> str:
        """The table's verification cell: ``ok (2 warnings)``, ``findings: 1 error
        (chain_break)``, ``not verified``, ``FAILED: <reason>``."""
        status = self.verification
        if status == "failed":
            return f"FAILED: {self.error}"
        if self.report is None:
            return status
        errors = self.report.by_severity(Severity.ERROR)
        warnings = len(self.report.by_severity(Severity.WARNING))
        if errors:
            kinds = ", ".join(dict.fromkeys(f.kind.value for f in errors))
            return f"findings: {_count(len(errors), 'error')} ({kinds})"
        return f"ok ({_count(warnings, 'warning')})" if warnings else "ok"

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` object (keys :data:`DEVICE_KEYS`)."""
        result, report = self.result, self.report
        return {
            "position": self.position,
            "serial": self.serial,
            "bus": self.bus,
            "address": self.address,
            "records": None if result is None else result.records,
            "first_seq": None if result is None else result.first_seq,
            "last_seq": None if result is None else result.last_seq,
            "resumed_from": None if result is None else result.resumed_from,
            "seconds": round(self.seconds, 3),
            "image": None if result is None else str(result.path),
            "sha256": None if result is None else result.sha256,
            "verification": self.verification,
            "findings": None if report is None else [f.as_dict() for f in report.findings],
            "coverage": None if report is None else str(report.coverage),
            "error": self.error,
        }


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# -- progress ---------------------------------------------------------------------------


@dataclass
class _Line:
    label: str
    done: int = 0
    total: int = 0
    status: str = "waiting"
    printed_at: float | None = None


_BAR: Final = 24


class ProgressBoard:
    """One progress line per device on ``stream`` (stderr), safe to update from threads.

    Args:
        stream: where to draw.
        labels: one label (serial) per line, in dock order.
        mode: ``tty`` — all lines redrawn in place (cursor moved up over them), at most
            every ``interval_s`` unless a device changes state; ``plain`` — a line for a
            device when its state changes and otherwise at most every ``interval_s`` per
            device; ``off`` — nothing.
        interval_s: seconds between redraws (``tty``) or a device's lines (``plain``);
            default 0.1 and 2.0.
        monotonic: the clock that paces them.
    """

    def __init__(
        self,
        stream: TextIO,
        labels: Sequence[str],
        mode: Literal["tty", "plain", "off"],
        *,
        interval_s: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.mode = mode
        self.interval_s = interval_s if interval_s is not None else (0.1 if mode == "tty" else 2.0)
        self._monotonic = monotonic
        self._lines = [_Line(printable(label)) for label in labels]
        self._lock = threading.Lock()
        self._drawn = 0
        self._drawn_at: float | None = None
        self._width = max((len(line.label) for line in self._lines), default=0)

    @classmethod
    def for_stream(cls, stream: TextIO, labels: Sequence[str], *, quiet: bool) -> ProgressBoard:
        """``off`` if ``quiet``; ``tty`` if ``stream`` is a terminal tall enough for a line
        per device (lines redrawn above the top of the screen cannot be reached); else
        ``plain``."""
        mode: Literal["tty", "plain", "off"] = "plain"
        if quiet:
            mode = "off"
        else:
            with contextlib.suppress(AttributeError, ValueError):
                rows = shutil.get_terminal_size((100, 24)).lines
                if stream.isatty() and len(labels) < rows:
                    mode = "tty"
        return cls(stream, labels, mode)

    def label(self, index: int, label: str) -> None:
        """Rename line ``index`` (a device whose serial became known)."""
        with self._lock:
            self._lines[index].label = printable(label)
            self._width = max(self._width, len(self._lines[index].label))

    def update(self, index: int, done: int, total: int, status: str | None = None) -> None:
        """Device ``index`` holds ``done`` of ``total`` records (and is now ``status``)."""
        with self._lock:
            line = self._lines[index]
            line.done, line.total = done, total
            changed = status is not None and status != line.status
            if status is not None:
                line.status = status
            self._draw(index, changed=changed)

    def state(self, index: int, status: str) -> None:
        """Device ``index`` is now ``status`` (``reading``, ``verifying``, ``done``, …)."""
        with self._lock:
            line = self._lines[index]
            if line.status == status:
                return
            line.status = status
            self._draw(index, changed=True)

    def close(self) -> None:
        """Draw the final state of every line (``tty``)."""
        with self._lock:
            if self.mode == "tty" and self._lines:
                self._redraw()

    def text(self, index: int) -> str:
        """Line ``index`` as drawn (without a line break)."""
        line = self._lines[index]
        total = max(line.total, line.done)
        filled = _BAR * line.done // total if total else 0
        percent = f"{100 * line.done // total:3d}%" if total else "   -"
        counts = f"{line.done}/{total}" if total else "-"
        return (
            f"{line.label:<{self._width}}  [{'#' * filled}{'.' * (_BAR - filled)}] "
            f"{counts:>13} records {percent}  {printable(line.status)}"
        )

    def _draw(self, index: int, *, changed: bool) -> None:
        if self.mode == "off":
            return
        now = self._monotonic()
        if self.mode == "tty":
            if changed or self._drawn_at is None or now - self._drawn_at >= self.interval_s:
                self._redraw()
                self._drawn_at = now
            return
        line = self._lines[index]
        if changed or line.printed_at is None or now - line.printed_at >= self.interval_s:
            line.printed_at = now
            self._write(self.text(index) + "\n")

    def _redraw(self) -> None:
        columns = shutil.get_terminal_size((100, 24)).columns
        parts = [f"\x1b[{self._drawn}F"] if self._drawn else []
        for index in range(len(self._lines)):
            # One terminal row per line, whatever the width, or moving up would miscount.
            parts.append("\x1b[2K" + self.text(index)[: max(10, columns - 1)] + "\n")
        self._drawn = len(self._lines)
        self._write("".join(parts))

    def _write(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # progress must never end a download
            self.stream.write(text)
            self.stream.flush()


# -- the command ------------------------------------------------------------------------


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``download`` to the ``taserlink`` subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="download every attached device at once, verify the images, summarise",
        description=(
            "Download every attached dataport device concurrently (one thread each) into "
            "dataport images (.tdi), resuming partial downloads an earlier run left; verify "
            "each image when trusted roots are given (--roots, else "
            f"${ROOTS_ENV}; without them the images are not verified); then print a table: "
            "serial, records, resumed from, seconds, image, verification. Progress on stderr. "
            "Exit 0 all downloaded (and verified without error findings), 1 an image has "
            "error findings, 2 bad usage or unloadable roots, 3 a device failed (its error "
            "is in the table; the others complete) or no device is attached."
        ),
    )
    add_dock_arguments(parser)
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=DEFAULT_OUT,
        help=f"directory for the images and partial downloads (default ./{DEFAULT_OUT})",
    )
    parser.add_argument(
        "--operator",
        metavar="NAME",
        help=f"who downloads (default ${OPERATOR_ENV}, else the login name)",
    )
    parser.add_argument(
        "--workstation", metavar="NAME", help="the downloading host (default its host name)"
    )
    parser.add_argument(
        "--clock-source",
        metavar="TEXT",
        default=DEFAULT_CLOCK_SOURCE,
        help=(
            "how the host clock is kept, recorded in each image, e.g. 'NTP (chrony)' "
            f"(default '{DEFAULT_CLOCK_SOURCE}')"
        ),
    )
    parser.add_argument(
        "--workstation-key",
        metavar="KEY.pem",
        help="sign every acquisition with this workstation's Ed25519 key (PKCS#8 PEM; "
        "passphrase in $TASERLINK_WORKSTATION_PASSPHRASE): format version 2 images, whose "
        "host times cannot be changed unnoticed (default: no key, format version 1)",
    )
    parser.add_argument(
        "--workstation-cert",
        metavar="CERT.pem",
        help="the workstation's certificate issued by the force CA, then any intermediates "
        "(default: read from KEY.pem)",
    )
    add_roots_option(
        parser, purpose=" to verify the images with", otherwise="the images are not verified"
    )
    add_json_option(
        parser, "one JSON object instead of the table, and no progress: " + ", ".join(JSON_KEYS)
    )
    parser.add_argument(
        "--register",
        metavar="URL",
        help="archive each image in the store room's register as it is downloaded "
        "(verified, checked to continue the device's last download, recorded in its ledger)",
    )
    parser.add_argument(
        "--archive",
        metavar="DIR",
        help="the register's archive folder (default: beside a SQLite register)",
    )
    return parser


@dataclass(frozen=True)
class _Acquirer:
    """Who downloads, where to, and what to verify with."""

    out: Path
    operator: str
    workstation: str
    clock_source: str
    trust: TrustStore | None
    workstation_key: WorkstationKey | None = None


def run(args: argparse.Namespace) -> int:
    """Download every device of the dock ``args`` names; print the summary.

    Returns:
        The exit code (see the module docstring).

    Raises:
        UsageError: an operator, workstation or clock source that cannot be recorded, or a
            fault script that does not parse (exit 2).
        TrustStoreError: the roots cannot be loaded (exit 2).
        CommandError: interrupted (exit 3).
        ImageIOError: the output directory cannot be created (exit 3).
        DeviceError: the devices cannot be enumerated (no USB backend; exit 3).
    """
    operator = _field(args.operator or _default_operator(), "--operator")
    key = _workstation_key(args)
    if key is not None and args.workstation is not None and args.workstation != key.name:
        raise UsageError(
            f"--workstation {printable(args.workstation)!r}: the workstation key's certificate "
            f"names {printable(key.name)!r}, which is what a signed acquisition records"
        )
    default_workstation = key.name if key is not None else _default_workstation()
    workstation = _field(args.workstation or default_workstation, "--workstation")
    clock_source = _field(args.clock_source, "--clock-source")
    roots = root_paths(args)
    trust = roots.load() if roots.paths else None
    dock = open_dock(args)
    found = dock.devices()
    out = Path(args.out)
    if found:
        try:
            make_folder(out)
        except OSError as error:
            raise ImageIOError(f"cannot create {out}: {error.strerror or error}") from None
    acquirer = _Acquirer(out, operator, workstation, clock_source, trust, key)
    if not found:
        stderr_line("error", f"no dataport device is attached ({dock.description})")
    else:
        if trust is None:
            stderr_line(
                "note",
                f"no trusted roots (--roots or ${ROOTS_ENV}): the images will not be verified; "
                "run 'taserlink verify --roots DIR' on them",
            )
        if key is None and not args.json:
            stderr_line(
                "note",
                "no workstation key (--workstation-key): the images are format version 1, "
                "whose host times are protected only by keyless digests",
            )
    rows = _download_all(found, acquirer, quiet=args.json)
    if args.json:
        _write_json(rows, acquirer, roots.paths, sys.stdout)
    else:
        _write_table(rows, acquirer, dock, sys.stdout)
    for row in rows:
        if row.error is not None:
            stderr_line("error", f"{row.serial}: {row.error}")
    code = _exit_code(rows)
    if args.register is not None and not _archived(args, rows, trust, operator):
        code = max(code, EXIT_FINDINGS)
    return code


def _archived(
    args: argparse.Namespace, rows: Sequence[Row], trust: TrustStore | None, operator: str
) -> bool:
    """Archive every downloaded image in the register ``args.register`` names; a line on
    stderr for each.  True when all were archived, verified and continue their device's
    last download.

    Raises:
        RegisterError: the register cannot be opened or its archive has no folder (exit 2).
        RegisterDatabaseError: its database fails (exit 3).
    """
    folder = archive_folder(args.register, args.archive)
    register = open_register(args.register, operator=operator)
    good = True
    try:
        for row in rows:
            if row.result is None:
                continue
            try:
                done = register.archive(row.result.path, trust or TrustStore(()), folder)
            except RegisterError as error:
                stderr_line("error", f"{row.serial}: not archived: {error}")
                good = False
                continue
            state = "OK" if done.ok else "NOT OK or not continuing its last download"
            stderr_line("note", f"{row.serial}: archived as {done.sha256[:12]}… ({state})")
            good &= done.ok
    finally:
        register.close()
    return good


def _exit_code(rows: Sequence[Row]) -> int:
    if any(row.refused for row in rows):
        return EXIT_BAD_INPUT
    if not rows or any(row.verification == "failed" for row in rows):
        return EXIT_FAILURE
    if any(row.verification == "findings" for row in rows):
        return EXIT_FINDINGS
    return EXIT_OK


def _workstation_key(args: argparse.Namespace) -> WorkstationKey | None:
    """The workstation key ``--workstation-key`` names (``None`` without one).

    Raises:
        UsageError: ``--workstation-cert`` without a key; a key or certificate that cannot
            be read or used; a certificate not valid now or not for signing acquisitions.
    """
    if args.workstation_key is None:
        if args.workstation_cert is not None:
            raise UsageError("--workstation-cert needs --workstation-key")
        return None
    try:
        key = WorkstationKey.load(args.workstation_key, args.workstation_cert)
        problems = key.problems(dt.datetime.now(dt.UTC))
    except WorkstationKeyError as error:
        raise UsageError(f"--workstation-key: {error}") from None
    if problems:
        raise UsageError(f"--workstation-key: cannot sign acquisitions: {'; '.join(problems)}")
    return key


def _default_operator() -> str:
    name = os.environ.get(OPERATOR_ENV)
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):  # no login name, no password entry
        return "unknown"


def _default_workstation() -> str:
    try:
        return socket.gethostname() or "unknown"
    except OSError:
        return "unknown"


def _field(value: str, option: str) -> str:
    """``value`` if it can be recorded in the acquisition section, else a UsageError."""
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise UsageError(f"{option}: not valid text (undecodable bytes)") from None
    if size > _FIELD_LIMIT:
        raise UsageError(f"{option}: {size} bytes in UTF-8; at most {_FIELD_LIMIT} are recorded")
    if not value.isprintable():
        raise UsageError(f"{option}: {printable(value)!r} holds control characters")
    return value


def _download_all(found: Sequence[UsbDeviceInfo], acquirer: _Acquirer, *, quiet: bool) -> list[Row]:
    """Download every device of ``found`` in its own thread; the rows in dock order."""
    rows = [
        Row(position, device_label(info), info.bus, info.address)
        for position, info in enumerate(found, start=1)
    ]
    board = ProgressBoard.for_stream(sys.stderr, [row.serial for row in rows], quiet=quiet)
    seen: set[str] = set()
    threads: list[threading.Thread] = []
    for index, (info, row) in enumerate(zip(found, rows, strict=True)):
        if info.serial is not None:
            if info.serial in seen:
                row.error = "another device on the dock reports the same USB serial"
                board.state(index, "FAILED")
                continue
            seen.add(info.serial)
        thread = threading.Thread(
            target=_download_one,
            args=(index, info, row, acquirer, board),
            name=f"download-{row.serial}",
            daemon=True,  # an interrupted run leaves partials on disk, not a hung process
        )
        threads.append(thread)
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    except KeyboardInterrupt:
        board.close()
        raise CommandError(
            f"interrupted: partial downloads are kept in {acquirer.out}; run download again "
            "to resume",
            EXIT_FAILURE,
        ) from None
    board.close()
    return rows


def _download_one(
    index: int, info: UsbDeviceInfo, row: Row, acquirer: _Acquirer, board: ProgressBoard
) -> None:
    """The thread of one device: download, then verify; every failure into ``row``."""
    started = time.monotonic()

    def progress(serial: str, done: int, total: int) -> None:
        if serial != row.serial:
            row.serial = serial
            board.label(index, serial)
        board.update(index, done, total, "reading")

    board.state(index, "connecting")
    try:
        row.result = download(
            info,
            acquirer.out,
            operator=acquirer.operator,
            workstation=acquirer.workstation,
            clock_source=acquirer.clock_source,
            progress=progress,
            workstation_key=acquirer.workstation_key,
        )
    except Exception as error:  # one device's failure must not end the others' downloads
        row.refused = isinstance(error, OutputPathError)
        _failed(row, failure_text(error), acquirer.out, started)
    if row.result is None:
        board.state(index, "FAILED")
        return
    row.serial = row.result.serial
    row.seconds = time.monotonic() - started
    if acquirer.trust is None:
        board.state(index, "done (not verified)")
        return
    board.state(index, "verifying")
    try:
        row.report = verify_image(row.result.path, acquirer.trust)
    except Exception as error:
        row.error = f"the image was written but cannot be verified: {failure_text(error)}"
        board.state(index, "FAILED")
        return
    board.state(index, "done, " + row.verification_text())


def _failed(row: Row, message: str, out: Path, started: float) -> None:
    row.seconds = time.monotonic() - started
    partial = load_partial(out / f"{row.serial}{PARTIAL_SUFFIX}", row.serial)
    if partial is not None and partial.count:
        row.partial_records = partial.count
        message += f" (partial kept: {partial.count} records; run download again to resume)"
    row.error = printable(message)


# -- output -----------------------------------------------------------------------------

_COLUMNS: Final = ("SERIAL", "RECORDS", "RESUMED FROM", "SECONDS", "IMAGE", "VERIFICATION")


def _cells(row: Row) -> tuple[str, ...]:
    result = row.result
    resumed = "-" if result is None or result.resumed_from is None else str(result.resumed_from)
    return (
        printable(row.serial),
        "-" if result is None else str(result.records),
        resumed,
        f"{row.seconds:.2f}",
        "-" if result is None else printable(str(result.path)),
        printable(row.verification_text()),
    )


def _write_table(rows: Sequence[Row], acquirer: _Acquirer, dock: Dock, out: TextIO) -> None:
    if not rows:
        out.write(f"no dataport device attached ({dock.description}): nothing downloaded\n")
        return
    table = [_COLUMNS, *(_cells(row) for row in rows)]
    widths = [max(len(line[column]) for line in table) for column in range(len(_COLUMNS))]
    right = {1, 2, 3}
    for line in table:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        out.write("  ".join(cells).rstrip() + "\n")
    downloaded = sum(row.result is not None for row in rows)
    failed = len(rows) - downloaded
    summary = f"{_count(len(rows), 'device')}: {downloaded} downloaded, {failed} failed"
    if acquirer.trust is None:
        summary += "; images not verified (no trusted roots)"
    else:
        counts = {
            status: sum(r.verification == status for r in rows) for status in ("ok", "findings")
        }
        summary += f"; verified: {counts['ok']} ok, {counts['findings']} with findings"
    out.write(summary + "\n")


def _write_json(
    rows: Sequence[Row], acquirer: _Acquirer, roots: Sequence[str], out: TextIO
) -> None:
    document = {
        "out": str(acquirer.out),
        "operator": acquirer.operator,
        "workstation": acquirer.workstation,
        "clock_source": acquirer.clock_source,
        "roots": list(roots) if acquirer.trust is not None else None,
        "verified": acquirer.trust is not None,
        "devices": [row.as_dict() for row in rows],
        # no file read (the devices answered); the images written are named in "devices"
        "provenance": make_provenance((), roots_settings(acquirer.trust)).as_dict(),
    }
    out.write(json.dumps(document, indent=1) + "\n")
