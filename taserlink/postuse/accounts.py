"""Officers' accounts of CED use (**contract**, README "Use-of-force accounts"):
``ACCOUNTS.csv`` read (:func:`read_accounts`) and written (:func:`write_accounts`), and the
column maps that read a force's own export without editing it (:func:`read_column_map`).

One row per **report** and device: a report is one officer's use of force on one subject,
as the national use-of-force form records it; a report that used two devices has two rows
with the same ``report``.  The columns are :data:`COLUMNS`; :data:`REQUIRED` must be there,
the others may be absent (then every row reads them as empty).

**Reading** (:func:`read_accounts`; every problem is an
:class:`~taserlink.errors.AccountsError` naming the file and the line, ``ACCOUNTS.csv line 7:
start '2026-03-06 19:40' has no time zone …``, and the first problem in file order is the
one reported):

- *Text*: UTF-8, a leading byte-order mark tolerated; lines end with LF or CRLF; CSV with
  ``"`` quoting (RFC 4180: a quoted cell may hold commas, quotes written ``""`` and line
  breaks); quoting that breaks those rules is an error.  The file is streamed: a line is at
  most :data:`MAX_LINE_BYTES` bytes and a row (a quoted cell may run over several lines) at
  most :data:`MAX_RECORD_BYTES`, so only the accounts read are held, never the whole file.
  Its SHA-256 and size are computed on the way (:class:`Accounts`).
- *Header*: the first line; names compared after stripping surrounding white space and
  ignoring case; any order; a name given twice, an unknown name (unless a column map
  renames or ignores it), a nameless column or a missing :data:`REQUIRED` column is an
  error.  A file with a header and no rows holds no accounts (a quiet period).
- *Rows*: as many cells as the header; blank lines (and rows of empty cells only) are
  allowed only at the end.  Line numbers are physical lines, the header line 1; a row that
  runs over several lines is numbered by its first.
- *Values*: surrounding white space stripped; case ignored where the value is a word.  A
  cell that :func:`taserlink.spreadsheet.safe_cell` neutralised (``'=1+2``) is read back as
  it was (``=1+2``).  ``report``, ``incident``, ``officer``: not empty, at most
  :data:`MAX_ID_CHARS` characters, printable.  ``start``, ``end``: ISO 8601 *with* a zone
  (:func:`taserlink.timeline.times.parse_utc`; a naive time may be local time and is
  refused); ``end`` may be empty and must not be before ``start``.  ``device``: empty (no
  CED) or a device serial (:data:`~taserlink.serials.DEVICE_SCHEME`; hyphens, spaces and
  case ignored, kept canonical).  The seven uses (:data:`USES`) and ``cycle_extended``:
  ``yes``/``true``/``1``, ``no``/``false``/``0`` or empty (not stated).  ``cartridges``:
  cartridge serials (:data:`~taserlink.serials.CARTRIDGE_SCHEME`) separated by ``;``, none
  twice.  ``cycles``: empty or a whole number of ASCII digits (at most 9).
  ``subject_age``: one of :data:`AGE_BANDS` (``11–17`` with an en dash is read too), an age
  in whole years 0–:data:`MAX_AGE_YEARS` (read as its band, the number kept in
  ``subject_age_years``), or empty.  ``subject_ethnicity``: one of :data:`ETHNICITIES`
  (kept capitalised so) or empty.  ``subject_health``: one of :data:`HEALTH` or empty.
  ``subject_gender``, ``location``: free text (empty is ``None``).  ``reasons``,
  ``impact_factors``, ``outcome``: free-text items separated by ``;``, blank items dropped.
  Free text may hold tabs and line breaks inside (every line break read as ``\\n``: CRLF
  and a lone CR alike), no other control or invisible character.
- *Reports*: the same report and device twice is an error, and so is a report whose rows
  disagree about ``incident``, ``officer``, ``start``, ``end`` or a ``subject_*`` field
  (both lines named).  Nothing else is judged here: a report that ticks ``fired`` with no
  device, or a cartridge in two reports, is read as written, for reconciliation to report.

:func:`taserlink.returns.fastcount.count_file` applies these same rules (the per-cell ones
are this module's functions) a column at a time, and leaves to :func:`read_accounts` any
file it is not certain of.

**Column maps** (:func:`read_column_map`, :class:`ColumnMap`) let a force's export be read
as it is.  A JSON object, in one of two shapes:

- flat, every value a string: ``{"Ref No": "report", "Collar No": "officer", …}`` — the
  force's column name → the contract column it holds;
- sectioned, with any of the keys ``columns`` (that object), ``values``, ``ignore`` and
  ``comment``::

      {
        "comment": "Derbyshire use-of-force export, 2026 layout",
        "columns": {"Ref No": "report", "Ethnicity Code": "subject_ethnicity",
                    "Drawn": "drawn"},
        "values": {"subject_ethnicity": {"W1": "White", "B2": "Black", "NS": ""},
                   "drawn": {"Y": "yes", "N": "no"}},
        "ignore": ["Officer Name"]
      }

  ``values`` maps, per *contract* column, a force's code to the contract value it stands
  for: a cell (an item, in a list column) equal to a code, ignoring case and surrounding
  white space, is read as its value (``""``: empty, not stated); other cells are read as
  they are.  ``ignore`` names force columns that are skipped.  ``comment`` is any string.

Names in a map are compared as header names are (stripped, case ignored).  Refused, with
the map's file: bad JSON (with its line), a key given twice in one object, a value that is
not a string (not an object, in ``values``), a target that is no contract column, two
force columns mapped to one contract column, a code given twice, a code's value that the
column would refuse (``"drawn": {"Y": "maybe"}``), a force column both mapped and
ignored.  A column not in the map is read under its own name; a mapped column absent from
a file is no error (one map may serve several exports).

**Writing** (:func:`write_accounts`): the contract's columns in :data:`COLUMNS` order,
times as UTC with milliseconds (``2026-03-06T19:40:00.000Z``), ``yes``/``no``/empty, an age
as its years when known, UTF-8 without a byte-order mark, lines ending ``\\n``, cells
spreadsheet-safe — so that ``read_accounts(p).accounts == tuple(accounts)`` after
``write_accounts(accounts, p)``.  An account the reader would refuse or read differently is
refused before anything is written.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from types import MappingProxyType
from typing import IO, Any, Final, TypeAlias

from taserlink.atomic import write_atomic
from taserlink.errors import AccountsError, SerialError, TimeTextError, excerpt
from taserlink.postuse.uses import SEVERITY, USES
from taserlink.serials import CARTRIDGE_SCHEME, DEVICE_SCHEME
from taserlink.spreadsheet import csv_writer, original_cell
from taserlink.timeline.times import parse_utc, utc_iso, utc_text

__all__ = [
    "AGE_BANDS",
    "COLUMNS",
    "ETHNICITIES",
    "HEALTH",
    "LIST_COLUMNS",
    "MAX_AGE_YEARS",
    "MAX_ID_CHARS",
    "MAX_LINE_BYTES",
    "MAX_MAP_BYTES",
    "MAX_RECORD_BYTES",
    "REQUIRED",
    "SEVERITY",
    "USES",
    "Account",
    "Accounts",
    "ColumnMap",
    "age_band",
    "highest_use",
    "read_accounts",
    "read_column_map",
    "write_accounts",
]

PathLike: TypeAlias = str | os.PathLike[str]

AGE_BANDS: Final = ("under 11", "11-17", "18-34", "35-49", "50-64", "65+")
"""The subject age bands of the published tables (**contract** spelling)."""
_BAND_FLOORS: Final = (0, 11, 18, 35, 50, 65)
"""The youngest age, in whole years, of each of :data:`AGE_BANDS`."""
MAX_AGE_YEARS: Final = 130
"""The oldest age in years a ``subject_age`` may give (an ``999`` for "unknown" is refused)."""
ETHNICITIES: Final = ("White", "Black", "Asian", "Mixed", "Other")
"""The subject ethnicity groups of the published tables (as the census groups them)."""
HEALTH: Final = ("mental", "physical", "both", "none")
"""The subject's perceived health condition (``none``: none perceived; empty: not reported)."""

