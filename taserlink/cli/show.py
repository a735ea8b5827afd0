"""``taserlink show IMAGE [--also IMAGE...] [--max-drift-ppm PPM] [--host-set-anchors]
[--csv|--json]``: what a dataport image holds.

Three renderings of one reading (:func:`taserlink.format.read_image`, CRCs reported):

- text (default): identity, the sections table, base, statement, acquisition, the clock
  model, then one line per event — sequence, device time, corrected UTC ± bound, CRC, event
  name and its payload fields as ``name=value``;
- ``--csv``: one row per event, columns :data:`CSV_COLUMNS`, fields as ``k=v;k=v``;
- ``--json``: one object — ``file``, ``size``, ``format_version``, ``identity``,
  ``certificates``, ``sections``, ``base``, ``statement`` (``null`` if none),
  ``acquisition``, ``records``, ``crc_failures`` (a count), ``clock_model`` and ``events``
  (objects with the CSV columns plus ``utc_ms`` as keys, ``fields`` an object), then
  ``provenance`` (IMAGE and every ``--also`` image by path, size and SHA-256, and the clock
  settings: docs/provenance.md); bytes are lowercase hex, times are both ISO 8601 strings
  and the integers they come from.

Device times are milliseconds since 2000-01-01T00:00:00 *on the device clock*: they are
shown as ISO 8601 without a zone, never as UTC.  Host times in the acquisition are UTC,
shown with ``Z``.

Corrected UTC.  Every event also gets the UTC its device time corresponds to, with a ±
bound, from the device timeline (:class:`taserlink.timeline.DeviceTimeline` of the image and
every ``--also IMAGE``: other downloads of the same device, whose anchors let the clock
model estimate the clock's drift between downloads).  The bound is the model's: the true UTC
lies within ``utc ± bound`` as long as the clock's rate error never exceeded the model's
maximum drift (100 ppm; ``--max-drift-ppm`` states another); it widens with distance from
the nearest download or clock set.  Where the model has no answer — the event's clock epoch
has no download and no ``CLOCK_SET`` link to one, e.g. after a clock reset with no later
download — the corrected time is left empty (CSV cells empty, JSON ``null``, text ``-``) and
the text rendering says why in one ``note:`` line at the start of each such run of events.
Every rendering states the model and its inputs: the text header block shows
:meth:`ClockModel.describe` (epochs, anchors, drift, warnings); ``--json`` has
``clock_model`` (the same as data).  An ``--also`` image of another device, or downloads
that disagree about a record, is bad input (exit 2).  The model is built from the image
alone when it cannot be built (an image with no records): then no event is corrected and the
header says why.

``--host-set-anchors`` (off by default) also takes every ``CLOCK_SET`` made by a host over
USB (``source=HOST``, as ``taserlink clock --set`` makes) as an anchor: its new time read
as UTC, ± 1,000 ms (``host_sets`` of :meth:`ClockModel.from_images`).  That corrects
epochs no download reaches (a clock reset, then a host set, with no later download), but
rests on an assumption the log cannot show — that the setting host was on UTC — so it is
the examiner's choice and every rendering says it was made: the text header has an
``option`` line and the model's description a line on it; ``--json``'s ``clock_model``
has ``host_set_anchors`` (true) and ``host_set_bound_ms``, and such anchors have ``kind``
``"host clock set"``.  Sets made from the device's menu never anchor.

- CSV columns ``utc`` (ISO 8601 with ``Z``, milliseconds) and ``utc_bound_ms`` (± ms),
  after the older columns;
- JSON event keys ``utc`` (string or ``null``), ``utc_ms`` (Unix milliseconds or ``null``)
  and ``utc_bound_ms`` (or ``null``);
- text ``2026-03-02T06:40:01.250Z ±1.3 s`` (bounds rounded up, in ms, s, min, h or d).

``utc`` is also empty (``null``) where the model's answer lies outside the years 1–9999
(a device time no clock can show); ``utc_ms`` and the bound still say what the model gave.

Events are streamed in chunks, and corrected times are computed per chunk with numpy, so a
log of a million records is written without building per-record structures for all of it
at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, TextIO

import numpy as np
import numpy.typing as npt

from taserlink.cli.common import (
    EXIT_OK,
    InputError,
    add_clock_options,
    add_output_options,
    clock_settings,
    open_image,
    plain_value,
    printable,
)
from taserlink.errors import TimelineError
from taserlink.forensics.provenance import show_provenance
from taserlink.format import NO_BAY, ClockSource, EventCode, Image
from taserlink.provenance import Provenance
from taserlink.spreadsheet import csv_writer
from taserlink.timeline import ClockSettings, DeviceTimeline
from taserlink.timeline.decode import event_name, payload_fields
from taserlink.timeline.times import (
    device_time_iso,
    device_time_text,
    device_times_iso,
    utc_iso,
    utc_text,
    utc_times_iso,
)

__all__ = [
    "NAME",
    "CSV_COLUMNS",
    "Clock",
    "Event",
    "bound_text",
    "clock_for",
    "clock_json",
    "events",
    "register",
    "run",
]

NAME: Final = "show"
CSV_COLUMNS: Final = (
    "seq",
    "device_time",
    "device_time_ms",
    "event",
    "code",
    "fields",
    "crc_ok",
    "utc",
    "utc_bound_ms",
)
"""Columns of ``--csv`` output (**contract**: new columns are only ever appended), and the
keys of each ``--json`` event (which also has ``utc_ms``)."""
CHUNK = 8192
"""Records rendered per step."""

_CLOCK_SOURCES: Final = {int(source): source.name for source in ClockSource}
_FIELD_SPECIALS: Final = ";= "
"""Characters escaped in field text, so ``k=v;k=v`` and ``k=v k=v`` split unambiguously."""
_BOUND_UNITS: Final = (
    (60_000, 1000, "s"),
    (3_600_000, 60_000, "min"),
    (172_800_000, 3_600_000, "h"),
)
"""Bounds below the first value are shown in the unit of the second (ms per unit); from
two days on, in days."""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``show`` to the ``taserlink`` subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME,
        help="show a dataport image: identity, sections and events",
        description=(
            "Show what a dataport image (.tdi) holds: identity, sections, base, download "
            "statement, acquisition, the clock model and every event. Device times are the "
            "device clock's (ISO 8601, no zone); each event also gets its corrected UTC "
            "± bound from the clock model, empty where the model has no answer (with "
            "--host-set-anchors, host clock sets anchor it too). Records "
            "whose CRC fails are marked. Exit 2 if an image is missing, unreadable or "
            "malformed, or an --also image is of another device."
        ),
    )
    parser.add_argument("image", metavar="IMAGE", help="the dataport image (.tdi) to show")
    parser.add_argument(
        "--also",
        metavar="IMAGE",
        nargs="+",
        action="extend",
        default=[],
        help=(
            "other downloads of the same device: their anchors join the clock model "
            "(drift estimated between downloads); only IMAGE's events are shown"
        ),
    )
    add_clock_options(parser, "epochs")
    add_output_options(parser, "one CSV row per event: " + ",".join(CSV_COLUMNS))
    return parser


def run(args: argparse.Namespace) -> int:
    """Show ``args.image`` on stdout in ``args.output`` form (``text``, ``csv``, ``json``),
    its times corrected by the clock model of it and ``args.also`` (host clock sets as
    anchors too with ``args.host_set_anchors``).

    Raises:
        InputError: an image is missing, unreadable or malformed, or an ``--also`` image is
            of another device (exit 2).
        ClockModelError: the images disagree about a record (exit 2).
    """
    image = open_image(args.image)
    others = [(path, open_image(path)) for path in args.also]
    settings = clock_settings(args)
    clock = clock_for(image, args.image, others, settings=settings)
    if args.output == "json":
        provenance = show_provenance([(args.image, image), *others], settings)
        write_json(image, args.image, sys.stdout, clock=clock, provenance=provenance)
        return EXIT_OK
    writers = {"text": write_text, "csv": write_csv}
    writers[args.output](image, args.image, sys.stdout, clock=clock)
    return EXIT_OK


# -- clock model --------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """The device timeline a rendering corrects times with, and what it was built from."""

    timeline: DeviceTimeline | None
    """``None`` when the images cannot make one (see ``failure``)."""
    sources: tuple[str, ...]
    """The images the timeline was built from, as the user named them (IMAGE first)."""
    failure: str | None = None
    """Why there is no clock model (``None`` when there is one)."""
    host_sets: bool = False
    """Host clock sets were asked for as anchors (``--host-set-anchors``)."""

    def correct(
        self, records: npt.NDArray[Any]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], list[str | None]]:
        """:meth:`DeviceTimeline.correct`, or no answer (and why) without a timeline."""
        if self.timeline is None:
            n = len(records)
            note = f"no correction: no clock model ({self.failure})"
            return np.full(n, np.nan), np.full(n, np.nan), [note] * n
        return self.timeline.correct(records)

    def uncorrected(self, records: npt.NDArray[Any]) -> int:
        """How many of ``records`` get no corrected time."""
        return len(records) if self.timeline is None else self.timeline.uncorrected(records)


def clock_for(
    image: Image,
    source: str,
    others: Sequence[tuple[str, Image]] = (),
    *,
    settings: ClockSettings | None = None,
) -> Clock:
    """The device timeline of ``image`` (read from ``source``) and ``others`` (path,
    image), its clock model made with ``settings``.

    With no ``others``, an image that cannot make a timeline (two different records under
    one sequence number) gets ``Clock(None, ..., failure)``: it is still shown, with no
    corrected times; so does an image with no records (no clock model).

    Raises:
        InputError: one of ``others`` is of another device than ``image``.
        TimelineError: ``others`` disagree with ``image`` (or each other) about a record.
    """
    settings = settings or ClockSettings()
    serial = image.identity.serial
    for path, other in others:
        if other.identity.serial != serial:
            error = TimelineError(
                f"an image of device {other.identity.serial}, not of {serial} "
                "(--also takes other downloads of the same device)"
            )
            raise InputError(path, error)
    sources = (source, *(path for path, _ in others))
    try:
        timeline = DeviceTimeline.from_images([(source, image), *others], settings=settings)
    except TimelineError as error:
        if others:
            raise
        return Clock(None, sources, str(error), settings.host_sets)
    return Clock(timeline, sources, timeline.clock_failure, settings.host_sets)


def _whole_ms(values: npt.NDArray[np.float64]) -> list[int | None]:
    """Whole-millisecond floats as ints, NaN as ``None``."""
    if not np.isnan(values).any() and np.all(np.abs(values) < 2.0**62):
        return list(values.astype(np.int64).tolist())
    return [None if v != v else int(v) for v in values.tolist()]


def bound_text(ms: int) -> str:
    """A ± bound for people, rounded *up* to one decimal of a fitting unit.

    Examples: ``±625 ms``, ``±1.3 s`` (1250 ms), ``±4.4 h``, ``±12.0 d``.
    """
    if ms < 1000:
        return f"±{ms} ms"
    for below, unit_ms, unit in _BOUND_UNITS:
        if ms < below:
            return f"±{-(-ms * 10 // unit_ms) / 10:.1f} {unit}"
    return f"±{-(-ms * 10 // 86_400_000) / 10:.1f} d"


def _describe(clock: Clock) -> list[str]:
    """The model and its inputs as text lines (strings from the images made printable)."""
    if clock.timeline is None or clock.timeline.clock is None:
        return [f"none — {clock.failure}; no time is corrected"]
    return [printable(line) for line in clock.timeline.describe().splitlines()]


def clock_json(clock: Clock) -> dict[str, Any]:
    """``--json``'s ``clock_model``: the model's description, inputs, epochs and warnings.

    ``host_set_anchors`` says whether host clock sets were taken as anchors and
    ``host_set_bound_ms`` their ± bound (``null`` when they were not); such anchors have
    ``kind`` ``"host clock set"``.
    """
    model = None if clock.timeline is None else clock.timeline.clock
    if model is None:
        return {
            "images": list(clock.sources),
            "description": None,
            "failure": clock.failure,
            "serial": None,
            "max_drift_ppm": None,
            "host_clock_ms": None,
            "host_set_anchors": clock.host_sets,
            "host_set_bound_ms": None,
            "epochs": [],
            "warnings": [],
        }
    return {
        "images": list(clock.sources),
        "description": model.describe(),
        "failure": None,
        "serial": model.serial,
        "max_drift_ppm": model.max_drift_ppm,
        "host_clock_ms": model.host_clock_ms,
        "host_set_anchors": model.host_sets,
        "host_set_bound_ms": model.host_set_bound_ms if model.host_sets else None,
        "epochs": [
            {
                "index": e.index,
                "first_seq": e.first_seq,
                "last_seq": e.last_seq,
                "first_device_time": device_time_iso(e.first_device_ms),
                "first_device_ms": e.first_device_ms,
                "last_device_time": device_time_iso(e.last_device_ms),
                "last_device_ms": e.last_device_ms,
                "start": e.start.value,
                "drift_ppm": e.drift_ppm,
                "corrected": bool(e.anchors),
                "drift_limited": e.drift_limited,
                "note": None if e.anchors else model.no_correction_note(e),
                "anchors": [
                    {
                        "kind": a.kind.value,
                        "seq": a.seq,
                        "device_time": device_time_iso(a.device_ms),
                        "device_ms": a.device_ms,
                        "utc": utc_iso(a.utc_ms),
                        "utc_ms": a.utc_ms,
                        "bound_ms": a.bound_ms,
                    }
                    for a in e.anchors
                ],
            }
            for e in model.epochs
        ],
        "warnings": list(model.warnings),
    }


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
    utc: str | None = None
    """Corrected UTC, ISO 8601 with ``Z`` (``None``: no correction, or outside years 1–9999)."""
    utc_ms: int | None = None
    """Corrected UTC in Unix milliseconds (``None``: the model has no answer)."""
    utc_bound_ms: int | None = None
    """± bound of ``utc_ms`` in milliseconds (``None``: the model has no answer)."""
    utc_note: str | None = None
    """Why there is no corrected time (``None`` when there is one)."""


def events(image: Image, chunk: int = CHUNK, *, clock: Clock | None = None) -> Iterator[Event]:
    """Every record of ``image``, in file order, ``chunk`` records decoded at a time, with
    times corrected by ``clock`` (default: the model of ``image`` alone)."""
    clock = clock or clock_for(image, "IMAGE")
    records = image.records
    crc_ok = np.ones(len(records), dtype=bool)
    crc_ok[image.crc_failures] = False
    for start in range(0, len(records), chunk):
        part = records[start : start + chunk]
        utc, bound, notes = clock.correct(part)
        columns = zip(
            part["seq"].tolist(),
            device_times_iso(part["time_ms"]),
            part["time_ms"].tolist(),
            part["code"].tolist(),
            payload_fields(part),
            crc_ok[start : start + chunk].tolist(),
            utc_times_iso(utc),
            _whole_ms(utc),
            _whole_ms(bound),
            notes,
            strict=True,
        )
        for seq, when, ms, code, fields, ok, utc_cell, utc_ms, bound_ms, note in columns:
            yield Event(
                seq, when, ms, event_name(code), code, fields, ok, utc_cell, utc_ms, bound_ms, note
            )


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
            parts.append(f"{name[:-3]}={device_time_text(value)}")
        else:
            parts.append(f"{name}={field_text(event.code, name, value)}")
    return separator.join(parts)


# -- text ---------------------------------------------------------------------------------


def _section_counts(image: Image) -> dict[str, int]:
    return {
        "certificates": len(image.certificates),
        "records": len(image.records),
        "seals": len(image.seals),
    }


def _utc_cell(event: Event) -> str:
    """The text rendering's corrected-UTC column: ``<ISO>Z ±<bound>`` or ``-``."""
    if event.utc_ms is None or event.utc_bound_ms is None:
        return "-"
    return f"{event.utc or utc_text(event.utc_ms)} {bound_text(event.utc_bound_ms)}"


