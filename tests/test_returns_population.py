"""The population table (``POPULATION.csv``): the bundled census 2011 figures, and every
refusal named by file and line."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from taserlink.cli.common import EXIT_BAD_INPUT, exit_code_for
from taserlink.errors import InputFileError, PopulationError
from taserlink.returns.population import (
    DERBYSHIRE_2011,
    GROUPS,
    MAX_POPULATION,
    Population,
    population_csv,
    read_population,
)
from tests.conftest import ROOT

BUNDLED = ROOT / "captures" / "population" / "derbyshire-2011.csv"
GOOD = "group,population\nWhite,100\nBlack,20\nAsian,30\nMixed,40\nOther,50\n"


def _write(tmp_path: Path, text: str | bytes, name: str = "POPULATION.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return path


def test_derbyshire_2011_is_the_census_figures() -> None:
    assert dict(DERBYSHIRE_2011.counts) == {
        "White": 949_845,
        "Black": 10_090,
        "Asian": 39_890,
        "Mixed": 14_351,
        "Other": 4_262,
    }
    assert DERBYSHIRE_2011.total == 1_018_438
    assert tuple(DERBYSHIRE_2011.counts) == GROUPS
    assert "Census 2011" in DERBYSHIRE_2011.note


def test_the_bundled_file_reads_as_the_constant() -> None:
    read = read_population(BUNDLED)
    assert replace(read, path=DERBYSHIRE_2011.path, note=DERBYSHIRE_2011.note) == DERBYSHIRE_2011
    assert read.sha256 == hashlib.sha256(BUNDLED.read_bytes()).hexdigest()
    assert BUNDLED.read_bytes() == population_csv(DERBYSHIRE_2011.counts)


def test_reads_any_order_case_bom_crlf_and_trailing_blank_lines(tmp_path: Path) -> None:
    text = "\ufeffPopulation , GROUP\r\n50,other\r\n100, white\r\n20,BLACK\r\n"
    text += "30,Asian\r\n40,mixed\r\n\r\n"
    population = read_population(_write(tmp_path, text))
    assert dict(population.counts) == {
        "White": 100,
        "Black": 20,
        "Asian": 30,
        "Mixed": 40,
        "Other": 50,
    }
    assert population["black"] == 20
    assert population.path == str(tmp_path / "POPULATION.csv")


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", None, "empty"),
        ("group,people\nWhite,1\n", 1, "header"),
        ("group,population,notes\n", 1, "header"),
        (GOOD.replace("Black,20", "Black,0"), 3, "from 1"),
        (GOOD.replace("Black,20", "Black,-20"), 3, "whole number"),
        (GOOD.replace("Black,20", 'Black,"10,090"'), 3, "no separators"),
        (GOOD.replace("Black,20", "Black,20.0"), 3, "whole number"),
        (GOOD.replace("Black,20", "Black,"), 3, "whole number"),
        (GOOD.replace("Black,20", f"Black,{MAX_POPULATION + 1}"), 3, "whole number"),
        (GOOD.replace("Black,20", "Black,٢٠"), 3, "whole number"),
        (GOOD.replace("Black,20", "Chinese,20"), 3, "not one of"),
        (GOOD.replace("Black,20", "white,20"), 3, "twice (lines 2 and 3)"),
        (GOOD.replace("Black,20", "Black,20,x"), 3, "3 cells"),
        (GOOD.replace("Black,20\n", ""), None, "no population for Black"),
        (GOOD.replace("Black,20\n", "\nBlack,20\n"), 4, "blank line"),
        ('group,population\n"White,100\n', 2, "not CSV"),
    ],
)
def test_refusals_name_file_and_line(
    tmp_path: Path, text: str, line: int | None, words: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(PopulationError) as caught:
        read_population(path)
    assert caught.value.source == str(path)
    assert caught.value.line == line
    assert words in str(caught.value)
    assert str(caught.value).startswith(str(path))
    assert isinstance(caught.value, InputFileError)
    assert exit_code_for(caught.value) == EXIT_BAD_INPUT


def test_refuses_bytes_that_are_not_utf8_a_huge_file_and_a_missing_one(tmp_path: Path) -> None:
    with pytest.raises(PopulationError, match="not UTF-8") as caught:
        read_population(_write(tmp_path, b"group,population\nWhite,1\n\xff\n"))
    assert caught.value.line == 3
    with pytest.raises(PopulationError, match="over"):
        read_population(_write(tmp_path, b"x" * 70_000))
    with pytest.raises(PopulationError, match="cannot read"):
        read_population(tmp_path / "absent.csv")


def test_a_population_built_by_hand_is_checked() -> None:
    counts = dict(DERBYSHIRE_2011.counts)
    with pytest.raises(PopulationError, match="missing Other"):
        Population("mine", "", {k: v for k, v in counts.items() if k != "Other"})
    with pytest.raises(PopulationError, match="unknown"):
        Population("mine", "", {**counts, "Chinese": 1})
    with pytest.raises(PopulationError, match="population of Black"):
        Population("mine", "", {**counts, "Black": 0})
    with pytest.raises(PopulationError, match="population of Black"):
        Population("mine", "", {**counts, "Black": True})
    assert hash(DERBYSHIRE_2011) == hash(replace(DERBYSHIRE_2011))


def test_the_canonical_file_round_trips(tmp_path: Path) -> None:
    counts = {"Other": 5, "Mixed": 4, "Asian": 3, "Black": 2, "White": 1}
    path = _write(tmp_path, population_csv(counts))
    assert dict(read_population(path).counts) == counts
    assert list(read_population(path).counts) == list(GROUPS)


def test_a_row_after_a_cell_over_two_lines_is_numbered_by_its_first_line(tmp_path: Path) -> None:
    text = 'group,population\n"Wh\nite",1\nBlack,x\n'
    with pytest.raises(PopulationError) as caught:
        read_population(_write(tmp_path, text))
    assert caught.value.line == 2  # the group "Wh\nite" is refused first, at its first line
    text = 'group,population\n"White\n",1\nBlack,x\n'  # a valid group over two lines
    with pytest.raises(PopulationError, match="population of Black") as caught:
        read_population(_write(tmp_path, text))
    assert caught.value.line == 4
