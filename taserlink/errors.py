"""The exception hierarchy every taserlink layer raises.

One root, :class:`TaserlinkError`; children name what stopped the work and, where a
builtin means the same thing, inherit it too (``DeviceTimeout`` is a ``TimeoutError``), so a
caller may catch either.  Problems that do *not* stop the work (a record whose CRC fails,
a clock that jumped) are reported as data, never raised.
"""

from __future__ import annotations

__all__ = [
    "ECHO_CHARS",
    "excerpt",
    "TaserlinkError",
    "FormatError",
    "TruncatedError",
    "RecordCrcError",
    "SerialError",
    "ScenarioError",
    "ImageIOError",
    "OutputPathError",
    "PartialInUseError",
    "TrustStoreError",
    "WorkstationKeyError",
    "DeviceError",
    "DeviceNotFound",
    "DeviceTimeout",
    "DeviceDisconnected",
    "ProtocolError",
    "DeviceRefused",
    "CaptureError",
    "ReadError",
    "ClockModelError",
    "TimelineError",
    "TimeTextError",
    "ConfusionModelError",
    "InputFileError",
    "AccountsError",
    "PopulationError",
    "MatchError",
    "LinkError",
    "ReconcileError",
    "ReturnError",
    "RegisterError",
    "RefusedError",
    "RegisterDatabaseError",
    "MissingExtraError",
]


ECHO_CHARS = 60
"""Most characters of an input that an error message quotes (:func:`excerpt`)."""


def excerpt(text: str, limit: int = ECHO_CHARS) -> str:
    """``text`` quoted for an error message (``repr``), cut to ``limit`` characters.

    A longer text keeps its first ``limit`` characters, then ``…`` and its length:
    ``'AAAA…' (10000 characters)``, so that a hostile or mistaken cell cannot fill a
    terminal, and a one-line message stays one readable line.
    """
    if len(text) <= limit:
        return repr(text)
    shown = repr(text[:limit])
    return f"{shown[:-1]}…{shown[-1]} ({len(text)} characters)"


class TaserlinkError(Exception):
    """Root of every error taserlink raises on purpose."""


class FormatError(TaserlinkError, ValueError):
    """A dataport image (or part of one) is not well formed.

    ``offset`` is the absolute byte offset in the image where the problem was found
    (``None`` when it concerns the whole input), and is part of ``str(error)``.
    """

    def __init__(self, message: str, offset: int | None = None) -> None:
        self.offset = offset
        self.reason = message
        super().__init__(message if offset is None else f"at offset {offset}: {message}")


class TruncatedError(FormatError):
    """The input ends before the structure it declares (a partial download, a cut file)."""


class RecordCrcError(FormatError):
    """A record's CRC does not match its bytes (raised only under ``CrcCheck.RAISE``)."""

    def __init__(self, message: str, offset: int, index: int) -> None:
        self.index = index
        super().__init__(message, offset)


class SerialError(TaserlinkError, ValueError):
    """A serial is not valid in its scheme (wrong length, alphabet, type or check)."""


class ScenarioError(TaserlinkError, ValueError):
    """A firmware-model scenario asked for something the simulated device cannot do."""


class ImageIOError(TaserlinkError, OSError):
    """An image file could not be read or written (missing, unreadable, disk full)."""


class OutputPathError(TaserlinkError, ValueError):
    """An output path taserlink refuses to write: a device node, FIFO, socket, directory or
    symbolic link where a file would go, or an existing dataport image (evidence is never
    replaced).  ``path`` is the path as given; the CLI's exit 2 (bad input)."""

    def __init__(self, message: str, path: str) -> None:
        self.path = path
        super().__init__(message)


class PartialInUseError(TaserlinkError, BlockingIOError):
    """Another download holds the lock on a device's ``<serial>.partial/`` folder: two
    downloads of one device into one folder would overwrite each other's partial."""


class TrustStoreError(TaserlinkError, ValueError):
    """Trusted roots could not be loaded (a missing directory, a file that is no certificate)."""


class WorkstationKeyError(TaserlinkError, ValueError):
    """A download workstation's key or certificate cannot be used to sign acquisitions: a
    file that cannot be read, not PEM, an encrypted key without its passphrase, a key that
    is not Ed25519, or a certificate that is not for that key."""


class DeviceError(TaserlinkError, OSError):
    """A device could not be talked to or misbehaved (the CLI's exit 3)."""


class DeviceNotFound(DeviceError, LookupError):
    """No attached device matches (vendor and product id, serial)."""


class DeviceTimeout(DeviceError, TimeoutError):
    """The device did not answer in time, after the retries allowed."""


class DeviceDisconnected(DeviceError, ConnectionError):
    """The device went away (unplugged, reset) during a transfer."""


class ProtocolError(DeviceError):
    """A frame was malformed, corrupted, out of sequence, or answered the wrong request."""


class DeviceRefused(DeviceError):
    """The device answered a request with an error status (``status`` says which)."""

    def __init__(self, message: str, status: int) -> None:
        self.status = status
        super().__init__(message)


