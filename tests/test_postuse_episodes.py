"""Use episodes (taserlink.postuse.episodes): scripted draws of the firmware model with known
truth, the scenarios, a per-record reference implementation against the vectorised one on
generated logs (malformed orders included), and who held the device."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taserlink.emulator.clock import DeviceClock
from taserlink.emulator.firmware import DeviceSpec, SimulatedDevice
from taserlink.emulator.pki import DeviceCredentials
from taserlink.emulator.scenarios import START, new_device, run_scenario, wrapped_log
from taserlink.emulator.synthetic import synthetic_image
from taserlink.errors import FormatError
from taserlink.forensics.issues import Issue, IssueKind, IssueList
from taserlink.forensics.link.custody import custody_over
from taserlink.forensics.link.result import CustodyState
from taserlink.format import NO_BAY, RECORD_DTYPE, EventCode, decode_payload, read_image
from taserlink.format.bulk import PAYLOAD_DTYPES
from taserlink.postuse.episodes import (
    INTERRUPTED_GAP_MS,
    Application,
    Arc,
    Bounds,
    Connection,
    Cycle,
    DeployedCartridge,
    Episode,
    EpisodeKind,
    UseLevel,
    _training_serial,
    episodes,
    holder,
    holders,
)
from taserlink.postuse.uses import DEVICE_VISIBLE
from taserlink.serials import CARTRIDGE_SCHEME
from taserlink.timeline import ClockSettings, DeviceTimeline
from taserlink.timeline.times import parse_utc

E = EventCode
SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE


# -- the firmware model, scripted --------------------------------------------------------


def _device(seed: int = 1, **spec: Any) -> SimulatedDevice:
    return new_device(random.Random(f"episodes/{seed}"), drift_ppm=12.0, **spec)


def _timeline(device: SimulatedDevice) -> DeviceTimeline:
    """The device downloaded now, as a timeline."""
    image = device.download(random.Random(device.last_seq).randbytes(32))
    return DeviceTimeline.from_images([("d.tdi", read_image(image))])


def _serial(letter: str, seed: int) -> str:
    return CARTRIDGE_SCHEME.generate(random.Random(f"cartridge/{letter}/{seed}"), letter)


def _draw(device: SimulatedDevice, body: Callable[[], object]) -> tuple[int, int]:
    """UNHOLSTER, ``body``, HOLSTER with pauses: the first and last seq."""
    first = device.unholster()
    device.advance(3 * SECOND)
    body()
    device.advance(10 * SECOND)
    last = device.holster()
    device.advance(30 * MINUTE)
    return first, last


def _only(found: Sequence[Episode], **fields: Any) -> Episode:
    chosen = [e for e in found if all(getattr(e, k) == v for k, v in fields.items())]
    assert len(chosen) == 1, chosen
    return chosen[0]


def test_each_scripted_draw_is_one_episode_with_its_highest_use() -> None:
    device = _device()
    device.power_on()
    test_seq = device.function_test(5000)
    device.insert_cartridge(1, _serial("S", 1))
    device.insert_cartridge(2, _serial("X", 1))
    device.advance(HOUR)
    draws: list[tuple[tuple[int, int], UseLevel]] = [
        (_draw(device, lambda: None), UseLevel.DRAWN),
        (_draw(device, device.laser_on), UseLevel.RED_DOTTED),
        (_draw(device, lambda: (device.laser_on(), device.warning_arc(1000))), UseLevel.ARCED),
        (_draw(device, lambda: device.drive_stun(3000)), UseLevel.DRIVE_STUN),
        (_draw(device, lambda: (device.drive_stun(3000), device.fire(2))), UseLevel.FIRED),
    ]
    device.battery_report(20, 8000)
    device.power_off()
    found = episodes(_timeline(device))
    assert [(e.seq_first, e.seq_last) for e in found] == [(test_seq, test_seq)] + [
        seqs for seqs, _ in draws
    ]
    assert found[0].kind is EpisodeKind.TEST and found[0].highest_use is None
    assert found[0].bounded_by is Bounds.NONE and found[0].function_tests == 1
    for episode, (_, level) in zip(found[1:], draws, strict=True):
        assert episode.highest_use is level
        assert episode.kind is EpisodeKind.USE
        assert episode.bounded_by is Bounds.HOLSTER
        assert not episode.open_start and not episode.open_end
    assert found[5].serials == (_serial("X", 1),)
    assert [a.duration_ms for a in found[5].applications] == [3000, 5000]


def test_a_shift_with_energy_has_every_count_and_duration() -> None:
    device = _device(2)
    device.power_on()
    device.insert_cartridge(1, _serial("S", 2))
    device.insert_cartridge(2, _serial("S", 3))
    device.advance(HOUR)
    first = device.unholster()
    device.advance(4000)
    arm = device.arm()
    device.advance(1500)
    device.laser_on()
    device.advance(2000)
    device.laser_on()
    arc = device.warning_arc(1200)
    device.advance(6000)
    t1, d1, c1 = device.fire(1, 5000, circuit=True)
    device.advance(3000)
    r1, _ = device.reenergise(1, 2100)
    r2, _ = device.reenergise(1, 2900)  # one cycle split by interrupted power
    device.advance(INTERRUPTED_GAP_MS + 1)
    r3, _ = device.reenergise(1, 1500)  # short, but after a pause: its own cycle
    device.advance(9000)
    r4, _ = device.reenergise(1, 11_000)  # long
    device.advance(5000)
    t2, d2, c2 = device.fire(2, 5000, circuit=False)  # bay 2 misses
    device.advance(20_000)
    stun = device.drive_stun(2500)
    device.advance(30_000)
    safe = device.safe()
    device.advance(45_000)
    last = device.holster()
    timeline = _timeline(device)
    (episode,) = episodes(timeline)

    assert (episode.seq_first, episode.seq_last, episode.records) == (first, last, last - first + 1)
    assert episode.kind is EpisodeKind.USE and episode.highest_use is UseLevel.FIRED
    rows = np.searchsorted(timeline.seq, [arm, safe])
    armed = np.diff(timeline.device_ms[rows].astype(np.int64))
    assert episode.armed_ms == int(armed[0])
    assert episode.laser_shown == 2
    assert episode.arcs[0].seq == arc and [a.duration_ms for a in episode.arcs] == [1200]
    assert [(a.seq, a.duration_ms, a.bay) for a in episode.trigger_pulls] == [
        (t1, 5000, 1),
        (r1, 2100, 1),
        (r2, 2900, 1),
        (r3, 1500, 1),
        (r4, 11_000, 1),
        (t2, 5000, 2),
    ]
    assert [(a.seq, a.duration_ms, a.bay) for a in episode.drive_stuns] == [(stun, 2500, None)]
    assert [a.seq for a in episode.long_applications] == [r4]
    assert [c.seqs for c in episode.cycles] == [(t1,), (r1, r2), (r3,), (r4,), (t2,), (stun,)]
    assert [c.duration_ms for c in episode.interrupted_cycles] == [5000]
    assert episode.connections[0] == Connection(c1, 1, True, 95, 95 * 63)
    assert episode.connections_by_bay() == {1: (5, 0), 2: (0, 1)}
    assert [c.seq for c in episode.connections][-1] == c2
    assert episode.cartridges == (
        DeployedCartridge(d1, 1, _serial("S", 2), 4),
        DeployedCartridge(d2, 2, _serial("S", 3), 0),
    )
    assert [c.serial for c in episode.repeats] == [_serial("S", 2)]

    # Times: the two ends corrected by the timeline's clock model, the worse bound.
    start, end = timeline.corrected_times(np.searchsorted(timeline.seq, [first, last]))
    assert (episode.utc_start_ms, episode.utc_end_ms) == (start.utc_ms, end.utc_ms)
    assert episode.bound_ms == max(start.bound_ms or 0, end.bound_ms or 0)
    assert episode.device_start_ms == start.device_ms


def test_a_cartridge_changed_mid_episode_starts_a_new_count_of_repeats() -> None:
    device = _device(3)
    device.insert_cartridge(1, _serial("S", 4))
    device.unholster()
    device.arm()
    _, first, _ = device.fire(1)
    device.reenergise(1)
    device.remove_cartridge(1)
    device.reenergise(1)  # a pull on the empty bay: no cartridge's repeat
    device.dry_trigger(1000)  # no bay: nobody's repeat
    device.insert_cartridge(1, _serial("S", 5))
    _, second, _ = device.fire(1)  # this pull is before the new DEPLOY: not a repeat
    device.reenergise(1)
    device.reenergise(1)
    device.safe()
    device.holster()
    (episode,) = episodes(_timeline(device))
    assert [(c.seq, c.repeat_pulls) for c in episode.cartridges] == [(first, 1), (second, 2)]
    assert [a.bay for a in episode.trigger_pulls] == [1, 1, 1, None, 1, 1, 1]


@pytest.mark.parametrize(
    ("gap", "first", "cycles"),
    [
        (0, 2100, [2, 2]),
        (INTERRUPTED_GAP_MS, 2100, [2, 2]),
        (INTERRUPTED_GAP_MS + 1, 2100, [1, 1, 1, 1]),
        (0, 5000, [1, 1, 2]),  # a whole cycle, then another: two cycles
        (0, 4999, [2, 2]),
    ],
)
def test_the_interrupted_cycle_rule(gap: int, first: int, cycles: list[int]) -> None:
    device = _device(4)
    device.insert_cartridge(1, _serial("S", 6))
    device.unholster()
    device.fire(1, first)
    device.advance(gap)
    device.reenergise(1, 2000)
    device.advance(gap)
    device.drive_stun(1000)  # another kind of application: never joined to a trigger pull
    device.advance(gap)
    device.drive_stun(1000)
    device.holster()
    (episode,) = episodes(_timeline(device))
    assert [len(c.seqs) for c in episode.cycles] == cycles
    assert [c.duration_ms for c in episode.cycles][:1] == [
        first + 2000 if cycles[0] == 2 else first
    ]


def test_spark_tests_are_tests_never_uses() -> None:
    device = _device(5)
    device.power_on()
    bare = device.function_test()  # as the firmware model logs the daily test
    device.battery_report(20, 8000)
    failed = device.function_test(result=3)  # a failed test is a test too
    twice = device.function_test()  # retried at once: one run of records, one episode
    device.advance(HOUR)
    drawn = device.unholster()  # a real device's test: out of the holster, armed, arc
    device.arm()
    device.function_test()
    device.safe()
    device.holster()
    device.advance(HOUR)
    used = device.unholster()
    device.function_test()
    device.laser_on()  # a test with the red dot shown is a use
    device.holster()
    found = episodes(_timeline(device))
    assert found[1].seq_last == twice and found[1].function_tests == 2
    assert [(e.seq_first, e.kind, e.highest_use) for e in found] == [
        (bare, EpisodeKind.TEST, None),
        (failed, EpisodeKind.TEST, None),
        (drawn, EpisodeKind.TEST, UseLevel.DRAWN),
        (used, EpisodeKind.USE, UseLevel.RED_DOTTED),
    ]


def test_training_cartridges_make_a_training_episode() -> None:
    device = _device(6)
    device.insert_cartridge(1, _serial("T", 1))
    device.insert_cartridge(2, _serial("T", 2))
    _draw(device, lambda: (device.arm(), device.fire(1), device.fire(2), device.safe()))
    device.remove_cartridge(1)
    device.insert_cartridge(1, _serial("S", 7))
    device.remove_cartridge(2)
    device.insert_cartridge(2, _serial("T", 3))
    _draw(device, lambda: (device.fire(2), device.fire(1)))  # one live cartridge: a use
    device.remove_cartridge(2)
    device.insert_cartridge(2, _serial("T", 4))
    _draw(device, lambda: (device.fire(2), device.drive_stun(1000)))  # contact energy: a use
    device.remove_cartridge(2)
    device.insert_cartridge(2, _serial("T", 5))
    _draw(device, device.laser_on)  # a training cartridge loaded, none fired: cannot tell
    found = episodes(_timeline(device))
    assert [(e.kind, e.highest_use) for e in found] == [
        (EpisodeKind.TRAINING, UseLevel.FIRED),
        (EpisodeKind.USE, UseLevel.FIRED),
        (EpisodeKind.USE, UseLevel.FIRED),
        (EpisodeKind.USE, UseLevel.RED_DOTTED),
    ]
    assert [c.training for c in found[1].cartridges] == [True, False]
    said = episodes(_timeline(device), training_device=True)
    assert [e.kind for e in said] == [EpisodeKind.TRAINING] * 4


def test_a_device_without_the_holster_sensor_is_read_by_its_safety() -> None:
    device = _device(7)
    device.power_on()
    spark = device.function_test()
    device.insert_cartridge(1, _serial("S", 8))
    device.advance(HOUR)
    plain = (device.arm(), device.safe())
    device.advance(HOUR)
    armed = device.arm()
    device.laser_on()
    device.fire(1)
    device.advance(20_000)
    safe = device.safe()
    device.advance(HOUR)
    device.laser_on()  # outside any ARM … SAFE: its own episode
    stray = device.laser_on()
    device.power_off()
    found = episodes(_timeline(device))
    assert [(e.seq_first, e.seq_last, e.bounded_by, e.highest_use) for e in found] == [
        (spark, spark, Bounds.NONE, None),
        (*plain, Bounds.ARM, UseLevel.DRAWN),
        (armed, safe, Bounds.ARM, UseLevel.FIRED),
        (stray - 1, stray, Bounds.NONE, UseLevel.RED_DOTTED),
    ]
    assert found[2].armed_ms >= 20_000 + 5000


def test_energy_outside_the_holster_episodes_of_a_sensor_device_is_kept() -> None:
    device = _device(8)
    drawn = _draw(device, device.laser_on)
    arm = device.arm()  # ARM without UNHOLSTER: the sensor missed the draw
    device.laser_on()
    device.advance(5000)
    safe = device.safe()
    device.advance(MINUTE)
    arc = device.warning_arc(800)  # nothing at all bounds it
    device.advance(MINUTE)
    unsafe = device.arm()  # armed, then drawn: the ARM episode ends where the next begins
    device.advance(1000)
    second = _draw(device, lambda: None)
    found = episodes(_timeline(device))
    assert [(e.seq_first, e.seq_last, e.bounded_by, e.open_end, e.highest_use) for e in found] == [
        (*drawn, Bounds.HOLSTER, False, UseLevel.RED_DOTTED),
        (arm, safe, Bounds.ARM, False, UseLevel.RED_DOTTED),
        (arc, arc, Bounds.NONE, False, UseLevel.ARCED),
        (unsafe, unsafe, Bounds.ARM, True, UseLevel.DRAWN),
        (*second, Bounds.HOLSTER, False, UseLevel.DRAWN),
    ]


def test_a_log_that_ends_mid_episode_is_open_at_its_end() -> None:
    device = _device(9)
    device.power_on()
    _draw(device, lambda: None)
    first = device.unholster()
    device.arm()
    device.laser_on()
    timeline = _timeline(device)  # downloaded while drawn
    last = episodes(timeline)[-1]
    assert last.seq_first == first and last.seq_last == int(timeline.seq[-1])
    assert last.open_end and not last.open_start
    assert last.highest_use is UseLevel.RED_DOTTED
    assert not any(e.open_end for e in episodes(timeline)[:-1])


def test_a_missed_holster_ends_the_episode_where_the_next_begins() -> None:
    device = _device(10)
    first = device.unholster()
    device.laser_on()
    device.advance(MINUTE)
    second = device.unholster()
    device.advance(MINUTE)
    last = device.holster()
    device.advance(MINUTE)
    stray = device.holster()  # a HOLSTER with no UNHOLSTER since the last one
    found = episodes(_timeline(device))
    assert [(e.seq_first, e.seq_last, e.open_start, e.open_end) for e in found] == [
        (first, second - 1, False, True),
        (second, last, False, False),
        (last + 1, stray, True, False),
    ]
    assert found[2].highest_use is UseLevel.DRAWN


def test_a_log_that_starts_mid_episode_after_a_wrap_is_open_at_its_start() -> None:
    device = _device(11, log_capacity=16)
    device.insert_cartridge(1, _serial("S", 9))
    device.battery_report(20, 8000)
    device.battery_report(20, 8000)
    drawn = device.unholster()  # seq 4: deleted by the wrap below (the oldest quarter)
    device.arm()
    for _ in range(10):
        device.battery_report(20, 8000)
    device.advance(MINUTE)
    _, deploy, _ = device.fire(1)  # the log is full: the oldest quarter goes
    device.safe()
    last = device.holster()
    timeline = _timeline(device)
    assert timeline.seq[0] > drawn and EventCode.LOG_WRAP in timeline.code
    assert deploy in timeline.seq
    first = episodes(timeline)[0]
    assert (first.seq_first, first.seq_last) == (int(timeline.seq[0]), last)
    assert first.open_start and not first.open_end
    assert first.highest_use is UseLevel.FIRED and first.cartridges[0].seq == deploy


def test_the_wrapped_log_scenario_starts_mid_episode() -> None:
    run = wrapped_log(1, capacity=128, days=8)  # its first retained record is a HOLSTER
    timeline = DeviceTimeline.from_images([("w.tdi", read_image(run.image))])
    assert timeline.code[0] == EventCode.HOLSTER
    found = episodes(timeline)
    assert found[0].seq_first == found[0].seq_last == int(timeline.seq[0])
    assert found[0].open_start and found[0].highest_use is UseLevel.DRAWN
    assert not any(e.open_start or e.open_end for e in found[1:])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_incident_shift_scenario(seed: int) -> None:
    run = run_scenario("incident-shift", seed)
    timeline = DeviceTimeline.from_images([("i.tdi", read_image(run.image))])
    found = episodes(timeline)
    incident = _only(found, highest_use=UseLevel.FIRED)
    assert incident.kind is EpisodeKind.USE
    assert [a.duration_ms for a in incident.trigger_pulls] == [5000, 2100, 2900, 11_000]
    assert {a.bay for a in incident.trigger_pulls} == {1}
    assert [len(c.seqs) for c in incident.cycles] == [1, 2, 1, 1]
    assert [a.duration_ms for a in incident.long_applications] == [11_000]
    assert incident.serials == (run.cartridges[0],) and incident.repeats[0].repeat_pulls == 3
    assert incident.connections_by_bay() == {1: (4, 0)} and incident.laser_shown == 1
    assert 1080 <= incident.arcs[0].duration_ms <= 1320
    assert 2250 <= incident.drive_stuns[0].duration_ms <= 2750
    others = [e for e in found if e is not incident]
    tests = [e for e in others if e.kind is EpisodeKind.TEST]
    assert len(tests) == int(np.count_nonzero(timeline.code == EventCode.FUNCTION_TEST))
    checks = [e for e in others if e.kind is EpisodeKind.USE]
    assert all(e.highest_use is UseLevel.DRAWN and e.records == 2 for e in checks)
    assert len(checks) == int(np.count_nonzero(timeline.code == EventCode.UNHOLSTER)) - 1


def test_as_dict_gives_the_contract_keys_first_and_is_json() -> None:
    run = run_scenario("incident-shift", 1)
    timeline = DeviceTimeline.from_images([("i.tdi", read_image(run.image))])
    incident = _only(episodes(timeline), highest_use=UseLevel.FIRED)
    issues = IssueList("t", (Issue(timeline.serial, IssueKind.DEVICE, "PC 1", START - HOUR, None),))
    out = incident.as_dict(custody=holder(incident, issues), reports=["R1"])
    contract = "device seq_first seq_last utc_start utc_end bound_ms officer kind highest_use"
    assert list(out)[:10] == [*contract.split(), "reports"]
    assert out["officer"] == "PC 1" and out["reports"] == ["R1"]
    assert out["kind"] == "use" and out["highest_use"] == "fired"
    assert out["utc_start"].endswith("Z") and parse_utc(out["utc_start"]) == incident.utc_start_ms
    assert out["cartridges"][0]["serial"] == run.cartridges[0]
    assert out["connections_by_bay"] == {"1": {"made": 4, "missed": 0}}
    assert out["interrupted_cycles"] == 1
    assert json.loads(json.dumps(out)) == out
    bare = incident.as_dict()
    assert bare["officer"] is None and bare["custody"] is None and bare["reports"] == []


def test_severity_order_and_what_a_device_can_see() -> None:
    assert [u.value for u in UseLevel] == [
        "angle_drive_stun",
        "fired",
        "drive_stun",
        "arced",
        "red_dotted",
        "aimed",
        "drawn",
    ]
    assert [u.rank for u in UseLevel] == [7, 6, 5, 4, 3, 2, 1]
    hidden = {UseLevel.AIMED, UseLevel.ANGLE_DRIVE_STUN}
    assert set(UseLevel) - hidden == DEVICE_VISIBLE
    assert {u for u in UseLevel if not u.device_visible} == hidden


def test_an_empty_log_and_a_log_without_episodes() -> None:
    device = _device(12)
    device.power_on()
    device.battery_report(20, 8000)
    assert episodes(_timeline(device)) == ()
    empty = _bare_timeline(np.zeros(0, RECORD_DTYPE))
    assert episodes(empty) == ()


# -- the reference: one record at a time ------------------------------------------------

_ACTIVITY = {E.LASER_ON, E.WARNING_ARC, E.TRIGGER, E.CONNECTION, E.DEPLOY, E.DRIVE_STUN}
_ACTIVITY |= {E.FUNCTION_TEST}


def _fields(code: int, payload: bytes) -> dict[str, Any]:
    """A payload's fields by the checked construct parse; a payload it refuses (stray
    reserved bits, in generated garbage) by a numpy view of that one record."""
    try:
        return decode_payload(code, payload)
    except (FormatError, UnicodeDecodeError):
        view = np.frombuffer(payload, PAYLOAD_DTYPES[EventCode(code)])[0]
        assert view.dtype.names is not None
        return {n: view[n] for n in view.dtype.names}


def reference(timeline: DeviceTimeline, training_device: bool = False) -> tuple[Episode, ...]:
    """The episodes by the module docstring's rules, plainly: a state machine walking the
    log record by record, then every episode's records read one by one."""
    codes = [int(c) for c in timeline.records["code"]]
    n = len(codes)
    spans: list[tuple[int, int, Bounds, bool, bool]] = []

    def machine(stretch: list[int], opener: int, closer: int, bounds: Bounds) -> None:
        current = None
        since = stretch[0]  # the first record after the last closing event
        for i in stretch:
            if codes[i] == opener:
                if current is not None:
                    spans.append((current, i - 1, bounds, False, True))
                current = i
            elif codes[i] == closer:
                if current is not None:
                    spans.append((current, i, bounds, False, False))
                else:
                    spans.append((since, i, bounds, True, False))
                current = None
                since = i + 1
        if current is not None:
            spans.append((current, stretch[-1], bounds, False, True))

    def free() -> list[bool]:
        taken = [False] * n
        for first, last, *_ in spans:
            for i in range(first, last + 1):
                assert not taken[i], "episodes overlap"
                taken[i] = True
        return [not t for t in taken]

    def stretches(mask: list[bool]) -> list[list[int]]:
        out: list[list[int]] = []
        for i in range(n):
            if mask[i]:
                if out and out[-1][-1] == i - 1:
                    out[-1].append(i)
                else:
                    out.append([i])
        return out

    if E.UNHOLSTER in codes or E.HOLSTER in codes:
        machine(list(range(n)), E.UNHOLSTER, E.HOLSTER, Bounds.HOLSTER)
    for stretch in stretches(free()):
        machine(stretch, E.ARM, E.SAFE, Bounds.ARM)
    outside = free()
    for run in stretches([outside[i] and codes[i] in _ACTIVITY for i in range(n)]):
        spans.append((run[0], run[-1], Bounds.NONE, False, False))
    free()  # no overlap
    return tuple(_reference_episode(timeline, *s, training_device) for s in sorted(spans))


