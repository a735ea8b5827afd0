"""The archive of downloads: every image a store room downloads, kept once by its SHA-256.

``<archive>/<device serial>/<sha256>.tdi`` holds each download, written once and never
replaced (``taserlink.atomic.write_new``).  Archiving an image verifies it against the
trusted roots, checks it continues the device's previous archived download (the latest
acquired before it: ``continuity`` findings otherwise, :func:`verify_continuity`) and
records a ``downloaded`` ledger entry with the digest, the acquisition time and what
verification found.  An image already archived (the same bytes) is not stored or recorded
again.  For a SQLite register the archive is the folder beside the database file,
``<file>.archive``; a shared register names its own (``--archive DIR``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy.engine import make_url

from taserlink.atomic import make_folder, write_new
from taserlink.errors import ImageIOError, RegisterError, TaserlinkError
from taserlink.format import Image, read_image
from taserlink.integrity import (
    Finding,
    Report,
    Severity,
    TrustStore,
    verify_continuity,
    verify_image,
)

__all__ = ["ARCHIVE_SUFFIX", "Archived", "archive_folder", "load", "read", "store"]

ARCHIVE_SUFFIX: Final = ".archive"
"""The archive folder of a SQLite register: the database file's name plus this."""


@dataclass(frozen=True)
class Archived:
    """One image archived (or found already archived)."""

    source: str
    """The image's path as given."""
    stored: Path
    sha256: str
    device: str
    acquired_ms: int
    new: bool
    """``False``: the same bytes were archived before (nothing stored or recorded)."""
    report: Report
    continuity: tuple[Finding, ...]
    """Findings against the device's previous archived download."""
    previous: str | None
    """That download's SHA-256 (``None``: the device's first)."""

    @property
    def ok(self) -> bool:
        """Verified with no ``error`` finding, and continues the previous download."""
        return self.report.ok and not any(f.severity is Severity.ERROR for f in self.continuity)


def archive_folder(url: str, given: str | os.PathLike[str] | None = None) -> Path:
    """The archive of the register at ``url``: ``given``, else beside a SQLite file.

    Raises:
        RegisterError: a register that is not a SQLite file, with no folder given.
    """
    if given is not None:
        return Path(given)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(str(parsed.database) + ARCHIVE_SUFFIX)
    raise RegisterError(f"{parsed.render_as_string(hide_password=True)}: name its archive folder")


def load(folder: Path, device: str, sha256: str) -> Image:
    """An archived image.

    Raises:
        RegisterError: it is missing or no longer has its digest.
    """
    path = folder / device / f"{sha256}.tdi"
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RegisterError(f"{path}: archived download missing: {error.strerror}") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RegisterError(f"{path}: archived download changed: its SHA-256 is no longer its name")
    return read_image(data)


def read(source: str | os.PathLike[str]) -> tuple[bytes, Image]:
    """The bytes of the image at ``source`` and the image.

    Raises:
        RegisterError: it cannot be read or is not a dataport image.
    """
    name = os.fspath(source)
    try:
        data = Path(source).read_bytes()
        return data, read_image(data)
    except OSError as error:
        raise RegisterError(f"{name}: cannot read it: {error.strerror or error}") from None
    except TaserlinkError as error:
        raise RegisterError(f"{name}: {error}") from None


def store(
    source: str,
    data: bytes,
    digest: str,
    image: Image,
    folder: Path,
    trust: TrustStore,
    previous: tuple[str, Image] | None,
) -> Archived:
    """Verify ``image`` (the bytes ``data`` with SHA-256 ``digest``, read from ``source``),
    check it continues ``previous`` (``(sha256, image)``: the device's download before it),
    and keep it in ``folder`` unless it is there already.

    Raises:
        ImageIOError: the archive holds other bytes under this image's digest.
        OSError: it cannot be written.
    """
    device = image.identity.serial
    report = verify_image(image, trust)
    continuity = () if previous is None else verify_continuity(previous[1], image)
    place = make_folder(folder / device, link_ok=False)
    target = place / f"{digest}.tdi"
    new = True
    try:
        write_new(place, [target.name], data)
    except FileExistsError:
        if target.read_bytes() != data:
            raise ImageIOError(f"{target}: holds other bytes than its name says") from None
        new = False
    return Archived(
        source,
        target,
        digest,
        device,
        image.acquisition.host_utc_start_ms,
        new,
        report,
        continuity,
        None if previous is None else previous[0],
    )
