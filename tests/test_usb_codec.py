"""The capture codec of the USB floor: pcapng blocks and the usbmon header, declared with
construct, checked against bytes made without them.

Property tests: any well-formed block or header, made here with :mod:`struct` (padding
bytes included, in either byte order), builds back to its bytes after parsing, and any value
parses back to itself after building.  Differential tests: the bundled captures in
``captures/usb/`` (written by the code before the floor existed) are walked with
:mod:`struct` and compared, block by block and header field by field, with what the
declarations say; rewriting their events gives the same bytes.  Malformed tests: every
cut, every corrupted length and arbitrary damage is a :class:`CaptureError` naming its byte
offset, found before anything the file claims is allocated.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taserlink.errors import CaptureError
from taserlink.usb import CaptureWriter, read_capture, read_events
from taserlink.usb import pcapng as N
from taserlink.usb.usbmon import (
    HEADER,
    HEADER_48,
    HEADER_48_BIG,
    HEADER_BIG,
    TransferType,
    UsbEvent,
)
from tests.conftest import ROOT

USB_CAPTURES = ROOT / "captures" / "usb"
BUNDLED = sorted(USB_CAPTURES.glob("*.pcapng"))
USBMON_FORMAT = "QBBBBHBBqiiII8siiII"
"""``struct usbmon_packet`` as the kernel's usbmon.rst gives it, without byte order."""
USBMON_FIELDS = [
    "id",
    "type",
    "xfer_type",
    "epnum",
    "devnum",
    "busnum",
    "flag_setup",
    "flag_data",
    "ts_sec",
    "ts_usec",
    "status",
    "length",
    "len_cap",
    "setup",
    "interval",
    "start_frame",
    "xfer_flags",
    "ndesc",
]
ORDERS = {"<": N.LITTLE, ">": N.BIG}


def fields(value: Any) -> dict[str, Any]:
    """A parsed construct value without construct's private ``_io``."""
    return {k: v for k, v in dict(value).items() if not k.startswith("_")}


# -- bytes made without the declarations ----------------------------------------------------


@st.composite
def raw_options(draw: st.DrawFn, order: str) -> tuple[bytes, list[tuple[int, bytes, bytes]]]:
    """An option list as bytes (any padding bytes, ended or not), and its options."""
    items = draw(
        st.lists(
            st.tuples(st.integers(1, 0xFFFF), st.binary(max_size=24)).flatmap(
                lambda o: st.tuples(
                    st.just(o[0]),
                    st.just(o[1]),
                    st.binary(min_size=-len(o[1]) % 4, max_size=-len(o[1]) % 4),
                )
            ),
            max_size=4,
        )
    )
    if items and draw(st.booleans()):
        items.append((N.OPT_ENDOFOPT, b"", b""))
    blob = b"".join(struct.pack(order + "HH", c, len(v)) + v + p for c, v, p in items)
    return blob, items


@st.composite
def raw_bodies(draw: st.DrawFn, order: str) -> tuple[str, bytes, dict[str, Any]]:
    """A block body of a random kind as bytes, and the fields it was made from."""
    kind = draw(st.sampled_from(["section_header", "interface_description", "enhanced_packet"]))
    options, items = draw(raw_options(order))
    expect: dict[str, Any] = {"options": [(c, v, p) for c, v, p in items]}
    if kind == "section_header":
        major, minor, length = draw(
            st.tuples(
                st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(-(2**63), 2**63 - 1)
            )
        )
        head = struct.pack(order + "IHHq", N.BYTE_ORDER_MAGIC, major, minor, length)
        expect.update(major_version=major, minor_version=minor, section_length=length)
        return kind, head + options, expect
    if kind == "interface_description":
        link, reserved, snap = draw(
            st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1))
        )
        expect.update(link_type=link, reserved=reserved, snap_length=snap)
        return kind, struct.pack(order + "HHI", link, reserved, snap) + options, expect
    interface, high, low, original = draw(st.tuples(*[st.integers(0, 2**32 - 1)] * 4))
    data = draw(st.binary(max_size=96))
    padding = draw(st.binary(min_size=-len(data) % 4, max_size=-len(data) % 4))
    head = struct.pack(order + "IIIII", interface, high, low, len(data), original)
    expect.update(
        interface_id=interface,
        timestamp_high=high,
        timestamp_low=low,
        captured_length=len(data),
        original_length=original,
        packet_data=data,
        padding=padding,
    )
    return kind, head + data + padding + options, expect


