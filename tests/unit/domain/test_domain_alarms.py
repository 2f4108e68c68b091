"""Alarm rules: one raise and one clear per episode, hysteresis, debounce, rate of change, events, offline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from civicgrid.domain.alarms import evaluate_event, evaluate_presence, evaluate_reading
from civicgrid.profiles import AlarmTarget, Debounce, EventRule, OfflineRule, RateOfChangeRule, ThresholdRule

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
TARGET = AlarmTarget(category="E0404", urgency="B")
TILT = ThresholdRule(id="tilt", field="tilt_deg", above=15, clear_at=5, debounce=Debounce(readings=2), target=TARGET)


def run(rules, values, step=timedelta(minutes=5), field="tilt_deg"):
    states, out = {}, []
    for i, value in enumerate(values):
        states, events = evaluate_reading(tuple(rules), states, {field: value}, T0 + i * step)
        out += [(i, e.rule_id, e.action) for e in events]
    return states, out


def test_threshold_raises_after_debounce_and_clears_below_the_hysteresis_band() -> None:
    _, events = run([TILT], [3, 20, 4, 20, 25, 30, 12, 10, 4, 3, 20])
    # 20 then 4 resets the count; 20, 25 raise; 12 and 10 are inside the band; 4, 3 clear.
    assert events == [(4, "tilt", "raise"), (9, "tilt", "clear")]


def test_debounce_in_seconds_needs_the_readings_to_span_the_time() -> None:
    rule = ThresholdRule(id="gas", field="gas", above=20, clear_at=10,
                         debounce=Debounce(readings=1, seconds=120), target=TARGET)
    _, events = run([rule], [25, 26, 27, 5, 5, 5], step=timedelta(minutes=1), field="gas")
    # Clearing is debounced the same way: two minutes of low readings.
    assert events == [(2, "gas", "raise"), (5, "gas", "clear")]


def test_below_threshold_rule_for_low_battery() -> None:
    rule = ThresholdRule(id="battery", field="battery", below=20, clear_at=30, target=TARGET)
    _, events = run([rule], [50, 19, 18, 25, 31], field="battery")
    assert events == [(1, "battery", "raise"), (4, "battery", "clear")]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=90), max_size=60))
def test_raises_and_clears_alternate_whatever_the_readings(values: list[float]) -> None:
    _, events = run([TILT], values)
    actions = [a for _, _, a in events]
    assert actions == ["raise", "clear"] * (len(actions) // 2) + ["raise"] * (len(actions) % 2)


def test_rate_of_change_raises_once_and_clears_after_quiet() -> None:
    rule = RateOfChangeRule(id="surge", field="level", max_change=300, window_s=600, clear_after_s=900, target=TARGET)
    _, events = run([rule], [100, 150, 500, 900, 950, 960, 965, 970, 970, 970],
                    step=timedelta(minutes=5), field="level")
    # Violations at 10, 15 and 20 minutes; quiet for clear_after_s (15 min) after the last one.
    assert [(i, a) for i, _, a in events] == [(2, "raise"), (7, "clear")]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 1000)), min_size=1, max_size=120))
def test_rate_of_change_raises_exactly_when_the_window_s_spread_first_exceeds_the_limit(readings) -> None:
    """Against the rule's definition (max - min of the readings within window_s), re-scanned at every reading; the
    state keeps only the readings that can still be the window's max or min."""
    rule = RateOfChangeRule(id="surge", field="level", max_change=300, window_s=600, clear_after_s=10**9,
                            target=TARGET)
    states, seen, t = {}, [], 0
    first_raise, expected = None, None
    for i, (gap_s, value) in enumerate(readings):
        t += gap_s
        seen.append((t, value))
        window = [v for at, v in seen if at >= t - rule.window_s]
        if expected is None and max(window) - min(window) > rule.max_change:
            expected = i
        states, events = evaluate_reading((rule,), states, {"level": value}, T0 + timedelta(seconds=t))
        if events and first_raise is None:
            first_raise = i
        state = states["surge"]
        assert len(state["highs"]) + len(state["lows"]) <= 2 * len(window)
    assert first_raise == expected


def test_a_rate_state_written_with_its_plain_window_carries_on() -> None:
    """The state's shape before the monotonic queues: a list of every (t, value) of the window."""
    rule = RateOfChangeRule(id="surge", field="level", max_change=300, window_s=600, target=TARGET)
    now = T0.timestamp()
    old = {"surge": {"window": [[now - 500, 100.0], [now - 300, 200.0]], "active": False}}
    _, events = evaluate_reading((rule,), old, {"level": 450.0}, T0)  # 450 - 100 > 300, within the window
    assert [e.action for e in events] == ["raise"]
    _, events = evaluate_reading((rule,), old, {"level": 450.0}, T0 + timedelta(seconds=150))  # 100 has left it
    assert events == []


def test_event_rule_with_and_without_a_clear_event() -> None:
    cover = EventRule(id="opened", event_type="opened", clear_event="closed", target=TARGET)
    sos = EventRule(id="sos", event_type="sos", target=AlarmTarget(device_alarm=True))
    states, out = {}, []
    for i, kind in enumerate(["opened", "opened", "closed", "sos", "sos"]):
        states, events = evaluate_event((cover, sos), states, kind, T0 + timedelta(seconds=i))
        out += [(i, e.rule_id, e.action) for e in events]
    assert out == [(0, "opened", "raise"), (2, "opened", "clear"), (3, "sos", "raise"), (4, "sos", "raise")]


def test_offline_raises_once_and_clears_on_any_sign_of_life() -> None:
    rules = (OfflineRule(),)
    states, out = {}, []
    for i, online in enumerate([True, False, False, True, True]):
        states, events = evaluate_presence(rules, states, online, T0 + timedelta(minutes=i))
        out += [(i, e.action) for e in events]
    assert out == [(1, "raise"), (3, "clear")]


def test_episode_ids_are_stable_between_raise_and_clear() -> None:
    states, raised = evaluate_reading((TILT,), {}, {"tilt_deg": 40}, T0)
    states, raised2 = evaluate_reading((TILT,), states, {"tilt_deg": 40}, T0 + timedelta(seconds=1))
    states, cleared = evaluate_reading((TILT,), states, {"tilt_deg": 1}, T0 + timedelta(seconds=2))
    states, cleared2 = evaluate_reading((TILT,), states, {"tilt_deg": 1}, T0 + timedelta(seconds=3))
    assert raised == [] and cleared == []
    assert raised2[0].episode == cleared2[0].episode == f"tilt:{int((T0 + timedelta(seconds=1)).timestamp() * 1000)}"
