"""Frames: the precompiled hot path agrees with the construct declaration, and decoding
refuses every damaged frame with ProtocolError."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taserlink.errors import ProtocolError
from taserlink.usb import protocol as P

payloads = st.binary(max_size=P.MAX_PAYLOAD)
u8 = st.integers(0, 255)
u16 = st.integers(0, 0xFFFF)


@given(command=u8, flags=u8, sequence=u16, payload=payloads)
def test_frames_agree_with_the_declaration(
    command: int, flags: int, sequence: int, payload: bytes
) -> None:
    frame = P.encode_frame(command, sequence, payload, flags)
    header = P.FRAME_HEADER.parse(frame)
    assert (header.length, header.command, header.flags, header.sequence) == (
        len(payload),
        command,
        flags,
        sequence,
    )
    assert frame[: P.FRAME_HEADER.sizeof()] == P.FRAME_HEADER.build(
        {"length": len(payload), "command": command, "flags": flags, "sequence": sequence}
    )
    assert zlib.crc32(frame[:-4]).to_bytes(4, "little") == frame[-4:]
    assert P.decode_frame(frame) == P.Frame(command, flags, sequence, payload)


@given(frame=st.binary(max_size=64), data=st.data())
def test_damaged_frames_raise_protocol_error(frame: bytes, data: st.DataObject) -> None:
    good = P.encode_frame(P.Command.IDENTIFY, 7, frame)
    at = data.draw(st.integers(0, len(good) - 1))
    damaged = good[:at] + bytes([good[at] ^ data.draw(st.integers(1, 255))]) + good[at + 1 :]
    with pytest.raises(ProtocolError):
        P.decode_frame(damaged)
    with pytest.raises(ProtocolError):
        P.decode_frame(good[:at])


def test_oversize_payloads_are_refused() -> None:
    with pytest.raises(ProtocolError):
        P.encode_frame(P.Command.IDENTIFY, 1, bytes(P.MAX_PAYLOAD + 1))
    with pytest.raises(ProtocolError):
        P.encode_frame(P.Command.IDENTIFY, 0x10000)
