"""Forensics: serials and AFID reads, the misread model, clock correction (matching and
linkage come next)."""

from taserlink.forensics.clock import ClockModel, CorrectedTime
from taserlink.forensics.confusion import ConfusionModel
from taserlink.forensics.serials import AfidRead, parse_read

__all__ = ["AfidRead", "ClockModel", "ConfusionModel", "CorrectedTime", "parse_read"]
