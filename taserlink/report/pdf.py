"""A PDF of a self-contained HTML page, by WeasyPrint: the court report's ``report.pdf``.

WeasyPrint lays the page out as print (A4, the page's own style) and draws its inline SVG
plots as vectors.  It writes no creation date, so the same page gives the same PDF bytes
(with the same WeasyPrint and fonts).  It needs the Pango library of the operating system
(Debian: ``libpango-1.0-0``, ``libpangoft2-1.0-0``; macOS: ``brew install pango``); without
it the PDF cannot be made and :class:`~taserlink.errors.MissingExtraError` says so.
WeasyPrint is the ``pdf`` extra (``pip install 'taserlink[pdf]'``).
"""

from __future__ import annotations

from typing import Any, Final

from taserlink.errors import MissingExtraError

__all__ = ["PRINT_STYLE", "pdf_of", "require_pdf"]

PRINT_STYLE: Final = """
@page { size: A4; margin: 16mm 14mm 18mm; @bottom-right { content: counter(page) " / "
        counter(pages); font-size: 8pt; color: #555; } }
body { margin: 0; max-width: none; font-size: 9.5pt; }
h2 { break-after: avoid; }
h3 { break-after: avoid; }
figure, table { break-inside: avoid; }
table { font-size: 8pt; }
td, th { word-break: break-word; }
nav { display: none; }
"""
"""Print rules added to the page's own style."""


def require_pdf() -> None:
    """Check that a PDF can be made, before any work.

    Raises:
        MissingExtraError: WeasyPrint, or the Pango library it needs, is not installed.
    """
    _weasyprint()


def _weasyprint() -> Any:
    try:
        import weasyprint
    except ImportError:
        raise MissingExtraError(
            "the PDF needs WeasyPrint: pip install 'taserlink[pdf]'", "pdf"
        ) from None
    except OSError as error:  # WeasyPrint found, the system's Pango not
        raise MissingExtraError(
            f"the PDF needs the system's Pango library ({error}): on Debian apt install "
            "libpango-1.0-0 libpangoft2-1.0-0; on macOS brew install pango",
            "pdf",
        ) from None
    return weasyprint


def pdf_of(html: bytes, *, base_url: str | None = None) -> bytes:
    """The PDF of the page ``html`` (UTF-8), A4.

    Raises:
        MissingExtraError: WeasyPrint, or the Pango library it needs, is not installed.
    """
    weasyprint = _weasyprint()
    document = weasyprint.HTML(string=html.decode("utf-8"), base_url=base_url)
    result: bytes = document.write_pdf(stylesheets=[weasyprint.CSS(string=PRINT_STYLE)])
    return result
