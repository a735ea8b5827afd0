"""Forensics: serials and AFID reads (matching, clock correction and linkage come next)."""

from taserlink.forensics.confusion import ConfusionModel
from taserlink.forensics.serials import AfidRead, parse_read

__all__ = ["AfidRead", "ConfusionModel", "parse_read"]
