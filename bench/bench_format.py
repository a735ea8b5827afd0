#!/usr/bin/env python3
"""Reading dataport records: construct, struct and the numpy bulk path, side by side.

    python bench/bench_format.py                       # 1,000,000 records, best of 5
    python bench/bench_format.py --records 200000 --repeat 3

One run generates an image with :func:`taserlink.emulator.synthetic.synthetic_image`, then
times every way of reading its record section and prints one table: records/s and MB/s
(MB = 10**6 bytes of the record section, 32 bytes a record), best of ``--repeat`` runs,
garbage collection off while timing.  The per-record construct parsers are too slow to run
over a million records: they are timed on ``--sample`` consecutive records from the middle
of the section and their rate is extrapolated (marked "sampled" in the table).  Then the
ratios the project tracks (bulk / construct per-record, target ≥ 150×; bulk vs
``struct.iter_unpack``).
"""

from __future__ import annotations

import argparse
import collections
import struct
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import construct as cs
import numpy as np
from common import best_of
from common import machine_info as shared_machine_info

from taserlink.emulator.synthetic import synthetic_image
from taserlink.format import CrcCheck, read_image
from taserlink.format import layout as L
from taserlink.format.bulk import (
    CRC_SPAN,
    crc_mismatches,
    records_from_buffer,
)

RECORD_STRUCT = struct.Struct("<IQH14sI")
"""A record as ``struct`` sees it: seq, time_ms, code, the payload's raw bytes, CRC."""
assert RECORD_STRUCT.size == L.RECORD_SIZE
TARGET_RATIO = 150.0


@dataclass(frozen=True)
class Row:
    method: str
    records: int
    seconds: float
    note: str = ""

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    @property
    def mb_s(self) -> float:
        return self.rate * L.RECORD_SIZE / 1e6


# -- the readers ---------------------------------------------------------------------------


def construct_checked(raw: bytes) -> int:
    """``layout.RECORD.parse`` per record: CRC (``Checksum``) and reserved bytes checked."""
    parse = L.RECORD.parse
    size = L.RECORD_SIZE
    for at in range(0, len(raw), size):
        parse(raw[at : at + size])
    return len(raw) // size


def construct_compiled(compiled: Any) -> Callable[[bytes], int]:
    """``RECORD.compile()`` per record: construct's compiled parser, CRC still checked."""

    def run(raw: bytes) -> int:
        parse = compiled.parse
        size = L.RECORD_SIZE
        for at in range(0, len(raw), size):
            parse(raw[at : at + size])
        return len(raw) // size

    return run


def construct_compiled_body(compiled_body: Any) -> Callable[[bytes], int]:
    """``RECORD_BODY.compile()`` per record, the CRC checked by hand with ``zlib.crc32``."""

    def run(raw: bytes) -> int:
        parse = compiled_body.parse
        crc32 = zlib.crc32
        size, span = L.RECORD_SIZE, CRC_SPAN
        bad = 0
        for at in range(0, len(raw), size):
            body = raw[at : at + span]
            parse(body)
            bad += crc32(body) != int.from_bytes(raw[at + span : at + size], "little")
        if bad:
            raise cs.ChecksumError(f"{bad} records fail their CRC")
        return len(raw) // size

    return run


def iter_unpack(raw: bytes) -> int:
    """``struct.iter_unpack`` over the section, tuples consumed and dropped (no CRC check)."""
    collections.deque(RECORD_STRUCT.iter_unpack(raw), maxlen=0)
    return len(raw) // L.RECORD_SIZE


def iter_unpack_crc(raw: bytes) -> int:
    """``struct.iter_unpack`` plus a ``zlib.crc32`` per record compared with the stored CRC."""
    view = memoryview(raw)
    crc32 = zlib.crc32
    size, span = L.RECORD_SIZE, CRC_SPAN
    bad = 0
    for index, fields in enumerate(RECORD_STRUCT.iter_unpack(raw)):
        at = index * size
        bad += crc32(view[at : at + span]) != fields[4]
    if bad:
        raise ValueError(f"{bad} records fail their CRC")
    return len(raw) // size


# -- the run -------------------------------------------------------------------------------


