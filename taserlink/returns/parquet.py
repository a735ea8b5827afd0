"""The Home Office return as Parquet, for analysts (``taserlink home-office --parquet DIR``):
:func:`write_parquet` writes a :class:`~taserlink.returns.homeoffice.HomeOfficeReturn`'s
uses, and the device episodes of its reconciliation, as two Hive-partitioned Parquet
datasets that DuckDB, pandas, Spark or Dask read as they are — a national body pools
forces by reading every force's folder with one glob.

**Layout** (``DIR`` made if missing)::

    DIR/uses/year=2019/part-0.parquet          one row per use (reports.csv's rows)
    DIR/episodes/year=2019/part-0.parquet      one row per device episode
    DIR/episodes/year=2018/part-0.parquet        (an episode's corrected start decides)
    DIR/episodes/year=__HIVE_DEFAULT_PARTITION__/part-0.parquet
                                               episodes with no corrected start

- ``year`` is the **financial year** (:func:`~taserlink.returns.counting.financial_year`:
  April to March, UK local time), the Hive partition key: it is in the folder name, not in
  the files (Hive's rule; DuckDB's ``hive_partitioning=true``, pyarrow's
  ``partitioning="hive"`` and Spark add it as a column).  ``__HIVE_DEFAULT_PARTITION__`` is
  the Hive name of a null key, which DuckDB, pyarrow and Spark read as ``NULL``.
- **uses**: every use of the return, all in its financial year, so one partition
  (``year=YYYY``), written even when the year has no use (then a file of no rows: the
  schema is there and the total reads 0).  Rows in ``reports.csv`` order (start, report,
  device).  Columns :data:`USES_SCHEMA`.
- **episodes**: only when the return was corroborated with downloads
  (:attr:`HomeOfficeReturn.run <taserlink.returns.homeoffice.HomeOfficeReturn.run>` is
  not ``None``); without downloads no ``episodes/`` folder is written (no downloads is
  no evidence either way, which an empty dataset would blur).  Every episode the
  reconciliation found in the downloads — uses, spark tests and training, the set
  ``taserlink reconcile`` lists — whatever its year: each in the partition of the
  financial year of its corrected UTC start, an episode whose start the clock model
  cannot correct in ``year=__HIVE_DEFAULT_PARTITION__`` (a device's own clock is not a
  year to count by).  Downloads holding no episode at all give one file of no rows in
  the return's year.  Rows by device, then first sequence number.  Columns
  :data:`EPISODES_SCHEMA`.  Downloads reach past the year they were given for, so filter
  on ``year``; two returns of one force given the same downloads hold the same episodes
  (``device`` with ``seq_first`` is the episode's key).

**One folder, one return.**  Files already under ``DIR/uses`` or ``DIR/episodes`` that this
return does not write (another year's, an earlier run's partition) would be read by the
same glob and change every total: they are refused (:class:`~taserlink.errors.OutputPathError`,
nothing written).  The return's own files are replaced; write each year or force to its
own folder and pool the folders.

**Reproducible, byte for byte.**  The same return gives the same bytes: rows in a fixed
order, one row group per file, and every writer option pinned (:data:`WRITER_OPTIONS`:
format 2.6, Snappy, dictionary encoding and statistics on, data page v1, no page index,
the Arrow schema stored so the time zone and list types read back exactly).  Parquet's
``created_by`` is pyarrow's (``parquet-cpp-arrow version 26.0.1``): it holds no time,
but another pyarrow may write other bytes, so a byte comparison holds for one pyarrow
version.  Each file is written atomically (:func:`taserlink.atomic.write_atomic`; a
destination that is a link or a folder is refused).

**Provenance.**  Each file's key-value metadata holds one key, ``taserlink``, a JSON object
(keys sorted): ``tool`` (``taserlink``), ``version``, ``dataset`` (``uses`` or
``episodes``), ``financial_year`` (the return's), and ``inputs``: the accounts file (when
given to :func:`write_parquet`) and every download, each ``{"kind", "name", "size",
"sha256"}`` (file name only, so the bytes do not depend on where the inputs lay).

pyarrow is an optional dependency (``pip install 'taserlink[parquet]'``): it is imported
only inside these functions, so :mod:`taserlink.returns` imports without it, and a missing
pyarrow raises :class:`~taserlink.errors.MissingExtraError` (the CLI's exit 2).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from taserlink import __version__
from taserlink.atomic import make_folder, write_atomic
from taserlink.errors import MissingExtraError, OutputPathError
from taserlink.postuse.episodes import Episode
from taserlink.postuse.reconcile import DeviceUse
from taserlink.provenance import Input
from taserlink.returns.counting import financial_year
from taserlink.returns.homeoffice import REPORT_COLUMNS, HomeOfficeReturn, ReturnRow

__all__ = [
    "EPISODES",
    "EPISODES_SCHEMA",
    "EXTRA",
    "METADATA_KEY",
    "NULL_PARTITION",
    "PART",
    "PARTITION_KEY",
    "USES",
    "USES_SCHEMA",
    "WRITER_OPTIONS",
    "Column",
    "arrow_schema",
    "episodes_table",
    "require_pyarrow",
    "uses_table",
    "write_parquet",
]

EXTRA: Final = "parquet"
"""The extra that installs pyarrow: ``pip install 'taserlink[parquet]'``."""
USES: Final = "uses"
"""The uses dataset's folder under ``DIR``."""
EPISODES: Final = "episodes"
"""The episodes dataset's folder under ``DIR``."""
PART: Final = "part-0.parquet"
"""The one file of each partition."""
PARTITION_KEY: Final = "year"
"""The Hive partition key: the financial year."""
NULL_PARTITION: Final = "__HIVE_DEFAULT_PARTITION__"
"""The Hive folder value of a null key (an episode with no corrected start)."""
METADATA_KEY: Final = "taserlink"
"""The key of each file's provenance in its key-value metadata."""
_DEVICE_EPOCH_UNIX_MS: Final = 946_684_800_000
"""2000-01-01T00:00:00 as Unix ms: device time 0 as a timestamp with no zone."""
_DEVICE_TIME_LAST_MS: Final = 253_402_300_799_999 - _DEVICE_EPOCH_UNIX_MS
"""The last device time (ms) that is a time in years 2000-9999."""

