"""Linkage (``taserlink.forensics.link``) and the issue list (``...forensics.issues``).

Device logs are made with the firmware model: devices with known clock offsets and drifts
load chosen cartridges, fire them at known true UTC times and are downloaded (once or
twice).  Each test changes one thing — the issue list, the match rows, the window, the
images — and asserts that exactly the findings that change calls for appear, with their
severities, and that the chain and the corrected times are right.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taserlink.emulator import SimulatedDevice, pki
from taserlink.emulator.scenarios import START, new_device
from taserlink.errors import InputFileError, LinkError
from taserlink.forensics.issues import (
    Issue,
    IssueKind,
    IssueList,
    parse_issues,
    parse_utc,
    read_issues,
)
from taserlink.forensics.link import (
    CustodyState,
    Linkage,
    LinkKind,
    Severity,
    Window,
    image_paths,
    link,
    read_images,
)
from taserlink.forensics.results import MatchRow, MatchStatus
from taserlink.format import RECORD_SIZE, EventCode, Image, read_image
from taserlink.integrity import TrustStore
from taserlink.serials import CARTRIDGE_SCHEME, DEVICE_SCHEME
from taserlink.timeline.times import utc_text

MINUTE = 60_000
HOUR = 60 * MINUTE
TRUST = TrustStore.from_pem(pki.test_authority().root_pem())
HEADER = "serial,officer,issued_at,returned_at"


def iso(ms: int) -> str:
    """Unix ms as ISO 8601 UTC with ``Z`` (written independently of the library)."""
    when = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)
    return when.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def at(minutes: int) -> int:
    """True UTC ``minutes`` after the scenarios' start (2026-03-02T06:40Z)."""
    return START + minutes * MINUTE


def cartridge(name: str) -> str:
    return CARTRIDGE_SCHEME.generate(random.Random(name), "S")


# -- the world: devices, their logs, what really happened ---------------------------------


@dataclass(frozen=True)
class Shot:
    """A deployment as it really happened."""

    device: str
    serial: str
    seq: int
    utc_ms: int


@dataclass(frozen=True)
class Device:
    serial: str
    images: tuple[Image, ...]
    shots: tuple[Shot, ...]


def run_device(
    name: str,
    plan: Sequence[tuple[int, str, Any]],
    *,
    loaded: Mapping[int, str],
    offset_ms: int = 0,
    drift_ppm: float = 0.0,
) -> Device:
    """A device's day: power on, cartridges loaded at minute 1, then ``plan`` — steps
    ``(minute, action, argument)`` with actions ``fire`` (bay), ``reload`` ((bay, serial)),
    ``remove`` (bay), ``insert`` ((bay, serial)), ``download``, ``reset`` (the clock cell
    fails) and ``jump`` (the clock steps back by the argument in ms, with no
    ``CLOCK_SET``)."""
    rng = random.Random(name)
    device: SimulatedDevice = new_device(rng, START, offset_ms=offset_ms, drift_ppm=drift_ppm)
    device.power_on()
    device.advance(MINUTE)
    for bay, serial in loaded.items():
        device.insert_cartridge(bay, serial)
    images: list[Image] = []
    shots: list[Shot] = []
    for minute, action, argument in plan:
        device.advance(at(minute) - device.utc_ms)
        if action == "fire":
            device.unholster()
            device.arm()
            when = device.utc_ms
            _, seq, _ = device.fire(argument)
            shots.append(Shot(device.spec.serial, device.cartridge(argument) or "", seq, when))
            device.safe()
            device.holster()
        elif action == "reload":
            bay, serial = argument
            device.remove_cartridge(bay)
            device.insert_cartridge(bay, serial)
        elif action == "remove":
            device.remove_cartridge(argument)
        elif action == "insert":
            device.insert_cartridge(*argument)
        elif action == "download":
            images.append(read_image(device.download(rng.randbytes(32))))
        elif action == "reset":
            device.lose_power()
        elif action == "jump":
            assert device.clock is not None
            device.clock.set(device.utc_ms, device.now_ms - argument)
            device.battery_report(20, 8000)
        else:  # pragma: no cover - a mistake in a test's plan
            raise AssertionError(action)
    return Device(device.spec.serial, tuple(images), tuple(shots))


C1, C2, C3, C4, C5, C6, C7, C9 = (cartridge(f"cartridge {n}") for n in (1, 2, 3, 4, 5, 6, 7, 9))

