"""The desk state machine with a fake clock: holds, fusion, debounce, clock steps."""

from __future__ import annotations

import pytest
from hubsense.edge.core.machine import Change, DeskMachine, SensorSpec, Signal, SourceKind

from hubsense.wire import DeskState, Source

OCC, VAC = DeskState.OCCUPIED, DeskState.VACANT
T0 = 1_800_000_000_000


def pir(key: str = "gpio:17", desk: str = "d1", hold_s: int = 600) -> SensorSpec:
    return SensorSpec(key=key, desk=desk, kind=SourceKind.PIR, hold_s=hold_s)


def ble(key: str = "ble:A", desk: str = "d1", hold_s: int = 600) -> SensorSpec:
    return SensorSpec(key=key, desk=desk, kind=SourceKind.BLE, hold_s=hold_s)


def started(*specs: SensorSpec, debounce_ms: int = 2_000) -> DeskMachine:
    machine = DeskMachine(specs, debounce_ms=debounce_ms)
    assert machine.start(T0) == [
        Change(desk, VAC, machine._desks[desk].source, T0) for desk in machine.desks
    ]
    return machine


def states(changes: list[Change]) -> list[tuple[str, DeskState, int]]:
    return [(c.desk, c.state, c.ts_ms - T0) for c in changes]


def test_pir_motion_occupies_and_hold_expires_at_its_own_time() -> None:
    m = started(pir(hold_s=600))
    assert m.observe("gpio:17", Signal.MOTION_START, T0 + 10_000) == []  # not yet debounced
    assert states(m.tick(T0 + 12_000)) == [("d1", OCC, 10_000)]
    assert m.observe("gpio:17", Signal.MOTION_END, T0 + 15_000) == []
    # Still occupied just before hold end (15 s + 600 s) …
    assert m.tick(T0 + 614_999) == []
    # … and a late tick reports vacancy at the moment the hold ran out, not at the tick.
    assert states(m.tick(T0 + 900_000)) == [("d1", VAC, 615_000)]
    assert m.state_of("d1") is VAC
    assert m.tick(T0 + 2_000_000) == []


def test_pir_high_pin_holds_occupied_indefinitely() -> None:
    m = started(pir(hold_s=60))
    m.observe("gpio:17", Signal.MOTION_START, T0)
    assert states(m.tick(T0 + 5_000)) == [("d1", OCC, 0)]
    assert m.tick(T0 + 10 * 3_600_000) == []  # pin never fell
    m.observe("gpio:17", Signal.MOTION_END, T0 + 10 * 3_600_000)
    assert states(m.tick(T0 + 11 * 3_600_000)) == [("d1", VAC, 10 * 3_600_000 + 60_000)]


def test_motion_inside_hold_extends_it() -> None:
    m = started(pir(hold_s=100))
    out = []
    for t in (0, 50_000, 140_000):  # each pulse inside the previous hold
        out += m.observe("gpio:17", Signal.MOTION_START, T0 + t)
        out += m.observe("gpio:17", Signal.MOTION_END, T0 + t + 1_000)
    out += m.tick(T0 + 1_000_000)
    assert states(out) == [("d1", OCC, 0), ("d1", VAC, 241_000)]


def test_ble_occupancy_and_presence_map_directly() -> None:
    m = started(ble("ble:A", "d1"), ble("ble:B", "d2"))
    m.observe("ble:A", Signal.OCCUPANCY, T0 + 1_000, True)
    m.observe("ble:B", Signal.PRESENCE, T0 + 1_500, True)
    assert states(m.tick(T0 + 4_000)) == [("d1", OCC, 1_000), ("d2", OCC, 1_500)]
    m.observe("ble:A", Signal.OCCUPANCY, T0 + 10_000, False)
    # No hold for direct objects: vacant from the reading itself (after the debounce).
    assert states(m.tick(T0 + 12_000)) == [("d1", VAC, 10_000)]
    assert m.state_of("d2") is OCC
    assert m.tick(T0 + 10_000_000) == []  # presence stays until the sensor says otherwise


def test_ble_motion_is_a_pulse_with_the_sensor_hold() -> None:
    m = started(ble(hold_s=30))
    m.observe("ble:A", Signal.MOTION_PULSE, T0, True)
    # "clear" does not cut the hold; the occupancy confirmed meanwhile comes out here.
    assert states(m.observe("ble:A", Signal.MOTION_PULSE, T0 + 20_000, False)) == [("d1", OCC, 0)]
    assert states(m.tick(T0 + 100_000)) == [("d1", VAC, 30_000)]