WRITER_OPTIONS: Final[Mapping[str, Any]] = {
    "version": "2.6",
    "compression": "snappy",
    "use_dictionary": True,
    "write_statistics": True,
    "data_page_version": "1.0",
    "data_page_size": 1 << 20,
    "dictionary_pagesize_limit": 1 << 20,
    "write_batch_size": 1024,
    "write_page_index": False,
    "write_page_checksum": False,
    "use_compliant_nested_type": True,
    "store_schema": True,
    "coerce_timestamps": "ms",
}
"""``pyarrow.parquet.write_table``'s options, pinned (defaults included) so that a pyarrow
whose defaults change writes the same file; one row group per file."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a dataset: its name, Arrow type (as text), whether it may be null, and
    what it holds.  ``type`` is one of ``string``, ``int64``, ``bool``, ``timestamp_utc``
    (``timestamp[ms, tz=UTC]``), ``timestamp_device`` (``timestamp[ms]``, no zone: a
    device's own clock), ``list_string`` (``list<string>``; the list itself never null)."""

    name: str
    type: str
    nullable: bool
    doc: str


USES_SCHEMA: Final = (
    Column("report", "string", False, "the report's id"),
    Column("incident", "string", False, "the incident's id"),
    Column("officer", "string", False, "the officer's id"),
    Column("device", "string", True, "the device serial; null: a CED use with no device"),
    Column("start", "timestamp_utc", False, "when the use of force began"),
    Column("highest_use", "string", False, "one of reports.csv's highest_use values"),
    Column("device_highest_use", "string", True, "the device's highest use; null: none"),
    Column("corroboration", "string", False, "corroborated, device_higher, device_lower, …"),
    Column("subject_age", "string", True, "age band; null: not reported"),
    Column("subject_ethnicity", "string", True, "ethnicity; null: not reported"),
    Column("subject_health", "string", True, "perceived health; null: not reported"),
)
"""The uses dataset's columns: ``reports.csv``'s (design §8, same names and order), typed;
``year`` comes from the partition."""
assert tuple(c.name for c in USES_SCHEMA) == REPORT_COLUMNS