WORLD: dict[str, Device] = {
    # PC 1's device, fast and off by +75 s; downloaded mid-shift and at the end.
    "A": run_device(
        "device A",
        [(200, "fire", 1), (320, "download", None), (710, "download", None)],
        loaded={1: C1},
        offset_ms=75_000,
        drift_ppm=40.0,
    ),
    # PC 2's device, slow and off by -40 s.
    "B": run_device(
        "device B",
        [(205, "fire", 1), (710, "download", None)],
        loaded={1: C2},
        offset_ms=-40_000,
        drift_ppm=-25.0,
    ),
    # A device the issue list does not know.
    "C": run_device("device C", [(210, "fire", 1), (710, "download", None)], loaded={1: C3}),
    # A device whose clock cell fails after the deployment: no download anchors that epoch.
    "R": run_device(
        "device R",
        [(220, "fire", 1), (300, "reset", None), (710, "download", None)],
        loaded={1: C4},
        offset_ms=30_000,
    ),
    # A device that fires a second cartridge carrying C2's serial (a clone).
    "T": run_device("device T", [(230, "fire", 2), (710, "download", None)], loaded={2: C2}),
    # A device that fires C5, has it reloaded (the same serial) and fires again.
    "S": run_device(
        "device S",
        [(235, "fire", 1), (240, "reload", (1, C5)), (245, "fire", 1), (710, "download", None)],
        loaded={1: C5},
    ),
    # A device whose clock steps back 8 hours without a clock set; it fires nothing.
    "J": run_device("device J", [(300, "jump", 8 * HOUR), (710, "download", None)], loaded={}),
    # PC 7's device gives its bay-2 cartridge C6 away at minute 100; downloaded twice, so
    # its INSERT and REMOVE are in both downloads.
    "M": run_device(
        "device M",
        [(100, "remove", 2), (150, "download", None), (710, "download", None)],
        loaded={2: C6},
        offset_ms=20_000,
        drift_ppm=10.0,
    ),
    # PC 8's device takes C6 into bay 2 at minute 102 and fires it.
    "N": run_device(
        "device N",
        [(102, "insert", (2, C6)), (200, "fire", 2), (710, "download", None)],
        loaded={},
        offset_ms=-15_000,
    ),
    # PC 11's device gives C7 away, then its clock cell fails: no download anchors the
    # records of C7 in its log.
    "Q": run_device(
        "device Q",
        [(100, "remove", 1), (120, "reset", None), (710, "download", None)],
        loaded={1: C7},
    ),
    # PC 12's device takes C7 and fires it.
    "P": run_device(
        "device P",
        [(130, "insert", (1, C7)), (210, "fire", 1), (710, "download", None)],
        loaded={},
    ),
}
A, B = WORLD["A"].serial, WORLD["B"].serial
M, N, Q, P = (WORLD[name].serial for name in "MNQP")
SHOT = {
    (shot.device, shot.serial, shot.seq): shot for device in WORLD.values() for shot in device.shots
}


def issues_rows(**changes: list[tuple[str, int, int | None]]) -> dict[str, list[Any]]:
    """The issue list by serial: (officer, issued, returned) periods; ``changes`` replace
    a serial's periods (an empty list removes the serial)."""
    shift = [("PC 1", at(-40), at(680))]
    rows: dict[str, list[Any]] = {
        A: shift,
        C1: [("PC 1", at(-40), None)],
        B: [("PC 2", at(-40), at(680))],
        C2: [("PC 2", at(-40), None)],
        C3: [("PC 3", at(-40), None)],
        WORLD["R"].serial: [("PC 4", at(-40), at(680))],
        C4: [("PC 4", at(-40), None)],
        WORLD["T"].serial: [("PC 2", at(-40), at(680))],
        WORLD["S"].serial: [("PC 6", at(-40), at(680))],
        C5: [("PC 6", at(-40), None)],
        WORLD["J"].serial: [("PC 5", at(-40), at(680))],
        C9: [("PC 1", at(-40), None)],
    }
    names = {"A": A, "B": B, "C1": C1, "C2": C2, "C9": C9}
    for key, periods in changes.items():
        rows[names[key]] = periods
    return rows


def issue_list(rows: Mapping[str, list[Any]] | None = None) -> IssueList:
    rows = issues_rows() if rows is None else rows
    lines = [HEADER]
    for serial, periods in rows.items():
        for officer, issued, returned in periods:
            lines.append(
                f"{serial},{officer},{iso(issued)},{'' if returned is None else iso(returned)}"
            )
    return parse_issues("\n".join(lines) + "\n", "issues.csv")


def match(exhibit: str, serial: str, **fields: Any) -> MatchRow:
    values: dict[str, Any] = {
        "exhibit": exhibit,
        "serial": serial,
        "status": MatchStatus.MATCH,
        "score": 0.9995,
        "tags": ("t1", "t2"),
        "runner_up": "",
        "runner_up_score": None,
        "explanation": "",
    }
    values.update(fields)
    return MatchRow(**values)


BASE_MATCHES = (match("E1", C1), match("E2", C2))
WINDOW = Window(at(140), at(260))  # 09:00Z to 11:00Z


def images_of(*names: str) -> dict[str, Image]:
    return {
        f"{name}{index}.tdi": image
        for name in names
        for index, image in enumerate(WORLD[name].images, start=1)
    }


def run(
    *names: str,
    issues: IssueList | None = None,
    matches: Sequence[MatchRow] = BASE_MATCHES,
    window: Window | None = WINDOW,
    trust: TrustStore | None = TRUST,
) -> Linkage:
    return link(
        images_of(*(names or ("A", "B"))),
        issue_list() if issues is None else issues,
        matches,
        window=window,
        trust=trust,
    )


def kinds(result: Linkage) -> dict[LinkKind, list[Severity]]:
    found: dict[LinkKind, list[Severity]] = {}
    for finding in result.findings:
        found.setdefault(finding.kind, []).append(finding.severity)
    return found


# -- the chain ----------------------------------------------------------------------------


def test_a_clean_incident_links_every_cartridge_with_no_finding() -> None:
    result = run()
    assert result.findings == () and result.ok
    assert [row.serial for row in result.rows] == [C1, C2]
    for row, device, officer in ((result.rows[0], A, "PC 1"), (result.rows[1], B, "PC 2")):
        assert row.confirmed and row.exhibits == (("E1",) if device == A else ("E2",))
        (deployment,) = row.deployments
        shot = SHOT[(device, row.serial, deployment.seq)]
        assert (deployment.device, deployment.bay, deployment.serial) == (device, 1, row.serial)
        assert deployment.device_custody.state is CustodyState.HELD
        assert deployment.device_custody.officer == officer
        assert deployment.cartridge_custody.officer == officer
        assert deployment.verified is True
        span = deployment.span
        assert span is not None and span[0] <= shot.utc_ms <= span[1]
    assert all(image.verified for image in result.images)


def test_one_deploy_seen_in_two_downloads_counts_once_and_names_both() -> None:
    result = run("A")
    row = result.row(C1)
    assert row is not None and len(row.deployments) == 1
    assert row.deployments[0].images == ("A1.tdi", "A2.tdi")
    assert [image.deployments for image in result.images] == [1, 1]
    assert LinkKind.DEPLOYED_TWICE not in kinds(result)


