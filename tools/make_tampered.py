#!/usr/bin/env python3
"""Regenerate the named tamper corpus in ``captures/tampered/`` from the clean captures.

    python tools/make_tampered.py                  # write the images that changed
    python tools/make_tampered.py --update-golden  # … and rewrite the golden findings
    python tools/make_tampered.py --check          # write nothing; exit 1 on any difference
    python tools/make_tampered.py --out DIR        # write the images somewhere else

Each image is one clean capture (mostly ``incident-shift.tdi``) changed the way one
attacker would change it: with the file alone, with a device key, a workstation key, or a
CA key.  The re-timed acquisitions start from ``incident-shift.tdi`` as the simulated store
room would have written it with its workstation key (format version 2, :func:`signed_source`)
or without one (version 1, the capture itself).  Every
key an attacker uses here is TEST material derived from a public label
(:mod:`taserlink.emulator.pki`), which is exactly why the forgeries are possible: the
verifier must still say what is wrong.  Beside each image ``<name>.json`` holds the golden
verification (the findings as ``Finding.as_dict()``, ``ok`` and the coverage) against
``captures/test-root.pem``.  Golden files are written only with ``--update-golden``, after
a person has read the findings; otherwise a difference is reported (exit 1) and left alone.
``captures/tampered/README.md`` says what each image is and which findings it must give.

The output is byte-identical on every run: the sources are the bundled captures (and the
firmware model run with the captures' seed), every key is derived from a label, and Ed25519
signatures and the certificates made with them are deterministic.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from taserlink.atomic import update_files
from taserlink.emulator.firmware import DeviceSpec, HostInfo
from taserlink.emulator.pki import (
    TEST_FORCE_LABEL,
    TEST_ROOT_LABEL,
    DeviceCredentials,
    issue_device_credentials,
    issue_workstation_key,
    test_authority,
    test_force_authority,
    test_workstation_key,
)
from taserlink.emulator.scenarios import HOUR, MINUTE, run_scenario
from taserlink.emulator.signing import signed_base, signed_seal, signed_statement
from taserlink.format import (
    RECORD_DTYPE,
    RECORD_SIZE,
    SEAL_DTYPE,
    Acquisition,
    AcquisitionSigner,
    Base,
    EventCode,
    Identity,
    Image,
    Statement,
    build_image,
    decode_payload,
    encode_record,
    read_image,
    record_crcs,
)
from taserlink.format.image import encode_identity
from taserlink.integrity import TrustStore, chain_step, genesis_chain, verify_image

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "captures"
TAMPERED = CAPTURES / "tampered"
TRUSTED_ROOT = CAPTURES / "test-root.pem"

SOURCE = "incident-shift.tdi"
"""The capture most images are made from: a shift with a deployment."""
SOURCE_SCENARIO = ("incident-shift", 1)
"""The scenario and seed that made :data:`SOURCE` (the stale statement needs its device)."""
OTHER = "clock-drift.tdi"
"""Another device's capture: its records, its key and its certificate are used."""
EDITED_SEQ = 22
"""The long activation's ``TRIGGER`` (11 000 ms): what an attacker most wants to change."""
EDITED_DURATION_MS = 4000
"""What the forgeries make of the long activation."""
SWAPPED_SEQS = (22, 23)
"""``TRIGGER`` and its ``CONNECTION``: the same device time, so only the order changes."""
FLIPPED_BIT = 13
"""Bit of the ``TRIGGER``'s duration that ``flipped-bit`` flips (11 000 → 2 808 ms)."""
TRUNCATE_IN_SEQ = 21
"""``truncated`` ends in the middle of this record."""
SPLICED_SEQS = (11, 26)
"""The incident (``UNHOLSTER`` … ``HOLSTER``), replaced by the other device's records."""
ROLLBACK_SEQS = (11, 26)
"""The incident, moved back in device time by :data:`ROLLBACK_MS`."""
ROLLBACK_MS = HOUR
ATTACKER_LABEL = "taserlink tamper corpus: an attacker's own manufacturer root"
"""Label of the untrusted root's keys (same names as the TEST root, different keys)."""
EXPIRED_FROM = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
EXPIRED_YEARS = 2
"""The re-issued device certificate is valid 2024-03-01 to 2026-03-01: it expired the day
before the download (2026-03-02)."""
SECOND_DOWNLOAD_NONCE = hashlib.sha256(b"taserlink tamper corpus/second download").digest()
RETIME_MS = HOUR
"""What the re-timed acquisitions add to the host's three UTC times: every corrected UTC of
the download moves an hour later (the deployment at 10:27 device time reads 11:27 UTC)."""
WORKSTATION_EXPIRED_FROM = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
"""The workstation certificate re-issued valid 2024-03-01 to 2026-03-01: it expired the day
before the download (2026-03-02)."""


