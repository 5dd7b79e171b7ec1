"""Heat networks and batteries in runs (energy_sim.profiles.assets_in_runs): hand cases, block chaining, grid effect."""

from __future__ import annotations

import copy
import textwrap

import numpy as np
import pandas as pd
import pandapower as pp
import pytest

from energy_sim.engine import _grid_connections, lv_grid_parameters
from energy_sim.grid.build import WijkSpec, build_city_grid
from energy_sim.grid.simulate import CitySolver
from energy_sim.profiles.assets_in_runs import (
    HeatNetworksInRun,
    assets_in_run,
    heat_network_model,
    peak_shaving_threshold_kw,
)
from energy_sim.profiles.heat import BuildingArchetype, load_building_archetype
from energy_sim.scenario import load_scenario
from energy_sim.scenario.schema import HeatNetwork as HeatNetworkAsset

DT_H = 0.25
DAY = 96


def _time(n_step: int, start: str = "2025-01-13") -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(start, tz="Europe/Amsterdam").tz_convert("UTC"), periods=n_step,
                         freq="15min", name="time")


def _run_heat(heat: HeatNetworksInRun, time_utc, t_amb, block_steps: int) -> np.ndarray:
    return np.vstack([heat.block(i0, time_utc[i0:i0 + block_steps], t_amb[i0:i0 + block_steps])
                      for i0 in range(0, len(time_utc), block_steps)])


# --------------------------------------------------------------------------
# heat networks


def test_heat_network_electricity_and_balance_by_hand():
    # 100 dwellings of 150 W/K, base 15.5 C, no hot water, at a constant 5 C:
    # demand 100 * 150 * 10.5 / 1000 = 157.5 kW.
    # supply temperature at 5 C: 65 + 5 * (15 - 5) / (15 + 10) = 67 C; pipe
    # loss 100 * 250 W * ((67 + 40)/2 - 10) / ((70 + 40)/2 - 10) = 25 * 43.5 / 45
    # = 24.1667 kW; heat needed 181.6667 kW: heat pumps 100 kW, e-boiler
    # 0.99 * 50 = 49.5 kW, gas 32.1667 kW.
    asset = HeatNetworkAsset(name="hand", wijk="WK016405", connected_dwellings=100, heat_pump_p_th_kw=100.0,
                             e_boiler_p_kw=50.0, gas_boiler_p_th_kw=1000.0, buffer_e_kwh=0.0)
    archetype = BuildingArchetype("hand", h_w_k=150.0, t_base_degc=15.5, dhw_kwh_per_year=0.0)
    n = 8
    heat = HeatNetworksInRun(["hand"], ["WK016405"], [heat_network_model(asset)], [archetype], [np.ones(n, bool)], DT_H)
    p_kw = heat.block(0, _time(n), np.full(n, 5.0))

    cop = 0.5 * (67.0 + 273.15) / (67.0 - 40.0)  # 6.29907
    pumps_kw = 0.01 * 157.5
    expected_kw = 100.0 / cop + 49.5 / 0.99 + pumps_kw  # = 15.8753 + 50 + 1.575 = 67.450
    np.testing.assert_allclose(p_kw[:, 0], expected_kw, rtol=1e-12)
    assert expected_kw == pytest.approx(67.450, abs=1e-3)

    table, by_source, electricity = heat.report()
    hours = n * DT_H
    np.testing.assert_allclose(by_source.loc["hand"].to_numpy() * 1000.0,
                               np.array([100.0, 49.5, 181.6666666667 - 149.5]) * hours, rtol=1e-9)
    np.testing.assert_allclose(electricity.loc["hand"].to_numpy() * 1000.0, [100.0 / cop * hours, 50.0 * hours, 0.0],
                               rtol=1e-12)
    row = table.loc["hand"]
    assert row.demand_mwh * 1000.0 == pytest.approx(157.5 * hours, rel=1e-12)
    assert row.pipe_loss_mwh * 1000.0 == pytest.approx(25.0 * 43.5 / 45.0 * hours, rel=1e-12)
    assert row.gas_mwh * 1000.0 == pytest.approx((181.6666666667 - 149.5) / 0.9 * hours, rel=1e-9)
    assert row.electricity_mwh * 1000.0 == pytest.approx(expected_kw * hours, rel=1e-12)
    assert row.unserved_mwh == 0.0
    # heat delivered = demand + losses
    assert by_source.loc["hand"].sum() == pytest.approx(row.demand_mwh + row.pipe_loss_mwh, rel=1e-12)