@pytest.mark.parametrize("downloads", [(0,), (1,), (0, 1)])
def test_corrected_times_bracket_the_true_utc_of_every_deploy(downloads: tuple[int, ...]) -> None:
    images = {f"A{i}": WORLD["A"].images[i] for i in downloads}
    images |= {f"{k}.tdi": WORLD[k].images[0] for k in ("B", "C", "T", "S")}
    matches = [match("E1", C1), match("E2", C2), match("E3", C3), match("E5", C5)]
    result = link(images, issue_list(), matches, trust=None)
    checked = 0
    for row in result.rows:
        for deployment in row.deployments:
            shot = SHOT[(deployment.device, row.serial, deployment.seq)]
            span = deployment.span
            assert span is not None
            assert span[0] <= shot.utc_ms <= span[1], (deployment, iso(shot.utc_ms))
            assert deployment.time.utc_ms is not None
            # The device clocks are 40 to 75 s off: the correction must undo that.
            assert abs(deployment.time.utc_ms - shot.utc_ms) < 5_000
            checked += 1
    assert checked == 6  # C1, C2 twice (B and T), C3, C5 twice


def test_several_exhibits_of_one_cartridge_make_one_row() -> None:
    result = run(matches=[match("E1", C1), match("E7", C1, score=0.991), match("E2", C2)])
    row = result.row(C1)
    assert row is not None and row.exhibits == ("E1", "E7") and row.score == 0.9995
    assert len(result.rows) == 2 and result.findings == ()


# -- one finding at a time ----------------------------------------------------------------


def test_cartridge_never_issued() -> None:
    result = run(issues=issue_list(issues_rows(C1=[])))
    assert kinds(result) == {LinkKind.CARTRIDGE_NOT_ISSUED: [Severity.ERROR]}
    finding = result.findings[0]
    assert (finding.serial, finding.exhibits) == (C1, ("E1",))
    row = result.row(C1)
    assert row is not None
    assert row.deployments[0].cartridge_custody.state is CustodyState.NOT_LISTED
    assert not result.ok


def test_cartridge_signed_out_to_another_officer() -> None:
    result = run(issues=issue_list(issues_rows(C1=[("PC 9", at(-40), None)])))
    assert kinds(result) == {LinkKind.OTHER_OFFICER: [Severity.ERROR]}
    finding = result.findings[0]
    assert (finding.serial, finding.device) == (C1, A)
    assert "'PC 9'" in finding.message and "'PC 1'" in finding.message


def test_officer_names_compare_ignoring_case_and_spacing() -> None:
    result = run(issues=issue_list(issues_rows(C1=[("pc  1", at(-40), None)])))
    assert result.findings == ()


def test_deployed_by_a_device_not_in_the_issue_list() -> None:
    result = run("A", "B", "C", matches=[*BASE_MATCHES, match("E3", C3)])
    assert kinds(result) == {LinkKind.DEVICE_NOT_LISTED: [Severity.ERROR]}
    finding = result.findings[0]
    assert (finding.serial, finding.device) == (C3, WORLD["C"].serial)
    row = result.row(C3)
    assert row is not None
    assert row.deployments[0].device_custody.state is CustodyState.NOT_LISTED
    assert row.deployments[0].cartridge_custody.officer == "PC 3"


def test_device_in_the_list_but_issued_to_nobody_at_the_deployment() -> None:
    result = run(issues=issue_list(issues_rows(A=[("PC 1", at(260), at(680))])))
    assert kinds(result) == {LinkKind.DEVICE_NOT_OUT: [Severity.ERROR]}
    assert "before its issue" in result.findings[0].message


@pytest.mark.parametrize(
    ("periods", "said"),
    [
        ([("PC 1", at(-40), at(170))], "after its return"),
        ([("PC 1", at(230), None)], "before its issue"),
        ([("PC 1", at(-40), at(170)), ("PC 1", at(230), None)], "between its return"),
    ],
)
def test_cartridge_deployed_when_it_was_not_signed_out(periods: list[Any], said: str) -> None:
    result = run(issues=issue_list(issues_rows(C1=periods)))
    assert kinds(result) == {LinkKind.CARTRIDGE_NOT_OUT: [Severity.ERROR]}
    assert said in result.findings[0].message


def test_deployed_twice_on_two_devices() -> None:
    result = run("A", "B", "T")
    assert kinds(result) == {
        LinkKind.DEPLOYED_TWICE: [Severity.ERROR],
        LinkKind.CARTRIDGE_MOVED: [Severity.INFO],  # the logs put the serial in two devices
    }
    row = result.row(C2)
    assert row is not None
    assert sorted(d.device for d in row.deployments) == sorted([B, WORLD["T"].serial])
    assert sorted(row.devices_inserted()) == sorted([B, WORLD["T"].serial])


def test_deployed_twice_on_one_device() -> None:
    result = run("S", matches=[match("E5", C5)], window=None)
    assert kinds(result) == {LinkKind.DEPLOYED_TWICE: [Severity.ERROR]}
    row = result.row(C5)
    assert row is not None
    assert {d.device for d in row.deployments} == {WORLD["S"].serial}
    assert len({d.seq for d in row.deployments}) == 2
    # reloaded into the same device: two inserts, one device, not moved
    events = [e.event for e in row.history]
    assert events == [
        EventCode.CARTRIDGE_INSERT,
        EventCode.DEPLOY,
        EventCode.CARTRIDGE_REMOVE,
        EventCode.CARTRIDGE_INSERT,
        EventCode.DEPLOY,
    ]


def test_deployment_entirely_outside_the_window_is_an_error() -> None:
    result = run(window=Window(at(300), at(400)))
    assert kinds(result) == {LinkKind.OUTSIDE_WINDOW: [Severity.ERROR, Severity.ERROR]}