COLUMNS: Final = (
    "report",
    "incident",
    "officer",
    "start",
    "end",
    "device",
    "drawn",
    "aimed",
    "red_dotted",
    "arced",
    "drive_stun",
    "angle_drive_stun",
    "fired",
    "cartridges",
    "cycles",
    "cycle_extended",
    "subject_age",
    "subject_gender",
    "subject_ethnicity",
    "subject_health",
    "location",
    "reasons",
    "impact_factors",
    "outcome",
)
"""Every column of ``ACCOUNTS.csv`` (**contract**), in the order :func:`write_accounts`
writes them."""
REQUIRED: Final = (
    "report",
    "incident",
    "officer",
    "start",
    "device",
    *(use for use in COLUMNS if use in USES),
    "subject_age",
    "subject_ethnicity",
    "subject_health",
)
"""The columns a file must have (their cells may still be empty where the contract allows:
``device``, the uses, the subject's details); the others (``end``, ``cartridges``,
``cycles``, ``cycle_extended``, ``subject_gender``, ``location``, ``reasons``,
``impact_factors``, ``outcome``) may be absent."""
LIST_COLUMNS: Final = ("cartridges", "reasons", "impact_factors", "outcome")
"""The columns that hold a list, items separated by ``;``."""

MAX_LINE_BYTES: Final = 65_536
"""Longest line of an accounts file (its line break included), in bytes."""
MAX_RECORD_BYTES: Final = 1 << 20
"""Longest row (all its lines, when a quoted cell holds line breaks), in bytes."""
MAX_ID_CHARS: Final = 256
"""Longest ``report``, ``incident`` or ``officer``, in characters."""
MAX_MAP_BYTES: Final = 1 << 20
"""Largest column-map file, in bytes."""

_COLUMN_SET: Final = frozenset(COLUMNS)
_CYCLES: Final = re.compile(r"[0-9]{1,9}", re.ASCII)
_YEARS: Final = re.compile(r"[0-9]{1,3}", re.ASCII)
_BOOLEANS: Final[Mapping[str, bool | None]] = {
    "yes": True,
    "true": True,
    "1": True,
    "no": False,
    "false": False,
    "0": False,
    "": None,
}
_BAND_NAMES: Final = {band.replace(" ", ""): band for band in AGE_BANDS}
_ETHNICITY_NAMES: Final = {group.casefold(): group for group in ETHNICITIES}
_HEALTH_NAMES: Final = {condition.casefold(): condition for condition in HEALTH}
_FREE_TEXT_SPACES: Final = str.maketrans("", "", "\t\n\r")
_SECTIONS: Final = ("columns", "values", "ignore", "comment")
_BOM: Final = codecs.BOM_UTF8


# -- use levels ---------------------------------------------------------------------------


def highest_use(levels: Mapping[str, bool | None] | Iterable[str]) -> str | None:
    """The most severe use level ticked, or ``None`` when none is ticked yes.

    ``levels`` is either a mapping from level to ``True`` (yes) / ``False`` (no) / ``None``
    (not stated) — :attr:`Account.uses` — or the names of the levels ticked yes (a set of
    levels a device log shows).  Example: ``highest_use({"drawn": True, "fired": True})``
    and ``highest_use(["drawn", "fired"])`` are both ``"fired"``.

    Raises:
        AccountsError: a name that is not one of :data:`USES`, or one ``str`` given where
            a collection of names is meant.
    """
    if isinstance(levels, str):
        raise AccountsError(
            f"{excerpt(levels)} is one name: give a collection of levels or a mapping",
            "highest_use",
        )
    if isinstance(levels, Mapping):
        names = list(levels)
        ticked = [name for name in names if levels[name] is True]
    else:
        names = ticked = list(levels)
    unknown = [name for name in names if name not in SEVERITY]
    if unknown:
        raise AccountsError(
            f"{excerpt(str(unknown[0]))} is not a CED use level (one of {', '.join(USES)})",
            "highest_use",
        )
    return max(ticked, key=SEVERITY.__getitem__, default=None)


