"""The confusion model for AFID reads: defaults, files, and fitting from validation reads."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taserlink.errors import ConfusionModelError, ReadError, SerialError
from taserlink.forensics.confusion import (
    CONFUSABLE_GROUPS,
    DEFAULT_P_INSERT,
    DEFAULT_P_SKIP,
    FORMAT_VERSION,
    READABLE_VERSIONS,
    ConfusionModel,
)
from taserlink.serials import CARTRIDGE_SCHEME, DEVICE_SCHEME, SerialScheme

HEX_SCHEME = SerialScheme(name="legacy", alphabet="0123456789ABCDEF", length=8, type_letters={})


@pytest.mark.parametrize("scheme", [CARTRIDGE_SCHEME, HEX_SCHEME])
def test_rows_are_normalised_and_strictly_inside_zero_one(scheme: SerialScheme) -> None:
    model = ConfusionModel.default(scheme)
    assert model.matrix.shape == (len(scheme.alphabet), len(model.read_characters))
    np.testing.assert_allclose(model.matrix.sum(axis=1), 1.0, atol=1e-12)
    assert ((model.matrix > 0) & (model.matrix < 1)).all()


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
    """Arbitrary valid models: a random alphabet, extra read characters, a positive
    row-normalised matrix, and an indel model (``p_skip``, ``p_insert``, up to three pairs or
    the default ones)."""
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
    legible = read_characters.replace("?", "")
    probability = st.floats(1e-9, 0.3, exclude_min=True)
    pairs = draw(
        st.none()
        | st.lists(
            st.tuples(st.sampled_from(alphabet), st.text(legible, min_size=2, max_size=2)),
            max_size=3,
            unique=True,
        ).map(lambda keys: [(t, w, draw(probability)) for t, w in keys])
    )
    return ConfusionModel(
        alphabet,
        read_characters,
        matrix,
        draw(st.text(max_size=20)),
        p_skip=draw(st.floats(1e-9, 0.09)),
        p_insert=draw(st.floats(1e-9, 0.5, exclude_max=True)),
        read_as_two=None if pairs is None else tuple(pairs),
    )


def assert_same(a: ConfusionModel, b: ConfusionModel) -> None:
    assert (a.alphabet, a.read_characters, a.note) == (b.alphabet, b.read_characters, b.note)
    assert np.array_equal(a.matrix, b.matrix)
    assert (a.p_skip, a.p_insert, a.pairs) == (b.p_skip, b.p_insert, b.pairs)


def assert_valid(model: ConfusionModel) -> None:
    """Every output of a true character (one read character, a skip, a pair) together has
    probability 1, and the model passes its own checks again."""
    assert np.isfinite(model.insertion_log_weight)
    np.testing.assert_allclose(np.exp(model.output_log_table()).sum(axis=0), 1.0, atol=1e-9)
    again = ConfusionModel(
        model.alphabet,
        model.read_characters,
        model.matrix,
        model.note,
        model.p_skip,
        model.p_insert,
        model.read_as_two,
    )
    assert_same(again, model)


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
    assert document["version"] == FORMAT_VERSION == 2
    assert READABLE_VERSIONS == (1, 2)
    assert document["p_skip"] == model.p_skip and document["p_insert"] == model.p_insert
    assert document["read_as_two"] == [
        {"true": "M", "read": "NN", "probability": 0.005},
        {"true": "W", "read": "VV", "probability": 0.01},
    ]


def _version_1(model: ConfusionModel) -> dict[str, object]:
    """``model`` as a version 1 file held it: no indel keys."""
    document = dict(json.loads(model.to_json()))
    for key in ("p_skip", "p_insert", "read_as_two"):
        del document[key]
    document["version"] = 1
    return document


def test_a_version_1_file_loads_with_the_default_indels_and_says_so(tmp_path: Path) -> None:
    model = ConfusionModel.default(
        CARTRIDGE_SCHEME, p_correct=0.8, p_skip=0.1, p_insert=0.1, read_as_two=[]
    )
    path = tmp_path / "old.json"
    path.write_text(json.dumps(_version_1(model)), encoding="utf-8")
    loaded = ConfusionModel.load(path)
    assert np.array_equal(loaded.matrix, model.matrix)
    assert (loaded.p_skip, loaded.p_insert) == (DEFAULT_P_SKIP, DEFAULT_P_INSERT)
    assert loaded.pairs == ConfusionModel.default(CARTRIDGE_SCHEME).pairs
    assert loaded.note.startswith(model.note)
    assert "indel parameters are the defaults" in loaded.note and "version 1" in loaded.note
    # ... and saving it again writes version 2 with those defaults, which load unchanged.
    assert_same(ConfusionModel.from_json(loaded.to_json()), loaded)


def test_a_version_1_file_without_a_note_or_the_pairs_characters_loads() -> None:
    """The default pairs are those the file's characters allow: ``W`` as ``VV`` needs a
    ``V`` column."""
    model = ConfusionModel("AW", "AW?", np.full((2, 3), 1 / 3))
    assert model.pairs == ()
    document = _version_1(model)
    document["note"] = ""
    loaded = ConfusionModel.from_json(json.dumps(document))
    assert loaded.pairs == () and loaded.note.startswith("indel parameters are the defaults")


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
        ({**_document(), "version": 3}, "version 3 is not supported .*versions 1 and 2"),
        ({**_document(), "version": True}, "version True"),
        ({**_document(), "version": 1}, "version 1 file has no 'p_skip'"),
        ({k: v for k, v in _document().items() if k != "p_skip"}, "'p_skip' missing"),
        ({**_document(), "p_skip": "0.01"}, "'p_skip' missing or not a number"),
        ({**_document(), "p_insert": None}, "'p_insert' missing or not a number"),
        ({**_document(), "p_skip": True}, "'p_skip' missing or not a number"),
        ({**_document(), "p_skip": 1.5}, r"p_skip = 1\.5 is not strictly between 0 and 1"),
        ({**_document(), "p_insert": 0}, "p_insert = 0 is not strictly between"),
        ({**_document(), "p_skip": 0.995}, "nothing is left for one written character"),
        ({**_document(), "read_as_two": {"W": "VV"}}, "'read_as_two' missing or not a list"),
        ({**_document(), "read_as_two": [["W", "VV", 0.1]]}, "entry 1 is not an object"),
        (
            {**_document(), "read_as_two": [{"true": "W", "read": "VV"}]},
            "entry 1: 'probability' missing or not a number",
        ),
        (
            {**_document(), "read_as_two": [{"true": "W", "read": 2, "probability": 0.1}]},
            "entry 1: 'read' missing or not a string",
        ),
        (
            {**_document(), "read_as_two": [{"true": "W", "read": "V", "probability": 0.1}]},
            "'V' is not two legible read characters",
        ),
        (
            {**_document(), "read_as_two": [{"true": "U", "read": "VV", "probability": 0.1}]},
            "'U' is not in the alphabet",
        ),
        (
            {**_document(), "read_as_two": [{"true": "W", "read": "V?", "probability": 0.1}]},
            r"'V\?' is not two legible",
        ),
        (
            {**_document(), "read_as_two": [{"true": "W", "read": "VV", "probability": 1}]},
            r"P\('VV' \| 'W'\) = 1 is not strictly between",
        ),
        (
            {
                **_document(),
                "read_as_two": 2 * [{"true": "W", "read": "VV", "probability": 0.1}],
            },
            "'W' as 'VV' given twice",
        ),
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
    with pytest.raises(ReadError, match=r"pair 2: .*torn"):
        ConfusionModel.fit([(good, good), (good, good + "*")], CARTRIDGE_SCHEME)
    with pytest.raises(ReadError, match=r"pair 1: .*'#'"):
        ConfusionModel.fit([(good, good[:-1] + "#")], CARTRIDGE_SCHEME)
    with pytest.raises(ReadError, match=r"pair 1: .*empty"):
        ConfusionModel.fit([(good, " - ")], CARTRIDGE_SCHEME)
    with pytest.raises(SerialError, match="pair 1"):
        ConfusionModel.fit([(good[:-1] + "?", good)], CARTRIDGE_SCHEME)
    with pytest.raises(ConfusionModelError, match="strength"):
        ConfusionModel.fit([], CARTRIDGE_SCHEME, strength=0)
    with pytest.raises(ConfusionModelError, match="alphabet"):
        ConfusionModel.fit([], HEX_SCHEME, prior=ConfusionModel.default(CARTRIDGE_SCHEME))


# -- the indel model in fit ----------------------------------------------------------------
W_SCHEME = SerialScheme(
    name="lab", alphabet="0123456789ABCDVW", length=8, type_letters={}, check=False
)
"""A hexadecimal-like scheme with ``W`` (written ``VV``) and ``V`` among its characters."""


def _simulate_with_indels(
    model: ConfusionModel, scheme: SerialScheme, n: int, seed: int
) -> list[tuple[str, str]]:
    """``n`` reads of random serials drawn from the whole model: before each character and
    after the last, a legible character inserted with ``p_insert``; each character skipped
    with ``p_skip``, written as a pair with the pairs' probabilities, otherwise written as
    one character drawn from the matrix row.  (Empty reads, all skipped, are dropped.)"""
    rng = random.Random(seed)
    legible = model.read_characters.replace("?", "")
    pairs = []
    for _ in range(n):
        serial = scheme.generate(rng)
        written: list[str] = []
        for true in serial:
            if rng.random() < model.p_insert:
                written.append(rng.choice(legible))
            u = rng.random() - model.p_skip
            if u < 0:
                continue
            for t, two, p in model.pairs:
                if t == true:
                    if u < p:
                        written.append(two)
                        break
                    u -= p
            else:
                row = model.matrix[model.alphabet.index(true)]
                written.append(rng.choices(model.read_characters, weights=row)[0])
        if rng.random() < model.p_insert:
            written.append(rng.choice(legible))
        if written:
            pairs.append((serial, "".join(written)))
    return pairs


def test_fit_recovers_known_indel_rates() -> None:
    """Measured over seeds 0-39 with 3000 reads: p_skip 0.0243-0.0291 (mean 0.0274), p_insert
    0.0158-0.0197 (mean 0.0178), W as VV 0.178-0.221 (mean 0.197), worst matrix entry off by
    0.021-0.034.  Counting only the best alignment explains a skip and an insertion close
    together as substitutions, so both rates come out about a tenth low; the tolerances are
    the measured spread with margin."""
    truth = ConfusionModel.default(
        W_SCHEME,
        p_correct=0.7,
        p_confusable=0.2,
        p_unreadable=0.1,
        groups=("0D8B", "1I7", "UVW"),
        p_skip=0.03,
        p_insert=0.02,
        read_as_two=[("W", "VV", 0.2)],
    )
    prior = ConfusionModel.default(W_SCHEME)
    pairs = _simulate_with_indels(truth, W_SCHEME, 3000, seed=1)
    assert any(len(read) != W_SCHEME.length for _, read in pairs)
    fitted = ConfusionModel.fit(pairs, W_SCHEME, prior=prior)
    assert fitted.p_skip == pytest.approx(0.0275, abs=0.006)
    assert fitted.p_insert == pytest.approx(0.018, abs=0.005)
    assert [(t, w) for t, w, _ in fitted.pairs] == [("W", "VV")]
    assert fitted.pairs[0][2] == pytest.approx(0.2, abs=0.04)
    error = np.abs(fitted.matrix - truth.matrix).max()
    assert error < 0.04
    assert error < 0.5 * np.abs(prior.matrix - truth.matrix).max()
    assert_valid(fitted)
    assert f"fitted from {len(pairs)} reads" in fitted.note
    assert "skipped" in fitted.note and "inserted" in fitted.note and "W->VV" in fitted.note
    assert fitted.note.endswith(prior.note)


def test_fit_without_data_keeps_the_priors_indels() -> None:
    prior = ConfusionModel.default(
        W_SCHEME, p_skip=0.0123, p_insert=0.0456, read_as_two=[("W", "VV", 0.0789)]
    )
    fitted = ConfusionModel.fit([], W_SCHEME, prior=prior)
    assert (fitted.p_skip, fitted.p_insert, fitted.pairs) == (
        prior.p_skip,
        prior.p_insert,
        prior.pairs,
    )
    assert np.array_equal(fitted.matrix, prior.matrix)
    assert fitted.note.startswith("fitted from 0 reads")


def test_fit_counts_a_skip_an_insertion_and_a_pair() -> None:
    """Reads a character short or long are no longer refused: each is one step of the
    indel model, counted towards its estimate with the prior's weight ``strength``."""
    serial = "0123ABCW"
    cases = [
        ("0123ACW", "1 skipped", "p_skip", (1 + 20 * DEFAULT_P_SKIP) / (8 + 20)),
        ("01723ABCW", "1 inserted in 9 gaps", "p_insert", (1 + 20 * DEFAULT_P_INSERT) / 29),
        ("0123ABCVV", "1 written as two (W->VV 1)", "W->VV", (1 + 20 * 0.01) / (1 + 20)),
    ]
    for read, words, what, expected in cases:
        fitted = ConfusionModel.fit([(serial, read)], W_SCHEME)
        assert words in fitted.note
        value = {"p_skip": fitted.p_skip, "p_insert": fitted.p_insert}.get(
            what, fitted.pairs[0][2] if fitted.pairs else None
        )
        assert value == pytest.approx(expected), (read, fitted.note)
        assert_valid(fitted)