def test_fusion_occupied_if_any_source_each_with_its_own_hold() -> None:
    m = started(pir("gpio:17", "d1", hold_s=60), ble("ble:A", "d1", hold_s=300))
    assert m._desks["d1"].source is Source.FUSED
    out = m.observe("gpio:17", Signal.MOTION_START, T0)
    out += m.observe("gpio:17", Signal.MOTION_END, T0 + 1_000)  # PIR hold ends at 61 s
    out += m.observe("ble:A", Signal.MOTION_PULSE, T0 + 30_000, True)  # BLE hold ends at 330 s
    assert states(out + m.tick(T0 + 200_000)) == [("d1", OCC, 0)]
    assert states(m.tick(T0 + 400_000)) == [("d1", VAC, 330_000)]
    # An occupancy object keeps the desk occupied after every motion hold ran out.
    out = m.observe("ble:A", Signal.OCCUPANCY, T0 + 500_000, True)
    out += m.observe("gpio:17", Signal.MOTION_START, T0 + 510_000)
    out += m.observe("gpio:17", Signal.MOTION_END, T0 + 511_000)
    assert states(out + m.tick(T0 + 2_000_000)) == [("d1", OCC, 500_000)]
    m.observe("ble:A", Signal.OCCUPANCY, T0 + 2_100_000, False)
    assert states(m.tick(T0 + 2_200_000)) == [("d1", VAC, 2_100_000)]


def test_desks_are_independent_and_sources_named() -> None:
    m = started(pir("gpio:17", "d1"), ble("ble:A", "d2"))
    m.observe("ble:A", Signal.OCCUPANCY, T0, True)
    out = m.tick(T0 + 3_000)
    assert out == [Change("d2", OCC, Source.BLE, T0)]
    assert m.state_of("d1") is VAC


def test_debounce_suppresses_chatter_and_keeps_the_first_instant() -> None:
    m = started(ble(), debounce_ms=2_000)
    # Flicker: on/off inside 2 s emits nothing at all.
    for t, v in ((0, True), (500, False), (900, True), (1_400, False)):
        m.observe("ble:A", Signal.OCCUPANCY, T0 + t, v)
    assert m.tick(T0 + 10_000) == []
    assert m.state_of("d1") is VAC
    # A real change that lasts is reported with the time it began, not when confirmed.
    m.observe("ble:A", Signal.OCCUPANCY, T0 + 20_000, True)
    m.observe("ble:A", Signal.OCCUPANCY, T0 + 20_700, False)
    m.observe("ble:A", Signal.OCCUPANCY, T0 + 21_000, True)
    assert m.tick(T0 + 22_999) == []  # 21 s + 2 s not reached
    assert states(m.tick(T0 + 23_000)) == [("d1", OCC, 21_000)]


def test_short_hold_gap_is_chatter() -> None:
    """Vacant for 1 s between two motions (hold boundary) is not a vacancy."""
    m = started(pir(hold_s=10))
    out = m.observe("gpio:17", Signal.MOTION_START, T0)
    out += m.observe("gpio:17", Signal.MOTION_END, T0 + 1_000)  # vacant at 11 s
    out += m.observe("gpio:17", Signal.MOTION_START, T0 + 12_000)  # back 1 s later
    out += m.observe("gpio:17", Signal.MOTION_END, T0 + 13_000)
    assert states(out + m.tick(T0 + 100_000)) == [("d1", OCC, 0), ("d1", VAC, 23_000)]


def test_readings_arriving_after_an_expired_hold_are_ordered() -> None:
    """No tick between the hold end and a new motion: the vacancy is found and emitted first."""
    m = started(pir(hold_s=10))
    m.observe("gpio:17", Signal.MOTION_START, T0)
    m.observe("gpio:17", Signal.MOTION_END, T0 + 1_000)
    out = m.observe("gpio:17", Signal.MOTION_START, T0 + 60_000)
    assert states(out) == [("d1", OCC, 0), ("d1", VAC, 11_000)]
    assert states(m.tick(T0 + 62_000)) == [("d1", OCC, 60_000)]


