"""What a device signs, and how: the base, a seal, a download statement.

One place for the device side of the signatures, used by the firmware model and the bulk
generator alike.  Every signature is Ed25519 over
:func:`taserlink.format.layout.signed_message` of the structure's bytes up to its signature.
"""

from __future__ import annotations

import dataclasses

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from taserlink.format import Base, Statement
from taserlink.format import layout as L
from taserlink.format.image import encode_base, encode_statement

__all__ = ["sign_fields", "signed_base", "signed_seal", "signed_statement"]

_BLANK = bytes(L.SIGNATURE_SIZE)


def sign_fields(key: Ed25519PrivateKey, kind: str, serial: str, fields: bytes) -> bytes:
    """The device's signature over a base's, seal's or statement's ``fields``."""
    return key.sign(L.signed_message(kind, serial, fields))


def signed_base(
    key: Ed25519PrivateKey, serial: str, first_seq: int, chain_before: bytes, device_time_ms: int
) -> Base:
    """A base for a log whose first retained record is ``first_seq``, signed."""
    fields = encode_base(Base(first_seq, chain_before, device_time_ms, _BLANK))[: -L.SIGNATURE_SIZE]
    signature = sign_fields(key, "base", serial, fields)
    return Base(first_seq, chain_before, device_time_ms, signature)


def signed_seal(
    key: Ed25519PrivateKey, serial: str, seq: int, chain: bytes, device_time_ms: int
) -> bytes:
    """The section bytes of one seal over the chain value ``chain`` after ``seq``, signed."""
    fields = L.SEAL.build(
        {"seq": seq, "chain": chain, "device_time_ms": device_time_ms, "signature": _BLANK}
    )[: -L.SIGNATURE_SIZE]
    return bytes(fields) + sign_fields(key, "seal", serial, bytes(fields))


def signed_statement(
    key: Ed25519PrivateKey,
    serial: str,
    nonce: bytes,
    first_seq: int,
    last_seq: int,
    chain: bytes,
    device_time_ms: int,
    seal_interval: int,
    identity_sha256: bytes,
) -> Statement:
    """A download statement over the host's ``nonce``, signed."""
    unsigned = Statement(
        nonce, first_seq, last_seq, chain, device_time_ms, seal_interval, identity_sha256, _BLANK
    )
    fields = encode_statement(unsigned)[: -L.SIGNATURE_SIZE]
    return dataclasses.replace(unsigned, signature=sign_fields(key, "statement", serial, fields))
