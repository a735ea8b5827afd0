"""pcapng, the capture file Wireshark and tshark write and read: its blocks declared once with
construct, in either byte order.

A pcapng file is a sequence of blocks; every block is ``block_type u32 | total_length u32 |
body | total_length u32`` with the body padded to 32 bits.  A file starts with a section
header block (SHB) whose byte-order magic sets the byte order of its section; an interface
description block (IDB) declares each capture interface (its link type, snap length and
timestamp resolution); an enhanced packet block (EPB) holds one packet of an interface.  The
obsolete packet block (PB) and the simple packet block (SPB) are read, never written; other
blocks (name resolution, statistics, …) are skipped by the reader.  Options are ``code u16 |
length u16 | value | padding``, the list ended by ``opt_endofopt`` (code 0).

What is declared here is the file's layout; :mod:`taserlink.usb.reader` walks a file with
it, checking every length against the bytes that remain before it reads anything, and
:mod:`taserlink.usb.writer` builds blocks with it.  Padding bytes are kept as parsed, so
building a parsed block gives back its bytes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import construct as cs

__all__ = [
    "BlockType",
    "BYTE_ORDER_MAGIC",
    "OPT_ENDOFOPT",
    "OPT_COMMENT",
    "SHB_USERAPPL",
    "IF_NAME",
    "IF_DESCRIPTION",
    "IF_TSRESOL",
    "IF_TSOFFSET",
    "BLOCK_OVERHEAD",
    "Blocks",
    "LITTLE",
    "BIG",
    "options",
    "option_size",
    "starts_section",
    "section_blocks",
]


class BlockType(enum.IntEnum):
    """``block_type`` of the blocks taserlink reads or writes."""

    SECTION_HEADER = 0x0A0D0D0A
    INTERFACE_DESCRIPTION = 0x00000001
    PACKET = 0x00000002
    """Obsolete; read only."""
    SIMPLE_PACKET = 0x00000003
    ENHANCED_PACKET = 0x00000006


BYTE_ORDER_MAGIC: Final = 0x1A2B3C4D
"""The SHB's byte-order magic, as it reads in the section's own byte order."""

OPT_ENDOFOPT: Final = 0
OPT_COMMENT: Final = 1
SHB_USERAPPL: Final = 4
"""SHB option: the application that wrote the section."""
IF_NAME: Final = 2
IF_DESCRIPTION: Final = 3
IF_TSRESOL: Final = 9
"""IDB option: timestamp resolution, one byte (10^-n, or 2^-n with the top bit set);
microseconds (6) when absent."""
IF_TSOFFSET: Final = 14
"""IDB option: seconds to add to every timestamp (s64)."""

BLOCK_OVERHEAD: Final = 12
"""Bytes of a block around its body: type, total length, trailing total length."""


@dataclass(frozen=True)
class Blocks:
    """The pcapng declarations of one byte order.

    Attributes:
        little: the byte order (``True``: little-endian).
        block_header: ``block_type``, ``total_length`` (the first 8 bytes of every block).
        block: a whole block, its ``body`` as bytes; ``total_length`` and
            ``trailing_length`` are computed when building.
        option: one option, its ``padding`` kept as parsed (zeros when building).
        section_header: the SHB body (``byte_order_magic``, ``major_version``,
            ``minor_version``, ``section_length``, ``options``).
        interface_description: the IDB body (``link_type``, ``reserved``, ``snap_length``,
            ``options``).
        enhanced_packet: the EPB body (``interface_id``, ``timestamp_high``,
            ``timestamp_low``, ``captured_length``, ``original_length``, ``packet_data``,
            ``padding``, ``options``).
        packet: the obsolete PB body (``interface_id`` and ``drops_count`` as u16, then as
            an EPB).
        simple_packet: the SPB body (``original_length``, ``packet_data`` with its padding).
        timestamp_offset: the value of an IDB's ``if_tsoffset`` option (seconds, s64).
    """

    little: bool
    block_header: cs.Struct
    block: cs.Struct
    option: cs.Struct
    section_header: cs.Struct
    interface_description: cs.Struct
    enhanced_packet: cs.Struct
    packet: cs.Struct
    simple_packet: cs.Struct
    timestamp_offset: cs.Construct


def _padding(length: Any) -> cs.Construct:
    """The bytes after a field of ``length`` bytes up to 32 bits: kept as parsed, zeros when
    built."""
    return cs.Default(cs.Bytes(-length % 4), lambda this: bytes(-length(this) % 4))


def _declare(little: bool) -> Blocks:
    u16, u32 = (cs.Int16ul, cs.Int32ul) if little else (cs.Int16ub, cs.Int32ub)
    s64 = cs.Int64sl if little else cs.Int64sb
    this = cs.this
    option = cs.Struct(
        "code" / u16,
        "length" / cs.Rebuild(u16, cs.len_(this.value)),
        "value" / cs.Bytes(this.length),
        "padding" / _padding(this.length),
    )
    options_list = cs.GreedyRange(option)
    packet_tail = (
        "captured_length" / cs.Rebuild(u32, cs.len_(this.packet_data)),
        "original_length" / u32,
        "packet_data" / cs.Bytes(this.captured_length),
        "padding" / _padding(this.captured_length),
        "options" / options_list,
    )
    return Blocks(
        little=little,
        block_header=cs.Struct("block_type" / u32, "total_length" / u32),
        block=cs.Struct(
            "block_type" / u32,
            "total_length" / cs.Rebuild(u32, cs.len_(this.body) + BLOCK_OVERHEAD),
            "body" / cs.Bytes(this.total_length - BLOCK_OVERHEAD),
            "trailing_length" / cs.Rebuild(u32, this.total_length),
        ),
        option=option,
        section_header=cs.Struct(
            "byte_order_magic" / cs.Const(BYTE_ORDER_MAGIC, u32),
            "major_version" / u16,
            "minor_version" / u16,
            "section_length" / s64,
            "options" / options_list,
        ),
        interface_description=cs.Struct(
            "link_type" / u16,
            "reserved" / u16,
            "snap_length" / u32,
            "options" / options_list,
        ),
        enhanced_packet=cs.Struct(
            "interface_id" / u32,
            "timestamp_high" / u32,
            "timestamp_low" / u32,
            *packet_tail,
        ),
        packet=cs.Struct(
            "interface_id" / u16,
            "drops_count" / u16,
            "timestamp_high" / u32,
            "timestamp_low" / u32,
            *packet_tail,
        ),
        simple_packet=cs.Struct("original_length" / u32, "packet_data" / cs.GreedyBytes),
        timestamp_offset=s64,
    )


LITTLE: Final = _declare(little=True)
"""The declarations of a little-endian section (what taserlink writes)."""
BIG: Final = _declare(little=False)
"""The declarations of a big-endian section."""


def options(pairs: Iterable[tuple[int, bytes]]) -> list[dict[str, Any]]:
    """An option list to build: each ``(code, value)``, then ``opt_endofopt``; no option at
    all (not even the end) when ``pairs`` is empty, as pcapng allows."""
    built: list[dict[str, Any]] = [{"code": code, "value": value} for code, value in pairs]
    if built:
        built.append({"code": OPT_ENDOFOPT, "value": b""})
    return built


def option_size(option: Any) -> int:
    """Bytes a parsed option takes in its block (header, value, padding)."""
    return 4 + len(option.value) + len(option.padding)


def starts_section(data: bytes) -> bool:
    """Whether ``data`` starts with a section header block's type (the same bytes in either
    byte order)."""
    return bytes(data[:4]) == _SECTION_TYPE


def section_blocks(magic: bytes) -> Blocks | None:
    """The declarations of the section whose byte-order magic (the SHB's bytes 8..11) is
    ``magic``, or ``None`` when it is neither byte order's."""
    for blocks in (LITTLE, BIG):
        if bytes(magic) == _MAGIC_BYTES[blocks.little]:
            return blocks
    return None


_SECTION_TYPE: Final = bytes(
    LITTLE.block_header.build({"block_type": BlockType.SECTION_HEADER, "total_length": 0})[:4]
)
_MAGIC_BYTES: Final = {
    blocks.little: bytes(blocks.section_header.subcons[0].build(None)) for blocks in (LITTLE, BIG)
}
