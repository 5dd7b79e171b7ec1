"""Profile kernels (energy_sim.profiles): one benchmark per kernel, a year at 15 min.

Run with ``make bench`` (table) or ``make bench-check`` (gate); see
benchmarks/README.md. Sizes are a full year of quarter-hours (35,136 steps)
except where labelled as a slice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness import measure
from energy_sim.profiles import storage
from energy_sim.profiles.heat import heat_pump_electric_kw, space_heat_kw
from energy_sim.profiles.heat_network import heat_network_dispatch, hengelo_dec_network
from energy_sim.profiles.household import household_load_kw, household_traits
from energy_sim.profiles.solar import pv_ac_power_kw, rooftop_pv_kw_per_kwp
from energy_sim.profiles.storage import battery_dispatch, home_batteries
from energy_sim.profiles.weather import synthetic_weather
from energy_sim.profiles.wind import air_density_kg_m3, hub_height_wind_m_s, load_turbine_catalogue, wind_turbine_power_kw

SEED = 20250106
#: One substation's worth of homes (~175 per 630 kVA transformer, Dutch practice; grid/build.py).
N_HOMES = 175


@pytest.fixture(scope="module")
def year():
    return pd.date_range("2025-01-01", "2026-01-01", freq="15min", tz="UTC", inclusive="left")


@pytest.fixture(scope="module")
def weather(year):
    return synthetic_weather(year, seed=SEED)


def test_synthetic_weather(benchmark, year):
    w = measure(benchmark, lambda: synthetic_weather(year, seed=SEED), steps=len(year), stage="profiles")
    assert np.isfinite(w.ghi_w_m2).all()


def test_rooftop_pv_kw_per_kwp(benchmark, weather):
    p = measure(benchmark, lambda: rooftop_pv_kw_per_kwp(weather), steps=len(weather.time_utc),
                stage="profiles", label="6 orientations")
    assert 0.0 <= p.max() <= 1.0


def test_pv_ac_power_kw(benchmark, weather):
    # 24 systems (solar fields, large roofs) with 24 distinct orientations,
    # so no orientation shares irradiance work with another.
    tilt = np.linspace(10.0, 45.0, 24)
    azimuth = np.linspace(90.0, 270.0, 24)
    p = measure(benchmark, lambda: pv_ac_power_kw(weather, p_peak_kwp=1000.0, surface_tilt_deg=tilt,
                                                  surface_azimuth_deg=azimuth),
                steps=len(weather.time_utc), stage="profiles", label="24 systems")
    assert p.shape == (len(weather.time_utc), 24)


def test_wind_turbine_power_kw(benchmark, weather):
    turbines = list(load_turbine_catalogue().values())
    hub_m = np.array([100.0, 120.0, 135.0, 150.0])

    def run():
        # 4 catalogue types x 4 hub heights x 2 parks = 32 turbines, density-corrected
        out = []
        for turbine in turbines:
            v = hub_height_wind_m_s(weather.wind_speed_10m_m_s[:, None], hub_m[None, :])
            rho = air_density_kg_m3(weather.t_amb_degc[:, None], weather.pressure_pa[:, None], hub_m[None, :])
            out.append(wind_turbine_power_kw(np.hstack([v, 0.9 * v]), turbine, air_density_kg_m3=np.hstack([rho, rho])))
        return np.hstack(out)

    p = measure(benchmark, run, steps=len(weather.time_utc), stage="profiles", label="32 turbines")
    assert p.shape[1] == 8 * len(turbines)


def test_household_load_kw(benchmark, year, slowdown):
    annual = np.random.default_rng([SEED, 5]).lognormal(np.log(2900.0), 0.35, N_HOMES)
    traits = household_traits(N_HOMES, rng=np.random.default_rng([SEED, 3]), common_seed=SEED)
    p = measure(benchmark, lambda: household_load_kw(year, annual, rng=np.random.default_rng([SEED, 4]), traits=traits),
                steps=len(year), stage="profiles", label=f"{N_HOMES} homes",
                repeat=slowdown.repeat("household_load_kw"))
    assert p.shape == (len(year), N_HOMES)


def test_heat_pump_electric_kw(benchmark, weather):
    h_w_k = np.random.default_rng([SEED, 6]).lognormal(np.log(150.0), 0.25, N_HOMES)
    space = space_heat_kw(weather.t_amb_degc, h_w_k, 15.5)
    r = measure(benchmark, lambda: heat_pump_electric_kw(space, weather.t_amb_degc, "air_source_8kw", dhw_kw=0.3),
                steps=len(weather.time_utc), stage="profiles", label=f"{N_HOMES} homes")
    assert np.isfinite(r.p_electric_kw).all()


def test_heat_network_dispatch(benchmark, weather):
    network = hengelo_dec_network(950)
    demand = space_heat_kw(weather.t_amb_degc, np.full(950, 150.0), 15.5).sum(axis=1) * 1.0
    r = measure(benchmark, lambda: heat_network_dispatch(demand, weather.t_amb_degc, network),
                steps=len(weather.time_utc), stage="profiles", number=20,
                label="DEC Zuid, 950 connections; 20 calls per round")
    assert np.isfinite(r.p_electric_kw).all()


def test_battery_dispatch(benchmark, weather, slowdown, monkeypatch):
    n_battery = 48
    rng = np.random.default_rng([SEED, 7])
    net_load_kw = rng.normal(0.3, 1.5, (len(weather.time_utc), n_battery))
    fleet = home_batteries(n_battery)
    if slowdown.python("battery_dispatch"):
        # the demonstration of the gate: the numba kernel replaced by its pure-Python loop
        monkeypatch.setattr(storage, "_battery_kernel", storage._battery_kernel.py_func)
    r = measure(benchmark, lambda: battery_dispatch(net_load_kw, fleet), steps=len(weather.time_utc),
                stage="profiles", label=f"{n_battery} home batteries",
                repeat=slowdown.repeat("battery_dispatch"))
    assert (r.soc_frac >= 0.0).all()