def test_clock_step_backwards_keeps_remaining_hold_and_order() -> None:
    m = started(pir(hold_s=600))
    m.observe("gpio:17", Signal.MOTION_START, T0 + 1_000)
    out = m.observe("gpio:17", Signal.MOTION_END, T0 + 100_000)  # 500 s of hold left at 200 s
    assert states(out + m.tick(T0 + 200_000)) == [("d1", OCC, 1_000)]
    step = -3_600_000  # NTP steps the clock back one hour at wall time T0+200 s
    assert m.tick(T0 + 200_000 + step) == []
    # 499 s later (new clock) the hold is not over; 500 s + the debounce later it is.
    assert m.tick(T0 + 200_000 + step + 499_000) == []
    assert m.tick(T0 + 200_000 + step + 501_999) == []
    out = m.tick(T0 + 200_000 + step + 502_000)
    assert len(out) == 1 and out[0].state is VAC
    # The vacancy happened at new-clock 700 s - 1 h, which is before the occupied event's
    # time; it is clamped so (ts, seq) order stays the order of events.
    assert out[0].ts_ms == T0 + 1_000


def test_clock_step_backwards_then_forward_emits_monotonic_times() -> None:
    m = started(ble())
    emitted = []
    clock = [T0 + 10_000, T0 + 5_000, T0 + 7_000, T0 + 30_000, T0 + 29_000, T0 + 60_000]
    for i, t in enumerate(clock):
        emitted += m.observe("ble:A", Signal.OCCUPANCY, t, i % 2 == 0)
        emitted += m.tick(t + 5_000)
    times = [c.ts_ms for c in emitted]
    assert times == sorted(times)
    assert [c.state for c in emitted] == [OCC, VAC, OCC, VAC, OCC, VAC]


def test_set_hold_applies_to_the_running_hold() -> None:
    m = started(pir(hold_s=600))
    m.observe("gpio:17", Signal.MOTION_START, T0)
    m.observe("gpio:17", Signal.MOTION_END, T0 + 1_000)
    m.tick(T0 + 3_000)
    m.set_hold("gpio:17", 60)
    assert m.hold_s_of("gpio:17") == 60
    assert states(m.tick(T0 + 100_000)) == [("d1", VAC, 61_000)]


def test_start_reports_initial_state_from_pins_already_high() -> None:
    m = DeskMachine([pir("gpio:17", "d1"), pir("gpio:18", "d2")])
    m.observe("gpio:17", Signal.MOTION_START, T0)
    assert m.start(T0) == [Change("d1", OCC, Source.PIR, T0), Change("d2", VAC, Source.PIR, T0)]


def test_next_due_says_when_to_look_again() -> None:
    m = started(pir(hold_s=10))
    assert m.next_due_ms() is None
    m.observe("gpio:17", Signal.MOTION_START, T0)
    assert m.next_due_ms() == T0 + 2_000
    m.tick(T0 + 2_000)
    m.observe("gpio:17", Signal.MOTION_END, T0 + 3_000)
    assert m.next_due_ms() == T0 + 13_000 + 2_000


def test_rejects_bad_setup() -> None:
    with pytest.raises(ValueError, match="configured twice"):
        DeskMachine([pir(), pir()])
    with pytest.raises(ValueError, match="hold_s"):
        DeskMachine([pir(hold_s=0)])
    m = DeskMachine([pir()])
    with pytest.raises(RuntimeError):
        m.tick(T0)


# -- unknown: silent and failing sensors (SPEC §4) ------------------------------------
UNK = DeskState.UNKNOWN


def stale_ble(
    key: str = "ble:A", desk: str = "d1", hold_s: int = 30, stale_s: int = 600
) -> SensorSpec:
    return SensorSpec(key=key, desk=desk, kind=SourceKind.BLE, hold_s=hold_s, stale_s=stale_s)


def test_silent_ble_sensor_turns_its_occupied_desk_unknown_and_is_restored_when_heard() -> None:
    m = started(stale_ble())
    m.observe("ble:A", Signal.OCCUPANCY, T0 + 1_000, True)
    assert states(m.tick(T0 + 3_000)) == [("d1", OCC, 1_000)]
    # Heard at 1 s, stale_s 600: still occupied at 600.999 s …
    assert m.tick(T0 + 600_999) == []
    # … unknown from 601 s (reported once the debounce confirmed it), not occupied for a week.
    assert states(m.tick(T0 + 603_000)) == [("d1", UNK, 601_000)]
    assert m.tick(T0 + 7 * 86_400_000) == []
    # Heard again: its reading counts again.
    m.observe("ble:A", Signal.OCCUPANCY, T0 + 7 * 86_400_000, False)
    assert states(m.tick(T0 + 7 * 86_400_000 + 2_000)) == [("d1", VAC, 7 * 86_400_000)]


def test_a_ble_sensor_never_heard_after_start_is_unknown_stale_s_after_it() -> None:
    m = started(stale_ble(stale_s=900))
    assert m.next_due_ms() == T0 + 900_000 + 2_000
    assert states(m.tick(T0 + 10_000_000)) == [("d1", UNK, 900_000)]


