"""Forensics: serials and AFID reads (matching, clock correction and linkage come next)."""

from taserlink.forensics.serials import AfidRead, parse_read

__all__ = ["AfidRead", "parse_read"]
