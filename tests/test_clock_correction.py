"""Clock correction against the firmware model, whose true UTC is known for every record."""

from __future__ import annotations

import dataclasses
import random
import tracemalloc
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taserlink.emulator import DeviceClock, DeviceSpec, SimulatedDevice, run_scenario
from taserlink.emulator.pki import DeviceCredentials, issue_device_credentials
from taserlink.emulator.scenarios import START
from taserlink.emulator.synthetic import synthetic_image
from taserlink.format import (
    DEVICE_EPOCH_UNIX_MS,
    ClockSource,
    EventCode,
    Image,
    payload_view,
    read_image,
)
from taserlink.serials import DEVICE_SCHEME
from taserlink.timeline.clock import (
    DEFAULT_HOST_SET_BOUND_MS,
    AnchorKind,
    ClockModel,
    ClockModelError,
    EpochStart,
    TimelineError,
)
from tests.conftest import CAPTURES

HOUR = 3_600_000
DAY = 24 * HOUR
_SPEC = DeviceSpec(DEVICE_SCHEME.generate(random.Random(5), "D"))


@cache
def _credentials() -> DeviceCredentials:
    return issue_device_credentials(_SPEC.serial, _SPEC.manufactured)


class Driven:
    """A simulated device with the true UTC of every record it logs."""

    def __init__(self, offset_ms: int = 0, drift_ppm: float = 0.0) -> None:
        clock = DeviceClock.true_utc(START, offset_ms=offset_ms, drift_ppm=drift_ppm)
        self.device = SimulatedDevice(_SPEC, START, clock, _credentials())
        self.truth: dict[int, int] = {}
        self.rng = random.Random(offset_ms)
        self.nonces = 0

    def events(self, count: int, every_ms: int) -> None:
        for _ in range(count):
            self.device.advance(every_ms)
            seq = self.device.battery_report(20, 8000)
            self.truth[seq] = self.device.utc_ms

    def set_clock_to_utc(self, *, error_ms: int = 0, source: ClockSource = ClockSource.HOST) -> int:
        """Set the clock to UTC as a host (or the menu) saw it, ``error_ms`` off (a host
        that read its clock ``latency`` ms before the device applied it: ``-latency``).
        Returns the ``CLOCK_SET`` record's sequence."""
        self.device.advance(1000)
        new_ms = self.device.utc_ms - DEVICE_EPOCH_UNIX_MS + error_ms
        seq = self.device.set_clock(new_ms, source)
        self.truth[seq] = self.device.utc_ms
        return seq

    def lose_power(self) -> None:
        self.device.advance(HOUR)
        seq = self.device.lose_power()
        self.truth[seq] = self.device.utc_ms

    def download(self, transfer_ms: int = 1200) -> Image:
        start = self.device.utc_ms
        self.nonces += 1
        data = self.device.download(self.nonces.to_bytes(32, "big"), transfer_ms=transfer_ms)
        last = self.device.last_seq
        self.truth[last - 1] = start  # USB_CONNECT
        self.truth[last] = start + transfer_ms  # DOWNLOAD
        return read_image(data)


def _check_bounds(model: ClockModel, image: Image, truth: dict[int, int]) -> np.ndarray:
    """Every corrected record's true UTC lies within its bound; returns the bounds."""
    utc, bound = model.correct(image.records)
    true = np.array([truth[int(s)] for s in image.records["seq"]], dtype=np.float64)
    assert not np.isnan(utc).any()
    assert (np.abs(utc - true) <= bound).all(), np.max(np.abs(utc - true) - bound)
    return bound


def _ceiling(distance_ms: np.ndarray, anchor_ms: float, ppm: float = 100.0) -> np.ndarray:
    """The bound the model may need at most: twice the nearest anchor's interval."""
    return 2 * (anchor_ms + ppm * 1e-6 / (1 - ppm * 1e-6) * distance_ms + 3)


