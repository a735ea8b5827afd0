"""The oversight group's scrutiny pack (design §8, ``taserlink scrutiny``): one
self-contained ``index.html`` with its plots inline, every table as CSV, and
``scrutiny.json`` holding every figure.

Everything the pack shows comes from :func:`taserlink.returns.scrutiny.pack_tables` (and
:func:`~taserlink.returns.scrutiny.pack_rates`): the plots are drawn from the tables'
cells as shown, so a public pack's plot never shows a number its table withholds.  The
same figures give the same bytes in every file: no time of writing is recorded (the
inputs are named by their SHA-256 instead, in the provenance block of ``scrutiny.json`` and
the page's "Made from", and ``provenance.json`` names every file of the pack by its SHA-256:
docs/provenance.md).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from taserlink.atomic import make_folder, write_atomic
from taserlink.provenance import (
    FOLDER_NAME,
    Output,
    Provenance,
    make_provenance,
    write_provenance,
)
from taserlink.report import plots
from taserlink.report.html import escape, page, table
from taserlink.returns.counting import HIGHEST_USE_ROWS
from taserlink.returns.rates import REFERENCE
from taserlink.returns.scrutiny import (
    DISCHARGES,
    PackTable,
    Scrutiny,
    pack_rates,
    pack_tables,
)
from taserlink.returns.suppress import PRIMARY, WITHHELD
from taserlink.spreadsheet import csv_writer

__all__ = [
    "INDEX",
    "JSON_NAME",
    "ScrutinyPack",
    "build_pack",
    "summary",
    "write_pack",
]

INDEX: Final = "index.html"
"""The pack's page."""
JSON_NAME: Final = "scrutiny.json"
"""The pack's figures as JSON."""


@dataclass(frozen=True, slots=True)
class ScrutinyPack:
    """A pack ready to write: each file's name and bytes, the page first, then the CSV
    tables in page order, then ``scrutiny.json``; and the provenance block the page and
    ``scrutiny.json`` show (:func:`write_pack` writes it with every file's SHA-256 as
    ``provenance.json``)."""

    files: tuple[tuple[str, bytes], ...]
    provenance: Provenance | None = None

    def file(self, name: str) -> bytes:
        """The bytes of the file ``name``; ``KeyError`` if the pack has none."""
        for found, data in self.files:
            if found == name:
                return data
        raise KeyError(name)


def _csv(pack_table: PackTable) -> bytes:
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(pack_table.header)
    writer.writerows(pack_table.rows)
    return out.getvalue().encode("utf-8")


def _json_cell(cell: str) -> str | int:
    return int(cell) if cell.isdigit() else cell


def _figures(
    scrutiny: Scrutiny, tables: Sequence[PackTable], public: bool, provenance: Provenance
) -> dict[str, Any]:
    return {
        "year": scrutiny.year,
        "period": {"from": f"{scrutiny.year}-04-01", "to": f"{scrutiny.year + 1}-03-31"},
        "public": public,
        "uses": _json_cell(next(t for t in tables if t.name == "ced-by-highest-use").rows[-1][1]),
        "rates": list(pack_rates(scrutiny, public=public)),
        "tables": {
            t.name: {
                "title": t.title,
                "header": list(t.header),
                "rows": [[_json_cell(c) for c in row] for row in t.rows],
            }
            for t in tables
        },
        "provenance": provenance.as_dict(),
    }


def _by_name(tables: Sequence[PackTable]) -> dict[str, PackTable]:
    return {t.name: t for t in tables}


def _plot(pack_table: PackTable, public: bool) -> str:
    """The plot of one table, or '' for a list or the rates (drawn by :func:`_rates_plot`)."""
    name = pack_table.name
    if name == "uses-by-month" and not public:
        months = pack_table.column(0)
        series = [
            (label, [int(c) for c in pack_table.column(i + 1)])
            for i, (_, label) in enumerate(HIGHEST_USE_ROWS)
        ]
        return plots.stacked_bars(name, pack_table.title, months, series)
    if not pack_table.totalled:
        return ""
    labels = pack_table.column(0)
    cells = pack_table.column(1)
    if not any(plots.number_of(cell) for cell in cells):
        return ""  # nothing to draw: every count 0 or withheld (the table says which)
    colours = None
    if name == "ced-by-highest-use":
        discharged = {lab for value, lab in HIGHEST_USE_ROWS if value in DISCHARGES}
        colours = [plots.PALETTE[3] if lab in discharged else plots.PALETTE[0] for lab in labels]
    unit = "uses" if pack_table.header[1] == "count" else pack_table.header[1]
    return plots.bar_chart(name, pack_table.title, labels, cells, value_label=unit, colours=colours)