def _reference_episode(
    timeline: DeviceTimeline,
    first: int,
    last: int,
    bounds: Bounds,
    open_start: bool,
    open_end: bool,
    training_device: bool,
) -> Episode:
    records = timeline.records
    seen: list[tuple[int, int, int, dict[str, Any]]] = []  # code, seq, device ms, fields
    for i in range(first, last + 1):
        code = int(records["code"][i])
        fields = _fields(code, bytes(records["payload"][i])) if code in set(E) else {}
        seen.append((code, int(records["seq"][i]), int(records["time_ms"][i]), fields))
    codes = [s[0] for s in seen]

    arcs = tuple(Arc(s, t, f["duration_ms"]) for c, s, t, f in seen if c == E.WARNING_ARC)
    applications = []
    for c, s, t, f in seen:
        if c == E.TRIGGER:
            bay = None if f["bay"] == NO_BAY else int(f["bay"])
            applications.append(Application(s, E.TRIGGER, t, int(f["duration_ms"]), bay))
        elif c == E.DRIVE_STUN:
            applications.append(Application(s, E.DRIVE_STUN, t, int(f["duration_ms"]), None))
    cycles: list[list[Application]] = []
    for a in applications:
        if cycles:
            b = cycles[-1][-1]
            gap = a.device_ms - (b.device_ms + b.duration_ms)
            if (
                b.duration_ms < 5000
                and (a.event, a.bay) == (b.event, b.bay)
                and -1000 <= gap <= 1000
            ):
                cycles[-1].append(a)
                continue
        cycles.append([a])
    connections = tuple(
        Connection(s, int(f["bay"]), bool(f["circuit"]), int(f["pulses"]), int(f["charge_uc"]))
        for c, s, _, f in seen
        if c == E.CONNECTION
    )
    cartridges = []
    for k, (c, s, _, f) in enumerate(seen):
        if c != E.DEPLOY:
            continue
        repeats = 0
        for c2, _, _, f2 in seen[k + 1 :]:
            if c2 in (E.DEPLOY, E.CARTRIDGE_INSERT, E.CARTRIDGE_REMOVE) and f2["bay"] == f["bay"]:
                break
            if c2 == E.TRIGGER and f2["bay"] == f["bay"] and f2["bay"] != NO_BAY:
                repeats += 1
        serial = f["serial"]
        if isinstance(serial, bytes):
            serial = serial.decode("ascii", "backslashreplace")
        cartridges.append(DeployedCartridge(s, int(f["bay"]), serial, repeats))

    if E.DEPLOY in codes:
        highest: UseLevel | None = UseLevel.FIRED
    elif E.DRIVE_STUN in codes:
        highest = UseLevel.DRIVE_STUN
    elif E.WARNING_ARC in codes:
        highest = UseLevel.ARCED
    elif E.LASER_ON in codes:
        highest = UseLevel.RED_DOTTED
    elif {E.UNHOLSTER, E.HOLSTER, E.ARM, E.SAFE} & set(codes):
        highest = UseLevel.DRAWN
    else:
        highest = None
    uses = {E.LASER_ON, E.WARNING_ARC, E.TRIGGER, E.DEPLOY, E.DRIVE_STUN} & set(codes)
    if E.FUNCTION_TEST in codes and not uses:
        kind = EpisodeKind.TEST
    elif training_device or (
        cartridges
        and E.DRIVE_STUN not in codes
        and all(CARTRIDGE_SCHEME.normalize(c.serial).startswith("T") for c in cartridges)
    ):
        kind = EpisodeKind.TRAINING
    else:
        kind = EpisodeKind.USE

    utc, bound, _, _ = timeline.corrected([first, last])
    u = [None if np.isnan(x) else int(x) for x in utc]
    worst = None if np.isnan(bound).any() else int(bound.max())
    return Episode(
        device=timeline.serial,
        seq_first=seen[0][1],
        seq_last=seen[-1][1],
        records=len(seen),
        device_start_ms=seen[0][2],
        device_end_ms=seen[-1][2],
        utc_start_ms=u[0],
        utc_end_ms=u[1],
        bound_ms=worst,
        bounded_by=bounds,
        open_start=open_start,
        open_end=open_end,
        kind=kind,
        highest_use=highest,
        armed_ms=sum(int(f["armed_ms"]) for c, _, _, f in seen if c == E.SAFE),
        laser_shown=codes.count(E.LASER_ON),
        function_tests=codes.count(E.FUNCTION_TEST),
        arcs=arcs,
        applications=tuple(applications),
        cycles=tuple(
            Cycle(tuple(a.seq for a in c), c[0].event, c[0].bay, sum(a.duration_ms for a in c))
            for c in cycles
        ),
        connections=connections,
        cartridges=tuple(cartridges),
    )