@settings(max_examples=60, deadline=None)
@given(
    offset_ms=st.integers(-HOUR, HOUR),
    drift_ppm=st.floats(-100, 100),
    count=st.integers(1, 20),
    every_ms=st.integers(1000, 2 * DAY),
)
def test_one_download_bounds_hold_and_are_tight(
    offset_ms: int, drift_ppm: float, count: int, every_ms: int
) -> None:
    run = Driven(offset_ms, drift_ppm)
    run.events(count, every_ms)
    image = run.download()
    model = ClockModel.from_images([image])
    assert len(model.epochs) == 1 and model.epochs[0].drift_ppm is None
    bound = _check_bounds(model, image, run.truth)
    assert image.statement is not None
    distance = np.abs(image.records["time_ms"].astype(np.float64) - image.statement.device_time_ms)
    assert (bound <= _ceiling(distance, 625)).all()
    # The bound grows with distance from the anchor: the oldest record is the least sure.
    assert bound[0] == bound.max()


@settings(max_examples=50, deadline=None)
@given(
    offset_ms=st.integers(-HOUR, HOUR),
    drift_ppm=st.floats(-100, 100),
    gap_days=st.integers(5, 40),
)
def test_two_downloads_estimate_drift(offset_ms: int, drift_ppm: float, gap_days: int) -> None:
    run = Driven(offset_ms, drift_ppm)
    run.events(3, HOUR)
    first = run.download()
    run.events(gap_days, DAY)
    second = run.download()
    run.events(2, HOUR)
    model = ClockModel.from_images([second, first])
    (epoch,) = model.epochs
    assert len(epoch.anchors) == 2 and epoch.drift_ppm is not None
    # Two anchors each ± 625 ms over the gap: the drift is known to 1250 ms / gap.
    tolerance = 1250 / (gap_days * DAY) * 1e6 + 0.01
    assert abs(epoch.drift_ppm - drift_ppm) <= tolerance
    _check_bounds(model, second, run.truth)
    # At a constant drift, interpolation between the anchors errs by no more than they do.
    utc, _ = model.correct(second.records)
    true = np.array([run.truth[int(s)] for s in second.records["seq"]], dtype=np.float64)
    assert first.statement is not None and second.statement is not None
    between = (second.records["seq"] > first.statement.last_seq) & (
        second.records["seq"] <= second.statement.last_seq
    )
    assert (np.abs(utc - true)[between] <= 625 + 3).all()
    # Between the anchors the bound stays near the anchors' own, not the gap's drift.
    middle = (first.statement.device_time_ms + second.statement.device_time_ms) // 2
    seq_middle = first.statement.last_seq + 1
    corrected = model.to_utc(middle, seq=seq_middle)
    single = ClockModel.from_images([second]).to_utc(middle, seq=seq_middle)
    assert corrected.bound_ms is not None and single.bound_ms is not None
    assert corrected.bound_ms <= single.bound_ms


def test_records_after_the_last_download_are_extrapolated() -> None:
    run = Driven(40_000, 80.0)
    run.events(3, DAY)
    first = run.download()
    run.events(10, DAY)
    second = run.download()
    run.events(10, DAY)
    third = run.download()
    model = ClockModel.from_images([first, second])
    utc, bound = model.correct(third.records)
    true = np.array([run.truth[int(s)] for s in third.records["seq"]], dtype=np.float64)
    assert (np.abs(utc - true) <= bound).all()
    # Extrapolating with the estimated drift is far closer than ignoring it.
    late = third.records["seq"] > second.statement.last_seq  # type: ignore[union-attr]
    assert np.max(np.abs(utc - true)[late]) < 0.1 * np.max(bound[late])


@settings(max_examples=40, deadline=None)
@given(
    offset_ms=st.integers(-HOUR, HOUR),
    drift_ppm=st.floats(-100, 100),
    before_days=st.integers(0, 20),
    after_days=st.integers(0, 20),
)
def test_clock_set_between_downloads(
    offset_ms: int, drift_ppm: float, before_days: int, after_days: int
) -> None:
    run = Driven(offset_ms, drift_ppm)
    run.events(2, HOUR)
    first = run.download()
    run.events(before_days, DAY)
    run.set_clock_to_utc()
    run.events(after_days, DAY)
    second = run.download()
    model = ClockModel.from_images([first, second])
    assert [e.start for e in model.epochs] == [EpochStart.FIRST_RECORD, EpochStart.CLOCK_SET]
    # Each epoch holds its own download and one carried across the set.
    assert [len(e.anchors) for e in model.epochs] == [2, 2]
    _check_bounds(model, second, run.truth)
    # Only the later download: the first epoch is corrected through the set alone.
    alone = ClockModel.from_images([second])
    assert [len(e.anchors) for e in alone.epochs] == [1, 1]
    _check_bounds(alone, second, run.truth)