def _dec_like(active: np.ndarray) -> HeatNetworksInRun:
    asset = HeatNetworkAsset(name="dec", wijk="WK016405", connected_dwellings=950, heat_pump_p_th_kw=2000.0,
                             e_boiler_p_kw=500.0, gas_boiler_p_th_kw=4000.0, buffer_e_kwh=8000.0)
    return HeatNetworksInRun(["dec"], ["WK016405"], [heat_network_model(asset)],
                             [load_building_archetype("average_dwelling")], [active], DT_H)


def _cold_spell_ending(n: int) -> np.ndarray:
    """From -6 C to +8 C over the horizon with a 10 K daily swing (coldest at 03 h)."""
    hours = np.arange(n) * DT_H
    return np.linspace(-6.0, 8.0, n) + 5.0 * np.sin(2 * np.pi * (hours - 9.0) / 24.0)


def test_heat_network_buffer_chains_across_blocks_exactly():
    n = 3 * DAY
    time_utc, t_amb = _time(n), _cold_spell_ending(n)
    runs, boundaries = {}, []
    for block_steps in (n, DAY, 7):
        heat = _dec_like(np.ones(n, bool))
        p_kw = []
        for i0 in range(0, n, block_steps):
            p_kw.append(heat.block(i0, time_utc[i0:i0 + block_steps], t_amb[i0:i0 + block_steps]))
            boundaries.append(heat.e_buffer_kwh[0])
        runs[block_steps] = (np.vstack(p_kw), heat.e_buffer_kwh.copy(), heat.report())
    one_block, e_end, (table, by_source, _) = runs[n]
    # the buffer is part full at many block boundaries (the case chaining is about), and every source runs
    assert sum(0.0 < e < 8000.0 for e in boundaries) > 10
    assert (by_source.loc["dec"] > 0).all()
    for block_steps in (DAY, 7):
        p_kw, e, (t2, s2, _) = runs[block_steps]
        np.testing.assert_array_equal(p_kw, one_block)
        np.testing.assert_array_equal(e, e_end)
        np.testing.assert_allclose(s2.to_numpy(), by_source.to_numpy(), rtol=1e-12)
    # the horizon's heat balance: sources + unserved = demand + pipes + buffer loss + buffer change
    row = table.loc["dec"]
    assert row.buffer_change_mwh != 0.0
    assert by_source.loc["dec"].sum() + row.unserved_mwh == pytest.approx(
        row.demand_mwh + row.pipe_loss_mwh + row.buffer_loss_mwh + row.buffer_change_mwh, rel=1e-9)


def test_heat_network_draws_nothing_out_of_service_and_keeps_its_buffer():
    n = 2 * DAY
    active = np.arange(n) >= DAY  # commissioned on day 2
    heat = _dec_like(active)
    p_kw = _run_heat(heat, _time(n), _cold_spell_ending(n), DAY)
    assert (p_kw[:DAY] == 0).all() and (p_kw[DAY:] > 0).all()
    fresh = _dec_like(np.ones(DAY, bool))
    # day 2 starts with the untouched initial buffer: same as a fresh network on that day
    np.testing.assert_array_equal(p_kw[DAY:], fresh.block(0, _time(n)[DAY:], _cold_spell_ending(n)[DAY:]))


# --------------------------------------------------------------------------
# batteries


def test_peak_shaving_threshold_by_hand():
    # a day of 100 kW with 300 kW for 2 h (17-19 h); 400 kWh battery, 5 % floor, 0.95 discharge efficiency:
    # usable 400 * 0.95 * 0.95 = 361 kWh -> 2 h * (300 - theta) = 361 -> theta = 119.5 kW (mean 116.7 kW)
    day = np.full(DAY, 100.0)
    day[68:76] = 300.0
    assert peak_shaving_threshold_kw(day, 200.0, 361.0, DT_H) == pytest.approx(119.5, rel=1e-8)
    # power-limited: 100 kW over 2 h is only 200 kWh -> threshold 200 kW
    assert peak_shaving_threshold_kw(day, 100.0, 361.0, DT_H) == pytest.approx(200.0, rel=1e-8)
    # a battery larger than the peak: never below the day's mean
    assert peak_shaving_threshold_kw(day, 200.0, 5000.0, DT_H) == pytest.approx(day.mean(), rel=1e-12)