def _rates_plot(rows: Sequence[dict[str, Any]]) -> str:
    groups = [str(r["group"]) for r in rows if r["group"] != REFERENCE]
    ratios: list[float | None] = []
    intervals: list[tuple[float, float] | None] = []
    marks: list[str] = []
    for row in rows:
        if row["group"] == REFERENCE:
            continue
        ratio, low, high = row["ratio_to_white"], row["ci_low"], row["ci_high"]
        ratios.append(ratio if isinstance(ratio, float) else None)
        intervals.append(
            (low, high) if isinstance(low, float) and isinstance(high, float) else None
        )
        marks.append(
            str(ratio) if isinstance(ratio, str) else "no uses" if ratio == 0 else "no ratio"
        )
    return plots.ratio_chart(
        "rates",
        "Rate of use compared with White (ratio, 95 % interval)",
        groups,
        ratios,
        intervals,
        marks,
    )


def _shown(cell: str) -> str:
    """A count as shown, in words: ``<5`` is "fewer than 5", ``[c]`` "a withheld number of"."""
    if cell == PRIMARY:
        return "fewer than 5"
    if cell == WITHHELD:
        return "a withheld number of"
    return cell


_PEOPLE: Final = {
    "Black": "Black people",
    "Asian": "Asian people",
    "Mixed": "People of mixed ethnicity",
    "Other": "People of other ethnic groups",
}


def summary(scrutiny: Scrutiny, *, public: bool = False) -> tuple[str, ...]:
    """The pack's key figures in plain sentences (the page's opening box; what
    ``taserlink scrutiny`` prints), from the pack's tables as shown."""
    tables = _by_name(pack_tables(scrutiny, public=public))
    year = scrutiny.year
    uses = tables["ced-by-highest-use"].rows[-1][1]
    discharges = {row[0]: row[1] for row in tables["discharges"].rows}
    under = tables["under-18s"].rows[-1][1]
    lines = [
        f"From 1 April {year} to 31 March {year + 1}, officers' accounts record "
        f"{_shown(uses)} uses of Taser (one use is one device in one report).",
        (
            "How many of them were discharges (fired, drive stun or angled drive stun) is "
            "withheld in this version, so that no count under 5 can be worked out from it."
            if WITHHELD in (discharges["Discharged"], discharges["Not discharged"])
            else f"Of these, {_shown(discharges['Discharged'])} were discharges (fired, drive "
            f"stun or angled drive stun) and {_shown(discharges['Not discharged'])} were not."
        ),
        f"{_shown(under).capitalize()} uses were on people the officer perceived as under 18.",
    ]
    for row in pack_rates(scrutiny, public=public):
        ratio, low, high = row["ratio_to_white"], row["ci_low"], row["ci_high"]
        if row["group"] == REFERENCE or not isinstance(ratio, float) or ratio <= 0:
            continue
        if isinstance(low, float) and isinstance(high, float):
            plain = (
                "the interval includes 1: no clear difference from White"
                if low <= 1 <= high
                else "the interval excludes 1"
            )
            lines.append(
                f"{_PEOPLE[str(row['group'])]} were subject to Taser use at {ratio:.1f} times "
                f"the rate of White people (95 % confidence interval {low:.1f} to {high:.1f}; "
                f"{plain})."
            )
    if scrutiny.energy is not None:
        lengths = tables["energy-applications"].rows
        higher = {row[0]: row[1] for row in tables["corroboration"].rows}["device_higher"]
        lines.append(
            f"The device logs show {_shown(lengths[1][1])} energy applications over 5 s and "
            f"up to 20 s, and {_shown(lengths[2][1])} over 20 s."
        )
        lines.append(
            f"In {_shown(higher)} uses the device logged a higher use than the officer's "
            "form records."
        )
    return tuple(lines)


_HOW_TO_READ: Final = (
    '<h2 id="reading">How to read this pack</h2>'
    "<p>Every figure counts <em>uses</em> as the Home Office return does: one device in one "
    "officer's report, at the most serious use the form ticks (angled drive stun, fired, "
    'drive stun, arced, red-dot, aimed, drawn; "not stated" when it ticks none). Several '
    "officers using Taser on one person give several uses. The year runs April to March by "
    "each report's start in UK local time.</p>"
    "<p>A subject's age, ethnicity and health are as the officer perceived them, not as the "
    "person would describe themselves. Rates compare uses with the population of the census "
    "named below, which may be years old; a rate ratio is one group's rate divided by "
    "White's, and its 95 % confidence interval (Katz's log method) shows how far chance "
    "alone could move it. With few uses the interval is wide: read the interval, not only "
    "the ratio. A ratio says how often, not why.</p>"
    "<p>The devices can confirm drawing, red-dot, arcing, firing and drive stuns, and how "
    "long energy flowed; they cannot see aiming, or how a drive stun was angled. A device "
    "not yet downloaded confirms nothing.</p>"
)