def test_a_window_edge_inside_the_bound_is_a_warning() -> None:
    first = run().row(C1)
    assert first is not None and first.deployments[0].time.utc_ms is not None
    edge = first.deployments[0].time.utc_ms  # the estimate: strictly inside the bound
    result = run(window=Window(at(140), edge))
    by_serial = {f.serial: f.severity for f in result.findings}
    assert kinds(result) == {LinkKind.OUTSIDE_WINDOW: [Severity.ERROR, Severity.WARNING]}
    assert by_serial == {C1: Severity.WARNING, C2: Severity.ERROR}


def test_no_window_means_no_window_findings() -> None:
    assert run(window=None).findings == ()


def test_a_deploy_whose_time_cannot_be_corrected_is_a_warning_and_not_placed() -> None:
    result = run("A", "B", "R", matches=[*BASE_MATCHES, match("E4", C4)])
    assert kinds(result) == {LinkKind.UNCORRECTED_TIME: [Severity.WARNING]}
    assert result.ok
    row = result.row(C4)
    assert row is not None
    (deployment,) = row.deployments
    assert deployment.span is None and deployment.time.utc_ms is None
    assert deployment.device_custody.state is CustodyState.UNPLACED
    assert deployment.device_custody.officers == ("PC 4",)


def test_recovered_cartridge_with_no_deploy() -> None:
    result = run(matches=[*BASE_MATCHES, match("E9", C9)])
    assert kinds(result) == {LinkKind.NO_DEPLOY: [Severity.ERROR]}
    row = result.row(C9)
    assert row is not None and row.deployments == ()
    assert row.cartridge_issues[0].officer == "PC 1"


def test_ambiguous_rows_link_an_unconfirmed_candidate() -> None:
    ambiguous = match(
        "E1", C1, status=MatchStatus.AMBIGUOUS, score=0.6, runner_up=C2, runner_up_score=0.38
    )
    result = run(matches=[ambiguous, match("E2", C2)])
    assert kinds(result) == {LinkKind.AMBIGUOUS_MATCH: [Severity.WARNING]}
    row = result.row(C1)
    assert row is not None and not row.confirmed and row.status is MatchStatus.AMBIGUOUS
    assert len(row.deployments) == 1
    message = result.findings[0].message
    assert "unconfirmed" in message and f"runner-up {C2}" in message and B in message


def test_an_ambiguous_exhibit_does_not_unconfirm_a_matched_cartridge() -> None:
    ambiguous = match(
        "E8", C1, status=MatchStatus.AMBIGUOUS, score=0.7, runner_up=C9, runner_up_score=0.3
    )
    result = run(matches=[*BASE_MATCHES, ambiguous])
    row = result.row(C1)
    assert row is not None and row.confirmed and row.exhibits == ("E1", "E8")
    assert kinds(result) == {LinkKind.AMBIGUOUS_MATCH: [Severity.WARNING]}
    assert "has no DEPLOY" in result.findings[0].message


def test_none_rows_link_nothing() -> None:
    none = match("E6", "", status=MatchStatus.NONE, score=None)
    result = run(matches=[*BASE_MATCHES, none])
    assert kinds(result) == {LinkKind.UNMATCHED_EXHIBIT: [Severity.INFO]}
    assert len(result.rows) == 2 and result.unmatched == (none,)


def test_a_deploy_in_the_window_that_no_exhibit_points_to() -> None:
    result = run(matches=[match("E1", C1)])
    assert kinds(result) == {LinkKind.UNRECOVERED_DEPLOY: [Severity.INFO]}
    assert result.findings[0].serial == C2
    assert run(matches=[match("E1", C1)], window=Window(at(300), at(400))).kinds() == {
        LinkKind.OUTSIDE_WINDOW
    }
    assert run(matches=[match("E1", C1)], window=None).findings == ()


def test_a_clock_jump_is_reported_from_the_clock_model() -> None:
    result = run("A", "B", "J")
    assert kinds(result) == {LinkKind.CLOCK_MODEL: [Severity.WARNING]}
    assert result.findings[0].device == WORLD["J"].serial


# -- time bounds that straddle an issue change ---------------------------------------------


def _estimate_of_c1() -> int:
    row = run().row(C1)
    assert row is not None and row.deployments[0].time.utc_ms is not None
    return row.deployments[0].time.utc_ms


def test_a_device_handed_over_within_the_bound_makes_the_officer_uncertain() -> None:
    edge = _estimate_of_c1()
    rows = issues_rows(A=[("PC 1", at(-40), edge), ("PC 9", edge, at(680))])
    result = run(issues=issue_list(rows))
    assert kinds(result) == {LinkKind.OTHER_OFFICER: [Severity.WARNING]}
    row = result.row(C1)
    assert row is not None
    custody = row.deployments[0].device_custody
    assert custody.state is CustodyState.UNCERTAIN and custody.officers == ("PC 1", "PC 9")
    assert custody.officer is None


def test_a_cartridge_returned_within_the_bound_may_not_have_been_out() -> None:
    edge = _estimate_of_c1()
    result = run(issues=issue_list(issues_rows(C1=[("PC 1", at(-40), edge)])))
    assert kinds(result) == {LinkKind.CARTRIDGE_NOT_OUT: [Severity.WARNING]}


def test_a_short_gap_inside_the_bound_is_seen() -> None:
    edge = _estimate_of_c1()  # returned 1 ms before, reissued 1 ms after: ends both out
    rows = issues_rows(C1=[("PC 1", at(-40), edge - 1), ("PC 1", edge + 1, None)])
    result = run(issues=issue_list(rows))
    assert kinds(result) == {LinkKind.CARTRIDGE_NOT_OUT: [Severity.WARNING]}
    row = result.row(C1)
    assert row is not None
    assert row.deployments[0].cartridge_custody.state is CustodyState.UNCERTAIN


