"""The dataport image format: declarations (construct), the bulk path (numpy), read/write.

Start with :func:`read_image`::

    from taserlink.format import read_image, EventCode, payload_view
    image = read_image("captures/incident-shift.tdi")
    triggers = payload_view(image.records, EventCode.TRIGGER)
    print(image.identity.serial, triggers["duration_ms"])
"""

from taserlink.format.bulk import (
    PAYLOAD_DTYPES,
    RECORD_DTYPE,
    SEAL_DTYPE,
    crc_mismatches,
    payload_view,
    record_crcs,
)
from taserlink.format.events import NO_BAY, PAYLOADS, ClockSource, EventCode
from taserlink.format.image import (
    Acquisition,
    AcquisitionSignature,
    AcquisitionSigner,
    Base,
    CrcCheck,
    FirmwareVersion,
    Identity,
    Image,
    Seal,
    Span,
    Statement,
    build_image,
    read_image,
)
from taserlink.format.layout import (
    DEVICE_EPOCH_UNIX_MS,
    FORMAT_VERSION,
    FORMAT_VERSIONS,
    MAGIC,
    RECORD_SIZE,
)
from taserlink.format.records import decode_payload, encode_record

__all__ = [
    "Acquisition",
    "AcquisitionSignature",
    "AcquisitionSigner",
    "Base",
    "ClockSource",
    "CrcCheck",
    "DEVICE_EPOCH_UNIX_MS",
    "EventCode",
    "FORMAT_VERSION",
    "FORMAT_VERSIONS",
    "FirmwareVersion",
    "Identity",
    "Image",
    "MAGIC",
    "NO_BAY",
    "PAYLOADS",
    "PAYLOAD_DTYPES",
    "RECORD_DTYPE",
    "RECORD_SIZE",
    "SEAL_DTYPE",
    "Seal",
    "Span",
    "Statement",
    "build_image",
    "crc_mismatches",
    "decode_payload",
    "encode_record",
    "payload_view",
    "read_image",
    "record_crcs",
]