EPISODES_SCHEMA: Final = (
    Column("device", "string", False, "the device serial"),
    Column("seq_first", "int64", False, "sequence number of its first record"),
    Column("seq_last", "int64", False, "sequence number of its last record"),
    Column("records", "int64", False, "how many records it spans"),
    Column("kind", "string", False, "use, test or training"),
    Column("highest_use", "string", True, "the highest device-visible use; null: none"),
    Column("utc_start", "timestamp_utc", True, "first record corrected to UTC; null: not"),
    Column("utc_end", "timestamp_utc", True, "last record corrected to UTC; null: not"),
    Column("bound_ms", "int64", True, "± bound of the corrected times (ms); null: not both"),
    Column("device_start", "timestamp_device", True, "first record, device clock"),
    Column("device_end", "timestamp_device", True, "last record, device clock"),
    Column("bounded_by", "string", False, "holster, arm or none"),
    Column("open_start", "bool", False, "its opening event is not in the log"),
    Column("open_end", "bool", False, "its closing event is not in the log"),
    Column("armed_ms", "int64", False, "time armed (its SAFE records' armed_ms)"),
    Column("laser_shown", "int64", False, "LASER_ON records"),
    Column("warning_arcs", "int64", False, "WARNING_ARC records"),
    Column("applications", "int64", False, "energy applications (trigger pulls, drive stuns)"),
    Column("trigger_pulls", "int64", False, "TRIGGER records"),
    Column("drive_stuns", "int64", False, "DRIVE_STUN records"),
    Column("cycles", "int64", False, "cycles, interrupted ones joined"),
    Column("interrupted_cycles", "int64", False, "cycles logged as several activations"),
    Column("long_applications", "int64", False, "applications over 5 s"),
    Column("longest_application_ms", "int64", True, "the longest application; null: none"),
    Column("connections_made", "int64", False, "CONNECTION records: circuit made"),
    Column("connections_missed", "int64", False, "CONNECTION records: missed"),
    Column("function_tests", "int64", False, "FUNCTION_TEST records"),
    Column("cartridges", "list_string", False, "serials of the cartridges deployed, in order"),
    Column("custody", "string", False, "held, uncertain, not_out, not_listed or unplaced"),
    Column("officer", "string", True, "the officer who held the device; null: not one"),
    Column("reports", "list_string", False, "the reports that cover it"),
)
"""The episodes dataset's columns (the reconcile JSON's episode, flattened to counts);
``year`` comes from the partition."""


def require_pyarrow() -> Any:
    """The ``pyarrow`` module (with ``pyarrow.parquet`` imported).

    Raises:
        MissingExtraError: pyarrow is not installed; the message says how to install it.
    """
    try:
        import pyarrow
        import pyarrow.parquet  # the writer, imported once here
    except ImportError as error:
        raise MissingExtraError(
            f"Parquet output needs pyarrow: pip install 'taserlink[{EXTRA}]' ({error})",
            EXTRA,
        ) from error
    return pyarrow


def arrow_schema(columns: Sequence[Column], metadata: Mapping[str, str] | None = None) -> Any:
    """The ``pyarrow.Schema`` of ``columns`` (with ``metadata`` as its key-value pairs)."""
    pa = require_pyarrow()
    types: dict[str, Callable[[], Any]] = {
        "string": pa.string,
        "int64": pa.int64,
        "bool": pa.bool_,
        "timestamp_utc": lambda: pa.timestamp("ms", tz="UTC"),
        "timestamp_device": lambda: pa.timestamp("ms"),
        "list_string": lambda: pa.list_(pa.string()),
    }
    fields = [pa.field(c.name, types[c.type](), nullable=c.nullable) for c in columns]
    return pa.schema(fields, metadata=dict(metadata) if metadata else None)