def test_a_handover_to_the_same_officer_keeps_custody_certain() -> None:
    edge = _estimate_of_c1()
    rows = issues_rows(A=[("PC 1", at(-40), edge), ("PC 1", edge, at(680))])
    result = run(issues=issue_list(rows))
    assert result.findings == ()
    row = result.row(C1)
    assert row is not None and row.deployments[0].device_custody.officer == "PC 1"


# -- images -------------------------------------------------------------------------------


def test_without_trusted_roots_every_image_is_unverified() -> None:
    result = run(trust=TrustStore(()))
    assert kinds(result) == {LinkKind.UNVERIFIED_IMAGE: [Severity.ERROR] * 3}
    assert {f.image for f in result.findings} == {"A1.tdi", "A2.tdi", "B1.tdi"}
    assert all("untrusted_root" in f.message for f in result.findings)
    assert all(d.verified is False for row in result.rows for d in row.deployments)


def test_without_a_trust_store_nothing_is_verified_and_a_warning_says_so() -> None:
    result = run(trust=None)
    assert kinds(result) == {LinkKind.IMAGES_NOT_VERIFIED: [Severity.WARNING]}
    assert all(image.verified is None for image in result.images)
    assert all(d.verified is None for row in result.rows for d in row.deployments)


def _with_bad_crc(image: Image, index: int) -> Image:
    data = bytearray(image.data)
    offset = image.spans["records"].offset + index * RECORD_SIZE + RECORD_SIZE - 1
    data[offset] ^= 0xFF  # the CRC's last byte
    return read_image(bytes(data))


def test_a_damaged_image_fails_verification_and_says_so() -> None:
    images = images_of("A", "B")
    images["B1.tdi"] = _with_bad_crc(images["B1.tdi"], 2)
    result = link(images, issue_list(), BASE_MATCHES, window=WINDOW, trust=TRUST)
    assert kinds(result) == {LinkKind.UNVERIFIED_IMAGE: [Severity.ERROR]}
    assert result.findings[0].image == "B1.tdi" and "crc" in result.findings[0].message
    row = result.row(C2)
    assert row is not None and row.deployments[0].verified is False
    other = result.row(C1)
    assert other is not None and other.deployments[0].verified is True


def _with_other_operator(image: Image) -> Image:
    """``image`` with its acquisition's operator changed (records untouched): it fails
    verification (``acquisition_hash``) but still agrees with other downloads."""
    data = bytes(image.data).replace(b"PC 0000 (simulated)", b"PC 0000 (simulatee)")
    assert data != image.data
    return read_image(data)


def test_one_verified_download_is_enough_for_a_deploy_it_holds() -> None:
    images = images_of("A", "B")
    images["A1.tdi"] = _with_other_operator(images["A1.tdi"])
    result = link(images, issue_list(), BASE_MATCHES, trust=TRUST)
    assert kinds(result) == {LinkKind.UNVERIFIED_IMAGE: [Severity.ERROR]}
    assert "acquisition_hash" in result.findings[0].message
    row = result.row(C1)
    assert row is not None and row.deployments[0].images == ("A1.tdi", "A2.tdi")
    assert row.deployments[0].verified is True
    del images["A2.tdi"]
    row = link(images, issue_list(), BASE_MATCHES, trust=TRUST).row(C1)
    assert row is not None and row.deployments[0].verified is False


def test_downloads_of_one_device_that_disagree_stop_linkage() -> None:
    images = images_of("A", "B")
    images["A1.tdi"] = _with_bad_crc(images["A1.tdi"], 1)
    with pytest.raises(LinkError, match=r"A1\.tdi and A2\.tdi .* seq 2"):
        link(images, issue_list(), BASE_MATCHES, trust=TRUST)


def test_linkage_refuses_what_it_cannot_do() -> None:
    with pytest.raises(LinkError, match="no images"):
        link({}, issue_list(), BASE_MATCHES)
    with pytest.raises(LinkError, match="ends"):
        Window(at(10), at(9))
    with pytest.raises(LinkError, match="no serial"):
        link(images_of("A"), issue_list(), [match("E1", "")])


def test_images_are_read_from_a_directory(tmp_path: Path) -> None:
    for index, image in enumerate(WORLD["A"].images):
        (tmp_path / f"a{index}.TDI").write_bytes(image.data)
    (tmp_path / "notes.txt").write_text("not an image")
    assert [p.name for p in image_paths(tmp_path)] == ["a0.TDI", "a1.TDI"]
    images = read_images(tmp_path)
    assert len(images) == 2 and all(i.identity.serial == A for i in images.values())
    (tmp_path / "bad.tdi").write_bytes(b"not an image at all")
    with pytest.raises(LinkError, match=r"bad\.tdi"):
        read_images(tmp_path)
    with pytest.raises(LinkError, match="cannot list images"):
        image_paths(tmp_path / "nothing-here")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(LinkError, match=r"no \.tdi images"):
        image_paths(empty)


def test_findings_and_result_serialise() -> None:
    result = run(issues=issue_list(issues_rows(C1=[("PC 9", at(-40), None)])))
    data = result.as_dict()
    assert data["ok"] is False and data["counts"] == {"error": 1, "warning": 0, "info": 0}
    (finding,) = data["findings"]
    assert set(finding) == {
        "kind",
        "severity",
        "message",
        "serial",
        "exhibits",
        "device",
        "seq",
        "image",
    }
    assert finding["kind"] == "other_officer" and finding["severity"] == "error"
    deployment = data["links"][0]["deployments"][0]
    assert deployment["cartridge_custody"] == {"state": "held", "officers": ["PC 9"]}
    assert parse_utc(deployment["utc_earliest"]) <= SHOT[(A, C1, deployment["seq"])].utc_ms