# -- the sections an image is built from ----------------------------------------------------


@dataclass(frozen=True)
class Parts:
    """An image taken apart into what :func:`~taserlink.format.build_image` takes."""

    identity: Identity
    certificates: tuple[bytes, ...]
    base: Base
    records: npt.NDArray[Any]
    seals: npt.NDArray[Any]
    statement: Statement | None
    acquisition: Acquisition

    @classmethod
    def of(cls, image: Image) -> Parts:
        """The parts of ``image``, with writable copies of its records and seals."""
        return cls(
            image.identity,
            image.certificates,
            image.base,
            image.records.copy(),
            image.seals.copy(),
            image.statement,
            image.acquisition,
        )

    def replace(self, **changes: Any) -> Parts:
        return dataclasses.replace(self, **changes)

    def build(self, signer: AcquisitionSigner | None = None) -> bytes:
        """The image's bytes, its acquisition digests recomputed (anyone can: plain SHA-256).

        With a ``signer`` (a workstation key) the acquisition is signed anew (format version
        2); without one, a version-2 acquisition keeps the signature it had.
        """
        return build_image(
            identity=self.identity,
            certificates=self.certificates,
            base=self.base,
            records=self.records,
            seals=self.seals,
            statement=self.statement,
            acquisition=self.acquisition,
            signer=signer,
        )


def _index(records: npt.NDArray[Any], seq: int) -> int:
    """Position of the record with sequence ``seq``."""
    found = np.flatnonzero(records["seq"] == seq)
    if len(found) != 1:
        raise ValueError(f"sequence {seq} is not in the records exactly once")
    return int(found[0])


def _edit(records: npt.NDArray[Any], seq: int, **fields: Any) -> npt.NDArray[Any]:
    """``records`` with fields of record ``seq``'s payload changed and its CRC recomputed."""
    index = _index(records, seq)
    row = records[index]
    code = EventCode(int(row["code"]))
    payload = {**decode_payload(int(code), row["payload"].tobytes()), **fields}
    raw = encode_record(int(row["seq"]), int(row["time_ms"]), code, **payload)
    out = records.copy()
    out[index] = np.frombuffer(raw, dtype=records.dtype)[0]
    return out


def _edited_duration(records: npt.NDArray[Any]) -> npt.NDArray[Any]:
    return _edit(records, EDITED_SEQ, duration_ms=EDITED_DURATION_MS)


def device_credentials(image: Image) -> DeviceCredentials:
    """The TEST key of the device that made ``image`` (anyone can derive it).

    Raises:
        ValueError: the derived certificate is not the image's: the image was not made by
            a TEST device with the firmware model's defaults.
    """
    serial = image.identity.serial
    credentials = issue_device_credentials(serial, DeviceSpec(serial).manufactured)
    if credentials.certificates != image.certificates:
        raise ValueError(f"{serial}: the derived TEST certificate is not the image's")
    return credentials


def reseal(parts: Parts, key: Ed25519PrivateKey) -> Parts:
    """What an attacker holding ``key`` makes of edited records: a consistent image.

    Record CRCs are recomputed, the chain is recomputed from the base (from the genesis
    value of the identity's serial when the log starts at sequence 1), and the base, a seal
    at every sequence that had one (device time = its record's) and the statement (same
    nonce and device time, the identity's SHA-256) are signed again with ``key``.
    """
    serial = parts.identity.serial
    records = parts.records.copy()
    records["crc"] = record_crcs(records)
    old = parts.base
    chain_before = genesis_chain(serial) if old.first_seq == 1 else old.chain_before
    base = signed_base(key, serial, old.first_seq, chain_before, old.device_time_ms)
    sealed = set(parts.seals["seq"].tolist())
    raw = records.tobytes()
    seals: list[bytes] = []
    value = chain_before
    for index, (seq, time_ms) in enumerate(
        zip(records["seq"].tolist(), records["time_ms"].tolist(), strict=True)
    ):
        value = chain_step(value, raw[index * RECORD_SIZE : (index + 1) * RECORD_SIZE])
        if seq in sealed:
            seals.append(signed_seal(key, serial, seq, value, time_ms))
    statement = parts.statement
    if statement is not None:
        statement = signed_statement(
            key,
            serial,
            statement.nonce,
            old.first_seq,
            int(records["seq"][-1]),
            value,
            statement.device_time_ms,
            statement.seal_interval,
            hashlib.sha256(encode_identity(parts.identity)).digest(),
        )
    return parts.replace(
        records=records,
        base=base,
        seals=np.frombuffer(b"".join(seals), dtype=SEAL_DTYPE).copy(),
        statement=statement,
    )


