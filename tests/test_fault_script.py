"""Fault scripts (``taserlink.emulator.faults``): ``WHO:KIND@AT[xCOUNT][/DELAY_S]`` items,
comma-separated.  Every script the parser accepts round-trips through its text form; a bad
item is the library's ``ScenarioError`` naming the item and its bad part; a script becomes
one fault plan per device of a dock."""

from __future__ import annotations

import math
import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taserlink.emulator.faults import (
    Fault,
    FaultKind,
    FaultPlan,
    FaultSpec,
    dock_fault_plans,
    fault_script_text,
    parse_fault_script,
)
from taserlink.errors import ScenarioError, TaserlinkError
from taserlink.serials import DEVICE_SCHEME

DOCK = [DEVICE_SCHEME.generate(random.Random(f"dock/{i}")) for i in range(5)]
"""Serials of a dock of five, position 1 first."""

spaces = st.sampled_from(["", "", " ", "  ", "\t"])
serial_texts = st.text(
    st.characters(blacklist_characters=":,", blacklist_categories=["Cs", "Zs", "Zl", "Zp", "Cc"]),
    min_size=1,
    max_size=12,
).filter(lambda t: not (t.isascii() and t.isdigit()) and not re.search(r"\s", t))
"""Any text that can stand for a serial in a script (no ``:``, ``,``, white space, not a
position)."""


@st.composite
def specs(draw: st.DrawFn) -> FaultSpec:
    """Any spec a script can write."""
    who: int | str = draw(st.one_of(st.integers(1, 10**6), serial_texts))
    delay = draw(
        st.one_of(
            st.just(0.0),
            st.floats(0, 1e300, allow_nan=False, allow_infinity=False, allow_subnormal=False),
        )
    )
    fault = Fault(
        draw(st.sampled_from(FaultKind)),
        draw(st.integers(0, 10**12)),
        draw(st.integers(1, 10**6)),
        abs(delay),
    )
    return FaultSpec(who, fault)


@st.composite
def written(draw: st.DrawFn, spec: FaultSpec) -> str:
    """``spec`` as someone may write it: white space around parts, any case and ``-`` for
    ``_`` in the kind, ``X`` for ``x``, ``x1`` and ``/0`` spelled out, a trailing ``.``."""
    fault = spec.fault
    kind = "".join(draw(st.sampled_from([c, c.upper()])) for c in fault.kind.value)
    kind = kind.replace("_", draw(st.sampled_from(["_", "-"])))
    parts = [draw(spaces), str(spec.who), draw(spaces), ":", draw(spaces), kind, draw(spaces)]
    parts += ["@", draw(spaces), str(fault.at)]
    if fault.count != 1 or draw(st.booleans()):
        parts += [draw(spaces), draw(st.sampled_from("xX")), draw(spaces), str(fault.count)]
    if fault.delay_s or draw(st.booleans()):
        delay = FaultSpec(1, Fault(fault.kind, 0, delay_s=fault.delay_s)).text.partition("/")[2]
        if not delay:
            delay = draw(st.sampled_from(["0", "0.", "0.000"]))
        elif "." not in delay:
            delay += draw(st.sampled_from(["", ".", ".0"]))
        parts += [draw(spaces), "/", draw(spaces), delay]
    return "".join([*parts, draw(spaces)])


@given(st.lists(specs(), max_size=6))
def test_specs_round_trip_through_their_text(items: list[FaultSpec]) -> None:
    text = fault_script_text(items)
    assert parse_fault_script(text) == tuple(items)
    assert fault_script_text(parse_fault_script(text)) == text


@given(st.data(), st.lists(specs(), max_size=6))
def test_every_script_the_parser_accepts_round_trips(
    data: st.DataObject, items: list[FaultSpec]
) -> None:
    pieces = [data.draw(written(spec)) for spec in items]
    for _ in range(data.draw(st.integers(0, 2))):  # empty items are ignored
        pieces.insert(data.draw(st.integers(0, len(pieces))), data.draw(spaces))
    script = ",".join(pieces)
    parsed = parse_fault_script(script)
    assert parsed == tuple(items)
    assert parse_fault_script(fault_script_text(parsed)) == parsed


