"""The store-room files (**contract**, README "Store-room files"): ``officers.csv``,
``devices.csv``, ``cartridges.csv``.

CSV with a header row (columns in any order, names compared ignoring case and surrounding
spaces; no column missing, none unknown), UTF-8 (a byte-order mark allowed), dates ISO 8601
(``2026-03-06``, ASCII digits).  Every problem is a :class:`RegisterError` naming the file
and line; a file is read whole before anything is stored, so nothing of a bad file is kept.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from collections.abc import Iterator
from typing import Final

from taserlink.errors import RegisterError, excerpt

__all__ = ["COLUMNS", "parse_date", "read_cartridges", "read_devices", "read_officers"]

COLUMNS: Final = {
    "officers": ("officer", "name", "station", "initial_course", "last_refresher", "suspended"),
    "devices": ("serial", "model", "firmware"),
    "cartridges": ("serial", "lot", "expires"),
}
"""Each store-room file's columns (**contract**)."""
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)

OfficerRow = tuple[str, str, str, dt.date | None, dt.date | None, str | None]


def read_officers(path: str | os.PathLike[str]) -> list[OfficerRow]:
    """``officers.csv`` as ``(officer, name, station, initial, last refresher, suspended)``.

    Raises:
        RegisterError: the file and line of the first problem.
    """
    rows = []
    for where, row in _rows(path, "officers"):
        officer, name, station = (_text(where, row, c) for c in ("officer", "name", "station"))
        initial = _date(where, row["initial_course"], empty=True)
        refresher = _date(where, row["last_refresher"], empty=True)
        if refresher is not None and initial is None:
            raise RegisterError(f"{where}: a last_refresher without an initial_course")
        if initial is not None and refresher is not None and refresher < initial:
            raise RegisterError(f"{where}: last_refresher {refresher} before initial_course")
        rows.append((officer, name, station, initial, refresher, row["suspended"].strip() or None))
    return rows


def read_devices(path: str | os.PathLike[str]) -> list[tuple[str, str, str]]:
    """``devices.csv`` as ``(serial, model, firmware)`` (serials checked when stored).

    Raises:
        RegisterError: the file and line of the first problem.
    """
    return [
        (_text(w, r, "serial"), r["model"].strip(), r["firmware"].strip())
        for w, r in _rows(path, "devices")
    ]


def read_cartridges(path: str | os.PathLike[str]) -> list[tuple[str, str, dt.date]]:
    """``cartridges.csv`` as ``(serial, lot, expires)``.

    Raises:
        RegisterError: the file and line of the first problem.
    """
    rows = []
    for where, row in _rows(path, "cartridges"):
        expires = _date(where, row["expires"], empty=False)
        assert expires is not None
        rows.append((_text(where, row, "serial"), row["lot"].strip(), expires))
    return rows


def _rows(path: str | os.PathLike[str], kind: str) -> Iterator[tuple[str, dict[str, str]]]:
    """``(file:line, row by column)`` of a store-room file, header checked."""
    name = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise RegisterError(f"{name}: cannot read it: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RegisterError(f"{name}: not UTF-8 (byte {error.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise RegisterError(f"{name}: empty: a header row is needed")
        columns = [c.strip().casefold() for c in header]
        wanted = COLUMNS[kind]
        unknown = [c for c in columns if c not in wanted]
        missing = [c for c in wanted if c not in columns]
        if unknown or missing or len(set(columns)) != len(columns):
            said = "; ".join(
                part
                for part in (
                    unknown and f"unknown column(s) {', '.join(map(excerpt, unknown))}",
                    missing and f"missing column(s) {', '.join(missing)}",
                    len(set(columns)) != len(columns) and "a column given twice",
                )
                if part
            )
            raise RegisterError(f"{name}:1: {said} (the {kind} file has {', '.join(wanted)})")
        for values in reader:
            where = f"{name}:{reader.line_num}"
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(columns):
                raise RegisterError(f"{where}: {len(values)} values for {len(columns)} columns")
            yield where, dict(zip(columns, values, strict=True))
    except csv.Error as error:
        raise RegisterError(f"{name}:{reader.line_num}: {error}") from None


def _text(where: str, row: dict[str, str], column: str) -> str:
    value = row[column].strip()
    if not value:
        raise RegisterError(f"{where}: {column} is empty")
    return value


def parse_date(text: str) -> dt.date:
    """An ISO 8601 date written ``2026-03-06`` (ASCII digits; no other form).

    Raises:
        RegisterError: anything else, naming it.
    """
    value = text.strip()
    if not _DATE.fullmatch(value):
        raise RegisterError(f"{excerpt(value)} is not a date like 2026-03-06")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise RegisterError(f"{value}: {error}") from None


def _date(where: str, text: str, *, empty: bool) -> dt.date | None:
    if not text.strip() and empty:
        return None
    try:
        return parse_date(text)
    except RegisterError as error:
        raise RegisterError(f"{where}: {error}") from None
