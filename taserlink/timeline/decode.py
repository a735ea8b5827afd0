"""Records decoded for people and programs: event names and payload fields.

The payload of each record is decoded per event code through the numpy views of
:func:`taserlink.format.payload_view` (one view per code present, not a parse per record);
what comes out is plain Python values, ready for text, CSV or JSON.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from taserlink.format import EventCode, payload_view

__all__ = ["event_name", "payload_fields"]

_NAMES: Final = {int(code): code.name for code in EventCode}


def event_name(code: int) -> str:
    """``EventCode`` name of ``code``, or ``UNKNOWN(0x..)`` with its hex value."""
    return _NAMES.get(code) or f"UNKNOWN(0x{code:02X})"


def payload_fields(records: npt.NDArray[Any]) -> list[dict[str, Any]]:
    """The payload fields of each record (:data:`~taserlink.format.RECORD_DTYPE` rows) by
    name: serials as text, versions as dicts, raw bytes as ``bytes``; a ``reserved`` field
    only when its bytes are not all zero; an unknown event code's payload as ``raw``."""
    codes = records["code"]
    out: list[dict[str, Any]] = [{} for _ in range(len(records))]
    for code in np.unique(codes).tolist():
        selected = codes == code
        if code in _NAMES:
            view = payload_view(records, EventCode(code))
            assert view.dtype.names is not None
            columns = {name: _column(view[name]) for name in view.dtype.names}
        else:
            columns = {"raw": [bytes(v) for v in records["payload"][selected].tolist()]}
        for row, values in zip(
            np.flatnonzero(selected).tolist(), zip(*columns.values(), strict=True), strict=True
        ):
            out[row] = {
                name: value
                for name, value in zip(columns, values, strict=True)
                if name != "reserved" or any(value)
            }
    return out


def _column(values: npt.NDArray[Any]) -> list[Any]:
    """One payload field of many records as Python values (strings decoded from ASCII)."""
    names = values.dtype.names
    if names:
        return [dict(zip(names, item, strict=True)) for item in values.tolist()]
    if values.dtype.kind == "S":
        return [b.decode("ascii", "backslashreplace") for b in values.tolist()]
    if values.dtype.kind == "V":
        return [bytes(v) for v in values.tolist()]
    return list(values.tolist())
