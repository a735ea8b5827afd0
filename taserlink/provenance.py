"""What a result was made from: the provenance block every structured output carries.

A result of taserlink is reproducible only if a second examiner can tell exactly what it
was made from.  Every structured output (``--json``, ``match --out``'s
``OUT.csv.provenance.json``, a report's folder) therefore carries a **provenance block**
(**contract**, design §8)::

    {"tool": "taserlink", "version": "0.1.0",
     "inputs": [{"path", "size", "sha256", "role"}, ...],
     "settings": {...},
     "output": {"path", "sha256"}}

- ``inputs``: every file read, in a fixed order (the command's), each with its path **as
  given** (on the command line, or joined to the folder given: a relative path stays
  relative, so the same command line in another checkout gives the same bytes), its size in
  bytes and the SHA-256 of its bytes (lower-case hex, what ``sha256sum`` prints).  ``role``
  (an extra key) says what the file was to the command (``reads``, ``image``, ``issues`` …);
- ``settings``: only what shaped the result, units in the names (``max_drift_ppm``,
  ``tolerance_ms``), JSON values; a wall-clock time appears only where the result depends on
  it (none of today's commands does: a register is named by its identity and ledger length,
  not by when it was read);
- ``output`` (only in a provenance *file* beside an output): the output's path as given and
  its SHA-256.  A ``--json`` document has no ``output`` (it cannot hold its own digest).
  A folder's ``provenance.json`` (:func:`write_folder_provenance`) has ``outputs`` instead,
  a list, each file named relative to the folder.

The same inputs, settings and command line give the same bytes: no time of writing, no
host name, no absolute path that was not given.

Each file is hashed once, in chunks (:func:`hash_file`); a reader that hashes what it reads
already (the accounts reader, a download held in memory: :func:`input_of_bytes`) gives its
digest instead of the file being read again.

**Checking** (:func:`check_output`): a file with a provenance file beside it
(``<file>.provenance.json``) is compared with the ``output`` recorded there; the findings
(:class:`ProvenanceFinding`, kinds :class:`ProvenanceKind`) say whether it was changed
(``error``), whether the provenance could not be read (``warning``) or whether there is none
(``info``).  Provenance is a record, not a seal: whoever can edit a file can rewrite its
provenance too.  What it gives is a statement a second examiner can test — re-run the
command on the listed inputs (checked with ``sha256sum``) and compare the SHA-256 — and a
finding when a file was truncated or edited after it was made and its provenance left alone.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, TypeGuard

from taserlink import __version__
from taserlink.atomic import write_atomic
from taserlink.errors import InputFileError
from taserlink.findings import FindingsResult, Severity

__all__ = [
    "CHUNK_BYTES",
    "FOLDER_NAME",
    "MAX_PROVENANCE_BYTES",
    "SUFFIX",
    "TOOL",
    "Input",
    "Output",
    "Provenance",
    "ProvenanceCheck",
    "ProvenanceError",
    "ProvenanceFinding",
    "ProvenanceKind",
    "check_output",
    "dumps",
    "hash_file",
    "input_of_bytes",
    "make_provenance",
    "parse_provenance",
    "provenance_path",
    "read_provenance",
    "write_folder_provenance",
    "write_provenance",
]

TOOL: Final = "taserlink"
"""The ``tool`` of every provenance block taserlink writes."""
SUFFIX: Final = ".provenance.json"
"""A provenance file is its output's path with this added (``OUT.csv.provenance.json``)."""
FOLDER_NAME: Final = "provenance.json"
"""The provenance file of an output folder (``home-office --out DIR``, ``scrutiny``)."""
CHUNK_BYTES: Final = 1 << 20
"""Bytes read at a time when a file is hashed."""
MAX_PROVENANCE_BYTES: Final = 64 << 20
"""The largest provenance file :func:`read_provenance` reads (a force-year's downloads
listed take well under 1 MB)."""

_HEX: Final = frozenset("0123456789abcdef")
_KEYS: Final = ("tool", "version", "inputs", "settings", "output")


class ProvenanceError(InputFileError):
    """A provenance file that cannot be read as the contract says (bad JSON, a missing or
    mistyped key, a digest that is not 64 hex digits), or an input that cannot be hashed.
    An :class:`~taserlink.errors.InputFileError`, so a command exits 2 on it."""


@dataclass(frozen=True, slots=True)
class Input:
    """One file a result was made from.

    Attributes:
        path: as given (module docstring).
        size: bytes.
        sha256: the SHA-256 of its bytes, lower-case hex.
        role: what the file was to the command (``None``: not said).
    """

    path: str
    size: int
    sha256: str
    role: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """``{"path", "size", "sha256"}`` and ``role`` when there is one."""
        out: dict[str, Any] = {"path": self.path, "size": self.size, "sha256": self.sha256}
        if self.role is not None:
            out["role"] = self.role
        return out