SCENARIO = """\
meta: {name: battery-unit}
horizon: {start: 2025-01-13, end: 2025-01-16}
wijken:
  - {code: WK016406, name: Wilderinkshoek, dwellings: 175, lon_deg: 6.7768, lat_deg: 52.2542}
assets:
  batteries:
    - {name: buurt, wijk: WK016406, p_kw: 200, e_kwh: 400, dispatch: peak_shaving}
    - {name: groot, wijk: WK016406, p_kw: 1000, e_kwh: 2000, dispatch: self_consumption}
"""


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """One generated LV grid of 175 homes with a neighbourhood battery, and an MV battery."""
    path = tmp_path_factory.mktemp("battery") / "s.yaml"
    path.write_text(textwrap.dedent(SCENARIO))
    scenario = load_scenario(path)
    lv, mv = _grid_connections(scenario)
    w = scenario.wijken[0]
    grid = build_city_grid((WijkSpec(w.code, w.name, w.dwellings, w.lon_deg, w.lat_deg),),
                           rng=np.random.default_rng(5), lv_params=lv_grid_parameters(scenario.grid),
                           lv_connections=tuple(lv), mv_connections=tuple(mv))
    conns = pd.concat([g.connections for g in grid.lv_grids[w.code]], ignore_index=True)
    home_ids = {w.code: conns.connection_id[conns.kind == "household"].tolist()}
    extra_ids = {w.code: conns.connection_id[(conns.element == "load") & (conns.kind != "household")].tolist()}
    return scenario, grid, home_ids, extra_ids


def _assets(city):
    scenario, grid, home_ids, extra_ids = city
    return assets_in_run(scenario, ["WK016406"], grid.lv_grids, home_ids, extra_ids, grid.mv.connections,
                         lambda a: np.ones(3 * DAY), DT_H)


def _constructed_days(n_home: int, n_day: int = 3):
    """Every day 100 kW, 300 kW from 17 to 19 h, spread evenly over the homes; no PV."""
    day = np.full(DAY, 100.0)
    day[68:76] = 300.0
    total = np.tile(day, n_day)
    home_p = np.repeat(total[:, None] / n_home, n_home, axis=1)
    # the wijk as a whole: 500 kW surplus for the first 2 h (self-consumption battery charges), then 300 kW
    wijk_net_mw = np.where(np.arange(len(total)) < 8, -0.5, 0.3)[:, None]
    return total, home_p, wijk_net_mw


def _run_batteries(city, block_steps: int):
    scenario, grid, home_ids, extra_ids = city
    assets = _assets(city)
    n_home = len(home_ids["WK016406"])
    total, home_p, wijk_net_mw = _constructed_days(n_home)
    n = len(total)
    time_utc = _time(n)
    extra = np.zeros((n, len(extra_ids["WK016406"])))
    mv, per_wijk = [], []
    for i0 in range(0, n, block_steps):
        s = slice(i0, i0 + block_steps)
        block_extra = {"WK016406": extra[s]}  # a view: LV batteries write into `extra`
        m, _, b = assets.block(i0, time_utc[s], np.zeros(len(time_utc[s])), {"WK016406": home_p[s]},
                               {"WK016406": np.zeros_like(home_p[s])}, block_extra, wijk_net_mw[s])
        mv.append(m)
        per_wijk.append(b)
    return assets, total, home_p, extra, np.vstack(mv), np.vstack(per_wijk)


