"""The USB floor's other pieces: libusb's error table, chapter 9's declarations, and the
floor's place below the host and the emulator.

The error table is checked against pyusb's own libusb1 backend (its ``LIBUSB_ERROR_*``
constants, its errno map and the exception its ``_check`` raises), and the messages
against libusb's ``strerror.c``; what the emulator, the replay and the recording backend
raise or record for an error is checked to be that table's.  The imports are checked in a
fresh interpreter.
"""

from __future__ import annotations

import ast
import errno
import io
import subprocess
import sys
from typing import Any

import pytest
import usb.backend.libusb1 as pyusb_libusb1
import usb.core
import usb.util
from hypothesis import given
from hypothesis import strategies as st

from taserlink.device import capture as device_capture
from taserlink.emulator import EmulatedBackend, run_scenario
from taserlink.emulator.replay import ReplayBackend
from taserlink.usb import (
    CaptureWriter,
    Transfer,
    TransferType,
    UsbEvent,
    read_capture,
    read_events,
    usbmon,
)
from taserlink.usb import chapter9 as C9
from taserlink.usb import libusb as L
from taserlink.usb import protocol as P
from taserlink.usb.backend import pyusb_exception, urb_status, usb_error
from tests.conftest import ROOT

# -- libusb's errors ------------------------------------------------------------------------

STRERROR_EN = {
    -1: "Input/Output Error",
    -2: "Invalid parameter",
    -3: "Access denied (insufficient permissions)",
    -4: "No such device (it may have been disconnected)",
    -5: "Entity not found",
    -6: "Resource busy",
    -7: "Operation timed out",
    -8: "Overflow",
    -9: "Pipe error",
    -10: "System call interrupted (perhaps due to signal)",
    -11: "Insufficient memory",
    -12: "Operation not supported or unimplemented on this platform",
    -99: "Other error",
}
"""libusb_strerror's English messages (libusb/strerror.c), what pyusb reports with a libusb
of 1.0.16 or later."""


def test_the_table_is_libusbs_codes_names_and_pyusbs_errnos() -> None:
    pyusb_codes = {
        name: getattr(pyusb_libusb1, name)
        for name in dir(pyusb_libusb1)
        if name.startswith("LIBUSB_ERROR_")
    }
    assert {e.name: e.code for e in L.LIBUSB_ERRORS} == pyusb_codes
    assert [e.code for e in L.LIBUSB_ERRORS] == [*range(-1, -13, -1), -99]
    assert {e.code: e.errno for e in L.LIBUSB_ERRORS} == {
        code: number for code, number in pyusb_libusb1._libusb_errno.items() if code
    }
    assert {e.code: e.message for e in L.LIBUSB_ERRORS} == STRERROR_EN
    # pyusb's own fallback messages (used only without libusb_strerror) differ in two places.
    fallback = {c: m for c, m in pyusb_libusb1._str_error_map.items() if c}
    assert {c for c in fallback if fallback[c] != STRERROR_EN[c]} == {-1, -99}


@pytest.mark.parametrize("error", L.LIBUSB_ERRORS, ids=lambda e: e.name)
def test_the_exception_is_the_one_pyusbs_libusb1_backend_raises(error: L.LibusbError) -> None:
    """pyusb's ``_check`` (its messages from its fallback map, as no libusb is loaded here)."""
    with pytest.raises(Exception) as caught:
        pyusb_libusb1._check(error.code)
    theirs, ours = caught.value, pyusb_exception(error)
    assert type(ours) is type(theirs)
    assert getattr(ours, "errno", None) == getattr(theirs, "errno", None)
    assert getattr(ours, "backend_error_code", None) == getattr(theirs, "backend_error_code", None)
    assert str(ours).endswith(error.message)


def test_lookups_and_urb_statuses() -> None:
    assert L.by_code(-9) is L.PIPE and L.by_code(-42) is L.OTHER and L.by_code(0) is L.OTHER
    assert L.by_errno(errno.EPIPE) is L.PIPE and L.by_errno(errno.EPROTO) is None
    assert L.for_urb_status(-errno.ENOENT) is L.TIMEOUT  # the kernel's unlinked URB
    assert L.for_urb_status(-errno.ESHUTDOWN) is L.NO_DEVICE
    assert L.for_urb_status(-errno.EPIPE) is L.PIPE
    assert L.for_urb_status(-errno.EPROTO) is L.IO  # libusb's LIBUSB_TRANSFER_ERROR
    assert isinstance(usb_error(errno.EPROTO), usb.core.USBError)
    assert usb_error(errno.EPROTO).errno == errno.EIO