# -- generated logs ----------------------------------------------------------------------

_CODES = [
    E.UNHOLSTER,
    E.HOLSTER,
    E.ARM,
    E.SAFE,
    E.LASER_ON,
    E.WARNING_ARC,
    E.TRIGGER,
    E.CONNECTION,
    E.DEPLOY,
    E.DRIVE_STUN,
    E.FUNCTION_TEST,
    E.CARTRIDGE_INSERT,
    E.CARTRIDGE_REMOVE,
    E.BATTERY,
    E.POWER_ON,
]
_SERIALS = [_serial("S", 1), _serial("S", 2), _serial("T", 1), _serial("T", 2), "t-abc"]
_durations = st.one_of(
    st.sampled_from([0, 900, 2100, 2900, 4999, 5000, 5001, 11_000]), st.integers(0, 30_000)
)
_bays = st.sampled_from([1, 1, 1, 2, NO_BAY])
_payloads: dict[EventCode, st.SearchStrategy[dict[str, Any]]] = {
    E.ARM: st.fixed_dictionaries({"battery_pct": st.just(90), "bays_loaded": st.just(3)}),
    E.SAFE: st.fixed_dictionaries(
        {
            "armed_ms": st.integers(0, 2**32 - 1),
            "battery_pct": st.just(90),
            "bays_loaded": st.just(3),
        }
    ),
    E.WARNING_ARC: st.fixed_dictionaries(
        {"duration_ms": _durations, "battery_pct": st.just(90), "bays_loaded": st.just(3)}
    ),
    E.TRIGGER: st.fixed_dictionaries(
        {
            "duration_ms": _durations,
            "bay": _bays,
            "battery_pct": st.just(9),
            "bays_loaded": st.just(1),
        }
    ),
    E.DRIVE_STUN: st.fixed_dictionaries(
        {"duration_ms": _durations, "battery_pct": st.just(90), "bays_loaded": st.just(0)}
    ),
    E.CONNECTION: st.fixed_dictionaries(
        {
            "bay": _bays,
            "circuit": st.integers(0, 1),
            "pulses": st.integers(0, 400),
            "charge_uc": st.integers(0, 30_000),
        }
    ),
    E.DEPLOY: st.fixed_dictionaries({"bay": _bays, "serial": st.sampled_from(_SERIALS)}),
    E.CARTRIDGE_INSERT: st.fixed_dictionaries({"bay": _bays, "serial": st.sampled_from(_SERIALS)}),
    E.CARTRIDGE_REMOVE: st.fixed_dictionaries({"bay": _bays, "serial": st.sampled_from(_SERIALS)}),
    E.FUNCTION_TEST: st.fixed_dictionaries(
        {"duration_ms": _durations, "battery_pct": st.just(90), "result": st.integers(0, 3)}
    ),
    E.BATTERY: st.fixed_dictionaries(
        {"battery_pct": st.just(90), "temperature_c": st.just(20), "voltage_mv": st.just(8000)}
    ),
    E.POWER_ON: st.fixed_dictionaries({"battery_pct": st.just(90), "rtc_valid": st.just(1)}),
}
_pauses = st.sampled_from([-1001, -1000, -1, 0, 1, 1000, 1001, 60_000, 3_600_000])
"""The time from one event's end (its start plus any duration) to the next event's start:
around the interrupted-cycle gap, or long."""
_WEIGHTED = [*_CODES, E.TRIGGER, E.TRIGGER, E.DEPLOY, E.DRIVE_STUN, E.CARTRIDGE_REMOVE]