def test_finding_kinds_have_stable_values() -> None:
    assert {k.value for k in LinkKind} == {
        "cartridge_not_issued", "cartridge_not_out", "other_officer", "device_not_listed",
        "device_not_out", "deployed_twice", "outside_window", "uncorrected_time", "no_deploy",
        "ambiguous_match", "unmatched_exhibit", "unrecovered_deploy", "unverified_image",
        "images_not_verified", "clock_model", "cartridge_moved", "matches_changed",
        "matches_bad_provenance", "matches_no_provenance",
    }  # fmt: skip


def test_the_result_is_the_same_for_the_same_inputs() -> None:
    matches = [*BASE_MATCHES, match("E3", C3), match("E9", C9)]
    first = run("A", "B", "C", "T", matches=matches)
    second = run("T", "C", "B", "A", matches=matches)
    assert first.findings == second.findings and first.rows == second.rows


# -- a cartridge's history ------------------------------------------------------------------


def moved_issues(**changes: list[tuple[str, int, int | None]]) -> IssueList:
    """The base issue list plus the devices M, N, Q, P and the cartridges C6, C7 moved
    between them; ``changes`` replace C6's or C7's periods."""
    rows = issues_rows()
    rows.update(
        {
            M: [("PC 7", at(-40), at(680))],
            N: [("PC 8", at(-40), at(680))],
            C6: [("PC 7", at(-40), None)],
            Q: [("PC 11", at(-40), at(680))],
            P: [("PC 12", at(-40), at(680))],
            C7: [("PC 11", at(-40), None)],
        }
    )
    rows.update({{"C6": C6, "C7": C7}[key]: periods for key, periods in changes.items()})
    return issue_list(rows)


def test_a_cartridge_moved_between_devices_has_its_history_in_order() -> None:
    matches = [*BASE_MATCHES, match("E6", C6)]
    result = run("A", "B", "M", "N", issues=moved_issues(), matches=matches)
    row = result.row(C6)
    assert row is not None
    steps = [(e.event, e.device, e.device_custody.officer) for e in row.history]
    assert steps == [
        (EventCode.CARTRIDGE_INSERT, M, "PC 7"),
        (EventCode.CARTRIDGE_REMOVE, M, "PC 7"),
        (EventCode.CARTRIDGE_INSERT, N, "PC 8"),
        (EventCode.DEPLOY, N, "PC 8"),
    ]
    assert all(e.bay == 2 and e.serial == C6 for e in row.history)
    utc = [e.time.utc_ms for e in row.history if e.time.utc_ms is not None]
    assert len(utc) == 4 and utc == sorted(utc)
    # the movement's corrected times bracket the true minutes (each device's own clock)
    remove, insert = row.history[1], row.history[2]
    for event, minute in ((remove, 100), (insert, 102)):
        span = event.span
        assert span is not None and span[0] <= at(minute) <= span[1]
    (deployment,) = row.deployments
    assert row.history[3].seq == deployment.seq and row.history[3].time == deployment.time
    assert kinds(result) == {
        LinkKind.OTHER_OFFICER: [Severity.ERROR],
        LinkKind.CARTRIDGE_MOVED: [Severity.INFO],
    }
    other = next(f for f in result.findings if f.kind is LinkKind.OTHER_OFFICER)
    said = other.message.split("; the logs show it ")[1]
    assert said.startswith(f"removed from {M} (held by PC 7) at UTC {utc_text(utc[1])}")
    assert f"inserted into {N} (held by PC 8) at UTC {utc_text(utc[2])}" in said
    moved = next(f for f in result.findings if f.kind is LinkKind.CARTRIDGE_MOVED)
    assert (moved.serial, moved.exhibits, moved.device) == (C6, ("E6",), None)
    assert f"2 devices ({M}, {N})" in moved.message
    assert moved.message.index(f"removed from device {M}") < moved.message.index(
        f"inserted into device {N}"
    )
    assert "(held by PC 7)" in moved.message and "(held by PC 8)" in moved.message


def test_the_movement_is_named_only_from_a_device_of_the_signed_out_officer() -> None:
    # C6 signed out to PC 9: the logs show it came from PC 7's device, not PC 9's.
    issues = moved_issues(C6=[("PC 9", at(-40), None)])
    result = run("A", "B", "M", "N", issues=issues, matches=[*BASE_MATCHES, match("E6", C6)])
    other = next(f for f in result.findings if f.kind is LinkKind.OTHER_OFFICER)
    assert other.severity is Severity.ERROR and "'PC 9'" in other.message
    assert "the logs show" not in other.message
    assert LinkKind.CARTRIDGE_MOVED in kinds(result)


def test_without_the_giving_device_the_cartridge_is_not_moved() -> None:
    result = run("A", "B", "N", issues=moved_issues(), matches=[*BASE_MATCHES, match("E6", C6)])
    row = result.row(C6)
    assert row is not None and row.devices_inserted() == (N,)
    assert kinds(result) == {LinkKind.OTHER_OFFICER: [Severity.ERROR]}
    assert "the logs show" not in result.findings[0].message


def test_a_cartridge_never_moved_has_its_own_history_and_no_move_finding() -> None:
    result = run()
    for serial, device, officer in ((C1, A, "PC 1"), (C2, B, "PC 2")):
        row = result.row(serial)
        assert row is not None
        assert [(e.event, e.device) for e in row.history] == [
            (EventCode.CARTRIDGE_INSERT, device),
            (EventCode.DEPLOY, device),
        ]
        assert {e.device_custody.officer for e in row.history} == {officer}
    assert LinkKind.CARTRIDGE_MOVED not in kinds(result)


