#!/usr/bin/env python3
"""Verifying a dataport image: the whole verifier, its chain walk and its signature checks.

    python bench/bench_verify.py                     # 1,000,000 records, best of 5
    python bench/bench_verify.py --records 200000 --repeat 3 --jobs 2

One run generates a valid image with :func:`taserlink.emulator.synthetic.synthetic_image`
(a seal every 256 records), then prints, best of ``--repeat`` runs with garbage collection
off while timing:

1. the whole ``verify_image(bytes, trust)`` (read + verify) and its steps, one row a check;
2. the hash chain: links/s of the verifier's chain walk (``check_chain``: the chain from the
   signed base compared at every seal and the statement) and of ``chain_records`` alone,
   against a bare ``h = sha256(h + rec).digest()`` loop over the same records, both over a
   ready-made list of 32-byte ``bytes`` (the strictest baseline: slicing not timed) and
   slicing the section inside the loop;
3. signatures verified/s: the verifier's signature step (base, every seal, statement) against
   a bare ``Ed25519PublicKey.verify`` loop over the same seals;
4. the parallel experiment: the chain cut into segments at seals (each segment starts from
   its seal's signed value, so segments are independent) and the seal signatures, shared
   among ``--jobs`` forked processes, against the same work in one process.

Targets: the verifier's chain walk ≥ 75 % of the bare loop's links/s; the whole verification
of a million records ≤ 1 s.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import multiprocessing
import ssl
import sys
import time
from typing import Any

import cryptography
import numpy as np
from common import best_of
from common import machine_info as shared_machine_info
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from taserlink.emulator.pki import test_authority
from taserlink.emulator.synthetic import synthetic_image
from taserlink.format import Image, read_image
from taserlink.format import layout as L
from taserlink.integrity import TrustStore, chain_records, verify_image
from taserlink.integrity import verify as verify_module

CHAIN_TARGET = 0.75
WHOLE_TARGET_S = 1.0
STEPS = (
    "check_acquisition",
    "check_certificates",
    "check_signatures",
    "check_records",
    "check_chain",
    "check_clock",
)


def machine_info() -> list[str]:
    return shared_machine_info(
        {
            "numpy": np.__version__,
            "cryptography": f"{cryptography.__version__} ({ssl.OPENSSL_VERSION} behind hashlib)",
        }
    )


# -- the bare baselines --------------------------------------------------------------------


def bare_chain_list(value: bytes, records: list[bytes]) -> bytes:
    """The textbook loop over ready-made 32-byte ``bytes`` (slicing done beforehand)."""
    sha256 = hashlib.sha256
    for record in records:
        value = sha256(value + record).digest()
    return value


def bare_chain_slicing(value: bytes, raw: bytes) -> bytes:
    """The textbook loop slicing the section as it goes."""
    sha256 = hashlib.sha256
    size = L.RECORD_SIZE
    for start in range(0, len(raw), size):
        value = sha256(value + raw[start : start + size]).digest()
    return value


def seal_messages(image: Image) -> list[tuple[bytes, bytes]]:
    """``(signature, signed message)`` of every seal, cut from the image's bytes."""
    raw = image.section_bytes("seals")
    cut = L.SEAL_SIZE - L.SIGNATURE_SIZE
    out = []
    for at in range(0, len(raw), L.SEAL_SIZE):
        fields, signature = raw[at : at + cut], raw[at + cut : at + L.SEAL_SIZE]
        out.append((signature, L.signed_message("seal", image.identity.serial, fields)))
    return out


def bare_verify(key: Ed25519PublicKey, messages: list[tuple[bytes, bytes]]) -> int:
    for signature, message in messages:
        key.verify(signature, message)
    return len(messages)


# -- the parallel experiment ---------------------------------------------------------------

_SHARED: dict[str, Any] = {}
"""Set before the workers fork, so they inherit the image instead of receiving it."""


def _chain_task(task: tuple[int, int, bytes]) -> bytes:
    first, end, before = task
    records: memoryview = _SHARED["records"]
    return chain_records(before, records[first * L.RECORD_SIZE : end * L.RECORD_SIZE])