def write_text(image: Image, source: str, out: TextIO, *, clock: Clock | None = None) -> None:
    """The human summary of ``image`` (read from ``source``), the clock model, then one line
    per event; a ``note:`` line before each run of events the model cannot correct."""
    clock = clock or clock_for(image, source)
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
        f"  device time     {device_time_text(base.device_time_ms)} (device clock)",
        "",
        "download statement",
    ]
    if image.statement is None:
        lines.append("  none — no download statement")
    else:
        st = image.statement
        lines += [
            f"  covers          {st.first_seq}..{st.last_seq}",
            f"  device time     {device_time_text(st.device_time_ms)} (device clock)",
            f"  nonce           {st.nonce.hex()}",
            f"  seal interval   every {st.seal_interval} records",
            f"  identity hash   {st.identity_sha256.hex()} (SHA-256)",
        ]
    lines += [
        "",
        "acquisition",
        f"  host UTC start  {utc_text(acq.host_utc_start_ms)}",
        f"  host UTC end    {utc_text(acq.host_utc_end_ms)}",
        f"  statement at    {utc_text(acq.statement_utc_ms)} (host UTC)",
        f"  operator        {printable(acq.operator)}",
        f"  workstation     {printable(acq.workstation)}",
        f"  clock source    {printable(acq.clock_source)}",
        f"  tool            {printable(acq.tool_version)}",
        f"  device SHA-256  {acq.device_sha256.hex()}",
        "",
        "clock model (device time to UTC)",
        f"  images          {', '.join(printable(s) for s in clock.sources)}",
    ]
    if clock.host_sets:
        lines.append("  option          --host-set-anchors: host clock sets taken as UTC anchors")
    uncorrected = clock.uncorrected(image.records)
    corrected = len(image.records) - uncorrected
    without = f"; {uncorrected} without (see the notes among the events)" if uncorrected else ""
    lines.append(f"  corrected       {corrected} of {len(image.records)} records{without}")
    lines += [f"  {line}" for line in _describe(clock)]
    lines.append("")
    failures = len(image.crc_failures)
    marked = f", {failures} failing their CRC (marked FAIL)" if failures else ""
    lines.append(f"events: {len(image.records)} records{marked}")
    seq_width = max(3, len(str(int(image.records["seq"].max())))) if len(image.records) else 3
    time_title = "device time (device clock)"
    utc_title = "UTC (corrected) ± bound"
    lines.append(
        f"  {'seq':>{seq_width}}  {time_title:<26}  {utc_title:<34}  crc   {'event':<16}  fields"
    )
    out.write("\n".join(lines) + "\n")
    batch: list[str] = []
    note: str | None = None
    for event in events(image, CHUNK, clock=clock):
        if event.utc_note is not None and event.utc_note != note:
            batch.append(f"  note: {printable(event.utc_note)} (from seq {event.seq})")
        note = event.utc_note
        when = event.device_time or device_time_text(event.device_time_ms)
        crc = "ok  " if event.crc_ok else "FAIL"
        batch.append(
            f"  {event.seq:>{seq_width}}  {when:<26}  {_utc_cell(event):<34}  {crc}  "
            f"{event.event:<16}  {fields_text(event, ' ', device_times=True)}".rstrip()
        )
        if len(batch) >= CHUNK:
            out.write("\n".join(batch) + "\n")
            batch.clear()
    if batch:
        out.write("\n".join(batch) + "\n")