def test_clock_reset_without_later_anchor_gives_no_correction() -> None:
    run = Driven(-20_000, 50.0)
    run.events(5, HOUR)
    run.lose_power()
    run.events(5, HOUR)
    image = run.download()
    model = ClockModel.from_images([image])
    assert [e.start for e in model.epochs] == [EpochStart.FIRST_RECORD, EpochStart.CLOCK_RESET]
    before, after = model.epochs
    assert not before.anchors
    utc, bound = model.correct(image.records)
    lost = image.records["seq"] < after.first_seq
    assert np.isnan(utc[lost]).all() and np.isnan(bound[lost]).all()
    assert not np.isnan(utc[~lost]).any()
    answer = model.to_utc(int(image.records["time_ms"][0]), seq=int(image.records["seq"][0]))
    assert answer.utc_ms is None and answer.bound_ms is None
    assert "no correction" in answer.note
    # After the reset the clock reads near 2000-01-01, yet is corrected to the right day.
    assert after.first_device_ms < DAY
    truth = np.array([run.truth[int(s)] for s in image.records["seq"][~lost]], np.float64)
    assert (np.abs(utc[~lost] - truth) <= bound[~lost]).all()


def test_reset_then_set_links_the_reset_epoch() -> None:
    run = Driven(0, 90.0)
    run.events(3, HOUR)
    run.lose_power()
    run.events(4, HOUR)
    run.set_clock_to_utc()
    run.events(4, HOUR)
    image = run.download()
    model = ClockModel.from_images([image])
    assert [len(e.anchors) for e in model.epochs] == [0, 1, 1]
    utc, bound = model.correct(image.records)
    ok = ~np.isnan(utc)
    truth = np.array([run.truth[int(s)] for s in image.records["seq"][ok]], np.float64)
    assert (np.abs(utc[ok] - truth) <= bound[ok]).all()
    assert ok.sum() == len(image.records) - 3


def test_clock_drift_capture() -> None:
    """The sample capture: a month at +88 ppm, a host set, a reset and its correction."""
    image = read_image(CAPTURES / "clock-drift.tdi")
    model = ClockModel.from_images([image])
    assert [e.start for e in model.epochs] == [
        EpochStart.FIRST_RECORD,
        EpochStart.CLOCK_SET,
        EpochStart.CLOCK_RESET,
        EpochStart.CLOCK_SET,
    ]
    assert [bool(e.anchors) for e in model.epochs] == [False, False, True, True]
    utc, bound = model.correct(image.records)
    ok = ~np.isnan(utc)
    assert ok.sum() == np.count_nonzero(image.records["seq"] >= model.epochs[2].first_seq)
    # Corrected times never run backwards, end at the download and carry bounds of about a second.
    assert (np.diff(utc[ok]) >= 0).all()
    assert image.acquisition.statement_utc_ms - utc[ok][-1] >= -bound[ok][-1]
    assert (bound[ok] < 2000).all()
    # Against the firmware model's own clock (the capture is scenario clock-drift, seed 1).
    run = run_scenario("clock-drift", 1)
    assert run.image == image.data
    clock = run.device.clock
    assert clock is not None
    last = model.epochs[3]
    times = image.records["time_ms"][ok].astype(np.float64)
    in_last = image.records["seq"][ok] >= last.first_seq
    rate = 1 + clock.drift_ppm / 1e6
    old_ms = float(payload_view(image.records, EventCode.CLOCK_SET)["old_time_ms"][-1])
    true = np.where(
        in_last,
        clock.set_utc_ms + (times - clock.set_device_ms) / rate,
        clock.set_utc_ms - (old_ms - times) / rate,
    )
    assert (np.abs(utc[ok] - true) <= bound[ok] + 1).all()
    assert "epoch 2" in model.describe() and "no correction" in model.describe()