@st.composite
def broken(draw: st.DrawFn) -> tuple[str, str]:
    """A bad item and the part its message must name."""
    spec = draw(specs())
    good = spec.text
    who, rest = good.split(":", 1)
    kind, after = rest.split("@", 1)
    how = draw(st.sampled_from(["kind", "count", "position", "form", "delay"]))
    if how == "kind":
        bad = draw(st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz_-"), min_size=1))
        bad = bad if bad.lower().replace("-", "_") not in {k.value for k in FaultKind} else "melt"
        return f"{who}:{bad}@{after}", f"unknown fault {bad!r}"
    if how == "count":
        item = f"{who}:{kind}@{spec.fault.at}x0"
        return item, "COUNT must be at least 1"
    if how == "position":
        return f"0:{rest}", "dock position 0"
    if how == "delay":
        item = f"{who}:{kind}@{spec.fault.at}/1{'0' * 400}"
        return item, "DELAY inf is not a number of seconds"
    cut = draw(st.sampled_from([f"{who}:{kind}", f"{who}{kind}@1", f"{who}:@1", f"{who}:{kind}@"]))
    return cut, "is not WHO:KIND@AT[xCOUNT][/DELAY]"


@given(broken(), st.lists(specs(), max_size=3))
def test_a_bad_item_is_a_scenario_error_naming_it(
    case: tuple[str, str], others: list[FaultSpec]
) -> None:
    item, part = case
    script = ",".join([*(s.text for s in others), item])
    with pytest.raises(ScenarioError) as caught:
        parse_fault_script(script)
    message = str(caught.value)
    assert isinstance(caught.value, TaserlinkError)
    assert message.startswith(repr(item)) and part in message
    assert "\n" not in message


def test_examples() -> None:
    (spec,) = parse_fault_script(" 2 : Short-Read @ 8 X 3 / 0.5 ,")
    assert spec == FaultSpec(2, Fault(FaultKind.SHORT_READ, 8, 3, 0.5))
    assert spec.text == "2:short_read@8x3/0.5"
    assert parse_fault_script("") == parse_fault_script(" , ,") == ()
    tiny = FaultSpec("D1", Fault(FaultKind.SLOW, 0, delay_s=1e-7))
    assert tiny.text == "D1:slow@0/0.0000001"  # positional, never 1e-07
    with pytest.raises(ScenarioError, match="cannot name a device"):
        FaultSpec("12", Fault(FaultKind.STALL, 0))
    with pytest.raises(ScenarioError, match="not a number of seconds"):
        FaultSpec(1, Fault(FaultKind.SLOW, 0, delay_s=math.inf))


def test_a_script_is_a_plan_per_device_of_the_dock() -> None:
    typed = DOCK[2].lower()[:4] + "-" + DOCK[2][4:]
    script = parse_fault_script(f"2:stall@3,{typed}:drop@1,2:slow@7/0.5,5:tamper@0")
    plans = dock_fault_plans(script, DOCK)
    assert list(plans) == [DOCK[1], DOCK[2], DOCK[4]]
    assert plans[DOCK[1]] == FaultPlan(
        [Fault(FaultKind.STALL, 3), Fault(FaultKind.SLOW, 7, delay_s=0.5)]
    )
    assert plans[DOCK[2]] == FaultPlan([Fault(FaultKind.DROP, 1)])
    assert dock_fault_plans((), DOCK) == {}


def test_a_serial_is_matched_as_the_device_scheme_reads_input() -> None:
    serial = next(s for s in DOCK if "0" in s[1:] or "1" in s[1:])
    aliased = serial[0] + serial[1:].replace("0", "o").replace("1", "l")
    (spec,) = parse_fault_script(f"{aliased}:stall@1")
    assert list(dock_fault_plans([spec], DOCK)) == [serial]


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("6:stall@1", "no device at dock position 6 (the dock holds 5)"),
        ("DZZZZZZZZZ:stall@1", "no device 'DZZZZZZZZZ' in the emulated dock"),
    ],
)
def test_a_device_not_in_the_dock_is_refused(script: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(message)):
        dock_fault_plans(parse_fault_script(script), DOCK)
