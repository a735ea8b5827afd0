"""``taserlink show IMAGE [--csv|--json]``: what a dataport image holds.

Three renderings of one reading (:func:`taserlink.format.read_image`, CRCs reported):

- text (default): identity, the sections table, base, statement, acquisition, then one line
  per event — sequence, device time, CRC, event name and its payload fields as ``name=value``;
- ``--csv``: one row per event, columns :data:`CSV_COLUMNS`, fields as ``k=v;k=v``;
- ``--json``: one object — ``file``, ``size``, ``format_version``, ``identity``,
  ``certificates``, ``sections``, ``base``, ``statement`` (``null`` if none),
  ``acquisition``, ``records``, ``crc_failures`` (a count) and ``events`` (objects with the
  CSV columns as keys, ``fields`` an object); bytes are lowercase hex, times are both ISO
  8601 strings and the integers they come from.

Device times are milliseconds since 2000-01-01T00:00:00 *on the device clock*: they are
shown as ISO 8601 without a zone, never as UTC (correcting them is the clock model's job).
Host times in the acquisition are UTC, shown with ``Z``.  Events are streamed in chunks,
so a log of a million records is written without building per-record structures for all
of it at once.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, TextIO

import numpy as np
import numpy.typing as npt

from taserlink.cli.common import (
    EXIT_OK,
    device_time_iso,
    device_times_iso,
    open_image,
    plain_value,
    printable,
    utc_iso,
)
from taserlink.format import NO_BAY, ClockSource, EventCode, Image, payload_view

__all__ = ["NAME", "CSV_COLUMNS", "Event", "events", "event_name", "register", "run"]

NAME: Final = "show"
CSV_COLUMNS: Final = (
    "seq",
    "device_time",
    "device_time_ms",
    "event",
    "code",
    "fields",
    "crc_ok",
)
"""Columns of ``--csv`` output (**contract**), and the keys of each ``--json`` event."""
CHUNK = 8192
"""Records rendered per step."""

_NAMES: Final = {int(code): code.name for code in EventCode}
_CLOCK_SOURCES: Final = {int(source): source.name for source in ClockSource}
_FIELD_SPECIALS: Final = ";= "
"""Characters escaped in field text, so ``k=v;k=v`` and ``k=v k=v`` split unambiguously."""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``show`` to the ``taserlink`` subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="show a dataport image: identity, sections and events",
        description=(
            "Show what a dataport image (.tdi) holds: identity, sections, base, download "
            "statement, acquisition and every event. Device times are the device clock's "
            "(ISO 8601, no zone); records whose CRC fails are marked. Exit 2 if the image "
            "is missing, unreadable or malformed."
        ),
    )
    parser.add_argument("image", metavar="IMAGE", help="the dataport image (.tdi) to show")
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--csv",
        dest="output",
        action="store_const",
        const="csv",
        default="text",
        help="one CSV row per event: " + ",".join(CSV_COLUMNS),
    )
    output.add_argument(
        "--json", dest="output", action="store_const", const="json", help="one JSON object"
    )
    return parser


def run(args: argparse.Namespace) -> int:
    """Show ``args.image`` on stdout in ``args.output`` form (``text``, ``csv``, ``json``).

    Raises:
        InputError: the image is missing, unreadable or malformed.
    """
    image = open_image(args.image)
    writers = {"text": write_text, "csv": write_csv, "json": write_json}
    writers[args.output](image, args.image, sys.stdout)
    return EXIT_OK


# -- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """One record as shown: its columns, payload fields as plain Python values."""

    seq: int
    device_time: str | None
    """ISO 8601 device time, no zone (``None`` past year 9999)."""
    device_time_ms: int
    event: str
    """Event name, or ``UNKNOWN(0x..)`` for a code this format version does not define."""
    code: int
    fields: dict[str, Any]
    """Payload fields by name (serials as text, versions as dicts, raw bytes as bytes);
    a ``reserved`` field only when its bytes are not all zero."""
    crc_ok: bool


def event_name(code: int) -> str:
    """``EventCode`` name of ``code``, or ``UNKNOWN(0x..)`` with its hex value."""
    return _NAMES.get(code) or f"UNKNOWN(0x{code:02X})"


def events(image: Image, chunk: int = CHUNK) -> Iterator[Event]:
    """Every record of ``image``, in file order, ``chunk`` records decoded at a time."""
    records = image.records
    crc_ok = np.ones(len(records), dtype=bool)
    crc_ok[image.crc_failures] = False
    for start in range(0, len(records), chunk):
        part = records[start : start + chunk]
        columns = zip(
            part["seq"].tolist(),
            device_times_iso(part["time_ms"]),
            part["time_ms"].tolist(),
            part["code"].tolist(),
            _payload_fields(part),
            crc_ok[start : start + chunk].tolist(),
            strict=True,
        )
        for seq, when, ms, code, fields, ok in columns:
            yield Event(seq, when, ms, event_name(code), code, fields, ok)


def _payload_fields(records: npt.NDArray[Any]) -> list[dict[str, Any]]:
    """The payload fields of each record, decoded per event code through numpy views."""
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


def field_text(code: int, name: str, value: Any) -> str:
    """One payload field as text for ``name=value`` (bytes as hex, versions dotted)."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, str):
        return printable(value, _FIELD_SPECIALS)
    if isinstance(value, dict):
        if set(value) == {"major", "minor", "patch"}:
            return f"{value['major']}.{value['minor']}.{value['patch']}"
        return ",".join(f"{k}:{field_text(code, k, v)}" for k, v in value.items())
    if name == "bay" and value == NO_BAY:
        return "none"
    if code == EventCode.CLOCK_SET and name == "source":
        return _CLOCK_SOURCES.get(value) or f"UNKNOWN(0x{value:02X})"
    return str(value)


