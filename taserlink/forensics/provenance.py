"""What shaped a forensic result, as provenance settings and inputs (:mod:`taserlink.provenance`),
and a match file checked against its provenance.

The settings each command records are built here, one function per kind of setting, so
every command names one setting the same way:

- :func:`clock_settings`: ``max_drift_ppm``, ``host_clock_ms``, ``host_set_anchors`` (and
  ``host_set_bound_ms`` when those anchors are taken);
- :func:`roots_settings`: ``trusted_roots_sha256``, the SHA-256 of each trusted root
  certificate's DER (sorted; ``[]`` for none) — the roots' fingerprints, whatever files
  they came from;
- :func:`register_settings`: a register the custody was read from, named by its URL
  (without a password), its identity and its ledger's length — the ledger is append-only,
  so these name the state read, and no wall-clock time is needed;
- :func:`window_settings`: an incident window or period as UTC text.

:func:`match_provenance` is the provenance of ``taserlink match``; :func:`check_matches`
checks a match file (``OUT.csv``) against ``OUT.csv.provenance.json`` and gives the
linkage findings (:class:`~taserlink.forensics.link.LinkFinding`) of what it found: what
``link`` and the court report call.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives import serialization
from sqlalchemy.engine import make_url

from taserlink.forensics.confusion import ConfusionModel
from taserlink.forensics.link.result import Linkage, LinkFinding, LinkKind
from taserlink.forensics.results import MatchSettings
from taserlink.format import Image
from taserlink.integrity import TrustStore
from taserlink.integrity.batch import Outcome
from taserlink.provenance import (
    Input,
    Provenance,
    ProvenanceCheck,
    ProvenanceError,
    ProvenanceKind,
    check_output,
    hash_file,
    input_of_bytes,
    make_provenance,
)
from taserlink.register import Register
from taserlink.serials import SerialScheme
from taserlink.timeline import ClockSettings
from taserlink.timeline.times import utc_text

__all__ = [
    "MATCHES_KINDS",
    "check_matches",
    "clock_settings",
    "inputs_in_order",
    "link_provenance",
    "match_provenance",
    "matches_findings",
    "register_settings",
    "roots_settings",
    "show_provenance",
    "verify_provenance",
    "window_settings",
]

MATCHES_KINDS = {
    ProvenanceKind.OUTPUT_CHANGED: LinkKind.MATCHES_CHANGED,
    ProvenanceKind.BAD_PROVENANCE: LinkKind.MATCHES_BAD_PROVENANCE,
    ProvenanceKind.NO_PROVENANCE: LinkKind.MATCHES_NO_PROVENANCE,
}
"""The linkage kind of each provenance finding about a match file."""


def clock_settings(settings: ClockSettings) -> dict[str, Any]:
    """The clock model's settings that shape corrected times (module docstring)."""
    out: dict[str, Any] = {
        "max_drift_ppm": settings.max_drift_ppm,
        "host_clock_ms": settings.host_clock_ms,
        "host_set_anchors": settings.host_sets,
    }
    if settings.host_sets:
        out["host_set_bound_ms"] = settings.host_set_bound_ms
    return out


def roots_settings(trust: TrustStore | None) -> dict[str, Any]:
    """``trusted_roots_sha256``: the roots' DER SHA-256s, sorted (``None``: no trust store
    was used, nothing was verified)."""
    if trust is None:
        return {"trusted_roots_sha256": None}
    digests = sorted(
        hashlib.sha256(root.public_bytes(serialization.Encoding.DER)).hexdigest()
        for root in trust.roots
    )
    return {"trusted_roots_sha256": digests}


def register_settings(register: Register, url: str) -> dict[str, Any]:
    """The register custody was read from: ``register`` (its URL, password hidden),
    ``register_id`` and ``ledger_entries``."""
    return {
        "register": _safe_url(url),
        "register_id": register.register_id,
        "ledger_entries": register.ledger_length(),
    }


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def window_settings(prefix: str, span: tuple[int, int] | None) -> dict[str, Any]:
    """``<prefix>_from_utc`` and ``<prefix>_to_utc`` (UTC text, or ``None`` without one)."""
    return {
        f"{prefix}_from_utc": None if span is None else utc_text(span[0]),
        f"{prefix}_to_utc": None if span is None else utc_text(span[1]),
    }


