#!/usr/bin/env python3
"""Regenerate the bundled sample images in ``captures/`` from the firmware model.

    python tools/make_captures.py            # rewrite captures/*.tdi and the test root
    python tools/make_captures.py --check    # exit 1 if any file would change

Every image comes from a scenario of :mod:`taserlink.emulator.scenarios` run with a fixed
seed, so the output is byte-identical on every machine.  The test manufacturer root that
signs the images' certificate chains and the test force CA that certifies the simulated
store room's download workstation are written beside them as ``test-root.pem`` (both roots,
one PEM), and that workstation's key and certificate as ``test-workstation.pem`` (TEST
MATERIAL: anyone can derive every key).  ``signed-download.tdi`` is format version 2 (its
acquisition signed by that workstation); the others are version 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from taserlink.atomic import update_files
from taserlink.emulator.pki import test_roots_pem, test_workstation_key
from taserlink.emulator.scenarios import run_scenario

CAPTURES = Path(__file__).resolve().parent.parent / "captures"

SAMPLES: dict[str, tuple[str, int]] = {
    "quiet-day.tdi": ("quiet-day", 1),
    "incident-shift.tdi": ("incident-shift", 1),
    "clock-drift.tdi": ("clock-drift", 1),
    "firmware-update.tdi": ("firmware-update", 1),
    "wrapped-log.tdi": ("wrapped-log", 1),
    "signed-download.tdi": ("signed-download", 1),
}
"""File name → (scenario, seed)."""


def expected_files() -> dict[str, bytes]:
    """Every file this script writes, by name, with its bytes."""
    files = {name: run_scenario(scenario, seed).image for name, (scenario, seed) in SAMPLES.items()}
    files["test-root.pem"] = test_roots_pem()
    files["test-workstation.pem"] = workstation_pem()
    return files


def workstation_pem() -> bytes:
    """The simulated store room's workstation key (PKCS#8, unencrypted) and certificate."""
    key = test_workstation_key()
    pem = key.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem + key.certificate.public_bytes(serialization.Encoding.PEM)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--out", type=Path, default=CAPTURES, help="folder (default captures/)")
    args = parser.parse_args(argv)
    changed = update_files(args.out, expected_files(), check=args.check)
    verb = "differ" if args.check else "written"
    print(f"{len(changed)} file(s) {verb}: {', '.join(changed) or '-'}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