class CaptureError(TaserlinkError, ValueError):
    """A USB capture (pcapng) is malformed, or a replay departed from it.

    ``offset`` is the byte offset in the capture where a malformed capture was found
    (``None`` when the error concerns no one place, such as a replay's departure).
    """

    def __init__(self, message: str, offset: int | None = None) -> None:
        self.offset = offset
        super().__init__(message)


class ReadError(TaserlinkError, ValueError):
    """An AFID read is not in the read notation (``?`` unreadable, ``*`` torn, characters)."""


class ConfusionModelError(TaserlinkError, ValueError):
    """A confusion model for AFID reads is invalid: a file that cannot be read or parsed,
    probabilities outside (0, 1), rows that do not sum to 1, or a model for another alphabet."""


class ClockModelError(TaserlinkError, ValueError):
    """Images that cannot make one clock model (no images, several devices, or two images
    that disagree about a record)."""


class TimeTextError(TaserlinkError, ValueError):
    """A text that should name an instant is not an ISO 8601 time with a zone."""


class TimelineError(ClockModelError):
    """Downloads that cannot make one device timeline: two that hold different records
    under one sequence number (naming both), or none at all."""


class InputFileError(TaserlinkError, ValueError):
    """A table the forensic commands read (AFID reads, a serial list, a cartridge issue
    list, match results) is malformed: a missing or unknown column, a bad value, a duplicate.
    ``source`` names the file and ``line`` the 1-based line (``None`` for the whole file);
    the message starts with ``source:line``."""

    def __init__(self, message: str, source: str, line: int | None = None) -> None:
        self.source = source
        self.line = line
        where = source if line is None else f"{source}:{line}"
        super().__init__(f"{where}: {message}")


class AccountsError(InputFileError):
    """Officers' use-of-force accounts (``ACCOUNTS.csv``, README "Use-of-force accounts")
    or a column map for them that cannot be read as the contract says: a missing, unknown
    or repeated column, a bad value (a time without a zone, a bad serial, a negative
    cycle count), a row of the wrong width, two rows of one report that disagree, bytes
    that are not UTF-8, bad JSON in a map; also an account that cannot be written so that
    it reads back the same.

    ``source`` names the file (or what the values came from), ``line`` the 1-based line
    (``None`` for the whole file) and ``reason`` what is wrong; the message reads
    ``ACCOUNTS.csv line 7: <reason>`` (``ACCOUNTS.csv: <reason>`` without a line).  An
    :class:`InputFileError`, so the CLI exits 2 (bad input)."""

    def __init__(self, message: str, source: str, line: int | None = None) -> None:
        super().__init__(message, source, line)
        where = source if line is None else f"{source} line {line}"
        self.args = (f"{where}: {message}",)
        self.reason = message

    def __reduce__(self) -> tuple[type[AccountsError], tuple[str, str, int | None]]:
        """Pickled as its parts (a worker process's error reaches its parent whole)."""
        return type(self), (self.reason, self.source, self.line)


class PopulationError(InputFileError):
    """A population table (``POPULATION.csv``, README "Population table") that cannot be
    read as the contract says — a missing, unknown or repeated column or group, a
    population that is not a positive whole number, a row of the wrong width, bytes that
    are not UTF-8 — or uses set against it that cannot make rates (a count that is not a
    whole number of uses, a group that is not one of the five, more uses than people).

    ``source`` names the file (or what the values came from, ``uses``) and ``line`` the
    1-based line (``None`` for the whole file); the message reads
    ``POPULATION.csv:3: <reason>``.  An :class:`InputFileError`, so the CLI exits 2."""


class MatchError(TaserlinkError, ValueError):
    """Matching cannot be done as asked: a serial list that is empty, holds a duplicate or
    a serial of another scheme, or settings out of range."""


class LinkError(TaserlinkError, ValueError):
    """Linkage cannot be done as asked: no images, or an incident window that ends before
    it starts."""


class ReconcileError(TaserlinkError, ValueError):
    """Reconciliation cannot start: no downloads, a download that cannot be read (named),
    two downloads of one device that disagree (the CLI's exit 2)."""


class ReturnError(TaserlinkError, ValueError):
    """The Home Office return cannot be counted as asked: a financial year outside
    1900-9998, or an account that is no :class:`~taserlink.postuse.accounts.Account`
    (the CLI's exit 2)."""


class RegisterError(TaserlinkError, ValueError):
    """Bad input to the register: an unknown officer or item, a malformed store-room file
    (with file and line), a register that was never initialised."""


class RefusedError(TaserlinkError):
    """The register refused a movement under one of its rules (design §7): the message
    names the rule's subject and why, with the dates.  Nothing of the request was kept."""


class RegisterDatabaseError(TaserlinkError):
    """The register's database could not be reached or failed (locked too long, gone,
    out of space); nothing of the request was kept."""


class MissingExtraError(TaserlinkError, ImportError):
    """An optional part of taserlink was asked for and the package it needs is not installed
    (Parquet output without pyarrow).  ``extra`` names the extra that installs it; the
    message says ``pip install 'taserlink[<extra>]'``.  The CLI's exit 2 (usage: the
    installation cannot do what the command line asks, and nothing was written)."""

    def __init__(self, message: str, extra: str) -> None:
        self.extra = extra
        super().__init__(message)
