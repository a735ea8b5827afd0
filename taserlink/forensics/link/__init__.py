"""Linkage: AFID reads → cartridge → ``DEPLOY`` event → officer, and what does not fit.

Rooms: :mod:`~taserlink.forensics.link.result` (the result's types),
:mod:`~taserlink.forensics.link.custody` (who held what over an interval),
:mod:`~taserlink.forensics.link.checks` (the rules, each a function of one context),
:mod:`~taserlink.forensics.link.driver` (:func:`link`: images surveyed and verified,
devices' timelines built, rules run), :mod:`~taserlink.forensics.link.images` (the
downloads of a folder).

:func:`link` takes three things an examiner has after an incident:

- **images**: downloads (``.tdi``) of the devices concerned — several downloads of one
  device are normal; their records are merged by sequence number, so a ``DEPLOY`` seen in
  two downloads is one deployment;
- the **issue list** (:mod:`taserlink.forensics.issues`): which officer had which device
  and which cartridge, and when;
- the **match results** (:class:`~taserlink.forensics.results.MatchRow`, as
  ``taserlink match`` writes them): the cartridges the recovered AFID tags point to.

For each cartridge that an exhibit's reads point to (status ``match``; status
``ambiguous`` links its best serial as an **unconfirmed candidate**, flagged in every
output; ``none`` links nothing) it builds a :class:`LinkRow`: every ``DEPLOY`` record of
that serial in any image (:class:`Deployment`: device, sequence, bay, device time, UTC
corrected by the device's :class:`~taserlink.timeline.clock.ClockModel` with its ± bound,
the images holding the record and whether one of them verified), who held the device then
and to whom the cartridge was signed out then (:class:`Custody`, judged over the whole
± bound of the corrected time).  It also holds the cartridge's **history**: every
``CARTRIDGE_INSERT``, ``CARTRIDGE_REMOVE`` and ``DEPLOY`` record naming the serial in any
device's merged log (:class:`CartridgeEvent`, each with its corrected time and the officer
holding that device then), so a cartridge handed from one device to another can be
followed through the logs.

What does not fit is reported as :class:`LinkFinding` data (never raised), each with a
:class:`LinkKind` (stable string values), a severity, the serial, exhibits, device,
sequence and image concerned and one line of explanation.  ``error`` means the chain as
claimed is contradicted (or rests on an image that failed verification); ``warning`` that
it may hold but needs an examiner's explanation (an uncertain time, an unconfirmed match);
``info`` that something is worth knowing.  ``docs/linkage.md`` states every kind, its
severity and why.

Time rules: a corrected time ``utc ± bound`` stands for the closed interval
``[utc - bound, utc + bound]``; a question about it (was the cartridge out? which officer?
inside the incident window?) has a definite answer only when it has the same answer at
every instant of the interval, and otherwise is a warning.  A deployment whose device time
cannot be corrected (no download anchors its clock epoch) cannot be placed in time at all:
the time-dependent checks are not made and a warning says so.
"""

from taserlink.findings import Severity
from taserlink.forensics.link.driver import ImageSource, link
from taserlink.forensics.link.images import IMAGE_SUFFIX, image_paths, read_images
from taserlink.forensics.link.result import (
    CartridgeEvent,
    Custody,
    CustodyState,
    Deployment,
    DeviceSummary,
    ImageSummary,
    Linkage,
    LinkFinding,
    LinkKind,
    LinkRow,
    Window,
)

__all__ = [
    "IMAGE_SUFFIX",
    "CartridgeEvent",
    "Custody",
    "CustodyState",
    "Deployment",
    "DeviceSummary",
    "ImageSource",
    "ImageSummary",
    "LinkFinding",
    "LinkKind",
    "LinkRow",
    "Linkage",
    "Severity",
    "Window",
    "image_paths",
    "link",
    "read_images",
]
