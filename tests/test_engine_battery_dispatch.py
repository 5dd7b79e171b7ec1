"""battery_dispatch in a real run: an LV battery on an overloaded transformer, manager instructing it or not.

175 homes, 60 % with an EV, on one 250 kVA transformer in a January week:
well above the rating every evening. A 200 kW / 800 kWh self-consumption
battery sits on the LV grid. On its own it empties on the first morning (no
surplus to charge from in January) and never helps again; instructed by the
manager it peak-shaves to 0.97 x 250 kW from the second day (the first
cannot be planned: nothing is known yet).
"""

import numpy as np
import pytest

import energy_sim
from twin_runs import twin_runs

SCENARIO = """\
meta: {name: NAME}
seed: 3
horizon: {start: 2025-01-13, end: 2025-01-17}
wijken:
  - {code: WK016406, name: Wilderinkshoek, dwellings: 175, lon_deg: 6.7768, lat_deg: 52.2542,
     adoption: {ev_frac: 0.6, heat_pump_frac: 0.3}}
grid: {trafo_type: "0.25 MVA 10/0.4 kV"}
assets:
  batteries:
    - {name: buurtbatterij, wijk: WK016406, p_kw: 200, e_kwh: 800, dispatch: self_consumption}
policies:
  congestion_manager: {enabled: MANAGED, measures: [battery_dispatch]}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return twin_runs(tmp_path_factory, SCENARIO, "battery")


def _daily_peak(ds):
    loading = ds.trafo_loading_pct.sel(trafo=ds.trafo_level == "mv/lv").max("trafo").to_series()
    return loading.resample("1D").max().to_numpy()


def test_instructed_battery_lowers_the_peak_and_the_log_says_what_it_shaved(runs):
    off, on = runs[False], runs[True]
    assert (_daily_peak(off)[1:] > 100.0).all()
    assert _daily_peak(on)[1:].max() < _daily_peak(off)[1:].max()
    # from the second local day the battery holds the transformer at the target, up to the grid's losses
    # and the reactive power the limit's 0.97 leaves for (a few per cent at most)
    assert _daily_peak(on)[2:].max() < 103.0
    assert off.sizes["intervention"] == 0
    assert on.sizes["intervention"] >= 1 and set(on.intervention_measure.values) == {"battery_dispatch"}
    shaved_kwh = float(on.intervention_energy_shifted_kwh.sum())
    # what was shaved is battery discharge, so at most all the battery discharged
    discharged_kwh = float(on.battery_discharged_mwh.sum()) * 1000.0
    assert 0.0 < shaved_kwh <= discharged_kwh + 1e-6
    # the battery's energy balance: the battery category is its power (charged - discharged)
    battery_mwh = float(on.wijk_e_mwh.sel(category="battery").sum())
    charged_mwh = float(on.battery_charged_mwh.sum())
    assert battery_mwh == pytest.approx(charged_mwh - discharged_kwh / 1000.0, rel=1e-9, abs=1e-9)
    # stored energy: 50 % of 800 kWh at the start; eta 0.95 each way (BatteryFleet defaults)
    e_end_kwh = float(on.battery_soc_end_frac.sum()) * 800.0
    assert e_end_kwh - 400.0 == pytest.approx(0.95 * charged_mwh * 1000.0 - discharged_kwh / 0.95, rel=1e-9)