def test_fit_does_not_invent_pairs() -> None:
    prior = ConfusionModel.default(W_SCHEME, read_as_two=[])
    fitted = ConfusionModel.fit(200 * [("0123ABCW", "0123ABCVV")], W_SCHEME, prior=prior)
    assert fitted.pairs == ()
    assert "0 written as two" in fitted.note


def test_fit_leaves_out_reads_no_alignment_explains() -> None:
    """More ``?`` than the serial has characters: an inserted character is always legible."""
    serial = "0123ABCW"
    fitted = ConfusionModel.fit([(serial, serial), (serial, "?" * 9)], W_SCHEME)
    assert "fitted from 1 reads" in fitted.note
    assert "1 of 2 reads left out" in fitted.note and "explaining them: pairs 2)" in fitted.note
    assert_valid(fitted)


def test_fit_scales_pairs_that_leave_no_room_beside_p_skip() -> None:
    """With a tiny strength, every W written VV and every A skipped, the estimates would be
    p_skip 3/4 and W->VV 1: W's pair shares 1/4 with its (prior's) one-character outputs."""
    scheme = SerialScheme(name="aw", alphabet="AW", length=4, type_letters={}, check=False)
    prior = ConfusionModel.default(scheme, read_as_two=[("W", "VV", 0.5)])
    fitted = ConfusionModel.fit(50 * [("WAAA", "VV")], scheme, prior=prior, strength=0.01)
    assert "150 skipped, 50 written as two" in fitted.note
    assert "pairs of 'W' scaled down" in fitted.note
    assert fitted.p_skip == pytest.approx(0.75, abs=1e-3)
    assert fitted.p_skip + fitted.pairs[0][2] < 1.0
    assert_valid(fitted)


@settings(max_examples=60, deadline=None)
@given(
    models(),
    st.integers(2, 6),
    st.floats(0.01, 100.0),
    st.data(),
)
def test_fit_takes_any_complete_reads_and_gives_a_valid_model(
    prior: ConfusionModel, length: int, strength: float, data: st.DataObject
) -> None:
    scheme = SerialScheme(
        name="any", alphabet=prior.alphabet, length=length, type_letters={}, check=False
    )
    serials = st.text(prior.alphabet, min_size=length, max_size=length)
    reads = st.text(prior.read_characters, min_size=1, max_size=2 * length)
    pairs = data.draw(st.lists(st.tuples(serials, reads), max_size=8))
    fitted = ConfusionModel.fit(pairs, scheme, prior=prior, strength=strength)
    assert_valid(fitted)
    assert [(t, w) for t, w, _ in fitted.pairs] == [(t, w) for t, w, _ in prior.pairs]
    assert (fitted.alphabet, fitted.read_characters) == (prior.alphabet, prior.read_characters)
    assert fitted.note.startswith("fitted from")
    assert fitted.note == ConfusionModel.fit(pairs, scheme, prior=prior, strength=strength).note