def block_bytes(order: str, block_type: int, body: bytes) -> bytes:
    total = len(body) + 12
    return struct.pack(order + "II", block_type, total) + body + struct.pack(order + "I", total)


KIND_TYPES = {
    "section_header": N.BlockType.SECTION_HEADER,
    "interface_description": N.BlockType.INTERFACE_DESCRIPTION,
    "enhanced_packet": N.BlockType.ENHANCED_PACKET,
}


# -- properties -------------------------------------------------------------------------------


@given(st.sampled_from("<>").flatmap(lambda o: st.tuples(st.just(o), raw_bodies(o))))
def test_any_block_builds_back_to_its_bytes_and_parses_to_its_fields(
    case: tuple[str, tuple[str, bytes, dict[str, Any]]],
) -> None:
    order, (kind, body, expect) = case
    blocks = ORDERS[order]
    declaration = getattr(blocks, kind)
    parsed = declaration.parse(body)
    assert declaration.build(parsed) == body
    got = fields(parsed)
    got["options"] = [(o.code, o.value, o.padding) for o in parsed.options]
    assert {k: got[k] for k in expect} == expect
    whole = block_bytes(order, KIND_TYPES[kind], body)
    block = blocks.block.parse(whole)
    assert (block.block_type, block.total_length, block.trailing_length) == (
        KIND_TYPES[kind],
        len(whole),
        len(whole),
    )
    assert block.body == body
    assert blocks.block.build(block) == whole
    assert blocks.block.build({"block_type": KIND_TYPES[kind], "body": body}) == whole


packet_values = st.fixed_dictionaries(
    {
        "interface_id": st.integers(0, 2**32 - 1),
        "timestamp_high": st.integers(0, 2**32 - 1),
        "timestamp_low": st.integers(0, 2**32 - 1),
        "original_length": st.integers(0, 2**32 - 1),
        "packet_data": st.binary(max_size=80),
        "options": st.lists(
            st.fixed_dictionaries(
                {"code": st.integers(1, 0xFFFF), "value": st.binary(max_size=20)}
            ),
            max_size=3,
        ).map(lambda items: N.options((o["code"], o["value"]) for o in items)),
    }
)


@given(st.sampled_from([N.LITTLE, N.BIG]), packet_values)
def test_any_packet_value_parses_back_to_itself(blocks: N.Blocks, value: dict[str, Any]) -> None:
    built = blocks.enhanced_packet.build(value)
    assert len(built) % 4 == 0  # the body is padded to 32 bits
    parsed = blocks.enhanced_packet.parse(built)
    assert fields(parsed) | {"options": None} == value | {
        "captured_length": len(value["packet_data"]),
        "padding": bytes(-len(value["packet_data"]) % 4),
        "options": None,
    }
    assert [(o.code, o.value) for o in parsed.options] == [
        (o["code"], o["value"]) for o in value["options"]
    ]


@given(st.binary(min_size=64, max_size=64), st.sampled_from("<>"))
def test_any_64_bytes_are_a_usbmon_header_that_builds_back(raw: bytes, order: str) -> None:
    declaration = HEADER if order == "<" else HEADER_BIG
    parsed = declaration.parse(raw)
    assert declaration.build(parsed) == raw
    # The declaration is the kernel's struct usbmon_packet, field for field.
    assert [parsed[name] for name in USBMON_FIELDS] == list(
        struct.unpack(order + USBMON_FORMAT, raw)
    )
    short = HEADER_48 if order == "<" else HEADER_48_BIG
    assert short.build(short.parse(raw[:48])) == raw[:48]
    assert fields(short.parse(raw[:48])) == {k: parsed[k] for k in USBMON_FIELDS[:14]}