def test_to_utc_without_seq() -> None:
    run = Driven(0, 0.0)
    run.events(2, HOUR)
    run.lose_power()
    run.events(2, HOUR)
    image = run.download()
    model = ClockModel.from_images([image])
    inside = int(image.records["time_ms"][-1])
    assert model.to_utc(inside).utc_ms is not None
    later = model.to_utc(inside + HOUR)  # outside every span: the last epoch
    assert later.epoch == model.epochs[-1].index and later.utc_ms is not None


def test_images_of_two_devices_are_refused() -> None:
    other = read_image(CAPTURES / "quiet-day.tdi")
    with pytest.raises(ClockModelError, match="several devices"):
        ClockModel.from_images([CAPTURES / "clock-drift.tdi", other])
    with pytest.raises(ClockModelError):
        ClockModel.from_images([])


# -- the vectorised path and the merge of images ---------------------------------------------


@cache
def _drift_capture() -> tuple[Image, ClockModel]:
    image = read_image(CAPTURES / "clock-drift.tdi")
    return image, ClockModel.from_images([image])


@cache
def _long_log() -> tuple[Image, ClockModel]:
    """A generated log of many clock sets (one epoch each), every epoch anchored."""
    image = read_image(synthetic_image(30_000, seed=4))
    return image, ClockModel.from_images([image])


def _answers(model: ClockModel, records: np.ndarray) -> list[tuple[int, int] | None]:
    """:meth:`ClockModel.to_utc` of each record, one at a time."""
    answers: list[tuple[int, int] | None] = []
    for seq, ms in zip(records["seq"].tolist(), records["time_ms"].tolist(), strict=True):
        answer = model.to_utc(ms, seq=seq)
        answers.append(
            None
            if answer.utc_ms is None or answer.bound_ms is None
            else (answer.utc_ms, answer.bound_ms)
        )
    return answers


def _corrected(model: ClockModel, records: np.ndarray) -> list[tuple[int, int] | None]:
    utc, bound = model.correct(records)
    assert (np.isnan(utc) == np.isnan(bound)).all()
    return [
        None if np.isnan(u) else (int(u), int(b))
        for u, b in zip(utc.tolist(), bound.tolist(), strict=True)
    ]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_correct_is_to_utc_for_records_in_any_order(data: st.DataObject) -> None:
    """Any selection of records, in any order, repeated or preceding the log: ``correct``
    answers exactly what ``to_utc`` does for each."""
    image, model = data.draw(st.sampled_from([_drift_capture(), _long_log()]))
    rows = data.draw(st.lists(st.integers(0, len(image.records) - 1), max_size=80))
    records = image.records[rows].copy()
    if rows and data.draw(st.booleans()):
        records["seq"][data.draw(st.integers(0, len(rows) - 1))] = 0  # before the first epoch
    assert _corrected(model, records) == _answers(model, records)


