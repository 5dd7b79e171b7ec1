"""Runs with given LV grids (wijken[].grid): a SimBench code and a pandapower JSON file, through the CLI;
bad given grids as validation problems with file, path, rule and value, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandapower as pp
import pytest

import energy_sim
from energy_sim.scenario import validate_file
from grid.given_nets import two_substation_net

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "energy_sim.cli", *args], capture_output=True, text=True, cwd=cwd)


def scenario_text(name: str, grid_oost: str, dwellings_oost: int = 12) -> str:
    """Two wijken, one winter day: Berflo Es on SimBench rural1 (13 connection points, 160 kVA), and a
    wijk on the two-substation net of tests/grid/given_nets.py (5 points, 400 + 250 kVA)."""
    return textwrap.dedent(f"""\
        meta: {{name: {name}}}
        seed: 42
        horizon: {{start: 2025-01-15, end: 2025-01-16}}
        wijken:
          - code: WK016405
            name: Berflo Es
            dwellings: 40
            lon_deg: 6.8006
            lat_deg: 52.2530
            grid: {{source: simbench, simbench_code: 1-LV-rural1--0-sw}}
            adoption: {{pv_frac: 0.3, heat_pump_frac: 0.5}}
          - code: WK016400
            name: Hengelo Noord
            dwellings: {dwellings_oost}
            lon_deg: 6.7930
            lat_deg: 52.2660
            grid: {grid_oost}
            adoption: {{ev_frac: 0.5}}
        assets:
          ev_chargers:
            - {{name: laadpalen, wijk: WK016400, count: 2, p_kw: 11}}
        """)


@pytest.fixture(scope="module")
def given_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("given")
    (folder / "nets").mkdir()
    pp.to_json(two_substation_net(), str(folder / "nets" / "noord.json"))
    (folder / "given.yaml").write_text(scenario_text("given", "{source: pandapower_json, path: nets/noord.json}"))
    done = cli("run", "given.yaml", "--output-dir", "out", "--quiet", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder, done


def test_a_run_on_given_grids_reports_their_transformers_and_congestion(given_run):
    folder, done = given_run
    ds = energy_sim.open_results(folder / "out" / "given")
    mv_lv = ds.trafo_level == "mv/lv"
    trafos = dict(zip(ds.trafo.where(mv_lv, drop=True).values.tolist(),
                      ds.trafo_sn_mva.where(mv_lv, drop=True).values.tolist()))
    assert trafos == {"WK016405/MV1.101-LV1.101-Trafo 1": pytest.approx(0.16),
                      "WK016400/MSR Oost": pytest.approx(0.4), "WK016400/MSR West": pytest.approx(0.25)}
    assert ds.wijk_homes.sel(wijk="WK016405").item() == 40 and ds.wijk_homes.sel(wijk="WK016400").item() == 12
    # congestion figures per wijk: transformers loaded (50 % of 40 homes on heat pumps in January), finite
    peak = ds.trafo_peak_loading_pct.where(mv_lv, drop=True)
    assert np.all(np.isfinite(peak.values)) and float(peak.sel(trafo="WK016405/MV1.101-LV1.101-Trafo 1")) > 10.0
    assert "Berflo Es" in done.stdout and "Hengelo Noord" in done.stdout and "Traceback" not in done.stderr
    # the feeders are the given cables leaving the busbars
    lv_lines = ds.line.where(ds.line_level == "lv", drop=True).values.tolist()
    assert "WK016400/MSR Oost/Oost 1a" in lv_lines
    assert any(l.endswith("Oost 2") for l in lv_lines) and any(l.endswith("West 1") for l in lv_lines)
    assert not any(l.endswith("tie") or l.endswith("Oost 1b") for l in lv_lines)  # not feeder heads


def test_run_notes_say_what_the_given_grids_hold_and_what_was_replaced(given_run):
    folder, done = given_run
    notes = energy_sim.open_results(folder / "out" / "given").attrs["notes"]
    assert ("wijk WK016405: LV grids given (SimBench grid 1-LV-rural1--0-sw): 1 transformer(s) "
            "MV1.101-LV1.101-Trafo 1 (160 kVA); 40 dwellings spread over 13 connection points (3-4 per point)") in notes
    # what was replaced, counted on the SimBench net itself: its loads and sgens on LV buses
    import simbench

    sb_net = simbench.get_simbench_net("1-LV-rural1--0-sw")
    lv = sb_net.bus.index[sb_net.bus.vn_kv < 1.0]
    loads, sgens = sb_net.load[sb_net.load.bus.isin(lv)], sb_net.sgen[sb_net.sgen.bus.isin(lv)]
    assert len(loads) == 13  # the 13 connection points above
    assert (f"{len(loads)} load(s), {loads.p_mw.sum():.3f} MW; {len(sgens)} sgen(s), {sgens.p_mw.sum():.3f} MW"
            in notes)
    # 12 dwellings on 5 points; the five given loads (0.065 MW) and the PV (0.005 MW) replaced; positions used
    assert "12 dwellings spread over 5 connection points (2-3 per point)" in notes
    assert "5 load(s), 0.065 MW; 1 sgen(s), 0.005 MW; positions from the given net" in notes
    assert "not use given grids" not in done.stdout


def _problem(folder: Path, text: str):
    path = folder / "bad.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("grid, rule, value", [
    ("{source: pandapower_json, path: nets/missing.json}", "missing_file", "'nets/missing.json'"),
    ("{source: pandapower_json, path: hostile.json}", "disallowed_object", "'this.x'"),
    ("{source: simbench, simbench_code: 1-LV-rurl1--0-sw}", "unknown_simbench_code", "'1-LV-rurl1--0-sw'"),
])
def test_bad_given_grids_are_validation_problems_with_file_path_rule_and_value(tmp_path, grid, rule, value):
    data = json.loads(pp.to_json(two_substation_net()))
    data["_object"]["extra"] = {"_module": "this", "_class": "x", "_object": "{}"}
    (tmp_path / "hostile.json").write_text(json.dumps(data))
    _problem(tmp_path, scenario_text("bad", grid))
    done = cli("run", "bad.yaml", "--output-dir", "out", cwd=tmp_path)
    assert done.returncode == 2
    assert "bad.yaml:17  wijken[1].grid." in done.stderr and f"(got {value})  [{rule}]" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "Beautiful is better than ugly" not in done.stdout + done.stderr  # `this` was never imported
    assert not (tmp_path / "out").exists()


def test_a_wijk_with_fewer_dwellings_than_connection_points_is_a_problem(tmp_path):
    pp.to_json(two_substation_net(), str(tmp_path / "noord.json"))
    path = _problem(tmp_path, scenario_text("few", "{source: pandapower_json, path: noord.json}", dwellings_oost=4))
    scenario, problems = validate_file(path)
    assert scenario is None
    assert [(p.line, p.path, p.rule, p.value) for p in problems] == [
        (14, "wijken[1].dwellings", "fewer_dwellings_than_connection_points", 4)]
    assert "5 connection points" in problems[0].message


def test_planned_outage_names_a_given_substation(tmp_path):
    pp.to_json(two_substation_net(), str(tmp_path / "noord.json"))
    text = scenario_text("out", "{source: pandapower_json, path: noord.json}") + textwrap.dedent("""\
        outages:
          planned:
            - {kind: mv_lv_transformer, element: WK016400/MSR West, start: 2025-01-15 06:00, end: 2025-01-15 08:00}
            - {kind: mv_lv_transformer, element: WK016400/MSR01, start: 2025-01-15 06:00, end: 2025-01-15 08:00}
        """)
    _scenario, problems = validate_file(_problem(tmp_path, text))
    assert [(p.path, p.rule) for p in problems] == [("outages.planned[1].element", "unknown_reference")]
    assert "'WK016400/MSR Oost'" in problems[0].message


def test_the_scenario_hash_follows_the_given_files_content_not_its_place(tmp_path):
    from energy_sim.scenario import load_scenario, scenario_hash

    hashes = []
    for folder, scale in (("a", 1.0), ("b", 1.0), ("c", 2.0)):
        (tmp_path / folder).mkdir()
        net = two_substation_net()
        net.line["length_km"] *= scale
        pp.to_json(net, str(tmp_path / folder / "noord.json"))
        path = tmp_path / folder / "s.yaml"
        path.write_text(scenario_text("h", "{source: pandapower_json, path: noord.json}"))
        hashes.append(scenario_hash(load_scenario(path)))
    assert hashes[0] == hashes[1] != hashes[2]


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_a_given_grid_outside_the_scenario_folder_is_a_problem(tmp_path, how):
    """A partner's scenario may only name grid files next to it: not /etc/..., not ../.., not a symlink out."""
    outside, folder = tmp_path / "elsewhere", tmp_path / "scenario"
    outside.mkdir(), folder.mkdir()
    pp.to_json(two_substation_net(), str(outside / "noord.json"))
    written = {"absolute": str(outside / "noord.json"), "dotdot": "../elsewhere/noord.json", "symlink": "link.json"}[how]
    (folder / "link.json").symlink_to(outside / "noord.json")
    path = _problem(folder, scenario_text("out", f"{{source: pandapower_json, path: '{written}'}}"))
    scenario, problems = validate_file(path)
    assert scenario is None
    assert [(p.line, p.path, p.rule, p.value) for p in problems] == [
        (17, "wijken[1].grid.path", "outside_scenario_folder", written)]
    # the same file inside the folder is fine
    pp.to_json(two_substation_net(), str(folder / "noord.json"))
    path.write_text(scenario_text("in", "{source: pandapower_json, path: noord.json}"))
    assert validate_file(path)[1] == []


def test_a_given_transformer_with_zero_short_circuit_voltage_is_a_problem_not_a_traceback(tmp_path):
    """vk_percent = 0 made the run's first load flow divide by zero (FloatingPointError); now validation
    names the transformer and the run stops with exit status 2."""
    net = two_substation_net()
    net.trafo["vk_percent"] = 0.0
    pp.to_json(net, str(tmp_path / "noord.json"))
    _problem(tmp_path, scenario_text("vk0", "{source: pandapower_json, path: noord.json}"))
    done = cli("run", "bad.yaml", "--output-dir", "out", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout and "FloatingPointError" not in done.stderr
    assert "bad.yaml:17  wijken[1].grid.path" in done.stderr and "[invalid_grid]" in done.stderr, done.stderr
    assert "trafo 0 (MSR Oost) has vk_percent = 0; must be > 0" in done.stderr
    assert not (tmp_path / "out").exists()