def test_a_record_in_two_downloads_is_one_history_entry_naming_both() -> None:
    result = run("M", "N", issues=moved_issues(), matches=[match("E6", C6)])
    row = result.row(C6)
    assert row is not None
    on_m = [e for e in row.history if e.device == M]
    assert [e.event for e in on_m] == [EventCode.CARTRIDGE_INSERT, EventCode.CARTRIDGE_REMOVE]
    assert all(e.images == ("M1.tdi", "M2.tdi") and e.verified is True for e in on_m)
    assert len({(e.device, e.seq) for e in row.history}) == len(row.history) == 4
    # one download of M alone gives the same history entries, naming only it
    alone = link(
        {"M2.tdi": WORLD["M"].images[1], **images_of("N")},
        moved_issues(),
        [match("E6", C6)],
        trust=TRUST,
    ).row(C6)
    assert alone is not None
    assert [(e.device, e.seq) for e in alone.history] == [(e.device, e.seq) for e in row.history]
    assert all(e.images == ("M2.tdi",) for e in alone.history if e.device == M)


def test_records_whose_time_cannot_be_corrected_come_last() -> None:
    matches = [*BASE_MATCHES, match("E7", C7)]
    result = run("A", "B", "Q", "P", issues=moved_issues(), matches=matches)
    row = result.row(C7)
    assert row is not None
    steps = [(e.event, e.device, e.time.utc_ms is None) for e in row.history]
    assert steps == [
        (EventCode.CARTRIDGE_INSERT, P, False),
        (EventCode.DEPLOY, P, False),
        (EventCode.CARTRIDGE_INSERT, Q, True),  # happened first, but cannot be placed
        (EventCode.CARTRIDGE_REMOVE, Q, True),
    ]
    assert [e.seq for e in row.history[2:]] == sorted(e.seq for e in row.history[2:])
    assert row.history[2].device_custody.state is CustodyState.UNPLACED
    # the remove cannot be placed before the insert: the error names no movement
    other = next(f for f in result.findings if f.kind is LinkKind.OTHER_OFFICER)
    assert "the logs show" not in other.message
    moved = next(f for f in result.findings if f.kind is LinkKind.CARTRIDGE_MOVED)
    assert "(not corrected)" in moved.message
    data = row.as_dict()["history"]
    assert [d["event"] for d in data] == [e.event.name for e in row.history]
    assert data[-1]["utc"] is None and data[0]["utc_ms"] == row.history[0].time.utc_ms


# -- the issue list -----------------------------------------------------------------------


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "issues.csv"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def test_issue_list_reads_columns_in_any_order_and_every_time_form(tmp_path: Path) -> None:
    device = DEVICE_SCHEME.generate(random.Random(5), "D")
    grouped = CARTRIDGE_SCHEME.display(C1).lower()
    text = (
        "\ufeff Returned_At ,OFFICER,serial,issued_at\r\n"
        f",PC 1,{device},2024-03-05T06:30:00Z\r\n"
        f'2024-03-05 18:00:00.5+01:00,"Sgt Smith, A",{grouped},2024-03-05T07:30+01:00\r\n'
        "\n"
    )
    issues = read_issues(_write(tmp_path, text))
    first, second = issues.issues
    assert (first.serial, first.kind, first.returned_ms, first.line) == (
        device,
        IssueKind.DEVICE,
        None,
        2,
    )
    assert first.issued_ms == int(dt.datetime(2024, 3, 5, 6, 30, tzinfo=dt.UTC).timestamp()) * 1000
    assert (second.serial, second.kind, second.officer) == (C1, IssueKind.CARTRIDGE, "Sgt Smith, A")
    assert second.issued_ms == first.issued_ms
    assert second.returned_ms == first.issued_ms + (10 * 60 + 30) * MINUTE + 500
    assert issues.holder_at(C1, second.issued_ms) == second
    assert issues.holder_at(C1, second.issued_ms - 1) is None
    assert issues.holder_at(C1, second.returned_ms) is None  # returned: half-open


def test_back_to_back_issues_of_one_serial_are_fine() -> None:
    text = f"{HEADER}\n{C1},PC 1,{iso(at(0))},{iso(at(60))}\n{C1},PC 2,{iso(at(60))},\n"
    issues = parse_issues(text)
    assert [i.officer for i in issues.of(C1)] == ["PC 1", "PC 2"]
    assert issues.holder_at(C1, at(60)) is not None
    assert issues.holder_at(C1, at(60)).officer == "PC 2"  # type: ignore[union-attr]


BAD_FILES = [
    ("", None, "empty file"),
    (f"{HEADER}\n", None, "header row only"),
    ("serial,officer,issued_at\nx,y,z\n", 1, "missing column"),
    (f"{HEADER},notes\n", 1, "unknown column 'notes'"),
    ("serial,officer,issued_at,returned_at,Serial\n", 1, "given twice"),
    (f"{HEADER}\n{C1},PC 1,2024-03-05T06:30Z\n", 2, "3 fields, the header has 4"),
    (f"{HEADER}\n{C1[:-1]}Z,PC 1,2024-03-05T06:30Z,\n", 2, "check character"),
    (f"{HEADER}\n,PC 1,2024-03-05T06:30Z,\n", 2, "serial is empty"),
    (f"{HEADER}\n{C1}, ,2024-03-05T06:30Z,\n", 2, "officer is empty"),
    (f"{HEADER}\n{C1},PC\x071,2024-03-05T06:30Z,\n", 2, "control"),
    (f"{HEADER}\n{C1},PC 1,2024-03-05T06:30:00,\n", 2, "no time zone"),
    (f"{HEADER}\n{C1},PC 1,2024-03-05,\n", 2, "a date, not an instant"),
    (f"{HEADER}\n{C1},PC 1,,\n", 2, "issued_at is empty"),
    (f"{HEADER}\n{C1},PC 1,2024-02-30T06:30Z,\n", 2, "not a valid time"),
    (f"{HEADER}\n{C1},PC 1,2024-03-05T06:30Z,2024-03-05T06:29Z\n", 2, "before issued_at"),
    (f"{HEADER}\n{C1},PC 1,2024-03-05T06:30Z,\n\n{C2},PC 1,2024-03-05T06:30Z,\n", 3, "blank"),
    (f'{HEADER}\n{C1},"PC 1,2024-03-05T06:30Z,\n{C2},x,y,z\n', 2, "not closed"),
    (f'{HEADER}\n{C1},"PC" 1,2024-03-05T06:30Z,\n', 2, "malformed CSV"),
    (f"{HEADER}\n{C1},PC 1\r2,2024-03-05T06:30Z,\n", 2, "carriage return"),
    (
        f"{HEADER}\n{C1},PC 1,2024-03-05T06:30Z,\n{C2},PC 2,2024-03-05T06:30Z,\n"
        f"{C1},PC 3,2024-03-05T09:30Z,2024-03-05T10:00Z\n",
        4,
        "overlaps its issue on line 2",
    ),
    (
        f"{HEADER}\n{C1},PC 3,2024-03-05T09:30Z,2024-03-05T10:00Z\n"
        f"{C1},PC 1,2024-03-05T06:30Z,2024-03-05T09:31Z\n",
        3,
        "overlaps its issue on line 2",
    ),
]


