"""Congestion metrics on small series worked out by hand."""

import numpy as np
import pandas as pd

from energy_sim.grid.metrics import (
    congestion_events,
    energy_above_rating_mwh,
    line_rating_mva,
    overload_hours,
    voltage_violation_hours,
)

TIME = pd.date_range("2025-01-06", periods=6, freq="15min", tz="UTC")
# two elements over six quarter-hours
LOADING = np.array(
    [
        [90.0, 101.0],
        [110.0, 99.0],
        [120.0, 130.0],
        [100.0, 130.0],  # exactly 100 % is not an overload
        [105.0, 80.0],
        [80.0, 102.0],
    ]
)


def test_overload_hours():
    # element 0: steps 1, 2, 4 -> 3 quarter-hours; element 1: steps 0, 2, 3, 5 -> 4
    np.testing.assert_allclose(overload_hours(LOADING, 0.25), [0.75, 1.0])


def test_energy_above_rating():
    # element 0 (0.63 MVA): excess 10 + 20 + 5 = 35 % -> 0.35 * 0.63 MVA * 0.25 h = 0.055125 MWh
    # element 1 (0.4 MVA): excess 1 + 30 + 30 + 2 = 63 % -> 0.63 * 0.4 * 0.25 = 0.063 MWh
    np.testing.assert_allclose(energy_above_rating_mwh(LOADING, np.array([0.63, 0.4]), 0.25), [0.055125, 0.063])


def test_line_rating():
    # NAYY 4x150 SE: sqrt(3) * 0.4 kV * 0.27 kA = 0.18706 MVA
    np.testing.assert_allclose(line_rating_mva(0.4, 0.27), 0.187061, rtol=1e-5)


def test_voltage_violation_hours():
    vm = np.array([[0.95, 0.89], [1.11, 0.90], [1.0, 1.10]])
    # bus 0: 1.11 outside; bus 1: 0.89 outside (0.90 and 1.10 are inside the closed band)
    np.testing.assert_allclose(voltage_violation_hours(vm, (0.9, 1.1), 0.25), [0.25, 0.25])


def test_congestion_events_are_maximal_runs():
    events = congestion_events(LOADING, TIME, np.array(["t0", "t1"]), np.array([0.63, 0.4]))
    got = [(e.element, e.start_utc, e.end_utc, e.duration_h, e.peak_loading_pct) for e in events.itertuples()]
    t = TIME
    q = pd.Timedelta("15min")
    assert got == [
        ("t1", t[0], t[0] + q, 0.25, 101.0),
        ("t0", t[1], t[2] + q, 0.5, 120.0),
        ("t1", t[2], t[3] + q, 0.5, 130.0),
        ("t0", t[4], t[4] + q, 0.25, 105.0),
        ("t1", t[5], t[5] + q, 0.25, 102.0),
    ]
    # event t0 #1: excess 10 + 20 = 30 % of 0.63 MVA for a quarter-hour each -> 0.04725 MWh
    np.testing.assert_allclose(events.energy_above_rating_mwh[1], 0.3 * 0.63 * 0.25)
    # the events add up to the total energy above rating
    total = energy_above_rating_mwh(LOADING, np.array([0.63, 0.4]), 0.25).sum()
    np.testing.assert_allclose(events.energy_above_rating_mwh.sum(), total)


def test_no_events():
    events = congestion_events(np.full((4, 3), 50.0), TIME[:4], np.array(["a", "b", "c"]), np.ones(3))
    assert len(events) == 0


def test_accumulator_over_blocks_equals_whole_series():
    # split the hand-checked series after step 2: the t1 event of steps 2-3
    # and the t0 event of steps 1-2 straddle or touch the boundary
    from energy_sim.grid.metrics import LoadingAccumulator

    rated = np.array([0.63, 0.4])
    ids = np.array(["t0", "t1"])
    acc = LoadingAccumulator(ids, rated, 0.25)
    acc.add(LOADING[:3], TIME[:3])
    acc.add(LOADING[3:], TIME[3:])
    whole = congestion_events(LOADING, TIME, ids, rated)
    pd.testing.assert_frame_equal(acc.events(), whole, check_dtype=False)
    np.testing.assert_allclose(acc.peak_loading_pct, [120.0, 130.0])
    np.testing.assert_allclose(acc.overload_h, [0.75, 1.0])
    np.testing.assert_allclose(acc.energy_above_rating_mwh, [0.055125, 0.063])