def age_band(years: int) -> str:
    """The band of :data:`AGE_BANDS` an age in whole years falls in (``17`` → ``11-17``).

    Raises:
        AccountsError: ``years`` outside 0–:data:`MAX_AGE_YEARS`.
    """
    if isinstance(years, bool) or not isinstance(years, int) or not 0 <= years <= MAX_AGE_YEARS:
        raise AccountsError(
            f"{years!r} is not an age in whole years (0-{MAX_AGE_YEARS})", "age_band"
        )
    return next(
        band
        for band, floor in zip(AGE_BANDS[::-1], _BAND_FLOORS[::-1], strict=True)
        if years >= floor
    )


# -- the accounts -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Account:
    """One row of ``ACCOUNTS.csv``: one report's use of one device (or of no CED).

    The seven use levels are seven fields (``drawn`` … ``angle_drive_stun``, each ``True``
    yes, ``False`` no, ``None`` not stated) rather than one mapping field: each is then
    named and typed (``account.fired is True``; a misspelt level is a type error, not a
    missing key), the account stays hashable and compares field by field, and it is built
    with keywords like every other field.  :attr:`uses` gives them as a mapping, in
    :data:`USES` order, for code that loops over the levels.

    Attributes:
        report: the report's id (one officer's use of force on one subject).
        incident: the incident's id (several reports may share it).
        officer: the officer's id, as in the register.
        start_ms: when the use of force began, Unix milliseconds UTC.
        end_ms: when it ended, Unix milliseconds UTC; ``None`` when not given.
        device: the CED's canonical device serial; ``None`` when the report used no CED.
        cartridges: canonical serials of the cartridges fired, as listed.
        cycles: the total cycles (energy applications) the officer reports, or ``None``.
        cycle_extended: whether any cycle went beyond 5 seconds (``None``: not stated).
        subject_age: one of :data:`AGE_BANDS`, or ``None`` (not reported).
        subject_age_years: the age in years when the account gave one (then
            ``subject_age`` is its band), else ``None``.
        subject_gender: as recorded, or ``None``.
        subject_ethnicity: one of :data:`ETHNICITIES`, or ``None`` (not reported).
        subject_health: one of :data:`HEALTH`, or ``None`` (not reported).
        location: as recorded, or ``None``.
        reasons, impact_factors, outcome: the items recorded, in order.
        line: the 1-based line of the file the row starts on (the header is line 1); 0
            for an account not read from a file.  It says where the account was, not what
            it says, so it takes no part in comparing or hashing accounts.
    """

    report: str
    incident: str
    officer: str
    start_ms: int
    end_ms: int | None = None
    device: str | None = None
    drawn: bool | None = None
    aimed: bool | None = None
    red_dotted: bool | None = None
    arced: bool | None = None
    drive_stun: bool | None = None
    angle_drive_stun: bool | None = None
    fired: bool | None = None
    cartridges: tuple[str, ...] = ()
    cycles: int | None = None
    cycle_extended: bool | None = None
    subject_age: str | None = None
    subject_age_years: int | None = None
    subject_gender: str | None = None
    subject_ethnicity: str | None = None
    subject_health: str | None = None
    location: str | None = None
    reasons: tuple[str, ...] = ()
    impact_factors: tuple[str, ...] = ()
    outcome: tuple[str, ...] = ()
    line: int = field(default=0, compare=False)

    @property
    def uses(self) -> Mapping[str, bool | None]:
        """The seven use levels, in :data:`USES` order (highest first): ``True`` yes,
        ``False`` no, ``None`` not stated."""
        return MappingProxyType({use: getattr(self, use) for use in USES})

    @property
    def highest_use(self) -> str | None:
        """The most severe use ticked yes (:func:`highest_use`), or ``None``."""
        return highest_use(self.uses)


@dataclass(frozen=True, slots=True)
class Accounts:
    """An accounts file as read: where it was, what it was, and its accounts.

    Attributes:
        path: the path as given to :func:`read_accounts`.
        sha256: the SHA-256 of the file's bytes, lower-case hex.
        size: the file's size in bytes.
        accounts: the accounts, in file order.
    """

    path: str
    sha256: str
    size: int
    accounts: tuple[Account, ...]

    def __len__(self) -> int:
        return len(self.accounts)

    def __iter__(self) -> Iterator[Account]:
        return iter(self.accounts)


# -- values -------------------------------------------------------------------------------


class _Problem(Exception):
    """A value's problem, before the file and line are known."""


def _identifier(column: str, text: str) -> str:
    if not text:
        raise _Problem(f"{column} is empty")
    if len(text) > MAX_ID_CHARS:
        raise _Problem(f"{column} is {len(text)} characters long (at most {MAX_ID_CHARS})")
    if not text.isprintable():
        bad = next(c for c in text if not c.isprintable())
        raise _Problem(f"{column} {excerpt(text)} holds a control or invisible character {bad!r}")
    return text


def _free_problem(text: str) -> str | None:
    """Why ``text`` cannot be free text (a control or invisible character other than a tab
    or line break), or ``None``."""
    if text.isprintable() or text.translate(_FREE_TEXT_SPACES).isprintable():
        return None
    bad = next(c for c in text if not c.isprintable() and c not in "\t\n\r")
    return f"{excerpt(text)} holds a control or invisible character {bad!r}"


