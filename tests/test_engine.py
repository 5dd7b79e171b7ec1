"""Engine wiring: MV-connected assets, commissioning dates, heat pumps."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest

import energy_sim
from energy_sim.engine import run_scenario
from energy_sim.scenario import load_scenario
from twin_runs import twin_runs

SCENARIO = """\
meta: {name: engine-test}
seed: 7
horizon: {start: 2025-06-20, end: 2025-06-23}
wijken:
  - {code: WK016407, name: Woolde, dwellings: 180, lon_deg: 6.7721, lat_deg: 52.2810,
     adoption: {pv_frac: 0.5, heat_pump_frac: 0.5}}
assets:
  solar_fields:
    - {name: veld, wijk: WK016407, p_peak_kwp: 2000, commissioned: 2025-06-22}
  wind_turbines:
    - {name: molen, wijk: WK016407, model: E-141/4200, hub_height_m: 135, commissioned: 2025-06-21}
  ev_chargers:
    - {name: remise, wijk: WK016407, kind: bus_depot, count: 10, p_kw: 150}
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("engine")
    path = folder / "s.yaml"
    path.write_text(textwrap.dedent(SCENARIO))
    run_scenario(load_scenario(path), output_dir=folder / "out", progress=False)
    return energy_sim.open_results(folder / "out" / "engine-test")


def _local_day(ds, category: str) -> pd.Series:
    p = ds.wijk_p_mw.sel(category=category).isel(wijk=0).to_series()
    p.index = p.index.tz_localize("UTC").tz_convert("Europe/Amsterdam")
    return p.groupby(p.index.date).sum() * 0.25  # MWh per local day


def test_commissioning_dates_start_production_that_day(results):
    solar = _local_day(results, "solar_field")
    wind = _local_day(results, "wind")
    days = [pd.Timestamp(d).date() for d in ("2025-06-20", "2025-06-21", "2025-06-22")]
    assert solar[days[0]] == 0.0 and solar[days[1]] == 0.0
    # 2 MWp on a June day in NL: a few MWh (0.5-16 MWh covers overcast to clear sky)
    assert -16.0 < solar[days[2]] < -0.5
    assert wind[days[0]] == 0.0
    assert wind[days[1]] < 0.0 or wind[days[2]] < 0.0  # generation is negative (load convention)


def test_heat_pumps_draw_little_in_june(results):
    hp = results.wijk_p_mw.sel(category="heat_pump")
    household = results.wijk_p_mw.sel(category="household")
    # 90 heat pumps in June make hot water only: well below the household load
    assert 0.0 < float(hp.sum()) < float(household.sum())


def test_mv_connections_are_in_the_mv_net(results):
    # the MV station sees the solar field: the station transformer is not idle at noon
    station = results.trafo_loading_pct.sel(trafo=results.trafo_level == "hv/mv")
    assert float(station.max()) > 0.0
    assert results.attrs["not_converged_steps"] == 0


def test_bus_depot_charges_overnight_on_the_mv_network(results):
    """10 buses on 150 kW depot chargers (no EV homes): two finished nights of ~230 km x 1.2 kWh/km =
    276 kWh per bus (sd 42 kWh), so 20 sessions deliver 5,520 kWh +- 4 standard errors (4 x 42 x sqrt(20)
    = 751 kWh); the depot draws at most 1.5 MW, in the evening and night only."""
    delivered = float(results.wijk_ev_delivered_kwh.sum())
    assert abs(delivered - 5520.0) < 751.0
    ev = results.wijk_p_mw.sel(category="ev").isel(wijk=0).to_series()
    assert ev.max() <= 1.5 + 1e-9
    local_hour = ev.index.tz_localize("UTC").tz_convert("Europe/Amsterdam").hour
    assert ev[(local_hour >= 8) & (local_hour < 20)].max() == 0.0
    assert ev.max() > 0.5
    # the grid carried it: MV energy of the EV category >= the finished sessions' delivery
    assert float(ev.sum()) * 0.25 * 1000.0 >= delivered - 1e-6


EV_SCENARIO = """\
meta: {name: NAME}
seed: 3
horizon: {start: 2025-01-13, end: 2025-01-17}
wijken:
  - {code: WK016406, name: Wilderinkshoek, dwellings: 175, lon_deg: 6.7768, lat_deg: 52.2542,
     adoption: {ev_frac: 1.0, heat_pump_frac: 0.3}}
grid: {trafo_type: "0.25 MVA 10/0.4 kV"}
assets:
  ev_chargers:
    - {name: publiek, wijk: WK016406, kind: public, count: 6, p_kw: 11}
policies:
  charging: smart
  congestion_manager: {enabled: MANAGED}
"""


@pytest.fixture(scope="module")
def ev_runs(tmp_path_factory):
    """The same EV-heavy wijk on an undersized transformer, manager off and on."""
    return twin_runs(tmp_path_factory, EV_SCENARIO, "ev")


def test_ev_energy_is_conserved(ev_runs):
    for ds in ev_runs.values():
        requested = float(ds.wijk_ev_requested_kwh.sum())
        delivered = float(ds.wijk_ev_delivered_kwh.sum())
        undelivered = float(ds.wijk_ev_undelivered_kwh.sum())
        assert requested > 0
        np.testing.assert_allclose(delivered + undelivered, requested, rtol=1e-9)
        # what the grid saw as EV load can only exceed the finished sessions' delivery by the
        # energy of sessions still charging at the end of the horizon
        ev_grid_kwh = float(ds.wijk_p_mw.sel(category="ev").sum()) * 0.25 * 1000.0
        assert ev_grid_kwh >= delivered - 1e-6
    # the manager changes when EVs charge, not which sessions there are
    np.testing.assert_allclose(float(ev_runs[True].wijk_ev_requested_kwh.sum()),
                               float(ev_runs[False].wijk_ev_requested_kwh.sum()), rtol=0.02)


