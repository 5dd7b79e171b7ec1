"""Runs on a given net for the whole city (top-level grid.source): MV network as given, LV grids by zone."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pandapower as pp
import pytest

import energy_sim
from energy_sim.scenario import validate_file
from grid.given_city_nets import city_net


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "energy_sim.cli", *args], capture_output=True, text=True, cwd=cwd)


def scenario_text(name: str, second_code: str = "WK016405", extra: str = "") -> str:
    return textwrap.dedent(f"""\
        meta: {{name: {name}}}
        seed: 3
        horizon: {{start: 2025-06-16, end: 2025-06-17}}
        grid: {{source: pandapower_json, path: city.json}}
        wijken:
          - {{code: WK016400, name: Hengelo Noord, dwellings: 10, lon_deg: 6.800, lat_deg: 52.265,
             adoption: {{pv_frac: 0.5}}}}
          - {{code: {second_code}, name: Berflo Es, dwellings: 7, lon_deg: 6.794, lat_deg: 52.260{extra}}}
        assets:
          solar_fields:
            - {{name: zonneveld, wijk: {second_code}, p_peak_kwp: 3000}}
        outages:
          planned:
            - {{kind: mv_cable, element: WK016400/MSR B, start: 2025-06-16 10:00, end: 2025-06-16 14:00}}
        """)


@pytest.fixture(scope="module")
def city_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("city")
    pp.to_json(city_net(), str(folder / "city.json"))
    (folder / "city.yaml").write_text(scenario_text("city"))
    done = cli("run", "city.yaml", "--output-dir", "out", "--quiet", cwd=folder)
    assert done.returncode == 0, done.stderr
    return energy_sim.open_results(folder / "out" / "city"), done


def test_a_run_on_a_whole_city_net_reports_its_stations_substations_and_cables(city_run):
    ds, done = city_run
    levels = dict(zip(ds.trafo.values.tolist(), ds.trafo_level.values.tolist()))
    assert levels == {"WK016400/MSR A": "mv/lv", "WK016400/MSR B": "mv/lv", "WK016405/MSR C": "mv/lv",
                      "Weideweg 110/10 kV": "hv/mv"}
    assert ds.trafo_sn_mva.sel(trafo="Weideweg 110/10 kV").item() == pytest.approx(25.0)
    mv_lines = ds.line.where(ds.line_level == "mv", drop=True).values.tolist()
    assert mv_lines == ["ring 1-2", "ring 2-3", "ring 3-4", "ring 4-1"]
    # the 3 MWp field (2.5 MW AC) on bus 4 reaches the station over cable 4-1 at midday
    assert ds.line_peak_loading_pct.sel(line="ring 4-1").item() > 10.0
    assert ds.wijk_homes.values.tolist() == [10, 7]
    notes = ds.attrs["notes"]
    assert "grid given for the whole city (city.json): MV network as given (1 station(s) Hengelo TenneT" in notes
    assert "6 LV load(s), 0.060 MW; 1 MV load(s), 1.000 MW; 1 MV sgen(s), 0.500 MW" in notes
    assert "wijk WK016405: LV grids given (city.json): 1 transformer(s) MSR C (250 kVA); 7 dwellings" in notes
    assert "Traceback" not in done.stderr


def test_the_planned_cable_outage_uses_the_given_ring_and_open_point(city_run):
    ds, _ = city_run
    # MSR B is fed over cable 2-3 (the ring is open between 3 and 4)
    assert ds.outage_element.values.tolist() == ["ring 2-3"] and ds.outage_kind.values.tolist() == ["mv_cable"]
    assert ds.wijk_energy_not_served_mwh.sum().item() == pytest.approx(0.0)  # the open point was closed


def test_zones_that_do_not_name_the_wijken_and_a_wijk_grid_next_to_it_are_problems(tmp_path):
    pp.to_json(city_net(), str(tmp_path / "city.json"))
    path = tmp_path / "bad.yaml"
    path.write_text(scenario_text("bad", second_code="WK016409").replace("element: WK016400/MSR B", "element: x"))
    _s, problems = validate_file(path)
    assert [(p.line, p.path, p.rule) for p in problems if p.rule == "zone_mismatch"] == [(4, "grid.path", "zone_mismatch")]
    assert "'WK016405'" in next(p.message for p in problems if p.rule == "zone_mismatch")
    path.write_text(scenario_text("bad", extra=", grid: {source: simbench, simbench_code: 1-LV-rural1--0-sw}"))
    _s, problems = validate_file(path)
    # the wijk's own grid is not read: only 'not_applicable', although rural1's 13 connection points are
    # more than the wijk's 7 dwellings
    assert [(p.path, p.rule) for p in problems] == [("wijken[1].grid", "not_applicable")]