def _use_row(row: ReturnRow) -> dict[str, Any]:
    use = row.use
    return {
        "report": use.report,
        "incident": use.incident,
        "officer": use.officer,
        "device": use.device,
        "start": use.start_ms,
        "highest_use": use.highest_use,
        "device_highest_use": row.device_highest_use,
        "corroboration": row.corroboration.value,
        "subject_age": use.subject_age,
        "subject_ethnicity": use.subject_ethnicity,
        "subject_health": use.subject_health,
    }


def _device_time(ms: int) -> int | None:
    return ms + _DEVICE_EPOCH_UNIX_MS if 0 <= ms <= _DEVICE_TIME_LAST_MS else None


def _episode_row(device_use: DeviceUse) -> dict[str, Any]:
    e: Episode = device_use.episode
    made = sum(1 for c in e.connections if c.circuit)
    return {
        "device": e.device,
        "seq_first": e.seq_first,
        "seq_last": e.seq_last,
        "records": e.records,
        "kind": e.kind.value,
        "highest_use": None if e.highest_use is None else e.highest_use.value,
        "utc_start": e.utc_start_ms,
        "utc_end": e.utc_end_ms,
        "bound_ms": e.bound_ms,
        "device_start": _device_time(e.device_start_ms),
        "device_end": _device_time(e.device_end_ms),
        "bounded_by": e.bounded_by.value,
        "open_start": e.open_start,
        "open_end": e.open_end,
        "armed_ms": e.armed_ms,
        "laser_shown": e.laser_shown,
        "warning_arcs": len(e.arcs),
        "applications": len(e.applications),
        "trigger_pulls": len(e.trigger_pulls),
        "drive_stuns": len(e.drive_stuns),
        "cycles": len(e.cycles),
        "interrupted_cycles": len(e.interrupted_cycles),
        "long_applications": len(e.long_applications),
        "longest_application_ms": max((a.duration_ms for a in e.applications), default=None),
        "connections_made": made,
        "connections_missed": len(e.connections) - made,
        "function_tests": e.function_tests,
        "cartridges": list(e.serials),
        "custody": device_use.custody.state.value,
        "officer": device_use.custody.officer,
        "reports": list(device_use.reports),
    }


def _table(columns: Sequence[Column], rows: Sequence[dict[str, Any]], meta: Any) -> Any:
    pa = require_pyarrow()
    schema = arrow_schema(columns, meta)
    data = {c.name: [row[c.name] for row in rows] for c in columns}
    return pa.Table.from_pydict(data, schema=schema)


def uses_table(result: HomeOfficeReturn, metadata: Mapping[str, str] | None = None) -> Any:
    """The uses of ``result`` as a ``pyarrow.Table`` of :data:`USES_SCHEMA` (no ``year``),
    in ``reports.csv`` order."""
    return _table(USES_SCHEMA, [_use_row(row) for row in result.rows], metadata)


def episodes_table(uses: Sequence[DeviceUse], metadata: Mapping[str, str] | None = None) -> Any:
    """``uses`` (a reconciliation's episodes) as a ``pyarrow.Table`` of
    :data:`EPISODES_SCHEMA` (no ``year``), in the order given."""
    return _table(EPISODES_SCHEMA, [_episode_row(u) for u in uses], metadata)