def test_every_reading_is_a_sign_of_life_even_motion_false() -> None:
    m = started(stale_ble(stale_s=600))
    for t in range(0, 3_600_000, 300_000):  # a "no motion" advert every 5 min
        assert m.observe("ble:A", Signal.MOTION_PULSE, T0 + t, False) == []
    assert m.tick(T0 + 3_600_000) == []
    assert m.state_of("d1") is VAC


def test_a_late_tick_reports_hold_end_then_staleness_at_their_own_times() -> None:
    m = started(stale_ble(hold_s=30, stale_s=600))
    m.observe("ble:A", Signal.MOTION_PULSE, T0, True)
    assert states(m.tick(T0 + 10_000_000)) == [
        ("d1", OCC, 0),
        ("d1", VAC, 30_000),
        ("d1", UNK, 600_000),
    ]


def test_fusion_a_sensor_that_can_tell_occupied_wins_else_unknown_wins_over_vacant() -> None:
    m = started(pir("gpio:17", "d1", hold_s=60), stale_ble("ble:A", "d1", stale_s=600))
    m.observe("gpio:17", Signal.MOTION_START, T0 + 500_000)
    assert states(m.tick(T0 + 502_000)) == [("d1", OCC, 500_000)]
    # The BLE sensor goes stale at 600 s, but the PIR's pin is high: still occupied.
    assert m.tick(T0 + 700_000) == []
    m.observe("gpio:17", Signal.MOTION_END, T0 + 800_000)
    # The PIR's hold ends at 860 s: the PIR says vacant, but the silent BLE sensor cannot
    # tell, so the desk is unknown, not vacant.
    assert states(m.tick(T0 + 900_000)) == [("d1", UNK, 860_000)]
    m.observe("ble:A", Signal.OCCUPANCY, T0 + 950_000, False)
    assert states(m.tick(T0 + 952_000)) == [("d1", VAC, 950_000)]


def test_a_pir_that_fails_to_read_is_unknown_until_read_again_without_a_hold() -> None:
    m = started(pir(hold_s=600))
    assert m.observe("gpio:17", Signal.READ_FAILED, T0 + 10_000) == []
    assert states(m.tick(T0 + 12_000)) == [("d1", UNK, 10_000)]
    assert m.tick(T0 + 86_400_000) == []  # failing is not silence: no stale_s needed
    # Read again, low: vacant at once (after the debounce), no hold of 600 s starts.
    m.observe("gpio:17", Signal.LEVEL, T0 + 86_400_000, False)
    assert states(m.tick(T0 + 86_402_000)) == [("d1", VAC, 86_400_000)]


def test_a_failed_pin_read_again_high_is_occupied() -> None:
    m = started(pir(hold_s=600))
    m.observe("gpio:17", Signal.READ_FAILED, T0 + 10_000)
    m.observe("gpio:17", Signal.LEVEL, T0 + 11_000, True)  # chatter: inside the debounce
    assert states(m.tick(T0 + 20_000)) == [("d1", OCC, 11_000)]


@pytest.mark.parametrize(
    ("signal", "value", "soon", "after_hold"),
    [
        (Signal.MOTION_START, True, OCC, OCC),  # pin high: occupied while it stays high
        (Signal.MOTION_END, True, OCC, VAC),  # pin fell: the hold runs from here
        (Signal.MOTION_PULSE, True, OCC, VAC),  # a pulse: the hold runs from here
        (Signal.MOTION_PULSE, False, VAC, VAC),  # no motion: no hold
        (Signal.OCCUPANCY, True, OCC, OCC),  # the value is the state
        (Signal.OCCUPANCY, False, VAC, VAC),
        (Signal.PRESENCE, True, OCC, OCC),
        (Signal.PRESENCE, False, VAC, VAC),
        (Signal.LEVEL, True, OCC, OCC),  # the pin's level, no hold
        (Signal.LEVEL, False, VAC, VAC),
        (Signal.READ_FAILED, True, DeskState.UNKNOWN, DeskState.UNKNOWN),
    ],
)
def test_each_signal_drives_its_source_as_the_table_says(
    signal: Signal, value: bool, soon: DeskState, after_hold: DeskState
) -> None:
    m = started(ble(hold_s=600))
    m.observe("ble:A", signal, T0 + 1_000, value)
    m.tick(T0 + 5_000)
    assert m.state_of("d1") is soon
    m.tick(T0 + 1_000 + 600_000 + 5_000)
    assert m.state_of("d1") is after_hold
