"""Reading an image is bounded by what the file holds and what its header declares.

:func:`taserlink.format.read_image` checks a file's header against the file's size before
it reads the rest: a 100-byte file whose header claims a 4 GB record section is refused at
once, without allocating; a file larger than its header says is refused without its body
being read; from a pipe or a device (no size) no more is read than the header declares,
plus one byte.  ``show`` and ``verify`` read images this way.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import threading
import tracemalloc
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from taserlink.cli import main
from taserlink.errors import FormatError, TruncatedError
from taserlink.format import layout as L
from taserlink.format import read_image

FOUR_GB = 0xFFFF_FFE0  # a multiple of the record size


def _header(*lengths: int) -> bytes:
    """A valid header declaring ``lengths`` (identity … acquisition)."""
    return (
        L.MAGIC + struct.pack("<HH", L.FORMAT_VERSION, L.RECORD_SIZE) + struct.pack("<7I", *lengths)
    )


def _peak(action: Callable[[], Any]) -> tuple[BaseException, int]:
    """The error ``action`` raises and the peak of Python allocations meanwhile (bytes)."""
    tracemalloc.start()
    try:
        action()
    except BaseException as error:  # returned, to be asserted on
        caught = error
    else:  # pragma: no cover - the failure these tests look for
        raise AssertionError("no error")
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return caught, peak


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def claims_4gb(tmp_path: Path) -> Path:
    path = tmp_path / "claims-4gb.tdi"
    head = _header(0, 0, L.BASE_SIZE, FOUR_GB, 0, 0, 200)
    path.write_bytes((head + bytes(100))[:100])
    return path


def test_a_100_byte_file_claiming_4_gb_is_refused_at_once(claims_4gb: Path) -> None:
    error, peak = _peak(lambda: read_image(claims_4gb))
    assert isinstance(error, TruncatedError)
    assert error.offset == 100
    assert f"base section ({L.BASE_SIZE} bytes from offset 40) runs past the end" in str(error)
    assert peak < 64 * 1024


def test_show_and_verify_refuse_it_with_a_format_error(claims_4gb: Path) -> None:
    code, out, err = _run("show", str(claims_4gb))
    assert (code, out) == (2, "")
    assert err == (
        f"taserlink: error: {claims_4gb}: at offset 100: base section ({L.BASE_SIZE} bytes "
        "from offset 40) runs past the end of the input\n"
    )
    code, out, err = _run("verify", str(claims_4gb), "--json")
    assert code == 1
    assert "truncated" in out and "runs past the end of the input" in out


def test_records_claiming_4_gb_after_good_sections_are_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "records-4gb.tdi"
    path.write_bytes(_header(10, 10, L.BASE_SIZE, FOUR_GB, 0, 0, 200) + bytes(200))
    error, peak = _peak(lambda: read_image(path))
    assert isinstance(error, TruncatedError)
    offset = L.HEADER_SIZE + 10 + 10 + L.BASE_SIZE
    assert f"records section ({FOUR_GB} bytes from offset {offset})" in str(error)
    assert peak < 64 * 1024


def test_a_file_larger_than_its_header_says_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "padded.tdi"
    with open(path, "wb") as stream:
        stream.write(_header(10, 10, L.BASE_SIZE, 0, 0, 0, 200))
        stream.truncate(64 << 20)  # 64 MB, sparse
    error, peak = _peak(lambda: read_image(path))
    assert isinstance(error, FormatError) and not isinstance(error, TruncatedError)
    assert "unexplained bytes after the last section" in str(error)
    assert peak < 1 << 20  # the 64 MB were never read


def test_from_a_pipe_no_more_is_read_than_the_header_declares(tmp_path: Path) -> None:
    fifo = tmp_path / "image.fifo"
    os.mkfifo(fifo)
    declared = _header(10, 10, L.BASE_SIZE, 1 << 20, 0, 0, 200)
    sent: list[int] = []

    def writer() -> None:
        total = 0
        try:
            with open(fifo, "wb") as stream:
                stream.write(declared)
                chunk = bytes(1 << 16)
                for _ in range(256):  # 16 MB if the reader read on
                    stream.write(chunk)
                    total += len(chunk)
        except BrokenPipeError:
            pass
        sent.append(total)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    error, peak = _peak(lambda: read_image(fifo))
    thread.join(timeout=30)
    assert isinstance(error, FormatError)
    assert "unexplained bytes after the last section" in str(error)
    assert peak < 4 << 20
    assert sent and sent[0] < 8 << 20  # the reader stopped long before the writer's end


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")
def test_an_endless_device_is_refused_at_its_first_bytes(tmp_path: Path) -> None:
    zero = tmp_path / "zero"
    os.mknod(zero, stat.S_IFCHR | 0o666, os.makedev(1, 5))  # like /dev/zero
    error, peak = _peak(lambda: read_image(zero))
    assert isinstance(error, FormatError)
    assert str(error) == "at offset 0: bad magic: not a dataport image"
    assert peak < 64 * 1024
