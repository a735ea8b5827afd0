"""One device's log across its downloads: records merged by sequence number, once.

Downloads of one device overlap (each holds the log as it stood, up to the device's
capacity), and a sequence number must always name the same record.  :func:`merge_downloads`
keeps every record once, in sequence order, and says which downloads hold each; two
downloads that hold different records under one sequence number are refused, naming both
(one of them is not what the device wrote).  A record held twice within one download, byte
for byte the same, counts once; two different records under one sequence number in one
download are refused too.

The work is a few whole-array numpy steps (one stable sort, one byte comparison of
neighbours): no Python object per record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from taserlink.errors import TimelineError
from taserlink.format import RECORD_DTYPE, RECORD_SIZE

__all__ = ["MergedLog", "merge_downloads"]


@dataclass(frozen=True, eq=False)
class MergedLog:
    """Every record of a device's downloads once, by sequence number."""

    records: npt.NDArray[Any]
    """:data:`~taserlink.format.RECORD_DTYPE` rows, sequence numbers strictly increasing."""
    held: npt.NDArray[np.bool_]
    """``held[i, k]``: download ``k`` holds record ``i`` (shape ``(records, downloads)``)."""


def merge_downloads(device: str, logs: Sequence[tuple[str, npt.NDArray[Any]]]) -> MergedLog:
    """Merge the record arrays of one device's downloads (``(name, records)`` pairs).

    A single download whose sequence numbers strictly increase is returned as it is, not
    copied.

    Raises:
        TimelineError: no downloads; two downloads holding different records under one
            sequence number (naming both and the sequence), or one download holding two.
    """
    if not logs:
        raise TimelineError(f"device {device}: no downloads to merge")
    if len(logs) == 1:
        only = logs[0][1]
        if bool(np.all(only["seq"][1:] > only["seq"][:-1])):
            return MergedLog(only, np.ones((len(only), 1), dtype=np.bool_))
    parts = [np.asarray(records, dtype=RECORD_DTYPE) for _, records in logs]
    owners = np.repeat(np.arange(len(parts), dtype=np.intp), [len(p) for p in parts])
    merged = np.concatenate(parts)
    order = np.argsort(merged["seq"], kind="stable")
    merged, owners = merged[order], owners[order]
    raw = merged.view(np.uint8).reshape(-1, RECORD_SIZE)
    same = merged["seq"][1:] == merged["seq"][:-1]
    differ = np.flatnonzero(same & (raw[1:] != raw[:-1]).any(axis=1))
    if len(differ):
        i = int(differ[0])
        seq = int(merged["seq"][i])
        first, second = logs[int(owners[i])][0], logs[int(owners[i + 1])][0]
        if first == second:
            raise TimelineError(
                f"download {first} of device {device} holds two different records at seq "
                f"{seq}: it is not what the device wrote"
            )
        raise TimelineError(
            f"downloads {first} and {second} of device {device} hold different records at "
            f"seq {seq}: one of them is not what the device wrote; verify both and leave "
            "the bad one out"
        )
    keep = np.concatenate([[True], ~same])
    row = np.cumsum(keep) - 1
    held = np.zeros((int(np.count_nonzero(keep)), len(parts)), dtype=np.bool_)
    held[row, owners] = True
    return MergedLog(merged[keep], held)
