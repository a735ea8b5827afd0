"""Read a USB capture: the usbmon events of a pcapng (or classic pcap) file, and the transfers
they make (each submission paired with its completion).

The file is walked with the declarations of :mod:`taserlink.usb.pcapng` and
:mod:`taserlink.usb.pcap`.  Every length the file states is checked against the bytes that
remain *before* anything is read with it, so memory never exceeds the file's own size
whatever the file claims, and every problem is a
:class:`~taserlink.errors.CaptureError` whose ``offset`` is the byte where it was found.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import construct as cs

from taserlink.errors import CaptureError
from taserlink.usb import pcap, pcapng
from taserlink.usb.chapter9 import Direction
from taserlink.usb.usbmon import TransferType, UsbEvent

__all__ = ["Transfer", "read_events", "read_capture"]


@dataclass(frozen=True)
class Transfer:
    """One transfer: a submission paired with its completion (by URB id and bus).

    ``data`` is what crossed the bus: an OUT transfer's submitted bytes, an IN transfer's
    received bytes.  ``requested`` is the OUT length or the IN buffer size; ``actual`` the
    bytes transferred as the completion reports them.  ``status`` is 0, a negative errno,
    or ``None`` when the capture holds no completion (it ended first).  Times are
    microseconds since the Unix epoch; ``submitted_us`` is ``None`` for a completion whose
    submission the capture missed (it started mid-transfer).
    """

    transfer_type: TransferType
    endpoint: int
    device: int
    bus: int
    urb_id: int
    status: int | None
    data: bytes
    requested: int
    actual: int | None
    setup: bytes | None
    submitted_us: int | None
    completed_us: int | None
    truncated: bool = False

    @property
    def direction(self) -> Direction:
        return Direction.of(self.endpoint)

    @property
    def ok(self) -> bool:
        return self.status == 0


@dataclass(frozen=True)
class _Interface:
    link: int
    snap_length: int
    to_us: Callable[[int], int]
    """Timestamp units of this interface → microseconds since the Unix epoch."""


def _field(error: cs.ConstructError) -> str:
    """The declared field a construct error stopped at (``packet_data``)."""
    path = str(getattr(error, "path", "") or "")
    return path.rsplit("->", 1)[-1].strip() or "a field"


class _Reader:
    """Walks a pcapng or classic pcap file and yields usbmon events."""

    def __init__(self, blob: bytes, name: str) -> None:
        self.blob = blob
        self.name = name

    def fail(self, offset: int, message: str) -> CaptureError:
        return CaptureError(f"{self.name}: byte {offset}: {message}", offset=offset)

    def events(self) -> Iterator[UsbEvent]:
        blob = self.blob
        if len(blob) < 4:
            raise self.fail(0, "too short to be a capture")
        magics = (pcap.MAGIC_MICROSECONDS, pcap.MAGIC_NANOSECONDS)
        if pcapng.starts_section(blob):
            yield from self._pcapng()
        elif (
            int.from_bytes(blob[:4], "little") in magics
            or int.from_bytes(blob[:4], "big") in magics
        ):
            yield from self._pcap()
        else:
            raise self.fail(0, "neither pcapng nor pcap (unknown magic)")

    def _event(self, packet: bytes, link: int, little: bool, stamp_us: int, at: int) -> UsbEvent:
        """The usbmon event of ``packet`` (at byte ``at`` of the file)."""
        try:
            return UsbEvent.decode(packet, link=link, little=little, timestamp_us=stamp_us, at=at)
        except CaptureError as error:
            raise CaptureError(f"{self.name}: {error}", offset=error.offset) from None

    def _body(self, declaration: cs.Struct, body: bytes, at: int, what: str) -> Any:
        """``body`` parsed with ``declaration``, which must take all of it; ``at`` is the
        body's offset in the file."""
        stream = io.BytesIO(body)
        try:
            value = declaration.parse_stream(stream)
        except cs.ConstructError as error:
            raise self.fail(at, f"{what}: {_field(error)} runs past the block") from None
        used = stream.tell()
        if used != len(body):
            raise self.fail(at + used, f"{what}: option runs past the block")
        return value

    # -- pcapng -----------------------------------------------------------------------------

    def _pcapng(self) -> Iterator[UsbEvent]:
        blob = self.blob
        offset = 0
        blocks = pcapng.LITTLE
        interfaces: list[_Interface] = []
        while offset < len(blob):
            if len(blob) - offset < pcapng.BLOCK_OVERHEAD:
                raise self.fail(offset, "truncated block header")
            if pcapng.starts_section(blob[offset:]):
                blocks = self._section_order(offset)
                interfaces = []
            header = blocks.block_header.parse(blob[offset : offset + 8])
            total = header.total_length
            if total < pcapng.BLOCK_OVERHEAD or total % 4:
                raise self.fail(offset, f"block length {total} is not a multiple of 4 of 12+")
            if total > len(blob) - offset:
                raise self.fail(offset, f"block of {total} bytes runs past the end of the file")
            block = blocks.block.parse(blob[offset : offset + total])
            if block.trailing_length != total:
                raise self.fail(
                    offset, f"block length {total} and trailing length {block.trailing_length}"
                )
            body, at = block.body, offset + 8
            kind = block.block_type
            if kind == pcapng.BlockType.SECTION_HEADER:
                self._section(blocks, body, at)
            elif kind == pcapng.BlockType.INTERFACE_DESCRIPTION:
                interfaces.append(self._interface(blocks, body, at))
            elif kind in (pcapng.BlockType.ENHANCED_PACKET, pcapng.BlockType.PACKET):
                yield self._packet(blocks, kind, body, at, interfaces)
            elif kind == pcapng.BlockType.SIMPLE_PACKET:
                yield self._simple(blocks, body, at, interfaces)
            offset += total

    def _section_order(self, offset: int) -> pcapng.Blocks:
        """The declarations of the section whose header starts at ``offset``."""
        if len(self.blob) - offset < 28:
            raise self.fail(offset, "truncated section header block")
        blocks = pcapng.section_blocks(self.blob[offset + 8 : offset + 12])
        if blocks is None:
            raise self.fail(offset + 8, "bad byte-order magic in section header")
        return blocks

    def _section(self, blocks: pcapng.Blocks, body: bytes, at: int) -> None:
        section = self._body(blocks.section_header, body, at, "section header block")
        if section.major_version != 1:
            raise self.fail(at + 4, f"pcapng major version {section.major_version} (expected 1)")

    def _interface(self, blocks: pcapng.Blocks, body: bytes, at: int) -> _Interface:
        idb = self._body(blocks.interface_description, body, at, "interface description block")
        base, exponent = 10, 6
        tsoffset = 0
        where = at + 8
        for option in idb.options:
            if option.code == pcapng.OPT_ENDOFOPT:
                break
            if option.code == pcapng.IF_TSRESOL:
                if len(option.value) != 1:
                    raise self.fail(where, "if_tsresol is not one byte")
                value = option.value[0]
                base, exponent = (2, value & 0x7F) if value & 0x80 else (10, value)
            elif option.code == pcapng.IF_TSOFFSET:
                if len(option.value) != 8:
                    raise self.fail(where, "if_tsoffset is not eight bytes")
                tsoffset = int(blocks.timestamp_offset.parse(option.value))
            where += pcapng.option_size(option)
        if (base == 10 and exponent > 18) or (base == 2 and exponent > 63):
            raise self.fail(at - 8, f"if_tsresol {base}^-{exponent} is not a usable resolution")

        def to_us(units: int) -> int:
            scaled: int
            if base == 2:
                scaled = (units * 1_000_000) >> exponent
            elif exponent <= 6:
                scaled = units * int(10 ** (6 - exponent))
            else:
                scaled = units // int(10 ** (exponent - 6))
            return scaled + tsoffset * 1_000_000

        return _Interface(int(idb.link_type), int(idb.snap_length), to_us)

    def _packet(
        self,
        blocks: pcapng.Blocks,
        kind: int,
        body: bytes,
        at: int,
        interfaces: list[_Interface],
    ) -> UsbEvent:
        enhanced = kind == pcapng.BlockType.ENHANCED_PACKET
        what = "enhanced packet block" if enhanced else "packet block"
        declaration = blocks.enhanced_packet if enhanced else blocks.packet
        packet = self._body(declaration, body, at, what)
        if packet.interface_id >= len(interfaces):
            raise self.fail(
                at - 8, f"packet names interface {packet.interface_id}, which is not declared"
            )
        interface = interfaces[packet.interface_id]
        stamp = interface.to_us((packet.timestamp_high << 32) | packet.timestamp_low)
        data = packet.packet_data
        return self._event(data, interface.link, blocks.little, stamp, at + 20)

    def _simple(
        self, blocks: pcapng.Blocks, body: bytes, at: int, interfaces: list[_Interface]
    ) -> UsbEvent:
        if not interfaces:
            raise self.fail(at - 8, "simple packet before any interface")
        interface = interfaces[0]
        simple = self._body(blocks.simple_packet, body, at, "simple packet block")
        original = simple.original_length
        kept = min(original, interface.snap_length or original, len(simple.packet_data))
        data = simple.packet_data[:kept]
        return self._event(data, interface.link, blocks.little, 0, at + 4)

    # -- classic pcap -----------------------------------------------------------------------

    def _pcap(self) -> Iterator[UsbEvent]:
        blob = self.blob
        if len(blob) < pcap.FILE_HEADER.sizeof():
            raise self.fail(0, "truncated pcap file header")
        magics = (pcap.MAGIC_MICROSECONDS, pcap.MAGIC_NANOSECONDS)
        little = pcap.FILE_HEADER.parse(blob).magic in magics
        file_header = (pcap.FILE_HEADER if little else pcap.FILE_HEADER_BIG).parse(blob)
        record_header = pcap.RECORD_HEADER if little else pcap.RECORD_HEADER_BIG
        nanos = file_header.magic == pcap.MAGIC_NANOSECONDS
        size = record_header.sizeof()
        offset = pcap.FILE_HEADER.sizeof()
        while offset < len(blob):
            if len(blob) - offset < size:
                raise self.fail(offset, "truncated pcap record header")
            record = record_header.parse(blob[offset : offset + size])
            captured = record.captured_length
            if captured > len(blob) - offset - size:
                raise self.fail(offset, f"record of {captured} bytes runs past the end of the file")
            packet = blob[offset + size : offset + size + captured]
            micros = record.ts_fraction // 1000 if nanos else record.ts_fraction
            stamp = record.ts_sec * 1_000_000 + micros
            yield self._event(packet, file_header.link_type, little, stamp, offset + size)
            offset += size + captured


