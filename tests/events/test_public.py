"""Public charger parks: a hand-checked queue and the day-by-day arrival process."""

import numpy as np
import simpy

from energy_sim.events.fleet import Fleet, VehicleClass
from energy_sim.events.public import ChargerPark, arrive, park_arrivals
from energy_sim.events.sessions import PUBLIC


def _car(env, park, arrival_s, duration_s, e_wish_kwh=10.0):
    yield env.timeout(arrival_s)
    arrive(env, park, duration_s, e_wish_kwh, 60.0, 11.0)


def test_one_point_three_cars_by_hand():
    """1 point, patience 3200 s. Car A: 0 s for 3600 s; B: 600 s for 1800 s; C: 1200 s for 1800 s.

    A plugs in at once (wait 0) and leaves at 3600. B waits from 600; its
    patience would run out at 3800 > 3600, so it plugs in at 3600 (wait 3000)
    and leaves at 5400. C waits from 1200; its patience runs out at 4400,
    before the point frees at 5400: C leaves without charging after 3200 s.
    """
    env = simpy.Environment()
    park = ChargerPark(env, "test", first_column=7, n_point=1, p_kw=11.0, patience_s=3200.0)
    for arrival_s, duration_s in ((0.0, 3600.0), (600.0, 1800.0), (1200.0, 1800.0)):
        env.process(_car(env, park, arrival_s, duration_s))
    env.run(until=4000.0)
    assert (park.stats.arrived, park.stats.served, park.stats.balked) == (3, 2, 0)  # C still waiting
    env.run(until=10_000.0)
    assert (park.stats.arrived, park.stats.served, park.stats.balked) == (3, 2, 1)
    assert park.stats.wait_served_s == [0.0, 3000.0]
    started = park.take_started()
    np.testing.assert_array_equal(started.column, [7, 7])
    np.testing.assert_array_equal(started.arrival_s, [0.0, 3600.0])
    np.testing.assert_array_equal(started.departure_s, [3600.0, 5400.0])
    # 10 kWh wished; fits in the dwell at 11 kW (11 and 5.5 kWh possible)
    np.testing.assert_array_equal(started.e_request_kwh, [10.0, 5.5])
    assert len(park.take_started()) == 0  # handed out once


def test_two_points_no_wait_and_energy_limited_by_dwell():
    env = simpy.Environment()
    park = ChargerPark(env, "two", first_column=0, n_point=2, p_kw=7.4, patience_s=60.0)
    env.process(_car(env, park, 0.0, 1800.0, e_wish_kwh=30.0))
    env.process(_car(env, park, 10.0, 7200.0, e_wish_kwh=30.0))
    env.process(_car(env, park, 20.0, 600.0))  # both points taken until 1800: leaves at 80 s
    env.run(until=8000.0)
    s = park.take_started()
    assert sorted(s.column.tolist()) == [0, 1]
    # min(30 kWh, 60 kWh battery, 7.4 kW x dwell): 3.7 and 14.8 kWh
    np.testing.assert_allclose(s.e_request_kwh, [3.7, 14.8])
    np.testing.assert_allclose(s.p_max_kw, [7.4, 7.4])
    assert park.stats.balked == 1


def test_arrivals_follow_the_rate_and_peaks():
    """A year of arrivals at 100 points: ~1.5 sessions per point and day (PUBLIC.sessions_per_day)."""
    env = simpy.Environment()
    parks = [ChargerPark(env, f"p{i}", 10 * i, 10, 11.0) for i in range(10)]
    days = np.arange(365) * 86_400.0
    env.process(park_arrivals(env, parks, days, np.random.default_rng(3), Fleet((VehicleClass("x", 60.0, 11.0, 1.0),))))
    env.run(until=365 * 86_400.0)
    arrived = sum(p.stats.arrived for p in parks)
    expected = 1.5 * 100 * 365  # Poisson mean; sd = sqrt(54750) = 234
    assert abs(arrived - expected) < 5 * np.sqrt(expected)
    starts = np.concatenate([p.take_started().arrival_s for p in parks])
    hour = (starts % 86_400.0) // 3600
    counts = np.bincount(hour.astype(int), minlength=24)
    # peaks at 09:00 and 18:15 (hengelo.md): the busiest hours are around them
    assert counts[8:10].sum() > counts[3:5].sum() * 5 and counts[17:20].sum() > counts[12:15].sum()
    assert PUBLIC.sessions_per_day == 1.5