@pytest.mark.parametrize(
    ("exception", "status"),
    [
        (usb.core.USBError("Pipe error", -9, errno.EPIPE), -errno.EPIPE),
        (usb.core.USBTimeoutError("Operation timed out", -7, None), -errno.ETIMEDOUT),
        (NotImplementedError("no"), -errno.ENOSYS),
        (usb.core.USBError("Other error", -99, None), -errno.EIO),
        (RuntimeError("anything else"), -errno.EIO),
    ],
)
def test_the_urb_status_a_recording_gives_an_exception(exception: Exception, status: int) -> None:
    assert urb_status(exception) == status


class _Unsupported(EmulatedBackend):
    """An emulated dock whose bulk reads the platform does not support."""

    def bulk_read(self, *args: Any) -> int:
        raise pyusb_exception(L.NOT_SUPPORTED)


def test_an_unsupported_operation_is_recorded_and_replayed_as_pyusb_raises_it() -> None:
    device = run_scenario("quiet-day", 1).device
    stream = io.BytesIO()
    with CaptureWriter(stream) as writer:
        backend = device_capture.RecordingBackend(_Unsupported([device]), writer)
        dev = usb.core.find(idVendor=P.VENDOR_ID, idProduct=P.PRODUCT_ID, backend=backend)
        dev.write(P.EP_OUT, P.encode_frame(P.Command.IDENTIFY, 1), 100)
        with pytest.raises(NotImplementedError):
            dev.read(P.EP_IN, P.MAX_FRAME, 100)
        usb.util.dispose_resources(dev)
    bulk = [t for t in read_capture(stream.getvalue()) if t.transfer_type is TransferType.BULK]
    assert [t.status for t in bulk] == [0, -errno.ENOSYS]
    replayed = usb.core.find(
        idVendor=P.VENDOR_ID, idProduct=P.PRODUCT_ID, backend=ReplayBackend(stream.getvalue())
    )
    replayed.write(P.EP_OUT, P.encode_frame(P.Command.IDENTIFY, 1), 100)
    with pytest.raises(NotImplementedError, match=L.NOT_SUPPORTED.message):
        replayed.read(P.EP_IN, P.MAX_FRAME, 100)


def test_the_emulator_and_the_replay_raise_the_tables_errors() -> None:
    """A read with nothing pending times out and a vendor request stalls endpoint 0 on the
    emulator; recorded and replayed, the replay raises the same exceptions, each with
    libusb's code, pyusb's errno and libusb's message."""
    device = run_scenario("quiet-day", 1).device
    stream = io.BytesIO()

    def failures(backend: Any) -> list[Exception]:
        dev = usb.core.find(idVendor=P.VENDOR_ID, idProduct=P.PRODUCT_ID, backend=backend)
        caught: list[Exception] = []
        for attempt in (
            lambda: dev.read(P.EP_IN, P.MAX_FRAME, 10),
            lambda: dev.ctrl_transfer(0xC0, 0x01, 0, 0, 8),
        ):
            with pytest.raises(usb.core.USBError) as failure:
                attempt()
            caught.append(failure.value)
        usb.util.dispose_resources(dev)
        return caught

    with CaptureWriter(stream) as writer:
        live = failures(device_capture.RecordingBackend(EmulatedBackend([device]), writer))
    again = failures(ReplayBackend(stream.getvalue()))
    for failed in (live, again):
        timeout, stall = failed
        assert isinstance(timeout, usb.core.USBTimeoutError)
        assert (timeout.backend_error_code, timeout.errno) == (L.TIMEOUT.code, errno.ETIMEDOUT)
        assert (stall.backend_error_code, stall.errno) == (L.PIPE.code, errno.EPIPE)
        assert [str(e).split("] ")[-1] for e in failed] == [L.TIMEOUT.message, L.PIPE.message]


# -- chapter 9 ----------------------------------------------------------------------------------

DESCRIPTORS = {
    "device": C9.DEVICE_DESCRIPTOR,
    "configuration": C9.CONFIGURATION_DESCRIPTOR,
    "interface": C9.INTERFACE_DESCRIPTOR,
    "endpoint": C9.ENDPOINT_DESCRIPTOR,
    "setup": C9.SETUP,
}
SIZES = {"device": 18, "configuration": 9, "interface": 9, "endpoint": 7, "setup": 8}


