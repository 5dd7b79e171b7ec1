"""Heat networks and batteries in real runs: the smoke scenario extended with both."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import energy_sim
from energy_sim.engine import NOT_YET_SIMULATED, run_scenario
from energy_sim.profiles.homes import wijk_homes
from energy_sim.scenario import load_scenario

SCENARIO = Path(__file__).parent / "scenarios" / "smoke-heat-battery.yaml"
DT_H = 0.25


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The scenario as shipped, and a twin whose batteries are commissioned after the horizon."""
    folder = tmp_path_factory.mktemp("heat-battery")
    scenario = load_scenario(SCENARIO)
    batteries = [b.model_copy(update={"commissioned": scenario.horizon.end.date()}) for b in scenario.assets.batteries]
    twin = scenario.model_copy(update={
        "meta": scenario.meta.model_copy(update={"name": "without-batteries"}),
        "assets": scenario.assets.model_copy(update={"batteries": batteries}),
    })
    out = {}
    for s in (scenario, twin):
        run_scenario(s, output_dir=folder, progress=False)
        out[s.meta.name] = energy_sim.open_results(folder / s.meta.name)
    return out["smoke-heat-battery"], out["without-batteries"]


def test_heat_network_draws_electricity_in_the_results(runs):
    ds, _ = runs
    p_mw = ds.wijk_p_mw.sel(category="heat_network", wijk="WK016405")
    assert float(p_mw.min()) > 0.0  # a January week: the plant runs all the time
    e_mwh = float(ds.wijk_e_mwh.sel(category="heat_network", wijk="WK016405"))
    assert e_mwh == pytest.approx(float(p_mw.sum()) * DT_H, rel=1e-6)  # series are float32
    assert e_mwh == pytest.approx(float(ds.heat_network_electricity_mwh.sel(heat_network="warmtenet test")), rel=1e-9)
    assert ds.attrs["not_converged_steps"] == 0
    assert not any("heat networks" in n for n in NOT_YET_SIMULATED)


def test_heat_network_heat_balance_in_the_run(runs):
    ds, _ = runs
    net = ds.sel(heat_network="warmtenet test")
    heat = net.heat_network_heat_mwh
    # demand of 100 average dwellings in a January week: ~145 W/K * ~12 K + hot water ~ 2 kW each -> ~34 MWh
    assert 20.0 < float(net.heat_network_demand_mwh) < 50.0
    # 150 kW of heat pumps cannot carry ~200 kW: every source runs, and nothing is left unserved
    assert (heat > 0).all() and float(net.heat_network_unserved_mwh) == 0.0
    # heat from the sources = demand + pipe losses + what went into the buffer (and its standing loss)
    np.testing.assert_allclose(
        float(heat.sum()),
        float(net.heat_network_demand_mwh + net.heat_network_pipe_loss_mwh + net.heat_network_buffer_loss_mwh
              + net.heat_network_buffer_change_mwh), rtol=1e-9)
    # electricity = heat-pump and e-boiler electricity + pumps; the e-boiler's is its heat / 0.99
    electricity = net.heat_network_source_electricity_mwh
    np.testing.assert_allclose(float(electricity.sel(heat_source="e_boiler")),
                               float(heat.sel(heat_source="e_boiler")) / 0.99, rtol=1e-12)
    np.testing.assert_allclose(float(electricity.sum() + net.heat_network_pump_mwh),
                               float(net.heat_network_electricity_mwh), rtol=1e-12)
    # heat pumps lifting 40 C to a 65-70 C supply at half the Carnot COP: their mean COP lies between
    # 0.5 * 343.15 / 30 = 5.72 (70 C, at or below -10 C) and 0.5 * 338.15 / 25 = 6.76 (65 C, at or above 15 C)
    cop = float(heat.sel(heat_source="residual_heat_pump") / electricity.sel(heat_source="residual_heat_pump"))
    assert 0.5 * 343.15 / 30.0 - 1e-9 <= cop <= 0.5 * 338.15 / 25.0 + 1e-9
    np.testing.assert_allclose(float(net.heat_network_gas_mwh), float(heat.sel(heat_source="gas_peak_boiler")) / 0.9,
                               rtol=1e-12)


def test_batteries_in_the_results(runs):
    ds, twin = runs
    b = ds.battery_charged_mwh.to_series(), ds.battery_discharged_mwh.to_series()
    assert (b[1] > 0).all()  # both batteries deliver energy in the week
    # the battery category is their power: its energy is charged minus discharged
    battery_mwh = float(ds.wijk_e_mwh.sel(category="battery", wijk="WK016405"))
    assert battery_mwh == pytest.approx(float(b[0].sum() - b[1].sum()), rel=1e-9, abs=1e-9)
    assert set(ds.battery_level.values) == {"lv", "mv"}
    assert float(np.abs(twin.wijk_p_mw.sel(category="battery")).max()) == 0.0


def test_neighbourhood_battery_lowers_its_transformers_peak(runs):
    ds, twin = runs
    # the twin has the same grid and the same loads, only the batteries never run
    home = [str(t) for t in ds.trafo.values if str(t).startswith("WK016405/MSR")]
    after_day_one = slice(ds.time.values[96], None)
    peaks = {t: (float(ds.trafo_loading_pct.sel(trafo=t, time=after_day_one).max()),
                 float(twin.trafo_loading_pct.sel(trafo=t, time=after_day_one).max())) for t in home}
    # the transformer of the battery's LV grid is lowered clearly (by a few per cent in this week's draw
    # of the household load), the other one not at all: an LV grid's loading does not depend on another
    # grid's load
    lowered = [t for t, (with_battery, without) in peaks.items() if with_battery < 0.98 * without]
    assert len(lowered) == 1, peaks
    for t in set(home) - set(lowered):
        assert peaks[t][0] == pytest.approx(peaks[t][1], rel=1e-6), peaks
    day_one = slice(None, ds.time.values[95])
    np.testing.assert_allclose(ds.trafo_loading_pct.sel(time=day_one, trafo=home),
                               twin.trafo_loading_pct.sel(time=day_one, trafo=home), rtol=1e-6)  # idle on day one


def test_homes_on_a_heat_network_get_no_heat_pumps():
    scenario = load_scenario(SCENARIO)
    w = scenario.wijken[0].model_copy(update={"adoption": scenario.wijken[0].adoption.model_copy(
        update={"heat_pump_frac": 0.4, "hybrid_heat_pump_frac": 0.2})})
    ids = [f"h{i}" for i in range(350)]
    homes = wijk_homes(w, 0, ids, seed=1, n_on_heat_network=100)
    all_electric, hybrid = (g.columns for g in homes.heat_pumps)
    # the shares stay shares of all 350 dwellings, drawn from the 250 not on the network
    assert (len(all_electric), len(hybrid)) == (140, 70)
    assert np.concatenate([all_electric, hybrid]).min() >= 100
    assert not set(all_electric) & set(hybrid)
    # the whole wijk on heat: no heat pumps at all
    assert wijk_homes(w, 0, ids, seed=1, n_on_heat_network=350).heat_pumps == []
