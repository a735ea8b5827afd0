"""The resident population of a force area by ethnic group (**contract**, README
"Population table"): ``POPULATION.csv`` read (:func:`read_population`), and the census 2011
figures for the Derbyshire police force area bundled (:data:`DERBYSHIRE_2011`).

**Reading** (every problem is a :class:`~taserlink.errors.PopulationError` naming the file
and the line, ``POPULATION.csv:4: population '10,090' is not a whole number …``; the first
problem in file order is the one reported):

- *Text*: UTF-8, a leading byte-order mark tolerated; LF or CRLF line ends; CSV with ``"``
  quoting; at most :data:`MAX_BYTES` bytes (a population table is a few lines).  Its
  SHA-256 is kept (:attr:`Population.sha256`), so a pack can say which table it used.
- *Header*: the first line holds exactly the two columns ``group`` and ``population``, in
  either order, names compared after stripping white space and ignoring case.
- *Rows*: as many cells as the header; blank lines only at the end.  ``group`` is one of
  :data:`GROUPS`, compared ignoring case and surrounding white space (kept spelt as
  :data:`GROUPS` spells it); ``population`` a whole number of people of ASCII digits
  (no sign, separator or decimal point: ``949845``, not ``949,845``), from 1 to
  :data:`MAX_POPULATION`.  A cell that :func:`taserlink.spreadsheet.safe_cell` neutralised
  is read back as it was.
- *All five groups, each once.*  A group given twice is refused (naming both lines), and so
  is a table without one of the five: a rate needs its group's population, and a table that
  leaves a group out most likely came from the wrong source — taserlink does not guess a
  population.  A population of 0 is refused too: no rate can be taken against it.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, TypeAlias

from taserlink.errors import PopulationError, excerpt
from taserlink.postuse.accounts import ETHNICITIES
from taserlink.spreadsheet import original_cell

__all__ = [
    "DERBYSHIRE_2011",
    "GROUPS",
    "MAX_BYTES",
    "MAX_POPULATION",
    "Population",
    "population_csv",
    "read_population",
]

PathLike: TypeAlias = str | os.PathLike[str]

GROUPS: Final = ETHNICITIES
"""The five ethnic groups of the published tables and the census, in the tables' order:
White, Black, Asian, Mixed, Other."""
MAX_BYTES: Final = 65_536
"""The largest population file read (the contract's table is six short lines)."""
MAX_POPULATION: Final = 9_999_999_999
"""The largest population a group may have (ten digits: more than any force area holds)."""

_COLUMNS: Final = ("group", "population")
_DIGITS: Final = re.compile(r"[0-9]{1,10}", re.ASCII)
_NAMES: Final = {group.casefold(): group for group in GROUPS}
_BOM: Final = codecs.BOM_UTF8


@dataclass(frozen=True, slots=True)
class Population:
    """A force area's resident population by ethnic group.

    Attributes:
        path: the file it was read from (or, for a bundled table, its name).
        sha256: the SHA-256 of the file's bytes (hex), for the provenance of a pack.
        counts: group → people, for each of :data:`GROUPS`, in that order (read-only).
        note: where the figures come from, when known (empty for a file read).
        size: the file's size in bytes (``None`` for a table not read from a file).

    Raises:
        PopulationError: naming ``path``, when ``counts`` does not hold each of the five
            groups exactly once with a whole number of people from 1 to
            :data:`MAX_POPULATION`.
    """

    path: str
    sha256: str
    counts: Mapping[str, int] = field(hash=False)
    note: str = ""
    size: int | None = None

    def __post_init__(self) -> None:
        given = dict(self.counts)
        missing = [group for group in GROUPS if group not in given]
        unknown = [group for group in given if group not in GROUPS]
        if missing or unknown:
            raise PopulationError(
                f"the groups must be {', '.join(GROUPS)}, each once"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(map(repr, unknown))}" if unknown else ""),
                self.path,
            )
        for group in GROUPS:
            people = given[group]
            if (
                not isinstance(people, int)
                or isinstance(people, bool)
                or not 1 <= people <= MAX_POPULATION
            ):
                raise PopulationError(
                    f"population of {group} {people!r} is not a whole number of people "
                    f"from 1 to {MAX_POPULATION}",
                    self.path,
                )
        ordered = MappingProxyType({group: given[group] for group in GROUPS})
        object.__setattr__(self, "counts", ordered)

    @property
    def total(self) -> int:
        """The whole population: the five groups' sum (people)."""
        return sum(self.counts.values())

    def __getitem__(self, group: str) -> int:
        """The population of ``group`` (one of :data:`GROUPS`, case ignored).

        Raises:
            KeyError: ``group`` is not one of the five.
        """
        return self.counts[_NAMES.get(group.strip().casefold(), group)]


def population_csv(counts: Mapping[str, int]) -> bytes:
    """``counts`` (group → people) as a ``POPULATION.csv`` file's bytes, in the canonical
    form: header ``group,population``, one row per group in :data:`GROUPS` order, UTF-8,
    lines ending ``\\n``.  :func:`read_population` reads it back as the same counts; the
    bundled ``captures/population/derbyshire-2011.csv`` is exactly this for
    :data:`DERBYSHIRE_2011`.

    Raises:
        PopulationError: the counts are not five groups of whole positive numbers
            (as :class:`Population` checks).
    """
    checked = Population("population", "", counts).counts
    lines = ["group,population", *(f"{group},{people}" for group, people in checked.items())]
    return ("\n".join(lines) + "\n").encode("utf-8")


