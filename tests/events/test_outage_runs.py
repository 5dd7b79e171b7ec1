"""The scenario's ``outages`` section: validation before the run, and a short run that applies them.

Expected lines are counted by hand in the YAML text (line 1 is the first line of the text).
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest

import energy_sim
from energy_sim.engine import RunError, run_scenario
from energy_sim.scenario import load_scenario, validate_file
from energy_sim.scenario.schema import Scenario

BASE = """\
meta: {name: outage-test}
seed: 11
horizon: {start: 2025-01-15, end: 2025-01-16}
wijken:
  - {code: WK016400, name: Binnenstad, dwellings: 330, lon_deg: 6.7952, lat_deg: 52.2637}
  - {code: WK016405, name: Berflo Es, dwellings: 160, lon_deg: 6.8006, lat_deg: 52.2530}
  - {code: WK016409, name: Buitengebied, dwellings: 100, lon_deg: 6.7362, lat_deg: 52.2134, simulate: false}
assets:
  wind_turbines:
    - {name: molen, wijk: WK016400, model: E-141/4200, hub_height_m: 135}
"""


def write(folder, text: str):
    path = folder / "s.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(tmp_path, outages: str):
    _, problems = validate_file(write(tmp_path, BASE + outages))
    return {(p.line, p.path, p.rule): p for p in problems}


def test_a_valid_outages_section(tmp_path):
    scenario, problems = validate_file(write(tmp_path, BASE + """\
outages:
  random:
    enabled: true
    mv_lv_transformer: {failures_per_year: 0.01}
    mv_cable: {enabled: false}
  planned:
    - {name: N-1 cable, kind: mv_cable, element: WK016400/MSR02, start: 2025-01-15 06:00, end: 2025-01-15 18:00}
    - {kind: mv_cable, element: WK016400/MSR01, start: 2025-01-15, end: 2025-01-16, restore: false}
    - {kind: mv_lv_transformer, element: WK016405/MSR01, start: 2025-01-15 08:00, end: 2025-01-15 12:00}
    - {kind: wind_turbine, element: molen, start: 2025-01-15 12:00, end: 2025-01-15 14:00}
"""))
    assert problems == []
    assert scenario.outages.random.mv_lv_transformer.failures_per_year == 0.01
    assert [p.kind.value for p in scenario.outages.planned] == ["mv_cable", "mv_cable", "mv_lv_transformer",
                                                                "wind_turbine"]


def test_bad_elements_are_reported_with_line_and_reason(tmp_path):
    found = problems_of(tmp_path, """\
outages:
  planned:
    - {kind: mv_cable, element: WK016400/MSR03, start: 2025-01-15 06:00, end: 2025-01-15 18:00}
    - {kind: mv_lv_transformer, element: WK016409/MSR01, start: 2025-01-15 06:00, end: 2025-01-15 18:00}
    - {kind: wind_turbine, element: moln, start: 2025-01-15 06:00, end: 2025-01-15 18:00}
    - {kind: solar_field, element: molen, start: 2025-01-15 06:00, end: 2025-01-15 18:00}
""")
    assert set(found) == {
        (13, "outages.planned[0].element", "unknown_reference"),
        (14, "outages.planned[1].element", "unknown_reference"),
        (15, "outages.planned[2].element", "unknown_reference"),
        (16, "outages.planned[3].element", "unknown_reference"),
    }
    # 330 dwellings at 175 homes per transformer: 2 substations
    assert "WK016400/MSR01 to WK016400/MSR02" in found[(13, "outages.planned[0].element", "unknown_reference")].message
    assert "simulate: false" in found[(14, "outages.planned[1].element", "unknown_reference")].message
    assert "did you mean 'molen'?" in found[(15, "outages.planned[2].element", "unknown_reference")].message
    assert "none in this scenario" in found[(16, "outages.planned[3].element", "unknown_reference")].message
    text = str(found[(13, "outages.planned[0].element", "unknown_reference")])
    assert text.startswith(f"{tmp_path / 's.yaml'}:13  outages.planned[0].element is not a known MV/LV substation")
    assert text.endswith("(got 'WK016400/MSR03')  [unknown_reference]")


def test_substation_count_follows_the_grid_section(tmp_path):
    # 330 dwellings at 110 homes per transformer: 3 substations, so MSR03 exists
    text = BASE.replace("seed: 11\n", "seed: 11\ngrid: {homes_per_trafo: 110}\n") + """\
outages:
  planned:
    - {kind: mv_lv_transformer, element: WK016400/MSR03, start: 2025-01-15 06:00, end: 2025-01-15 18:00}
"""
    _, problems = validate_file(write(tmp_path, text))
    assert problems == []


def test_window_and_rate_rules(tmp_path):
    found = problems_of(tmp_path, """\
outages:
  random: {enabled: true, wind_turbine: {failures_per_year: -2}, mv_cable: {switching_h: 200}}
  planed: []
  planned:
    - {kind: mv_lv_transformer, element: WK016405/MSR01, start: 2025-01-15 18:00, end: 2025-01-15 06:00}
    - {kind: mv_lv_transformer, element: WK016405/MSR01, start: 2025-01-15 06:00, end: 2025-01-15 07:00, restore: true}
    - {kind: mv_fuse, element: WK016405/MSR01, start: 2025-01-15 06:00, end: 2025-01-15 07:00}
