"""Tests of energy_sim.profiles.wind (catalogue, hub wind, density, turbine power)."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from energy_sim.profiles.weather import synthetic_weather
from energy_sim.profiles.wind import (
    TurbineType,
    air_density_kg_m3,
    hub_height_wind_m_s,
    load_turbine_catalogue,
    wind_turbine_power_kw,
)

CATALOGUE = load_turbine_catalogue()


def test_catalogue_has_documented_modern_turbines():
    assert len(CATALOGUE) >= 3
    for key, t in CATALOGUE.items():
        assert isinstance(t, TurbineType) and t.key == key
        assert 3000.0 <= t.rated_power_kw <= 6000.0
        assert 100.0 <= t.rotor_diameter_m <= 160.0
        assert max(t.hub_heights_m) >= 130.0  # modern hubs for a 140 m study
        assert "OEP" in t.source or "manufacturer" in t.source.lower()
        assert t.power_kw.max() == pytest.approx(t.rated_power_kw)
        assert 150.0 < t.specific_power_w_m2 < 400.0
    assert sum(t.rated_power_kw >= 4000.0 for t in CATALOGUE.values()) >= 2
    # spot values from the OEP turbine library (windpowerlib oedb/power_curves.csv,
    # row E-141/4200): 2,867 kW at 9 m/s and 3,481 kW at 10 m/s
    e141 = CATALOGUE["E-141/4200"]
    assert e141.power_kw[list(e141.wind_speed_m_s).index(9.0)] == 2867.0
    assert e141.rotor_diameter_m == 141.0 and e141.rated_power_kw == 4200.0


def test_catalogue_returns_fresh_dict():
    a = load_turbine_catalogue()
    a.pop("E-141/4200")
    assert "E-141/4200" in load_turbine_catalogue()


def test_hub_height_power_law():
    # 5 m/s at 10 m, α = 0.2, 160 m: 5 × 16^0.2 = 5 × 1.741101 = 8.70551 m/s
    assert hub_height_wind_m_s(np.array([5.0]), 160.0)[0] == pytest.approx(8.70551, rel=1e-5)
    # α = 1/7 to 100 m: 10^(1/7) = 1.389495
    assert hub_height_wind_m_s(1.0, 100.0, shear_exponent=1 / 7) == pytest.approx(1.389495, rel=1e-6)
    # broadcasting over hub heights
    assert hub_height_wind_m_s(np.ones((4, 1)), np.array([10.0, 100.0])).shape == (4, 2)


def test_air_density_standard_atmosphere():
    # ISO 2533 sea level: 101,325 Pa / (287.05 J/(kg K) × 288.15 K) = 1.22501 kg/m³
    assert air_density_kg_m3(15.0, 101_325.0, 0.0) == pytest.approx(1.22501, rel=1e-5)
    # 140 m above: ISA tables give 1.2133 kg/m³ at 100 m and 1.2075 at 150 m, i.e.
    # 1.2087 at 140 m by interpolation; the hypsometric calculation by hand gives
    # T = 287.24 K, p = 99,654.4 Pa, ρ = 1.20863 kg/m³
    assert air_density_kg_m3(15.0, 101_325.0, 140.0) == pytest.approx(1.2087, abs=4e-4)
    # colder air is denser: -10 °C at 101,325 Pa, ground: 101325 / (287.05 × 263.15) = 1.34138
    assert air_density_kg_m3(-10.0, 101_325.0, 0.0) == pytest.approx(1.34138, rel=1e-5)


def test_power_curve_interpolation_density_and_cut_out():
    t = CATALOGUE["E-141/4200"]
    # on curve points at standard density, full availability
    np.testing.assert_allclose(wind_turbine_power_kw(np.array([8.0, 9.0, 14.0]), t, availability_frac=1.0),
                               [2151.0, 2867.0, 4200.0])
    # halfway between 9 and 10 m/s: (2867 + 3481) / 2 = 3174 kW; × 0.97 availability = 3078.78
    assert wind_turbine_power_kw(9.5, t) == pytest.approx(3174.0 * 0.97)
    # IEC 61400-12-1: v_n = v (ρ/1.225)^(1/3); ρ = 1.225 × (9/8)³ = 1.744189 turns 8 m/s into 9 m/s
    p = wind_turbine_power_kw(8.0, t, air_density_kg_m3=1.744189453125, availability_frac=1.0)
    assert p == pytest.approx(2867.0)
    # thin air lowers output: ρ = 1.225 × (7/8)³ = 0.820654 turns 8 m/s into 7 m/s -> 1,471 kW
    p = wind_turbine_power_kw(8.0, t, air_density_kg_m3=0.820654296875, availability_frac=1.0)
    assert p == pytest.approx(1471.0)
    # cut-out at 25 m/s: rated at 25, nothing above
    np.testing.assert_allclose(wind_turbine_power_kw(np.array([25.0, 25.01, 30.0]), t, availability_frac=1.0),
                               [4200.0, 0.0, 0.0])
    # E-126 EP4 cut-in 3 m/s: nothing at 2.9 m/s, 58 kW at 3 m/s
    t126 = CATALOGUE["E-126/4200"]
    np.testing.assert_allclose(wind_turbine_power_kw(np.array([2.9, 3.0]), t126, availability_frac=1.0), [0.0, 58.0])


@settings(max_examples=50, deadline=None)
@given(
    key=st.sampled_from(sorted(CATALOGUE)),
    v=hnp.arrays(np.float64, st.integers(1, 50), elements=st.floats(0.0, 40.0)),
    rho=st.floats(0.9, 1.45),
    avail=st.floats(0.0, 1.0),
)
def test_turbine_power_bounds(key, v, rho, avail):
    t = CATALOGUE[key]
    p = wind_turbine_power_kw(v, t, air_density_kg_m3=rho, availability_frac=avail)
    assert p.shape == v.shape
    assert np.all(p >= 0.0) and np.all(p <= t.rated_power_kw * avail * (1 + 1e-12))
    assert np.all(p[v < t.cut_in_m_s] == 0.0)  # zero below cut-in
    assert np.all(p[v > t.cut_out_m_s] == 0.0)  # zero above cut-out
    # non-decreasing in wind speed while running
    grid = np.linspace(t.cut_in_m_s, t.cut_out_m_s, 200)
    assert np.all(np.diff(wind_turbine_power_kw(grid, t, air_density_kg_m3=rho)) >= -1e-9)


def test_capacity_factor_at_140m_in_default_weather():
    time = pd.date_range("2025-01-01", "2026-01-01", freq="1h", inclusive="left", tz="UTC")
    w = synthetic_weather(time, seed=0)
    cf = {}
    for key, hub_m in (("E-141/4200", 135.0), ("E-126/4200", 135.0), ("N131/3600", 134.0)):
        t = CATALOGUE[key]
        v = hub_height_wind_m_s(w.wind_speed_10m_m_s, hub_m)
        rho = air_density_kg_m3(w.t_amb_degc, w.pressure_pa, hub_m)
        cf[key] = wind_turbine_power_kw(v, t, air_density_kg_m3=rho).mean() / t.rated_power_kw
    # Plausible range: the Dutch onshore fleet (older, higher specific power, lower
    # hubs, after wakes and curtailment) averages ~25-30 % (CBS StatLine, "Hernieuwbare
    # elektriciteit; productie en vermogen"); new low-specific-power turbines on 130+ m
    # towers reach 30-40 % gross (IRENA, Renewable Power Generation Costs in 2023:
    # global weighted-average capacity factor of new onshore wind ~36 %).  These are
    # gross of wake losses (5-10 %), so the upper bound is 42 %.
    for key, value in cf.items():
        assert 0.28 <= value <= 0.42, (key, value)
    # lower specific power -> higher capacity factor (E-141: 269 W/m², E-126: 331 W/m²)
    assert cf["E-141/4200"] > cf["E-126/4200"]


def test_turbine_type_rejects_bad_curve():
    t = CATALOGUE["E-141/4200"]
    with pytest.raises(ValueError, match="strictly increasing"):
        dataclasses.replace(t, wind_speed_m_s=t.wind_speed_m_s[::-1].copy())
    with pytest.raises(ValueError, match="rated_power_kw"):
        dataclasses.replace(t, power_kw=t.power_kw * 2)
