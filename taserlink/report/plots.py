"""Plots as inline SVG, made by matplotlib, byte for byte the same from the same figures.

Each function draws one chart from cells *as shown* (digits, or a mark such as ``<5`` for
a count withheld), so a plot never shows more than its table: a withheld count is drawn
as no bar, with its mark written where the bar would start.

Reproducibility: figures are made with :class:`matplotlib.figure.Figure` (no pyplot, no
global state), saved with no date in the metadata, every generated id salted with the
plot's own name (two plots on one page never share an id) and text kept as text
(``svg.fonttype`` ``none``: the browser's sans-serif draws it, and it stays searchable);
every id in a plot is prefixed with the plot's name, so a page of plots has each id once.
The colours are Okabe and Ito's, told apart by people with the common colour-vision
deficiencies.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

__all__ = [
    "LANES",
    "PALETTE",
    "Mark",
    "bar_chart",
    "number_of",
    "ratio_chart",
    "stacked_bars",
    "svg_of",
    "timeline_chart",
]

PALETTE: Final = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#999999",
)
"""Okabe–Ito colours, most distinct first (the last, grey, for "not stated" rows)."""
_WIDTH_IN: Final = 7.5
_PROLOGUE: Final = re.compile(r"\A(?:<\?xml[^>]*\?>\s*)?(?:<!DOCTYPE[^>]*>\s*)?", re.S)


def number_of(cell: str) -> int | None:
    """A shown cell's count, or ``None`` when it is a mark (withheld) or empty."""
    return int(cell) if cell.isdigit() else None


