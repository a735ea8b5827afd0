"""The linkage driver: the same result from paths or parsed images, in one process or
several; the pool it uses; the findings base it shares with the verifier."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taserlink.errors import LinkError
from taserlink.findings import FindingsResult, Severity
from taserlink.forensics.issues import parse_utc, read_issues
from taserlink.forensics.link import Linkage, Window, image_paths, link, read_images
from taserlink.forensics.link.checks import DEPLOYMENT_RULES, ROW_RULES
from taserlink.forensics.matchfiles import read_matches
from taserlink.format import EventCode, read_image
from taserlink.integrity import Report, TrustStore, verify_image
from taserlink.workers import in_processes, usable_cores
from tests.conftest import CAPTURES

INCIDENT = CAPTURES / "incident"
TRUST = TrustStore.from_paths([CAPTURES / "test-root.pem"])
WINDOW = Window(parse_utc("2026-03-06T19:40:00Z"), parse_utc("2026-03-06T19:55:00Z"))


def _incident(images: dict[str, object], workers: int) -> Linkage:
    return link(
        images,  # type: ignore[arg-type]
        read_issues(INCIDENT / "issues.csv"),
        read_matches(INCIDENT / "expected-matches.csv"),
        window=WINDOW,
        trust=TRUST,
        workers=workers,
    )


def test_paths_and_parsed_images_in_one_or_two_processes_give_the_same_result() -> None:
    parsed = read_images(INCIDENT / "images")
    paths = {str(p): p for p in image_paths(INCIDENT / "images")}
    assert list(parsed) == list(paths)
    reference = _incident(dict(parsed), 1).as_dict()
    assert reference["findings"], "the incident has findings to compare"
    for images, workers in ((paths, 1), (paths, 2), (dict(parsed), 2)):
        assert _incident(images, workers).as_dict() == reference, workers


def test_an_unreadable_image_path_is_a_link_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "cut.tdi"
    bad.write_bytes((INCIDENT / "images").iterdir().__next__().read_bytes()[:100])
    with pytest.raises(LinkError, match=f"^{bad}: "):
        _incident({str(bad): bad}, 1)
    with pytest.raises(LinkError, match=r"no such file|No such file"):
        _incident({"gone.tdi": tmp_path / "gone.tdi"}, 1)
    with pytest.raises(LinkError, match="workers must be at least 1"):
        _incident({str(bad): bad}, 0)


def test_a_trust_store_pickles_to_the_same_roots() -> None:
    again = pickle.loads(pickle.dumps(TRUST))
    assert again == TRUST and len(again.roots) == len(TRUST.roots)


def _square_or_fail(offset: int, n: int) -> int:
    if n == 13:
        raise ValueError("thirteen")
    return n * n + offset


@settings(max_examples=10, deadline=None)
@given(jobs=st.lists(st.integers(0, 12), max_size=12), workers=st.integers(1, 3))
def test_the_pool_keeps_job_order(jobs: list[int], workers: int) -> None:
    assert in_processes(_square_or_fail, 5, jobs, workers) == [n * n + 5 for n in jobs]


def test_the_pool_raises_the_first_failure_and_refuses_no_workers() -> None:
    with pytest.raises(ValueError, match="thirteen"):
        in_processes(_square_or_fail, 0, [1, 13, 2], 2)
    with pytest.raises(ValueError, match="at least 1"):
        in_processes(_square_or_fail, 0, [1], 0)
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)


def test_the_verifier_and_linkage_share_one_findings_base() -> None:
    image = read_image(CAPTURES / "tampered" / "flipped-bit.tdi")
    report = verify_image(image, TRUST)
    linkage = _incident({str(p): p for p in image_paths(INCIDENT / "images")}, 1)
    for result in (report, linkage):
        assert isinstance(result, FindingsResult)
        counts = result.counts()
        assert list(counts) == ["error", "warning", "info"]
        assert sum(counts.values()) == len(result.findings)
        assert result.ok == (counts["error"] == 0)
        for severity in Severity:
            assert all(f.severity is severity for f in result.by_severity(severity))
        assert result.kinds() == {f.kind for f in result.findings}
    assert isinstance(report, Report) and not report.ok


def test_every_rule_is_a_function_of_one_context() -> None:
    """The rules take one argument (their context) and are documented with the kind they
    find."""
    import inspect

    for rule in (*ROW_RULES, *DEPLOYMENT_RULES):
        assert len(inspect.signature(rule).parameters) == 1, rule.__name__
        assert rule.__doc__ and rule.__doc__.startswith("``"), rule.__name__


def test_a_device_keeps_the_deployments_linkage_reports_on_and_counts_the_rest() -> None:
    """Every ``DEPLOY`` of a device is counted; those kept are exactly the ones of a
    recovered cartridge or runner-up, or that lie or may lie in the window."""
    paths = {str(p): p for p in image_paths(INCIDENT / "images")}
    matches = read_matches(INCIDENT / "expected-matches.csv")
    named = {m.serial for m in matches if m.serial} | {m.runner_up for m in matches if m.runner_up}
    for window in (WINDOW, None):
        result = link(
            paths, read_issues(INCIDENT / "issues.csv"), matches, window=window, trust=TRUST
        )
        for device in result.devices:
            deploys = sum(
                int((read_image(Path(n)).records["code"] == EventCode.DEPLOY).sum())
                for n in device.images
            )
            assert device.deployment_count >= len(device.deployments)
            assert device.deployment_count <= deploys  # downloads overlap: counted once
            for d in device.deployments:
                span = d.span
                in_window = window is not None and (
                    span is None or (span[1] >= window.start_ms and span[0] <= window.end_ms)
                )
                assert d.serial in named or in_window
            assert device.as_dict()["deployments"] == device.deployment_count