def match_provenance(
    reads: str | os.PathLike[str],
    serials: str | os.PathLike[str],
    *,
    model: ConfusionModel,
    model_file: str | os.PathLike[str] | None,
    settings: MatchSettings,
    scheme: SerialScheme,
) -> Provenance:
    """The provenance of ``taserlink match``: the reads, the serials and the model file
    (when one was given) hashed; the model's note, whether it is the built-in one, the
    serial scheme's length and alphabet, and :class:`MatchSettings`.

    Raises:
        ProvenanceError: an input cannot be read to hash it.
    """
    inputs = [hash_file(reads, "reads"), hash_file(serials, "serials")]
    if model_file is not None:
        inputs.append(hash_file(model_file, "model"))
    return make_provenance(
        inputs,
        {
            "model": model.note,
            "model_builtin": model_file is None,
            "serial_scheme": scheme.name,
            "serial_length": scheme.length,
            "serial_alphabet": scheme.alphabet,
            **dataclasses.asdict(settings),
        },
    )


def check_matches(path: str | os.PathLike[str]) -> ProvenanceCheck:
    """The match file at ``path`` checked against its provenance
    (:func:`taserlink.provenance.check_output`; its inputs have roles ``matches`` and
    ``provenance``).

    Raises:
        ProvenanceError: the match file cannot be read.
    """
    return check_output(path, role="matches")


def matches_findings(check: ProvenanceCheck) -> tuple[LinkFinding, ...]:
    """The linkage findings of a match file's check: ``matches_changed`` (``error``),
    ``matches_bad_provenance`` (``warning``), ``matches_no_provenance`` (``info``)."""
    return tuple(
        LinkFinding(MATCHES_KINDS[f.kind], f.severity, f.message, image=None)
        for f in check.findings
    )


def inputs_in_order(*groups: Iterable[Input]) -> tuple[Input, ...]:
    """The inputs of ``groups`` in order, each file once (by path)."""
    seen: set[str] = set()
    out = []
    for group in groups:
        for item in group:
            if item.path not in seen:
                seen.add(item.path)
                out.append(item)
    return tuple(out)


def link_provenance(
    result: Linkage,
    matches: ProvenanceCheck,
    *,
    issues: Input | None = None,
    register: Mapping[str, Any] | None = None,
    trust: TrustStore | None,
    clock: ClockSettings,
) -> Provenance:
    """The provenance of a linkage (``taserlink link``, the court report): its images (as
    hashed when they were surveyed: read once), the issue list file (``issues``, hashed by
    the caller) or the register's state (``register``: :func:`register_settings`), the
    match file and its provenance file (``matches``: :func:`check_matches`); the incident
    window, the clock settings and the trusted roots."""
    images = tuple(Input(i.name, i.size, i.sha256, "image") for i in result.images)
    custody = () if issues is None else (issues,)
    window = result.window
    span = None if window is None else (window.start_ms, window.end_ms)
    return make_provenance(
        inputs_in_order(images, custody, matches.inputs),
        {
            **window_settings("window", span),
            **clock_settings(clock),
            **roots_settings(trust),
            **({} if register is None else dict(register)),
        },
    )


def verify_provenance(outcomes: Sequence[Outcome], trust: TrustStore) -> Provenance:
    """The provenance of ``taserlink verify``: every image (as hashed when it was verified;
    a truncated image hashed here; an image that cannot be read at all is left out — the
    output says why it was not verified) and the trusted roots' fingerprints."""
    inputs = []
    for outcome in outcomes:
        if outcome.size is not None and outcome.sha256 is not None:
            inputs.append(Input(outcome.path, outcome.size, outcome.sha256, "image"))
            continue
        try:
            inputs.append(hash_file(outcome.path, "image"))
        except ProvenanceError:
            continue
    return make_provenance(inputs, roots_settings(trust))


def show_provenance(images: Sequence[tuple[str, Image]], clock: ClockSettings) -> Provenance:
    """The provenance of ``taserlink show``: the image shown and every ``--also`` image
    (path as given, hashed from the bytes read) and the clock settings."""
    inputs = [input_of_bytes(path, image.data, "image") for path, image in images]
    return make_provenance(inputs_in_order(inputs), clock_settings(clock))
