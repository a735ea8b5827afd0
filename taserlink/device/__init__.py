"""The host side of the dataport USB protocol: discovery, sessions, downloads, captures.

Download every attached device::

    from taserlink.device import download, find_devices

    for found in find_devices():
        result = download(found, "downloads/", operator="PS 4127",
                          workstation="STORE-01", clock_source="NTP (chrony)")
        print(result.path, result.records)

Talk to one device::

    from taserlink.device import DeviceSession

    with DeviceSession.open("D4K7P2M9QX") as session:
        info = session.identify()
        print(info.serial, info.first_seq, info.last_seq, session.read_clock())

The protocol is :mod:`taserlink.usb.protocol` (frames, commands; the emulator's too). Modules:
:mod:`~taserlink.device.usb_host` (pyusb: find, open, claim, bulk transfers),
:mod:`~taserlink.device.session` (requests, retries, typed errors),
:mod:`~taserlink.device.download` (whole downloads, partials, resume, atomic writes).
Every failure is a :class:`~taserlink.errors.DeviceError`.  Tests and demos pass
``backend=EmulatedBackend(...)`` (:mod:`taserlink.emulator.usb`); this package never
imports the emulator.
"""

from taserlink.device.download import (
    TOOL_VERSION,
    DownloadResult,
    PartialDownload,
    Progress,
    download,
    image_name,
    load_partial,
)
from taserlink.device.session import (
    ClockSet,
    DeviceInfo,
    DeviceSession,
    RetryPolicy,
    SessionStats,
)
from taserlink.device.usb_host import (
    EndpointStalled,
    Transport,
    UsbDeviceInfo,
    UsbLink,
    default_backend,
    find_device,
    find_devices,
    open_link,
)

__all__ = [
    "TOOL_VERSION",
    "ClockSet",
    "DeviceInfo",
    "DeviceSession",
    "DownloadResult",
    "EndpointStalled",
    "PartialDownload",
    "Progress",
    "RetryPolicy",
    "SessionStats",
    "Transport",
    "UsbDeviceInfo",
    "UsbLink",
    "default_backend",
    "download",
    "find_device",
    "find_devices",
    "image_name",
    "load_partial",
    "open_link",
]
