"""The case as CASE/UCO JSON-LD (https://caseontology.org): the acquisition and the analysis
as investigative actions, with their inputs, outputs and hashes.

What the graph holds (``docs/case.md`` says it class by class, and what it does not claim):

- each **download** (a ``.tdi`` image) is a ``case-investigation:InvestigativeAction``
  named ``acquisition``: its ``uco-action:object`` is the device
  (``uco-observable:Device``: serial, model, manufacturer as its certificate names it), its
  ``uco-action:performer`` the operator (``uco-identity:Person``) and its
  ``uco-action:instrument`` the download tool (``uco-tool:Tool``, the version the image
  records) and the workstation (``uco-observable:Computer``); its start and end are the
  host's UTC recorded in the image; its result is the image (``uco-observable:File`` with
  its size and SHA-256) and a ``case-investigation:ProvenanceRecord``; the host's nonce,
  clock source, statement time and recorded digests are ``uco-action:ActionArgumentFacet``
  values, as the image records them;
- the **match** (:class:`MatchStep`): an action whose result is the match file and whose
  objects are the reads and serial files named by its provenance file, when there is one;
- the **linkage** (:class:`LinkStep`): an action run by this taserlink
  (``uco-tool:ConfiguredTool`` with its settings: the incident window, the clock model's
  bound) over the images, the issue list, the match file and the trusted roots, informed by
  the acquisitions and the match; its results are the outputs given (the report's files),
  one ``uco-core:Annotation`` per image (verification outcome), one per linked cartridge
  (the chain) and one ``uco-core:Assertion`` per finding.

Everything is derived from the evidence and the inputs' bytes: no wall-clock time, no
random identifier.  Every ``@id`` is ``kb:<Class>-<UUIDv5>`` of a stable key (a file's
SHA-256 and name, a device's serial, an action's inputs); facets and hashes take the UUIDs
case-utils' ``inherent_uuid`` gives them (a facet: UUIDv5 of its object's UUID and its
class IRI; a hash: UUIDv5 of ``urn:hash::sha256:<hex>``).  :func:`case_jsonld` writes the
graph with sorted keys, nodes in ``@id`` order, UTF-8 and a final newline, so the same
inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from cryptography import x509
from cryptography.x509.oid import NameOID

from taserlink import __version__
from taserlink.errors import ImageIOError
from taserlink.findings import Severity
from taserlink.forensics.link import ImageSource, Linkage, LinkRow
from taserlink.format import Image, read_image
from taserlink.format.image import device_sha256
from taserlink.timeline.times import utc_text

__all__ = [
    "CONTEXT",
    "KB",
    "CaseFile",
    "LinkStep",
    "MatchStep",
    "ROOT_SUFFIXES",
    "case_graph",
    "case_jsonld",
    "root_files",
]

KB: Final = "http://example.org/kb/"
"""The default knowledge-base prefix of every ``@id`` (the CASE examples' convention); a
force may give its own (``base=``): the identifiers' UUIDs do not depend on it."""

_NS: Final = {
    "case-investigation": "https://ontology.caseontology.org/case/investigation/",
    "uco-action": "https://ontology.unifiedcyberontology.org/uco/action/",
    "uco-configuration": "https://ontology.unifiedcyberontology.org/uco/configuration/",
    "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
    "uco-identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
    "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
    "uco-tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
    "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}

CONTEXT: Final = MappingProxyType(_NS)
"""The JSON-LD ``@context`` prefixes (``kb`` is added from ``base``)."""

_ROOT: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://caseontology.org/#taserlink")
"""The UUID namespace of every identifier the graph's own nodes take."""

TOOL_NAME: Final = "taserlink"


# -- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseFile:
    """A file the graph names: its path as given (the name a second examiner finds it by),
    size in bytes and SHA-256 (lower-case hex).

    ``role`` says what it is to the step (``issues``, ``roots``, ``report`` …); it goes
    into the file's description, not its identity.
    """

    path: str
    size: int
    sha256: str
    role: str = ""

    @classmethod
    def of_bytes(cls, path: str | os.PathLike[str], data: bytes, role: str = "") -> CaseFile:
        """The file ``path`` whose bytes are ``data`` (e.g. an output before it is written)."""
        return cls(os.fspath(path), len(data), hashlib.sha256(data).hexdigest(), role)

    @classmethod
    def of_path(cls, path: str | os.PathLike[str], role: str = "") -> CaseFile:
        """The file at ``path``, read and hashed (in blocks; any size).

        Raises:
            ImageIOError: the file cannot be read (an :class:`OSError`; the message names it).
        """
        digest = hashlib.sha256()
        size = 0
        try:
            with open(path, "rb") as stream:
                while block := stream.read(1 << 20):
                    digest.update(block)
                    size += len(block)
        except OSError as error:
            raise ImageIOError(f"{os.fspath(path)}: {error.strerror or error}") from None
        return cls(os.fspath(path), size, digest.hexdigest(), role)


@dataclass(frozen=True, slots=True)
class MatchStep:
    """How the match file came about (``taserlink match``).

    Attributes:
        output: the match file (``OUT.csv``).
        inputs: the files it was made from (the reads and the serial list), as its
            provenance file names them; empty when they are not known.
        version: the taserlink version that made it, when known.
        settings: the settings its provenance file records (name → value as text).
        note: what is known of its provenance, in words (e.g. that no provenance file was
            found, or that it names another file) — the action's description says it.
    """

    output: CaseFile
    inputs: tuple[CaseFile, ...] = ()
    version: str | None = None
    settings: Mapping[str, str] = field(default_factory=dict)
    note: str = ""

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> MatchStep:
        """The match file at ``path`` and, when ``PATH.provenance.json`` lies beside it and
        names it (same SHA-256), the inputs, version and settings that file records.

        A provenance file that cannot be read, is not of the contract's shape or names
        other bytes is not used: the step then has no inputs, and ``note`` says why.

        Raises:
            ImageIOError: the match file cannot be read.
        """
        output = CaseFile.of_path(path, "matches")
        side = Path(f"{os.fspath(path)}.provenance.json")
        if not side.exists():
            return cls(output, note=f"no provenance file ({side.name}) beside the match file")
        try:
            record = json.loads(side.read_bytes())
            named = record["output"]["sha256"]
            inputs = tuple(
                CaseFile(str(i["path"]), int(i["size"]), str(i["sha256"]).lower(), "match input")
                for i in record["inputs"]
            )
            version = record.get("version")
            settings = {str(k): _setting_text(v) for k, v in (record.get("settings") or {}).items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            return cls(output, note=f"{side.name} not used: {error}")
        if str(named).lower() != output.sha256:
            return cls(
                output,
                note=f"{side.name} not used: it names a file of SHA-256 {named}, not this one",
            )
        return cls(
            output,
            inputs,
            None if version is None else str(version),
            settings,
            f"inputs as {side.name} records them",
        )


@dataclass(frozen=True, slots=True)
class LinkStep:
    """The linkage (``taserlink link`` or the report) and what it produced.

    Attributes:
        linkage: its result (:func:`taserlink.forensics.link.link`).
        issues: the issue list file; ``None`` when the issues came from a register
            (``linkage.issues_source`` names it in the action's description).
        roots: the trusted roots' files the images were verified against.
        outputs: the files it produced (``report.html``, ``report.pdf`` …).
        settings: further settings that shaped the result (name → value as text), e.g.
            the clock model's drift bound; the incident window is taken from ``linkage``.
        version: the taserlink version that ran it (default: this one).
    """

    linkage: Linkage
    issues: CaseFile | None = None
    roots: tuple[CaseFile, ...] = ()
    outputs: tuple[CaseFile, ...] = ()
    settings: Mapping[str, str] = field(default_factory=dict)
    version: str = __version__


ROOT_SUFFIXES: Final = (".pem", ".crt", ".cer", ".der")
"""The certificate files a trusted-roots directory is read for (as
:meth:`taserlink.integrity.TrustStore.from_paths` reads it)."""


def root_files(
    paths: Iterable[str | os.PathLike[str]], role: str = "trusted roots"
) -> tuple[CaseFile, ...]:
    """The trusted roots' files, hashed: each file of ``paths``, and each certificate file
    (:data:`ROOT_SUFFIXES`) directly in each directory of them, by name.

    Raises:
        ImageIOError: a path is missing or a file cannot be read.
    """
    found: list[CaseFile] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(
                CaseFile.of_path(p, role)
                for p in sorted(path.iterdir())
                if p.suffix.lower() in ROOT_SUFFIXES and p.is_file()
            )
        else:
            found.append(CaseFile.of_path(path, role))
    return tuple(found)


def _setting_text(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


# -- identifiers and literals ---------------------------------------------------------------


class _Ids:
    """``@id``s: ``kb:<Class>-<UUIDv5>``."""

    def __init__(self, base: str) -> None:
        self.base = base

    def node(self, kind: str, *key: str) -> str:
        """The id of a node of class ``kind`` (local name) by its stable key."""
        return f"kb:{kind}-{uuid.uuid5(_ROOT, kind + chr(0) + chr(0).join(key))}"

    def facet(self, owner: str, prefix: str, local: str) -> str:
        """A facet's id as case-utils' ``inherent_uuid.get_facet_uriref`` makes it."""
        owner_uuid = uuid.UUID(owner[-36:])
        return f"kb:{local}-{uuid.uuid5(owner_uuid, _NS[prefix] + local)}"


def _hash_node(sha256: str) -> dict[str, Any]:
    """A ``uco-types:Hash`` with case-utils' inherent UUID for it."""
    value = sha256.lower()
    key = uuid.uuid5(uuid.NAMESPACE_URL, f"urn:hash::sha256:{value}")
    return {
        "@id": f"kb:Hash-{key}",
        "@type": "uco-types:Hash",
        "uco-types:hashMethod": "SHA256",
        "uco-types:hashValue": {"@type": "xsd:hexBinary", "@value": value},
    }


def _time(ms: int) -> dict[str, str]:
    return {"@type": "xsd:dateTime", "@value": utc_text(ms)}


def _refs(ids: Iterable[str]) -> list[dict[str, str]]:
    return [{"@id": i} for i in sorted(set(ids))]


# -- the graph ------------------------------------------------------------------------------


class _Graph:
    def __init__(self, base: str) -> None:
        self.ids = _Ids(base)
        self.nodes: dict[str, dict[str, Any]] = {}

    def add(self, node: dict[str, Any]) -> str:
        """Add ``node`` (merged with a node of the same id added before: same content)."""
        found = self.nodes.get(node["@id"])
        if found is None:
            self.nodes[node["@id"]] = node
        elif found != node:
            merged = dict(found)
            for key, value in node.items():
                if key in merged and merged[key] != value and isinstance(value, list):
                    both = {json.dumps(v, sort_keys=True): v for v in [*merged[key], *value]}
                    merged[key] = [both[k] for k in sorted(both)]
                else:
                    merged.setdefault(key, value)
            self.nodes[node["@id"]] = merged
        return str(node["@id"])

    def file(self, item: CaseFile) -> str:
        """A ``uco-observable:File`` with its name, path, size and SHA-256."""
        node_id = self.ids.node("File", item.sha256, item.path)
        name = Path(item.path).name or item.path
        file_facet: dict[str, Any] = {
            "@id": self.ids.facet(node_id, "uco-observable", "FileFacet"),
            "@type": "uco-observable:FileFacet",
            "uco-observable:fileName": name,
            "uco-observable:filePath": item.path,
            "uco-observable:isDirectory": False,
            "uco-observable:sizeInBytes": item.size,
        }
        suffix = Path(name).suffix
        if suffix:
            file_facet["uco-observable:extension"] = suffix[1:]
        content = {
            "@id": self.ids.facet(node_id, "uco-observable", "ContentDataFacet"),
            "@type": "uco-observable:ContentDataFacet",
            "uco-observable:hash": [_hash_node(item.sha256)],
            "uco-observable:sizeInBytes": item.size,
        }
        node: dict[str, Any] = {
            "@id": node_id,
            "@type": "uco-observable:File",
            "uco-core:hasFacet": [file_facet, content],
            "uco-core:name": name,
        }
        if item.role:
            node["uco-core:description"] = [item.role]
        return self.add(node)

    def tool(self, version: str, settings: Mapping[str, str] | None = None) -> str:
        """A ``uco-tool:Tool`` (``ConfiguredTool`` with its settings when given)."""
        name, _, number = version.rpartition(" ") if " " in version else (TOOL_NAME, "", version)
        if settings is None:
            node_id = self.ids.node("Tool", name, number)
            return self.add(
                {
                    "@id": node_id,
                    "@type": "uco-tool:Tool",
                    "uco-core:name": name,
                    "uco-tool:toolType": "forensic acquisition and analysis",
                    "uco-tool:version": number,
                }
            )
        pairs = sorted(settings.items())
        node_id = self.ids.node("ConfiguredTool", name, number, *(f"{k}={v}" for k, v in pairs))
        configuration_id = self.ids.node("Configuration", node_id)
        entries = [
            {
                "@id": self.ids.node("ConfigurationEntry", configuration_id, key),
                "@type": "uco-configuration:ConfigurationEntry",
                "uco-configuration:itemName": key,
                "uco-configuration:itemValue": value,
            }
            for key, value in pairs
        ]
        configuration: dict[str, Any] = {
            "@id": configuration_id,
            "@type": "uco-configuration:Configuration",
        }
        if entries:
            configuration["uco-configuration:configurationEntry"] = entries
        return self.add(
            {
                "@id": node_id,
                "@type": "uco-tool:ConfiguredTool",
                "uco-configuration:usesConfiguration": configuration,
                "uco-core:name": name,
                "uco-tool:toolType": "forensic analysis",
                "uco-tool:version": number,
            }
        )

    def person(self, name: str) -> str:
        return self.add(
            {
                "@id": self.ids.node("Person", name),
                "@type": "uco-identity:Person",
                "uco-core:name": name,
            }
        )

    def organization(self, name: str) -> str:
        return self.add(
            {
                "@id": self.ids.node("Organization", name),
                "@type": "uco-identity:Organization",
                "uco-core:name": name,
            }
        )

    def computer(self, name: str) -> str:
        node_id = self.ids.node("Computer", name)
        return self.add(
            {
                "@id": node_id,
                "@type": "uco-observable:Computer",
                "uco-core:description": ["download workstation, as the image records its name"],
                "uco-core:name": name,
            }
        )

    def device(self, image: Image) -> str:
        """The CED of ``image``'s identity section (one node per serial)."""
        identity = image.identity
        node_id = self.ids.node("Device", identity.serial)
        facet: dict[str, Any] = {
            "@id": self.ids.facet(node_id, "uco-observable", "DeviceFacet"),
            "@type": "uco-observable:DeviceFacet",
            "uco-observable:deviceType": "conducted energy device",
            "uco-observable:model": identity.model,
            "uco-observable:serialNumber": identity.serial,
        }
        maker = _manufacturer(image)
        if maker is not None:
            facet["uco-observable:manufacturer"] = {"@id": self.organization(maker)}
        return self.add(
            {
                "@id": node_id,
                "@type": "uco-observable:Device",
                "uco-core:description": [
                    f"hardware revision {identity.hardware_revision}, firmware "
                    f"{identity.firmware}, log capacity {identity.log_capacity} records "
                    "(as its identity section states)"
                ],
                "uco-core:hasFacet": [facet],
                "uco-core:name": identity.serial,
            }
        )


def _manufacturer(image: Image) -> str | None:
    """The organisation the device certificate's subject names (its ``O=``), if any."""
    if not image.certificates:
        return None
    try:
        certificate = x509.load_der_x509_certificate(image.certificates[0])
        names = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    except ValueError:
        return None
    value = names[0].value if names else None
    return value if isinstance(value, str) and value else None


def _arguments(action_id: str, ids: _Ids, values: Mapping[str, str]) -> list[dict[str, Any]]:
    """``uco-action:ActionArgumentFacet``s, one per value (ids by name: stable)."""
    return [
        {
            "@id": ids.node("ActionArgumentFacet", action_id, name),
            "@type": "uco-action:ActionArgumentFacet",
            "uco-action:argumentName": name,
            "uco-action:value": value,
        }
        for name, value in sorted(values.items())
    ]


def _acquisition(graph: _Graph, name: str, image: Image) -> tuple[str, str]:
    """One download: its action; returns (action id, image file id)."""
    ids = graph.ids
    item = CaseFile.of_bytes(name, image.data, "dataport image (device download)")
    file_id = graph.file(item)
    device_id = graph.device(image)
    acquisition = image.acquisition
    action_id = ids.node("InvestigativeAction", "acquisition", item.sha256, item.path)
    record_id = graph.add(
        {
            "@id": ids.node("ProvenanceRecord", action_id),
            "@type": "case-investigation:ProvenanceRecord",
            "uco-core:description": [
                f"download {item.path} of device {image.identity.serial} (SHA-256 {item.sha256})"
            ],
            "uco-core:object": _refs([file_id, device_id]),
        }
    )
    recomputed = device_sha256(image.data, image.spans).hex()
    arguments = {
        "host nonce": acquisition.nonce.hex(),
        "host clock source": acquisition.clock_source,
        "host UTC when the device statement arrived": utc_text(acquisition.statement_utc_ms),
        "recorded SHA-256 of sections 1-7": acquisition.device_sha256.hex(),
        "recorded closing SHA-256": acquisition.closing_sha256.hex(),
        "image format version": str(image.version),
    }
    description = (
        f"download of device {image.identity.serial} by {acquisition.tool_version} on "
        f"{acquisition.workstation}, operator {acquisition.operator}; times, operator, "
        "workstation and clock source as the image's acquisition section records them"
    )
    if recomputed != acquisition.device_sha256.hex():
        description += "; the recorded SHA-256 of sections 1-7 does not match their bytes"
    graph.add(
        {
            "@id": action_id,
            "@type": "case-investigation:InvestigativeAction",
            "uco-action:endTime": _time(acquisition.host_utc_end_ms),
            "uco-action:instrument": _refs(
                [graph.tool(acquisition.tool_version), graph.computer(acquisition.workstation)]
            ),
            "uco-action:object": _refs([device_id]),
            "uco-action:performer": {"@id": graph.person(acquisition.operator)},
            "uco-action:result": _refs([file_id, record_id]),
            "uco-action:startTime": _time(acquisition.host_utc_start_ms),
            "uco-core:description": [description],
            "uco-core:hasFacet": _arguments(action_id, ids, arguments),
            "uco-core:name": "acquisition",
        }
    )
    return action_id, file_id


def _match(graph: _Graph, step: MatchStep) -> tuple[str, str]:
    """The match action; returns (action id, match file id)."""
    ids = graph.ids
    output_id = graph.file(step.output)
    input_ids = [graph.file(i) for i in step.inputs]
    action_id = ids.node("InvestigativeAction", "match", step.output.sha256, step.output.path)
    node: dict[str, Any] = {
        "@id": action_id,
        "@type": "case-investigation:InvestigativeAction",
        "uco-action:result": _refs([output_id]),
        "uco-core:description": [
            "AFID reads matched against the cartridge serial list (taserlink match)"
            + (f"; {step.note}" if step.note else "")
        ],
        "uco-core:name": "match",
    }
    if input_ids:
        node["uco-action:object"] = _refs(input_ids)
    if step.version is not None:
        tool = graph.tool(step.version, step.settings) if step.settings else None
        node["uco-action:instrument"] = _refs([tool or graph.tool(step.version)])
    graph.add(node)
    return action_id, output_id


def _row_statement(row: LinkRow) -> str:
    words = [
        f"cartridge {row.serial} ({row.status.value}; exhibits {', '.join(row.exhibits)})",
    ]
    if not row.deployments:
        words.append("no DEPLOY record in any image")
    for d in row.deployments:
        words.append(
            f"DEPLOY {d.where()} bay {d.bay}, {d.full_time_text()}; device held by "
            f"{d.device_custody}; cartridge signed out to {d.cartridge_custody}"
        )
    return "; ".join(words)


def _link(
    graph: _Graph,
    step: LinkStep,
    image_files: Mapping[str, str],
    devices: Mapping[str, str],
    informed_by: Sequence[str],
    match_file: str | None,
) -> str:
    ids = graph.ids
    linkage = step.linkage
    settings = dict(step.settings)
    if linkage.window is not None:
        settings.setdefault("incident window from", utc_text(linkage.window.start_ms))
        settings.setdefault("incident window to", utc_text(linkage.window.end_ms))
    settings.setdefault("issues", linkage.issues_source)
    tool_id = graph.tool(f"{TOOL_NAME} {step.version}", settings)
    objects = list(image_files.values())
    objects.extend(graph.file(f) for f in step.roots)
    if step.issues is not None:
        objects.append(graph.file(step.issues))
    if match_file is not None:
        objects.append(match_file)
    key = ",".join(sorted(objects))
    action_id = ids.node("InvestigativeAction", "link", key, tool_id)
    results = [graph.file(f) for f in step.outputs]
    for summary in linkage.images:
        file_id = image_files.get(summary.name)
        if file_id is None:
            continue
        if summary.verified is None:
            tag, text = "not verified", "not verified (no trusted roots given)"
        elif summary.verified:
            tag, text = "verified", "passed integrity verification against the trusted roots"
        else:
            tag = "failed verification"
            text = "failed integrity verification: " + "; ".join(summary.problems)
        results.append(
            graph.add(
                {
                    "@id": ids.node("Annotation", action_id, "image", file_id),
                    "@type": "uco-core:Annotation",
                    "uco-core:object": _refs([file_id]),
                    "uco-core:statement": [f"image {summary.name}: {text}"],
                    "uco-core:tag": ["integrity", tag],
                }
            )
        )
    for row in linkage.rows:
        concerned = [devices[d.device] for d in row.deployments if d.device in devices]
        concerned.extend(
            image_files[name] for d in row.deployments for name in d.images if name in image_files
        )
        annotation: dict[str, Any] = {
            "@id": ids.node("Annotation", action_id, "cartridge", row.serial),
            "@type": "uco-core:Annotation",
            "uco-core:name": f"cartridge {row.serial}",
            "uco-core:object": _refs(concerned or ([match_file] if match_file else objects)),
            "uco-core:statement": [_row_statement(row)],
            "uco-core:tag": ["linkage", "confirmed" if row.confirmed else "unconfirmed"],
        }
        results.append(graph.add(annotation))
    for index, finding in enumerate(linkage.findings):
        results.append(
            graph.add(
                {
                    "@id": ids.node(
                        "Assertion", action_id, "finding", f"{index:06d}", str(finding)
                    ),
                    "@type": "uco-core:Assertion",
                    "uco-core:name": f"finding {index + 1}: {finding.kind.value}",
                    "uco-core:statement": [finding.message],
                    "uco-core:tag": ["finding", finding.severity.value, finding.kind.value],
                }
            )
        )
    counts = [(s.value, len(linkage.by_severity(s))) for s in Severity]
    graph.add(
        {
            "@id": action_id,
            "@type": "case-investigation:InvestigativeAction",
            "case-investigation:wasInformedBy": _refs(informed_by),
            "uco-action:instrument": _refs([tool_id]),
            "uco-action:object": _refs(objects),
            "uco-action:result": _refs(results),
            "uco-core:description": [
                "recovered cartridges linked to DEPLOY records, devices and officers "
                f"(taserlink {step.version}; issues from {linkage.issues_source}): "
                + ", ".join(f"{count} {severity} finding(s)" for severity, count in counts)
            ],
            "uco-core:name": "link",
        }
    )
    return action_id


def _read(name: str, source: ImageSource) -> Image:
    return source if isinstance(source, Image) else read_image(source)


def case_graph(
    images: Mapping[str, ImageSource],
    *,
    match: MatchStep | None = None,
    link: LinkStep | None = None,
    base: str = KB,
) -> dict[str, Any]:
    """The case as a CASE/UCO JSON-LD document (a ``dict`` ready for :func:`json.dumps`).

    Args:
        images: the downloads by name (the path as given, which the graph records as the
            file's path), each parsed or a path to read (one at a time).  Each is one
            acquisition; its SHA-256 and size are those of its bytes.  The linkage's
            images should be these, under the same names.
        match: how the match file came about (:meth:`MatchStep.from_file`), if it is part
            of the case.
        link: the linkage and its outputs, if it is part of the case.
        base: the ``kb:`` prefix's IRI.

    Returns:
        ``{"@context": …, "@graph": [...]}`` with the graph's nodes in ``@id`` order and
        every list of references sorted: the same inputs give the same document.

    Raises:
        ImageIOError, FormatError: an image given as a path cannot be read or parsed.
    """
    graph = _Graph(base)
    acquisitions: list[str] = []
    image_files: dict[str, str] = {}
    devices: dict[str, str] = {}
    for name in sorted(images):
        image = _read(name, images[name])
        action_id, file_id = _acquisition(graph, name, image)
        acquisitions.append(action_id)
        image_files[name] = file_id
        devices[image.identity.serial] = graph.ids.node("Device", image.identity.serial)
    actions = list(acquisitions)
    match_file = None
    informed = list(acquisitions)
    if match is not None:
        match_action, match_file = _match(graph, match)
        actions.append(match_action)
        informed.append(match_action)
    if link is not None:
        actions.append(_link(graph, link, image_files, devices, informed, match_file))
    members = [n for n in graph.nodes if not n.startswith("kb:Investigation-")]
    graph.add(
        {
            "@id": graph.ids.node("Investigation", *sorted(actions)),
            "@type": "case-investigation:Investigation",
            "uco-core:description": [
                f"taserlink {__version__}: the acquisition of {len(acquisitions)} device "
                "download(s)" + (" and their analysis" if len(actions) > len(acquisitions) else "")
            ],
            "uco-core:name": "taserlink case",
            "uco-core:object": _refs(members),
        }
    )
    return {
        "@context": {**_NS, "kb": base},
        "@graph": [graph.nodes[key] for key in sorted(graph.nodes)],
    }


def case_jsonld(
    images: Mapping[str, ImageSource],
    *,
    match: MatchStep | None = None,
    link: LinkStep | None = None,
    base: str = KB,
) -> bytes:
    """:func:`case_graph` as bytes: JSON with sorted keys, two-space indent, UTF-8 (not
    escaped), one final newline — byte-identical for the same inputs."""
    document = case_graph(images, match=match, link=link, base=base)
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