@pytest.mark.parametrize(("text", "line", "said"), BAD_FILES)
def test_a_bad_issue_list_is_refused_with_its_line(
    tmp_path: Path, text: str, line: int | None, said: str
) -> None:
    with pytest.raises(InputFileError) as caught:
        read_issues(_write(tmp_path, text))
    assert caught.value.line == line and said in str(caught.value)
    assert str(caught.value).startswith(str(tmp_path / "issues.csv"))


def test_unreadable_issue_lists(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="cannot read") as caught:
        read_issues(tmp_path / "missing.csv")
    assert caught.value.line is None
    bad = f"{HEADER}\n{C1},PC 1,2024-03-05T06:30Z,\n{C2},P\xffC,x,\n".encode("latin-1")
    with pytest.raises(InputFileError, match="UTF-8") as caught:
        read_issues(_write(tmp_path, bad))
    assert caught.value.line == 3


def test_issue_list_checks_issues_made_in_code() -> None:
    issue = Issue(C1, IssueKind.CARTRIDGE, "PC 1", at(10), at(5))
    with pytest.raises(InputFileError, match="before"):
        IssueList("code", (issue,))


_GOOD_LINES = [
    f"{CARTRIDGE_SCHEME.generate(random.Random(n), 'C')},PC {n},2024-03-05T06:30Z,"
    for n in range(4)
]


@given(
    position=st.integers(min_value=0, max_value=len(_GOOD_LINES)),
    garbage=st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=60
    ),
)
def test_a_garbage_line_is_refused_at_its_line_or_is_harmless(position: int, garbage: str) -> None:
    lines = [HEADER, *_GOOD_LINES]
    lines.insert(position + 1, garbage)
    line = position + 2
    try:
        issues = parse_issues("\n".join(lines) + "\n", "g.csv")
    except InputFileError as error:
        assert error.line == line, (error, garbage)
        assert str(error).startswith(f"g.csv:{line}: ")
    else:  # only a blank line at the very end, or a valid row, is accepted
        assert len(issues) in (len(_GOOD_LINES), len(_GOOD_LINES) + 1)
        if len(issues) == len(_GOOD_LINES):
            assert not garbage.strip() and position == len(_GOOD_LINES)


@given(st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999))
def test_utc_times_round_trip(ms: int) -> None:
    assert parse_utc(iso(ms)) == ms
    assert parse_utc(iso(ms).replace("Z", "+00:00")) == ms


@given(
    st.one_of(
        st.text(max_size=40),
        st.datetimes(timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5))]))
        .map(lambda when: when.isoformat())
        .flatmap(lambda text: st.sampled_from([text, text[:-3], text + "x", text.lower()])),
    )
)
def test_parse_utc_refuses_junk_with_a_link_error(text: str) -> None:
    """Junk is refused with a :class:`LinkError`; what is accepted is an ISO 8601 time with
    a zone, and the value is that instant in Unix ms (sub-millisecond digits dropped)."""
    try:
        value = parse_utc(text)
    except LinkError:
        return
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    assert when.tzinfo is not None, text
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert value == (when - epoch) // dt.timedelta(milliseconds=1), text


def test_naive_and_offset_times() -> None:
    assert parse_utc("2024-03-05T07:30:00+01:00") == parse_utc("2024-03-05T06:30:00Z")
    assert parse_utc("2024-03-05T06:30:00.123456Z") == parse_utc("2024-03-05T06:30:00Z") + 123
    for text in ("2024-03-05T06:30:00", "2024-03-05T06:30+01:75", "2024-03-05T06:30:00 Z"):
        with pytest.raises(LinkError):
            parse_utc(text)


def test_dataclasses_are_frozen() -> None:
    """Every value the result holds is a frozen dataclass (an examiner's result cannot be
    changed after the fact), found by walking the whole result."""
    result = run()
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.rows[0].deployments[0].seq = 1  # type: ignore[misc]
    seen: set[type] = set()
    todo: list[object] = [result]
    while todo:
        value = todo.pop()
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            seen.add(type(value))
            assert type(value).__dataclass_params__.frozen, type(value)  # type: ignore[attr-defined]
            todo.extend(getattr(value, f.name) for f in dataclasses.fields(value))
        elif isinstance(value, tuple | list):
            todo.extend(value)
    names = {t.__name__ for t in seen}
    assert {"Linkage", "LinkRow", "Deployment", "CartridgeEvent", "ImageSummary"} <= names