def test_the_manager_relieves_the_overload_and_logs_it(ev_runs):
    def daily_peak(ds):
        loading = ds.trafo_loading_pct.sel(trafo=ds.trafo_level == "mv/lv").max("trafo").to_series()
        return loading.resample("1D").max().to_numpy()

    off, on = daily_peak(ev_runs[False]), daily_peak(ev_runs[True])
    # 175 homes, every home an EV, on 250 kVA: overloaded every evening without the manager
    assert (off[1:] > 100.0).all()
    # day one cannot be managed (nothing known yet); from day two the caps bite
    assert on[1:].max() < off[1:].max()
    log = ev_runs[True]
    assert log.sizes["intervention"] >= 1
    assert set(log.intervention_measure.values) == {"smart_charging"}
    assert float(log.intervention_energy_shifted_kwh.sum()) > 0.0
    assert ev_runs[False].sizes["intervention"] == 0


def test_public_charger_queues_are_reported(ev_runs):
    ds = ev_runs[False]
    assert ds.sizes["park"] >= 1
    arrived, served, balked = (int(ds[v].sum()) for v in ("park_arrived", "park_served", "park_balked"))
    assert arrived > 0 and served + balked <= arrived


def test_report_lists_the_interventions(ev_runs):
    from energy_sim.results.report import render_report

    managed = render_report(ev_runs[True])
    assert 'id="interventions-table"' in managed
    shifted = float(ev_runs[True].intervention_energy_shifted_kwh.sum())
    assert f"shifted {shifted:,.1f} kWh" in managed
    unmanaged = render_report(ev_runs[False])
    assert "The congestion manager was off" in unmanaged


PV_SCENARIO = """\
meta: {name: NAME}
seed: 5
horizon: {start: 2025-06-16, end: 2025-06-21}
wijken:
  - {code: WK016409, name: Buitengebied, dwellings: 160, lon_deg: 6.7362, lat_deg: 52.2134, pv_kwp_per_home: 9.0,
     adoption: {pv_frac: 1.0, ev_frac: 0.1}}
grid: {trafo_type: "0.4 MVA 10/0.4 kV"}
policies:
  congestion_manager: {enabled: MANAGED, measures: [curtailment]}
"""


@pytest.fixture(scope="module")
def pv_runs(tmp_path_factory):
    """160 homes with 9 kWp each on one 0.4 MVA transformer in June, manager off and on (curtailment only)."""
    return twin_runs(tmp_path_factory, PV_SCENARIO, "pv")


def test_curtailment_takes_off_what_it_logs_and_relieves_the_feed_in_overload(pv_runs):
    off, on = pv_runs[False], pv_runs[True]
    peak = lambda ds: float(ds.trafo_loading_pct.sel(trafo=ds.trafo_level == "mv/lv").max())  # noqa: E731
    # 160 x 9 kWp = 1.44 MWp behind 0.4 MVA: far above the rating on a sunny June day
    assert peak(off) > 150.0
    assert on.sizes["intervention"] >= 1 and set(on.intervention_measure.values) == {"curtailment"}
    # the same weather and homes: what the log says was curtailed is exactly the rooftop PV lost
    pv_lost_kwh = (float(on.wijk_p_mw.sel(category="rooftop_pv").sum())
                   - float(off.wijk_p_mw.sel(category="rooftop_pv").sum())) * 0.25 * 1000.0
    np.testing.assert_allclose(float(on.intervention_energy_shifted_kwh.sum()), pv_lost_kwh, rtol=1e-6)
    assert pv_lost_kwh > 0.0
    # from the second day (the first is unforeseen) the transformer stays near its rating
    loading = on.trafo_loading_pct.sel(trafo=on.trafo_level == "mv/lv").max("trafo").to_series()
    assert loading["2025-06-17":].max() < 0.8 * peak(off)


def test_stations_in_the_scenario_feed_the_substations_nearest_to_them(tmp_path):
    # Woolde's substations lie within ~1 km of its centre: all of them go to "Woolde" at the centre, none to
    # "Ver weg" ~11 km to the east (0.16 deg of longitude at 52.3 N), whose transformers carry only no-load current
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(SCENARIO).replace("horizon: {start: 2025-06-20, end: 2025-06-23}",
                                                      "horizon: {start: 2025-06-22, end: 2025-06-23}")
                    + "grid:\n  stations:\n    - {name: Woolde, lon_deg: 6.7721, lat_deg: 52.2810}\n"
                      "    - {name: Ver weg, lon_deg: 6.9321, lat_deg: 52.2810}\n")
    run_scenario(load_scenario(path), output_dir=tmp_path / "out", progress=False)
    ds = energy_sim.open_results(tmp_path / "out" / "engine-test")
    station = ds.trafo_peak_loading_pct.where(ds.trafo_level == "hv/mv", drop=True)
    assert sorted(station.trafo.values.tolist()) == ["Ver weg 110/10 kV", "Woolde 110/10 kV"]
    assert float(station.sel(trafo="Woolde 110/10 kV")) > 1.0  # homes, a 2 MWp field, a turbine and a depot
    assert float(station.sel(trafo="Ver weg 110/10 kV")) < 0.5