@pytest.mark.parametrize("name", DESCRIPTORS)
@given(data=st.data())
def test_any_descriptor_bytes_build_back(name: str, data: st.DataObject) -> None:
    declaration = DESCRIPTORS[name]
    assert declaration.sizeof() == SIZES[name]
    raw = data.draw(st.binary(min_size=SIZES[name], max_size=SIZES[name]))
    parsed = declaration.parse(raw)
    assert declaration.build(parsed) == raw


@given(st.text(max_size=200))
def test_a_string_descriptor_holds_its_text_cut_to_252_bytes(text: str) -> None:
    raw = C9.string_descriptor(text)
    parsed = C9.STRING_DESCRIPTOR.parse(raw)
    encoded = text.encode("utf-16-le")[: C9.MAX_STRING_BYTES]
    assert (raw[0], raw[1], parsed.bString) == (len(raw), C9.DescriptorType.STRING, encoded)
    assert C9.STRING_DESCRIPTOR.build(parsed) == raw


def test_setup_packets_and_request_types() -> None:
    get_serial = C9.setup_packet(
        C9.request_type(C9.Direction.IN, C9.RequestKind.STANDARD, C9.Recipient.DEVICE),
        C9.Request.GET_DESCRIPTOR,
        C9.DescriptorType.STRING << 8 | 3,
        C9.LANGID_EN_US,
        254,
    )
    assert get_serial == bytes([0x80, 0x06, 0x03, 0x03, 0x09, 0x04, 0xFE, 0x00])
    clear_halt = C9.setup_packet(
        C9.request_type(C9.Direction.OUT, C9.RequestKind.STANDARD, C9.Recipient.ENDPOINT),
        C9.Request.CLEAR_FEATURE,
        C9.Feature.ENDPOINT_HALT,
        0x81,
    )
    assert clear_halt == bytes([0x02, 0x01, 0x00, 0x00, 0x81, 0x00, 0x00, 0x00])
    assert C9.LANGUAGE_IDS.build({"wLANGID": [C9.LANGID_EN_US]}) == b"\x04\x03\x09\x04"
    with pytest.raises(ValueError, match="out of range"):
        C9.setup_packet(0x80, 0x06, 0x10000)


# -- the floor's place --------------------------------------------------------------------------


def _loaded_after(statement: str) -> set[str]:
    """The taserlink modules a fresh interpreter holds after ``statement``."""
    program = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return {name for name in result.stdout.split() if name.startswith("taserlink")}


def test_the_floor_imports_neither_the_host_nor_the_emulator() -> None:
    loaded = _loaded_after("import taserlink.usb, taserlink.usb.backend, taserlink.usb.libusb")
    assert "taserlink.usb.reader" in loaded
    assert not {m for m in loaded if m.startswith(("taserlink.device", "taserlink.emulator"))}


def test_the_replay_imports_nothing_of_the_host() -> None:
    """``taserlink.emulator.replay`` names no ``taserlink.device`` module, and loading it
    (and so the emulator package) loads no module of the host at all: the protocol both
    sides speak is the floor's (``taserlink.usb.protocol``)."""
    source = (ROOT / "taserlink" / "emulator" / "replay.py").read_text(encoding="utf-8")
    imported = {
        node.module
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module
    } | {
        alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert "taserlink.usb" in imported
    assert not {m for m in imported if m.startswith("taserlink.device")}
    loaded = _loaded_after("import taserlink.emulator.replay")
    assert "taserlink.emulator.replay" in loaded
    assert "taserlink.usb.protocol" in loaded
    assert not {m for m in loaded if m.startswith("taserlink.device")}, loaded


def test_the_host_keeps_its_capture_names() -> None:
    """``taserlink.device.capture`` re-exports the floor's names: they are the same objects."""
    assert device_capture.read_capture is read_capture
    assert device_capture.read_events is read_events
    assert device_capture.Transfer is Transfer
    assert device_capture.UsbEvent is UsbEvent
    assert device_capture.CaptureWriter is CaptureWriter
    assert device_capture.status_name is usbmon.status_name
    assert set(device_capture.__all__) >= {"RecordingBackend", "SteppingClock", "PendingUrb"}