def build_pack(
    scrutiny: Scrutiny, *, public: bool = False, provenance: Provenance | None = None
) -> ScrutinyPack:
    """The pack of ``scrutiny``'s figures (module docstring).

    Args:
        scrutiny: the year's figures (:func:`~taserlink.returns.scrutiny.scrutinise`).
        public: withhold small numbers for publication
            (:func:`~taserlink.returns.scrutiny.pack_tables`).
        provenance: what the figures were made from (the files by size and SHA-256,
            the settings: :func:`taserlink.returns.provenance.return_provenance`), shown
            on the page ("Made from") and in ``scrutiny.json``; without it, a block with
            no inputs and the year and ``public`` as settings.
    """
    if provenance is None:
        provenance = make_provenance((), {"year": scrutiny.year, "public": public})
    tables = pack_tables(scrutiny, public=public)
    rates = pack_rates(scrutiny, public=public)
    year = scrutiny.year
    kind = "public" if public else "full"
    title = f"Taser use, {year}-04-01 to {year + 1}-03-31: oversight pack ({kind})"
    body = [f"<h1>{escape(title)}</h1>"]
    if public:
        body.append(
            '<p class="lead">For publication: a count from 1 to 4 is shown as '
            f"<strong>{PRIMARY}</strong>, and a count withheld so that no small count can be "
            f"worked out from the totals as <strong>{WITHHELD}</strong>. Lists of reports "
            "are left out.</p>"
        )
    else:
        body.append(
            '<p class="lead">Full figures, with the reports behind the lists, for the '
            "oversight group. Not for publication: use the public pack "
            "(<code>taserlink scrutiny --public</code>).</p>"
        )
    lines = summary(scrutiny, public=public)
    body.append('<div class="key">' + "".join(f"<p>{escape(x)}</p>" for x in lines) + "</div>")
    body.append(_HOW_TO_READ)
    for pack_table in tables:
        body.append(f'<h2 id="{escape(pack_table.name)}">{escape(pack_table.title)}</h2>')
        body.append(f'<p class="note">{escape(pack_table.note)}</p>')
        plot = _rates_plot(rates) if pack_table.name == "rates" else _plot(pack_table, public)
        if plot:
            body.append(f"<figure>{plot}</figure>")
        if pack_table.rows:
            body.append(table(pack_table.header, pack_table.rows, total_last=pack_table.totalled))
        else:
            body.append("<p>None.</p>")
        body.append(
            f'<p class="note">As CSV: <a href="{escape(pack_table.name)}.csv">'
            f"{escape(pack_table.name)}.csv</a></p>"
        )
    if not scrutiny.rates:
        body.append(
            '<h2 id="rates">Rates per 10,000 population</h2><p>No population table was '
            "given (<code>--population POPULATION.csv</code>), so no rates are shown.</p>"
        )
    elif scrutiny.population is not None and scrutiny.population.note:
        body.append(f'<p class="note">Population: {escape(scrutiny.population.note)}</p>')
    if scrutiny.energy is None:
        body.append(
            '<h2 id="energy">Energy from the device logs</h2><p>No device downloads were '
            "given (<code>--images DIR</code>), so the lengths of energy applications, "
            "repeated cycles and what the devices corroborate are not shown.</p>"
        )
    body.append('<h2 id="inputs">Made from</h2>')
    body.append(
        table(
            ("role", "file", "bytes", "SHA-256"),
            [(i.role or "", i.path, str(i.size), i.sha256) for i in provenance.inputs],
        )
        + '<p class="note">Settings: '
        + escape("; ".join(f"{k} {_setting(v)}" for k, v in provenance.settings.items()))
        + f". By {escape(provenance.tool)} {escape(provenance.version)}. The same inputs "
        "give this page byte for byte; <code>provenance.json</code> beside it lists every "
        "file of the pack with its SHA-256 (<code>sha256sum</code> checks them).</p>"
    )
    files: list[tuple[str, bytes]] = [(INDEX, page(title, "\n".join(body)))]
    files += [(f"{t.name}.csv", _csv(t)) for t in tables]
    figures = _figures(scrutiny, tables, public, provenance)
    files.append((JSON_NAME, (json.dumps(figures, indent=1) + "\n").encode("utf-8")))
    return ScrutinyPack(tuple(files), provenance)


def _setting(value: Any) -> str:
    """A setting as the page shows it (JSON's spelling: ``true``, ``null``, lists)."""
    return value if isinstance(value, str) else json.dumps(value)


def write_pack(pack: ScrutinyPack, folder: str | os.PathLike[str]) -> tuple[Path, ...]:
    """Write every file of ``pack`` into ``folder`` (made if missing), each atomically, and
    — when the pack has a provenance block — ``provenance.json`` last: the block with each
    file's name (relative to ``folder``) and SHA-256 as ``outputs``.
    Returns the paths written, in the pack's order.

    Raises:
        OutputPathError: a destination taserlink refuses to replace (a link, a folder).
        OSError: a file cannot be written.
    """
    base = make_folder(folder)
    written = []
    for name, data in pack.files:
        write_atomic(base / name, data)
        written.append(base / name)
    if pack.provenance is not None:
        outputs = [Output(name, hashlib.sha256(data).hexdigest()) for name, data in pack.files]
        made = pack.provenance.with_outputs(*outputs)
        write_provenance(made, base / FOLDER_NAME, folder=True)
        written.append(base / FOLDER_NAME)
    return tuple(written)
