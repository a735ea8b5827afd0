"""The CASE/UCO export (:mod:`taserlink.report.case`) of the worked incident
(``captures/incident``): ``case_validate`` (case-utils, ``tests/case_support.py``) finds it
conformant, a deliberately broken graph is refused (the validator really runs), the content
says what the evidence says (each download's SHA-256, device, host times, operator,
workstation; the match and link actions' inputs and outputs), and the same inputs give the
same bytes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taserlink import __version__
from taserlink.forensics.issues import parse_utc, read_issues
from taserlink.forensics.link import Linkage, Window, link
from taserlink.forensics.matchfiles import read_matches
from taserlink.format import read_image
from taserlink.integrity import TrustStore
from taserlink.report.case import (
    CONTEXT,
    CaseFile,
    LinkStep,
    MatchStep,
    case_graph,
    case_jsonld,
    root_files,
)
from taserlink.timeline.times import utc_text
from tests.case_support import case_validate

CAPTURES = Path(__file__).resolve().parents[1] / "captures"
INCIDENT = CAPTURES / "incident"
NAMES = tuple(f"images/{p.name}" for p in sorted((INCIDENT / "images").glob("*.tdi")))
WINDOW = Window(parse_utc("2026-03-06T19:40:00Z"), parse_utc("2026-03-06T19:55:00Z"))
REPORT_HTML = b"<!doctype html><title>report</title>\n"


def _named(name: str, role: str) -> CaseFile:
    return CaseFile.of_bytes(name, (INCIDENT / name).read_bytes(), role)


@pytest.fixture(scope="module")
def linkage() -> Linkage:
    return link(
        {name: INCIDENT / name for name in NAMES},
        read_issues(INCIDENT / "issues.csv"),
        read_matches(INCIDENT / "expected-matches.csv"),
        window=WINDOW,
        trust=TrustStore.from_paths([CAPTURES / "test-root.pem"]),
    )


@pytest.fixture
def in_case_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A scratch folder holding the match file and its provenance file (as ``taserlink match
    --out matches.csv`` leaves them), made the working folder."""
    matches = (INCIDENT / "expected-matches.csv").read_bytes()
    (tmp_path / "matches.csv").write_bytes(matches)
    provenance = {
        "tool": "taserlink",
        "version": __version__,
        "inputs": [
            {"path": name, "size": f.size, "sha256": f.sha256}
            for name in ("reads.csv", "serials.txt")
            for f in [_named(name, "")]
        ],
        "settings": {"top": 2, "confusion_model": "default"},
        "output": {"path": "matches.csv", "sha256": hashlib.sha256(matches).hexdigest()},
    }
    (tmp_path / "matches.csv.provenance.json").write_text(json.dumps(provenance))
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def _steps(linkage: Linkage) -> tuple[MatchStep, LinkStep]:
    roots = (CAPTURES / "test-root.pem").read_bytes()
    step = LinkStep(
        linkage,
        issues=_named("issues.csv", "issue list"),
        roots=(CaseFile.of_bytes("test-root.pem", roots, "trusted roots"),),
        outputs=(CaseFile.of_bytes("out/report.html", REPORT_HTML, "report"),),
        settings={"clock drift bound": "100 ppm"},
    )
    return MatchStep.from_file("matches.csv"), step


def _document(linkage: Linkage) -> bytes:
    match, step = _steps(linkage)
    return case_jsonld({name: INCIDENT / name for name in NAMES}, match=match, link=step)


def _nodes(document: bytes) -> dict[str, dict[str, Any]]:
    return {n["@id"]: n for n in json.loads(document)["@graph"]}


def _ids(value: Any) -> list[str]:
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [v["@id"] for v in values]


def _file_hash(node: dict[str, Any]) -> str:
    facets = {f["@type"]: f for f in node["uco-core:hasFacet"]}
    (digest,) = facets["uco-observable:ContentDataFacet"]["uco-observable:hash"]
    assert digest["uco-types:hashMethod"] == "SHA256"
    return str(digest["uco-types:hashValue"]["@value"])