""")
    assert set(found) == {
        (12, "outages.random.wind_turbine.failures_per_year", "greater_than"),
        (12, "outages.random.mv_cable.switching_h", "less_than_equal"),
        (13, "outages.planed", "unknown_key"),
        (15, "outages.planned[0]", "end_before_start"),
        (16, "outages.planned[1]", "restore_not_applicable"),
        (17, "outages.planned[2].kind", "one_of"),
    }
    assert "did you mean 'planned'?" in found[(13, "outages.planed", "unknown_key")].message


def test_an_element_the_built_grid_lacks_stops_the_run_before_the_first_block(tmp_path):
    """Validation checks references; the engine checks again after building (e.g. a Scenario made in code)."""
    scenario = load_scenario(write(tmp_path, BASE))
    data = scenario.model_dump()
    data["outages"] = {"planned": [{"kind": "mv_cable", "element": "WK016405/MSR02", "start": "2025-01-15T06:00",
                                    "end": "2025-01-15T07:00"}]}
    unchecked = Scenario.model_validate(data)  # no validation context: references not checked
    with pytest.raises(RunError) as info:
        run_scenario(unchecked, output_dir=tmp_path / "out", progress=False)
    assert info.value.exit_status == 2
    assert str(info.value) == ("outages.planned[0].element is not in the grid built for this run (got 'WK016405/MSR02'); "
                               "mv_cable elements: WK016400/MSR01, WK016400/MSR02, WK016405/MSR01  [unknown_reference]")
    assert not (tmp_path / "out" / "outage-test" / "results.nc").exists()


RUN = BASE + """\
outages:
  planned:
    - {name: no switching, kind: mv_cable, element: WK016400/MSR02, start: 2025-01-15 07:00, end: 2025-01-15 08:00,
       restore: false}
    - {kind: mv_lv_transformer, element: WK016405/MSR01, start: 2025-01-15 17:00, end: 2025-01-15 19:00}
    - {kind: wind_turbine, element: molen, start: 2025-01-15 12:00, end: 2025-01-15 14:00}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("outages")
    outcome = run_scenario(load_scenario(write(folder, RUN)), output_dir=folder / "out", progress=False)
    return outcome, energy_sim.open_results(folder / "out" / "outage-test")


def _local(ds, times) -> np.ndarray:
    """Mask of the result steps in [start, end) local time."""
    t = pd.DatetimeIndex(ds.time.values).tz_localize("UTC").tz_convert("Europe/Amsterdam")
    start, end = (pd.Timestamp(x, tz="Europe/Amsterdam") for x in times)
    return np.asarray((t >= start) & (t < end))


def test_a_run_applies_planned_outages_and_reports_them(run):
    outcome, ds = run
    table = ds[[v for v in ds.data_vars if v.startswith("outage_")]].to_dataframe()
    assert list(table.outage_kind) == ["mv_cable", "wind_turbine", "mv_lv_transformer"]  # by start
    assert set(table.outage_origin) == {"planned"}
    assert table.outage_name.iloc[0] == "no switching"
    assert pd.Timestamp(table.outage_start.iloc[2]) == pd.Timestamp("2025-01-15 16:00")  # 17:00 CET in UTC
    assert any("outages applied: 3 planned, 0 random" in n for n in outcome.notes)
    assert not any(n.startswith("not simulated yet: outages") for n in outcome.notes)

    # the transformer: no loading in its window, energy not served = its wijk's demand there (the only
    # substation of Berflo Es; demand by category is computed by the engine apart from the grid solve)
    window = _local(ds, ("2025-01-15 17:00", "2025-01-15 19:00"))
    trafo = ds.trafo_loading_pct.sel(trafo="WK016405/MSR01").values
    assert (trafo[window] == 0).all() and (trafo[~window] > 0).all()
    demand = ds.wijk_p_mw.sel(wijk="WK016405", category=["household", "heat_pump", "ev"]).sum("category").values
    expected_mwh = demand[window].sum() * 0.25
    assert expected_mwh > 0.1
    np.testing.assert_allclose(table.outage_energy_not_served_mwh.iloc[2], expected_mwh, rtol=1e-5)

    # the cable without switching: the substation it feeds (and any behind it) is without supply for an hour
    cable = table.outage_element.iloc[0]
    assert cable.startswith("ring00 section")
    window = _local(ds, ("2025-01-15 07:00", "2025-01-15 08:00"))
    np.testing.assert_array_equal(ds.line_loading_pct.sel(line=cable).values[window], 0.0)
    assert (ds.line_loading_pct.sel(line=cable).values[~window] > 0).all()
    fed = ds.trafo_loading_pct.sel(trafo="WK016400/MSR02").values
    assert (fed[window] == 0).all() and (fed[~window] > 0).all()
    assert table.outage_energy_not_served_mwh.iloc[0] > 0

    # per wijk, the energy not served adds up to the outages'
    np.testing.assert_allclose(float(ds.wijk_energy_not_served_mwh.sum()), float(table.outage_energy_not_served_mwh.sum()),
                               rtol=1e-9)
    assert float(ds.wijk_energy_not_served_mwh.sel(wijk="WK016405")) == pytest.approx(
        table.outage_energy_not_served_mwh.iloc[2], rel=1e-9)

    # the turbine produces nothing in its window; what it lost is recorded
    window = _local(ds, ("2025-01-15 12:00", "2025-01-15 14:00"))
    wind = ds.wijk_p_mw.sel(wijk="WK016400", category="wind").values
    assert (wind[window] == 0).all()
    assert table.outage_production_lost_mwh.iloc[1] >= 0.0
    assert table.outage_production_lost_mwh.iloc[[0, 2]].sum() == 0.0
    assert ds.attrs["not_converged_steps"] == 0