def read_population(path: PathLike) -> Population:
    """The population table in ``path`` (``POPULATION.csv``; module docstring).

    Raises:
        PopulationError: naming the file and line: the file cannot be read, is over
            :data:`MAX_BYTES`, is not UTF-8 or not CSV; the header is not ``group`` and
            ``population``; a row has the wrong number of cells, an unknown or repeated
            group, or a population that is not a whole number from 1 to
            :data:`MAX_POPULATION`; a group is missing.
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as error:
        raise PopulationError(f"cannot read it: {error.strerror or error}", source) from None
    if len(data) > MAX_BYTES:
        raise PopulationError(f"over {MAX_BYTES} bytes: not a population table", source)
    digest = hashlib.sha256(data).hexdigest()
    body = data[len(_BOM) :] if data.startswith(_BOM) else data
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        line = body[: error.start].count(b"\n") + 1
        raise PopulationError("not UTF-8 text", source, line) from None
    counts: dict[str, int] = {}
    lines_of: dict[str, int] = {}
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    layout: tuple[int, int] | None = None
    blank_from: int | None = None
    try:
        for cells in reader:
            line = _row_start(reader.line_num, cells)
            if layout is None:
                layout = _header(cells, source, line)
                continue
            if not any(cell.strip() for cell in cells):
                blank_from = blank_from or line
                continue
            if blank_from is not None:
                raise PopulationError(
                    f"a blank line (line {blank_from}) before more rows: blank lines are "
                    "allowed only at the end",
                    source,
                    line,
                )
            if len(cells) != 2:
                raise PopulationError(
                    f"{len(cells)} cells where the header has 2 (group, population)", source, line
                )
            group = _group(_cell(cells[layout[0]]), source, line)
            if group in counts:
                raise PopulationError(
                    f"group {group} is given twice (lines {lines_of[group]} and {line})",
                    source,
                    line,
                )
            counts[group] = _people(_cell(cells[layout[1]]), group, source, line)
            lines_of[group] = line
    except csv.Error as error:
        raise PopulationError(f"not CSV: {error}", source, reader.line_num) from None
    if layout is None:
        raise PopulationError(
            "empty: a population table has the header group,population and a row per group",
            source,
        )
    missing = [group for group in GROUPS if group not in counts]
    if missing:
        raise PopulationError(
            f"no population for {', '.join(missing)}: the table must give all five groups "
            f"({', '.join(GROUPS)})",
            source,
        )
    return Population(source, digest, counts, size=len(data))


def _row_start(line_num: int, cells: list[str]) -> int:
    """The line a row starts on (a quoted cell may run over several lines)."""
    return line_num - sum(cell.count("\n") for cell in cells)


def _cell(text: str) -> str:
    return (original_cell(text) if text[:1] == "'" else text).strip()


def _header(cells: list[str], source: str, line: int) -> tuple[int, int]:
    """Where ``group`` and ``population`` are."""
    names = [cell.strip().casefold() for cell in cells]
    if sorted(names) != sorted(_COLUMNS):
        shown = ", ".join(excerpt(cell.strip()) for cell in cells)
        raise PopulationError(
            f"the header must be group,population (in either order), not {shown}",
            source,
            line,
        )
    return names.index("group"), names.index("population")


def _group(text: str, source: str, line: int) -> str:
    group = _NAMES.get(text.casefold())
    if group is None:
        raise PopulationError(
            f"group {excerpt(text)} is not one of {', '.join(GROUPS)}", source, line
        )
    return group


def _people(text: str, group: str, source: str, line: int) -> int:
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_POPULATION:
        raise PopulationError(
            f"population of {group} {excerpt(text)} is not a whole number of people from 1 "
            f"to {MAX_POPULATION} (ASCII digits, no separators: 949845, not 949,845)",
            source,
            line,
        )
    return int(text)


_DERBYSHIRE_2011_COUNTS: Final = {
    "White": 949_845,
    "Black": 10_090,
    "Asian": 39_890,
    "Mixed": 14_351,
    "Other": 4_262,
}

DERBYSHIRE_2011: Final = Population(
    path="derbyshire-2011.csv",
    sha256=hashlib.sha256(population_csv(_DERBYSHIRE_2011_COUNTS)).hexdigest(),
    counts=_DERBYSHIRE_2011_COUNTS,
    size=len(population_csv(_DERBYSHIRE_2011_COUNTS)),
    note=(
        "Census 2011 (Office for National Statistics), usual resident population of the "
        "Derbyshire police force area by ethnic group, the five broad groups (all 1,018,438), "
        "as the Home Office's use-of-force statistics set rates against it; figures as given "
        "in the project's shared README. Bundled as captures/population/derbyshire-2011.csv."
    ),
)
"""The census 2011 population of the Derbyshire police force area by ethnic group (White
949,845; Black 10,090; Asian 39,890; Mixed 14,351; Other 4,262; all 1,018,438).  Its
``sha256`` is that of its canonical file (:func:`population_csv`), which is the bundled
``captures/population/derbyshire-2011.csv``."""
