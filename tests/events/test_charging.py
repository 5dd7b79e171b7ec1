"""Sessions -> power arrays: hand cases per policy, carry-over at midnight, conservation, caps."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_sim.events.charging import ChargingPolicy, ChargingState, effective_start_s
from energy_sim.events.sessions import Sessions

DT_S = 900.0
DAY_S = 86_400.0
H = 3600.0


def _state(policy, n_column=1, group=None, n_group=1, **kw):
    group = np.zeros(n_column, dtype=int) if group is None else np.asarray(group)
    return ChargingState(group, n_group, policy, day_start_s=np.arange(5) * DAY_S, keep_finished=True, **kw)


def _one(column, arrival_h, departure_h, e_kwh, p_kw):
    return Sessions(np.array([column]), np.array([arrival_h * H]), np.array([departure_h * H]),
                    np.array([e_kwh]), np.array([p_kw]))


def test_uncontrolled_by_hand():
    """18:00, 11 kW, 20 kWh: steps 72-78 at 11 kW (7 x 2.75 = 19.25 kWh), step 79 the last 0.75 kWh = 3 kW."""
    s = _state(ChargingPolicy.uncontrolled)
    s.add(_one(0, 18.0, 30.0, 20.0, 11.0))
    p = s.run_block(0.0, 96, DT_S).p_kw[:, 0]
    expected = np.zeros(96)
    expected[72:79] = 11.0
    expected[79] = 3.0
    np.testing.assert_allclose(p, expected, atol=1e-12)


def test_session_across_midnight_carries_over():
    """23:30, 11 kW, 11 kWh: 5.5 kWh before midnight (steps 94, 95), 5.5 kWh after (steps 0, 1 of day 2)."""
    s = _state(ChargingPolicy.uncontrolled)
    s.add(_one(0, 23.5, 31.0, 11.0, 11.0))
    day1 = s.run_block(0.0, 96, DT_S).p_kw[:, 0]
    assert s.n_open == 1
    day2 = s.run_block(DAY_S, 96, DT_S).p_kw[:, 0]
    np.testing.assert_allclose(day1[94:], 11.0)
    np.testing.assert_allclose(day1[:94], 0.0)
    np.testing.assert_allclose(day2[:2], 11.0)
    np.testing.assert_allclose(day2[2:], 0.0)
    assert s.n_open == 0
    assert s.totals()["delivered_kwh"][0] == pytest.approx(11.0)


def test_off_peak_waits_until_23h_and_finishes_next_day():
    """18:00-07:00, 20 kWh at 11 kW, off-peak from 23:00: 11 kWh on steps 92-95, then 8.25 + 0.75 kWh."""
    s = _state(ChargingPolicy.off_peak, off_peak_start_h=23.0, off_peak_end_h=7.0)
    s.add(_one(0, 18.0, 31.0, 20.0, 11.0))
    day1 = s.run_block(0.0, 96, DT_S).p_kw[:, 0]
    day2 = s.run_block(DAY_S, 96, DT_S).p_kw[:, 0]
    np.testing.assert_allclose(day1[92:], 11.0)
    np.testing.assert_allclose(day1[:92], 0.0)
    np.testing.assert_allclose(day2[:3], 11.0)
    assert day2[3] == pytest.approx(3.0)
    np.testing.assert_allclose(day2[4:], 0.0)


def test_off_peak_starts_early_enough_to_finish_by_departure():
    """Leaving at 23:30 with 11 kWh at 11 kW: start at 22:30 (not 23:00), steps 90-93."""
    start = effective_start_s([18 * H], [23.5 * H], [11.0], [11.0], np.arange(2) * DAY_S, "off_peak")
    assert start[0] == 22.5 * H
    # arriving inside the window (01:00) starts at once
    assert effective_start_s([25 * H], [31 * H], [5.0], [11.0], np.arange(2) * DAY_S, "off_peak")[0] == 25 * H


def test_smart_cap_shares_and_meets_departures():
    """Two cars from 00:00 under an 11 kW group cap; A leaves at 02:00, B at 10:00, both want 11 kWh.

    The cap gives 2.75 kWh per step. Nothing is urgent at first, so the cap
    is shared equally: 1.375 kWh each per step (5.5 kW). At step 7 (01:45)
    A has 1.375 kWh left and no time after it: that is its mandatory energy,
    served first; B gets the remaining 1.375 kWh. Both are full at 02:00.
    """
    s = _state(ChargingPolicy.smart, n_column=2)
    s.add(Sessions(np.array([0, 1]), np.zeros(2), np.array([2 * H, 10 * H]), np.array([11.0, 11.0]),
                   np.array([11.0, 11.0])))
    p = s.run_block(0.0, 96, DT_S, cap_kw=np.full((96, 1), 11.0)).p_kw
    np.testing.assert_allclose(p[:8], 5.5)
    np.testing.assert_allclose(p[8:], 0.0)


def test_smart_cap_too_low_reports_undelivered():
    """Cap 4 kW for 2 h, one car wanting 11 kWh: 8 kWh delivered, 3 kWh undelivered."""
    s = _state(ChargingPolicy.smart)
    s.add(_one(0, 0.0, 2.0, 11.0, 11.0))
    p = s.run_block(0.0, 96, DT_S, cap_kw=np.full((96, 1), 4.0)).p_kw[:, 0]
    np.testing.assert_allclose(p[:8], 4.0)
    t = s.totals()
    assert t["delivered_kwh"][0] == pytest.approx(8.0)
    assert t["undelivered_kwh"][0] == pytest.approx(3.0)
    assert t["requested_kwh"][0] == pytest.approx(11.0)


@st.composite
def _sessions(draw):
    n = draw(st.integers(1, 12))
    arrival_h = np.array(draw(st.lists(st.floats(0, 40), min_size=n, max_size=n)))
    dwell_h = np.array(draw(st.lists(st.floats(0.05, 20), min_size=n, max_size=n)))
    e_kwh = np.array(draw(st.lists(st.floats(0, 60), min_size=n, max_size=n)))
    p_kw = np.array(draw(st.lists(st.sampled_from([3.7, 7.4, 11.0, 22.0]), min_size=n, max_size=n)))
    column = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    cap = draw(st.floats(0.0, 40.0))
    policy = draw(st.sampled_from(list(ChargingPolicy)))
    return Sessions(column, arrival_h * H, (arrival_h + dwell_h) * H, e_kwh, p_kw), cap, policy


@settings(max_examples=60, deadline=None)
@given(_sessions())
def test_conservation_limits_and_caps(case):
    """Per session delivered + undelivered = requested; power within p_max, dwell and group cap."""
    sessions, cap, policy = case
    group = np.array([0, 0, 1, 1])
    s = ChargingState(group, 2, policy, day_start_s=np.arange(4) * DAY_S, keep_finished=True)
    s.add(sessions)
    cap_kw = np.array([[cap, np.inf]]).repeat(96, axis=0)
    power = np.vstack([s.run_block(b * DAY_S, 96, DT_S, cap_kw=cap_kw).p_kw for b in range(3)])
    assert s.n_open == 0
    t = s.totals()
    np.testing.assert_allclose(t["delivered_kwh"] + t["undelivered_kwh"], t["requested_kwh"], rtol=1e-12, atol=1e-9)
    assert t["requested_kwh"].sum() == pytest.approx(sessions.e_request_kwh.sum())
    assert (t["undelivered_kwh"] >= -1e-12).all()
    # energy in the arrays equals the energy delivered
    assert power.sum() * DT_S / H == pytest.approx(t["delivered_kwh"].sum(), abs=1e-6)
    # group 0 never above its cap; group 1 (no cap) delivers everything (dwell limits are the caller's job)
    assert (power[:, :2].sum(axis=1) <= cap + 1e-9).all()
    # a column never above the sum of its sessions' p_max, nor outside their dwell
    t0 = DT_S * np.arange(len(power))
    for c in range(4):
        mine = sessions.column == c
        inside = ((t0[:, None] + DT_S > sessions.arrival_s[mine]) & (t0[:, None] < sessions.departure_s[mine]))
        limit = (inside * sessions.p_max_kw[mine]).sum(axis=1)
        assert (power[:, c] <= limit + 1e-9).all()
