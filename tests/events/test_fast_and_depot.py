"""Fast (DC) charging plazas, electric bus depots, staggered off-peak starts and weekday factors."""

import numpy as np
import pytest
import simpy

from energy_sim.events import EvSimulation, ParkSpec, SessionKind
from energy_sim.events.charging import effective_start_s
from energy_sim.events.public import ChargerPark, arrive
from energy_sim.events.sessions import DepotTimetable, draw_depot_day
from energy_sim.events.simulation import DepotSpec

DT_S = 900.0
DAY_S = 86_400.0
H = 3600.0


def test_dc_point_power_follows_the_battery_not_the_on_board_charger():
    """A 150 kW DC point: a 40 kWh car draws 1.2 C = 48 kW, a 100 kWh car 120 kW; a 50 kW point caps a
    77 kWh car (92.4 kW) at 50 kW. The 7.4 kW on-board AC charger plays no part. 30 min at 48 kW is at
    most 24 kWh; the 100 kWh car gets its 30 kWh wish."""
    env = simpy.Environment()
    park = ChargerPark(env, "plaza", 0, 2, 150.0, dc=True)
    arrive(env, park, 1800.0, 30.0, 40.0, 7.4)
    arrive(env, park, 1800.0, 30.0, 100.0, 7.4)
    s = park.take_started()
    np.testing.assert_allclose(s.p_max_kw, [48.0, 120.0])
    np.testing.assert_allclose(s.e_request_kwh, [24.0, 30.0])
    small = ChargerPark(env, "town", 5, 1, 50.0, dc=True)
    arrive(env, small, 1800.0, 30.0, 77.0, 11.0)
    assert small.take_started().p_max_kw[0] == 50.0
    ac = ChargerPark(env, "street", 10, 1, 22.0)
    arrive(env, ac, 1800.0, 30.0, 40.0, 7.4)
    assert ac.take_started().p_max_kw[0] == 7.4


def test_depot_day_by_hand():
    """No spread in the timetable: back at 22:30, out at 05:30 (7 h), 200 km x 1.2 kWh/km = 240 kWh,
    within the 400 kWh battery and 7 h x 150 kW; a 30 kW charger can give only 7 h x 30 = 210 kWh."""
    t = DepotTimetable(arrival_sd_h=0.0, departure_sd_h=0.0, km_per_day_mean=200.0, km_per_day_sd=0.0)
    s = draw_depot_day(DAY_S, 3, 150.0, np.random.default_rng(0), t)
    np.testing.assert_array_equal(s.column, [0, 1, 2])
    np.testing.assert_allclose(s.arrival_s, DAY_S + 22.5 * H)
    np.testing.assert_allclose(s.departure_s, 2 * DAY_S + 5.5 * H)
    np.testing.assert_allclose(s.e_request_kwh, 240.0)
    weak = draw_depot_day(0.0, 1, 30.0, np.random.default_rng(0), t)
    assert weak.e_request_kwh[0] == pytest.approx(210.0)


def _sim(parks=(), depots=(), policy="uncontrolled", day_factor=None, n_day=8, seed=5):
    days = np.arange(n_day) * DAY_S
    return EvSimulation(days, np.zeros(0, dtype=int), list(parks), ["g0", "g1"], np.random.default_rng(seed),
                        policy=policy, depots=list(depots), day_factor=day_factor, keep_finished=True)


def _run(sim, n_day, block_steps=96):
    out = [sim.step_block(i0 * DT_S, block_steps, DT_S).public_kw for i0 in range(0, n_day * 96, block_steps)]
    return np.vstack(out)


