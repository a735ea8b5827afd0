"""The device timeline: one device's log across its downloads, decoded, in corrected UTC.

The floor between integrity and the work above it (forensics, the register, reconciliation,
returns, reports).  Start with :class:`DeviceTimeline`::

    from taserlink.format import read_image
    from taserlink.timeline import DeviceTimeline

    paths = ["first.tdi", "second.tdi"]
    timeline = DeviceTimeline.from_images([(p, read_image(p)) for p in paths])
    utc_ms, bound_ms, epoch, consistent = timeline.corrected()

Modules: :mod:`~taserlink.timeline.merge` (records merged by sequence),
:mod:`~taserlink.timeline.clock` (device time → UTC with ± bounds),
:mod:`~taserlink.timeline.decode` (event names, payload fields),
:mod:`~taserlink.timeline.times` (device time and UTC as text),
:mod:`~taserlink.timeline.device` (the timeline).
"""

from taserlink.timeline.clock import (
    DEFAULT_HOST_SET_BOUND_MS,
    DEFAULT_MAX_DRIFT_PPM,
    Anchor,
    AnchorKind,
    ClockModel,
    ClockSettings,
    CorrectedTime,
    Epoch,
    EpochStart,
)
from taserlink.timeline.device import DeviceTimeline, Download
from taserlink.timeline.merge import MergedLog, merge_downloads

__all__ = [
    "DEFAULT_HOST_SET_BOUND_MS",
    "DEFAULT_MAX_DRIFT_PPM",
    "Anchor",
    "AnchorKind",
    "ClockModel",
    "ClockSettings",
    "CorrectedTime",
    "DeviceTimeline",
    "Download",
    "Epoch",
    "EpochStart",
    "MergedLog",
    "merge_downloads",
]
