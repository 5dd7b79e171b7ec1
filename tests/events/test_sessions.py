"""Session distributions against the ElaadNL-derived figures of hengelo.md, and the vehicle mix."""

import numpy as np
import pytest

from energy_sim.events.fleet import load_ev_fleet
from energy_sim.events.sessions import HOME, PUBLIC, WORKPLACE, draw_home_day, draw_session_parameters, draw_time_of_day_s

N = 200_000


def _hour_of_peak(profile, rng):
    t_h = draw_time_of_day_s(profile.arrival, N, rng) / 3600.0
    counts, edges = np.histogram(t_h, bins=96, range=(0, 24))  # quarter-hours
    return edges[np.argmax(np.convolve(counts, np.ones(5) / 5, mode="same"))]


def test_arrival_peaks_match_hengelo_md():
    rng = np.random.default_rng(1)
    assert _hour_of_peak(HOME, rng) == pytest.approx(18.25, abs=0.5)       # home peak 18:15
    assert _hour_of_peak(WORKPLACE, rng) == pytest.approx(8.75, abs=0.5)   # workplace peak 08:45
    t_h = draw_time_of_day_s(PUBLIC.arrival, N, rng) / 3600.0
    morning = np.histogram(t_h[t_h < 13], bins=52, range=(0, 13))
    evening = np.histogram(t_h[t_h >= 13], bins=44, range=(13, 24))
    assert morning[1][np.argmax(morning[0])] == pytest.approx(9.0, abs=0.5)  # public peaks 09:00 and 18:15
    assert evening[1][np.argmax(evening[0])] == pytest.approx(18.25, abs=0.5)
    # about one third of (public) sessions start 17-21 h; analytic mixture value 0.31
    share = np.mean((t_h >= 17) & (t_h < 21))
    assert 0.28 < share < 0.36


def test_duration_and_energy_medians():
    rng = np.random.default_rng(2)
    duration_s, e_kwh = draw_session_parameters(PUBLIC, N, rng)
    assert np.median(duration_s) / 3600 == pytest.approx(4.0, rel=0.02)   # median connection ~4 h
    assert np.median(e_kwh) == pytest.approx(7.0, rel=0.02)               # median ~7 kWh
    duration_s, _ = draw_session_parameters(HOME, N, rng)
    assert 11.0 <= np.median(duration_s) / 3600 <= 12.0                     # home connected ~11-12 h


def test_home_day_respects_battery_dwell_and_busy_evs():
    rng = np.random.default_rng(3)
    n = 20_000
    battery = np.full(n, 40.0)
    p_max = np.full(n, 3.7)  # slow charger: 3.7 kW x ~11.5 h = ~42 kWh can fit, battery 40 kWh
    busy = np.full(n, -np.inf)
    busy[: n // 2] = 2 * 86_400.0  # half still connected for the whole day
    s = draw_home_day(86_400.0, busy, battery, p_max, rng)
    assert (s.column >= n // 2).all()
    assert len(s) == pytest.approx(HOME.sessions_per_day * n / 2, rel=0.05)
    assert (s.e_request_kwh <= 40.0).all()
    assert (s.e_request_kwh <= p_max[s.column] * (s.departure_s - s.arrival_s) / 3600 + 1e-9).all()
    assert (s.arrival_s >= 86_400.0).all() and (s.arrival_s < 2 * 86_400.0).all()
    np.testing.assert_array_equal(busy[s.column], s.departure_s)


def test_fleet_file_is_consistent():
    fleet = load_ev_fleet()
    assert sum(c.share_frac for c in fleet.classes) == pytest.approx(1.0)
    assert all(c.source for c in fleet.classes)
    battery, ac = fleet.draw(100_000, np.random.default_rng(4))
    expected_mean = sum(c.share_frac * c.battery_kwh for c in fleet.classes)
    assert battery.mean() == pytest.approx(expected_mean, rel=0.01)
    assert set(np.unique(ac)) <= {7.4, 11.0}