def test_correct_of_a_long_log_in_chunks_is_correct_of_it_all() -> None:
    image, model = _long_log()
    assert len(model.epochs) > 50 and all(e.anchors for e in model.epochs)
    whole = _corrected(model, image.records)
    for chunk in (1000, 4093):
        parts = [
            answer
            for start in range(0, len(image.records), chunk)
            for answer in _corrected(model, image.records[start : start + chunk])
        ]
        assert parts == whole
    sample = image.records[:: len(image.records) // 300]
    assert _corrected(model, sample) == _answers(model, sample)
    assert None not in whole


def test_one_image_in_order_is_not_copied_to_build_a_model() -> None:
    image, model = _long_log()
    tracemalloc.start()
    try:
        again = ClockModel.from_images([image])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert again == model
    assert peak < image.records.nbytes  # a merged copy alone would take as much
    # The same records merged the long way (out of order; or given twice) make the same model.
    backwards = dataclasses.replace(image, records=image.records[::-1].copy())
    assert ClockModel.from_images([backwards]) == model
    assert ClockModel.from_images([image, image]) == model


def test_a_record_held_twice_counts_once() -> None:
    image, model = _drift_capture()
    records = np.concatenate([image.records, image.records[10:13]])
    twice = dataclasses.replace(image, records=records)
    assert ClockModel.from_images([twice]) == model


def test_different_records_under_one_seq_are_refused_and_named() -> None:
    image, _ = _drift_capture()
    records = image.records.copy()
    records["seq"][4] = records["seq"][3]
    one = dataclasses.replace(image, records=records)
    seq = int(records["seq"][3])
    serial = image.identity.serial
    with pytest.raises(
        TimelineError,
        match=f"^download image 1 of device {serial} holds two different records at seq {seq}:",
    ):
        ClockModel.from_images([one])
    records = image.records.copy()
    records["time_ms"][7] += 1
    other = dataclasses.replace(image, records=records)
    seq = int(records["seq"][7])
    with pytest.raises(
        TimelineError,
        match=f"^downloads image 1 and image 2 of device {serial} hold different records at "
        f"seq {seq}:",
    ):
        ClockModel.from_images([image, other])
    with pytest.raises(ClockModelError, match="no records"):
        ClockModel.from_images([dataclasses.replace(image, records=image.records[:0])])


# -- host clock sets as anchors (opt-in) ----------------------------------------------------


def _truth_of(run: Driven, records: np.ndarray) -> np.ndarray:
    return np.array([run.truth[int(s)] for s in records["seq"]], dtype=np.float64)


def _reset_set_use_reset(
    offset_ms: int,
    drift_ppm: float,
    *,
    error_ms: int = 0,
    used: int = 6,
    every_ms: int = HOUR,
    source: ClockSource = ClockSource.HOST,
) -> tuple[Driven, Image, int]:
    """A clock reset by a power loss, a set (by a host, to UTC ``error_ms`` off), use, then
    a second reset before the only download: no download reaches the set's epoch.
    Returns the run, the download and the ``CLOCK_SET``'s sequence."""
    run = Driven(offset_ms, drift_ppm)
    run.events(3, HOUR)
    run.lose_power()
    run.events(2, HOUR)
    seq = run.set_clock_to_utc(error_ms=error_ms, source=source)
    run.events(used, every_ms)
    run.lose_power()
    run.events(2, HOUR)
    return run, run.download(), seq


@settings(max_examples=50, deadline=None)
@given(
    offset_ms=st.integers(-HOUR, HOUR),
    drift_ppm=st.floats(-100, 100),
    latency_ms=st.integers(0, DEFAULT_HOST_SET_BOUND_MS),
    host_error_ms=st.integers(-5000, 5000),
    used=st.integers(1, 12),
    every_ms=st.integers(1000, 3 * DAY),
)
def test_a_host_set_after_a_reset_anchors_its_epoch_only_when_asked(
    offset_ms: int,
    drift_ppm: float,
    latency_ms: int,
    host_error_ms: int,
    used: int,
    every_ms: int,
) -> None:
    run, image, set_seq = _reset_set_use_reset(
        offset_ms, drift_ppm, error_ms=host_error_ms - latency_ms, used=used, every_ms=every_ms
    )
    starts = [EpochStart.FIRST_RECORD, EpochStart.CLOCK_RESET, EpochStart.CLOCK_SET]
    off = ClockModel.from_images([image])
    assert [e.start for e in off.epochs] == [*starts, EpochStart.CLOCK_RESET]
    reached = image.records["seq"] >= off.epochs[1].first_seq
    unreached = reached & (image.records["seq"] < off.epochs[3].first_seq)
    utc, _ = off.correct(image.records)
    # Without the option the reset epoch and the set's epoch get no correction.
    assert np.isnan(utc[image.records["seq"] < off.epochs[3].first_seq]).all()
    assert not np.isnan(utc[~unreached & reached]).any()
    answer = off.to_utc(int(image.records["time_ms"][-4]), seq=set_seq + 1)
    assert answer.utc_ms is None and "no download and no clock-set link" in answer.note

    host_clock_ms = abs(host_error_ms)
    on = ClockModel.from_images([image], host_sets=True, host_clock_ms=host_clock_ms)
    assert on.host_sets and not on.warnings
    (anchor,) = [a for e in on.epochs for a in e.anchors if a.kind is AnchorKind.HOST_SET]
    set_ms = int(image.records["time_ms"][image.records["seq"] == set_seq][0])
    assert (anchor.seq, anchor.device_ms, anchor.utc_ms, anchor.bound_ms) == (
        set_seq,
        set_ms,
        set_ms + DEVICE_EPOCH_UNIX_MS,
        DEFAULT_HOST_SET_BOUND_MS + host_clock_ms,
    )
    assert anchor in on.epochs[2].anchors
    # Now every record from the first reset on is corrected, its true UTC within the bound.
    utc, bound = on.correct(image.records)
    assert not np.isnan(utc[reached]).any() and np.isnan(utc[~reached]).all()
    true = _truth_of(run, image.records)
    assert (np.abs(utc - true)[reached] <= bound[reached]).all()
    # The set's epoch is bounded by the set alone: the anchor's interval widening with
    # distance from the set at the stated drift (twice it at most).
    in_set = (image.records["seq"] >= on.epochs[2].first_seq) & unreached
    distance = image.records["time_ms"][in_set].astype(np.float64) - set_ms
    ceiling = _ceiling(np.abs(distance), DEFAULT_HOST_SET_BOUND_MS + host_clock_ms)
    assert (bound[in_set] <= ceiling).all()


def test_a_download_with_no_statement_after_a_host_set() -> None:
    """A download whose statement never came (kept from an interrupted transfer) holds
    records but no download anchor: only a host set can place them."""
    run = Driven(-70_000, 60.0)
    run.events(2, HOUR)
    run.lose_power()
    run.events(2, HOUR)
    run.set_clock_to_utc(error_ms=-40)
    run.events(5, 4 * HOUR)
    image = dataclasses.replace(run.download(), statement=None)
    off = ClockModel.from_images([image])
    assert all(not e.anchors for e in off.epochs)
    on = ClockModel.from_images([image], host_sets=True)
    assert [len(e.anchors) for e in on.epochs] == [0, 1, 1]
    utc, bound = on.correct(image.records)
    ok = ~np.isnan(utc)
    assert ok.sum() == np.count_nonzero(image.records["seq"] >= on.epochs[1].first_seq)
    true = _truth_of(run, image.records)
    assert (np.abs(utc - true)[ok] <= bound[ok]).all()
    note = on.to_utc(int(image.records["time_ms"][0]), seq=1).note
    assert "no download, no host clock set and no clock-set link" in note


def test_menu_sets_never_anchor() -> None:
    _, image, seq = _reset_set_use_reset(5000, 30.0, source=ClockSource.MENU)
    on = ClockModel.from_images([image], host_sets=True)
    assert all(a.kind is not AnchorKind.HOST_SET for e in on.epochs for a in e.anchors)
    assert on.epochs[2].first_seq == seq and not on.epochs[2].anchors
    assert [bool(e.anchors) for e in on.epochs] == [False, False, False, True]
    utc, _ = on.correct(image.records)
    assert np.isnan(utc[image.records["seq"] < on.epochs[3].first_seq]).all()
    # The same log with the set made by a host is anchored.
    _, hosted, _ = _reset_set_use_reset(5000, 30.0)
    assert [bool(e.anchors) for e in ClockModel.from_images([hosted], host_sets=True).epochs] == [
        False,
        True,
        True,
        True,
    ]


@settings(max_examples=30, deadline=None)
@given(
    drift_ppm=st.floats(-100, 100),
    error_s=st.sampled_from([-3600, -600, 300, 3600]),
    after_days=st.integers(0, 10),
)
def test_a_host_set_contradicting_a_download_warns_and_keeps_bounds_true(
    drift_ppm: float, error_s: int, after_days: int
) -> None:
    """A host not on UTC (an hour off: local summer time; minutes off: an unsynchronised
    host) sets the clock between two downloads: the anchors disagree."""
    run = Driven(2000, drift_ppm)
    run.events(3, HOUR)
    first = run.download()
    run.events(2, DAY)
    seq = run.set_clock_to_utc(error_ms=error_s * 1000)
    run.events(after_days, DAY)
    run.events(2, HOUR)
    second = run.download()
    off = ClockModel.from_images([first, second])
    assert not off.warnings
    on = ClockModel.from_images([first, second], host_sets=True)
    assert on.warnings and all(f"host clock set(s) at seq {seq}" in w for w in on.warnings)
    assert any(w.startswith("epoch 1: anchors disagree") for w in on.warnings)
    # No wrong tight bound: every true UTC lies within its bound, which owns up to the
    # disagreement (it spans the false anchor's claim near the set).
    utc, bound = on.correct(second.records)
    true = _truth_of(run, second.records)
    assert (np.abs(utc - true) <= bound).all()
    near = second.records["seq"] == seq
    assert bound[near][0] >= abs(error_s) * 1000 / 2
    note = on.to_utc(int(second.records["time_ms"][-1]), seq=int(second.records["seq"][-1])).note
    assert note.endswith("(anchors disagree)")


def test_a_false_anchor_gives_no_tight_bound_far_from_the_anchors() -> None:
    """Far from two disagreeing anchors their widening intervals meet again, but the
    meeting need not hold the true UTC: the whole epoch falls back on the widest bound."""
    run = Driven(0, 0.0)
    run.events(2, HOUR)
    run.set_clock_to_utc(error_ms=600_000)  # a host ten minutes fast
    run.events(2, HOUR)
    second = run.download()
    run.events(50, DAY)  # 50 days on at 100 ppm: each interval ± about 432 s
    third = run.download()
    model = ClockModel.from_images([second], host_sets=True)
    assert model.warnings
    utc, bound = model.correct(third.records)
    true = _truth_of(run, third.records)
    assert (np.abs(utc - true) <= bound).all()
    late = third.records["seq"] > second.statement.last_seq  # type: ignore[union-attr]
    assert (bound[late] >= 600_000 / 2).all()


def test_the_clock_drift_capture_with_host_sets_is_corrected_throughout() -> None:
    """Scenario clock-drift (seed 1): its first two epochs, before the reset, have no
    download; the host set on day 17 anchors them."""
    image, off = _drift_capture()
    on = ClockModel.from_images([image], host_sets=True)
    sets = image.records["code"] == EventCode.CLOCK_SET
    host = payload_view(image.records, EventCode.CLOCK_SET)["source"] == ClockSource.HOST
    assert [a.seq for e in on.epochs for a in e.anchors if a.kind is AnchorKind.HOST_SET] == [
        int(s) for s in image.records["seq"][sets][host]
    ]
    assert [e.start for e in on.epochs] == [e.start for e in off.epochs]
    assert not on.warnings
    utc, bound = on.correct(image.records)
    assert not np.isnan(utc).any() and (np.diff(utc) >= 0).all()
    # The firmware model's truth: the clock started ``offset`` off UTC at 88 ppm and was set
    # to UTC exactly at each host set.
    clock = run_scenario("clock-drift", 1).device.clock
    assert clock is not None
    rate = 1 + clock.drift_ppm / 1e6
    set_at = image.records["time_ms"][sets].astype(np.float64)
    old = payload_view(image.records, EventCode.CLOCK_SET)["old_time_ms"].astype(np.float64)
    times = image.records["time_ms"].astype(np.float64)
    seqs = image.records["seq"]
    epoch0 = seqs < on.epochs[1].first_seq
    epoch1 = (seqs >= on.epochs[1].first_seq) & (seqs < on.epochs[2].first_seq)
    true = np.full(len(seqs), np.nan)
    utc_set = set_at[0] + DEVICE_EPOCH_UNIX_MS
    true[epoch0] = utc_set - (old[0] - times[epoch0]) / rate
    true[epoch1] = utc_set + (times[epoch1] - set_at[0]) / rate
    both = epoch0 | epoch1
    assert (np.abs(utc - true)[both] <= bound[both] + 1).all()
    text = on.describe()
    assert "host clock sets taken as UTC anchors" in text
    assert f"host clock set seq {on.epochs[1].first_seq}:" in text
    assert "host clock set" not in off.describe()
    # The vectorised path answers as to_utc does here too.
    assert _corrected(on, image.records) == _answers(on, image.records)


def test_host_set_settings_are_checked_and_recorded() -> None:
    image, off = _drift_capture()
    with pytest.raises(ClockModelError):
        ClockModel.from_images([image], host_sets=True, host_set_bound_ms=-1)
    wide = ClockModel.from_images([image], host_sets=True, host_set_bound_ms=5000, host_clock_ms=7)
    assert {
        a.bound_ms for e in wide.epochs for a in e.anchors if a.kind is AnchorKind.HOST_SET
    } == {5007}
    assert "each ±5007 ms (5000 ms for the setting, 7 ms host clock)" in wide.describe()
    # Off by default: the same model as before the option existed, bound or not.
    assert ClockModel.from_images([image], host_set_bound_ms=5000).epochs == off.epochs
    assert not off.host_sets
