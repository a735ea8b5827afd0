"""Assertions several test modules share (until the verifier of taserlink.integrity exists)."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from taserlink.format import Image
from taserlink.format import layout as L
from taserlink.format.image import encode_base, encode_statement


def device_public_key(image: Image) -> Ed25519PublicKey:
    """The public key of the image's device certificate."""
    key = x509.load_der_x509_certificate(image.certificates[0]).public_key()
    assert isinstance(key, Ed25519PublicKey)
    return key


def assert_signed(image: Image) -> None:
    """Base, every seal and the statement verify with the device certificate's key."""
    key = device_public_key(image)
    serial = image.identity.serial
    unsigned = slice(None, -L.SIGNATURE_SIZE)
    key.verify(
        image.base.signature, L.signed_message("base", serial, encode_base(image.base)[unsigned])
    )
    for seal in image.seals:
        raw = seal.tobytes()
        key.verify(raw[unsigned.stop :], L.signed_message("seal", serial, raw[unsigned]))
    assert image.statement is not None
    fields = encode_statement(image.statement)[unsigned]
    key.verify(image.statement.signature, L.signed_message("statement", serial, fields))