@st.composite
def _events(draw: st.DrawFn) -> list[tuple[EventCode, dict[str, Any], int]]:
    """A random interleaving of event codes (any order: HOLSTER without UNHOLSTER, nested
    UNHOLSTERs, SAFE without ARM …), with valid payloads and pauses; a third of the logs
    come from a device without the holster sensor."""
    codes = _WEIGHTED if draw(st.integers(0, 2)) else _WEIGHTED[2:]
    events = []
    for code in draw(st.lists(st.sampled_from(codes), max_size=60)):
        payload = draw(_payloads.get(code, st.just({})))
        pause = max(0, payload.get("duration_ms", 0) + draw(_pauses))
        events.append((code, payload, pause))
    return events


@cache
def _credentials() -> tuple[str, DeviceCredentials]:
    """One device's serial and credentials, for every generated log (issuing is slow)."""
    device = _device(99)
    assert device.credentials is not None
    return device.spec.serial, device.credentials


def _logged(events: list[tuple[EventCode, dict[str, Any], int]], capacity: int) -> DeviceTimeline:
    """A timeline of the firmware model logging ``events`` (downloaded at the end)."""
    serial, credentials = _credentials()
    spec = DeviceSpec(serial, log_capacity=capacity, seal_interval=16)
    clock = DeviceClock.true_utc(START, offset_ms=-2500, drift_ppm=40.0)
    device = SimulatedDevice(spec, START, clock, credentials)
    for code, payload, pause in events:
        device.log(code, **payload)
        device.advance(pause)
    return _timeline(device)