def _parquet_bytes(table: Any) -> bytes:
    pa = require_pyarrow()
    sink = pa.BufferOutputStream()
    rows = max(table.num_rows, 1)
    pa.parquet.write_table(table, sink, row_group_size=rows, **WRITER_OPTIONS)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def _provenance(result: HomeOfficeReturn, dataset: str, accounts: Input | None) -> dict[str, str]:
    inputs: list[dict[str, Any]] = []
    if accounts is not None:
        name = Path(accounts.path).name
        inputs.append(
            {"kind": "accounts", "name": name, "size": accounts.size, "sha256": accounts.sha256}
        )
    if result.run is not None:
        inputs += [
            {"kind": "download", "name": Path(d.path).name, "size": d.size, "sha256": d.sha256}
            for d in sorted(result.run.downloads, key=lambda d: (d.sha256, d.path))
        ]
    value = {
        "tool": "taserlink",
        "version": __version__,
        "dataset": dataset,
        "financial_year": result.year,
        "inputs": inputs,
    }
    return {METADATA_KEY: json.dumps(value, sort_keys=True, separators=(",", ":"))}


def _partition(year: int | None) -> str:
    return f"{PARTITION_KEY}={NULL_PARTITION if year is None else year}"


def _episode_year(device_use: DeviceUse) -> int | None:
    start = device_use.episode.utc_start_ms
    return None if start is None else financial_year(start)


def _files(result: HomeOfficeReturn, accounts: Input | None) -> dict[str, bytes]:
    """Relative path → bytes of every file of ``result``'s datasets, in writing order."""
    files = {
        f"{USES}/{_partition(result.year)}/{PART}": _parquet_bytes(
            uses_table(result, _provenance(result, USES, accounts))
        )
    }
    if result.run is None:
        return files
    by_year: dict[int | None, list[DeviceUse]] = {}
    for device_use in result.run.result.uses:
        by_year.setdefault(_episode_year(device_use), []).append(device_use)
    if not by_year:
        by_year[result.year] = []
    meta = _provenance(result, EPISODES, accounts)
    for year in sorted(by_year, key=lambda y: (y is None, y or 0)):
        rows = sorted(by_year[year], key=lambda u: (u.episode.device, u.episode.seq_first))
        name = f"{EPISODES}/{_partition(year)}/{PART}"
        files[name] = _parquet_bytes(episodes_table(rows, meta))
    return files


def _stale(base: Path, names: set[str]) -> list[str]:
    """Files under ``base``'s datasets that are not in ``names`` (hidden ones aside)."""
    found = []
    for dataset in (USES, EPISODES):
        folder = base / dataset
        if not os.path.lexists(folder):
            continue
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(base).as_posix()
            if path.name.startswith((".", "_")) or (path.is_dir() and not path.is_symlink()):
                continue
            if relative not in names:
                found.append(relative)
    return found


def write_parquet(
    result: HomeOfficeReturn,
    folder: str | os.PathLike[str],
    *,
    accounts: Input | None = None,
) -> tuple[Path, ...]:
    """Write ``result``'s uses (and, with downloads, its episodes) as Parquet under
    ``folder`` (module docstring: layout, schema, partitioning, reproducibility); each
    file atomically.  Returns the paths written: the uses' file, then the episodes'
    by year (the null partition last).

    Args:
        result: the return (:func:`~taserlink.returns.homeoffice.home_office_return`).
        folder: the output folder (made if missing; it may be a link to a folder).
        accounts: the accounts file the return was counted from, named with its SHA-256
            in each file's provenance (``None``: the downloads only).

    Raises:
        MissingExtraError: pyarrow is not installed.
        OutputPathError: ``folder`` is not a folder; a destination that is a link or a
            folder; files under ``folder/uses`` or ``folder/episodes`` this return does
            not write (nothing is written then).
        OSError: a file cannot be written.
    """
    require_pyarrow()
    files = _files(result, accounts)
    base = make_folder(folder)
    stale = _stale(base, set(files))
    if stale:
        shown = os.fspath(base / stale[0])
        raise OutputPathError(
            f"{shown} is not part of this return's Parquet ({len(stale)} such file(s)): "
            "a glob would read it with the return's; write each return to its own folder",
            shown,
        )
    written = []
    for name, data in files.items():
        path = base / name
        make_folder(path.parent.parent, link_ok=False)
        make_folder(path.parent, link_ok=False)
        write_atomic(path, data)
        written.append(path)
    return tuple(written)