# -- the tamperings ---------------------------------------------------------------------------


class Sources:
    """The clean captures the tamperings start from, read once."""

    def __init__(self, captures: Path = CAPTURES) -> None:
        self.image = read_image(captures / SOURCE)
        self.other = read_image(captures / OTHER)
        self.parts = Parts.of(self.image)
        self.device = device_credentials(self.image)
        self.other_device = device_credentials(self.other)


def deleted_record(s: Sources) -> bytes:
    """The long activation's record removed (the file only)."""
    records = np.delete(s.parts.records, _index(s.parts.records, EDITED_SEQ))
    return s.parts.replace(records=records).build()


def swapped_records(s: Sources) -> bytes:
    """A ``TRIGGER`` and its ``CONNECTION`` swapped (the file only)."""
    records = s.parts.records.copy()
    a, b = (_index(records, seq) for seq in SWAPPED_SEQS)
    records[[a, b]] = records[[b, a]]
    return s.parts.replace(records=records).build()


def duplicated_record(s: Sources) -> bytes:
    """The long activation's record written twice (the file only)."""
    records = s.parts.records
    index = _index(records, EDITED_SEQ)
    return s.parts.replace(records=np.insert(records, index + 1, records[index])).build()


def truncated(s: Sources) -> bytes:
    """The file cut in the middle of a record."""
    cut = s.image.record_offset(_index(s.image.records, TRUNCATE_IN_SEQ)) + RECORD_SIZE // 2
    return s.image.data[:cut]