def _signature_task(task: tuple[int, int]) -> int:
    first, end = task
    key: Ed25519PublicKey = _SHARED["key"]
    good = 0
    for signature, message in _SHARED["seals"][first:end]:
        try:
            key.verify(signature, message)
            good += 1
        except Exception:
            pass
    return good


def _dispatch(task: tuple[str, Any]) -> Any:
    kind, payload = task
    return _chain_task(payload) if kind == "chain" else _signature_task(payload)


def parallel_tasks(image: Image, pieces: int) -> tuple[list[tuple[str, Any]], list[bytes]]:
    """Chain segments cut at seals (≈ ``pieces`` of them) and as many signature batches.

    Returns the tasks and, per chain segment, the value it must end on (the signed seal's
    chain, or the statement's at the end).
    """
    assert image.statement is not None
    n, seals = len(image.records), image.seals
    seal_seq = seals["seq"].astype(np.int64)
    position = np.searchsorted(image.records["seq"].astype(np.int64), seal_seq) + 1
    cuts = sorted({int(position[round(i * len(seals) / pieces) - 1]) for i in range(1, pieces)})
    tasks: list[tuple[str, Any]] = []
    expected = []
    start, before = 0, image.base.chain_before
    for end in [*cuts, n]:
        tasks.append(("chain", (start, end, before)))
        if end == n:
            expected.append(image.statement.chain)
        else:
            index = int(np.flatnonzero(position == end)[0])
            expected.append(bytes(seals["chain"][index]))
            before = expected[-1]
        start = end
    step = -(-len(seals) // pieces)
    tasks += [("sig", (i, min(i + step, len(seals)))) for i in range(0, len(seals), step)]
    return tasks, expected


def run_parallel(
    pool: Any, tasks: list[tuple[str, Any]], expected: list[bytes], seals: int
) -> None:
    results = pool.map(_dispatch, tasks, chunksize=1)
    chains = [r for (kind, _), r in zip(tasks, results, strict=True) if kind == "chain"]
    signed = sum(r for (kind, _), r in zip(tasks, results, strict=True) if kind == "sig")
    if chains != expected or signed != seals:
        raise AssertionError("the parallel verification disagrees with the serial one")


# -- the run -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=1_000_000, help="records (1,000,000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure, best kept (5)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic image seed (0)")
    parser.add_argument("--jobs", type=int, default=2, help="processes, parallel experiment (2)")
    args = parser.parse_args(argv)
    if args.records < 1 or args.repeat < 1 or args.jobs < 1:
        parser.error("--records, --repeat and --jobs must be ≥ 1")

    print("taserlink verify benchmark")
    for line in machine_info():
        print("  " + line)

    start = time.perf_counter()
    data = synthetic_image(args.records, args.seed)
    generated = time.perf_counter() - start
    trust = TrustStore.from_pem(test_authority().root_pem())
    image = read_image(data)
    n, seals = len(image.records), len(image.seals)
    print(
        f"\nsynthetic image: {n:,} records, {seals:,} seals, {len(data) / 1e6:.1f} MB, "
        f"generated in {generated:.2f} s (seed {args.seed}); best of {args.repeat}\n"
    )

    # 1. the whole verification, then step by step
    whole, report = best_of(args.repeat, lambda: verify_image(data, trust))
    if not report.ok or report.coverage.statement_covers != int(image.records["seq"][-1]):
        print(f"ERROR: the synthetic image does not verify: {report.coverage}", file=sys.stderr)
        return 1
    read_s, _ = best_of(args.repeat, lambda: read_image(data))
    parsed_s, _ = best_of(args.repeat, lambda: verify_image(image, trust))
    steps: dict[str, list[float]] = {name: [] for name in STEPS}
    for _ in range(args.repeat):
        verifier = verify_module._Verifier(read_image(data), trust)
        gc.collect()
        gc.disable()
        try:
            for name in STEPS:
                begin = time.perf_counter()
                getattr(verifier, name)()
                steps[name].append(time.perf_counter() - begin)
        finally:
            gc.enable()
    verdict = "met" if whole <= WHOLE_TARGET_S else "NOT met"
    target = f"(target ≤ {WHOLE_TARGET_S} s: {verdict})"
    print(f"{'whole verify_image(bytes)':<34} {whole:8.3f} s   {target}")
    print(f"{'  read_image':<34} {read_s:8.3f} s")
    print(f"{'  verify_image(parsed Image)':<34} {parsed_s:8.3f} s")
    for name in STEPS:
        print(f"{'    ' + name:<34} {min(steps[name]):8.3f} s")

    # 2. the chain
    section = image.spans["records"]
    raw = data[section.offset : section.end]
    records = [raw[i : i + L.RECORD_SIZE] for i in range(0, len(raw), L.RECORD_SIZE)]
    before = image.base.chain_before
    assert image.statement is not None
    final = image.statement.chain
    bare_s, value = best_of(args.repeat, lambda: bare_chain_list(before, records))
    assert value == final
    slicing_s, value = best_of(args.repeat, lambda: bare_chain_slicing(before, raw))
    assert value == final
    view = memoryview(data)[section.offset : section.end]
    function_s, value = best_of(args.repeat, lambda: chain_records(before, view))
    assert value == final
    walk_s = min(steps["check_chain"])
    rows = [
        ("bare loop, ready-made bytes list", bare_s),
        ("bare loop, slicing in the loop", slicing_s),
        ("chain_records (whole section)", function_s),
        ("verifier chain walk (check_chain)", walk_s),
    ]
    print(f"\n{'hash chain':<34} {'links/s':>12}  {'vs bare list':>12}  {'vs slicing':>10}")
    for label, seconds in rows:
        print(
            f"{label:<34} {n / seconds:>12,.0f}  {bare_s / seconds:>11.0%}  "
            f"{slicing_s / seconds:>10.0%}"
        )
    verdict = "met" if bare_s / walk_s >= CHAIN_TARGET else "NOT met"
    print(f"verifier chain walk / bare list loop: {bare_s / walk_s:.0%} (target ≥ 75 %: {verdict})")

    # 3. signatures
    key = x509.load_der_x509_certificate(image.certificates[0]).public_key()
    assert isinstance(key, Ed25519PublicKey)
    messages = seal_messages(image)
    bare_sig_s, _ = best_of(args.repeat, lambda: bare_verify(key, messages))
    signed = seals + 2  # base, seals, statement
    step_s = min(steps["check_signatures"])
    print(f"\n{'signatures':<34} {'verified/s':>12}")
    print(f"{'bare Ed25519PublicKey.verify loop':<34} {seals / bare_sig_s:>12,.0f}")
    print(f"{'verifier signature step':<34} {signed / step_s:>12,.0f}  ({signed:,} signatures)")

    # 4. the parallel experiment
    if "fork" not in multiprocessing.get_all_start_methods():
        print("\nparallel experiment skipped: no fork start method here")
        return 0
    _SHARED.update(records=memoryview(raw), key=key, seals=messages)
    tasks, expected = parallel_tasks(image, 8 * args.jobs)
    context = multiprocessing.get_context("fork")
    serial_s = min(steps["check_signatures"]) + walk_s
    with context.Pool(args.jobs) as pool:
        run_parallel(pool, tasks, expected, seals)  # warm up
        warm_s, _ = best_of(args.repeat, lambda: run_parallel(pool, tasks, expected, seals))

    def cold() -> None:
        with context.Pool(args.jobs) as pool:
            run_parallel(pool, tasks, expected, seals)

    cold_s, _ = best_of(args.repeat, cold)
    print(f"\nchain segments + seal signatures in {args.jobs} processes ({len(tasks)} tasks)")
    rows = [
        ("one process (signature + chain steps)", serial_s),
        ("pool already running", warm_s),
        ("pool started and stopped per verification", cold_s),
    ]
    for label, seconds in rows:
        print(f"{label:<44} {seconds:8.3f} s  ({serial_s / seconds:.2f}× one process)")
    projected = whole - serial_s + cold_s
    print(f"{'whole verify, projected with a per-call pool':<44} {projected:8.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
