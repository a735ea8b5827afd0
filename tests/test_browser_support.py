"""The headless-Chromium harness (tests/browser_support.py) on small pages written here, and
its PNG reader on PNGs built here with every row filter."""

from __future__ import annotations

import os
import random
import struct
import zlib
from pathlib import Path

import pytest

from tests.browser_support import (
    PNG_SIGNATURE,
    Browser,
    BrowserTimeout,
    decode_png,
    distinct_colours,
    png_is_blank,
    print_pdf,
    processes_using,
    render,
    require_chromium,
)

RED, BLUE = (204, 51, 51), (51, 51, 204)


def _page(tmp_path: Path, body: str, name: str = "page.html") -> Path:
    path = tmp_path / name
    path.write_text(
        '<!doctype html><html><head><meta charset="utf-8"><title>t</title>'
        "<style>body { margin: 0; background: #fff; }</style></head>"
        f"<body>{body}</body></html>",
        encoding="utf-8",
    )
    return path


def _pixel(png: bytes, x: int, y: int) -> tuple[int, ...]:
    pixels = decode_png(png)
    return tuple(int(value) for value in pixels.array()[y, x, :3])


PLOTS = (
    '<svg width="200" height="100"><rect x="0" y="0" width="100" height="50" fill="#c33"/></svg>'
    '<svg width="200" height="100"><circle cx="50" cy="50" r="40" fill="#33c"/></svg>'
    "<p>Uses of force by month</p>"
)


def test_a_page_of_inline_svg_renders_its_plots_and_nothing_else(
    browser: Browser, tmp_path: Path
) -> None:
    path = _page(tmp_path, PLOTS)
    shown = browser.render(path, evaluate={"svgs": "document.querySelectorAll('svg').length"})
    assert shown.values == {"svgs": 2}
    assert shown.url == path.resolve().as_uri()
    assert shown.requests == (shown.url,)
    assert shown.console == ()
    assert shown.problems() == []
    assert not png_is_blank(shown.png)
    assert distinct_colours(shown.png) > 3  # white, both fills, anti-aliased edges and text
    pixels = decode_png(shown.png)
    assert (pixels.width, pixels.height) == (1280, 800)
    assert _pixel(shown.png, 50, 25) == RED
    assert _pixel(shown.png, 250, 50) == BLUE
    assert _pixel(shown.png, 150, 25) == (255, 255, 255)


def test_console_errors_are_reported(browser: Browser, tmp_path: Path) -> None:
    path = _page(tmp_path, PLOTS + '<script>console.error("x"); console.log("fine", 3)</script>')
    shown = browser.render(path)
    assert [(m.source, m.level, m.text) for m in shown.console] == [
        ("console-api", "error", "x"),
        ("console-api", "log", "fine 3"),
    ]
    assert [m.text for m in shown.errors] == ["x"]
    assert shown.problems() == [f"console: [console-api error] x ({shown.url})"]


def test_an_uncaught_exception_is_reported(browser: Browser, tmp_path: Path) -> None:
    path = _page(tmp_path, PLOTS + '<script>throw new Error("boom")</script>')
    (error,) = browser.render(path).errors
    assert (error.source, error.level) == ("exception", "error")
    assert error.text.startswith("Error: boom")


def test_an_outside_resource_is_requested_fails_and_is_reported(
    browser: Browser, tmp_path: Path
) -> None:
    path = _page(tmp_path, PLOTS + '<img src="https://example.invalid/x.png">')
    shown = browser.render(path)
    assert shown.outside_requests == ("https://example.invalid/x.png",)
    (error,) = shown.errors
    assert (error.source, error.url) == ("network", "https://example.invalid/x.png")
    assert error.text.startswith("Failed to load resource: net::ERR_")
    assert "loaded besides the page: https://example.invalid/x.png" in shown.problems()


def test_the_network_is_closed_to_addresses_as_well(browser: Browser, tmp_path: Path) -> None:
    path = _page(tmp_path, PLOTS + '<script src="http://127.0.0.1:1/x.js"></script>')
    shown = browser.render(path)
    assert shown.outside_requests == ("http://127.0.0.1:1/x.js",)
    assert [m.url for m in shown.errors] == ["http://127.0.0.1:1/x.js"]


def test_a_blank_page_is_blank(browser: Browser, tmp_path: Path) -> None:
    shown = browser.render(_page(tmp_path, ""))
    assert png_is_blank(shown.png)
    assert distinct_colours(shown.png) == 1
    assert shown.problems() == ["the screenshot is blank (a single colour)"]


def test_the_whole_page_or_the_viewport_is_shot(browser: Browser, tmp_path: Path) -> None:
    path = _page(tmp_path, '<div style="height: 3000px; width: 10px; background: #c33"></div>')
    whole = decode_png(browser.render(path, width=640, height=480).png)
    assert (whole.width, whole.height) == (640, 3000)
    viewport = decode_png(browser.render(path, width=640, height=480, full_page=False).png)
    assert (viewport.width, viewport.height) == (640, 480)


