"""The confusion model for AFID reads: defaults, files, and fitting from validation reads."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from taserlink.errors import ConfusionModelError, ReadError, SerialError
from taserlink.forensics.confusion import CONFUSABLE_GROUPS, ConfusionModel
from taserlink.forensics.serials import CARTRIDGE_SCHEME, DEVICE_SCHEME, SerialScheme

HEX_SCHEME = SerialScheme(name="legacy", alphabet="0123456789ABCDEF", length=8, type_letters={})


@pytest.mark.parametrize("scheme", [CARTRIDGE_SCHEME, HEX_SCHEME])
def test_rows_are_normalised_and_strictly_inside_zero_one(scheme: SerialScheme) -> None:
    model = ConfusionModel.default(scheme)
    assert model.matrix.shape == (len(scheme.alphabet), len(model.read_characters))
    np.testing.assert_allclose(model.matrix.sum(axis=1), 1.0, atol=1e-12)
    assert ((model.matrix > 0) & (model.matrix < 1)).all()
    table = model.log_likelihood_table()
    assert table.shape == (len(model.read_characters), len(scheme.alphabet))
    assert np.isfinite(table).all()
    np.testing.assert_allclose(np.exp(table).sum(axis=0), 1.0, atol=1e-12)


def test_crockford_model_has_columns_for_what_examiners_write() -> None:
    model = ConfusionModel.default(CARTRIDGE_SCHEME)
    for char in "ILOU?":
        assert char in model.read_characters
    assert model.probability("?", "K") == pytest.approx(0.05)
    assert model.probability("K", "K") == pytest.approx(0.90 * 0.95)


def test_confusables_are_likelier_than_any_arbitrary_substitution() -> None:
    model = ConfusionModel.default(CARTRIDGE_SCHEME)
    alphabet = model.alphabet
    confusable = {
        (r, t) for g in CONFUSABLE_GROUPS for t in g for r in g if r != t and t in alphabet
    }
    arbitrary = max(
        model.probability(r, t)
        for t in alphabet
        for r in model.read_characters
        if r not in (t, "?") and (r, t) not in confusable
    )
    weakest = min(model.probability(r, t) for r, t in confusable)
    assert weakest > 5 * arbitrary
    # and every character is read as itself far more often than as anything else
    for t in alphabet:
        row = [model.probability(r, t) for r in model.read_characters if r != t]
        assert model.probability(t, t) > 10 * max(row)


@pytest.mark.parametrize(
    ("p_correct", "p_confusable", "p_unreadable", "needle"),
    [
        (1.0, 0.08, 0.05, "p_correct"),
        (0.9, 0.08, 0.0, "p_unreadable"),
        (0.5, 0.5, 0.05, "nothing for arbitrary"),
    ],
)
def test_bad_default_parameters_are_refused(
    p_correct: float, p_confusable: float, p_unreadable: float, needle: str
) -> None:
    with pytest.raises(ConfusionModelError, match=needle):
        ConfusionModel.default(
            CARTRIDGE_SCHEME,
            p_correct=p_correct,
            p_confusable=p_confusable,
            p_unreadable=p_unreadable,
        )


def test_matrix_is_read_only() -> None:
    model = ConfusionModel.default()
    with pytest.raises(ValueError):
        model.matrix[0, 0] = 0.5


def test_unknown_characters_are_read_errors() -> None:
    model = ConfusionModel.default()
    with pytest.raises(ReadError, match="'#'"):
        model.column("#")
    with pytest.raises(ReadError):
        model.read_indices("*7P2M")
    assert list(model.read_indices("s4k7-p2")) == [model.column(c) for c in "S4K7P2"]
    with pytest.raises(ConfusionModelError):
        model.probability("0", "O")  # O is never a true character


@st.composite
def models(draw: st.DrawFn) -> ConfusionModel:
    """Arbitrary valid models: a random alphabet, extra read characters and a positive
    row-normalised matrix."""
    pool = "0123456789ABCDEFGHJKMNPQRSTVWXYZILOU"
    alphabet = "".join(draw(st.lists(st.sampled_from(pool), min_size=2, max_size=12, unique=True)))
    extra = "".join(draw(st.lists(st.sampled_from(pool), max_size=4, unique=True)))
    read_characters = alphabet + "".join(c for c in extra if c not in alphabet) + "?"
    weights = draw(
        st.lists(
            st.floats(0.01, 1.0),
            min_size=len(alphabet) * len(read_characters),
            max_size=len(alphabet) * len(read_characters),
        )
    )
    matrix = np.array(weights).reshape(len(alphabet), len(read_characters))
    matrix /= matrix.sum(axis=1, keepdims=True)
    return ConfusionModel(alphabet, read_characters, matrix, draw(st.text(max_size=20)))


def assert_same(a: ConfusionModel, b: ConfusionModel) -> None:
    assert (a.alphabet, a.read_characters, a.note) == (b.alphabet, b.read_characters, b.note)
    assert np.array_equal(a.matrix, b.matrix)


@given(models())
def test_json_round_trip_is_exact(model: ConfusionModel) -> None:
    assert_same(ConfusionModel.from_json(model.to_json()), model)


def test_save_load_round_trip(tmp_path: Path) -> None:
    model = ConfusionModel.default(DEVICE_SCHEME, p_correct=0.8, p_unreadable=0.1)
    path = tmp_path / "lab.json"
    model.save(path)
    loaded = ConfusionModel.load(path)
    assert_same(loaded, model)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == "taserlink-confusion-model"
    assert document["version"] == 1


def _document() -> dict[str, object]:
    return dict(json.loads(ConfusionModel.default().to_json()))


def _with_matrix_entry(value: float) -> dict[str, object]:
    document = _document()
    matrix = document["matrix"]
    assert isinstance(matrix, list)
    matrix[3][0] = value
    return document


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        ("not json {", "not JSON"),
        ([1, 2], "JSON object"),
        ({**_document(), "format": "other"}, "'format'"),
        ({**_document(), "version": 2}, "version 2"),
        ({k: v for k, v in _document().items() if k != "matrix"}, "'matrix' missing"),
        ({**_document(), "matrix": [[0.5, 0.5], [1]]}, "rows differ"),
        ({**_document(), "matrix": [["a"]]}, "lists of numbers"),
        ({**_document(), "matrix": [[0.5, 0.5]]}, "shape"),
        (_with_matrix_entry(0.0), r"P\('0' read \| '3' true\)"),
        (_with_matrix_entry(0.5), "row for true '3' sums to"),
        ({**_document(), "read_characters": "0123456789"}, "read characters lack"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path: Path, document: object, needle: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    with pytest.raises(ConfusionModelError, match=needle) as caught:
        ConfusionModel.load(path)
    assert str(path) in str(caught.value)


def test_missing_file_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ConfusionModelError, match="cannot read"):
        ConfusionModel.load(tmp_path / "absent.json")


def _simulate(
    model: ConfusionModel, scheme: SerialScheme, n: int, seed: int
) -> list[tuple[str, str]]:
    """``n`` reads of random serials, each character drawn from the model's row."""
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    cumulative = np.cumsum(model.matrix, axis=1)
    pairs = []
    for _ in range(n):
        serial = scheme.generate(rng)
        rows = [model.alphabet.index(c) for c in serial]
        draws = np_rng.random(len(rows))
        columns = [
            min(int(np.searchsorted(cumulative[i], u, side="right")), cumulative.shape[1] - 1)
            for i, u in zip(rows, draws, strict=True)
        ]
        read = "".join(model.read_characters[j] for j in columns)
        if read.count("?") == len(read):
            continue
        pairs.append((serial, read))
    return pairs