def fields_text(event: Event, separator: str, *, device_times: bool = False) -> str:
    """``event``'s payload fields as ``name=value`` joined by ``separator``.

    With ``device_times``, a device-time field ``x_time_ms`` is shown as ``x_time=<ISO>``
    (for people; CSV keeps the milliseconds).
    """
    parts = []
    for name, value in event.fields.items():
        if device_times and name.endswith("_time_ms") and isinstance(value, int):
            parts.append(f"{name[:-3]}={_device_time_text(value)}")
        else:
            parts.append(f"{name}={field_text(event.code, name, value)}")
    return separator.join(parts)


# -- text ---------------------------------------------------------------------------------


def _device_time_text(ms: int) -> str:
    return device_time_iso(ms) or f"out-of-range({ms}ms)"


def _utc_text(ms: int) -> str:
    return utc_iso(ms) or f"out-of-range({ms}ms)"


def _section_counts(image: Image) -> dict[str, int]:
    return {
        "certificates": len(image.certificates),
        "records": len(image.records),
        "seals": len(image.seals),
    }


def write_text(image: Image, source: str, out: TextIO) -> None:
    """The human summary of ``image`` (read from ``source``), then one line per event."""
    ident, base, acq = image.identity, image.base, image.acquisition
    lines = [
        f"dataport image {printable(source)}: {len(image.data)} bytes, "
        f"format version {image.version}",
        "",
        "identity",
        f"  serial          {printable(ident.serial)}",
        f"  model           {printable(ident.model)}",
        f"  hardware        {printable(ident.hardware_revision)}",
        f"  firmware        {ident.firmware}",
        f"  log capacity    {ident.log_capacity} records",
        "",
        "sections",
        f"  {'name':<14}{'offset':>10}{'length':>10}{'count':>9}",
    ]
    counts = _section_counts(image)
    for name, span in image.spans.items():
        count = f"{counts[name]:>9}" if name in counts else ""
        lines.append(f"  {name:<14}{span.offset:>10}{span.length:>10}{count}")
    lines += [
        "",
        "base",
        f"  first sequence  {base.first_seq}",
        f"  device time     {_device_time_text(base.device_time_ms)} (device clock)",
        "",
        "download statement",
    ]
    if image.statement is None:
        lines.append("  none — no download statement")
    else:
        st = image.statement
        lines += [
            f"  covers          {st.first_seq}..{st.last_seq}",
            f"  device time     {_device_time_text(st.device_time_ms)} (device clock)",
            f"  nonce           {st.nonce.hex()}",
            f"  seal interval   every {st.seal_interval} records",
            f"  identity hash   {st.identity_sha256.hex()} (SHA-256)",
        ]
    lines += [
        "",
        "acquisition",
        f"  host UTC start  {_utc_text(acq.host_utc_start_ms)}",
        f"  host UTC end    {_utc_text(acq.host_utc_end_ms)}",
        f"  statement at    {_utc_text(acq.statement_utc_ms)} (host UTC)",
        f"  operator        {printable(acq.operator)}",
        f"  workstation     {printable(acq.workstation)}",
        f"  clock source    {printable(acq.clock_source)}",
        f"  tool            {printable(acq.tool_version)}",
        f"  device SHA-256  {acq.device_sha256.hex()}",
        "",
    ]
    failures = len(image.crc_failures)
    marked = f", {failures} failing their CRC (marked FAIL)" if failures else ""
    lines.append(f"events: {len(image.records)} records{marked}")
    seq_width = max(3, len(str(int(image.records["seq"].max())))) if len(image.records) else 3
    time_title = "device time (device clock)"
    lines.append(f"  {'seq':>{seq_width}}  {time_title:<26}  crc   {'event':<16}  fields")
    out.write("\n".join(lines) + "\n")
    batch: list[str] = []
    for event in events(image, CHUNK):
        when = event.device_time or _device_time_text(event.device_time_ms)
        crc = "ok  " if event.crc_ok else "FAIL"
        batch.append(
            f"  {event.seq:>{seq_width}}  {when:<26}  {crc}  {event.event:<16}  "
            f"{fields_text(event, ' ', device_times=True)}".rstrip()
        )
        if len(batch) >= CHUNK:
            out.write("\n".join(batch) + "\n")
            batch.clear()
    if batch:
        out.write("\n".join(batch) + "\n")