@dataclass(frozen=True, slots=True)
class Output:
    """The file a provenance file vouches for: its path as given and SHA-256."""

    path: str
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        """``{"path", "sha256"}``."""
        return {"path": self.path, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class Provenance:
    """A provenance block (module docstring); build with :func:`make_provenance`.

    ``settings`` is read-only, its values JSON values; ``outputs`` holds one output for a
    file's provenance (``output``), several for a folder's (``outputs``).
    """

    tool: str
    version: str
    inputs: tuple[Input, ...]
    settings: Mapping[str, Any] = field(hash=False)
    outputs: tuple[Output, ...] = ()

    @property
    def output(self) -> Output | None:
        """The one output of a file's provenance (``None`` for none, or for a folder's)."""
        return self.outputs[0] if len(self.outputs) == 1 else None

    def with_outputs(self, *outputs: Output) -> Provenance:
        """This provenance with ``outputs`` recorded."""
        return Provenance(self.tool, self.version, self.inputs, self.settings, tuple(outputs))

    def as_dict(self, *, folder: bool = False) -> dict[str, Any]:
        """The block as JSON values, keys in the contract's order: ``tool``, ``version``,
        ``inputs``, ``settings`` and — when there are outputs — ``output`` (one) or, for a
        folder (``folder``), ``outputs`` (a list)."""
        out: dict[str, Any] = {
            "tool": self.tool,
            "version": self.version,
            "inputs": [i.as_dict() for i in self.inputs],
            "settings": _plain(self.settings),
        }
        if folder:
            out["outputs"] = [o.as_dict() for o in self.outputs]
        elif self.outputs:
            if len(self.outputs) != 1:
                raise ValueError("a file's provenance has one output: use folder=True")
            out["output"] = self.outputs[0].as_dict()
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def make_provenance(
    inputs: Iterable[Input], settings: Mapping[str, Any] | None = None
) -> Provenance:
    """The provenance of a result of this taserlink made from ``inputs`` with ``settings``
    (JSON values: ``None``, bools, numbers, strings, lists and mappings of them).

    Raises:
        ValueError: a setting that is not a JSON value, or a float that is not finite.
    """
    frozen = dict(settings or {})
    json.dumps(frozen, allow_nan=False)  # fail here, not when the output is written
    return Provenance(TOOL, __version__, tuple(inputs), MappingProxyType(frozen))


def dumps(provenance: Provenance, *, folder: bool = False) -> bytes:
    """A provenance file's bytes: :meth:`Provenance.as_dict` as JSON, indented by one, UTF-8,
    one newline at the end."""
    return (json.dumps(provenance.as_dict(folder=folder), indent=1) + "\n").encode("utf-8")


# -- hashing ------------------------------------------------------------------------------


def hash_file(path: str | os.PathLike[str], role: str | None = None) -> Input:
    """The :class:`Input` of the file at ``path`` (its path as given), read once in chunks
    of :data:`CHUNK_BYTES`.

    Raises:
        ProvenanceError: the file cannot be read.
    """
    shown = os.fspath(path)
    digest = hashlib.sha256()
    size = 0
    try:
        with open(shown, "rb") as stream:
            while chunk := stream.read(CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
    except OSError as error:
        raise ProvenanceError(
            f"cannot read it to hash it: {error.strerror or error}", shown
        ) from None
    return Input(shown, size, digest.hexdigest(), role)


def input_of_bytes(path: str | os.PathLike[str], data: bytes, role: str | None = None) -> Input:
    """The :class:`Input` of a file already read into ``data`` (no second read)."""
    return Input(os.fspath(path), len(data), hashlib.sha256(data).hexdigest(), role)


# -- files --------------------------------------------------------------------------------


def provenance_path(path: str | os.PathLike[str]) -> str:
    """The provenance file of the output ``path``: ``path`` + :data:`SUFFIX`."""
    return os.fspath(path) + SUFFIX


def write_provenance(
    provenance: Provenance, path: str | os.PathLike[str], *, folder: bool = False
) -> None:
    """Write ``provenance`` (:func:`dumps`) to ``path`` atomically
    (:func:`taserlink.atomic.write_atomic`).

    Raises:
        OutputPathError: ``path`` is a link, a folder, a device node …
        OSError: it cannot be written.
    """
    write_atomic(path, dumps(provenance, folder=folder))


def write_folder_provenance(
    provenance: Provenance,
    folder: str | os.PathLike[str],
    names: Iterable[str],
) -> str:
    """Write :data:`FOLDER_NAME` into ``folder``: ``provenance`` with ``outputs``, the
    files ``names`` (relative to ``folder``), each hashed once.  A folder's outputs are
    named relative to it, so the folder can be moved and checked where it lies
    (``cd DIR && sha256sum -c``), and the same inputs give the same bytes whatever the
    folder is called.  Returns the path written (``folder`` as given joined with
    :data:`FOLDER_NAME`).

    Raises:
        ProvenanceError: a written file cannot be read back.
        OutputPathError, OSError: the provenance file cannot be written.
    """
    base = os.fspath(folder)
    outputs = [Output(name, hash_file(os.path.join(base, name)).sha256) for name in names]
    target = os.path.join(base, FOLDER_NAME)
    write_provenance(provenance.with_outputs(*outputs), target, folder=True)
    return target


def read_provenance(path: str | os.PathLike[str]) -> Provenance:
    """The provenance block in the file at ``path`` (one a file's ``output`` or a folder's
    ``outputs`` may hold; other keys are allowed and ignored).

    Raises:
        ProvenanceError: the file cannot be read, is over :data:`MAX_PROVENANCE_BYTES`,
            is not UTF-8 JSON, is not an object; ``tool`` or ``version`` is not a string;
            ``inputs`` is not a list of ``{"path": str, "size": int ≥ 0, "sha256": 64 hex
            digits}`` (``role`` a string if present); ``settings`` is not an object; an
            ``output`` is not ``{"path": str, "sha256": 64 hex digits}``; both ``output``
            and ``outputs``.
    """
    shown = os.fspath(path)
    try:
        if not stat.S_ISREG(os.stat(shown).st_mode):  # a FIFO would block, a folder fail
            raise ProvenanceError("not a regular file", shown)
        with open(shown, "rb") as stream:
            data = stream.read(MAX_PROVENANCE_BYTES + 1)
    except OSError as error:
        raise ProvenanceError(f"cannot read it: {error.strerror or error}", shown) from None
    if len(data) > MAX_PROVENANCE_BYTES:
        raise ProvenanceError(f"over {MAX_PROVENANCE_BYTES} bytes: not a provenance file", shown)
    try:
        document = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ProvenanceError(f"not JSON: {_first_line(error)}", shown) from None
    return parse_provenance(document, shown)


def parse_provenance(document: Any, source: str = "provenance") -> Provenance:
    """The provenance block of a JSON value (as :func:`read_provenance` reads it).

    Raises:
        ProvenanceError: ``document`` is not a provenance block (see
            :func:`read_provenance`), naming ``source``.
    """

    def bad(why: str) -> ProvenanceError:
        return ProvenanceError(f"not a provenance block: {why}", source)

    if not isinstance(document, dict):
        raise bad("not a JSON object")
    for key in ("tool", "version"):
        if not isinstance(document.get(key), str):
            raise bad(f'"{key}" is missing or not a string')
    inputs = document.get("inputs")
    if not isinstance(inputs, list):
        raise bad('"inputs" is missing or not a list')
    settings = document.get("settings")
    if not isinstance(settings, dict):
        raise bad('"settings" is missing or not an object')
    if "output" in document and "outputs" in document:
        raise bad('both "output" and "outputs"')
    if "output" in document:
        raw_outputs = [document["output"]]
    else:
        raw_outputs = document.get("outputs", [])
        if not isinstance(raw_outputs, list):
            raise bad('"outputs" is not a list')
    parsed_inputs = tuple(_input(item, n, bad) for n, item in enumerate(inputs, start=1))
    outputs = tuple(_output(item, bad) for item in raw_outputs)
    return Provenance(
        document["tool"], document["version"], parsed_inputs, MappingProxyType(settings), outputs
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _first_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:200]


def _digest(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


def _input(item: Any, number: int, bad: Any) -> Input:
    if not isinstance(item, dict):
        raise bad(f"input {number} is not an object")
    path, size, digest, role = (item.get(k) for k in ("path", "size", "sha256", "role"))
    if not isinstance(path, str):
        raise bad(f'input {number}: "path" is missing or not a string')
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise bad(f'input {number}: "size" is missing or not a whole number of bytes')
    if not _digest(digest):
        raise bad(f'input {number}: "sha256" is not 64 lower-case hex digits')
    if role is not None and not isinstance(role, str):
        raise bad(f'input {number}: "role" is not a string')
    return Input(path, size, digest, role)


def _output(item: Any, bad: Any) -> Output:
    if not isinstance(item, dict):
        raise bad("an output is not an object")
    path, digest = item.get("path"), item.get("sha256")
    if not isinstance(path, str):
        raise bad('an output\'s "path" is missing or not a string')
    if not _digest(digest):
        raise bad('an output\'s "sha256" is not 64 lower-case hex digits')
    return Output(path, digest)


# -- checking -----------------------------------------------------------------------------


class ProvenanceKind(enum.Enum):
    """What a check of a file against its provenance found (stable string values)."""

    OUTPUT_CHANGED = "output_changed"
    """``error``: the file's SHA-256 is not the one its provenance recorded — it was
    edited, truncated or replaced after it was made."""
    BAD_PROVENANCE = "bad_provenance"
    """``warning``: a provenance file is there but cannot be read as one, or records no
    single output: the file cannot be checked."""
    NO_PROVENANCE = "no_provenance"
    """``info``: no provenance file beside the file (made by hand, redirected from stdout,
    or by an older taserlink): it cannot be checked, only trusted as it stands."""


@dataclass(frozen=True, slots=True)
class ProvenanceFinding:
    """One thing a provenance check found: ``kind``, ``severity``, a one-line ``message``
    and the ``path`` of the file checked."""

    kind: ProvenanceKind
    severity: Severity
    message: str
    path: str

    def as_dict(self) -> dict[str, Any]:
        """``{"kind", "severity", "message", "path"}``."""
        return {
            "kind": self.kind.value,
            "severity": self.severity.value,
            "message": self.message,
            "path": self.path,
        }


@dataclass(frozen=True, slots=True)
class ProvenanceCheck(FindingsResult[ProvenanceKind, ProvenanceFinding]):
    """A file checked against its provenance (``ok`` and the rest from
    :class:`~taserlink.findings.FindingsResult`).

    Attributes:
        file: the file checked, hashed (its :class:`Input`).
        provenance: the provenance read (``None``: none there, or unreadable).
        provenance_file: the provenance file hashed, when there was one to read.
        findings: at most one finding (none when the file is as its provenance says).
    """

    file: Input
    provenance: Provenance | None
    provenance_file: Input | None
    findings: tuple[ProvenanceFinding, ...]

    @property
    def inputs(self) -> tuple[Input, ...]:
        """The file and its provenance file (when there was one): what the check read."""
        return (self.file,) if self.provenance_file is None else (self.file, self.provenance_file)


def check_output(
    path: str | os.PathLike[str],
    *,
    role: str | None = None,
    provenance: str | os.PathLike[str] | None = None,
) -> ProvenanceCheck:
    """Check the file at ``path`` against its provenance file (``provenance``, default
    :func:`provenance_path` of ``path``): hash it once (its :class:`Input` with ``role``),
    read the provenance if there, compare the SHA-256 (and size, in the message).

    Findings (at most one): ``output_changed`` (``error``) the digests differ;
    ``bad_provenance`` (``warning``) the provenance file cannot be read
    (:func:`read_provenance`) or records no single output; ``no_provenance`` (``info``)
    there is none.  A changed file is a finding, never an exception.

    Raises:
        ProvenanceError: the file ``path`` itself cannot be read.
    """
    shown = os.fspath(path)
    side = provenance_path(shown) if provenance is None else os.fspath(provenance)
    file = hash_file(shown, role)
    if not os.path.lexists(side):
        finding = ProvenanceFinding(
            ProvenanceKind.NO_PROVENANCE,
            Severity.INFO,
            f"{shown} has no provenance file ({side}): it cannot be checked against how it "
            "was made (SHA-256 " + file.sha256 + ")",
            shown,
        )
        return ProvenanceCheck(file, None, None, (finding,))
    try:
        record = read_provenance(side)
        side_input = hash_file(side, "provenance")
    except ProvenanceError as error:
        finding = ProvenanceFinding(
            ProvenanceKind.BAD_PROVENANCE,
            Severity.WARNING,
            f"{shown} cannot be checked: {error}",
            shown,
        )
        return ProvenanceCheck(file, None, None, (finding,))
    output = record.output
    if output is None:
        finding = ProvenanceFinding(
            ProvenanceKind.BAD_PROVENANCE,
            Severity.WARNING,
            f"{shown} cannot be checked: {side} records {len(record.outputs)} outputs, not one",
            shown,
        )
        return ProvenanceCheck(file, record, side_input, (finding,))
    if output.sha256 != file.sha256:
        finding = ProvenanceFinding(
            ProvenanceKind.OUTPUT_CHANGED,
            Severity.ERROR,
            f"{shown} is not the file {record.tool} {record.version} made as {output.path}: "
            f"its SHA-256 is {file.sha256} ({file.size} bytes), its provenance ({side}) "
            f"records {output.sha256}; it was edited, truncated or replaced since",
            shown,
        )
        return ProvenanceCheck(file, record, side_input, (finding,))
    return ProvenanceCheck(file, record, side_input, ())
