"""Malformed images: ``read_image`` raises ``FormatError`` (with an offset inside the input)
and nothing else, allocates no more than the input warrants, and ``taserlink show`` turns
each into exit 2 and one line on stderr.

Every case is built from a bundled capture by editing the bytes the header or a section
declares, so each test states which promise of the format it breaks.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import tracemalloc
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taserlink.cli import main
from taserlink.errors import FormatError, TruncatedError
from taserlink.format import RECORD_DTYPE, EventCode, Image, read_image
from taserlink.format import layout as L
from tests.conftest import CAPTURE_FILES

CAPTURES = {path.stem: path.read_bytes() for path in CAPTURE_FILES}
IMAGES = {name: read_image(data) for name, data in CAPTURES.items()}
SMALLEST = min(CAPTURES, key=lambda name: len(CAPTURES[name]))
LENGTH_FIELD = {name: 12 + 4 * i for i, name in enumerate(L.SECTION_NAMES)}
"""Offset of each section's length in the header: magic (8), version (2), record size (2)."""


def _header_lengths(data: bytes) -> dict[str, int]:
    return {name: struct.unpack_from("<I", data, at)[0] for name, at in LENGTH_FIELD.items()}


def _with_lengths(data: bytes, **lengths: int) -> bytes:
    """``data`` with the header's section lengths replaced (bytes after it untouched)."""
    out = bytearray(data)
    for name, length in lengths.items():
        struct.pack_into("<I", out, LENGTH_FIELD[name], length)
    return bytes(out)


def _with_byte(data: bytes, offset: int, value: int) -> bytes:
    out = bytearray(data)
    out[offset] = value
    return bytes(out)


def _read_error(data: bytes) -> FormatError:
    with pytest.raises(FormatError) as caught:
        read_image(data)
    error = caught.value
    assert error.offset is None or 0 <= error.offset <= len(data), error
    return error