def svg_of(figure: Figure, name: str, title: str) -> str:
    """``figure`` as an ``<svg>`` element for inlining in HTML: no XML prologue, the root
    given the id ``plot-NAME``, a ``role="img"`` and a ``<title>`` of ``title``."""
    out = io.StringIO()
    settings: dict[Any, Any] = {
        "svg.hashsalt": f"taserlink-{name}",
        "svg.fonttype": "none",
        "svg.id": f"plot-{name}",
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial"],
    }
    with matplotlib.rc_context(settings):
        figure.savefig(out, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = _PROLOGUE.sub("", out.getvalue(), count=1)
    text = _prefix_ids(text, name)
    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("<svg ", '<svg role="img" ', 1)
    head = text.index(">") + 1
    return f"{text[:head]}\n <title>{escaped}</title>{text[head:]}"


_ID: Final = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')


def _prefix_ids(text: str, name: str) -> str:
    """Every id of the SVG, and every reference to one, prefixed ``NAME-`` (matplotlib
    names its groups ``figure_1``, ``axes_1``… in every plot), but the root's."""
    root = f"plot-{name}"
    return _ID.sub(
        lambda m: m[0] if m[2] == root else f"{m[1]}{name}-{m[2]}",
        text,
    )


def _figure(height_in: float) -> Figure:
    figure = Figure(figsize=(_WIDTH_IN, height_in), dpi=72)
    return figure


def bar_chart(
    name: str,
    title: str,
    labels: Sequence[str],
    cells: Sequence[str],
    *,
    value_label: str = "uses",
    colours: Sequence[str] | None = None,
) -> str:
    """A horizontal bar per label, its count written at its end, as SVG.

    Args:
        name: the plot's id stem (unique on the page).
        title: the chart's title.
        labels: the bars' labels, top first.
        cells: each bar's cell as shown (digits or a mark).
        value_label: the axis' label (what is counted).
        colours: a colour per bar (default: the first of :data:`PALETTE`).
    """
    figure = _figure(0.6 + 0.32 * len(labels))
    axes = figure.add_subplot()
    values = [number_of(cell) for cell in cells]
    top = max((v for v in values if v is not None), default=0) or 1
    positions = list(range(len(labels)))[::-1]
    for i, (position, value, cell) in enumerate(zip(positions, values, cells, strict=True)):
        colour = colours[i] if colours is not None else PALETTE[0]
        if value is None:
            axes.text(0, position, f" {cell}", va="center", ha="left", color="#444444")
            continue
        axes.barh(position, value, color=colour, height=0.7)
        axes.text(value + top * 0.01, position, str(value), va="center", ha="left")
    axes.set_yticks(positions, list(labels))
    axes.set_xlim(0, top * 1.15)
    axes.set_xlabel(value_label)
    axes.set_title(title, loc="left")
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return svg_of(figure, name, title)


def stacked_bars(
    name: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    value_label: str = "uses",
) -> str:
    """Vertical bars per category (a month), each stacked by series (highest uses), with a
    legend, as SVG.  Series whose counts are all 0 are left out of the legend."""
    figure = _figure(3.6)
    axes = figure.add_subplot()
    bottoms = [0] * len(categories)
    x = list(range(len(categories)))
    for i, (label, counts) in enumerate(series):
        if not any(counts):
            continue
        colour = PALETTE[-1] if i == len(series) - 1 else PALETTE[i % (len(PALETTE) - 1)]
        axes.bar(x, counts, bottom=bottoms, color=colour, label=label, width=0.75)
        bottoms = [b + c for b, c in zip(bottoms, counts, strict=True)]
    axes.set_xticks(x, list(categories), rotation=45, ha="right")
    axes.set_ylabel(value_label)
    axes.set_title(title, loc="left")
    if any(any(counts) for _, counts in series):
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return svg_of(figure, name, title)


def ratio_chart(
    name: str,
    title: str,
    groups: Sequence[str],
    ratios: Sequence[float | None],
    intervals: Sequence[tuple[float, float] | None],
    marks: Sequence[str],
) -> str:
    """Each group's ratio to the reference (1, a dashed line) as a point with its interval
    as a line, on a log scale, as SVG.  A group with no ratio shows its mark (``[c]``,
    ``no uses``…) instead."""
    figure = _figure(0.6 + 0.4 * len(groups))
    axes = figure.add_subplot()
    positions = list(range(len(groups)))[::-1]
    shown = [r for r in ratios if r is not None and r > 0]
    ends = [end for iv in intervals if iv is not None for end in iv] + shown + [1.0]
    low, high = min(ends) / 1.5, max(ends) * 1.5
    axes.set_xscale("log")
    axes.set_xlim(low, high)
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axes.axvline(1.0, color="#444444", linestyle="--", linewidth=1)
    for position, ratio, interval, mark in zip(positions, ratios, intervals, marks, strict=True):
        if interval is not None:
            axes.plot(interval, (position, position), color=PALETTE[0], linewidth=2)
        if ratio is not None and ratio > 0:
            axes.plot([ratio], [position], "o", color=PALETTE[3])
            axes.text(ratio, position + 0.22, f"{ratio:.2f}", ha="center", va="bottom")
        else:
            axes.text(low * 1.05, position, mark, va="center", ha="left", color="#444444")
    axes.set_yticks(positions, list(groups))
    axes.set_ylim(-0.6, len(groups) - 0.3)
    axes.set_xlabel("rate ratio to White (log scale; line: 95 % confidence interval)")
    axes.set_title(title, loc="left")
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    return svg_of(figure, name, title)


LANES: Final = ("holster", "safety", "laser", "arc", "energy", "cartridge", "clock")
"""The rows of a device timeline, top first: what kind of event each row holds."""


@dataclass(frozen=True, slots=True)
class Mark:
    """One event on a device timeline.

    Attributes:
        lane: one of :data:`LANES`.
        utc_ms: the event's corrected UTC (Unix ms).
        bound_ms: its ± bound (ms), drawn as a line either side.
        label: a short text written beside it (``DEPLOY bay 1 S9RBJ7PP1Q``), or ``""``.
        kind: ``event``, ``energy`` (an energy application: its length drawn as a thick
            bar) or ``deploy`` (a cartridge fired: a red diamond).
        duration_ms: an energy application's length (ms).
    """

    lane: str
    utc_ms: int
    bound_ms: int
    label: str = ""
    kind: str = "event"
    duration_ms: int = 0


def _clock_text(ms: float) -> str:
    when = datetime.fromtimestamp(ms / 1000, UTC)
    return when.strftime("%H:%M:%S")


def _lanes_axes(
    axes: Any,
    marks: Sequence[Mark],
    lanes: Sequence[str],
    span: tuple[int, int],
    window: tuple[int, int] | None,
    *,
    labels: bool,
) -> None:
    row = {lane: len(lanes) - 1 - i for i, lane in enumerate(lanes)}
    if window is not None:
        axes.axvspan(window[0], window[1], color="#999999", alpha=0.18, lw=0)
    placed: dict[str, int] = {}
    for mark in sorted(marks, key=lambda m: (m.utc_ms, m.lane, m.label)):
        y = row[mark.lane]
        colour = PALETTE[3] if mark.kind == "deploy" else PALETTE[0]
        if mark.bound_ms:
            axes.plot(
                (mark.utc_ms - mark.bound_ms, mark.utc_ms + mark.bound_ms),
                (y, y),
                color=colour,
                alpha=0.5,
                linewidth=1.5,
                solid_capstyle="butt",
            )
        if mark.kind == "energy" and mark.duration_ms:
            axes.plot(
                (mark.utc_ms, mark.utc_ms + mark.duration_ms),
                (y, y),
                color=PALETTE[1],
                linewidth=7,
                solid_capstyle="butt",
            )
        marker = {"deploy": "D", "energy": "s"}.get(mark.kind, "o")
        axes.plot([mark.utc_ms], [y], marker, color=colour, markersize=6 if marker == "o" else 7)
        if labels and mark.label:
            nth = placed.get(mark.lane, 0)  # alternate above and below within a lane
            placed[mark.lane] = nth + 1
            axes.annotate(
                mark.label,
                (mark.utc_ms, y),
                xytext=(4, 7 if nth % 2 == 0 else -13),
                textcoords="offset points",
                fontsize=8,
                color="#222222",
            )
    axes.set_xlim(span[0], span[1])
    axes.set_ylim(-0.7, len(lanes) - 0.3)
    axes.set_yticks(list(row.values()), list(row))
    axes.xaxis.set_major_locator(MaxNLocator(7))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: _clock_text(value)))
    axes.grid(axis="x", color="#dddddd", linewidth=0.6)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