def test_batteries_by_hand(city):
    assets, total, _, extra, mv, per_wijk = _run_batteries(city, DAY)
    column = city[3]["WK016406"].index("buurt")
    p_lv = extra[:, column]
    # day 1: nothing measured yet, the peak-shaving battery idles
    assert (p_lv[:DAY] == 0).all()
    # days 2-3: the transformer's load is held at 119.5 kW (threshold above) while the battery is not full,
    # and never exceeds it
    grid_kw = total + p_lv
    for d in (1, 2):
        day = slice(d * DAY, (d + 1) * DAY)
        assert grid_kw[day].max() == pytest.approx(119.5, rel=1e-7)
        np.testing.assert_allclose(p_lv[day][68:76], -180.5, rtol=1e-7)
    # the MV battery (self-consumption, 50 % of 2,000 kWh) takes the wijk's 500 kW surplus for 2 h, then covers
    # the 300 kW deficit; the LV battery is idle on day 1, so that is all it sees
    assert assets.mv_load_ids == ["groot"]
    np.testing.assert_allclose(mv[:8, 0], 0.5, rtol=1e-12)
    np.testing.assert_allclose(mv[8:20, 0], -0.3, rtol=1e-12)
    report = assets.batteries.report()
    # energy after the 2 h charge: 1000 + 0.95 * 500 * 2 = 1950 kWh, then 300 kW for as long as it lasts:
    # (1950 - 100) kWh * 0.95 / 300 kW = 5.858 h -> 23.43 steps: 23 full steps and a partial one
    assert report.loc["groot", "charged_mwh"] == pytest.approx(1.0, rel=1e-12)
    assert report.loc["groot", "discharged_mwh"] == pytest.approx(1.850 * 0.95, rel=1e-9)
    assert report.loc["groot", "soc_end_frac"] == pytest.approx(0.05, rel=1e-9)
    np.testing.assert_allclose(per_wijk[:, 0], p_lv / 1000.0 + mv[:, 0], rtol=1e-12)


def test_battery_state_chains_across_blocks_exactly(city):
    _, _, _, extra_one, mv_one, wijk_one = _run_batteries(city, 3 * DAY)
    for block_steps in (DAY, 7):
        assets, _, _, extra, mv, per_wijk = _run_batteries(city, block_steps)
        np.testing.assert_array_equal(extra, extra_one)
        np.testing.assert_array_equal(mv, mv_one)
        np.testing.assert_array_equal(per_wijk, wijk_one)
    assert np.abs(extra_one).max() > 0


def test_peak_shaving_battery_lowers_its_transformers_peak(city):
    scenario, grid, home_ids, extra_ids = city
    assets, total, home_p, extra, mv, _ = _run_batteries(city, 3 * DAY)
    solver = CitySolver(grid, ["WK016406"], home_ids, extra_ids, [], (0.9, 1.1), mv_load_ids=assets.mv_load_ids)
    n = len(total)
    zeros = {"WK016406": np.zeros_like(home_p)}
    kwargs = dict(home_p_kw={"WK016406": home_p}, home_q_kvar=zeros, rooftop_pv_kw=zeros,
                  mv_sgen_p_mw=np.zeros((n, 0)), time_utc=_time(n), mv_load_p_mw=mv)
    without = solver.solve_block(extra_p_kw={"WK016406": np.zeros_like(extra)}, **kwargs).trafo_loading_pct[:, 0]
    with_battery = solver.solve_block(extra_p_kw={"WK016406": extra}, **kwargs).trafo_loading_pct[:, 0]
    # one 630 kVA transformer, unity power factor: 300 kW is ~48 % (plus feeder losses)
    assert without[DAY:].max() == pytest.approx(300.0 / 630.0 * 100.0, rel=0.03)
    # with the battery the transformer carries 119.5 kW at the peak, plus the losses of the feeder that brings
    # the battery's 180.5 kW to the busbar: pandapower's runpp on the same LV net is the reference
    peak = DAY + 68
    net = copy.deepcopy(grid.lv_grids["WK016406"][0].net)
    conns = grid.lv_grids["WK016406"][0].connections.set_index("connection_id")
    net.load["p_mw"] = 0.0
    net.load["q_mvar"] = 0.0
    homes = conns[conns.kind == "household"]
    net.load.loc[homes.element_index, "p_mw"] = home_p[peak, [home_ids["WK016406"].index(h) for h in homes.index]] / 1e3
    net.load.loc[conns.at["buurt", "element_index"], "p_mw"] = extra[peak, extra_ids["WK016406"].index("buurt")] / 1e3
    net.sgen["p_mw"] = 0.0
    pp.runpp(net, numba=False)
    assert with_battery[peak] == pytest.approx(float(net.res_trafo.loading_percent.iloc[0]), abs=0.01)
    assert with_battery[DAY:].max() == pytest.approx(with_battery[peak], rel=1e-9)  # the peak is still the peak
    assert with_battery[DAY:].max() < 0.45 * without[DAY:].max()  # 48.7 % -> 21.0 %
    np.testing.assert_allclose(with_battery[:DAY], without[:DAY], rtol=1e-12)  # idle on day 1