def test_bus_depot_charges_overnight_and_delivers_the_timetable_energy():
    """10 buses, 150 kW chargers, 7 days: uncontrolled charging starts on return (~22:30) and is over
    before the morning; each night asks ~230 km x 1.2 kWh/km = 276 kWh per bus (sd 42 kWh), all delivered
    (7 h x 150 kW = 1050 kWh >> 276 kWh)."""
    sim = _sim(depots=[DepotSpec("remise", 1, 10, 150.0)], n_day=8)
    p = _run(sim, 8)
    assert p.shape == (8 * 96, 10)
    hour = (np.arange(len(p)) * DT_S / H) % 24
    fleet_kw = p.sum(axis=1)
    assert fleet_kw[(hour >= 8) & (hour < 20)].max() == 0.0  # no charging during the day's service
    assert fleet_kw.max() <= 1500.0 + 1e-9  # ten chargers of 150 kW
    # buses back at 22:30 (sd 45 min) need ~1.8 h at full power: the fleet peaks late evening
    peak_hour = hour[np.argmax(fleet_kw)]
    assert peak_hour >= 21.0 or peak_hour < 1.0
    r = sim.report()
    e = r.energy_by_group.loc["g1"]
    assert r.depot_sessions == 80
    assert e.undelivered_kwh == pytest.approx(0.0, abs=1e-9)
    per_session = e.requested_kwh / e.sessions
    # mean of ~70 finished sessions of N(276, 42) clipped by nothing: within 4 standard errors
    assert abs(per_session - 276.0) < 4 * 42.0 / np.sqrt(e.sessions)


def test_fast_plaza_sessions_are_short_and_in_daytime():
    """4 DC points of 150 kW at 6 sessions a day each: ~24 arrivals a day, median stay 30 min; the
    plaza draws during the day and (almost) nothing between 01:00 and 05:00."""
    sim = _sim(parks=[ParkSpec("plaza", 0, 4, p_kw=150.0, kind="fast")], n_day=8)
    p = _run(sim, 8)
    q = sim.report().queues.loc["plaza"]
    assert 0.7 * 24 * 8 < q.arrived < 1.3 * 24 * 8
    assert q.arrived == q.served + q.balked
    hour = (np.arange(len(p)) * DT_S / H) % 24
    plaza_kw = p.sum(axis=1)
    assert plaza_kw[(hour >= 1) & (hour < 5)].sum() < 0.02 * plaza_kw.sum()
    assert plaza_kw.max() <= 4 * 150.0 + 1e-9
    finished = [s for s, _ in sim.state.finished]
    stay_h = np.concatenate([s.departure_s - s.arrival_s for s in finished]) / H
    assert 0.4 < np.median(stay_h) < 0.6


def test_off_peak_starts_are_staggered_over_the_spread():
    """Five cars arriving at 18:00 with off-peak from 23:00 and a 2 h spread start at
    23:00 + frac(k * 0.618...) * 2 h for keys k = 0..4 (hand values below), never after the latest
    start that still finishes (car 4 must leave at 07:00 with 66 kWh at 11 kW: 01:00)."""
    n = 5
    start = effective_start_s(np.full(n, 18 * H), np.full(n, 31 * H), [5, 5, 5, 5, 66.0], np.full(n, 11.0),
                              np.arange(2) * DAY_S, "off_peak", off_peak_spread_h=2.0, stagger_key=np.arange(n))
    frac = np.array([0.0, 0.6180339887, 0.2360679775, 0.8541019662, 0.4721359550])
    expected_h = 23.0 + 2.0 * frac
    expected_h[4] = min(expected_h[4], 31.0 - 6.0)  # 66 kWh / 11 kW = 6 h before 07:00
    np.testing.assert_allclose(start / H, expected_h, atol=1e-9)


def test_workplace_weekend_factor_scales_the_days_sessions():
    """Day factors 1 on days 0-4 and 0.2 on days 5-6: 20 workplace points at 1 session a day give ~100
    arrivals on the weekdays and ~8 on the weekend."""
    factor = np.array([1, 1, 1, 1, 1, 0.2, 0.2])
    sim = _sim(parks=[ParkSpec("office", 0, 20, kind=SessionKind.workplace)], n_day=7,
               day_factor={SessionKind.workplace: factor})
    _run(sim, 7)
    arrivals = np.concatenate([s.arrival_s for s, _ in sim.state.finished] +
                              [sim.state._open.arrival_s])
    weekday = np.count_nonzero(arrivals < 5 * DAY_S)
    weekend = np.count_nonzero(arrivals >= 5 * DAY_S)
    assert 70 < weekday < 130  # Poisson(100): +-3 sd
    assert weekend < 18  # Poisson(8): +3.5 sd