def flipped_bit(s: Sources) -> bytes:
    """One bit of the long activation's duration flipped; no CRC or digest recomputed."""
    data = bytearray(s.image.data)
    payload_at = RECORD_DTYPE.fields["payload"][1] if RECORD_DTYPE.fields else 0
    duration_at = s.image.record_offset(_index(s.image.records, EDITED_SEQ)) + payload_at
    data[duration_at + FLIPPED_BIT // 8] ^= 1 << (FLIPPED_BIT % 8)
    return bytes(data)


def edited_duration(s: Sources) -> bytes:
    """The long activation shortened, its CRC and the acquisition digests recomputed."""
    return s.parts.replace(records=_edited_duration(s.parts.records)).build()


def spliced_chain(s: Sources) -> bytes:
    """The incident replaced by the other device's records with the same sequence numbers."""
    first, last = SPLICED_SEQS
    ours, theirs = s.parts.records, s.other.records
    foreign = theirs[(theirs["seq"] >= first) & (theirs["seq"] <= last)]
    records = np.concatenate([ours[ours["seq"] < first], foreign, ours[ours["seq"] > last]])
    return s.parts.replace(records=records).build()


def stripped_statement(s: Sources) -> bytes:
    """The download statement removed (the file only)."""
    return s.parts.replace(statement=None).build()


def stripped_seals(s: Sources) -> bytes:
    """Every seal removed (the file only)."""
    return s.parts.replace(seals=s.parts.seals[:0]).build()


def resigned_foreign_key(s: Sources) -> bytes:
    """Edited and re-signed with the other device's key; this device's certificate kept."""
    edited = s.parts.replace(records=_edited_duration(s.parts.records))
    return reseal(edited, s.other_device.key).build()


def resigned_foreign_certificate(s: Sources) -> bytes:
    """Edited and re-signed with the other device's key, its certificate swapped in."""
    edited = s.parts.replace(
        records=_edited_duration(s.parts.records), certificates=s.other.certificates
    )
    return reseal(edited, s.other_device.key).build()


def untrusted_root(s: Sources) -> bytes:
    """Edited and re-signed under the attacker's own root (same names, other keys)."""
    serial = s.image.identity.serial
    credentials = issue_device_credentials(
        serial,
        DeviceSpec(serial).manufactured,
        authority=test_authority(ATTACKER_LABEL),
        key_label=f"{ATTACKER_LABEL}/device/{serial}",
    )
    edited = s.parts.replace(
        records=_edited_duration(s.parts.records), certificates=credentials.certificates
    )
    return reseal(edited, credentials.key).build()


def expired_certificate(s: Sources) -> bytes:
    """A device certificate from the TEST CA that expired the day before the download."""
    serial = s.image.identity.serial
    credentials = issue_device_credentials(
        serial,
        EXPIRED_FROM,
        key_label=f"{TEST_ROOT_LABEL}/device/{serial}/expired",
        valid_years=EXPIRED_YEARS,
    )
    return reseal(s.parts.replace(certificates=credentials.certificates), credentials.key).build()


def serial_mismatch(s: Sources) -> bytes:
    """The log relabelled as the other device's, re-signed with this device's own key."""
    identity = dataclasses.replace(s.parts.identity, serial=s.other.identity.serial)
    return reseal(s.parts.replace(identity=identity), s.device.key).build()


def second_download() -> tuple[bytes, bytes]:
    """Two genuine downloads of the source's device: the capture, and one a day later.

    Between them the device goes out on another shift and fires its bay-2 cartridge.
    """
    name, seed = SOURCE_SCENARIO
    run = run_scenario(name, seed)
    device = run.device
    device.advance(15 * HOUR)
    device.power_on()
    device.advance(2 * HOUR)
    device.unholster()
    device.advance(5000)
    device.arm()
    device.advance(7000)
    device.fire(2, 5000, circuit=False)  # a miss with the extended cartridge
    device.advance(40_000)
    device.safe()
    device.advance(60_000)
    device.holster()
    device.advance(6 * HOUR)
    device.power_off()
    device.advance(25 * MINUTE)
    later = device.download(SECOND_DOWNLOAD_NONCE, HostInfo(operator="PS 4127 (store room)"))
    return run.image, later


def stale_nonce(s: Sources) -> bytes:
    """The first download's sections 1–7 under the second download's acquisition.

    Raises:
        ValueError: the scenario no longer makes the bundled source capture.
    """
    first, later = second_download()
    if first != s.image.data:
        raise ValueError(f"the {SOURCE_SCENARIO[0]} scenario no longer makes {SOURCE}")
    return s.parts.replace(acquisition=read_image(later).acquisition).build()


def clock_rollback(s: Sources) -> bytes:
    """The incident moved an hour back in device time, re-signed with the device's key."""
    records = s.parts.records.copy()
    first, last = ROLLBACK_SEQS
    moved = (records["seq"] >= first) & (records["seq"] <= last)
    records["time_ms"][moved] -= ROLLBACK_MS
    return reseal(s.parts.replace(records=records), s.device.key).build()


def signed_source(s: Sources) -> Parts:
    """The source as the simulated store room writes it with its workstation key: the same
    sections 1–7 and host fields, the acquisition signed (format version 2)."""
    return Parts.of(read_image(s.parts.build(test_workstation_key())))


def _retimed(parts: Parts) -> Parts:
    """``parts`` with the host's three UTC times moved :data:`RETIME_MS` later."""
    old = parts.acquisition
    acquisition = dataclasses.replace(
        old,
        host_utc_start_ms=old.host_utc_start_ms + RETIME_MS,
        host_utc_end_ms=old.host_utc_end_ms + RETIME_MS,
        statement_utc_ms=old.statement_utc_ms + RETIME_MS,
    )
    return parts.replace(acquisition=acquisition)


def retimed_acquisition_unsigned(s: Sources) -> bytes:
    """Version 1: the host's times an hour later, the keyless digests recomputed."""
    return _retimed(s.parts).build()


def retimed_acquisition_signed(s: Sources) -> bytes:
    """Version 2: the host's times an hour later, the keyless digests recomputed, the
    workstation's signature kept (the attacker has no key)."""
    return _retimed(signed_source(s)).build()


def downgraded_acquisition(s: Sources) -> bytes:
    """Version 2 turned into version 1 (the workstation's certificate and signature dropped),
    then re-timed: what an attacker with the file does to a signed image.  Not in the corpus:
    it is byte for byte ``retimed-acquisition-unsigned.tdi`` (the tests check), which is the
    point — nothing in the file tells a downgraded image from one written without a key."""
    signed = signed_source(s)
    unsigned = dataclasses.replace(signed.acquisition, workstation_signature=None)
    return _retimed(signed.replace(acquisition=unsigned)).build()


def resigned_acquisition(s: Sources) -> bytes:
    """Version 2, re-timed and re-signed with a workstation key the attacker made under his
    own CA (same names as the TEST force CA, other keys)."""
    label = f"{ATTACKER_LABEL}/force"
    key = issue_workstation_key(
        authority=test_force_authority(label), key_label=f"{label}/workstation"
    )
    return _retimed(s.parts).build(key)


def expired_workstation_certificate(s: Sources) -> bytes:
    """Version 2, signed by a workstation whose certificate (TEST force CA) expired the day
    before the download."""
    key = issue_workstation_key(
        issued=WORKSTATION_EXPIRED_FROM,
        key_label=f"{TEST_FORCE_LABEL}/workstation/expired",
        valid_years=2,
    )
    return s.parts.build(key)


TAMPERINGS: Mapping[str, Callable[[Sources], bytes]] = MappingProxyType(
    {
        "deleted-record": deleted_record,
        "swapped-records": swapped_records,
        "duplicated-record": duplicated_record,
        "truncated": truncated,
        "flipped-bit": flipped_bit,
        "edited-duration": edited_duration,
        "spliced-chain": spliced_chain,
        "stripped-statement": stripped_statement,
        "stripped-seals": stripped_seals,
        "resigned-foreign-key": resigned_foreign_key,
        "resigned-foreign-certificate": resigned_foreign_certificate,
        "untrusted-root": untrusted_root,
        "expired-certificate": expired_certificate,
        "serial-mismatch": serial_mismatch,
        "stale-nonce": stale_nonce,
        "clock-rollback": clock_rollback,
        "retimed-acquisition-unsigned": retimed_acquisition_unsigned,
        "retimed-acquisition-signed": retimed_acquisition_signed,
        "resigned-acquisition": resigned_acquisition,
        "expired-workstation-certificate": expired_workstation_certificate,
    }
)
"""Image name (without ``.tdi``) → how it is made from the sources."""


# -- images and golden findings ---------------------------------------------------------------


def make_images(captures: Path = CAPTURES) -> dict[str, bytes]:
    """Every tampered image, by file name."""
    sources = Sources(captures)
    return {f"{name}.tdi": make(sources) for name, make in TAMPERINGS.items()}


def golden(name: str, data: bytes, trust: TrustStore) -> dict[str, Any]:
    """The golden verification of image ``name``: what :func:`verify_image` reports today."""
    report = verify_image(data, trust)
    return {
        "image": name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "trusted_roots": [TRUSTED_ROOT.name],
        "ok": report.ok,
        "coverage": report.coverage.as_dict(),
        "findings": [finding.as_dict() for finding in report.findings],
    }


def golden_text(value: Mapping[str, Any]) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="compare, write nothing")
    mode.add_argument(
        "--update-golden", action="store_true", help="also rewrite the golden <name>.json files"
    )
    parser.add_argument("--out", type=Path, default=TAMPERED, help="folder (default %(default)s)")
    args = parser.parse_args(argv)
    trust = TrustStore.from_paths([TRUSTED_ROOT])
    images = make_images()
    images_changed = update_files(args.out, images, check=args.check)
    goldens = {
        str(Path(name).with_suffix(".json")): golden_text(golden(name, data, trust)).encode()
        for name, data in images.items()
    }
    golden_changed = update_files(args.out, goldens, check=not args.update_golden)
    verb = "differ" if args.check else "written"
    print(f"{len(images_changed)} image(s) {verb}: {', '.join(images_changed) or '-'}")
    if args.update_golden:
        print(f"{len(golden_changed)} golden file(s) written: {', '.join(golden_changed) or '-'}")
        return 0
    if golden_changed:
        print(
            f"{len(golden_changed)} golden file(s) differ from what the verifier reports: "
            f"{', '.join(golden_changed)} (read the findings, then --update-golden)"
        )
    return 1 if golden_changed or (args.check and images_changed) else 0


if __name__ == "__main__":
    sys.exit(main())