def test_a_live_page_evaluates_javascript(browser: Browser, tmp_path: Path) -> None:
    with browser.open(_page(tmp_path, PLOTS)) as page:
        assert page.evaluate("document.title") == "t"
        assert page.evaluate("Promise.resolve([1, 'two', null])") == [1, "two", None]
        assert page.evaluate("document.fonts.status") == "loaded"


def test_a_page_prints_to_pdf(browser: Browser, tmp_path: Path) -> None:
    pdf = browser.print_pdf(_page(tmp_path, PLOTS))
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")


def test_a_page_that_never_loads_is_a_timeout_and_the_browser_still_closes(
    tmp_path: Path,
) -> None:
    path = _page(tmp_path, "<script>for (;;) {}</script>")
    with Browser(require_chromium(), timeout=3) as hung:
        with pytest.raises(BrowserTimeout, match="waiting for"):
            hung.render(path, timeout=1)
        directory, pid = hung.directory, hung.pid
    assert directory is not None
    assert processes_using(directory) == []
    assert not directory.exists()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_a_closed_browser_leaves_no_process_and_no_file(tmp_path: Path) -> None:
    with Browser() as closed:
        assert closed.render(_page(tmp_path, PLOTS)).problems() == []
        directory, pid = closed.directory, closed.pid
        assert directory is not None
        assert len(processes_using(directory)) > 1  # the browser, its renderer and helpers
    assert processes_using(directory) == []
    assert not directory.exists()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_one_page_renders_in_a_browser_of_its_own(tmp_path: Path) -> None:
    path = _page(tmp_path, PLOTS)
    assert render(path).problems() == []
    assert print_pdf(path).startswith(b"%PDF-")


# The PNG reader, on PNGs built here.


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _filtered(kind: int, row: bytes, above: bytes, bpp: int) -> bytes:
    """``row`` under PNG filter ``kind`` (the encoder's side, as the PNG specification puts it)."""
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = above[i]
        c = above[i - bpp] if i >= bpp else 0
        predictor = (0, a, b, (a + b) // 2, _paeth(a, b, c))[kind]
        out.append((x - predictor) % 256)
    return bytes(out)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(width: int, rows: list[bytes], colour: int, filters: list[int]) -> bytes:
    bpp = len(rows[0]) // width
    above, data = bytes(len(rows[0])), bytearray()
    for row, kind in zip(rows, filters, strict=True):
        data += bytes([kind]) + _filtered(kind, row, above, bpp)
        above = row
    header = struct.pack(">IIBBBBB", width, len(rows), 8, colour, 0, 0, 0)
    idat = zlib.compress(bytes(data))
    # Two IDAT chunks: the reader must join them.
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat[:7])
        + _chunk(b"IDAT", idat[7:])
        + _chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("colour", "channels"), [(0, 1), (2, 3), (4, 2), (6, 4)])
def test_the_png_reader_undoes_every_row_filter(colour: int, channels: int) -> None:
    rng = random.Random(colour)
    width, filters = 7, [0, 1, 2, 3, 4, 4, 3, 2, 1, 0, 4, 2]
    # Values near 0 and 255 make every filter wrap around.
    rows = [
        bytes(
            rng.choice((0, 1, 2, 127, 128, 253, 254, 255, rng.randrange(256)))
            for _ in range(width * channels)
        )
        for _ in filters
    ]
    pixels = decode_png(_png(width, rows, colour, filters))
    assert (pixels.width, pixels.height, pixels.channels) == (width, len(rows), channels)
    assert pixels.data == b"".join(rows)
    assert pixels.array().shape == (len(rows), width, channels)


def test_colours_are_counted_with_alpha() -> None:
    red, clear_red, blue = bytes((204, 51, 51, 255)), bytes((204, 51, 51, 0)), bytes(RED) + b"\1"
    png = _png(3, [red + clear_red + blue, red * 3], 6, [4, 1])
    assert distinct_colours(png) == 3
    assert not png_is_blank(png)
    assert png_is_blank(_png(2, [red * 2, red * 2], 6, [0, 2]))


def test_the_png_reader_refuses_what_it_does_not_read() -> None:
    good = _png(1, [b"\0\0\0"], 2, [0])
    with pytest.raises(ValueError, match="signature"):
        decode_png(b"GIF89a" + good[6:])
    broken = bytearray(good)
    broken[len(PNG_SIGNATURE) + 8] ^= 1  # a bit of IHDR's width
    with pytest.raises(ValueError, match="not a readable PNG"):
        decode_png(bytes(broken))
    header = struct.pack(">IIBBBBB", 1, 1, 16, 2, 0, 0, 0)
    sixteen_bit = PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IEND", b"")
    with pytest.raises(ValueError, match="PNG"):
        decode_png(sixteen_bit)