@settings(max_examples=300)
@given(events=_events(), capacity=st.sampled_from([16, 64, 1024]), training=st.booleans())
def test_episodes_equal_the_per_record_reference(
    events: list[tuple[EventCode, dict[str, Any], int]], capacity: int, training: bool
) -> None:
    timeline = _logged(events, capacity)
    assert episodes(timeline, training_device=training) == reference(timeline, training)


@cache
def _synthetic(n: int) -> DeviceTimeline:
    return DeviceTimeline.from_images([("s.tdi", read_image(synthetic_image(n, seed=5)))])


def test_a_generated_log_of_shifts_gives_the_reference_episodes() -> None:
    timeline = _synthetic(4000)
    found = episodes(timeline)
    assert found == reference(timeline)
    assert {e.highest_use for e in found} >= {UseLevel.FIRED, UseLevel.DRIVE_STUN, None}


@pytest.mark.slow
def test_a_long_generated_log_gives_the_reference_episodes() -> None:
    timeline = _synthetic(60_000)
    assert episodes(timeline) == reference(timeline)


def _bare_timeline(records: np.ndarray[Any, Any]) -> DeviceTimeline:
    """A timeline of ``records`` as they are, with no clock model (no times)."""
    held = np.ones((len(records), 0), np.bool_)
    return DeviceTimeline("DX", (), records, held, ClockSettings(), None, "no downloads")


