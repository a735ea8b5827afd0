"""Forensics: AFID reads and serials, the misread model, clock correction, the matcher
(reads → cartridge serials with posterior scores) and linkage (cartridge → ``DEPLOY`` →
device → officer, with consistency findings)."""

from taserlink.forensics.confusion import ConfusionModel
from taserlink.forensics.link import Linkage, link
from taserlink.forensics.match import Matcher, SerialIndex, match_reads
from taserlink.forensics.reads import AfidRead, parse_read
from taserlink.forensics.results import MatchRow, MatchSettings, MatchStatus, TagRead
from taserlink.timeline.clock import ClockModel, CorrectedTime

__all__ = [
    "AfidRead",
    "ClockModel",
    "ConfusionModel",
    "CorrectedTime",
    "Linkage",
    "MatchRow",
    "MatchSettings",
    "MatchStatus",
    "Matcher",
    "SerialIndex",
    "TagRead",
    "link",
    "match_reads",
    "parse_read",
]