# -- csv ----------------------------------------------------------------------------------


def write_csv(image: Image, source: str, out: TextIO) -> None:
    """A header row, then one row per event (:data:`CSV_COLUMNS`)."""
    del source  # the rows speak for themselves
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for event in events(image, CHUNK):
        writer.writerow(
            (
                event.seq,
                event.device_time or "",
                event.device_time_ms,
                event.event,
                event.code,
                fields_text(event, ";"),
                "true" if event.crc_ok else "false",
            )
        )


# -- json ---------------------------------------------------------------------------------


def _record(obj: Any, **extra: Any) -> dict[str, Any]:
    """A dataclass as a JSON-ready dict (bytes as hex) plus ``extra`` keys."""
    return {**plain_value(dataclasses.asdict(obj)), **extra}


def summary(image: Image, source: str) -> dict[str, Any]:
    """Everything ``--json`` says about ``image`` except its events (no per-record data)."""
    counts = _section_counts(image)
    statement = image.statement
    acq = image.acquisition
    return {
        "file": source,
        "size": len(image.data),
        "format_version": image.version,
        "identity": _record(image.identity),
        "certificates": [
            {"length": len(der), "sha256": hashlib.sha256(der).hexdigest()}
            for der in image.certificates
        ],
        "sections": [
            {"name": n, "offset": s.offset, "length": s.length, "count": counts.get(n)}
            for n, s in image.spans.items()
        ],
        "base": _record(image.base, device_time=device_time_iso(image.base.device_time_ms)),
        "statement": None
        if statement is None
        else _record(statement, device_time=device_time_iso(statement.device_time_ms)),
        "acquisition": _record(
            acq,
            host_utc_start=utc_iso(acq.host_utc_start_ms),
            host_utc_end=utc_iso(acq.host_utc_end_ms),
            statement_utc=utc_iso(acq.statement_utc_ms),
        ),
        "records": len(image.records),
        "crc_failures": len(image.crc_failures),
    }


def event_json(event: Event) -> dict[str, Any]:
    """One ``--json`` event: the CSV columns as keys, ``fields`` an object, bytes as hex."""
    return {
        "seq": event.seq,
        "device_time": event.device_time,
        "device_time_ms": event.device_time_ms,
        "event": event.event,
        "code": event.code,
        "fields": {
            name: value.hex() if isinstance(value, bytes) else plain_value(value)
            for name, value in event.fields.items()
        },
        "crc_ok": event.crc_ok,
    }


def write_json(image: Image, source: str, out: TextIO) -> None:
    """One JSON object: :func:`summary` plus ``events``, one event a line (streamed)."""
    head = json.dumps(summary(image, source))
    out.write(head[:-1] + ', "events": [')
    separator = "\n"
    for event in events(image, CHUNK):
        out.write(separator + json.dumps(event_json(event)))
        separator = ",\n"
    out.write("\n]}\n")