usbmon_values = st.fixed_dictionaries(
    {
        "id": st.integers(0, 2**64 - 1),
        "type": st.sampled_from(b"SCE"),
        "xfer_type": st.integers(0, 3),
        "epnum": st.integers(0, 255),
        "devnum": st.integers(0, 255),
        "busnum": st.integers(0, 0xFFFF),
        "flag_setup": st.integers(0, 255),
        "flag_data": st.integers(0, 255),
        "ts_sec": st.integers(-(2**63), 2**63 - 1),
        "ts_usec": st.integers(-(2**31), 2**31 - 1),
        "status": st.integers(-(2**31), 2**31 - 1),
        "length": st.integers(0, 2**32 - 1),
        "len_cap": st.integers(0, 2**32 - 1),
        "setup": st.binary(min_size=8, max_size=8),
        "interval": st.integers(-(2**31), 2**31 - 1),
        "start_frame": st.integers(-(2**31), 2**31 - 1),
        "xfer_flags": st.integers(0, 2**32 - 1),
        "ndesc": st.integers(0, 2**32 - 1),
    }
)


@given(usbmon_values, st.sampled_from([HEADER, HEADER_BIG]))
def test_any_usbmon_value_parses_back_to_itself(value: dict[str, Any], declaration: Any) -> None:
    built = declaration.build(value)
    assert len(built) == 64
    assert fields(declaration.parse(built)) == value


@settings(max_examples=60)
@given(
    st.builds(
        UsbEvent,
        urb_id=st.integers(0, 2**64 - 1),
        kind=st.sampled_from("SCE"),
        transfer_type=st.sampled_from(list(TransferType)),
        endpoint=st.integers(0, 255),
        device=st.integers(0, 127),
        bus=st.integers(0, 0xFFFF),
        timestamp_us=st.integers(0, 2**62),
        status=st.integers(-(2**31), 0),
        length=st.integers(0, 2**32 - 1),
        data=st.binary(max_size=64),
        setup=st.none() | st.binary(min_size=8, max_size=8),
        data_flag=st.integers(0, 255),
        interval=st.integers(0, 255),
        xfer_flags=st.integers(0, 2**32 - 1),
    ),
)
def test_an_event_encodes_and_decodes_to_itself(event: UsbEvent) -> None:
    packet, original = event.encode()
    assert original == 64 + len(event.data)
    decoded = UsbEvent.decode(packet, link=220, little=True, timestamp_us=event.timestamp_us)
    setup = event.setup if event.kind == "S" else None  # usbmon keeps setup on submissions
    assert decoded == UsbEvent(
        **{**vars(event), "setup": setup, "captured_length": len(event.data)}
    )


# -- the bundled captures, walked without the declarations --------------------------------------