# -- csv ----------------------------------------------------------------------------------


def write_csv(image: Image, source: str, out: TextIO, *, clock: Clock | None = None) -> None:
    """A header row, then one row per event (:data:`CSV_COLUMNS`); ``utc`` and
    ``utc_bound_ms`` empty where the clock model has no answer."""
    clock = clock or clock_for(image, source)
    writer = csv_writer(out)
    writer.writerow(CSV_COLUMNS)
    for event in events(image, CHUNK, clock=clock):
        writer.writerow(
            (
                event.seq,
                event.device_time or "",
                event.device_time_ms,
                event.event,
                event.code,
                fields_text(event, ";"),
                "true" if event.crc_ok else "false",
                event.utc or "",
                "" if event.utc_bound_ms is None else event.utc_bound_ms,
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
    """One ``--json`` event: the CSV columns and ``utc_ms`` as keys, ``fields`` an object,
    bytes as hex."""
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
        "utc": event.utc,
        "utc_ms": event.utc_ms,
        "utc_bound_ms": event.utc_bound_ms,
    }


def write_json(
    image: Image,
    source: str,
    out: TextIO,
    *,
    clock: Clock | None = None,
    provenance: Provenance | None = None,
) -> None:
    """One JSON object: :func:`summary`, ``clock_model`` (:func:`clock_json`),
    ``events``, one event a line (streamed), and ``provenance`` (``null`` when none is
    given; the command gives :func:`taserlink.forensics.provenance.show_provenance`)."""
    clock = clock or clock_for(image, source)
    head = json.dumps({**summary(image, source), "clock_model": clock_json(clock)})
    out.write(head[:-1] + ', "events": [')
    separator = "\n"
    for event in events(image, CHUNK, clock=clock):
        out.write(separator + json.dumps(event_json(event)))
        separator = ",\n"
    block = json.dumps(None if provenance is None else provenance.as_dict())
    out.write('\n],\n"provenance": ' + block + "}\n")