def _line_breaks(text: str) -> str:
    """Free text with every line break (CRLF, a lone CR) written ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _free(column: str, text: str) -> str | None:
    problem = _free_problem(text)
    if problem is not None:
        raise _Problem(f"{column} {problem}")
    return _line_breaks(text) or None


def _time(column: str, text: str) -> int | None:
    """An optional time (``end``): ``None`` when empty."""
    if not text:
        return None
    try:
        return parse_utc(text)
    except TimeTextError as error:
        raise _Problem(f"{column} {error}") from None


def _start(text: str) -> int:
    """``start``: a time that must be there."""
    if not text:
        raise _Problem("start is empty")
    try:
        return parse_utc(text)
    except TimeTextError as error:
        raise _Problem(f"start {error}") from None


def _boolean(column: str, text: str) -> bool | None:
    try:
        return _BOOLEANS[text.casefold()]
    except KeyError:
        raise _Problem(
            f"{column} {excerpt(text)} is not yes, no or empty (true/false/1/0 are read too)"
        ) from None


@lru_cache(maxsize=4096)
def _device(text: str) -> str | None:
    """A device serial as read (cached: a force's few hundred devices recur row after row)."""
    if not text:
        return None
    try:
        return DEVICE_SCHEME.validate(text)
    except SerialError as error:
        raise _Problem(f"device {error}") from None


@lru_cache(maxsize=4096)
def _cartridge(text: str) -> str:
    try:
        return CARTRIDGE_SCHEME.validate(text)
    except SerialError as error:
        raise _Problem(f"cartridges: {error}") from None


def _cycles(text: str) -> int | None:
    if not text:
        return None
    if not _CYCLES.fullmatch(text):
        raise _Problem(
            f"cycles {excerpt(text)} is not a whole number of cycles (ASCII digits, at most 9)"
        )
    return int(text)


def _age(text: str) -> tuple[str | None, int | None]:
    if not text:
        return None, None
    if _YEARS.fullmatch(text):
        years = int(text)
        if years <= MAX_AGE_YEARS:
            return age_band(years), years
    band = _BAND_NAMES.get(text.casefold().replace(" ", "").replace("\N{EN DASH}", "-"))
    if band is None:
        raise _Problem(
            f"subject_age {excerpt(text)} is not an age band ({', '.join(AGE_BANDS)}), "
            f"an age in whole years (0-{MAX_AGE_YEARS}) or empty"
        )
    return band, None


def _choice(column: str, text: str, names: Mapping[str, str], allowed: Sequence[str]) -> str | None:
    if not text:
        return None
    try:
        return names[text.casefold()]
    except KeyError:
        raise _Problem(
            f"{column} {excerpt(text)} is not one of {', '.join(allowed)} or empty"
        ) from None


def _list_item(column: str, text: str) -> str:
    """One item of a list column (:data:`LIST_COLUMNS`) as read."""
    if column == "cartridges":
        return _cartridge(text)
    problem = _free_problem(text)
    if problem is not None:
        raise _Problem(f"{column}: {problem}")
    return _line_breaks(text)


_SINGLE: Final[Mapping[str, Callable[[str], object]]] = {
    "report": partial(_identifier, "report"),
    "incident": partial(_identifier, "incident"),
    "officer": partial(_identifier, "officer"),
    "start": _start,
    "end": partial(_time, "end"),
    "device": _device,
    **{use: partial(_boolean, use) for use in USES},
    "cycles": _cycles,
    "cycle_extended": partial(_boolean, "cycle_extended"),
    "subject_age": _age,
    "subject_gender": partial(_free, "subject_gender"),
    "subject_ethnicity": partial(
        _choice, "subject_ethnicity", names=_ETHNICITY_NAMES, allowed=ETHNICITIES
    ),
    "subject_health": partial(_choice, "subject_health", names=_HEALTH_NAMES, allowed=HEALTH),
    "location": partial(_free, "location"),
}
"""How each column that holds one value is read (a value, or :class:`_Problem`)."""


def _check_value(column: str, text: str) -> None:
    """Raise :class:`_Problem` unless ``text`` reads as a value of ``column`` (a column
    map's value for a code)."""
    if column in LIST_COLUMNS:
        if ";" in text:
            raise _Problem(f"{excerpt(text)} holds ';': a code stands for one item")
        if text:
            _list_item(column, text)
    else:
        _SINGLE[column](text)


# -- column maps --------------------------------------------------------------------------


def _name(text: str) -> str:
    """A column name or code as compared: surrounding white space stripped, case folded."""
    return text.strip().casefold()


class ColumnMap(Mapping[str, str]):
    """How a force's export is read as the contract's columns (module docstring, "Column
    maps").  As a mapping it is the renaming: the force's column name → the contract column
    (looked up stripped and ignoring case; iterated as written).

    Args:
        columns: force column name → contract column name.
        values: contract column → {force code → contract value} (``""`` for empty).
        ignore: force column names to skip.
        source: what the map came from (its file), named in errors.

    Raises:
        AccountsError: naming ``source``: a name that is not a string, an unknown or
            repeated target, an empty code, a code given twice or one whose value the
            column refuses, a column both mapped and ignored.
    """

    __slots__ = ("_codes", "_ignored", "_names", "_source", "_targets")

    def __init__(
        self,
        columns: Mapping[str, str] | None = None,
        *,
        values: Mapping[str, Mapping[str, str]] | None = None,
        ignore: Iterable[str] = (),
        source: str = "column map",
    ) -> None:
        self._source = source
        self._names: dict[str, str] = {}  # folded force name -> force name as written
        self._targets: dict[str, str] = {}  # folded force name -> contract column
        mapped_from: dict[str, str] = {}  # contract column -> force name
        for name, target in (columns or {}).items():
            if not isinstance(name, str) or not name.strip():
                raise self._error(f"columns: {name!r} is not a column name")
            if not isinstance(target, str):
                raise self._error(
                    f"columns: {excerpt(name)} maps to {target!r}, not a column name (a string)"
                )
            folded, contract = _name(name), _name(target)
            if contract not in _COLUMN_SET:
                raise self._error(
                    f"columns: {excerpt(name)} maps to {excerpt(target)}, which is not an "
                    f"accounts column ({', '.join(COLUMNS)})"
                )
            if folded in self._names:
                raise self._error(
                    f"columns: {excerpt(self._names[folded])} and {excerpt(name)} are one "
                    "column (names are compared ignoring case and surrounding spaces)"
                )
            if contract in mapped_from:
                raise self._error(
                    f"columns: {excerpt(mapped_from[contract])} and {excerpt(name)} both "
                    f"map to {contract}"
                )
            self._names[folded] = name
            self._targets[folded] = contract
            mapped_from[contract] = name
        self._ignored: frozenset[str] = frozenset()
        if isinstance(ignore, str):
            raise self._error("ignore: a list of column names, not one string")
        ignored = set()
        for name in ignore:
            if not isinstance(name, str) or not name.strip():
                raise self._error(f"ignore: {name!r} is not a column name")
            if _name(name) in self._targets:
                raise self._error(f"ignore: {excerpt(name)} is mapped in columns too")
            ignored.add(_name(name))
        self._ignored = frozenset(ignored)
        self._codes: dict[str, Mapping[str, str]] = {}
        for column, codes in (values or {}).items():
            contract = _name(column) if isinstance(column, str) else ""
            if contract not in _COLUMN_SET:
                raise self._error(
                    f"values: {column!r} is not an accounts column ({', '.join(COLUMNS)}); "
                    "values are keyed by the contract's column names"
                )
            if contract in self._codes:
                raise self._error(f"values: {excerpt(column)} is given twice")
            if not isinstance(codes, Mapping):
                raise self._error(f"values: {contract}: {codes!r} is not an object of codes")
            table: dict[str, str] = {}
            for code, value in codes.items():
                if not isinstance(code, str) or not isinstance(value, str):
                    raise self._error(
                        f"values: {contract}: {code!r} → {value!r}: codes and values are strings"
                    )
                if not code.strip():
                    raise self._error(
                        f"values: {contract}: an empty code: an empty cell is not stated, "
                        "and a map does not say otherwise"
                    )
                if _name(code) in table:
                    raise self._error(
                        f"values: {contract}: code {excerpt(code)} is given twice "
                        "(codes are compared ignoring case and surrounding spaces)"
                    )
                try:
                    _check_value(contract, value.strip())
                except _Problem as problem:
                    raise self._error(
                        f"values: {contract}: code {excerpt(code)} stands for a value the "
                        f"column refuses: {problem}"
                    ) from None
                table[_name(code)] = value.strip()
            self._codes[contract] = MappingProxyType(table)

    def _error(self, message: str) -> AccountsError:
        return AccountsError(message, self._source)

    @property
    def source(self) -> str:
        """What the map came from (its file), as named in errors."""
        return self._source

    @property
    def codes(self) -> Mapping[str, Mapping[str, str]]:
        """Contract column → {code, stripped and case-folded → contract value}."""
        return MappingProxyType(self._codes)

    @property
    def ignored(self) -> frozenset[str]:
        """The force columns skipped, stripped and case-folded."""
        return self._ignored

    def contract_column(self, header: str) -> str | None:
        """The contract column a header cell names: the map's target, else the header
        itself when it is a contract column; ``None`` otherwise (ignored or unknown)."""
        folded = _name(header)
        target = self._targets.get(folded)
        if target is not None:
            return target
        return folded if folded in _COLUMN_SET and folded not in self._ignored else None

    def __getitem__(self, key: str) -> str:
        if not isinstance(key, str):
            raise KeyError(key)
        return self._targets[_name(key)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names.values())

    def __len__(self) -> int:
        return len(self._targets)

    def __repr__(self) -> str:
        codes = {column: dict(table) for column, table in self._codes.items()}
        return (
            f"ColumnMap({dict(self)!r}, values={codes!r}, ignore={sorted(self._ignored)!r}, "
            f"source={self._source!r})"
        )


def read_column_map(path: PathLike) -> ColumnMap:
    """The column map in the JSON file ``path`` (module docstring, "Column maps": a flat
    object of strings, or the sectioned ``columns`` / ``values`` / ``ignore`` form).

    Raises:
        AccountsError: naming the file (and the line, for bad JSON): it cannot be read, is
            over :data:`MAX_MAP_BYTES`, is not UTF-8 or not JSON, repeats a key in one
            object, or is not a map by the module docstring's rules.
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as stream:
            data = stream.read(MAX_MAP_BYTES + 1)
    except OSError as error:
        raise AccountsError(f"cannot read it: {error.strerror or error}", source) from None
    if len(data) > MAX_MAP_BYTES:
        raise AccountsError(f"over {MAX_MAP_BYTES} bytes: not a column map", source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise AccountsError(f"not UTF-8 text (byte {error.start + 1})", source) from None
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys(source))
    except json.JSONDecodeError as error:
        raise AccountsError(f"not JSON: {error.msg}", source, error.lineno) from None
    except RecursionError:
        raise AccountsError("not JSON this reader takes: nested too deeply", source) from None
    if not isinstance(document, dict):
        raise AccountsError(
            'a column map is a JSON object: {"Force column": "contract column", ...} or '
            '{"columns": {...}, "values": {...}, "ignore": [...]}',
            source,
        )
    if all(isinstance(value, str) for value in document.values()):
        return ColumnMap(document, source=source)
    unknown = [key for key in document if key not in _SECTIONS]
    if unknown:
        raise AccountsError(
            f"unknown key {excerpt(unknown[0])}: a map whose values are not all strings "
            f"is sectioned, with the keys {', '.join(_SECTIONS)}",
            source,
        )
    columns, values = document.get("columns", {}), document.get("values", {})
    ignore, comment = document.get("ignore", []), document.get("comment", "")
    if not isinstance(columns, dict):
        raise AccountsError("columns: an object of force column → contract column", source)
    if not isinstance(values, dict):
        raise AccountsError("values: an object of contract column → {code: value}", source)
    if not isinstance(ignore, list):
        raise AccountsError("ignore: a list of force column names", source)
    if not isinstance(comment, str):
        raise AccountsError("comment: a string", source)
    return ColumnMap(columns, values=values, ignore=ignore, source=source)


def _unique_keys(source: str) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    def pairs_to_dict(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise AccountsError(f"key {excerpt(key)} is given twice in one object", source)
            result[key] = value
        return result

    return pairs_to_dict


def _as_map(columns: Mapping[str, str] | None) -> ColumnMap:
    if columns is None:
        return ColumnMap()
    if isinstance(columns, ColumnMap):
        return columns
    return ColumnMap(columns, source="columns")


# -- reading ------------------------------------------------------------------------------


class _Lines:
    """A binary stream's lines as text, for :class:`csv.reader`: split after LF only, a
    byte-order mark at the start dropped, each line bounded, each row bounded (the reader
    marks where a row starts), the bytes hashed on the way."""

    def __init__(self, stream: IO[bytes], source: str) -> None:
        self._stream = stream
        self._source = source
        self.number = 0  # lines read so far
        self.size = 0
        self.digest = hashlib.sha256()
        self.row_start = 1  # the line the row being read starts on
        self._row_bytes = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def next_row(self) -> None:
        """The row being read ends here: the next line starts a new one."""
        self.row_start = self.number + 1
        self._row_bytes = 0

    def __next__(self) -> str:
        try:
            raw = self._stream.readline(MAX_LINE_BYTES + 1)
        except OSError as error:
            raise AccountsError(
                f"cannot read it: {error.strerror or error}", self._source, self.number + 1
            ) from None
        if not raw:
            raise StopIteration
        self.number += 1
        self.size += len(raw)
        self.digest.update(raw)
        if len(raw) > MAX_LINE_BYTES:
            raise AccountsError(
                f"longer than {MAX_LINE_BYTES} bytes: not an accounts file",
                self._source,
                self.number,
            )
        self._row_bytes += len(raw)
        if self._row_bytes > MAX_RECORD_BYTES:
            raise AccountsError(
                f"the row runs past {MAX_RECORD_BYTES} bytes (to line {self.number}): "
                "a quoted cell that is never closed?",
                self._source,
                self.row_start,
            )
        skip = len(_BOM) if self.number == 1 and raw.startswith(_BOM) else 0
        try:
            return raw[skip:].decode("utf-8") if skip else raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise AccountsError(
                f"not UTF-8 text (byte {error.start + skip + 1} of the line)",
                self._source,
                self.number,
            ) from None


def _cell(text: str) -> str:
    """A cell as written before :func:`~taserlink.spreadsheet.safe_cell`, stripped."""
    return (original_cell(text) if text[:1] == "'" else text).strip()


@dataclass(frozen=True, slots=True)
class _Layout:
    """A header resolved: where each contract column is, and the codes to apply."""

    width: int
    single: tuple[tuple[str, int], ...]
    """Each single-value column the file has, and its cell index."""
    lists: Mapping[str, int]
    """Each list column the file has, and its cell index."""
    codes: Mapping[str, Mapping[str, str]]

    def texts(self, cells: Sequence[str]) -> dict[str, str]:
        """Every single-value column → its text: neutralising undone, stripped, code
        applied (``""`` for a column the file does not have)."""
        texts = dict.fromkeys(_SINGLE, "")
        texts.update((column, _cell(cells[at])) for column, at in self.single)
        for column, table in self.codes.items():
            if column in texts:
                texts[column] = table.get(texts[column].casefold(), texts[column])
        return texts

    def items(self, cells: Sequence[str], column: str) -> list[str]:
        """The items of a list column: split at ``;``, stripped, codes applied, blanks
        dropped."""
        at = self.lists.get(column)
        return [] if at is None else _items(cells[at], self.codes.get(column))


def _items(cell: str, codes: Mapping[str, str] | None) -> list[str]:
    """The items of a list cell: split at ``;``, stripped, ``codes`` applied, blanks
    dropped."""
    if not cell:
        return []
    parts = (part.strip() for part in _cell(cell).split(";"))
    if codes is not None:
        parts = (codes.get(part.casefold(), part) for part in parts)
    return [part for part in parts if part]


def _layout(cells: Sequence[str], columns: ColumnMap, source: str, line: int) -> _Layout:
    """The header row resolved (the first problem: no contract column at all, a nameless
    column, one given twice, unknown ones, missing ones)."""
    named = [columns.contract_column(cell) for cell in cells]
    if not any(named):
        raise AccountsError(
            "no accounts column in the header: the first line must be the header row "
            f"({', '.join(COLUMNS)}), or a column map must name the file's columns",
            source,
            line,
        )
    index: dict[str, int] = {}
    unknown: list[str] = []
    for position, (cell, column) in enumerate(zip(cells, named, strict=True)):
        if not cell.strip():
            raise AccountsError(f"column {position + 1} of the header has no name", source, line)
        if column is None:
            if _name(cell) not in columns.ignored:
                unknown.append(f"{excerpt(cell.strip())} (column {position + 1})")
        elif column in index:
            raise AccountsError(
                f"columns {index[column] + 1} and {position + 1} are both {column}", source, line
            )
        else:
            index[column] = position
    if unknown:
        raise AccountsError(
            f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown[:5])}"
            f"{' …' if len(unknown) > 5 else ''}: the accounts columns are "
            f"{', '.join(COLUMNS)} (a column map can rename or ignore a force's own)",
            source,
            line,
        )
    missing = [column for column in REQUIRED if column not in index]
    if missing:
        renamed = [f"{excerpt(n)} → {columns[n]}" for n in columns if columns[n] in missing]
        hint = f" (the column map renames {', '.join(renamed)})" if renamed else ""
        raise AccountsError(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}{hint}",
            source,
            line,
        )
    single = tuple((c, at) for c, at in index.items() if c not in LIST_COLUMNS)
    lists = {c: at for c, at in index.items() if c in LIST_COLUMNS}
    return _Layout(len(cells), single, lists, columns.codes)


def _account(cells: Sequence[str], layout: _Layout, line: int) -> Account:
    """One row as an :class:`Account` (:class:`_Problem` for a bad value)."""
    text = layout.texts(cells).__getitem__
    report = _identifier("report", text("report"))
    incident = _identifier("incident", text("incident"))
    officer = _identifier("officer", text("officer"))
    start_text, end_text = text("start"), text("end")
    start = _start(start_text)
    end = _time("end", end_text)
    if end is not None and end < start:
        raise _Problem(f"end {excerpt(end_text)} is before start {excerpt(start_text)}")
    device = _device(text("device"))
    uses = {use: _boolean(use, text(use)) for use in COLUMNS[6:13]}
    cartridges = tuple(_cartridge(item) for item in layout.items(cells, "cartridges"))
    if len(set(cartridges)) != len(cartridges):
        twice = next(c for i, c in enumerate(cartridges) if c in cartridges[:i])
        raise _Problem(f"cartridges: {twice} is listed twice")
    cycles = _cycles(text("cycles"))
    cycle_extended = _boolean("cycle_extended", text("cycle_extended"))
    band, years = _age(text("subject_age"))
    return Account(
        report=report,
        incident=incident,
        officer=officer,
        start_ms=start,
        end_ms=end,
        device=device,
        **uses,
        cartridges=cartridges,
        cycles=cycles,
        cycle_extended=cycle_extended,
        subject_age=band,
        subject_age_years=years,
        subject_gender=_free("subject_gender", text("subject_gender")),
        subject_ethnicity=_choice(
            "subject_ethnicity", text("subject_ethnicity"), _ETHNICITY_NAMES, ETHNICITIES
        ),
        subject_health=_choice("subject_health", text("subject_health"), _HEALTH_NAMES, HEALTH),
        location=_free("location", text("location")),
        reasons=tuple(_list_item("reasons", i) for i in layout.items(cells, "reasons")),
        impact_factors=tuple(
            _list_item("impact_factors", i) for i in layout.items(cells, "impact_factors")
        ),
        outcome=tuple(_list_item("outcome", i) for i in layout.items(cells, "outcome")),
        line=line,
    )


def _show(value: object) -> str:
    if value is None:
        return "empty"
    return excerpt(value) if isinstance(value, str) else str(value)


_SHARED: Final[tuple[tuple[str, Callable[[Account], object], Callable[[Any], str]], ...]] = (
    ("incident", lambda a: a.incident, _show),
    ("officer", lambda a: a.officer, _show),
    ("start", lambda a: a.start_ms, utc_text),
    ("end", lambda a: a.end_ms, lambda ms: "empty" if ms is None else utc_text(ms)),
    (
        "subject_age",
        lambda a: (a.subject_age, a.subject_age_years),
        lambda v: _show(v[0] if v[1] is None else v[1]),
    ),
    ("subject_gender", lambda a: a.subject_gender, _show),
    ("subject_ethnicity", lambda a: a.subject_ethnicity, _show),
    ("subject_health", lambda a: a.subject_health, _show),
)
"""What the rows of one report must agree on: (column, its value, how a message shows it)."""


class _Reports:
    """The rules across rows: one row per report and device, one report's rows agreeing."""

    def __init__(self) -> None:
        self._first: dict[str, tuple[Account, int]] = {}
        self._rows: dict[tuple[str, str | None], int] = {}

    def problem(self, account: Account, line: int) -> str | None:
        """Why ``account`` (on ``line``) cannot follow the rows seen, or ``None`` (then it
        is taken as seen)."""
        report = account.report
        earlier = self._rows.get((report, account.device))
        if earlier is not None:
            what = "no device" if account.device is None else f"device {account.device}"
            return (
                f"report {excerpt(report)} with {what} is on line {earlier} already "
                "(one row per report and device)"
            )
        first = self._first.get(report)
        if first is None:
            self._first[report] = (account, line)
        else:
            other, other_line = first
            for column, value, show in _SHARED:
                mine, theirs = value(account), value(other)
                if mine != theirs:
                    return (
                        f"report {excerpt(report)} has {column} {show(mine)} here but "
                        f"{show(theirs)} on line {other_line} (the rows of one report must "
                        "agree on incident, officer, start, end and the subject)"
                    )
        self._rows[(report, account.device)] = line
        return None


def _csv_reason(error: csv.Error) -> str:
    text = str(error)
    if text.startswith("new-line character seen in unquoted field"):
        return "a carriage return inside an unquoted cell (lines must end with LF or CRLF)"
    if text == "unexpected end of data":
        return "a quoted cell is not closed before the end of the file"
    return text


def _is_blank(cells: Sequence[str]) -> bool:
    return all(not cell.strip() for cell in cells)


def read_accounts(path: PathLike, *, columns: Mapping[str, str] | None = None) -> Accounts:
    """The accounts in ``path`` (``ACCOUNTS.csv``, or a force's export read through a
    column map), by the rules of the module docstring.

    Args:
        path: the file.
        columns: a column map: a :class:`ColumnMap` (:func:`read_column_map`; its value
            codes apply too) or a plain mapping of force column name → contract column.

    Returns:
        The file's path, SHA-256 and size, and its accounts in file order.

    Raises:
        AccountsError: the file and line of the first problem (the whole file when no line
            is to blame: it cannot be opened, it is empty); the map's source for a bad
            ``columns``.
    """
    source = os.fspath(path)
    column_map = _as_map(columns)
    try:
        stream = open(source, "rb")  # noqa: SIM115 - closed below, also on a bad header
    except OSError as error:
        raise AccountsError(f"cannot read it: {error.strerror or error}", source) from None
    with stream:
        lines = _Lines(stream, source)
        accounts = list(_read(lines, source, column_map))
        return Accounts(source, lines.digest.hexdigest(), lines.size, tuple(accounts))


def _read(lines: _Lines, source: str, column_map: ColumnMap) -> Iterator[Account]:
    reader = csv.reader(lines, strict=True)
    layout: _Layout | None = None
    blank_at: int | None = None
    reports = _Reports()
    try:
        for cells in reader:
            line = lines.row_start
            lines.next_row()
            if _is_blank(cells):
                blank_at = line if blank_at is None else blank_at
                continue
            if blank_at is not None:
                where = "data lines" if layout is not None else "the top and the header row"
                raise AccountsError(
                    f"blank line between {where} (blank lines are allowed only at the end)",
                    source,
                    blank_at,
                )
            if layout is None:
                layout = _layout(cells, column_map, source, line)
                continue
            if len(cells) != layout.width:
                raise AccountsError(
                    f"{len(cells)} cells, the header has {layout.width}", source, line
                )
            try:
                account = _account(cells, layout, line)
            except _Problem as bad:
                raise AccountsError(str(bad), source, line) from None
            clash = reports.problem(account, line)
            if clash is not None:
                raise AccountsError(clash, source, line)
            yield account
    except csv.Error as error:
        line = lines.row_start
        runs = "" if lines.number <= line else f" (the row runs to line {lines.number})"
        raise AccountsError(f"malformed CSV: {_csv_reason(error)}{runs}", source, line) from None
    if layout is None:
        raise AccountsError("empty: a header row is needed", source)


# -- writing ------------------------------------------------------------------------------


def _yes_no(value: bool | None) -> str:
    return "" if value is None else "yes" if value else "no"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text_problem(column: str, value: object, *, identifier: bool) -> str | None:
    if not isinstance(value, str):
        return f"{column} is {value!r}, not a string"
    if value != value.strip():
        return f"{column} {excerpt(value)} has surrounding white space, which a reader drops"
    if identifier:
        try:
            _identifier(column, value)
        except _Problem as bad:
            return str(bad)
        return None
    if not value:
        return f"{column} is empty: None stands for no value"
    if "\r" in value:
        return (
            f"{column} {excerpt(value)} holds a carriage return: a reader reads line breaks as \\n"
        )
    problem = _free_problem(value)
    return None if problem is None else f"{column} {problem}"


def _unwritable(account: Account) -> str | None:
    """Why ``account`` cannot be written so that it reads back the same, or ``None``."""
    for column in ("report", "incident", "officer"):
        problem = _text_problem(column, getattr(account, column), identifier=True)
        if problem:
            return problem
    for column, ms in (("start_ms", account.start_ms), ("end_ms", account.end_ms)):
        if ms is None and column == "end_ms":
            continue
        if not isinstance(ms, int) or isinstance(ms, bool) or utc_iso(ms) is None:
            return f"{column} {ms!r} is not a time in Unix ms within years 1-9999"
    if account.end_ms is not None and account.end_ms < account.start_ms:
        return "end_ms is before start_ms"
    if account.device is not None and (
        not isinstance(account.device, str) or DEVICE_SCHEME.problem(account.device)
    ):
        return f"device {account.device!r} is not a canonical device serial"
    for column in (*USES, "cycle_extended"):
        if getattr(account, column) not in (True, False, None):
            return f"{column} is {getattr(account, column)!r}: True, False or None"
    if not isinstance(account.cartridges, tuple) or any(
        not isinstance(c, str) or CARTRIDGE_SCHEME.problem(c) for c in account.cartridges
    ):
        return f"cartridges {account.cartridges!r} are not canonical cartridge serials (a tuple)"
    if len(set(account.cartridges)) != len(account.cartridges):
        return "cartridges: a serial is listed twice"
    if account.cycles is not None and not (_is_int(account.cycles) and 0 <= account.cycles < 10**9):
        return f"cycles {account.cycles!r} is not a whole number 0-999999999"
    years, band = account.subject_age_years, account.subject_age
    if years is not None:
        if not _is_int(years) or not 0 <= years <= MAX_AGE_YEARS:
            return f"subject_age_years {years!r} is not a whole number 0-{MAX_AGE_YEARS}"
        if band != age_band(years):
            return f"subject_age {band!r} is not the band of {years} years ({age_band(years)})"
    elif band is not None and band not in AGE_BANDS:
        return f"subject_age {band!r} is not one of {', '.join(AGE_BANDS)}"
    if account.subject_ethnicity not in (None, *ETHNICITIES):
        return f"subject_ethnicity {account.subject_ethnicity!r} is not one of {ETHNICITIES}"
    if account.subject_health not in (None, *HEALTH):
        return f"subject_health {account.subject_health!r} is not one of {HEALTH}"
    for column in ("subject_gender", "location"):
        value = getattr(account, column)
        if value is not None:
            problem = _text_problem(column, value, identifier=False)
            if problem:
                return problem
    for column in ("reasons", "impact_factors", "outcome"):
        items = getattr(account, column)
        if not isinstance(items, tuple):
            return f"{column} is {items!r}, not a tuple"
        for item in items:
            problem = _text_problem(column, item, identifier=False)
            if problem:
                return problem
            if ";" in item:
                return f"{column} item {excerpt(item)} holds ';', which separates items"
    return None


def _cells(account: Account) -> list[str]:
    """The account's row, in :data:`COLUMNS` order."""
    start = utc_iso(account.start_ms)
    end = "" if account.end_ms is None else utc_iso(account.end_ms)
    age = (
        account.subject_age_years if account.subject_age_years is not None else account.subject_age
    )
    return [
        account.report,
        account.incident,
        account.officer,
        start or "",
        end or "",
        account.device or "",
        *(_yes_no(getattr(account, use)) for use in COLUMNS[6:13]),
        ";".join(account.cartridges),
        "" if account.cycles is None else str(account.cycles),
        _yes_no(account.cycle_extended),
        "" if age is None else str(age),
        account.subject_gender or "",
        account.subject_ethnicity or "",
        account.subject_health or "",
        account.location or "",
        ";".join(account.reasons),
        ";".join(account.impact_factors),
        ";".join(account.outcome),
    ]


def write_accounts(accounts: Iterable[Account], path: PathLike) -> None:
    """Write ``accounts`` to ``path`` as ``ACCOUNTS.csv``: a header of :data:`COLUMNS`, one
    row each, in the order given (module docstring, "Writing"), atomically
    (:func:`taserlink.atomic.write_atomic`: a reader sees the old file or the new one; a
    replaced file keeps its permissions).  ``read_accounts(path).accounts`` then equals
    ``tuple(accounts)``.

    Raises:
        AccountsError: naming ``path`` and the line the account would have had: an account
            the reader would refuse or read differently (a non-canonical serial or value,
            text with surrounding white space, a list item holding ``;``, an end before
            its start, a report and device twice, a report whose rows disagree); nothing
            is written.
        OutputPathError: ``path`` is a link, a device node, a FIFO, a socket, a folder or
            an existing ``.tdi`` image; nothing is written.
        OSError: the file cannot be written (a missing or read-only folder, a full disk);
            an old file there is unchanged.
    """
    target = os.fspath(path)
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(COLUMNS)
    reports = _Reports()
    line = 2
    for account in accounts:
        if not isinstance(account, Account):
            raise AccountsError(f"{account!r} is not an Account", target, line)
        problem = _unwritable(account) or reports.problem(account, line)
        if problem is not None:
            raise AccountsError(f"cannot write this account: {problem}", target, line)
        cells = _cells(account)
        writer.writerow(cells)
        line += 1 + sum(cell.count("\n") for cell in cells)
    write_atomic(target, out.getvalue().encode("utf-8"))