def struct_blocks(blob: bytes) -> list[tuple[int, int, bytes]]:
    """(offset, block type, whole block) of a little-endian pcapng file, walked with struct."""
    out, offset = [], 0
    while offset < len(blob):
        kind, total = struct.unpack_from("<II", blob, offset)
        assert struct.unpack_from("<I", blob, offset + total - 4)[0] == total
        out.append((offset, kind, blob[offset : offset + total]))
        offset += total
    return out


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_bundled_captures_agree_with_the_declarations_block_by_block(path: Path) -> None:
    blob = path.read_bytes()
    blocks = struct_blocks(blob)
    kinds = [kind for _, kind, _ in blocks]
    assert kinds[:2] == [N.BlockType.SECTION_HEADER, N.BlockType.INTERFACE_DESCRIPTION]
    assert set(kinds[2:]) == {N.BlockType.ENHANCED_PACKET}
    events = read_events(path)
    assert len(events) == len(blocks) - 2
    declarations = {
        N.BlockType.SECTION_HEADER: N.LITTLE.section_header,
        N.BlockType.INTERFACE_DESCRIPTION: N.LITTLE.interface_description,
        N.BlockType.ENHANCED_PACKET: N.LITTLE.enhanced_packet,
    }
    for (offset, kind, raw), event in zip(blocks, [None, None, *events], strict=True):
        block = N.LITTLE.block.parse(raw)
        assert (block.block_type, block.total_length, block.body) == (kind, len(raw), raw[8:-4])
        assert N.LITTLE.block.build(block) == raw, f"block at byte {offset}"
        body = declarations[N.BlockType(kind)].parse(block.body)
        assert declarations[N.BlockType(kind)].build(body) == block.body
        if kind == N.BlockType.INTERFACE_DESCRIPTION:
            assert struct.unpack_from("<HHI", raw, 8) == (body.link_type, 0, body.snap_length)
        if kind != N.BlockType.ENHANCED_PACKET:
            continue
        assert event is not None
        _, high, low, captured, original = struct.unpack_from("<IIIII", raw, 8)
        assert (body.timestamp_high, body.timestamp_low) == (high, low)
        assert (body.captured_length, body.original_length) == (captured, original)
        assert event.timestamp_us == (high << 32) | low
        packet = raw[28 : 28 + captured]
        header = dict(
            zip(USBMON_FIELDS, struct.unpack_from("<" + USBMON_FORMAT, packet), strict=True)
        )
        assert fields(HEADER.parse(packet[:64])) == header
        assert (event.urb_id, event.kind, event.transfer_type, event.endpoint) == (
            header["id"],
            chr(header["type"]),
            header["xfer_type"],
            header["epnum"],
        )
        assert (event.device, event.bus, event.status, event.length) == (
            header["devnum"],
            header["busnum"],
            header["status"],
            header["length"],
        )
        assert event.data == packet[64:] and header["len_cap"] == len(event.data)


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_rewriting_a_bundled_captures_events_gives_its_bytes(path: Path) -> None:
    blob = path.read_bytes()
    section = N.LITTLE.section_header.parse(N.LITTLE.block.parse(blob).body)
    texts = {o.code: o.value.decode() for o in section.options if o.code != N.OPT_ENDOFOPT}
    stream = io.BytesIO()
    with CaptureWriter(
        stream, application=texts[N.SHB_USERAPPL], comment=texts.get(N.OPT_COMMENT)
    ) as writer:
        for event in read_events(blob):
            writer.write_event(event)
    assert stream.getvalue() == blob


# -- malformed files ----------------------------------------------------------------------------

DOWNLOAD = (USB_CAPTURES / "download.pcapng").read_bytes()
DOWNLOAD_BLOCKS = struct_blocks(DOWNLOAD)


def read_error(blob: bytes) -> CaptureError:
    with pytest.raises(CaptureError) as caught:
        read_events(blob)
    return caught.value


@settings(max_examples=150)
@given(st.integers(0, len(DOWNLOAD)))
def test_a_cut_capture_is_a_prefix_or_an_error_at_a_byte_before_the_cut(cut: int) -> None:
    boundaries = {offset for offset, _, _ in DOWNLOAD_BLOCKS} | {len(DOWNLOAD)}
    full = read_events(DOWNLOAD)
    if cut in boundaries and cut > 0:  # after the section header, the interface, a packet
        events = read_events(DOWNLOAD[:cut])
        assert events == full[: len(events)]
        return
    error = read_error(DOWNLOAD[:cut])
    assert error.offset is not None and 0 <= error.offset <= cut
    assert f"byte {error.offset}:" in str(error)


def _patched(blob: bytes, offset: int, value: bytes) -> bytes:
    return blob[:offset] + value + blob[offset + len(value) :]


EPB_AT = DOWNLOAD_BLOCKS[2][0]
IDB_AT = DOWNLOAD_BLOCKS[1][0]


