"""Self-contained HTML pages: escaping, tables and the page around them.

A page written here loads nothing: its style is inline, its plots are inline SVG, and it
has no script.  It is UTF-8, and the same arguments give the same bytes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Final

__all__ = ["STYLE", "escape", "page", "table"]

STYLE: Final = """
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; margin: 2rem auto;
       max-width: 62rem; padding: 0 1rem; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ccc; }
p.lead { font-size: 1.05rem; }
table { border-collapse: collapse; margin: 0.6rem 0 0.4rem; font-size: 0.92rem; }
th, td { border: 1px solid #bbb; padding: 0.2rem 0.55rem; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; }
figure { margin: 0.8rem 0; }
figure svg { max-width: 100%; height: auto; }
.note { color: #444; font-size: 0.9rem; }
.key { background: #f3f6f9; border-left: 4px solid #0072B2; padding: 0.6rem 1rem; }
code { font-size: 0.88rem; word-break: break-all; }
"""
"""The pages' style sheet (inline)."""


def escape(text: str) -> str:
    """``text`` safe inside HTML text or a double-quoted attribute."""
    return html.escape(text, quote=True)


_NUMBER: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:e-?[0-9]+)?|<5|\[c\]")


def _numeric(cell: str) -> bool:
    """A count, a number or a withheld count's mark (aligned right)."""
    return _NUMBER.fullmatch(cell) is not None


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    caption: str = "",
    total_last: bool = False,
) -> str:
    """An HTML ``<table>``: ``header`` as its head row, ``rows`` as text cells (numbers
    aligned right); the last row in bold when ``total_last``."""
    parts = ["<table>"]
    if caption:
        parts.append(f"<caption>{escape(caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr></thead>")
    parts.append("<tbody>")
    for index, row in enumerate(rows):
        total = total_last and index == len(rows) - 1
        cells = "".join(
            f'<td class="n">{escape(c)}</td>' if _numeric(c) else f"<td>{escape(c)}</td>"
            for c in row
        )
        parts.append(f'<tr class="total">{cells}</tr>' if total else f"<tr>{cells}</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def page(title: str, body: str) -> bytes:
    """A whole page: ``title`` and ``body`` (already HTML) with :data:`STYLE`, as UTF-8
    bytes ending in a newline."""
    text = (
        "<!DOCTYPE html>\n"
        '<html lang="en-GB">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )
    return text.encode("utf-8")