@st.composite
def _raw_records(draw: st.DrawFn) -> np.ndarray[Any, Any]:
    """Records of any codes (known and unknown) and any payload bytes, in any order."""
    n = draw(st.integers(0, 50))
    known = st.sampled_from([int(c) for c in _CODES])
    codes = draw(st.lists(st.one_of(known, known, st.integers(0, 0xFFFF)), min_size=n, max_size=n))
    raw = draw(st.binary(min_size=32 * n, max_size=32 * n))
    records = np.frombuffer(raw, RECORD_DTYPE).copy()
    records["code"] = codes
    records["seq"] = np.arange(1, n + 1)
    return records


@settings(max_examples=300)
@given(records=_raw_records())
def test_any_records_at_all_give_the_reference_episodes(records: np.ndarray[Any, Any]) -> None:
    timeline = _bare_timeline(records)
    found = episodes(timeline)
    assert found == reference(timeline)
    assert all(e.utc_start_ms is None and e.bound_ms is None for e in found)
    codes = records["code"].tolist()
    bounded = {int(c) for c in (E.ARM, E.SAFE, E.UNHOLSTER, E.HOLSTER)} | set(map(int, _ACTIVITY))
    inside = {s for e in found for s in range(e.seq_first, e.seq_last + 1)}
    assert all(seq in inside for seq, c in enumerate(codes, start=1) if c in bounded)