@pytest.mark.parametrize(
    ("name", "patch", "offset"),
    [
        ("bad byte-order magic", (8, b"\x00\x11\x22\x33"), 8),
        ("block length not a multiple of 4", (EPB_AT + 4, struct.pack("<I", 13)), EPB_AT),
        ("block longer than the file", (EPB_AT + 4, struct.pack("<I", 0xFFFF_FFF0)), EPB_AT),
        ("trailing length differs", (DOWNLOAD_BLOCKS[3][0] - 4, struct.pack("<I", 4)), EPB_AT),
        ("packet longer than its block", (EPB_AT + 20, struct.pack("<I", 0xFFFF_FFF0)), EPB_AT + 8),
        ("undeclared interface", (EPB_AT + 8, struct.pack("<I", 1)), EPB_AT),
        ("ethernet link type", (IDB_AT + 8, struct.pack("<H", 1)), EPB_AT + 28),
        ("unknown event type", (EPB_AT + 28 + 8, b"X"), EPB_AT + 28 + 8),
        ("unknown transfer type", (EPB_AT + 28 + 9, b"\x07"), EPB_AT + 28 + 9),
        ("option longer than its block", (IDB_AT + 16 + 2, struct.pack("<H", 0xFFFF)), IDB_AT + 16),
        ("pcapng version 2", (12, struct.pack("<H", 2)), 12),
    ],
)
def test_malformed_capture_names_the_byte(name: str, patch: tuple[int, bytes], offset: int) -> None:
    error = read_error(_patched(DOWNLOAD, *patch))
    assert error.offset == offset, (name, str(error))
    assert str(error).startswith(f"capture: byte {offset}: "), name


def test_a_huge_claimed_length_is_refused_before_anything_is_allocated() -> None:
    """A block claiming 4 GiB, a packet claiming 4 GiB inside a small block, and a pcap
    record claiming 4 GiB: each refused, with memory far below what was claimed."""
    section_and_interface = DOWNLOAD[:EPB_AT]
    claims = [
        section_and_interface
        + struct.pack("<II", N.BlockType.ENHANCED_PACKET, 0xFFFF_FFFC)
        + bytes(64),
        _patched(DOWNLOAD, EPB_AT + 20, struct.pack("<I", 0xFFFF_FFFF)),
        struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 220)
        + struct.pack("<IIII", 0, 0, 0xFFFF_FFFF, 0xFFFF_FFFF)
        + bytes(64),
    ]
    for blob in claims:
        tracemalloc.start()
        try:
            error = read_error(blob)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert error.offset is not None
        assert peak < 1_000_000, (str(error), peak)


@settings(max_examples=120)
@given(
    st.lists(
        st.tuples(st.integers(0, len(DOWNLOAD) - 1), st.integers(0, 255)), min_size=1, max_size=6
    )
)
def test_damaged_capture_reads_or_fails_with_capture_error_only(
    damage: list[tuple[int, int]],
) -> None:
    blob = bytearray(DOWNLOAD)
    for offset, value in damage:
        blob[offset] = value
    try:
        read_capture(bytes(blob))
    except CaptureError as error:
        assert error.offset is None or 0 <= error.offset < len(blob)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_after_a_section_header_never_crash(tail: bytes) -> None:
    try:
        read_events(DOWNLOAD[:EPB_AT] + tail)
    except CaptureError as error:
        assert error.offset is not None


def test_the_writer_refuses_fields_out_of_their_range(tmp_path: Path) -> None:
    """An option longer than a u16 can say, or an event field wider than its header field,
    is a CaptureError; nothing is written (no file is even created for a bad header)."""
    path = tmp_path / "refused.pcapng"
    with pytest.raises(CaptureError, match="out of its range"):
        CaptureWriter(path, comment="x" * 70_000)
    assert not path.exists()
    stream = io.BytesIO()
    writer = CaptureWriter(stream)
    header = stream.getvalue()
    good = {
        "urb_id": 1,
        "kind": "S",
        "transfer_type": TransferType.BULK,
        "endpoint": 1,
        "device": 2,
        "bus": 1,
        "timestamp_us": 0,
        "status": 0,
        "length": 0,
    }
    for bad in ({"device": 256}, {"bus": 1 << 16}, {"urb_id": 1 << 64}, {"kind": "SC"}):
        with pytest.raises(CaptureError, match="out of its range"):
            writer.write_event(UsbEvent(**(good | bad)))
    assert stream.getvalue() == header
    writer.write_event(UsbEvent(**good))
    assert len(read_events(stream.getvalue())) == 1