def machine_info() -> list[str]:
    version = cs.version_string if hasattr(cs, "version_string") else cs.__version__
    return shared_machine_info(
        {"numpy": np.__version__, "construct": str(version)},
        " (every method here runs on one core)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="records (1,000,000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per method, best kept (5)")
    parser.add_argument(
        "--sample", type=int, default=50_000, help="records the per-record parsers time (50,000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="synthetic image seed (0)")
    args = parser.parse_args(argv)
    if args.records < 1 or args.repeat < 1 or args.sample < 1:
        parser.error("--records, --repeat and --sample must be ≥ 1")

    print("taserlink format benchmark")
    for line in machine_info():
        print("  " + line)

    start = time.perf_counter()
    data = synthetic_image(args.records, args.seed)
    generated = time.perf_counter() - start
    spans = read_image(data, crc=CrcCheck.SKIP).spans
    section = spans["records"]
    raw = data[section.offset : section.end]
    n = section.length // L.RECORD_SIZE
    sample = min(args.sample, n)
    first = (n - sample) // 2
    raw_sample = raw[first * L.RECORD_SIZE : (first + sample) * L.RECORD_SIZE]
    print(
        f"\nsynthetic image: {n:,} records, {len(data) / 1e6:.1f} MB "
        f"({section.length / 1e6:.1f} MB of records), generated in {generated:.2f} s "
        f"(seed {args.seed})"
    )
    print(f"best of {args.repeat}; per-record construct parsers timed on {sample:,} records\n")

    compiled = L.RECORD.compile()
    compiled_body = L.RECORD_BODY.compile()
    sampled = f"sampled {sample:,}, extrapolated" if sample < n else ""
    rows: list[Row] = []

    def add(method: str, records: int, work: Callable[[], Any], note: str = "") -> Any:
        seconds, result = best_of(args.repeat, work)
        rows.append(Row(method, records, seconds, note))
        return result

    add("construct RECORD.parse (checked)", sample, lambda: construct_checked(raw_sample), sampled)
    add(
        "construct RECORD.compile() (CRC checked)",
        sample,
        lambda: construct_compiled(compiled)(raw_sample),
        sampled,
    )
    add(
        "construct RECORD_BODY.compile() + zlib.crc32",
        sample,
        lambda: construct_compiled_body(compiled_body)(raw_sample),
        sampled,
    )
    add("struct.iter_unpack (no CRC)", n, lambda: iter_unpack(raw))
    add("struct.iter_unpack + zlib.crc32", n, lambda: iter_unpack_crc(raw))
    image = add(
        "bulk read_image(crc=REPORT)",
        n,
        lambda: read_image(data, crc=CrcCheck.REPORT),
        "whole image: all sections parsed",
    )
    bare = add(
        "bulk records_from_buffer + crc_mismatches",
        n,
        lambda: crc_mismatches(records_from_buffer(data, section.offset, n)),
    )
    if len(image.crc_failures) or len(bare):
        print("ERROR: the bulk path reports CRC failures in a valid image", file=sys.stderr)
        return 1

    width = max(len(r.method) for r in rows)
    print(f"{'method':<{width}}  {'records/s':>13}  {'MB/s':>8}  {'best s':>9}  note")
    for r in rows:
        print(f"{r.method:<{width}}  {r.rate:>13,.0f}  {r.mb_s:>8.1f}  {r.seconds:>9.4f}  {r.note}")

    by = {r.method: r for r in rows}
    checked = by["construct RECORD.parse (checked)"].rate
    unpack = by["struct.iter_unpack (no CRC)"].rate
    unpack_crc = by["struct.iter_unpack + zlib.crc32"].rate
    whole = by["bulk read_image(crc=REPORT)"].rate
    bulk = by["bulk records_from_buffer + crc_mismatches"].rate
    ratio = whole / checked
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(
        f"\nbulk read_image / construct per-record:     {ratio:8.0f}×"
        f"  (target ≥ {TARGET_RATIO:.0f}×: {verdict})"
    )
    print(f"bare bulk / construct per-record:           {bulk / checked:8.0f}×")
    print(f"bulk read_image / struct.iter_unpack:       {whole / unpack:8.1f}×")
    print(f"bulk read_image / iter_unpack + zlib.crc32: {whole / unpack_crc:8.1f}×")

    return 0


if __name__ == "__main__":
    sys.exit(main())