def _show(path: Path, *options: str) -> tuple[int, str, str]:
    """Run ``taserlink show`` in-process; return the exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["show", str(path), *options])
    return code, out.getvalue(), err.getvalue()


def _assert_cli_rejects(tmp_path: Path, data: bytes, offset: int | None) -> str:
    """``taserlink show`` on ``data``: exit 2, nothing on stdout, one error line naming
    the file and ``offset``.  Returns that line."""
    path = tmp_path / "bad.tdi"
    path.write_bytes(data)
    code, out, err = _show(path)
    assert code == 2, err
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith(f"taserlink: error: {path}: "), err
    if offset is not None:
        assert f"at offset {offset}: " in err, err
    return err


# -- truncation ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_every_truncation_is_a_truncated_error_at_the_end(name: str) -> None:
    data = CAPTURES[name]
    for cut in range(len(data)):
        with pytest.raises(TruncatedError) as caught:
            read_image(data[:cut])
        assert caught.value.offset == cut, (cut, caught.value)
        assert f"at offset {cut}: " in str(caught.value)


@pytest.mark.slow
def test_every_truncation_of_a_capture_exits_2_with_one_line(tmp_path: Path) -> None:
    data = CAPTURES[SMALLEST]
    reasons = set()
    for cut in range(len(data)):
        line = _assert_cli_rejects(tmp_path, data[:cut], cut)
        reasons.add(line.split(f"at offset {cut}: ", 1)[1].split(" (")[0])
    # every kind of truncation was met: empty input, short header, and each section
    assert len(reasons) == 2 + len(L.SECTION_NAMES), reasons


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_truncation_at_each_section_boundary_exits_2(name: str, tmp_path: Path) -> None:
    data = CAPTURES[name]
    for span in IMAGES[name].spans.values():
        for cut in {span.offset, span.offset + 1, span.end - 1}:
            if cut < len(data):
                _assert_cli_rejects(tmp_path, data[:cut], cut)


def test_truncated_image_via_the_console_has_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "cut.tdi"
    cut = len(CAPTURES[SMALLEST]) // 2
    path.write_bytes(CAPTURES[SMALLEST][:cut])
    script = "import sys; from taserlink.cli import main; sys.exit(main())"
    done = subprocess.run(
        [sys.executable, "-c", script, "show", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"taserlink: error: {path}: at offset {cut}: ")


# -- the header ---------------------------------------------------------------------------


@pytest.mark.parametrize("position", range(len(L.MAGIC)))
def test_bad_magic(position: int, tmp_path: Path) -> None:
    data = CAPTURES[SMALLEST]
    bad = _with_byte(data, position, data[position] ^ 0x20)
    error = _read_error(bad)
    assert not isinstance(error, TruncatedError)
    assert error.offset == 0 and "magic" in str(error)
    _assert_cli_rejects(tmp_path, bad, 0)
    # a short input that is not a prefix of the magic is bad magic, not a truncation
    assert not isinstance(_read_error(bad[: position + 1]), TruncatedError)


@pytest.mark.parametrize("version", [0, L.FORMAT_VERSION + 1, 0xFFFF])
def test_unknown_version(version: int, tmp_path: Path) -> None:
    bad = bytearray(CAPTURES[SMALLEST])
    struct.pack_into("<H", bad, len(L.MAGIC), version)
    error = _read_error(bytes(bad))
    assert error.offset == len(L.MAGIC)
    assert f"version {version}" in str(error)
    _assert_cli_rejects(tmp_path, bytes(bad), len(L.MAGIC))


@pytest.mark.parametrize("size", [0, L.RECORD_SIZE - 1, L.RECORD_SIZE * 2, 0xFFFF])
def test_wrong_record_size(size: int, tmp_path: Path) -> None:
    bad = bytearray(CAPTURES[SMALLEST])
    struct.pack_into("<H", bad, len(L.MAGIC) + 2, size)
    error = _read_error(bytes(bad))
    assert error.offset == len(L.MAGIC) + 2 and f"record size {size}" in str(error)
    _assert_cli_rejects(tmp_path, bytes(bad), len(L.MAGIC) + 2)


@pytest.mark.parametrize("section", L.SECTION_NAMES)
def test_section_running_past_the_end(section: str, tmp_path: Path) -> None:
    data = CAPTURES[SMALLEST]
    span = IMAGES[SMALLEST].spans[section]
    for length in (len(data) - span.offset + 1, 0xFFFFFFFF):
        bad = _with_lengths(data, **{section: length})
        error = _read_error(bad)
        assert isinstance(error, TruncatedError)
        assert error.offset == len(bad) and section in str(error)
        _assert_cli_rejects(tmp_path, bad, len(bad))


def test_absurd_lengths_allocate_nothing_like_them() -> None:
    every = dict.fromkeys(L.SECTION_NAMES, 0xFFFFFFFF)
    small = _with_lengths(CAPTURES[SMALLEST], **every)[:100]
    cases = [small]
    # each section in turn claims 4 GiB, the others are empty
    for name in L.SECTION_NAMES:
        lengths = dict.fromkeys(L.SECTION_NAMES, 0) | {name: 0xFFFFFFFF}
        cases.append(_with_lengths(CAPTURES[SMALLEST], **lengths)[:100])
    for data in cases:
        tracemalloc.start()
        try:
            with pytest.raises(TruncatedError):
                read_image(data)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 1 << 20, peak


def test_a_huge_certificate_count_allocates_nothing_like_it() -> None:
    """255 certificates of 65,535 bytes each claimed in a 100-byte certificates section."""
    image = IMAGES[SMALLEST]
    hostile = bytes([255]) + b"\xff\xff" + bytes(97)
    sections = [image.section_bytes(name) for name in L.SECTION_NAMES]
    sections[L.SECTION_NAMES.index("certificates")] = hostile
    header = _with_lengths(
        image.section_bytes("header"),
        **{name: len(part) for name, part in zip(L.SECTION_NAMES, sections, strict=True)},
    )
    data = header + b"".join(sections)
    tracemalloc.start()
    try:
        error = _read_error(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    certificates = image.spans["certificates"].offset
    assert "certificates section: items[0] (of 255)" in str(error), error
    assert error.offset == certificates + 1
    assert peak < len(data) + (1 << 20), peak


# -- section sizes --------------------------------------------------------------------------


@pytest.mark.parametrize(("section", "unit"), [("records", L.RECORD_SIZE), ("seals", L.SEAL_SIZE)])
def test_records_and_seals_must_be_whole(section: str, unit: int, tmp_path: Path) -> None:
    data = CAPTURES[SMALLEST]
    lengths = _header_lengths(data)
    for shift in (-1, 1, unit // 2):
        # move bytes between this section and the acquisition: the total stays right
        bad = _with_lengths(
            data,
            **{section: lengths[section] + shift, "acquisition": lengths["acquisition"] - shift},
        )
        error = _read_error(bad)
        offset = IMAGES[SMALLEST].spans[section].offset
        assert error.offset == offset and f"not a multiple of {unit}" in str(error)
        _assert_cli_rejects(tmp_path, bad, offset)


@pytest.mark.parametrize("section", ["base", "statement"])
def test_fixed_size_sections_must_have_their_size(section: str, tmp_path: Path) -> None:
    data = CAPTURES[SMALLEST]
    lengths = _header_lengths(data)
    for shift in (-1, 1, -lengths[section] + 1):
        bad = _with_lengths(
            data,
            **{section: lengths[section] + shift, "acquisition": lengths["acquisition"] - shift},
        )
        error = _read_error(bad)
        offset = IMAGES[SMALLEST].spans[section].offset
        assert error.offset == offset and f"{section} section is" in str(error)
        _assert_cli_rejects(tmp_path, bad, offset)


def test_statement_bytes_moved_into_the_acquisition() -> None:
    """No statement declared, its bytes counted as acquisition: the acquisition is wrong."""
    data = CAPTURES[SMALLEST]
    lengths = _header_lengths(data)
    bad = _with_lengths(
        data, statement=0, acquisition=lengths["acquisition"] + lengths["statement"]
    )
    error = _read_error(bad)
    assert "acquisition section" in str(error)
    assert error.offset is not None
    assert error.offset >= IMAGES[SMALLEST].spans["statement"].offset


@pytest.mark.parametrize("extra", [b"\x00", bytes(1000), L.MAGIC])
def test_trailing_bytes(extra: bytes, tmp_path: Path) -> None:
    data = CAPTURES[SMALLEST]
    error = _read_error(data + extra)
    assert not isinstance(error, TruncatedError)
    assert error.offset == len(data) and f"{len(extra)} unexplained bytes" in str(error)
    _assert_cli_rejects(tmp_path, data + extra, len(data))


@pytest.mark.parametrize("section", ["identity", "acquisition"])
def test_section_longer_than_its_fields(section: str) -> None:
    """One byte more in a variable section, one less in the next-but-one: unexplained."""
    data = CAPTURES[SMALLEST]
    span = IMAGES[SMALLEST].spans[section]
    extended = bytearray(data[: span.end]) + b"\x00" + data[span.end :]
    lengths = _header_lengths(data)
    bad = _with_lengths(bytes(extended), **{section: lengths[section] + 1})
    error = _read_error(bad)
    assert error.offset == span.end and "unexplained" in str(error)


# -- strings and counts inside sections ------------------------------------------------------


def _string_fields(image: Image) -> list[tuple[str, str, int]]:
    """(section, field, offset of its first character) of every string an image holds.

    Found by searching each section in field order for the string (length-prefixed where
    the format prefixes it), so the offsets come from the bytes, not from the layout code.
    """
    ident, acq = image.identity, image.acquisition
    fields = {
        "identity": [
            ("serial", ident.serial, False),
            ("model", ident.model, True),
            ("hardware_revision", ident.hardware_revision, True),
        ],
        "acquisition": [
            ("clock_source", acq.clock_source, True),
            ("tool_version", acq.tool_version, True),
            ("operator", acq.operator, True),
            ("workstation", acq.workstation, True),
        ],
    }
    found = []
    for section, strings in fields.items():
        span = image.spans[section]
        cursor = span.offset
        for name, value, prefixed in strings:
            text = value.encode()
            needle = bytes([len(text)]) + text if prefixed else text
            at = image.data.find(needle, cursor, span.end)
            assert at >= 0 and text, (section, name)
            found.append((section, name, at + (1 if prefixed else 0)))
            cursor = at + len(needle)
    return found


@pytest.mark.parametrize("bad_bytes", [b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x80"])
@pytest.mark.parametrize("field", range(7))
def test_strings_that_are_not_valid_text(field: int, bad_bytes: bytes, tmp_path: Path) -> None:
    image = IMAGES[SMALLEST]
    section, name, position = _string_fields(image)[field]
    bad = bytearray(image.data)
    bad[position : position + len(bad_bytes)] = bad_bytes
    error = _read_error(bytes(bad))
    assert f"{section} section: {name} is not valid" in str(error), error
    assert error.offset == position
    _assert_cli_rejects(tmp_path, bytes(bad), position)


@pytest.mark.parametrize("count", [3, 4, 255])
def test_more_certificates_declared_than_the_section_holds(count: int, tmp_path: Path) -> None:
    image = IMAGES[SMALLEST]
    assert len(image.certificates) < count
    span = image.spans["certificates"]
    bad = _with_byte(image.data, span.offset, count)
    error = _read_error(bad)
    assert f"certificates section: items[{len(image.certificates)}] (of {count})" in str(error)
    assert error.offset == span.end  # where the missing certificate would start
    _assert_cli_rejects(tmp_path, bad, span.end)


def test_a_certificate_longer_than_the_section(tmp_path: Path) -> None:
    image = IMAGES[SMALLEST]
    span = image.spans["certificates"]
    bad = bytearray(image.data)
    struct.pack_into("<H", bad, span.offset + 1, 0xFFFF)
    error = _read_error(bytes(bad))
    assert "items[0]" in str(error) and error.offset == span.offset + 1
    _assert_cli_rejects(tmp_path, bytes(bad), span.offset + 1)


def test_missing_and_unreadable_inputs_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "absent.tdi"
    for path in (missing, tmp_path):
        code, out, err = _show(path)
        assert code == 2 and out == ""
        assert err.startswith(f"taserlink: error: cannot read {path}: ") and err.count("\n") == 1


# -- property tests -----------------------------------------------------------------------

_VARIABLE = ("header", "identity", "certificates", "base", "statement", "acquisition")


def _mutation_positions(image: Image) -> list[int]:
    """Offsets of the header, the variable sections (of certificates: the count and each
    length prefix), and the first bytes of records and seals."""
    positions: list[int] = []
    for name, span in image.spans.items():
        length = span.length if name in _VARIABLE else 16
        if name != "certificates":
            positions.extend(range(span.offset, span.offset + min(length, span.length)))
    cursor = image.spans["certificates"].offset
    positions.append(cursor)
    for der in image.certificates:
        positions += [cursor + 1, cursor + 2]
        cursor += 2 + len(der)
    return positions


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    name = draw(st.sampled_from(sorted(CAPTURES)))
    image = IMAGES[name]
    out = bytearray(image.data)
    positions = _mutation_positions(image)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["set", "insert", "delete"]))
        at = draw(st.sampled_from(positions)) if positions else 0
        at = min(at, len(out))
        if kind == "set" and at < len(out):
            out[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            del out[at : at + draw(st.integers(1, 8))]
    return bytes(out)


def _reads_or_rejects(data: bytes) -> Image | None:
    try:
        image = read_image(data)
    except FormatError as error:
        assert error.offset is None or 0 <= error.offset <= len(data)
        return None
    assert sum(span.length for span in image.spans.values()) == len(data)
    return image


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_mutated_images_parse_or_raise_format_error(data: bytes) -> None:
    _reads_or_rejects(data)


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_anything_after_the_magic_parses_or_raises_format_error(tail: bytes) -> None:
    _reads_or_rejects(L.MAGIC + tail)


def _header_then(draw_lengths: list[int], body: bytes) -> bytes:
    head = bytearray(_with_lengths(CAPTURES[SMALLEST], **dict.fromkeys(L.SECTION_NAMES, 0)))
    for name, length in zip(L.SECTION_NAMES, draw_lengths, strict=True):
        struct.pack_into("<I", head, LENGTH_FIELD[name], length)
    return bytes(head[: L.HEADER_SIZE]) + body


@settings(max_examples=200)
@given(
    st.lists(st.integers(0, 0xFFFFFFFF), min_size=7, max_size=7),
    st.binary(max_size=400),
)
def test_any_declared_lengths_parse_or_raise_format_error(lengths: list[int], body: bytes) -> None:
    _reads_or_rejects(_header_then(lengths, body))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), name=st.sampled_from(sorted(CAPTURES)))
def test_images_with_garbage_records_still_show(
    tmp_path_factory: pytest.TempPathFactory, seed: int, name: str
) -> None:
    """Structure intact, records random (codes mostly known, payloads, times and CRCs
    random): every rendering works and exits 0 with one line per record."""
    image = IMAGES[name]
    rng = np.random.default_rng(seed)
    records = np.frombuffer(rng.bytes(image.spans["records"].length), dtype=RECORD_DTYPE).copy()
    known = np.array([int(code) for code in EventCode], dtype=records["code"].dtype)
    pick = rng.random(len(records)) < 0.8
    records["code"][pick] = rng.choice(known, int(pick.sum()))
    span = image.spans["records"]
    bad = image.data[: span.offset] + records.tobytes() + image.data[span.end :]
    shown = read_image(bad)
    path = tmp_path_factory.mktemp("garbage") / "image.tdi"
    path.write_bytes(bad)
    for option in ((), ("--csv",), ("--json",)):
        code, out, err = _show(path, *option)
        assert code == 0, err
        assert err == ""
        assert out.count("\n") >= len(shown.records)