def _load(source: str | os.PathLike[str] | bytes) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), "capture"
    path = Path(source)
    try:
        return path.read_bytes(), str(path)
    except OSError as exc:
        raise CaptureError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def read_events(source: str | os.PathLike[str] | bytes) -> list[UsbEvent]:
    """Every usbmon event of a pcapng (or classic pcap) capture, in file order.

    ``source`` is a path or the file's bytes.  Link types 220 and 189 are read.

    Raises:
        CaptureError: unreadable file, not pcap/pcapng, a block or packet that is cut short or
            inconsistent, a packet of another link type; ``offset`` (and the message) name
            the byte.
    """
    blob, name = _load(source)
    return list(_Reader(blob, name).events())


def read_capture(source: str | os.PathLike[str] | bytes) -> list[Transfer]:
    """The transfers of a capture: each submission paired with its completion, in the order
    they were submitted (a completion without submission at the place it appears).

    Raises:
        CaptureError: as :func:`read_events`, and for a second submission of a URB id that
            is still pending on the same bus.
    """
    blob, name = _load(source)
    events = _Reader(blob, name).events()
    slots: list[list[UsbEvent]] = []
    pending: dict[tuple[int, int], int] = {}
    for event in events:
        key = (event.bus, event.urb_id)
        if event.kind == "S":
            if key in pending:
                raise CaptureError(
                    f"{name}: URB {event.urb_id:#x} submitted again before it completed"
                )
            pending[key] = len(slots)
            slots.append([event])
        else:
            index = pending.pop(key, None)
            if index is None:
                slots.append([event])
            else:
                slots[index].append(event)
    return [_pair(slot) for slot in slots]


def _pair(slot: list[UsbEvent]) -> Transfer:
    first = slot[0]
    submission = first if first.kind == "S" else None
    completion = slot[-1] if slot[-1].kind != "S" else None
    direction = first.direction
    if direction is Direction.OUT:
        data = submission.data if submission is not None else b""
    else:
        data = completion.data if completion is not None else b""
    carrier = submission if direction is Direction.OUT else completion
    return Transfer(
        transfer_type=first.transfer_type,
        endpoint=first.endpoint,
        device=first.device,
        bus=first.bus,
        urb_id=first.urb_id,
        status=completion.status if completion is not None else None,
        data=data,
        requested=submission.length if submission is not None else first.length,
        actual=completion.length if completion is not None else None,
        setup=submission.setup if submission is not None else None,
        submitted_us=submission.timestamp_us if submission is not None else None,
        completed_us=completion.timestamp_us if completion is not None else None,
        truncated=carrier.truncated if carrier is not None else False,
    )
