"""One record at a time: encode an event, decode a payload.

The firmware model writes records with :func:`encode_record`; ``taserlink show`` and the
tests decode payloads with :func:`decode_payload`.  Both use the construct declarations
(the compiled form for speed), so they agree with the checked reference parse.
"""

from __future__ import annotations

import struct
from functools import cache
from typing import Any

import construct as cs

from taserlink.errors import FormatError
from taserlink.format.events import PAYLOADS, EventCode
from taserlink.format.layout import RECORD_BODY, record_crc

__all__ = ["encode_record", "decode_payload", "payload_fields"]


@cache
def _compiled_body() -> Any:
    return RECORD_BODY.compile()


def encode_record(seq: int, time_ms: int, code: EventCode, **payload: Any) -> bytes:
    """The 32 bytes of one record, CRC included.

    ``payload`` gives the event's fields by name (see :data:`~taserlink.format.PAYLOADS`);
    ``reserved`` fields are filled with zeros.

    Raises:
        FormatError: a field is missing, unknown or out of range for its width.
    """
    fields = dict(payload)
    known = payload_fields(code)
    unknown = set(fields) - set(known)
    if unknown:
        raise FormatError(f"{code.name} has no field(s) {sorted(unknown)}")
    try:
        body = bytes(
            _compiled_body().build(
                {"seq": seq, "time_ms": time_ms, "code": int(code), "payload": fields}
            )
        )
    except (cs.ConstructError, struct.error, KeyError, ValueError, TypeError) as error:
        raise FormatError(f"cannot encode {code.name} record: {error}") from None
    return body + record_crc(body).to_bytes(4, "little")


def payload_fields(code: EventCode) -> tuple[str, ...]:
    """The named fields of ``code``'s payload, in order, without ``reserved``."""
    return tuple(sub.name for sub in PAYLOADS[code].subcons if sub.name and sub.name != "reserved")


def decode_payload(code: int, payload: bytes) -> dict[str, Any]:
    """A payload's fields as plain Python values (nested structs as dicts, serials as str).

    Unknown codes give ``{"raw": payload}``.  Nonzero reserved bytes raise
    :class:`~taserlink.errors.FormatError`.
    """
    try:
        declaration = PAYLOADS[EventCode(code)]
    except ValueError:
        return {"raw": bytes(payload)}
    try:
        parsed = declaration.parse(payload)
    except cs.ConstructError as error:
        raise FormatError(
            f"{EventCode(code).name} payload: {str(error).splitlines()[-1]}"
        ) from None
    return _plain(parsed)


def _plain(container: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in container.items():
        if key.startswith("_") or key == "reserved":
            continue
        out[key] = _plain(value) if isinstance(value, dict) else value
    return out