def _actions(nodes: dict[str, dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [
        n
        for n in nodes.values()
        if n["@type"] == "case-investigation:InvestigativeAction" and n["uco-core:name"] == name
    ]


def test_the_incident_conforms_to_case(
    linkage: Linkage, in_case_folder: Path, tmp_path: Path
) -> None:
    path = tmp_path / "case.jsonld"
    path.write_bytes(_document(linkage))
    status, output = case_validate(path)
    assert status == 0, output
    assert "Conforms: True" in output, output


def test_a_broken_graph_is_refused(linkage: Linkage, in_case_folder: Path, tmp_path: Path) -> None:
    """Two faults in one graph (one validator run): a property CASE does not define (the
    serial number misspelled) and a size as text rather than an integer."""
    text = _document(linkage).decode()
    text = text.replace('"uco-observable:serialNumber"', '"uco-observable:serial"')
    document = json.loads(text)
    for node in document["@graph"]:
        if node["@type"] == "uco-observable:File":
            for facet in node["uco-core:hasFacet"]:
                facet["uco-observable:sizeInBytes"] = str(facet["uco-observable:sizeInBytes"])
    broken = tmp_path / "broken.jsonld"
    broken.write_text(json.dumps(document))
    status, output = case_validate(broken)
    assert status != 0, output
    assert "Conforms: False" in output, output
    assert "Value is not Literal with datatype xsd:integer" in output, output
    unknown = "NonExistentCDOConceptWarning: " + CONTEXT["uco-observable"] + "serial\n"
    assert unknown in output, output


def test_each_download_is_an_acquisition(linkage: Linkage, in_case_folder: Path) -> None:
    nodes = _nodes(_document(linkage))
    acquisitions = _actions(nodes, "acquisition")
    assert len(acquisitions) == len(NAMES) == 3
    by_hash = {}
    for action in acquisitions:
        results = [nodes[i] for i in _ids(action["uco-action:result"])]
        (image,) = [n for n in results if n["@type"] == "uco-observable:File"]
        (record,) = [n for n in results if n["@type"] == "case-investigation:ProvenanceRecord"]
        assert image["@id"] in _ids(record["uco-core:object"])
        by_hash[_file_hash(image)] = (action, image)
    for name in NAMES:
        data = (INCIDENT / name).read_bytes()
        action, image = by_hash[hashlib.sha256(data).hexdigest()]
        parsed = read_image(data)
        facets = {f["@type"]: f for f in image["uco-core:hasFacet"]}
        assert facets["uco-observable:FileFacet"]["uco-observable:filePath"] == name
        assert facets["uco-observable:FileFacet"]["uco-observable:sizeInBytes"] == len(data)
        (device_id,) = _ids(action["uco-action:object"])
        device = nodes[device_id]
        assert device["@type"] == "uco-observable:Device"
        (facet,) = device["uco-core:hasFacet"]
        assert facet["uco-observable:serialNumber"] == parsed.identity.serial == Path(name).stem
        assert facet["uco-observable:model"] == parsed.identity.model
        maker = nodes[facet["uco-observable:manufacturer"]["@id"]]
        assert "TEST manufacturer" in maker["uco-core:name"]
        acquisition = parsed.acquisition
        assert action["uco-action:startTime"] == {
            "@type": "xsd:dateTime",
            "@value": utc_text(acquisition.host_utc_start_ms),
        }
        assert action["uco-action:endTime"]["@value"] == utc_text(acquisition.host_utc_end_ms)
        performer = nodes[action["uco-action:performer"]["@id"]]
        assert performer["@type"] == "uco-identity:Person"
        assert performer["uco-core:name"] == acquisition.operator == "PS 4127 (store room)"
        instruments = {nodes[i]["@type"]: nodes[i] for i in _ids(action["uco-action:instrument"])}
        assert instruments["uco-observable:Computer"]["uco-core:name"] == "STORE-DOCK-02"
        tool = instruments["uco-tool:Tool"]
        assert f"{tool['uco-core:name']} {tool['uco-tool:version']}" == acquisition.tool_version
        arguments = {
            f["uco-action:argumentName"]: f["uco-action:value"] for f in action["uco-core:hasFacet"]
        }
        assert arguments["host nonce"] == acquisition.nonce.hex()
        assert arguments["host clock source"] == acquisition.clock_source
        assert arguments["recorded SHA-256 of sections 1-7"] == acquisition.device_sha256.hex()


def test_the_match_and_the_link_are_actions(linkage: Linkage, in_case_folder: Path) -> None:
    nodes = _nodes(_document(linkage))
    files = {
        n["uco-core:name"]: n["@id"] for n in nodes.values() if n["@type"] == "uco-observable:File"
    }
    (match,) = _actions(nodes, "match")
    assert _ids(match["uco-action:object"]) == sorted([files["reads.csv"], files["serials.txt"]])
    assert _ids(match["uco-action:result"]) == [files["matches.csv"]]
    for name in ("reads.csv", "serials.txt"):
        assert (
            _file_hash(nodes[files[name]])
            == hashlib.sha256((INCIDENT / name).read_bytes()).hexdigest()
        )
    assert (
        _file_hash(nodes[files["matches.csv"]])
        == hashlib.sha256((INCIDENT / "expected-matches.csv").read_bytes()).hexdigest()
    )
    (tool_id,) = _ids(match["uco-action:instrument"])
    assert nodes[tool_id]["uco-tool:version"] == __version__

    (action,) = _actions(nodes, "link")
    objects = set(_ids(action["uco-action:object"]))
    wanted = {Path(n).name for n in NAMES} | {"issues.csv", "matches.csv", "test-root.pem"}
    assert objects == {files[name] for name in wanted}
    informed = set(_ids(action["case-investigation:wasInformedBy"]))
    assert informed == {a["@id"] for a in _actions(nodes, "acquisition")} | {match["@id"]}
    (tool_id,) = _ids(action["uco-action:instrument"])
    tool = nodes[tool_id]
    assert tool["@type"] == "uco-tool:ConfiguredTool"
    entries = {
        e["uco-configuration:itemName"]: e["uco-configuration:itemValue"]
        for e in tool["uco-configuration:usesConfiguration"]["uco-configuration:configurationEntry"]
    }
    assert entries["incident window from"] == "2026-03-06T19:40:00.000Z"
    assert entries["incident window to"] == "2026-03-06T19:55:00.000Z"
    assert entries["clock drift bound"] == "100 ppm"
    results = [nodes[i] for i in _ids(action["uco-action:result"])]
    assert files["report.html"] in {r["@id"] for r in results}
    assert _file_hash(nodes[files["report.html"]]) == hashlib.sha256(REPORT_HTML).hexdigest()
    notes = {r["uco-core:name"]: r for r in results if "uco-core:name" in r}
    chain = notes["cartridge XXMF6TTEBH"]["uco-core:statement"][0]
    assert "DYM5PZXVV1" in chain and "PC 1148" in chain
    assert {"cartridge S9RBJ7PP1Q", "cartridge SZ9FX7ZZ8X"} <= set(notes)
    findings = [r for r in results if r["@type"] == "uco-core:Assertion"]
    assert len(findings) == len(linkage.findings)
    assert ["finding", "error", "other_officer"] in [f["uco-core:tag"] for f in findings]
    verified = [r for r in results if "integrity" in r.get("uco-core:tag", [])]
    assert len(verified) == 3 and all("verified" in r["uco-core:tag"] for r in verified)


def test_the_same_inputs_give_the_same_bytes(linkage: Linkage, in_case_folder: Path) -> None:
    first = _document(linkage)
    match, step = _steps(linkage)
    parsed = {name: read_image(INCIDENT / name) for name in reversed(NAMES)}
    assert case_jsonld(parsed, match=match, link=step) == first
    assert first.endswith(b"}\n") and first.count(b"\n}\n") == 1
    document = json.loads(first)
    assert json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n" == (
        first.decode()
    )
    ids = [n["@id"] for n in document["@graph"]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(i.startswith("kb:") and len(i.rsplit("-", 5)[-1]) == 12 for i in ids)
    assert case_graph(parsed, match=match, link=step) == document


def test_the_match_file_without_its_provenance(linkage: Linkage, in_case_folder: Path) -> None:
    side = in_case_folder / "matches.csv.provenance.json"
    record = json.loads(side.read_text())
    record["output"]["sha256"] = "0" * 64
    side.write_text(json.dumps(record))
    step = MatchStep.from_file("matches.csv")
    assert step.inputs == () and "names a file of SHA-256 000" in step.note
    side.unlink()
    step = MatchStep.from_file("matches.csv")
    assert step.inputs == () and step.version is None
    assert "no provenance file (matches.csv.provenance.json)" in step.note
    nodes = _nodes(case_jsonld({NAMES[0]: INCIDENT / NAMES[0]}, match=step))
    (match,) = _actions(nodes, "match")
    assert "uco-action:object" not in match
    assert step.note in match["uco-core:description"][0]


def test_trusted_roots_and_a_register(linkage: Linkage, tmp_path: Path) -> None:
    """A roots directory gives its certificate files; with the issues from a register (no
    issue file) the link action names the register in its description and its tool's
    settings, and takes no issue file as input."""
    folder = tmp_path / "roots"
    folder.mkdir()
    root = (CAPTURES / "test-root.pem").read_bytes()
    (folder / "test-root.pem").write_bytes(root)
    (folder / "README.txt").write_text("not a certificate\n")
    (roots,) = root_files([folder])
    assert (roots.path, roots.size) == (str(folder / "test-root.pem"), len(root))
    assert roots.sha256 == hashlib.sha256(root).hexdigest()
    images = {name: INCIDENT / name for name in NAMES}
    nodes = _nodes(case_jsonld(images, link=LinkStep(linkage, roots=(roots,))))
    (action,) = _actions(nodes, "link")
    names = {nodes[i]["uco-core:name"] for i in _ids(action["uco-action:object"])}
    assert names == {Path(n).name for n in NAMES} | {"test-root.pem"}
    assert linkage.issues_source in action["uco-core:description"][0]
    assert _ids(action["case-investigation:wasInformedBy"]) == sorted(
        a["@id"] for a in _actions(nodes, "acquisition")
    )
