"""Verifying many downloads at once: each image, then each device's downloads in order.

:func:`verify_files` verifies every image of a list against one trust store (shared among
``workers`` processes, one image per job), then checks each device's downloads against
the one before (:func:`~taserlink.integrity.verify_continuity`, downloads ordered by the
acquisition's host UTC start, then by their place in the list; one device per job).  The
``continuity`` findings join the later image's report, their message naming the earlier
download.  Nothing holds more than two images of one device at a time, so memory does not
grow with the number of images; the outcomes are the same, in the same order, whatever
``workers`` is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from taserlink.errors import FormatError, ImageIOError, TaserlinkError, TruncatedError
from taserlink.format import CrcCheck, read_image
from taserlink.integrity.findings import Finding, Report
from taserlink.integrity.trust import TrustStore
from taserlink.integrity.verify import verify_continuity, verify_image
from taserlink.workers import in_processes

__all__ = ["Outcome", "verify_files"]


@dataclass(frozen=True)
class Outcome:
    """What verification found for one image of the list.

    Attributes:
        path: the path as given.
        report: the verification report, continuity findings included (``None`` when the
            image could not be read at all).
        device: the device serial (``None`` when the image is unreadable or truncated).
        started_ms: the acquisition's host UTC start (Unix ms), with ``device``.
        error: why the image could not be read (``None`` when it was verified).
        error_offset: the byte offset of a format error, if the error has one.
        error_line: ``error`` as one line naming the file (``<path>: <error>``, or the
            error itself when it names the file already).
        size: the image's size in bytes, and ``sha256`` the SHA-256 of its bytes (hex),
            hashed from the bytes verified (``None`` when it was not read whole: a
            truncated or unreadable image).
    """

    path: str
    report: Report | None
    device: str | None = None
    started_ms: int | None = None
    error: str | None = None
    error_offset: int | None = None
    error_line: str | None = None
    size: int | None = None
    sha256: str | None = None

    @property
    def ok(self) -> bool:
        """The image was verified and has no ``error`` finding."""
        return self.report is not None and self.report.ok


def verify_files(paths: Sequence[str], trust: TrustStore, *, workers: int = 1) -> list[Outcome]:
    """Verify every image of ``paths`` (in order) against ``trust``, then continuity.

    An image that cannot be read becomes an :class:`Outcome` with ``error``; the rest go
    on.  A truncated image (a cut download) is verified: a ``truncated`` finding.

    Raises:
        ValueError: ``workers`` below 1.
    """
    outcomes = in_processes(_verify_one, trust, list(paths), workers)
    by_device: dict[str, list[int]] = {}
    for index, outcome in enumerate(outcomes):
        if outcome.device is not None:
            by_device.setdefault(outcome.device, []).append(index)
    chains = [
        sorted(indices, key=lambda i: (outcomes[i].started_ms or 0, i))
        for indices in by_device.values()
        if len(indices) > 1
    ]
    jobs = [[outcomes[i].path for i in chain] for chain in chains]
    result = list(outcomes)
    for chain, found in zip(chains, in_processes(_continuity, None, jobs, workers), strict=True):
        for position, extra in found:
            later = chain[position]
            report = result[later].report
            assert report is not None
            result[later] = dataclasses.replace(
                result[later], report=Report(report.findings + extra, report.coverage)
            )
    return result


def _verify_one(trust: TrustStore, path: str) -> Outcome:
    try:
        try:
            image = read_image(path, crc=CrcCheck.SKIP)  # verify_image checks every CRC
        except TruncatedError:
            return Outcome(path, verify_image(path, trust))
        return Outcome(
            path,
            verify_image(image, trust),
            image.identity.serial,
            image.acquisition.host_utc_start_ms,
            size=len(image.data),
            sha256=hashlib.sha256(image.data).hexdigest(),  # in memory: the file read once
        )
    except TaserlinkError as error:
        offset = error.offset if isinstance(error, FormatError) else None
        line = str(error) if isinstance(error, ImageIOError) else f"{path}: {error}"
        return Outcome(path, None, error=str(error), error_offset=offset, error_line=line)


def _continuity(_: None, paths: list[str]) -> list[tuple[int, tuple[Finding, ...]]]:
    """Continuity findings of one device's downloads (in order): ``(position of the later
    download, its findings)`` for each pair that has some; two images in memory at most."""
    found = []
    earlier = read_image(paths[0], crc=CrcCheck.SKIP)
    for position, (before_path, path) in enumerate(itertools.pairwise(paths), start=1):
        later = read_image(path, crc=CrcCheck.SKIP)
        extra = verify_continuity(earlier, later)
        if extra:
            note = f" (earlier download: {before_path})"
            found.append(
                (position, tuple(dataclasses.replace(f, message=f.message + note) for f in extra))
            )
        earlier = later
    return found
