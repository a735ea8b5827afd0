"""The scrutiny pack's page as the oversight group sees it: rendered in headless Chromium
(Debian's ``chromium``, installed by the test set-up when missing), screenshot taken — not
blank, its plots laid out and drawn in the pack's colours, its key figure on the page, no
console error and nothing loaded but the page itself."""

from __future__ import annotations

from pathlib import Path

import numpy
import pytest

from taserlink.cli import main
from taserlink.postuse.accounts import write_accounts
from taserlink.report.plots import PALETTE
from tests.browser_support import Browser, decode_png
from tests.conftest import CAPTURES
from tests.test_returns_scrutiny import derbyshire_accounts

POPULATION = CAPTURES / "population" / "derbyshire-2011.csv"
EXAMPLE = CAPTURES / "station-month"
PLOTS = """Array.from(document.querySelectorAll('svg[role=img]')).map(s => {
  const box = s.getBoundingClientRect();
  return [s.id, Math.round(box.width), Math.round(box.height),
          s.querySelectorAll('path, rect, use').length];
})"""


def _pack(tmp_path: Path, kind: str) -> Path:
    out = tmp_path / kind
    if kind == "station-month":
        argv = [
            "--accounts", str(EXAMPLE / "ACCOUNTS.csv"), "--year", "2025",
            "--images", str(EXAMPLE / "images"), "--issues", str(EXAMPLE / "issues.csv"),
            "--roots", str(CAPTURES / "test-root.pem"),
        ]  # fmt: skip
    else:
        accounts = tmp_path / "ACCOUNTS.csv"
        write_accounts(derbyshire_accounts(), accounts)
        argv = ["--accounts", str(accounts), "--year", "2019", "--population", str(POPULATION)]
        argv += ["--public"] if kind == "public" else []
    assert main(["scrutiny", *argv, "--out", str(out)]) == 0
    return out / "index.html"


@pytest.mark.parametrize(
    ("kind", "plots", "figure"),
    [
        ("full", 8, "11.1 times the rate of White people"),
        ("public", 6, "11.1 times the rate of White people"),  # discharges, under-18s: all [c]
        ("station-month", 11, "energy applications over 5 s"),
    ],
)
def test_the_page_renders_in_chromium(
    tmp_path: Path,
    browser: Browser,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    plots: int,
    figure: str,
) -> None:
    page = _pack(tmp_path, kind)
    capsys.readouterr()
    shown = browser.render(
        page,
        evaluate={"plots": PLOTS, "text": "document.body.innerText"},
    )
    (tmp_path / f"{kind}.png").write_bytes(shown.png)  # the screenshot, kept beside the pack
    assert shown.problems() == []
    laid_out = shown.values["plots"]
    assert len(laid_out) == plots
    for plot_id, width, height, marks in laid_out:
        assert width > 300 and height > 80, plot_id
        assert marks > 5, plot_id
    assert figure in shown.values["text"]
    pixels = decode_png(shown.png).array()
    blue = numpy.array([int(PALETTE[0][i : i + 2], 16) for i in (1, 3, 5)], dtype=numpy.uint8)
    painted = numpy.all(pixels[..., :3] == blue, axis=-1).sum()
    assert painted > 5_000, "the bars are not drawn in the pack's colours"