ZOOM_MARGIN_MS: Final = 20_000
"""How far the zoomed panel of a timeline reaches beyond its first and last event (ms)."""


def timeline_chart(
    name: str,
    title: str,
    marks: Sequence[Mark],
    span: tuple[int, int],
    window: tuple[int, int] | None = None,
) -> str:
    """A device's events on corrected UTC, as SVG: one row per lane (:data:`LANES`, those
    used), each event a point with its ± bound as a line, energy applications with their
    length as a thick bar, deployments as red diamonds, and the incident ``window`` shaded.

    The top panel shows the whole ``span``; when the events fill less than a quarter of it,
    a second panel below zooms in on them (their first to last, ± :data:`ZOOM_MARGIN_MS`),
    with each event labelled.

    Args:
        name: the plot's id stem (unique on the page).
        title: the chart's title.
        marks: the events, any order.
        span: the time shown, UTC ms ``(from, to)``.
        window: the incident window, UTC ms, or ``None``.
    """
    lanes = [lane for lane in LANES if any(m.lane == lane for m in marks)] or ["holster"]
    first = min((m.utc_ms - m.bound_ms for m in marks), default=span[0])
    last = max((m.utc_ms + m.bound_ms + m.duration_ms for m in marks), default=span[1])
    zoom = bool(marks) and (last - first) * 4 < span[1] - span[0]
    height = 0.9 + 0.42 * len(lanes)
    figure = _figure(height * (2 if zoom else 1) + 0.3)
    top = figure.add_subplot(2 if zoom else 1, 1, 1)
    _lanes_axes(top, marks, lanes, span, window, labels=not zoom)
    top.set_title(title, loc="left")
    if window is not None:
        top.text(window[0], -0.65, " incident window", va="bottom", color="#444444")
    if zoom:
        near = (first - ZOOM_MARGIN_MS, last + ZOOM_MARGIN_MS)
        top.axvspan(near[0], near[1], fill=False, edgecolor="#444444", linewidth=0.8)
        below = figure.add_subplot(2, 1, 2)
        _lanes_axes(below, marks, lanes, near, window, labels=True)
        below.set_title("the events, closer", loc="left", fontsize=9)
        below.set_xlabel("corrected UTC (line: ± bound)")
        figure.subplots_adjust(hspace=0.45)
    else:
        top.set_xlabel("corrected UTC (line: ± bound)")
    return svg_of(figure, name, title)
