"""Engine wiring: MV-connected assets, commissioning dates, heat pumps."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest

import energy_sim
from energy_sim.engine import run_scenario
from energy_sim.scenario import load_scenario

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
