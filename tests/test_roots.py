"""Where trusted roots come from (``taserlink.integrity.roots``): given paths win, else
``$TASERLINK_ROOTS``, else none; loading names where the failing paths were named."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taserlink.errors import TrustStoreError
from taserlink.integrity.roots import ROOTS_ENV, RootPaths

TEST_ROOT = Path(__file__).resolve().parent.parent / "captures" / "test-root.pem"

path_texts = st.text(
    st.characters(blacklist_characters=os.pathsep, blacklist_categories=["Cs"]), max_size=12
)
"""Path text as it may stand in the variable: anything but the separator (may be empty)."""


@given(given_paths=st.lists(path_texts.filter(bool), min_size=1), variable=st.text())
def test_given_paths_win_over_the_environment(given_paths: list[str], variable: str) -> None:
    roots = RootPaths.configured(given_paths, {ROOTS_ENV: variable}, given_origin="--roots")
    assert roots == RootPaths(tuple(given_paths), "--roots")


@given(entries=st.lists(path_texts))
def test_the_environment_is_split_on_the_path_separator_and_empties_dropped(
    entries: list[str],
) -> None:
    roots = RootPaths.configured(None, {ROOTS_ENV: os.pathsep.join(entries)})
    assert roots.paths == tuple(e for e in entries if e)
    assert roots.origin == f"${ROOTS_ENV}"
    assert RootPaths.configured([], {ROOTS_ENV: os.pathsep.join(entries)}) == roots


def test_with_neither_no_root_is_configured_and_nothing_is_trusted() -> None:
    roots = RootPaths.configured(None, {"PATH": "/usr/bin"})
    assert roots.paths == ()
    assert roots.load().roots == ()


def test_the_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ROOTS_ENV, str(TEST_ROOT))
    assert RootPaths.configured(None).paths == (str(TEST_ROOT),)
    monkeypatch.delenv(ROOTS_ENV)
    assert RootPaths.configured(None).paths == ()


def test_load_reads_the_named_roots() -> None:
    store = RootPaths.configured([str(TEST_ROOT)]).load()
    assert len(store.roots) == 2  # the TEST manufacturer root and the TEST force CA
    assert all("TEST" in root.subject.rfc4514_string() for root in store.roots)


@pytest.mark.parametrize(
    ("given_paths", "variable", "origin"),
    [(["{missing}"], "", "--roots"), (None, "{missing}", f"${ROOTS_ENV}")],
)
def test_a_root_that_cannot_be_loaded_names_where_it_was_named(
    tmp_path: Path, given_paths: list[str] | None, variable: str, origin: str
) -> None:
    missing = str(tmp_path / "no-such-root.pem")
    given_paths = [p.format(missing=missing) for p in given_paths or []]
    roots = RootPaths.configured(
        given_paths, {ROOTS_ENV: variable.format(missing=missing)}, given_origin="--roots"
    )
    with pytest.raises(TrustStoreError) as caught:
        roots.load()
    assert str(caught.value) == f"{origin}: {missing}: no such file or directory"


def test_a_file_that_is_no_certificate_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "root.pem"
    bogus.write_text("not a certificate\n")
    with pytest.raises(TrustStoreError, match=r"^given roots: .*root\.pem: not a certificate"):
        RootPaths.configured([str(bogus)]).load()