@given(text=st.text(max_size=12))
def test_the_type_letter_is_read_as_the_scheme_reads_it(text: str) -> None:
    expected = CARTRIDGE_SCHEME.normalize(text).startswith("T")
    assert _training_serial(text) == expected
    assert _training_serial("-t" + text) and not _training_serial("S" + text)


# -- who held the device -----------------------------------------------------------------


def _episode_at(start_ms: int | None, end_ms: int, bound_ms: int, device: str = "D1") -> Episode:
    return Episode(
        device, 1, 2, 2, 0, 0, start_ms, end_ms, bound_ms if start_ms is not None else None,
        Bounds.HOLSTER, False, False, EpisodeKind.USE, UseLevel.DRAWN, 0, 0, 0, (), (), (), (), (),
    )  # fmt: skip


def _issues(*rows: tuple[str, str, int, int | None]) -> IssueList:
    return IssueList(
        "issues.csv", tuple(Issue(s, IssueKind.DEVICE, o, a, b) for s, o, a, b in rows)
    )


def test_the_holder_over_an_episode() -> None:
    t = 1_700_000_000_000
    issues = _issues(
        ("D1", "PC 1", t, t + 8 * HOUR),
        ("D1", "PC 2", t + 8 * HOUR, t + 16 * HOUR),
        ("D1", "PC 3", t + 20 * HOUR, None),
    )
    one = holder(_episode_at(t + HOUR, t + HOUR + MINUTE, 5000), issues)
    assert one.state is CustodyState.HELD and one.officer == "PC 1"
    nobody = holder(_episode_at(t + 17 * HOUR, t + 17 * HOUR + MINUTE, 5000), issues)
    assert nobody.state is CustodyState.NOT_OUT and nobody.officer is None
    changed = holder(_episode_at(t + 8 * HOUR - MINUTE, t + 8 * HOUR + MINUTE, 5000), issues)
    assert changed.state is CustodyState.UNCERTAIN and changed.officer is None
    assert changed.officers == ("PC 1", "PC 2")
    by_bound = holder(_episode_at(t + 8 * HOUR + 1000, t + 9 * HOUR, 5000), issues)
    assert by_bound.state is CustodyState.UNCERTAIN and by_bound.officers == ("PC 1", "PC 2")
    half = holder(_episode_at(t + 20 * HOUR - MINUTE, t + 21 * HOUR, 0), issues)
    assert half.state is CustodyState.UNCERTAIN and half.officers == ("PC 3",)
    later = holder(_episode_at(t + 30 * HOUR, t + 31 * HOUR, 0), issues)
    assert later.officer == "PC 3"
    assert holder(_episode_at(t, t, 0, "D2"), issues).state is CustodyState.NOT_LISTED
    assert holder(_episode_at(None, t, 0), issues).state is CustodyState.UNPLACED


@settings(max_examples=150)
@given(data=st.data())
def test_holders_answers_as_custody_over_does(data: st.DataObject) -> None:
    edges = sorted(data.draw(st.lists(st.integers(0, 100), min_size=0, max_size=8)))
    rows: list[tuple[str, str, int, int | None]] = []
    pairs = list(zip(edges[::2], edges[1::2], strict=False))
    for k, (a, b) in enumerate(pairs):
        still_out = k == len(pairs) - 1 and data.draw(st.booleans())
        officer = data.draw(st.sampled_from(["PC 1", "PC 2", "pc  1"]))
        rows.append(("D1", officer, a, None if still_out else b))
    issues = _issues(*rows)
    spans = data.draw(
        st.lists(
            st.tuples(
                st.one_of(st.none(), st.integers(-5, 105)),
                st.integers(0, 10),
                st.integers(0, 5),
                st.sampled_from(["D1", "D2"]),
            ),
            max_size=12,
        )
    )
    chosen = [_episode_at(s, (s or 0) + length, bound, d) for s, length, bound, d in spans]
    assert holders(chosen, issues) == tuple(custody_over(issues, e.device, e.span) for e in chosen)
