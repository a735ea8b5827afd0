"""Whole downloads to disk: progress, a partial kept while downloading, resume, atomic writes.

:func:`download` reads a device in this order — ``IDENTIFY``; certificates; base; records
in chunks from the first retained (or from where a partial download stopped); seals;
``SIGN_STATEMENT`` over a fresh 32-byte nonce; then the records and seals the device logged
since (its ``DOWNLOAD`` record at least) up to the statement's ``last_seq`` — and writes
one dataport image, atomically, as ``<out>/<serial>-<UTC yyyymmddThhmmssZ>.tdi`` (the host
UTC when the statement arrived; ``-2``, ``-3`` … are added rather than replace an image).

**Nothing read is lost.**  While it downloads it keeps ``<out>/<serial>.partial/``::

    identity.bin        the identity section as the device sent it
    certificates.bin    the certificates section
    base.bin            the base section the records follow from
    records.bin         the records so far, appended and fsynced chunk by chunk
    state.json          serial, base digest, start time (written atomically, at the start
                        and after a rebase; the record count is records.bin's own)
    download.lock       locked (``flock``) by the download using the partial

**One download at a time per partial.**  A download takes an exclusive, non-blocking
``flock`` on ``<serial>.partial/download.lock`` before it reads or changes the partial and
holds it until the image is in place and the partial deleted; a second download of the same
device into the same folder (another process, or another thread) is refused at once with
:class:`~taserlink.errors.PartialInUseError` and touches nothing, so neither can delete or
rewrite the other's partial.

**Output paths** follow :mod:`taserlink.atomic`'s rule: the partial folder must be a real
folder (not a link), its files regular files, and an image is written under a new name,
never over anything.

A download that fails (any :class:`~taserlink.errors.DeviceError`) leaves the partial as it
stands and raises.  The next download of that device checks the partial — every record's
CRC, sequence numbers contiguous from its base, the same serial, the device still holding
the partial's last record byte for byte — and continues after the last good record.  If the
device's log wrapped meanwhile (its base moved on), only the records it still retains are
kept.  The partial is deleted only after the image is safely renamed into place.  A resumed
download's device sections (identity to seals) are byte-identical to those of an
uninterrupted download made at the same moment: the records are the device's own bytes,
whichever session read them.  (Its acquisition's ``host_utc_start_ms`` is when the first
record was read, in the first session.)

**Signed acquisitions.**  Given a ``workstation_key`` (the download workstation's Ed25519
key and certificate, :class:`taserlink.integrity.WorkstationKey`), the image is format
version 2: the workstation signs its acquisition section (host times, nonce, clock source,
tool, operator, workstation, and the SHA-256 of sections 1–7).  Without one the image is
format version 1, whose host fields only keyless digests protect (``docs/format.md`` §18
says why no unsigned version 2 is written).

Records are stored exactly as the device sent them: a record whose CRC or chain does not
hold is evidence for the verifier (:func:`taserlink.integrity.verify_image`), not a transfer
error.  Only the partial's own check on resume distrusts them (a bad record there is read
again from the device, which gives the same bytes if the device holds them so).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from taserlink import __version__, atomic
from taserlink.device.session import DeviceInfo, DeviceSession, RetryPolicy
from taserlink.device.usb_host import Transport, UsbDeviceInfo, open_link
from taserlink.errors import (
    DeviceRefused,
    FormatError,
    ImageIOError,
    PartialInUseError,
    ProtocolError,
)
from taserlink.format import Acquisition, AcquisitionSigner, build_image
from taserlink.format import layout as L
from taserlink.format.bulk import crc_mismatches, records_from_buffer
from taserlink.format.image import (
    Base,
    decode_base,
    decode_certificates,
    decode_identity,
    encode_base,
    encode_certificates,
)
from taserlink.serials import DEVICE_SCHEME
from taserlink.usb import protocol as P

__all__ = [
    "TOOL_VERSION",
    "Progress",
    "DownloadResult",
    "PartialDownload",
    "download",
    "image_name",
    "load_partial",
    "good_prefix",
    "lock_partial",
    "write_atomic",
]

TOOL_VERSION: Final = f"taserlink {__version__}"
"""The ``tool_version`` written into every acquisition."""
PARTIAL_SUFFIX: Final = ".partial"
LOCK_NAME: Final = "download.lock"
"""The file in a partial folder that a download holds locked while it uses the folder."""
_STATE_VERSION: Final = 1
_LOCK_ATTEMPTS: Final = 8

Progress = Callable[[str, int, int], None]
"""``progress(serial, records_done, records_total)``; ``records_total`` may grow once the
statement adds the records logged during the download."""


@dataclass(frozen=True)
class DownloadResult:
    """What :func:`download` wrote."""

    path: Path
    """The image file."""
    serial: str
    records: int
    """Records in the image."""
    first_seq: int
    last_seq: int
    resumed_from: int | None
    """Sequence of the first record this call read, when it continued a partial download
    (``None``: it started from the log's first retained record)."""
    seconds: float
    """Wall time of this call (host monotonic clock)."""
    sha256: str
    """SHA-256 of the image file (hex)."""


# -- files ------------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`taserlink.atomic.write_atomic`).

    Raises:
        ImageIOError: the file could not be written.
    """
    try:
        atomic.write_atomic(path, data)
    except OSError as error:
        raise ImageIOError(f"cannot write {path}: {error.strerror or error}") from None


def _publish(directory: Path, stem: str, data: bytes) -> Path:
    """Write ``data`` as ``directory/stem.tdi`` (or ``stem-2.tdi`` … if taken), atomically
    and without ever replacing an existing image (:func:`taserlink.atomic.write_new`)."""
    names = (f"{stem}.tdi" if n == 1 else f"{stem}-{n}.tdi" for n in range(1, 1000))
    try:
        return atomic.write_new(directory, names, data)
    except FileExistsError:
        raise ImageIOError(f"cannot find a free name for {stem}.tdi in {directory}") from None
    except OSError as error:
        raise ImageIOError(
            f"cannot write the image in {directory}: {error.strerror or error}"
        ) from None


@contextlib.contextmanager
def lock_partial(directory: Path) -> Iterator[None]:
    """Hold the partial folder ``directory`` (made if missing) for one download.

    Takes an exclusive, non-blocking ``flock`` on ``directory/download.lock`` and keeps it
    until the ``with`` block ends.  A lock file whose folder was deleted meanwhile (by a
    download that finished) is let go and the lock taken afresh.

    Raises:
        PartialInUseError: another download holds it (nothing in the folder is touched).
        OutputPathError: ``directory`` or its lock file is not what it must be (a link, a
            device …).
        ImageIOError: the folder or lock file cannot be made.
    """
    lock_path = directory / LOCK_NAME
    for _ in range(_LOCK_ATTEMPTS):
        try:
            atomic.make_folder(directory, link_ok=False)
            atomic.check_destination(lock_path)
            flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            fd = os.open(lock_path, flags, 0o644)
        except OSError as error:
            raise ImageIOError(f"cannot lock {directory}: {error.strerror or error}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise PartialInUseError(
                f"another download of this device into {directory.parent} is running "
                f"({directory.name}/ is locked): wait for it to end"
            ) from None
        if _still_there(fd, lock_path):
            break
        os.close(fd)  # its folder was removed before we held it: take the new one's
    else:  # pragma: no cover - eight downloads finished under our feet
        raise PartialInUseError(f"{directory} keeps being replaced: another download is using it")
    try:
        yield
    finally:
        os.close(fd)  # closing lets go of the lock


def _still_there(fd: int, path: Path) -> bool:
    """True when the open ``fd`` is the regular file at ``path`` now."""
    held = os.fstat(fd)
    try:
        now = os.lstat(path)
    except FileNotFoundError:
        return False
    return stat.S_ISREG(held.st_mode) and (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino)


def image_name(serial: str, utc_ms: int) -> str:
    """``<serial>-<UTC yyyymmddThhmmssZ>`` (without the ``.tdi`` suffix)."""
    moment = dt.datetime.fromtimestamp(utc_ms / 1000, dt.UTC)
    return f"{serial}-{moment:%Y%m%dT%H%M%SZ}"


def good_prefix(records: bytes, first_seq: int) -> int:
    """How many whole records at the start of ``records`` have a good CRC and the sequence
    numbers ``first_seq, first_seq + 1, …`` (a torn last record does not count)."""
    count = len(records) // L.RECORD_SIZE
    if count == 0:
        return 0
    array = records_from_buffer(records, 0, count)
    bad = np.zeros(count, dtype=bool)
    bad[crc_mismatches(array)] = True
    bad |= array["seq"].astype(np.int64) != first_seq + np.arange(count, dtype=np.int64)
    where = np.flatnonzero(bad)
    return int(where[0]) if len(where) else count


# -- the partial download ---------------------------------------------------------------


@dataclass
class PartialDownload:
    """A download in progress on disk (``<out>/<serial>.partial/``)."""

    directory: Path
    serial: str
    base: Base
    records: bytearray
    started_utc_ms: int

    @property
    def next_seq(self) -> int:
        """The sequence of the first record not yet held."""
        return self.base.first_seq + len(self.records) // L.RECORD_SIZE

    @property
    def count(self) -> int:
        return len(self.records) // L.RECORD_SIZE

    @classmethod
    def create(
        cls,
        directory: Path,
        info: DeviceInfo,
        certificates: tuple[bytes, ...],
        base: Base,
        started_utc_ms: int,
        records: bytes = b"",
    ) -> PartialDownload:
        """Start (or restart) a partial in ``directory`` holding ``records`` after ``base``."""
        try:
            atomic.make_folder(directory, link_ok=False)
        except OSError as error:
            raise ImageIOError(f"cannot create {directory}: {error.strerror or error}") from None
        partial = cls(directory, info.serial, base, bytearray(records), started_utc_ms)
        write_atomic(directory / "identity.bin", info.identity_bytes)
        write_atomic(directory / "certificates.bin", encode_certificates(certificates))
        write_atomic(directory / "base.bin", encode_base(base))
        write_atomic(directory / "records.bin", bytes(records))
        partial._write_state()
        return partial

    def _write_state(self) -> None:
        state = {
            "version": _STATE_VERSION,
            "serial": self.serial,
            "base_first_seq": self.base.first_seq,
            "base_sha256": hashlib.sha256(encode_base(self.base)).hexdigest(),
            "started_utc_ms": self.started_utc_ms,
            "tool_version": TOOL_VERSION,
        }
        write_atomic(self.directory / "state.json", json.dumps(state, indent=1).encode() + b"\n")

    def append(self, chunk: bytes) -> None:
        """Append records to ``records.bin`` (fsynced).

        The state is not rewritten: how many records the partial holds is what
        ``records.bin`` holds, checked record by record when the partial is loaded.
        """
        try:
            atomic.append_durably(self.directory / "records.bin", chunk)
        except OSError as error:
            raise ImageIOError(
                f"cannot append to {self.directory}: {error.strerror or error}"
            ) from None
        self.records += chunk

    def rebase(self, base: Base) -> None:
        """The device's log wrapped: keep only the records from ``base.first_seq`` on."""
        drop = max(0, base.first_seq - self.base.first_seq)
        del self.records[: drop * L.RECORD_SIZE]
        self.base = base
        write_atomic(self.directory / "base.bin", encode_base(base))
        write_atomic(self.directory / "records.bin", bytes(self.records))
        self._write_state()

    def remove(self) -> None:
        """Delete the partial (only once the image is safely in place)."""
        shutil.rmtree(self.directory, ignore_errors=True)
        with contextlib.suppress(OSError):  # the image is in place; this only hastens the removal
            atomic.fsync_directory(self.directory.parent)


def load_partial(directory: Path, serial: str) -> PartialDownload | None:
    """Read and check the partial download in ``directory``.

    Returns the partial cut to its last good record (CRC and contiguous sequence from its
    base; a torn last record dropped), or ``None`` when there is none, or it belongs to
    another device, or its files cannot be read (a partial is a cache: a bad one is
    discarded, never trusted).
    """
    if directory.is_symlink() or not directory.is_dir():
        return None
    try:
        state = json.loads((directory / "state.json").read_text(encoding="utf-8"))
        identity = decode_identity((directory / "identity.bin").read_bytes())
        decode_certificates((directory / "certificates.bin").read_bytes())
        base_bytes = (directory / "base.bin").read_bytes()
        base = decode_base(base_bytes)
        records = (directory / "records.bin").read_bytes()
        if (
            state.get("version") != _STATE_VERSION
            or state.get("serial") != serial
            or identity.serial != serial
            or state.get("base_sha256") != hashlib.sha256(base_bytes).hexdigest()
        ):
            return None
        started = int(state["started_utc_ms"])
    except (OSError, ValueError, KeyError, TypeError, FormatError):
        return None
    good = good_prefix(records, base.first_seq)
    return PartialDownload(
        directory, serial, base, bytearray(records[: good * L.RECORD_SIZE]), started
    )


# -- the download -----------------------------------------------------------------------


def _utc_ms(host_clock: Callable[[], float]) -> int:
    return round(host_clock() * 1000)


def download(
    target: DeviceSession | Transport | UsbDeviceInfo | Any,
    out_dir: str | os.PathLike[str],
    *,
    operator: str,
    workstation: str,
    clock_source: str,
    progress: Progress | None = None,
    nonce: bytes | None = None,
    host_clock: Callable[[], float] = time.time,
    policy: RetryPolicy | None = None,
    workstation_key: AcquisitionSigner | None = None,
) -> DownloadResult:
    """Download one device into a dataport image in ``out_dir``, resuming a partial download.

    Args:
        target: an open :class:`~taserlink.device.session.DeviceSession` (left open), or a
            transport, a :class:`~taserlink.device.usb_host.UsbDeviceInfo` or a
            ``usb.core.Device`` (opened here and closed at the end).
        out_dir: where the image (and, meanwhile, the partial) goes; created if missing.
        operator, workstation, clock_source: written into the acquisition section
            (``clock_source`` says how the host clock is kept, e.g. ``"NTP (chrony)"``).
        progress: called as ``progress(serial, records_done, records_total)`` after each
            chunk.
        nonce: the 32-byte statement nonce; default ``os.urandom(32)`` (give one only to
            reproduce a download in tests).
        host_clock: the host's UTC clock in seconds since the Unix epoch.
        policy: retry policy for a session opened here.
        workstation_key: the download workstation's key: sign the acquisition (format
            version 2).  ``None``: format version 1, keyless digests only.

    Returns:
        A :class:`DownloadResult`.

    Raises:
        DeviceError: the device failed (the partial download is kept for the next call).
        ImageIOError: the partial or the image could not be written.
        PartialInUseError: another download of this device into ``out_dir`` is running.
        OutputPathError: ``out_dir`` is not a folder, or the partial folder or one of its
            files is a link, a device or another non-regular file.
        ValueError: a nonce that is not 32 bytes.
    """
    if nonce is not None and len(nonce) != L.NONCE_SIZE:
        raise ValueError(f"a nonce is {L.NONCE_SIZE} bytes, not {len(nonce)}")
    out = Path(out_dir)
    try:
        atomic.make_folder(out)
    except OSError as error:
        raise ImageIOError(f"cannot create {out}: {error.strerror or error}") from None
    if isinstance(target, DeviceSession):
        return _Download(target, out, progress, host_clock, workstation_key).run(
            operator, workstation, clock_source, nonce
        )
    if isinstance(target, Transport):
        session = DeviceSession(target, policy=policy)
    else:
        session = DeviceSession(open_link(target), policy=policy)
    with session:
        return _Download(session, out, progress, host_clock, workstation_key).run(
            operator, workstation, clock_source, nonce
        )


class _Download:
    def __init__(
        self,
        session: DeviceSession,
        out: Path,
        progress: Progress | None,
        host_clock: Callable[[], float],
        workstation_key: AcquisitionSigner | None = None,
    ) -> None:
        self.workstation_key = workstation_key
        self.session = session
        self.out = out
        self.progress = progress
        self.host_clock = host_clock
        self.total = 0

    def _report(self, partial: PartialDownload) -> None:
        if self.progress is not None:
            self.progress(partial.serial, partial.count, max(self.total, partial.count))

    def run(
        self, operator: str, workstation: str, clock_source: str, nonce: bytes | None
    ) -> DownloadResult:
        started = time.monotonic()
        start_ms = _utc_ms(self.host_clock)
        session = self.session
        info = session.identify()
        serial = info.serial
        usb_serial = session.serial
        normalize = DEVICE_SCHEME.normalize
        if usb_serial is not None and normalize(usb_serial) != normalize(serial):
            raise ProtocolError(
                f"the USB serial number {usb_serial!r} differs from the identity's {serial!r}"
            )
        certificates = session.read_certificates()
        base = session.read_base()
        if base.first_seq != info.first_seq:
            info = session.identify()  # the log wrapped between the two answers
            base = session.read_base()
        directory = self.out / f"{serial}{PARTIAL_SUFFIX}"
        with lock_partial(directory):
            partial, resumed_from = self._resume(directory, info, certificates, base, start_ms)

            # Records up to what IDENTIFY reported, then the seals.
            self.total = info.last_seq - base.first_seq + 1
            self._report(partial)
            self._records(partial, info.last_seq)
            seals = session.read_all_seals()

            # The statement, then what the device logged since (its DOWNLOAD record at least).
            nonce = os.urandom(L.NONCE_SIZE) if nonce is None else nonce
            statement = session.sign_statement(nonce)
            statement_ms = _utc_ms(self.host_clock)
            if statement.first_seq != partial.base.first_seq:
                base = session.read_base()
                if base.first_seq != statement.first_seq:
                    raise ProtocolError(
                        f"the statement starts at {statement.first_seq}, "
                        f"the base at {base.first_seq}"
                    )
                partial.rebase(base)
                seals = session.read_all_seals()
            else:
                seals += session.read_all_seals(len(seals) // L.SEAL_SIZE)
            self.total = statement.last_seq - partial.base.first_seq + 1
            self._records(partial, statement.last_seq)
            seals = _seals_within(seals, partial.base.first_seq, statement.last_seq)
            if partial.next_seq != statement.last_seq + 1:
                raise ProtocolError(
                    f"records end at {partial.next_seq - 1}, the statement at {statement.last_seq}"
                )

            end_ms = _utc_ms(self.host_clock)
            data = build_image(
                identity=info.identity,
                certificates=certificates,
                base=partial.base,
                records=bytes(partial.records),
                seals=seals,
                statement=statement,
                acquisition=Acquisition(
                    nonce=nonce,
                    host_utc_start_ms=min(partial.started_utc_ms, start_ms),
                    host_utc_end_ms=end_ms,
                    statement_utc_ms=statement_ms,
                    clock_source=clock_source,
                    tool_version=TOOL_VERSION,
                    operator=operator,
                    workstation=workstation,
                ),
                signer=self.workstation_key,
            )
            path = _publish(self.out, image_name(serial, statement_ms), data)
            partial.remove()
            return DownloadResult(
                path=path,
                serial=serial,
                records=partial.count,
                first_seq=partial.base.first_seq,
                last_seq=statement.last_seq,
                resumed_from=resumed_from,
                seconds=time.monotonic() - started,
                sha256=hashlib.sha256(data).hexdigest(),
            )

    def _resume(
        self,
        directory: Path,
        info: DeviceInfo,
        certificates: tuple[bytes, ...],
        base: Base,
        start_ms: int,
    ) -> tuple[PartialDownload, int | None]:
        """The partial to continue (checked against the device), or a fresh one."""
        old = load_partial(directory, info.serial)
        if old is not None:
            kept = self._still_valid(old, info, base)
            if kept is not None:
                partial = PartialDownload.create(
                    directory, info, certificates, base, old.started_utc_ms, kept
                )
                return partial, (partial.next_seq if partial.count else None)
        return PartialDownload.create(directory, info, certificates, base, start_ms), None

    def _still_valid(self, old: PartialDownload, info: DeviceInfo, base: Base) -> bytes | None:
        """The partial's records the device still holds (from ``base`` on), or ``None``
        when the partial cannot be trusted to continue this device's log."""
        if base.first_seq < old.base.first_seq:
            return None  # a log that moved backwards is another log
        if base.first_seq == old.base.first_seq and encode_base(base) != encode_base(old.base):
            return None
        drop = base.first_seq - old.base.first_seq
        kept = bytes(old.records[drop * L.RECORD_SIZE :])
        if not kept:
            return b""
        last = base.first_seq + len(kept) // L.RECORD_SIZE - 1
        if last > info.last_seq:
            return None
        try:  # the device must still hold our last record, byte for byte
            same = self.session.read_records(last, 1) == kept[-L.RECORD_SIZE :]
        except DeviceRefused as error:
            if error.status != P.Status.NOT_RETAINED:
                raise
            same = False
        return kept if same else None

    def _records(self, partial: PartialDownload, last_seq: int) -> None:
        """Read records from the partial's next sequence to ``last_seq``, appending each
        chunk to the partial; a log that wraps meanwhile moves the partial to its new base."""
        while partial.next_seq <= last_seq:
            try:
                for _, chunk in self.session.iter_records(partial.next_seq, last_seq):
                    partial.append(chunk)
                    self._report(partial)
            except DeviceRefused as error:
                if error.status != P.Status.NOT_RETAINED:
                    raise
                base = self.session.read_base()
                if base.first_seq <= partial.base.first_seq:
                    raise
                partial.rebase(base)


def _seals_within(seals: bytes, first_seq: int, last_seq: int) -> bytes:
    """The seals whose sequence lies in ``first_seq``..``last_seq`` (the ones an image of
    those records holds)."""
    out = bytearray()
    for offset in range(0, len(seals) - L.SEAL_SIZE + 1, L.SEAL_SIZE):
        seq = int.from_bytes(seals[offset : offset + 4], "little")
        if first_seq <= seq <= last_seq:
            out += seals[offset : offset + L.SEAL_SIZE]
    return bytes(out)
