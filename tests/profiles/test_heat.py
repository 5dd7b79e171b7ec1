"""Tests for energy_sim.profiles.heat.

Synthetic climate used for annual figures (no dependency on the weather
module): T(t) = 9.8 - 7.3 cos(2 pi (d - 15)/365) + 3 cos(2 pi (h - 15)/24)
[degC], d days since 1 Jan, h hour of day: annual mean 9.8 degC (De Bilt
normal, hengelo.md), coldest mid-January (mean 2.5), daily swing +-3 K; it
gives ~3,020 K.d on base 18 degC, close to the De Bilt normal of ~2,900-3,000.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_sim.profiles.heat import (
    HeatPump,
    dhw_heat_kw,
    dhw_shape,
    heat_pump_cop,
    heat_pump_electric_kw,
    load_building_archetype,
    load_heat_pump,
    space_heat_kw,
    supply_temperature_degc,
)

YEAR = pd.date_range("2025-01-01", periods=35040, freq="15min", tz="UTC")


def synthetic_year_degc() -> np.ndarray:
    t_h = np.arange(35040) * 0.25
    return 9.8 - 7.3 * np.cos(2 * np.pi * (t_h / 24 - 15) / 365) + 3.0 * np.cos(2 * np.pi * ((t_h % 24) - 15) / 24)


def cold_day_degc(mean_degc: float = -4.0) -> np.ndarray:
    t_h = np.arange(96) * 0.25
    return mean_degc + 3.0 * np.cos(2 * np.pi * (t_h - 15) / 24)


def test_synthetic_climate_is_as_documented():
    t = synthetic_year_degc()
    assert abs(t.mean() - 9.8) < 0.01
    kd_18 = np.maximum(18 - t, 0).sum() * 0.25 / 24
    assert 2800 < kd_18 < 3200


def test_space_heat_by_hand():
    # 145 W/K * (15.5 - 5.5) K = 1,450 W; above base: nothing
    q = space_heat_kw(np.array([5.5, 20.0, -10.0]), [145.0, 100.0], [15.5, 14.5])
    assert q.shape == (3, 2)
    np.testing.assert_allclose(q[:, 0], [1.45, 0.0, 145 * 25.5 / 1000])
    np.testing.assert_allclose(q[:, 1], [0.9, 0.0, 100 * 24.5 / 1000])


def test_cop_staffell_by_hand():
    # dT = 40 K: 6.81 - 0.121*40 + 0.00063*1600 = 2.978
    # dT = 10 K is held at 15 K: 6.81 - 1.815 + 0.14175 = 5.13675
    np.testing.assert_allclose(heat_pump_cop([5.0, 25.0], [45.0, 35.0]), [2.978, 5.13675])


def test_heating_curve_by_hand():
    hp = load_heat_pump("air_source_8kw")
    # 55 C at -10, 35 C at the 15.5 C base, halfway (2.75 C) 45 C
    np.testing.assert_allclose(supply_temperature_degc([-10.0, 15.5, 2.75, 20.0, -20.0], hp), [55, 35, 45, 35, 55])


def test_capacity_limit_and_backup_by_hand():
    hp = load_heat_pump("air_source_8kw")
    # at -7 C: 8 kW * (1 - 0.018 * 14) = 5.984 kW from the heat pump; 10 kW
    # demand leaves 4.016 kW to the 6 kW element; 14 kW leaves 2.016 kW unserved
    r = heat_pump_electric_kw(np.array([[10.0, 14.0]]), np.array([-7.0]), hp)
    np.testing.assert_allclose(r.q_heat_pump_kw, [[5.984, 5.984]])
    np.testing.assert_allclose(r.p_backup_kw, [[4.016, 6.0]])
    np.testing.assert_allclose(r.q_unserved_kw, [[0.0, 2.016]], atol=1e-12)
    # compressor: supply at -7 C = 35 + 20 * 22.5/25.5 = 52.647 C, dT = 59.647 K
    dt = 59.647058823529
    cop = 6.81 - 0.121 * dt + 0.00063 * dt * dt
    np.testing.assert_allclose(r.p_compressor_kw, [[5.984 / cop] * 2], rtol=1e-9)


def test_hybrid_switches_to_boiler_when_cold():
    hp = load_heat_pump("hybrid_4kw")
    r = heat_pump_electric_kw(np.array([[3.0], [3.0]]), np.array([0.0, 5.0]), hp, dhw_kw=0.5)
    # 0 C < 2 C switch: boiler takes 3 + 0.5 kW; gas = 3.5 / 0.9
    assert r.p_compressor_kw[0, 0] == 0.0
    np.testing.assert_allclose(r.q_boiler_kw[0, 0], 3.5)
    np.testing.assert_allclose(r.p_gas_kw[0, 0], 3.5 / 0.9)
    # 5 C: heat pump takes the space heat (capacity 4*(1-0.018*2)=3.856 kW), boiler the DHW
    np.testing.assert_allclose(r.q_heat_pump_kw[1, 0], 3.0)
    np.testing.assert_allclose(r.q_boiler_kw[1, 0], 0.5)


def test_dhw_shape_daily_and_annual_mean():
    shape = dhw_shape(YEAR)
    assert abs(shape.mean() - 1.0) < 0.005
    day = dhw_shape(pd.date_range("2025-04-10", periods=96, freq="15min", tz="Europe/Amsterdam").tz_convert("UTC"))
    # April 10 is near the seasonal zero crossing: daily mean 1 +- 0.1 cos(...)
    season = 1 + 0.1 * np.cos(2 * np.pi * (100 - 15) / 365.2425)
    assert abs(day.mean() - season) < 1e-3
    e = dhw_heat_kw(YEAR, [2000.0, 1500.0]).sum(axis=0) * 0.25
    np.testing.assert_allclose(e, [2000.0, 1500.0], rtol=0.005)


def test_unknown_catalogue_names_suggest():
    with pytest.raises(KeyError, match="air_source_8kw"):
        load_heat_pump("air_source_8")
    with pytest.raises(KeyError, match="terraced_pre1975"):
        load_building_archetype("terraced_pre1974")


def _annual(archetype: str, heat_pump: str):
    a = load_building_archetype(archetype)
    t = synthetic_year_degc()
    q = space_heat_kw(t, a.h_w_k, a.t_base_degc)
    r = heat_pump_electric_kw(q, t, heat_pump, dhw_kw=dhw_heat_kw(YEAR, a.dhw_kwh_per_year), t_base_degc=a.t_base_degc)
    return q, r


def test_all_electric_annual_use_typical_home():
    q, r = _annual("average_dwelling", "air_source_8kw")
    e_kwh = r.p_electric_kw.sum() * 0.25
    # hengelo.md: all-electric ~3,200 kWh/yr; tolerance +-10 %
    assert 2880 <= e_kwh <= 3520
    assert r.q_unserved_kw.max() < 1e-9
    # seasonal performance factor of an ASHP on 55/35 radiators: 2.5-3.5
    spf = (q.sum() * 0.25 + 2000) / e_kwh
    assert 2.5 < spf < 3.5


def test_all_electric_cold_day_average():
    a = load_building_archetype("average_dwelling")
    t = cold_day_degc(-4.0)
    idx = YEAR[:96]
    r = heat_pump_electric_kw(
        space_heat_kw(t, a.h_w_k, a.t_base_degc), t, "air_source_8kw",
        dhw_kw=dhw_heat_kw(idx, a.dhw_kwh_per_year), t_base_degc=a.t_base_degc,
    )
    # hengelo.md: 1.25-2.9 kW average on a -4 C day
    assert 1.25 <= r.p_electric_kw.mean() <= 2.9


def test_hybrid_annual_use_typical_home():
    _, r = _annual("average_dwelling", "hybrid_4kw")
    e_kwh = r.p_electric_kw.sum() * 0.25
    # hengelo.md: hybrid ~1,900 kWh/yr; tolerance +-15 %
    assert 1615 <= e_kwh <= 2185
    gas_m3 = r.p_gas_kw.sum() * 0.25 / 9.77  # 35.17 MJ/m3 upper value
    assert 250 < gas_m3 < 800


def test_renovation_and_newbuild_use_less_heat():
    t = synthetic_year_degc()
    e = {
        name: space_heat_kw(t, load_building_archetype(name).h_w_k, load_building_archetype(name).t_base_degc).sum()
        for name in ["detached_pre1975", "terraced_pre1975", "terraced_renovated", "new_build_2021"]
    }
    assert e["detached_pre1975"] > e["terraced_pre1975"] > e["terraced_renovated"] > e["new_build_2021"]


@settings(max_examples=200, deadline=None)
@given(
    t_source=st.floats(-30.0, 40.0),
    lift=st.floats(0.5, 80.0),
)
def test_cop_between_one_and_carnot(t_source, lift):
    t_sink = t_source + lift
    cop = float(heat_pump_cop(t_source, t_sink))
    carnot = (t_sink + 273.15) / lift
    assert 1.0 <= cop < carnot


@settings(max_examples=100, deadline=None)
@given(
    q=st.lists(st.floats(0.0, 30.0), min_size=1, max_size=20),
    t=st.floats(-25.0, 25.0),
    dhw=st.floats(0.0, 5.0),
    kind=st.sampled_from(["air_source_8kw", "hybrid_4kw"]),
)
def test_heat_balance_and_limits(q, t, dhw, kind):
    hp: HeatPump = load_heat_pump(kind)
    demand = np.array(q)[None, :]
    r = heat_pump_electric_kw(demand, np.array([t]), hp, dhw_kw=dhw)
    supplied = r.q_heat_pump_kw + r.q_backup_kw + r.q_boiler_kw + r.q_unserved_kw
    np.testing.assert_allclose(supplied, demand + dhw, atol=1e-9)
    cap = hp.p_heat_nom_kw * max(hp.capacity_min_frac, 1 - hp.capacity_slope_per_k * (hp.t_rated_degc - t))
    assert np.all(r.q_heat_pump_kw <= cap + 1e-9)
    assert np.all(r.p_backup_kw <= hp.p_backup_max_kw + 1e-9)
    for arr in (r.p_compressor_kw, r.p_backup_kw, r.q_boiler_kw, r.q_unserved_kw):
        assert np.all(arr >= -1e-12)
    on = r.p_compressor_kw > 1e-9
    # the heat pump's effective COP: above 1, below the COP at 15 K lift (5.14)
    eff = r.q_heat_pump_kw[on] / r.p_compressor_kw[on]
    assert np.all((eff > 1.0) & (eff < 5.14))