def test_fit_recovers_a_known_matrix() -> None:
    truth = ConfusionModel.default(
        HEX_SCHEME, p_correct=0.7, p_confusable=0.2, p_unreadable=0.1, groups=("0D8B", "1I7")
    )
    prior = ConfusionModel.default(HEX_SCHEME)
    pairs = _simulate(truth, HEX_SCHEME, 4000, seed=1)
    fitted = ConfusionModel.fit(pairs, HEX_SCHEME, prior=prior)
    error = np.abs(fitted.matrix - truth.matrix).max()
    assert error < 0.04
    assert error < 0.5 * np.abs(prior.matrix - truth.matrix).max()
    np.testing.assert_allclose(fitted.matrix.sum(axis=1), 1.0, atol=1e-12)
    assert "fitted from" in fitted.note and str(len(pairs)) in fitted.note


def test_fit_without_data_is_the_prior_and_with_little_data_stays_near_it() -> None:
    prior = ConfusionModel.default()
    assert np.allclose(ConfusionModel.fit([], CARTRIDGE_SCHEME).matrix, prior.matrix)
    serial = CARTRIDGE_SCHEME.generate(random.Random(3))
    wrong = "".join("?" if i == 5 else c for i, c in enumerate(serial))
    fitted = ConfusionModel.fit([(serial, wrong)], CARTRIDGE_SCHEME, strength=20)
    row = fitted.alphabet.index(serial[5])
    # one '?' among 21 pseudo-reads: (1 + 20 * 0.05) / 21
    assert fitted.probability("?", serial[5]) == pytest.approx((1 + 20 * 0.05) / 21)
    assert fitted.matrix[row].sum() == pytest.approx(1.0)


def test_fit_rejects_bad_pairs_naming_them() -> None:
    good = CARTRIDGE_SCHEME.generate(random.Random(4))
    with pytest.raises(ReadError, match=r"pair 2: .*torn"):
        ConfusionModel.fit([(good, good), (good, "*" + good[3:])], CARTRIDGE_SCHEME)
    with pytest.raises(ReadError, match="pair 1"):
        ConfusionModel.fit([(good, good[:-1])], CARTRIDGE_SCHEME)
    with pytest.raises(SerialError, match="pair 1"):
        ConfusionModel.fit([(good[:-1] + "?", good)], CARTRIDGE_SCHEME)
    with pytest.raises(ConfusionModelError, match="strength"):
        ConfusionModel.fit([], CARTRIDGE_SCHEME, strength=0)
    with pytest.raises(ConfusionModelError, match="alphabet"):
        ConfusionModel.fit([], HEX_SCHEME, prior=ConfusionModel.default(CARTRIDGE_SCHEME))
